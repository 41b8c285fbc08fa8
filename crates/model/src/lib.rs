//! The recommendation model: features from catalogue songs, nearest-neighbour search,
//! offline evaluation, and the versioned, checksummed model file that serving loads.
//!
//! Training precomputes every song's best neighbours, so serving is a lookup.
//!
//! Public surface (kept stable for `api`, `registry` and the CLI):
//! - [`train`] builds a [`Trained`] model from songs and [`TrainParams`];
//! - [`Model::save`] / [`Model::load`] write and read the model file (refusing corrupt ones);
//!   [`Model::load_expecting`] also checks the file against a recorded SHA-256;
//! - [`Model::recommend`] answers a query by browse-order index;
//! - [`scene_report`] scores a model against a generated catalogue's ground truth.
//!
//! # Layout
//! - `features`: sparse IDF-weighted song vectors and their inverted index;
//! - `profile`: artist profiles, the artist-level part of song similarity;
//! - `search`: neighbour search (exact, or approximate past a size), cold-start fallback;
//! - `order`: the order the search visits songs in (by scene and artist, not browse order);
//! - `original`: the replaced system's model, for comparison;
//! - `evaluate`: held-out and catalogue metrics;
//! - `explain`: the reasons given with each recommendation;
//! - `versions`: which songs are versions of one song (live, remix, translation, re-release);
//! - `file`: the model file format;
//! - `memory`: the process allocator that training's large tables fault in through.

mod circles;
mod column;
mod evaluate;
mod explain;
mod features;
mod file;
pub mod memory;
mod order;
mod original;
mod params;
mod profile;
pub mod record;
mod search;
mod table;
#[cfg(test)]
mod test_songs;
mod train;
mod versions;

use std::collections::BTreeMap;
use std::path::Path;

use column::prefetch;

use serde::{Deserialize, Serialize};

pub use evaluate::{
    LabelReport, Labels, MAX_LABEL_LINES, PRIMARY_METRIC, SceneReport, TruthRow, coverage,
    label_report, parse_artist_ids, parse_labels, parse_truth, popularity_bias, same_artist_share,
    scene_report,
};
pub use explain::{Label, Reason};
pub use features::{is_version_relationship, reason};
pub use file::FORMAT_VERSION;
pub use params::{FeatureSet, FeatureWeights, MAX_K, TrainParams};
pub use train::{heldout_hit_rate, train};

/// What training hands the model about each song: everything the API shows about it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SongInfo {
    pub id: u64,
    pub title: String,
    /// The primary artist's name and Genius id.
    pub artist: String,
    pub artist_id: u64,
    pub album: Option<String>,
    /// `YYYY-MM-DD` when the full date is known.
    pub release_date: Option<String>,
    pub release_year: Option<i32>,
    pub language: Option<String>,
    pub pageviews: Option<u64>,
    /// The song's Genius page.
    pub url: Option<String>,
    pub art_url: Option<String>,
    /// Free-form labels (genres), shown as they are.
    pub tags: Vec<String>,
}

/// One song of a loaded model, borrowed from it (from the mapped file when it was loaded).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct SongView<'m> {
    pub id: u64,
    pub title: &'m str,
    pub artist: &'m str,
    pub artist_id: u64,
    pub album: Option<&'m str>,
    pub release_date: Option<&'m str>,
    pub release_year: Option<i32>,
    pub language: Option<&'m str>,
    pub pageviews: Option<u64>,
    pub url: Option<&'m str>,
    pub art_url: Option<&'m str>,
}

/// An artist credited on a song, with every role they have on it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreditView<'m> {
    pub artist_id: u64,
    pub name: &'m str,
    /// `primary`, `featured`, `producer`, `writer`, in that order.
    pub roles: Vec<&'static str>,
}

/// An artist of the model's catalogue: everyone credited on a song.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ArtistView<'m> {
    pub id: u64,
    pub name: &'m str,
}

/// One stored neighbour of a song: its index, similarity and reason bits ([`reason`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbour {
    pub index: usize,
    pub score: f32,
    pub reason_bits: u8,
}

/// Facts about a trained model, stored inside the model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// RFC 3339 time of training.
    pub trained_at: String,
    /// Every training parameter, as given or defaulted.
    pub params: BTreeMap<String, String>,
    pub metrics: BTreeMap<String, f64>,
    pub songs: usize,
}

/// One recommended song.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation<'m> {
    pub index: usize,
    pub song: SongView<'m>,
    pub score: f32,
    /// Short human explanations ("shared producer X", "samples", "same artist").
    pub reasons: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read model file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("model file {path} is not a songrec model or is corrupt: {reason}")]
    Corrupt { path: String, reason: String },
    /// The file is not the one recorded for it (its whole-file SHA-256 differs).
    #[error("model file {path} has SHA-256 {found}, expected {expected}")]
    ChecksumMismatch {
        path: String,
        expected: String,
        found: String,
    },
    #[error("model file {path} has format version {found}, this build reads {expected}")]
    UnsupportedVersion {
        path: String,
        found: u32,
        expected: u32,
    },
    #[error("training failed: {0}")]
    Training(String),
    #[error("invalid training parameters: {0}")]
    Params(String),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecommendError {
    #[error("index {index} is out of range (0..{len})")]
    IndexOutOfRange { index: usize, len: usize },
    #[error("k must be between 1 and {max}")]
    KOutOfRange { k: usize, max: usize },
}

/// A freshly trained model with its evaluation.
pub struct Trained {
    pub model: Model,
    /// Wall-clock seconds per phase (features, search, evaluation...).
    pub timings: BTreeMap<String, f64>,
}

/// What the reasons are made of, as training gathers it: each song's credited artists and
/// relationships. [`Model`] keeps it in columns (see `table`).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Explanations {
    /// Artist names and their Genius ids (same positions); credits refer to them by position.
    pub names: Vec<String>,
    pub artist_ids: Vec<u64>,
    /// Per song (n + 1 offsets) its credits, sorted by name id, with role bits.
    pub credit_offsets: Vec<u32>,
    pub credit_names: Vec<u32>,
    pub credit_roles: Vec<u8>,
    /// Relationship kinds as Genius spells them (`samples`, `cover_of`, ...).
    pub relation_kinds: Vec<String>,
    /// Per song (n + 1 offsets) the songs it links to, by index, with the kind.
    pub relation_offsets: Vec<u32>,
    pub relation_targets: Vec<u32>,
    pub relation_kind: Vec<u8>,
}

/// Largest quantised score; scores are cosines in [0, 1] stored in 16 bits.
const SCORE_SCALE: f32 = u16::MAX as f32;

/// A trained, loaded model: songs in browse order and each one's precomputed neighbours.
///
/// Its tables are columns (see `table`): in memory after training, borrowed from the mapped
/// model file after [`Model::load`].
pub struct Model {
    info: ModelInfo,
    /// Neighbours stored per song: `neighbours[i * k .. (i + 1) * k]`.
    k: usize,
    /// The first `head` of them are read from the head table (`head <= k`).
    head: usize,
    tables: table::Tables,
    /// Songs `0..universe` have pageviews: the catalogue the original service indexed.
    universe: usize,
    original_features: bool,
    /// The mapped file the tables are read from, after [`Model::load`].
    file: Option<file::Mapped>,
}

/// How much of a song's record [`Model::touch`] asks for: most records are shorter.
const RECORD_TOUCH_BYTES: usize = 512;

impl Model {
    pub(crate) fn from_parts(
        info: ModelInfo,
        songs: impl ExactSizeIterator<Item = impl table::HasDetails>,
        k: usize,
        neighbours: Vec<u32>,
        scores: Vec<u16>,
        reasons: Vec<u8>,
        explanations: Explanations,
    ) -> Model {
        let tables = table::Tables::assemble(songs, k, neighbours, scores, reasons, explanations);
        Model::from_tables(info, k, tables)
    }

    pub(crate) fn from_tables(info: ModelInfo, k: usize, tables: table::Tables) -> Model {
        let original_features =
            info.params.get("features").map(String::as_str) == Some(FeatureSet::Original.as_str());
        let universe = tables
            .pageviews
            .iter()
            .position(|&p| p == table::NO_PAGEVIEWS)
            .unwrap_or(tables.ids.len());
        let head = tables.head_width().min(k);
        Model {
            info,
            k,
            head,
            tables,
            universe,
            original_features,
            file: None,
        }
    }

    fn with_file(mut self, file: file::Mapped) -> Model {
        self.file = Some(file);
        self
    }

    /// Drops the pages of the model file this process holds (a loaded model's memory is the
    /// pages its reads touched); reads fault them back in from the file. A server calls it on
    /// the model it is about to replace, so that both are not resident at once. A model held
    /// in memory (just trained) keeps its memory.
    pub fn release_pages(&self) {
        if let Some(file) = &self.file {
            file.release_all();
        }
    }

    /// Reads a model file, refusing one that is corrupt, truncated or of another format version.
    ///
    /// The file is mapped, not copied: the loaded model costs the pages that requests touch.
    pub fn load(path: &Path) -> Result<Model, ModelError> {
        file::load(path, None)
    }

    /// [`Model::load`], also refusing the file unless the SHA-256 (hex) of its whole content is
    /// `expected_file_sha256` (as a registry recorded it, and as [`Model::save`] returns it).
    ///
    /// That hash replaces the payload checksum of the header (one pass over the file, not two).
    /// A file that differs is refused with [`ModelError::ChecksumMismatch`], even when it is
    /// also corrupt in other ways.
    pub fn load_expecting(path: &Path, expected_file_sha256: &str) -> Result<Model, ModelError> {
        file::load(path, Some(expected_file_sha256))
    }

    /// Writes the model file atomically and returns its SHA-256 (hex).
    pub fn save(&self, path: &Path) -> Result<String, ModelError> {
        file::save(self, path)
    }

    /// Records one more metric (computed outside training) with the model.
    pub fn set_metric(&mut self, name: &str, value: f64) {
        self.info.metrics.insert(name.to_string(), value);
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    pub fn len(&self) -> usize {
        self.tables.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The largest k this model answers.
    pub fn max_k(&self) -> usize {
        self.k
    }

    /// How many songs, from index 0, have pageviews: the catalogue of the original service
    /// (its browse query kept only those), which `GET /recommend/{index}` serves.
    pub fn universe(&self) -> usize {
        self.universe
    }

    pub fn song(&self, index: usize) -> Option<SongView<'_>> {
        self.tables.song(index)
    }

    /// The song at `index` as the JSON object answers carry ([`record::write_song`]), when
    /// the model file holds records (files written before them do not).
    pub fn song_record(&self, index: usize) -> Option<&[u8]> {
        self.tables.record(index)
    }

    /// Asks the processor for what an answer reads of each song of `songs` (its id, record,
    /// credits, tags, primary artist and their names) before any of it is read, one level of
    /// indirection at a time for all of them: a large catalogue's songs are rarely in the
    /// processor's caches, and fetching them one after another is what an answer would
    /// otherwise wait on. Each level's fetches are hints that overlap; only the offsets the
    /// next level needs are read, once the previous level's fetches are all under way.
    pub fn touch(&self, songs: &[usize]) {
        let t = &self.tables;
        let at = |offsets: &[u32], i: usize| offsets.get(i).copied().unwrap_or(0) as usize;
        // The songs' own cells: no song's address depends on another read.
        for &i in songs {
            prefetch(&t.ids, i);
            prefetch(&t.record_offsets, i);
            prefetch(&t.credit_offsets, i);
            prefetch(&t.tag_offsets, i);
            prefetch(&t.song_artist, i);
        }
        // What those cells point to: the record (every line of its first bytes), the credits,
        // the tags and the primary artist.
        for &i in songs {
            if let Some(&start) = t.record_offsets.get(i) {
                let start = usize::try_from(start).unwrap_or(usize::MAX);
                for line in (0..RECORD_TOUCH_BYTES).step_by(64) {
                    prefetch(&t.records, start.saturating_add(line));
                }
            }
            let credits = at(&t.credit_offsets, i);
            prefetch(&t.credit_artists, credits);
            prefetch(&t.credit_roles, credits);
            prefetch(&t.tags, at(&t.tag_offsets, i));
            let artist = at(&t.song_artist, i);
            prefetch(&t.artist_names, artist);
            prefetch(&t.artist_ids, artist);
        }
        // Where the artist's name and the first tag's text are.
        let first_tag = |i: usize| t.tags.get(at(&t.tag_offsets, i)).copied();
        let artist_name = |i: usize| t.artist_names.get(at(&t.song_artist, i)).copied();
        for &i in songs {
            for text in [artist_name(i), first_tag(i)].into_iter().flatten() {
                prefetch(&t.strings.offsets, text as usize);
            }
        }
        // The texts themselves.
        for &i in songs {
            for text in [artist_name(i), first_tag(i)].into_iter().flatten() {
                if let Some(&start) = t.strings.offsets.get(text as usize) {
                    prefetch(
                        &t.strings.bytes,
                        usize::try_from(start).unwrap_or(usize::MAX),
                    );
                }
            }
        }
    }

    /// Whether there is a song at `index` (what `song_id(index).is_some()` says), without
    /// reading anything of it: a loaded model's song columns are all as long (checked on
    /// load), so this is a bounds check.
    pub fn has_song(&self, index: usize) -> bool {
        index < self.len()
    }

    /// The Genius id of the song at `index` (what [`Model::song`] gives, without the rest).
    pub fn song_id(&self, index: usize) -> Option<u64> {
        let t = &self.tables;
        t.song_artist.get(index)?;
        t.ids.get(index).copied()
    }

    pub fn index_of(&self, song_id: u64) -> Option<usize> {
        let t = &self.tables;
        let pos = t.by_id_keys.binary_search(&song_id).ok()?;
        Some(t.by_id_index[pos] as usize)
    }

    /// The song's tags, as training gave them.
    pub fn tags(&self, index: usize) -> impl Iterator<Item = &str> + '_ {
        let t = &self.tables;
        table::range(&t.tag_offsets, index)
            .into_iter()
            .flatten()
            .filter_map(|i| t.strings.get(t.tags[i]))
    }

    /// Every artist credited on the song (primary first), with their roles.
    pub fn credits(&self, index: usize) -> Vec<CreditView<'_>> {
        let t = &self.tables;
        let mut out: Vec<CreditView<'_>> = self
            .credit_pairs(index)
            .map(|(artist, roles)| CreditView {
                artist_id: t.artist_ids[artist as usize],
                name: t.strings.text(t.artist_names[artist as usize]),
                roles: table::role_names(roles),
            })
            .collect();
        out.sort_by_key(|c| c.roles.first().map(|r| table::role_rank(r)));
        out
    }

    /// The artist with this Genius id, if credited on any song.
    pub fn artist(&self, artist_id: u64) -> Option<ArtistView<'_>> {
        let t = &self.tables;
        let pos = t.artist_by_id_keys.binary_search(&artist_id).ok()?;
        let artist = t.artist_by_id_pos[pos] as usize;
        Some(ArtistView {
            id: artist_id,
            name: t.strings.text(t.artist_names[artist]),
        })
    }

    /// Browse-order indices of the songs whose primary artist has this Genius id, most viewed
    /// first.
    pub fn songs_by_artist(&self, artist_id: u64) -> &[u32] {
        let t = &self.tables;
        let Ok(pos) = t.artist_by_id_keys.binary_search(&artist_id) else {
            return &[];
        };
        let artist = t.artist_by_id_pos[pos] as usize;
        match table::range(&t.artist_song_offsets, artist) {
            Some(range) => &t.artist_songs[range],
            None => &[],
        }
    }

    /// The stored neighbour indices of a song (all `max_k` of them), best first.
    pub fn neighbour_indices(&self, index: usize) -> Option<&[u32]> {
        (index < self.len()).then(|| &self.tables.neighbours[index * self.k..(index + 1) * self.k])
    }

    /// Every stored neighbour of a song, in the model's order, best first (empty for an
    /// unknown index).
    ///
    /// A neighbour's score is its similarity capped at the score of the one before it, so
    /// scores never increase down the list: the order is not by similarity alone (one artist's
    /// songs are spread through the list, and songs of the same language, era and popularity
    /// complete it), and a score above an earlier one would contradict the order.
    pub fn neighbours(&self, index: usize) -> impl ExactSizeIterator<Item = Neighbour> + '_ {
        let (k, head) = (self.k, self.head);
        let row = if index < self.len() { 0..k } else { 0..0 };
        let t = &self.tables;
        let mut ceiling = u16::MAX;
        row.map(move |j| {
            // The first ones from the head table: a short list reads nothing else.
            let (neighbour, score, bits) = if j < head {
                let cell = index * head + j;
                (
                    t.head_neighbours[cell],
                    t.head_scores[cell],
                    t.head_reasons[cell],
                )
            } else {
                let cell = index * k + j;
                (t.neighbours[cell], t.scores[cell], t.reasons[cell])
            };
            let score = score.min(ceiling);
            ceiling = score;
            Neighbour {
                index: neighbour as usize,
                score: f32::from(score) / SCORE_SCALE,
                reason_bits: bits,
            }
        })
    }

    /// The `k` best recommendations for the song at `index`, best first, never the song itself.
    pub fn recommend(
        &self,
        index: usize,
        k: usize,
    ) -> Result<Vec<Recommendation<'_>>, RecommendError> {
        if index >= self.len() {
            return Err(RecommendError::IndexOutOfRange {
                index,
                len: self.len(),
            });
        }
        if k == 0 || k > self.k {
            return Err(RecommendError::KOutOfRange { k, max: self.k });
        }
        Ok(self
            .neighbours(index)
            .take(k)
            .filter_map(|n| {
                Some(Recommendation {
                    index: n.index,
                    song: self.song(n.index)?,
                    score: n.score,
                    reasons: self.reasons(index, n.index, n.reason_bits),
                })
            })
            .collect())
    }

    pub(crate) fn quantise(score: f32) -> u16 {
        (score.clamp(0.0, 1.0) * SCORE_SCALE).round() as u16
    }
}

/// A model of `songs` with the given neighbour table (`k` per song) and no credits or
/// relationships, for tests.
#[cfg(test)]
pub(crate) fn test_model(
    songs: Vec<SongInfo>,
    k: usize,
    neighbours: Vec<u32>,
    scores: Vec<u16>,
    reasons: Vec<u8>,
) -> Model {
    let n = songs.len();
    let info = ModelInfo {
        trained_at: "2026-01-01T00:00:00Z".into(),
        params: BTreeMap::new(),
        metrics: BTreeMap::new(),
        songs: n,
    };
    let explanations = Explanations {
        credit_offsets: vec![0; n + 1],
        relation_offsets: vec![0; n + 1],
        ..Explanations::default()
    };
    Model::from_parts(
        info,
        songs.into_iter(),
        k,
        neighbours,
        scores,
        reasons,
        explanations,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three songs; song 0's neighbours are stored out of similarity order, as the model's
    /// artist spreading leaves them.
    fn model_with_scores(scores: [f32; 2]) -> Model {
        let songs = (0..3)
            .map(|i| SongInfo {
                id: 10 + i,
                title: format!("title {i}"),
                artist: "artist".into(),
                artist_id: 1,
                pageviews: Some(100 - i),
                ..SongInfo::default()
            })
            .collect();
        let quantised: Vec<u16> = scores.iter().map(|&s| Model::quantise(s)).collect();
        test_model(
            songs,
            2,
            vec![1, 2, 2, 0, 0, 1],
            [quantised.clone(), quantised.clone(), quantised].concat(),
            vec![0; 6],
        )
    }

    #[test]
    fn a_neighbour_placed_below_a_less_similar_one_is_scored_no_higher_than_it() {
        let model = model_with_scores([0.515, 0.757]);
        let scores: Vec<f32> = model.neighbours(0).map(|n| n.score).collect();
        assert_eq!(scores.len(), 2);
        assert!((scores[0] - 0.515).abs() < 1e-4, "{scores:?}");
        assert_eq!(scores[1], scores[0], "{scores:?}");
        let recommended: Vec<f32> = model
            .recommend(0, 2)
            .unwrap()
            .iter()
            .map(|r| r.score)
            .collect();
        assert_eq!(recommended, scores);
        // Scores already in order are the similarities as stored.
        let model = model_with_scores([0.9, 0.4]);
        let scores: Vec<f32> = model.neighbours(0).map(|n| n.score).collect();
        assert!((scores[0] - 0.9).abs() < 1e-4 && (scores[1] - 0.4).abs() < 1e-4);
    }

    #[test]
    fn has_song_is_song_id_without_the_read_and_touch_changes_nothing() {
        let model = model_with_scores([0.9, 0.4]);
        for i in 0..=model.len() + 1 {
            assert_eq!(model.has_song(i), model.song_id(i).is_some(), "{i}");
        }
        let before: Vec<Option<u64>> = (0..model.len()).map(|i| model.song_id(i)).collect();
        // In range, out of range, repeated, far past the end: hints only, never a read.
        model.touch(&[0, 2, 2, 3, usize::MAX]);
        model.touch(&[]);
        let after: Vec<Option<u64>> = (0..model.len()).map(|i| model.song_id(i)).collect();
        assert_eq!(before, after);
        assert_eq!(model.recommend(0, 2).unwrap().len(), 2);
    }

    /// `n` songs, each with every other one as a neighbour (k = n - 1), in an order of its own
    /// (`n` must be prime to 7).
    fn wide_model(n: usize) -> Model {
        let songs = (0..n as u64)
            .map(|i| SongInfo {
                id: 10 + i,
                title: format!("title {i}"),
                pageviews: Some(1000 - i),
                ..SongInfo::default()
            })
            .collect();
        let k = n - 1;
        let neighbours = (0..n)
            .flat_map(|i| (1..n).map(move |d| ((i + d * 7) % n) as u32))
            .collect();
        let scores = (0..n * k).map(|c| (60_000 - c % k * 1000) as u16).collect();
        let reasons = (0..n * k).map(|c| (c % 7) as u8).collect();
        test_model(songs, k, neighbours, scores, reasons)
    }

    #[test]
    fn the_head_table_and_the_whole_one_give_the_same_neighbours() {
        let n = table::HEAD_K + 6;
        let mut model = wide_model(n);
        assert_eq!(model.head, table::HEAD_K);
        let read = |model: &Model| -> Vec<Vec<Neighbour>> {
            (0..n).map(|i| model.neighbours(i).collect()).collect()
        };
        let with_head = read(&model);
        assert!(with_head.iter().all(|row| row.len() == n - 1));
        for (i, row) in with_head.iter().enumerate() {
            let stored = model.neighbour_indices(i).unwrap();
            let got: Vec<u32> = row.iter().map(|nb| nb.index as u32).collect();
            assert_eq!(got, stored, "song {i}");
        }
        // A file written before the head table: every neighbour from the whole table, alike.
        model.tables.head_neighbours = Vec::new().into();
        model.tables.head_scores = Vec::new().into();
        model.tables.head_reasons = Vec::new().into();
        model.head = model.tables.head_width();
        assert_eq!(model.head, 0);
        model.tables.validate(model.k, &mut |_| {}).unwrap();
        assert_eq!(read(&model), with_head);
    }

    #[test]
    fn a_head_table_naming_a_song_outside_the_catalogue_is_refused() {
        let mut model = wide_model(4);
        let mut head: Vec<u32> = model.tables.head_neighbours.to_vec();
        head[0] = 4;
        model.tables.head_neighbours = head.into();
        assert!(model.tables.validate(model.k, &mut |_| {}).is_err());
        let mut model = wide_model(4);
        model.tables.head_scores = vec![0u16; 3].into();
        assert!(model.tables.validate(model.k, &mut |_| {}).is_err());
    }
}
