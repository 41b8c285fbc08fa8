//! The local registry through its public interface, on a fresh directory per test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use songrec_registry::{NewVersion, PromotionPolicy, Registry, RegistryError, sha256_file};

const PRIMARY: &str = "heldout_hit_rate_at_10";

/// A registry in its own temporary directory plus a place to write model files.
struct World {
    dir: tempfile::TempDir,
    registry: Registry,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let registry = Registry::local(&dir.path().join("registry")).unwrap();
        World { dir, registry }
    }

    fn model_file(&self, name: &str, content: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    fn new_version<'a>(&self, file: &'a Path, score: f64) -> NewVersion<'a> {
        NewVersion {
            model_file: file,
            checksum: sha256_file(file).unwrap(),
            params: BTreeMap::from([("k".to_string(), "100".to_string())]),
            metrics: BTreeMap::from([(PRIMARY.to_string(), score)]),
            timings: BTreeMap::from([("total".to_string(), 1.5)]),
            songs: 1000,
        }
    }

    async fn register(&self, content: &[u8], score: f64, policy: PromotionPolicy) -> (u64, bool) {
        let file = self.model_file(&format!("model-{score}"), content);
        let registered = self
            .registry
            .register_and_promote(self.new_version(&file, score), policy, PRIMARY)
            .await
            .unwrap();
        (registered.version.version, registered.decision.promote)
    }

    async fn champion_version(&self) -> Option<u64> {
        self.registry.champion().await.unwrap().map(|v| v.version)
    }
}

#[tokio::test]
async fn an_empty_registry_has_no_champion_and_no_versions() {
    let world = World::new();
    assert_eq!(world.registry.champion().await.unwrap(), None);
    assert!(world.registry.list().await.unwrap().is_empty());
    assert!(matches!(
        world.registry.get(1).await,
        Err(RegistryError::NoSuchVersion(1))
    ));
    assert!(matches!(
        world.registry.rollback().await,
        Err(RegistryError::NothingToRollBack)
    ));
}

#[tokio::test]
async fn register_keeps_params_metrics_timings_size_and_checksum() {
    let world = World::new();
    let file = world.model_file("m", b"model bytes");
    let info = world
        .registry
        .register(world.new_version(&file, 0.4))
        .await
        .unwrap();
    assert_eq!(info.version, 1);
    assert!(!info.is_champion);
    assert_eq!(info.params["k"], "100");
    assert_eq!(info.metrics[PRIMARY], 0.4);
    assert_eq!(info.timings["total"], 1.5);
    assert_eq!(info.songs, 1000);
    assert_eq!(info.model_bytes, 11);
    assert_eq!(info.checksum, sha256_file(&file).unwrap());
    assert!(chrono::DateTime::parse_from_rfc3339(&info.created_at).is_ok());

    // Registration alone does not promote, and what was stored reads back identically.
    assert_eq!(world.champion_version().await, None);
    assert_eq!(world.registry.get(1).await.unwrap(), info);
    let stored = world.registry.model_file(1).await.unwrap();
    assert_eq!(std::fs::read(stored).unwrap(), b"model bytes");
}

#[tokio::test]
async fn a_reopened_registry_sees_what_another_instance_wrote() {
    let world = World::new();
    world.register(b"one", 0.3, PromotionPolicy::Auto).await;
    let reopened = Registry::local(&world.dir.path().join("registry")).unwrap();
    let champion = reopened.champion().await.unwrap().unwrap();
    assert_eq!(champion.version, 1);
    assert!(champion.is_champion);
}

#[tokio::test]
async fn the_first_model_is_promoted_and_a_worse_one_is_not() {
    let world = World::new();
    assert_eq!(
        world.register(b"one", 0.5, PromotionPolicy::Auto).await,
        (1, true)
    );
    assert_eq!(
        world.register(b"two", 0.4, PromotionPolicy::Auto).await,
        (2, false)
    );
    assert_eq!(world.champion_version().await, Some(1));
    assert_eq!(
        world.register(b"three", 0.5, PromotionPolicy::Auto).await,
        (3, true)
    );
    assert_eq!(world.champion_version().await, Some(3));

    let flags: Vec<(u64, bool)> = world
        .registry
        .list()
        .await
        .unwrap()
        .iter()
        .map(|v| (v.version, v.is_champion))
        .collect();
    assert_eq!(flags, vec![(1, false), (2, false), (3, true)]);
}

#[tokio::test]
async fn always_promotes_a_worse_model_and_never_keeps_even_a_first_one_out() {
    let world = World::new();
    assert_eq!(
        world.register(b"one", 0.5, PromotionPolicy::Never).await,
        (1, false)
    );
    assert_eq!(world.champion_version().await, None);
    world.registry.promote(1).await.unwrap();
    assert_eq!(
        world.register(b"two", 0.1, PromotionPolicy::Always).await,
        (2, true)
    );
    assert_eq!(world.champion_version().await, Some(2));
}

#[tokio::test]
async fn rollback_walks_back_through_the_champion_history() {
    let world = World::new();
    world.register(b"one", 0.1, PromotionPolicy::Auto).await;
    world.register(b"two", 0.2, PromotionPolicy::Auto).await;
    world.register(b"three", 0.3, PromotionPolicy::Auto).await;
    assert_eq!(world.champion_version().await, Some(3));

    let back = world.registry.rollback().await.unwrap();
    assert_eq!((back.version, back.is_champion), (2, true));
    assert_eq!(world.champion_version().await, Some(2));
    assert_eq!(world.registry.rollback().await.unwrap().version, 1);
    assert!(matches!(
        world.registry.rollback().await,
        Err(RegistryError::NothingToRollBack)
    ));
    assert_eq!(world.champion_version().await, Some(1));
}

#[tokio::test]
async fn promoting_the_champion_again_does_not_add_a_rollback_step() {
    let world = World::new();
    world.register(b"one", 0.1, PromotionPolicy::Auto).await;
    world.register(b"two", 0.2, PromotionPolicy::Auto).await;
    world.registry.promote(2).await.unwrap();
    assert_eq!(world.registry.rollback().await.unwrap().version, 1);
}

#[tokio::test]
async fn promoting_an_unknown_version_fails_and_leaves_the_champion() {
    let world = World::new();
    world.register(b"one", 0.1, PromotionPolicy::Auto).await;
    assert!(matches!(
        world.registry.promote(7).await,
        Err(RegistryError::NoSuchVersion(7))
    ));
    assert_eq!(world.champion_version().await, Some(1));
}

#[tokio::test]
async fn a_model_file_that_does_not_match_its_stated_checksum_is_not_registered() {
    let world = World::new();
    let file = world.model_file("m", b"model bytes");
    let mut new = world.new_version(&file, 0.4);
    new.checksum = "0".repeat(64);
    assert!(matches!(
        world.registry.register(new).await,
        Err(RegistryError::ModelFileMismatch { .. })
    ));
    let mut new = world.new_version(&file, 0.4);
    new.checksum = "not-a-digest".into();
    assert!(matches!(
        world.registry.register(new).await,
        Err(RegistryError::InvalidInput(_))
    ));
    assert!(world.registry.list().await.unwrap().is_empty());
    let staging = world.dir.path().join("registry/staging");
    assert_eq!(std::fs::read_dir(staging).unwrap().count(), 0);
}

#[tokio::test]
async fn a_missing_source_model_file_is_an_error_not_a_version() {
    let world = World::new();
    let missing = world.dir.path().join("nope");
    let new = NewVersion {
        model_file: &missing,
        checksum: "a".repeat(64),
        params: BTreeMap::new(),
        metrics: BTreeMap::new(),
        timings: BTreeMap::new(),
        songs: 0,
    };
    assert!(matches!(
        world.registry.register(new).await,
        Err(RegistryError::Io { .. })
    ));
    assert!(world.registry.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_unverified_model_file_comes_with_its_recorded_checksum_and_is_not_checked() {
    let world = World::new();
    world
        .register(b"original model", 0.1, PromotionPolicy::Auto)
        .await;
    let file = world.registry.model_file_unverified(1).await.unwrap();
    assert_eq!(file.path, world.registry.model_file(1).await.unwrap());
    assert_eq!(file.checksum, world.registry.get(1).await.unwrap().checksum);
    assert_eq!(file.checksum, sha256_file(&file.path).unwrap());

    // Tampered: the path and the recorded checksum still come back (the caller checks), and the
    // checksum no longer matches the content.
    std::fs::write(&file.path, b"tampered model").unwrap();
    let again = world.registry.model_file_unverified(1).await.unwrap();
    assert_eq!(again, file);
    assert_ne!(sha256_file(&again.path).unwrap(), again.checksum);

    std::fs::remove_file(&file.path).unwrap();
    assert!(matches!(
        world.registry.model_file_unverified(1).await,
        Err(RegistryError::Io { .. })
    ));
    assert!(matches!(
        world.registry.model_file_unverified(7).await,
        Err(RegistryError::NoSuchVersion(7))
    ));
}

#[tokio::test]
async fn a_corrupted_stored_model_file_is_refused() {
    let world = World::new();
    world
        .register(b"original model", 0.1, PromotionPolicy::Auto)
        .await;
    let path = world.registry.model_file(1).await.unwrap();

    // Same length, different bytes, and a later modification time.
    std::fs::write(&path, b"tampered model").unwrap();
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();
    assert!(matches!(
        world.registry.model_file(1).await,
        Err(RegistryError::ChecksumMismatch { version: 1 })
    ));

    std::fs::write(&path, b"trunc").unwrap();
    assert!(matches!(
        world.registry.model_file(1).await,
        Err(RegistryError::ChecksumMismatch { version: 1 })
    ));

    // A fresh process, with nothing remembered, refuses it as well.
    let reopened = Registry::local(&world.dir.path().join("registry")).unwrap();
    assert!(matches!(
        reopened.model_file(1).await,
        Err(RegistryError::ChecksumMismatch { version: 1 })
    ));
}

#[tokio::test]
async fn a_damaged_version_record_is_reported_by_get_and_skipped_by_list() {
    let world = World::new();
    world.register(b"one", 0.1, PromotionPolicy::Auto).await;
    world.register(b"two", 0.2, PromotionPolicy::Never).await;
    let record = world.dir.path().join("registry/versions/2/version.json");
    std::fs::write(&record, b"{ not json").unwrap();
    assert!(matches!(
        world.registry.get(2).await,
        Err(RegistryError::Corrupt(_))
    ));
    let versions: Vec<u64> = world
        .registry
        .list()
        .await
        .unwrap()
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(versions, vec![1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_get_distinct_versions() {
    let world = World::new();
    let files: Vec<PathBuf> = (0..8)
        .map(|i| world.model_file(&format!("m{i}"), format!("model {i}").as_bytes()))
        .collect();
    let registrations = files.iter().map(|f| {
        world.registry.register_and_promote(
            world.new_version(f, 0.5),
            PromotionPolicy::Auto,
            PRIMARY,
        )
    });
    let results: Vec<_> = futures::future::join_all(registrations)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let mut versions: Vec<u64> = results.iter().map(|r| r.version.version).collect();
    versions.sort_unstable();
    assert_eq!(versions, (1..=8).collect::<Vec<_>>());
    assert_eq!(world.registry.list().await.unwrap().len(), 8);
    for v in 1..=8 {
        world.registry.model_file(v).await.unwrap();
    }
}
