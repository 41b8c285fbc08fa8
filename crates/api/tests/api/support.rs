//! A per-test world: hand-made models whose right answers are known, a champion source the
//! test controls, and the real server on a random port.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use songrec_api::{BoxError, ModelSource, Recommender, ServeOptions, SourceFuture};
use songrec_model::{ModelInfo, Neighbour, RecommendError, Recommendation, SongInfo, SongView};
use songrec_registry::VersionInfo;
use tokio::sync::{oneshot, watch};

/// How a fake model picks neighbours, so that two versions answer differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// Song i's neighbours are i+1, i+2, ... (wrapping).
    Forward,
    /// Song i's neighbours are i-1, i-2, ... (wrapping).
    Backward,
}

/// What a fake model version looks like.
#[derive(Debug, Clone)]
pub struct Spec {
    pub songs: usize,
    pub max_k: usize,
    pub flavour: Flavour,
}

impl Spec {
    pub fn new(songs: usize, flavour: Flavour) -> Spec {
        Spec {
            songs,
            max_k: 100.min(songs - 1),
            flavour,
        }
    }
}

/// The id of the song at browse index `i` in every fake catalogue (ids are not indices).
pub fn song_id(i: usize) -> u64 {
    1000 + 7 * i as u64
}

/// The browse index of neighbour `rank` (0-based) of song `i`.
pub fn neighbour(spec: &Spec, i: usize, rank: usize) -> usize {
    match spec.flavour {
        Flavour::Forward => (i + 1 + rank) % spec.songs,
        Flavour::Backward => (i + spec.songs - 1 - rank) % spec.songs,
    }
}

/// Similarity of neighbour `rank`: strictly decreasing, so "best first" is checkable.
pub fn score(rank: usize) -> f32 {
    1.0 - rank as f32 / 200.0
}

/// A catalogue of `songs` songs with synthetic neighbours; can be told to hold its
/// recommendations until released, to catch a request in flight.
pub struct FakeModel {
    spec: Spec,
    songs: Vec<SongInfo>,
    index_by_id: HashMap<u64, usize>,
    info: ModelInfo,
    gate: Option<Gate>,
    /// Calls to the model's song, id and neighbour lookups: a request that never reaches it
    /// leaves this alone.
    calls: Arc<AtomicUsize>,
}

/// Holds `recommend` until released; reports when a call has entered.
#[derive(Clone)]
pub struct Gate {
    entered: Arc<Mutex<Option<std::sync::mpsc::Sender<()>>>>,
    release: Arc<(Mutex<bool>, std::sync::Condvar)>,
}

impl Gate {
    /// The gate and a receiver that gets one message per call that entered it.
    pub fn new() -> (Gate, std::sync::mpsc::Receiver<()>) {
        let (tx, rx) = std::sync::mpsc::channel();
        let gate = Gate {
            entered: Arc::new(Mutex::new(Some(tx))),
            release: Arc::new((Mutex::new(false), std::sync::Condvar::new())),
        };
        (gate, rx)
    }

    pub fn open(&self) {
        let (open, changed) = &*self.release;
        *open.lock().unwrap() = true;
        changed.notify_all();
    }

    fn pass(&self) {
        if let Some(tx) = self.entered.lock().unwrap().as_ref() {
            let _ = tx.send(());
        }
        let (open, changed) = &*self.release;
        let mut is_open = open.lock().unwrap();
        while !*is_open {
            is_open = changed.wait(is_open).unwrap();
        }
    }
}

impl FakeModel {
    pub fn new(spec: Spec, gate: Option<Gate>) -> FakeModel {
        let songs: Vec<SongInfo> = (0..spec.songs)
            .map(|i| SongInfo {
                id: song_id(i),
                title: format!("Song {i}"),
                artist: format!("Artist {}", i % 5),
                artist_id: 500 + (i % 5) as u64,
                pageviews: Some((spec.songs - i) as u64 * 10),
                ..SongInfo::default()
            })
            .collect();
        let index_by_id = songs.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
        let info = ModelInfo {
            trained_at: "2024-05-01T12:00:00Z".to_owned(),
            params: BTreeMap::from([("k".to_owned(), spec.max_k.to_string())]),
            metrics: BTreeMap::from([("coverage".to_owned(), 0.5)]),
            songs: spec.songs,
        };
        FakeModel {
            spec,
            songs,
            index_by_id,
            info,
            gate,
            calls: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The count of lookups this model has answered, shared with the server that serves it.
    pub fn calls(&self) -> Arc<AtomicUsize> {
        self.calls.clone()
    }

    fn count(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }

    /// Renames some songs so that search has something to find.
    pub fn with_title(mut self, index: usize, title: &str, artist: &str) -> FakeModel {
        self.songs[index].title = title.to_owned();
        self.songs[index].artist = artist.to_owned();
        self
    }
}

impl Recommender for FakeModel {
    fn len(&self) -> usize {
        self.songs.len()
    }

    fn max_k(&self) -> usize {
        self.spec.max_k
    }

    fn song(&self, index: usize) -> Option<SongView<'_>> {
        self.count();
        self.songs.get(index).map(view)
    }

    fn index_of(&self, song_id: u64) -> Option<usize> {
        self.count();
        self.index_by_id.get(&song_id).copied()
    }

    fn recommend(&self, index: usize, k: usize) -> Result<Vec<Recommendation<'_>>, RecommendError> {
        self.count();
        if let Some(gate) = &self.gate {
            // Hand this worker's other tasks to another thread while waiting, or they would
            // wait for the gate too.
            tokio::task::block_in_place(|| gate.pass());
        }
        if index >= self.songs.len() {
            return Err(RecommendError::IndexOutOfRange {
                index,
                len: self.songs.len(),
            });
        }
        if k == 0 || k > self.spec.max_k {
            return Err(RecommendError::KOutOfRange {
                k,
                max: self.spec.max_k,
            });
        }
        Ok((0..k)
            .map(|rank| {
                let n = neighbour(&self.spec, index, rank);
                Recommendation {
                    index: n,
                    song: view(&self.songs[n]),
                    score: score(rank),
                    reasons: vec![format!("rank {rank} of song {index}")],
                }
            })
            .collect())
    }

    fn neighbours(&self, index: usize) -> Vec<Neighbour> {
        self.count();
        if let Some(gate) = &self.gate {
            tokio::task::block_in_place(|| gate.pass());
        }
        if index >= self.songs.len() {
            return Vec::new();
        }
        // The rank travels as the reason bits, so that reasons can name it.
        (0..self.spec.max_k)
            .map(|rank| Neighbour {
                index: neighbour(&self.spec, index, rank),
                score: score(rank),
                reason_bits: rank as u8,
            })
            .collect()
    }

    fn reasons(&self, q: usize, _c: usize, bits: u8) -> Vec<String> {
        vec![format!("rank {bits} of song {q}")]
    }

    fn info(&self) -> &ModelInfo {
        &self.info
    }
}

/// A registry version record for a fake model.
pub fn version(number: u64) -> VersionInfo {
    VersionInfo {
        version: number,
        created_at: "2024-05-01T12:00:01Z".to_owned(),
        params: BTreeMap::new(),
        metrics: BTreeMap::from([("coverage".to_owned(), 0.5 + number as f64 / 100.0)]),
        timings: BTreeMap::new(),
        checksum: format!("checksum-{number}"),
        songs: 0,
        model_bytes: 0,
        is_champion: true,
        run_id: None,
    }
}

/// What loading a version gives.
#[derive(Clone)]
pub enum Artifact {
    Good(Spec),
    /// Loads but holds its recommendations at the gate.
    Gated(Spec, Gate),
    /// A prepared model, handed out by the first load.
    Prepared(Arc<Mutex<Option<FakeModel>>>),
    /// Fails to load, as a corrupt model file does.
    Broken,
}

/// A champion source the test steers; counts its polls so a test can wait for the server to
/// have seen a change instead of sleeping.
pub struct FakeSource {
    state: Mutex<SourceState>,
    polls: watch::Sender<u64>,
}

struct SourceState {
    champion: Option<u64>,
    artifacts: HashMap<u64, Artifact>,
    polls: u64,
    failing: bool,
}

impl FakeSource {
    pub fn new() -> Arc<FakeSource> {
        Arc::new(FakeSource {
            state: Mutex::new(SourceState {
                champion: None,
                artifacts: HashMap::new(),
                polls: 0,
                failing: false,
            }),
            polls: watch::channel(0).0,
        })
    }

    /// Registers `artifact` as `version` and makes it champion; returns the poll count at
    /// that moment (see [`FakeSource::wait_for_polls`]).
    pub fn set_champion(&self, version: u64, artifact: Artifact) -> u64 {
        let mut state = self.state.lock().unwrap();
        state.artifacts.insert(version, artifact);
        state.champion = Some(version);
        state.polls
    }

    /// Makes `champion()` fail (registry unreachable) or work again.
    pub fn set_failing(&self, failing: bool) -> u64 {
        let mut state = self.state.lock().unwrap();
        state.failing = failing;
        state.polls
    }

    /// Waits until the server has polled `after + 2` times: the first poll after a change sees
    /// it and loads it, the second starts only once the first is done.
    pub async fn wait_for_polls(&self, after: u64) {
        let mut polls = self.polls.subscribe();
        let waited =
            tokio::time::timeout(Duration::from_secs(60), polls.wait_for(|&p| p >= after + 2))
                .await;
        assert!(
            waited.is_ok(),
            "the server stopped polling its model source"
        );
    }
}

impl ModelSource for FakeSource {
    fn champion(&self) -> SourceFuture<'_, Option<VersionInfo>> {
        let result = {
            let mut state = self.state.lock().unwrap();
            state.polls += 1;
            self.polls.send_replace(state.polls);
            if state.failing {
                Err::<_, BoxError>("registry unreachable".into())
            } else {
                Ok(state.champion.map(version))
            }
        };
        Box::pin(async move { result })
    }

    fn versions(&self) -> SourceFuture<'_, Vec<VersionInfo>> {
        let state = self.state.lock().unwrap();
        let mut numbers: Vec<u64> = state.artifacts.keys().copied().collect();
        numbers.sort_unstable();
        let champion = state.champion;
        let versions = numbers
            .into_iter()
            .map(|n| VersionInfo {
                is_champion: Some(n) == champion,
                ..version(n)
            })
            .collect();
        Box::pin(async move { Ok(versions) })
    }

    fn load(&self, version: &VersionInfo) -> SourceFuture<'_, Box<dyn Recommender>> {
        let artifact = self
            .state
            .lock()
            .unwrap()
            .artifacts
            .get(&version.version)
            .cloned();
        Box::pin(async move {
            match artifact {
                Some(Artifact::Good(spec)) => {
                    Ok(Box::new(FakeModel::new(spec, None)) as Box<dyn Recommender>)
                }
                Some(Artifact::Gated(spec, gate)) => {
                    Ok(Box::new(FakeModel::new(spec, Some(gate))) as Box<dyn Recommender>)
                }
                Some(Artifact::Prepared(model)) => model
                    .lock()
                    .unwrap()
                    .take()
                    .map(|m| Box::new(m) as Box<dyn Recommender>)
                    .ok_or_else(|| "already loaded".into()),
                Some(Artifact::Broken) => Err("model file is corrupt: bad checksum".into()),
                None => Err("no such version".into()),
            }
        })
    }
}

/// The server under test.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// Polling interval in tests: short, because tests wait on poll counts, never on time.
pub const TEST_RELOAD_INTERVAL: Duration = Duration::from_millis(5);

impl TestApp {
    pub async fn spawn(source: Arc<dyn ModelSource>) -> TestApp {
        TestApp::spawn_with(source, TEST_RELOAD_INTERVAL, ServeOptions::default()).await
    }

    /// A server with its own reload interval and options.
    pub async fn spawn_with(
        source: Arc<dyn ModelSource>,
        reload_interval: Duration,
        options: ServeOptions,
    ) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a random port");
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(songrec_api::run_with_options(
            listener,
            source,
            reload_interval,
            options,
            async move {
                let _ = rx.await;
            },
        ));
        TestApp {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    /// A server already serving `spec` as version 1.
    pub async fn serving(spec: Spec) -> (TestApp, Arc<FakeSource>) {
        TestApp::serving_artifact(Artifact::Good(spec)).await
    }

    /// A server already serving `artifact` as version 1.
    pub async fn serving_artifact(artifact: Artifact) -> (TestApp, Arc<FakeSource>) {
        TestApp::serving_with(artifact, ServeOptions::default()).await
    }

    /// A server with `options`, already serving `artifact` as version 1.
    pub async fn serving_with(
        artifact: Artifact,
        options: ServeOptions,
    ) -> (TestApp, Arc<FakeSource>) {
        let source = FakeSource::new();
        let polls = source.set_champion(1, artifact);
        let app = TestApp::spawn_with(source.clone(), TEST_RELOAD_INTERVAL, options).await;
        source.wait_for_polls(polls).await;
        (app, source)
    }

    /// A server serving `model` as version 1, and the count of the model's lookups.
    pub async fn serving_counted(model: FakeModel) -> (TestApp, Arc<AtomicUsize>) {
        let calls = model.calls();
        let prepared = Arc::new(Mutex::new(Some(model)));
        let (app, _source) = TestApp::serving_artifact(Artifact::Prepared(prepared)).await;
        (app, calls)
    }

    /// Waits until `/ready` answers 200 (a server polling rarely has no poll count to wait on).
    pub async fn wait_until_ready(&self) {
        for _ in 0..600 {
            if self.get("/ready").await.0 == 200 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the server never became ready");
    }

    pub async fn get(&self, path_and_query: &str) -> (u16, Value) {
        let response = self
            .client
            .get(format!("{}{path_and_query}", self.base))
            .send()
            .await
            .expect("request reaches the server");
        read_json(response).await
    }

    pub async fn post_json(&self, path: &str, body: &str) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .expect("request reaches the server");
        read_json(response).await
    }

    pub async fn get_recommend(&self, index: impl std::fmt::Display, k: usize) -> (u16, Value) {
        self.get(&format!("/recommend/{index}?k={k}")).await
    }

    /// Signals shutdown and waits for the server to drain and stop.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.server
            .take()
            .expect("server still running")
            .await
            .expect("server task did not panic")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Status and JSON body; a body that is not JSON fails the test (every answer must be JSON).
pub async fn read_json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = response.text().await.expect("a readable body");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("status {status}: body is not JSON ({e}): {text:?}"));
    assert!(
        content_type.starts_with("application/json"),
        "status {status}: content-type {content_type:?}"
    );
    (status, body)
}

/// Asserts an error answer: the status and a JSON `error` message, nothing else.
pub fn assert_error(answer: &(u16, Value), status: u16) {
    assert_eq!(answer.0, status, "body: {}", answer.1);
    let message = answer.1["error"].as_str().unwrap_or("");
    assert!(
        !message.is_empty(),
        "error body without a message: {}",
        answer.1
    );
    assert_eq!(
        answer.1.as_object().map(|o| o.len()),
        Some(1),
        "{}",
        answer.1
    );
}

/// The ids a fake model recommends for song `i`.
pub fn expected_ids(spec: &Spec, i: usize, k: usize) -> Vec<u64> {
    (0..k)
        .map(|rank| song_id(neighbour(spec, i, rank)))
        .collect()
}

/// A hand-made song as the model shows it.
pub fn view(s: &SongInfo) -> SongView<'_> {
    SongView {
        id: s.id,
        title: &s.title,
        artist: &s.artist,
        artist_id: s.artist_id,
        album: s.album.as_deref(),
        release_date: s.release_date.as_deref(),
        release_year: s.release_year,
        language: s.language.as_deref(),
        pageviews: s.pageviews,
        url: s.url.as_deref(),
        art_url: s.art_url.as_deref(),
    }
}

/// Longest a test waits for the server to act on a deadline or to close a connection.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A raw connection to the server, for requests no HTTP client would send.
pub async fn connect(app: &TestApp) -> tokio::net::TcpStream {
    tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Everything the server sends until it closes the connection.
pub async fn read_until_closed(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut received = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the server kept the connection open; it sent {:?}",
        String::from_utf8_lossy(&received)
    );
    String::from_utf8_lossy(&received).into_owned()
}
