//! Song records: every song's parsed form ([`Song`]) in a compact binary encoding (postcard),
//! kept in `song_records` beside the row it was parsed from and written in the same transaction.
//!
//! Training reads only this table, in one pass, without reassembling songs from columns and
//! child tables (chunks of records are decoded in parallel with reading the next rows); whatever
//! `Song` carries (new fields included) flows through unchanged. Each record carries the format
//! version it was written with ([`SONG_RECORD_VERSION`]); records of another version (0: never
//! derived, after the migration that created the table) are derived again from the song's raw
//! JSON by [`refresh`], with a parser the caller supplies (the store does not parse Genius JSON
//! itself).

use futures::TryStreamExt;
use songrec_catalog::{SONG_RECORD_VERSION, Song};
use sqlx::Row;

use crate::{ImportedSong, Pool, StoreError, from_i64, on_pool, raw, songs};

/// Songs re-derived per write batch while refreshing.
const REFRESH_BATCH: i64 = 2_000;

/// The build's record version as the databases store it.
pub(crate) fn current_version() -> i32 {
    i32::try_from(SONG_RECORD_VERSION).unwrap_or(i32::MAX)
}

/// The record of `song`. Serialising plain strings, numbers, options and vectors cannot fail.
pub(crate) fn encode(song: &Song) -> Vec<u8> {
    postcard::to_allocvec(song).unwrap_or_default()
}

fn decode(id: i64, bytes: &[u8]) -> Result<Song, StoreError> {
    postcard::from_bytes(bytes).map_err(|e| StoreError::CorruptRecord {
        song_id: from_i64(id),
        reason: e.to_string(),
    })
}

/// Records decoded per task. Decoding (a few allocations per song) costs about as much as
/// reading the rows, so chunks are decoded on the blocking pool while the next rows arrive.
const DECODE_CHUNK: usize = 8_192;

/// Every song with a record, ordered by id, from one query (one consistent snapshot).
pub(crate) async fn load_catalogue(pool: &Pool) -> Result<Vec<Song>, StoreError> {
    let version = current_version();
    let mut decoding: Vec<tokio::task::JoinHandle<Result<Vec<Song>, StoreError>>> = Vec::new();
    let mut total = 0usize;
    let stale = on_pool!(pool, p, _backend => {
        let mut chunk = RecordChunk::default();
        let mut stale = 0u64;
        let mut stream =
            sqlx::query("SELECT song_id, version, record FROM song_records ORDER BY song_id")
                .fetch(p);
        while let Some(row) = stream.try_next().await? {
            if row.try_get::<i32, _>(1)? != version {
                stale += 1;
                continue;
            }
            chunk.push(row.try_get(0)?, row.try_get(2)?);
            if chunk.ends.len() == DECODE_CHUNK {
                total += chunk.ends.len();
                let full = std::mem::take(&mut chunk);
                decoding.push(tokio::task::spawn_blocking(move || full.decode()));
            }
        }
        if !chunk.ends.is_empty() {
            total += chunk.ends.len();
            decoding.push(tokio::task::spawn_blocking(move || chunk.decode()));
        }
        stale
    });
    if stale > 0 {
        return Err(StoreError::SongRecordsOutdated { songs: stale });
    }
    let mut songs = Vec::with_capacity(total);
    for task in decoding {
        match task.await {
            Ok(decoded) => songs.extend(decoded?),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => return Err(StoreError::Io(std::io::Error::other(e))),
        }
    }
    Ok(songs)
}

/// Song records read back to back, with each one's song id and end offset.
#[derive(Default)]
struct RecordChunk {
    bytes: Vec<u8>,
    ends: Vec<(i64, usize)>,
}

impl RecordChunk {
    fn push(&mut self, song_id: i64, record: &[u8]) {
        self.bytes.extend_from_slice(record);
        self.ends.push((song_id, self.bytes.len()));
    }

    fn decode(self) -> Result<Vec<Song>, StoreError> {
        let mut songs = Vec::with_capacity(self.ends.len());
        let mut start = 0;
        for (song_id, end) in self.ends {
            songs.push(decode(song_id, &self.bytes[start..end])?);
            start = end;
        }
        Ok(songs)
    }
}

/// How many stored songs have a record of another version than this build's.
pub(crate) async fn stale_count(pool: &Pool) -> Result<u64, StoreError> {
    let version = current_version();
    on_pool!(pool, p, _backend => {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM song_records WHERE version <> $1")
            .bind(version)
            .fetch_one(p)
            .await?;
        Ok(from_i64(n))
    })
}

/// What a refresh of the song records did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordRefresh {
    /// Records derived again from the raw JSON.
    pub derived: u64,
    /// Songs whose raw JSON this build cannot parse: their record is removed, so training
    /// leaves them out until an import or fetch writes them again.
    pub unparseable: u64,
}

/// Derives every record of another version again from its song's raw JSON, in id order, in
/// batches (each batch is an ordinary upsert, so the song's columns, credits and relationships
/// follow the new parse too).
pub(crate) async fn refresh(
    pool: &Pool,
    parse: &(dyn Fn(&str) -> Result<Song, String> + Sync),
    write_timeout: std::time::Duration,
) -> Result<RecordRefresh, StoreError> {
    let version = current_version();
    let mut report = RecordRefresh::default();
    let mut after = i64::MIN;
    loop {
        let stored: Vec<(i64, Option<String>, Option<Vec<u8>>)> = on_pool!(pool, p, _backend => {
            sqlx::query_as(
                "SELECT s.id, s.raw_json, s.raw_json_lz4 \
                 FROM song_records r JOIN songs s ON s.id = r.song_id \
                 WHERE r.version <> $1 AND r.song_id > $2 ORDER BY r.song_id LIMIT $3",
            )
            .bind(version)
            .bind(after)
            .bind(REFRESH_BATCH)
            .fetch_all(p)
            .await?
        });
        let Some(&(last, ..)) = stored.last() else {
            return Ok(report);
        };
        after = last;
        // A damaged stored value counts as raw JSON that no longer parses.
        let batch = stored.into_iter().map(|(id, text, compressed)| {
            let raw = raw::read(id, text, compressed.as_deref()).unwrap_or_else(|e| {
                tracing::warn!(song_id = id, error = %e, "stored raw JSON cannot be read");
                None
            });
            (id, raw)
        });
        let mut parsed = Vec::with_capacity(batch.len());
        let mut failed = Vec::new();
        for (id, raw) in batch {
            match raw.as_deref().map(parse) {
                Some(Ok(song)) if i64::try_from(song.id) == Ok(id) => parsed.push(ImportedSong {
                    song,
                    raw: raw.unwrap_or_default(),
                }),
                Some(Err(reason)) => {
                    tracing::warn!(song_id = id, %reason, "stored raw JSON no longer parses");
                    failed.push(id);
                }
                _ => failed.push(id),
            }
        }
        songs::upsert(pool, &parsed, None, write_timeout).await?;
        report.derived += parsed.len() as u64;
        report.unparseable += failed.len() as u64;
        if !failed.is_empty() {
            on_pool!(pool, p, _backend => {
                let mut qb = sqlx::QueryBuilder::new("DELETE FROM song_records WHERE song_id IN (");
                let mut list = qb.separated(", ");
                for id in &failed {
                    list.push_bind(*id);
                }
                qb.push(")");
                qb.build().execute(p).await?;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use songrec_catalog::{Album, Artist, Credit, CreditRole, Relationship};

    use super::*;

    fn minimal() -> Song {
        Song::new(
            1,
            String::new(),
            Artist {
                id: 2,
                name: "A".into(),
            },
        )
    }

    #[test]
    fn a_record_decodes_to_the_song_it_was_made_from() {
        let full = Song {
            id: u64::MAX,
            title: "Señorita “live” \n".into(),
            credits: vec![Credit {
                role: CreditRole::Writer,
                artist: Artist {
                    id: 9,
                    name: "W".into(),
                },
            }],
            album: Some(Album {
                id: 3,
                name: "B".into(),
            }),
            release_date: Some("1999-01-02".into()),
            release_year: Some(-5),
            language: Some("es".into()),
            pageviews: Some(123_456_789),
            relationships: vec![Relationship {
                kind: "samples".into(),
                song_id: 4,
            }],
            description: Some("d".repeat(10_000)),
            url: Some("u".into()),
            song_art_image_url: Some("i".into()),
            tags: Vec::new(),
            primary_tag: None,
            performances: Vec::new(),
            ..minimal()
        };
        for song in [minimal(), full] {
            let bytes = encode(&song);
            assert_eq!(decode(1, &bytes).unwrap(), song);
        }
    }

    #[test]
    fn a_damaged_record_is_an_error_naming_the_song() {
        let bytes = encode(&minimal());
        let err = decode(77, &bytes[..bytes.len() / 2]).unwrap_err();
        assert!(err.to_string().contains("77"), "{err}");
    }
}
