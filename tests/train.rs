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
    catalogue_of(3000)
}

/// A data dir holding an imported generated catalogue of `songs` songs, and its truth file.
fn catalogue_of(songs: usize) -> (tempfile::TempDir, std::path::PathBuf) {
    let count = songs.to_string();
    let dir = tempfile::tempdir().unwrap();
    let songs = dir.path().join("songs.jsonl");
    let truth = dir.path().join("truth.tsv");
    let data = dir.path().join("data");
    let out = songrec(
        &data,
        &[
            "generate",
            "--songs",
            &count,
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

/// Four artists, three songs each: artists 1 and 2 always work with producer 901, artists 3
/// and 4 with producer 902, and nothing else links them.
fn two_pairs_catalogue(dir: &Path) -> std::path::PathBuf {
    let mut lines = String::new();
    for artist in 1..=4u64 {
        let producer = if artist <= 2 { 901 } else { 902 };
        for n in 0..3u64 {
            let id = artist * 100 + n;
            lines.push_str(
                &serde_json::json!({
                    "id": id, "title": format!("Song {id}"),
                    "primary_artist": {"id": artist, "name": format!("Artist {artist}")},
                    "producer_artists": [{"id": producer, "name": format!("Producer {producer}")}],
                    "stats": {"pageviews": 1000 + id},
                })
                .to_string(),
            );
            lines.push('\n');
        }
    }
    let path = dir.join("pairs.jsonl");
    std::fs::write(&path, lines).unwrap();
    path
}

#[test]
fn eval_labels_scores_other_artists_recommendations_against_the_labels() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let songs = two_pairs_catalogue(dir.path());
    let out = songrec(&data, &["import", songs.to_str().unwrap()]);
    assert!(out.status.success());
    json(&data, &["train", "--json", "--k", "3"]);
    let label_line = |artist: u64, label: &str| {
        (0..3)
            .map(|n| format!("{}\t{artist}\t{label}\n", artist * 100 + n))
            .collect::<String>()
    };
    // Each song's other-artist neighbours are the producer partner's songs: with labels that
    // follow the producers every one agrees; with labels across the pairs none does.
    let along = dir.path().join("along.tsv");
    let across = dir.path().join("across.tsv");
    std::fs::write(
        &along,
        format!(
            "song_id\tartist_id\tgenre\n{}{}{}{}",
            label_line(1, "rock"),
            label_line(2, "rock"),
            label_line(3, "pop"),
            label_line(4, "pop")
        ),
    )
    .unwrap();
    std::fs::write(
        &across,
        format!(
            "{}{}{}{}",
            label_line(1, "rock"),
            label_line(2, "pop"),
            label_line(3, "rock"),
            label_line(4, "pop")
        ),
    )
    .unwrap();
    let report = json(
        &data,
        &["eval", "--labels", along.to_str().unwrap(), "--json"],
    );
    assert_eq!(report["queries"], 12);
    assert_eq!(report["labels"], 2);
    assert_eq!(report["label_agreement_other_artists_at_10"], 1.0);
    assert_eq!(report["coverage_at_10"], 1.0);
    let share = report["same_artist_share_at_10"].as_f64().unwrap();
    assert!(share <= 2.0 / 3.0, "{report}");
    assert_eq!(report["by_label"]["rock"], 1.0);
    assert_eq!(report["by_label"]["pop"], 1.0);
    assert_eq!(report["label_agreement_other_artists_macro"], 1.0);
    let report = json(
        &data,
        &["eval", "--labels", across.to_str().unwrap(), "--json"],
    );
    assert_eq!(report["label_agreement_other_artists_at_10"], 0.0);

    // Only artist 3's songs queried: rock against the pop of its producer partner, artist 4.
    let only = dir.path().join("only.txt");
    std::fs::write(&only, "artist_id\n3\n").unwrap();
    let only = only.to_str().unwrap();
    let args = [
        "eval",
        "--labels",
        across.to_str().unwrap(),
        "--only-artists",
        only,
    ];
    let report = json(&data, &[&args[..], &["--json"]].concat());
    assert_eq!(report["queries"], 3);
    assert_eq!(report["by_label"].as_object().unwrap().len(), 1);
    assert_eq!(report["by_label"]["rock"], 0.0);

    let out = songrec(&data, &["eval", "--labels", songs.to_str().unwrap()]);
    assert!(!out.status.success(), "a JSONL file is not a labels file");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("expected song_id, artist_id, label"),
        "{stderr}"
    );
    let out = songrec(&data, &["eval"]);
    assert!(!out.status.success(), "--truth or --labels is required");
}

/// Imports `n` new songs (ids from 990,000) that credit no one: the catalogue grows.
fn grow_catalogue(dir: &Path, data: &Path, n: u64) {
    let lines: String = (0..n)
        .map(|i| {
            let id = 990_000 + i;
            format!(
                "{}\n",
                serde_json::json!({
                    "id": id, "title": format!("New Song {id}"),
                    "primary_artist": {"id": 990_000 + i / 4, "name": format!("Newcomer {i}")},
                    "stats": {"pageviews": 10 + i},
                })
            )
        })
        .collect();
    let path = dir.join(format!("new-{n}.jsonl"));
    std::fs::write(&path, lines).unwrap();
    let out = songrec(data, &["import", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn promotion_compares_like_with_like_tolerates_noise_and_lets_new_songs_through() {
    let (dir, _) = catalogue_of(1000);
    let data = dir.path().join("data");
    let metric = |v: &serde_json::Value, name: &str| {
        v["metrics"][name]
            .as_f64()
            .unwrap_or_else(|| panic!("{name} missing from {v}"))
    };
    let reason = |v: &serde_json::Value| v["reason"].as_str().unwrap().to_string();
    // Scored against the champion's parameters on the candidate's catalogue and sample, and
    // the decision names both scores.
    let names_both = |v: &serde_json::Value| {
        let (new, old) = (
            metric(v, "heldout_hit_rate_at_10"),
            metric(v, "champion_heldout_hit_rate_at_10"),
        );
        let why = reason(v);
        assert!(
            why.contains(&format!("{new:.4}")) && why.contains(&format!("{old:.4}")),
            "{why}"
        );
        (new, old)
    };
    let champion = |data: &Path| json(data, &["models", "list", "--json"]);
    let champion_version = |data: &Path| {
        champion(data)
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["is_champion"] == true)
            .map(|v| v["version"].as_u64().unwrap())
    };

    let first = json(&data, &["train", "--json", "--k", "20"]);
    assert_eq!(first["promoted"], true);

    // Equal: the same parameters on the same catalogue score exactly the champion's score.
    let equal = json(&data, &["train", "--json", "--k", "20"]);
    let (new, old) = names_both(&equal);
    assert_eq!(new, old);
    assert_eq!(equal["promoted"], true, "{equal}");
    assert!(reason(&equal).contains("same catalogue"), "{equal}");

    // Worse beyond the tolerance: kept out.
    let worse = json(
        &data,
        &["train", "--json", "--k", "20", "--features", "original"],
    );
    let (new, old) = names_both(&worse);
    assert!(new < old - 0.01, "{worse}");
    assert_eq!(worse["promoted"], false);

    // Worse within the tolerance, on the champion's own catalogue: noise, the champion stays.
    let tolerant = [
        "--k",
        "20",
        "--features",
        "original",
        "--param",
        "promotion_tolerance=1",
    ];
    let within = json(&data, &[&["train", "--json"][..], &tolerant].concat());
    names_both(&within);
    assert_eq!(within["promoted"], false, "{within}");
    assert_eq!(champion_version(&data), Some(2));

    // The catalogue grows: a worse model beyond the tolerance still does not get in...
    grow_catalogue(dir.path(), &data, 40);
    let worse = json(
        &data,
        &["train", "--json", "--k", "20", "--features", "original"],
    );
    assert_eq!(worse["songs"], 1040);
    assert_eq!(worse["promoted"], false, "{worse}");
    // ...but one within it replaces the champion trained on fewer songs, so the new songs
    // become servable.
    let grown = json(&data, &[&["train", "--json"][..], &tolerant].concat());
    names_both(&grown);
    assert_eq!(grown["promoted"], true, "{grown}");
    assert!(
        reason(&grown).contains("fewer songs (1000 < 1040)"),
        "{grown}"
    );
    assert_eq!(champion_version(&data), Some(6));

    // Better: the full features beat the original ones now serving.
    let better = json(&data, &["train", "--json", "--k", "20"]);
    let (new, old) = names_both(&better);
    assert!(new > old, "{better}");
    assert_eq!(better["promoted"], true);
    assert_eq!(champion_version(&data), Some(7));
}

fn versions_listed(data_dir: &Path) -> Vec<u64> {
    json(data_dir, &["models", "list", "--json"])
        .as_array()
        .expect("a list")
        .iter()
        .map(|v| v["version"].as_u64().expect("a version"))
        .collect()
}

#[test]
fn prune_keeps_the_newest_versions_the_champion_and_the_version_rollback_returns_to() {
    let (dir, _) = catalogue_of(300);
    let data = dir.path().join("data");
    for _ in 0..5 {
        json(&data, &["train", "--json", "--promote", "always"]);
    }
    // Champion 2, and rollback would return to 5.
    json(&data, &["models", "promote", "2", "--json"]);

    let pruned = json(&data, &["models", "prune", "--keep", "1", "--json"]);
    assert_eq!(pruned["removed"], serde_json::json!([1, 3, 4]), "{pruned}");
    assert_eq!(pruned["kept"], serde_json::json!([2, 5]));
    assert_eq!(
        (pruned["champion"].as_u64(), pruned["rollback"].as_u64()),
        (Some(2), Some(5))
    );
    assert_eq!(versions_listed(&data), [2, 5]);
    assert!(!data.join("registry/versions/3").exists());

    // Nothing left to remove; the champion and its rollback target still work.
    let out = songrec(&data, &["models", "prune", "--keep", "1"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "nothing to remove; kept 2, 5 (champion 2, rollback 5)"
    );
    let rolled = json(&data, &["models", "rollback", "--json"]);
    assert_eq!(rolled["version"], 5);
    let rolled = json(&data, &["models", "rollback", "--json"]);
    assert_eq!(rolled["version"], 2);
    let out = songrec(&data, &["models", "rollback"]);
    assert!(
        !out.status.success(),
        "the pruned champions are gone from the history too"
    );
    let next = json(&data, &["train", "--json", "--promote", "never"]);
    assert_eq!(next["version"], 6, "numbers are never reused");

    let out = songrec(&data, &["models", "prune", "--keep", "0"]);
    assert_eq!(out.status.code(), Some(2), "usage error");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--keep"), "{stderr}");
}
