//! What the HTTP routes need from a model.

use songrec_model::{Model, ModelInfo, RecommendError, Recommendation, SongView};

/// A loaded model as the routes see it: songs by browse-order index and each song's
/// precomputed neighbours. Implemented by [`songrec_model::Model`]; tests serve hand-made ones.
pub trait Recommender: Send + Sync + 'static {
    /// Number of songs, i.e. one past the largest valid index.
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The largest k the model answers.
    fn max_k(&self) -> usize;

    /// The song at a browse-order index.
    fn song(&self, index: usize) -> Option<SongView<'_>>;

    /// The browse-order index of a Genius song id.
    fn index_of(&self, song_id: u64) -> Option<usize>;

    /// The `k` best recommendations for the song at `index`, best first, never the song itself.
    fn recommend(&self, index: usize, k: usize) -> Result<Vec<Recommendation<'_>>, RecommendError>;

    /// When and how the model was trained.
    fn info(&self) -> &ModelInfo;
}

impl Recommender for Model {
    fn len(&self) -> usize {
        Model::len(self)
    }

    fn max_k(&self) -> usize {
        Model::max_k(self)
    }

    fn song(&self, index: usize) -> Option<SongView<'_>> {
        Model::song(self, index)
    }

    fn index_of(&self, song_id: u64) -> Option<usize> {
        Model::index_of(self, song_id)
    }

    fn recommend(&self, index: usize, k: usize) -> Result<Vec<Recommendation<'_>>, RecommendError> {
        Model::recommend(self, index, k)
    }

    fn info(&self) -> &ModelInfo {
        Model::info(self)
    }
}
