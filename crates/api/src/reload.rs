//! Keeps the served model in step with the champion: polls the source, loads a new champion
//! off the request path and swaps it in atomically; a model that fails to load is refused and
//! the current one keeps serving.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use songrec_registry::VersionInfo;
use tokio::sync::watch;

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

    /// Polls now, then every `interval`, until `stop` changes. While the source keeps failing
    /// (the registry down or slower than its timeout) the polls back off: twice the wait after
    /// each failed poll, up to [`MAX_BACKOFF`] (or `interval` if longer); one good poll brings
    /// the interval back.
    pub async fn run(self: Arc<Self>, interval: Duration, mut stop: watch::Receiver<bool>) {
        let mut next = tokio::time::Instant::now();
        let mut failures = 0u32;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(next) => {}
                _ = stop.changed() => return,
            }
            let started = tokio::time::Instant::now();
            let failed = self.poll().await == Poll::SourceFailed;
            failures = if failed {
                failures.saturating_add(1)
            } else {
                0
            };
            let wait = backoff(interval, failures);
            if failed {
                tracing::info!(
                    failures,
                    next_poll_in = ?wait,
                    "the registry failed; backing off"
                );
            }
            // A poll slower than the wait is followed by the next one at once, never a burst.
            next = (started + wait).max(tokio::time::Instant::now());
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
        // The served model's pages go back first: what requests read again while the new one
        // loads comes back, the rest is not resident beside the new model.
        if let Some(served) = self.slot.load_full() {
            served.model.release_pages();
        }
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

/// The longest wait between two polls of a failing source (unless the interval is longer).
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// The wait before the next poll after `failures` failed polls in a row.
fn backoff(interval: Duration, failures: u32) -> Duration {
    let factor = 1u32 << failures.min(16);
    interval
        .saturating_mul(factor)
        .min(MAX_BACKOFF.max(interval))
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
            ..SongView::default()
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
        /// The champion cannot be read (the registry is down or too slow).
        failing: std::sync::atomic::AtomicBool,
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
            let failing = self.failing.load(Ordering::SeqCst);
            Box::pin(async move {
                if failing {
                    return Err::<_, BoxError>("MLflow did not answer".into());
                }
                Ok((n > 0).then(|| version(n)))
            })
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

    #[tokio::test(start_paused = true)]
    async fn polls_back_off_while_the_source_fails_and_resume_their_interval_after() {
        let (reloader, source, slot) = reloader();
        source.champion.store(1, Ordering::SeqCst);
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(Arc::new(reloader).run(Duration::from_secs(10), stop_rx));
        let polls = || source.polls.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!((polls(), served(&slot)), (1, Some(1)));

        // Failing from the poll at 10 s: waits of 20, 40, 80, 160, 300, 300 s.
        source.failing.store(true, Ordering::SeqCst);
        let mut at = Vec::new();
        let mut seen = polls();
        // Sampled half-way between seconds, so that a poll and a sample never coincide.
        tokio::time::sleep(Duration::from_millis(500)).await;
        for second in 2..=1200 {
            tokio::time::sleep_until(tokio::time::Instant::now() + Duration::from_secs(1)).await;
            if polls() != seen {
                seen = polls();
                at.push(second);
            }
        }
        assert_eq!(
            at,
            [10, 30, 70, 150, 310, 610, 910],
            "polls at these seconds"
        );
        assert_eq!(served(&slot), Some(1), "the served model stays");

        // Back: the next poll succeeds and the interval is 10 s again.
        source.failing.store(false, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(300)).await;
        let back = polls();
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert_eq!(polls(), back + 3);
        stop_tx.send(true).unwrap();
        task.await.unwrap();
    }

    #[test]
    fn the_backoff_doubles_up_to_its_cap_and_never_below_the_interval() {
        let s = Duration::from_secs;
        assert_eq!(backoff(s(1), 0), s(1));
        assert_eq!(backoff(s(1), 3), s(8));
        assert_eq!(backoff(s(1), 40), MAX_BACKOFF);
        assert_eq!(backoff(s(600), 5), s(600));
    }
}
