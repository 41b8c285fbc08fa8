//! The HTTP contract, one route and error case at a time, against hand-made models.

use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::support::*;

fn ids(body: &Value, field: &str) -> Vec<u64> {
    body[field]
        .as_array()
        .unwrap_or_else(|| panic!("no {field} in {body}"))
        .iter()
        .map(|v| v.as_u64().expect("an id"))
        .collect()
}

#[tokio::test]
async fn recommend_by_index_returns_exactly_k_ids_best_first_never_the_song() {
    let spec = Spec::new(150, Flavour::Forward);
    let (app, _source) = TestApp::serving(spec.clone()).await;

    for (index, k) in [(0, 5), (7, 1), (149, 3), (42, 100)] {
        let (status, body) = app.get_recommend(index, k).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["requested_song_id"], song_id(index));
        let recommended = ids(&body, "recommended_song_ids");
        assert_eq!(recommended, expected_ids(&spec, index, k));
        assert!(!recommended.contains(&song_id(index)));

        let details = body["recommendations"].as_array().unwrap();
        assert_eq!(details.len(), k);
        let scores: Vec<f64> = details
            .iter()
            .map(|d| d["score"].as_f64().unwrap())
            .collect();
        assert!(scores.windows(2).all(|w| w[0] > w[1]), "{scores:?}");
        let first = &details[0];
        let first_index = neighbour(&spec, index, 0);
        assert_eq!(first["id"], song_id(first_index));
        assert_eq!(first["index"], first_index);
        assert_eq!(first["title"], format!("Song {first_index}"));
        assert_eq!(first["artist"], format!("Artist {}", first_index % 5));
        assert_eq!(first["reasons"][0], format!("rank 0 of song {index}"));
    }
}

#[tokio::test]
async fn recommend_without_k_gives_five() {
    let spec = Spec::new(20, Flavour::Backward);
    let (app, _source) = TestApp::serving(spec.clone()).await;
    let (status, body) = app.get("/recommend/3").await;
    assert_eq!(status, 200);
    assert_eq!(
        ids(&body, "recommended_song_ids"),
        expected_ids(&spec, 3, 5)
    );
}

#[tokio::test]
async fn recommend_for_an_unknown_index_is_404() {
    let (app, _source) = TestApp::serving(Spec::new(20, Flavour::Forward)).await;
    for index in ["20", "21", "-1", "18446744073709551616"] {
        assert_error(&app.get_recommend(index, 5).await, 404);
    }
}

#[tokio::test]
async fn recommend_with_a_non_numeric_index_or_k_is_400() {
    let (app, _source) = TestApp::serving(Spec::new(20, Flavour::Forward)).await;
    for path in [
        "/recommend/abc?k=5",
        "/recommend/1.5",
        "/recommend/%20?k=5",
        "/recommend/3?k=abc",
        "/recommend/3?k=",
        "/recommend/3?k=2.0",
    ] {
        assert_error(&app.get(path).await, 400);
    }
}

#[tokio::test]
async fn recommend_with_k_outside_one_to_a_hundred_is_400() {
    let (app, _source) = TestApp::serving(Spec::new(150, Flavour::Forward)).await;
    for k in ["0", "-1", "101", "1000000"] {
        assert_error(&app.get(&format!("/recommend/3?k={k}")).await, 400);
    }
}

#[tokio::test]
async fn recommend_with_more_than_the_model_holds_is_400_not_a_short_list() {
    let spec = Spec {
        songs: 50,
        max_k: 10,
        flavour: Flavour::Forward,
    };
    let (app, _source) = TestApp::serving(spec).await;
    assert_eq!(app.get_recommend(0, 10).await.0, 200);
    assert_error(&app.get_recommend(0, 11).await, 400);
}

#[tokio::test]
async fn recommend_by_song_id_matches_recommend_by_index() {
    let spec = Spec::new(30, Flavour::Forward);
    let (app, _source) = TestApp::serving(spec.clone()).await;
    let (status, by_id) = app
        .get(&format!("/songs/{}/recommendations?k=4", song_id(12)))
        .await;
    assert_eq!(status, 200, "{by_id}");
    let (_, by_index) = app.get_recommend(12, 4).await;
    assert_eq!(by_id, by_index);
    assert_eq!(
        ids(&by_id, "recommended_song_ids"),
        expected_ids(&spec, 12, 4)
    );
}

#[tokio::test]
async fn recommend_by_song_id_rejects_unknown_and_malformed_ids() {
    let (app, _source) = TestApp::serving(Spec::new(30, Flavour::Forward)).await;
    assert_error(&app.get("/songs/1001/recommendations").await, 404);
    assert_error(&app.get("/songs/abc/recommendations").await, 400);
    assert_error(&app.get("/songs/-5/recommendations").await, 400);
    let id = song_id(1);
    assert_error(
        &app.get(&format!("/songs/{id}/recommendations?k=0")).await,
        400,
    );
    assert_error(
        &app.get(&format!("/songs/{id}/recommendations?k=x")).await,
        400,
    );
}

#[tokio::test]
async fn seeds_merge_their_neighbours_and_leave_the_seeds_out() {
    // Forward neighbours: song 10's are 11, 12, ...; song 12's are 13, 14, ...
    // Songs 13.. are neighbours of both seeds and outrank everything else; 11 and 12 are
    // only 10's (and 12 is a seed).
    let spec = Spec::new(200, Flavour::Forward);
    let (app, _source) = TestApp::serving(spec).await;
    let seeds = format!("{},{}", song_id(10), song_id(12));
    let (status, body) = app
        .get(&format!("/recommendations?seeds={seeds}&k=3"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body, "seed_song_ids"), vec![song_id(10), song_id(12)]);
    assert_eq!(
        ids(&body, "recommended_song_ids"),
        vec![song_id(13), song_id(14), song_id(15)]
    );
    let first = &body["recommendations"][0];
    // Rank 2 of song 10 and rank 0 of song 12, averaged.
    let expected = (score(2) + score(0)) / 2.0;
    assert!((first["score"].as_f64().unwrap() - expected as f64).abs() < 1e-6);
    assert_eq!(first["reasons"][0], "like Song 10");
}

#[tokio::test]
async fn seeds_can_be_posted_as_json() {
    let (app, _source) = TestApp::serving(Spec::new(200, Flavour::Forward)).await;
    let body = format!(r#"{{"seeds": [{}, {}], "k": 3}}"#, song_id(10), song_id(12));
    let (status, posted) = app.post_json("/recommendations", &body).await;
    assert_eq!(status, 200, "{posted}");
    let seeds = format!("{},{}", song_id(10), song_id(12));
    let (_, got) = app
        .get(&format!("/recommendations?seeds={seeds}&k=3"))
        .await;
    assert_eq!(posted, got);
}

#[tokio::test]
async fn one_seed_gives_that_songs_own_recommendations() {
    let spec = Spec::new(50, Flavour::Backward);
    let (app, _source) = TestApp::serving(spec.clone()).await;
    let (status, body) = app
        .get(&format!("/recommendations?seeds={}", song_id(8)))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        ids(&body, "recommended_song_ids"),
        expected_ids(&spec, 8, 5)
    );
}

#[tokio::test]
async fn seeds_that_are_missing_unknown_or_malformed_are_refused() {
    let (app, _source) = TestApp::serving(Spec::new(50, Flavour::Forward)).await;
    assert_error(&app.get("/recommendations").await, 400);
    assert_error(&app.get("/recommendations?seeds=").await, 400);
    assert_error(&app.get("/recommendations?seeds=1000,abc").await, 400);
    assert_error(&app.get("/recommendations?seeds=1000,1001").await, 404);
    assert_error(&app.get("/recommendations?seeds=1000&k=101").await, 400);
    assert_error(&app.post_json("/recommendations", "{not json").await, 400);
    assert_error(
        &app.post_json("/recommendations", r#"{"seeds": []}"#).await,
        400,
    );
    assert_error(
        &app.post_json("/recommendations", r#"{"seeds": [1000], "k": 0}"#)
            .await,
        400,
    );
    let response = app
        .client
        .post(format!("{}/recommendations", app.base))
        .body(r#"{"seeds": [1000]}"#)
        .send()
        .await
        .unwrap();
    assert_error(&read_json(response).await, 415);
}

#[tokio::test]
async fn songs_are_listed_most_viewed_first_in_pages() {
    let (app, _source) = TestApp::serving(Spec::new(45, Flavour::Forward)).await;
    let (status, body) = app.get("/songs").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["total"], 45);
    let songs = body["songs"].as_array().unwrap();
    assert_eq!(songs.len(), 20);
    assert_eq!(songs[0]["index"], 0);
    assert_eq!(songs[0]["id"], song_id(0));
    assert_eq!(songs[0]["pageviews"], 450);

    let (_, page) = app.get("/songs?offset=40&limit=10").await;
    let indices: Vec<u64> = page["songs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indices, vec![40, 41, 42, 43, 44]);
    let (_, past_end) = app.get("/songs?offset=100").await;
    assert_eq!(past_end["songs"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn songs_search_by_title_or_artist_ignoring_case_and_accents() {
    let model = FakeModel::new(Spec::new(10, Flavour::Forward), None)
        .with_title(2, "Halo", "Beyoncé")
        .with_title(5, "Crazy in Love", "Beyoncé")
        .with_title(7, "Halo", "Walk the Moon");
    let (app, _source) =
        TestApp::serving_artifact(Artifact::Prepared(Arc::new(Mutex::new(Some(model))))).await;

    let titles = |body: &Value| -> Vec<(u64, String)> {
        body["songs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["index"].as_u64().unwrap(),
                    s["title"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let (status, body) = app.get("/songs?q=beyonce").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["total"], 2);
    assert_eq!(
        titles(&body),
        vec![(2, "Halo".to_owned()), (5, "Crazy in Love".to_owned())]
    );
    let (_, body) = app.get("/songs?q=HALO%20moon").await;
    assert_eq!(titles(&body), vec![(7, "Halo".to_owned())]);
    let (_, body) = app.get("/songs?q=halo&limit=1&offset=1").await;
    assert_eq!(
        (body["total"].as_u64(), titles(&body)),
        (Some(2), vec![(7, "Halo".to_owned())])
    );
    let (_, body) = app.get("/songs?q=nothing+like+this").await;
    assert_eq!(body["total"], 0);
}

#[tokio::test]
async fn songs_refuse_bad_paging() {
    let (app, _source) = TestApp::serving(Spec::new(10, Flavour::Forward)).await;
    assert_error(&app.get("/songs?limit=0").await, 400);
    assert_error(&app.get("/songs?limit=101").await, 400);
    assert_error(&app.get("/songs?offset=-1").await, 400);
    assert_error(&app.get("/songs?offset=x").await, 400);
}

#[tokio::test]
async fn a_song_can_be_looked_up_by_id() {
    let (app, _source) = TestApp::serving(Spec::new(10, Flavour::Forward)).await;
    let (status, body) = app.get(&format!("/songs/{}", song_id(4))).await;
    assert_eq!(status, 200);
    assert_eq!(body["index"], 4);
    assert_eq!(body["title"], "Song 4");
    assert_error(&app.get("/songs/5").await, 404);
    assert_error(&app.get("/songs/five").await, 400);
}

#[tokio::test]
async fn without_a_model_health_is_200_and_everything_else_503() {
    let app = TestApp::spawn(FakeSource::new()).await;
    let (status, body) = app.get("/health").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    assert!(
        body.get("version").is_none(),
        "no model, no version: {body}"
    );
    for path in [
        "/ready",
        "/model",
        "/recommend/0",
        "/songs/1000/recommendations",
        "/recommendations?seeds=1000",
        "/songs",
        "/songs/1000",
    ] {
        assert_error(&app.get(path).await, 503);
    }
    // Validation does not hide the missing model.
    assert_error(&app.get("/recommend/abc?k=0").await, 503);
}

#[tokio::test]
async fn ready_and_model_report_the_served_version() {
    let (app, _source) = TestApp::serving(Spec::new(12, Flavour::Forward)).await;
    let (status, ready) = app.get("/ready").await;
    assert_eq!((status, &ready["version"]), (200, &Value::from(1)));
    let (status, health) = app.get("/health").await;
    assert_eq!((status, &health["version"]), (200, &Value::from(1)));

    let (status, model) = app.get("/model").await;
    assert_eq!(status, 200, "{model}");
    assert_eq!(model["version"], 1);
    assert_eq!(model["songs"], 12);
    assert_eq!(model["max_k"], 11);
    assert_eq!(model["trained_at"], "2024-05-01T12:00:00Z");
    assert_eq!(model["registered_at"], "2024-05-01T12:00:01Z");
    assert_eq!(model["checksum"], "checksum-1");
    assert_eq!(model["metrics"]["coverage"], 0.51);
    assert_eq!(model["params"]["k"], "11");
    assert!(model["loaded_at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let (app, _source) = TestApp::serving(Spec::new(12, Flavour::Forward)).await;
    assert_error(&app.get("/nope").await, 404);
    assert_error(&app.get("/recommend").await, 404);
    assert_error(&app.get("/recommend/1/2").await, 404);
    let response = app
        .client
        .delete(format!("{}/recommend/1", app.base))
        .send()
        .await
        .unwrap();
    assert_error(&read_json(response).await, 405);
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_and_report_the_model() {
    let (app, _source) = TestApp::serving(Spec::new(12, Flavour::Forward)).await;
    app.get_recommend(1, 3).await;
    app.get_recommend(2, 3).await;
    app.get_recommend(99, 3).await;
    app.get("/nope").await;

    let response = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    let has = |needle: &str| {
        assert!(
            text.lines().any(|l| l.contains(needle)),
            "no line with {needle:?} in:\n{text}"
        )
    };
    let counter = |route: &str, status: u16| {
        let prefix = format!(
            "songrec_http_requests_total{{route=\"{route}\",method=\"GET\",status=\"{status}\"}} "
        );
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {prefix} in:\n{text}"))
            .trim()
            .to_owned()
    };
    assert_eq!(counter("/recommend/{index}", 200), "2");
    assert_eq!(counter("/recommend/{index}", 404), "1");
    assert_eq!(counter("unmatched", 404), "1");
    has(
        "songrec_http_request_duration_seconds_bucket{route=\"/recommend/{index}\",status=\"200\",le=\"0.001\"}",
    );
    has("songrec_model_version 1");
    has("songrec_model_songs 12");
    has("songrec_model_reloads_total{outcome=\"loaded\"} 1");
    has("songrec_model_reloads_total{outcome=\"refused\"} 0");
}

#[tokio::test]
async fn openapi_document_describes_every_route() {
    let (app, _source) = TestApp::serving(Spec::new(12, Flavour::Forward)).await;
    let (status, doc) = app.get("/openapi.json").await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/recommend/{index}",
        "/songs/{id}/recommendations",
        "/recommendations",
        "/songs",
        "/songs/{id}",
        "/health",
        "/ready",
        "/model",
        "/metrics",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    assert!(doc["paths"]["/recommendations"]["post"].is_object());
    assert!(doc["components"]["schemas"]["RecommendResponse"].is_object());
}

#[tokio::test]
async fn responses_are_gzipped_when_the_client_accepts_it() {
    let (app, _source) = TestApp::serving(Spec::new(150, Flavour::Forward)).await;
    let response = app
        .client
        .get(format!("{}/recommend/0?k=100", app.base))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-encoding"], "gzip");
}

#[tokio::test]
async fn the_browser_page_is_served_at_the_root() {
    let (app, _source) = TestApp::serving(Spec::new(12, Flavour::Forward)).await;
    let response = app
        .client
        .get(format!("{}/", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = response.text().await.unwrap();
    assert!(page.contains("<title>songrec"), "{page}");
}
