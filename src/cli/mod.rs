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

use clap::{Parser, Subcommand};

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
    /// Score a model against a generated catalogue's ground truth (scene precision@10).
    Eval(eval::Args),
    /// Serve recommendations from the champion model over HTTP.
    Serve(serve::Args),
    /// First run: seed a sample catalogue if the store is empty, train if needed, serve.
    Demo(demo::Args),
    /// The whole pipeline on a timer: fetch, train, promote, and serve the champion.
    Run(run::Args),
    /// List, inspect, promote and roll back registered model versions.
    Models(models::Args),
}

/// Parses arguments, runs the command, prints one clear line on failure.
pub fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
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
