//! The catalogue's vocabulary: the normalised song record that flows between stages.
//!
//! `genius` turns API song objects into [`Song`]s, `store` persists and streams them back,
//! `model` builds features from them. Nothing here does I/O.

use serde::{Deserialize, Serialize};

/// The version of the stored per-song record: the store keeps every [`Song`] in a compact
/// binary encoding of this struct (serde field order, no field names), which training reads
/// back without re-parsing JSON.
///
/// Bump it whenever [`Song`] or a type inside it changes shape (a field added, removed,
/// reordered or retyped): on its next start the store re-derives every record from the raw JSON
/// it keeps, once. The encoding is not self-describing, so fields must not use
/// `skip_serializing_if`, `flatten` or untagged enums.
pub const SONG_RECORD_VERSION: u32 = 1;

/// A Genius artist, identified by its Genius id. Names are free text and never split.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Artist {
    pub id: u64,
    pub name: String,
}

/// An album a song appears on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Album {
    pub id: u64,
    pub name: String,
}

/// The part an artist played on a song, besides being its primary artist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreditRole {
    Primary,
    Featured,
    Producer,
    Writer,
}

impl CreditRole {
    pub const ALL: [CreditRole; 4] = [
        CreditRole::Primary,
        CreditRole::Featured,
        CreditRole::Producer,
        CreditRole::Writer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CreditRole::Primary => "primary",
            CreditRole::Featured => "featured",
            CreditRole::Producer => "producer",
            CreditRole::Writer => "writer",
        }
    }

    pub fn parse(s: &str) -> Option<CreditRole> {
        CreditRole::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// One credited artist on a song.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credit {
    pub role: CreditRole,
    pub artist: Artist,
}

/// A typed link from one song to another (`samples`, `cover_of`, `remixed_by`, ...).
///
/// The kind is kept as Genius spells it, because new kinds appear over time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relationship {
    pub kind: String,
    pub song_id: u64,
}

/// A song as songrec knows it: everything the model may use and the API may show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Song {
    pub id: u64,
    pub title: String,
    pub primary_artist: Artist,
    /// Featured, producer and writer credits (the primary artist is not repeated here).
    pub credits: Vec<Credit>,
    pub album: Option<Album>,
    /// `YYYY-MM-DD` when Genius knows the full date.
    pub release_date: Option<String>,
    /// The year, even when only a partial date is known.
    pub release_year: Option<i32>,
    pub language: Option<String>,
    pub pageviews: Option<u64>,
    pub relationships: Vec<Relationship>,
    /// Plain-text description; Genius's empty placeholder `"?"` is stored as `None`.
    pub description: Option<String>,
    pub url: Option<String>,
    pub song_art_image_url: Option<String>,
}

impl Song {
    /// Artists credited in `role`, primary included when asked for.
    pub fn artists_in(&self, role: CreditRole) -> impl Iterator<Item = &Artist> {
        let primary = (role == CreditRole::Primary).then_some(&self.primary_artist);
        primary.into_iter().chain(
            self.credits
                .iter()
                .filter(move |c| c.role == role)
                .map(|c| &c.artist),
        )
    }
}

/// The serving order of the original browse page: pageviews descending, ties by id
/// ascending, songs without pageviews last (by id). `GET /recommend/{index}` indexes this order.
pub fn browse_order(a: (Option<u64>, u64), b: (Option<u64>, u64)) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a.0, b.0) {
        (Some(x), Some(y)) => y.cmp(&x).then(a.1.cmp(&b.1)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.1.cmp(&b.1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browse_order_puts_most_viewed_first_ties_by_id_and_missing_last() {
        let mut v = vec![
            (None, 1),
            (Some(5), 9),
            (Some(7), 3),
            (Some(5), 2),
            (None, 0),
        ];
        v.sort_by(|a, b| browse_order(*a, *b));
        assert_eq!(
            v,
            vec![
                (Some(7), 3),
                (Some(5), 2),
                (Some(5), 9),
                (None, 0),
                (None, 1)
            ]
        );
    }
}
