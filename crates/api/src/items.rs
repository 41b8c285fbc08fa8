//! The song records answers carry, borrowed from the served model while the answer is
//! serialised.

use serde::Serialize;
use songrec_model::SongView;
use utoipa::ToSchema;

use crate::Recommender;

/// A song of the served catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SongItem<'m> {
    /// Genius song id.
    #[schema(example = 2471960)]
    pub id: u64,
    /// Browse-order index: position by pageviews descending, ties by id, songs without
    /// pageviews last. `/recommend/{index}` accepts it when the song has pageviews.
    pub index: usize,
    pub title: &'m str,
    /// The primary artist.
    pub artist: &'m str,
    /// The primary artist's Genius id (`/artists/{id}`).
    pub artist_id: u64,
    pub album: Option<&'m str>,
    /// `YYYY-MM-DD` when the full date is known.
    pub release_date: Option<&'m str>,
    pub release_year: Option<i32>,
    /// Language code as Genius gives it (`en`, `es`, ...).
    pub language: Option<&'m str>,
    pub pageviews: Option<u64>,
    /// The song's Genius page.
    pub url: Option<&'m str>,
    /// Song art.
    pub art_url: Option<&'m str>,
}

impl<'m> SongItem<'m> {
    pub fn new(index: usize, s: SongView<'m>) -> SongItem<'m> {
        SongItem {
            id: s.id,
            index,
            title: s.title,
            artist: s.artist,
            artist_id: s.artist_id,
            album: s.album,
            release_date: s.release_date,
            release_year: s.release_year,
            language: s.language,
            pageviews: s.pageviews,
            url: s.url,
            art_url: s.art_url,
        }
    }

    /// The song at `index`, if the model has it.
    pub fn at(model: &'m dyn Recommender, index: usize) -> Option<SongItem<'m>> {
        model.song(index).map(|s| SongItem::new(index, s))
    }
}

/// A recommended song: the song, its score and why.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RecommendedSong<'m> {
    #[serde(flatten)]
    pub song: SongItem<'m>,
    /// Similarity to the request, higher is closer, capped at the score of the item above:
    /// never increases down a list, even where the model places a song below a less similar
    /// one. Cosine in [0, 1] for one song; for seeds, the mean over the seeds minus the mean
    /// over `avoid`.
    pub score: f32,
    /// Why it is recommended, most telling first.
    pub reasons: Vec<String>,
}
