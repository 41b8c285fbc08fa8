//! `POST /admin/reload` behind its bearer token, and CORS: off by default, on for the
//! configured origins only.

use std::time::Duration;

use secrecy::SecretString;
use songrec_api::ServeOptions;

use crate::support::{
    Artifact, FakeSource, Flavour, Spec, TestApp, assert_error, expected_ids, read_json,
};

const TOKEN: &str = "admin-token-for-tests";

/// A server that polls its source only once an hour: only `/admin/reload` picks up a change.
async fn with_admin_token() -> (TestApp, std::sync::Arc<FakeSource>) {
    let source = FakeSource::new();
    source.set_champion(1, Artifact::Good(Spec::new(30, Flavour::Forward)));
    let options = ServeOptions {
        admin_token: Some(SecretString::from(TOKEN)),
        ..ServeOptions::default()
    };
    let app = TestApp::spawn_with(source.clone(), Duration::from_secs(3600), options).await;
    app.wait_until_ready().await;
    (app, source)
}

async fn reload(app: &TestApp, authorization: Option<&str>) -> reqwest::Response {
    let mut request = app.client.post(format!("{}/admin/reload", app.base));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    request.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_reload_without_the_right_token_is_401_and_changes_nothing() {
    let (app, source) = with_admin_token().await;
    source.set_champion(2, Artifact::Good(Spec::new(30, Flavour::Backward)));
    for authorization in [
        None,
        Some(""),
        Some("Bearer"),
        Some("Bearer "),
        Some("Bearer wrong-token"),
        Some("Bearer admin-token-for-test"),
        Some("Bearer admin-token-for-tests2"),
        Some("Basic YWRtaW46YWRtaW4="),
        Some(TOKEN),
    ] {
        let response = reload(&app, authorization).await;
        assert_eq!(
            response
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap()),
            Some("Bearer"),
            "{authorization:?}"
        );
        let answer = read_json(response).await;
        assert_error(&answer, 401);
        assert!(
            !answer.1.to_string().contains(TOKEN),
            "the answer quotes the token: {}",
            answer.1
        );
    }
    let (_, model) = app.get("/model").await;
    assert_eq!(model["version"], 1, "{model}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_reload_with_the_token_loads_the_new_champion_now() {
    let (app, source) = with_admin_token().await;
    let bearer = format!("Bearer {TOKEN}");
    let (status, body) = read_json(reload(&app, Some(&bearer)).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "unchanged");
    assert_eq!(body["version"], 1);

    let backward = Spec::new(30, Flavour::Backward);
    source.set_champion(2, Artifact::Good(backward.clone()));
    let (status, body) = read_json(reload(&app, Some(&bearer)).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "swapped");
    assert_eq!(body["version"], 2);
    let (_, model) = app.get("/model").await;
    assert_eq!(model["version"], 2, "{model}");
    let (status, body) = app.get_recommend(7, 4).await;
    assert_eq!(status, 200);
    let ids: Vec<u64> = body["recommended_song_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(ids, expected_ids(&backward, 7, 4));

    // A broken champion is refused and the served model stays.
    source.set_champion(3, Artifact::Broken);
    let (status, body) = read_json(reload(&app, Some(&bearer)).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "refused");
    assert_eq!(body["version"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_reload_is_404_when_no_token_is_configured() {
    let (app, source) = TestApp::serving(Spec::new(30, Flavour::Forward)).await;
    source.set_champion(2, Artifact::Good(Spec::new(30, Flavour::Backward)));
    for authorization in [None, Some("Bearer "), Some("Bearer anything")] {
        assert_error(&read_json(reload(&app, authorization).await).await, 404);
    }
}

const ALLOWED: &str = "https://app.example.com";

async fn get_from(app: &TestApp, origin: &str) -> reqwest::Response {
    app.client
        .get(format!("{}/recommend/0?k=2", app.base))
        .header("origin", origin)
        .send()
        .await
        .unwrap()
}

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/recommendations", app.base),
        )
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap()
}

fn allowed_origin(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_is_off_by_default() {
    let (app, _source) = TestApp::serving(Spec::new(30, Flavour::Forward)).await;
    let response = get_from(&app, ALLOWED).await;
    assert_eq!(response.status(), 200);
    assert_eq!(allowed_origin(&response), None);
    let response = preflight(&app, ALLOWED).await;
    assert_eq!(allowed_origin(&response), None);
    assert_error(&read_json(response).await, 405);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_allows_the_configured_origins_and_no_other() {
    let options = ServeOptions {
        cors_origins: vec![ALLOWED.to_owned(), "http://localhost:3000".to_owned()],
        ..ServeOptions::default()
    };
    let (app, _source) =
        TestApp::serving_with(Artifact::Good(Spec::new(30, Flavour::Forward)), options).await;
    for origin in [ALLOWED, "http://localhost:3000"] {
        let response = get_from(&app, origin).await;
        assert_eq!(response.status(), 200);
        assert_eq!(allowed_origin(&response).as_deref(), Some(origin));
        let response = preflight(&app, origin).await;
        assert!(response.status().is_success(), "{}", response.status());
        assert_eq!(allowed_origin(&response).as_deref(), Some(origin));
        let methods = response
            .headers()
            .get("access-control-allow-methods")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        assert!(methods.contains("POST"), "{methods}");
    }
    for origin in [
        "https://evil.example.com",
        "https://app.example.com.evil.com",
        "http://app.example.com",
        "null",
    ] {
        let response = get_from(&app, origin).await;
        assert_eq!(response.status(), 200);
        assert_eq!(allowed_origin(&response), None, "{origin}");
        assert_eq!(
            allowed_origin(&preflight(&app, origin).await),
            None,
            "{origin}"
        );
    }
}
