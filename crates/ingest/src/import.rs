//! The import pipeline: a reader thread reads every input in turn and parses its records in
//! batches on all cores, in input order, preparing each song's rows for the store
//! ([`PreparedSong`]) on the same threads; the caller's task only writes the prepared songs to
//! the store while the next batch is being read and parsed.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use songrec_store::{PreparedSong, Store, StoreError, UpsertCounts};
use tokio::sync::mpsc;

use crate::read::{Place, Raw, ReadError, Sink, Stop, parse_record, read_input};

/// Records parsed together on the worker threads.
const PARSE_BATCH: usize = 2_000;
/// Songs handed to the store at a time; the store splits them into its own transactions.
const SEND_BATCH: usize = 5_000;

/// What an import tells its caller while it runs (rejections are reported as they are found,
/// in input order).
pub trait ImportObserver: Send + Sync {
    /// A record that is not a usable song, and why; the rest is still imported.
    fn rejected(&self, input: &str, place: Place, reason: &str);
    /// An input that cannot be read (missing file, unreadable directory, I/O error).
    fn unreadable(&self, input: &str, error: &std::io::Error);
    /// The store has taken another batch; `total` counts every song written so far.
    fn written(&self, _total: UpsertCounts) {}
    /// Wraps each input as it is opened (a progress bar counting bytes, for instance).
    fn wrap<'a>(&self, input: Box<dyn Read + 'a>) -> Box<dyn Read + 'a> {
        input
    }
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Records seen: lines of JSON Lines, items of arrays, whole documents, songs of
    /// lyricsgenius artist objects.
    pub read: u64,
    pub rejected: u64,
    /// Inputs that could not be read (each reported to the observer).
    pub unreadable_inputs: u64,
    pub counts: UpsertCounts,
}

/// The files an import reads for `paths`: `-` is standard input; a directory stands for the
/// `.json` and `.jsonl` files directly in it (lyricsgenius `Lyrics_<Artist>.json` files, saved
/// API responses), by name.
pub fn input_files(paths: &[PathBuf]) -> Vec<Result<PathBuf, (PathBuf, std::io::Error)>> {
    let mut out = Vec::new();
    for path in paths {
        if path == Path::new("-") || !path.is_dir() {
            out.push(Ok(path.clone()));
            continue;
        }
        match std::fs::read_dir(path) {
            Ok(entries) => {
                let mut files: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.is_file() && is_json_name(p))
                    .collect();
                files.sort();
                out.extend(files.into_iter().map(Ok));
            }
            Err(e) => out.push(Err((path.clone(), e))),
        }
    }
    out
}

fn is_json_name(path: &Path) -> bool {
    let visible = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| !n.starts_with('.'));
    let json = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("json") || e.eq_ignore_ascii_case("jsonl"));
    visible && json
}

/// Imports every input of `paths` (see [`input_files`]) into `store`.
///
/// Fails only when the store fails; unreadable inputs and rejected records are counted and
/// reported to `observer`, and everything else is imported.
pub async fn import_paths(
    store: &Store,
    paths: Vec<PathBuf>,
    observer: Arc<dyn ImportObserver>,
) -> Result<ImportReport, StoreError> {
    let load = store.begin_bulk_load().await?;
    let (tx, mut rx) = mpsc::channel::<Vec<PreparedSong>>(2);
    let reader = {
        let observer = observer.clone();
        std::thread::spawn(move || read_all(&paths, &tx, observer.as_ref()))
    };
    let mut counts = UpsertCounts::default();
    let mut write_error = None;
    while let Some(batch) = rx.recv().await {
        let written = store.upsert_prepared_songs(&load, &batch).await;
        // Freeing a batch (a few dozen allocations per song) is work the writer need not wait for.
        rayon::spawn(move || drop(batch));
        match written {
            Ok(c) => {
                counts += c;
                observer.written(counts);
            }
            Err(e) => {
                // Closing the channel stops the reader at its next batch.
                write_error = Some(e);
                break;
            }
        }
    }
    drop(rx);
    // The reader only ends by itself or at its next send, so this wait is short.
    let report = tokio::task::spawn_blocking(move || reader.join())
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    // The deferred indexes are built after a failed write too; its error is the one reported.
    let finished = store.finish_bulk_load(load).await;
    if let Some(e) = write_error {
        return Err(e);
    }
    finished?;
    Ok(ImportReport { counts, ..report })
}

fn read_all(
    paths: &[PathBuf],
    tx: &mpsc::Sender<Vec<PreparedSong>>,
    observer: &dyn ImportObserver,
) -> ImportReport {
    let mut batches = Batches {
        name: String::new(),
        pending: Vec::with_capacity(PARSE_BATCH),
        songs: Vec::with_capacity(SEND_BATCH),
        tx,
        observer,
        report: ImportReport::default(),
    };
    for file in input_files(paths) {
        let path = match file {
            Ok(path) => path,
            Err((path, e)) => {
                observer.unreadable(&path.display().to_string(), &e);
                batches.report.unreadable_inputs += 1;
                continue;
            }
        };
        let (name, input): (String, std::io::Result<Box<dyn Read>>) = if path == Path::new("-") {
            ("<stdin>".into(), Ok(Box::new(std::io::stdin().lock())))
        } else {
            let input = File::open(&path).map(|f| Box::new(f) as Box<dyn Read>);
            (path.display().to_string(), input)
        };
        let input = match input {
            Ok(input) => observer.wrap(input),
            Err(e) => {
                observer.unreadable(&name, &e);
                batches.report.unreadable_inputs += 1;
                continue;
            }
        };
        batches.name = name;
        let outcome = read_input(BufReader::with_capacity(1 << 20, input), &mut batches)
            .and_then(|()| batches.parse_pending().map_err(ReadError::from));
        match outcome {
            Ok(()) => {}
            Err(ReadError::Stopped) => return batches.report,
            Err(ReadError::Io(e)) => {
                // Records read before the error are still imported.
                if batches.parse_pending().is_err() {
                    return batches.report;
                }
                observer.unreadable(&batches.name, &e);
                batches.report.unreadable_inputs += 1;
            }
        }
    }
    let _ = batches.send();
    batches.report
}

/// Records of the current input waiting to be parsed, and parsed songs waiting to be sent.
struct Batches<'a> {
    name: String,
    pending: Vec<(Place, Raw)>,
    songs: Vec<PreparedSong>,
    tx: &'a mpsc::Sender<Vec<PreparedSong>>,
    observer: &'a dyn ImportObserver,
    report: ImportReport,
}

impl Sink for Batches<'_> {
    fn push(&mut self, place: Place, raw: Raw) -> Result<(), Stop> {
        self.pending.push((place, raw));
        if self.pending.len() >= PARSE_BATCH {
            self.parse_pending()?;
        }
        Ok(())
    }
}

impl Batches<'_> {
    /// Parses the pending records and prepares their rows for the store on all cores, then
    /// counts, reports and queues them in order.
    fn parse_pending(&mut self) -> Result<(), Stop> {
        let pending = std::mem::replace(&mut self.pending, Vec::with_capacity(PARSE_BATCH));
        let parsed: Vec<Vec<(Place, Result<PreparedSong, String>)>> = pending
            .into_par_iter()
            .map(|(place, raw)| {
                parse_record(place, raw)
                    .into_iter()
                    .map(|(place, song)| (place, song.map(PreparedSong::new)))
                    .collect()
            })
            .collect();
        for (place, result) in parsed.into_iter().flatten() {
            self.report.read += 1;
            match result {
                Ok(song) => {
                    self.songs.push(song);
                    if self.songs.len() >= SEND_BATCH {
                        self.send()?;
                    }
                }
                Err(reason) => {
                    self.report.rejected += 1;
                    self.observer.rejected(&self.name, place, &reason);
                }
            }
        }
        Ok(())
    }

    fn send(&mut self) -> Result<(), Stop> {
        if self.songs.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.songs, Vec::with_capacity(SEND_BATCH));
        self.tx.blocking_send(batch).map_err(|_| Stop)
    }
}
