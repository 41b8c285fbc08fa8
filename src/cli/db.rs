//! `songrec db`: the catalogue database's schema migrations.

use std::process::ExitCode;

use super::Settings;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: DbCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum DbCommand {
    /// Apply pending migrations (every command also does this when it opens the store).
    Migrate,
    /// Show which migrations are applied and how many songs are stored.
    Status,
}

pub async fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        DbCommand::Migrate => {
            let store = settings.open_store_without_migrating().await?;
            let applied = store.migrate().await?;
            let outdated = store.outdated_song_records().await?;
            songrec_ingest::refresh_song_records(&store).await?;
            if outdated > 0 {
                println!(
                    "{}: {outdated} song record(s) derived again from the raw JSON",
                    settings.store_location()
                );
            }
            println!(
                "{}: applied {applied} migration(s); schema is up to date",
                settings.store_location()
            );
        }
        DbCommand::Status => {
            let store = settings.open_store_without_migrating().await?;
            let migrations = store.migration_status().await?;
            println!("{} ({})", settings.store_location(), store.backend());
            for m in &migrations {
                let state = m.applied_at.as_deref().unwrap_or("pending");
                println!("  {:>4}  {:<30} {state}", m.version, m.description);
            }
            let pending = migrations.iter().filter(|m| m.applied_at.is_none()).count();
            if pending == 0 {
                println!("songs: {}", store.count_songs().await?);
                let outdated = store.outdated_song_records().await?;
                if outdated > 0 {
                    println!(
                        "{outdated} song record(s) of another format version: \
                         run `songrec db migrate`"
                    );
                }
            } else {
                println!("{pending} migration(s) pending: run `songrec db migrate`");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
