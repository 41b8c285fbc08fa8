//! What can go wrong talking to Genius, decided from the HTTP status first and the body second.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

/// Longest piece of a non-JSON body kept in an error, enough to recognise a Cloudflare page.
const SNIPPET_CHARS: usize = 160;

/// A failed Genius request. Messages never contain the access token: it only travels in a
/// sensitive header, and bodies are quoted from the server, not from the request.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum GeniusError {
    /// HTTP 401 with the documented `meta` body: the token is missing or not a Genius token.
    #[error(
        "Genius refused the access token (HTTP 401{}); set GENIUS_API_TOKEN to a client access token from https://genius.com/api-clients",
        message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
    )]
    Unauthorized { message: Option<String> },
    /// An OAuth-style error body without `meta` (`{"error":"invalid_token",..}`), in practice
    /// a 401 for an expired, revoked or malformed token.
    #[error(
        "Genius refused the access token ({error}{}); set GENIUS_API_TOKEN to a valid client access token from https://genius.com/api-clients",
        description.as_deref().map(|d| format!(": {d}")).unwrap_or_default()
    )]
    InvalidToken {
        error: String,
        description: Option<String>,
    },
    /// The documented error shape `{"meta":{"status":..,"message":..}}` (404 and other 4xx).
    #[error("Genius answered HTTP {status}{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Api {
        status: u16,
        message: Option<String>,
    },
    /// HTTP 429; `retry_after` is the server's `Retry-After` when it sent one.
    #[error("Genius is rate limiting us (HTTP 429)")]
    RateLimited { retry_after: Option<Duration> },
    /// HTTP 5xx, whatever the body.
    #[error("Genius server error (HTTP {status})")]
    Server { status: u16 },
    /// An error status with a body that is not JSON: a proxy or Cloudflare page (often 403).
    #[error("Genius answered HTTP {status} with a non-JSON body (blocked by a proxy?): {snippet}")]
    NonJson { status: u16, snippet: String },
    /// No complete answer within the request timeout.
    #[error("Genius did not answer in time")]
    Timeout,
    /// The connection could not be made or broke.
    #[error("cannot reach Genius: {0}")]
    Transport(String),
    /// A body longer than the client reads ([`crate::client::MAX_BODY_BYTES`]).
    #[error("Genius sent a response body over {limit} bytes; refused")]
    TooLarge { limit: usize },
    /// A 2xx response whose body is not the expected JSON.
    #[error("malformed Genius response for {path}: {message}")]
    Malformed { path: String, message: String },
}

impl GeniusError {
    /// Whether a later attempt may succeed: rate limits, server errors, timeouts, broken
    /// connections. 400/401/403/404 and malformed bodies never get better by asking again.
    pub fn is_retryable(&self) -> bool {
        match self {
            GeniusError::RateLimited { .. } | GeniusError::Timeout | GeniusError::Transport(_) => {
                true
            }
            GeniusError::Server { status } => matches!(status, 500 | 502 | 503 | 504),
            _ => false,
        }
    }

    /// Whether the token is the problem, so that nothing else can succeed either.
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            GeniusError::Unauthorized { .. } | GeniusError::InvalidToken { .. }
        )
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, GeniusError::Api { status: 404, .. })
            || matches!(self, GeniusError::NonJson { status: 404, .. })
    }

    pub(crate) fn from_reqwest(e: reqwest::Error) -> GeniusError {
        if e.is_timeout() {
            GeniusError::Timeout
        } else {
            // Without the URL: it adds nothing the caller does not know, and keeps messages short.
            GeniusError::Transport(error_chain(&e.without_url()))
        }
    }

    /// Builds the error for a non-2xx response.
    pub(crate) fn from_response(
        status: StatusCode,
        retry_after: Option<Duration>,
        body: &str,
    ) -> GeniusError {
        let json = serde_json::from_str::<Value>(body)
            .ok()
            .filter(Value::is_object);
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        let meta_message = json
            .as_ref()
            .and_then(|j| text(j.get("meta").and_then(|m| m.get("message"))));
        let oauth_error = json.as_ref().and_then(|j| text(j.get("error")));
        let oauth = |error: String| GeniusError::InvalidToken {
            error,
            description: json.as_ref().and_then(|j| text(j.get("error_description"))),
        };
        let code = status.as_u16();
        match code {
            401 => match oauth_error {
                Some(error) => oauth(error),
                None => GeniusError::Unauthorized {
                    message: meta_message,
                },
            },
            429 => GeniusError::RateLimited { retry_after },
            500..=599 => GeniusError::Server { status: code },
            _ => match (json.is_some(), oauth_error) {
                (false, _) => GeniusError::NonJson {
                    status: code,
                    snippet: snippet(body),
                },
                (true, Some(error)) => oauth(error),
                (true, None) => GeniusError::Api {
                    status: code,
                    message: meta_message,
                },
            },
        }
    }
}

fn snippet(body: &str) -> String {
    let flat: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = flat.chars().take(SNIPPET_CHARS).collect();
    if flat.chars().count() > SNIPPET_CHARS {
        out.push('…');
    }
    out
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut line = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(status: u16, body: &str) -> GeniusError {
        GeniusError::from_response(StatusCode::from_u16(status).unwrap(), None, body)
    }

    #[test]
    fn the_three_error_shapes_and_html_are_told_apart() {
        assert_eq!(
            from(404, r#"{"meta":{"status":404,"message":"Not found"}}"#),
            GeniusError::Api {
                status: 404,
                message: Some("Not found".into())
            }
        );
        assert_eq!(
            from(
                401,
                r#"{"meta":{"status":401,"message":"This call requires an access_token."}}"#
            ),
            GeniusError::Unauthorized {
                message: Some("This call requires an access_token.".into())
            }
        );
        assert_eq!(
            from(
                401,
                r#"{"error":"invalid_token","error_description":"The access token provided is expired"}"#
            ),
            GeniusError::InvalidToken {
                error: "invalid_token".into(),
                description: Some("The access token provided is expired".into())
            }
        );
        let html = from(
            403,
            "<html>\n<body>Please stand by, while we are checking your browser</body></html>",
        );
        assert!(
            matches!(&html, GeniusError::NonJson { status: 403, snippet } if snippet.contains("Please stand by")),
            "{html:?}"
        );
    }

    #[test]
    fn a_meta_error_without_message_is_accepted() {
        assert_eq!(
            from(400, r#"{"meta":{"status":400}}"#),
            GeniusError::Api {
                status: 400,
                message: None
            }
        );
    }

    #[test]
    fn server_errors_and_rate_limits_are_retryable_but_client_errors_are_not() {
        assert!(from(503, "<html>bad gateway</html>").is_retryable());
        assert!(from(429, "").is_retryable());
        assert!(!from(501, "").is_retryable());
        assert!(!from(404, r#"{"meta":{"status":404}}"#).is_retryable());
        assert!(!from(401, "").is_retryable());
        assert!(from(401, "").is_auth());
    }

    #[test]
    fn the_401_message_tells_what_to_do_about_the_token() {
        let text = from(401, r#"{"meta":{"status":401}}"#).to_string();
        assert!(text.contains("GENIUS_API_TOKEN"), "{text}");
    }

    #[test]
    fn a_long_html_body_is_cut_to_a_snippet() {
        let body = format!("<html>{}</html>", "x".repeat(10_000));
        match from(502, &body) {
            GeniusError::Server { status: 502 } => {}
            other => panic!("{other:?}"),
        }
        match from(403, &body) {
            GeniusError::NonJson { snippet, .. } => {
                assert!(snippet.chars().count() <= SNIPPET_CHARS + 1)
            }
            other => panic!("{other:?}"),
        }
    }
}
