//! Hot reload: a new champion is served without restart, a broken one is refused, and no
//! request fails or mixes models while the swap happens.

use std::sync::Arc;

use serde_json::Value;

use crate::support::*;

fn recommended(body: &Value) -> Vec<u64> {
    body["recommended_song_ids"]
        .as_array()
        .unwrap_or_else(|| panic!("no recommendations in {body}"))
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn a_new_champion_is_served_without_restart() {
    let forward = Spec::new(30, Flavour::Forward);
    let backward = Spec::new(30, Flavour::Backward);
    let (app, source) = TestApp::serving(forward.clone()).await;
    assert_eq!(
        recommended(&app.get_recommend(5, 3).await.1),
        expected_ids(&forward, 5, 3)
    );

    let polls = source.set_champion(2, Artifact::Good(backward.clone()));
    source.wait_for_polls(polls).await;

    assert_eq!(
        recommended(&app.get_recommend(5, 3).await.1),
        expected_ids(&backward, 5, 3)
    );
    assert_eq!(app.get("/model").await.1["version"], 2);
    assert_eq!(app.get("/ready").await.1["version"], 2);
}

#[tokio::test]
async fn a_server_started_before_any_champion_serves_the_first_one() {
    let source = FakeSource::new();
    let app = TestApp::spawn(source.clone()).await;
    assert_error(&app.get("/ready").await, 503);

    let spec = Spec::new(10, Flavour::Forward);
    let polls = source.set_champion(1, Artifact::Good(spec.clone()));
    source.wait_for_polls(polls).await;

    assert_eq!(app.get("/ready").await.0, 200);
    assert_eq!(
        recommended(&app.get_recommend(0, 2).await.1),
        expected_ids(&spec, 0, 2)
    );
}

#[tokio::test]
async fn a_broken_champion_is_refused_and_the_old_model_keeps_serving() {
    let forward = Spec::new(30, Flavour::Forward);
    let (app, source) = TestApp::serving(forward.clone()).await;

    let polls = source.set_champion(2, Artifact::Broken);
    source.wait_for_polls(polls).await;

    let (status, body) = app.get_recommend(5, 3).await;
    assert_eq!(status, 200);
    assert_eq!(recommended(&body), expected_ids(&forward, 5, 3));
    assert_eq!(app.get("/model").await.1["version"], 1);
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
        metrics.lines().any(
            |l| l.starts_with("songrec_model_reloads_total{outcome=\"refused\"} ")
                && !l.ends_with(" 0")
        ),
        "{metrics}"
    );
    assert!(metrics.contains("songrec_model_version 1"), "{metrics}");

    // A later good champion is still picked up.
    let backward = Spec::new(30, Flavour::Backward);
    let polls = source.set_champion(3, Artifact::Good(backward.clone()));
    source.wait_for_polls(polls).await;
    assert_eq!(
        recommended(&app.get_recommend(5, 3).await.1),
        expected_ids(&backward, 5, 3)
    );
}

#[tokio::test]
async fn an_unreachable_registry_leaves_the_served_model_alone() {
    let spec = Spec::new(30, Flavour::Forward);
    let (app, source) = TestApp::serving(spec.clone()).await;
    let polls = source.set_failing(true);
    source.wait_for_polls(polls).await;
    let (status, body) = app.get_recommend(1, 2).await;
    assert_eq!(status, 200);
    assert_eq!(recommended(&body), expected_ids(&spec, 1, 2));
    assert_eq!(app.get("/ready").await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_during_repeated_swaps_all_succeed_on_one_model_or_the_other() {
    let forward = Spec::new(64, Flavour::Forward);
    let backward = Spec::new(64, Flavour::Backward);
    let (app, source) = TestApp::serving(forward.clone()).await;
    let app = Arc::new(app);

    let mut clients = Vec::new();
    for client in 0..8usize {
        let app = app.clone();
        let (forward, backward) = (forward.clone(), backward.clone());
        clients.push(tokio::spawn(async move {
            for request in 0..150usize {
                let index = (client * 31 + request * 7) % 64;
                let (status, body) = app.get_recommend(index, 4).await;
                assert_eq!(status, 200, "{body}");
                let got = recommended(&body);
                assert!(
                    got == expected_ids(&forward, index, 4)
                        || got == expected_ids(&backward, index, 4),
                    "index {index}: {got:?} is neither model's answer"
                );
            }
        }));
    }
    for version in 2..=21u64 {
        let spec = if version % 2 == 0 {
            &backward
        } else {
            &forward
        };
        let polls = source.set_champion(version, Artifact::Good(spec.clone()));
        source.wait_for_polls(polls).await;
    }
    for client in clients {
        client.await.expect("no client saw a failure");
    }
    assert_eq!(app.get("/model").await.1["version"], 21);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_request_in_flight_during_a_swap_finishes_on_the_old_model() {
    let forward = Spec::new(20, Flavour::Forward);
    let (gate, entered) = Gate::new();
    let (app, source) =
        TestApp::serving_artifact(Artifact::Gated(forward.clone(), gate.clone())).await;
    let app = Arc::new(app);

    let in_flight = {
        let app = app.clone();
        tokio::spawn(async move { app.get_recommend(4, 3).await })
    };
    tokio::task::spawn_blocking(move || entered.recv().expect("the request reaches the model"))
        .await
        .unwrap();

    let backward = Spec::new(20, Flavour::Backward);
    let polls = source.set_champion(2, Artifact::Good(backward.clone()));
    source.wait_for_polls(polls).await;
    assert_eq!(
        recommended(&app.get_recommend(4, 3).await.1),
        expected_ids(&backward, 4, 3)
    );

    gate.open();
    let (status, body) = in_flight.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(recommended(&body), expected_ids(&forward, 4, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_lets_the_request_in_flight_finish() {
    let spec = Spec::new(20, Flavour::Forward);
    let (gate, entered) = Gate::new();
    let (app, _source) =
        TestApp::serving_artifact(Artifact::Gated(spec.clone(), gate.clone())).await;
    let client = app.client.clone();
    let url = format!("{}/recommend/2?k=2", app.base);
    let in_flight = tokio::spawn(async move { client.get(url).send().await });
    tokio::task::spawn_blocking(move || entered.recv().expect("the request reaches the model"))
        .await
        .unwrap();

    let addr = app.base.trim_start_matches("http://").to_owned();
    let stopped = tokio::spawn(app.stop());
    // The listener closes once shutdown has begun; only then is the request let through.
    let mut refused = false;
    for _ in 0..100_000 {
        if tokio::net::TcpStream::connect(&addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(
        refused,
        "the server kept accepting connections after shutdown"
    );
    gate.open();
    let response = in_flight
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    let (status, body) = read_json(response).await;
    assert_eq!(status, 200);
    assert_eq!(recommended(&body), expected_ids(&spec, 2, 2));
    stopped.await.unwrap().expect("the server stops cleanly");
}
