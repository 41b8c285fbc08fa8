//! The recommendation model: features from catalogue songs, nearest-neighbour search,
//! offline evaluation, and the versioned, checksummed model file that serving loads.
//!
//! Training precomputes every song's best neighbours, so serving is a lookup.
//!
//! Public surface (kept stable for `api`, `registry` and the CLI):
//! - [`train`] builds a [`Trained`] model from songs and [`TrainParams`];
//! - [`Model::save`] / [`Model::load`] write and read the model file (refusing corrupt ones);
//! - [`Model::recommend`] answers a query by browse-order index.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use songrec_catalog::Song;

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
    #[error("model file {path} has format version {found}, this build reads {expected}")]
    UnsupportedVersion {
        path: String,
        found: u32,
        expected: u32,
    },
    #[error("training failed: {0}")]
    Training(String),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecommendError {
    #[error("index {index} is out of range (0..{len})")]
    IndexOutOfRange { index: usize, len: usize },
    #[error("k must be between 1 and {max}")]
    KOutOfRange { k: usize, max: usize },
}

/// Training parameters; every field is recorded with the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainParams {
    /// Neighbours precomputed per song (the largest k the model can serve).
    pub k: usize,
    pub seed: u64,
}

impl Default for TrainParams {
    fn default() -> Self {
        TrainParams { k: 100, seed: 42 }
    }
}

/// A freshly trained model with its evaluation.
pub struct Trained {
    pub model: Model,
    /// Wall-clock seconds per phase (features, search, evaluation...).
    pub timings: BTreeMap<String, f64>,
}

/// A trained, loaded model: songs in browse order and each one's precomputed neighbours.
pub struct Model {
    _private: (),
}

impl Model {
    pub fn load(_path: &Path) -> Result<Model, ModelError> {
        todo!()
    }

    /// Writes the model file atomically and returns its SHA-256 (hex).
    pub fn save(&self, _path: &Path) -> Result<String, ModelError> {
        todo!()
    }

    pub fn info(&self) -> &ModelInfo {
        todo!()
    }

    pub fn len(&self) -> usize {
        todo!()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The largest k this model answers.
    pub fn max_k(&self) -> usize {
        todo!()
    }

    pub fn song(&self, _index: usize) -> Option<&SongInfo> {
        todo!()
    }

    pub fn index_of(&self, _song_id: u64) -> Option<usize> {
        todo!()
    }

    /// The `k` best recommendations for the song at `index`, best first, never the song itself.
    pub fn recommend(
        &self,
        _index: usize,
        _k: usize,
    ) -> Result<Vec<Recommendation<'_>>, RecommendError> {
        todo!()
    }
}

/// Builds features, finds neighbours, evaluates; the songs may come in any order.
pub fn train(_songs: &[Song], _params: &TrainParams) -> Result<Trained, ModelError> {
    todo!()
}
