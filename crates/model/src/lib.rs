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
//! - `search`: neighbour search (exact, or approximate past a size), cold-start fallback;
//! - `original`: the replaced system's model, for comparison;
//! - `evaluate`: held-out and catalogue metrics;
//! - `versions`: which songs are versions of one song (live, remix, translation, re-release);
//! - `file`: the model file format.

mod evaluate;
mod features;
mod file;
mod original;
mod params;
mod search;
mod train;
mod versions;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use evaluate::{
    LabelReport, MAX_LABEL_LINES, PRIMARY_METRIC, SceneReport, TruthRow, coverage, label_report,
    parse_labels, parse_truth, popularity_bias, same_artist_share, scene_report,
};
pub use features::{is_version_relationship, reason};
pub use file::FORMAT_VERSION;
pub use params::{FeatureSet, FeatureWeights, MAX_K, TrainParams};
pub use train::train;

/// What the API shows about a song in the model's catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SongInfo {
    pub id: u64,
    pub title: String,
    pub artist: String,
    pub pageviews: Option<u64>,
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
    pub song: &'m SongInfo,
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

/// What the reasons are made of: each song's credited artists and relationships.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Explanations {
    /// Artist names; credits refer to them by position.
    pub names: Vec<String>,
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
pub struct Model {
    info: ModelInfo,
    songs: Vec<SongInfo>,
    /// (song id, index), sorted by id.
    by_id: Vec<(u64, u32)>,
    /// Neighbours stored per song: `neighbours[i * k .. (i + 1) * k]`.
    k: usize,
    neighbours: Vec<u32>,
    scores: Vec<u16>,
    reasons: Vec<u8>,
    explanations: Explanations,
    original_features: bool,
}

impl Model {
    pub(crate) fn from_parts(
        info: ModelInfo,
        songs: Vec<SongInfo>,
        k: usize,
        neighbours: Vec<u32>,
        scores: Vec<u16>,
        reasons: Vec<u8>,
        explanations: Explanations,
    ) -> Model {
        let mut by_id: Vec<(u64, u32)> = songs
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id, i as u32))
            .collect();
        by_id.sort_unstable();
        let original_features =
            info.params.get("features").map(String::as_str) == Some(FeatureSet::Original.as_str());
        Model {
            info,
            songs,
            by_id,
            k,
            neighbours,
            scores,
            reasons,
            explanations,
            original_features,
        }
    }

    /// Checks every cross-reference, so a decoded file can never make serving panic.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let n = self.songs.len();
        let cells = n.checked_mul(self.k).ok_or("k is too large")?;
        if self.neighbours.len() != cells
            || self.scores.len() != cells
            || self.reasons.len() != cells
        {
            return Err(format!(
                "neighbour table is not {n} songs x {} neighbours",
                self.k
            ));
        }
        if self.k > 0 && self.k >= n {
            return Err(format!("{} neighbours per song but only {n} songs", self.k));
        }
        for (i, row) in self.neighbours.chunks(self.k.max(1)).enumerate() {
            if row.iter().any(|&c| c as usize >= n || c as usize == i) {
                return Err(format!("song {i} has a neighbour outside the catalogue"));
            }
        }
        let e = &self.explanations;
        check_offsets(&e.credit_offsets, n, e.credit_names.len(), "credit")?;
        if e.credit_roles.len() != e.credit_names.len()
            || e.credit_names.iter().any(|&a| a as usize >= e.names.len())
        {
            return Err("credits refer to unknown artists".into());
        }
        check_offsets(
            &e.relation_offsets,
            n,
            e.relation_targets.len(),
            "relationship",
        )?;
        if e.relation_kind.len() != e.relation_targets.len()
            || e.relation_targets.iter().any(|&t| t as usize >= n)
            || e.relation_kind
                .iter()
                .any(|&k| k as usize >= e.relation_kinds.len())
        {
            return Err("relationships refer to unknown songs or kinds".into());
        }
        if self.info.songs != n {
            return Err(format!(
                "info says {} songs, file holds {n}",
                self.info.songs
            ));
        }
        Ok(())
    }

    /// Reads a model file, refusing one that is corrupt, truncated or of another format version.
    pub fn load(path: &Path) -> Result<Model, ModelError> {
        file::load(path, None)
    }

    /// [`Model::load`], also refusing the file unless the SHA-256 (hex) of its whole content is
    /// `expected_file_sha256` (as a registry recorded it, and as [`Model::save`] returns it).
    ///
    /// The hash is computed from the same single read that decodes the file, so a caller that
    /// has a recorded checksum need not hash the file beforehand. A file that differs is refused
    /// with [`ModelError::ChecksumMismatch`], even when it is also corrupt in other ways.
    pub fn load_expecting(path: &Path, expected_file_sha256: &str) -> Result<Model, ModelError> {
        file::load(path, Some(expected_file_sha256))
    }

    /// Writes the model file atomically and returns its SHA-256 (hex).
    pub fn save(&self, path: &Path) -> Result<String, ModelError> {
        file::save(self, path)
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    pub fn len(&self) -> usize {
        self.songs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The largest k this model answers.
    pub fn max_k(&self) -> usize {
        self.k
    }

    pub fn song(&self, index: usize) -> Option<&SongInfo> {
        self.songs.get(index)
    }

    pub fn index_of(&self, song_id: u64) -> Option<usize> {
        self.by_id
            .binary_search_by_key(&song_id, |e| e.0)
            .ok()
            .map(|pos| self.by_id[pos].1 as usize)
    }

    /// The stored neighbour indices of a song (all `max_k` of them), best first.
    pub fn neighbour_indices(&self, index: usize) -> Option<&[u32]> {
        (index < self.songs.len()).then(|| &self.neighbours[index * self.k..(index + 1) * self.k])
    }

    /// The `k` best recommendations for the song at `index`, best first, never the song itself.
    pub fn recommend(
        &self,
        index: usize,
        k: usize,
    ) -> Result<Vec<Recommendation<'_>>, RecommendError> {
        if index >= self.songs.len() {
            return Err(RecommendError::IndexOutOfRange {
                index,
                len: self.songs.len(),
            });
        }
        if k == 0 || k > self.k {
            return Err(RecommendError::KOutOfRange { k, max: self.k });
        }
        let row = index * self.k;
        Ok((row..row + k)
            .map(|cell| {
                let c = self.neighbours[cell] as usize;
                Recommendation {
                    index: c,
                    song: &self.songs[c],
                    score: f32::from(self.scores[cell]) / SCORE_SCALE,
                    reasons: self.explain(index, c, self.reasons[cell]),
                }
            })
            .collect())
    }

    fn credits(&self, song: usize) -> impl Iterator<Item = (u32, u8)> + '_ {
        let e = &self.explanations;
        let range = e.credit_offsets[song] as usize..e.credit_offsets[song + 1] as usize;
        e.credit_names[range.clone()]
            .iter()
            .copied()
            .zip(e.credit_roles[range].iter().copied())
    }

    /// The first artist credited on both songs whose roles satisfy `wanted`.
    fn shared_artist(&self, a: usize, b: usize, wanted: impl Fn(u8, u8) -> bool) -> Option<&str> {
        let theirs: Vec<(u32, u8)> = self.credits(b).collect();
        self.credits(a).find_map(|(name, role_a)| {
            let pos = theirs.binary_search_by_key(&name, |c| c.0).ok()?;
            wanted(role_a, theirs[pos].1).then(|| self.explanations.names[name as usize].as_str())
        })
    }

    fn relation_kind(&self, from: usize, to: usize) -> Option<&str> {
        let e = &self.explanations;
        let range = e.relation_offsets[from] as usize..e.relation_offsets[from + 1] as usize;
        range
            .into_iter()
            .find(|&i| e.relation_targets[i] as usize == to)
            .map(|i| e.relation_kinds[e.relation_kind[i] as usize].as_str())
    }

    fn explain(&self, q: usize, c: usize, bits: u8) -> Vec<String> {
        use features::role;
        let mut out = Vec::new();
        if bits & reason::SAME_ARTIST != 0 {
            out.push("same artist".to_string());
        }
        let credited = |name: Option<&str>, label: &str| match name {
            Some(name) => format!("{label} {name}"),
            None => label.to_string(),
        };
        if bits & reason::FEATURED != 0 {
            let name = self.shared_artist(q, c, |a, b| {
                (a | b) & role::FEATURED != 0 && a & b & role::PRIMARY == 0
            });
            out.push(credited(name, "featured together:"));
        }
        if bits & reason::PRODUCER != 0 {
            let name = self.shared_artist(q, c, |a, b| a & b & role::PRODUCER != 0);
            out.push(credited(name, "shared producer"));
        }
        if bits & reason::WRITER != 0 {
            let name = self.shared_artist(q, c, |a, b| a & b & role::WRITER != 0);
            out.push(credited(name, "shared writer"));
        }
        if bits & reason::ALBUM != 0 {
            out.push("same album".to_string());
        }
        if bits & reason::RELATED != 0 {
            let kind = self.relation_kind(q, c).map(|k| k.replace('_', " "));
            out.push(kind.unwrap_or_else(|| "related songs".to_string()));
        }
        if bits & reason::SCENE != 0 {
            out.push("same circle of collaborators".to_string());
        }
        if bits & reason::FALLBACK != 0 {
            out.push(if self.original_features {
                "similar popularity".to_string()
            } else {
                "few shared credits: same language and era, similar popularity".to_string()
            });
        }
        out
    }

    pub(crate) fn quantise(score: f32) -> u16 {
        (score.clamp(0.0, 1.0) * SCORE_SCALE).round() as u16
    }
}

fn check_offsets(offsets: &[u32], n: usize, len: usize, what: &str) -> Result<(), String> {
    let ok = offsets.len() == n + 1
        && offsets.first() == Some(&0)
        && offsets.last().map(|&l| l as usize) == Some(len)
        && offsets.windows(2).all(|w| w[0] <= w[1]);
    if ok {
        Ok(())
    } else {
        Err(format!("{what} offsets are inconsistent"))
    }
}
