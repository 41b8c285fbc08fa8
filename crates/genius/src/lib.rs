//! Everything songrec knows about the Genius API: lenient response types and their
//! conversion into catalogue [`songrec_catalog::Song`]s.

pub mod types;

pub use types::{ParseSongError, parse_song_value};
