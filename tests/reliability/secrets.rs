//! No secret reaches stdout, stderr or the logs: `--help` of every command with every secret in
//! the environment, and a whole fetch -> import -> train -> register -> serve run with PostgreSQL
//! and MLflow, then the same commands failing in each way that quotes a setting.

use std::time::{Duration, Instant};

use crate::fake_genius::FakeGenius;
use crate::support::{
    Server, TestDatabase, assert_no_secret, free_port, generate, mlflow_uri, run, text, unique,
};

const GENIUS_TOKEN: &str = "gtok-Qx7Secret-genius-0123";
const WRONG_GENIUS_TOKEN: &str = "gtok-Qx7Secret-revoked-4567";
const DB_PASSWORD: &str = "dbpw-Qx7Secret-database";
const MLFLOW_PASSWORD: &str = "mlpw-Qx7Secret-mlflow";
const MLFLOW_TOKEN: &str = "mltok-Qx7Secret-bearer";
const SECRETS: [&str; 5] = [
    GENIUS_TOKEN,
    WRONG_GENIUS_TOKEN,
    DB_PASSWORD,
    MLFLOW_PASSWORD,
    MLFLOW_TOKEN,
];

/// An environment for one command.
type Vars = Vec<(&'static str, String)>;

/// The subcommands a help text lists under `Commands:`.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn help_of_every_command_never_shows_a_secret_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let mlflow_uri = format!("http://ci:{MLFLOW_PASSWORD}@127.0.0.1:1");
    let database_url = format!("postgres://songs:{DB_PASSWORD}@127.0.0.1:1/songs");
    let env = [
        ("GENIUS_API_TOKEN", GENIUS_TOKEN),
        ("DATABASE_URL", database_url.as_str()),
        ("DB_HOST", "127.0.0.1"),
        ("DB_USER", "songs"),
        ("DB_PASS", DB_PASSWORD),
        ("DB_NAME", "songs"),
        ("MLFLOW_TRACKING_URI", mlflow_uri.as_str()),
        ("MLFLOW_TRACKING_USERNAME", "ci"),
        ("MLFLOW_TRACKING_PASSWORD", MLFLOW_PASSWORD),
        ("MLFLOW_TRACKING_TOKEN", MLFLOW_TOKEN),
    ];
    let mut pending = vec![Vec::<String>::new()];
    let mut helps = 0;
    while let Some(path) = pending.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let out = run(dir.path(), &env, &args);
        let shown = text(&out);
        assert!(out.status.success(), "{args:?}: {shown}");
        assert_no_secret(&format!("songrec {}", args.join(" ")), &shown, &SECRETS);
        if path.is_empty() {
            // The variable is named, its value is not.
            assert!(shown.contains("[env: MLFLOW_TRACKING_URI]"), "{shown}");
        }
        helps += 1;
        for sub in subcommands(&shown) {
            let mut next = path.clone();
            next.push(sub);
            pending.push(next);
        }
    }
    // The top level, 11 commands, and the subcommands of `db` and `models`.
    assert!(helps >= 18, "only {helps} help texts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_run_and_its_failures_never_print_a_secret() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let Some(mlflow) = mlflow_uri().await else {
        return;
    };
    let fake = FakeGenius::start(GENIUS_TOKEN).await;
    fake.add_artist(16775, "Sia", 12, 9_000_000);
    let dir = tempfile::tempdir().unwrap();
    let catalogue = generate(dir.path(), 300);

    let database_url = db.url_with_password(DB_PASSWORD);
    let mut mlflow_with_credentials = url::Url::parse(&mlflow).unwrap();
    mlflow_with_credentials.set_username("ci").unwrap();
    mlflow_with_credentials
        .set_password(Some(MLFLOW_PASSWORD))
        .unwrap();
    let model_name = unique("songrec-secrets-model");
    let experiment = unique("songrec-secrets-experiment");
    let env = |log: &'static str| {
        vec![
            ("DATABASE_URL", database_url.clone()),
            ("MLFLOW_TRACKING_URI", mlflow_with_credentials.to_string()),
            ("SONGREC_MODEL_NAME", model_name.clone()),
            ("SONGREC_EXPERIMENT", experiment.clone()),
            ("GENIUS_API_TOKEN", GENIUS_TOKEN.to_string()),
            ("GENIUS_API_BASE_URL", fake.url.clone()),
            ("SONGREC_LOG", log.to_string()),
        ]
    };
    let mut everything = String::new();
    let mut step = |vars: Vars, args: &[&str], ok: bool| {
        let env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let out = run(dir.path(), &env, args);
        let shown = text(&out);
        assert_eq!(out.status.success(), ok, "songrec {args:?}: {shown}");
        if !ok {
            // One error line; at debug level a connection pool may log after it, so it need
            // not be the last line.
            let stderr = String::from_utf8_lossy(&out.stderr);
            let errors = stderr.lines().filter(|l| l.starts_with("error: ")).count();
            assert_eq!(errors, 1, "{args:?}: {shown}");
        }
        assert_no_secret(&format!("songrec {}", args.join(" ")), &shown, &SECRETS);
        everything.push_str(&shown);
    };

    // The run, at trace level where it is short enough.
    step(env("trace"), &["db", "status"], true);
    step(env("debug"), &["import", catalogue.to_str().unwrap()], true);
    step(
        env("trace"),
        &["fetch", "--artist", "Sia", "--rate", "0"],
        true,
    );
    step(env("debug"), &["train", "--k", "10"], true);
    step(env("trace"), &["models", "list"], true);
    step(env("debug"), &["models", "show", "1"], true);
    step(env("debug"), &["export", "-"], true);
    let serve_env = env("debug");
    let serve_vars: Vec<(&str, &str)> = serve_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start(dir.path(), &serve_vars);
    let started = Instant::now();
    while server.get("/ready").await.0 != 200 {
        assert!(started.elapsed() < Duration::from_secs(60), "never ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for path in [
        "/model",
        "/metrics",
        "/recommend/0?k=3",
        "/songs?q=a",
        "/nope",
    ] {
        let (_, body) = server.get(path).await;
        assert_no_secret(path, &body, &SECRETS);
    }
    let log = server.stop();
    assert_no_secret("songrec serve", &log, &SECRETS);
    assert!(log.contains("serving on"), "{log}");

    // Failures that quote a setting in their message.
    let with = |changes: &[(&'static str, &str)]| {
        let mut vars = env("debug");
        for (k, v) in changes {
            vars.retain(|(name, _)| name != k);
            vars.push((k, v.to_string()));
        }
        vars
    };
    let unreachable_db = format!(
        "postgres://postgres:{DB_PASSWORD}@127.0.0.1:{}/x",
        free_port()
    );
    let unreachable_mlflow = format!("http://ci:{MLFLOW_PASSWORD}@127.0.0.1:{}", free_port());
    let port = free_port().to_string();
    let db_vars = [
        ("DATABASE_URL", ""),
        ("DB_HOST", "127.0.0.1"),
        ("DB_PORT", port.as_str()),
        ("DB_USER", "songs"),
        ("DB_PASS", DB_PASSWORD),
        ("DB_NAME", "songs"),
    ];
    let failures: Vec<(Vars, Vec<&str>)> = vec![
        (
            with(&[("GENIUS_API_TOKEN", WRONG_GENIUS_TOKEN)]),
            vec!["fetch", "--artist", "Sia"],
        ),
        (
            with(&[("DATABASE_URL", &unreachable_db)]),
            vec!["db", "status"],
        ),
        (with(&db_vars), vec!["train"]),
        (
            with(&[db_vars.as_slice(), &[("DB_SSLMODE", "maybe")]].concat()),
            vec!["db", "status"],
        ),
        (
            with(&[("MLFLOW_TRACKING_URI", &unreachable_mlflow)]),
            vec!["train", "--k", "10"],
        ),
        (
            with(&[("MLFLOW_TRACKING_URI", &unreachable_mlflow)]),
            vec!["models", "list"],
        ),
        (
            with(&[
                ("MLFLOW_TRACKING_URI", &unreachable_mlflow),
                ("MLFLOW_TRACKING_TOKEN", MLFLOW_TOKEN),
            ]),
            vec!["models", "promote", "1"],
        ),
        (
            with(&[(
                "MLFLOW_TRACKING_URI",
                &format!("http://ci:{MLFLOW_PASSWORD}@[::1"),
            )]),
            vec!["models", "list"],
        ),
    ];
    for (vars, args) in failures {
        step(vars, &args, false);
    }
    assert!(
        everything.contains("127.0.0.1"),
        "the messages name the servers"
    );
}
