//! Reading one input: which layout it is in, and every record in it, in order.
//!
//! Layouts, told apart by the first bytes: a JSON array (`[`); JSON Lines (the first line is a
//! whole JSON value); otherwise one or more multi-line documents. Any record may be a bare song
//! object, an API envelope (`{"meta":..,"response":{"song":..}}`), or a lyricsgenius artist
//! object (`Lyrics_<Artist>.json`: an object whose `songs` array holds song objects, each with
//! the library's extra `lyrics` and `artist` keys, which are not kept).

use std::io::{BufRead, Read};

use serde::de::{DeserializeSeed, Error as _, SeqAccess, Visitor};
use serde_json::Value;
use songrec_store::ImportedSong;

/// Longest JSON Lines line kept. A song object is tens of kilobytes; a longer line is rejected
/// and skipped to its end without being held, so one broken or hostile line cannot exhaust
/// memory.
const MAX_LINE_BYTES: usize = 16 << 20;
/// Largest array item or multi-line document read. A lyricsgenius artist file (every song of an
/// artist, lyrics included) is a few megabytes; past this, the record is refused and the rest
/// of the input skipped (it cannot be resynchronised), so one hostile record cannot make the
/// parser build a tree of hundreds of megabytes.
const MAX_RECORD_BYTES: u64 = 64 << 20;

/// Where a record was in its input, for rejection messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Line(u64),
    Item(u64),
    Document(u64),
    /// The `song`-th entry (from 1) of the `songs` array of a lyricsgenius artist object.
    ArtistSong {
        artist: ArtistPlace,
        song: u64,
    },
}

/// Where the artist object of an [`Place::ArtistSong`] was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtistPlace {
    Line(u64),
    Item(u64),
    Document(u64),
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Line(n) => write!(f, "line {n}"),
            Place::Item(n) => write!(f, "item {n}"),
            Place::Document(n) => write!(f, "document {n}"),
            Place::ArtistSong { artist, song } => {
                let outer = match *artist {
                    ArtistPlace::Line(n) => Place::Line(n),
                    ArtistPlace::Item(n) => Place::Item(n),
                    ArtistPlace::Document(n) => Place::Document(n),
                };
                write!(f, "{outer}, song {song}")
            }
        }
    }
}

impl Place {
    fn as_artist(self) -> Option<ArtistPlace> {
        match self {
            Place::Line(n) => Some(ArtistPlace::Line(n)),
            Place::Item(n) => Some(ArtistPlace::Item(n)),
            Place::Document(n) => Some(ArtistPlace::Document(n)),
            Place::ArtistSong { .. } => None,
        }
    }
}

/// A record as read, before parsing: parsing happens in batches on other threads.
pub(crate) enum Raw {
    /// A line of JSON Lines, as text.
    Line(String),
    /// A JSON value from an array or a document.
    Value(Value),
    /// Damage found while reading (the reason).
    Invalid(String),
}

/// What the reader hands on: every record with its place, in input order.
pub(crate) trait Sink {
    /// Takes one record; an error stops the reading (the consumer is gone).
    fn push(&mut self, place: Place, raw: Raw) -> Result<(), Stop>;
}

/// The consumer stopped taking records.
#[derive(Debug)]
pub(crate) struct Stop;

pub(crate) enum ReadError {
    Stopped,
    Io(std::io::Error),
}

impl From<Stop> for ReadError {
    fn from(_: Stop) -> ReadError {
        ReadError::Stopped
    }
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> ReadError {
        ReadError::Io(e)
    }
}

/// Reads every record of `input` into `sink`.
///
/// Chooses the layout from the first bytes: `[` is an array; a first line that is a whole JSON
/// value means JSON Lines; otherwise the input is one or more multi-line documents.
pub(crate) fn read_input(input: impl BufRead, sink: &mut dyn Sink) -> Result<(), ReadError> {
    read_input_limited(input, sink, MAX_RECORD_BYTES)
}

/// [`read_input`] with `limit` bytes per array item or document.
fn read_input_limited(
    mut input: impl BufRead,
    sink: &mut dyn Sink,
    limit: u64,
) -> Result<(), ReadError> {
    if let Some((format, command)) = compression(input.fill_buf()?) {
        // Read as text, every line would be rejected: the input is refused whole instead.
        return Err(ReadError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{format}-compressed; decompress it first (e.g. `{command} FILE | songrec import -`)"
            ),
        )));
    }
    let mut blank_lines = 0;
    let first = loop {
        let buf = input.fill_buf()?;
        let start = buf.iter().position(|b| !b.is_ascii_whitespace());
        let skipped = start.unwrap_or(buf.len());
        blank_lines += buf[..skipped].iter().filter(|b| **b == b'\n').count() as u64;
        match start {
            Some(i) => {
                let byte = buf[i];
                input.consume(i);
                break Some(byte);
            }
            None if buf.is_empty() => break None,
            None => input.consume(skipped),
        }
    };
    match first {
        None => Ok(()),
        Some(b'[') => read_array(input, sink, limit),
        Some(_) => {
            let mut first_line = Vec::new();
            let (_, cut) = read_line_capped(&mut input, &mut first_line)?;
            match serde_json::from_slice::<serde::de::IgnoredAny>(&first_line) {
                Err(e) if e.is_eof() && !cut => {
                    let input = std::io::Cursor::new(first_line).chain(input);
                    read_documents(input, sink, limit)
                }
                _ => read_lines(1 + blank_lines, (first_line, cut), input, sink),
            }
        }
    }
}

/// The compressed format `start` (an input's first bytes) begins with, and the command that
/// decompresses it; `None` for anything else (JSON starts with whitespace, `[` or `{`).
fn compression(start: &[u8]) -> Option<(&'static str, &'static str)> {
    const FORMATS: [(&[u8], &str, &str); 4] = [
        (b"\xfd7zXZ\x00", "xz", "xz -dc"),
        (b"\x1f\x8b", "gzip", "gzip -dc"),
        (b"\x28\xb5\x2f\xfd", "zstd", "zstd -dc"),
        (b"BZh", "bzip2", "bzip2 -dc"),
    ];
    FORMATS
        .iter()
        .find(|(magic, _, _)| start.starts_with(magic))
        .map(|&(_, format, command)| (format, command))
}

/// JSON Lines from `first` (a line and whether it was cut at [`MAX_LINE_BYTES`]) on.
fn read_lines(
    first_number: u64,
    first: (Vec<u8>, bool),
    mut input: impl BufRead,
    sink: &mut dyn Sink,
) -> Result<(), ReadError> {
    let (mut line, mut cut) = first;
    let mut number = first_number;
    loop {
        let place = Place::Line(number);
        if cut {
            let reason = format!("line longer than {MAX_LINE_BYTES} bytes; skipped");
            sink.push(place, Raw::Invalid(reason))?;
        } else {
            // The line's buffer becomes the record's text (no copy); the next line gets a new one.
            let capacity = line.len().clamp(1 << 10, 1 << 20);
            let bytes = std::mem::replace(&mut line, Vec::with_capacity(capacity));
            match String::from_utf8(bytes) {
                Ok(text) => {
                    let text = trimmed(text);
                    if !text.is_empty() {
                        sink.push(place, Raw::Line(text))?;
                    }
                }
                Err(e) => {
                    let reason =
                        format!("not valid UTF-8 (at byte {})", e.utf8_error().valid_up_to());
                    sink.push(place, Raw::Invalid(reason))?;
                }
            }
        }
        let (read, was_cut) = read_line_capped(&mut input, &mut line)?;
        if read == 0 {
            return Ok(());
        }
        cut = was_cut;
        number += 1;
    }
}

/// `text` without its leading and trailing whitespace, in place.
fn trimmed(mut text: String) -> String {
    text.truncate(text.trim_end().len());
    let leading = text.len() - text.trim_start().len();
    text.drain(..leading);
    text
}

/// Reads one line (up to and with its `\n`) into `line`, keeping at most [`MAX_LINE_BYTES`] of
/// it and skipping the rest. Returns the bytes the line took (0 at the end of the input) and
/// whether it was cut.
fn read_line_capped(
    input: &mut impl BufRead,
    line: &mut Vec<u8>,
) -> std::io::Result<(usize, bool)> {
    line.clear();
    let mut took = 0;
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok((took, took > line.len()));
        }
        let (n, done) = match memchr::memchr(b'\n', buf) {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        let room = MAX_LINE_BYTES.saturating_sub(line.len());
        line.extend_from_slice(&buf[..n.min(room)]);
        input.consume(n);
        took += n;
        if done {
            return Ok((took, took > line.len()));
        }
    }
}

fn read_array(input: impl BufRead, sink: &mut dyn Sink, limit: u64) -> Result<(), ReadError> {
    let (input, used) = RecordLimit::new(input, limit);
    let mut de = serde_json::Deserializer::from_reader(input);
    let mut items = 0u64;
    let mut stopped = false;
    let result = ArrayItems {
        on_item: &mut |value: Value| {
            items += 1;
            used.set(0);
            match sink.push(Place::Item(items), Raw::Value(value)) {
                Ok(()) => true,
                Err(Stop) => {
                    stopped = true;
                    false
                }
            }
        },
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    if stopped {
        return Err(ReadError::Stopped);
    }
    if let Err(e) = result {
        let reason = format!("{}; the rest of the array is skipped", refusal(e, limit)?);
        sink.push(Place::Item(items + 1), Raw::Invalid(reason))?;
    }
    Ok(())
}

fn read_documents(input: impl Read, sink: &mut dyn Sink, limit: u64) -> Result<(), ReadError> {
    let (input, used) = RecordLimit::new(input, limit);
    let documents = serde_json::Deserializer::from_reader(input).into_iter::<Value>();
    for (i, document) in documents.enumerate() {
        let place = Place::Document(i as u64 + 1);
        match document {
            Ok(value) => {
                used.set(0);
                sink.push(place, Raw::Value(value))?;
            }
            Err(e) => {
                let reason = format!("{}; the rest of the file is skipped", refusal(e, limit)?);
                sink.push(place, Raw::Invalid(reason))?;
                break;
            }
        }
    }
    Ok(())
}

/// Why a record is refused, for a parse error that is about the record (invalid JSON, over
/// the size limit); a read error of the input itself fails the import.
fn refusal(e: serde_json::Error, limit: u64) -> Result<String, ReadError> {
    if !e.is_io() {
        return Ok(format!("invalid JSON: {e}"));
    }
    let e = std::io::Error::from(e);
    if e.get_ref()
        .is_some_and(|inner| inner.is::<RecordTooLarge>())
    {
        return Ok(format!("a record larger than {limit} bytes"));
    }
    Err(ReadError::Io(e))
}

/// The error [`RecordLimit`] reads fail with.
#[derive(Debug)]
struct RecordTooLarge;

impl std::fmt::Display for RecordTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("record too large")
    }
}

impl std::error::Error for RecordTooLarge {}

/// A reader that fails once more than `limit` bytes were read since the counter (shared with
/// the caller, who zeroes it after each record) was last reset.
struct RecordLimit<R> {
    inner: R,
    used: std::rc::Rc<std::cell::Cell<u64>>,
    limit: u64,
}

impl<R: Read> RecordLimit<R> {
    fn new(inner: R, limit: u64) -> (RecordLimit<R>, std::rc::Rc<std::cell::Cell<u64>>) {
        let used = std::rc::Rc::new(std::cell::Cell::new(0));
        let reader = RecordLimit {
            inner,
            used: used.clone(),
            limit,
        };
        (reader, used)
    }
}

impl<R: Read> Read for RecordLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let used = self.used.get() + n as u64;
        self.used.set(used);
        if used > self.limit {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                RecordTooLarge,
            ));
        }
        Ok(n)
    }
}

/// Streams the items of a JSON array to a callback, which returns `false` to stop.
struct ArrayItems<'f, F: FnMut(Value) -> bool> {
    on_item: &'f mut F,
}

impl<'de, F: FnMut(Value) -> bool> DeserializeSeed<'de> for ArrayItems<'_, F> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(Value) -> bool> Visitor<'de> for ArrayItems<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of song objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(item) = seq.next_element::<Value>()? {
            if !(self.on_item)(item) {
                return Err(A::Error::custom("import stopped"));
            }
        }
        Ok(())
    }
}

/// The songs one record stands for: one song, or each song of a lyricsgenius artist object.
pub(crate) fn parse_record(place: Place, raw: Raw) -> Vec<(Place, Result<ImportedSong, String>)> {
    match raw {
        Raw::Invalid(reason) => vec![(place, Err(reason))],
        Raw::Line(text) => {
            // Most lines are bare song objects: parsed straight into the typed form, skipping
            // the generic JSON tree, they keep the line itself as their raw JSON.
            if let Ok(song) = serde_json::from_str::<songrec_genius::types::Song>(&text)
                && song.id.is_some()
                && let Ok(song) = song.into_catalog()
            {
                return vec![(place, Ok(ImportedSong { song, raw: text }))];
            }
            match serde_json::from_str::<Value>(&text) {
                Ok(value) => parse_value(place, value),
                Err(e) => vec![(place, Err(format!("invalid JSON: {e}")))],
            }
        }
        Raw::Value(value) => parse_value(place, value),
    }
}

fn parse_value(place: Place, mut value: Value) -> Vec<(Place, Result<ImportedSong, String>)> {
    if let Some(artist) = place.as_artist()
        && let Some(songs) = artist_songs(&mut value)
    {
        return songs
            .into_iter()
            .enumerate()
            .map(|(i, song)| {
                let place = Place::ArtistSong {
                    artist,
                    song: i as u64 + 1,
                };
                (place, to_imported(without_lyricsgenius_keys(song)))
            })
            .collect();
    }
    vec![(place, to_imported(value))]
}

/// The `songs` of a lyricsgenius artist object: an object with a `songs` array and no `title`
/// (a song object always has a title; an artist object never does).
fn artist_songs(value: &mut Value) -> Option<Vec<Value>> {
    let object = value.as_object_mut()?;
    if object.contains_key("title") || !object.get("songs").is_some_and(Value::is_array) {
        return None;
    }
    match object.remove("songs") {
        Some(Value::Array(songs)) => Some(songs),
        _ => None,
    }
}

/// A song as Genius sent it: lyricsgenius adds the lyrics and a copy of the artist's name.
fn without_lyricsgenius_keys(mut song: Value) -> Value {
    if let Some(object) = song.as_object_mut() {
        for key in ["lyrics", "artist"] {
            if object
                .get(key)
                .is_some_and(|v| v.is_string() || v.is_null())
            {
                object.remove(key);
            }
        }
    }
    song
}

/// The song in `value` (unwrapped from its envelope, if any) and its JSON text to keep.
fn to_imported(value: Value) -> Result<ImportedSong, String> {
    let song_value = songrec_genius::types::song_object(value).map_err(|e| e.to_string())?;
    let raw = song_value.to_string();
    let song = songrec_genius::parse_song_value(song_value).map_err(|e| e.to_string())?;
    Ok(ImportedSong { song, raw })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `input` and parses every record, as an import does.
    fn read(input: &str) -> Vec<(Place, Result<ImportedSong, String>)> {
        struct Collect(Vec<(Place, Result<ImportedSong, String>)>);
        impl Sink for Collect {
            fn push(&mut self, place: Place, raw: Raw) -> Result<(), Stop> {
                self.0.extend(parse_record(place, raw));
                Ok(())
            }
        }
        let mut sink = Collect(Vec::new());
        assert!(read_input(input.as_bytes(), &mut sink).is_ok());
        sink.0
    }

    fn counts(records: &[(Place, Result<ImportedSong, String>)]) -> (usize, usize) {
        let rejected = records.iter().filter(|(_, r)| r.is_err()).count();
        (records.len(), rejected)
    }

    fn songs(records: Vec<(Place, Result<ImportedSong, String>)>) -> Vec<ImportedSong> {
        records.into_iter().filter_map(|(_, r)| r.ok()).collect()
    }

    const SONG: &str = r#"{"id": 1, "title": "T", "primary_artist": {"id": 2, "name": "A"}}"#;

    #[test]
    fn a_compressed_input_is_refused_whole_saying_how_to_read_it() {
        struct Count(usize);
        impl Sink for Count {
            fn push(&mut self, _: Place, _: Raw) -> Result<(), Stop> {
                self.0 += 1;
                Ok(())
            }
        }
        let xz: &[u8] = b"\xfd7zXZ\x00\x00\x04\xe6\xd6\xb4F\x02\x00!\x01\n";
        let gzip: &[u8] = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\n\x03";
        for (input, format) in [(xz, "xz"), (gzip, "gzip")] {
            let mut sink = Count(0);
            match read_input(input, &mut sink) {
                Err(ReadError::Io(e)) => {
                    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
                    assert!(
                        e.to_string().starts_with(&format!("{format}-compressed")),
                        "{e}"
                    );
                }
                _ => panic!("{format} input was read"),
            }
            assert_eq!(sink.0, 0);
        }
        // Plain JSON is read as ever.
        assert_eq!(counts(&read(&format!("{SONG}\n"))), (1, 0));
    }

    #[test]
    fn json_lines_keep_each_line_as_the_raw_object_and_count_bad_lines() {
        let input = format!("\n{SONG}\n\nnot json\n{{\"id\": 3}}\n");
        let records = read(&input);
        assert_eq!(counts(&records), (3, 2));
        assert_eq!(records[1].0, Place::Line(4));
        let songs = songs(records);
        assert_eq!(songs.len(), 1);
        assert_eq!(songs[0].raw, SONG);
    }

    #[test]
    fn an_array_of_envelopes_keeps_the_unwrapped_song_objects() {
        let input = format!(
            "[\n {{\"meta\": {{\"status\": 200}}, \"response\": {{\"song\": {SONG}}}}},\n 7\n]"
        );
        let records = read(&input);
        assert_eq!(counts(&records), (2, 1));
        let raw: Value = serde_json::from_str(&songs(records)[0].raw).unwrap();
        assert_eq!(raw, serde_json::from_str::<Value>(SONG).unwrap());
    }

    #[test]
    fn a_pretty_printed_envelope_is_one_document() {
        let pretty = serde_json::to_string_pretty(&serde_json::json!({
            "meta": {"status": 200},
            "response": {"song": serde_json::from_str::<Value>(SONG).unwrap()}
        }))
        .unwrap();
        let records = read(&pretty);
        assert_eq!(counts(&records), (1, 0));
        assert_eq!(songs(records)[0].song.id, 1);
    }

    #[test]
    fn a_truncated_array_keeps_the_items_before_the_damage() {
        let input = format!("[{SONG}, {SONG}, {{\"id\": ");
        let records = read(&input);
        assert_eq!(counts(&records), (3, 1));
    }

    #[test]
    fn a_long_line_is_rejected_without_being_held_and_invalid_utf8_is_rejected_with_its_line() {
        let mut input = format!("{SONG}\n").into_bytes();
        input.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES + 10));
        input.extend_from_slice(b"\n{\"id\": 9, \"title\": \"caf\xe9\"}\n");
        input.extend_from_slice(format!("{SONG}\n").as_bytes());
        struct Collect(Vec<(Place, Result<ImportedSong, String>)>);
        impl Sink for Collect {
            fn push(&mut self, place: Place, raw: Raw) -> Result<(), Stop> {
                self.0.extend(parse_record(place, raw));
                Ok(())
            }
        }
        let mut sink = Collect(Vec::new());
        assert!(read_input(input.as_slice(), &mut sink).is_ok());
        assert_eq!(counts(&sink.0), (4, 2));
        assert_eq!(sink.0[1].0, Place::Line(2));
        assert_eq!(sink.0[2].0, Place::Line(3));
        let mut line = Vec::new();
        let mut long = std::io::Cursor::new(input[SONG.len() + 1..].to_vec());
        let (took, cut) = read_line_capped(&mut long, &mut line).unwrap();
        assert_eq!((took, cut), (MAX_LINE_BYTES + 11, true));
        assert_eq!(line.len(), MAX_LINE_BYTES);
    }

    #[test]
    fn an_array_item_or_document_over_the_limit_is_refused_and_the_rest_skipped() {
        struct Collect(Vec<(Place, Result<ImportedSong, String>)>);
        impl Sink for Collect {
            fn push(&mut self, place: Place, raw: Raw) -> Result<(), Stop> {
                self.0.extend(parse_record(place, raw));
                Ok(())
            }
        }
        let big = format!(
            r#"{{"id": 5, "title": "{}", "primary_artist": {{"id": 2, "name": "A"}}}}"#,
            "x".repeat(4096)
        );
        let limit = 1024;
        for input in [
            format!("[{SONG}, {SONG}, {big}, {SONG}]"),
            format!(
                "{{\n\"id\": 1, \"title\": \"T\",\n\"primary_artist\": {{\"id\": 2, \"name\": \"A\"}}}}\n{SONG}\n{big}\n{SONG}"
            ),
        ] {
            let mut sink = Collect(Vec::new());
            assert!(read_input_limited(input.as_bytes(), &mut sink, limit).is_ok());
            assert_eq!(counts(&sink.0), (3, 1), "{input:.80}");
            let (place, refused) = &sink.0[2];
            assert!(
                matches!(place, Place::Item(3) | Place::Document(3)),
                "{place}"
            );
            let reason = refused.as_ref().unwrap_err();
            assert!(reason.contains("larger than"), "{reason}");
        }
        // Under the limit, the same inputs import whole.
        let input = format!("[{SONG}, {big}]");
        assert_eq!(counts(&read(&input)), (2, 0));
    }

    #[test]
    fn empty_input_reads_nothing() {
        assert!(read(" \n\n").is_empty());
    }

    fn artist_object() -> Value {
        let mut song: Value = serde_json::from_str(SONG).unwrap();
        song["lyrics"] = "la la".into();
        song["artist"] = "A".into();
        let mut second = song.clone();
        second["id"] = 5.into();
        serde_json::json!({
            "id": 2, "name": "A", "description": {"plain": "an artist"},
            "songs": [song, {"id": 9}, second]
        })
    }

    #[test]
    fn a_lyricsgenius_artist_file_gives_each_song_without_the_lyrics_and_artist_keys() {
        let pretty = serde_json::to_string_pretty(&artist_object()).unwrap();
        let records = read(&pretty);
        assert_eq!(counts(&records), (3, 1));
        let places: Vec<String> = records.iter().map(|(p, _)| p.to_string()).collect();
        assert_eq!(
            places,
            [
                "document 1, song 1",
                "document 1, song 2",
                "document 1, song 3"
            ]
        );
        let songs = songs(records);
        assert_eq!(songs.iter().map(|s| s.song.id).collect::<Vec<_>>(), [1, 5]);
        let raw: Value = serde_json::from_str(&songs[0].raw).unwrap();
        assert_eq!(raw, serde_json::from_str::<Value>(SONG).unwrap());
    }

    #[test]
    fn an_artist_object_on_one_line_or_in_an_array_is_read_the_same() {
        let line = artist_object().to_string();
        let records = read(&format!("{line}\n{SONG}\n"));
        assert_eq!(counts(&records), (4, 1));
        assert_eq!(records[3].0, Place::Line(2));
        let records = read(&format!("[{line}]"));
        assert_eq!(counts(&records), (3, 1));
        assert_eq!(records[0].0.to_string(), "item 1, song 1");
    }

    #[test]
    fn an_artist_object_without_songs_is_rejected_as_not_a_song() {
        let records = read(r#"{"id": 2, "name": "A", "songs": []}"#);
        assert!(records.is_empty());
        let records = read(r#"{"id": 2, "name": "A"}"#);
        assert_eq!(counts(&records), (1, 1));
    }
}
