//! A fake api.genius.com on 127.0.0.1:0 for tests and benchmarks.
//!
//! It serves real-shaped JSON built from the saved responses in `../fixtures/`: searches with
//! a decoy first hit, paginated artist catalogues (short pages with `next_page` set, features
//! by other artists), full songs in every shape seen; and injects faults on demand (429 with
//! Retry-After, 5xx, slow answers, HTML, malformed JSON, missing fields). Every request is
//! recorded with its arrival time so tests can check the client's rate.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Full song objects in each shape Genius has used, to be cloned into many songs.
const TEMPLATES: [&str; 5] = [
    include_str!("../fixtures/song_2872960_24k_magic.json"),
    include_str!("../fixtures/song_378195_chandelier_2021.json"),
    include_str!("../fixtures/song_378195_chandelier_2018_legacy.json"),
    include_str!("../fixtures/song_3039923_humble_song_object.json"),
    include_str!("../fixtures/song_1185778_aftermath_response_field.json"),
];
const ERROR_401: &str = include_str!("../fixtures/error_401_requires_access_token.json");
const ERROR_404: &str = include_str!("../fixtures/error_404_not_found.json");
const ARTIST: &str = include_str!("../fixtures/artist_16775_sia.json");

/// The id of the decoy artist whose song comes first in every search.
pub const DECOY_ARTIST_ID: u64 = 999_999;

/// A fault served instead of the normal answer, once, to the next request for a path.
#[derive(Debug, Clone)]
pub enum Fault {
    /// This status and body, with an optional `Retry-After` value.
    Status {
        status: u16,
        retry_after: Option<String>,
        body: String,
    },
    /// The normal answer, after this long (longer than the client timeout = a timeout).
    Delay(Duration),
    /// A 200 whose body is cut off mid-JSON.
    Malformed,
    /// A 200 of exactly this many bytes (one never-closed JSON string), streamed in 64 KiB
    /// chunks without a `Content-Length`.
    Huge(usize),
}

impl Fault {
    pub fn too_many_requests(retry_after_secs: u64) -> Fault {
        Fault::Status {
            status: 429,
            retry_after: Some(retry_after_secs.to_string()),
            body: r#"{"meta":{"status":429,"message":"Too many requests"}}"#.into(),
        }
    }

    pub fn server_error(status: u16) -> Fault {
        Fault::Status {
            status,
            retry_after: None,
            body: "<html><body><h1>502 Bad Gateway</h1></body></html>".into(),
        }
    }
}

/// A song that is broken for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Broken {
    /// 404 with the documented body.
    NotFound,
    /// 200 with a body cut off mid-JSON.
    Malformed,
    /// 200 with a song object without `primary_artist` and `title`.
    MissingFields,
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    pub path: String,
    pub query: String,
    pub user_agent: String,
}

struct FakeArtist {
    id: u64,
    name: String,
    /// Song ids in popularity order, features by other artists included.
    catalogue: Vec<u64>,
}

#[derive(Default)]
struct World {
    token: String,
    artists: Vec<FakeArtist>,
    songs: HashMap<u64, Value>,
    broken: HashMap<u64, Broken>,
    faults: HashMap<String, VecDeque<Fault>>,
    /// Catalogue entries per page, whatever `per_page` asks (Genius pages can be short).
    page_size: Option<usize>,
    /// Every catalogue page lists the first page again and points to the next one, forever.
    endless_pages: bool,
    seen: Vec<Seen>,
}

/// The running fake; stops when dropped.
pub struct FakeGenius {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    world: Arc<Mutex<World>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGenius {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeGenius {
    /// Starts a fake that accepts `Authorization: Bearer <token>`.
    pub async fn start(token: &str) -> FakeGenius {
        let world = Arc::new(Mutex::new(World {
            token: token.to_string(),
            ..World::default()
        }));
        let app = Router::new().fallback(answer).with_state(world.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeGenius { url, world, server }
    }

    /// Adds an artist with `songs` songs of their own (ids `first_song_id..`), in
    /// popularity order, and returns the song ids.
    pub fn add_artist(&self, id: u64, name: &str, songs: usize, first_song_id: u64) -> Vec<u64> {
        let mut world = self.world.lock().unwrap();
        let ids: Vec<u64> = (first_song_id..first_song_id + songs as u64).collect();
        for (rank, song_id) in ids.iter().enumerate() {
            let song = make_song(*song_id, id, name, rank);
            world.songs.insert(*song_id, song);
        }
        world.artists.push(FakeArtist {
            id,
            name: name.to_string(),
            catalogue: ids.clone(),
        });
        ids
    }

    /// Lists an existing song (by another primary artist) in `artist_id`'s catalogue too,
    /// as Genius does for features and credits.
    pub fn add_feature(&self, artist_id: u64, song_id: u64) {
        let mut world = self.world.lock().unwrap();
        let artist = world
            .artists
            .iter_mut()
            .find(|a| a.id == artist_id)
            .unwrap();
        artist.catalogue.push(song_id);
    }

    pub fn set_page_size(&self, entries: usize) {
        self.world.lock().unwrap().page_size = Some(entries);
    }

    /// Makes every catalogue page repeat the first one with a `next_page`, forever.
    pub fn set_endless_pages(&self) {
        self.world.lock().unwrap().endless_pages = true;
    }

    /// Serves `fault` to the next request for `path` (e.g. `/songs/7`); faults queue up.
    pub fn inject(&self, path: &str, fault: Fault) {
        let mut world = self.world.lock().unwrap();
        world
            .faults
            .entry(path.to_string())
            .or_default()
            .push_back(fault);
    }

    pub fn break_song(&self, id: u64, how: Broken) {
        self.world.lock().unwrap().broken.insert(id, how);
    }

    /// Every request so far, in arrival order.
    pub fn seen(&self) -> Vec<Seen> {
        self.world.lock().unwrap().seen.clone()
    }

    /// Requests so far whose path starts with `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        let world = self.world.lock().unwrap();
        world
            .seen
            .iter()
            .filter(|s| s.path.starts_with(prefix))
            .count()
    }

    /// Requests for each song id's details, to spot songs fetched twice.
    pub fn song_requests(&self) -> HashMap<u64, usize> {
        let mut counts = HashMap::new();
        for s in self.seen() {
            if let Some(id) = s.path.strip_prefix("/songs/").and_then(|i| i.parse().ok()) {
                *counts.entry(id).or_insert(0) += 1;
            }
        }
        counts
    }

    /// The most requests that arrived within any window of `window` (both ends included).
    pub fn max_requests_within(&self, window: Duration) -> usize {
        let times: Vec<Instant> = self.seen().iter().map(|s| s.at).collect();
        let mut best = 0;
        let mut start = 0;
        for end in 0..times.len() {
            while times[end].duration_since(times[start]) > window {
                start += 1;
            }
            best = best.max(end - start + 1);
        }
        best
    }
}

/// A full song object cloned from a template, renamed and re-credited.
fn make_song(id: u64, artist_id: u64, artist_name: &str, rank: usize) -> Value {
    let template: Value = serde_json::from_str(TEMPLATES[id as usize % TEMPLATES.len()]).unwrap();
    let mut song = match template {
        Value::Object(mut map) => match map.remove("response") {
            Some(mut response) => response["song"].take(),
            None => map.remove("song").unwrap_or(Value::Object(map)),
        },
        _ => unreachable!(),
    };
    let title = format!("Song {id}");
    let slug = format!("{}-song-{id}-lyrics", artist_name.replace(' ', "-"));
    song["id"] = json!(id);
    song["title"] = json!(title);
    song["title_with_featured"] = json!(title);
    song["full_title"] = json!(format!("{title} by\u{a0}{artist_name}"));
    song["url"] = json!(format!("https://genius.com/{slug}"));
    song["path"] = json!(format!("/{slug}"));
    song["api_path"] = json!(format!("/songs/{id}"));
    song["primary_artist"] = artist_ref(artist_id, artist_name);
    // The most popular half has pageviews; the rest lacks the key, as real low-traffic songs do.
    let stats = song["stats"].as_object_mut().unwrap();
    if rank.is_multiple_of(2) {
        stats.insert("pageviews".into(), json!(1_000_000 - rank as u64));
    } else {
        stats.remove("pageviews");
    }
    song
}

fn artist_ref(id: u64, name: &str) -> Value {
    json!({
        "api_path": format!("/artists/{id}"),
        "header_image_url": "https://assets.genius.com/images/default_avatar_300.png",
        "id": id,
        "image_url": "https://assets.genius.com/images/default_avatar_300.png",
        "is_meme_verified": false,
        "is_verified": false,
        "name": name,
        "url": format!("https://genius.com/artists/{}", name.replace(' ', "-")),
    })
}

/// The summary fields of a full song, as search hits and catalogue pages carry them.
fn summary(song: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for key in [
        "annotation_count",
        "api_path",
        "full_title",
        "header_image_thumbnail_url",
        "header_image_url",
        "id",
        "lyrics_owner_id",
        "lyrics_state",
        "path",
        "pyongs_count",
        "song_art_image_thumbnail_url",
        "stats",
        "title",
        "title_with_featured",
        "url",
        "primary_artist",
    ] {
        if let Some(v) = song.get(key) {
            let v = if key == "stats" {
                json!({"unreviewed_annotations": 0, "hot": false, "pageviews": v.get("pageviews")})
            } else {
                v.clone()
            };
            out.insert(key.into(), v);
        }
    }
    Value::Object(out)
}

fn ok(response: Value) -> Response {
    let body = json!({"meta": {"status": 200}, "response": response});
    json_response(StatusCode::OK, body.to_string())
}

fn json_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body,
    )
        .into_response()
}

fn malformed() -> Response {
    json_response(
        StatusCode::OK,
        r#"{"meta":{"status":200},"response":{"song":{"id":1,"title":"#.into(),
    )
}

fn query_param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn answer(State(world): State<Arc<Mutex<World>>>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    let fault = {
        let mut w = world.lock().unwrap();
        w.seen.push(Seen {
            at: Instant::now(),
            path: path.clone(),
            query: query.clone(),
            user_agent: headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string(),
        });
        w.faults.get_mut(&path).and_then(VecDeque::pop_front)
    };
    match fault {
        Some(Fault::Status {
            status,
            retry_after,
            body,
        }) => {
            let mut response = json_response(StatusCode::from_u16(status).unwrap(), body);
            if let Some(value) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, value.parse().unwrap());
            }
            return response;
        }
        Some(Fault::Delay(wait)) => tokio::time::sleep(wait).await,
        Some(Fault::Malformed) => return malformed(),
        Some(Fault::Huge(bytes)) => return huge(bytes),
        None => {}
    }
    let w = world.lock().unwrap();
    match headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        None => return json_response(StatusCode::UNAUTHORIZED, ERROR_401.into()),
        Some(auth) if auth != format!("Bearer {}", w.token) => {
            return json_response(
                StatusCode::UNAUTHORIZED,
                json!({"error": "invalid_token", "error_description": "The access token provided is expired, revoked, malformed or invalid for other reasons."}).to_string(),
            );
        }
        Some(_) => {}
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let not_found = || json_response(StatusCode::NOT_FOUND, ERROR_404.into());
    match segments.as_slice() {
        ["search"] => {
            let q = query_param(&query, "q").unwrap_or_default();
            let page: usize = query_param(&query, "page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(1);
            let per_page: usize = query_param(&query, "per_page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(10);
            // A lyrics match by someone else comes first, as in real searches.
            let decoy = json!({
                "id": 999_999_001u64, "title": format!("{q} (Tribute)"),
                "url": "https://genius.com/decoy", "lyrics_state": "complete",
                "stats": {"unreviewed_annotations": 0, "hot": false},
                "primary_artist": artist_ref(DECOY_ARTIST_ID, &format!("{q} Tribute Band")),
            });
            let mut hits = vec![decoy];
            for artist in &w.artists {
                if let Some(song) = artist.catalogue.first().and_then(|id| w.songs.get(id)) {
                    hits.push(summary(song));
                }
            }
            let hits: Vec<Value> = hits
                .into_iter()
                .skip((page.max(1) - 1) * per_page)
                .take(per_page)
                .map(|r| json!({"highlights": [], "index": "song", "type": "song", "result": r}))
                .collect();
            ok(json!({"hits": hits}))
        }
        ["songs", id] => {
            let Ok(id) = id.parse::<u64>() else {
                return not_found();
            };
            match (w.broken.get(&id), w.songs.get(&id)) {
                (Some(Broken::NotFound), _) | (None, None) => not_found(),
                (Some(Broken::Malformed), _) => malformed(),
                (Some(Broken::MissingFields), _) => {
                    ok(json!({"song": {"id": id, "stats": {"hot": false}}}))
                }
                (None, Some(song)) => ok(json!({"song": song})),
            }
        }
        ["artists", id] => {
            let Some(artist) = id
                .parse::<u64>()
                .ok()
                .and_then(|id| w.artists.iter().find(|a| a.id == id))
            else {
                return not_found();
            };
            let mut full: Value = serde_json::from_str(ARTIST).unwrap();
            full["response"]["artist"]["id"] = json!(artist.id);
            full["response"]["artist"]["name"] = json!(artist.name);
            json_response(StatusCode::OK, full.to_string())
        }
        ["artists", id, "songs"] => {
            let Some(artist) = id
                .parse::<u64>()
                .ok()
                .and_then(|id| w.artists.iter().find(|a| a.id == id))
            else {
                return not_found();
            };
            let page: usize = query_param(&query, "page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(1);
            let per_page: usize = query_param(&query, "per_page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(20);
            let size = w.page_size.unwrap_or(per_page).min(per_page).max(1);
            let mut ids = artist.catalogue.clone();
            if query_param(&query, "sort").as_deref() == Some("title") {
                ids.sort_by_key(|id| w.songs.get(id).map(|s| s["title"].to_string()));
            }
            let start = if w.endless_pages {
                0
            } else {
                (page.max(1) - 1) * size
            };
            let songs: Vec<Value> = ids
                .iter()
                .skip(start)
                .take(size)
                .filter_map(|id| w.songs.get(id).map(summary))
                .collect();
            let next_page = (w.endless_pages || start + size < ids.len()).then_some(page + 1);
            ok(json!({"songs": songs, "next_page": next_page}))
        }
        _ => not_found(),
    }
}

fn huge(bytes: usize) -> Response {
    const HEAD: &[u8] = b"{\"response\":{\"song\":\"";
    const CHUNK: usize = 64 << 10;
    let mut left = bytes.saturating_sub(HEAD.len());
    let mut chunks = vec![axum::body::Bytes::from_static(HEAD)];
    while left > 0 {
        let n = left.min(CHUNK);
        chunks.push(axum::body::Bytes::from(vec![b'x'; n]));
        left -= n;
    }
    let stream = futures::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>));
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from_stream(stream))
        .unwrap()
}
