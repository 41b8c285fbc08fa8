//! `songrec import`: songs from JSONL, JSON arrays or saved Genius API responses, upserted
//! into the store.
//!
//! A reader thread parses while the store writes the previous batch. A record that is not a
//! usable song is reported on stderr with its place and reason and the rest is still imported.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::de::{DeserializeSeed, Error as _, SeqAccess, Visitor};
use serde_json::Value;
use songrec_store::{ImportedSong, UpsertCounts};
use tokio::sync::mpsc;

use super::Settings;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files of Genius song objects: JSON Lines, a JSON array, or saved API responses
    /// (`{"meta":..,"response":{"song":..}}`). `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// Songs handed to the store at a time; the store splits them into its own transactions.
const SEND_BATCH: usize = 2_000;

/// Longest JSON Lines line kept. A song object is tens of kilobytes; a longer line is rejected
/// and skipped to its end without being held, so one broken or hostile line cannot exhaust
/// memory.
const MAX_LINE_BYTES: usize = 16 << 20;

pub async fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    let store = settings.open_store().await?;
    let progress = progress_bar(&args.files);
    let (tx, mut rx) = mpsc::channel::<Vec<ImportedSong>>(2);
    let reader = {
        let progress = progress.clone();
        std::thread::spawn(move || read_files(&args.files, &tx, &progress))
    };

    let mut counts = UpsertCounts::default();
    let mut write_error = None;
    while let Some(batch) = rx.recv().await {
        match store.upsert_songs(&batch).await {
            Ok(c) => {
                counts += c;
                progress.set_message(format!(
                    "{} songs written",
                    counts.inserted + counts.updated
                ));
            }
            Err(e) => {
                // Closing the channel stops the reader at its next batch.
                write_error = Some(e);
                break;
            }
        }
    }
    drop(rx);
    let stats = reader
        .join()
        .map_err(|_| anyhow::anyhow!("the import reader thread panicked"))?;
    progress.finish_and_clear();
    if let Some(e) = write_error {
        return Err(e).context("cannot write songs to the store");
    }

    println!(
        "read {}, inserted {}, updated {}, rejected {}",
        stats.read, counts.inserted, counts.updated, stats.rejected
    );
    let valid = stats.read - stats.rejected;
    if stats.unreadable_files > 0 || valid == 0 {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// A byte-counting bar on a terminal, nothing otherwise (pipes and logs stay clean).
fn progress_bar(files: &[PathBuf]) -> ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let sizes: Option<u64> = files
        .iter()
        .map(|f| (f != Path::new("-")).then(|| std::fs::metadata(f).ok().map(|m| m.len()))?)
        .sum();
    let bar = match sizes {
        Some(total) => ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
            .with_style(
                ProgressStyle::with_template(
                    "{bar:30} {binary_bytes}/{binary_total_bytes} {msg} ({eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {binary_bytes} read, {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

#[derive(Debug, Default)]
struct ReadStats {
    /// Records seen: lines of JSON Lines, items of arrays, whole documents.
    read: u64,
    rejected: u64,
    unreadable_files: u64,
}

/// The store stopped taking batches (it failed; the error is reported by the writer).
struct WriterGone;

fn read_files(
    files: &[PathBuf],
    tx: &mpsc::Sender<Vec<ImportedSong>>,
    progress: &ProgressBar,
) -> ReadStats {
    let mut stats = ReadStats::default();
    for path in files {
        let (name, input): (String, Result<Box<dyn Read>, std::io::Error>) =
            if path == Path::new("-") {
                ("<stdin>".into(), Ok(Box::new(std::io::stdin().lock())))
            } else {
                let input = File::open(path).map(|f| Box::new(f) as Box<dyn Read>);
                (path.display().to_string(), input)
            };
        let input = match input {
            Ok(input) => input,
            Err(e) => {
                progress.suspend(|| eprintln!("error: cannot read {name}: {e}"));
                stats.unreadable_files += 1;
                continue;
            }
        };
        let mut source = Source {
            name: &name,
            batch: Vec::with_capacity(SEND_BATCH),
            tx,
            stats: &mut stats,
            progress,
        };
        let outcome = source.read(BufReader::with_capacity(1 << 20, progress.wrap_read(input)));
        let outcome = outcome.and_then(|()| source.flush().map_err(ReadError::from));
        match outcome {
            Ok(()) => {}
            Err(ReadError::WriterGone) => break,
            Err(ReadError::Io(e)) => {
                progress.suspend(|| eprintln!("error: cannot read {name}: {e}"));
                stats.unreadable_files += 1;
            }
        }
    }
    stats
}

enum ReadError {
    WriterGone,
    Io(std::io::Error),
}

impl From<WriterGone> for ReadError {
    fn from(_: WriterGone) -> ReadError {
        ReadError::WriterGone
    }
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> ReadError {
        ReadError::Io(e)
    }
}

/// Where a record was in its file, for rejection messages.
#[derive(Debug, Clone, Copy)]
enum Place {
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
        }
    }
}

/// One input being read: its records go to the store in batches.
struct Source<'a> {
    name: &'a str,
    batch: Vec<ImportedSong>,
    tx: &'a mpsc::Sender<Vec<ImportedSong>>,
    stats: &'a mut ReadStats,
    progress: &'a ProgressBar,
}

impl Source<'_> {
    /// Chooses the format from the first bytes: `[` is an array; a first line that is a whole
    /// JSON value means JSON Lines; otherwise the input is one or more multi-line documents.
    fn read(&mut self, mut input: impl BufRead) -> Result<(), ReadError> {
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
            Some(b'[') => self.read_array(input),
            Some(_) => {
                let mut first_line = Vec::new();
                let (_, cut) = read_line_capped(&mut input, &mut first_line)?;
                match serde_json::from_slice::<Value>(&first_line) {
                    Err(e) if e.is_eof() && !cut => {
                        self.read_documents(std::io::Cursor::new(first_line).chain(input))
                    }
                    _ => self.read_lines(1 + blank_lines, (first_line, cut), input),
                }
            }
        }
    }

    /// JSON Lines from `first` (a line and whether it was cut at [`MAX_LINE_BYTES`]) on.
    fn read_lines(
        &mut self,
        first_number: u64,
        first: (Vec<u8>, bool),
        mut input: impl BufRead,
    ) -> Result<(), ReadError> {
        let (mut line, mut cut) = first;
        let mut number = first_number;
        loop {
            let place = Place::Line(number);
            if cut {
                let reason = format!("line longer than {MAX_LINE_BYTES} bytes; skipped");
                self.record(place, Err(reason))?;
            } else {
                match std::str::from_utf8(&line) {
                    Ok(text) if text.trim().is_empty() => {}
                    Ok(text) => self.record_line(place, text.trim())?,
                    Err(e) => {
                        let reason = format!("not valid UTF-8 (at byte {})", e.valid_up_to());
                        self.record(place, Err(reason))?;
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

    fn read_array(&mut self, input: impl BufRead) -> Result<(), ReadError> {
        let mut de = serde_json::Deserializer::from_reader(input);
        let mut items = 0u64;
        let mut writer_gone = false;
        let result = ArrayItems {
            on_item: &mut |value: Value| {
                items += 1;
                match self.record(Place::Item(items), Ok(value)) {
                    Ok(()) => true,
                    Err(WriterGone) => {
                        writer_gone = true;
                        false
                    }
                }
            },
        }
        .deserialize(&mut de)
        .and_then(|()| de.end());
        if writer_gone {
            return Err(ReadError::WriterGone);
        }
        if let Err(e) = result {
            if e.is_io() {
                return Err(ReadError::Io(e.into()));
            }
            let reason = format!("invalid JSON: {e}; the rest of the array is skipped");
            self.record(Place::Item(items + 1), Err(reason))?;
        }
        Ok(())
    }

    fn read_documents(&mut self, input: impl Read) -> Result<(), ReadError> {
        let documents = serde_json::Deserializer::from_reader(input).into_iter::<Value>();
        for (i, document) in documents.enumerate() {
            let place = Place::Document(i as u64 + 1);
            match document {
                Ok(value) => self.record(place, Ok(value))?,
                Err(e) if e.is_io() => return Err(ReadError::Io(e.into())),
                Err(e) => {
                    let reason = format!("invalid JSON: {e}; the rest of the file is skipped");
                    self.record(place, Err(reason))?;
                    break;
                }
            }
        }
        Ok(())
    }

    /// Like [`Source::record`] for a line of text. Most lines are bare song objects: those are
    /// parsed straight into the typed form, skipping the generic JSON tree, and keep the line
    /// itself as their raw JSON.
    fn record_line(&mut self, place: Place, text: &str) -> Result<(), WriterGone> {
        if let Ok(song) = serde_json::from_str::<songrec_genius::types::Song>(text)
            && song.id.is_some()
        {
            let imported = song.into_catalog().map(|song| ImportedSong {
                song,
                raw: text.to_string(),
            });
            return self.accept(place, imported.map_err(|e| e.to_string()));
        }
        let value = serde_json::from_str::<Value>(text).map_err(|e| format!("invalid JSON: {e}"));
        self.record(place, value)
    }

    /// Counts one record and queues it, or reports why it is rejected.
    fn record(&mut self, place: Place, value: Result<Value, String>) -> Result<(), WriterGone> {
        self.accept(
            place,
            value.and_then(|v| to_imported(v).map_err(|e| e.to_string())),
        )
    }

    fn accept(
        &mut self,
        place: Place,
        imported: Result<ImportedSong, String>,
    ) -> Result<(), WriterGone> {
        self.stats.read += 1;
        match imported {
            Ok(song) => {
                self.batch.push(song);
                if self.batch.len() >= SEND_BATCH {
                    self.flush()?;
                }
            }
            Err(reason) => {
                self.stats.rejected += 1;
                let name = self.name;
                self.progress
                    .suspend(|| eprintln!("{name}: {place}: rejected: {reason}"));
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), WriterGone> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(SEND_BATCH));
        self.tx.blocking_send(batch).map_err(|_| WriterGone)
    }
}

/// The song in `value` (unwrapped from its envelope, if any) and its JSON text to keep.
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
        let (n, done) = match buf.iter().position(|b| *b == b'\n') {
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

fn to_imported(value: Value) -> Result<ImportedSong, songrec_genius::ParseSongError> {
    let song_value = songrec_genius::types::song_object(value)?;
    let raw = song_value.to_string();
    let song = songrec_genius::parse_song_value(song_value)?;
    Ok(ImportedSong { song, raw })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn read(input: &str) -> (ReadStats, Vec<ImportedSong>) {
        let (tx, mut rx) = mpsc::channel(1000);
        let mut stats = ReadStats::default();
        let progress = ProgressBar::hidden();
        let mut source = Source {
            name: "test",
            batch: Vec::new(),
            tx: &tx,
            stats: &mut stats,
            progress: &progress,
        };
        assert!(source.read(input.as_bytes()).is_ok());
        assert!(source.flush().is_ok());
        drop(tx);
        let mut songs = Vec::new();
        while let Ok(batch) = rx.try_recv() {
            songs.extend(batch);
        }
        (stats, songs)
    }

    const SONG: &str = r#"{"id": 1, "title": "T", "primary_artist": {"id": 2, "name": "A"}}"#;

    #[test]
    fn json_lines_keep_each_line_as_the_raw_object_and_count_bad_lines() {
        let input = format!("\n{SONG}\n\nnot json\n{{\"id\": 3}}\n");
        let (stats, songs) = read(&input);
        assert_eq!((stats.read, stats.rejected), (3, 2));
        assert_eq!(songs.len(), 1);
        assert_eq!(songs[0].raw, SONG);
    }

    #[test]
    fn an_array_of_envelopes_keeps_the_unwrapped_song_objects() {
        let input = format!(
            "[\n {{\"meta\": {{\"status\": 200}}, \"response\": {{\"song\": {SONG}}}}},\n 7\n]"
        );
        let (stats, songs) = read(&input);
        assert_eq!((stats.read, stats.rejected), (2, 1));
        let raw: Value = serde_json::from_str(&songs[0].raw).unwrap();
        assert_eq!(raw, serde_json::from_str::<Value>(SONG).unwrap());
    }

    #[test]
    fn a_pretty_printed_envelope_is_one_document() {
        let pretty = serde_json::to_string_pretty(&serde_json::json!({
            "meta": {"status": 200},
            "response": {"song": serde_json::from_str::<Value>(SONG).unwrap()}
        }))
        .unwrap();
        let (stats, songs) = read(&pretty);
        assert_eq!((stats.read, stats.rejected), (1, 0));
        assert_eq!(songs[0].song.id, 1);
    }

    #[test]
    fn a_truncated_array_keeps_the_items_before_the_damage() {
        let input = format!("[{SONG}, {SONG}, {{\"id\": ");
        let (stats, songs) = read(&input);
        assert_eq!(songs.len(), 2);
        assert_eq!((stats.read, stats.rejected), (3, 1));
    }

    /// `prefix`, then `filler` bytes of `x` made as they are read (never held), then `suffix`.
    struct Generated {
        prefix: std::io::Cursor<Vec<u8>>,
        filler: usize,
        suffix: std::io::Cursor<Vec<u8>>,
    }

    impl Read for Generated {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.prefix.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            if self.filler > 0 {
                let n = buf.len().min(self.filler);
                buf[..n].fill(b'x');
                self.filler -= n;
                return Ok(n);
            }
            self.suffix.read(buf)
        }
    }

    fn read_from(input: impl Read) -> (ReadStats, Vec<ImportedSong>) {
        let (tx, mut rx) = mpsc::channel(1000);
        let mut stats = ReadStats::default();
        let progress = ProgressBar::hidden();
        let mut source = Source {
            name: "test",
            batch: Vec::new(),
            tx: &tx,
            stats: &mut stats,
            progress: &progress,
        };
        assert!(source.read(BufReader::new(input)).is_ok());
        assert!(source.flush().is_ok());
        drop(tx);
        let mut songs = Vec::new();
        while let Ok(batch) = rx.try_recv() {
            songs.extend(batch);
        }
        (stats, songs)
    }

    #[test]
    fn a_100_mb_line_is_rejected_without_being_held_and_the_next_lines_are_imported() {
        for first in [true, false] {
            let prefix = if first {
                String::new()
            } else {
                format!("{SONG}\n")
            };
            let input = Generated {
                prefix: std::io::Cursor::new(
                    format!("{prefix}{{\"id\": 5, \"title\": \"").into_bytes(),
                ),
                filler: 100 << 20,
                suffix: std::io::Cursor::new(format!("\"}}\n{SONG}\n").into_bytes()),
            };
            let (stats, songs) = read_from(input);
            let lines = if first { 2 } else { 3 };
            assert_eq!((stats.read, stats.rejected), (lines, 1), "first: {first}");
            assert_eq!(songs.len() as u64, lines - 1);
        }
        let mut line = Vec::new();
        let mut input = BufReader::new(Generated {
            prefix: std::io::Cursor::new(Vec::new()),
            filler: 100 << 20,
            suffix: std::io::Cursor::new(b"\nnext".to_vec()),
        });
        assert_eq!(
            read_line_capped(&mut input, &mut line).unwrap(),
            ((100 << 20) + 1, true)
        );
        assert!(line.capacity() < 2 * MAX_LINE_BYTES, "{}", line.capacity());
        assert_eq!(read_line_capped(&mut input, &mut line).unwrap(), (4, false));
        assert_eq!(line, b"next");
    }

    #[test]
    fn invalid_utf8_and_deep_nesting_are_rejected_with_their_line() {
        let mut input = format!("{SONG}\n").into_bytes();
        input.extend_from_slice(b"{\"id\": 9, \"title\": \"caf\xe9\"}\n");
        input.extend_from_slice(
            format!("{}{}\n", "[".repeat(100_000), "]".repeat(100_000)).as_bytes(),
        );
        input.extend_from_slice(format!("{SONG}\n").as_bytes());
        let (stats, songs) = read_from(input.as_slice());
        assert_eq!((stats.read, stats.rejected), (4, 2));
        assert_eq!(songs.len(), 2);
    }

    #[test]
    fn empty_input_reads_nothing() {
        let (stats, songs) = read(" \n\n");
        assert_eq!(stats.read, 0);
        assert!(songs.is_empty());
    }
}
