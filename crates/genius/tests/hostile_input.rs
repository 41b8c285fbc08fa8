//! Property tests: whatever a server sends, parsing Genius JSON ends in a value or a clear
//! refusal, never a panic, a hang or unbounded work. proptest shrinks any failure to a small
//! case; `PROPTEST_CASES` raises the number of cases for a longer run.

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use songrec_genius::parse_song_value;
use songrec_genius::types::{Artist, ArtistSongsPage, Envelope, SearchResults};

const SONG: &str = include_str!("fixtures/song_2872960_24k_magic.json");
const SONG_LEGACY: &str = include_str!("fixtures/song_378195_chandelier_2018_legacy.json");
const CATALOGUE_PAGE: &str = include_str!("fixtures/artist_songs_16775_sia_page1_2018.json");

/// Keys that songrec reads, so that generated objects hit the typed fields, not only unknown ones.
const KEYS: &[&str] = &[
    "id",
    "title",
    "url",
    "primary_artist",
    "featured_artists",
    "producer_artists",
    "writer_artists",
    "album",
    "name",
    "release_date",
    "release_date_components",
    "year",
    "month",
    "day",
    "language",
    "stats",
    "pageviews",
    "description",
    "plain",
    "dom",
    "children",
    "tag",
    "song_relationships",
    "relationship_type",
    "type",
    "songs",
    "song_art_image_url",
    "response",
    "song",
    "meta",
    "hits",
    "result",
    "next_page",
    "artist",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(KEYS).prop_map(str::to_string),
        1 => any::<String>(),
    ]
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        // Dates and ids in the shapes the parser special-cases.
        proptest::sample::select(vec![
            "2016-10-07",
            "2016-10",
            "20-6-10-07",
            "９９９９-01-01",
            "?",
            ""
        ])
        .prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(6, 96, 8, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..8).prop_map(Value::Array),
            btree_map(key(), inner, 0..8).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Everything the client and the import reader parse from one value.
fn parse_everything(value: &Value) {
    if let Err(e) = parse_song_value(value.clone()) {
        assert!(!e.to_string().is_empty());
    }
    let _ = serde_json::from_value::<Envelope<ArtistSongsPage>>(value.clone());
    let _ = serde_json::from_value::<Envelope<SearchResults>>(value.clone());
    let _ = serde_json::from_value::<Envelope<Artist>>(value.clone());
}

fn song_object(fixture: &str) -> Map<String, Value> {
    let mut value: Value = serde_json::from_str(fixture).unwrap();
    match value["response"]["song"].take() {
        Value::Object(map) => map,
        other => panic!("not a song: {other}"),
    }
}

proptest! {
    // Failures are shrunk and printed; a case worth keeping becomes a named test below.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_json_value_parses_or_is_refused_without_panic(value in json_value()) {
        parse_everything(&value);
        let wrapped = json!({"meta": {"status": 200}, "response": {"song": value.clone()}});
        parse_everything(&wrapped);
    }

    #[test]
    fn any_bytes_are_parsed_or_refused_without_panic(bytes in vec(any::<u8>(), 0..512)) {
        if let Ok(value) = serde_json::from_slice::<Value>(&bytes) {
            parse_everything(&value);
        }
        let _ = serde_json::from_slice::<Envelope<ArtistSongsPage>>(&bytes);
    }

    #[test]
    fn a_real_song_with_fields_replaced_keeps_the_parsers_promises(
        legacy in any::<bool>(),
        changes in vec((key(), json_value()), 1..4),
    ) {
        let mut song = song_object(if legacy { SONG_LEGACY } else { SONG });
        for (k, v) in changes {
            song.insert(k, v);
        }
        let value = Value::Object(song.clone());
        match parse_song_value(value) {
            Ok(parsed) => {
                // Accepted songs have what the store and the model rely on.
                prop_assert_eq!(Some(parsed.id), song["id"].as_u64());
                prop_assert!(!parsed.title.trim().is_empty());
                // (serde also reads a struct from an array, `[id, name, url]`: harmless.)
                if song["primary_artist"].is_object() {
                    prop_assert_eq!(Some(parsed.primary_artist.id), song["primary_artist"]["id"].as_u64());
                }
                if let Some(date) = &parsed.release_date {
                    prop_assert!(date.len() == 10 && date.is_ascii(), "{}", date);
                }
                let mut seen = Vec::new();
                for credit in &parsed.credits {
                    prop_assert!(!seen.contains(&credit), "duplicate credit {:?}", credit);
                    seen.push(credit);
                }
                if let Some(d) = &parsed.description {
                    prop_assert!(!d.is_empty() && d != "?");
                }
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn a_catalogue_page_with_odd_entries_keeps_the_good_ones(
        odd in vec(json_value(), 0..6),
        next_page in json_value(),
    ) {
        let mut page: Value = serde_json::from_str(CATALOGUE_PAGE).unwrap();
        let good = page["response"]["songs"].as_array().unwrap().len();
        page["response"]["songs"].as_array_mut().unwrap().extend(odd);
        page["response"]["next_page"] = next_page;
        // A `next_page` of the wrong type refuses the page as a whole, with a message;
        // otherwise odd entries are dropped and the good ones all kept.
        match serde_json::from_value::<Envelope<ArtistSongsPage>>(page) {
            Ok(parsed) => prop_assert!(parsed.response.unwrap().songs.len() >= good),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}

#[test]
fn deeply_nested_json_is_refused_by_depth_without_overflowing_the_stack() {
    let depth = 1_000_000;
    let nested = format!(
        r#"{{"id":1,"title":"t","primary_artist":{{"id":2}},"description":{{"dom":{}{}}}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let err = serde_json::from_str::<Value>(&nested).unwrap_err();
    assert!(err.to_string().contains("recursion limit"), "{err}");
    let err = serde_json::from_str::<Envelope<ArtistSongsPage>>(&format!(
        r#"{{"response":{{"songs":{}{}}}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    ))
    .unwrap_err();
    assert!(err.to_string().contains("recursion limit"), "{err}");
}

#[test]
fn the_deepest_nesting_json_allows_is_flattened_without_trouble() {
    // serde_json stops at 128 levels (an object and its `children` array are two); just under
    // that, the description tree is walked fine.
    let mut dom = json!("deep text");
    for _ in 0..60 {
        dom = json!({"tag": "p", "children": [dom]});
    }
    let text = serde_json::to_string(&json!({
        "id": 1, "title": "t", "primary_artist": {"id": 2, "name": "a"},
        "description": {"dom": dom}
    }))
    .unwrap();
    let value: Value = serde_json::from_str(&text).unwrap();
    let song = parse_song_value(value).unwrap();
    assert_eq!(song.description.as_deref(), Some("deep text"));
}
