//! SIGKILL at random moments of a promotion: `songrec models promote N` and the promotion at the
//! end of `songrec train`, on the local registry and on MLflow. After every kill the registry
//! must be sound: every listed version has its model file with its checksum, the champion is
//! one of them, and rollback and the next promotion work. The kills are spread over the whole
//! life of the process (no hook in the binary), and each is classed by what the registry shows
//! afterwards: before the champion moved, during the move, or after it.

use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

use serde_json::Value;
use songrec_registry::{MlflowAuth, MlflowConfig, Registry};

use crate::faults::{Vars, sigkill, vars};
use crate::support::{generate, mlflow_uri, run, songrec, text, unique};

/// xorshift64*, seeded from the clock; the seed is printed so that a failure can be replayed
/// with `SONGREC_KILL_SEED`.
struct Rng(u64);

impl Rng {
    fn seeded() -> Rng {
        let seed = std::env::var("SONGREC_KILL_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            })
            | 1;
        eprintln!("figure: promotion kills seeded with SONGREC_KILL_SEED={seed}");
        Rng(seed)
    }

    /// Uniform in `[low, high)`.
    fn between(&mut self, low: f64, high: f64) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let unit = (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64;
        low + unit * (high - low)
    }
}

/// Where kills landed.
#[derive(Debug, Default)]
struct Landed {
    before: u32,
    during: u32,
    after: u32,
}

/// One registry under test, as the binary and the test both see it.
struct Target {
    dir: std::path::PathBuf,
    env: Vars,
    registry: Registry,
    /// The MLflow server and model, to read the champion history tag; `None` for local.
    mlflow: Option<(String, String)>,
}

impl Target {
    fn cli(&self, args: &[&str]) -> std::process::Output {
        run(&self.dir, &vars(&self.env), args)
    }

    fn spawn(&self, args: &[&str]) -> std::process::Child {
        songrec(&self.dir, &vars(&self.env), args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    async fn champion(&self) -> u64 {
        self.registry.champion().await.unwrap().unwrap().version
    }

    /// Every listed version has its file with its checksum; the champion is one of them.
    /// Returns the versions and the champion.
    async fn assert_sound(&self) -> (Vec<u64>, u64) {
        let versions = self.registry.list().await.unwrap();
        for v in &versions {
            self.registry
                .model_file(v.version)
                .await
                .unwrap_or_else(|e| panic!("version {} without a sound file: {e}", v.version));
        }
        let champion = self.champion().await;
        let numbers: Vec<u64> = versions.iter().map(|v| v.version).collect();
        assert!(numbers.contains(&champion), "{champion} not in {numbers:?}");
        (numbers, champion)
    }

    /// Temporary champion files a killed local promotion left behind (none on MLflow).
    fn leftovers(&self) -> usize {
        if self.mlflow.is_some() {
            return 0;
        }
        std::fs::read_dir(self.dir.join("data/registry"))
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| {
                        e.file_name()
                            .to_string_lossy()
                            .starts_with(".champion.json.tmp")
                    })
                    .count()
            })
            .unwrap_or(0)
    }

    /// The last version in MLflow's champion history tag (local: the champion).
    async fn history_last(&self) -> Option<u64> {
        let Some((uri, model)) = &self.mlflow else {
            return Some(self.champion().await);
        };
        let got: Value = reqwest::Client::new()
            .get(format!("{uri}/api/2.0/mlflow/registered-models/get"))
            .query(&[("name", model)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let tags = got["registered_model"]["tags"].as_array().cloned();
        let history = tags?
            .into_iter()
            .find(|t| t["key"] == "songrec.champion_history")?;
        let history: Vec<u64> = serde_json::from_str(history["value"].as_str()?).ok()?;
        history.last().copied()
    }
}

fn local_target(dir: &Path) -> Target {
    Target {
        dir: dir.to_path_buf(),
        env: vec![("SONGREC_LOG", "warn".into())],
        registry: Registry::local(&dir.join("data/registry")).unwrap(),
        mlflow: None,
    }
}

async fn mlflow_target(dir: &Path) -> Option<Target> {
    let uri = mlflow_uri().await?;
    let (model, experiment) = (unique("songrec-kills"), unique("songrec-kills"));
    let registry = Registry::mlflow(MlflowConfig {
        tracking_uri: uri.parse().unwrap(),
        auth: MlflowAuth::None,
        experiment: experiment.clone(),
        model_name: model.clone(),
        cache_dir: dir.join("test-cache"),
        timeout: songrec_registry::DEFAULT_MLFLOW_TIMEOUT,
    })
    .unwrap();
    Some(Target {
        dir: dir.to_path_buf(),
        env: vec![
            ("SONGREC_LOG", "warn".into()),
            ("MLFLOW_TRACKING_URI", uri.clone()),
            ("SONGREC_MODEL_NAME", model.clone()),
            ("SONGREC_EXPERIMENT", experiment),
        ],
        registry,
        mlflow: Some((uri, model)),
    })
}

/// A catalogue and two trained versions, the second the champion.
fn prepare(target: &Target) {
    let catalogue = generate(&target.dir, 600);
    let out = target.cli(&["import", catalogue.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    for _ in 0..2 {
        let out = target.cli(&["train", "--k", "10", "--promote", "always"]);
        assert!(out.status.success(), "{}", text(&out));
    }
}

/// `models promote` of the version that is not the champion, killed `kills` times at random
/// moments of its life; the registry checked after each.
async fn kill_promotions(target: &Target, rng: &mut Rng, kills: u32) -> Landed {
    let started = Instant::now();
    let out = target.cli(&["models", "promote", "1"]);
    let full = started.elapsed();
    assert!(out.status.success(), "{}", text(&out));
    let mut landed = Landed::default();
    for _ in 0..kills {
        let (versions, champion) = target.assert_sound().await;
        let next = *versions.iter().find(|v| **v != champion).unwrap();
        let leftovers = target.leftovers();
        let mut child = target.spawn(&["models", "promote", &next.to_string()]);
        tokio::time::sleep(full.mul_f64(rng.between(0.0, 1.1))).await;
        sigkill(&mut child);
        let (_, now) = target.assert_sound().await;
        if now == next && target.history_last().await == Some(next) {
            landed.after += 1;
        } else if now == next || target.leftovers() > leftovers {
            // MLflow: the alias moved, its history not yet written; local: the new champion
            // file written, not yet renamed over the old one.
            landed.during += 1;
        } else {
            assert_eq!(now, champion);
            landed.before += 1;
        }
    }
    eprintln!(
        "figure: {kills} kills of `models promote` ({} ms a run) on {}: {} before the champion \
         moved, {} during, {} after; {} temporary champion files left",
        full.as_millis(),
        target.registry.location(),
        landed.before,
        landed.during,
        landed.after,
        target.leftovers()
    );
    landed
}

/// `train --promote always` killed `kills` times in the last part of its life, where it
/// registers and promotes.
async fn kill_trainings(target: &Target, rng: &mut Rng, kills: u32) -> Landed {
    // The shorter of two full runs: the first of a process series can be slower.
    let mut full = std::time::Duration::MAX;
    for _ in 0..2 {
        let started = Instant::now();
        let out = target.cli(&["train", "--k", "10", "--promote", "always"]);
        full = full.min(started.elapsed());
        assert!(out.status.success(), "{}", text(&out));
    }
    let mut landed = Landed::default();
    for _ in 0..kills {
        let (before, champion) = target.assert_sound().await;
        let mut child = target.spawn(&["train", "--k", "10", "--promote", "always"]);
        tokio::time::sleep(full.mul_f64(rng.between(0.5, 1.3))).await;
        sigkill(&mut child);
        let (after, now) = target.assert_sound().await;
        let newest = *after.iter().max().unwrap();
        if now == newest && now != champion {
            landed.after += 1;
        } else if after.len() > before.len() {
            // Registered, killed before or while its alias moved.
            landed.during += 1;
        } else {
            landed.before += 1;
        }
    }
    eprintln!(
        "figure: {kills} kills of `train` late in its run ({} ms a run) on {}: {} before \
         registration, {} registered but not yet champion, {} promoted",
        full.as_millis(),
        target.registry.location(),
        landed.before,
        landed.during,
        landed.after
    );
    landed
}

/// After the kills: rollback and a full promotion work.
async fn assert_rollback_and_promote_work(target: &Target) {
    let (versions, champion) = target.assert_sound().await;
    let out = target.cli(&["models", "rollback"]);
    assert!(out.status.success(), "{}", text(&out));
    let (_, rolled) = target.assert_sound().await;
    assert_ne!(rolled, champion);
    let out = target.cli(&["models", "promote", &champion.to_string()]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(target.assert_sound().await, (versions, champion));
    assert_eq!(
        target.leftovers(),
        0,
        "the next promotion sweeps temporary champion files"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_promotion_on_the_local_registry_leaves_it_sound() {
    let work = tempfile::tempdir().unwrap();
    let target = local_target(work.path());
    prepare(&target);
    let mut rng = Rng::seeded();
    let landed = kill_promotions(&target, &mut rng, 40).await;
    assert_eq!(landed.before + landed.during + landed.after, 40);
    assert_rollback_and_promote_work(&target).await;
    kill_trainings(&target, &mut rng, 8).await;
    assert_rollback_and_promote_work(&target).await;
    let out = target.cli(&["train", "--k", "10", "--promote", "always"]);
    assert!(out.status.success(), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_promotion_on_mlflow_leaves_it_sound() {
    let work = tempfile::tempdir().unwrap();
    let Some(target) = mlflow_target(work.path()).await else {
        return;
    };
    prepare(&target);
    let mut rng = Rng::seeded();
    kill_promotions(&target, &mut rng, 25).await;
    assert_rollback_and_promote_work(&target).await;
    kill_trainings(&target, &mut rng, 5).await;
    assert_rollback_and_promote_work(&target).await;
    let out = target.cli(&["train", "--k", "10", "--promote", "always"]);
    assert!(out.status.success(), "{}", text(&out));
}
