//! Songs: batched upserts, the streaming catalogue load, export and small lookups.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use songrec_catalog::{CreditRole, Song};
use sqlx::Row;
use sqlx::types::Json;

use crate::records::{self, current_version};
use crate::{Backend, ImportedSong, Pool, StoreError, UpsertCounts, from_i64, on_pool, to_i64};

/// Songs per write transaction: large enough to amortise the commit, small enough that a
/// concurrent reader or writer never waits long.
const BATCH_SONGS: usize = 500;

/// Bound parameters per statement, under SQLite's limit (32,766) and PostgreSQL's (65,535).
const MAX_BIND_PARAMS: usize = 30_000;

const SONG_COLUMNS: &str = "id, title, language, artist, album, description, release_date, \
     pageviews, featured_artists, producer_artists, song_relationships, url, created_at, \
     primary_artist_id, album_id, release_year, song_art_image_url, updated_at, content_hash, \
     raw_json, checked_at";
const SONG_COLUMN_COUNT: usize = 21;

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
     raw_json = excluded.raw_json";

/// One entry of the `song_relationships` column: a relationship type and the related song ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct RelationshipGroup {
    #[serde(rename = "type")]
    kind: String,
    song_ids: Vec<u64>,
}

/// A song in the shape of the `songs` row, borrowing from the imported song.
struct SongRow<'a> {
    id: i64,
    song: &'a Song,
    raw: &'a str,
    /// The song's record (see [`records`]).
    record: Vec<u8>,
    hash: String,
    pageviews: Option<i64>,
    primary_artist_id: i64,
    album_id: Option<i64>,
    featured_artists: String,
    producer_artists: String,
    relationships: Json<Vec<RelationshipGroup>>,
}

impl<'a> SongRow<'a> {
    fn new(imported: &'a ImportedSong) -> Result<SongRow<'a>, StoreError> {
        let song = &imported.song;
        let record = records::encode(song);
        Ok(SongRow {
            id: to_i64("song id", song.id)?,
            song,
            raw: &imported.raw,
            hash: content_hash(&record, &imported.raw),
            record,
            pageviews: song.pageviews.map(|v| to_i64("pageviews", v)).transpose()?,
            primary_artist_id: to_i64("artist id", song.primary_artist.id)?,
            album_id: song
                .album
                .as_ref()
                .map(|a| to_i64("album id", a.id))
                .transpose()?,
            featured_artists: joined_names(song, CreditRole::Featured),
            producer_artists: joined_names(song, CreditRole::Producer),
            relationships: Json(relationship_groups(song)),
        })
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
) -> Result<UpsertCounts, StoreError> {
    let mut total = UpsertCounts::default();
    for batch in songs.chunks(BATCH_SONGS) {
        let rows = batch
            .iter()
            .map(SongRow::new)
            .collect::<Result<Vec<_>, _>>()?;
        total += upsert_batch(pool, &rows, checked_at).await?;
    }
    Ok(total)
}

async fn upsert_batch(
    pool: &Pool,
    rows: &[SongRow<'_>],
    checked_at: Option<DateTime<Utc>>,
) -> Result<UpsertCounts, StoreError> {
    let now = Utc::now();
    on_pool!(pool, p, backend => {
        // SQLite: take the write lock up front, so reading the stored hashes and writing happen
        // under one lock and a concurrent writer waits (busy timeout) instead of failing.
        let mut tx = match backend {
            Backend::Sqlite => p.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => p.begin().await?,
        };

        // A batch has at most BATCH_SONGS ids, so each of these lists fits in one statement.
        let mut ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut stored: HashMap<i64, StoredSong> = HashMap::with_capacity(rows.len());
        {
            let mut qb = sqlx::QueryBuilder::new(
                "SELECT s.id, s.content_hash, r.version FROM songs s \
                 LEFT JOIN song_records r ON r.song_id = s.id WHERE s.id IN (",
            );
            let mut list = qb.separated(", ");
            for id in &ids {
                list.push_bind(*id);
            }
            qb.push(")");
            let mut stream = qb.build().fetch(&mut *tx);
            while let Some(row) = stream.try_next().await? {
                let song = StoredSong {
                    hash: row.try_get(1)?,
                    record_version: row.try_get(2)?,
                };
                stored.insert(row.try_get(0)?, song);
            }
        }
        // Stored songs are marked here, changed or not; new ones get the time on insert.
        if let Some(at) = checked_at
            && !stored.is_empty()
        {
            let mut qb = sqlx::QueryBuilder::new("UPDATE songs SET checked_at = ");
            qb.push_bind(at);
            qb.push(" WHERE id IN (");
            let mut list = qb.separated(", ");
            for id in stored.keys() {
                list.push_bind(*id);
            }
            qb.push(")");
            qb.build().execute(&mut *tx).await?;
        }

        let plan = plan_batch(rows, &stored);
        let record_rows: Vec<&SongRow> =
            plan.writes.iter().chain(&plan.records_only).copied().collect();
        for chunk in record_rows.chunks(MAX_BIND_PARAMS / 3) {
            let mut qb = sqlx::QueryBuilder::new("INSERT INTO song_records (song_id, version, record) ");
            qb.push_values(chunk, |mut b, row| {
                b.push_bind(row.id).push_bind(current_version()).push_bind(row.record.as_slice());
            });
            qb.push(
                " ON CONFLICT (song_id) DO UPDATE SET version = excluded.version, \
                 record = excluded.record",
            );
            qb.build().execute(&mut *tx).await?;
        }
        if plan.writes.is_empty() {
            tx.commit().await?;
            return Ok(plan.counts);
        }

        // Artists first (credits refer to them), in id order so that concurrent batches lock
        // shared rows in the same order and cannot deadlock.
        let mut artists: BTreeMap<i64, &str> = BTreeMap::new();
        for row in &plan.writes {
            artists.insert(row.primary_artist_id, &row.song.primary_artist.name);
            for c in &row.song.credits {
                artists.insert(to_i64("artist id", c.artist.id)?, &c.artist.name);
            }
        }
        let artists: Vec<(i64, &str)> = artists.into_iter().collect();
        for chunk in artists.chunks(MAX_BIND_PARAMS / 2) {
            let mut qb = sqlx::QueryBuilder::new("INSERT INTO artists (id, name) ");
            qb.push_values(chunk, |mut b, (id, name)| {
                b.push_bind(*id).push_bind(*name);
            });
            qb.push(
                " ON CONFLICT (id) DO UPDATE SET name = excluded.name \
                 WHERE artists.name <> excluded.name",
            );
            qb.build().execute(&mut *tx).await?;
        }

        for chunk in plan.writes.chunks(MAX_BIND_PARAMS / SONG_COLUMN_COUNT) {
            let mut qb = sqlx::QueryBuilder::new(format!("INSERT INTO songs ({SONG_COLUMNS}) "));
            qb.push_values(chunk, |mut b, row| {
                let s = row.song;
                b.push_bind(row.id)
                    .push_bind(s.title.as_str())
                    .push_bind(s.language.as_deref())
                    .push_bind(s.primary_artist.name.as_str())
                    .push_bind(s.album.as_ref().map(|a| a.name.as_str()))
                    .push_bind(s.description.as_deref())
                    .push_bind(s.release_date.as_deref())
                    .push_bind(row.pageviews)
                    .push_bind(row.featured_artists.as_str())
                    .push_bind(row.producer_artists.as_str())
                    .push_bind(&row.relationships)
                    .push_bind(s.url.as_deref())
                    .push_bind(now)
                    .push_bind(row.primary_artist_id)
                    .push_bind(row.album_id)
                    .push_bind(s.release_year)
                    .push_bind(s.song_art_image_url.as_deref())
                    .push_bind(now)
                    .push_bind(row.hash.as_str())
                    .push_bind(row.raw)
                    .push_bind(checked_at);
            });
            qb.push(" ON CONFLICT (id) DO UPDATE SET ");
            qb.push(SONG_UPDATES);
            qb.build().execute(&mut *tx).await?;
        }

        for table in ["credits", "relationships"] {
            for chunk in plan.replaced.chunks(MAX_BIND_PARAMS) {
                let mut qb =
                    sqlx::QueryBuilder::new(format!("DELETE FROM {table} WHERE song_id IN ("));
                let mut list = qb.separated(", ");
                for id in chunk {
                    list.push_bind(*id);
                }
                qb.push(")");
                qb.build().execute(&mut *tx).await?;
            }
        }

        let mut credits: Vec<(i64, i64, &'static str, i32)> = Vec::new();
        let mut relationships: Vec<(i64, i64, &str, i32)> = Vec::new();
        for row in &plan.writes {
            credits.push((row.id, row.primary_artist_id, CreditRole::Primary.as_str(), 0));
            for (i, c) in row.song.credits.iter().enumerate() {
                let position = i32::try_from(i + 1).unwrap_or(i32::MAX);
                credits.push((row.id, to_i64("artist id", c.artist.id)?, c.role.as_str(), position));
            }
            for (i, r) in row.song.relationships.iter().enumerate() {
                let position = i32::try_from(i).unwrap_or(i32::MAX);
                relationships.push((row.id, to_i64("song id", r.song_id)?, r.kind.as_str(), position));
            }
        }
        // A credit or link listed twice on one song is stored once.
        for chunk in credits.chunks(MAX_BIND_PARAMS / 4) {
            let mut qb =
                sqlx::QueryBuilder::new("INSERT INTO credits (song_id, artist_id, role, position) ");
            qb.push_values(chunk, |mut b, (song, artist, role, position)| {
                b.push_bind(*song).push_bind(*artist).push_bind(*role).push_bind(*position);
            });
            qb.push(" ON CONFLICT DO NOTHING");
            qb.build().execute(&mut *tx).await?;
        }
        for chunk in relationships.chunks(MAX_BIND_PARAMS / 4) {
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT INTO relationships (song_id, related_song_id, kind, position) ",
            );
            qb.push_values(chunk, |mut b, (song, related, kind, position)| {
                b.push_bind(*song).push_bind(*related).push_bind(*kind).push_bind(*position);
            });
            qb.push(" ON CONFLICT DO NOTHING");
            qb.build().execute(&mut *tx).await?;
        }

        tx.commit().await?;
        Ok(plan.counts)
    })
}

pub(crate) async fn export_jsonl(
    pool: &Pool,
    out: &mut dyn std::io::Write,
) -> Result<u64, StoreError> {
    on_pool!(pool, p, _backend => {
        let mut stream =
            sqlx::query("SELECT raw_json FROM songs WHERE raw_json IS NOT NULL ORDER BY id")
                .fetch(p);
        let mut written = 0u64;
        while let Some(row) = stream.try_next().await? {
            let raw: &str = row.try_get(0)?;
            write_one_line(out, raw)?;
            written += 1;
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
            id,
            title: format!("song {id}"),
            primary_artist: Artist {
                id: 1,
                name: "A".into(),
            },
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
            album: None,
            release_date: None,
            release_year: None,
            language: None,
            pageviews: None,
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
            description: None,
            url: None,
            song_art_image_url: None,
            tags: Vec::new(),
            primary_tag: None,
            performances: Vec::new(),
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
        let written: Vec<(i64, &str)> = plan.writes.iter().map(|r| (r.id, r.raw)).collect();
        assert_eq!(written, vec![(1, "b"), (3, "y")]);
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
