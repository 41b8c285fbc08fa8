//! Recommendation filters (`exclude_artist`, `max_per_artist`, `language`, `min_year`,
//! `max_year`, `min_pageviews`, excluded songs) and the selection of the best candidates that
//! pass them.

use songrec_model::SongView;

use crate::Recommender;

/// What a recommendation list may hold. Built from the request; every list is bounded by the
/// request's own size checks.
#[derive(Debug, Default)]
pub(crate) struct Filters {
    /// Leave out songs whose primary artist is one of these (the requested songs' artists).
    pub excluded_artists: Vec<u64>,
    pub max_per_artist: Option<usize>,
    /// Lower-case language code.
    pub language: Option<String>,
    pub min_year: Option<i32>,
    pub max_year: Option<i32>,
    pub min_pageviews: Option<u64>,
    /// Browse indices never to recommend (the seeds, `exclude`).
    pub excluded_songs: Vec<usize>,
    /// Only indices below this (the original route's catalogue of songs with pageviews).
    pub below_index: usize,
}

impl Filters {
    pub fn new(below_index: usize) -> Filters {
        Filters {
            below_index,
            ..Filters::default()
        }
    }

    /// Whether anything beyond the catalogue bound and excluded songs is asked for, in which
    /// case a list may be shorter than k.
    pub fn narrows(&self) -> bool {
        !self.excluded_artists.is_empty()
            || self.max_per_artist.is_some()
            || self.language.is_some()
            || self.min_year.is_some()
            || self.max_year.is_some()
            || self.min_pageviews.is_some()
    }

    /// Whether a song passes the filters on its details (not the index filters).
    fn admits(&self, song: &SongView<'_>) -> bool {
        if self.excluded_artists.contains(&song.artist_id) {
            return false;
        }
        if let Some(language) = &self.language
            && !song
                .language
                .is_some_and(|l| l.eq_ignore_ascii_case(language))
        {
            return false;
        }
        if self.min_year.is_some() || self.max_year.is_some() {
            let Some(year) = song.release_year else {
                return false;
            };
            if self.min_year.is_some_and(|min| year < min)
                || self.max_year.is_some_and(|max| year > max)
            {
                return false;
            }
        }
        if let Some(min) = self.min_pageviews
            && song.pageviews.is_none_or(|p| p < min)
        {
            return false;
        }
        true
    }

    /// The first `k` candidates (best first) that pass, keeping at most `max_per_artist` per
    /// primary artist.
    pub fn select<T>(
        &self,
        model: &dyn Recommender,
        candidates: impl IntoIterator<Item = (usize, T)>,
        k: usize,
    ) -> Vec<(usize, T)> {
        // Without narrowing filters a song's details are not needed, only that it exists.
        let narrows = self.narrows();
        let mut chosen = Vec::with_capacity(k);
        let mut per_artist: Vec<(u64, usize)> = Vec::new();
        for (index, extra) in candidates {
            if chosen.len() == k {
                break;
            }
            if index >= self.below_index
                || self.excluded_songs.contains(&index)
                || chosen.iter().any(|(i, _)| *i == index)
            {
                continue;
            }
            if !narrows {
                if model.has_song(index) {
                    chosen.push((index, extra));
                }
                continue;
            }
            let Some(song) = model.song(index) else {
                continue;
            };
            if !self.admits(&song) {
                continue;
            }
            if let Some(max) = self.max_per_artist {
                match per_artist.iter_mut().find(|(a, _)| *a == song.artist_id) {
                    Some((_, n)) if *n >= max => continue,
                    Some((_, n)) => *n += 1,
                    None => per_artist.push((song.artist_id, 1)),
                }
            }
            chosen.push((index, extra));
        }
        chosen
    }
}
