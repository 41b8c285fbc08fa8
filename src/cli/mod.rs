//! The `songrec` command line: one file per command, each with its `Args` and `run`.

mod config;
mod db;
mod demo;
mod eval;
mod export;
mod fetch;
mod generate;
mod import;
mod models;
mod run;
mod serve;
mod train;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

pub use config::{GlobalArgs, Settings};

#[derive(Debug, Parser)]
#[command(
    name = "songrec",
    version,
    about = "Song recommendations from Genius metadata: fetch, store, train, register, serve."
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a deterministic synthetic catalogue (Genius song objects, one per line).
    Generate(generate::Args),
    /// Fetch songs from the Genius API into the store (the artist of the hour by default).
    Fetch(fetch::Args),
    /// Upsert songs from JSONL, JSON arrays or saved Genius API responses into the store.
    Import(import::Args),
    /// Write the stored catalogue as JSON Lines that `import` reads back.
    Export(export::Args),
    /// Inspect or apply the catalogue database's migrations.
    Db(db::Args),
    /// Train a model on the stored catalogue, evaluate it, register it, maybe promote it.
    Train(train::Args),
    /// Score a model against a generated catalogue's ground truth or per-song labels (top 10).
    Eval(eval::Args),
    /// Serve recommendations from the champion model over HTTP.
    Serve(serve::Args),
    /// First run: seed a sample catalogue if the store is empty, train if needed, serve.
    Demo(demo::Args),
    /// The whole pipeline on a timer: fetch, train, promote, and serve the champion.
    Run(run::Args),
    /// List, inspect, promote, roll back and prune registered model versions.
    Models(models::Args),
}

/// Parses arguments, runs the command, prints one clear line on failure.
pub fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let cli = parse_args();
    config::init_tracing(&cli.global);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", error_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// Parses the command line as clap's derive would, with every environment value hidden.
fn parse_args() -> Cli {
    let mut matches = command().get_matches();
    Cli::from_arg_matches_mut(&mut matches).unwrap_or_else(|e| e.exit())
}

/// The command line, with `--help` never showing an argument's value from the environment:
/// `MLFLOW_TRACKING_URI` may carry credentials, and no other value is worth the risk.
fn command() -> clap::Command {
    hide_env_values(Cli::command())
}

fn hide_env_values(command: clap::Command) -> clap::Command {
    command
        .mut_args(|arg| arg.hide_env_values(true))
        .mut_subcommands(hide_env_values)
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let settings = Settings::from_args(&cli.global)?;
    match cli.command {
        Command::Generate(args) => generate::run(args).await,
        Command::Fetch(args) => fetch::run(&settings, args).await,
        Command::Import(args) => import::run(&settings, args).await,
        Command::Export(args) => export::run(&settings, args).await,
        Command::Db(args) => db::run(&settings, args).await,
        Command::Train(args) => train::run(&settings, args).await,
        Command::Eval(args) => eval::run(&settings, args).await,
        Command::Serve(args) => serve::run(&settings, args).await,
        Command::Demo(args) => demo::run(&settings, args).await,
        Command::Run(args) => run::run(&settings, args).await,
        Command::Models(args) => models::run(&settings, args).await,
    }
}

use songrec_pipeline::error_line;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_argument_shows_its_environment_value_in_help() {
        fn check(command: &clap::Command, checked: &mut usize) {
            for arg in command.get_arguments() {
                if arg.get_env().is_some() {
                    assert!(
                        arg.is_hide_env_values_set(),
                        "{} --{:?}",
                        command.get_name(),
                        arg.get_long()
                    );
                    *checked += 1;
                }
            }
            for sub in command.get_subcommands() {
                check(sub, checked);
            }
        }
        let mut command = command();
        command.build();
        let mut checked = 0;
        check(&command, &mut checked);
        assert!(checked > 5, "only {checked} arguments read the environment");
    }
}
