//! The import reader against hostile files (proptest, shrinking): JSON Lines files mixing real
//! songs with arbitrary bytes, arbitrary JSON, truncated songs and songs with fields replaced.
//! Whatever the file, the import never panics, every good song is stored exactly once, and every
//! other line is rejected with its own line number and a reason.

use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use serde_json::Value;
use songrec_ingest::{ArtistPlace, ImportObserver, Place, import_paths};
use songrec_store::{Store, StoreConfig};

const SONG: &str =
    include_str!("../../genius/tests/fixtures/song_dev_strokes_plain_with_tags.json");

fn song(id: u64) -> Value {
    let mut value: Value = serde_json::from_str(SONG).unwrap();
    value["id"] = id.into();
    value
}

/// One line of a hostile file, and whether it is a song the import must keep.
#[derive(Debug, Clone)]
enum Line {
    Good(u64),
    Bytes(Vec<u8>),
    Json(String),
    Truncated(u64, usize),
    Replaced(u64, String, String),
}

impl Line {
    fn render(&self) -> Vec<u8> {
        let mut bytes = match self {
            Line::Good(id) => serde_json::to_vec(&song(*id)).unwrap(),
            Line::Bytes(b) => b.clone(),
            Line::Json(text) => text.clone().into_bytes(),
            Line::Truncated(id, keep) => {
                let full = serde_json::to_vec(&song(*id)).unwrap();
                full[..(*keep).min(full.len() - 1)].to_vec()
            }
            Line::Replaced(id, field, json) => {
                let mut value = song(*id);
                value[field.as_str()] = serde_json::from_str(json).unwrap_or(Value::Null);
                serde_json::to_vec(&value).unwrap()
            }
        };
        // A line ends at its newline: other bytes stay, newlines inside become spaces.
        for b in &mut bytes {
            if *b == b'\n' {
                *b = b' ';
            }
        }
        bytes
    }
}

fn json_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| if f.is_finite() {
            f.to_string()
        } else {
            "0".into()
        }),
        ".{0,20}".prop_map(|s| serde_json::to_string(&s).unwrap()),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec(("[a-z_]{1,8}", inner), 0..4).prop_map(|v| {
                let fields: Vec<String> = v
                    .into_iter()
                    .map(|(k, v)| format!("{}:{v}", serde_json::to_string(&k).unwrap()))
                    .collect();
                format!("{{{}}}", fields.join(","))
            }),
        ]
    })
}

fn line() -> impl Strategy<Value = Line> {
    let field = prop_oneof![
        Just("id"),
        Just("title"),
        Just("primary_artist"),
        Just("release_date"),
        Just("stats"),
        Just("tags"),
        Just("custom_performances"),
        Just("description"),
        Just("song_relationships"),
    ]
    .prop_map(str::to_string);
    prop_oneof![
        4 => (1u64..40).prop_map(Line::Good),
        1 => prop::collection::vec(any::<u8>(), 1..64)
            // Blank as the reader sees a line: nothing but white space (Unicode's, so a
            // vertical tab too) once read as UTF-8.
            .prop_filter("not blank", |b| {
                std::str::from_utf8(b).map_or(true, |text| !text.trim().is_empty())
            })
            .prop_map(Line::Bytes),
        1 => json_value().prop_map(Line::Json),
        1 => (1u64..40, 1usize..400).prop_map(|(id, keep)| Line::Truncated(id, keep)),
        2 => (1u64..40, field, json_value()).prop_map(|(id, f, v)| Line::Replaced(id, f, v)),
    ]
}

fn is_artist_object(text: &str) -> bool {
    serde_json::from_str::<Value>(text)
        .is_ok_and(|v| v.get("title").is_none() && v.get("songs").is_some_and(Value::is_array))
}

#[derive(Default)]
struct Seen {
    rejected: Mutex<Vec<(Place, String)>>,
}

impl ImportObserver for Seen {
    fn rejected(&self, _input: &str, place: Place, reason: &str) {
        self.rejected
            .lock()
            .unwrap()
            .push((place, reason.to_string()));
    }
    fn unreadable(&self, input: &str, error: &std::io::Error) {
        panic!("{input} unreadable: {error}");
    }
    fn wrap<'a>(&self, input: Box<dyn Read + 'a>) -> Box<dyn Read + 'a> {
        input
    }
}

fn import(lines: &[Line]) -> (Vec<(Place, String)>, u64, Vec<u64>) {
    let dir = tempfile::tempdir().unwrap();
    let file: PathBuf = dir.path().join("songs.jsonl");
    let mut text = Vec::new();
    for line in lines {
        text.extend(line.render());
        text.push(b'\n');
    }
    std::fs::write(&file, text).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = Store::connect(&StoreConfig::sqlite(&dir.path().join("songs.db")))
            .await
            .unwrap();
        let seen = Arc::new(Seen::default());
        let report = import_paths(&store, vec![file], seen.clone())
            .await
            .unwrap();
        let mut ids: Vec<u64> = store
            .load_catalogue()
            .await
            .unwrap()
            .iter()
            .map(|s| s.id)
            .collect();
        ids.sort_unstable();
        store.close().await;
        let rejected = std::mem::take(&mut *seen.rejected.lock().unwrap());
        (rejected, report.read, ids)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_good_song_is_kept_once_and_every_other_line_is_rejected_with_its_number(
        first in 1u64..40,
        rest in prop::collection::vec(line(), 0..24)
    ) {
        // A file that starts with a song object is JSON Lines (one starting with `[` is an
        // array, tested in the reader's unit tests).
        let mut lines = vec![Line::Good(first)];
        lines.extend(rest);
        let (rejected, read, ids) = import(&lines);
        prop_assert!(read >= 1);
        let mut good: Vec<u64> = lines
            .iter()
            .filter_map(|l| match l { Line::Good(id) => Some(*id), _ => None })
            .collect();
        good.sort_unstable();
        good.dedup();
        // Every good song is stored once; other lines may add songs only when they are songs
        // after all (a replaced field the song survives without).
        for id in &good {
            prop_assert!(ids.binary_search(id).is_ok(), "song {} lost", id);
        }
        let mut unique = ids.clone();
        unique.dedup();
        prop_assert_eq!(&unique, &ids);
        for (place, reason) in &rejected {
            prop_assert!(!reason.trim().is_empty());
            let n = match *place {
                Place::Line(n) => n,
                Place::ArtistSong { artist: ArtistPlace::Line(n), .. } => n,
                other => {
                    return Err(TestCaseError::fail(format!("rejection at {other}, not a line")));
                }
            };
            let line = &lines[(n - 1) as usize];
            prop_assert!(!matches!(line, Line::Good(_)), "good line {} rejected: {}", n, reason);
        }
        // Lines that cannot be songs are always among the rejected (a JSON object with a
        // `songs` array and no title is a lyricsgenius artist object: its songs are judged).
        for (i, line) in lines.iter().enumerate() {
            let not_a_song = match line {
                Line::Bytes(_) | Line::Truncated(..) => true,
                Line::Json(text) => !is_artist_object(text),
                _ => false,
            };
            if not_a_song {
                let n = i as u64 + 1;
                prop_assert!(
                    rejected.iter().any(|(p, _)| *p == Place::Line(n)),
                    "line {} ({:?}) not rejected", n, line
                );
            }
        }
    }
}
