//! Global options and the settings every command derives from them: defaults, then `.env`,
//! then the environment, then flags (clap reads the environment for each flag).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use secrecy::{ExposeSecret, SecretString};
use songrec_registry::Registry;
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
}

/// Validated settings shared by all commands.
pub struct Settings {
    pub data_dir: PathBuf,
    /// Database URL; secret because it may carry a password.
    pub database_url: SecretString,
}

impl Settings {
    pub fn from_args(global: &GlobalArgs) -> anyhow::Result<Settings> {
        let data_dir = global.data_dir.clone();
        let database_url = match std::env::var("DATABASE_URL") {
            Ok(url) if !url.is_empty() => SecretString::from(url),
            _ => SecretString::from(format!(
                "sqlite://{}?mode=rwc",
                data_dir.join("songrec.db").display()
            )),
        };
        Ok(Settings {
            data_dir,
            database_url,
        })
    }

    fn ensure_data_dir(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("cannot create data dir {}", self.data_dir.display()))
    }

    pub async fn open_store(&self) -> anyhow::Result<Store> {
        if self.database_url.expose_secret().starts_with("sqlite:") {
            self.ensure_data_dir()?;
        }
        let config = StoreConfig {
            url: self.database_url.clone(),
            max_connections: 8,
            acquire_timeout: std::time::Duration::from_secs(30),
        };
        Store::connect(&config)
            .await
            .context("cannot open the catalogue store")
    }

    pub fn open_registry(&self) -> anyhow::Result<Registry> {
        self.ensure_data_dir()?;
        Registry::local(&self.data_dir.join("registry")).context("cannot open the model registry")
    }
}

pub fn init_tracing(global: &GlobalArgs) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&global.log))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
