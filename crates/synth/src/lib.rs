//! Deterministic synthetic catalogues: Genius-shaped song objects (one JSON object a line, the
//! shape of `response.song` from `GET /songs/:id`) drawn from a world with planted structure.
//!
//! Artists belong to scenes (latent genres) that share collaborators, producers, writers,
//! language and era; songs sample, cover and remix mostly within their scene; pageviews are
//! heavy-tailed, some are missing, and names use several scripts. The truth file records each
//! song's scene, so recommendations can be scored against what was planted.
//!
//! The same options always give byte-identical output.

mod names;

use std::collections::HashMap;
use std::io::{self, Write};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, LogNormal, Normal, Pareto, Triangular};
use serde::Serialize;
use serde_json::value::RawValue;

/// The synthetic world's "today": no song is released after it.
const NOW_YEAR: i32 = 2025;
const MIN_YEAR: i32 = 1950;
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
/// A scene's primary language and how likely a scene is to have it.
const SCENE_LANGUAGES: [(&str, f64); 11] = [
    ("en", 62.0),
    ("es", 10.0),
    ("ko", 6.0),
    ("fr", 5.0),
    ("pt", 4.0),
    ("de", 3.0),
    ("ja", 3.0),
    ("it", 2.0),
    ("tr", 2.0),
    ("pl", 2.0),
    ("sv", 1.0),
];
const RELATIONSHIP_ORDER: [&str; 8] = [
    "samples",
    "sampled_in",
    "interpolates",
    "interpolated_by",
    "cover_of",
    "covered_by",
    "remix_of",
    "remixed_by",
];

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub songs: usize,
    pub seed: u64,
}

/// What was generated.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    pub songs: usize,
    pub scenes: usize,
    pub artists: usize,
    pub albums: usize,
    pub missing_pageviews: usize,
    pub with_relationships: usize,
    pub bytes: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Performer,
    Producer,
    Writer,
}

struct Scene {
    id: usize,
    name: String,
    lang: &'static str,
    era: f64,
    spread: f64,
    feat_rate: f64,
    sample_rate: f64,
    cover_rate: f64,
    popularity: f64,
}

struct Artist {
    id: u64,
    name: String,
    slug: String,
    scene: usize,
    popularity: f64,
    start: i32,
    career: i32,
    /// The artist's JSON object, written as is wherever the artist appears.
    json: Box<RawValue>,
}

/// Weighted choice by binary search over cumulative weights.
struct Weighted {
    items: Vec<usize>,
    cumulative: Vec<f64>,
}

impl Weighted {
    fn new(items: Vec<usize>, weight: impl Fn(usize) -> f64) -> Option<Weighted> {
        if items.is_empty() {
            return None;
        }
        let mut total = 0.0;
        let cumulative = items
            .iter()
            .map(|&i| {
                total += weight(i);
                total
            })
            .collect();
        Some(Weighted { items, cumulative })
    }

    fn pick(&self, rng: &mut ChaCha8Rng) -> usize {
        let target = rng.random::<f64>() * self.cumulative[self.cumulative.len() - 1];
        let pos = self.cumulative.partition_point(|&c| c <= target);
        self.items[pos.min(self.items.len() - 1)]
    }
}

struct World {
    scenes: Vec<Scene>,
    artists: Vec<Artist>,
    performers: Weighted,
    /// Per role: (pool per scene, pool over everyone), weighted by popularity.
    pools: Vec<(Vec<Option<Weighted>>, Weighted)>,
}

fn role_index(role: Role) -> usize {
    match role {
        Role::Performer => 0,
        Role::Producer => 1,
        Role::Writer => 2,
    }
}

fn pareto(rng: &mut ChaCha8Rng, alpha: f64) -> f64 {
    Pareto::new(1.0, alpha).expect("valid pareto").sample(rng)
}

fn lognormal(rng: &mut ChaCha8Rng, sigma: f64) -> f64 {
    LogNormal::new(0.0, sigma)
        .expect("valid lognormal")
        .sample(rng)
}

fn chance(rng: &mut ChaCha8Rng, p: f64) -> bool {
    rng.random::<f64>() < p
}

fn raw(value: &impl Serialize) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).expect("serialisable")
}

impl World {
    fn build(rng: &mut ChaCha8Rng, songs: usize) -> World {
        let n_scenes = 4.max(((songs as f64).sqrt() / 5.0).round() as usize);
        let n_perf = 8.max(songs / 8);
        let n_prod = 4.max(songs / 50);
        let n_writ = 4.max(songs / 40);

        // Languages by quota, then shuffled, so every size gets about the same language mix.
        let mut quota: Vec<&'static str> = Vec::new();
        for (lang, w) in SCENE_LANGUAGES {
            for _ in 0..(w / 100.0 * n_scenes as f64).round() as usize {
                quota.push(lang);
            }
        }
        while quota.len() < n_scenes {
            quota.push("en");
        }
        quota.truncate(n_scenes);
        for i in (1..quota.len()).rev() {
            quota.swap(i, rng.random_range(0..=i));
        }
        let era = Triangular::new(1962.0, NOW_YEAR as f64, 2017.0).expect("valid triangle");
        let mut scene_names = std::collections::HashSet::new();
        let mut scenes = Vec::with_capacity(n_scenes);
        let mut scene_size = Vec::with_capacity(n_scenes);
        for (s, &lang) in quota.iter().enumerate() {
            let style = if lang == "ko" || lang == "ja" {
                "en"
            } else {
                lang
            };
            let mut name = String::new();
            for _ in 0..20 {
                name = format!(
                    "{} {}",
                    names::word(rng, style, 2),
                    names::GENRE_NOUNS[rng.random_range(0..names::GENRE_NOUNS.len())]
                );
                if !scene_names.contains(&name) {
                    break;
                }
            }
            scene_names.insert(name.clone());
            scenes.push(Scene {
                id: s + 1,
                name,
                lang,
                era: era.sample(rng),
                spread: rng.random_range(3.0..10.0),
                feat_rate: rng.random_range(0.05..0.6),
                sample_rate: rng.random_range(0.01..0.12),
                cover_rate: rng.random_range(0.005..0.04),
                popularity: lognormal(rng, 0.8),
            });
            // English-language scenes are bigger.
            scene_size.push(lognormal(rng, 0.6) * if lang == "en" { 1.6 } else { 1.0 });
        }
        let scene_pick = Weighted::new((0..n_scenes).collect(), |s| scene_size[s]).expect("scenes");

        let n_artists = n_perf + n_prod + n_writ;
        let id_space = 5_000_000u64.max(20 * n_artists as u64);
        let mut used_ids = std::collections::HashSet::with_capacity(n_artists);
        let mut used_names = std::collections::HashSet::with_capacity(n_artists);
        let mut artists = Vec::with_capacity(n_artists);
        let mut prolific = Vec::with_capacity(n_artists);
        let mut roles = Vec::with_capacity(n_artists);
        let exp9 = Exp::new(1.0 / 9.0).expect("valid exp");
        for i in 0..n_artists {
            let role = if i < n_perf {
                Role::Performer
            } else if i < n_perf + n_prod {
                Role::Producer
            } else {
                Role::Writer
            };
            let scene = scene_pick.pick(rng);
            let sc = &scenes[scene];
            // Some artists name themselves in another style than their scene's.
            let lang = if chance(rng, 0.08) { "en" } else { sc.lang };
            let mut name = names::person_name(rng, lang);
            let mut attempts = 0;
            while used_names.contains(&name) {
                attempts += 1;
                name = if attempts < 30 {
                    names::person_name(rng, lang)
                } else {
                    format!("{name} {i}")
                };
            }
            used_names.insert(name.clone());
            let mut id = rng.random_range(1..id_space);
            while !used_ids.insert(id) {
                id = rng.random_range(1..id_space);
            }
            let popularity = pareto(rng, 1.15) * sc.popularity;
            // Heavy-tailed but capped, so that no single artist swallows the catalogue.
            prolific.push(pareto(rng, 1.4).min(40.0) * popularity.min(50.0).powf(0.25));
            let start = (sc.era
                + Normal::new(0.0, sc.spread)
                    .expect("valid normal")
                    .sample(rng))
            .clamp(MIN_YEAR as f64, NOW_YEAR as f64) as i32;
            let career = 1 + exp9.sample(rng) as i32;
            let mut slug = names::slugify(&name);
            if slug.is_empty() {
                slug = format!("artist-{id}");
            }
            let verified = popularity > 40.0 && chance(rng, 0.5);
            let image: u32 = rng.random();
            let json = raw(&serde_json::json!({
                "api_path": format!("/artists/{id}"),
                "id": id,
                "image_url": format!("https://example.com/images/artists/{id}.{image:08x}.jpg"),
                "is_verified": verified,
                "name": name,
                "url": format!("https://example.com/artists/{}", capitalise_ascii(&slug)),
            }));
            artists.push(Artist {
                id,
                name,
                slug,
                scene,
                popularity,
                start,
                career,
                json,
            });
            roles.push(role);
        }
        let performers = Weighted::new((0..n_perf).collect(), |i| prolific[i]).expect("performers");
        let pools = [Role::Performer, Role::Producer, Role::Writer]
            .into_iter()
            .map(|role| {
                let weight = |i: usize| artists[i].popularity.powf(0.7);
                let of_role: Vec<usize> = (0..n_artists).filter(|&i| roles[i] == role).collect();
                let per_scene = (0..n_scenes)
                    .map(|s| {
                        let members = of_role
                            .iter()
                            .copied()
                            .filter(|&i| artists[i].scene == s)
                            .collect();
                        Weighted::new(members, weight)
                    })
                    .collect();
                (
                    per_scene,
                    Weighted::new(of_role, weight).expect("role pool"),
                )
            })
            .collect();
        World {
            scenes,
            artists,
            performers,
            pools,
        }
    }

    /// An artist of `role`, from `scene` with probability `p_same`, else from anywhere.
    fn draw(&self, rng: &mut ChaCha8Rng, role: Role, scene: usize, p_same: f64) -> usize {
        let (per_scene, everyone) = &self.pools[role_index(role)];
        match &per_scene[scene] {
            Some(pool) if chance(rng, p_same) => pool.pick(rng),
            _ => everyone.pick(rng),
        }
    }
}

fn capitalise_ascii(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

fn song_path(artist: &Artist, title: &str) -> String {
    let mut t = names::slugify(title);
    if t.is_empty() {
        t = "untitled".into();
    }
    format!("/{}-{t}-lyrics", capitalise_ascii(&artist.slug))
}

#[derive(Serialize)]
struct Stats {
    accepted_annotations: u64,
    contributors: u64,
    iq_earners: u64,
    transcribers: u64,
    unreviewed_annotations: u64,
    verified_annotations: u64,
    hot: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pageviews: Option<u64>,
}

#[derive(Serialize)]
struct DateComponents {
    year: i32,
    month: Option<u32>,
    day: Option<u32>,
}

#[derive(Serialize)]
struct Description {
    plain: String,
}

#[derive(Serialize)]
struct RelatedSong<'a> {
    api_path: String,
    id: u64,
    title: &'a str,
    url: String,
    path: &'a str,
    primary_artist: &'a RawValue,
}

#[derive(Serialize)]
struct RelationshipOut<'a> {
    relationship_type: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    songs: Vec<RelatedSong<'a>>,
}

#[derive(Serialize)]
struct SongOut<'a> {
    annotation_count: u64,
    api_path: String,
    artist_names: &'a str,
    full_title: String,
    header_image_thumbnail_url: String,
    header_image_url: String,
    id: u64,
    language: Option<&'static str>,
    lyrics_owner_id: u64,
    lyrics_state: &'static str,
    path: &'a str,
    primary_artist_names: &'a str,
    pyongs_count: Option<u64>,
    release_date: Option<String>,
    release_date_for_display: Option<String>,
    song_art_image_thumbnail_url: String,
    song_art_image_url: String,
    stats: Stats,
    title: &'a str,
    title_with_featured: String,
    url: String,
    album: Option<&'a RawValue>,
    description: Description,
    featured_artists: Vec<&'a RawValue>,
    primary_artist: &'a RawValue,
    primary_artists: [&'a RawValue; 1],
    producer_artists: Vec<&'a RawValue>,
    release_date_components: Option<DateComponents>,
    song_relationships: Vec<RelationshipOut<'a>>,
    writer_artists: Vec<&'a RawValue>,
}

fn inverse(kind: &'static str) -> &'static str {
    match kind {
        "samples" => "sampled_in",
        "interpolates" => "interpolated_by",
        "cover_of" => "covered_by",
        "remix_of" => "remixed_by",
        other => other,
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Writes `options.songs` songs as JSONL to `out` and, if given, `song_id<TAB>scene_id<TAB>artist_id`
/// rows (with a header) to `truth`.
pub fn generate(
    options: Options,
    out: &mut impl Write,
    mut truth: Option<&mut dyn Write>,
) -> io::Result<Summary> {
    let n = options.songs;
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let world = World::build(&mut rng, n);
    let all_langs: Vec<&'static str> = SCENE_LANGUAGES.iter().map(|(l, _)| *l).collect();

    // Pass 1: who sings what, when, in which language, how popular.
    let mut s_id = vec![0u64; n];
    let mut s_artist = vec![0usize; n];
    let mut s_year = vec![0i32; n];
    let mut s_pageviews = vec![0u64; n];
    let mut s_lang: Vec<Option<&'static str>> = vec![None; n];
    let mut s_title = vec![String::new(); n];
    let mut s_path = vec![String::new(); n];
    let mut s_previous = vec![usize::MAX; n];
    let mut last_of: HashMap<usize, usize> = HashMap::new();
    let mut scene_songs: Vec<Vec<usize>> = vec![Vec::new(); world.scenes.len()];
    let mut paths = std::collections::HashSet::with_capacity(n);
    let exp_quarter = Exp::new(0.25).expect("valid exp");
    let mut next_id: u64 = rng.random_range(1..=500);
    for i in 0..n {
        next_id += 1 + rng.random_range(0..12);
        s_id[i] = next_id;
        let a = world.performers.pick(&mut rng);
        let artist = &world.artists[a];
        let sc = &world.scenes[artist.scene];
        let year =
            (artist.start + artist.career.min(exp_quarter.sample(&mut rng) as i32)).min(NOW_YEAR);
        let r: f64 = rng.random();
        let lang = if r < 0.9 {
            sc.lang
        } else if r < 0.97 {
            "en"
        } else {
            all_langs[rng.random_range(0..all_langs.len())]
        };
        // Genius has songs with no detected language.
        s_lang[i] = (!chance(&mut rng, 0.005)).then_some(lang);
        let mut title = names::title(&mut rng, lang);
        let mut path = song_path(artist, &title);
        for _ in 0..8 {
            if !paths.contains(&path) {
                break;
            }
            title = names::title(&mut rng, lang);
            path = song_path(artist, &title);
        }
        if paths.contains(&path) {
            path = format!("{}-{}-lyrics", path.trim_end_matches("-lyrics"), s_id[i]);
        }
        paths.insert(path.clone());
        let mut pv = artist.popularity * lognormal(&mut rng, 1.1) * 180.0;
        if chance(&mut rng, 0.015) {
            pv *= 5.0 + 10.0 * pareto(&mut rng, 1.3); // a breakout hit
        }
        s_artist[i] = a;
        s_year[i] = year;
        s_pageviews[i] = (pv as u64).min(50_000_000);
        s_title[i] = title;
        s_path[i] = path;
        if let Some(&p) = last_of.get(&a) {
            s_previous[i] = p;
        }
        last_of.insert(a, i);
        scene_songs[artist.scene].push(i);
    }
    drop(last_of);

    // Pass 2: samples, interpolations, covers and remixes, mostly of older same-scene songs.
    let mut relations: HashMap<usize, Vec<(&'static str, usize)>> = HashMap::new();
    let mut remixed_by: HashMap<usize, usize> = HashMap::new();
    let mut add_relation = |i: usize, kind: &'static str, j: usize| {
        relations.entry(i).or_default().push((kind, j));
        relations.entry(j).or_default().push((inverse(kind), i));
    };
    let older_same_scene = |rng: &mut ChaCha8Rng, i: usize, scene: usize, p_same: f64| {
        for _ in 0..4 {
            let list = if chance(rng, p_same) {
                &scene_songs[scene]
            } else {
                &scene_songs[rng.random_range(0..scene_songs.len())]
            };
            if list.is_empty() {
                continue;
            }
            let j = list[rng.random_range(0..list.len())];
            if j != i && s_year[j] <= s_year[i] && s_artist[j] != s_artist[i] {
                return Some(j);
            }
        }
        None
    };
    for i in 0..n {
        let a = s_artist[i];
        let scene = world.artists[a].scene;
        let sc = &world.scenes[scene];
        let r: f64 = rng.random();
        if r < sc.sample_rate {
            let times = 1 + chance(&mut rng, 0.3) as usize + chance(&mut rng, 0.1) as usize;
            for _ in 0..times {
                if let Some(j) = older_same_scene(&mut rng, i, scene, 0.85) {
                    add_relation(i, "samples", j);
                }
            }
        } else if r < sc.sample_rate * 1.35 {
            if let Some(j) = older_same_scene(&mut rng, i, scene, 0.85) {
                add_relation(i, "interpolates", j);
            }
        } else if r < sc.sample_rate * 1.35 + sc.cover_rate {
            if let Some(j) = older_same_scene(&mut rng, i, scene, 0.9) {
                // A cover carries the original's title.
                let path = song_path(&world.artists[a], &s_title[j]);
                if paths.insert(path.clone()) {
                    s_title[i] = s_title[j].clone();
                    s_path[i] = path;
                }
                add_relation(i, "cover_of", j);
            }
        } else if r < sc.sample_rate * 1.35 + sc.cover_rate + 0.015 {
            let original = if s_previous[i] != usize::MAX && chance(&mut rng, 0.7) {
                Some(s_previous[i])
            } else {
                older_same_scene(&mut rng, i, scene, 0.9)
            };
            if let Some(j) = original {
                let title = if chance(&mut rng, 0.5) {
                    let producer = world.draw(&mut rng, Role::Producer, scene, 0.9);
                    remixed_by.insert(i, producer);
                    format!("{} ({} Remix)", s_title[j], world.artists[producer].name)
                } else {
                    format!("{} (Remix)", s_title[j])
                };
                let path = song_path(&world.artists[a], &title);
                if paths.insert(path.clone()) {
                    s_title[i] = title;
                    s_path[i] = path;
                }
                add_relation(i, "remix_of", j);
            }
        }
    }
    drop(paths);

    // Less-viewed songs more often lack stats.pageviews, as on Genius.
    let step = 1.max(n / 20_000);
    let mut sample: Vec<u64> = (0..n).step_by(step).map(|k| s_pageviews[k]).collect();
    sample.sort_unstable();
    let pv_median = sample[sample.len() / 2];
    let pv_hot = sample[((sample.len() as f64 * 0.99) as usize).min(sample.len() - 1)];

    // Pass 3: full objects.
    let mut summary = Summary {
        songs: n,
        scenes: world.scenes.len(),
        artists: world.artists.len(),
        ..Summary::default()
    };
    let mut albums: HashMap<(usize, i32), (Box<RawValue>, String)> = HashMap::new();
    let mut album_id: u64 = rng.random_range(1000..=5000);
    if let Some(t) = truth.as_deref_mut() {
        t.write_all(b"song_id\tscene_id\tartist_id\n")?;
    }
    let mut line = Vec::with_capacity(8192);
    for i in 0..n {
        let a = s_artist[i];
        let artist = &world.artists[a];
        let scene = artist.scene;
        let sc = &world.scenes[scene];
        let id = s_id[i];
        let year = s_year[i];
        let pv = s_pageviews[i];
        let title = s_title[i].as_str();

        let mut featured: Vec<usize> = Vec::new();
        if chance(&mut rng, sc.feat_rate) {
            let r: f64 = rng.random();
            let count = if r < 0.7 {
                1
            } else if r < 0.92 {
                2
            } else {
                3
            };
            for _ in 0..count {
                let f = world.draw(&mut rng, Role::Performer, scene, 0.85);
                if f != a && !featured.contains(&f) {
                    featured.push(f);
                }
            }
        }
        let mut producers: Vec<usize> = remixed_by.get(&i).copied().into_iter().collect();
        let r: f64 = rng.random();
        let n_prod = if r < 0.15 {
            0
        } else if r < 0.65 {
            1
        } else if r < 0.9 {
            2
        } else {
            3
        };
        for _ in 0..n_prod {
            let p = world.draw(&mut rng, Role::Producer, scene, 0.9);
            if !producers.contains(&p) {
                producers.push(p);
            }
        }
        if chance(&mut rng, 0.1) {
            producers.push(a); // self-produced
        }
        let mut writers: Vec<usize> = if chance(&mut rng, 0.55) {
            vec![a]
        } else {
            vec![]
        };
        for &f in &featured {
            if chance(&mut rng, 0.5) {
                writers.push(f);
            }
        }
        let r: f64 = rng.random();
        let n_writ = if r < 0.3 {
            0
        } else if r < 0.7 {
            1
        } else if r < 0.9 {
            2
        } else {
            3
        };
        for _ in 0..n_writ {
            let w = world.draw(&mut rng, Role::Writer, scene, 0.88);
            if !writers.contains(&w) {
                writers.push(w);
            }
        }

        let r: f64 = rng.random();
        let (release_date, components, display) = if r < 0.80 {
            let m = rng.random_range(1..=12u32);
            let d = rng.random_range(1..=days_in_month(year, m));
            (
                Some(format!("{year:04}-{m:02}-{d:02}")),
                Some(DateComponents {
                    year,
                    month: Some(m),
                    day: Some(d),
                }),
                Some(format!("{} {d}, {year}", MONTHS[m as usize - 1])),
            )
        } else if r < 0.88 {
            (
                None,
                Some(DateComponents {
                    year,
                    month: None,
                    day: None,
                }),
                Some(year.to_string()),
            )
        } else if r < 0.90 {
            let m = rng.random_range(1..=12u32);
            (
                None,
                Some(DateComponents {
                    year,
                    month: Some(m),
                    day: None,
                }),
                Some(format!("{} {year}", MONTHS[m as usize - 1])),
            )
        } else {
            (None, None, None)
        };

        // One artist's songs of one year share albums.
        let album: Option<&(Box<RawValue>, String)> = match albums.get(&(a, year)) {
            Some(existing) => chance(&mut rng, 0.85).then_some(existing),
            None if chance(&mut rng, 0.7) => {
                album_id += 1 + rng.random_range(0..40);
                let mut name = names::title(&mut rng, s_lang[i].unwrap_or(sc.lang));
                if chance(&mut rng, 0.1) {
                    name.push_str(" (Deluxe Edition)");
                }
                let art: u32 = rng.random();
                let mut slug = names::slugify(&name);
                if slug.is_empty() {
                    slug = album_id.to_string();
                }
                let json = raw(&serde_json::json!({
                    "api_path": format!("/albums/{album_id}"),
                    "cover_art_url": format!("https://example.com/images/albums/{album_id}.{art:08x}.300x300x1.jpg"),
                    "full_title": format!("{name} by {}", artist.name),
                    "id": album_id,
                    "name": name,
                    "release_date_for_display": year.to_string(),
                    "url": format!("https://example.com/albums/{}/{}", capitalise_ascii(&artist.slug), capitalise_ascii(&slug)),
                    "artist": &artist.json,
                }));
                albums.insert((a, year), (json, name));
                albums.get(&(a, year))
            }
            None => None,
        };

        let missing = chance(&mut rng, if pv < pv_median { 0.16 } else { 0.04 });
        let lpv = ((pv + 10) as f64).log10();
        let stats = Stats {
            accepted_annotations: (rng.random::<f64>() * lpv * 1.5) as u64,
            contributors: 1 + (rng.random::<f64>() * lpv * 6.0) as u64,
            iq_earners: 1 + (rng.random::<f64>() * lpv * 5.0) as u64,
            transcribers: 1 + rng.random_range(0..3),
            unreviewed_annotations: (rng.random::<f64>() * lpv * 2.0) as u64,
            verified_annotations: chance(&mut rng, 0.05) as u64,
            hot: pv >= pv_hot && year >= NOW_YEAR - 1 && chance(&mut rng, 0.6),
            pageviews: (!missing).then_some(pv),
        };
        if missing {
            summary.missing_pageviews += 1;
        }

        let related = relations.get(&i);
        let mut relationships = Vec::new();
        if let Some(list) = related {
            summary.with_relationships += 1;
            for kind in RELATIONSHIP_ORDER {
                let songs: Vec<RelatedSong> = list
                    .iter()
                    .filter(|(k, _)| *k == kind)
                    .map(|&(_, j)| RelatedSong {
                        api_path: format!("/songs/{}", s_id[j]),
                        id: s_id[j],
                        title: &s_title[j],
                        url: format!("https://example.com{}", s_path[j]),
                        path: &s_path[j],
                        primary_artist: &world.artists[s_artist[j]].json,
                    })
                    .collect();
                if !songs.is_empty() {
                    relationships.push(RelationshipOut {
                        relationship_type: kind,
                        kind,
                        songs,
                    });
                }
            }
        }

        let featured_names: Vec<&str> = featured
            .iter()
            .map(|&f| world.artists[f].name.as_str())
            .collect();
        let (artist_names, title_with_featured, full_title) = match featured_names.as_slice() {
            [] => (
                artist.name.clone(),
                title.to_string(),
                format!("{title} by\u{a0}{}", artist.name),
            ),
            names => {
                let joined = if names.len() == 1 {
                    names[0].to_string()
                } else {
                    format!(
                        "{} & {}",
                        names[..names.len() - 1].join(", "),
                        names[names.len() - 1]
                    )
                };
                (
                    format!("{} (Ft. {joined})", artist.name),
                    format!("{title} (Ft. {joined})"),
                    format!("{title} by\u{a0}{} (Ft.\u{a0}{joined})", artist.name),
                )
            }
        };
        let description = if chance(&mut rng, 0.3) {
            "?".to_string() // Genius's empty description
        } else {
            let mut d = format!("\u{201c}{title}\u{201d} is a song by {artist_names}");
            if let Some((_, album_name)) = album {
                d.push_str(&format!(", from the album {album_name}"));
            }
            if let Some(display) = &display {
                let on = if release_date.is_some() { "on" } else { "in" };
                d.push_str(&format!(", released {on} {display}"));
            }
            d.push('.');
            if !producers.is_empty() && chance(&mut rng, 0.6) {
                let names: Vec<&str> = producers
                    .iter()
                    .take(2)
                    .map(|&p| world.artists[p].name.as_str())
                    .collect();
                d.push_str(&format!(" It was produced by {}.", names.join(" and ")));
            }
            if chance(&mut rng, 0.25) {
                d.push_str(&format!(" The track is a staple of the {} scene.", sc.name));
            }
            if let Some(&(kind, j)) = related.and_then(|l| l.first()) {
                let verb = match kind {
                    "samples" => Some("samples"),
                    "interpolates" => Some("interpolates"),
                    "cover_of" => Some("is a cover of"),
                    "remix_of" => Some("is a remix of"),
                    _ => None,
                };
                if let Some(verb) = verb {
                    d.push_str(&format!(
                        " It {verb} \u{201c}{}\u{201d} by {}.",
                        s_title[j], world.artists[s_artist[j]].name
                    ));
                }
            }
            d
        };

        let image: u32 = rng.random();
        let path = s_path[i].as_str();
        let song = SongOut {
            annotation_count: stats.accepted_annotations + stats.unreviewed_annotations + 1,
            api_path: format!("/songs/{id}"),
            artist_names: &artist_names,
            full_title,
            header_image_thumbnail_url: format!(
                "https://example.com/images/songs/{id}.{image:08x}.300x300x1.jpg"
            ),
            header_image_url: format!(
                "https://example.com/images/songs/{id}.{image:08x}.1000x1000x1.jpg"
            ),
            id,
            language: s_lang[i],
            lyrics_owner_id: rng.random_range(1..=20_000_000),
            lyrics_state: if chance(&mut rng, 0.97) {
                "complete"
            } else {
                "unreleased"
            },
            path,
            primary_artist_names: &artist.name,
            pyongs_count: Some((rng.random::<f64>() * lpv * 3.0) as u64).filter(|&p| p > 0),
            release_date,
            release_date_for_display: display,
            song_art_image_thumbnail_url: format!(
                "https://example.com/images/songs/{id}.{image:08x}.300x300x1.jpg"
            ),
            song_art_image_url: format!(
                "https://example.com/images/songs/{id}.{image:08x}.1000x1000x1.jpg"
            ),
            stats,
            title,
            title_with_featured,
            url: format!("https://example.com{path}"),
            album: album.map(|(json, _)| json.as_ref()),
            description: Description { plain: description },
            featured_artists: featured
                .iter()
                .map(|&f| world.artists[f].json.as_ref())
                .collect(),
            primary_artist: &artist.json,
            primary_artists: [&artist.json],
            producer_artists: producers
                .iter()
                .map(|&p| world.artists[p].json.as_ref())
                .collect(),
            release_date_components: components,
            song_relationships: relationships,
            writer_artists: writers
                .iter()
                .map(|&w| world.artists[w].json.as_ref())
                .collect(),
        };
        line.clear();
        serde_json::to_writer(&mut line, &song).map_err(io::Error::other)?;
        line.push(b'\n');
        out.write_all(&line)?;
        summary.bytes += line.len() as u64;
        if let Some(t) = truth.as_deref_mut() {
            writeln!(t, "{id}\t{}\t{}", sc.id, artist.id)?;
        }
    }
    summary.albums = albums.len();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generate_to_strings(songs: usize, seed: u64) -> (String, String) {
        let mut out = Vec::new();
        let mut truth = Vec::new();
        generate(Options { songs, seed }, &mut out, Some(&mut truth)).unwrap();
        (
            String::from_utf8(out).unwrap(),
            String::from_utf8(truth).unwrap(),
        )
    }

    #[test]
    fn same_options_give_identical_output() {
        assert_eq!(generate_to_strings(300, 7), generate_to_strings(300, 7));
        assert_ne!(generate_to_strings(300, 7).0, generate_to_strings(300, 8).0);
    }

    #[test]
    fn every_line_is_a_song_object_with_a_truth_row() {
        let (jsonl, truth) = generate_to_strings(500, 42);
        let lines: Vec<&str> = jsonl.lines().collect();
        assert_eq!(lines.len(), 500);
        let truth_rows: Vec<&str> = truth.lines().skip(1).collect();
        assert_eq!(truth_rows.len(), 500);
        let mut ids = std::collections::HashSet::new();
        let mut missing_pageviews = 0;
        let mut non_ascii = 0;
        for (line, row) in lines.iter().zip(&truth_rows) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let id = v["id"].as_u64().unwrap();
            assert!(ids.insert(id), "duplicate id {id}");
            assert!(row.starts_with(&format!("{id}\t")));
            assert!(v["primary_artist"]["id"].as_u64().is_some());
            assert!(v["title"].as_str().is_some_and(|t| !t.is_empty()));
            missing_pageviews += v["stats"].get("pageviews").is_none() as usize;
            non_ascii += (!line.is_ascii()) as usize;
        }
        assert!(missing_pageviews > 0, "some songs lack pageviews");
        assert!(non_ascii > 0, "some names are not ASCII");
    }

    #[test]
    fn relationships_are_recorded_in_both_directions() {
        let (jsonl, _) = generate_to_strings(2000, 42);
        let mut edges = std::collections::HashSet::new();
        for line in jsonl.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let id = v["id"].as_u64().unwrap();
            for rel in v["song_relationships"].as_array().unwrap() {
                let kind = rel["type"].as_str().unwrap().to_string();
                for s in rel["songs"].as_array().unwrap() {
                    edges.insert((id, kind.clone(), s["id"].as_u64().unwrap()));
                }
            }
        }
        assert!(!edges.is_empty());
        for (from, kind, to) in &edges {
            // The order lists each kind next to its inverse.
            let position = RELATIONSHIP_ORDER.iter().position(|k| k == kind).unwrap();
            let back = RELATIONSHIP_ORDER[position ^ 1];
            assert!(
                edges.contains(&(*to, back.to_string(), *from)),
                "{from} {kind} {to} has no inverse"
            );
        }
    }
}
