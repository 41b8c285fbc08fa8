//! The real thing: models trained by `songrec-model`, registered in a local registry in a
//! temporary directory, served by `songrec_api::run`, reloaded from the registry.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;
use songrec_api::ServeConfig;
use songrec_catalog::{Artist, Credit, CreditRole, Song, browse_order};
use songrec_model::{TrainParams, train};
use songrec_registry::{NewVersion, Registry, VersionInfo, sha256_file};
use tokio::sync::oneshot;

use crate::support::{assert_error, read_json};

/// Four scenes of three artists; each scene shares two producers, so the model has
/// structure to find. Pageviews fall with the id, a few songs have none.
fn catalogue() -> Vec<Song> {
    let mut songs = Vec::new();
    for id in 0..96u64 {
        let scene = id % 4;
        let artist = scene * 3 + (id / 4) % 3;
        let producer = 100 + scene * 2 + (id / 12) % 2;
        songs.push(Song {
            credits: vec![Credit {
                role: CreditRole::Producer,
                artist: Artist {
                    id: producer,
                    name: format!("Producer {producer}"),
                },
            }],
            release_year: Some(2000 + scene as i32 * 5),
            language: Some("en".to_owned()),
            pageviews: (id % 17 != 5).then_some(100_000 / (id + 1)),
            ..Song::new(
                5000 + id * 3,
                format!("Track {id}"),
                Artist {
                    id: artist,
                    name: format!("Performer {artist}"),
                },
            )
        });
    }
    songs
}

/// Trains on `songs` and registers the model (not yet champion).
async fn train_and_register(
    registry: &Registry,
    songs: &[Song],
    work_dir: &Path,
    k: usize,
) -> VersionInfo {
    let params = TrainParams {
        k,
        ..TrainParams::default()
    };
    let trained = train(songs, &params).expect("training succeeds");
    let file = work_dir.join(format!("model-k{k}.bin"));
    let checksum = trained.model.save(&file).expect("the model saves");
    registry
        .register(NewVersion {
            model_file: &file,
            checksum,
            params: BTreeMap::from([("k".to_owned(), k.to_string())]),
            metrics: trained.model.info().metrics.clone(),
            timings: BTreeMap::new(),
            songs: songs.len() as u64,
        })
        .await
        .expect("registration succeeds")
}

async fn train_and_promote(
    registry: &Registry,
    songs: &[Song],
    work_dir: &Path,
    k: usize,
) -> VersionInfo {
    let version = train_and_register(registry, songs, work_dir, k).await;
    registry
        .promote(version.version)
        .await
        .expect("promotion succeeds");
    version
}

struct Served {
    base: String,
    client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Served {
    async fn start(registry: Arc<Registry>) -> Served {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let config = ServeConfig {
            registry,
            reload_interval: Duration::from_millis(10),
            options: songrec_api::ServeOptions::default(),
        };
        let server = tokio::spawn(songrec_api::run(listener, config, async move {
            let _ = rx.await;
        }));
        Served {
            base,
            client: reqwest::Client::new(),
            shutdown: Some(tx),
            server,
        }
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        read_json(response).await
    }

    async fn metrics(&self) -> String {
        let url = format!("{}/metrics", self.base);
        self.client
            .get(url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Waits (bounded) until `done` holds; the server polls the registry every 10 ms.
    async fn wait_until<F, Fut>(&self, what: &str, done: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        for _ in 0..3000 {
            if done().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("gave up waiting until {what}");
    }

    async fn served_version(&self) -> Option<u64> {
        self.get("/model").await.1["version"].as_u64()
    }

    async fn stop(mut self) {
        let _ = self.shutdown.take().map(|tx| tx.send(()));
        self.server
            .await
            .unwrap()
            .expect("the server stops cleanly");
    }
}

fn ids(body: &Value) -> Vec<u64> {
    body["recommended_song_ids"]
        .as_array()
        .unwrap_or_else(|| panic!("no recommendations in {body}"))
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_champion_from_the_registry_is_served_in_browse_order() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Arc::new(Registry::local(&dir.path().join("registry")).unwrap());
    let songs = catalogue();
    let version = train_and_promote(&registry, &songs, dir.path(), 20).await;

    let served = Served::start(registry.clone()).await;
    served
        .wait_until("the champion is served", || async {
            served.get("/ready").await.0 == 200
        })
        .await;

    let mut order: Vec<(Option<u64>, u64)> = songs.iter().map(|s| (s.pageviews, s.id)).collect();
    order.sort_by(|a, b| browse_order(*a, *b));
    let universe = order.iter().filter(|o| o.0.is_some()).count();
    assert!(universe < songs.len());
    for index in [0usize, 1, 50, universe - 1] {
        let (status, body) = served.get(&format!("/recommend/{index}?k=5")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["requested_song_id"], order[index].1, "index {index}");
        let recommended = ids(&body);
        assert_eq!(recommended.len(), 5);
        assert!(!recommended.contains(&order[index].1));
        let scores: Vec<f64> = body["recommendations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["score"].as_f64().unwrap())
            .collect();
        // The order is the model's (it spreads a discography out), so scores need not fall
        // monotonically; each is a cosine similarity.
        assert!(
            scores.iter().all(|s| *s >= 0.0 && *s <= 1.0 + 1e-6),
            "{scores:?}"
        );
        // The original route serves the original catalogue: songs with pageviews only.
        for r in body["recommendations"].as_array().unwrap() {
            assert!(r["pageviews"].as_u64().is_some(), "{r}");
        }
    }
    // A song without pageviews has no index there, but is served by id.
    assert_error(&served.get(&format!("/recommend/{universe}")).await, 404);
    let (status, body) = served
        .get(&format!(
            "/songs/{}/recommendations?k=5",
            order[songs.len() - 1].1
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body).len(), 5);
    let (status, by_id) = served
        .get(&format!("/songs/{}/recommendations?k=5", order[3].1))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        by_id["requested_song_id"],
        served.get("/recommend/3?k=5").await.1["requested_song_id"]
    );

    assert_error(
        &served.get(&format!("/recommend/{}", songs.len())).await,
        404,
    );
    assert_error(&served.get("/recommend/0?k=21").await, 400);
    let (_, model) = served.get("/model").await;
    assert_eq!(model["version"], version.version);
    assert_eq!(model["songs"], songs.len());
    assert_eq!(model["checksum"], version.checksum);
    assert!(model["trained_at"].as_str().is_some_and(|t| !t.is_empty()));
    served.stop().await;
}

/// Status, headers but the date, and body of a GET.
async fn whole_answer(
    client: &reqwest::Client,
    url: &str,
    headers: &[(&str, &str)],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut request = client.get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let mut kept: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(name, _)| *name != "date")
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
        .collect();
    kept.sort();
    (status, kept, response.bytes().await.unwrap().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_original_route_answers_alike_on_its_fast_lane_and_through_the_router() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Arc::new(Registry::local(&dir.path().join("registry")).unwrap());
    let songs = catalogue();
    train_and_promote(&registry, &songs, dir.path(), 20).await;
    let served = Served::start(registry.clone()).await;
    served
        .wait_until("the champion is served", || async {
            served.get("/ready").await.0 == 200
        })
        .await;
    let before = served.metrics().await;
    // `Accept-Encoding: identity` sends a request through the router (the compression layer
    // decides what it gets), where it is answered uncompressed all the same.
    let general = [("accept-encoding", "identity")];
    let mut plain_requests = 0;
    for index in 0..songs.len() + 2 {
        for query in ["", "?k=1", "?k=5", "?k=20", "?k=21"] {
            let url = format!("{}/recommend/{index}{query}", served.base);
            let fast = whole_answer(&served.client, &url, &[]).await;
            let routed = whole_answer(&served.client, &url, &general).await;
            assert_eq!(
                (fast.0, &fast.1, String::from_utf8_lossy(&fast.2)),
                (routed.0, &routed.1, String::from_utf8_lossy(&routed.2)),
                "{url}"
            );
            plain_requests += 2;
        }
    }
    // Both ways are counted alike, under the route's template.
    let count = |metrics: &str| -> u64 {
        metrics
            .lines()
            .filter(|l| {
                l.starts_with("songrec_http_requests_total{")
                    && l.contains("route=\"/recommend/{index}\"")
            })
            .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
            .sum()
    };
    assert_eq!(
        count(&served.metrics().await) - count(&before),
        plain_requests
    );
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_champion_is_picked_up_and_broken_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Arc::new(Registry::local(&dir.path().join("registry")).unwrap());
    let songs = catalogue();
    let first = train_and_promote(&registry, &songs, dir.path(), 10).await;

    let served = Served::start(registry.clone()).await;
    served
        .wait_until("version 1 is served", || async {
            served.served_version().await == Some(first.version)
        })
        .await;
    assert_error(&served.get("/recommend/0?k=11").await, 400);

    // A second champion, trained for a larger k: served without restart.
    let second = train_and_promote(&registry, &songs, dir.path(), 30).await;
    served
        .wait_until("version 2 is served", || async {
            served.served_version().await == Some(second.version)
        })
        .await;
    assert_eq!(ids(&served.get("/recommend/0?k=30").await.1).len(), 30);

    // A champion whose file was damaged after registration fails its checksum: refused.
    let third = train_and_register(&registry, &songs, dir.path(), 12).await;
    let path = registry.model_file(third.version).await.unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let refused_before = refused_count(&served.metrics().await);
    registry.promote(third.version).await.unwrap();
    served
        .wait_until("the damaged version 3 is refused", || async {
            refused_count(&served.metrics().await) > refused_before
        })
        .await;
    assert_eq!(served.served_version().await, Some(second.version));
    assert_eq!(served.get("/recommend/0?k=30").await.0, 200);

    // A sound model file put in place of another version's: it loads on its own, but it is
    // not the file the registry recorded, so it is refused.
    let fourth = train_and_register(&registry, &songs, dir.path(), 14).await;
    let fourth_file = registry
        .model_file_unverified(fourth.version)
        .await
        .unwrap();
    std::fs::copy(
        registry.model_file(first.version).await.unwrap(),
        &fourth_file.path,
    )
    .unwrap();
    assert!(songrec_model::Model::load(&fourth_file.path).is_ok());
    let refused_before = refused_count(&served.metrics().await);
    registry.promote(fourth.version).await.unwrap();
    served
        .wait_until("the swapped version 4 is refused", || async {
            refused_count(&served.metrics().await) > refused_before
        })
        .await;
    assert_eq!(served.served_version().await, Some(second.version));
    assert_eq!(served.get("/recommend/0?k=30").await.0, 200);

    // A file that is not a model at all, registered with its own checksum: the model
    // loader refuses it.
    let junk = dir.path().join("junk.bin");
    std::fs::write(&junk, b"not a songrec model").unwrap();
    let junk_version = registry
        .register(NewVersion {
            model_file: &junk,
            checksum: sha256_file(&junk).unwrap(),
            params: BTreeMap::new(),
            metrics: BTreeMap::new(),
            timings: BTreeMap::new(),
            songs: 1,
        })
        .await
        .unwrap();
    let refused_before = refused_count(&served.metrics().await);
    registry.promote(junk_version.version).await.unwrap();
    served
        .wait_until("the junk version is refused", || async {
            refused_count(&served.metrics().await) > refused_before
        })
        .await;
    assert_eq!(served.served_version().await, Some(second.version));

    // Rollback to a good version is followed too.
    registry.promote(first.version).await.unwrap();
    served
        .wait_until("version 1 is served again", || async {
            served.served_version().await == Some(first.version)
        })
        .await;
    served.stop().await;
}

fn refused_count(metrics: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("songrec_model_reloads_total{outcome=\"refused\"} "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_source_loads_the_recorded_file_and_refuses_any_other() {
    use songrec_api::{ModelSource, RegistrySource};

    let dir = tempfile::tempdir().unwrap();
    let registry = Arc::new(Registry::local(&dir.path().join("registry")).unwrap());
    let songs = catalogue();
    let first = train_and_register(&registry, &songs, dir.path(), 10).await;
    let second = train_and_register(&registry, &songs, dir.path(), 12).await;
    let source = RegistrySource::new(registry.clone());
    let loaded = source.load(&second).await.unwrap();
    assert_eq!((loaded.len(), loaded.max_k()), (songs.len(), 12));

    // A sound model, but version 1's, in place of version 2's file.
    let second_file = registry
        .model_file_unverified(second.version)
        .await
        .unwrap();
    let first_path = registry.model_file(first.version).await.unwrap();
    std::fs::copy(&first_path, &second_file.path).unwrap();
    let error = source.load(&second).await.err().unwrap().to_string();
    assert!(error.contains("checksum"), "{error}");

    // One flipped byte, in a registry that has checked nothing yet.
    let mut bytes = std::fs::read(&first_path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&first_path, &bytes).unwrap();
    let fresh = RegistrySource::new(Arc::new(
        Registry::local(&dir.path().join("registry")).unwrap(),
    ));
    let error = fresh.load(&first).await.err().unwrap().to_string();
    assert!(error.contains("checksum"), "{error}");
}

/// A catalogue the model has to reorder: a third of the songs belong to seven prolific
/// artists (their songs are spread through each list, below less similar songs of other
/// artists) and one song in nine has no credits (its list is completed from songs of the same
/// language and era, nearest in popularity).
fn crowded_catalogue(n: u64) -> Vec<Song> {
    let languages = ["en", "es", "ko"];
    (0..n)
        .map(|id| {
            let scene = id % 7;
            let artist = if id % 3 == 0 { scene } else { 10 + id % 41 };
            let credits = if id % 9 == 4 {
                Vec::new()
            } else {
                [100 + scene * 2 + id % 2, 200 + (id * 7) % 23]
                    .into_iter()
                    .map(|producer| Credit {
                        role: CreditRole::Producer,
                        artist: Artist {
                            id: producer,
                            name: format!("Producer {producer}"),
                        },
                    })
                    .collect()
            };
            Song {
                credits,
                release_year: Some(1990 + scene as i32 * 4 + (id % 3) as i32),
                language: Some(languages[(scene % 3) as usize].to_owned()),
                pageviews: (id % 13 != 7).then_some(1_000_000 / (id + 1)),
                ..Song::new(
                    70_000 + id * 5,
                    format!("Song {id}"),
                    Artist {
                        id: artist,
                        name: format!("Singer {artist}"),
                    },
                )
            }
        })
        .collect()
}

/// The scores of an answer, which must never increase down the list.
fn assert_monotone(path: &str, status: u16, body: &Value) -> usize {
    assert_eq!(status, 200, "{path}: {body}");
    let scores: Vec<f64> = body["recommendations"]
        .as_array()
        .unwrap_or_else(|| panic!("{path}: {body}"))
        .iter()
        .map(|r| r["score"].as_f64().unwrap())
        .collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "{path}: scores {scores:?} increase"
    );
    scores.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scores_never_increase_down_any_list_on_any_route_with_any_filter() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Arc::new(Registry::local(&dir.path().join("registry")).unwrap());
    let songs = crowded_catalogue(700);
    train_and_promote(&registry, &songs, dir.path(), 30).await;
    let served = Served::start(registry).await;
    served
        .wait_until("the model is served", || async {
            served.served_version().await.is_some()
        })
        .await;
    let (_, model) = served.get("/model").await;
    let universe = model["recommend_songs"].as_u64().unwrap() as usize;
    let ids: Vec<u64> = {
        let mut ids: Vec<(Option<u64>, u64)> = songs.iter().map(|s| (s.pageviews, s.id)).collect();
        ids.sort_by(|a, b| browse_order(*a, *b));
        ids.into_iter().map(|(_, id)| id).collect()
    };
    let filters = [
        "",
        "&max_per_artist=1",
        "&max_per_artist=2&exclude_artist=true",
        "&language=en",
        "&min_year=1998&max_year=2010",
        "&min_pageviews=2000",
    ];
    let mut paths = Vec::new();
    for filter in filters {
        for index in 0..universe {
            paths.push(format!("/recommend/{index}?k=30{filter}"));
        }
        for id in &ids {
            paths.push(format!("/songs/{id}/recommendations?k=30{filter}"));
        }
        for seeds in ids.chunks(3).step_by(5) {
            let seeds: Vec<String> = seeds.iter().map(u64::to_string).collect();
            paths.push(format!(
                "/recommendations?seeds={}&avoid={}&k=30{filter}",
                seeds.join(","),
                ids[ids.len() / 2]
            ));
        }
    }
    let answered: Vec<usize> = futures::stream::iter(paths)
        .map(|path| {
            let served = &served;
            async move {
                let (status, body) = served.get(&path).await;
                assert_monotone(&path, status, &body)
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    // The lists are long enough for the order to matter.
    let long = answered.iter().filter(|&&n| n >= 10).count();
    assert!(long * 2 > answered.len(), "{long} of {}", answered.len());
    served.stop().await;
}
