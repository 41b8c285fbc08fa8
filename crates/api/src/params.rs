//! Request parsing that fails with JSON errors: axum's own extractors answer plain text, so
//! path segments and query strings are taken raw here and validated by hand.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::routes::{AppState, MAX_BODY_BYTES};

/// Recommendations per request when `k` is not given.
pub(crate) const DEFAULT_K: usize = 5;
/// The largest `k` the contract allows, whatever the model could answer.
pub(crate) const MAX_K: usize = 100;
/// Seeds per multi-seed request: enough for a playlist, bounded so one request stays cheap.
pub(crate) const MAX_SEEDS: usize = 50;
/// Songs to push down (`avoid`) per request.
pub(crate) const MAX_AVOID: usize = 50;
/// Songs to leave out (`exclude`) per request.
pub(crate) const MAX_EXCLUDE: usize = 100;

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

/// Longest query string accepted; every parameter of every route fits well within it.
pub(crate) const MAX_QUERY_BYTES: usize = 4096;

/// A route's query parameters: their names, declared once beside the struct and checked
/// against its OpenAPI declaration by a unit test.
pub(crate) trait QueryNames {
    const NAMES: &'static [&'static str];
}

/// Query parameters decoded into `T`; an unknown or repeated parameter, an overlong query or a
/// value of the wrong type is a 400 naming it.
pub(crate) struct Query<T>(pub T);

impl<T: DeserializeOwned + QueryNames, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let raw = parts.uri.query().unwrap_or("");
        check_query_names(raw, T::NAMES)?;
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|e| ApiError::BadRequest(e.body_text()))
    }
}

/// Refuses a query string that is too long or has a parameter not in `known` or given twice.
pub(crate) fn check_query_names(raw: &str, known: &[&str]) -> Result<(), ApiError> {
    if raw.len() > MAX_QUERY_BYTES {
        return Err(ApiError::BadRequest(format!(
            "the query string is {} bytes, more than {MAX_QUERY_BYTES}",
            raw.len()
        )));
    }
    let mut seen: Vec<std::borrow::Cow<'_, str>> = Vec::new();
    for (name, _) in url::form_urlencoded::parse(raw.as_bytes()) {
        if !known.contains(&name.as_ref()) {
            let shown: String = name.chars().take(40).collect();
            let allowed = if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            };
            return Err(ApiError::BadRequest(format!(
                "unknown query parameter {shown:?} (this route takes: {allowed})"
            )));
        }
        if seen.contains(&name) {
            return Err(ApiError::BadRequest(format!(
                "query parameter {name:?} is given more than once"
            )));
        }
        seen.push(name);
    }
    Ok(())
}

/// The parameters of a route that takes none.
#[derive(serde::Deserialize, utoipa::IntoParams)]
pub(crate) struct NoQuery {}

impl QueryNames for NoQuery {
    const NAMES: &'static [&'static str] = &[];
}

/// A JSON body whose rejections (bad JSON, wrong content type) are JSON errors too, and
/// that must arrive whole within the server's body read timeout (408 otherwise).
pub(crate) struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        // Refused on its declared length before any of it is read.
        let declared = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
            return Err(too_large());
        }
        let limit = state.body_read_timeout;
        tokio::time::timeout(limit, axum::Json::<T>::from_request(req, state))
            .await
            .map_err(|_| ApiError::BodyTimeout(limit.as_secs_f64()))?
            .map(|axum::Json(value)| JsonBody(value))
            .map_err(|e: JsonRejection| {
                let (status, message) = match e.status() {
                    // A well-formed body of the wrong shape is a bad request like any other.
                    StatusCode::UNPROCESSABLE_ENTITY => (StatusCode::BAD_REQUEST, e.body_text()),
                    // Cut off as soon as it passes the limit.
                    StatusCode::PAYLOAD_TOO_LARGE => return too_large(),
                    status => (status, e.body_text()),
                };
                ApiError::Rejected { status, message }
            })
    }
}

fn too_large() -> ApiError {
    ApiError::Rejected {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        message: format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
    }
}

/// Deserializers of whole numbers that, as JSON Schema's `integer` does, accept a JSON number
/// with a zero fraction (`5.0`) as well as `5`; strings stay refused in JSON bodies. In query
/// strings the value must be written as an integer.
pub(crate) mod whole {
    use serde::de::{self, Deserializer, SeqAccess, Visitor};

    struct WholeNumber;

    impl Visitor<'_> for WholeNumber {
        type Value = u64;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a non-negative integer")
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
            // 2^64 is exactly representable; every integral f64 below it converts exactly.
            if v.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&v) {
                Ok(v as u64)
            } else {
                Err(E::invalid_value(de::Unexpected::Float(v), &self))
            }
        }
    }

    struct One(u64);

    impl<'de> serde::Deserialize<'de> for One {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_u64(WholeNumber).map(One)
        }
    }

    /// An optional whole number (`null` or absent is `None`).
    pub fn option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        Ok(<Option<One> as serde::Deserialize>::deserialize(d)?.map(|One(v)| v))
    }

    /// A list of whole numbers.
    pub fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
        struct List;
        impl<'de> Visitor<'de> for List {
            type Value = Vec<u64>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of non-negative integers")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u64>, A::Error> {
                // The body limit bounds the list; no capacity is taken from the input.
                let mut out = Vec::new();
                while let Some(One(v)) = seq.next_element()? {
                    out.push(v);
                }
                Ok(out)
            }
        }
        d.deserialize_seq(List)
    }
}

/// `k`: absent means [`DEFAULT_K`]; otherwise an integer in `1..=MAX_K`.
pub(crate) fn check_k(k: Option<u64>) -> Result<usize, ApiError> {
    match k {
        None => Ok(DEFAULT_K),
        Some(k) if (1..=MAX_K as u64).contains(&k) => Ok(k as usize),
        Some(k) => Err(ApiError::BadRequest(format!(
            "k must be an integer between 1 and {MAX_K}, got {k}"
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

/// An optional integer parameter within `min..=max`.
pub(crate) fn check_range(
    name: &str,
    value: Option<u64>,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, ApiError> {
    match value {
        None => Ok(default),
        Some(v) if (min..=max).contains(&v) => Ok(v),
        Some(v) => Err(ApiError::BadRequest(format!(
            "{name} must be an integer between {min} and {max}, got {v}"
        ))),
    }
}

/// Largest `min_pageviews` (well past any song's; declared as the maximum in OpenAPI).
pub(crate) const MAX_PAGEVIEWS: u64 = 1_000_000_000_000_000;

/// Longest `language` filter, in characters (as OpenAPI's `maxLength` counts).
pub(crate) const MAX_LANGUAGE_CHARS: usize = 16;

/// The `language` filter, lower-cased: absent or empty means any language.
pub(crate) fn check_language(language: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(language) = language.filter(|l| !l.is_empty()) else {
        return Ok(None);
    };
    if language.chars().nth(MAX_LANGUAGE_CHARS).is_some() {
        return Err(ApiError::BadRequest(format!(
            "language is longer than {MAX_LANGUAGE_CHARS} characters"
        )));
    }
    Ok(Some(language.to_ascii_lowercase()))
}

/// Comma-separated song ids (at most `max`, counted before any is parsed), duplicates
/// dropped, order kept.
pub(crate) fn parse_id_list(name: &str, raw: &str, max: usize) -> Result<Vec<u64>, ApiError> {
    let count = raw.split(',').filter(|s| !s.trim().is_empty()).count();
    if count > max {
        return Err(too_many(name, max, count));
    }
    let ids = raw
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(parse_song_id)
        .collect::<Result<Vec<_>, _>>()?;
    check_ids(name, ids, max)
}

/// Song ids given as a list: at most `max` (duplicates included, so a long list is refused
/// before any work), returned without duplicates, in order.
pub(crate) fn check_ids(name: &str, ids: Vec<u64>, max: usize) -> Result<Vec<u64>, ApiError> {
    if ids.len() > max {
        return Err(too_many(name, max, ids.len()));
    }
    let mut distinct = Vec::with_capacity(ids.len());
    for id in ids {
        if !distinct.contains(&id) {
            distinct.push(id);
        }
    }
    Ok(distinct)
}

fn too_many(name: &str, max: usize, got: usize) -> ApiError {
    ApiError::BadRequest(format!("{name} takes at most {max} song ids, got {got}"))
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    #[test]
    fn k_defaults_to_five_and_must_be_within_one_to_a_hundred() {
        assert_eq!(check_k(None).unwrap(), 5);
        assert_eq!(check_k(Some(1)).unwrap(), 1);
        assert_eq!(check_k(Some(100)).unwrap(), 100);
        for bad in [0, 101, u64::MAX] {
            assert_eq!(
                check_k(Some(bad)).unwrap_err().status(),
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
    fn id_lists_are_deduplicated_in_order_and_bounded_before_parsing() {
        assert_eq!(
            parse_id_list("seeds", "3, 1,3,,2", 50).unwrap(),
            vec![3, 1, 2]
        );
        assert!(parse_id_list("seeds", "", 50).unwrap().is_empty());
        assert!(parse_id_list("seeds", "1,x", 50).is_err());
        // Too many entries is refused on the count, even when they are not ids at all.
        let many = vec!["x"; 51].join(",");
        let err = parse_id_list("seeds", &many, 50).unwrap_err();
        assert!(err.to_string().contains("at most 50"), "{err}");
        // Duplicates count: a long list of one id is still a long list.
        assert!(check_ids("seeds", vec![7; 51], 50).is_err());
        assert_eq!(check_ids("seeds", vec![7; 50], 50).unwrap(), vec![7]);
    }

    #[test]
    fn whole_numbers_may_be_written_as_integral_floats_in_json_but_not_as_strings() {
        #[derive(serde::Deserialize)]
        struct Body {
            #[serde(default, deserialize_with = "whole::option")]
            k: Option<u64>,
            #[serde(default, deserialize_with = "whole::list")]
            seeds: Vec<u64>,
        }
        let body: Body =
            serde_json::from_str(r#"{"k": 5.0, "seeds": [1, 2.0, 28519341397.0]}"#).unwrap();
        assert_eq!(body.k, Some(5));
        assert_eq!(body.seeds, vec![1, 2, 28519341397]);
        let body: Body = serde_json::from_str(r#"{"k": null}"#).unwrap();
        assert_eq!((body.k, body.seeds.len()), (None, 0));
        for bad in [
            r#"{"k": 5.5}"#,
            r#"{"k": -1}"#,
            r#"{"k": -1.0}"#,
            r#"{"k": "5"}"#,
            r#"{"k": 1e300}"#,
            r#"{"seeds": [1, "2"]}"#,
            r#"{"seeds": [0.5]}"#,
            r#"{"seeds": 3}"#,
        ] {
            assert!(serde_json::from_str::<Body>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ranges_keep_their_default_and_bounds() {
        assert_eq!(check_range("limit", None, 20, 1, 100).unwrap(), 20);
        assert_eq!(check_range("limit", Some(7), 20, 1, 100).unwrap(), 7);
        assert!(check_range("limit", Some(0), 20, 1, 100).is_err());
    }

    #[test]
    fn unknown_repeated_and_overlong_query_parameters_are_refused_by_name() {
        assert!(check_query_names("k=5", &["k"]).is_ok());
        assert!(check_query_names("", &[]).is_ok());
        let err = check_query_names("k=5&kk=1", &["k"]).unwrap_err();
        assert!(err.to_string().contains("\"kk\""), "{err}");
        let err = check_query_names("k=5&k=6", &["k"]).unwrap_err();
        assert!(err.to_string().contains("more than once"), "{err}");
        let long = format!("q={}", "a".repeat(MAX_QUERY_BYTES));
        assert!(check_query_names(&long, &["q"]).is_err());
    }
}
