//! `songrec eval`: scores a model's top-10 lists against a generated catalogue's ground truth
//! (scene precision counting only other artists' songs).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;
use songrec_model::{Model, SceneReport};

use super::Settings;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Ground truth TSV from `songrec generate --truth`: song_id, scene_id, artist_id, with a
    /// header line.
    #[arg(long)]
    truth: PathBuf,
    /// Evaluate this registered version instead of the champion.
    #[arg(long, conflicts_with = "model")]
    version: Option<u64>,
    /// Evaluate this model file instead of a registered version.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct EvalOutput {
    /// The registered version evaluated (absent for `--model FILE`).
    version: Option<u64>,
    features: Option<String>,
    songs: usize,
    #[serde(flatten)]
    report: SceneReport,
}

pub async fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    let (version, path) = match (&args.model, args.version) {
        (Some(path), _) => (None, path.clone()),
        (None, requested) => {
            let registry = settings.open_registry()?;
            let version = match requested {
                Some(v) => v,
                None => {
                    registry
                        .champion()
                        .await
                        .context("cannot read the champion")?
                        .context("no champion model yet: run `songrec train` first")?
                        .version
                }
            };
            let path = registry
                .model_file(version)
                .await
                .with_context(|| format!("cannot fetch the model file of version {version}"))?;
            (Some(version), path)
        }
    };
    let truth_text = std::fs::read_to_string(&args.truth)
        .with_context(|| format!("cannot read truth file {}", args.truth.display()))?;
    let output = tokio::task::spawn_blocking(move || -> anyhow::Result<EvalOutput> {
        let truth = songrec_model::parse_truth(&truth_text).map_err(anyhow::Error::msg)?;
        let model = Model::load(&path)?;
        Ok(evaluate(&model, &truth, version))
    })
    .await
    .context("the evaluation task failed")??;
    if output.report.queries == 0 {
        anyhow::bail!("none of the model's songs is in the truth file");
    }
    if args.json {
        println!("{}", serde_json::to_string(&output)?);
    } else {
        let r = &output.report;
        let what = output
            .version
            .map_or_else(|| "model file".to_string(), |v| format!("version {v}"));
        println!(
            "{what} ({} features, {} songs), {} queries scored against the truth:",
            output.features.as_deref().unwrap_or("?"),
            output.songs,
            r.queries
        );
        println!(
            "  scene_precision_other_artists_at_10 {:.4}",
            r.scene_precision_other_artists_at_10
        );
        println!("  scene_precision_at_10 {:.4}", r.scene_precision_at_10);
        println!("  same_artist_share_at_10 {:.4}", r.same_artist_share_at_10);
        println!("  coverage_at_10 {:.4}", r.coverage_at_10);
    }
    Ok(ExitCode::SUCCESS)
}

fn evaluate(
    model: &Model,
    truth: &std::collections::HashMap<u64, songrec_model::TruthRow>,
    version: Option<u64>,
) -> EvalOutput {
    let ids: Vec<u64> = (0..model.len())
        .map(|i| model.song(i).map_or(0, |s| s.id))
        .collect();
    let tops: Vec<&[u32]> = (0..model.len())
        .map(|i| {
            model
                .neighbour_indices(i)
                .map_or(&[][..], |row| &row[..row.len().min(10)])
        })
        .collect();
    EvalOutput {
        version,
        features: model.info().params.get("features").cloned(),
        songs: model.len(),
        report: songrec_model::scene_report(&ids, &tops, truth),
    }
}
