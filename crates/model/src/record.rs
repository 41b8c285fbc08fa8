//! A song's record as JSON, the details every recommendation answer carries for each song:
//! byte for byte what `serde_json` writes for them (unit tests hold it to that). Training
//! writes every song's record into the model file once, so that a server copies it whole
//! instead of gathering a dozen fields from as many columns per song of every answer.
//!
//! Strings, almost never in need of escaping, are checked eight bytes at a time and copied
//! whole; those that need it, and every number, are written by `serde_json` itself.

use serde::Serialize;

use crate::SongView;

/// Appends `,"key":` (a key that needs no escaping), in one copy.
macro_rules! field {
    ($out:expr, $key:literal) => {
        $out.extend_from_slice(concat!(",\"", $key, "\":").as_bytes())
    };
}

/// Appends the song at browse-order `index` as a JSON object without its closing brace (the
/// answer adds its own fields: score, reasons): `{"id":..,"index":..,...,"art_url":..`.
pub fn write_song(out: &mut Vec<u8>, index: usize, s: &SongView<'_>) {
    out.extend_from_slice(b"{\"id\":");
    value(out, &s.id);
    field!(out, "index");
    value(out, &index);
    field!(out, "title");
    string(out, s.title);
    field!(out, "artist");
    string(out, s.artist);
    field!(out, "artist_id");
    value(out, &s.artist_id);
    field!(out, "album");
    optional_string(out, s.album);
    field!(out, "release_date");
    optional_string(out, s.release_date);
    field!(out, "release_year");
    value(out, &s.release_year);
    field!(out, "language");
    optional_string(out, s.language);
    field!(out, "pageviews");
    value(out, &s.pageviews);
    field!(out, "url");
    optional_string(out, s.url);
    field!(out, "art_url");
    optional_string(out, s.art_url);
}

/// Appends a number (or anything else) as `serde_json` writes it.
pub fn value<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing into a Vec cannot fail, and these values always serialise.
    let _ = serde_json::to_writer(&mut *out, value);
}

/// Appends a JSON string.
pub fn string(out: &mut Vec<u8>, s: &str) {
    if needs_escaping(s.as_bytes()) {
        value(out, s);
    } else {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

/// Appends a JSON string or `null`.
pub fn optional_string(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// Whether JSON needs any byte of `bytes` escaped: the control characters, `"` and `\`
/// (exactly what `serde_json` escapes; it leaves everything else, UTF-8 included, as is).
pub fn needs_escaping(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // A byte of `x` is zero (or below `n`, for n <= 0x80): `(x - n * ONES) & !x & HIGHS` is
    // non-zero exactly when some byte is (it can mark more bytes than those, never fewer, and
    // none when there is none).
    let below = |x: u64, n: u64| x.wrapping_sub(n * ONES) & !x & HIGHS;
    let special = |x: u64| {
        below(x, 0x20)
            | below(x ^ (u64::from(b'"') * ONES), 1)
            | below(x ^ (u64::from(b'\\') * ONES), 1)
            != 0
    };
    // Up to eight bytes as a word, padded with spaces (which need no escaping).
    let word = |chunk: &[u8]| {
        let mut word = [b' '; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        u64::from_ne_bytes(word)
    };
    if bytes.len() <= 8 {
        return special(word(bytes));
    }
    let mut chunks = bytes.chunks_exact(8);
    if chunks.any(|chunk| special(word(chunk))) {
        return true;
    }
    // What is left, as the last eight bytes: overlapping bytes already seen changes nothing.
    !chunks.remainder().is_empty() && special(word(&bytes[bytes.len() - 8..]))
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
    fn needs_escaping_agrees_with_a_byte_by_byte_check() {
        let naive = |s: &[u8]| s.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
        for len in 0..=25 {
            for special in [
                0u8, 0x1f, b'"', b'\\', b' ', b'!', b'#', b'[', b']', 0x7f, 0xff,
            ] {
                for at in 0..len {
                    let mut s = vec![b'a'; len];
                    s[at] = special;
                    assert_eq!(needs_escaping(&s), naive(&s), "{s:?}");
                }
            }
            assert!(!needs_escaping(&vec![b'a'; len]));
        }
    }

    #[test]
    fn a_song_is_written_as_serde_json_writes_it() {
        let full = SongView {
            id: 2_471_960,
            title: "Halo, \"live\"",
            artist: "Beyoncé",
            artist_id: u64::MAX,
            album: Some("I Am... Sasha Fierce"),
            release_date: Some("2008-11-12"),
            release_year: Some(-12),
            language: Some("en"),
            pageviews: Some(0),
            url: Some("https://genius.com/Beyonce-halo-lyrics"),
            art_url: Some("tab\there"),
        };
        let bare = SongView {
            id: 7,
            artist: "a\\b",
            ..SongView::default()
        };
        for (index, s) in [(17, full), (0, bare)] {
            let mut out = Vec::new();
            write_song(&mut out, index, &s);
            out.push(b'}');
            // The view's own serialisation, with the index after the id.
            let view = serde_json::to_string(&s).unwrap();
            let (id, rest) = view.split_once(',').unwrap();
            let want = format!("{id},\"index\":{index},{rest}");
            assert_eq!(String::from_utf8(out).unwrap(), want);
        }
    }
}
