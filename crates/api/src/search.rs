//! Browse and search over the served catalogue, built once per loaded model.
//!
//! All entries live in one normalised string (one `title<TAB>artist` line per song, in browse
//! order), so a query is a substring scan: fast enough for a million songs without an external
//! index. Title and release-date orders are precomputed. The cost of any query is bounded by
//! one pass over the catalogue: queries have at most [`MAX_WORDS`] words of bounded length.

use std::borrow::Cow;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::Recommender;

/// Most words a query may have; more is refused before any scan.
pub(crate) const MAX_WORDS: usize = 10;
/// Longest query (and artist filter), in bytes.
pub(crate) const MAX_QUERY_LEN: usize = 200;

/// Lower-cased, accent-free lines of every song, in browse order, and the other orders.
pub(crate) struct SearchIndex {
    text: String,
    /// Byte offset where each song's line starts.
    starts: Vec<usize>,
    /// Indices by normalised title, then browse order.
    by_title: Vec<u32>,
    /// Indices by release date, newest first, songs without one last (in browse order).
    by_date: Vec<u32>,
}

/// The order of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sort {
    Pageviews,
    Title,
    ReleaseDate,
}

/// What to list.
pub(crate) struct Search<'a> {
    pub q: &'a str,
    pub artist: Option<&'a str>,
    pub language: Option<&'a str>,
    /// Release year bounds, inclusive; songs without a year are left out when either is set.
    pub min_year: Option<i32>,
    pub max_year: Option<i32>,
    /// Songs without pageviews are left out when this is set.
    pub min_pageviews: Option<u64>,
    pub sort: Sort,
    pub offset: usize,
    pub limit: usize,
}

/// One page of matches.
pub(crate) struct SearchPage {
    /// How many songs match in all.
    pub total: usize,
    /// Browse-order indices of the matches in `offset..offset + limit`.
    pub indices: Vec<usize>,
}

/// Room reserved per song for its normalised title and artist (most are shorter; a longer one
/// only grows the buffer).
const TEXT_BYTES_PER_SONG: usize = 48;

impl SearchIndex {
    pub fn build(model: &dyn Recommender) -> SearchIndex {
        let n = model.len();
        // Sized once and borrowed from the model where possible: a model swap builds a new
        // index, and many small or regrown allocations would leave the allocator fragmented.
        let mut text = String::with_capacity(n.saturating_mul(TEXT_BYTES_PER_SONG));
        let mut starts = Vec::with_capacity(n);
        let mut dates: Vec<(Cow<'_, str>, u32)> = Vec::with_capacity(n);
        for index in 0..n {
            starts.push(text.len());
            if let Some(song) = model.song(index) {
                push_normalised(&mut text, song.title);
                text.push('\t');
                push_normalised(&mut text, song.artist);
                let date = song
                    .release_date
                    .map(Cow::Borrowed)
                    .or_else(|| song.release_year.map(|y| Cow::Owned(format!("{y:04}"))));
                if let Some(date) = date {
                    dates.push((date, index as u32));
                }
            }
            text.push('\n');
        }
        let mut index = SearchIndex {
            text,
            starts,
            by_title: (0..n as u32).collect(),
            by_date: Vec::new(),
        };
        let mut by_title = std::mem::take(&mut index.by_title);
        by_title.sort_by(|&a, &b| {
            index
                .title(a as usize)
                .cmp(index.title(b as usize))
                .then(a.cmp(&b))
        });
        index.by_title = by_title;
        dates.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut dated = vec![false; n];
        let mut by_date: Vec<u32> = dates
            .into_iter()
            .map(|(_, i)| {
                dated[i as usize] = true;
                i
            })
            .collect();
        by_date.extend((0..n as u32).filter(|&i| !dated[i as usize]));
        index.by_date = by_date;
        index
    }

    /// Songs whose title or artist contain every word of `q`, whose artist contains `artist`
    /// and whose language is `language` (case and accents ignored), in the asked order.
    pub fn search(&self, model: &dyn Recommender, request: &Search<'_>) -> SearchPage {
        let normalised = normalise(request.q);
        let mut words: Vec<&str> = normalised.split_whitespace().collect();
        // Scan for the longest word: it has the fewest false starts.
        words.sort_by_key(|w| std::cmp::Reverse(w.len()));
        words.dedup();
        let artist = request.artist.map(normalise);
        let artist = artist.as_deref().map(str::trim).filter(|a| !a.is_empty());
        let numeric = request.min_year.is_some()
            || request.max_year.is_some()
            || request.min_pageviews.is_some();
        let matches = |entry: usize, skip_first: bool| {
            let line = self.line(entry);
            let skip = usize::from(skip_first);
            words.iter().skip(skip).all(|w| line.contains(w))
                && artist.is_none_or(|a| self.artist(entry).contains(a))
                && request.language.is_none_or(|l| {
                    model
                        .song(entry)
                        .and_then(|s| s.language)
                        .is_some_and(|sl| sl.eq_ignore_ascii_case(l))
                })
                && (!numeric || {
                    let song = model.song(entry);
                    let year = song.and_then(|s| s.release_year);
                    let views = song.and_then(|s| s.pageviews);
                    request
                        .min_year
                        .is_none_or(|m| year.is_some_and(|y| y >= m))
                        && request
                            .max_year
                            .is_none_or(|m| year.is_some_and(|y| y <= m))
                        && request
                            .min_pageviews
                            .is_none_or(|m| views.is_some_and(|v| v >= m))
                })
        };
        let mut page = SearchPage {
            total: 0,
            indices: Vec::new(),
        };
        let mut take = |entry: usize| {
            if page.total >= request.offset && page.indices.len() < request.limit {
                page.indices.push(entry);
            }
            page.total += 1;
        };
        let filtered =
            !words.is_empty() || artist.is_some() || request.language.is_some() || numeric;
        match (request.sort, words.first()) {
            (Sort::Pageviews, Some(&scan_word)) => {
                let mut last_entry = None;
                for (position, _) in self.text.match_indices(scan_word) {
                    let entry = self.starts.partition_point(|&start| start <= position) - 1;
                    if last_entry == Some(entry) {
                        continue;
                    }
                    last_entry = Some(entry);
                    if matches(entry, true) {
                        take(entry);
                    }
                }
            }
            (Sort::Pageviews, None) if !filtered => {
                let total = self.starts.len();
                let end = request.offset.saturating_add(request.limit).min(total);
                return SearchPage {
                    total,
                    indices: (request.offset.min(end)..end).collect(),
                };
            }
            (Sort::Pageviews, None) => (0..self.starts.len())
                .filter(|&e| matches(e, false))
                .for_each(&mut take),
            (Sort::Title | Sort::ReleaseDate, _) => {
                let order = if request.sort == Sort::Title {
                    &self.by_title
                } else {
                    &self.by_date
                };
                order
                    .iter()
                    .map(|&e| e as usize)
                    .filter(|&e| !filtered || matches(e, false))
                    .for_each(&mut take);
            }
        }
        page
    }

    fn line(&self, entry: usize) -> &str {
        let start = self.starts[entry];
        let end = self
            .starts
            .get(entry + 1)
            .copied()
            .unwrap_or(self.text.len());
        self.text[start..end].trim_end_matches('\n')
    }

    fn title(&self, entry: usize) -> &str {
        let line = self.line(entry);
        line.split('\t').next().unwrap_or(line)
    }

    fn artist(&self, entry: usize) -> &str {
        let line = self.line(entry);
        line.split_once('\t').map_or("", |(_, artist)| artist)
    }
}

/// `s` lower-cased, without accents, every whitespace (tabs, no-break spaces and newlines
/// included) a plain space, so that lines stay one per song and fields stay apart.
pub(crate) fn normalise(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_normalised(&mut out, s);
    out
}

fn push_normalised(out: &mut String, s: &str) {
    for c in s.nfkd().filter(|c| !is_combining_mark(*c)) {
        if c.is_whitespace() {
            out.push(' ');
        } else {
            out.extend(c.to_lowercase());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_of(lines: &[(&str, &str)]) -> SearchIndex {
        let mut text = String::new();
        let mut starts = Vec::new();
        for (title, artist) in lines {
            starts.push(text.len());
            push_normalised(&mut text, title);
            text.push('\t');
            push_normalised(&mut text, artist);
            text.push('\n');
        }
        let n = lines.len() as u32;
        SearchIndex {
            text,
            starts,
            by_title: (0..n).rev().collect(),
            by_date: (0..n).collect(),
        }
    }

    /// A model is only consulted for languages; these tests never filter by language.
    struct NoModel;

    impl Recommender for NoModel {
        fn len(&self) -> usize {
            0
        }
        fn max_k(&self) -> usize {
            0
        }
        fn song(&self, _: usize) -> Option<songrec_model::SongView<'_>> {
            None
        }
        fn index_of(&self, _: u64) -> Option<usize> {
            None
        }
        fn recommend(
            &self,
            _: usize,
            _: usize,
        ) -> Result<Vec<songrec_model::Recommendation<'_>>, songrec_model::RecommendError> {
            Ok(Vec::new())
        }
        fn neighbours(&self, _: usize) -> Vec<songrec_model::Neighbour> {
            Vec::new()
        }
        fn reasons(&self, _: usize, _: usize, _: u8) -> Vec<String> {
            Vec::new()
        }
        fn info(&self) -> &songrec_model::ModelInfo {
            unreachable!("not used by search")
        }
    }

    fn find(index: &SearchIndex, q: &str, artist: Option<&str>, sort: Sort) -> Vec<usize> {
        let request = Search {
            q,
            artist,
            language: None,
            min_year: None,
            max_year: None,
            min_pageviews: None,
            sort,
            offset: 0,
            limit: 10,
        };
        index.search(&NoModel, &request).indices
    }

    #[test]
    fn search_ignores_case_and_accents_and_needs_every_word() {
        let index = index_of(&[
            ("Halo", "Beyoncé"),
            ("Crazy in Love", "Beyonce"),
            ("Halo", "Walk the Moon"),
        ]);
        assert_eq!(find(&index, "BEYONCE", None, Sort::Pageviews), vec![0, 1]);
        assert_eq!(find(&index, "halo beyonce", None, Sort::Pageviews), vec![0]);
        assert_eq!(
            find(&index, "  moon   halo ", None, Sort::Pageviews),
            vec![2]
        );
        assert!(find(&index, "nothing", None, Sort::Pageviews).is_empty());
    }

    #[test]
    fn the_artist_filter_looks_at_the_artist_only() {
        let index = index_of(&[("Moon Song", "Halo"), ("Halo", "Moon")]);
        assert_eq!(find(&index, "", Some("MOON"), Sort::Pageviews), vec![1]);
        assert_eq!(find(&index, "halo", Some("moon"), Sort::Pageviews), vec![1]);
    }

    #[test]
    fn other_orders_list_the_same_matches_in_their_order() {
        let index = index_of(&[("a x", "z"), ("b x", "z"), ("c", "z")]);
        assert_eq!(find(&index, "x", None, Sort::Title), vec![1, 0]);
        assert_eq!(find(&index, "", None, Sort::ReleaseDate), vec![0, 1, 2]);
    }

    #[test]
    fn search_pages_through_matches_and_counts_them_all() {
        let index = index_of(&[
            ("a x", ""),
            ("b x", ""),
            ("c", ""),
            ("d x", ""),
            ("e x", ""),
        ]);
        let request = Search {
            q: "x",
            artist: None,
            language: None,
            min_year: None,
            max_year: None,
            min_pageviews: None,
            sort: Sort::Pageviews,
            offset: 1,
            limit: 2,
        };
        let page = index.search(&NoModel, &request);
        assert_eq!(page.total, 4);
        assert_eq!(page.indices, vec![1, 3]);
    }

    #[test]
    fn a_word_matching_twice_in_one_song_counts_once() {
        let index = index_of(&[("la la land", ""), ("lala", "")]);
        assert_eq!(find(&index, "la", None, Sort::Pageviews), vec![0, 1]);
    }

    #[test]
    fn tabs_no_break_spaces_and_newlines_in_names_do_not_split_songs() {
        let index = index_of(&[("Title\u{a0}by\nX\tY", "Z"), ("Other", "")]);
        assert_eq!(find(&index, "by x y", None, Sort::Pageviews), vec![0]);
        assert_eq!(index.starts.len(), 2);
        assert_eq!(index.artist(0), "z");
    }
}
