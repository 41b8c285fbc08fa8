//! MLflow slow rather than down, behind a proxy that holds requests for longer than
//! `MLFLOW_HTTP_REQUEST_TIMEOUT`: a training run's registration gives up in one line and leaves
//! the champion alone; a server keeps answering from its model, and its polls of the champion
//! back off until MLflow answers in time again, then it follows the new champion.

use std::time::{Duration, Instant};

use songrec_registry::{MlflowAuth, MlflowConfig, Registry};

use crate::faults::{Vars, last_line, vars};
use crate::mlflow_proxy::FailingProxy;
use crate::support::{Server, generate, mlflow_uri, run, text, unique};

/// Longer than the client's timeout (1 s here): every held call is given up.
const HELD: Duration = Duration::from_secs(3);

async fn served_version(server: &Server) -> Option<u64> {
    let (status, body) = server.get("/model").await;
    (status == 200)
        .then(|| serde_json::from_str::<serde_json::Value>(&body).ok())
        .flatten()
        .and_then(|m| m["version"].as_u64())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_mlflow_times_out_registration_and_serving_keeps_its_model_and_backs_off() {
    let Some(mlflow) = mlflow_uri().await else {
        return;
    };
    let proxy = FailingProxy::start(&mlflow, |_| false).await;
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let (model, experiment) = (unique("songrec-slow"), unique("songrec-slow"));
    let env: Vars = vec![
        ("MLFLOW_TRACKING_URI", proxy.uri.clone()),
        ("MLFLOW_HTTP_REQUEST_TIMEOUT", "1".into()),
        ("SONGREC_MODEL_NAME", model.clone()),
        ("SONGREC_EXPERIMENT", experiment.clone()),
        ("SONGREC_LOG", "info".into()),
    ];
    let direct = Registry::mlflow(MlflowConfig {
        tracking_uri: mlflow.parse().unwrap(),
        auth: MlflowAuth::None,
        experiment,
        model_name: model,
        cache_dir: dir.join("test-cache"),
        timeout: songrec_registry::DEFAULT_MLFLOW_TIMEOUT,
    })
    .unwrap();
    let catalogue = generate(dir, 800);
    for args in [
        &["import", catalogue.to_str().unwrap()][..],
        &["train", "--k", "10", "--promote", "always"][..],
    ] {
        let out = run(dir, &vars(&env), args);
        assert!(out.status.success(), "{}", text(&out));
    }

    // Registration while MLflow is slow to create the version: one line, the champion stays.
    proxy.delay(|path| path.ends_with("/model-versions/create"), HELD);
    let started = Instant::now();
    let out = run(
        dir,
        &vars(&env),
        &["train", "--k", "10", "--promote", "always"],
    );
    let shown = text(&out);
    assert!(!out.status.success(), "{shown}");
    let line = last_line(&shown);
    assert!(line.starts_with("error: "), "{shown}");
    assert!(
        line.contains("did not answer model-versions/create within 1 s"),
        "{shown}"
    );
    eprintln!(
        "figure: train with MLflow slow at version creation, failed after {:.1} s: {line}",
        started.elapsed().as_secs_f64()
    );
    proxy.no_delay();
    // The version the server may still create after the client gave up is complete.
    tokio::time::sleep(HELD).await;
    assert_eq!(direct.champion().await.unwrap().unwrap().version, 1);
    let versions = direct.list().await.unwrap();
    for v in &versions {
        direct.model_file(v.version).await.unwrap();
    }

    // Serving while every MLflow call is slow: answers from its model, polls back off.
    let server = Server::start(dir, &vars(&env));
    let until = Instant::now() + Duration::from_secs(60);
    while served_version(&server).await != Some(1) {
        assert!(Instant::now() < until, "the server never served v1");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    proxy.count(|path| path.ends_with("/registered-models/alias"));
    proxy.delay(|_| true, HELD);
    let slow_from = Instant::now();
    let (mut answered, mut failed) = (0, 0);
    while slow_from.elapsed() < Duration::from_secs(10) {
        let (status, _) = server.get("/recommend/3?k=5").await;
        if status == 200 {
            answered += 1;
        } else {
            failed += 1;
        }
        assert_eq!(served_version(&server).await, Some(1));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let polls = proxy.counted();
    proxy.no_delay();
    assert_eq!(failed, 0);

    // MLflow in time again: a new champion is followed.
    let out = std::process::Command::new(crate::support::BIN)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(vars(&env))
        .env("MLFLOW_TRACKING_URI", &mlflow)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["train", "--k", "10", "--promote", "always"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let newest = direct.champion().await.unwrap().unwrap().version;
    let back = Instant::now();
    while served_version(&server).await != Some(newest) {
        assert!(
            back.elapsed() < Duration::from_secs(90),
            "the server never followed v{newest}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let followed = back.elapsed();
    let log = server.stop();
    let waits: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("backing off"))
        .filter_map(|l| l.split("next_poll_in=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .collect();
    assert!(
        waits.len() >= 2 && waits[..2] == ["2s", "4s"],
        "the polls did not back off: {waits:?}\n{log}"
    );
    let reason = log
        .lines()
        .find(|l| l.contains("cannot read the champion"))
        .unwrap_or_default()
        .to_string();
    assert!(reason.contains("within 1 s"), "{log}");
    eprintln!(
        "figure: serve with every MLflow call held {} s (timeout 1 s, --reload-interval 1s): \
         {answered} requests answered, {failed} failed, v1 served throughout; {polls} champion \
         polls in 10 s, waits {waits:?}; followed the new champion v{newest} {:.1} s after its promotion",
        HELD.as_secs(),
        followed.as_secs_f64()
    );
}
