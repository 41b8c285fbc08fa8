//! The disk of the SQLite database itself filling up under an import: the import fails in one
//! line, the database stays sound, and once there is space again the same import completes with
//! every song exactly once.

use sqlx::Connection;

use songrec_store::{Store, StoreConfig};

use crate::faults::{SmallDisk, Vars, last_line, vars};
use crate::support::{generate, run, text};

/// Space left free on the full disk: room for the database and the import's first batch of
/// 5,000 songs, not for the whole catalogue.
const LEFT_FREE: u64 = 24 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_under_a_sqlite_import_fails_clearly_and_the_database_stays_sound() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let Some(disk) = SmallDisk::mount(&dir.join("data"), "96m") else {
        return;
    };
    let songs = 12_000;
    let catalogue = generate(dir, songs);
    let env: Vars = vec![("SONGREC_LOG", "warn".into())];
    let filler = disk.fill();
    let full = std::fs::metadata(&filler).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&filler)
        .unwrap()
        .set_len(full.saturating_sub(LEFT_FREE))
        .unwrap();

    let out = run(dir, &vars(&env), &["import", catalogue.to_str().unwrap()]);
    let shown = text(&out);
    assert!(
        !out.status.success(),
        "the import fit in the space left: {shown}"
    );
    let errors: Vec<&str> = shown.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(errors.len(), 1, "{shown}");
    assert!(last_line(&shown).starts_with("error: "), "{shown}");
    assert!(last_line(&shown).contains("full"), "{shown}");
    eprintln!(
        "figure: SQLite import with {} KiB free: exit {:?}: {}",
        LEFT_FREE >> 10,
        out.status.code(),
        last_line(&shown)
    );

    // Space again: the database opens, is sound, and holds only whole batches.
    std::fs::remove_file(&filler).unwrap();
    let db = dir.join("data/songrec.db");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let check: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(check, ["ok"]);
    conn.close().await.unwrap();
    let store = Store::connect(&StoreConfig::sqlite(&db)).await.unwrap();
    let partial = store.count_songs().await.unwrap();
    assert!(partial < u64::from(songs), "{partial}");

    let out = run(dir, &vars(&env), &["import", catalogue.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(store.count_songs().await.unwrap(), u64::from(songs));
    let size: u64 = std::fs::read_dir(dir.join("data"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("songrec.db"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    let ids: Vec<u64> = store
        .load_catalogue()
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "a song stored twice");
    eprintln!(
        "figure: after space returned: integrity_check ok, {partial} songs from the failed \
         import, {songs} after the re-run, each once ({} KiB with its WAL)",
        size >> 10
    );
    store.close().await;
}
