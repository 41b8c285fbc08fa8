//! Keeps the served model in step with the champion: polls the source, loads a new champion
//! off the request path and swaps it in atomically; a model that fails to load is refused and
//! the current one keeps serving.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use songrec_registry::VersionInfo;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use crate::ModelSource;
use crate::served::{ModelSlot, ServedModel};
use crate::telemetry::{Metrics, ReloadOutcome};

pub(crate) struct Reloader {
    source: Arc<dyn ModelSource>,
    slot: Arc<ModelSlot>,
    metrics: Metrics,
    /// The last version refused, so that a broken champion is reported once, not every poll.
    refused: Mutex<Option<(u64, String)>>,
}

/// What one poll did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Poll {
    /// The champion is the served model (or there is no champion and nothing to change).
    Unchanged,
    Swapped {
        from: Option<u64>,
        to: u64,
    },
    Refused {
        version: u64,
    },
    SourceFailed,
}

impl Reloader {
    pub fn new(source: Arc<dyn ModelSource>, slot: Arc<ModelSlot>, metrics: Metrics) -> Reloader {
        Reloader {
            source,
            slot,
            metrics,
            refused: Mutex::new(None),
        }
    }

    /// Polls now, then every `interval`, until `stop` changes.
    pub async fn run(self, interval: Duration, mut stop: watch::Receiver<bool>) {
        let mut ticker = tokio::time::interval(interval);
        // A slow load must not be followed by a burst of catch-up polls.
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => { self.poll().await; }
                _ = stop.changed() => return,
            }
        }
    }

    /// Checks the champion once and swaps to it if it is new and loads.
    pub async fn poll(&self) -> Poll {
        let champion = match self.source.champion().await {
            Ok(Some(champion)) => champion,
            Ok(None) => {
                if self.slot.load().is_none() {
                    tracing::debug!("no champion yet; model routes answer 503");
                }
                return Poll::Unchanged;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the champion; keeping the served model");
                self.metrics.record_reload(ReloadOutcome::SourceFailed);
                return Poll::SourceFailed;
            }
        };
        let current = self.slot.load_full();
        let from = current.as_ref().and_then(|m| m.version_number());
        if current
            .as_ref()
            .and_then(|m| m.version.as_ref())
            .is_some_and(|v| same_version(v, &champion))
        {
            return Poll::Unchanged;
        }
        self.load(champion, from).await
    }

    #[tracing::instrument(skip_all, fields(version = champion.version))]
    async fn load(&self, champion: VersionInfo, from: Option<u64>) -> Poll {
        let version = champion.version;
        let loaded = match self.source.load(&champion).await {
            Ok(model) if model.is_empty() => Err("the model has no songs".into()),
            Ok(model) => {
                // The search index walks every song: keep that off the async threads.
                tokio::task::spawn_blocking(move || ServedModel::new(model, Some(champion)))
                    .await
                    .map_err(|e| e.to_string().into())
            }
            Err(e) => Err(e),
        };
        match loaded {
            Ok(served) => {
                let songs = served.model.len();
                self.slot.store(Some(Arc::new(served)));
                self.metrics.set_model(Some(version), songs);
                self.metrics.record_reload(ReloadOutcome::Loaded);
                *self.refused.lock().unwrap_or_else(|p| p.into_inner()) = None;
                tracing::info!(from = ?from, songs, "now serving model version {version}");
                Poll::Swapped { from, to: version }
            }
            Err(e) => {
                let error: crate::BoxError = e;
                let message = error.to_string();
                let mut refused = self.refused.lock().unwrap_or_else(|p| p.into_inner());
                let key = (version, message.clone());
                if refused.as_ref() != Some(&key) {
                    tracing::error!(
                        error = %message,
                        serving = ?from,
                        "refused model version {version}; the served model stays"
                    );
                    *refused = Some(key);
                } else {
                    tracing::debug!(error = %message, "model version {version} still refused");
                }
                self.metrics.record_reload(ReloadOutcome::Refused);
                Poll::Refused { version }
            }
        }
    }
}

/// Same registry version with the same file: nothing to reload.
fn same_version(a: &VersionInfo, b: &VersionInfo) -> bool {
    a.version == b.version && a.checksum == b.checksum
}
