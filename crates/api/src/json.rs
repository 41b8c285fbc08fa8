//! The JSON of recommendation answers, written straight into one buffer: byte for byte what
//! `serde_json` writes for the same values (unit tests hold it to that), at a fraction of the
//! cost on the hottest route. Strings and numbers are written as the model's song records
//! are (`songrec_model::record`).

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use songrec_model::Reason;
use songrec_model::record::needs_escaping;
pub(crate) use songrec_model::record::{string, value};

/// A `200` answer with a body already written as JSON, with the headers `axum::Json` gives.
pub(crate) fn response(body: Vec<u8>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// Appends `"key":` (a key that needs no escaping), after a comma unless it opens an object.
pub(crate) fn key(out: &mut Vec<u8>, key: &str, first: bool) {
    if !first {
        out.push(b',');
    }
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

/// Appends a reason as one JSON string; its fixed parts are copied as they are.
pub(crate) fn reason(out: &mut Vec<u8>, reason: Reason<'_>) {
    let quoted = |out: &mut Vec<u8>, parts: &[&[u8]]| {
        out.push(b'"');
        parts.iter().for_each(|part| out.extend_from_slice(part));
        out.push(b'"');
    };
    match reason {
        Reason::Text(text) => string(out, text),
        Reason::Fixed(label) => quoted(out, &[label.as_str().as_bytes()]),
        Reason::Named(label, name) if !needs_escaping(name.as_bytes()) => {
            quoted(out, &[label.as_str().as_bytes(), name.as_bytes()]);
        }
        Reason::Spaced(kind) if !needs_escaping(kind.as_bytes()) => {
            out.push(b'"');
            out.extend(kind.bytes().map(|b| if b == b'_' { b' ' } else { b }));
            out.push(b'"');
        }
        other => value(out, &other.to_string()),
    }
}

/// Appends a list of numbers.
pub(crate) fn numbers<T: Serialize>(out: &mut Vec<u8>, values: impl IntoIterator<Item = T>) {
    out.push(b'[');
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        value(out, &v);
    }
    out.push(b']');
}

#[cfg(test)]
mod tests {
    use songrec_model::Label;

    use super::*;

    #[test]
    fn reasons_are_written_as_serde_json_writes_their_text() {
        let names = [
            "Ryan Tedder",
            "",
            "Beyoncé \"B\"",
            "tab\there",
            "a\\b",
            "under_score",
        ];
        for name in names {
            for reason in [
                Reason::Text(name),
                Reason::Fixed(Label::new("same album")),
                Reason::Named(Label::new("shared producer "), name),
                Reason::Spaced(name),
                Reason::Spaced("cover_of"),
            ] {
                let mut out = Vec::new();
                super::reason(&mut out, reason);
                let want = serde_json::to_vec(&reason.to_string()).unwrap();
                assert_eq!(out, want, "{reason:?}");
            }
        }
    }
}
