//! What the security tests share: running the binary with exactly the environment given,
//! scanning its output for secrets, throwaway databases, free ports.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_songrec");

pub fn required() -> bool {
    std::env::var("SONGREC_REQUIRE_SERVICES").as_deref() == Ok("1")
}

/// Skips (returns `None` after saying why) or, when services are required, fails.
pub fn skip<T>(why: impl std::fmt::Display) -> Option<T> {
    assert!(!required(), "{why} (SONGREC_REQUIRE_SERVICES=1)");
    eprintln!("skipping: {why}");
    None
}

/// `songrec` with only `PATH` and `env` in its environment, run in `dir` (so no `.env` is read
/// from the repository).
pub fn songrec(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null());
    command
}

pub fn run(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    songrec(dir, env, args).output().expect("run songrec")
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Fails naming the secret and where it showed, with the surrounding text.
pub fn assert_no_secret(what: &str, text: &str, secrets: &[&str]) {
    for secret in secrets {
        let forms = [
            secret.to_string(),
            url::form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>(),
        ];
        for form in forms {
            if let Some(at) = text.find(&form) {
                let start = text[..at]
                    .char_indices()
                    .rev()
                    .nth(120)
                    .map_or(0, |(i, _)| i);
                let end = (at + form.len() + 120).min(text.len());
                let end = (end..=text.len())
                    .find(|i| text.is_char_boundary(*i))
                    .unwrap();
                panic!("{what} shows a secret: ...{}...", &text[start..end]);
            }
        }
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}_{}_{nanos}", std::process::id())
}

/// A database of its own on the test PostgreSQL, dropped at the end.
pub struct TestDatabase {
    admin_url: String,
    pub name: String,
}

impl TestDatabase {
    pub async fn create() -> Option<TestDatabase> {
        use sqlx::Connection;
        let admin_url = std::env::var("SONGREC_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let mut admin = match sqlx::PgConnection::connect(&admin_url).await {
            Ok(c) => c,
            Err(e) => return skip(format!("PostgreSQL unreachable: {e}")),
        };
        let name = unique("songrec_security");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        Some(TestDatabase { admin_url, name })
    }

    /// The database's URL with `user:password` put in.
    pub fn url_with_password(&self, password: &str) -> String {
        let mut url = url::Url::parse(&self.admin_url).unwrap();
        url.set_path(&self.name);
        if url.username().is_empty() {
            url.set_username("postgres").unwrap();
        }
        url.set_password(Some(password)).unwrap();
        url.to_string()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Its own runtime: drop can run inside or outside one.
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                use sqlx::Connection;
                if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut admin)
                        .await;
                }
            });
        })
        .join();
    }
}

/// The test MLflow server's URI, or `None` when it should be skipped.
pub async fn mlflow_uri() -> Option<String> {
    let Some(uri) = std::env::var("SONGREC_TEST_MLFLOW_URI")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        return skip("SONGREC_TEST_MLFLOW_URI is not set (see .ci/mlflow.sh)");
    };
    let uri = uri.trim_end_matches('/').to_string();
    match reqwest::get(format!("{uri}/health")).await {
        Ok(r) if r.status().is_success() => Some(uri),
        other => skip(format!("MLflow at {uri} is not healthy: {other:?}")),
    }
}

/// A generated catalogue of `songs` songs at `dir/catalogue.jsonl`.
pub fn generate(dir: &Path, songs: u32) -> std::path::PathBuf {
    let path = dir.join("catalogue.jsonl");
    let out = run(
        dir,
        &[],
        &[
            "generate",
            "--songs",
            &songs.to_string(),
            "--out",
            path.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    path
}

/// A `songrec serve` whose log goes to a file; stopped with SIGTERM.
pub struct Server {
    child: std::process::Child,
    pub base: String,
    log: std::path::PathBuf,
}

impl Server {
    pub fn start(dir: &Path, env: &[(&str, &str)]) -> Server {
        Server::start_with(dir, env, &[])
    }

    /// [`Server::start`] with more `serve` arguments.
    pub fn start_with(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Server {
        let log = dir.join("serve.log");
        let mut all = vec!["serve", "--addr", "127.0.0.1:0", "--reload-interval", "1s"];
        all.extend_from_slice(args);
        let child = songrec(dir, env, &all)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let base = loop {
            let file = std::fs::File::open(&log).unwrap();
            let found = BufReader::new(file)
                .lines()
                .map_while(Result::ok)
                .find_map(|l| {
                    l.split("serving on http://")
                        .nth(1)
                        .map(|rest| format!("http://{}", rest.split('/').next().unwrap_or(rest)))
                });
            if let Some(base) = found {
                break base;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "serve did not start: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        Server { child, base, log }
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = reqwest::get(format!("{}{path}", self.base)).await.unwrap();
        (
            response.status().as_u16(),
            response.text().await.unwrap_or_default(),
        )
    }

    /// SIGTERM, then everything it logged.
    pub fn stop(mut self) -> String {
        let _ = std::process::Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        std::fs::read_to_string(&self.log).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child process killed (and reaped) when dropped, so a failing test leaves nothing behind.
pub struct Running(pub std::process::Child);

impl Running {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Sends SIGTERM and waits (bounded) for the exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.0.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < until,
                "songrec did not stop on SIGTERM"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
