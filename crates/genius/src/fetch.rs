//! A fetch run: resolve an artist by name, walk their catalogue, fetch the songs that are new
//! or stale, and write each batch to the store as soon as it arrives.
//!
//! Writing as we go makes a run resumable: a killed run loses at most the songs in flight,
//! and the next run skips everything already stored (it is fresh).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;
use songrec_store::{FetchRunSummary, ImportedSong, Store, StoreError};
use unicode_normalization::UnicodeNormalization;

/// What [`Fetcher::stop_on`] takes; re-exported so callers need no extra dependency.
pub use tokio_util::sync::CancellationToken;

use crate::client::{CatalogueSort, GeniusClient, MAX_PER_PAGE, SongDetails};
use crate::types::SongSummary;
use crate::{GeniusError, parse_song_value};

/// Search pages looked through for an exact artist name before giving up.
const SEARCH_PAGES: u32 = 3;
/// Hits per search page (Genius accepts up to 50; 20 keeps responses small).
const SEARCH_PER_PAGE: u32 = 20;
/// Most catalogue pages walked per artist (50,000 songs; the largest Genius catalogues hold a
/// few thousand), so a server that keeps answering with a `next_page` cannot keep a run going.
const MAX_CATALOGUE_PAGES: u32 = 1000;
/// Most songs written in one transaction. Batches are whatever has arrived, up to this, so
/// a slow API never holds fetched songs back.
const WRITE_BATCH: usize = 16;

/// What a fetch does, beyond which artist.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Catalogue entries to look at per artist; `None` walks the whole catalogue.
    pub max_songs: Option<usize>,
    pub sort: CatalogueSort,
    /// A stored song written or confirmed unchanged more recently than this is not fetched again.
    pub refresh_after: Duration,
    /// Song details fetched at once (the client's own bound applies too).
    pub concurrency: usize,
    /// Plan only: resolve and walk the catalogue, fetch no details, write nothing.
    pub dry_run: bool,
    /// Keep each song's raw response (`song_<id>.json`, the API envelope) in this directory.
    pub save_raw: Option<PathBuf>,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            max_songs: Some(50),
            sort: CatalogueSort::Popularity,
            refresh_after: Duration::from_secs(7 * 24 * 3600),
            concurrency: 4,
            dry_run: false,
            save_raw: None,
        }
    }
}

/// Why a song is due for fetching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueReason {
    New,
    Stale,
}

/// A catalogue entry a run fetches (or, in a dry run, would fetch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedSong {
    pub id: u64,
    pub title: String,
    pub primary_artist: String,
    pub reason: DueReason,
}

/// How a song fetch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SongOutcome {
    Stored,
    /// 404, malformed or unusable response, or retries exhausted: logged and skipped.
    Skipped,
}

/// Told about progress as a run goes, for a progress bar or log lines.
pub trait FetchProgress: Send + Sync {
    /// `due` more songs will be fetched for `artist` (called once per catalogue page).
    fn songs_due(&self, _artist: &str, _due: usize) {}
    /// One due song is done.
    fn song_done(&self, _artist: &str, _id: u64, _outcome: SongOutcome) {}
}

/// Progress that goes nowhere.
pub struct NoProgress;
impl FetchProgress for NoProgress {}

/// What a fetch did for one artist.
#[derive(Debug, Clone, Default)]
pub struct ArtistReport {
    /// The name asked for.
    pub artist: String,
    /// The Genius artist it resolved to (`id`, name as Genius spells it).
    pub resolved: Option<(u64, String)>,
    /// The counts also recorded as the fetch run.
    pub summary: FetchRunSummary,
    /// Catalogue entries skipped because the stored copy is fresh.
    pub fresh: u64,
    /// Dry runs only: what would be fetched.
    pub planned: Vec<PlannedSong>,
}

/// Why a fetch stopped.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No search hit has this exact primary artist name.
    #[error("no Genius artist named {name:?}{}", nearest(.candidates))]
    ArtistNotFound {
        name: String,
        candidates: Vec<String>,
    },
    /// A request that the run cannot do without failed (the token, the search, a catalogue
    /// page). A failed song is not this: it is skipped.
    #[error(transparent)]
    Genius(#[from] GeniusError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The run was asked to stop (Ctrl-C); everything fetched before that is stored.
    #[error("interrupted")]
    Interrupted,
    #[error("cannot save the raw response in {path}: {source}")]
    SaveRaw {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl FetchError {
    /// Whether every further artist would fail the same way, so a multi-artist fetch stops.
    pub fn stops_everything(&self) -> bool {
        match self {
            FetchError::Genius(e) => e.is_auth(),
            FetchError::Store(_) | FetchError::SaveRaw { .. } | FetchError::Interrupted => true,
            FetchError::ArtistNotFound { .. } => false,
        }
    }
}

fn nearest(candidates: &[String]) -> String {
    if candidates.is_empty() {
        String::new()
    } else {
        format!(" (search found: {})", candidates.join(", "))
    }
}

/// Runs fetches against one client and one store.
pub struct Fetcher<'a> {
    client: &'a GeniusClient,
    store: &'a Store,
    options: FetchOptions,
    progress: &'a dyn FetchProgress,
    stop: CancellationToken,
}

impl<'a> Fetcher<'a> {
    pub fn new(
        client: &'a GeniusClient,
        store: &'a Store,
        options: FetchOptions,
        progress: &'a dyn FetchProgress,
    ) -> Fetcher<'a> {
        Fetcher {
            client,
            store,
            options,
            progress,
            stop: CancellationToken::new(),
        }
    }

    /// Stops runs when `stop` is cancelled: the batch being written is finished, the songs
    /// in flight are dropped, and the run is recorded as `interrupted`.
    pub fn stop_on(mut self, stop: CancellationToken) -> Fetcher<'a> {
        self.stop = stop;
        self
    }

    /// Fetches one artist's songs, recording the run (start, end, counts, status) unless it
    /// is a dry run. The report is returned on error too, inside the run record.
    #[tracing::instrument(skip(self), fields(dry_run = self.options.dry_run))]
    pub async fn fetch_artist(&self, name: &str) -> (ArtistReport, Result<(), FetchError>) {
        let mut report = ArtistReport {
            artist: name.to_string(),
            ..ArtistReport::default()
        };
        let run_id = if self.options.dry_run {
            None
        } else {
            match self.store.start_fetch_run(name).await {
                Ok(id) => Some(id),
                Err(e) => return (report, Err(e.into())),
            }
        };
        let result = self.walk_artist(name, &mut report).await;
        report.summary.status = match &result {
            Ok(()) => "succeeded",
            Err(FetchError::Interrupted) => "interrupted",
            Err(_) => "failed",
        }
        .into();
        report.summary.error = result.as_ref().err().map(ToString::to_string);
        if let Some(run_id) = run_id
            && let Err(e) = self.store.finish_fetch_run(run_id, &report.summary).await
        {
            return (report, result.and(Err(e.into())));
        }
        (report, result)
    }

    async fn walk_artist(&self, name: &str, report: &mut ArtistReport) -> Result<(), FetchError> {
        let artist = self
            .unless_stopped(resolve_artist(self.client, name))
            .await?;
        tracing::info!(artist = name, genius_id = artist.0, genius_name = %artist.1, "artist resolved");
        report.resolved = Some(artist.clone());
        let limit = self.options.max_songs.unwrap_or(usize::MAX);
        let mut seen_ids = HashSet::new();
        let mut page = Some(1);
        while let Some(number) = page.filter(|_| seen_ids.len() < limit) {
            let request =
                self.client
                    .artist_songs(artist.0, self.options.sort, number, MAX_PER_PAGE);
            let listing = self.unless_stopped(async { Ok(request.await?) }).await?;
            let mut entries = Vec::new();
            for song in listing.songs {
                if seen_ids.len() >= limit {
                    break;
                }
                // Pages can repeat an entry when the catalogue changes under a walk.
                if let Some(id) = song.id
                    && seen_ids.insert(id)
                {
                    entries.push(song);
                }
            }
            report.summary.songs_seen += entries.len() as u64;
            let due = self.due_songs(&entries).await?;
            report.fresh += (entries.len() - due.len()) as u64;
            tracing::debug!(
                artist = name,
                page = number,
                listed = entries.len(),
                due = due.len(),
                "catalogue page"
            );
            if self.options.dry_run {
                report.planned.extend(due);
            } else {
                self.progress.songs_due(name, due.len());
                self.fetch_and_store(name, &due, report).await?;
            }
            page = match next_page_to_walk(number, listing.next_page, entries.len()) {
                Ok(next) => next,
                Err(why) => {
                    tracing::warn!(artist = name, page = number, next_page = ?listing.next_page, "catalogue walk stopped: {why}");
                    None
                }
            };
        }
        Ok(())
    }

    async fn unless_stopped<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, FetchError>>,
    ) -> Result<T, FetchError> {
        tokio::select! {
            biased;
            () = self.stop.cancelled() => Err(FetchError::Interrupted),
            result = work => result,
        }
    }

    /// The entries that are not stored yet or were last confirmed (written, or fetched and found
    /// unchanged) longer than `refresh_after` ago.
    async fn due_songs(&self, entries: &[SongSummary]) -> Result<Vec<PlannedSong>, StoreError> {
        let ids: Vec<u64> = entries.iter().filter_map(|s| s.id).collect();
        let stored = self.store.songs_checked_at(&ids).await?;
        let refresh_after =
            chrono::Duration::from_std(self.options.refresh_after).unwrap_or(chrono::Duration::MAX);
        let stale_before = chrono::Utc::now()
            .checked_sub_signed(refresh_after)
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
        Ok(entries
            .iter()
            .filter_map(|s| {
                let id = s.id?;
                let reason = match stored.get(&id) {
                    None => DueReason::New,
                    Some(at) if *at < stale_before => DueReason::Stale,
                    Some(_) => return None,
                };
                Some(PlannedSong {
                    id,
                    title: s.title.clone().unwrap_or_default(),
                    primary_artist: s
                        .primary_artist
                        .as_ref()
                        .and_then(|a| a.name.clone())
                        .unwrap_or_default(),
                    reason,
                })
            })
            .collect())
    }

    async fn fetch_and_store(
        &self,
        artist: &str,
        due: &[PlannedSong],
        report: &mut ArtistReport,
    ) -> Result<(), FetchError> {
        let mut arrivals = futures::stream::iter(due.iter().map(|s| s.id))
            .map(|id| async move { (id, self.client.song(id).await) })
            .buffer_unordered(self.options.concurrency.max(1))
            .ready_chunks(WRITE_BATCH);
        let mut stop = None;
        loop {
            let chunk = tokio::select! {
                biased;
                () = self.stop.cancelled() => return Err(FetchError::Interrupted),
                chunk = arrivals.next() => chunk,
            };
            let Some(chunk) = chunk else { break };
            let mut batch = Vec::with_capacity(chunk.len());
            let mut skipped = Vec::new();
            for (id, result) in chunk {
                report.summary.songs_fetched += 1;
                match result
                    .map_err(FetchError::from)
                    .and_then(|d| self.accept(id, d))
                {
                    Ok(song) => batch.push(song),
                    Err(e) if e.stops_everything() => {
                        skipped.push(id);
                        stop.get_or_insert(e);
                    }
                    Err(e) => {
                        tracing::warn!(artist, song_id = id, error = %e, "song skipped");
                        skipped.push(id);
                    }
                }
            }
            if !batch.is_empty() {
                self.store
                    .upsert_fetched_songs(&batch, chrono::Utc::now())
                    .await?;
            }
            report.summary.songs_stored += batch.len() as u64;
            report.summary.songs_failed += skipped.len() as u64;
            for song in &batch {
                self.progress
                    .song_done(artist, song.song.id, SongOutcome::Stored);
            }
            for id in skipped {
                self.progress.song_done(artist, id, SongOutcome::Skipped);
            }
            if let Some(e) = stop {
                return Err(e);
            }
        }
        Ok(())
    }

    /// Turns a fetched song into what the store keeps, saving the raw response if asked.
    fn accept(&self, id: u64, details: SongDetails) -> Result<ImportedSong, FetchError> {
        let value: serde_json::Value =
            serde_json::from_str(details.song.get()).map_err(|e| malformed(id, e))?;
        let song = parse_song_value(value).map_err(|e| malformed(id, e))?;
        if let Some(dir) = &self.options.save_raw {
            save_raw(dir, id, &details.body)?;
        }
        Ok(ImportedSong {
            song,
            raw: details.song.get().to_string(),
        })
    }
}

fn malformed(id: u64, e: impl std::fmt::Display) -> FetchError {
    FetchError::Genius(GeniusError::Malformed {
        path: format!("/songs/{id}"),
        message: e.to_string(),
    })
}

/// The page after `current`, or why the walk stops early: pagination must move forward, stay
/// within [`MAX_CATALOGUE_PAGES`] and keep listing songs not seen before, or a server that
/// repeats pages or never ends them would hold a run forever.
fn next_page_to_walk(
    current: u32,
    next: Option<u32>,
    new_entries: usize,
) -> Result<Option<u32>, &'static str> {
    let Some(next) = next else { return Ok(None) };
    if new_entries == 0 {
        Err("the page listed no song not already seen")
    } else if next <= current {
        Err("next_page does not move forward")
    } else if next > MAX_CATALOGUE_PAGES {
        Err("too many catalogue pages")
    } else {
        Ok(Some(next))
    }
}

/// Writes next to the target then renames, so a killed run never leaves half a file.
fn save_raw(dir: &Path, id: u64, body: &str) -> Result<(), FetchError> {
    let err = |source| FetchError::SaveRaw {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(err)?;
    let tmp = dir.join(format!(".song_{id}.json.tmp"));
    std::fs::write(&tmp, body).map_err(err)?;
    std::fs::rename(&tmp, dir.join(format!("song_{id}.json"))).map_err(err)
}

/// Finds the Genius artist whose name is `name`, ignoring case, accents and spacing, among
/// the primary artists of the first search pages. Search is fuzzy (lyrics, covers, other
/// artists), so the first hit is never trusted.
pub async fn resolve_artist(
    client: &GeniusClient,
    name: &str,
) -> Result<(u64, String), FetchError> {
    let wanted = normalize_name(name);
    let mut candidates: Vec<String> = Vec::new();
    for page in 1..=SEARCH_PAGES {
        let hits = client.search(name, page, SEARCH_PER_PAGE).await?;
        if hits.is_empty() {
            break;
        }
        for artist in hits.iter().filter_map(|h| h.primary_artist.as_ref()) {
            let (Some(id), Some(found)) = (artist.id, &artist.name) else {
                continue;
            };
            if normalize_name(found) == wanted {
                return Ok((id, found.clone()));
            }
            if candidates.len() < 5 && !candidates.contains(found) {
                candidates.push(found.clone());
            }
        }
    }
    Err(FetchError::ArtistNotFound {
        name: name.to_string(),
        candidates,
    })
}

/// Lower case, without accents, zero-width characters or repeated spaces: "Beyoncé",
/// "BEYONCE" and "beyonce\u{a0}" compare equal.
pub fn normalize_name(name: &str) -> String {
    let folded: String = name
        .nfkd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .filter(|c| !matches!(c, '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{feff}'))
        .flat_map(char::to_lowercase)
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pagination_that_repeats_goes_back_or_never_ends_stops() {
        assert_eq!(next_page_to_walk(1, Some(2), 50), Ok(Some(2)));
        assert_eq!(next_page_to_walk(3, None, 50), Ok(None));
        assert!(next_page_to_walk(2, Some(3), 0).is_err());
        assert!(next_page_to_walk(2, Some(2), 50).is_err());
        assert!(next_page_to_walk(5, Some(1), 50).is_err());
        assert!(next_page_to_walk(MAX_CATALOGUE_PAGES, Some(MAX_CATALOGUE_PAGES + 1), 50).is_err());
    }

    #[test]
    fn names_match_across_case_accents_and_spacing() {
        assert_eq!(normalize_name("Beyoncé"), normalize_name("BEYONCE"));
        assert_eq!(normalize_name("Beyonce\u{a0}"), "beyonce");
        assert_eq!(normalize_name("\u{200b}SZA"), "sza");
        assert_eq!(
            normalize_name("Pete  Rock & C.L. Smooth"),
            "pete rock & c.l. smooth"
        );
        assert_ne!(normalize_name("Drake"), normalize_name("Drake Bell"));
        assert_ne!(normalize_name("J. Cole"), normalize_name("J Cole"));
    }
}
