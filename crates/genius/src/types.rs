//! Lenient serde models of Genius API objects.
//!
//! Every field that real responses ever leave out or set to `null` is optional, and unknown
//! fields are ignored, because Genius adds keys over time (see the fixtures in tests).

use serde::Deserialize;
use songrec_catalog as catalog;

/// An artist as embedded in songs, albums and search hits.
#[derive(Debug, Clone, Deserialize)]
pub struct ArtistRef {
    pub id: Option<u64>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AlbumRef {
    pub id: Option<u64>,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Stats {
    #[serde(default)]
    pub pageviews: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct DateComponents {
    #[serde(default)]
    pub year: Option<i32>,
    #[serde(default)]
    pub month: Option<u32>,
    #[serde(default)]
    pub day: Option<u32>,
}

/// A rich-text field, keyed by the `text_format`s that were asked for.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Text {
    #[serde(default)]
    pub plain: Option<String>,
    #[serde(default)]
    pub html: Option<String>,
    #[serde(default)]
    pub markdown: Option<String>,
    #[serde(default)]
    pub dom: Option<serde_json::Value>,
}

impl Text {
    /// The plain text, from `plain` when present, else flattened from the `dom` tree.
    pub fn to_plain(&self) -> Option<String> {
        if let Some(p) = &self.plain {
            return Some(p.clone());
        }
        let dom = self.dom.as_ref()?;
        let mut out = String::new();
        flatten_dom(dom, &mut out);
        Some(out.trim().to_string())
    }
}

fn flatten_dom(node: &serde_json::Value, out: &mut String) {
    match node {
        serde_json::Value::String(s) => out.push_str(s),
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::Array(children)) = map.get("children") {
                for c in children {
                    flatten_dom(c, out);
                }
            }
            if matches!(map.get("tag").and_then(|t| t.as_str()), Some("p" | "br")) {
                out.push('\n');
            }
        }
        _ => {}
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct RelatedSong {
    pub id: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SongRelationship {
    #[serde(default)]
    pub relationship_type: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub songs: Vec<Option<RelatedSong>>,
}

impl SongRelationship {
    /// `relationship_type`, or `type` in older responses that lack it.
    pub fn kind(&self) -> Option<&str> {
        self.relationship_type.as_deref().or(self.kind.as_deref())
    }
}

/// A genre tag (`{"id", "name", "primary", "url"}`), in `tags` and `primary_tag`.
#[derive(Debug, Clone, Deserialize)]
pub struct TagRef {
    #[serde(default)]
    pub id: Option<u64>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub primary: Option<bool>,
}

/// One `custom_performances` entry: a role label ("Label", "Mixing Engineer", "Guitar") and
/// the artists credited in it.
#[derive(Debug, Clone, Deserialize)]
pub struct CustomPerformance {
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default, deserialize_with = "lenient_list")]
    pub artists: Vec<ArtistRef>,
}

/// A full song object (`response.song` of `GET /songs/:id`); summaries parse too.
#[derive(Debug, Clone, Deserialize)]
pub struct Song {
    pub id: Option<u64>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub primary_artist: Option<ArtistRef>,
    #[serde(default)]
    pub featured_artists: Option<Vec<ArtistRef>>,
    #[serde(default)]
    pub producer_artists: Option<Vec<ArtistRef>>,
    #[serde(default)]
    pub writer_artists: Option<Vec<ArtistRef>>,
    #[serde(default)]
    pub album: Option<AlbumRef>,
    #[serde(default)]
    pub release_date: Option<String>,
    #[serde(default)]
    pub release_date_components: Option<DateComponents>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub stats: Option<Stats>,
    #[serde(default)]
    pub description: Option<Text>,
    #[serde(default)]
    pub song_relationships: Option<Vec<SongRelationship>>,
    #[serde(default)]
    pub song_art_image_url: Option<String>,
    #[serde(default)]
    pub song_art_image_thumbnail_url: Option<String>,
    #[serde(default, deserialize_with = "lenient_list")]
    pub tags: Vec<TagRef>,
    #[serde(default, deserialize_with = "lenient_option")]
    pub primary_tag: Option<TagRef>,
    #[serde(default, deserialize_with = "lenient_list")]
    pub custom_performances: Vec<CustomPerformance>,
}

/// A song as listed in search hits and artist catalogues: no album, credits or description.
#[derive(Debug, Clone, Deserialize)]
pub struct SongSummary {
    #[serde(default)]
    pub id: Option<u64>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub primary_artist: Option<ArtistRef>,
    #[serde(default)]
    pub lyrics_state: Option<String>,
    #[serde(default)]
    pub stats: Option<Stats>,
}

/// One result of `GET /search`.
#[derive(Debug, Clone, Deserialize)]
pub struct SearchHit {
    /// Always `"song"` in the responses seen so far.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub result: Option<SongSummary>,
}

/// `response` of `GET /search`. Search has no `next_page`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SearchResults {
    #[serde(default, deserialize_with = "lenient_list")]
    pub hits: Vec<SearchHit>,
}

/// `response` of `GET /artists/:id/songs`: one page of an artist's catalogue.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ArtistSongsPage {
    #[serde(default, deserialize_with = "lenient_list")]
    pub songs: Vec<SongSummary>,
    /// The page to ask for next; `None` on the last page. Short pages can still have one.
    #[serde(default)]
    pub next_page: Option<u32>,
}

/// A full artist object (`response.artist` of `GET /artists/:id`).
#[derive(Debug, Clone, Deserialize)]
pub struct Artist {
    #[serde(default)]
    pub id: Option<u64>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub image_url: Option<String>,
    #[serde(default)]
    pub alternate_names: Option<Vec<String>>,
    #[serde(default)]
    pub followers_count: Option<u64>,
    #[serde(default)]
    pub description: Option<Text>,
}

/// `response` of `GET /artists/:id`.
#[derive(Debug, Clone, Deserialize)]
pub struct ArtistResponse {
    pub artist: Artist,
}

/// The `meta` object every API response carries (and the whole body of most errors).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Meta {
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub message: Option<String>,
}

/// `{"meta": .., "response": ..}`, the shape of every successful response.
#[derive(Debug, Clone, Deserialize)]
pub struct Envelope<T> {
    #[serde(default)]
    pub meta: Option<Meta>,
    pub response: Option<T>,
}

/// An element that does not parse is dropped rather than failing the whole list:
/// one odd catalogue entry must not cost the other 49 on the page.
fn lenient_list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let values: Option<Vec<serde_json::Value>> = Option::deserialize(deserializer)?;
    Ok(values
        .into_iter()
        .flatten()
        .filter_map(|v| serde_json::from_value(v).ok())
        .collect())
}

/// A value that does not parse is treated as absent rather than failing the whole object.
fn lenient_option<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value: Option<serde_json::Value> = Option::deserialize(deserializer)?;
    Ok(value.and_then(|v| serde_json::from_value(v).ok()))
}

/// Most genre tags kept per song; real songs carry a handful.
pub const MAX_TAGS: usize = 50;
/// Most `custom_performances` credits kept per song; real songs carry up to a few hundred.
pub const MAX_PERFORMANCES: usize = 1000;
/// Longest tag name or role label kept, in characters; longer ones are cut.
pub const MAX_LABEL_CHARS: usize = 100;

fn clean_label(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.chars().take(MAX_LABEL_CHARS).collect())
}

/// Tag names, the primary one first, each once (case ignored), at most [`MAX_TAGS`].
fn tag_names(tags: &[TagRef], primary_tag: Option<&TagRef>) -> (Vec<String>, Option<String>) {
    let primary = primary_tag
        .or_else(|| tags.iter().find(|t| t.primary == Some(true)))
        .and_then(|t| t.name.as_deref())
        .and_then(clean_label);
    let mut names: Vec<String> = Vec::new();
    let others = tags
        .iter()
        .filter_map(|t| t.name.as_deref().and_then(clean_label));
    for name in primary.clone().into_iter().chain(others) {
        if names.len() == MAX_TAGS {
            break;
        }
        if !names
            .iter()
            .any(|n| n.to_lowercase() == name.to_lowercase())
        {
            names.push(name);
        }
    }
    (names, primary)
}

fn performances(list: &[CustomPerformance]) -> Vec<catalog::Performance> {
    let mut out: Vec<catalog::Performance> = Vec::new();
    for entry in list {
        let Some(role) = entry.label.as_deref().and_then(clean_label) else {
            continue;
        };
        for a in entry.artists.iter().filter_map(artist) {
            if out.len() == MAX_PERFORMANCES {
                return out;
            }
            let performance = catalog::Performance {
                role: role.clone(),
                artist: a,
            };
            if !out.contains(&performance) {
                out.push(performance);
            }
        }
    }
    out
}

/// Why a song object cannot become a catalogue song.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseSongError {
    #[error("invalid JSON: {0}")]
    Json(String),
    #[error("not a song object")]
    NotASong,
    #[error("song has no id")]
    MissingId,
    #[error("song {0} has no title")]
    MissingTitle(u64),
    #[error("song {0} has no primary artist")]
    MissingPrimaryArtist(u64),
}

fn artist(a: &ArtistRef) -> Option<catalog::Artist> {
    Some(catalog::Artist {
        id: a.id?,
        name: a.name.clone().unwrap_or_default(),
    })
}

impl Song {
    /// Converts into a catalogue song, refusing objects without id, title or primary artist.
    pub fn into_catalog(self) -> Result<catalog::Song, ParseSongError> {
        let id = self.id.ok_or(ParseSongError::MissingId)?;
        let title = self
            .title
            .filter(|t| !t.trim().is_empty())
            .ok_or(ParseSongError::MissingTitle(id))?;
        let primary_artist = self
            .primary_artist
            .as_ref()
            .and_then(artist)
            .ok_or(ParseSongError::MissingPrimaryArtist(id))?;
        let mut credits = Vec::new();
        for (role, list) in [
            (catalog::CreditRole::Featured, &self.featured_artists),
            (catalog::CreditRole::Producer, &self.producer_artists),
            (catalog::CreditRole::Writer, &self.writer_artists),
        ] {
            for a in list.iter().flatten().filter_map(artist) {
                let credit = catalog::Credit { role, artist: a };
                if !credits.contains(&credit) {
                    credits.push(credit);
                }
            }
        }
        let album = self.album.as_ref().and_then(|a| {
            Some(catalog::Album {
                id: a.id?,
                name: a.name.clone().unwrap_or_default(),
            })
        });
        let release_date = self.release_date.filter(|d| is_iso_date(d));
        let release_year = self
            .release_date_components
            .as_ref()
            .and_then(|c| c.year)
            .or_else(|| release_date.as_ref().and_then(|d| d[..4].parse().ok()));
        let mut relationships = Vec::new();
        for rel in self.song_relationships.iter().flatten() {
            let Some(kind) = rel.kind() else { continue };
            for s in rel.songs.iter().flatten() {
                if let Some(song_id) = s.id {
                    relationships.push(catalog::Relationship {
                        kind: kind.to_string(),
                        song_id,
                    });
                }
            }
        }
        let description = self
            .description
            .as_ref()
            .and_then(Text::to_plain)
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty() && d != "?");
        let (tags, primary_tag) = tag_names(&self.tags, self.primary_tag.as_ref());
        Ok(catalog::Song {
            id,
            title,
            primary_artist,
            credits,
            album,
            release_date,
            release_year,
            language: self.language.filter(|l| !l.is_empty()),
            pageviews: self.stats.and_then(|s| s.pageviews),
            relationships,
            description,
            url: self.url,
            song_art_image_url: self
                .song_art_image_url
                .or(self.song_art_image_thumbnail_url),
            tags,
            primary_tag,
            performances: performances(&self.custom_performances),
        })
    }
}

fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// The song object in `value`: the value itself, or the song inside an API envelope
/// (`{"meta":..,"response":{"song":..}}`) or a `{"song":..}` wrapper.
pub fn song_object(value: serde_json::Value) -> Result<serde_json::Value, ParseSongError> {
    match value {
        serde_json::Value::Object(mut map) => {
            if let Some(serde_json::Value::Object(mut response)) = map.remove("response") {
                response.remove("song").ok_or(ParseSongError::NotASong)
            } else if let Some(song) = map.remove("song").filter(|s| s.is_object()) {
                Ok(song)
            } else {
                Ok(serde_json::Value::Object(map))
            }
        }
        _ => Err(ParseSongError::NotASong),
    }
}

/// Parses one JSON value that is a song object, or an API envelope around one
/// (`{"meta":..,"response":{"song":..}}`), into a catalogue song.
pub fn parse_song_value(value: serde_json::Value) -> Result<catalog::Song, ParseSongError> {
    let song_value = song_object(value)?;
    let song: Song =
        serde_json::from_value(song_value).map_err(|e| ParseSongError::Json(e.to_string()))?;
    song.into_catalog()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_song_without_primary_artist_is_refused() {
        let v = serde_json::json!({"id": 3, "title": "x"});
        assert_eq!(
            parse_song_value(v),
            Err(ParseSongError::MissingPrimaryArtist(3))
        );
    }

    #[test]
    fn an_envelope_is_unwrapped_and_placeholder_description_dropped() {
        let v = serde_json::json!({"meta": {"status": 200}, "response": {"song": {
            "id": 7, "title": "T", "primary_artist": {"id": 1, "name": "A"},
            "description": {"plain": "?"}, "stats": {"hot": false},
            "release_date_components": {"year": 1999, "month": null, "day": null},
            "song_relationships": [{"type": "samples", "songs": [{"id": 9}]}]
        }}});
        let s = parse_song_value(v).unwrap();
        assert_eq!(s.id, 7);
        assert_eq!(s.description, None);
        assert_eq!(s.pageviews, None);
        assert_eq!(s.release_year, Some(1999));
        assert_eq!(s.relationships[0].kind, "samples");
    }
}
