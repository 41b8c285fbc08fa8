//! The explorer page in a real browser: `songrec demo` on a random port serves a generated
//! catalogue it trained on, a `songrec serve` beside it has no model yet, and
//! `tests/explorer/explorer.mjs` drives headless Chromium through both with Playwright (the
//! no-model state, then training while the page waits, browse, search, song, artist, likes,
//! model and pipeline panel, server down; screenshots of every view at desktop and phone width
//! into `target/explorer-screenshots/`). Any console error fails it.
//!
//! Needs node (20 or newer), Chromium (`.ci/chromium.sh` installs Debian's) and playwright-core
//! (`npm ci` in `tests/explorer`, or a folder named by `SONGREC_NODE_DEPS`; `.ci/chromium.sh`
//! installs it). Without them the test says why and passes, unless
//! `SONGREC_REQUIRE_SERVICES=1`, in which case it fails.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Songs in the generated catalogue: several pages to scroll, trained in seconds.
const SONGS: usize = 1200;
/// How long the whole browser journey may take before it is stopped (it takes well under a
/// minute; this only bounds a hang).
const JOURNEY_LIMIT: Duration = Duration::from_secs(300);

struct Tools {
    node: PathBuf,
    chromium: PathBuf,
    node_deps: PathBuf,
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn from_env(name: &str) -> Option<PathBuf> {
    std::env::var_os(name).map(PathBuf::from)
}

/// What the test needs, or the first thing missing.
fn tools() -> Result<Tools, String> {
    let node = from_env("SONGREC_NODE")
        .or_else(|| on_path("node"))
        .ok_or("node is not on PATH")?;
    let chromium = from_env("SONGREC_CHROMIUM")
        .or_else(|| {
            ["chromium", "chromium-browser", "google-chrome"]
                .into_iter()
                .find_map(on_path)
        })
        .ok_or("chromium is not on PATH (run .ci/chromium.sh)")?;
    let node_deps = from_env("SONGREC_NODE_DEPS")
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/explorer"));
    if !node_deps
        .join("node_modules/playwright-core/package.json")
        .is_file()
    {
        return Err(format!(
            "playwright-core is not installed in {} (run `npm ci` there, or .ci/chromium.sh)",
            node_deps.display()
        ));
    }
    Ok(Tools {
        node,
        chromium,
        node_deps,
    })
}

fn tools_or_skip(test: &str) -> Option<Tools> {
    match tools() {
        Ok(tools) => Some(tools),
        Err(why) if std::env::var("SONGREC_REQUIRE_SERVICES").as_deref() == Ok("1") => {
            panic!("{test}: {why}, and SONGREC_REQUIRE_SERVICES=1")
        }
        Err(why) => {
            eprintln!("skipping {test}: {why}");
            None
        }
    }
}

/// `songrec` on `data_dir`, with nothing from the developer's environment choosing another
/// database or registry.
fn songrec(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_songrec"));
    command
        .arg("--data-dir")
        .arg(data_dir)
        .current_dir(data_dir);
    isolate(&mut command);
    command
}

fn isolate(command: &mut Command) {
    for name in [
        "DATABASE_URL",
        "MLFLOW_TRACKING_URI",
        "RUST_LOG",
        "SONGREC_ADDR",
    ] {
        command.env_remove(name);
    }
    command.env("SONGREC_LOG", "info");
}

/// A generated catalogue where every other song's art is on Genius's image host (which the
/// browser test answers itself) and the rest keep the generator's, which the page must not
/// load.
fn catalogue(data_dir: &Path) -> PathBuf {
    let raw = data_dir.join("generated.jsonl");
    let out = songrec(data_dir)
        .args(["generate", "--songs", &SONGS.to_string(), "--seed", "12"])
        .arg("--out")
        .arg(&raw)
        .output()
        .expect("run songrec generate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&raw).expect("read the catalogue");
    let lines: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, line)| {
            if i % 2 == 0 {
                line.replace("https://example.com/images/", "https://images.genius.com/")
            } else {
                line.to_owned()
            }
        })
        .collect();
    let path = data_dir.join("catalogue.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").expect("write the catalogue");
    path
}

/// A running `songrec` server (`serve` or `demo`); killed when dropped.
struct Server {
    child: Child,
    url: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Runs `songrec <args>` on `data_dir` and waits until it says where it serves.
    fn start(data_dir: &Path, args: &[&str]) -> Server {
        let mut child = songrec(data_dir)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start songrec");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut url = None;
        for line in lines.by_ref() {
            let line = line.expect("read the server's stderr");
            log.lock().unwrap().push(line.clone());
            if let Some(rest) = line.strip_prefix("songrec is serving on ") {
                url = rest.split_whitespace().next().map(str::to_owned);
                break;
            }
        }
        let Some(url) = url else {
            let _ = child.kill();
            panic!(
                "songrec {args:?} did not start serving:\n{}",
                log.lock().unwrap().join("\n")
            );
        };
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Server { child, url, log }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn screenshots_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target dir")
        .join("explorer-screenshots")
}

/// Imports `catalogue` into `data_dir`.
fn import(data_dir: &Path, catalogue: &Path) {
    let out = songrec(data_dir)
        .arg("import")
        .arg(catalogue)
        .output()
        .expect("run songrec import");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Songs of the small catalogue the model-less server gets while the page waits.
const FIRST_SONGS: usize = 60;

#[test]
fn the_explorer_page_works_end_to_end_in_headless_chromium() {
    let Some(tools) = tools_or_skip("explorer browser test") else {
        return;
    };
    // The demo: a catalogue in the store (every other song with Genius art), which `demo`
    // reuses, trains on and serves.
    let dir = tempfile::tempdir().unwrap();
    import(dir.path(), &catalogue(dir.path()));
    let demo = Server::start(dir.path(), &["demo", "--addr", "127.0.0.1:0"]);
    // A server with nothing yet, for the no-model state, and a small catalogue for it.
    let empty = tempfile::tempdir().unwrap();
    let first = empty.path().join("first.jsonl");
    let out = songrec(empty.path())
        .args([
            "generate",
            "--songs",
            &FIRST_SONGS.to_string(),
            "--seed",
            "3",
        ])
        .arg("--out")
        .arg(&first)
        .output()
        .expect("run songrec generate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let waiting = Server::start(
        empty.path(),
        &["serve", "--addr", "127.0.0.1:0", "--reload-interval", "1s"],
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/explorer/explorer.mjs");

    let mut command = Command::new(&tools.node);
    isolate(&mut command);
    let mut child = command
        .arg(&script)
        .env("SONGREC_URL", &demo.url)
        .env("SONGREC_DATA_DIR", dir.path())
        .env("SONGREC_SONGS", SONGS.to_string())
        .env("SONGREC_EMPTY_URL", &waiting.url)
        .env("SONGREC_EMPTY_DATA_DIR", empty.path())
        .env("SONGREC_EMPTY_CATALOGUE", &first)
        .env("SONGREC_EMPTY_SONGS", FIRST_SONGS.to_string())
        .env("SONGREC_BIN", env!("CARGO_BIN_EXE_songrec"))
        .env("SONGREC_CHROMIUM", &tools.chromium)
        .env("SONGREC_SCREENSHOTS", screenshots_dir())
        .env("SONGREC_NODE_DEPS", &tools.node_deps)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start node");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break Some(status);
        }
        if started.elapsed() > JOURNEY_LIMIT {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let out = child.wait_with_output().expect("node's output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let passed = status.is_some_and(|s| s.success());
    if !passed {
        panic!(
            "the browser journey {} after {:?}\n--- steps\n{stdout}\n--- errors\n{stderr}\n--- demo\n{}\n--- serve\n{}",
            if status.is_none() {
                "hung and was stopped"
            } else {
                "failed"
            },
            started.elapsed(),
            demo.log.lock().unwrap().join("\n"),
            waiting.log.lock().unwrap().join("\n")
        );
    }
    assert!(stdout.contains("all steps passed"), "{stdout}");
    println!("{stdout}");
}
