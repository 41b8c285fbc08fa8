//! Keeps the served model in step with the champion: polls the source, loads a new champion
//! off the request path and swaps it in atomically; a model that fails to load is refused and
//! the current one keeps serving.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

    /// Every registered version, as the source lists them.
    pub async fn versions(&self) -> Result<Vec<VersionInfo>, crate::BoxError> {
        self.source.versions().await
    }

    /// Polls now, then every `interval`, until `stop` changes.
    pub async fn run(self: Arc<Self>, interval: Duration, mut stop: watch::Receiver<bool>) {
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
        let started = Instant::now();
        let loaded = match self.source.load(&champion).await {
            Ok(model) if model.is_empty() => Err("the model has no songs".into()),
            Ok(model) => {
                // The search index walks every song: keep that off the async threads.
                tokio::task::spawn_blocking(move || {
                    ServedModel::new(model, Some(champion), started)
                })
                .await
                .map_err(|e| e.to_string().into())
            }
            Err(e) => Err(e),
        };
        match loaded {
            Ok(served) => {
                let songs = served.model.len();
                let seconds = served.load_seconds;
                self.slot.store(Some(Arc::new(served)));
                self.metrics.set_model(Some(version), songs);
                self.metrics.set_load_seconds(seconds);
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicU64, Ordering};

    use songrec_model::{ModelInfo, RecommendError, Recommendation, SongInfo, SongView};

    use super::*;
    use crate::{BoxError, Recommender, SourceFuture};

    struct TinyModel {
        songs: Vec<SongInfo>,
        info: ModelInfo,
    }

    impl TinyModel {
        fn new() -> TinyModel {
            TinyModel {
                songs: (0..3)
                    .map(|i| SongInfo {
                        id: i,
                        title: format!("t{i}"),
                        artist: "a".to_owned(),
                        ..SongInfo::default()
                    })
                    .collect(),
                info: ModelInfo {
                    trained_at: String::new(),
                    params: BTreeMap::new(),
                    metrics: BTreeMap::new(),
                    songs: 3,
                },
            }
        }
    }

    fn view(s: &SongInfo) -> SongView<'_> {
        SongView {
            id: s.id,
            title: &s.title,
            artist: &s.artist,
            artist_id: s.artist_id,
            album: None,
            release_date: None,
            release_year: None,
            language: None,
            pageviews: None,
            url: None,
            art_url: None,
        }
    }

    impl Recommender for TinyModel {
        fn len(&self) -> usize {
            self.songs.len()
        }
        fn max_k(&self) -> usize {
            2
        }
        fn song(&self, index: usize) -> Option<SongView<'_>> {
            self.songs.get(index).map(view)
        }
        fn index_of(&self, song_id: u64) -> Option<usize> {
            self.songs.iter().position(|s| s.id == song_id)
        }
        fn recommend(
            &self,
            _index: usize,
            _k: usize,
        ) -> Result<Vec<Recommendation<'_>>, RecommendError> {
            Ok(Vec::new())
        }
        fn neighbours(&self, _index: usize) -> Vec<songrec_model::Neighbour> {
            Vec::new()
        }
        fn reasons(&self, _q: usize, _c: usize, _bits: u8) -> Vec<String> {
            Vec::new()
        }
        fn info(&self) -> &ModelInfo {
            &self.info
        }
    }

    /// Champion `n` loads unless it is in `broken`.
    #[derive(Default)]
    struct Source {
        champion: AtomicU64,
        broken: Mutex<Vec<u64>>,
        polls: AtomicU64,
    }

    fn version(n: u64) -> VersionInfo {
        VersionInfo {
            version: n,
            created_at: String::new(),
            params: BTreeMap::new(),
            metrics: BTreeMap::new(),
            timings: BTreeMap::new(),
            checksum: format!("sum{n}"),
            songs: 3,
            model_bytes: 0,
            is_champion: true,
            run_id: None,
        }
    }

    impl ModelSource for Source {
        fn champion(&self) -> SourceFuture<'_, Option<VersionInfo>> {
            self.polls.fetch_add(1, Ordering::SeqCst);
            let n = self.champion.load(Ordering::SeqCst);
            Box::pin(async move { Ok((n > 0).then(|| version(n))) })
        }

        fn versions(&self) -> SourceFuture<'_, Vec<VersionInfo>> {
            Box::pin(async move { Ok(Vec::new()) })
        }

        fn load(&self, v: &VersionInfo) -> SourceFuture<'_, Box<dyn Recommender>> {
            let broken = self.broken.lock().unwrap().contains(&v.version);
            Box::pin(async move {
                if broken {
                    Err::<Box<dyn Recommender>, BoxError>("corrupt".into())
                } else {
                    Ok(Box::new(TinyModel::new()) as Box<dyn Recommender>)
                }
            })
        }
    }

    fn reloader() -> (Reloader, Arc<Source>, Arc<ModelSlot>) {
        let source = Arc::new(Source::default());
        let slot = Arc::new(ModelSlot::empty());
        let reloader = Reloader::new(source.clone(), slot.clone(), Metrics::new());
        (reloader, source, slot)
    }

    fn served(slot: &ModelSlot) -> Option<u64> {
        slot.load().as_ref().and_then(|m| m.version_number())
    }

    #[tokio::test]
    async fn a_poll_swaps_only_to_a_new_champion_that_loads() {
        let (reloader, source, slot) = reloader();
        assert_eq!(reloader.poll().await, Poll::Unchanged);
        assert_eq!(served(&slot), None);

        source.champion.store(1, Ordering::SeqCst);
        assert_eq!(reloader.poll().await, Poll::Swapped { from: None, to: 1 });
        assert_eq!(reloader.poll().await, Poll::Unchanged);

        source.broken.lock().unwrap().push(2);
        source.champion.store(2, Ordering::SeqCst);
        assert_eq!(reloader.poll().await, Poll::Refused { version: 2 });
        assert_eq!(reloader.poll().await, Poll::Refused { version: 2 });
        assert_eq!(served(&slot), Some(1));

        source.champion.store(3, Ordering::SeqCst);
        assert_eq!(
            reloader.poll().await,
            Poll::Swapped {
                from: Some(1),
                to: 3
            }
        );
        assert_eq!(served(&slot), Some(3));
    }

    #[tokio::test(start_paused = true)]
    async fn the_source_is_polled_at_start_then_once_per_interval() {
        let (reloader, source, _slot) = reloader();
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(Arc::new(reloader).run(Duration::from_secs(30), stop_rx));
        let polls = || source.polls.load(Ordering::SeqCst);

        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(polls(), 1);
        tokio::time::sleep(Duration::from_secs(28)).await;
        assert_eq!(polls(), 1);
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(polls(), 2);
        tokio::time::sleep(Duration::from_secs(300)).await;
        assert_eq!(polls(), 12);

        stop_tx.send(true).unwrap();
        task.await.unwrap();
    }
}
