//! songrec needs no privilege: the whole pipeline (generate, import, train, serve) runs as an
//! unprivileged user (`nobody`, as the container image's `songrec` user is) in a directory it
//! owns. Run as root, the test drops to uid/gid 65534 with `setpriv`; run as anyone else, it is
//! already unprivileged.

use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{BIN, Running, free_port};

const NOBODY: u32 = 65534;

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// `songrec ARGS` in `dir`, as `nobody` when this test runs as root.
fn as_unprivileged(dir: &std::path::Path, args: &[&str]) -> Command {
    let mut command = if is_root() {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--",
            BIN,
        ]);
        c
    } else {
        Command::new(BIN)
    };
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SONGREC_LOG", "warn")
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null());
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_pipeline_runs_as_an_unprivileged_user() {
    let work = tempfile::Builder::new()
        .prefix("songrec-nobody")
        .tempdir()
        .unwrap();
    let dir = work.path();
    if is_root() {
        std::os::unix::fs::chown(dir, Some(NOBODY), Some(NOBODY)).unwrap();
        // The binary must be reachable by others, as an installed binary is.
        let status = Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--",
                BIN,
                "--version",
            ])
            .status()
            .unwrap();
        assert!(
            status.success(),
            "{BIN} is not executable by an unprivileged user"
        );
    }
    let catalogue = dir.join("catalogue.jsonl");
    for args in [
        &[
            "generate",
            "--songs",
            "300",
            "--out",
            catalogue.to_str().unwrap(),
        ][..],
        &["import", catalogue.to_str().unwrap()][..],
        &["train", "--promote", "always"][..],
    ] {
        let out = as_unprivileged(dir, args).output().unwrap();
        assert!(
            out.status.success(),
            "songrec {args:?} as an unprivileged user: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let port = free_port();
    let server = Running(
        as_unprivileged(dir, &["serve", "--addr", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let status_of = |pid: u32| std::fs::metadata(format!("/proc/{pid}")).map(|m| m.uid());
    let url = format!("http://127.0.0.1:{port}/recommend/0?k=3");
    let started = Instant::now();
    loop {
        if let Ok(r) = reqwest::get(&url).await
            && r.status().is_success()
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "serve never answered"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let uid = status_of(server.pid()).unwrap();
    assert_ne!(uid, 0, "the server runs as root");
    // Everything it wrote belongs to the user that ran it.
    let db = std::fs::metadata(dir.join("data/songrec.db")).unwrap();
    assert_eq!(db.uid(), uid);
    assert!(server.stop().success());
}
