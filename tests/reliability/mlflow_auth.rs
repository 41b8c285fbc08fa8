//! The MLflow registry behind MLflow's own basic-auth app, as a managed tracking server runs:
//! credentials from `MLFLOW_TRACKING_USERNAME`/`MLFLOW_TRACKING_PASSWORD` or in the URI work, a
//! missing or wrong password fails with one clear line, and no password is ever printed.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{assert_no_secret, free_port, generate, run, skip, text};

const ADMIN_PASSWORD: &str = "mlpw-Qx7Secret-admin";
const WRONG_PASSWORD: &str = "mlpw-Qx7Secret-wrong";

/// `mlflow server --app-name basic-auth` on a free port, with its own stores; stopped on drop.
struct AuthMlflow {
    child: Child,
    dir: tempfile::TempDir,
    uri: String,
}

impl AuthMlflow {
    async fn start() -> Option<AuthMlflow> {
        let Some(python) = std::env::var("SONGREC_TEST_MLFLOW_PYTHON")
            .ok()
            .filter(|p| !p.is_empty())
        else {
            return skip("SONGREC_TEST_MLFLOW_PYTHON is not set (see .ci/mlflow.sh python)");
        };
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        let config = dir.path().join("basic_auth.ini");
        std::fs::write(
            &config,
            format!(
                "[mlflow]\ndefault_permission = READ\ndatabase_uri = sqlite:///{root}/auth.db\n\
                 admin_username = admin\nadmin_password = {ADMIN_PASSWORD}\n\
                 authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let child = Command::new(python)
            .args(["-m", "mlflow", "server", "--app-name", "basic-auth"])
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--workers",
                "1",
            ])
            .arg("--backend-store-uri")
            .arg(format!("sqlite:///{root}/mlflow.db"))
            .arg("--serve-artifacts")
            .arg("--artifacts-destination")
            .arg(format!("{root}/artifacts"))
            .env("MLFLOW_AUTH_CONFIG_PATH", &config)
            .env("MLFLOW_FLASK_SERVER_SECRET_KEY", "songrec-test-flask-key")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.path().join("server.log")).unwrap())
            .stderr(std::fs::File::create(dir.path().join("server.err")).unwrap())
            // Its own process group, so that the workers stop with it.
            .process_group(0)
            .spawn()
            .unwrap();
        let uri = format!("http://127.0.0.1:{port}");
        let mut server = AuthMlflow { child, dir, uri };
        let started = Instant::now();
        loop {
            if let Ok(r) = reqwest::get(format!("{}/health", server.uri)).await
                && r.status().is_success()
            {
                return Some(server);
            }
            let log = || {
                std::fs::read_to_string(server.dir.path().join("server.err")).unwrap_or_default()
            };
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("mlflow server exited ({status}): {}", log());
            }
            assert!(
                started.elapsed() < Duration::from_secs(180),
                "mlflow server did not answer: {}",
                log()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    fn uri_with(&self, user: &str, password: &str) -> String {
        let mut url = url::Url::parse(&self.uri).unwrap();
        url.set_username(user).unwrap();
        url.set_password(Some(password)).unwrap();
        url.to_string()
    }
}

impl Drop for AuthMlflow {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.child.id())])
            .status();
        let started = Instant::now();
        while matches!(self.child.try_wait(), Ok(None))
            && started.elapsed() < Duration::from_secs(15)
        {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

fn songrec(dir: &Path, vars: &[(&str, String)], args: &[&str]) -> (bool, String) {
    let mut env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.push(("SONGREC_LOG", "debug"));
    let out = run(dir, &env, args);
    let shown = text(&out);
    assert_no_secret(
        &format!("songrec {args:?}"),
        &shown,
        &[ADMIN_PASSWORD, WRONG_PASSWORD],
    );
    (out.status.success(), shown)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mlflow_registry_works_behind_basic_auth_and_never_prints_the_password() {
    let Some(mlflow) = AuthMlflow::start().await else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let catalogue = generate(dir, 300);
    let (ok, out) = songrec(dir, &[], &["import", catalogue.to_str().unwrap()]);
    assert!(ok, "{out}");

    // No credentials: refused, in one line.
    let anonymous = vec![("MLFLOW_TRACKING_URI", mlflow.uri.clone())];
    let (ok, out) = songrec(dir, &anonymous, &["train", "--k", "10"]);
    assert!(!ok, "{out}");
    let error = error_line(&out);
    assert!(
        error.contains("401") || error.to_lowercase().contains("unauthori"),
        "{out}"
    );

    // MLflow's variables.
    let basic = vec![
        ("MLFLOW_TRACKING_URI", mlflow.uri.clone()),
        ("MLFLOW_TRACKING_USERNAME", "admin".to_string()),
        ("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD.to_string()),
    ];
    let (ok, out) = songrec(dir, &basic, &["train", "--k", "10"]);
    assert!(ok, "{out}");
    let (ok, out) = songrec(dir, &basic, &["models", "list"]);
    assert!(ok, "{out}");
    assert!(out.contains('*'), "version 1 is champion: {out}");

    // Credentials in the URI.
    let in_uri = vec![(
        "MLFLOW_TRACKING_URI",
        mlflow.uri_with("admin", ADMIN_PASSWORD),
    )];
    let (ok, out) = songrec(dir, &in_uri, &["models", "show", "1"]);
    assert!(ok, "{out}");

    // A wrong password: refused, and neither password shows.
    let wrong = vec![
        ("MLFLOW_TRACKING_URI", mlflow.uri.clone()),
        ("MLFLOW_TRACKING_USERNAME", "admin".to_string()),
        ("MLFLOW_TRACKING_PASSWORD", WRONG_PASSWORD.to_string()),
    ];
    let (ok, out) = songrec(dir, &wrong, &["models", "list"]);
    assert!(!ok, "{out}");
    assert!(error_line(&out).contains("401"), "{out}");
}

/// The one `error: ` line of a failed run's output. The runs here log at debug level, and a
/// connection pool may log after the error is printed, so it need not be the last line.
fn error_line(out: &str) -> &str {
    let errors: Vec<&str> = out.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "one error line: {out}");
    errors[0]
}
