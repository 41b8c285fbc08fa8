//! Bulk loads (what `songrec import` wraps its writes in), against SQLite and a real PostgreSQL
//! (see `store.rs` for the PostgreSQL set-up): deferred indexes come back however the load ends,
//! and the rows are those of ordinary writes.

mod support;

use secrecy::ExposeSecret;
use songrec_catalog::{Artist, Song};
use songrec_store::{Backend, ImportedSong, Store, UpsertCounts};
use sqlx::Connection;
use support::{TestDb, both_backends};

const SECONDARY_INDEXES: [&str; 4] = [
    "credits_by_artist",
    "relationships_by_related",
    "song_records_by_version",
    "songs_by_pageviews",
];

fn song(id: u64) -> ImportedSong {
    let song = Song {
        pageviews: Some(id * 37 % 100),
        ..Song::new(
            id,
            format!("Song {id}"),
            Artist {
                id: 1000 + id % 3,
                name: format!("Artist {}", id % 3),
            },
        )
    };
    let raw = serde_json::json!({"id": id, "title": song.title}).to_string();
    ImportedSong { song, raw }
}

fn songs(ids: std::ops::RangeInclusive<u64>) -> Vec<ImportedSong> {
    ids.map(song).collect()
}

/// The secondary indexes the database has, by name.
async fn indexes(db: &TestDb) -> Vec<String> {
    let url = db.config.url.expose_secret();
    let mut names: Vec<String> = if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'index'")
            .fetch_all(&mut conn)
            .await
            .unwrap()
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar("SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public'")
            .fetch_all(&mut conn)
            .await
            .unwrap()
    };
    names.retain(|n| SECONDARY_INDEXES.contains(&n.as_str()));
    names.sort();
    names
}

const BROWSE: &str = "SELECT id, pageviews, artist, title FROM songs ORDER BY pageviews DESC, id";

async fn a_load_into_an_empty_catalogue_builds_the_indexes_at_the_end(db: TestDb) {
    let load = db.store.begin_bulk_load().await.unwrap();
    assert!(load.defers_indexes());
    assert!(indexes(&db).await.is_empty());
    let counts = db.store.upsert_songs(&songs(1..=40)).await.unwrap();
    assert_eq!(counts.inserted, 40);
    db.store.finish_bulk_load(load).await.unwrap();
    assert_eq!(indexes(&db).await, SECONDARY_INDEXES);
    let browsed: Vec<u64> = db.query_rows(BROWSE).await.iter().map(|r| r.0).collect();
    let mut expected: Vec<u64> = (1..=40).collect();
    expected.sort_by_key(|id| (std::cmp::Reverse(id * 37 % 100), *id));
    assert_eq!(browsed, expected);
}

async fn a_load_that_never_finished_has_its_indexes_built_by_the_next_connect(db: TestDb) {
    let load = db.store.begin_bulk_load().await.unwrap();
    db.store.upsert_songs(&songs(1..=10)).await.unwrap();
    // What a crash leaves: rows written, indexes dropped.
    drop(load);
    assert!(indexes(&db).await.is_empty());
    let store = Store::connect(&db.config).await.unwrap();
    store.close().await;
    assert_eq!(indexes(&db).await, SECONDARY_INDEXES);
    assert_eq!(db.store.count_songs().await.unwrap(), 10);
}

async fn a_load_into_a_stored_catalogue_keeps_its_indexes(db: TestDb) {
    db.store.upsert_songs(&songs(1..=5)).await.unwrap();
    let load = db.store.begin_bulk_load().await.unwrap();
    assert!(!load.defers_indexes());
    assert_eq!(indexes(&db).await, SECONDARY_INDEXES);
    let counts = db.store.upsert_songs(&songs(1..=8)).await.unwrap();
    assert_eq!(
        counts,
        UpsertCounts {
            inserted: 3,
            updated: 0,
            unchanged: 5
        }
    );
    db.store.finish_bulk_load(load).await.unwrap();
    assert_eq!(indexes(&db).await, SECONDARY_INDEXES);
}

/// A row already there for a song the store has not stored (left by another writer) is kept,
/// as an upsert keeps it, and the song is written all the same.
async fn a_new_song_whose_credit_row_exists_already_is_still_written(db: TestDb) {
    // SQLite's foreign keys refuse such a row.
    if db.store.backend() == Backend::Sqlite {
        return;
    }
    db.execute("INSERT INTO artists (id, name) VALUES (1001, 'Artist 1')")
        .await;
    db.execute(
        "INSERT INTO credits (song_id, artist_id, role, position) VALUES (7, 1001, 'primary', 0)",
    )
    .await;
    let counts = db.store.upsert_songs(&songs(1..=9)).await.unwrap();
    assert_eq!(counts.inserted, 9);
    let loaded = db.store.load_catalogue().await.unwrap();
    let ids: Vec<u64> = loaded.iter().map(|s| s.id).collect();
    assert_eq!(ids, (1..=9).collect::<Vec<_>>());
    assert_eq!(loaded[6].primary_artist.id, 1001);
}

both_backends!(
    a_load_into_an_empty_catalogue_builds_the_indexes_at_the_end,
    a_load_that_never_finished_has_its_indexes_built_by_the_next_connect,
    a_load_into_a_stored_catalogue_keeps_its_indexes,
    a_new_song_whose_credit_row_exists_already_is_still_written,
);
