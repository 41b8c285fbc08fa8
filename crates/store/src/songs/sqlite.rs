//! SQLite writes: each batch in one `BEGIN IMMEDIATE` transaction, through multi-row
//! statements of a few fixed sizes, so every statement is compiled once per connection and
//! reused from the statement cache for the rest of the import.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use futures::TryStreamExt;
use sqlx::error::BoxDynError;
use sqlx::sqlite::SqliteArguments;
use sqlx::{Arguments, Encode, QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool, Type};

use super::{
    SONG_COLUMNS, SONG_UPDATES, SongRow, StoredSong, artists_of, batch_ids, credit_rows,
    plan_batch, relationship_rows,
};
use crate::records::current_version;
use crate::{StoreError, UpsertCounts};

/// Songs per write transaction. Each commit writes every page it changed to the WAL again, and
/// the secondary indexes (pageviews, credits by artist, links by related song) take inserts
/// all over, so a commit rewrites most of their pages: the fewer commits, the less is written.
/// At this size a transaction lasts a fraction of a second, so a concurrent writer (which waits
/// for the lock) never waits long, and readers (WAL) are not held up at all.
pub(super) const BATCH_SONGS: usize = 5_000;

/// Rows of the largest statement per table (fewer when the table's columns would exceed
/// [`super::MAX_BIND_PARAMS`]); smaller remainders go in statements of halving sizes, so a
/// table has at most a handful of distinct statements. Large statements also copy fewer pages
/// into SQLite's statement journal, which keeps every page a statement touches first.
const MAX_ROWS: usize = 1_024;

pub(super) async fn write_batch(
    pool: &SqlitePool,
    rows: &[SongRow<'_>],
    checked_at: Option<DateTime<Utc>>,
) -> Result<UpsertCounts, StoreError> {
    // Times are stored as sqlx writes a `DateTime<Utc>`, formatted once per batch.
    let now = sqlite_time(Utc::now());
    let checked_at = checked_at.map(sqlite_time);
    // Take the write lock up front, so reading the stored hashes and writing happen under one
    // lock and a concurrent writer waits (busy timeout) instead of failing.
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;

    // A batch has at most BATCH_SONGS ids, so each of these lists fits in one statement.
    let ids = batch_ids(rows);
    let mut stored: HashMap<i64, StoredSong> = HashMap::with_capacity(rows.len());
    {
        let mut qb = QueryBuilder::new(
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
    if let Some(at) = checked_at.as_deref()
        && !stored.is_empty()
    {
        let mut qb = QueryBuilder::new("UPDATE songs SET checked_at = ");
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
    let record_rows: Vec<&SongRow> = plan
        .writes
        .iter()
        .chain(&plan.records_only)
        .copied()
        .collect();
    insert_rows(
        &mut tx,
        3,
        "INSERT INTO song_records (song_id, version, record) ",
        " ON CONFLICT (song_id) DO UPDATE SET version = excluded.version, \
         record = excluded.record",
        &record_rows,
        |b, row| {
            b.bind(row.id)
                .bind(current_version())
                .bind(row.record.as_slice());
        },
    )
    .await?;
    if plan.writes.is_empty() {
        tx.commit().await?;
        return Ok(plan.counts);
    }

    insert_rows(
        &mut tx,
        2,
        "INSERT INTO artists (id, name) ",
        " ON CONFLICT (id) DO UPDATE SET name = excluded.name \
         WHERE artists.name <> excluded.name",
        &artists_of(&plan.writes),
        |b, (id, name)| {
            b.bind(*id).bind(*name);
        },
    )
    .await?;

    let songs_head = format!("INSERT INTO songs ({SONG_COLUMNS}) ");
    let songs_tail = format!(" ON CONFLICT (id) DO UPDATE SET {SONG_UPDATES}");
    insert_rows(
        &mut tx,
        22,
        &songs_head,
        &songs_tail,
        &plan.writes,
        |b, row| {
            let s = row.song;
            b.bind(row.id)
                .bind(s.title.as_str())
                .bind(s.language.as_deref())
                .bind(s.primary_artist.name.as_str())
                .bind(s.album.as_ref().map(|a| a.name.as_str()))
                .bind(s.description.as_deref())
                .bind(s.release_date.as_deref())
                .bind(row.pageviews)
                .bind(row.featured_artists.as_str())
                .bind(row.producer_artists.as_str())
                .bind(row.relationships.as_str())
                .bind(s.url.as_deref())
                .bind(now.as_str())
                .bind(row.primary_artist_id)
                .bind(row.album_id)
                .bind(s.release_year)
                .bind(s.song_art_image_url.as_deref())
                .bind(now.as_str())
                .bind(row.hash.as_str())
                // The raw JSON is in `raw_json_lz4`; `raw_json` is NOT NULL.
                .bind("")
                .bind(checked_at.as_deref())
                .bind(row.raw_lz4.as_slice());
        },
    )
    .await?;

    for table in ["credits", "relationships"] {
        for chunk in plan.replaced.chunks(super::MAX_BIND_PARAMS) {
            let mut qb = QueryBuilder::new(format!("DELETE FROM {table} WHERE song_id IN ("));
            let mut list = qb.separated(", ");
            for id in chunk {
                list.push_bind(*id);
            }
            qb.push(")");
            qb.build().execute(&mut *tx).await?;
        }
    }

    // A credit or link listed twice on one song is stored once.
    insert_rows(
        &mut tx,
        4,
        "INSERT INTO credits (song_id, artist_id, role, position) ",
        " ON CONFLICT DO NOTHING",
        &credit_rows(&plan.writes),
        |b, (song, artist, role, position)| {
            b.bind(*song).bind(*artist).bind(*role).bind(*position);
        },
    )
    .await?;
    insert_rows(
        &mut tx,
        4,
        "INSERT INTO relationships (song_id, related_song_id, kind, position) ",
        " ON CONFLICT DO NOTHING",
        &relationship_rows(&plan.writes),
        |b, (song, related, kind, position)| {
            b.bind(*song).bind(*related).bind(*kind).bind(*position);
        },
    )
    .await?;

    tx.commit().await?;
    Ok(plan.counts)
}

/// `head VALUES (..), (..) tail` for every item (`columns` values each), in statements of the
/// largest size and the remainder in statements of halving power-of-two sizes. The statement
/// text depends only on the row count, so each size is compiled once per connection and then
/// reused.
async fn insert_rows<'a, T>(
    conn: &mut SqliteConnection,
    columns: usize,
    head: &str,
    tail: &str,
    items: &'a [T],
    mut bind: impl FnMut(&mut Values<'a>, &'a T),
) -> Result<(), StoreError> {
    let max_rows = MAX_ROWS.min(super::MAX_BIND_PARAMS / columns);
    let mut rest = items;
    let mut statements: Vec<(usize, String)> = Vec::new();
    while !rest.is_empty() {
        let n = statement_rows(rest.len(), max_rows);
        let (chunk, tail_items) = rest.split_at(n);
        rest = tail_items;
        let mut values = Values::with_capacity(n * columns);
        for item in chunk {
            bind(&mut values, item);
        }
        let args = values.into_arguments()?;
        let sql = match statements.iter().position(|(rows, _)| *rows == n) {
            Some(i) => &statements[i].1,
            None => {
                statements.push((n, insert_statement(head, tail, columns, n)));
                &statements[statements.len() - 1].1
            }
        };
        sqlx::query_with(sql, args).execute(&mut *conn).await?;
    }
    Ok(())
}

/// `head VALUES (?, ..), .. tail` with `rows` rows of `columns` placeholders.
fn insert_statement(head: &str, tail: &str, columns: usize, rows: usize) -> String {
    let row = format!("({})", vec!["?"; columns].join(", "));
    let mut sql = String::with_capacity(head.len() + tail.len() + 8 + rows * (row.len() + 2));
    sql.push_str(head);
    sql.push_str("VALUES ");
    for i in 0..rows {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&row);
    }
    sql.push_str(tail);
    sql
}

/// The values bound to one multi-row statement, in placeholder order. Binding straight into
/// the arguments (rather than through a query builder that also writes the text) leaves the
/// text to [`insert_statement`], written once per statement size.
struct Values<'a> {
    args: SqliteArguments<'a>,
    /// The first value that could not be encoded (none of songrec's types fail to).
    error: Option<BoxDynError>,
}

impl<'a> Values<'a> {
    fn with_capacity(values: usize) -> Values<'a> {
        let mut args = SqliteArguments::default();
        args.reserve(values, 0);
        Values { args, error: None }
    }

    fn bind<V: 'a + Encode<'a, Sqlite> + Type<Sqlite>>(&mut self, value: V) -> &mut Values<'a> {
        if let Err(e) = self.args.add(value)
            && self.error.is_none()
        {
            self.error = Some(e);
        }
        self
    }

    fn into_arguments(self) -> Result<SqliteArguments<'a>, StoreError> {
        match self.error {
            Some(e) => Err(sqlx::Error::Encode(e).into()),
            None => Ok(self.args),
        }
    }
}

/// A time as sqlx stores a `DateTime<Utc>` in SQLite (RFC 3339 text).
fn sqlite_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// How many of `remaining` rows the next statement takes, at most `max_rows`.
fn statement_rows(remaining: usize, max_rows: usize) -> usize {
    if remaining >= max_rows {
        max_rows
    } else {
        // The largest power of two not above `remaining` (which is at least 1 here).
        1 << remaining.ilog2()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_go_in_statements_of_a_few_sizes() {
        let mut sizes = Vec::new();
        let mut rest = 2 * 1000 + 13;
        while rest > 0 {
            let n = statement_rows(rest, 1000);
            sizes.push(n);
            rest -= n;
        }
        assert_eq!(sizes, vec![1000, 1000, 8, 4, 1]);
    }
}
