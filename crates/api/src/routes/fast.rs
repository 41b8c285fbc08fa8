//! The fast lane of the original route. `GET /recommend/{index}` alone or with `?k=N` is the
//! form the original service's clients send, and the hottest request there is. It is answered
//! here without the router and its layers (route matching, extractors, compression
//! negotiation, trace spans, a boxed future per layer), with the same answer, headers and
//! metrics as the router gives it.
//!
//! Only a request that will succeed takes the lane. Anything else goes the general way, so
//! every other answer is the router's: another query parameter or any other spelling of the
//! numbers, a compressed answer asked for, an `Origin` when CORS is on, debug tracing on, no
//! model, an index or k out of range, the in-flight limit reached.

use std::convert::Infallible;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Bytes, HttpBody};
use axum::http::{HeaderValue, Method, Request, Response, header};
use futures::future::{Either, Ready, ready};
use http_body_util::Full;
use hyper::body::Incoming;
use tower::Service;

use super::AppState;
use super::recommend::plain_answer_by_index;
use crate::telemetry::Series;

/// The route template the lane's requests are counted under, as the router counts them.
const ROUTE: &str = "/recommend/{index}";

/// A service that answers the plain original route itself and hands every other request to
/// `inner`.
#[derive(Clone)]
pub(crate) struct FastLane<S> {
    state: AppState,
    inner: S,
    /// Whether CORS is configured: a request with `Origin` then needs the CORS layer.
    cors: bool,
    /// The metric series of the lane's answers, registered with the first.
    answered: Arc<OnceLock<Series>>,
}

impl<S> FastLane<S> {
    pub fn new(state: AppState, inner: S, cors: bool) -> FastLane<S> {
        FastLane {
            state,
            inner,
            cors,
            answered: Arc::default(),
        }
    }
}

/// Either body: the router's or the lane's.
pub(crate) type LaneBody<B> = http_body_util::Either<B, Full<Bytes>>;

impl<S, B> Service<Request<Incoming>> for FastLane<S>
where
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>,
    B: HttpBody<Data = Bytes>,
{
    type Response = Response<LaneBody<B>>;
    type Error = Infallible;
    type Future = Either<
        Ready<Result<Self::Response, Infallible>>,
        futures::future::MapOk<S::Future, fn(Response<B>) -> Response<LaneBody<B>>>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Incoming>) -> Self::Future {
        if let Some(answer) = self.answer(&request) {
            return Either::Left(ready(Ok(answer.map(http_body_util::Either::Right))));
        }
        let general: fn(Response<B>) -> Response<LaneBody<B>> =
            |r| r.map(http_body_util::Either::Left);
        Either::Right(futures::TryFutureExt::map_ok(
            self.inner.call(request),
            general,
        ))
    }
}

impl<S> FastLane<S> {
    /// The answer to a plain original-route request that succeeds, or `None` for the router.
    fn answer<T>(&self, request: &Request<T>) -> Option<Response<Full<Bytes>>> {
        let started = Instant::now();
        let (index, k) = plain_request(request, self.cors)?;
        let _admitted = self.state.in_flight.admit()?;
        let served = self.state.slot.load();
        let model = served.as_ref()?.model.as_ref();
        let body = plain_answer_by_index(model, index, k as u64)?;
        let mut response = Response::new(Full::new(Bytes::from(body)));
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        // What the compression layer adds to a JSON answer it could have compressed.
        headers.insert(
            header::VARY,
            HeaderValue::from_static(header::ACCEPT_ENCODING.as_str()),
        );
        self.answered
            .get_or_init(|| self.state.metrics.series("GET", ROUTE, 200))
            .record(started.elapsed());
        Some(response)
    }
}

/// The index and k of a request the lane may answer: `GET /recommend/{digits}` with no query
/// or `k=` and one to three digits not starting with 0, no `Accept-Encoding` (the compression
/// layer decides), no `Origin` when CORS is on, and debug tracing off (the trace layer logs
/// every request then).
fn plain_request<T>(request: &Request<T>, cors: bool) -> Option<(usize, usize)> {
    if request.method() != Method::GET {
        return None;
    }
    let uri = request.uri();
    let index = uri.path().strip_prefix("/recommend/")?;
    let k = match uri.query() {
        None => crate::params::DEFAULT_K,
        Some(query) => small_number(query.strip_prefix("k=")?)?,
    };
    let headers = request.headers();
    if headers.contains_key(header::ACCEPT_ENCODING)
        || (cors && headers.contains_key(header::ORIGIN))
        || tracing::enabled!(target: "tower_http::trace", tracing::Level::DEBUG)
    {
        return None;
    }
    if index.is_empty() || index.len() > 19 || !index.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((index.parse().ok()?, k))
}

/// `1..=999` written plainly, or `None`.
fn small_number(raw: &str) -> Option<usize> {
    let bytes = raw.as_bytes();
    if bytes.is_empty() || bytes.len() > 3 || bytes[0] == b'0' {
        return None;
    }
    if !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    raw.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(uri: &str) -> Request<()> {
        Request::get(uri).body(()).unwrap()
    }

    #[test]
    fn only_the_plain_form_takes_the_lane() {
        assert_eq!(plain_request(&get("/recommend/12"), false), Some((12, 5)));
        assert_eq!(plain_request(&get("/recommend/0?k=7"), false), Some((0, 7)));
        assert_eq!(
            plain_request(&get("/recommend/007?k=100"), false),
            Some((7, 100))
        );
        for uri in [
            "/recommend/",
            "/recommend/1/",
            "/recommend/-1",
            "/recommend/%31",
            "/recommend/1?",
            "/recommend/1?k=05",
            "/recommend/1?k=0",
            "/recommend/1?k=1000",
            "/recommend/1?k=+5",
            "/recommend/1?k=5&k=6",
            "/recommend/1?k=5&language=en",
            "/recommend/1?language=en",
            "/recommend/99999999999999999999",
            "/recommendx/1",
            "/songs/1/recommendations",
        ] {
            assert_eq!(plain_request(&get(uri), false), None, "{uri}");
        }
        let post = Request::post("/recommend/1").body(()).unwrap();
        assert_eq!(plain_request(&post, false), None);
        let head = Request::head("/recommend/1").body(()).unwrap();
        assert_eq!(plain_request(&head, false), None);
    }

    #[test]
    fn compression_and_cors_requests_go_the_general_way() {
        let gzip = Request::get("/recommend/1")
            .header(header::ACCEPT_ENCODING, "gzip")
            .body(())
            .unwrap();
        assert_eq!(plain_request(&gzip, false), None);
        let origin = Request::get("/recommend/1")
            .header(header::ORIGIN, "https://example.com")
            .body(())
            .unwrap();
        assert_eq!(plain_request(&origin, false), Some((1, 5)));
        assert_eq!(plain_request(&origin, true), None);
    }
}
