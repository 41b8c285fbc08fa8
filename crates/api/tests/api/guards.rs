//! Hostile and unusual requests: refused with the right status before any work, by name.

use crate::support::{Flavour, Spec, TestApp, assert_error};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_seed_body_is_413_and_a_long_seed_list_is_400() {
    let (app, _source) = TestApp::serving(Spec::new(30, Flavour::Forward)).await;
    let ids: Vec<String> = (0..250_000).map(|i| i.to_string()).collect();
    let body = format!("{{\"seeds\": [{}], \"k\": 5}}", ids.join(","));
    assert_error(&app.post_json("/recommendations", &body).await, 413);
    // 51 copies of one id: refused on the count, before duplicates are removed.
    let body = format!("{{\"seeds\": [{}]}}", vec!["1000"; 51].join(","));
    let answer = app.post_json("/recommendations", &body).await;
    assert_error(&answer, 400);
    assert!(answer.1["error"].as_str().unwrap().contains("at most 50"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_of_fifteen_thousand_words_is_400() {
    let (app, _source) = TestApp::serving(Spec::new(30, Flavour::Forward)).await;
    let q = vec!["a"; 15_000].join("+");
    let answer = app.get(&format!("/songs?q={q}")).await;
    assert_error(&answer, 400);
    let q = ["a"; 11].join("+");
    let answer = app.get(&format!("/songs?q={q}")).await;
    assert_error(&answer, 400);
    assert!(answer.1["error"].as_str().unwrap().contains("words"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_repeated_query_parameters_are_400_naming_them() {
    let (app, _source) = TestApp::serving(Spec::new(30, Flavour::Forward)).await;
    let answer = app.get("/recommend/0?k=5&colour=red").await;
    assert_error(&answer, 400);
    assert!(answer.1["error"].as_str().unwrap().contains("\"colour\""));
    assert_error(&app.get("/recommend/0?k=5&k=6").await, 400);
    assert_error(&app.get("/health?x=1").await, 400);
    assert_eq!(app.get("/songs?sort=title&limit=3").await.0, 200);
    assert_error(&app.get("/songs?sort=loudness").await, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_narrow_the_list_and_scores_never_increase() {
    let (app, _source) = TestApp::serving(Spec::new(30, Flavour::Forward)).await;
    // Artists cycle every five songs: song 0's neighbours 1..=10 hold two of each artist.
    let (status, body) = app.get("/recommend/0?k=10&max_per_artist=1").await;
    assert_eq!(status, 200, "{body}");
    let items = body["recommendations"].as_array().unwrap();
    let mut artists: Vec<&str> = items
        .iter()
        .map(|r| r["artist"].as_str().unwrap())
        .collect();
    artists.sort();
    artists.dedup();
    assert_eq!(artists.len(), items.len());
    let (_, body) = app.get("/recommend/0?k=10&exclude_artist=true").await;
    for r in body["recommendations"].as_array().unwrap() {
        assert_ne!(r["artist"], "Artist 0");
    }
    let scores: Vec<f64> = body["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["score"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    // Nothing in the fake catalogue has a language.
    let (status, body) = app.get("/recommend/0?k=5&language=en").await;
    assert_eq!(status, 200);
    assert!(body["recommendations"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_reload_does_not_exist_without_a_token_and_docs_work_offline() {
    let (app, _source) = TestApp::serving(Spec::new(30, Flavour::Forward)).await;
    let response = app
        .client
        .post(format!("{}/admin/reload", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let (status, models) = app.get("/models").await;
    assert_eq!(status, 200, "{models}");
    assert_eq!(models["champion"], 1);
    let docs = app
        .client
        .get(format!("{}/docs/", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), 200);
    let page = docs.text().await.unwrap();
    assert!(page.contains("swagger"), "{page}");
    assert!(!page.contains("https://"), "{page}");
}
