//! Title/artist search over the served catalogue, built once per loaded model.
//!
//! All entries live in one normalised string (one line per song, in browse order), so a query
//! is a single substring scan: fast enough for a million songs without an external index, and
//! results come out most popular first.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::Recommender;

/// Lower-cased, accent-free "title artist" lines of every song, in browse order.
pub(crate) struct SearchIndex {
    text: String,
    /// Byte offset where each song's line starts.
    starts: Vec<usize>,
}

/// One page of matches.
pub(crate) struct SearchPage {
    /// How many songs match in all.
    pub total: usize,
    /// Browse-order indices of the matches in `offset..offset + limit`.
    pub indices: Vec<usize>,
}

impl SearchIndex {
    pub fn build(model: &dyn Recommender) -> SearchIndex {
        let mut text = String::new();
        let mut starts = Vec::with_capacity(model.len());
        for index in 0..model.len() {
            starts.push(text.len());
            if let Some(song) = model.song(index) {
                push_normalised(&mut text, song.title);
                text.push(' ');
                push_normalised(&mut text, song.artist);
            }
            text.push('\n');
        }
        SearchIndex { text, starts }
    }

    /// Songs whose title or artist contain every word of `query` (case and accents ignored).
    pub fn search(&self, query: &str, offset: usize, limit: usize) -> SearchPage {
        let mut normalised = String::new();
        push_normalised(&mut normalised, query);
        let mut words: Vec<&str> = normalised.split_whitespace().collect();
        // Scan for the longest word: it has the fewest false starts.
        words.sort_by_key(|w| std::cmp::Reverse(w.len()));
        let Some((&scan_word, other_words)) = words.split_first() else {
            let total = self.starts.len();
            let end = offset.saturating_add(limit).min(total);
            return SearchPage {
                total,
                indices: (offset.min(end)..end).collect(),
            };
        };

        let mut page = SearchPage {
            total: 0,
            indices: Vec::new(),
        };
        let mut last_entry = None;
        for (position, _) in self.text.match_indices(scan_word) {
            let entry = self.starts.partition_point(|&start| start <= position) - 1;
            if last_entry == Some(entry) {
                continue;
            }
            last_entry = Some(entry);
            let line = self.line(entry);
            if other_words.iter().all(|w| line.contains(w)) {
                if page.total >= offset && page.indices.len() < limit {
                    page.indices.push(entry);
                }
                page.total += 1;
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
        &self.text[start..end]
    }
}

/// Appends `s` lower-cased, without accents, with every whitespace (no-break spaces and
/// newlines included) turned into a plain space so that lines stay one per song.
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

    fn index_of(lines: &[&str]) -> SearchIndex {
        let mut text = String::new();
        let mut starts = Vec::new();
        for line in lines {
            starts.push(text.len());
            push_normalised(&mut text, line);
            text.push('\n');
        }
        SearchIndex { text, starts }
    }

    #[test]
    fn search_ignores_case_and_accents_and_needs_every_word() {
        let index = index_of(&[
            "Halo Beyoncé",
            "Crazy in Love Beyonce",
            "Halo Walk the Moon",
        ]);
        assert_eq!(index.search("BEYONCE", 0, 10).indices, vec![0, 1]);
        assert_eq!(index.search("halo beyonce", 0, 10).indices, vec![0]);
        assert_eq!(index.search("  moon   halo ", 0, 10).indices, vec![2]);
        assert_eq!(index.search("nothing", 0, 10).total, 0);
    }

    #[test]
    fn search_pages_through_matches_and_counts_them_all() {
        let index = index_of(&["a x", "b x", "c", "d x", "e x"]);
        let page = index.search("x", 1, 2);
        assert_eq!(page.total, 4);
        assert_eq!(page.indices, vec![1, 3]);
        assert!(index.search("x", 10, 2).indices.is_empty());
    }

    #[test]
    fn an_empty_query_lists_every_song_in_order() {
        let index = index_of(&["a", "b", "c"]);
        let page = index.search("  ", 1, 5);
        assert_eq!((page.total, page.indices), (3, vec![1, 2]));
        assert!(index.search("", 7, 5).indices.is_empty());
    }

    #[test]
    fn a_word_matching_twice_in_one_song_counts_once() {
        let index = index_of(&["la la land", "lala"]);
        assert_eq!(index.search("la", 0, 10).indices, vec![0, 1]);
    }

    #[test]
    fn no_break_spaces_and_newlines_in_names_do_not_split_songs() {
        let index = index_of(&["Title\u{a0}by\nX", "Other"]);
        assert_eq!(index.search("by x", 0, 10).indices, vec![0]);
        assert_eq!(index.starts.len(), 2);
    }
}
