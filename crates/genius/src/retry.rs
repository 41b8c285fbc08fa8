//! Retrying transient failures: exponential backoff with jitter, or the server's `Retry-After`.

use std::future::Future;
use std::time::Duration;

use rand::Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::GeniusError;

/// How often and how patiently a request is retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (so `max_retries + 1` attempts in all).
    pub max_retries: u32,
    /// The backoff before the first retry; it doubles with every further retry.
    pub base_delay: Duration,
    /// Cap on one computed backoff.
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is not waited for: the request fails instead, so a
    /// run never hangs for an hour on one header.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0-based) after `error`, or `None` to give up.
    ///
    /// A `Retry-After` is honoured exactly. Otherwise the backoff is `base * 2^retry`, capped,
    /// and jittered down to between half and all of it so that parallel requests that failed
    /// together do not come back together.
    pub fn delay(&self, retry: u32, error: &GeniusError) -> Option<Duration> {
        if retry >= self.max_retries || !error.is_retryable() {
            return None;
        }
        if let GeniusError::RateLimited {
            retry_after: Some(wait),
        } = error
        {
            return (*wait <= self.max_retry_after).then_some(*wait);
        }
        let backoff = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(retry))
            .min(self.max_delay);
        let jitter: f64 = rand::rng().random_range(0.5..=1.0);
        Some(backoff.mul_f64(jitter))
    }
}

/// Runs `attempt` until it succeeds, fails for good or runs out of retries, sleeping on the
/// tokio clock in between (so tests can pause time).
pub(crate) async fn with_retries<T, F, Fut>(
    policy: &RetryPolicy,
    what: &str,
    mut attempt: F,
) -> Result<T, GeniusError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, GeniusError>>,
{
    let mut retry = 0;
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(error) => match policy.delay(retry, &error) {
                Some(wait) => {
                    tracing::warn!(request = what, %error, retry = retry + 1, wait_ms = wait.as_millis() as u64, "retrying");
                    tokio::time::sleep(wait).await;
                    retry += 1;
                }
                None => return Err(error),
            },
        }
    }
}

/// `Retry-After` as delay-seconds or as an HTTP date (RFC 9110 allows both).
pub(crate) fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn rate_limited(seconds: u64) -> GeniusError {
        GeniusError::RateLimited {
            retry_after: Some(Duration::from_secs(seconds)),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_waited_exactly_then_the_request_succeeds() {
        let calls = AtomicU32::new(0);
        let start = tokio::time::Instant::now();
        let result = with_retries(&RetryPolicy::default(), "test", || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 => Err(rate_limited(7)),
                _ => Ok("done"),
            }
        })
        .await;
        assert_eq!(result, Ok("done"));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(start.elapsed(), Duration::from_secs(7));
    }

    #[tokio::test(start_paused = true)]
    async fn server_errors_back_off_exponentially_with_jitter_then_give_up() {
        let policy = RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(60),
        };
        let calls = AtomicU32::new(0);
        let start = tokio::time::Instant::now();
        let result: Result<(), _> = with_retries(&policy, "test", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(GeniusError::Server { status: 503 })
        })
        .await;
        assert_eq!(result, Err(GeniusError::Server { status: 503 }));
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        // Backoffs 1 s, 2 s, 4 s, each jittered to between half and all of it.
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(3500) && waited <= Duration::from_secs(7),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_not_found_is_not_retried() {
        let calls = AtomicU32::new(0);
        let start = tokio::time::Instant::now();
        let result: Result<(), _> = with_retries(&RetryPolicy::default(), "test", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(GeniusError::Api {
                status: 404,
                message: None,
            })
        })
        .await;
        assert!(result.unwrap_err().is_not_found());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[test]
    fn an_excessive_retry_after_gives_up_instead_of_hanging() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.delay(0, &rate_limited(3600)), None);
        assert_eq!(
            policy.delay(0, &rate_limited(2)),
            Some(Duration::from_secs(2))
        );
    }

    #[test]
    fn the_backoff_is_capped() {
        let policy = RetryPolicy {
            max_retries: 40,
            ..RetryPolicy::default()
        };
        let wait = policy.delay(30, &GeniusError::Timeout).unwrap();
        assert!(wait <= policy.max_delay, "{wait:?}");
    }

    #[test]
    fn retry_after_parses_seconds_and_http_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(parse_retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert(
            RETRY_AFTER,
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
        );
        assert_eq!(parse_retry_after(&headers), Some(Duration::ZERO));
        headers.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(parse_retry_after(&headers), None);
    }
}
