//! Songs: batched upserts, export and small lookups.
//!
//! A write is planned the same way on both backends (what is new, changed or unchanged, from
//! one query of the stored content hashes) and carried out by the backend's module: multi-row
//! statements on SQLite ([`sqlite`]), COPY into staging tables on PostgreSQL ([`postgres`]).

mod copy;
mod postgres;
mod sqlite;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use songrec_catalog::{CreditRole, Song};
use sqlx::Row;

use crate::raw;
use crate::records::{self, current_version};
use crate::{
    ImportedSong, Pool, PreparedSong, StoreError, UpsertCounts, from_i64, on_pool, to_i64,
};

/// Bound parameters per statement, under SQLite's limit (32,766) and PostgreSQL's (65,535).
const MAX_BIND_PARAMS: usize = 30_000;

const SONG_COLUMNS: &str = "id, title, language, artist, album, description, release_date, \
     pageviews, featured_artists, producer_artists, song_relationships, url, created_at, \
     primary_artist_id, album_id, release_year, song_art_image_url, updated_at, content_hash, \
     raw_json, checked_at, raw_json_lz4";

/// Columns a changed song overwrites (all but `id`, `created_at` and `checked_at`: a fetch sets
/// `checked_at` on every song it confirms before writing the changed ones, and an import keeps it).
const SONG_UPDATES: &str = "title = excluded.title, language = excluded.language, \
     artist = excluded.artist, album = excluded.album, description = excluded.description, \
     release_date = excluded.release_date, pageviews = excluded.pageviews, \
     featured_artists = excluded.featured_artists, producer_artists = excluded.producer_artists, \
     song_relationships = excluded.song_relationships, url = excluded.url, \
     primary_artist_id = excluded.primary_artist_id, album_id = excluded.album_id, \
     release_year = excluded.release_year, song_art_image_url = excluded.song_art_image_url, \
     updated_at = excluded.updated_at, content_hash = excluded.content_hash, \
     raw_json = excluded.raw_json, raw_json_lz4 = excluded.raw_json_lz4";

/// One entry of the `song_relationships` column: a relationship type and the related song ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct RelationshipGroup {
    #[serde(rename = "type")]
    kind: String,
    song_ids: Vec<u64>,
}

/// What the store derives from a song to write it: the integer columns, checked against the
/// database's signed 64-bit range, the original's text columns, the song's record and the
/// content hash. Computing it (encoding and hashing every song) is most of the CPU time a write
/// costs outside the database, so [`PreparedSong`] lets callers do it on their own threads.
#[derive(Debug, Clone)]
pub(crate) struct Derived {
    id: i64,
    /// The song's record (see [`records`]).
    record: Vec<u8>,
    hash: String,
    /// The raw JSON as stored ([`raw`]).
    raw_lz4: Vec<u8>,
    pageviews: Option<i64>,
    primary_artist_id: i64,
    album_id: Option<i64>,
    /// The artist id of every credit, in the song's order.
    credit_artist_ids: Vec<i64>,
    /// The related song id of every relationship, in the song's order.
    related_song_ids: Vec<i64>,
    featured_artists: String,
    producer_artists: String,
    /// The `song_relationships` column's JSON text.
    relationships: String,
}

impl Derived {
    /// What is written for `song`, whose JSON text is `raw`.
    pub(crate) fn of(song: &Song, raw: &str) -> Result<Derived, StoreError> {
        let id = to_i64("song id", song.id)?;
        let pageviews = song.pageviews.map(|v| to_i64("pageviews", v)).transpose()?;
        let primary_artist_id = to_i64("artist id", song.primary_artist.id)?;
        let album_id = song
            .album
            .as_ref()
            .map(|a| to_i64("album id", a.id))
            .transpose()?;
        let credit_artist_ids = song
            .credits
            .iter()
            .map(|c| to_i64("artist id", c.artist.id))
            .collect::<Result<_, _>>()?;
        let related_song_ids = song
            .relationships
            .iter()
            .map(|r| to_i64("song id", r.song_id))
            .collect::<Result<_, _>>()?;
        let record = records::encode(song);
        // Serialising strings and integers cannot fail.
        let relationships = serde_json::to_string(&relationship_groups(song)).unwrap_or_default();
        Ok(Derived {
            id,
            hash: content_hash(&record, raw),
            raw_lz4: raw::compress(raw),
            record,
            pageviews,
            primary_artist_id,
            album_id,
            credit_artist_ids,
            related_song_ids,
            featured_artists: joined_names(song, CreditRole::Featured),
            producer_artists: joined_names(song, CreditRole::Producer),
            relationships,
        })
    }
}

/// A song in the shape of the `songs` row, borrowing from the imported song (and from what was
/// derived from it, when that was done ahead).
struct SongRow<'a> {
    song: &'a Song,
    derived: Cow<'a, Derived>,
}

impl std::ops::Deref for SongRow<'_> {
    type Target = Derived;

    fn deref(&self) -> &Derived {
        &self.derived
    }
}

impl<'a> SongRow<'a> {
    fn new(imported: &'a ImportedSong) -> Result<SongRow<'a>, StoreError> {
        SongRow::derive(&imported.song, &imported.raw)
    }

    fn derive(song: &'a Song, raw: &str) -> Result<SongRow<'a>, StoreError> {
        Ok(SongRow {
            song,
            derived: Cow::Owned(Derived::of(song, raw)?),
        })
    }

    /// The row of a prepared song; one whose preparation failed is derived again here, to
    /// fail with the same error at the same place as an unprepared write.
    fn prepared(prepared: &'a PreparedSong) -> Result<SongRow<'a>, StoreError> {
        match prepared.derived() {
            Ok(derived) => Ok(SongRow {
                song: prepared.song(),
                derived: Cow::Borrowed(derived),
            }),
            Err(raw) => SongRow::derive(prepared.song(), raw),
        }
    }
}

/// Identifies a song's stored content: its parsed form, as its record (so a parser change
/// rewrites the derived columns) and its raw JSON (so new upstream fields are kept for
/// re-processing).
fn content_hash(record: &[u8], raw: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(record);
    hasher.update(b"\n");
    hasher.update(raw.as_bytes());
    hex::encode(hasher.finalize())
}

/// The original's `featured_artists` / `producer_artists` text: names joined by ", ".
fn joined_names(song: &Song, role: CreditRole) -> String {
    let names: Vec<&str> = song.artists_in(role).map(|a| a.name.as_str()).collect();
    names.join(", ")
}

/// Relationships grouped by type, types in order of first appearance.
fn relationship_groups(song: &Song) -> Vec<RelationshipGroup> {
    let mut groups: Vec<RelationshipGroup> = Vec::new();
    for rel in &song.relationships {
        match groups.iter_mut().find(|g| g.kind == rel.kind) {
            Some(g) => g.song_ids.push(rel.song_id),
            None => groups.push(RelationshipGroup {
                kind: rel.kind.clone(),
                song_ids: vec![rel.song_id],
            }),
        }
    }
    groups
}

/// What the database holds for a song id: its content hash and its record's version (`None`
/// when the song has no record).
#[derive(Debug, Clone, Default)]
struct StoredSong {
    hash: Option<String>,
    record_version: Option<i32>,
}

/// What one batch must write, decided against the hashes already stored.
struct BatchPlan<'a> {
    counts: UpsertCounts,
    /// The last occurrence of every id whose content differs from the stored one, by id.
    writes: Vec<&'a SongRow<'a>>,
    /// Ids among `writes` that already have a row (their credits and relationships are replaced).
    replaced: Vec<i64>,
    /// Unchanged songs whose record is missing or of another version: only the record is
    /// written (they still count as unchanged).
    records_only: Vec<&'a SongRow<'a>>,
}

fn plan_batch<'a>(rows: &'a [SongRow<'a>], stored: &HashMap<i64, StoredSong>) -> BatchPlan<'a> {
    let mut counts = UpsertCounts::default();
    let mut seen: HashMap<i64, &str> = HashMap::with_capacity(rows.len());
    let mut last: BTreeMap<i64, &SongRow> = BTreeMap::new();
    for row in rows {
        let previous = seen
            .get(&row.id)
            .copied()
            .or_else(|| stored.get(&row.id).map(|s| s.hash.as_deref().unwrap_or("")));
        match previous {
            None => counts.inserted += 1,
            Some(h) if h == row.hash => counts.unchanged += 1,
            Some(_) => counts.updated += 1,
        }
        seen.insert(row.id, &row.hash);
        last.insert(row.id, row);
    }
    let mut writes = Vec::with_capacity(last.len());
    let mut replaced = Vec::new();
    let mut records_only = Vec::new();
    for (id, row) in last {
        match stored.get(&id) {
            Some(s) if s.hash.as_deref() == Some(row.hash.as_str()) => {
                if s.record_version != Some(current_version()) {
                    records_only.push(row);
                }
            }
            Some(_) => {
                replaced.push(id);
                writes.push(row);
            }
            None => writes.push(row),
        }
    }
    BatchPlan {
        counts,
        writes,
        replaced,
        records_only,
    }
}

/// Writes new and changed songs; with `checked_at`, also records that time on every song of
/// `songs` as when it was last confirmed from the source, changed or not.
pub(crate) async fn upsert(
    pool: &Pool,
    songs: &[ImportedSong],
    checked_at: Option<DateTime<Utc>>,
    limit: Duration,
) -> Result<UpsertCounts, StoreError> {
    let mut total = UpsertCounts::default();
    for batch in songs.chunks(batch_songs(pool)) {
        let rows = batch
            .iter()
            .map(SongRow::new)
            .collect::<Result<Vec<_>, _>>()?;
        total += upsert_batch(pool, &rows, checked_at, limit).await?;
    }
    Ok(total)
}

/// As [`upsert`], for songs whose rows were derived ahead ([`PreparedSong`]).
pub(crate) async fn upsert_prepared(
    pool: &Pool,
    songs: &[PreparedSong],
    checked_at: Option<DateTime<Utc>>,
    limit: Duration,
) -> Result<UpsertCounts, StoreError> {
    let mut total = UpsertCounts::default();
    for batch in songs.chunks(batch_songs(pool)) {
        let rows = batch
            .iter()
            .map(SongRow::prepared)
            .collect::<Result<Vec<_>, _>>()?;
        total += upsert_batch(pool, &rows, checked_at, limit).await?;
    }
    Ok(total)
}

fn batch_songs(pool: &Pool) -> usize {
    match pool {
        Pool::Sqlite(_) => sqlite::BATCH_SONGS,
        Pool::Postgres(_) => postgres::BATCH_SONGS,
    }
}

/// Writes one batch; on PostgreSQL, a transaction that takes longer than `limit` is abandoned
/// and written again (see [`postgres::write_batch`]). SQLite waits for its write lock up to its
/// busy timeout instead.
async fn upsert_batch(
    pool: &Pool,
    rows: &[SongRow<'_>],
    checked_at: Option<DateTime<Utc>>,
    limit: Duration,
) -> Result<UpsertCounts, StoreError> {
    match pool {
        Pool::Sqlite(p) => sqlite::write_batch(p, rows, checked_at).await,
        Pool::Postgres(p) => postgres::write_batch(p, rows, checked_at, limit).await,
    }
}

/// The distinct ids of a batch, in order.
fn batch_ids(rows: &[SongRow<'_>]) -> Vec<i64> {
    let mut ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Every artist the written songs credit, by id: written in id order, so that concurrent
/// batches lock shared rows in the same order and cannot deadlock.
/// An artist credited more than once keeps the name it was last credited with.
fn artists_of<'a>(writes: &[&'a SongRow<'a>]) -> Vec<(i64, &'a str)> {
    let mut artists: Vec<(i64, &str)> = Vec::new();
    for row in writes {
        artists.push((row.primary_artist_id, &row.song.primary_artist.name));
        for (c, id) in row.song.credits.iter().zip(&row.credit_artist_ids) {
            artists.push((*id, &c.artist.name));
        }
    }
    // Latest first, then a stable sort by id: the first of each id is its latest credit.
    artists.reverse();
    artists.sort_by_key(|(id, _)| *id);
    artists.dedup_by_key(|(id, _)| *id);
    artists
}

/// The `credits` rows of the written songs: (song, artist, role, position), the primary
/// artist first at position 0.
fn credit_rows(writes: &[&SongRow<'_>]) -> Vec<(i64, i64, &'static str, i32)> {
    let mut credits = Vec::new();
    for row in writes {
        credits.push((
            row.id,
            row.primary_artist_id,
            CreditRole::Primary.as_str(),
            0,
        ));
        for (i, (c, artist)) in row
            .song
            .credits
            .iter()
            .zip(&row.credit_artist_ids)
            .enumerate()
        {
            let position = i32::try_from(i + 1).unwrap_or(i32::MAX);
            credits.push((row.id, *artist, c.role.as_str(), position));
        }
    }
    credits
}

/// The `relationships` rows of the written songs: (song, related song, kind, position).
fn relationship_rows<'a>(writes: &[&'a SongRow<'a>]) -> Vec<(i64, i64, &'a str, i32)> {
    let mut relationships = Vec::new();
    for row in writes {
        for (i, (r, related)) in row
            .song
            .relationships
            .iter()
            .zip(&row.related_song_ids)
            .enumerate()
        {
            let position = i32::try_from(i).unwrap_or(i32::MAX);
            relationships.push((row.id, *related, r.kind.as_str(), position));
        }
    }
    relationships
}

pub(crate) async fn export_jsonl(
    pool: &Pool,
    out: &mut dyn std::io::Write,
) -> Result<u64, StoreError> {
    on_pool!(pool, p, _backend => {
        let mut stream = sqlx::query(
            "SELECT id, raw_json, raw_json_lz4 FROM songs \
             WHERE raw_json_lz4 IS NOT NULL OR raw_json IS NOT NULL ORDER BY id",
        )
        .fetch(p);
        let mut written = 0u64;
        while let Some(row) = stream.try_next().await? {
            let raw = raw::read(row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)?;
            if let Some(raw) = raw {
                write_one_line(out, &raw)?;
                written += 1;
            }
        }
        Ok(written)
    })
}

/// Writes a JSON object on one line. Line breaks in JSON text can only be whitespace between
/// tokens (inside strings they are escaped), so replacing them keeps the object identical.
fn write_one_line(out: &mut dyn std::io::Write, raw: &str) -> std::io::Result<()> {
    let raw = raw.trim();
    if raw.contains(['\n', '\r']) {
        out.write_all(raw.replace(['\n', '\r'], " ").as_bytes())?;
    } else {
        out.write_all(raw.as_bytes())?;
    }
    out.write_all(b"\n")
}

pub(crate) async fn count(pool: &Pool) -> Result<u64, StoreError> {
    on_pool!(pool, p, _backend => {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM songs").fetch_one(p).await?;
        Ok(from_i64(n))
    })
}

pub(crate) async fn updated_at(
    pool: &Pool,
    ids: &[u64],
) -> Result<HashMap<u64, DateTime<Utc>>, StoreError> {
    times_by_id(pool, ids, |updated, _checked| updated).await
}

pub(crate) async fn checked_at(
    pool: &Pool,
    ids: &[u64],
) -> Result<HashMap<u64, DateTime<Utc>>, StoreError> {
    times_by_id(pool, ids, |updated, checked| {
        checked.map_or(updated, |c| c.max(updated))
    })
    .await
}

/// Reads `updated_at` and `checked_at` of the stored songs among `ids` and keeps `pick` of them.
/// The later of the two is taken here rather than in SQL because SQLite keeps times as text.
async fn times_by_id(
    pool: &Pool,
    ids: &[u64],
    pick: impl Fn(DateTime<Utc>, Option<DateTime<Utc>>) -> DateTime<Utc>,
) -> Result<HashMap<u64, DateTime<Utc>>, StoreError> {
    let ids = ids
        .iter()
        .map(|id| to_i64("song id", *id))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = HashMap::with_capacity(ids.len());
    on_pool!(pool, p, _backend => {
        for chunk in ids.chunks(MAX_BIND_PARAMS) {
            let mut qb = sqlx::QueryBuilder::new(
                "SELECT id, updated_at, checked_at FROM songs WHERE id IN (",
            );
            let mut list = qb.separated(", ");
            for id in chunk {
                list.push_bind(*id);
            }
            qb.push(")");
            let mut stream = qb.build().fetch(p);
            while let Some(row) = stream.try_next().await? {
                out.insert(from_i64(row.try_get(0)?), pick(row.try_get(1)?, row.try_get(2)?));
            }
        }
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use songrec_catalog::{Artist, Credit, Relationship};

    use super::*;

    fn song(id: u64) -> Song {
        Song {
            credits: vec![
                Credit {
                    role: CreditRole::Featured,
                    artist: Artist {
                        id: 2,
                        name: "B".into(),
                    },
                },
                Credit {
                    role: CreditRole::Featured,
                    artist: Artist {
                        id: 3,
                        name: "C".into(),
                    },
                },
            ],
            relationships: vec![
                Relationship {
                    kind: "samples".into(),
                    song_id: 8,
                },
                Relationship {
                    kind: "cover_of".into(),
                    song_id: 9,
                },
                Relationship {
                    kind: "samples".into(),
                    song_id: 10,
                },
            ],
            ..Song::new(
                id,
                format!("song {id}"),
                Artist {
                    id: 1,
                    name: "A".into(),
                },
            )
        }
    }

    fn imported(id: u64, raw: &str) -> ImportedSong {
        ImportedSong {
            song: song(id),
            raw: raw.to_string(),
        }
    }

    #[test]
    fn names_are_joined_like_the_original_and_empty_roles_give_an_empty_string() {
        assert_eq!(joined_names(&song(1), CreditRole::Featured), "B, C");
        assert_eq!(joined_names(&song(1), CreditRole::Producer), "");
    }

    #[test]
    fn artists_are_listed_once_in_id_order_with_the_name_they_were_last_credited_with() {
        let first = imported(1, "a");
        let mut renamed = imported(2, "b");
        renamed.song.primary_artist.name = "A2".into();
        renamed.song.credits[1].artist = Artist {
            id: 2,
            name: "B2".into(),
        };
        let rows = [
            SongRow::new(&first).unwrap(),
            SongRow::new(&renamed).unwrap(),
        ];
        let writes: Vec<&SongRow> = rows.iter().collect();
        assert_eq!(artists_of(&writes), vec![(1, "A2"), (2, "B2"), (3, "C")]);
    }

    #[test]
    fn relationships_are_grouped_by_type_in_first_seen_order() {
        let groups = relationship_groups(&song(1));
        assert_eq!(
            serde_json::to_string(&groups).unwrap(),
            r#"[{"type":"samples","song_ids":[8,10]},{"type":"cover_of","song_ids":[9]}]"#
        );
    }

    #[test]
    fn the_hash_changes_with_the_raw_json_and_with_the_parsed_song() {
        let record = |id| records::encode(&song(id));
        let a = content_hash(&record(1), "{}");
        assert_eq!(a, content_hash(&record(1), "{}"));
        assert_ne!(a, content_hash(&record(1), "{ }"));
        assert_ne!(a, content_hash(&record(2), "{}"));
    }

    #[test]
    fn a_batch_counts_repeated_ids_in_order_and_writes_only_the_last_changed_version() {
        let input = [
            imported(1, "a"), // new
            imported(1, "b"), // changes the one just seen
            imported(2, "x"), // stored with the same content
            imported(3, "y"), // stored with other content
            imported(2, "x"), // same again
        ];
        let rows: Vec<SongRow> = input.iter().map(|s| SongRow::new(s).unwrap()).collect();
        let stored = HashMap::from([
            (
                2,
                StoredSong {
                    hash: Some(rows[2].hash.clone()),
                    record_version: Some(current_version()),
                },
            ),
            (
                3,
                StoredSong {
                    hash: Some("old".to_string()),
                    record_version: Some(current_version()),
                },
            ),
        ]);
        let plan = plan_batch(&rows, &stored);
        assert_eq!(
            plan.counts,
            UpsertCounts {
                inserted: 1,
                updated: 2,
                unchanged: 2
            }
        );
        let written: Vec<(i64, &[u8])> = plan
            .writes
            .iter()
            .map(|r| (r.id, r.raw_lz4.as_slice()))
            .collect();
        let (b, y) = (raw::compress("b"), raw::compress("y"));
        assert_eq!(written, vec![(1, b.as_slice()), (3, y.as_slice())]);
        assert_eq!(plan.replaced, vec![3]);
        assert!(plan.records_only.is_empty());
    }

    #[test]
    fn an_unchanged_song_with_an_outdated_record_gets_only_its_record_written() {
        let input = [imported(1, "a"), imported(2, "b")];
        let rows: Vec<SongRow> = input.iter().map(|s| SongRow::new(s).unwrap()).collect();
        let stored = HashMap::from([
            (
                1,
                StoredSong {
                    hash: Some(rows[0].hash.clone()),
                    record_version: Some(0),
                },
            ),
            (
                2,
                StoredSong {
                    hash: Some(rows[1].hash.clone()),
                    record_version: None,
                },
            ),
        ]);
        let plan = plan_batch(&rows, &stored);
        assert_eq!(plan.counts.unchanged, 2);
        assert!(plan.writes.is_empty());
        let ids: Vec<i64> = plan.records_only.iter().map(|r| r.id).collect();
        assert_eq!(ids, vec![1, 2]);
    }

    #[test]
    fn export_lines_never_contain_a_line_break() {
        let mut out = Vec::new();
        write_one_line(&mut out, "{\n  \"a\": \"x\\ny\"\r\n}\n").unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 1);
        let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(v["a"], "x\ny");
    }
}
