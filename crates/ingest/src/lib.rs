//! Ingestion: from Genius song JSON to store rows, one path for `songrec import`, `songrec fetch`
//! and the tests.
//!
//! - [`import_paths`]: files and directories of song JSON (JSON Lines, arrays, API envelopes,
//!   lyricsgenius `Lyrics_<Artist>.json` artist files) into the store, parsed on all cores while
//!   the store writes; rejected records are reported with their place and the rest is imported.
//! - [`parse_song_json`]: one song object's text to a [`Song`], as the store re-derives its song
//!   records.
//! - [`open_store`]: opens the store, applies migrations and brings its song records up to this
//!   build's [`songrec_catalog::SONG_RECORD_VERSION`].

mod import;
mod read;

pub use import::{ImportObserver, ImportReport, import_paths, input_files};
pub use read::{ArtistPlace, Place};

use songrec_catalog::Song;
use songrec_store::{Store, StoreConfig, StoreError};

/// Parses the text of one Genius song object (as kept in the store's raw JSON) into a song.
///
/// A bare song object is parsed straight into the typed form; anything else (an API envelope,
/// a `{"song": ..}` wrapper) goes through the generic JSON tree first.
pub fn parse_song_json(text: &str) -> Result<Song, String> {
    if let Ok(song) = serde_json::from_str::<songrec_genius::types::Song>(text)
        && song.id.is_some()
    {
        return song.into_catalog().map_err(|e| e.to_string());
    }
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    songrec_genius::parse_song_value(value).map_err(|e| e.to_string())
}

/// Opens the store (applying pending migrations) and derives again, from the raw JSON it keeps,
/// every song record written with another format version than this build's: after a migration
/// that added records, or after a build that changed [`Song`].
pub async fn open_store(config: &StoreConfig) -> Result<Store, StoreError> {
    let store = Store::connect(config).await?;
    refresh_song_records(&store).await?;
    Ok(store)
}

/// Derives outdated song records again (see [`open_store`]); does nothing when none are.
pub async fn refresh_song_records(store: &Store) -> Result<(), StoreError> {
    let outdated = store.outdated_song_records().await?;
    if outdated == 0 {
        return Ok(());
    }
    tracing::info!(
        songs = outdated,
        "deriving song records again from the raw JSON"
    );
    let started = std::time::Instant::now();
    let report = store.refresh_song_records(&parse_song_json).await?;
    tracing::info!(
        derived = report.derived,
        unparseable = report.unparseable,
        seconds = started.elapsed().as_secs_f64(),
        "song records derived"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SONG: &str = r#"{"id": 1, "title": "T", "primary_artist": {"id": 2, "name": "A"}}"#;

    #[test]
    fn a_bare_object_and_an_envelope_parse_to_the_same_song() {
        let bare = parse_song_json(SONG).unwrap();
        let envelope = parse_song_json(&format!(
            r#"{{"meta": {{}}, "response": {{"song": {SONG}}}}}"#
        ))
        .unwrap();
        assert_eq!(bare, envelope);
        assert_eq!((bare.id, bare.primary_artist.id), (1, 2));
    }

    #[test]
    fn an_object_without_a_title_is_refused_with_a_reason() {
        let err =
            parse_song_json(r#"{"id": 1, "primary_artist": {"id": 2, "name": "A"}}"#).unwrap_err();
        assert!(err.contains('1'), "{err}");
        assert!(parse_song_json("[").unwrap_err().contains("invalid JSON"));
    }
}
