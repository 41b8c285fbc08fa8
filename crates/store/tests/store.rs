//! The store suite, run once against SQLite and once against a real PostgreSQL.
//!
//! PostgreSQL: each test creates and drops its own database on the server at
//! `SONGREC_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`). When that
//! server does not answer the PostgreSQL tests are skipped with a message, unless
//! `SONGREC_REQUIRE_SERVICES=1`, which makes them fail.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use secrecy::ExposeSecret;
use songrec_catalog::{Album, Artist, Credit, CreditRole, Relationship, Song, browse_order};
use songrec_store::{
    FetchRunSummary, ImportedSong, NewCycle, PlanRow, Store, StoreConfig, StoreError, UpsertCounts,
};
use support::{TestDb, both_backends};

/// A song with every field set, credits drawn from a small pool of artists so songs share them.
fn song(id: u64, pageviews: Option<u64>) -> Song {
    let artist = |n: u64| Artist {
        id: 1000 + n,
        name: format!("Artist {n} ✓"),
    };
    Song {
        credits: vec![
            Credit {
                role: CreditRole::Featured,
                artist: artist(7 + id % 5),
            },
            Credit {
                role: CreditRole::Producer,
                artist: artist(12 + id % 3),
            },
            Credit {
                role: CreditRole::Writer,
                artist: artist(id % 7),
            },
        ],
        album: (!id.is_multiple_of(3)).then(|| Album {
            id: 500 + id % 4,
            name: format!("Album {}", id % 4),
        }),
        release_date: id
            .is_multiple_of(2)
            .then(|| format!("20{:02}-01-0{}", id % 25, 1 + id % 9)),
        release_year: Some(2000 + (id % 25) as i32),
        language: (!id.is_multiple_of(5)).then(|| "en".to_string()),
        pageviews,
        relationships: if id.is_multiple_of(4) {
            vec![
                Relationship {
                    kind: "samples".into(),
                    song_id: id + 1,
                },
                Relationship {
                    kind: "cover_of".into(),
                    song_id: 99_999_999,
                },
            ]
        } else {
            Vec::new()
        },
        description: (!id.is_multiple_of(2)).then(|| format!("About song {id}.\nSecond line.")),
        url: Some(format!("https://genius.com/song-{id}")),
        ..Song::new(id, format!("Song {id} — “live”"), artist(id % 7))
    }
}

fn imported(song: Song) -> ImportedSong {
    let raw =
        serde_json::json!({"id": song.id, "title": song.title, "pv": song.pageviews}).to_string();
    ImportedSong { song, raw }
}

fn catalogue(ids: impl IntoIterator<Item = u64>) -> Vec<ImportedSong> {
    ids.into_iter()
        .map(|id| imported(song(id, (id % 10 != 0).then_some(id * 37 % 1000))))
        .collect()
}

async fn reimporting_the_same_songs_changes_nothing(db: TestDb) {
    let songs = catalogue(1..=50);
    let first = db.store.upsert_songs(&songs).await.unwrap();
    assert_eq!(
        first,
        UpsertCounts {
            inserted: 50,
            updated: 0,
            unchanged: 0
        }
    );
    let before = db.store.songs_updated_at(&[1, 2, 3]).await.unwrap();
    let second = db.store.upsert_songs(&songs).await.unwrap();
    assert_eq!(
        second,
        UpsertCounts {
            inserted: 0,
            updated: 0,
            unchanged: 50
        }
    );
    assert_eq!(db.store.songs_updated_at(&[1, 2, 3]).await.unwrap(), before);
    assert_eq!(db.store.count_songs().await.unwrap(), 50);
}

async fn the_catalogue_reads_back_exactly_what_was_written(db: TestDb) {
    // More than one write batch, written out of order.
    let songs = catalogue((1..=1200).rev());
    db.store.upsert_songs(&songs).await.unwrap();
    let mut expected: Vec<Song> = songs.into_iter().map(|s| s.song).collect();
    expected.sort_by_key(|s| s.id);
    assert_eq!(db.store.load_catalogue().await.unwrap(), expected);
}

async fn a_changed_song_is_updated_and_its_credits_and_links_replaced(db: TestDb) {
    db.store.upsert_songs(&catalogue(1..=10)).await.unwrap();
    let before = db.store.songs_updated_at(&[4]).await.unwrap()[&4];

    let mut changed = song(4, Some(123_456));
    changed.credits.truncate(1);
    changed.relationships = vec![Relationship {
        kind: "remix_of".into(),
        song_id: 2,
    }];
    changed.primary_artist.name = "Renamed".into();
    let counts = db
        .store
        .upsert_songs(&[imported(changed.clone()), imported(song(11, None))])
        .await
        .unwrap();
    assert_eq!(
        counts,
        UpsertCounts {
            inserted: 1,
            updated: 1,
            unchanged: 0
        }
    );
    let loaded = db.store.load_catalogue().await.unwrap();
    assert_eq!(loaded.len(), 11);
    let four = loaded.iter().find(|s| s.id == 4).unwrap();
    assert_eq!(four, &changed);
    assert!(db.store.songs_updated_at(&[4]).await.unwrap()[&4] >= before);
}

async fn the_same_id_twice_in_one_call_keeps_the_last_version(db: TestDb) {
    let first = imported(song(1, Some(1)));
    let second = imported(song(1, Some(2)));
    let counts = db.store.upsert_songs(&[first, second]).await.unwrap();
    assert_eq!(
        counts,
        UpsertCounts {
            inserted: 1,
            updated: 1,
            unchanged: 0
        }
    );
    let loaded = db.store.load_catalogue().await.unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].pageviews, Some(2));
}

async fn an_id_too_large_for_the_database_is_refused(db: TestDb) {
    let err = db
        .store
        .upsert_songs(&[imported(song(u64::MAX, None))])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::OutOfRange { .. }), "{err}");
    assert_eq!(db.store.count_songs().await.unwrap(), 0);
}

async fn songs_updated_at_reports_only_stored_ids(db: TestDb) {
    let start = chrono::Utc::now() - chrono::Duration::seconds(1);
    db.store.upsert_songs(&catalogue([3, 5])).await.unwrap();
    let map = db.store.songs_updated_at(&[3, 4, 5]).await.unwrap();
    assert_eq!(map.len(), 2);
    assert!(map[&3] >= start && map[&5] >= start);
    assert!(db.store.songs_updated_at(&[]).await.unwrap().is_empty());
}

/// A whole second, so that PostgreSQL (microseconds) and SQLite give back exactly this time.
fn whole_seconds_from_now(seconds: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp() + seconds, 0).unwrap()
}

async fn a_fetched_unchanged_song_is_checked_without_being_rewritten(db: TestDb) {
    let songs = catalogue(1..=5);
    db.store.upsert_songs(&songs).await.unwrap();
    let ids = [1, 2, 3, 4, 5];
    let written = db.store.songs_updated_at(&ids).await.unwrap();
    // Never fetched: confirmed when written.
    assert_eq!(db.store.songs_checked_at(&ids).await.unwrap(), written);

    let tomorrow = whole_seconds_from_now(86_400);
    let counts = db
        .store
        .upsert_fetched_songs(&songs, tomorrow)
        .await
        .unwrap();
    assert_eq!(
        counts,
        UpsertCounts {
            inserted: 0,
            updated: 0,
            unchanged: 5
        }
    );
    assert_eq!(db.store.songs_updated_at(&ids).await.unwrap(), written);
    let checked = db.store.songs_checked_at(&ids).await.unwrap();
    assert_eq!(checked.len(), 5);
    assert!(checked.values().all(|at| *at == tomorrow), "{checked:?}");

    // Re-importing the same file still changes nothing, and keeps the check.
    assert_eq!(
        db.store.upsert_songs(&songs).await.unwrap(),
        UpsertCounts {
            inserted: 0,
            updated: 0,
            unchanged: 5
        }
    );
    assert_eq!(db.store.songs_updated_at(&ids).await.unwrap(), written);
    assert_eq!(db.store.songs_checked_at(&ids).await.unwrap(), checked);
}

async fn a_song_is_checked_at_the_later_of_its_last_write_and_its_last_fetch(db: TestDb) {
    let last_month = whole_seconds_from_now(-30 * 86_400);
    let tomorrow = whole_seconds_from_now(86_400);
    db.store.upsert_songs(&catalogue([1, 2])).await.unwrap();
    // A check older than the write does not make the song look older.
    db.store
        .upsert_fetched_songs(&catalogue([1]), last_month)
        .await
        .unwrap();
    let written = db.store.songs_updated_at(&[1, 2]).await.unwrap();
    assert_eq!(db.store.songs_checked_at(&[1, 2]).await.unwrap(), written);

    // A fetch that finds one song changed and one new: both written and checked.
    let counts = db
        .store
        .upsert_fetched_songs(
            &[imported(song(2, Some(999))), imported(song(3, None))],
            tomorrow,
        )
        .await
        .unwrap();
    assert_eq!(
        counts,
        UpsertCounts {
            inserted: 1,
            updated: 1,
            unchanged: 0
        }
    );
    let checked = db.store.songs_checked_at(&[1, 2, 3, 4]).await.unwrap();
    assert_eq!(
        checked,
        HashMap::from([(1, written[&1]), (2, tomorrow), (3, tomorrow)])
    );
    assert!(db.store.songs_updated_at(&[2]).await.unwrap()[&2] >= written[&2]);
    assert!(db.store.songs_checked_at(&[]).await.unwrap().is_empty());
}

async fn export_writes_every_raw_object_once_in_id_order(db: TestDb) {
    let mut songs = catalogue([9, 2, 5]);
    songs[1].raw = "{\n  \"id\": 2,\n  \"title\": \"pretty\"\n}".into();
    db.store.upsert_songs(&songs).await.unwrap();
    let mut out = Vec::new();
    assert_eq!(db.store.export_jsonl(&mut out).await.unwrap(), 3);
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0], serde_json::json!({"id": 2, "title": "pretty"}));
    assert_eq!(lines[1]["id"], 5);
    assert_eq!(lines[2]["id"], 9);
}

/// Reads back what `imported` wrote as raw JSON: the song it stands for.
fn parse_test_raw(raw: &str) -> Result<Song, String> {
    let v: serde_json::Value = serde_json::from_str(raw).map_err(|e| e.to_string())?;
    let id = v["id"].as_u64().ok_or("no id")?;
    if id == 13 {
        return Err("song 13 no longer parses".into());
    }
    Ok(song(id, v["pv"].as_u64()))
}

async fn outdated_song_records_are_derived_again_from_the_raw_json(db: TestDb) {
    let songs = catalogue(1..=30);
    db.store.upsert_songs(&songs).await.unwrap();
    assert_eq!(db.store.outdated_song_records().await.unwrap(), 0);

    // What a build with another record format (or the migration that created records) leaves.
    db.execute("UPDATE song_records SET version = 0 WHERE song_id > 10")
        .await;
    assert_eq!(db.store.outdated_song_records().await.unwrap(), 20);
    let err = db.store.load_catalogue().await.unwrap_err();
    assert!(
        matches!(err, StoreError::SongRecordsOutdated { songs: 20 }),
        "{err}"
    );

    let report = db
        .store
        .refresh_song_records(&parse_test_raw)
        .await
        .unwrap();
    assert_eq!((report.derived, report.unparseable), (19, 1));
    assert_eq!(db.store.outdated_song_records().await.unwrap(), 0);
    let mut expected: Vec<Song> = songs.into_iter().map(|s| s.song).collect();
    expected.retain(|s| s.id != 13);
    assert_eq!(db.store.load_catalogue().await.unwrap(), expected);
    // Nothing left to do, and the songs themselves are all still there.
    let again = db
        .store
        .refresh_song_records(&parse_test_raw)
        .await
        .unwrap();
    assert_eq!(again.derived + again.unparseable, 0);
    assert_eq!(db.store.count_songs().await.unwrap(), 30);
    // A later import of the song that failed gives it a record again.
    db.store.upsert_songs(&catalogue([13])).await.unwrap();
    assert_eq!(db.store.load_catalogue().await.unwrap().len(), 30);
}

fn cycle<'a>(slot: Option<&'a str>, status: &'a str, report: &'a str) -> NewCycle<'a> {
    NewCycle {
        slot,
        runner: "host:1",
        started_at: "2026-11-28T10:00:00Z",
        finished_at: "2026-11-28T10:00:05Z",
        status,
        report,
    }
}

async fn pipeline_cycles_are_recorded_newest_first_and_a_slot_is_run_once(db: TestDb) {
    assert!(db.store.recent_cycles(10).await.unwrap().is_empty());
    let slot = "2026-11-28T10:00:00+00:00";
    assert_eq!(db.store.cycle_slot_runner(slot).await.unwrap(), None);
    let skipped = db
        .store
        .record_cycle(&cycle(Some(slot), "skipped", "{\"n\":1}"))
        .await
        .unwrap();
    assert_eq!(
        db.store.cycle_slot_runner(slot).await.unwrap(),
        None,
        "a skipped cycle did not run its slot"
    );
    let ran = db
        .store
        .record_cycle(&cycle(Some(slot), "failed", "{\"n\":2}"))
        .await
        .unwrap();
    let by_hand = db
        .store
        .record_cycle(&cycle(None, "succeeded", "{\"n\":3}"))
        .await
        .unwrap();
    assert!(skipped < ran && ran < by_hand);
    assert_eq!(
        db.store.cycle_slot_runner(slot).await.unwrap().as_deref(),
        Some("host:1")
    );
    let recent = db.store.recent_cycles(2).await.unwrap();
    let ids: Vec<i64> = recent.iter().map(|c| c.id).collect();
    assert_eq!(ids, [by_hand, ran]);
    assert_eq!(recent[0].report, "{\"n\":3}");
}

async fn plans_are_replaced_per_process_and_forgotten(db: TestDb) {
    assert!(db.store.plans().await.unwrap().is_empty());
    let plan = |runner: &str, next: Option<&str>, at: &str| PlanRow {
        runner: runner.into(),
        schedule: "every 1h".into(),
        next_run: next.map(Into::into),
        updated_at: at.into(),
    };
    let first = plan("a:1", Some("2026-11-28T11:00:00Z"), "2026-11-28T10:00:00Z");
    db.store.record_plan(&first).await.unwrap();
    let replaced = plan("a:1", Some("2026-11-28T12:00:00Z"), "2026-11-28T11:00:05Z");
    db.store.record_plan(&replaced).await.unwrap();
    let other = plan("b:2", None, "2026-11-28T10:30:00Z");
    db.store.record_plan(&other).await.unwrap();
    assert_eq!(db.store.plans().await.unwrap(), [replaced.clone(), other]);
    db.store.forget_plan("b:2").await.unwrap();
    db.store.forget_plan("nobody:0").await.unwrap();
    assert_eq!(db.store.plans().await.unwrap(), [replaced]);
}

/// Earlier builds created `pipeline_cycles` when a cycle first ran, after the migrations of
/// their time; the migration that now creates it adopts that table and its rows.
async fn a_pipeline_record_created_at_run_time_is_kept_by_the_migration(db: TestDb) {
    let (id, created) = if db.store.backend() == songrec_store::Backend::Sqlite {
        ("INTEGER PRIMARY KEY AUTOINCREMENT", 4)
    } else {
        ("BIGSERIAL PRIMARY KEY", 5)
    };
    db.execute("DROP TABLE pipeline_cycles").await;
    db.execute(&format!(
        "DELETE FROM _sqlx_migrations WHERE version = {created}"
    ))
    .await;
    db.execute(&format!(
        "CREATE TABLE IF NOT EXISTS pipeline_cycles (id {id}, slot TEXT, runner TEXT NOT NULL, \
         started_at TEXT NOT NULL, finished_at TEXT NOT NULL, status TEXT NOT NULL, \
         report TEXT NOT NULL)"
    ))
    .await;
    db.execute(
        "INSERT INTO pipeline_cycles (slot, runner, started_at, finished_at, status, report) \
         VALUES (NULL, 'old:7', 'a', 'b', 'succeeded', '{\"old\":true}')",
    )
    .await;

    let reopened = Store::connect(&db.config).await.unwrap();
    assert_eq!(reopened.migrate().await.unwrap(), 0);
    assert!(
        reopened
            .migration_status()
            .await
            .unwrap()
            .iter()
            .all(|m| m.applied_at.is_some())
    );
    let kept = reopened.recent_cycles(10).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].report, "{\"old\":true}");
    let next = reopened
        .record_cycle(&cycle(None, "succeeded", "{}"))
        .await
        .unwrap();
    assert!(next > kept[0].id);
    reopened.close().await;
}

async fn fetch_runs_are_recorded_newest_first(db: TestDb) {
    let first = db.store.start_fetch_run("Sia").await.unwrap();
    let second = db.store.start_fetch_run("Drake").await.unwrap();
    let summary = FetchRunSummary {
        songs_seen: 20,
        songs_fetched: 12,
        songs_stored: 11,
        songs_failed: 1,
        status: "succeeded".into(),
        error: None,
    };
    db.store.finish_fetch_run(first, &summary).await.unwrap();
    let runs = db.store.recent_fetch_runs(10).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].id, second);
    assert_eq!(runs[0].artist, "Drake");
    assert_eq!(runs[0].finished_at, None);
    assert_eq!(runs[0].summary.status, "running");
    assert_eq!(runs[1].artist, "Sia");
    assert_eq!(runs[1].summary, summary);
    assert!(runs[1].finished_at.unwrap() >= runs[1].started_at);
    assert_eq!(db.store.recent_fetch_runs(1).await.unwrap().len(), 1);
}

/// A run whose process died (a `running` row nobody holds the lock of) is marked abandoned by
/// the next run, but only once no other run is alive: a concurrent fetcher's row is never
/// touched.
async fn a_run_whose_process_ended_is_abandoned_by_the_next_run_alone(db: TestDb) {
    let timestamp = if db.config.url.expose_secret().starts_with("sqlite:") {
        "'2026-01-01T00:00:00Z'"
    } else {
        "TIMESTAMPTZ '2026-01-01 00:00:00+00'"
    };
    let dead = |artist: &str| {
        format!(
            "INSERT INTO fetch_runs (artist, started_at, status) \
             VALUES ('{artist}', {timestamp}, 'running')"
        )
    };
    let status = |runs: &[songrec_store::FetchRun], artist: &str| {
        let run = runs.iter().find(|r| r.artist == artist).unwrap();
        (run.summary.status.clone(), run.finished_at.is_some())
    };
    // The first run finds no run alive: the dead one is abandoned.
    db.execute(&dead("Gone")).await;
    let other = Store::connect(&db.config).await.unwrap();
    let alive = other.start_fetch_run("Alive").await.unwrap();
    let runs = db.store.recent_fetch_runs(10).await.unwrap();
    assert_eq!(
        status(&runs, "Gone"),
        ("abandoned".into(), true),
        "{runs:?}"
    );
    let gone = runs.iter().find(|r| r.artist == "Gone").unwrap();
    assert!(
        gone.summary
            .error
            .as_deref()
            .unwrap()
            .contains("ended without")
    );

    // While another process (its own store, its own lock) is fetching, a new run abandons
    // nothing: it cannot tell that run's row from a dead one.
    db.execute(&dead("Dead")).await;
    let mine = db.store.start_fetch_run("Mine").await.unwrap();
    let runs = db.store.recent_fetch_runs(10).await.unwrap();
    assert_eq!(status(&runs, "Dead"), ("running".into(), false), "{runs:?}");
    assert_eq!(
        status(&runs, "Alive"),
        ("running".into(), false),
        "{runs:?}"
    );

    // Once both ended, the next run is alone again.
    let done = FetchRunSummary {
        status: "succeeded".into(),
        ..FetchRunSummary::default()
    };
    other.finish_fetch_run(alive, &done).await.unwrap();
    db.store.finish_fetch_run(mine, &done).await.unwrap();
    let next = db.store.start_fetch_run("Next").await.unwrap();
    let runs = db.store.recent_fetch_runs(10).await.unwrap();
    assert_eq!(
        status(&runs, "Dead"),
        ("abandoned".into(), true),
        "{runs:?}"
    );
    assert_eq!(status(&runs, "Alive"), ("succeeded".into(), true));
    assert_eq!(status(&runs, "Mine"), ("succeeded".into(), true));
    assert_eq!(status(&runs, "Next"), ("running".into(), false));

    // A store that is dropped without finishing its run (as a killed process) releases its
    // lock: its run is abandoned by the next one.
    db.store.finish_fetch_run(next, &done).await.unwrap();
    let dying = Store::connect(&db.config).await.unwrap();
    dying.start_fetch_run("Killed").await.unwrap();
    dying.close().await;
    drop(dying);
    let mut abandoned = false;
    for _ in 0..100 {
        // PostgreSQL ends a dropped session's locks once its backend sees the socket close.
        let id = db.store.start_fetch_run("After").await.unwrap();
        db.store.finish_fetch_run(id, &done).await.unwrap();
        let runs = db.store.recent_fetch_runs(200).await.unwrap();
        if status(&runs, "Killed").0 == "abandoned" {
            abandoned = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(abandoned, "the dropped store's run was never abandoned");
    other.close().await;
}

async fn migrations_are_all_applied_once(db: TestDb) {
    let status = db.store.migration_status().await.unwrap();
    assert!(!status.is_empty());
    assert!(status.iter().all(|m| m.applied_at.is_some()), "{status:?}");
    assert_eq!(db.store.migrate().await.unwrap(), 0);
    // A second process opening the same database finds nothing to do either.
    let again = Store::connect(&db.config).await.unwrap();
    assert_eq!(again.migration_status().await.unwrap(), status);
}

/// The original browse page's query, verbatim, against songrec's schema: its row positions are
/// the `index` of `GET /recommend/{index}`, i.e. positions in the catalogue in browse order.
async fn the_original_browse_query_lists_songs_in_recommend_index_order(db: TestDb) {
    // Pageviews with ties (several songs per value) and some songs without pageviews.
    let songs: Vec<ImportedSong> = (1..=300)
        .map(|id| imported(song(id, (id % 9 != 0).then_some((id * 7919) % 50))))
        .collect();
    db.store.upsert_songs(&songs).await.unwrap();

    let rows = db
        .query_rows(
            "SELECT id, pageviews, artist, title FROM songs WHERE pageviews IS NOT NULL \
             AND artist IS NOT NULL ORDER BY pageviews DESC LIMIT 10000",
        )
        .await;
    let with_views = songs.iter().filter(|s| s.song.pageviews.is_some()).count();
    assert_eq!(rows.len(), with_views);

    let mut browse = db.store.load_catalogue().await.unwrap();
    browse.sort_by(|a, b| browse_order((a.pageviews, a.id), (b.pageviews, b.id)));
    let by_id: HashMap<u64, &Song> = songs.iter().map(|s| (s.song.id, &s.song)).collect();

    // Ties have no order in the original query, so compare positions value by value: the same
    // pageviews at every position, and the same songs within each run of equal pageviews.
    let mut query_groups: HashMap<i64, Vec<u64>> = HashMap::new();
    for (position, (id, pageviews, artist, title)) in rows.iter().enumerate() {
        let stored = by_id[id];
        assert_eq!(&stored.primary_artist.name, artist);
        assert_eq!(&stored.title, title);
        assert_eq!(browse[position].pageviews, Some(*pageviews as u64));
        query_groups.entry(*pageviews).or_default().push(*id);
    }
    for (pageviews, mut ids) in query_groups {
        ids.sort_unstable();
        let mut browse_ids: Vec<u64> = browse
            .iter()
            .filter(|s| s.pageviews == Some(pageviews as u64))
            .map(|s| s.id)
            .collect();
        browse_ids.sort_unstable();
        assert_eq!(ids, browse_ids);
    }
    // With a unique pageviews value, the position pins the song exactly.
    let unique = imported(song(10_000, Some(1_000_000)));
    db.store.upsert_songs(&[unique]).await.unwrap();
    let rows = db
        .query_rows(
            "SELECT id, pageviews, artist, title FROM songs WHERE pageviews IS NOT NULL \
             AND artist IS NOT NULL ORDER BY pageviews DESC LIMIT 10000",
        )
        .await;
    assert_eq!(rows[0].0, 10_000);
}

/// An import and a training run (catalogue loads) at the same time, plus a second writer
/// (a fetch) touching the same artists: no deadlock, no lost write, and every load sees whole
/// songs only.
async fn concurrent_imports_and_catalogue_loads_neither_block_nor_lose_writes(db: TestDb) {
    let import = catalogue(1..=3000);
    let fetch = catalogue((2500..=4000).rev());
    let other = Store::connect(&db.config).await.unwrap();

    let importer = {
        let store = db.store.clone();
        tokio::spawn(async move {
            for chunk in import.chunks(300) {
                store.upsert_songs(chunk).await.unwrap();
            }
        })
    };
    let fetcher = {
        let store = other.clone();
        tokio::spawn(async move {
            for chunk in fetch.chunks(100) {
                store.upsert_songs(chunk).await.unwrap();
            }
        })
    };
    let trainer = {
        let store = db.store.clone();
        tokio::spawn(async move {
            let mut loads = 0;
            let mut last = 0;
            loop {
                let songs = store.load_catalogue().await.unwrap();
                for s in &songs {
                    assert_eq!(s.credits.len(), 3, "song {} loaded half-written", s.id);
                }
                assert!(
                    songs.len() >= last,
                    "a load saw fewer songs than the one before"
                );
                last = songs.len();
                loads += 1;
                if last == 4000 {
                    return loads;
                }
            }
        })
    };
    // Only a guard against a hang: a deadlock would otherwise stall the test run forever.
    let joined = tokio::time::timeout(Duration::from_secs(300), async {
        importer.await.unwrap();
        fetcher.await.unwrap();
        trainer.await.unwrap()
    })
    .await
    .expect("import, fetch and loads did not finish: deadlock");
    assert!(joined >= 1);
    let mut expected: Vec<Song> = catalogue(1..=4000).into_iter().map(|s| s.song).collect();
    expected.sort_by_key(|s| s.id);
    assert_eq!(db.store.load_catalogue().await.unwrap(), expected);
    other.close().await;
}

/// Opening a database URL of an unknown kind is a clear error.
#[tokio::test]
async fn an_unknown_url_scheme_is_refused() {
    let err = Store::connect(&StoreConfig::from_url("mysql://localhost/x"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnsupportedUrl));
}

both_backends!(
    reimporting_the_same_songs_changes_nothing,
    the_catalogue_reads_back_exactly_what_was_written,
    a_changed_song_is_updated_and_its_credits_and_links_replaced,
    the_same_id_twice_in_one_call_keeps_the_last_version,
    an_id_too_large_for_the_database_is_refused,
    songs_updated_at_reports_only_stored_ids,
    a_fetched_unchanged_song_is_checked_without_being_rewritten,
    a_song_is_checked_at_the_later_of_its_last_write_and_its_last_fetch,
    export_writes_every_raw_object_once_in_id_order,
    outdated_song_records_are_derived_again_from_the_raw_json,
    fetch_runs_are_recorded_newest_first,
    a_run_whose_process_ended_is_abandoned_by_the_next_run_alone,
    pipeline_cycles_are_recorded_newest_first_and_a_slot_is_run_once,
    plans_are_replaced_per_process_and_forgotten,
    a_pipeline_record_created_at_run_time_is_kept_by_the_migration,
    migrations_are_all_applied_once,
    the_original_browse_query_lists_songs_in_recommend_index_order,
    concurrent_imports_and_catalogue_loads_neither_block_nor_lose_writes,
);

/// The original service's table, as its fetch script created it.
const ORIGINAL_SONGS_TABLE: &str = "CREATE TABLE IF NOT EXISTS songs (
    id INT PRIMARY KEY, title TEXT NOT NULL, language TEXT, artist TEXT NOT NULL, album TEXT,
    description TEXT, release_date TEXT, pageviews INT, featured_artists TEXT,
    producer_artists TEXT, song_relationships JSONB, url TEXT,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_adopts_a_database_the_original_service_created() {
    support::with_postgres_database(|config| async move {
        use secrecy::ExposeSecret;
        use sqlx::{Connection, Executor};
        let mut conn = sqlx::PgConnection::connect(config.url.expose_secret())
            .await
            .unwrap();
        conn.execute(ORIGINAL_SONGS_TABLE).await.unwrap();
        conn.execute(
            "INSERT INTO songs (id, title, language, artist, album, description, release_date, \
             pageviews, featured_artists, producer_artists, song_relationships, url) VALUES \
             (4, 'Old', 'en', 'Artist 4', NULL, 'No description available', 'Unknown', 900, '', \
             'Someone', '[{\"type\": \"samples\", \"songs\": [\"X\"]}]', 'https://genius.com/old')",
        )
        .await
        .unwrap();

        let store = Store::connect(&config).await.unwrap();
        assert_eq!(store.count_songs().await.unwrap(), 1);
        // Without an artist id the old row cannot be a catalogue song yet.
        assert!(store.load_catalogue().await.unwrap().is_empty());

        let counts = store
            .upsert_songs(&[imported(song(4, Some(1000))), imported(song(5, Some(10)))])
            .await
            .unwrap();
        assert_eq!(
            counts,
            UpsertCounts {
                inserted: 1,
                updated: 1,
                unchanged: 0
            }
        );
        let loaded = store.load_catalogue().await.unwrap();
        assert_eq!(loaded, vec![song(4, Some(1000)), song(5, Some(10))]);

        let rows: Vec<(i64, Option<i64>, String, String)> = sqlx::query_as(
            "SELECT id, pageviews, artist, title FROM songs WHERE pageviews IS NOT NULL \
             AND artist IS NOT NULL ORDER BY pageviews DESC LIMIT 10000",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        assert_eq!(rows[0].0, 4);
        assert_eq!(rows[0].1, Some(1000));
        assert_eq!(rows[0].3, song(4, None).title);
        conn.close().await.unwrap();
        store.close().await;
    })
    .await;
}
