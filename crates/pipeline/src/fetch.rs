//! The fetch step: which artists, the Genius client, and the totals over every artist.
//! Each artist's run is recorded in the store's fetch runs table, the record of fetches.

use std::time::{Duration, Instant};

use anyhow::Context;
use songrec_genius::fetch::{ArtistReport, FetchOptions, FetchProgress, Fetcher};
use songrec_genius::rotation::{ORIGINAL_ARTISTS, artist_of_the_hour};
use songrec_genius::{ClientConfig, GeniusClient};
use songrec_store::Store;
use tokio_util::sync::CancellationToken;

/// Which artists a fetch reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Artists {
    /// Exactly these names.
    Named(Vec<String>),
    /// A rotation list: the artist of the current hour, or every artist with `all`.
    Rotation { list: Vec<String>, all: bool },
}

impl Default for Artists {
    /// The original system's 30 artists, one per hour.
    fn default() -> Artists {
        Artists::Rotation {
            list: ORIGINAL_ARTISTS.iter().map(|a| a.to_string()).collect(),
            all: false,
        }
    }
}

impl Artists {
    /// The artists to fetch at local time `now`.
    pub fn at(&self, now: chrono::NaiveDateTime) -> Vec<String> {
        match self {
            Artists::Named(names) => names.clone(),
            Artists::Rotation { list, all: true } => list.clone(),
            Artists::Rotation { list, all: false } => artist_of_the_hour(list, now)
                .map(|a| vec![a.to_string()])
                .unwrap_or_default(),
        }
    }
}

/// Everything a fetch needs besides the store.
#[derive(Debug, Clone)]
pub struct FetchPlan {
    pub client: ClientConfig,
    pub artists: Artists,
    pub options: FetchOptions,
}

/// One artist whose fetch failed.
#[derive(Debug, Clone)]
pub struct ArtistFailure {
    pub artist: String,
    pub error: String,
    /// Genius refused the token: no other artist can succeed until it is replaced.
    pub auth: bool,
}

/// What one fetch did, over all its artists.
#[derive(Debug, Clone, Default)]
pub struct FetchTotals {
    pub reports: Vec<ArtistReport>,
    pub failures: Vec<ArtistFailure>,
    /// `stop` was cancelled before every artist was done.
    pub interrupted: bool,
    pub dry_run: bool,
    pub elapsed: Duration,
}

impl FetchTotals {
    fn sum(&self, f: fn(&ArtistReport) -> u64) -> u64 {
        self.reports.iter().map(f).sum()
    }

    pub fn songs_stored(&self) -> u64 {
        self.sum(|r| r.summary.songs_stored)
    }

    /// The one-line summary `songrec fetch` prints.
    pub fn summary(&self) -> String {
        let seen = self.sum(|r| r.summary.songs_seen);
        let fresh = self.sum(|r| r.fresh);
        let seconds = self.elapsed.as_secs_f64();
        let (artists, failures) = (self.reports.len(), self.failures.len());
        if self.dry_run {
            let planned = self.sum(|r| r.planned.len() as u64);
            return format!(
                "dry run: {artists} artists, {seen} songs listed, {fresh} fresh, {planned} would \
                 be fetched, {failures} artists failed, in {seconds:.1}s"
            );
        }
        let fetched = self.sum(|r| r.summary.songs_fetched);
        let stored = self.songs_stored();
        let skipped = self.sum(|r| r.summary.songs_failed);
        format!(
            "fetch: {artists} artists, {seen} songs listed, {fresh} fresh, {fetched} fetched, \
             {stored} stored, {skipped} skipped, {failures} artists failed, in {seconds:.1}s"
        )
    }
}

/// Fetches the plan's artists (as of now) into the store; `stop` ends it after the batch being
/// written. Per-artist failures are counted in the totals, not returned as errors; a refused
/// token or a store failure stops the remaining artists.
pub async fn fetch_songs(
    store: &Store,
    plan: &FetchPlan,
    progress: &dyn FetchProgress,
    stop: &CancellationToken,
) -> anyhow::Result<FetchTotals> {
    let artists = plan.artists.at(chrono::Local::now().naive_local());
    if let Artists::Rotation { all: false, .. } = plan.artists {
        tracing::info!(
            artist = artists.first().map(String::as_str),
            "artist of the hour"
        );
    }
    let client =
        GeniusClient::new(plan.client.clone()).context("cannot build the Genius client")?;
    let fetcher =
        Fetcher::new(&client, store, plan.options.clone(), progress).stop_on(stop.clone());
    let started = Instant::now();
    let mut totals = FetchTotals {
        dry_run: plan.options.dry_run,
        ..FetchTotals::default()
    };
    for artist in &artists {
        if stop.is_cancelled() {
            break;
        }
        let (report, result) = fetcher.fetch_artist(artist).await;
        totals.reports.push(report);
        if let Err(e) = result {
            let auth = matches!(&e, songrec_genius::fetch::FetchError::Genius(g) if g.is_auth());
            totals.failures.push(ArtistFailure {
                artist: artist.clone(),
                error: e.to_string(),
                auth,
            });
            if e.stops_everything() {
                break;
            }
        }
    }
    totals.interrupted = stop.is_cancelled();
    totals.elapsed = started.elapsed();
    Ok(totals)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_hour(hour: u32) -> chrono::NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
            .unwrap()
            .and_hms_opt(hour, 0, 0)
            .unwrap()
    }

    #[test]
    fn named_artists_and_a_whole_list_ignore_the_hour() {
        let named = Artists::Named(vec!["Sia".into(), "SZA".into()]);
        assert_eq!(named.at(at_hour(3)), vec!["Sia", "SZA"]);
        let all = Artists::Rotation {
            list: vec!["A".into(), "B".into()],
            all: true,
        };
        assert_eq!(all.at(at_hour(5)), vec!["A", "B"]);
    }

    #[test]
    fn the_rotation_moves_on_by_one_artist_an_hour() {
        let rotation = Artists::Rotation {
            list: vec!["A".into(), "B".into(), "C".into()],
            all: false,
        };
        let first = rotation.at(at_hour(0));
        let next = rotation.at(at_hour(1));
        assert_eq!(first.len(), 1);
        assert_eq!(next.len(), 1);
        assert_ne!(first, next);
        assert_eq!(
            rotation.at(at_hour(3)),
            first,
            "three artists, period three"
        );
    }
}
