//! A reverse proxy in front of a real MLflow server that fails or delays chosen requests: a
//! server going down, failing one call, answering slowly, or another trainer moving the alias.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::json;

type PathMatcher = Box<dyn Fn(&str) -> bool + Send + Sync>;

/// A reverse proxy in front of the real MLflow that can be told to answer 503 or to answer late.
pub struct FailingProxy {
    pub uri: String,
    state: Arc<ProxyState>,
}

struct ProxyState {
    upstream: String,
    http: reqwest::Client,
    failing: AtomicBool,
    /// Requests whose path matches fail while `failing` is set.
    matches: PathMatcher,
    /// When set, the first request matching it turns `failing` on for good.
    trigger: std::sync::Mutex<Option<PathMatcher>>,
    /// When set, the first read of the champion alias is answered, then the alias is moved on
    /// the server to this (model, version): another trainer promoting meanwhile.
    move_alias_after_read: std::sync::Mutex<Option<(String, u64)>>,
    /// Requests whose path matches are forwarded only after this delay (then answered in full:
    /// a slow server, not a dead one).
    delay: std::sync::Mutex<Option<(PathMatcher, Duration)>>,
    /// Requests seen whose path matches `counted`.
    counted: std::sync::Mutex<Option<PathMatcher>>,
    count: AtomicU64,
}

impl FailingProxy {
    pub async fn start(
        upstream: &str,
        matches: impl Fn(&str) -> bool + Send + Sync + 'static,
    ) -> Self {
        let state = Arc::new(ProxyState {
            upstream: upstream.to_string(),
            http: reqwest::Client::new(),
            failing: AtomicBool::new(false),
            matches: Box::new(matches),
            trigger: std::sync::Mutex::new(None),
            move_alias_after_read: std::sync::Mutex::new(None),
            delay: std::sync::Mutex::new(None),
            counted: std::sync::Mutex::new(None),
            count: AtomicU64::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(Arc::clone(&state));
        tokio::spawn(async move { axum::serve(listener, app).await });
        FailingProxy { uri, state }
    }

    pub fn fail(&self, on: bool) {
        self.state.failing.store(on, Ordering::SeqCst);
    }

    pub fn fail_from(&self, trigger: impl Fn(&str) -> bool + Send + Sync + 'static) {
        *self.state.trigger.lock().unwrap() = Some(Box::new(trigger));
    }

    pub fn move_alias_after_next_read(&self, model: &str, version: u64) {
        *self.state.move_alias_after_read.lock().unwrap() = Some((model.to_string(), version));
    }

    /// Holds every request whose path matches for `delay` before forwarding it.
    pub fn delay(&self, matches: impl Fn(&str) -> bool + Send + Sync + 'static, delay: Duration) {
        *self.state.delay.lock().unwrap() = Some((Box::new(matches), delay));
    }

    pub fn no_delay(&self) {
        *self.state.delay.lock().unwrap() = None;
    }

    /// Counts the requests whose path matches from now on (see [`FailingProxy::counted`]).
    pub fn count(&self, matches: impl Fn(&str) -> bool + Send + Sync + 'static) {
        *self.state.counted.lock().unwrap() = Some(Box::new(matches));
        self.state.count.store(0, Ordering::SeqCst);
    }

    pub fn counted(&self) -> u64 {
        self.state.count.load(Ordering::SeqCst)
    }
}

async fn forward(
    axum::extract::State(state): axum::extract::State<Arc<ProxyState>>,
    request: axum::extract::Request,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = request.uri().path().to_string();
    if state
        .counted
        .lock()
        .unwrap()
        .as_ref()
        .is_some_and(|c| c(&path))
    {
        state.count.fetch_add(1, Ordering::SeqCst);
    }
    let delay = state
        .delay
        .lock()
        .unwrap()
        .as_ref()
        .and_then(|(m, d)| m(&path).then_some(*d));
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    if state
        .trigger
        .lock()
        .unwrap()
        .as_ref()
        .is_some_and(|t| t(&path))
    {
        state.failing.store(true, Ordering::SeqCst);
    }
    if state.failing.load(Ordering::SeqCst) && (state.matches)(&path) {
        return (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "server is down",
        )
            .into_response();
    }
    let target = format!(
        "{}{}",
        state.upstream,
        request
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let method = request.method().clone();
    let move_alias =
        if method == axum::http::Method::GET && path.ends_with("registered-models/alias") {
            state.move_alias_after_read.lock().unwrap().take()
        } else {
            None
        };
    let content_type = request.headers().get("content-type").cloned();
    let body = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .unwrap();
    let mut upstream = state.http.request(method, target).body(body);
    if let Some(ct) = content_type {
        upstream = upstream.header("content-type", ct);
    }
    let response = upstream.send().await.unwrap();
    let status = response.status();
    let content_type = response.headers().get("content-type").cloned();
    let bytes = response.bytes().await.unwrap();
    if let Some((model, version)) = move_alias {
        let moved = state
            .http
            .post(format!(
                "{}/api/2.0/mlflow/registered-models/alias",
                state.upstream
            ))
            .json(&json!({"name": model, "alias": "champion", "version": version.to_string()}))
            .send()
            .await
            .unwrap();
        assert!(
            moved.status().is_success(),
            "moving the alias: {}",
            moved.status()
        );
    }
    let mut out = (status, bytes).into_response();
    if let Some(ct) = content_type {
        out.headers_mut().insert("content-type", ct);
    }
    out
}
