//! Versioned schema migrations, embedded in the binary, one set per backend.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::migrate::Migrator;

use crate::{Backend, Pool, StoreError, on_pool};

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// One migration this build knows, and whether the database has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    pub version: i64,
    pub description: String,
    /// When it was applied; `None` when pending.
    pub applied_at: Option<String>,
}

fn migrator(backend: Backend) -> &'static Migrator {
    match backend {
        Backend::Sqlite => &SQLITE,
        Backend::Postgres => &POSTGRES,
    }
}

pub(crate) async fn migrate(pool: &Pool) -> Result<usize, StoreError> {
    let before = applied(pool).await?.len();
    on_pool!(pool, p, backend => migrator(backend).run(p).await?);
    let after = applied(pool).await?.len();
    Ok(after.saturating_sub(before))
}

pub(crate) async fn status(pool: &Pool) -> Result<Vec<MigrationState>, StoreError> {
    let applied = applied(pool).await?;
    let backend = on_pool!(pool, _p, backend => backend);
    Ok(migrator(backend)
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| MigrationState {
            version: m.version,
            description: m.description.to_string(),
            applied_at: applied
                .iter()
                .find(|(v, _)| *v == m.version)
                .map(|(_, at)| at.clone()),
        })
        .collect())
}

/// Whether the table `name` exists in the database (the current schema on PostgreSQL).
pub(crate) async fn table_exists(pool: &Pool, name: &str) -> Result<bool, StoreError> {
    on_pool!(pool, p, backend => {
        let sql = match backend {
            Backend::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1",
            Backend::Postgres => {
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = $1"
            }
        };
        let count: i64 = sqlx::query_scalar(sql).bind(name).fetch_one(p).await?;
        Ok(count > 0)
    })
}

/// Applied versions with their time, or nothing when the bookkeeping table does not exist yet.
async fn applied(pool: &Pool) -> Result<Vec<(i64, String)>, StoreError> {
    if !table_exists(pool, "_sqlx_migrations").await? {
        return Ok(Vec::new());
    }
    on_pool!(pool, p, _backend => {
        let rows = sqlx::query(
            "SELECT version, installed_on FROM _sqlx_migrations WHERE success ORDER BY version",
        )
        .fetch_all(p)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let version: i64 = row.try_get("version")?;
            let at: DateTime<Utc> = row.try_get("installed_on")?;
            out.push((version, at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));
        }
        Ok(out)
    })
}
