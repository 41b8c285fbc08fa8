//! The raw JSON of a song as stored: LZ4-compressed (block format, the uncompressed length
//! first as a little-endian u32) in `songs.raw_json_lz4`.
//!
//! The raw JSON is most of a song's bytes (about 3 KB of a generated catalogue's song, against
//! a few hundred for every other column together), and LZ4 makes it about 2.5 times smaller, so
//! the database, its WAL and every page an import writes shrink by about 40 %. It is compressed
//! where the song's other columns are derived ([`crate::PreparedSong`], on an importer's parse
//! threads), so the database's writer only copies the smaller bytes.
//!
//! Rows written before this column existed keep their text in `raw_json` (and `raw_json_lz4`
//! NULL); they are read as they are and compressed when the song is next written. Rows written
//! since have `raw_json` NULL on PostgreSQL and `''` on SQLite, where the column is `NOT NULL`.
//! The migration that added the column makes an older build (which would read `raw_json` only)
//! refuse the database.

use crate::{StoreError, from_i64};

/// The stored form of `raw`.
pub(crate) fn compress(raw: &str) -> Vec<u8> {
    lz4_flex::block::compress_prepend_size(raw.as_bytes())
}

/// LZ4 never expands a byte sequence by more than this factor (a match's length takes one more
/// byte per 255 bytes), so a stored length above it is damage, not data; checking it first
/// bounds what a damaged value can make us allocate.
const MAX_RATIO: usize = 255;

/// The raw JSON of song `song_id` from its stored columns: the compressed form when there is
/// one, else the text.
pub(crate) fn read(
    song_id: i64,
    text: Option<String>,
    compressed: Option<&[u8]>,
) -> Result<Option<String>, StoreError> {
    match compressed {
        Some(bytes) => decompress(song_id, bytes).map(Some),
        None => Ok(text),
    }
}

fn decompress(song_id: i64, bytes: &[u8]) -> Result<String, StoreError> {
    let corrupt = |reason: String| StoreError::CorruptRawJson {
        song_id: from_i64(song_id),
        reason,
    };
    let (len, body) =
        lz4_flex::block::uncompressed_size(bytes).map_err(|e| corrupt(e.to_string()))?;
    if len > body.len().saturating_mul(MAX_RATIO).saturating_add(16) {
        return Err(corrupt(format!(
            "claims {len} bytes from {} compressed",
            body.len()
        )));
    }
    let text = lz4_flex::block::decompress(body, len).map_err(|e| corrupt(e.to_string()))?;
    if text.len() != len {
        return Err(corrupt(format!(
            "holds {} bytes, not the {len} it claims",
            text.len()
        )));
    }
    String::from_utf8(text).map_err(|e| corrupt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_form_reads_back_as_the_text() {
        for raw in [
            "",
            "{}",
            "{\"title\":\"Señorita “live”\"}",
            &"ab".repeat(10_000),
        ] {
            let stored = compress(raw);
            assert_eq!(read(1, None, Some(&stored)).unwrap().as_deref(), Some(raw));
        }
        let long = "{\"description\":\"".to_string() + &"la ".repeat(1_000) + "\"}";
        assert!(compress(&long).len() * 10 < long.len());
    }

    #[test]
    fn rows_written_before_compression_read_as_their_text() {
        let text = Some("{\"id\":1}".to_string());
        assert_eq!(read(1, text.clone(), None).unwrap(), text);
        assert_eq!(read(1, None, None).unwrap(), None);
    }

    #[test]
    fn damaged_values_are_errors_naming_the_song_never_panics() {
        let stored = compress(&"{\"a\":1}".repeat(100));
        let mut cases: Vec<Vec<u8>> = vec![
            Vec::new(),
            vec![1, 2],
            stored[..stored.len() / 2].to_vec(),
            // A length no block of this size can hold.
            [u32::MAX.to_le_bytes().as_slice(), &stored[4..]].concat(),
            // A length shorter than the block's contents.
            [3u32.to_le_bytes().as_slice(), &stored[4..]].concat(),
            // Not UTF-8.
            compress_bytes(&[0xff, 0xfe, 0x00]),
        ];
        for flip in 4..stored.len() {
            let mut bad = stored.clone();
            bad[flip] ^= 0x5a;
            cases.push(bad);
        }
        for bytes in &cases[..6] {
            let err = read(42, None, Some(bytes)).unwrap_err();
            assert!(err.to_string().contains("42"), "{err}");
        }
        // A flipped byte may still decode to some text; it must never panic.
        for bytes in &cases[6..] {
            let _ = read(42, None, Some(bytes));
        }
    }

    fn compress_bytes(bytes: &[u8]) -> Vec<u8> {
        lz4_flex::block::compress_prepend_size(bytes)
    }
}
