//! Property test of request parsing: whatever the path segment, query string or body, the
//! server answers with a JSON status below 500.

use proptest::prelude::*;

use crate::support::{Flavour, Spec, TestApp, read_json};

const ROUTES: &[&str] = &[
    "/recommend/{}",
    "/songs/{}/recommendations",
    "/songs/{}",
    "/artists/{}",
    "/recommendations",
    "/songs",
    "/model",
    "/models",
    "/pipeline",
    "/health",
    "/ready",
    "/x{}",
];

/// Every byte that is not a letter or digit, percent-encoded, so any string makes a valid URI.
fn encode(raw: &str) -> String {
    raw.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn no_path_query_or_body_makes_the_server_fail() {
    let rt = runtime();
    let (app, _source) = rt.block_on(TestApp::serving(Spec::new(40, Flavour::Forward)));
    let names = prop::sample::select(vec![
        "k",
        "seeds",
        "avoid",
        "exclude",
        "q",
        "artist",
        "language",
        "sort",
        "limit",
        "offset",
        "min_year",
        "max_year",
        "min_pageviews",
        "max_per_artist",
        "exclude_artist",
        "x",
    ]);
    let pairs = prop::collection::vec((names, "\\PC{0,12}"), 0..4);
    let config = ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(route in prop::sample::select(ROUTES), segment in "\\PC{0,24}", pairs in pairs, payload in "\\PC{0,120}", post in any::<bool>())| {
        let path = route.replace("{}", &encode(&segment));
        let query: Vec<String> = pairs
            .iter()
            .map(|(name, value)| format!("{name}={}", encode(value)))
            .collect();
        let url = format!("{}{path}?{}", app.base, query.join("&"));
        let (status, body) = rt.block_on(async {
            let request = if post {
                app.client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(payload.clone())
            } else {
                app.client.get(&url)
            };
            read_json(request.send().await.expect("the server answers")).await
        });
        prop_assert!(status < 500, "{url} (body {payload:?}): {status} {body}");
    });
    drop(app);
}
