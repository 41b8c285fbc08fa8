//! PostgreSQL writes, all of a batch in one transaction. Songs that are not stored yet are
//! copied (`COPY ... FROM STDIN`, binary format) straight into their tables; changed songs,
//! artists and records of unchanged songs are copied into staging tables private to the
//! connection, then applied with one set-based upsert per table.
//!
//! The staging tables are temporary (each session has its own) and emptied at every commit;
//! they are created on a connection's first write. What changed is decided before, from one
//! query of the stored hashes, so the staged rows are only the songs to write. A song written
//! by another writer between that query and the COPY makes the COPY fail (unique violation),
//! and two writers copying the same new songs at once can deadlock (the server aborts one);
//! either way the batch is then written again, every song through the staging tables.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sqlx::{Connection, Executor, PgConnection, PgPool, Row};

use super::copy::CopyRows;
use super::{
    SONG_COLUMNS, SONG_UPDATES, SongRow, StoredSong, artists_of, batch_ids, credit_rows,
    plan_batch, relationship_rows,
};
use crate::records::current_version;
use crate::{StoreError, UpsertCounts};

/// Songs per write transaction: the COPY streams are about 15 MB at this size and a transaction
/// lasts a fraction of a second, so a concurrent writer waiting for a shared row never waits
/// long. Each commit waits for the WAL to be flushed: 1,000 songs per transaction spent a fifth
/// of an import's server time in commits.
pub(super) const BATCH_SONGS: usize = 5_000;

/// The staging tables: the columns of the tables they feed, in the types songrec writes
/// (an adopted database's `songs` may differ slightly; the inserts below cast). Created on a
/// connection's first write, emptied at every commit. The raw JSON arrives compressed
/// ([`crate::raw`]) and is stored as it is, never compressed again (`STORAGE EXTERNAL`, as in
/// `songs`).
const CREATE_STAGING: &str = "\
DO $$
BEGIN
    IF to_regclass('pg_temp.songrec_stage_songs') IS NOT NULL THEN
        RETURN;
    END IF;
    CREATE TEMP TABLE songrec_stage_records (song_id bigint, version integer, record bytea)
        ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE songrec_stage_artists (id bigint, name text) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE songrec_stage_credits (
        song_id bigint, artist_id bigint, role text, position integer) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE songrec_stage_relationships (
        song_id bigint, related_song_id bigint, kind text, position integer)
        ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE songrec_stage_songs (
        id bigint, title text, language text, artist text, album text, description text,
        release_date text, pageviews bigint, featured_artists text, producer_artists text,
        song_relationships jsonb, url text, created_at timestamptz, primary_artist_id bigint,
        album_id bigint, release_year integer, song_art_image_url text, updated_at timestamptz,
        content_hash text, raw_json text, checked_at timestamptz, raw_json_lz4 bytea,
        replaced boolean) ON COMMIT DELETE ROWS;
    ALTER TABLE songrec_stage_songs ALTER COLUMN raw_json_lz4 SET STORAGE EXTERNAL;
END
$$;";

const APPLY_RECORDS: &str = "\
INSERT INTO song_records (song_id, version, record)
SELECT song_id, version, record FROM songrec_stage_records ORDER BY song_id
ON CONFLICT (song_id) DO UPDATE SET version = excluded.version, record = excluded.record;";

/// Artists first (credits refer to them), then records, songs, credits and links: the order in
/// which a batch's direct COPY writes them too, every table in id order, so that concurrent
/// batches lock shared rows in the same order and cannot deadlock. A credit or link listed
/// twice on one song is stored once.
fn apply_songs() -> String {
    format!(
        "INSERT INTO artists (id, name)
         SELECT id, name FROM songrec_stage_artists ORDER BY id
         ON CONFLICT (id) DO UPDATE SET name = excluded.name WHERE artists.name <> excluded.name;
         {APPLY_RECORDS}
         INSERT INTO songs ({SONG_COLUMNS})
         SELECT {SONG_COLUMNS} FROM songrec_stage_songs ORDER BY id
         ON CONFLICT (id) DO UPDATE SET {SONG_UPDATES};
         DELETE FROM credits c USING songrec_stage_songs s WHERE s.replaced AND c.song_id = s.id;
         DELETE FROM relationships r USING songrec_stage_songs s
         WHERE s.replaced AND r.song_id = s.id;
         INSERT INTO credits (song_id, artist_id, role, position)
         SELECT song_id, artist_id, role, position FROM songrec_stage_credits
         ORDER BY song_id, position ON CONFLICT DO NOTHING;
         INSERT INTO relationships (song_id, related_song_id, kind, position)
         SELECT song_id, related_song_id, kind, position FROM songrec_stage_relationships
         ORDER BY song_id, position ON CONFLICT DO NOTHING;"
    )
}

/// Attempts at a batch whose transaction another writer's made fail, or that did not finish
/// in time (see [`write_batch`]).
const BATCH_ATTEMPTS: usize = 4;

/// Writes one batch in one transaction, on a connection of its own from `pool`.
///
/// A transaction that another writer made fail is written again (see [`is_write_conflict`]).
/// One that takes longer than `limit` (a lock another client holds, a server or a connection
/// that stopped making progress) is abandoned: its connection is closed rather than returned
/// to the pool, so the server rolls the transaction back, and the batch is written again on
/// another connection. Should the abandoned transaction have committed just before the limit,
/// writing the batch again changes nothing (only its counts then report the songs as
/// unchanged).
pub(super) async fn write_batch(
    pool: &PgPool,
    rows: &[SongRow<'_>],
    checked_at: Option<DateTime<Utc>>,
    limit: Duration,
) -> Result<UpsertCounts, StoreError> {
    let mut direct = true;
    let mut timed_out = 0;
    for attempt in 1..=BATCH_ATTEMPTS {
        let mut conn = pool.acquire().await?;
        let written =
            tokio::time::timeout(limit, write_batch_as(&mut conn, rows, checked_at, direct)).await;
        match written {
            Ok(Ok(counts)) => return Ok(counts),
            // A new song written meanwhile by another writer (or a stray row of a new song),
            // or a deadlock with another writer's batch that the server broke by aborting this
            // one (the tables are written in one order, but a batch's upserted and copied
            // records are two passes): the transaction was rolled back whole, so the batch is
            // written again, with every row upserted.
            Ok(Err(e)) if is_write_conflict(&e) && attempt < BATCH_ATTEMPTS => direct = false,
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                timed_out += 1;
                tracing::warn!(
                    songs = rows.len(),
                    ?limit,
                    attempt,
                    "a batch's write did not finish in time; its connection is closed"
                );
                // Mid-statement, the connection cannot be used again: dropped here, it closes
                // its socket, and the server rolls the transaction back.
                drop(conn.detach());
            }
        }
    }
    Err(StoreError::WriteTimedOut {
        songs: rows.len(),
        limit,
        attempts: timed_out,
    })
}

/// A unique violation (23505) or a deadlock the server broke by aborting this transaction
/// (40P01).
fn is_write_conflict(e: &StoreError) -> bool {
    matches!(e, StoreError::Database(sqlx::Error::Database(db))
        if matches!(db.code().as_deref(), Some("23505" | "40P01")))
}

/// Writes one batch in one transaction. With `direct`, the songs that are new (no stored row)
/// are copied straight into their tables (`songs`, `song_records`, `credits`,
/// `relationships`) instead of through the staging tables and an upsert: for a song that does
/// not exist, the upsert can only insert. Should one exist after all, the COPY fails with a
/// unique violation (or, when another writer's uncommitted batch holds it, may deadlock with
/// that batch) and [`write_batch`] writes the batch again without `direct`.
async fn write_batch_as(
    conn: &mut PgConnection,
    rows: &[SongRow<'_>],
    checked_at: Option<DateTime<Utc>>,
    direct: bool,
) -> Result<UpsertCounts, StoreError> {
    let now = Utc::now();
    let mut tx = conn.begin().await?;

    let ids = batch_ids(rows);
    let mut stored: HashMap<i64, StoredSong> = HashMap::with_capacity(rows.len());
    {
        let mut stream = sqlx::query(
            "SELECT s.id, s.content_hash, r.version FROM songs s \
             LEFT JOIN song_records r ON r.song_id = s.id WHERE s.id = ANY($1)",
        )
        .bind(&ids)
        .fetch(&mut *tx);
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
        let mut marked: Vec<i64> = stored.keys().copied().collect();
        marked.sort_unstable();
        sqlx::query("UPDATE songs SET checked_at = $1 WHERE id = ANY($2)")
            .bind(at)
            .bind(&marked)
            .execute(&mut *tx)
            .await?;
    }

    let plan = plan_batch(rows, &stored);
    if plan.writes.is_empty() && plan.records_only.is_empty() {
        tx.commit().await?;
        return Ok(plan.counts);
    }

    // The songs written through the staging tables, and those copied straight in.
    let direct = direct && songs_columns_match(&mut tx).await?;
    let (staged, new): (Vec<&SongRow>, Vec<&SongRow>) = plan
        .writes
        .iter()
        .partition(|row| !direct || plan.replaced.binary_search(&row.id).is_ok());
    if staged.is_empty() && plan.records_only.is_empty() {
        // Only new songs (an import into an empty catalogue): nothing goes through staging.
        upsert_artists(&mut tx, &plan.writes).await?;
        copy_new_songs(&mut tx, &new, now, checked_at).await?;
        tx.commit().await?;
        return Ok(plan.counts);
    }
    tx.execute(CREATE_STAGING).await?;

    let mut records = CopyRows::new();
    for row in staged.iter().chain(&plan.records_only) {
        records.row(3);
        records.i64(row.id);
        records.i32(current_version());
        records.bytes(&row.record)?;
    }
    copy_in(&mut tx, "songrec_stage_records", records).await?;
    if plan.writes.is_empty() {
        tx.execute(APPLY_RECORDS).await?;
        tx.commit().await?;
        return Ok(plan.counts);
    }

    let mut artists = CopyRows::new();
    for (id, name) in artists_of(&plan.writes) {
        artists.row(2);
        artists.i64(id);
        artists.text(name)?;
    }
    copy_in(&mut tx, "songrec_stage_artists", artists).await?;

    let mut songs = CopyRows::new();
    for row in &staged {
        song_row(&mut songs, row, now, checked_at, true)?;
        songs.bool(plan.replaced.binary_search(&row.id).is_ok());
    }
    copy_in(&mut tx, "songrec_stage_songs", songs).await?;
    copy_in(&mut tx, "songrec_stage_credits", credits(&staged, false)?).await?;
    copy_in(
        &mut tx,
        "songrec_stage_relationships",
        relationships(&staged, false)?,
    )
    .await?;

    tx.execute(apply_songs().as_str()).await?;
    copy_new_songs(&mut tx, &new, now, checked_at).await?;
    tx.commit().await?;
    Ok(plan.counts)
}

/// The artists of `writes`, upserted as the staging path does (in id order, a name only
/// rewritten when it changed) but from two array parameters, for a batch that stages nothing
/// else: this spares it the staging tables, their COPY and the multi-statement apply.
async fn upsert_artists(
    conn: &mut PgConnection,
    writes: &[&SongRow<'_>],
) -> Result<(), StoreError> {
    let (ids, names): (Vec<i64>, Vec<&str>) = artists_of(writes).into_iter().unzip();
    sqlx::query(
        "INSERT INTO artists (id, name)
         SELECT id, name FROM unnest($1::bigint[], $2::text[]) AS a (id, name) ORDER BY id
         ON CONFLICT (id) DO UPDATE SET name = excluded.name WHERE artists.name <> excluded.name",
    )
    .bind(&ids)
    .bind(&names)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Copies songs that are not stored yet straight into their tables (see [`write_batch_as`]):
/// records, songs, credits and links, in that order.
async fn copy_new_songs(
    conn: &mut PgConnection,
    new: &[&SongRow<'_>],
    now: DateTime<Utc>,
    checked_at: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    if new.is_empty() {
        return Ok(());
    }
    let mut records = CopyRows::new();
    for row in new {
        records.row(3);
        records.i64(row.id);
        records.i32(current_version());
        records.bytes(&row.record)?;
    }
    copy_in(conn, "song_records (song_id, version, record)", records).await?;
    let mut songs = CopyRows::new();
    for row in new {
        song_row(&mut songs, row, now, checked_at, false)?;
    }
    copy_in(conn, &format!("songs ({SONG_COLUMNS})"), songs).await?;
    copy_in(
        conn,
        "credits (song_id, artist_id, role, position)",
        credits(new, true)?,
    )
    .await?;
    copy_in(
        conn,
        "relationships (song_id, related_song_id, kind, position)",
        relationships(new, true)?,
    )
    .await?;
    Ok(())
}

/// The columns of `songs` in the types the direct COPY sends ([`SONG_COLUMNS`]'s order). A
/// database the original service created has some in other types (`created_at` without time
/// zone), which only the staging path's casts handle.
const SONG_COLUMN_TYPES: &[(&str, &str)] = &[
    ("id", "bigint"),
    ("title", "text"),
    ("language", "text"),
    ("artist", "text"),
    ("album", "text"),
    ("description", "text"),
    ("release_date", "text"),
    ("pageviews", "bigint"),
    ("featured_artists", "text"),
    ("producer_artists", "text"),
    ("song_relationships", "jsonb"),
    ("url", "text"),
    ("created_at", "timestamp with time zone"),
    ("primary_artist_id", "bigint"),
    ("album_id", "bigint"),
    ("release_year", "integer"),
    ("song_art_image_url", "text"),
    ("updated_at", "timestamp with time zone"),
    ("content_hash", "text"),
    ("raw_json", "text"),
    ("checked_at", "timestamp with time zone"),
    ("raw_json_lz4", "bytea"),
];

/// Whether `songs` has every column in the type the direct COPY sends.
async fn songs_columns_match(conn: &mut PgConnection) -> Result<bool, StoreError> {
    let types: Vec<(String, String)> = sqlx::query_as(
        "SELECT attname::text, format_type(atttypid, NULL) FROM pg_attribute \
         WHERE attrelid = 'songs'::regclass AND attnum > 0 AND NOT attisdropped",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(SONG_COLUMN_TYPES.iter().all(|(name, ty)| {
        types
            .iter()
            .any(|(n, t)| n.as_str() == *name && t.as_str() == *ty)
    }))
}

/// A song's row in [`SONG_COLUMNS`]' order; `staged` leaves room for the staging table's
/// `replaced` flag, which the caller adds.
fn song_row(
    out: &mut CopyRows,
    row: &SongRow<'_>,
    now: DateTime<Utc>,
    checked_at: Option<DateTime<Utc>>,
    staged: bool,
) -> Result<(), StoreError> {
    let s = row.song;
    out.row(if staged { 23 } else { 22 });
    out.i64(row.id);
    out.text(&s.title)?;
    out.opt_text(s.language.as_deref())?;
    out.text(&s.primary_artist.name)?;
    out.opt_text(s.album.as_ref().map(|a| a.name.as_str()))?;
    out.opt_text(s.description.as_deref())?;
    out.opt_text(s.release_date.as_deref())?;
    out.opt_i64(row.pageviews);
    out.text(&row.featured_artists)?;
    out.text(&row.producer_artists)?;
    out.jsonb(&row.relationships)?;
    out.opt_text(s.url.as_deref())?;
    out.timestamptz(now);
    out.i64(row.primary_artist_id);
    out.opt_i64(row.album_id);
    match s.release_year {
        Some(year) => out.i32(year),
        None => out.null(),
    }
    out.opt_text(s.song_art_image_url.as_deref())?;
    out.timestamptz(now);
    out.text(&row.hash)?;
    // The raw JSON is in `raw_json_lz4` ([`crate::raw`]).
    out.null();
    match checked_at {
        Some(at) => out.timestamptz(at),
        None => out.null(),
    }
    out.bytes(&row.raw_lz4)?;
    Ok(())
}

/// The credits rows of `writes`; with `distinct`, a credit listed twice on a song is kept once
/// (the first), as the staging path's `ON CONFLICT DO NOTHING` in position order keeps it.
fn credits(writes: &[&SongRow<'_>], distinct: bool) -> Result<CopyRows, StoreError> {
    link_rows(credit_rows(writes), distinct)
}

/// The relationships rows of `writes`; `distinct` as for [`credits`].
fn relationships(writes: &[&SongRow<'_>], distinct: bool) -> Result<CopyRows, StoreError> {
    link_rows(relationship_rows(writes), distinct)
}

/// Rows of (song, other id, kind or role, position) as COPY sends them; with `distinct`, the
/// first of each (song, kind, other id) only.
fn link_rows(rows: Vec<(i64, i64, &str, i32)>, distinct: bool) -> Result<CopyRows, StoreError> {
    let mut out = CopyRows::new();
    let mut seen = HashSet::new();
    for (song, other, text, position) in rows {
        if distinct && !seen.insert((song, text, other)) {
            continue;
        }
        out.row(4);
        out.i64(song);
        out.i64(other);
        out.text(text)?;
        out.i32(position);
    }
    Ok(out)
}

/// Sends `rows` into `target` (a table, or a table and a column list).
async fn copy_in(conn: &mut PgConnection, target: &str, rows: CopyRows) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut copy = conn
        .copy_in_raw(&format!("COPY {target} FROM STDIN (FORMAT binary)"))
        .await?;
    copy.send(rows.finish()).await?;
    copy.finish().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use songrec_catalog::{Artist, Credit, CreditRole, Relationship, Song};

    use super::*;
    use crate::ImportedSong;

    fn song_with_repeats() -> ImportedSong {
        let artist = Artist {
            id: 2,
            name: "B".into(),
        };
        let featured = Credit {
            role: CreditRole::Featured,
            artist: artist.clone(),
        };
        let samples = Relationship {
            kind: "samples".into(),
            song_id: 9,
        };
        ImportedSong {
            song: Song {
                credits: vec![
                    featured.clone(),
                    Credit {
                        role: CreditRole::Producer,
                        artist,
                    },
                    featured,
                ],
                relationships: vec![samples.clone(), samples],
                ..Song::new(
                    1,
                    "T".into(),
                    Artist {
                        id: 1,
                        name: "A".into(),
                    },
                )
            },
            raw: "{}".into(),
        }
    }

    #[test]
    fn a_credit_or_link_listed_twice_is_copied_once_as_the_upsert_keeps_it() {
        let imported = song_with_repeats();
        let row = SongRow::new(&imported).unwrap();
        let rows = [&row];
        // Primary, featured, producer; the second featured credit is the same row.
        assert_eq!(credits(&rows, true).unwrap().rows(), 3);
        assert_eq!(credits(&rows, false).unwrap().rows(), 4);
        assert_eq!(relationships(&rows, true).unwrap().rows(), 1);
        assert_eq!(relationships(&rows, false).unwrap().rows(), 2);
    }
}
