//! A fresh database per test: a SQLite file in a temp dir, or a uniquely named PostgreSQL
//! database that is dropped when the test ends, pass or fail.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU32, Ordering};

use futures::FutureExt;
use secrecy::ExposeSecret;
use songrec_store::{Store, StoreConfig};
use sqlx::{Connection, Row};

const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// What a suite test gets: the store, and its config to open more connections like another
/// process would.
pub struct TestDb {
    pub store: Store,
    pub config: StoreConfig,
}

impl TestDb {
    /// Runs a `SELECT id, pageviews, artist, title ...` query directly, outside the store.
    pub async fn query_rows(&self, sql: &str) -> Vec<(u64, i64, String, String)> {
        let url = self.config.url.expose_secret();
        let rows: Vec<(i64, i64, String, String)> = if url.starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
            decode(sqlx::query(sql).fetch_all(&mut conn).await.unwrap())
        } else {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            decode(sqlx::query(sql).fetch_all(&mut conn).await.unwrap())
        };
        rows.into_iter()
            .map(|(id, pv, a, t)| (u64::try_from(id).unwrap(), pv, a, t))
            .collect()
    }
}

impl TestDb {
    /// Runs one statement directly, outside the store (to stage what another build left).
    pub async fn execute(&self, sql: &str) {
        let url = self.config.url.expose_secret();
        if url.starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        } else {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        }
    }
}

fn decode<R: Row>(rows: Vec<R>) -> Vec<(i64, i64, String, String)>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    rows.iter()
        .map(|r| {
            (
                r.try_get(0).unwrap(),
                r.try_get(1).unwrap(),
                r.try_get(2).unwrap(),
                r.try_get(3).unwrap(),
            )
        })
        .collect()
}

pub async fn run_sqlite<F, Fut>(test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig::sqlite(&dir.path().join("songrec.db"));
    let store = Store::connect(&config).await.unwrap();
    test(TestDb {
        store: store.clone(),
        config,
    })
    .await;
    store.close().await;
}

fn services_required() -> bool {
    std::env::var("SONGREC_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

fn unique_database_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "songrec_test_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

pub async fn run_postgres<F, Fut>(test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    with_postgres_database(|config| async move {
        let store = Store::connect(&config).await.unwrap();
        test(TestDb {
            store: store.clone(),
            config,
        })
        .await;
        store.close().await;
    })
    .await;
}

/// Runs `test` with the config of a new, empty database, dropped afterwards even on panic.
pub async fn with_postgres_database<F, Fut>(test: F)
where
    F: FnOnce(StoreConfig) -> Fut,
    Fut: Future<Output = ()>,
{
    let admin_url =
        std::env::var("SONGREC_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_string());
    let mut admin = match sqlx::PgConnection::connect(&admin_url).await {
        Ok(conn) => conn,
        Err(e) if !services_required() => {
            eprintln!(
                "skipping: PostgreSQL unreachable ({e}); set SONGREC_REQUIRE_SERVICES=1 to fail instead"
            );
            return;
        }
        Err(e) => panic!("PostgreSQL unreachable and SONGREC_REQUIRE_SERVICES=1: {e}"),
    };
    let name = unique_database_name();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&name);
    let config = StoreConfig::from_url(url.as_str());

    let outcome = AssertUnwindSafe(test(config)).catch_unwind().await;

    let dropped = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await;
    if let Err(payload) = outcome {
        std::panic::resume_unwind(payload);
    }
    dropped.unwrap();
}

/// Each named test (an `async fn(TestDb)` of the calling file) as a `#[tokio::test]` on
/// SQLite and on PostgreSQL, in modules `sqlite` and `postgres`. (Not every test binary that
/// includes this module uses it.)
#[allow(unused_macros)]
macro_rules! both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    crate::support::run_sqlite(super::$test).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    crate::support::run_postgres(super::$test).await;
                }
            )*
        }
    };
}
#[allow(unused_imports)]
pub(crate) use both_backends;
