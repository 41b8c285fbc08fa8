//! Every real Genius response in `tests/fixtures/` parses into the lenient types.

use songrec_genius::types::{Artist, ArtistSongsPage, Envelope, Meta, SearchResults};
use songrec_genius::{ParseSongError, parse_song_value};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn response<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let envelope: Envelope<T> = serde_json::from_str(&fixture(name)).unwrap();
    assert_eq!(envelope.meta.unwrap().status, Some(200), "{name}");
    envelope.response.unwrap()
}

#[test]
fn every_fixture_is_covered_by_a_test_here() {
    let tested = [
        "artist_16775_sia.json",
        "artist_songs_16775_sia_page1_2018.json",
        "artist_songs_cl_smooth_page1.json",
        "error_401_requires_access_token.json",
        "error_404_not_found.json",
        "search_chandelier_2021.json",
        "search_kendrick_lamar.json",
        "search_the_curse_legacy.json",
        "song_1185778_aftermath_response_field.json",
        "song_2872960_24k_magic.json",
        "song_3039923_humble_song_object.json",
        "song_378195_chandelier_2018_legacy.json",
        "song_378195_chandelier_2021.json",
        "song_dev_strokes_plain_with_tags.json",
    ];
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut present: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    present.sort();
    assert_eq!(present, tested);
}

#[test]
fn full_songs_parse_with_credits_album_and_relationships() {
    let magic =
        parse_song_value(serde_json::from_str(&fixture("song_2872960_24k_magic.json")).unwrap())
            .unwrap();
    assert_eq!(magic.id, 2872960);
    assert_eq!(magic.primary_artist.name, "Bruno Mars");
    let producers: Vec<_> = magic
        .artists_in(songrec_catalog::CreditRole::Producer)
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(producers, ["Shampoo Press & Curl"]);
    assert_eq!(
        magic
            .artists_in(songrec_catalog::CreditRole::Writer)
            .count(),
        3
    );
    let sampled_in = magic
        .relationships
        .iter()
        .filter(|r| r.kind == "sampled_in")
        .count();
    assert_eq!(sampled_in, 8);
    assert!(magic.album.is_some());

    let chandelier = parse_song_value(
        serde_json::from_str(&fixture("song_378195_chandelier_2021.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(chandelier.primary_artist.name, "Sia");
    assert_eq!(
        chandelier
            .relationships
            .iter()
            .filter(|r| r.kind == "covered_by")
            .count(),
        31
    );
}

#[test]
fn the_legacy_song_takes_relationship_kinds_from_type() {
    let song = parse_song_value(
        serde_json::from_str(&fixture("song_378195_chandelier_2018_legacy.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(song.id, 378195);
    assert!(!song.relationships.is_empty());
    assert!(song.relationships.iter().all(|r| !r.kind.is_empty()));
}

#[test]
fn bare_song_objects_and_response_fields_parse() {
    let humble = parse_song_value(
        serde_json::from_str(&fixture("song_3039923_humble_song_object.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(humble.id, 3039923);
    assert_eq!(humble.language.as_deref(), Some("en"));
    assert_eq!(humble.release_year, Some(2017));

    let aftermath = parse_song_value(
        serde_json::from_str(&fixture("song_1185778_aftermath_response_field.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(aftermath.id, 1185778);
    // The placeholder description "?" is no description.
    assert_eq!(aftermath.description, None);
}

#[test]
fn search_results_parse_in_all_three_shapes() {
    for name in [
        "search_kendrick_lamar.json",
        "search_chandelier_2021.json",
        "search_the_curse_legacy.json",
    ] {
        let results: SearchResults = response(name);
        assert_eq!(results.hits.len(), 10, "{name}");
        for hit in &results.hits {
            let song = hit.result.as_ref().unwrap();
            assert!(song.id.is_some(), "{name}");
            assert!(
                song.primary_artist.as_ref().unwrap().name.is_some(),
                "{name}"
            );
        }
    }
    let legacy: SearchResults = response("search_the_curse_legacy.json");
    assert!(legacy.hits.iter().all(|h| {
        h.result
            .as_ref()
            .unwrap()
            .stats
            .as_ref()
            .unwrap()
            .pageviews
            .is_none()
    }));
}

#[test]
fn artist_catalogue_pages_parse_with_next_page() {
    for name in [
        "artist_songs_16775_sia_page1_2018.json",
        "artist_songs_cl_smooth_page1.json",
    ] {
        let page: ArtistSongsPage = response(name);
        assert_eq!(page.songs.len(), 20, "{name}");
        assert_eq!(page.next_page, Some(2), "{name}");
    }
    let sia: ArtistSongsPage = response("artist_songs_16775_sia_page1_2018.json");
    let by_sia = sia
        .songs
        .iter()
        .filter(|s| s.primary_artist.as_ref().and_then(|a| a.id) == Some(16775))
        .count();
    assert_eq!(by_sia, 8);
}

#[test]
fn the_full_artist_parses() {
    #[derive(serde::Deserialize)]
    struct ArtistField {
        artist: Artist,
    }
    let field: ArtistField = response("artist_16775_sia.json");
    assert_eq!(field.artist.id, Some(16775));
    assert_eq!(field.artist.name.as_deref(), Some("Sia"));
    assert_eq!(field.artist.followers_count, Some(698));
}

#[test]
fn error_bodies_parse_as_meta_without_response() {
    for (name, status) in [
        ("error_401_requires_access_token.json", 401),
        ("error_404_not_found.json", 404),
    ] {
        let envelope: Envelope<serde_json::Value> = serde_json::from_str(&fixture(name)).unwrap();
        let meta: Meta = envelope.meta.unwrap();
        assert_eq!(meta.status, Some(status));
        assert!(meta.message.is_some());
        assert!(envelope.response.is_none());
        assert_eq!(
            parse_song_value(serde_json::from_str(&fixture(name)).unwrap()).unwrap_err(),
            ParseSongError::MissingId
        );
    }
}

#[test]
fn custom_performances_parse_on_a_dom_description_song_without_tags() {
    let magic =
        parse_song_value(serde_json::from_str(&fixture("song_2872960_24k_magic.json")).unwrap())
            .unwrap();
    assert!(magic.tags.is_empty());
    assert_eq!(magic.primary_tag, None);
    assert!(
        magic.description.is_some(),
        "the dom description is flattened"
    );
    let credited = |role: &str| -> Vec<&str> {
        magic
            .performances
            .iter()
            .filter(|p| p.role == role)
            .map(|p| p.artist.name.as_str())
            .collect()
    };
    assert_eq!(credited("Label"), ["Atlantic Records"]);
    assert_eq!(credited("Mixing Engineer"), ["Șerban Ghenea", "John Hanes"]);
    assert_eq!(credited("Background Vocals").len(), 4);
    // Ten roles, fifteen credits (three roles name two artists, one names four).
    assert_eq!(magic.performances.len(), 15);
    use songrec_catalog::RoleFamily;
    assert_eq!(RoleFamily::of("Label"), RoleFamily::Label);
    assert_eq!(RoleFamily::of("Mastering Engineer"), RoleFamily::Engineer);
}

#[test]
fn tags_and_custom_performances_parse_on_a_plain_description_song() {
    let song = parse_song_value(
        serde_json::from_str(&fixture("song_dev_strokes_plain_with_tags.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(song.primary_artist.name, "The Strokes");
    assert!(song.description.as_deref().unwrap().contains("Strokes"));
    // The primary tag first; "indie rock" repeats "Indie Rock" and is dropped.
    assert_eq!(
        song.tags,
        ["Rock", "Indie Rock", "Garage Rock", "In English"]
    );
    assert_eq!(song.primary_tag.as_deref(), Some("Rock"));
    let labels: Vec<&str> = song
        .performances
        .iter()
        .filter(|p| p.role == "Label")
        .map(|p| p.artist.name.as_str())
        .collect();
    assert_eq!(labels, ["Cult Records", "RCA Records"]);
    assert!(
        song.performances
            .iter()
            .any(|p| p.role == "Guitar" && p.artist.name == "Albert Hammond Jr.")
    );
}

#[test]
fn odd_tags_and_performances_are_skipped_without_losing_the_song() {
    let song = parse_song_value(serde_json::json!({
        "id": 1, "title": "T", "primary_artist": {"id": 2, "name": "A"},
        "description": {"plain": "?"},
        "tags": [{"name": "  "}, {"id": 4}, "Rock", {"name": "Pop", "primary": true}],
        "primary_tag": "not an object",
        "custom_performances": [
            {"label": "Label", "artists": [{"name": "no id"}, {"id": 9, "name": "L"}, 7]},
            {"label": "", "artists": [{"id": 10, "name": "X"}]},
            {"artists": [{"id": 11, "name": "Y"}]},
            "junk"
        ]
    }))
    .unwrap();
    assert_eq!(song.tags, ["Pop"]);
    assert_eq!(song.primary_tag.as_deref(), Some("Pop"));
    assert_eq!(song.performances.len(), 1);
    assert_eq!(song.performances[0].artist.id, 9);
    let bare = parse_song_value(serde_json::json!({
        "id": 1, "title": "T", "primary_artist": {"id": 2, "name": "A"},
        "tags": null, "primary_tag": null, "custom_performances": null
    }))
    .unwrap();
    assert!(bare.tags.is_empty() && bare.performances.is_empty());
}
