//! The Genius client against a fake Genius over real HTTP: pagination, retries, timeouts,
//! error shapes and the rate limit.

mod support;

use std::time::Duration;

use secrecy::SecretString;
use songrec_genius::{CatalogueSort, ClientConfig, GeniusClient, GeniusError, RetryPolicy};
use support::fake_genius::{FakeGenius, Fault};

const TOKEN: &str = "test-token-0123456789";

fn config(fake: &FakeGenius) -> ClientConfig {
    let mut config = ClientConfig::new(fake.url.parse().unwrap(), SecretString::from(TOKEN));
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

fn client(fake: &FakeGenius) -> GeniusClient {
    GeniusClient::new(config(fake)).unwrap()
}

#[tokio::test]
async fn a_catalogue_is_walked_until_next_page_is_null_even_through_short_pages() {
    let fake = FakeGenius::start(TOKEN).await;
    let own = fake.add_artist(16775, "Sia", 20, 1000);
    fake.add_artist(500, "Bruno Mars", 1, 2000);
    fake.add_feature(16775, 2000);
    fake.set_page_size(7);
    let client = client(&fake);

    let mut page = Some(1);
    let mut ids = Vec::new();
    while let Some(n) = page {
        let listing = client
            .artist_songs(16775, CatalogueSort::Popularity, n, 50)
            .await
            .unwrap();
        ids.extend(listing.songs.iter().map(|s| s.id.unwrap()));
        page = listing.next_page;
    }
    let mut expected = own;
    expected.push(2000);
    assert_eq!(ids, expected);
    assert_eq!(fake.count("/artists/16775/songs"), 3);
}

#[tokio::test]
async fn requests_carry_the_user_agent_and_the_documented_parameters() {
    let fake = FakeGenius::start(TOKEN).await;
    fake.add_artist(1, "Adele", 2, 10);
    let client = client(&fake);
    let details = client.song(10).await.unwrap();
    assert!(details.song.get().contains("\"id\":10"));
    assert!(details.body.contains("\"response\""));
    client
        .artist_songs(1, CatalogueSort::Title, 1, 50)
        .await
        .unwrap();
    let artist = client.artist(1).await.unwrap();
    assert_eq!(artist.name.as_deref(), Some("Adele"));

    let seen = fake.seen();
    assert!(seen.iter().all(|s| s.user_agent.starts_with("songrec/")));
    assert_eq!(seen[0].query, "text_format=plain");
    assert_eq!(seen[1].query, "sort=title&per_page=50&page=1");
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_then_retried() {
    let fake = FakeGenius::start(TOKEN).await;
    fake.add_artist(1, "Adele", 1, 10);
    fake.inject("/songs/10", Fault::too_many_requests(1));
    let client = client(&fake);
    client.song(10).await.unwrap();
    let seen = fake.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen[1].at.duration_since(seen[0].at) >= Duration::from_secs(1));
}

#[tokio::test]
async fn server_errors_are_retried_and_reported_once_retries_run_out() {
    let fake = FakeGenius::start(TOKEN).await;
    fake.add_artist(1, "Adele", 2, 10);
    for _ in 0..3 {
        fake.inject("/songs/10", Fault::server_error(500));
    }
    for _ in 0..4 {
        fake.inject("/songs/11", Fault::server_error(503));
    }
    let client = client(&fake);
    client.song(10).await.unwrap();
    assert_eq!(fake.count("/songs/10"), 4);
    assert_eq!(
        client.song(11).await.unwrap_err(),
        GeniusError::Server { status: 503 }
    );
    assert_eq!(fake.count("/songs/11"), 4);
}

#[tokio::test]
async fn a_slow_answer_times_out_and_the_retry_succeeds() {
    let fake = FakeGenius::start(TOKEN).await;
    fake.add_artist(1, "Adele", 1, 10);
    fake.inject("/songs/10", Fault::Delay(Duration::from_secs(3)));
    let client = client(&fake);
    client.song(10).await.unwrap();
    assert_eq!(fake.count("/songs/10"), 2);
}

#[tokio::test]
async fn a_bad_token_fails_at_once_and_the_error_does_not_contain_it() {
    let fake = FakeGenius::start("the-right-token").await;
    fake.add_artist(1, "Adele", 1, 10);
    let client = client(&fake);
    let error = client.song(10).await.unwrap_err();
    assert!(error.is_auth(), "{error:?}");
    assert!(matches!(error, GeniusError::InvalidToken { .. }));
    assert_eq!(fake.count("/songs/10"), 1);
    let text = format!("{error} {error:?}");
    assert!(!text.contains(TOKEN), "{text}");
    assert!(text.contains("GENIUS_API_TOKEN"), "{text}");
}

#[tokio::test]
async fn a_missing_song_is_a_404_and_is_not_retried() {
    let fake = FakeGenius::start(TOKEN).await;
    let client = client(&fake);
    let error = client.song(42).await.unwrap_err();
    assert!(error.is_not_found(), "{error:?}");
    assert_eq!(fake.count("/songs/42"), 1);
}

#[tokio::test]
async fn malformed_json_and_html_pages_are_errors_not_crashes() {
    let fake = FakeGenius::start(TOKEN).await;
    fake.add_artist(1, "Adele", 2, 10);
    fake.inject("/songs/10", Fault::Malformed);
    fake.inject(
        "/songs/11",
        Fault::Status {
            status: 403,
            retry_after: None,
            body: "<!DOCTYPE html><html><title>Just a moment...</title></html>".into(),
        },
    );
    let client = client(&fake);
    assert!(matches!(
        client.song(10).await.unwrap_err(),
        GeniusError::Malformed { .. }
    ));
    assert!(matches!(
        client.song(11).await.unwrap_err(),
        GeniusError::NonJson { status: 403, .. }
    ));
    assert_eq!(fake.count("/songs/1"), 2, "neither is retried");
}

#[tokio::test]
async fn the_rate_limit_holds_across_concurrent_requests() {
    let fake = FakeGenius::start(TOKEN).await;
    fake.add_artist(1, "Adele", 30, 100);
    let mut config = config(&fake);
    config.rate = Some(10.0);
    config.concurrency = 8;
    let client = GeniusClient::new(config).unwrap();
    let fetches = (100..130).map(|id| client.song(id));
    for result in futures::future::join_all(fetches).await {
        result.unwrap();
    }
    assert_eq!(fake.count("/songs/"), 30);
    // 10/s with no burst: any one-second window holds at most 10, plus one on its edge.
    let most = fake.max_requests_within(Duration::from_secs(1));
    assert!(most <= 11, "{most} requests within one second");
}

#[tokio::test]
async fn a_body_over_the_cap_is_refused_while_streaming_without_reading_it_all() {
    let fake = FakeGenius::start(TOKEN).await;
    fake.add_artist(1, "Adele", 1, 10);
    let cap = songrec_genius::client::MAX_BODY_BYTES;
    fake.inject("/songs/10", Fault::Huge(cap + 1));
    let err = client(&fake).song(10).await.unwrap_err();
    assert_eq!(err, GeniusError::TooLarge { limit: cap });
    assert!(!err.is_retryable());
    assert_eq!(fake.count("/songs/10"), 1);
    // A body just under the cap is read (and then refused as malformed JSON, not as too large).
    fake.inject("/songs/10", Fault::Huge(cap - 100));
    let err = client(&fake).song(10).await.unwrap_err();
    assert!(matches!(err, GeniusError::Malformed { .. }), "{err:?}");
}
