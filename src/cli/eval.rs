//! `songrec eval`: scores a model's top-10 lists against a generated catalogue's ground truth
//! (scene precision counting only other artists' songs), or against per-song labels such as
//! genres (label agreement counting only other artists' songs).

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;
use songrec_model::{LabelReport, Model, SceneReport, TruthRow};

use super::Settings;

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("against").required(true).args(["truth", "labels"])))]
pub struct Args {
    /// Ground truth TSV from `songrec generate --truth`: song_id, scene_id, artist_id, with a
    /// header line.
    #[arg(long)]
    truth: Option<PathBuf>,
    /// Labels TSV: song_id, artist_id, label (a genre, say), header line allowed.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// With --labels: query only the songs of these artists (a file of artist ids, one per
    /// line), e.g. artists held out from tuning; their lists are still scored against every
    /// label.
    #[arg(long, value_name = "FILE", requires = "labels")]
    only_artists: Option<PathBuf>,
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
    report: Report,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Report {
    Scene(SceneReport),
    Labels(LabelReport),
}

impl Report {
    fn queries(&self) -> usize {
        match self {
            Report::Scene(r) => r.queries,
            Report::Labels(r) => r.queries,
        }
    }

    /// Metric names and values, in the order they are printed.
    fn lines(&self) -> Vec<(&'static str, f64)> {
        match self {
            Report::Scene(r) => vec![
                (
                    "scene_precision_other_artists_at_10",
                    r.scene_precision_other_artists_at_10,
                ),
                ("scene_precision_at_10", r.scene_precision_at_10),
                ("same_artist_share_at_10", r.same_artist_share_at_10),
                ("coverage_at_10", r.coverage_at_10),
            ],
            Report::Labels(r) => vec![
                (
                    "label_agreement_other_artists_at_10",
                    r.label_agreement_other_artists_at_10,
                ),
                (
                    "label_agreement_other_artists_macro",
                    r.label_agreement_other_artists_macro,
                ),
                ("label_agreement_at_10", r.label_agreement_at_10),
                ("same_artist_share_at_10", r.same_artist_share_at_10),
                ("coverage_at_10", r.coverage_at_10),
            ],
        }
    }
}

/// What the lists are scored against.
enum Reference {
    Truth(std::collections::HashMap<u64, TruthRow>),
    Labels(songrec_model::Labels, Option<HashSet<u64>>),
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
    let (file, what) = match (&args.truth, &args.labels) {
        (Some(truth), _) => (truth.clone(), "truth"),
        (None, Some(labels)) => (labels.clone(), "labels"),
        (None, None) => anyhow::bail!("give --truth FILE or --labels FILE"),
    };
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read {what} file {}", file.display()))?;
    let only_artists = match &args.only_artists {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read artists file {}", path.display()))?;
            let ids = songrec_model::parse_artist_ids(&text)
                .map_err(|e| anyhow::anyhow!("artists file {}: {e}", path.display()))?;
            Some(ids)
        }
        None => None,
    };
    let output = tokio::task::spawn_blocking(move || -> anyhow::Result<EvalOutput> {
        let reference = if what == "truth" {
            Reference::Truth(songrec_model::parse_truth(&text).map_err(anyhow::Error::msg)?)
        } else {
            let labels = songrec_model::parse_labels(&text)
                .map_err(|e| anyhow::anyhow!("labels file {}: {e}", file.display()))?;
            Reference::Labels(labels, only_artists)
        };
        let model = Model::load(&path)?;
        Ok(evaluate(&model, &reference, version))
    })
    .await
    .context("the evaluation task failed")??;
    if output.report.queries() == 0 {
        anyhow::bail!("none of the model's songs is in the {what} file");
    }
    if args.json {
        println!("{}", serde_json::to_string(&output)?);
    } else {
        let version = output
            .version
            .map_or_else(|| "model file".to_string(), |v| format!("version {v}"));
        println!(
            "{version} ({} features, {} songs), {} queries scored against the {what}:",
            output.features.as_deref().unwrap_or("?"),
            output.songs,
            output.report.queries()
        );
        for (name, value) in output.report.lines() {
            println!("  {name} {value:.4}");
        }
        if let Report::Labels(r) = &output.report {
            for (label, value) in &r.by_label {
                println!("    {label}: {value:.4}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn evaluate(model: &Model, reference: &Reference, version: Option<u64>) -> EvalOutput {
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
        report: match reference {
            Reference::Truth(truth) => {
                Report::Scene(songrec_model::scene_report(&ids, &tops, truth))
            }
            Reference::Labels(labels, only) => Report::Labels(songrec_model::label_report(
                &ids,
                &tops,
                labels,
                only.as_ref(),
            )),
        },
    }
}
