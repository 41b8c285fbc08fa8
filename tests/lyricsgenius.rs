//! `songrec import` of lyricsgenius `Lyrics_<Artist>.json` files, through the real binary. The
//! fixtures are real Genius song objects in the library's layout: one pretty-printed artist
//! object whose `songs` hold song objects with the library's extra `lyrics` and `artist` keys.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_songrec");

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lyricsgenius")
}

fn songrec(data: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("DB_HOST")
        .env("SONGREC_LOG", "warn")
        .output()
        .unwrap()
}

fn ok(out: Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The song objects of the fixture files, as Genius sent them (without lyricsgenius's keys).
fn fixture_songs() -> Vec<Value> {
    let mut songs = Vec::new();
    for name in ["Lyrics_ClarenceCarter.json", "Lyrics_billywoods.json"] {
        let text = std::fs::read_to_string(fixtures().join(name)).unwrap();
        let artist: Value = serde_json::from_str(&text).unwrap();
        for song in artist["songs"].as_array().unwrap() {
            let mut song = song.clone();
            let object = song.as_object_mut().unwrap();
            assert!(object.remove("lyrics").is_some() && object.remove("artist").is_some());
            songs.push(song);
        }
    }
    songs.sort_by_key(|s| s["id"].as_u64());
    songs
}

#[test]
fn a_directory_of_lyricsgenius_files_imports_every_song_without_the_lyrics() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let folder = fixtures();
    let out = ok(songrec(&data, &["import", folder.to_str().unwrap()]));
    assert_eq!(out.trim(), "read 5, inserted 5, updated 0, rejected 0");

    // The same file again, on its own: nothing changes.
    let one = folder.join("Lyrics_ClarenceCarter.json");
    let out = ok(songrec(&data, &["import", one.to_str().unwrap()]));
    assert_eq!(out.trim(), "read 3, inserted 0, updated 0, rejected 0");

    // What is kept is each song object as Genius sent it.
    let exported = dir.path().join("export.jsonl");
    ok(songrec(&data, &["export", exported.to_str().unwrap()]));
    let kept: Vec<Value> = std::fs::read_to_string(&exported)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(kept, fixture_songs());
}

#[test]
fn a_song_without_a_title_in_a_lyricsgenius_file_is_rejected_by_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let mut artist: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("Lyrics_billywoods.json")).unwrap(),
    )
    .unwrap();
    artist["songs"][1].as_object_mut().unwrap().remove("title");
    let file = dir.path().join("Lyrics_billywoods.json");
    std::fs::write(&file, serde_json::to_string_pretty(&artist).unwrap()).unwrap();

    let out = songrec(
        &dir.path().join("data"),
        &["import", file.to_str().unwrap()],
    );
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.trim(), "read 2, inserted 1, updated 0, rejected 1");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("document 1, song 2: rejected"), "{stderr}");
}
