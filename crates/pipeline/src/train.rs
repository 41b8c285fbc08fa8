//! The train, evaluate, register and promote steps: the stored catalogue becomes a checksummed
//! model file (evaluated while it is trained), a registered version, and maybe the champion.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use songrec_model::{FeatureSet, PRIMARY_METRIC, TrainParams};
use songrec_registry::{Decision, NewVersion, PromotionPolicy, Registry, VersionInfo};
use songrec_store::Store;

use crate::report::StepError;

/// What to train and when to promote it.
#[derive(Debug, Clone, Default)]
pub struct TrainOptions {
    pub params: TrainParams,
    pub policy: PromotionPolicy,
}

/// A trained and registered model version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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

/// A model file trained and evaluated, not yet registered. Removed from disk when dropped (unless
/// registering moved it into the registry).
pub(crate) struct TrainedFile {
    path: PathBuf,
    pub checksum: String,
    pub params: BTreeMap<String, String>,
    pub metrics: BTreeMap<String, f64>,
    pub timings: BTreeMap<String, f64>,
    pub songs: u64,
}

impl Drop for TrainedFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Fewest songs a model can be trained on (a song needs another to be its neighbour).
pub const MIN_SONGS: usize = 2;

/// The champion's parameters to score on the candidate's catalogue, and its version.
pub(crate) struct Rescore {
    params: TrainParams,
    version: u64,
}

/// The champion's held-out score on the candidate's catalogue: computed on its own, or the
/// candidate's when both were trained with the same parameters.
enum Rescored {
    Score(f64),
    AsCandidate,
}

/// Under the `auto` policy, the champion's training parameters made to draw the candidate's
/// held-out sample (same seed and sample size), so that training can score them on the
/// candidate's catalogue: the promotion then compares like with like. `None` without a
/// champion, under another policy, or when this build cannot read the champion's parameters
/// (it is then compared as recorded).
pub(crate) async fn champion_to_rescore(
    registry: &Registry,
    candidate: &TrainParams,
    policy: PromotionPolicy,
) -> Option<Rescore> {
    if policy != PromotionPolicy::Auto {
        return None;
    }
    let champion = match registry.champion().await {
        Ok(champion) => champion?,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the champion to score it again");
            return None;
        }
    };
    let mut params = TrainParams::default();
    let given = champion
        .params
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()));
    if let Err(e) = params.apply(given) {
        tracing::warn!(error = %e, version = champion.version, "cannot score the champion again");
        return None;
    }
    params.seed = candidate.seed;
    params.eval_sample = candidate.eval_sample;
    Some(Rescore {
        params,
        version: champion.version,
    })
}

/// Loads the stored catalogue, trains and evaluates a model, and saves it under `work_dir`.
/// With `champion` parameters, also scores them on the same catalogue and held-out sample
/// (metric `champion_heldout_hit_rate_at_10`, with `champion_version` naming the version).
#[tracing::instrument(skip_all, fields(features = %params.features, k = params.k))]
pub(crate) async fn train_model(
    store: &Store,
    work_dir: &Path,
    params: &TrainParams,
    champion: Option<Rescore>,
) -> Result<TrainedFile, StepError> {
    let started = Instant::now();
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
    if songs.len() < MIN_SONGS {
        return Err(StepError::precondition(format!(
            "the store holds {} song(s); import or generate a catalogue first (songrec import FILE)",
            songs.len()
        )));
    }
    std::fs::create_dir_all(work_dir)
        .with_context(|| format!("cannot create data dir {}", work_dir.display()))?;
    let path = work_dir.join(format!(
        ".train-{}-{}.model",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    let (params, target) = (params.clone(), path.clone());
    // Training is CPU-bound (rayon); keep it off the async workers.
    let trained = tokio::task::spawn_blocking(move || {
        // The champion is scored first: its search structures are gone before training builds
        // its own, rather than built beside the trained model's tables. Under the candidate's
        // own parameters (full features) its score is the candidate's held-out metric: the same
        // sample, features and queries, which training evaluates anyway.
        let rescored = match champion {
            Some(champion) if champion.params == params && params.features == FeatureSet::Full => {
                Some((champion.version, Rescored::AsCandidate, 0.0))
            }
            Some(champion) => {
                let t = Instant::now();
                let score = songrec_model::heldout_hit_rate(&songs, &champion.params)?;
                Some((
                    champion.version,
                    Rescored::Score(score),
                    t.elapsed().as_secs_f64(),
                ))
            }
            None => None,
        };
        let mut trained = songrec_model::train(&songs, &params)?;
        if let Some((version, rescored, seconds)) = rescored {
            let score = match rescored {
                Rescored::Score(score) => score,
                Rescored::AsCandidate => trained
                    .model
                    .info()
                    .metrics
                    .get(PRIMARY_METRIC)
                    .copied()
                    .ok_or_else(|| {
                        songrec_model::ModelError::Training(format!(
                            "training reported no {PRIMARY_METRIC}"
                        ))
                    })?,
            };
            trained.timings.insert("rescore_champion".into(), seconds);
            trained.model.set_metric(
                &format!("{}{PRIMARY_METRIC}", songrec_registry::CHAMPION_PREFIX),
                score,
            );
            trained
                .model
                .set_metric(songrec_registry::RESCORED_VERSION_METRIC, version as f64);
        }
        let saved = Instant::now();
        // A million songs take a while to free: that happens beside the write.
        let checksum = std::thread::scope(|scope| {
            scope.spawn(move || drop(songs));
            trained.model.save(&target)
        })?;
        Ok::<_, songrec_model::ModelError>((trained, checksum, saved.elapsed().as_secs_f64()))
    })
    .await
    .context("the training task failed")?;
    let (trained, checksum, save_seconds) = match trained {
        Ok(t) => t,
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            return Err(anyhow::Error::new(e).context("training failed").into());
        }
    };
    let info = trained.model.info().clone();
    let mut timings = trained.timings;
    timings.insert("load_catalogue".into(), load_seconds);
    timings.insert("save".into(), save_seconds);
    Ok(TrainedFile {
        path,
        checksum,
        params: info.params,
        metrics: info.metrics,
        timings,
        songs: info.songs as u64,
    })
}

/// Registers the trained file as a new version (not yet champion).
pub(crate) async fn register(
    registry: &Registry,
    trained: &TrainedFile,
) -> Result<VersionInfo, StepError> {
    // The file is the pipeline's own, removed once registered: the registry may take it.
    let version = registry
        .register_moving(NewVersion {
            model_file: &trained.path,
            checksum: trained.checksum.clone(),
            params: trained.params.clone(),
            metrics: trained.metrics.clone(),
            timings: trained.timings.clone(),
            songs: trained.songs,
        })
        .await
        .context("cannot register the model")?;
    tracing::info!(version = version.version, "model registered");
    Ok(version)
}

/// Applies the promotion policy to a registered version.
pub(crate) async fn promote(
    registry: &Registry,
    version: &VersionInfo,
    policy: PromotionPolicy,
) -> Result<Decision, StepError> {
    let decision = registry
        .promote_if(version, policy, PRIMARY_METRIC)
        .await
        .with_context(|| {
            format!(
                "cannot apply the promotion policy to version {}",
                version.version
            )
        })?;
    tracing::info!(
        version = version.version,
        promoted = decision.promote,
        reason = decision.reason,
        "promotion decided"
    );
    Ok(decision)
}
