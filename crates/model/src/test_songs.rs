//! Songs for the unit tests: an id, a primary artist and producer credits.

use songrec_catalog::{Artist, Credit, CreditRole, Song};

/// Song `id` by `primary`, produced by `producers` (artists named `A{id}`).
pub(crate) fn produced(id: u64, primary: u64, producers: &[u64]) -> Song {
    let artist = |id: u64| Artist {
        id,
        name: format!("A{id}"),
    };
    Song {
        credits: producers
            .iter()
            .map(|&p| Credit {
                role: CreditRole::Producer,
                artist: artist(p),
            })
            .collect(),
        ..Song::new(id, format!("S{id}"), artist(primary))
    }
}
