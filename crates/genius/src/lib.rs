//! Everything songrec knows about the Genius API: lenient response types, their conversion
//! into catalogue [`songrec_catalog::Song`]s, and a polite HTTP client.
//!
//! # Layout
//! - [`types`]: serde models of Genius objects and [`parse_song_value`].
//! - [`client`]: [`GeniusClient`], the typed endpoints with rate limit, timeouts and retries.
//! - [`fetch`]: [`fetch::Fetcher`], a resumable fetch run from artist name to stored songs.
//! - [`rotation`]: the built-in artist list and the artist of the hour.
//! - [`error`]: [`GeniusError`], one variant per way a request fails.

pub mod client;
pub mod error;
pub mod fetch;
mod retry;
pub mod rotation;
pub mod types;

pub use client::{CatalogueSort, ClientConfig, DEFAULT_BASE_URL, GeniusClient, SongDetails};
pub use error::GeniusError;
pub use retry::RetryPolicy;
pub use types::{ParseSongError, parse_song_value};
