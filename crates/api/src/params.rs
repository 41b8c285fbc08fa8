//! Request parsing that fails with JSON errors: axum's own extractors answer plain text, so
//! path segments and query strings are taken raw here and validated by hand.

use std::collections::HashMap;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Recommendations per request when `k` is not given.
pub(crate) const DEFAULT_K: usize = 5;
/// The largest `k` the contract allows, whatever the model could answer.
pub(crate) const MAX_K: usize = 100;
/// Songs per page when browsing without `limit`.
pub(crate) const DEFAULT_LIMIT: usize = 20;
pub(crate) const MAX_LIMIT: usize = 100;
/// Seeds per multi-seed request: enough for a playlist, bounded so one request stays cheap.
pub(crate) const MAX_SEEDS: usize = 50;

/// The single path parameter of a route, undecoded into a number yet.
pub(crate) struct Segment(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Segment {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(segment)| Segment(segment))
            .map_err(|e| ApiError::BadRequest(e.body_text()))
    }
}

/// Query parameters by name (the last one wins when repeated); never rejects.
pub(crate) struct Params(HashMap<String, String>);

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        Ok(Params(
            url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
        ))
    }
}

/// A JSON body whose rejections (bad JSON, wrong content type) are JSON errors too.
pub(crate) struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        axum::Json::<T>::from_request(req, state)
            .await
            .map(|axum::Json(value)| JsonBody(value))
            .map_err(|e: JsonRejection| ApiError::Rejected {
                status: e.status(),
                message: e.body_text(),
            })
    }
}

/// `k`: absent means [`DEFAULT_K`]; otherwise an integer in `1..=MAX_K`.
pub(crate) fn parse_k(raw: Option<&str>) -> Result<usize, ApiError> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_K);
    };
    match raw.trim().parse::<i64>() {
        Ok(k) if (1..=MAX_K as i64).contains(&k) => Ok(k as usize),
        _ => Err(ApiError::BadRequest(format!(
            "k must be an integer between 1 and {MAX_K}, got {raw:?}"
        ))),
    }
}

/// A browse-order index: not an integer is a bad request; a negative or huge integer is an
/// index no song has.
pub(crate) fn parse_index(raw: &str) -> Result<usize, ApiError> {
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::BadRequest(format!(
            "index must be an integer, got {raw:?}"
        )));
    }
    raw.parse::<usize>()
        .map_err(|_| ApiError::UnknownIndex(raw.to_owned()))
}

/// A Genius song id.
pub(crate) fn parse_song_id(raw: &str) -> Result<u64, ApiError> {
    raw.trim().parse::<u64>().map_err(|_| {
        ApiError::BadRequest(format!(
            "a song id must be a non-negative integer, got {raw:?}"
        ))
    })
}

/// An optional non-negative integer parameter within `min..=max`.
pub(crate) fn parse_bounded(
    name: &str,
    raw: Option<&str>,
    default: usize,
    min: usize,
    max: usize,
) -> Result<usize, ApiError> {
    let Some(raw) = raw else {
        return Ok(default);
    };
    match raw.trim().parse::<usize>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::BadRequest(format!(
            "{name} must be an integer between {min} and {max}, got {raw:?}"
        ))),
    }
}

/// Comma-separated song ids, duplicates dropped, order kept.
pub(crate) fn parse_seeds(raw: Option<&str>) -> Result<Vec<u64>, ApiError> {
    let raw = raw.unwrap_or("");
    let ids = raw
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(parse_song_id)
        .collect::<Result<Vec<_>, _>>()?;
    check_seeds(ids)
}

/// Seeds given as a JSON list: at least one, at most [`MAX_SEEDS`] distinct.
pub(crate) fn check_seeds(ids: Vec<u64>) -> Result<Vec<u64>, ApiError> {
    let mut distinct = Vec::with_capacity(ids.len());
    for id in ids {
        if !distinct.contains(&id) {
            distinct.push(id);
        }
    }
    if distinct.is_empty() {
        return Err(ApiError::BadRequest(
            "seeds must list at least one song id".to_owned(),
        ));
    }
    if distinct.len() > MAX_SEEDS {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_SEEDS} seed songs, got {}",
            distinct.len()
        )));
    }
    Ok(distinct)
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    #[test]
    fn k_defaults_to_five_and_must_be_within_one_to_a_hundred() {
        assert_eq!(parse_k(None).unwrap(), 5);
        assert_eq!(parse_k(Some("1")).unwrap(), 1);
        assert_eq!(parse_k(Some("100")).unwrap(), 100);
        for bad in ["0", "101", "-1", "abc", "", "2.5", "99999999999999999999"] {
            assert_eq!(
                parse_k(Some(bad)).unwrap_err().status(),
                StatusCode::BAD_REQUEST,
                "{bad}"
            );
        }
    }

    #[test]
    fn index_that_is_not_an_integer_is_a_bad_request_and_a_negative_one_is_unknown() {
        assert_eq!(parse_index("42").unwrap(), 42);
        for bad in ["abc", "", "-", "1e3", "4 2", "0x10"] {
            assert_eq!(
                parse_index(bad).unwrap_err().status(),
                StatusCode::BAD_REQUEST,
                "{bad}"
            );
        }
        for unknown in ["-1", "99999999999999999999999"] {
            assert_eq!(
                parse_index(unknown).unwrap_err().status(),
                StatusCode::NOT_FOUND,
                "{unknown}"
            );
        }
    }

    #[test]
    fn seeds_are_deduplicated_in_order_and_bounded() {
        assert_eq!(parse_seeds(Some("3, 1,3,,2")).unwrap(), vec![3, 1, 2]);
        assert!(parse_seeds(Some("")).is_err());
        assert!(parse_seeds(None).is_err());
        assert!(parse_seeds(Some("1,x")).is_err());
        let many = (0..=MAX_SEEDS).map(|i| i.to_string()).collect::<Vec<_>>();
        assert!(parse_seeds(Some(&many.join(","))).is_err());
    }

    #[test]
    fn bounded_parameters_keep_their_default_and_range() {
        assert_eq!(parse_bounded("limit", None, 20, 1, 100).unwrap(), 20);
        assert_eq!(parse_bounded("limit", Some("7"), 20, 1, 100).unwrap(), 7);
        assert!(parse_bounded("limit", Some("0"), 20, 1, 100).is_err());
        assert!(parse_bounded("offset", Some("-3"), 0, 0, usize::MAX).is_err());
    }
}
