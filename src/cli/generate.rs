//! `songrec generate`: a deterministic synthetic catalogue for demos, tests and benchmarks.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Number of songs (lines) to write.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub songs: u64,
    /// Random seed: the same songs and seed give byte-identical output.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Output JSONL file (standard output when absent).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also write the planted truth: `song_id<TAB>scene_id<TAB>artist_id`, one row per song.
    #[arg(long)]
    pub truth: Option<PathBuf>,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    tokio::task::spawn_blocking(move || generate(args)).await?
}

fn create(path: &PathBuf) -> anyhow::Result<BufWriter<File>> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(BufWriter::with_capacity(1 << 20, file))
}

fn generate(args: Args) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let options = songrec_synth::Options {
        songs: usize::try_from(args.songs).context("--songs is too large")?,
        seed: args.seed,
    };
    let mut truth = args.truth.as_ref().map(create).transpose()?;
    let truth_writer = truth.as_mut().map(|t| t as &mut dyn Write);
    let summary = match &args.out {
        Some(path) => {
            let mut out = create(path)?;
            let summary = songrec_synth::generate(options, &mut out, truth_writer)?;
            out.flush()
                .with_context(|| format!("cannot write {}", path.display()))?;
            summary
        }
        None => {
            let mut out = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
            let summary = songrec_synth::generate(options, &mut out, truth_writer)?;
            out.flush()?;
            summary
        }
    };
    if let Some(t) = truth.as_mut() {
        t.flush().context("cannot write the truth file")?;
    }
    eprintln!(
        "generated {} songs ({} scenes, {} artists, {} albums; {} without pageviews, {} with relationships) in {:.1}s, {:.1} MB",
        summary.songs,
        summary.scenes,
        summary.artists,
        summary.albums,
        summary.missing_pageviews,
        summary.with_relationships,
        started.elapsed().as_secs_f64(),
        summary.bytes as f64 / 1e6
    );
    Ok(ExitCode::SUCCESS)
}
