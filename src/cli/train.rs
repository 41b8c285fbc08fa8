//! `songrec train`: load the catalogue, train and evaluate a model, register it, and make it
//! champion if the promotion policy allows; the work is a `songrec_pipeline` cycle without the
//! fetch.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use songrec_model::{FeatureSet, PRIMARY_METRIC, TrainParams};
use songrec_pipeline::{CancellationToken, Fetching, TrainOptions, TrainOutcome, TrainWhen};
use songrec_registry::PromotionPolicy;

use super::Settings;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Neighbours precomputed per song: the largest k the model can serve (1..=1000).
    #[arg(long)]
    k: Option<usize>,
    /// Features: `full` (credits, album, relationships, description, language, era,
    /// popularity) or `original` (the replaced system's artist + pageviews model, to compare).
    #[arg(long)]
    features: Option<FeatureSet>,
    /// A training parameter as NAME=VALUE (repeatable), e.g. `--param w_producer=1.5` or
    /// `--param w_artist_roles=0`. Every name, its default and what it weighs: docs/MODEL.md;
    /// an unknown name is refused with the list.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    param: Vec<String>,
    /// A TOML file of training parameters (`name = value` lines); `--param`, `--k` and
    /// `--features` override it.
    #[arg(long = "params", value_name = "FILE")]
    params_file: Option<PathBuf>,
    /// When the new version becomes champion: `auto` (its held-out hit rate is at least the
    /// champion's; the first model always), `always` or `never`.
    #[arg(long, default_value = "auto")]
    promote: PromotionPolicy,
    /// Print one JSON object: version, songs, metrics, promoted.
    #[arg(long)]
    json: bool,
}

impl Args {
    pub fn options(&self) -> anyhow::Result<TrainOptions> {
        let mut params = TrainParams::default();
        if let Some(file) = &self.params_file {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read parameter file {}", file.display()))?;
            params
                .apply_toml(&text)
                .with_context(|| format!("in parameter file {}", file.display()))?;
        }
        for pair in &self.param {
            let (name, value) = pair
                .split_once('=')
                .with_context(|| format!("--param {pair:?} is not NAME=VALUE"))?;
            params.set(name.trim(), value)?;
        }
        if let Some(k) = self.k {
            params.set("k", &k.to_string())?;
        }
        if let Some(features) = self.features {
            params.features = features;
        }
        Ok(TrainOptions {
            params,
            policy: self.promote,
        })
    }
}

pub async fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    let options = args.options()?;
    let pipeline = settings.pipeline(
        Fetching::Off("songrec train does not fetch".into()),
        options,
        TrainWhen::Always,
    )?;
    let report = pipeline.train_now(&CancellationToken::new()).await;
    let Some(outcome) = &report.trained else {
        let failure = report
            .failure()
            .and_then(|s| s.error.clone())
            .unwrap_or_else(|| "training did not run".to_string());
        eprintln!("error: {failure}");
        return Ok(ExitCode::from(report.exit_code().max(1)));
    };
    if args.json {
        println!("{}", serde_json::to_string(outcome)?);
    } else {
        print_summary(outcome);
    }
    Ok(ExitCode::from(report.exit_code()))
}

fn print_summary(outcome: &TrainOutcome) {
    let metric = |name: &str| {
        outcome
            .metrics
            .get(name)
            .map_or_else(|| "-".to_string(), |v| format!("{v:.4}"))
    };
    println!(
        "trained version {} on {} songs in {:.1}s",
        outcome.version,
        outcome.songs,
        outcome.timings.get("total").copied().unwrap_or_default()
    );
    println!(
        "  {PRIMARY_METRIC} {}  coverage_at_10 {}  same_artist_share_at_10 {}  popularity_bias_at_10 {}",
        metric(PRIMARY_METRIC),
        metric("coverage_at_10"),
        metric("same_artist_share_at_10"),
        metric("popularity_bias_at_10"),
    );
    if outcome.metrics.contains_key("ann_recall_at_10") {
        println!(
            "  approximate search, ann_recall_at_10 {}",
            metric("ann_recall_at_10")
        );
    }
    let verdict = if outcome.promoted {
        "promoted to champion"
    } else {
        "not promoted"
    };
    println!("  {verdict}: {}", outcome.reason);
}
