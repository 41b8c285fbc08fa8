//! `GET /pipeline` and the pipeline metrics, against a real SQLite catalogue database.

use serde_json::{Value, json};
use songrec_api::ServeOptions;
use songrec_pipeline::{PipelineMetrics, PipelineStatus};
use songrec_store::{NewCycle, Store, StoreConfig};

use crate::support::*;

/// A report as the pipeline records it: a failed fetch, then training that went on.
fn report(n: u64) -> Value {
    json!({
        "runner": "host:42",
        "started_at": "2026-11-28T10:00:00Z",
        "finished_at": "2026-11-28T10:00:07Z",
        "seconds": 7.0,
        "status": "failed",
        "steps": [
            {"step": "fetch", "status": "failed", "started_at": "2026-11-28T10:00:00Z",
             "seconds": 1.5, "detail": "Genius is down", "error": "Genius is down",
             "failure": "step"},
            {"step": "train", "status": "succeeded", "started_at": "2026-11-28T10:00:02Z",
             "seconds": 4.0, "detail": "trained on 25 songs", "counts": {"songs": 25}}
        ],
        "trained": {"version": n, "songs": 25, "metrics": {"heldout_hit_rate_at_10": 0.5},
                    "promoted": true, "reason": "first model", "timings": {}}
    })
}

async fn database_with_cycles(dir: &std::path::Path, cycles: u64) -> StoreConfig {
    let config = StoreConfig::sqlite(&dir.join("songrec.db"));
    let store = Store::connect(&config).await.unwrap();
    for n in 1..=cycles {
        let json = report(n).to_string();
        store
            .record_cycle(&NewCycle {
                slot: None,
                runner: "host:42",
                started_at: "2026-11-28T10:00:00Z",
                finished_at: "2026-11-28T10:00:07Z",
                status: "failed",
                report: &json,
            })
            .await
            .unwrap();
    }
    store.close().await;
    config
}

fn with(pipeline: PipelineStatus) -> ServeOptions {
    ServeOptions {
        pipeline: Some(pipeline),
        ..ServeOptions::default()
    }
}

#[tokio::test]
async fn without_a_pipeline_record_the_route_is_a_json_404() {
    let app = TestApp::spawn(FakeSource::new()).await;
    let answer = app.get("/pipeline").await;
    assert_error(&answer, 404);
    assert!(
        answer.1["error"]
            .as_str()
            .unwrap()
            .contains("no pipeline record"),
        "{}",
        answer.1
    );
}

#[tokio::test]
async fn the_last_cycles_are_listed_newest_first_with_their_steps_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let config = database_with_cycles(dir.path(), 12).await;
    let app = TestApp::spawn_with(
        FakeSource::new(),
        TEST_RELOAD_INTERVAL,
        with(PipelineStatus::reader(&config)),
    )
    .await;

    let (status, body) = app.get("/pipeline").await;
    assert_eq!(status, 200, "{body}");
    let cycles = body["cycles"].as_array().unwrap();
    assert_eq!(cycles.len(), 10, "ten by default");
    assert_eq!(cycles[0]["id"], 12);
    assert_eq!(cycles[0]["trained"]["version"], 12);
    assert_eq!(cycles[9]["id"], 3);
    assert_eq!(cycles[0]["steps"][0]["error"], "Genius is down");
    assert_eq!(cycles[0]["steps"][1]["counts"]["songs"], 25);
    assert_eq!(body["next_run"], Value::Null);
    assert_eq!(body["schedule"], Value::Null);

    let (status, body) = app.get("/pipeline?limit=50").await;
    assert_eq!(
        (status, body["cycles"].as_array().map(Vec::len)),
        (200, Some(12))
    );
    for bad in [
        "limit=0",
        "limit=51",
        "limit=-1",
        "limit=ten",
        "limit=1&limit=1",
        "x=1",
    ] {
        assert_error(&app.get(&format!("/pipeline?{bad}")).await, 400);
    }
}

#[tokio::test]
async fn a_missing_database_has_no_cycles_and_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.db");
    let config = StoreConfig::sqlite(&path);
    let app = TestApp::spawn_with(
        FakeSource::new(),
        TEST_RELOAD_INTERVAL,
        with(PipelineStatus::reader(&config)),
    )
    .await;
    let (status, body) = app.get("/pipeline").await;
    assert_eq!((status, &body["cycles"]), (200, &json!([])));
    assert!(!path.exists());
}

#[tokio::test]
async fn an_unreadable_record_is_a_json_503() {
    let dir = tempfile::tempdir().unwrap();
    let config = database_with_cycles(dir.path(), 1).await;
    let store = Store::connect(&config).await.unwrap();
    store
        .record_cycle(&NewCycle {
            slot: None,
            runner: "x",
            started_at: "a",
            finished_at: "b",
            status: "succeeded",
            report: "not json",
        })
        .await
        .unwrap();
    store.close().await;
    let app = TestApp::spawn_with(
        FakeSource::new(),
        TEST_RELOAD_INTERVAL,
        with(PipelineStatus::reader(&config)),
    )
    .await;
    let answer = app.get("/pipeline").await;
    assert_error(&answer, 503);
    assert!(
        answer.1["error"]
            .as_str()
            .unwrap()
            .contains("not a valid report"),
        "{}",
        answer.1
    );
}

#[tokio::test]
async fn a_process_that_runs_cycles_shows_its_plan_and_step_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let config = database_with_cycles(dir.path(), 1).await;
    let metrics = PipelineMetrics::new();
    let status = PipelineStatus::runner(&config, metrics);
    let next = chrono::DateTime::parse_from_rfc3339("2026-11-28T11:00:00Z")
        .unwrap()
        .to_utc();
    status.set_plan("every 1h".into(), Some(next)).await;
    let app = TestApp::spawn_with(FakeSource::new(), TEST_RELOAD_INTERVAL, with(status)).await;

    let (code, body) = app.get("/pipeline").await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["schedule"], "every 1h");
    assert_eq!(body["next_run"], "2026-11-28T11:00:00Z");

    let text = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "songrec_pipeline_step_total{step=\"train\",status=\"succeeded\"} 0",
        "songrec_pipeline_next_run_timestamp_seconds 1795863600",
        "songrec_http_requests_in_flight 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
}

#[tokio::test]
async fn a_server_shows_the_next_run_a_process_sharing_its_database_planned() {
    let dir = tempfile::tempdir().unwrap();
    let config = database_with_cycles(dir.path(), 1).await;
    let app = TestApp::spawn_with(
        FakeSource::new(),
        TEST_RELOAD_INTERVAL,
        with(PipelineStatus::reader(&config)),
    )
    .await;
    let (_, body) = app.get("/pipeline").await;
    assert_eq!(
        (&body["next_run"], &body["schedule"]),
        (&Value::Null, &Value::Null)
    );

    // The leader (`songrec run`) plans its next cycle.
    let leader = PipelineStatus::runner(&config, PipelineMetrics::new());
    let next = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp() + 3600, 0).unwrap();
    leader.set_plan("every 1h".into(), Some(next)).await;
    let (code, body) = app.get("/pipeline").await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["schedule"], "every 1h");
    let shown: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(body["next_run"].clone()).unwrap();
    assert_eq!(shown, next);

    // A leader that stops withdraws it.
    leader.withdraw_plan().await;
    let (_, body) = app.get("/pipeline").await;
    assert_eq!(body["next_run"], Value::Null, "{body}");
}
