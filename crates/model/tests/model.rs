//! Training, evaluation and the model file, on small hand-made catalogues whose right answers
//! can be stated.

use std::path::Path;

use songrec_catalog::{Album, Artist, Credit, CreditRole, Relationship, Song};
use songrec_model::{
    FeatureSet, Model, ModelError, PRIMARY_METRIC, RecommendError, TrainParams, reason, train,
};

fn artist(id: u64) -> Artist {
    Artist {
        id,
        name: format!("Artist {id}"),
    }
}

fn song(id: u64, primary: u64) -> Song {
    Song {
        release_year: Some(2015),
        language: Some("en".into()),
        pageviews: Some(1000 + id),
        ..Song::new(id, format!("Song {id}"), artist(primary))
    }
}

fn credit(role: CreditRole, id: u64) -> Credit {
    Credit {
        role,
        artist: artist(id),
    }
}

/// Four "scenes" of five songs, each song by its own artist; a scene's songs share a producer
/// (artist 100 + scene) and a writer (200 + scene). Song 99 has no credits at all.
fn scenes() -> Vec<Song> {
    let mut songs = Vec::new();
    for scene in 0..4u64 {
        for i in 0..5u64 {
            let id = scene * 10 + i + 1;
            let mut s = song(id, 1000 + id);
            s.credits = vec![
                credit(CreditRole::Producer, 100 + scene),
                credit(CreditRole::Writer, 200 + scene),
            ];
            songs.push(s);
        }
    }
    let mut cold = song(99, 5000);
    cold.pageviews = None;
    songs.push(cold);
    songs
}

fn small_params(k: usize) -> TrainParams {
    TrainParams {
        k,
        eval_sample: 100,
        ..TrainParams::default()
    }
}

fn neighbour_ids(model: &Model, song_id: u64, k: usize) -> Vec<u64> {
    let index = model.index_of(song_id).expect("song is in the model");
    model
        .recommend(index, k)
        .expect("k is valid")
        .iter()
        .map(|r| r.song.id)
        .collect()
}

#[test]
fn songs_sharing_a_producer_and_writer_are_each_others_nearest_neighbours() {
    let model = train(&scenes(), &small_params(4)).unwrap().model;
    for scene in 0..4u64 {
        let id = scene * 10 + 1;
        let mut got = neighbour_ids(&model, id, 4);
        got.sort_unstable();
        let want: Vec<u64> = (2..=5).map(|i| scene * 10 + i).collect();
        assert_eq!(got, want, "neighbours of song {id}");
    }
    let index = model.index_of(1).unwrap();
    let top = &model.recommend(index, 1).unwrap()[0];
    assert!(
        top.reasons
            .iter()
            .any(|r| r == "shared producer Artist 100"),
        "{:?}",
        top.reasons
    );
    assert!(
        top.reasons.iter().any(|r| r == "shared writer Artist 200"),
        "{:?}",
        top.reasons
    );
}

#[test]
fn evaluation_metrics_match_what_the_catalogue_implies() {
    let metrics = train(&scenes(), &small_params(4))
        .unwrap()
        .model
        .info()
        .metrics
        .clone();
    // Hiding a scene's producer (or writer) leaves the other credit, which leads to songs
    // carrying the hidden one: every held-out query is a hit.
    assert_eq!(metrics[PRIMARY_METRIC], 1.0);
    assert_eq!(metrics["heldout_queries"], 20.0);
    // Every artist has one song.
    assert_eq!(metrics["same_artist_share_at_10"], 0.0);
    // The 20 credited songs recommend each other; the cold song is only ever a query.
    assert_eq!(metrics["coverage_at_10"], 20.0 / 21.0);
    // Only the cold song falls back: its 4 of the 21 * 4 items.
    assert_eq!(metrics["fallback_share_at_10"], 4.0 / 84.0);
    assert_eq!(metrics["search_exact"], 1.0);
}

#[test]
fn a_song_without_credits_still_gets_k_recommendations_saying_why() {
    let model = train(&scenes(), &small_params(6)).unwrap().model;
    let index = model.index_of(99).unwrap();
    // No pageviews: last in browse order.
    assert_eq!(index, model.len() - 1);
    let recs = model.recommend(index, 6).unwrap();
    assert_eq!(recs.len(), 6);
    for r in &recs {
        assert_ne!(r.song.id, 99);
        assert_eq!(r.reasons.len(), 1);
        assert!(
            r.reasons[0].contains("same language and era"),
            "{:?}",
            r.reasons
        );
    }
}

#[test]
fn songs_come_in_browse_order_and_queries_outside_the_model_are_refused() {
    let model = train(&scenes(), &small_params(4)).unwrap().model;
    let views: Vec<Option<u64>> = (0..model.len())
        .map(|i| model.song(i).unwrap().pageviews)
        .collect();
    assert_eq!(views[0], Some(1000 + 35));
    assert!(views.windows(2).all(|w| match (w[0], w[1]) {
        (Some(a), Some(b)) => a >= b,
        (None, Some(_)) => false,
        _ => true,
    }));
    assert_eq!(model.max_k(), 4);
    assert_eq!(
        model.recommend(21, 1).unwrap_err(),
        RecommendError::IndexOutOfRange { index: 21, len: 21 }
    );
    assert_eq!(
        model.recommend(0, 5).unwrap_err(),
        RecommendError::KOutOfRange { k: 5, max: 4 }
    );
    assert!(model.recommend(0, 0).is_err());
    assert_eq!(model.index_of(12345), None);
}

#[test]
fn relationships_link_songs_and_are_named_in_the_reasons() {
    let mut songs: Vec<Song> = (1..=30).map(|id| song(id, 100 + id)).collect();
    songs[0].relationships = vec![Relationship {
        kind: "samples".into(),
        song_id: 30,
    }];
    songs[29].relationships = vec![Relationship {
        kind: "sampled_in".into(),
        song_id: 1,
    }];
    let model = train(&songs, &small_params(3)).unwrap().model;
    let index = model.index_of(1).unwrap();
    let top = &model.recommend(index, 1).unwrap()[0];
    assert_eq!(top.song.id, 30);
    assert!(
        top.reasons.contains(&"samples".to_string()),
        "{:?}",
        top.reasons
    );
    let back = &model.recommend(model.index_of(30).unwrap(), 1).unwrap()[0];
    assert_eq!(back.song.id, 1);
    assert!(
        back.reasons.contains(&"sampled in".to_string()),
        "{:?}",
        back.reasons
    );
}

#[test]
fn the_original_feature_set_recommends_the_same_artist_first() {
    let mut songs = scenes();
    for s in songs.iter_mut().take(3) {
        s.primary_artist = artist(7);
    }
    let params = TrainParams {
        features: FeatureSet::Original,
        ..small_params(2)
    };
    let model = train(&songs, &params).unwrap().model;
    assert_eq!(model.info().params["features"], "original");
    let recs = model.recommend(model.index_of(1).unwrap(), 2).unwrap();
    let mut ids: Vec<u64> = recs.iter().map(|r| r.song.id).collect();
    ids.sort_unstable();
    assert_eq!(ids, vec![2, 3]);
    assert!(recs.iter().all(|r| r.reasons == ["same artist"]));
}

/// A bigger catalogue with overlapping credits, for determinism and the approximate path.
fn tangled(n: u64) -> Vec<Song> {
    (1..=n)
        .map(|id| {
            let mut s = song(id * 3, 10_000 + id % 37);
            s.pageviews = (id % 11 != 0).then_some((id * 7919) % 5000);
            s.release_year = Some(1990 + (id % 30) as i32);
            s.language = Some(["en", "es", "ko"][(id % 3) as usize].into());
            s.credits = vec![
                credit(CreditRole::Producer, 20_000 + id % 23),
                credit(CreditRole::Writer, 30_000 + id % 41),
                credit(CreditRole::Featured, 10_000 + (id * 7) % 37),
            ];
            s.album = Some(Album {
                id: 40_000 + id / 4,
                name: format!("Album {}", id / 4),
            });
            s.description = Some(format!(
                "A song of the {} wave",
                ["north", "south", "east"][(id % 3) as usize]
            ));
            s
        })
        .collect()
}

fn all_neighbours(model: &Model) -> Vec<Vec<u32>> {
    (0..model.len())
        .map(|i| model.neighbour_indices(i).unwrap().to_vec())
        .collect()
}

#[test]
fn the_same_data_and_seed_give_the_same_neighbours_whatever_the_order_and_threads() {
    let songs = tangled(400);
    let params = small_params(20);
    let first = train(&songs, &params).unwrap().model;
    let mut reversed = songs.clone();
    reversed.reverse();
    let single_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let second = single_thread.install(|| train(&reversed, &params).unwrap().model);
    assert_eq!(all_neighbours(&first), all_neighbours(&second));
    assert_eq!(first.info().metrics, second.info().metrics);
}

#[test]
fn the_approximate_path_reports_its_recall_against_exact_search() {
    let songs = tangled(400);
    let exact = train(&songs, &small_params(10)).unwrap().model;
    assert!(!exact.info().metrics.contains_key("ann_recall_at_10"));

    // No cap that bites: approximate search finds exactly what exact search finds.
    let wide = TrainParams {
        exact_max_songs: 0,
        candidate_max_df: 1_000_000,
        ..small_params(10)
    };
    let model = train(&songs, &wide).unwrap().model;
    assert_eq!(model.info().metrics["ann_recall_at_10"], 1.0);
    assert_eq!(model.info().metrics["search_exact"], 0.0);
    assert_eq!(all_neighbours(&model), all_neighbours(&exact));

    // A cap below every credit's frequency: candidates come only from the rarest features.
    let narrow = TrainParams {
        exact_max_songs: 0,
        candidate_max_df: 5,
        ..small_params(10)
    };
    let recall = train(&songs, &narrow).unwrap().model.info().metrics["ann_recall_at_10"];
    assert!(recall < 1.0 && recall > 0.0, "recall {recall}");
}

#[test]
fn the_held_out_score_alone_is_what_training_reports_under_the_same_parameters() {
    // The pipeline takes a champion's score under the candidate's parameters from the
    // candidate's own metrics rather than computing it again.
    let songs = tangled(400);
    let mut reversed = songs.clone();
    reversed.reverse();
    let approximate = TrainParams {
        exact_max_songs: 0,
        candidate_max_df: 5,
        ..small_params(20)
    };
    for params in [small_params(20), approximate] {
        let trained = train(&songs, &params).unwrap().model.info().metrics[PRIMARY_METRIC];
        assert!(trained > 0.0 && trained < 1.0, "{trained}");
        assert_eq!(
            songrec_model::heldout_hit_rate(&reversed, &params).unwrap(),
            trained
        );
    }
}

#[test]
fn training_refuses_a_catalogue_too_small_to_recommend_from() {
    assert!(matches!(
        train(&[song(1, 1)], &TrainParams::default()),
        Err(ModelError::Training(_))
    ));
    // Two songs: each can recommend the other, and nothing more.
    let model = train(&[song(1, 1), song(2, 2)], &TrainParams::default())
        .unwrap()
        .model;
    assert_eq!(model.max_k(), 1);
    assert_eq!(neighbour_ids(&model, 1, 1), vec![2]);
}

fn saved_model(dir: &Path) -> (Model, std::path::PathBuf, String) {
    let model = train(&tangled(200), &small_params(15)).unwrap().model;
    let path = dir.join("model.bin");
    let checksum = model.save(&path).unwrap();
    (model, path, checksum)
}

#[test]
fn a_saved_model_loads_back_identical_and_the_checksum_is_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let (model, path, checksum) = saved_model(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    use sha2::Digest;
    assert_eq!(checksum, hex::encode(sha2::Sha256::digest(&bytes)));
    // Only the model file is left behind: the temporary file was renamed.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    let loaded = Model::load(&path).unwrap();
    assert_eq!(loaded.info(), model.info());
    assert_eq!(loaded.len(), model.len());
    assert_eq!(loaded.max_k(), model.max_k());
    for i in 0..model.len() {
        assert_eq!(loaded.song(i), model.song(i));
        assert_eq!(
            loaded.recommend(i, 15).unwrap(),
            model.recommend(i, 15).unwrap()
        );
    }
    // Pages given back are read again from the file: the answers stay the same.
    for release in [&loaded, &model] {
        release.release_pages();
    }
    for i in 0..model.len() {
        assert_eq!(loaded.song(i), model.song(i));
        assert_eq!(
            loaded.recommend(i, 15).unwrap(),
            model.recommend(i, 15).unwrap()
        );
    }
}

#[test]
fn a_saved_model_carries_every_songs_record_as_its_details_write_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut songs = tangled(200);
    songs[7].title = "a \"quoted\"\ttitle, café".into();
    songs[8].album = None;
    let model = train(&songs, &small_params(15)).unwrap().model;
    let path = dir.path().join("model.bin");
    model.save(&path).unwrap();
    // Records are written with the file; the trained model holds none.
    assert_eq!(model.song_record(0), None);
    let loaded = Model::load(&path).unwrap();
    for i in 0..model.len() {
        let mut want = Vec::new();
        songrec_model::record::write_song(&mut want, i, &model.song(i).unwrap());
        assert_eq!(loaded.song_record(i), Some(&want[..]), "song {i}");
    }
    assert_eq!(loaded.song_record(model.len()), None);
}

#[test]
fn a_truncated_model_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, path, _) = saved_model(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    for keep in [0, 10, 56, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&path, &bytes[..keep]).unwrap();
        let err = Model::load(&path).err().expect("truncated file refused");
        assert!(
            matches!(err, ModelError::Corrupt { .. }),
            "{keep} bytes: {err}"
        );
    }
}

#[test]
fn a_model_file_with_one_flipped_byte_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, path, _) = saved_model(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    for at in [30, 60, 200, bytes.len() / 2, bytes.len() - 1] {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x01;
        std::fs::write(&path, &damaged).unwrap();
        let err = Model::load(&path).err().expect("damaged file refused");
        assert!(
            err.to_string().contains("checksum") || matches!(err, ModelError::Corrupt { .. }),
            "byte {at}: {err}"
        );
    }
}

#[test]
fn foreign_and_future_files_are_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (_, path, _) = saved_model(dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[8] = 99;
    std::fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        Model::load(&path),
        Err(ModelError::UnsupportedVersion { found: 99, .. })
    ));

    let foreign = dir.path().join("notes.txt");
    std::fs::write(
        &foreign,
        "these are not the neighbours you are looking for, not at all",
    )
    .unwrap();
    let err = Model::load(&foreign).err().unwrap();
    assert!(err.to_string().contains("not a songrec model"), "{err}");
    assert!(matches!(
        Model::load(&dir.path().join("missing")),
        Err(ModelError::Io { .. })
    ));
}

#[test]
fn reason_codes_are_distinct_bits() {
    let all = [
        reason::SAME_ARTIST,
        reason::FEATURED,
        reason::PRODUCER,
        reason::WRITER,
        reason::ALBUM,
        reason::RELATED,
        reason::SCENE,
        reason::FALLBACK,
    ];
    assert_eq!(all.iter().fold(0u8, |acc, b| acc | b), u8::MAX);
}

#[test]
fn loading_against_the_recorded_checksum_accepts_the_same_file_in_any_hex_case() {
    let dir = tempfile::tempdir().unwrap();
    let (model, path, checksum) = saved_model(dir.path());
    for expected in [checksum.clone(), checksum.to_ascii_uppercase()] {
        let loaded = Model::load_expecting(&path, &expected).unwrap();
        assert_eq!(loaded.len(), model.len());
        for i in 0..model.len() {
            assert_eq!(
                loaded.recommend(i, 15).unwrap(),
                model.recommend(i, 15).unwrap()
            );
        }
    }
}

#[test]
fn a_sound_model_file_that_is_not_the_recorded_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, path, checksum) = saved_model(dir.path());
    // Another valid model in its place: its own checksum holds, the recorded one does not.
    let other = train(&tangled(200), &small_params(10)).unwrap().model;
    let other_checksum = other.save(&path).unwrap();
    assert!(Model::load(&path).is_ok());
    match Model::load_expecting(&path, &checksum) {
        Err(ModelError::ChecksumMismatch {
            expected, found, ..
        }) => {
            assert_eq!(expected, checksum);
            assert_eq!(found, other_checksum);
        }
        other => panic!("expected a checksum mismatch, got {:?}", other.err()),
    }
}

#[test]
fn a_damaged_truncated_or_extended_file_is_refused_as_not_the_recorded_one() {
    let dir = tempfile::tempdir().unwrap();
    let (_, path, checksum) = saved_model(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    let mut variants: Vec<Vec<u8>> = [0, 9, 30, 60, bytes.len() / 2, bytes.len() - 1]
        .into_iter()
        .map(|at| {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x01;
            damaged
        })
        .collect();
    variants.extend([0, 10, 56, bytes.len() / 2].map(|keep| bytes[..keep].to_vec()));
    variants.push([bytes.as_slice(), b"tail"].concat());
    for (i, variant) in variants.iter().enumerate() {
        std::fs::write(&path, variant).unwrap();
        let err = Model::load_expecting(&path, &checksum)
            .err()
            .expect("a changed file is refused");
        assert!(
            matches!(err, ModelError::ChecksumMismatch { .. }),
            "variant {i}: {err}"
        );
    }
}

#[test]
fn a_foreign_file_matching_its_recorded_checksum_is_still_refused_as_no_model() {
    let dir = tempfile::tempdir().unwrap();
    let foreign = dir.path().join("notes.txt");
    std::fs::write(&foreign, "not a model, though registered as one").unwrap();
    use sha2::Digest;
    let checksum = hex::encode(sha2::Sha256::digest(std::fs::read(&foreign).unwrap()));
    let err = Model::load_expecting(&foreign, &checksum).err().unwrap();
    assert!(matches!(err, ModelError::Corrupt { .. }), "{err}");
    assert!(matches!(
        Model::load_expecting(&dir.path().join("missing"), &checksum),
        Err(ModelError::Io { .. })
    ));
}

#[test]
fn a_loaded_model_shows_every_song_detail_credits_and_artist_songs() {
    let mut songs = scenes();
    let detailed = &mut songs[0];
    detailed.title = "Crème Brûlée".into();
    detailed.album = Some(Album {
        id: 7,
        name: "Desserts".into(),
    });
    detailed.release_date = Some("2015-03-02".into());
    detailed.language = Some("fr".into());
    detailed.url = Some("https://genius.com/Artist-1001-creme-brulee-lyrics".into());
    detailed.song_art_image_url = Some("https://images.genius.com/1.jpg".into());
    detailed.credits.push(credit(CreditRole::Featured, 1002));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.bin");
    let trained = train(&songs, &small_params(5)).unwrap().model;
    let checksum = trained.save(&path).unwrap();
    let model = Model::load_expecting(&path, &checksum).unwrap();

    let index = model.index_of(1).unwrap();
    let song = model.song(index).unwrap();
    assert_eq!(song.title, "Crème Brûlée");
    assert_eq!((song.artist, song.artist_id), ("Artist 1001", 1001));
    assert_eq!(song.album, Some("Desserts"));
    assert_eq!(song.release_date, Some("2015-03-02"));
    assert_eq!(song.release_year, Some(2015));
    assert_eq!(song.language, Some("fr"));
    assert_eq!(song.pageviews, Some(1001));
    assert_eq!(
        song.url,
        Some("https://genius.com/Artist-1001-creme-brulee-lyrics")
    );
    assert_eq!(song.art_url, Some("https://images.genius.com/1.jpg"));
    let cold = model.song(model.index_of(99).unwrap()).unwrap();
    assert_eq!((cold.album, cold.url, cold.pageviews), (None, None, None));

    let credits: Vec<(u64, Vec<&str>)> = model
        .credits(index)
        .into_iter()
        .map(|c| (c.artist_id, c.roles))
        .collect();
    assert_eq!(credits[0], (1001, vec!["primary"]));
    for expected in [
        (1002, vec!["featured"]),
        (100, vec!["producer"]),
        (200, vec!["writer"]),
    ] {
        assert!(credits.contains(&expected), "{credits:?}");
    }
    assert_eq!(model.artist(1002).unwrap().name, "Artist 1002");
    assert!(model.artist(424242).is_none());
    // Artist 1002 is the primary artist of song 2 only (featured on song 1).
    assert_eq!(
        model.songs_by_artist(1002),
        &[model.index_of(2).unwrap() as u32]
    );
    assert!(model.songs_by_artist(100).is_empty());
    // Every song but the one without pageviews (last in browse order) is in the universe.
    assert_eq!(model.universe(), songs.len() - 1);
    assert_eq!(model.index_of(99), Some(songs.len() - 1));
}

#[test]
fn a_model_file_of_the_previous_format_is_refused_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let (_, path, _) = saved_model(dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        Model::load(&path),
        Err(ModelError::UnsupportedVersion { found: 1, .. })
    ));
}
