//! `songrec train`: load the catalogue, train and evaluate a model, register it, and make it
//! champion if the promotion policy allows. [`train_and_register`] is the reusable part (the
//! demo and the scheduler call it too).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;
use songrec_model::{FeatureSet, PRIMARY_METRIC, TrainParams};
use songrec_registry::{NewVersion, PromotionPolicy};

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
    /// A training parameter as NAME=VALUE (repeatable), e.g. `--param w_producer=1.5`.
    /// Names: k, seed, features, w_primary_artist, w_featured_artist, w_producer, w_writer,
    /// w_album, w_relationship, w_description, w_artist_circle, w_language, w_era,
    /// w_popularity, description_max_df, circle_size, same_artist_share, exact_max_songs,
    /// candidate_max_df, recall_sample, eval_sample.
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

/// What to train and when to promote it.
#[derive(Debug, Clone, Default)]
pub struct TrainOptions {
    pub params: TrainParams,
    pub policy: PromotionPolicy,
}

/// A trained and registered model version.
#[derive(Debug, Clone, Serialize)]
pub struct TrainOutcome {
    pub version: u64,
    pub songs: u64,
    pub metrics: BTreeMap<String, f64>,
    pub promoted: bool,
    /// Why the version was (or was not) promoted.
    pub reason: String,
    /// Wall-clock seconds per phase, loading the catalogue and registering included.
    pub timings: BTreeMap<String, f64>,
}

impl Args {
    fn options(&self) -> anyhow::Result<TrainOptions> {
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
    let outcome = train_and_register(settings, &options).await?;
    if args.json {
        println!("{}", serde_json::to_string(&outcome)?);
    } else {
        print_summary(&outcome);
    }
    Ok(ExitCode::SUCCESS)
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

/// The champion's training parameters, made to draw the candidate's held-out sample (same seed
/// and sample size); `None` when they cannot be read by this build (they are then compared as
/// recorded).
fn rescoring_params(
    champion: &BTreeMap<String, String>,
    candidate: &TrainParams,
) -> Option<TrainParams> {
    let mut params = TrainParams::default();
    if let Err(e) = params.apply(champion.iter().map(|(n, v)| (n.as_str(), v.as_str()))) {
        tracing::warn!(error = %e, "the champion's parameters cannot be re-scored here");
        return None;
    }
    params.seed = candidate.seed;
    params.eval_sample = candidate.eval_sample;
    Some(params)
}

/// Loads the stored catalogue, trains, saves the model file, registers it and applies the
/// promotion policy.
#[tracing::instrument(skip_all, fields(features = %options.params.features, k = options.params.k))]
pub async fn train_and_register(
    settings: &Settings,
    options: &TrainOptions,
) -> anyhow::Result<TrainOutcome> {
    let started = Instant::now();
    let store = settings.open_store().await?;
    let songs = store
        .load_catalogue()
        .await
        .context("cannot load the catalogue")?;
    let load_seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        songs = songs.len(),
        seconds = load_seconds,
        "catalogue loaded"
    );
    if songs.len() < 2 {
        anyhow::bail!(
            "the store holds {} song(s); import or generate a catalogue first (songrec import FILE)",
            songs.len()
        );
    }

    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("cannot create data dir {}", settings.data_dir.display()))?;
    let model_path = settings.data_dir.join(format!(
        ".train-{}-{}.model",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    let params = options.params.clone();
    let path = model_path.clone();
    let registry = settings.open_registry()?;
    let champion_params = match options.policy {
        PromotionPolicy::Auto => registry
            .champion()
            .await
            .context("cannot read the champion")?
            .and_then(|champion| rescoring_params(&champion.params, &params)),
        _ => None,
    };
    // Training is CPU-bound (rayon); keep it off the async workers.
    let trained = tokio::task::spawn_blocking(move || {
        let mut trained = songrec_model::train(&songs, &params)?;
        if let Some(champion) = champion_params {
            // The champion's parameters on this catalogue and this held-out sample: what the
            // promotion policy compares the new version with.
            let t = Instant::now();
            let score = songrec_model::heldout_hit_rate(&songs, &champion)?;
            trained
                .timings
                .insert("rescore_champion".into(), t.elapsed().as_secs_f64());
            trained.model.set_metric(
                &format!("{}{PRIMARY_METRIC}", songrec_registry::CHAMPION_PREFIX),
                score,
            );
        }
        drop(songs);
        let saved = Instant::now();
        let checksum = trained.model.save(&path)?;
        let save_seconds = saved.elapsed().as_secs_f64();
        Ok::<_, songrec_model::ModelError>((trained, checksum, save_seconds))
    })
    .await
    .context("the training task failed")?;
    let (trained, checksum, save_seconds) = match trained {
        Ok(t) => t,
        Err(e) => {
            let _ = std::fs::remove_file(&model_path);
            return Err(e).context("training failed");
        }
    };

    let info = trained.model.info().clone();
    drop(trained.model);
    let mut timings = trained.timings;
    timings.insert("load_catalogue".into(), load_seconds);
    timings.insert("save".into(), save_seconds);
    let registering = Instant::now();
    let result = registry
        .register_and_promote(
            NewVersion {
                model_file: &model_path,
                checksum,
                params: info.params.clone(),
                metrics: info.metrics.clone(),
                timings: timings.clone(),
                songs: info.songs as u64,
            },
            options.policy,
            PRIMARY_METRIC,
        )
        .await;
    let _ = std::fs::remove_file(&model_path);
    let registered = result.context("cannot register the model")?;
    timings.insert("register".into(), registering.elapsed().as_secs_f64());
    timings.insert("total".into(), started.elapsed().as_secs_f64());
    tracing::info!(
        version = registered.version.version,
        promoted = registered.decision.promote,
        "model registered"
    );
    Ok(TrainOutcome {
        version: registered.version.version,
        songs: info.songs as u64,
        metrics: info.metrics,
        promoted: registered.decision.promote,
        reason: registered.decision.reason,
        timings,
    })
}
