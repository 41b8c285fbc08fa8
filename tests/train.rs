//! `songrec train` and `songrec eval` through the real binary: generate -> import -> train
//! (promotion policy) -> eval against the generator's ground truth.

use std::path::Path;
use std::process::{Command, Output};

fn songrec(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_songrec"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("MLFLOW_TRACKING_URI")
        .env_remove("DB_HOST")
        .env("SONGREC_LOG", "warn")
        .output()
        .expect("songrec runs")
}

fn json(data_dir: &Path, args: &[&str]) -> serde_json::Value {
    let out = songrec(data_dir, args);
    assert!(
        out.status.success(),
        "songrec {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
}

/// A data dir holding an imported 3,000-song generated catalogue, and its truth file.
fn catalogue() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let songs = dir.path().join("songs.jsonl");
    let truth = dir.path().join("truth.tsv");
    let data = dir.path().join("data");
    let out = songrec(
        &data,
        &[
            "generate",
            "--songs",
            "3000",
            "--seed",
            "42",
            "--out",
            songs.to_str().unwrap(),
            "--truth",
            truth.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = songrec(&data, &["import", songs.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (dir, truth)
}

#[test]
fn a_worse_model_is_registered_but_not_promoted_unless_asked() {
    let (dir, truth) = catalogue();
    let data = dir.path().join("data");
    let truth = truth.to_str().unwrap();

    let first = json(&data, &["train", "--json", "--k", "20"]);
    assert_eq!(first["version"], 1);
    assert_eq!(first["songs"], 3000);
    assert_eq!(first["promoted"], true);
    let full_metric = first["metrics"]["heldout_hit_rate_at_10"].as_f64().unwrap();
    assert!(first["metrics"]["coverage_at_10"].as_f64().unwrap() > 0.5);

    // The original model ignores credits, so it recovers fewer hidden ones.
    let second = json(&data, &["train", "--json", "--features", "original"]);
    assert_eq!(second["version"], 2);
    assert!(
        second["metrics"]["heldout_hit_rate_at_10"]
            .as_f64()
            .unwrap()
            < full_metric
    );
    assert_eq!(second["promoted"], false);

    let champion = json(&data, &["eval", "--truth", truth, "--json"]);
    assert_eq!(champion["version"], 1);
    assert_eq!(champion["features"], "full");
    let full_precision = champion["scene_precision_other_artists_at_10"]
        .as_f64()
        .unwrap();
    assert!(
        full_precision > 0.85,
        "full model scene precision {full_precision}"
    );

    let original = json(
        &data,
        &["eval", "--truth", truth, "--version", "2", "--json"],
    );
    let original_precision = original["scene_precision_other_artists_at_10"]
        .as_f64()
        .unwrap();
    assert!(original_precision < full_precision);

    let forced = json(
        &data,
        &[
            "train",
            "--json",
            "--features",
            "original",
            "--promote",
            "always",
        ],
    );
    assert_eq!(forced["promoted"], true);
    let never = json(&data, &["train", "--json", "--promote", "never"]);
    assert_eq!(never["promoted"], false);
    assert_eq!(
        json(&data, &["eval", "--truth", truth, "--json"])["version"],
        3
    );
}

#[test]
fn parameters_from_a_file_and_flags_are_recorded_with_the_version() {
    let (dir, _) = catalogue();
    let data = dir.path().join("data");
    let params = dir.path().join("params.toml");
    std::fs::write(&params, "w_producer = 2.5\nk = 30\n").unwrap();
    let out = json(
        &data,
        &[
            "train",
            "--json",
            "--params",
            params.to_str().unwrap(),
            "--param",
            "w_album=0.25",
            "--k",
            "12",
        ],
    );
    assert_eq!(out["version"], 1);
    let shown = songrec(&data, &["models", "show", "1", "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["params"]["w_producer"], "2.5");
    assert_eq!(shown["params"]["w_album"], "0.25");
    assert_eq!(shown["params"]["k"], "12");
    assert_eq!(shown["params"]["features"], "full");
}

#[test]
fn an_unknown_parameter_is_refused_before_anything_is_registered() {
    let (dir, _) = catalogue();
    let data = dir.path().join("data");
    let out = songrec(&data, &["train", "--param", "w_vibes=3"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown parameter \"w_vibes\""), "{stderr}");
    let out = songrec(&data, &["eval", "--truth", "/nonexistent.tsv"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no champion"));
}

#[test]
fn training_an_empty_store_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = songrec(dir.path(), &["train"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("import or generate a catalogue first"),
        "{stderr}"
    );
}
