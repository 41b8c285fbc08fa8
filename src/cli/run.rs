//! `songrec run`: the whole pipeline on a timer in one process. Each cycle fetches (the artist
//! of the hour by default), trains when the catalogue changed or no champion exists, and lets the
//! promotion policy decide; the HTTP server in the same process picks up a new champion by
//! polling the registry, so nothing restarts.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use songrec_pipeline::{CycleReport, Fetching, Pipeline, TrainOptions, TrainWhen};
use songrec_registry::PromotionPolicy;
use songrec_scheduler::{CancellationToken, Schedule};

use super::{Settings, fetch, serve};

#[derive(Debug, clap::Args)]
// The flattened fetch options bring their own argument group named after their struct.
#[group(skip)]
pub struct Args {
    /// Time between two cycles (e.g. `1h`, `30m`).
    #[arg(long, env = "SONGREC_RUN_EVERY", default_value = "1h", value_parser = parse_period)]
    every: Duration,
    /// Run one cycle now and exit, without serving (for cron or an orchestrator). The exit code
    /// says how it went: 0 done, 1 a step failed, 3 a precondition is missing (token refused, no
    /// songs), 4 another process is running a cycle, 130 stopped.
    #[arg(long)]
    once: bool,
    /// With `--once`: print the cycle's report as one JSON object on stdout.
    #[arg(long, requires = "once")]
    json: bool,
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

pub async fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    let fetching = match fetch::genius_token() {
        Some(token) => Fetching::On(Box::new(args.fetch.plan(token)?)),
        None => {
            eprintln!(
                "songrec run: GENIUS_API_TOKEN is not set, so fetching is off; training and \
                 serving on what the store holds"
            );
            Fetching::Off("fetching is off: GENIUS_API_TOKEN is not set".into())
        }
    };
    let train_when = if args.always_train {
        TrainWhen::Always
    } else {
        TrainWhen::Changed
    };
    let options = TrainOptions {
        policy: args.promote,
        ..TrainOptions::default()
    };
    let pipeline = settings.pipeline(fetching, options, train_when)?;

    let stop = CancellationToken::new();
    let on_signal = stop.clone();
    tokio::spawn(async move {
        serve::shutdown_signal().await;
        tracing::info!("stopping after the current step");
        on_signal.cancel();
    });

    if args.once {
        let report = cycle(&pipeline, &stop).await;
        if args.json {
            println!("{}", serde_json::to_string(&report)?);
        }
        return Ok(ExitCode::from(report.exit_code()));
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
        cycle(&pipeline, &stop).await;
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

/// Runs one cycle and prints what it did on stderr: one line per step, then the verdict.
async fn cycle(pipeline: &Pipeline, stop: &CancellationToken) -> CycleReport {
    let progress = fetch::Progress::new(false);
    let report = pipeline.run_cycle(&progress, stop).await;
    progress.finish();
    for line in report.summary_lines() {
        eprintln!("  {line}");
    }
    if let Some(trained) = &report.trained {
        eprintln!(
            "trained version {} on {} songs: {} ({})",
            trained.version,
            trained.songs,
            if trained.promoted {
                "promoted to champion"
            } else {
                "not promoted"
            },
            trained.reason
        );
    }
    match report.failure() {
        Some(failed) => eprintln!(
            "cycle {}: {} failed: {}",
            report.status.as_str(),
            failed.step,
            failed.error.as_deref().unwrap_or("")
        ),
        None => eprintln!("cycle {} in {:.1}s", report.status.as_str(), report.seconds),
    }
    report
}
