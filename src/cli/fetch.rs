//! `songrec fetch`: songs from the Genius API into the store, one artist at a time.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use secrecy::SecretString;
use songrec_genius::fetch::{ArtistReport, DueReason, FetchOptions, FetchProgress, SongOutcome};
use songrec_genius::rotation::parse_artist_list;
use songrec_genius::{CatalogueSort, ClientConfig, DEFAULT_BASE_URL, RetryPolicy};
use songrec_pipeline::{
    Artists, CancellationToken, EXIT_INTERRUPTED, EXIT_PRECONDITION, EXIT_STEP_FAILED, FetchPlan,
    fetch_songs,
};
use url::Url;

use super::Settings;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Artist to fetch, by exact name (repeatable). Default: the artist of the current hour.
    #[arg(long = "artist", value_name = "NAME")]
    artists: Vec<String>,
    /// The rotation list, one artist a line (default: the built-in list of 30 artists).
    #[arg(long, value_name = "FILE")]
    artists_file: Option<PathBuf>,
    /// Fetch every artist of the rotation list once, instead of the artist of the hour.
    #[arg(long, conflicts_with = "artists")]
    all_artists: bool,
    /// Catalogue entries to look at per artist; 0 walks the whole catalogue.
    #[arg(long, default_value_t = 50, value_name = "N")]
    max_songs: usize,
    /// Catalogue order, which decides the songs `--max-songs` keeps.
    #[arg(long, value_enum, default_value = "popularity")]
    sort: Sort,
    /// Fetch a stored song again once it was last fetched or changed this long ago (e.g. 12h, 7d).
    #[arg(long, default_value = "7d", value_parser = humantime::parse_duration, value_name = "AGE")]
    refresh_after: Duration,
    /// Requests per second to Genius, retries included; 0 lifts the limit.
    #[arg(
        long,
        default_value_t = 5.0,
        env = "SONGREC_FETCH_RATE",
        value_name = "PER_SECOND"
    )]
    rate: f64,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    concurrency: u16,
    /// Time allowed for one request, body included.
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    timeout: Duration,
    /// Retries of a request after a 429, a 5xx, a timeout or a broken connection.
    #[arg(long, default_value_t = 3, value_name = "N")]
    retries: u32,
    /// The Genius API root.
    #[arg(long, env = "GENIUS_API_BASE_URL", default_value = DEFAULT_BASE_URL, value_name = "URL")]
    base_url: Url,
    /// Print what would be fetched (resolves artists and reads catalogues); write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Also keep each song's API response as DIR/song_<id>.json (`songrec import` reads them).
    #[arg(long, value_name = "DIR")]
    save_raw: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Sort {
    Popularity,
    Title,
}

pub async fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    let Some(token) = genius_token() else {
        eprintln!("error: {NO_TOKEN}");
        return Ok(ExitCode::from(EXIT_PRECONDITION));
    };
    let plan = args.plan(token)?;
    let store = settings.open_store().await?;
    // Ctrl-C stops after the batch being written and records the run as interrupted.
    let stop = CancellationToken::new();
    let on_ctrl_c = stop.clone();
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel();
        }
    });
    let progress = Progress::new(args.dry_run);
    let totals = fetch_songs(&store, &plan, &progress, &stop).await;
    progress.finish();
    ctrl_c.abort();
    let totals = totals?;
    if args.dry_run {
        totals.reports.iter().for_each(print_plan);
    }
    for failure in &totals.failures {
        eprintln!("error: {}: {}", failure.artist, failure.error);
    }
    println!("{}", totals.summary());
    Ok(if totals.interrupted {
        ExitCode::from(EXIT_INTERRUPTED)
    } else if totals.failures.iter().any(|f| f.auth) {
        ExitCode::from(EXIT_PRECONDITION)
    } else if totals.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_STEP_FAILED)
    })
}

/// What to say when there is no token.
pub const NO_TOKEN: &str = "GENIUS_API_TOKEN is not set: create an API client at \
    https://genius.com/api-clients, generate a client access token and export it (or put it in .env)";

/// The Genius token from the environment (or `.env`), if one is set.
pub fn genius_token() -> Option<SecretString> {
    std::env::var("GENIUS_API_TOKEN")
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .map(SecretString::from)
}

impl Args {
    /// The validated fetch plan these options describe.
    pub fn plan(&self, token: SecretString) -> anyhow::Result<FetchPlan> {
        if !(self.rate >= 0.0 && self.rate.is_finite()) {
            bail!("--rate must be a number of requests per second, 0 for no limit");
        }
        Ok(FetchPlan {
            client: ClientConfig {
                base_url: self.base_url.clone(),
                token,
                rate: (self.rate > 0.0).then_some(self.rate),
                concurrency: usize::from(self.concurrency),
                connect_timeout: self.timeout.min(Duration::from_secs(10)),
                timeout: self.timeout,
                retry: RetryPolicy {
                    max_retries: self.retries,
                    ..RetryPolicy::default()
                },
            },
            artists: self.artists()?,
            options: FetchOptions {
                max_songs: (self.max_songs > 0).then_some(self.max_songs),
                sort: match self.sort {
                    Sort::Popularity => CatalogueSort::Popularity,
                    Sort::Title => CatalogueSort::Title,
                },
                refresh_after: self.refresh_after,
                concurrency: usize::from(self.concurrency),
                dry_run: self.dry_run,
                save_raw: self.save_raw.clone(),
            },
        })
    }

    /// `--artist`s, else the whole list with `--all-artists`, else the artist of the hour.
    fn artists(&self) -> anyhow::Result<Artists> {
        if !self.artists.is_empty() {
            return Ok(Artists::Named(self.artists.clone()));
        }
        let Some(path) = &self.artists_file else {
            return Ok(match Artists::default() {
                Artists::Rotation { list, .. } => Artists::Rotation {
                    list,
                    all: self.all_artists,
                },
                named => named,
            });
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the artists file {}", path.display()))?;
        let list = parse_artist_list(&text);
        if list.is_empty() {
            bail!("the artists file {} names no artist", path.display());
        }
        Ok(Artists::Rotation {
            list,
            all: self.all_artists,
        })
    }
}

fn print_plan(report: &ArtistReport) {
    let Some((id, name)) = &report.resolved else {
        return;
    };
    println!(
        "{} (Genius artist {id}): {} songs listed, {} fresh, {} to fetch",
        name,
        report.summary.songs_seen,
        report.fresh,
        report.planned.len()
    );
    for song in &report.planned {
        let reason = match song.reason {
            DueReason::New => "new",
            DueReason::Stale => "stale",
        };
        println!(
            "  would fetch {:>10}  {} by {} ({reason})",
            song.id, song.title, song.primary_artist
        );
    }
}

/// A progress bar on a terminal; one log line per song otherwise.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn new(dry_run: bool) -> Progress {
        let bar = (!dry_run && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(0);
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} {msg:20!} [{bar:30}] {pos}/{len} songs {per_sec} eta {eta}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        Progress { bar }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl FetchProgress for Progress {
    fn songs_due(&self, artist: &str, due: usize) {
        match &self.bar {
            Some(bar) => {
                bar.set_message(artist.to_string());
                bar.inc_length(due as u64);
            }
            None if due > 0 => tracing::info!(artist, due, "fetching songs"),
            None => {}
        }
    }

    fn song_done(&self, artist: &str, id: u64, outcome: SongOutcome) {
        match &self.bar {
            Some(bar) => bar.inc(1),
            None => {
                let outcome = match outcome {
                    SongOutcome::Stored => "stored",
                    SongOutcome::Skipped => "skipped",
                };
                tracing::info!(artist, song_id = id, "{outcome}");
            }
        }
    }
}
