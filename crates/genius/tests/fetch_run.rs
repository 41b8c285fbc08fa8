//! Fetch runs end to end: a fake Genius over HTTP, a real SQLite store in a temp dir.

mod support;

use std::time::Duration;

use secrecy::SecretString;
use songrec_genius::fetch::{
    DueReason, FetchError, FetchOptions, FetchProgress, Fetcher, NoProgress, SongOutcome,
};
use songrec_genius::{ClientConfig, GeniusClient, RetryPolicy, parse_song_value};
use songrec_store::{ImportedSong, Store, StoreConfig, UpsertCounts};
use support::fake_genius::{Broken, DECOY_ARTIST_ID, FakeGenius, Fault};

const TOKEN: &str = "fetch-test-token-abcdef";

struct World {
    fake: FakeGenius,
    store: Store,
    dir: tempfile::TempDir,
}

impl World {
    async fn new() -> World {
        let fake = FakeGenius::start(TOKEN).await;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&StoreConfig::sqlite(&dir.path().join("songrec.db")))
            .await
            .unwrap();
        World { fake, store, dir }
    }

    fn client_config(&self) -> ClientConfig {
        let mut config =
            ClientConfig::new(self.fake.url.parse().unwrap(), SecretString::from(TOKEN));
        config.rate = None;
        config.timeout = Duration::from_millis(500);
        config.retry = RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            max_retry_after: Duration::from_secs(5),
        };
        config
    }

    async fn fetch(
        &self,
        artist: &str,
        options: FetchOptions,
    ) -> (songrec_genius::fetch::ArtistReport, Result<(), FetchError>) {
        self.fetch_with(self.client_config(), artist, options).await
    }

    async fn fetch_with(
        &self,
        config: ClientConfig,
        artist: &str,
        options: FetchOptions,
    ) -> (songrec_genius::fetch::ArtistReport, Result<(), FetchError>) {
        let client = GeniusClient::new(config).unwrap();
        Fetcher::new(&client, &self.store, options, &NoProgress)
            .fetch_artist(artist)
            .await
    }
}

fn max_songs(n: usize) -> FetchOptions {
    FetchOptions {
        max_songs: Some(n),
        ..FetchOptions::default()
    }
}

#[tokio::test]
async fn a_fetch_walks_short_pages_stores_max_songs_and_records_the_run() {
    let world = World::new().await;
    let ids = world.fake.add_artist(16775, "Sia", 60, 1000);
    world.fake.add_artist(500, "Bruno Mars", 1, 5000);
    world.fake.add_feature(16775, 5000);
    world.fake.set_page_size(7);

    let (report, result) = world.fetch("Sia", max_songs(50)).await;
    result.unwrap();
    assert_eq!(report.resolved, Some((16775, "Sia".to_string())));
    assert_eq!(report.summary.songs_seen, 50);
    assert_eq!(report.summary.songs_fetched, 50);
    assert_eq!(report.summary.songs_stored, 50);
    assert_eq!(world.store.count_songs().await.unwrap(), 50);
    // The 50 most popular, from 8 pages of 7 (the last one cut short by --max-songs).
    assert_eq!(world.fake.count("/artists/16775/songs"), 8);
    let stored = world.store.songs_updated_at(&ids).await.unwrap();
    assert!(ids[..50].iter().all(|id| stored.contains_key(id)));

    let catalogue = world.store.load_catalogue().await.unwrap();
    let sample = catalogue.iter().find(|s| s.id == 1000).unwrap();
    assert_eq!(sample.primary_artist.name, "Sia");
    assert!(!sample.credits.is_empty(), "credits kept: {sample:?}");
    assert!(!sample.relationships.is_empty());

    let runs = world.store.recent_fetch_runs(5).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].artist, "Sia");
    assert!(runs[0].finished_at.is_some());
    assert_eq!(runs[0].summary, report.summary);
    assert_eq!(runs[0].summary.status, "succeeded");
}

#[tokio::test]
async fn the_whole_catalogue_features_included_is_walked_without_a_limit() {
    let world = World::new().await;
    world.fake.add_artist(16775, "Sia", 12, 1000);
    world.fake.add_artist(500, "Bruno Mars", 1, 5000);
    world.fake.add_feature(16775, 5000);
    world.fake.set_page_size(5);
    let (report, result) = world
        .fetch(
            "Sia",
            FetchOptions {
                max_songs: None,
                ..FetchOptions::default()
            },
        )
        .await;
    result.unwrap();
    assert_eq!(report.summary.songs_stored, 13);
    assert_eq!(world.store.count_songs().await.unwrap(), 13);
}

#[tokio::test]
async fn a_catalogue_that_repeats_its_page_forever_is_walked_once_and_the_run_ends() {
    let world = World::new().await;
    world.fake.add_artist(16775, "Sia", 12, 1000);
    world.fake.set_page_size(5);
    world.fake.set_endless_pages();
    let (report, result) = world
        .fetch(
            "Sia",
            FetchOptions {
                max_songs: None,
                ..FetchOptions::default()
            },
        )
        .await;
    result.unwrap();
    // Page 1 lists 5 new songs; page 2 repeats them, so the walk stops there.
    assert_eq!(world.fake.count("/artists/16775/songs"), 2);
    assert_eq!(report.summary.songs_stored, 5);
    assert_eq!(world.store.count_songs().await.unwrap(), 5);
}

#[tokio::test]
async fn a_second_run_fetches_nothing_while_songs_are_fresh_and_everything_once_stale() {
    let world = World::new().await;
    world.fake.add_artist(16775, "Sia", 10, 1000);
    world.fetch("Sia", max_songs(50)).await.1.unwrap();
    assert_eq!(world.fake.count("/songs/"), 10);

    let (report, result) = world.fetch("Sia", max_songs(50)).await;
    result.unwrap();
    assert_eq!(report.fresh, 10);
    assert_eq!(report.summary.songs_fetched, 0);
    assert_eq!(world.fake.count("/songs/"), 10, "no song fetched twice");

    let stale = FetchOptions {
        refresh_after: Duration::ZERO,
        ..max_songs(50)
    };
    let (report, result) = world.fetch("Sia", stale).await;
    result.unwrap();
    assert_eq!(report.summary.songs_fetched, 10);
    assert_eq!(world.fake.count("/songs/"), 20);
    assert_eq!(
        world.store.count_songs().await.unwrap(),
        10,
        "no duplicates"
    );
}

/// Regression: a stale song fetched again with the same content kept its old `updated_at`
/// (the store does not rewrite an unchanged song), so every later run fetched it again.
#[tokio::test]
async fn a_stale_song_fetched_again_unchanged_is_fresh_for_the_next_run() {
    let world = World::new().await;
    let ids = world.fake.add_artist(16775, "Sia", 10, 1000);
    world.fetch("Sia", max_songs(50)).await.1.unwrap();
    assert_eq!(world.fake.count("/songs/"), 10);

    // As if imported a month ago and never fetched since: older than the default
    // --refresh-after (7 days).
    let month_ago = chrono::Utc::now() - chrono::Duration::days(30);
    {
        use sqlx::Connection;
        let path = world.dir.path().join("songrec.db");
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        sqlx::query("UPDATE songs SET updated_at = ?, checked_at = NULL")
            .bind(month_ago)
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    }

    let (report, result) = world.fetch("Sia", max_songs(50)).await;
    result.unwrap();
    assert_eq!(report.summary.songs_fetched, 10, "all stale");
    assert_eq!(report.summary.songs_stored, 10);
    assert_eq!(world.fake.count("/songs/"), 20);
    let updated = world.store.songs_updated_at(&ids).await.unwrap();
    assert!(
        updated
            .values()
            .all(|at| *at < month_ago + chrono::Duration::days(1)),
        "unchanged songs are not rewritten: {updated:?}"
    );

    let (report, result) = world.fetch("Sia", max_songs(50)).await;
    result.unwrap();
    assert_eq!(report.fresh, 10, "{report:?}");
    assert_eq!(report.summary.songs_fetched, 0);
    assert_eq!(
        world.fake.count("/songs/"),
        20,
        "no song fetched a third time"
    );

    // Importing what the fetch stored still changes nothing, and keeps the songs fresh.
    let checked = world.store.songs_checked_at(&ids).await.unwrap();
    let mut export = Vec::new();
    world.store.export_jsonl(&mut export).await.unwrap();
    let reimport: Vec<ImportedSong> = String::from_utf8(export)
        .unwrap()
        .lines()
        .map(|line| ImportedSong {
            song: parse_song_value(serde_json::from_str(line).unwrap()).unwrap(),
            raw: line.to_string(),
        })
        .collect();
    let counts = world.store.upsert_songs(&reimport).await.unwrap();
    assert_eq!(
        counts,
        UpsertCounts {
            inserted: 0,
            updated: 0,
            unchanged: 10
        }
    );
    assert_eq!(world.store.songs_checked_at(&ids).await.unwrap(), checked);
    assert_eq!(world.store.songs_updated_at(&ids).await.unwrap(), updated);
}

#[tokio::test]
async fn the_artist_is_matched_exactly_ignoring_case_and_accents_never_by_first_hit() {
    let world = World::new().await;
    world.fake.add_artist(1, "Drake Bell", 2, 100);
    world.fake.add_artist(2, "Beyoncé", 3, 200);
    world.fake.add_artist(3, "Drake", 2, 300);

    let (report, result) = world.fetch("beyonce", max_songs(50)).await;
    result.unwrap();
    assert_eq!(report.resolved, Some((2, "Beyoncé".to_string())));
    let (report, result) = world.fetch("DRAKE", max_songs(50)).await;
    result.unwrap();
    assert_eq!(report.resolved, Some((3, "Drake".to_string())));
    assert_eq!(world.store.count_songs().await.unwrap(), 5);
    assert_eq!(world.fake.count(&format!("/artists/{DECOY_ARTIST_ID}")), 0);
}

#[tokio::test]
async fn an_unknown_artist_fails_its_run_with_the_nearest_names() {
    let world = World::new().await;
    world.fake.add_artist(1, "Drake Bell", 2, 100);
    let (_, result) = world.fetch("Drake", max_songs(50)).await;
    let error = result.unwrap_err();
    assert!(
        matches!(error, FetchError::ArtistNotFound { .. }),
        "{error:?}"
    );
    assert!(!error.stops_everything());
    assert!(error.to_string().contains("Drake Bell"), "{error}");
    let runs = world.store.recent_fetch_runs(1).await.unwrap();
    assert_eq!(runs[0].summary.status, "failed");
    assert!(runs[0].summary.error.as_deref().unwrap().contains("Drake"));
    assert_eq!(world.store.count_songs().await.unwrap(), 0);
}

#[tokio::test]
async fn faults_are_retried_or_skipped_and_the_rest_is_stored() {
    let world = World::new().await;
    let ids = world.fake.add_artist(16775, "Sia", 12, 1000);
    world
        .fake
        .inject(&format!("/songs/{}", ids[0]), Fault::too_many_requests(1));
    world
        .fake
        .inject(&format!("/songs/{}", ids[1]), Fault::server_error(500));
    world
        .fake
        .inject(&format!("/songs/{}", ids[1]), Fault::server_error(502));
    world.fake.inject(
        &format!("/songs/{}", ids[2]),
        Fault::Delay(Duration::from_secs(2)),
    );
    world
        .fake
        .inject(&format!("/songs/{}", ids[3]), Fault::Malformed);
    world
        .fake
        .inject("/artists/16775/songs", Fault::server_error(503));
    world.fake.break_song(ids[4], Broken::NotFound);
    world.fake.break_song(ids[5], Broken::Malformed);
    world.fake.break_song(ids[6], Broken::MissingFields);

    let (report, result) = world.fetch("Sia", max_songs(50)).await;
    result.unwrap();
    assert_eq!(report.summary.songs_seen, 12);
    assert_eq!(report.summary.songs_fetched, 12);
    assert_eq!(report.summary.songs_failed, 4, "{report:?}");
    assert_eq!(report.summary.songs_stored, 8);
    assert_eq!(world.store.count_songs().await.unwrap(), 8);
    let stored = world.store.songs_updated_at(&ids).await.unwrap();
    for id in &ids[..3] {
        assert!(stored.contains_key(id), "song {id} stored after retries");
    }
    // A one-off malformed body is skipped like a permanent one: it is not a transient fault.
    for id in &ids[3..7] {
        assert!(!stored.contains_key(id), "song {id} skipped");
    }
    assert_eq!(
        world.fake.count(&format!("/songs/{}", ids[4])),
        1,
        "404 not retried"
    );
    assert_eq!(
        world.store.recent_fetch_runs(1).await.unwrap()[0]
            .summary
            .status,
        "succeeded"
    );

    // The next run picks up what was skipped for a transient reason.
    let (report, result) = world.fetch("Sia", max_songs(50)).await;
    result.unwrap();
    assert_eq!(report.summary.songs_fetched, 4);
    assert_eq!(report.summary.songs_stored, 1);
    assert_eq!(world.store.count_songs().await.unwrap(), 9);
}

#[tokio::test]
async fn a_rejected_token_stops_the_run_at_once_without_writing() {
    let world = World::new().await;
    world.fake.add_artist(16775, "Sia", 5, 1000);
    let mut config = world.client_config();
    config.token = SecretString::from("a-revoked-token");
    let (_, result) = world.fetch_with(config, "Sia", max_songs(50)).await;
    let error = result.unwrap_err();
    assert!(error.stops_everything(), "{error:?}");
    assert!(error.to_string().contains("GENIUS_API_TOKEN"), "{error}");
    assert!(!error.to_string().contains("a-revoked-token"));
    assert_eq!(world.fake.seen().len(), 1, "one request, no retries");
    assert_eq!(world.store.count_songs().await.unwrap(), 0);
    let run = &world.store.recent_fetch_runs(1).await.unwrap()[0];
    assert_eq!(run.summary.status, "failed");
    assert!(
        !run.summary
            .error
            .as_deref()
            .unwrap()
            .contains("a-revoked-token")
    );
}

#[tokio::test]
async fn a_token_revoked_mid_run_stops_it_and_keeps_what_was_stored() {
    let world = World::new().await;
    let ids = world.fake.add_artist(16775, "Sia", 10, 1000);
    let revoked = Fault::Status {
        status: 401,
        retry_after: None,
        body: r#"{"error":"invalid_token","error_description":"revoked"}"#.into(),
    };
    for id in &ids[5..] {
        world.fake.inject(&format!("/songs/{id}"), revoked.clone());
    }
    let options = FetchOptions {
        concurrency: 1,
        ..max_songs(50)
    };
    let (report, result) = world.fetch("Sia", options).await;
    assert!(result.unwrap_err().stops_everything());
    assert_eq!(report.summary.songs_stored, 5);
    assert_eq!(world.store.count_songs().await.unwrap(), 5);
    assert!(world.fake.count("/songs/") < 10, "stopped before the end");
}

#[tokio::test]
async fn the_rate_limit_is_never_exceeded_during_a_fetch() {
    let world = World::new().await;
    world.fake.add_artist(16775, "Sia", 14, 1000);
    world.fake.set_page_size(5);
    let mut config = world.client_config();
    config.rate = Some(5.0);
    config.concurrency = 4;
    let (report, result) = world.fetch_with(config, "Sia", max_songs(50)).await;
    result.unwrap();
    assert_eq!(report.summary.songs_stored, 14);
    // 1 search + 3 pages + 14 songs at 5/s: about 3.6 s.
    assert_eq!(world.fake.seen().len(), 18);
    let most = world.fake.max_requests_within(Duration::from_secs(1));
    assert!(most <= 6, "{most} requests within one second at --rate 5");
}

#[tokio::test]
async fn a_dry_run_plans_new_and_stale_songs_and_writes_nothing() {
    let world = World::new().await;
    world.fake.add_artist(16775, "Sia", 6, 1000);
    world.fetch("Sia", max_songs(2)).await.1.unwrap();
    let runs_before = world.store.recent_fetch_runs(10).await.unwrap().len();
    let songs_before = world.fake.count("/songs/");

    let (report, result) = world
        .fetch(
            "Sia",
            FetchOptions {
                dry_run: true,
                ..max_songs(50)
            },
        )
        .await;
    result.unwrap();
    assert_eq!(report.planned.len(), 4);
    assert!(report.planned.iter().all(|p| p.reason == DueReason::New));
    assert_eq!(report.fresh, 2);
    assert_eq!(world.fake.count("/songs/"), songs_before);
    assert_eq!(world.store.count_songs().await.unwrap(), 2);
    assert_eq!(
        world.store.recent_fetch_runs(10).await.unwrap().len(),
        runs_before
    );

    let (report, _) = world
        .fetch(
            "Sia",
            FetchOptions {
                dry_run: true,
                refresh_after: Duration::ZERO,
                ..max_songs(50)
            },
        )
        .await;
    let stale = report
        .planned
        .iter()
        .filter(|p| p.reason == DueReason::Stale)
        .count();
    assert_eq!(stale, 2);
}

#[tokio::test]
async fn saved_raw_responses_are_api_envelopes_that_parse_back_to_the_stored_songs() {
    let world = World::new().await;
    let ids = world.fake.add_artist(16775, "Sia", 5, 1000);
    let raw_dir = world.dir.path().join("raw");
    let options = FetchOptions {
        save_raw: Some(raw_dir.clone()),
        ..max_songs(50)
    };
    world.fetch("Sia", options).await.1.unwrap();
    let catalogue = world.store.load_catalogue().await.unwrap();
    for id in ids {
        let text = std::fs::read_to_string(raw_dir.join(format!("song_{id}.json"))).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["meta"]["status"], 200);
        let song = parse_song_value(value).unwrap();
        assert_eq!(Some(&song), catalogue.iter().find(|s| s.id == id));
    }
    let leftovers = std::fs::read_dir(&raw_dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".tmp")
        })
        .count();
    assert_eq!(leftovers, 0);
}

/// Cancels the run once `after` songs are done, as Ctrl-C would.
struct StopAfter {
    after: usize,
    done: std::sync::atomic::AtomicUsize,
    stop: tokio_util::sync::CancellationToken,
}

impl FetchProgress for StopAfter {
    fn song_done(&self, _artist: &str, _id: u64, _outcome: SongOutcome) {
        let done = self.done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        if done == self.after {
            self.stop.cancel();
        }
    }
}

#[tokio::test]
async fn a_stopped_run_keeps_what_it_stored_and_is_recorded_as_interrupted() {
    let world = World::new().await;
    world.fake.add_artist(16775, "Sia", 10, 1000);
    let stop = tokio_util::sync::CancellationToken::new();
    let progress = StopAfter {
        after: 3,
        done: 0.into(),
        stop: stop.clone(),
    };
    let client = GeniusClient::new(world.client_config()).unwrap();
    let options = FetchOptions {
        concurrency: 1,
        ..max_songs(50)
    };
    let (report, result) = Fetcher::new(&client, &world.store, options, &progress)
        .stop_on(stop)
        .fetch_artist("Sia")
        .await;
    assert!(matches!(result, Err(FetchError::Interrupted)), "{result:?}");
    assert_eq!(report.summary.songs_stored, 3);
    assert_eq!(world.store.count_songs().await.unwrap(), 3);
    let run = &world.store.recent_fetch_runs(1).await.unwrap()[0];
    assert_eq!(run.summary.status, "interrupted");
    assert!(run.finished_at.is_some());

    let (report, result) = world.fetch("Sia", max_songs(50)).await;
    result.unwrap();
    assert_eq!(report.fresh, 3);
    assert_eq!(report.summary.songs_stored, 7);
}

/// Runs `test` on a store in a fresh, uniquely named PostgreSQL database, dropped afterwards.
/// Skips when PostgreSQL is unreachable, unless `SONGREC_REQUIRE_SERVICES=1`.
async fn with_postgres<F, Fut>(test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use futures::FutureExt;
    use sqlx::Connection;

    let admin_url = std::env::var("SONGREC_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut admin = match sqlx::PgConnection::connect(&admin_url).await {
        Ok(conn) => conn,
        Err(e) if std::env::var("SONGREC_REQUIRE_SERVICES").is_ok_and(|v| v == "1") => {
            panic!("PostgreSQL unreachable and SONGREC_REQUIRE_SERVICES=1: {e}")
        }
        Err(e) => {
            eprintln!(
                "skipping: PostgreSQL unreachable ({e}); set SONGREC_REQUIRE_SERVICES=1 to fail instead"
            );
            return;
        }
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = format!("songrec_fetch_test_{}_{nanos}", std::process::id());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&name);
    let outcome = std::panic::AssertUnwindSafe(async {
        let store = Store::connect(&StoreConfig::from_url(url.as_str()))
            .await
            .unwrap();
        test(store.clone()).await;
        store.close().await;
    })
    .catch_unwind()
    .await;
    let dropped = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
    dropped.unwrap();
}

#[tokio::test]
async fn a_fetch_into_postgresql_skips_bad_songs_resumes_and_never_duplicates() {
    with_postgres(|store| async move {
        let fake = FakeGenius::start(TOKEN).await;
        let ids = fake.add_artist(16775, "Sia", 30, 1000);
        fake.set_page_size(9);
        fake.inject(&format!("/songs/{}", ids[0]), Fault::too_many_requests(1));
        fake.inject(&format!("/songs/{}", ids[1]), Fault::server_error(503));
        fake.break_song(ids[2], Broken::NotFound);
        fake.break_song(ids[3], Broken::MissingFields);
        let mut config = ClientConfig::new(fake.url.parse().unwrap(), SecretString::from(TOKEN));
        config.rate = None;
        config.retry.base_delay = Duration::from_millis(10);
        let client = GeniusClient::new(config).unwrap();

        // Stopped after 10 songs, then run again to the end.
        let stop = tokio_util::sync::CancellationToken::new();
        let progress = StopAfter {
            after: 10,
            done: 0.into(),
            stop: stop.clone(),
        };
        let options = FetchOptions {
            concurrency: 1,
            max_songs: None,
            ..FetchOptions::default()
        };
        let (first, result) = Fetcher::new(&client, &store, options.clone(), &progress)
            .stop_on(stop)
            .fetch_artist("Sia")
            .await;
        assert!(matches!(result, Err(FetchError::Interrupted)));
        assert_eq!(first.summary.songs_stored, 8, "{first:?}");
        assert_eq!(store.count_songs().await.unwrap(), 8);

        let (second, result) = Fetcher::new(&client, &store, options, &NoProgress)
            .fetch_artist("Sia")
            .await;
        result.unwrap();
        assert_eq!(second.fresh, 8);
        assert_eq!(second.summary.songs_fetched, 22);
        assert_eq!(second.summary.songs_failed, 2);
        assert_eq!(store.count_songs().await.unwrap(), 28);
        let runs = store.recent_fetch_runs(5).await.unwrap();
        let statuses: Vec<_> = runs.iter().map(|r| r.summary.status.as_str()).collect();
        assert_eq!(statuses, ["succeeded", "interrupted"]);
    })
    .await;
}
