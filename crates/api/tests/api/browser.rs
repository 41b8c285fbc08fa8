//! The browser page, rendered by headless Chromium against the real server: the DOM after the
//! page's own requests have completed is checked for what a user would see.
//!
//! Needs `chromium` (Debian package; `.ci/chromium.sh` installs it). Without it these tests
//! print why and pass, unless `SONGREC_REQUIRE_SERVICES=1`, in which case they fail.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::support::*;

fn find_chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("SONGREC_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| {
            ["chromium", "chromium-browser", "google-chrome"].map(|name| dir.join(name))
        })
        .find(|candidate| candidate.is_file())
}

/// Chromium, or `None` (after saying why) when the test should be skipped.
fn chromium_or_skip(test: &str) -> Option<PathBuf> {
    match find_chromium() {
        Some(path) => Some(path),
        None if std::env::var("SONGREC_REQUIRE_SERVICES").as_deref() == Ok("1") => {
            panic!(
                "{test}: chromium not found and SONGREC_REQUIRE_SERVICES=1 (run .ci/chromium.sh)"
            )
        }
        None => {
            eprintln!("skipping {test}: chromium not found (run .ci/chromium.sh to install it)");
            None
        }
    }
}

/// The page's DOM once its scripts and requests have settled.
async fn render(chromium: &PathBuf, url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let output = tokio::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            // Virtual time runs the page's timers and requests to completion, then dumps.
            "--virtual-time-budget=15000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(url)
        .kill_on_drop(true)
        .output()
        .await
        .expect("chromium runs");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("the DOM is UTF-8")
}

/// The inner HTML of the first element with this id.
fn element<'a>(dom: &'a str, id: &str) -> &'a str {
    let open = format!("id=\"{id}\"");
    let start = dom
        .find(&open)
        .unwrap_or_else(|| panic!("no #{id} in {dom}"));
    let rest = &dom[start..];
    let end = rest.find("</ol>").unwrap_or(rest.len());
    &rest[..end]
}

/// Titles in the order they appear.
fn titles(html: &str) -> Vec<String> {
    html.split("<div class=\"title\">")
        .skip(1)
        .map(|piece| piece.split('<').next().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test]
async fn the_page_lists_songs_by_popularity_and_shows_the_chosen_songs_recommendations() {
    let Some(chromium) = chromium_or_skip("browser page test") else {
        return;
    };
    let spec = Spec::new(60, Flavour::Forward);
    let (app, _source) = TestApp::serving(spec.clone()).await;
    let dom = render(&chromium, &format!("{}/#song={}", app.base, song_id(3))).await;

    let songs = titles(element(&dom, "songs"));
    let first_page: Vec<String> = (0..20).map(|i| format!("Song {i}")).collect();
    assert_eq!(songs, first_page);
    assert!(dom.contains("1–20 of 60"), "{dom}");
    assert!(dom.contains("model v1 · 60 songs"), "{dom}");

    let recs = element(&dom, "recs");
    let expected: Vec<String> = (0..10)
        .map(|rank| format!("Song {}", neighbour(&spec, 3, rank)))
        .collect();
    assert_eq!(titles(recs), expected);
    assert!(recs.contains("rank 0 of song 3"), "{recs}");
    assert!(recs.contains("1.000"), "{recs}");
    assert!(element(&dom, "selected").contains("Song 3"));
}

#[tokio::test]
async fn the_page_searches_and_mixes_seeds_from_its_address() {
    let Some(chromium) = chromium_or_skip("browser search test") else {
        return;
    };
    let model = FakeModel::new(Spec::new(200, Flavour::Forward), None)
        .with_title(2, "Halo", "Beyoncé")
        .with_title(5, "Crazy in Love", "Beyoncé");
    let (app, _source) =
        TestApp::serving_artifact(Artifact::Prepared(Arc::new(Mutex::new(Some(model))))).await;

    let dom = render(&chromium, &format!("{}/#q=beyonce", app.base)).await;
    assert_eq!(
        titles(element(&dom, "songs")),
        vec!["Halo", "Crazy in Love"]
    );
    assert!(dom.contains("1–2 of 2"), "{dom}");

    let mix = format!("{},{}", song_id(10), song_id(12));
    let dom = render(&chromium, &format!("{}/#mix={mix}", app.base)).await;
    let recs = element(&dom, "recs");
    assert_eq!(titles(recs)[..3], ["Song 13", "Song 14", "Song 15"]);
    assert!(recs.contains("like Song 10"), "{recs}");
    assert!(dom.contains("for the mix of 2 songs"), "{dom}");
}

#[tokio::test]
async fn the_page_says_when_no_model_is_loaded() {
    let Some(chromium) = chromium_or_skip("browser no-model test") else {
        return;
    };
    let app = TestApp::spawn(FakeSource::new()).await;
    let dom = render(&chromium, &format!("{}/", app.base)).await;
    assert!(dom.contains("no model loaded yet"), "{dom}");
    assert!(dom.contains("songrec train"), "{dom}");
}
