//! The raw JSON as stored (compressed in `raw_json_lz4`), against SQLite and a real PostgreSQL
//! (see `store.rs` for the PostgreSQL set-up): rows written before the compressed column
//! existed read as they are, and damaged values are errors, never wrong text.

mod support;

use songrec_catalog::{Artist, Song};
use songrec_store::{Backend, ImportedSong, StoreError, UpsertCounts};
use support::{TestDb, both_backends};

fn song(id: u64, title: &str) -> ImportedSong {
    let song = Song {
        pageviews: Some(id),
        ..Song::new(
            id,
            title.to_string(),
            Artist {
                id: 1000 + id % 3,
                name: format!("Artist {}", id % 3),
            },
        )
    };
    let raw = serde_json::json!({"id": id, "title": title, "pad": "la ".repeat(50)}).to_string();
    ImportedSong { song, raw }
}

fn catalogue() -> Vec<ImportedSong> {
    (1..=5)
        .map(|id| song(id, &format!("Song {id} ✓")))
        .collect()
}

/// Reads back what [`song`] wrote as raw JSON.
fn parse(raw: &str) -> Result<Song, String> {
    let v: serde_json::Value = serde_json::from_str(raw).map_err(|e| e.to_string())?;
    let title = v["title"].as_str().ok_or("no title")?;
    if title == "unparseable" {
        return Err("refused".into());
    }
    Ok(song(v["id"].as_u64().ok_or("no id")?, title).song)
}

async fn export(db: &TestDb) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    db.store.export_jsonl(&mut out).await?;
    Ok(String::from_utf8(out)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect())
}

/// Per song: (id, whether the compressed column is set, the `raw_json` text or "").
async fn stored_forms(db: &TestDb) -> Vec<(u64, i64, String)> {
    db.query_rows(
        "SELECT id, CAST(CASE WHEN raw_json_lz4 IS NULL THEN 0 ELSE 1 END AS BIGINT), \
         COALESCE(raw_json, ''), title FROM songs ORDER BY id",
    )
    .await
    .into_iter()
    .map(|(id, compressed, text, _)| (id, compressed, text))
    .collect()
}

/// What a build before the compressed column left: the text in `raw_json`.
async fn store_as_text(db: &TestDb, songs: &[ImportedSong]) {
    for s in songs {
        db.execute(&format!(
            "UPDATE songs SET raw_json = '{}', raw_json_lz4 = NULL WHERE id = {}",
            s.raw.replace('\'', "''"),
            s.song.id
        ))
        .await;
    }
}

async fn songs_written_before_compression_read_as_text_until_rewritten(db: TestDb) {
    let songs = catalogue();
    let raws: Vec<String> = songs.iter().map(|s| s.raw.clone()).collect();
    db.store.upsert_songs(&songs).await.unwrap();
    let stored = stored_forms(&db).await;
    assert!(
        stored
            .iter()
            .all(|(_, compressed, text)| *compressed == 1 && text.is_empty())
    );
    assert_eq!(export(&db).await.unwrap(), raws);

    store_as_text(&db, &songs[..3]).await;
    assert_eq!(export(&db).await.unwrap(), raws);
    // Unchanged: nothing is written, the old rows stay as they are.
    let again = db.store.upsert_songs(&songs).await.unwrap();
    assert_eq!(
        again,
        UpsertCounts {
            unchanged: 5,
            ..UpsertCounts::default()
        }
    );
    let stored = stored_forms(&db).await;
    assert_eq!(
        stored[..3],
        [
            (1, 0, raws[0].clone()),
            (2, 0, raws[1].clone()),
            (3, 0, raws[2].clone())
        ]
    );

    // Records are derived again from either form.
    db.execute("UPDATE song_records SET version = 0").await;
    let report = db.store.refresh_song_records(&parse).await.unwrap();
    assert_eq!((report.derived, report.unparseable), (5, 0));
    let expected: Vec<Song> = songs.iter().map(|s| s.song.clone()).collect();
    assert_eq!(db.store.load_catalogue().await.unwrap(), expected);
    assert_eq!(export(&db).await.unwrap(), raws);

    // A changed song is written compressed.
    let changed = song(2, "Song 2, changed");
    db.store
        .upsert_songs(std::slice::from_ref(&changed))
        .await
        .unwrap();
    let stored = stored_forms(&db).await;
    assert_eq!(stored[1], (2, 1, String::new()));
    assert_eq!(stored[0], (1, 0, raws[0].clone()));
    assert_eq!(export(&db).await.unwrap()[1], changed.raw);
}

async fn a_damaged_stored_value_is_an_error_naming_the_song(db: TestDb) {
    let mut songs = catalogue();
    songs[3] = song(4, "unparseable");
    db.store.upsert_songs(&songs).await.unwrap();
    // A length far beyond what the bytes can hold, and bytes that are no LZ4 block.
    let (huge, garbage) = match db.store.backend() {
        Backend::Sqlite => ("X'FFFFFFFF00'", "X'0A000000FF'"),
        Backend::Postgres => ("'\\xffffffff00'::bytea", "'\\x0a000000ff'::bytea"),
    };
    db.execute(&format!(
        "UPDATE songs SET raw_json_lz4 = {huge} WHERE id = 2"
    ))
    .await;
    db.execute(&format!(
        "UPDATE songs SET raw_json_lz4 = {garbage} WHERE id = 5"
    ))
    .await;
    let err = export(&db).await.unwrap_err();
    assert!(
        matches!(err, StoreError::CorruptRawJson { song_id: 2, .. }),
        "{err}"
    );

    // Refreshing records treats a damaged value like JSON that no longer parses.
    db.execute("UPDATE song_records SET version = 0").await;
    let report = db.store.refresh_song_records(&parse).await.unwrap();
    assert_eq!((report.derived, report.unparseable), (2, 3));
    let ids: Vec<u64> = db
        .store
        .load_catalogue()
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, [1, 3]);
}

both_backends!(
    songs_written_before_compression_read_as_text_until_rewritten,
    a_damaged_stored_value_is_an_error_naming_the_song,
);
