//! `songrec run`: the whole pipeline on a timer in one process. Each cycle fetches (the artist
//! of the hour by default), trains when the catalogue changed or no champion exists, and lets the
//! promotion policy decide; the HTTP server in the same process picks up a new champion by
//! polling the registry, so nothing restarts.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use songrec_registry::PromotionPolicy;
use songrec_scheduler::{CancellationToken, Schedule};

use super::{Settings, fetch, serve, train};

#[derive(Debug, clap::Args)]
// The flattened fetch options bring their own argument group named after their struct.
#[group(skip)]
pub struct Args {
    /// Time between two cycles (e.g. `1h`, `30m`).
    #[arg(long, env = "SONGREC_RUN_EVERY", default_value = "1h", value_parser = parse_period)]
    every: Duration,
    /// Run one cycle now and exit, without serving (for cron or an orchestrator).
    #[arg(long, conflicts_with = "no_serve")]
    once: bool,
    /// Do not serve HTTP from this process (another `songrec serve` does).
    #[arg(long)]
    no_serve: bool,
    /// Address to serve on.
    #[arg(long, env = "SONGREC_ADDR", default_value = "127.0.0.1:8000")]
    addr: SocketAddr,
    /// How often the server checks the registry for a new champion.
    #[arg(long, env = "SONGREC_RELOAD_INTERVAL", default_value = "30s", value_parser = parse_period)]
    reload_interval: Duration,
    /// When a newly trained version becomes champion.
    #[arg(long, default_value = "auto", value_parser = parse_policy)]
    promote: PromotionPolicy,
    /// Train every cycle, even when the fetch stored nothing new.
    #[arg(long)]
    always_train: bool,
    #[command(flatten)]
    fetch: fetch::Args,
}

fn parse_period(raw: &str) -> Result<Duration, String> {
    let period = humantime::parse_duration(raw).map_err(|e| e.to_string())?;
    if period.is_zero() {
        return Err("the period must be longer than zero".to_owned());
    }
    Ok(period)
}

fn parse_policy(raw: &str) -> Result<PromotionPolicy, String> {
    raw.parse::<PromotionPolicy>().map_err(|e| e.to_string())
}

/// How one cycle ended, for the log and `--once`'s exit code.
#[derive(Debug, PartialEq, Eq)]
enum CycleOutcome {
    Trained,
    NothingNew,
    Failed,
}

pub async fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    let stop = CancellationToken::new();
    let on_signal = stop.clone();
    tokio::spawn(async move {
        serve::shutdown_signal().await;
        tracing::info!("stopping after the current step");
        on_signal.cancel();
    });

    if args.once {
        let outcome = cycle(settings, &args, &stop).await;
        return Ok(match outcome {
            CycleOutcome::Failed => ExitCode::FAILURE,
            _ => ExitCode::SUCCESS,
        });
    }

    let server = (!args.no_serve).then(|| {
        let stopped = stop.clone();
        let (addr, interval) = (args.addr, args.reload_interval);
        async move { serve::serve_until(settings, addr, interval, stopped.cancelled_owned()).await }
    });
    let schedule = Schedule {
        every: args.every,
        immediately: true,
        max_cycles: None,
    };
    tracing::info!(every = %humantime::format_duration(args.every), "pipeline scheduled");
    let cycles = songrec_scheduler::run_periodically(schedule, stop.clone(), |_| async {
        cycle(settings, &args, &stop).await;
    });
    match server {
        Some(server) => {
            let (served, _) = tokio::join!(
                async {
                    let result = server.await;
                    // A server that cannot start (port taken) stops the whole process.
                    stop.cancel();
                    result
                },
                cycles
            );
            served?;
        }
        None => {
            cycles.await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Fetch, then train and apply the promotion policy when there is something new to learn from.
/// Failures are logged and end the cycle; the next cycle tries again.
async fn cycle(settings: &Settings, args: &Args, stop: &CancellationToken) -> CycleOutcome {
    let stored = match fetch::fetch(settings, &args.fetch, stop).await {
        Ok(totals) => {
            eprintln!("{}", totals.summary);
            totals.songs_stored
        }
        Err(e) => {
            tracing::error!("fetch failed: {}", super::error_line(&e));
            0
        }
    };
    if stop.is_cancelled() {
        return CycleOutcome::NothingNew;
    }
    let has_champion = match settings.open_registry() {
        Ok(registry) => registry.champion().await.map(|c| c.is_some()),
        Err(e) => {
            tracing::error!("cannot open the registry: {}", super::error_line(&e));
            return CycleOutcome::Failed;
        }
    };
    let has_champion = match has_champion.context("cannot read the champion") {
        Ok(has) => has,
        Err(e) => {
            tracing::error!("{}", super::error_line(&e));
            return CycleOutcome::Failed;
        }
    };
    if stored == 0 && has_champion && !args.always_train {
        tracing::info!("nothing new stored and a champion exists; not training");
        return CycleOutcome::NothingNew;
    }
    let options = train::TrainOptions {
        policy: args.promote,
        ..train::TrainOptions::default()
    };
    match train::train_and_register(settings, &options).await {
        Ok(outcome) => {
            eprintln!(
                "trained version {} on {} songs: {} ({})",
                outcome.version,
                outcome.songs,
                if outcome.promoted {
                    "promoted to champion"
                } else {
                    "not promoted"
                },
                outcome.reason
            );
            CycleOutcome::Trained
        }
        Err(e) => {
            tracing::error!("training failed: {}", super::error_line(&e));
            CycleOutcome::Failed
        }
    }
}
