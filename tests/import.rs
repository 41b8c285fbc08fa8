//! `songrec import`, `export` and `db` through the real binary, into SQLite in a temp data dir
//! and into a fresh PostgreSQL database (skipped when PostgreSQL is unreachable, unless
//! `SONGREC_REQUIRE_SERVICES=1`).

#[allow(dead_code)]
#[path = "../crates/store/tests/support/mod.rs"]
mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use secrecy::ExposeSecret;
use songrec_store::{Store, StoreConfig};

const BIN: &str = env!("CARGO_BIN_EXE_songrec");

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A temp dir holding the data dir and input files; the database is SQLite there unless a
/// URL is given.
struct World {
    dir: tempfile::TempDir,
    database_url: Option<String>,
}

impl World {
    fn sqlite() -> World {
        World {
            dir: tempfile::tempdir().unwrap(),
            database_url: None,
        }
    }

    fn with_database(url: &str) -> World {
        World {
            dir: tempfile::tempdir().unwrap(),
            database_url: Some(url.to_string()),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg("--data-dir")
            .arg(self.path("data"))
            .args(args)
            .env_remove("DB_HOST")
            .env("SONGREC_LOG", "warn")
            .current_dir(self.dir.path());
        match &self.database_url {
            Some(url) => cmd.env("DATABASE_URL", url),
            None => cmd.env_remove("DATABASE_URL"),
        };
        cmd
    }

    fn songrec(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn songrec_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    fn songrec_ok(&self, args: &[&str]) -> String {
        let out = self.songrec(args);
        assert!(
            out.status.success(),
            "songrec {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn store_config(&self) -> StoreConfig {
        match &self.database_url {
            Some(url) => StoreConfig::from_url(url.clone()),
            None => StoreConfig::sqlite(&self.path("data").join("songrec.db")),
        }
    }

    async fn load_catalogue(&self) -> Vec<songrec_catalog::Song> {
        let store = Store::connect(&self.store_config()).await.unwrap();
        let songs = store.load_catalogue().await.unwrap();
        store.close().await;
        songs
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn song_line(id: u64, title: &str) -> String {
    serde_json::json!({
        "id": id,
        "title": title,
        "primary_artist": {"id": 100 + id % 3, "name": format!("Artist {}", id % 3)},
        "featured_artists": [{"id": 7, "name": "Guest"}],
        "stats": {"pageviews": id * 10},
    })
    .to_string()
}

fn generate(world: &World, songs: u32) -> PathBuf {
    let path = world.path("songs.jsonl");
    world.songrec_ok(&[
        "generate",
        "--songs",
        &songs.to_string(),
        "--seed",
        "7",
        "--out",
        path.to_str().unwrap(),
    ]);
    path
}

#[test]
fn importing_the_same_file_twice_changes_nothing_the_second_time() {
    let world = World::sqlite();
    let file = generate(&world, 400);
    let file = file.to_str().unwrap();
    assert_eq!(
        world.songrec_ok(&["import", file]).trim(),
        "read 400, inserted 400, updated 0, rejected 0"
    );
    assert_eq!(
        world.songrec_ok(&["import", file]).trim(),
        "read 400, inserted 0, updated 0, rejected 0"
    );
}

#[test]
fn a_changed_song_is_counted_as_updated() {
    let world = World::sqlite();
    let first = world.write(
        "a.jsonl",
        &format!("{}\n{}\n", song_line(1, "One"), song_line(2, "Two")),
    );
    world.songrec_ok(&["import", first.to_str().unwrap()]);
    let second = world.write(
        "b.jsonl",
        &format!(
            "{}\n{}\n",
            song_line(1, "One (remastered)"),
            song_line(3, "Three")
        ),
    );
    assert_eq!(
        world
            .songrec_ok(&["import", second.to_str().unwrap()])
            .trim(),
        "read 2, inserted 1, updated 1, rejected 0"
    );
}

#[test]
fn import_rejects_a_line_without_id_and_keeps_the_rest() {
    let world = World::sqlite();
    let input = [
        song_line(1, "One"),
        r#"{"title": "no id", "primary_artist": {"id": 1, "name": "A"}}"#.to_string(),
        String::new(),
        r#"{"id": 4, "title": "no artist"}"#.to_string(),
        "{not json".to_string(),
        song_line(2, "Two"),
    ]
    .join("\n");
    let file = world.write("mixed.jsonl", &input);
    let out = world.songrec(&["import", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        "read 5, inserted 2, updated 0, rejected 3"
    );
    let err = stderr(&out);
    assert!(
        err.contains("mixed.jsonl: line 2: rejected: song has no id"),
        "{err}"
    );
    assert!(
        err.contains("line 4: rejected: song 4 has no primary artist"),
        "{err}"
    );
    assert!(err.contains("line 5: rejected: invalid JSON"), "{err}");
    assert!(
        !err.contains("line 1:") && !err.contains("line 6:"),
        "{err}"
    );
}

#[test]
fn import_reads_arrays_envelopes_and_standard_input() {
    let world = World::sqlite();
    let array = world.write(
        "array.json",
        &format!(
            "[\n  {},\n  {}\n]\n",
            song_line(1, "One"),
            song_line(2, "Two")
        ),
    );
    let envelope = fixture("song_378195_chandelier_2021.json");
    let bare_pretty = fixture("song_3039923_humble_song_object.json");
    let out = world.songrec_ok(&[
        "import",
        array.to_str().unwrap(),
        envelope.to_str().unwrap(),
        bare_pretty.to_str().unwrap(),
    ]);
    assert_eq!(out.trim(), "read 4, inserted 4, updated 0, rejected 0");

    let envelopes = format!(
        "{}\n{}\n",
        serde_json::json!({"meta": {"status": 200}, "response": {"song": serde_json::from_str::<serde_json::Value>(&song_line(5, "Five")).unwrap()}}),
        song_line(6, "Six")
    );
    let out = world.songrec_stdin(&["import", "-"], &envelopes);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        "read 2, inserted 2, updated 0, rejected 0"
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    let songs = rt.block_on(world.load_catalogue());
    let ids: Vec<u64> = songs.iter().map(|s| s.id).collect();
    assert_eq!(ids, vec![1, 2, 5, 6, 378195, 3039923]);
    let chandelier = songs.iter().find(|s| s.id == 378195).unwrap();
    assert_eq!(chandelier.title, "Chandelier");
    assert_eq!(chandelier.primary_artist.name, "Sia");
}

#[test]
fn import_fails_when_nothing_is_valid_or_a_file_cannot_be_read() {
    let world = World::sqlite();
    let bad = world.write("bad.jsonl", "{\"id\": 1}\n[]\n");
    let out = world.songrec(&["import", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out).trim(),
        "read 2, inserted 0, updated 0, rejected 2"
    );

    // The readable file is still imported; the missing one makes the exit status 1.
    let good = world.write("good.jsonl", &song_line(1, "One"));
    let missing = world.path("missing.jsonl");
    let out = world.songrec(&["import", missing.to_str().unwrap(), good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot read"), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        "read 1, inserted 1, updated 0, rejected 0"
    );
}

/// Export, import the export elsewhere, export again: same catalogue, same bytes.
fn assert_export_round_trips(from: &World, to: &World) {
    let file = generate(from, 500);
    from.songrec_ok(&["import", file.to_str().unwrap()]);
    let exported = from.path("export.jsonl");
    let out = from.songrec_ok(&["export", exported.to_str().unwrap()]);
    assert_eq!(
        out.trim(),
        format!("exported 500 songs to {}", exported.display())
    );

    let out = to.songrec_ok(&["import", exported.to_str().unwrap()]);
    assert_eq!(out.trim(), "read 500, inserted 500, updated 0, rejected 0");
    let again = to.path("again.jsonl");
    to.songrec_ok(&["export", again.to_str().unwrap()]);
    assert_eq!(
        std::fs::read(&exported).unwrap(),
        std::fs::read(&again).unwrap()
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    let original = rt.block_on(from.load_catalogue());
    assert_eq!(original.len(), 500);
    assert_eq!(original, rt.block_on(to.load_catalogue()));

    // The export holds the generated objects themselves.
    let mut generated: Vec<String> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let mut lines: Vec<String> = std::fs::read_to_string(&exported)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    generated.sort();
    lines.sort();
    assert_eq!(generated, lines);
}

#[test]
fn export_then_import_is_lossless() {
    assert_export_round_trips(&World::sqlite(), &World::sqlite());
}

#[test]
fn db_status_shows_pending_migrations_until_db_migrate() {
    let world = World::sqlite();
    let out = world.songrec_ok(&["db", "status"]);
    assert!(out.contains("pending"), "{out}");
    assert!(out.contains("songrec db migrate"), "{out}");
    let out = world.songrec_ok(&["db", "migrate"]);
    assert!(
        out.contains("applied ") && !out.contains("applied 0 "),
        "{out}"
    );
    let out = world.songrec_ok(&["db", "status"]);
    assert!(!out.contains("pending"), "{out}");
    assert!(out.contains("songs: 0"), "{out}");
    let out = world.songrec_ok(&["db", "migrate"]);
    assert!(out.contains("applied 0 migration(s)"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_import_and_export_round_trip_with_sqlite() {
    support::run_postgres(|db| async move {
        let url = db.config.url.expose_secret().to_string();
        let postgres = World::with_database(&url);
        let sqlite = World::sqlite();
        tokio::task::spawn_blocking(move || {
            assert_export_round_trips(&sqlite, &postgres);
            let out = postgres.songrec_ok(&["db", "status"]);
            assert!(
                out.contains("(PostgreSQL)") && out.contains("songs: 500"),
                "{out}"
            );
        })
        .await
        .unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_originals_db_variables_select_postgres() {
    support::run_postgres(|db| async move {
        let url = url::Url::parse(db.config.url.expose_secret()).unwrap();
        let world = World::sqlite();
        let file = world.write("one.jsonl", &song_line(1, "One"));
        let out = world
            .command(&["import", file.to_str().unwrap()])
            .env("DB_HOST", url.host_str().unwrap())
            .env("DB_PORT", url.port().unwrap_or(5432).to_string())
            .env("DB_USER", url.username())
            .env("DB_PASS", url.password().unwrap_or(""))
            .env("DB_NAME", url.path().trim_start_matches('/'))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(db.store.count_songs().await.unwrap(), 1);
        assert!(!world.path("data/songrec.db").exists());
    })
    .await;
}

/// A write that cannot finish (another client holds a lock on `songs`) is abandoned after
/// `--db-write-timeout` and tried again, then reported in one line; nothing of it is stored,
/// and the same import succeeds once the lock is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_write_that_cannot_finish_times_out_and_stores_nothing() {
    use sqlx::Connection;

    support::run_postgres(|db| async move {
        let url = db.config.url.expose_secret().to_string();
        let world = World::with_database(&url);
        let first = world.write("first.jsonl", &song_line(1, "One"));
        let more = world.write(
            "more.jsonl",
            &[song_line(2, "Two"), song_line(3, "Three")].join("\n"),
        );
        // One song stored first, so that the import below keeps the indexes (dropping them
        // would wait for the lock before any write).
        let world = tokio::task::spawn_blocking(move || {
            world.songrec_ok(&["import", first.to_str().unwrap()]);
            world
        })
        .await
        .unwrap();

        // Reads of `songs` go on; inserts and updates wait for this transaction.
        // Should the import wait without bound, the server ends this transaction after 30 s and
        // the import then succeeds, failing the test instead of hanging it.
        let mut holder = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query("SET idle_in_transaction_session_timeout = '30s'")
            .execute(&mut holder)
            .await
            .unwrap();
        let mut lock = holder.begin().await.unwrap();
        sqlx::query("LOCK TABLE songs IN SHARE MODE")
            .execute(&mut *lock)
            .await
            .unwrap();
        let more_path = more.clone();
        let (world, out) = tokio::task::spawn_blocking(move || {
            let out = world
                .command(&["import", more_path.to_str().unwrap()])
                .env("SONGREC_DB_WRITE_TIMEOUT", "1s")
                .output()
                .unwrap();
            (world, out)
        })
        .await
        .unwrap();
        let err = stderr(&out);
        assert!(!out.status.success(), "{err}");
        assert!(
            err.contains("a write of 2 songs did not finish within 1s in 4 attempts")
                && err.contains("nothing of it was stored"),
            "{err}"
        );
        // One error line; each abandoned attempt is a warning in the log.
        assert_eq!(
            err.lines().filter(|l| l.starts_with("error:")).count(),
            1,
            "{err}"
        );
        assert_eq!(err.matches("did not finish in time").count(), 4, "{err}");
        lock.rollback().await.unwrap();
        assert_eq!(db.store.count_songs().await.unwrap(), 1);

        let out = tokio::task::spawn_blocking(move || {
            world.songrec_ok(&["import", more.to_str().unwrap()])
        })
        .await
        .unwrap();
        assert!(out.contains('2'), "{out}");
        assert_eq!(db.store.count_songs().await.unwrap(), 3);
    })
    .await;
}
