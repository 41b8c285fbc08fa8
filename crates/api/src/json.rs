//! The JSON of recommendation answers, written straight into one buffer: byte for byte what
//! `serde_json` writes for the same values (a unit test holds it to that), at a fraction of the
//! cost on the hottest route. Strings, almost never in need of escaping, are checked eight
//! bytes at a time and copied whole; those that do need it, and every number, are written by
//! `serde_json` itself.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use songrec_model::Reason;

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

/// Appends a number (or anything else) as `serde_json` writes it.
pub(crate) fn value<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing into a Vec cannot fail, and these values always serialise.
    let _ = serde_json::to_writer(&mut *out, value);
}

/// Appends a JSON string.
pub(crate) fn string(out: &mut Vec<u8>, s: &str) {
    if needs_escaping(s.as_bytes()) {
        value(out, s);
    } else {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

/// Appends a reason as one JSON string.
pub(crate) fn reason(out: &mut Vec<u8>, reason: Reason<'_>) {
    match reason {
        Reason::Text(text) => string(out, text),
        Reason::Named(label, name)
            if !needs_escaping(label.as_bytes()) && !needs_escaping(name.as_bytes()) =>
        {
            out.push(b'"');
            out.extend_from_slice(label.as_bytes());
            out.extend_from_slice(name.as_bytes());
            out.push(b'"');
        }
        Reason::Spaced(kind) if !needs_escaping(kind.as_bytes()) => {
            out.push(b'"');
            out.extend(kind.bytes().map(|b| if b == b'_' { b' ' } else { b }));
            out.push(b'"');
        }
        other => value(out, &other.to_string()),
    }
}

/// Appends a JSON string or `null`.
pub(crate) fn optional_string(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"null"),
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

/// Whether JSON needs any byte of `bytes` escaped: the control characters, `"` and `\`
/// (exactly what `serde_json` escapes; it leaves everything else, UTF-8 included, as is).
fn needs_escaping(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // A byte of `x` is zero (or below `n`, for n <= 0x80): `(x - n * ONES) & !x & HIGHS` is
    // non-zero exactly when some byte is (it can mark more bytes than those, never fewer, and
    // none when there is none).
    let below = |x: u64, n: u64| x.wrapping_sub(n * ONES) & !x & HIGHS;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_ne_bytes(word);
        if below(x, 0x20)
            | below(x ^ (u64::from(b'"') * ONES), 1)
            | below(x ^ (u64::from(b'\\') * ONES), 1)
            != 0
        {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        let mut samples: Vec<String> = [
            "",
            "Halo",
            "a\"b",
            "back\\slash",
            "tab\there",
            "new\nline",
            "\u{7f}del",
            "Heewon (희원)",
            "naïve café ñ ø ł ş",
            "\u{1F600} emoji",
            "no-break\u{a0}space",
            "exactly8",
            "exactly8\"",
            "seventeen chars!!",
            "\u{0}",
            "\u{1f}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Every byte value that matters, at every position of a word.
        for b in (0u8..0x80).chain([0xc3]) {
            for at in 0..9 {
                let mut s = vec![b'x'; 9];
                s[at] = b;
                if b == 0xc3 {
                    s.insert(at + 1, 0xa9);
                }
                samples.push(String::from_utf8(s).unwrap());
            }
        }
        for s in samples {
            let mut out = Vec::new();
            string(&mut out, &s);
            assert_eq!(out, serde_json::to_vec(&s).unwrap(), "{s:?}");
        }
    }

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
                Reason::Named("shared producer ", name),
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
