//! The HTTP client for api.genius.com: typed endpoints, a client-side rate limit, bounded
//! concurrency, timeouts and retries.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use tokio::sync::Semaphore;
use url::Url;

use crate::GeniusError;
use crate::retry::{RetryPolicy, parse_retry_after, with_retries};
use crate::types::{Artist, ArtistResponse, ArtistSongsPage, Envelope, SearchResults, SongSummary};

/// The public API host.
pub const DEFAULT_BASE_URL: &str = "https://api.genius.com";

/// The most songs `/artists/:id/songs` returns per page.
pub const MAX_PER_PAGE: u32 = 50;

/// Largest response body read. Real song responses (description in several formats included)
/// are tens of kilobytes and search pages less; anything past this is not Genius answering
/// normally, and reading it would only cost memory.
pub const MAX_BODY_BYTES: usize = 8 << 20;

/// How to reach Genius and how politely.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `https://api.genius.com`, or a fake server in tests.
    pub base_url: Url,
    /// A client access token, sent as `Authorization: Bearer`.
    pub token: SecretString,
    /// Requests per second, retries included; `None` lifts the limit.
    pub rate: Option<f64>,
    /// Requests in flight at once.
    pub concurrency: usize,
    pub connect_timeout: Duration,
    /// For the whole request, body included.
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

impl ClientConfig {
    /// Defaults that suit the real API: 5 requests/s, 4 in flight, 10 s to connect, 15 s per
    /// request, 3 retries.
    pub fn new(base_url: Url, token: SecretString) -> ClientConfig {
        ClientConfig {
            base_url,
            token,
            rate: Some(5.0),
            concurrency: 4,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(15),
            retry: RetryPolicy::default(),
        }
    }
}

/// Order of an artist's catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CatalogueSort {
    #[default]
    Popularity,
    Title,
}

impl CatalogueSort {
    pub fn as_str(self) -> &'static str {
        match self {
            CatalogueSort::Popularity => "popularity",
            CatalogueSort::Title => "title",
        }
    }
}

/// A full song as received: the parsed-later `response.song` and the envelope it came in.
#[derive(Debug, Clone)]
pub struct SongDetails {
    /// The response body as received (`{"meta":..,"response":{"song":..}}`), for `--save-raw`.
    pub body: String,
    /// The text of `response.song`, unchanged.
    pub song: Box<RawValue>,
}

/// A Genius API client. Cheap to clone; clones share the rate limit and concurrency bound.
#[derive(Debug, Clone)]
pub struct GeniusClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    base_url: Url,
    limiter: Option<DefaultDirectRateLimiter>,
    in_flight: Semaphore,
    retry: RetryPolicy,
}

impl GeniusClient {
    pub fn new(config: ClientConfig) -> Result<GeniusClient, GeniusError> {
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", config.token.expose_secret()))
            .map_err(|_| GeniusError::Unauthorized {
            message: Some("the token contains characters not allowed in a header".into()),
        })?;
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, auth);
        let http = reqwest::Client::builder()
            .user_agent(concat!("songrec/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .build()
            .map_err(GeniusError::from_reqwest)?;
        let limiter = config.rate.and_then(quota).map(RateLimiter::direct);
        let mut base_url = config.base_url;
        // `Url::join` would drop the last path segment of a base like `http://host/api`.
        if !base_url.path().ends_with('/') {
            base_url.set_path(&format!("{}/", base_url.path()));
        }
        Ok(GeniusClient {
            inner: Arc::new(Inner {
                http,
                base_url,
                limiter,
                in_flight: Semaphore::new(config.concurrency.max(1)),
                retry: config.retry,
            }),
        })
    }

    /// `GET /search?q=..`: one page of hits, in Genius's (fuzzy) order.
    #[tracing::instrument(skip(self), level = "debug")]
    pub async fn search(
        &self,
        query: &str,
        page: u32,
        per_page: u32,
    ) -> Result<Vec<SongSummary>, GeniusError> {
        let results: SearchResults = self
            .get_response(
                "search",
                &[
                    ("q", query.to_string()),
                    ("page", page.to_string()),
                    ("per_page", per_page.to_string()),
                ],
            )
            .await?
            .0;
        Ok(results.hits.into_iter().filter_map(|h| h.result).collect())
    }

    /// `GET /songs/:id?text_format=plain`.
    #[tracing::instrument(skip(self), level = "debug")]
    pub async fn song(&self, id: u64) -> Result<SongDetails, GeniusError> {
        #[derive(Deserialize)]
        struct SongField {
            song: Box<RawValue>,
        }
        let path = format!("songs/{id}");
        let (field, body): (SongField, String) = self
            .get_response(&path, &[("text_format", "plain".to_string())])
            .await?;
        Ok(SongDetails {
            body,
            song: field.song,
        })
    }

    /// `GET /artists/:id?text_format=plain`.
    #[tracing::instrument(skip(self), level = "debug")]
    pub async fn artist(&self, id: u64) -> Result<Artist, GeniusError> {
        let path = format!("artists/{id}");
        let response: ArtistResponse = self
            .get_response(&path, &[("text_format", "plain".to_string())])
            .await?
            .0;
        Ok(response.artist)
    }

    /// `GET /artists/:id/songs`: one page of the artist's catalogue (pages start at 1).
    #[tracing::instrument(skip(self), level = "debug")]
    pub async fn artist_songs(
        &self,
        id: u64,
        sort: CatalogueSort,
        page: u32,
        per_page: u32,
    ) -> Result<ArtistSongsPage, GeniusError> {
        let path = format!("artists/{id}/songs");
        Ok(self
            .get_response(
                &path,
                &[
                    ("sort", sort.as_str().to_string()),
                    ("per_page", per_page.min(MAX_PER_PAGE).to_string()),
                    ("page", page.to_string()),
                ],
            )
            .await?
            .0)
    }

    /// GETs `path` with retries and returns the parsed `response` and the body it came in.
    async fn get_response<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<(T, String), GeniusError> {
        let url = self
            .inner
            .base_url
            .join(path)
            .map_err(|e| GeniusError::Transport(format!("bad URL for {path}: {e}")))?;
        let body = with_retries(&self.inner.retry, path, || self.attempt(&url, query)).await?;
        let envelope: Envelope<T> =
            serde_json::from_str(&body).map_err(|e| GeniusError::Malformed {
                path: format!("/{path}"),
                message: e.to_string(),
            })?;
        let response = envelope.response.ok_or_else(|| GeniusError::Malformed {
            path: format!("/{path}"),
            message: "no `response` in the body".into(),
        })?;
        Ok((response, body))
    }

    /// One try: waits for a concurrency slot and a rate-limit cell, then sends.
    async fn attempt(&self, url: &Url, query: &[(&str, String)]) -> Result<String, GeniusError> {
        let _slot = self
            .inner
            .in_flight
            .acquire()
            .await
            .map_err(|_| GeniusError::Transport("client is shutting down".into()))?;
        if let Some(limiter) = &self.inner.limiter {
            limiter.until_ready().await;
        }
        let response = self
            .inner
            .http
            .get(url.clone())
            .query(query)
            .send()
            .await
            .map_err(GeniusError::from_reqwest)?;
        let status = response.status();
        let retry_after = parse_retry_after(response.headers());
        let body = read_body(response, MAX_BODY_BYTES).await?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(GeniusError::from_response(status, retry_after, &body))
        }
    }
}

/// The body as text, refused as soon as it grows past `limit` bytes (by its `Content-Length` or
/// while streaming, for chunked answers that send none). Invalid UTF-8 is replaced, as
/// `Response::text` does, and then fails JSON parsing with a clear message.
async fn read_body(mut response: reqwest::Response, limit: usize) -> Result<String, GeniusError> {
    let too_large = || GeniusError::TooLarge { limit };
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(GeniusError::from_reqwest)? {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8(body)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// One request every `1/rate` seconds and no burst, so no one-second window ever holds more
/// than `rate` requests (plus the one on its boundary).
fn quota(rate: f64) -> Option<Quota> {
    if !(rate.is_finite() && rate > 0.0) {
        return None;
    }
    let period = Duration::from_secs_f64(1.0 / rate).max(Duration::from_nanos(1));
    Quota::with_period(period).map(|q| q.allow_burst(NonZeroU32::MIN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_never_shows_in_debug_output() {
        let client = GeniusClient::new(ClientConfig::new(
            Url::parse("http://127.0.0.1:1").unwrap(),
            SecretString::from("very-secret-token-123"),
        ))
        .unwrap();
        let text = format!("{client:?}");
        assert!(!text.contains("very-secret-token-123"), "{text}");
    }

    #[test]
    fn a_zero_or_negative_rate_lifts_the_limit() {
        assert!(quota(0.0).is_none());
        assert!(quota(-1.0).is_none());
        assert!(quota(f64::INFINITY).is_none());
        assert!(quota(5.0).is_some());
        assert!(quota(0.5).is_some());
    }
}
