//! The tests' fake api.genius.com as a program, for tests outside Rust (the Airflow DAG tests)
//! that point `GENIUS_API_BASE_URL` at it. Same server, same saved Genius responses, as the
//! `FakeGenius` the Rust tests start in-process.
//!
//! ```text
//! fake_genius --token TOKEN [--artist NAME[=SONGS]]... [--page-size N]
//! ```
//!
//! Binds 127.0.0.1 on a free port, prints `http://127.0.0.1:PORT` as its first line on stdout,
//! and serves until it is killed or its standard input closes (so a test that dies does not
//! leave it running). Artists get ids 1001, 1002, ... and 50 songs each unless `=SONGS` says
//! otherwise; their song ids never overlap.

#[path = "../tests/support/fake_genius.rs"]
mod fake_genius;

use std::io::{Read, Write};
use std::process::ExitCode;

use fake_genius::FakeGenius;

/// Songs per artist when `--artist` does not say.
const DEFAULT_SONGS: usize = 50;
/// More songs than this per artist is a typo, not a test.
const MAX_SONGS: usize = 100_000;
/// Song ids of artist `n` start at `n * SONG_ID_STRIDE`, so catalogues never share a song.
const SONG_ID_STRIDE: u64 = 1_000_000;

struct Options {
    token: String,
    artists: Vec<(String, usize)>,
    page_size: Option<usize>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut token = None;
    let mut artists = Vec::new();
    let mut page_size = None;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--token" => token = Some(value("--token")?),
            "--artist" => {
                let raw = value("--artist")?;
                let (name, songs) = match raw.rsplit_once('=') {
                    Some((name, songs)) => (
                        name.to_string(),
                        songs
                            .parse::<usize>()
                            .map_err(|_| format!("--artist {raw:?}: SONGS is not a number"))?,
                    ),
                    None => (raw, DEFAULT_SONGS),
                };
                if name.trim().is_empty() || songs == 0 || songs > MAX_SONGS {
                    return Err(format!(
                        "--artist needs a name and 1..={MAX_SONGS} songs, got {name:?}={songs}"
                    ));
                }
                artists.push((name, songs));
            }
            "--page-size" => {
                let raw = value("--page-size")?;
                page_size = Some(
                    raw.parse::<usize>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or(format!("--page-size {raw:?} is not a positive number"))?,
                );
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let token = token.ok_or("--token is required")?;
    Ok(Options {
        token,
        artists,
        page_size,
    })
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("error: {message}");
            eprintln!(
                "usage: fake_genius --token TOKEN [--artist NAME[=SONGS]]... [--page-size N]"
            );
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let fake = FakeGenius::start(&options.token).await;
        for (n, (name, songs)) in (1u64..).zip(&options.artists) {
            fake.add_artist(1000 + n, name, *songs, n * SONG_ID_STRIDE);
        }
        if let Some(size) = options.page_size {
            fake.set_page_size(size);
        }
        println!("{}", fake.url);
        let _ = std::io::stdout().flush();
        // Serve until stdin reaches its end (the parent closed it or died).
        let _ = tokio::task::spawn_blocking(|| {
            let mut sink = [0u8; 256];
            let mut stdin = std::io::stdin();
            while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
        })
        .await;
    });
    ExitCode::SUCCESS
}
