//! Global options and the settings every command derives from them: defaults, then `.env`,
//! then the environment, then flags (clap reads the environment for each flag).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use secrecy::{ExposeSecret, SecretString};
use songrec_pipeline::{Fetching, Pipeline, PipelineMetrics, TrainOptions, TrainWhen};
use songrec_registry::Registry;
mod registry;

use registry::{RegistryArgs, RegistrySettings};
use songrec_store::{Store, StoreConfig};

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Directory for the SQLite database and the local model registry.
    #[arg(
        long,
        global = true,
        env = "SONGREC_DATA_DIR",
        default_value = "./songrec-data"
    )]
    pub data_dir: PathBuf,
    /// Log filter (e.g. `info`, `songrec=debug`); `RUST_LOG` also works.
    #[arg(long, global = true, env = "SONGREC_LOG", default_value = "info")]
    pub log: String,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Most database connections the process opens.
    #[arg(long, global = true, env = "SONGREC_DB_MAX_CONNECTIONS", default_value_t = songrec_store::DEFAULT_MAX_CONNECTIONS, value_parser = clap::value_parser!(u32).range(1..))]
    pub db_max_connections: u32,
    /// How long to wait for a free database connection or a lock (e.g. `30s`, `2m`).
    #[arg(long, global = true, env = "SONGREC_DB_ACQUIRE_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub db_acquire_timeout: std::time::Duration,
    /// How long one PostgreSQL write of a batch of songs may take before it is abandoned
    /// (rolled back) and written again, up to 4 attempts (e.g. `60s`).
    #[arg(long, global = true, env = "SONGREC_DB_WRITE_TIMEOUT", default_value = "60s", value_parser = humantime::parse_duration)]
    pub db_write_timeout: std::time::Duration,
}

/// Validated settings shared by all commands.
pub struct Settings {
    pub data_dir: PathBuf,
    /// Where model versions are registered: the data dir, or MLflow.
    pub registry: RegistrySettings,
    /// The catalogue database: URL (secret, it may carry a password) and pool settings.
    pub store: StoreConfig,
}

impl Settings {
    pub fn from_args(global: &GlobalArgs) -> anyhow::Result<Settings> {
        let data_dir = global.data_dir.clone();
        let registry = RegistrySettings::from_args(&global.registry, &data_dir, |name| {
            std::env::var(name).ok()
        })?;
        let url = database_url(|name| std::env::var(name).ok(), &data_dir)?;
        Ok(Settings {
            registry,
            store: StoreConfig {
                url,
                max_connections: global.db_max_connections,
                acquire_timeout: global.db_acquire_timeout,
                write_timeout: global.db_write_timeout,
            },
            data_dir,
        })
    }

    fn ensure_data_dir(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("cannot create data dir {}", self.data_dir.display()))
    }

    /// Opens the catalogue store, applying pending migrations.
    pub async fn open_store(&self) -> anyhow::Result<Store> {
        self.ensure_sqlite_dir()?;
        songrec_ingest::open_store(&self.store)
            .await
            .with_context(|| {
                format!(
                    "cannot open the catalogue store at {}",
                    self.store_location()
                )
            })
    }

    /// Opens the catalogue store as it is, for inspecting its migrations.
    pub async fn open_store_without_migrating(&self) -> anyhow::Result<Store> {
        self.ensure_sqlite_dir()?;
        Store::connect_without_migrating(&self.store)
            .await
            .with_context(|| {
                format!(
                    "cannot open the catalogue store at {}",
                    self.store_location()
                )
            })
    }

    fn ensure_sqlite_dir(&self) -> anyhow::Result<()> {
        if self.store.url.expose_secret().starts_with("sqlite:") {
            self.ensure_data_dir()?;
        }
        Ok(())
    }

    /// The database URL without its password, for messages.
    pub fn store_location(&self) -> String {
        let url = self.store.url.expose_secret();
        match url::Url::parse(url) {
            Ok(mut parsed) if parsed.password().is_some() => {
                let _ = parsed.set_password(Some("***"));
                parsed.to_string()
            }
            Ok(_) => url.to_string(),
            Err(_) => "an unparsable database URL".to_string(),
        }
    }

    /// Opens the model registry (nothing is contacted yet for MLflow).
    pub fn open_registry(&self) -> anyhow::Result<Registry> {
        self.registry.open()
    }

    /// A pipeline on these settings' store, registry and data dir.
    pub fn pipeline(
        &self,
        fetching: Fetching,
        train: TrainOptions,
        train_when: TrainWhen,
    ) -> anyhow::Result<Pipeline> {
        self.ensure_sqlite_dir()?;
        Ok(Pipeline {
            store: self.store.clone(),
            registry: std::sync::Arc::new(self.open_registry()?),
            work_dir: self.data_dir.clone(),
            fetching,
            train,
            train_when,
            keep_versions: None,
            metrics: PipelineMetrics::new(),
            backlog: Default::default(),
        })
    }
}

/// The database URL: `DATABASE_URL`, else the original's `DB_HOST`, `DB_PORT` (default 5432),
/// `DB_USER`, `DB_PASS`, `DB_NAME`, else SQLite in the data dir. Errors never quote a password.
fn database_url(
    env: impl Fn(&str) -> Option<String>,
    data_dir: &std::path::Path,
) -> anyhow::Result<SecretString> {
    let var = |name: &str| env(name).filter(|v| !v.is_empty());
    if let Some(mode) = var("PGSSLMODE") {
        check_sslmode("PGSSLMODE", &mode)?;
    }
    if let Some(url) = var("DATABASE_URL") {
        return Ok(SecretString::from(url));
    }
    let Some(host) = var("DB_HOST") else {
        return Ok(SecretString::from(format!(
            "sqlite://{}?mode=rwc",
            data_dir.join("songrec.db").display()
        )));
    };
    let port: u16 = match var("DB_PORT") {
        Some(p) => p
            .parse()
            .map_err(|_| anyhow::anyhow!("DB_PORT must be a port number, not {p:?}"))?,
        None => 5432,
    };
    let user = var("DB_USER").context("DB_HOST is set but DB_USER is not")?;
    let name = var("DB_NAME").context("DB_HOST is set but DB_NAME is not")?;
    let mut url = url::Url::parse("postgres://localhost").context("base URL")?;
    url.set_host(Some(&host))
        .map_err(|e| anyhow::anyhow!("DB_HOST {host:?} is not a valid host: {e}"))?;
    // The setters percent-encode, so any character is allowed in the user and password.
    let invalid = |what: &str| anyhow::anyhow!("{what} cannot be put in a database URL");
    url.set_port(Some(port)).map_err(|()| invalid("DB_PORT"))?;
    url.set_username(&user).map_err(|()| invalid("DB_USER"))?;
    if let Some(password) = var("DB_PASS") {
        url.set_password(Some(&password))
            .map_err(|()| invalid("DB_PASS"))?;
    }
    url.set_path(&name);
    // TLS as managed databases require it. Without these, libpq's PGSSLMODE and PGSSLROOTCERT
    // apply (the driver reads them for any PostgreSQL URL).
    if let Some(mode) = var("DB_SSLMODE") {
        check_sslmode("DB_SSLMODE", &mode)?;
        url.query_pairs_mut().append_pair("sslmode", &mode);
    }
    if let Some(cert) = var("DB_SSLROOTCERT") {
        url.query_pairs_mut().append_pair("sslrootcert", &cert);
    }
    Ok(SecretString::from(String::from(url)))
}

/// The `sslmode`s libpq and the driver know; anything else would silently mean `prefer`.
const SSL_MODES: [&str; 6] = [
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

fn check_sslmode(variable: &str, mode: &str) -> anyhow::Result<()> {
    if SSL_MODES.contains(&mode) {
        Ok(())
    } else {
        anyhow::bail!(
            "{variable} must be one of {}, not {mode:?}",
            SSL_MODES.join(", ")
        )
    }
}

pub fn init_tracing(global: &GlobalArgs) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&global.log))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal: logs captured by a service manager or a file stay plain text.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url_from(vars: &[(&str, &str)]) -> anyhow::Result<String> {
        let lookup = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        database_url(lookup, std::path::Path::new("/data")).map(|u| u.expose_secret().to_string())
    }

    #[test]
    fn database_url_wins_over_the_db_variables() {
        let url = url_from(&[("DATABASE_URL", "postgres://u@h/d"), ("DB_HOST", "other")]);
        assert_eq!(url.unwrap(), "postgres://u@h/d");
    }

    #[test]
    fn the_originals_db_variables_build_a_postgres_url_with_an_escaped_password() {
        let url = url_from(&[
            ("DB_HOST", "db.example.com"),
            ("DB_USER", "songs"),
            ("DB_PASS", "p@ss/w:rd"),
            ("DB_NAME", "genius"),
        ])
        .unwrap();
        assert_eq!(
            url,
            "postgres://songs:p%40ss%2Fw%3Ard@db.example.com:5432/genius"
        );
        let parsed = url::Url::parse(&url).unwrap();
        assert_eq!(parsed.port(), Some(5432));
    }

    #[test]
    fn db_sslmode_and_root_certificate_go_into_the_url_and_a_bad_mode_is_refused() {
        let url = url_from(&[
            ("DB_HOST", "db.example.com"),
            ("DB_USER", "songs"),
            ("DB_PASS", "pw"),
            ("DB_NAME", "genius"),
            ("DB_SSLMODE", "verify-full"),
            ("DB_SSLROOTCERT", "/etc/ssl/ca one.pem"),
        ])
        .unwrap();
        assert_eq!(
            url,
            "postgres://songs:pw@db.example.com:5432/genius?sslmode=verify-full&sslrootcert=%2Fetc%2Fssl%2Fca+one.pem"
        );
        let err = url_from(&[
            ("DB_HOST", "h"),
            ("DB_USER", "u"),
            ("DB_PASS", "hunter2"),
            ("DB_NAME", "d"),
            ("DB_SSLMODE", "on"),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("DB_SSLMODE") && err.contains("verify-full"),
            "{err}"
        );
        assert!(!err.contains("hunter2"));
        let err = url_from(&[("PGSSLMODE", "yes")]).unwrap_err().to_string();
        assert!(err.contains("PGSSLMODE"), "{err}");
    }

    #[test]
    fn without_any_database_variable_the_store_is_sqlite_in_the_data_dir() {
        assert_eq!(url_from(&[]).unwrap(), "sqlite:///data/songrec.db?mode=rwc");
    }

    #[test]
    fn a_missing_db_user_is_named_and_the_password_never_appears() {
        let err = url_from(&[("DB_HOST", "h"), ("DB_PASS", "hunter2"), ("DB_NAME", "d")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("DB_USER"), "{err}");
        assert!(!err.contains("hunter2"));
        let err = url_from(&[
            ("DB_HOST", "h"),
            ("DB_PORT", "x"),
            ("DB_USER", "u"),
            ("DB_NAME", "d"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("DB_PORT"), "{err}");
    }
}
