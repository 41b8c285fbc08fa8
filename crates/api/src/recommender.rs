//! What the HTTP routes need from a model.

use songrec_model::{
    ArtistView, CreditView, Model, ModelInfo, Neighbour, Reason, RecommendError, Recommendation,
    SongView,
};

/// A loaded model as the routes see it: songs by browse-order index and each song's
/// precomputed neighbours. Implemented by [`songrec_model::Model`]; tests serve hand-made ones
/// (the methods with defaults are details a hand-made model may leave out).
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

    /// Every stored neighbour of the song at `index` (up to `max_k`), best first.
    fn neighbours(&self, index: usize) -> Vec<Neighbour>;

    /// The same neighbours one at a time, for callers that usually need only the first few.
    fn neighbours_iter(&self, index: usize) -> Box<dyn Iterator<Item = Neighbour> + '_> {
        Box::new(self.neighbours(index).into_iter())
    }

    /// The song at `index` as the JSON object answers carry, when the model stores it
    /// (`songrec_model::record::write_song` of `song(index)`); `None` has it written from
    /// `song(index)`.
    fn song_record(&self, _index: usize) -> Option<&[u8]> {
        None
    }

    /// Reads what an answer reads of each song of `songs` (before any is written), so that
    /// their reads overlap. Changes nothing else.
    fn touch(&self, _songs: &[usize]) {}

    /// Asks for what the reasons of `pairs` (neighbour, reason bits) of song `query` read,
    /// before they are written; a hint, like [`Recommender::touch`].
    fn touch_reasons(&self, _query: usize, _pairs: &[(usize, u8)]) {}

    /// Whether there is a song at `index`: `song(index).is_some()`, without reading it.
    fn has_song(&self, index: usize) -> bool {
        self.song(index).is_some()
    }

    /// The Genius id of the song at `index`: `song(index)`'s id, without reading the rest.
    fn song_id(&self, index: usize) -> Option<u64> {
        self.song(index).map(|s| s.id)
    }

    /// Why song `c` is a neighbour of song `q`, given the stored reason bits.
    fn reasons(&self, q: usize, c: usize, bits: u8) -> Vec<String>;

    /// The same reasons as [`Recommender::reasons`], handed to `each` one at a time (without
    /// a `String` per reason where the model can).
    fn each_reason(&self, q: usize, c: usize, bits: u8, each: &mut dyn FnMut(Reason<'_>)) {
        for reason in self.reasons(q, c, bits) {
            each(Reason::Text(&reason));
        }
    }

    /// When and how the model was trained.
    fn info(&self) -> &ModelInfo;

    /// Gives back the memory of the model's file pages read so far (they are read again as
    /// needed), before another model is loaded in its place.
    fn release_pages(&self) {}

    /// Songs `0..universe()` have pageviews (the original service's catalogue).
    fn universe(&self) -> usize {
        self.len()
    }

    fn credits(&self, _index: usize) -> Vec<CreditView<'_>> {
        Vec::new()
    }

    fn tags(&self, _index: usize) -> Vec<&str> {
        Vec::new()
    }

    fn artist(&self, _artist_id: u64) -> Option<ArtistView<'_>> {
        None
    }

    /// Browse-order indices of the artist's songs, most viewed first.
    fn songs_by_artist(&self, _artist_id: u64) -> &[u32] {
        &[]
    }
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

    fn neighbours(&self, index: usize) -> Vec<Neighbour> {
        Model::neighbours(self, index).collect()
    }

    fn neighbours_iter(&self, index: usize) -> Box<dyn Iterator<Item = Neighbour> + '_> {
        Box::new(Model::neighbours(self, index))
    }

    fn song_record(&self, index: usize) -> Option<&[u8]> {
        Model::song_record(self, index)
    }

    fn touch(&self, songs: &[usize]) {
        Model::touch(self, songs)
    }

    fn touch_reasons(&self, query: usize, pairs: &[(usize, u8)]) {
        Model::touch_reasons(self, query, pairs)
    }

    fn has_song(&self, index: usize) -> bool {
        Model::has_song(self, index)
    }

    fn song_id(&self, index: usize) -> Option<u64> {
        Model::song_id(self, index)
    }

    fn reasons(&self, q: usize, c: usize, bits: u8) -> Vec<String> {
        Model::reasons(self, q, c, bits)
    }

    fn each_reason(&self, q: usize, c: usize, bits: u8, each: &mut dyn FnMut(Reason<'_>)) {
        Model::each_reason(self, q, c, bits, each)
    }

    fn info(&self) -> &ModelInfo {
        Model::info(self)
    }

    fn release_pages(&self) {
        Model::release_pages(self)
    }

    fn universe(&self) -> usize {
        Model::universe(self)
    }

    fn credits(&self, index: usize) -> Vec<CreditView<'_>> {
        Model::credits(self, index)
    }

    fn tags(&self, index: usize) -> Vec<&str> {
        Model::tags(self, index).collect()
    }

    fn artist(&self, artist_id: u64) -> Option<ArtistView<'_>> {
        Model::artist(self, artist_id)
    }

    fn songs_by_artist(&self, artist_id: u64) -> &[u32] {
        Model::songs_by_artist(self, artist_id)
    }
}
