//! Property test of request parsing: whatever the method, route, path segment, query string,
//! headers or body, the server answers (it does not panic or drop the connection) with a
//! status below 500, and API errors are JSON.

use proptest::prelude::*;
use secrecy::SecretString;
use serde_json::Value;
use songrec_api::ServeOptions;

use crate::support::{Artifact, Flavour, Spec, TestApp};

const TOKEN: &str = "parsing-admin-token";

/// Every route the server has, and some it has not; `{}` is replaced by a generated segment.
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
    "/metrics",
    "/admin/reload",
    "/openapi.json",
    "/docs/",
    "/docs/{}",
    "/",
    "/{}",
    "/x{}",
    "/recommend/{}/{}",
];

/// Names every route takes, and one none does.
const NAMES: &[&str] = &[
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
];

const METHODS: &[&str] = &["GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"];

/// Routes whose errors are the API's own (the browser page and `/docs` assets aside).
fn is_api(path: &str) -> bool {
    !path.starts_with("/docs") && path != "/"
}

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

/// Query values and JSON scalars: numbers of every kind (negative, huge, fractional,
/// integral floats), words, id lists.
fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,12}",
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        (0u64..200).prop_map(|n| n.to_string()),
        (0u64..200).prop_map(|n| format!("{n}.0")),
        any::<f64>().prop_map(|n| n.to_string()),
        prop::collection::vec(1000u64..1300, 0..60).prop_map(|ids| ids
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(",")),
        Just("true".to_owned()),
        Just("1e400".to_owned()),
    ]
}

/// JSON bodies shaped like the seeds request often enough to reach every field.
fn json_body() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (1000u64..1300).prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        (0u64..200).prop_map(|n| Value::from(n as f64)),
        "\\PC{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(NAMES), inner), 0..6).prop_map(|fields| {
                Value::Object(
                    fields
                        .into_iter()
                        .map(|(name, value)| (name.to_owned(), value))
                        .collect(),
                )
            }),
        ]
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn no_method_path_query_header_or_body_makes_the_server_fail() {
    let rt = runtime();
    let options = ServeOptions {
        admin_token: Some(SecretString::from(TOKEN)),
        ..ServeOptions::default()
    };
    let (app, _source) = rt.block_on(TestApp::serving_with(
        Artifact::Good(Spec::new(40, Flavour::Forward)),
        options,
    ));
    let pairs = prop::collection::vec((prop::sample::select(NAMES), scalar()), 0..5);
    let body = prop_oneof![
        Just(String::new()),
        "\\PC{0,120}",
        json_body().prop_map(|v| v.to_string()),
    ];
    let content_type = prop::sample::select(vec![
        None,
        Some("application/json"),
        Some("application/json; charset=utf-8"),
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ]);
    let right = format!("Bearer {TOKEN}").into_bytes();
    let authorization = prop::sample::select(vec![
        None,
        Some(right),
        Some(b"Bearer nope".to_vec()),
        Some(b"Bearer \xe9\xff".to_vec()),
    ]);
    let config = ProptestConfig {
        cases: 600,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(
        method in prop::sample::select(METHODS),
        route in prop::sample::select(ROUTES),
        segment in prop_oneof!["\\PC{0,24}", scalar()],
        pairs in pairs,
        body in body,
        content_type in content_type,
        authorization in authorization,
    )| {
        let path = route.replace("{}", &encode(&segment));
        let query: Vec<String> = pairs
            .iter()
            .map(|(name, value)| format!("{name}={}", encode(value)))
            .collect();
        let url = format!("{}{path}?{}", app.base, query.join("&"));
        let (status, json, text) = rt.block_on(async {
            let mut request = app
                .client
                .request(method.parse().unwrap(), &url)
                .body(body.clone());
            if let Some(content_type) = content_type {
                request = request.header("content-type", content_type);
            }
            if let Some(authorization) = &authorization {
                let value = reqwest::header::HeaderValue::from_bytes(authorization).unwrap();
                request = request.header("authorization", value);
            }
            let response = request.send().await.expect("the server answers");
            let status = response.status().as_u16();
            let json = response
                .headers()
                .get("content-type")
                .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
            (status, json, response.text().await.expect("a whole body"))
        });
        prop_assert!(status < 500, "{method} {url} (body {body:?}): {status} {text}");
        if status >= 400 && method != "HEAD" && is_api(&path) {
            let error: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            prop_assert!(
                json && error["error"].is_string(),
                "{method} {url} (body {body:?}): {status} {text}"
            );
        }
    });
    drop(app);
}
