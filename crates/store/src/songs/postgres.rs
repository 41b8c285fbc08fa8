//! PostgreSQL writes: each batch is copied (`COPY ... FROM STDIN`, binary format) into staging
//! tables private to the connection, then applied with one set-based statement per table, all
//! in one transaction.
//!
//! The staging tables are temporary (each session has its own) and emptied at every commit;
//! they are created on a connection's first write. What changed is decided before, from one
//! query of the stored hashes, so the staged rows are only the songs to write.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sqlx::{Executor, PgConnection, PgPool, Row};

use super::{
    SONG_COLUMNS, SONG_UPDATES, SongRow, StoredSong, artists_of, batch_ids, credit_rows,
    plan_batch, relationship_rows,
};
use crate::records::current_version;
use crate::{StoreError, UpsertCounts};

/// Songs per write transaction: the COPY streams are a few megabytes at this size, and a
/// concurrent writer waiting for a shared row never waits long.
pub(super) const BATCH_SONGS: usize = 1_000;

/// The staging tables: the columns of the tables they feed, in the types songrec writes
/// (an adopted database's `songs` may differ slightly; the inserts below cast). Created on a
/// connection's first write, emptied at every commit. The raw JSON is compressed with LZ4 when
/// it is staged, as `songs` keeps it (migration 0002), so the insert into `songs` takes the
/// compressed value as it is; the default (pglz) was a quarter of the server's time.
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
        content_hash text, raw_json text, checked_at timestamptz,
        replaced boolean) ON COMMIT DELETE ROWS;
    IF EXISTS (
        SELECT 1 FROM pg_settings
        WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)
    ) THEN
        ALTER TABLE songrec_stage_songs ALTER COLUMN raw_json SET COMPRESSION lz4;
    END IF;
END
$$;";

const APPLY_RECORDS: &str = "\
INSERT INTO song_records (song_id, version, record)
SELECT song_id, version, record FROM songrec_stage_records ORDER BY song_id
ON CONFLICT (song_id) DO UPDATE SET version = excluded.version, record = excluded.record;";

/// Artists first (credits refer to them), every table in id order so that concurrent batches
/// lock shared rows in the same order and cannot deadlock. A credit or link listed twice on one
/// song is stored once.
fn apply_songs() -> String {
    format!(
        "INSERT INTO artists (id, name)
         SELECT id, name FROM songrec_stage_artists ORDER BY id
         ON CONFLICT (id) DO UPDATE SET name = excluded.name WHERE artists.name <> excluded.name;
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

pub(super) async fn write_batch(
    pool: &PgPool,
    rows: &[SongRow<'_>],
    checked_at: Option<DateTime<Utc>>,
) -> Result<UpsertCounts, StoreError> {
    let now = Utc::now();
    let mut tx = pool.begin().await?;

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
    tx.execute(CREATE_STAGING).await?;

    let mut records = CopyRows::new();
    for row in plan.writes.iter().chain(&plan.records_only) {
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
    for row in &plan.writes {
        let s = row.song;
        songs.row(22);
        songs.i64(row.id);
        songs.text(&s.title)?;
        songs.opt_text(s.language.as_deref())?;
        songs.text(&s.primary_artist.name)?;
        songs.opt_text(s.album.as_ref().map(|a| a.name.as_str()))?;
        songs.opt_text(s.description.as_deref())?;
        songs.opt_text(s.release_date.as_deref())?;
        songs.opt_i64(row.pageviews);
        songs.text(&row.featured_artists)?;
        songs.text(&row.producer_artists)?;
        songs.jsonb(&row.relationships)?;
        songs.opt_text(s.url.as_deref())?;
        songs.timestamptz(now);
        songs.i64(row.primary_artist_id);
        songs.opt_i64(row.album_id);
        match s.release_year {
            Some(year) => songs.i32(year),
            None => songs.null(),
        }
        songs.opt_text(s.song_art_image_url.as_deref())?;
        songs.timestamptz(now);
        songs.text(&row.hash)?;
        songs.text(row.raw)?;
        match checked_at {
            Some(at) => songs.timestamptz(at),
            None => songs.null(),
        }
        songs.bool(plan.replaced.binary_search(&row.id).is_ok());
    }
    copy_in(&mut tx, "songrec_stage_songs", songs).await?;

    let mut credits = CopyRows::new();
    for (song, artist, role, position) in credit_rows(&plan.writes) {
        credits.row(4);
        credits.i64(song);
        credits.i64(artist);
        credits.text(role)?;
        credits.i32(position);
    }
    copy_in(&mut tx, "songrec_stage_credits", credits).await?;

    let mut relationships = CopyRows::new();
    for (song, related, kind, position) in relationship_rows(&plan.writes) {
        relationships.row(4);
        relationships.i64(song);
        relationships.i64(related);
        relationships.text(kind)?;
        relationships.i32(position);
    }
    copy_in(&mut tx, "songrec_stage_relationships", relationships).await?;

    let apply = format!("{APPLY_RECORDS}\n{}", apply_songs());
    tx.execute(apply.as_str()).await?;
    tx.commit().await?;
    Ok(plan.counts)
}

/// Sends `rows` into the staging table `table` (all its columns, in order).
async fn copy_in(conn: &mut PgConnection, table: &str, rows: CopyRows) -> Result<(), StoreError> {
    if rows.count == 0 {
        return Ok(());
    }
    let mut copy = conn
        .copy_in_raw(&format!("COPY {table} FROM STDIN (FORMAT binary)"))
        .await?;
    copy.send(rows.finish()).await?;
    copy.finish().await?;
    Ok(())
}

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 00:00:00 UTC).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// Rows in PostgreSQL's binary COPY format: a header, then per row its field count and each
/// field as a big-endian length (-1 for NULL) and the value's binary form.
struct CopyRows {
    buf: Vec<u8>,
    count: u64,
}

impl CopyRows {
    fn new() -> CopyRows {
        let mut buf = Vec::with_capacity(64 * 1024);
        buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        buf.extend_from_slice(&0i32.to_be_bytes()); // flags
        buf.extend_from_slice(&0i32.to_be_bytes()); // header extension length
        CopyRows { buf, count: 0 }
    }

    fn row(&mut self, fields: i16) {
        self.count += 1;
        self.buf.extend_from_slice(&fields.to_be_bytes());
    }

    fn null(&mut self) {
        self.buf.extend_from_slice(&(-1i32).to_be_bytes());
    }

    fn fixed<const N: usize>(&mut self, value: [u8; N]) {
        // Fixed-size values are at most 8 bytes.
        let len = i32::try_from(N).unwrap_or(i32::MAX);
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(&value);
    }

    fn i64(&mut self, v: i64) {
        self.fixed(v.to_be_bytes());
    }

    fn opt_i64(&mut self, v: Option<i64>) {
        match v {
            Some(v) => self.i64(v),
            None => self.null(),
        }
    }

    fn i32(&mut self, v: i32) {
        self.fixed(v.to_be_bytes());
    }

    fn bool(&mut self, v: bool) {
        self.fixed([u8::from(v)]);
    }

    fn timestamptz(&mut self, at: DateTime<Utc>) {
        self.i64(at.timestamp_micros() - PG_EPOCH_MICROS);
    }

    /// A variable-length value: `prefix` then `value`.
    fn var(&mut self, prefix: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let len = prefix.len() + value.len();
        let len = i32::try_from(len).map_err(|_| StoreError::OutOfRange {
            field: "value length",
            value: len as u64,
        })?;
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(prefix);
        self.buf.extend_from_slice(value);
        Ok(())
    }

    fn bytes(&mut self, v: &[u8]) -> Result<(), StoreError> {
        self.var(&[], v)
    }

    fn text(&mut self, v: &str) -> Result<(), StoreError> {
        self.var(&[], v.as_bytes())
    }

    fn opt_text(&mut self, v: Option<&str>) -> Result<(), StoreError> {
        match v {
            Some(v) => self.text(v),
            None => {
                self.null();
                Ok(())
            }
        }
    }

    /// `jsonb`'s binary form: format version 1, then the JSON text.
    fn jsonb(&mut self, json: &str) -> Result<(), StoreError> {
        self.var(&[1], json.as_bytes())
    }

    fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_rows_are_framed_as_postgres_reads_them() {
        let mut rows = CopyRows::new();
        rows.row(3);
        rows.i64(7);
        rows.null();
        rows.jsonb("[]").unwrap();
        let bytes = rows.finish();
        assert_eq!(&bytes[..11], b"PGCOPY\n\xff\r\n\0");
        let body = &bytes[19..];
        let mut expected = vec![
            0, 3, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 7, 0xff, 0xff, 0xff, 0xff,
        ];
        expected.extend_from_slice(&[0, 0, 0, 3, 1, b'[', b']', 0xff, 0xff]);
        assert_eq!(body, expected.as_slice());
    }

    #[test]
    fn times_count_from_the_postgres_epoch() {
        let mut rows = CopyRows::new();
        let epoch = DateTime::parse_from_rfc3339("2000-01-01T00:00:01Z")
            .unwrap()
            .with_timezone(&Utc);
        rows.timestamptz(epoch);
        assert_eq!(
            &rows.buf[19..],
            &[0, 0, 0, 8, 0, 0, 0, 0, 0, 0x0f, 0x42, 0x40]
        );
    }
}
