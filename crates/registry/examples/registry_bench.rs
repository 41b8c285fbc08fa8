//! What registering and fetching a model file costs, locally and (if `SONGREC_TEST_MLFLOW_URI` is
//! set) through MLflow.
//!
//! `cargo run --release -p songrec-registry --example registry_bench -- [MEGABYTES] [RUNS]`

use std::collections::BTreeMap;
use std::time::Instant;

use songrec_registry::{
    MlflowAuth, MlflowConfig, NewVersion, PromotionPolicy, Registry, sha256_file,
};

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

async fn measure(
    name: &str,
    registry: &Registry,
    fetcher: impl Fn() -> Registry,
    file: &std::path::Path,
    runs: usize,
) {
    let checksum = sha256_file(file).unwrap();
    let (mut register, mut first_fetch, mut cached_fetch, mut champion) =
        (vec![], vec![], vec![], vec![]);
    for i in 0..runs {
        let new = NewVersion {
            model_file: file,
            checksum: checksum.clone(),
            params: BTreeMap::from([("run".to_string(), i.to_string())]),
            metrics: BTreeMap::from([("heldout_hit_rate_at_10".to_string(), 0.5)]),
            timings: BTreeMap::new(),
            songs: 1_000_000,
        };
        let t = Instant::now();
        let registered = registry
            .register_and_promote(new, PromotionPolicy::Always, "heldout_hit_rate_at_10")
            .await
            .unwrap();
        register.push(t.elapsed().as_secs_f64());
        let reader = fetcher();
        let t = Instant::now();
        reader.model_file(registered.version.version).await.unwrap();
        first_fetch.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        reader.model_file(registered.version.version).await.unwrap();
        cached_fetch.push(t.elapsed().as_secs_f64());
        reader.champion().await.unwrap();
        let t = Instant::now();
        reader.champion().await.unwrap();
        champion.push(t.elapsed().as_secs_f64());
    }
    println!(
        "{name}: register+promote {:.3} s, first model_file {:.3} s, repeated model_file {:.4} s, repeated champion() {:.4} s (medians of {runs})",
        median(register),
        median(first_fetch),
        median(cached_fetch),
        median(champion)
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let megabytes: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(200);
    let runs: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("model.bin");
    let bytes: Vec<u8> = (0..megabytes * 1024 * 1024)
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    std::fs::write(&file, bytes).unwrap();
    println!("model file: {megabytes} MiB");

    let local_dir = dir.path().join("registry");
    let local = Registry::local(&local_dir).unwrap();
    measure(
        "local",
        &local,
        || Registry::local(&local_dir).unwrap(),
        &file,
        runs,
    )
    .await;

    if let Ok(uri) = std::env::var("SONGREC_TEST_MLFLOW_URI") {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let config = |cache: &str| MlflowConfig {
            tracking_uri: uri.parse().unwrap(),
            auth: MlflowAuth::None,
            experiment: format!("songrec-bench-{nanos}"),
            model_name: format!("songrec-bench-{nanos}"),
            cache_dir: dir.path().join(cache),
            timeout: songrec_registry::DEFAULT_MLFLOW_TIMEOUT,
        };
        let mlflow = Registry::mlflow(config("writer-cache")).unwrap();
        let counter = std::sync::atomic::AtomicUsize::new(0);
        // Each reader gets a fresh cache, as a server on another machine would.
        let fresh = || {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Registry::mlflow(config(&format!("reader-cache-{n}"))).unwrap()
        };
        measure("mlflow", &mlflow, fresh, &file, runs).await;
    }
}
