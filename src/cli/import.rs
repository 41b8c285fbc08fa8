//! `songrec import`: songs from files and directories of Genius song JSON, upserted into the
//! store (the reading and parsing is `songrec_ingest`'s).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use songrec_ingest::{ImportObserver, Place};
use songrec_store::UpsertCounts;

use super::Settings;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files of Genius song objects: JSON Lines, a JSON array, saved API responses
    /// (`{"meta":..,"response":{"song":..}}`) or lyricsgenius `Lyrics_<Artist>.json` files; a
    /// directory reads the `.json` and `.jsonl` files in it. `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

pub async fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    let store = settings.open_store().await?;
    let progress = progress_bar(&args.files);
    let observer = Arc::new(Printer {
        progress: progress.clone(),
    });
    let report = songrec_ingest::import_paths(&store, args.files, observer).await;
    progress.finish_and_clear();
    let report = report.context("cannot write songs to the store")?;

    let counts = report.counts;
    println!(
        "read {}, inserted {}, updated {}, rejected {}",
        report.read, counts.inserted, counts.updated, report.rejected
    );
    let valid = report.read - report.rejected;
    if report.unreadable_inputs > 0 || valid == 0 {
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Reports rejections and unreadable inputs on stderr, above the progress bar.
struct Printer {
    progress: ProgressBar,
}

impl ImportObserver for Printer {
    fn rejected(&self, input: &str, place: Place, reason: &str) {
        self.progress
            .suspend(|| eprintln!("{input}: {place}: rejected: {reason}"));
    }

    fn unreadable(&self, input: &str, error: &std::io::Error) {
        self.progress
            .suspend(|| eprintln!("error: cannot read {input}: {error}"));
    }

    fn written(&self, total: UpsertCounts) {
        self.progress
            .set_message(format!("{} songs written", total.inserted + total.updated));
    }

    fn wrap<'a>(&self, input: Box<dyn Read + 'a>) -> Box<dyn Read + 'a> {
        Box::new(self.progress.wrap_read(input))
    }
}

/// A byte-counting bar on a terminal, nothing otherwise (pipes and logs stay clean).
fn progress_bar(paths: &[PathBuf]) -> ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let sizes: Option<u64> = songrec_ingest::input_files(paths)
        .iter()
        .map(|f| {
            let f = f.as_ref().ok()?;
            (f != Path::new("-")).then(|| std::fs::metadata(f).ok().map(|m| m.len()))?
        })
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
