//! `songrec fetch`: songs from the Genius API into the store, one artist at a time.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use secrecy::SecretString;
use songrec_genius::fetch::{
    ArtistReport, CancellationToken, DueReason, FetchOptions, FetchProgress, Fetcher, SongOutcome,
};
use songrec_genius::rotation::{ORIGINAL_ARTISTS, artist_of_the_hour, parse_artist_list};
use songrec_genius::{CatalogueSort, ClientConfig, DEFAULT_BASE_URL, GeniusClient, RetryPolicy};
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
    // Ctrl-C stops after the batch being written and records the run as interrupted.
    let stop = CancellationToken::new();
    let on_ctrl_c = stop.clone();
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel();
        }
    });
    let totals = fetch(settings, &args, &stop).await;
    ctrl_c.abort();
    let totals = totals?;
    println!("{}", totals.summary);
    Ok(if totals.interrupted {
        // The shell's convention for a process ended by SIGINT.
        ExitCode::from(130)
    } else if totals.failed_artists == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// What one fetch did, over all its artists.
#[derive(Debug, Clone)]
pub struct FetchTotals {
    pub songs_stored: u64,
    pub failed_artists: usize,
    /// `stop` was cancelled before every artist was done.
    pub interrupted: bool,
    /// The one-line summary `songrec fetch` prints.
    pub summary: String,
}

/// Fetches the chosen artists into the store; `stop` ends it after the batch being written.
/// Per-artist failures are reported on stderr and counted, not returned as errors.
pub async fn fetch(
    settings: &Settings,
    args: &Args,
    stop: &CancellationToken,
) -> anyhow::Result<FetchTotals> {
    let token = match std::env::var("GENIUS_API_TOKEN") {
        Ok(token) if !token.trim().is_empty() => SecretString::from(token.trim().to_string()),
        _ => bail!(
            "GENIUS_API_TOKEN is not set: create an API client at https://genius.com/api-clients, \
             generate a client access token and export it (or put it in .env)"
        ),
    };
    if !(args.rate >= 0.0 && args.rate.is_finite()) {
        bail!("--rate must be a number of requests per second, 0 for no limit");
    }
    let artists = chosen_artists(args)?;
    let client = GeniusClient::new(ClientConfig {
        base_url: args.base_url.clone(),
        token,
        rate: (args.rate > 0.0).then_some(args.rate),
        concurrency: usize::from(args.concurrency),
        connect_timeout: args.timeout.min(Duration::from_secs(10)),
        timeout: args.timeout,
        retry: RetryPolicy {
            max_retries: args.retries,
            ..RetryPolicy::default()
        },
    })
    .context("cannot build the Genius client")?;
    let store = settings.open_store().await?;
    let options = FetchOptions {
        max_songs: (args.max_songs > 0).then_some(args.max_songs),
        sort: match args.sort {
            Sort::Popularity => CatalogueSort::Popularity,
            Sort::Title => CatalogueSort::Title,
        },
        refresh_after: args.refresh_after,
        concurrency: usize::from(args.concurrency),
        dry_run: args.dry_run,
        save_raw: args.save_raw.clone(),
    };
    let progress = Progress::new(args.dry_run);
    let fetcher = Fetcher::new(&client, &store, options, &progress).stop_on(stop.clone());

    let started = Instant::now();
    let mut reports = Vec::new();
    let mut failures = 0;
    for artist in &artists {
        if stop.is_cancelled() {
            break;
        }
        let (report, result) = fetcher.fetch_artist(artist).await;
        if args.dry_run {
            print_plan(&report);
        }
        reports.push(report);
        if let Err(e) = result {
            failures += 1;
            progress.suspend(|| eprintln!("error: {artist}: {e}"));
            if e.stops_everything() {
                break;
            }
        }
    }
    progress.finish();
    Ok(FetchTotals {
        songs_stored: reports.iter().map(|r| r.summary.songs_stored).sum(),
        failed_artists: failures,
        interrupted: stop.is_cancelled(),
        summary: summary_line(&reports, failures, args.dry_run, started.elapsed()),
    })
}

/// `--artist`s, else the whole list with `--all-artists`, else the artist of the hour.
fn chosen_artists(args: &Args) -> anyhow::Result<Vec<String>> {
    if !args.artists.is_empty() {
        return Ok(args.artists.clone());
    }
    let list = match &args.artists_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the artists file {}", path.display()))?;
            let list = parse_artist_list(&text);
            if list.is_empty() {
                bail!("the artists file {} names no artist", path.display());
            }
            list
        }
        None => ORIGINAL_ARTISTS.iter().map(|a| a.to_string()).collect(),
    };
    if args.all_artists {
        return Ok(list);
    }
    let now = chrono::Local::now().naive_local();
    let artist = artist_of_the_hour(&list, now).unwrap_or_default();
    tracing::info!(artist, "artist of the hour");
    Ok(vec![artist.to_string()])
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

fn summary_line(
    reports: &[ArtistReport],
    failures: usize,
    dry_run: bool,
    elapsed: Duration,
) -> String {
    let sum = |f: fn(&ArtistReport) -> u64| reports.iter().map(f).sum::<u64>();
    let seen = sum(|r| r.summary.songs_seen);
    let fresh = sum(|r| r.fresh);
    let seconds = elapsed.as_secs_f64();
    if dry_run {
        let planned = sum(|r| r.planned.len() as u64);
        return format!(
            "dry run: {} artists, {seen} songs listed, {fresh} fresh, {planned} would be fetched, \
             {failures} artists failed, in {seconds:.1}s",
            reports.len()
        );
    }
    let fetched = sum(|r| r.summary.songs_fetched);
    let stored = sum(|r| r.summary.songs_stored);
    let skipped = sum(|r| r.summary.songs_failed);
    format!(
        "fetch: {} artists, {seen} songs listed, {fresh} fresh, {fetched} fetched, {stored} stored, \
         {skipped} skipped, {failures} artists failed, in {seconds:.1}s",
        reports.len()
    )
}

/// A progress bar on a terminal; one log line per song otherwise.
struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    fn new(dry_run: bool) -> Progress {
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

    fn suspend(&self, f: impl FnOnce()) {
        match &self.bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    fn finish(&self) {
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
