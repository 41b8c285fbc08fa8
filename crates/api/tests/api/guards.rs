//! Hostile and unusual requests: refused with the right status before any work, by name.

use std::sync::atomic::Ordering;

use songrec_api::ServeOptions;

use tokio::io::AsyncWriteExt;

use crate::support::{
    Artifact, FakeModel, Flavour, Gate, Spec, TestApp, assert_error, connect, read_json,
    read_until_closed,
};

/// The first hostile request: 250,000 seed ids in a 1.6 MB body. Refused on its
/// declared length, before any of it is read or parsed, and before the model is consulted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_of_250_000_seeds_is_413_before_it_is_read() {
    let (app, calls) =
        TestApp::serving_counted(FakeModel::new(Spec::new(30, Flavour::Forward), None)).await;
    let ids: Vec<String> = (0..250_000).map(|i| i.to_string()).collect();
    let body = format!("{{\"seeds\": [{}], \"k\": 5}}", ids.join(","));
    assert!(body.len() > 1_600_000, "{}", body.len());
    let before = calls.load(Ordering::SeqCst);
    // Only the request head is sent: the answer must come on the declared length alone.
    let mut stream = connect(&app).await;
    let head = format!(
        "POST /recommendations HTTP/1.1\r\nHost: songrec\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let sent = read_until_closed(&mut stream).await;
    assert!(sent.starts_with("HTTP/1.1 413 "), "{sent}");
    let json = &sent[sent.find("\r\n\r\n").expect("a whole answer") + 4..];
    let json: serde_json::Value = serde_json::from_str(json).expect("a JSON error");
    assert!(
        json["error"]
            .as_str()
            .unwrap()
            .contains("larger than 65536 bytes"),
        "{json}"
    );
    // The server answers and closes these connections before the bodies are sent whole: a
    // client of their own keeps them out of the pool the later requests use.
    let oversized = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    // Sent without a length (chunked), it is cut off at the limit all the same.
    let chunks: Vec<Result<String, std::io::Error>> = body
        .as_bytes()
        .chunks(16 * 1024)
        .map(|c| Ok(String::from_utf8_lossy(c).into_owned()))
        .collect();
    let response = oversized
        .post(format!("{}/recommendations", app.base))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await;
    // The server may answer and close before the client has sent everything.
    if let Ok(response) = response {
        assert_error(&read_json(response).await, 413);
    }
    // The same list in the query string is refused on the query's length.
    let answer = app
        .get(&format!("/recommendations?seeds={}", ids[..2000].join(",")))
        .await;
    assert_error(&answer, 400);
    assert!(
        answer.1["error"]
            .as_str()
            .unwrap()
            .contains("more than 4096"),
        "{}",
        answer.1
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        before,
        "the model was consulted"
    );

    // 51 copies of one id: refused on the count, before duplicates are removed.
    let body = format!("{{\"seeds\": [{}]}}", vec!["1000"; 51].join(","));
    let answer = app.post_json("/recommendations", &body).await;
    assert_error(&answer, 400);
    assert!(answer.1["error"].as_str().unwrap().contains("at most 50"));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        before,
        "the model was consulted"
    );
    // The counter does count: 50 copies are one seed, answered.
    let body = format!("{{\"seeds\": [{}]}}", vec!["1000"; 50].join(","));
    assert_eq!(app.post_json("/recommendations", &body).await.0, 200);
    assert!(calls.load(Ordering::SeqCst) > before);
}

/// The second hostile request: 15,000 one-letter words. Refused on the query's length
/// before it is decoded; a short query of too many words is refused before the search runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_of_fifteen_thousand_words_is_400_before_any_search() {
    let (app, calls) =
        TestApp::serving_counted(FakeModel::new(Spec::new(30, Flavour::Forward), None)).await;
    let before = calls.load(Ordering::SeqCst);
    let q = vec!["a"; 15_000].join("+");
    let answer = app.get(&format!("/songs?q={q}&language=en")).await;
    assert_error(&answer, 400);
    assert!(
        answer.1["error"]
            .as_str()
            .unwrap()
            .contains("the query string is 30013 bytes, more than 4096"),
        "{}",
        answer.1
    );
    // Eleven words: every song's line contains "a", so a search that ran would look up each
    // song's language in the model.
    let answer = app
        .get(&format!("/songs?q={}&language=en", ["a"; 11].join("+")))
        .await;
    assert_error(&answer, 400);
    assert!(
        answer.1["error"]
            .as_str()
            .unwrap()
            .contains("more than 10 words")
    );
    assert_eq!(calls.load(Ordering::SeqCst), before, "the search ran");
    // Ten words do run it.
    let (status, _) = app
        .get(&format!("/songs?q={}&language=en", ["a"; 10].join("+")))
        .await;
    assert_eq!(status, 200);
    assert!(calls.load(Ordering::SeqCst) > before);
}

/// A burst larger than the in-flight limit is shed with 503 and Retry-After, and the probes
/// and metrics still answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_past_the_in_flight_limit_are_shed_and_probes_still_answer() {
    let (gate, entered) = Gate::new();
    let options = ServeOptions {
        max_in_flight: 1,
        ..ServeOptions::default()
    };
    let (app, _source) = TestApp::serving_with(
        Artifact::Gated(Spec::new(30, Flavour::Forward), gate.clone()),
        options,
    )
    .await;
    let held = {
        let client = app.client.clone();
        let url = format!("{}/recommend/0?k=3", app.base);
        tokio::spawn(async move { client.get(url).send().await.unwrap().status().as_u16() })
    };
    tokio::task::spawn_blocking(move || entered.recv().unwrap())
        .await
        .unwrap();

    let response = app
        .client
        .get(format!("{}/recommend/1?k=3", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap()),
        Some("1")
    );
    assert_error(&read_json(response).await, 503);
    assert_error(&app.get("/songs?q=song").await, 503);
    assert_eq!(app.get("/health").await.0, 200);
    assert_eq!(app.get("/ready").await.0, 200);
    let metrics = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("songrec_http_requests_shed_total 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("songrec_http_requests_in_flight 1"),
        "{metrics}"
    );

    gate.open();
    assert_eq!(held.await.unwrap(), 200);
    assert_eq!(app.get("/recommend/1?k=3").await.0, 200);
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
