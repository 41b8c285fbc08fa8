//! `songrec run`: the whole pipeline on a timer in one process. Each cycle fetches (the artist
//! of the hour by default), trains when the catalogue changed or no champion exists, and lets the
//! promotion policy decide; the HTTP server in the same process picks up a new champion by
//! polling the registry, so nothing restarts.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, Utc};
use songrec_pipeline::{CycleReport, Fetching, Pipeline, PipelineStatus, TrainOptions, TrainWhen};
use songrec_registry::PromotionPolicy;
use songrec_scheduler::{Cadence, CancellationToken, Clock, Schedule, run_on_schedule};

use super::{Settings, fetch, serve};

#[derive(Debug, clap::Args)]
// The flattened fetch options bring their own argument group named after their struct.
#[group(skip)]
pub struct Args {
    /// Time between two cycles (e.g. `1h`, `30m`); cycles start on multiples of it (every hour
    /// on the hour for `1h`), so replicas agree on each cycle's slot.
    #[arg(long, env = "SONGREC_RUN_EVERY", default_value = "1h", value_parser = parse_every, conflicts_with = "schedule")]
    every: Duration,
    /// A cron expression in UTC instead of `--every`, e.g. `"0 * * * *"` (hourly) or
    /// `"*/15 * * * *"` (5 fields, or 6 with seconds first).
    #[arg(long, env = "SONGREC_RUN_SCHEDULE", value_name = "CRON", value_parser = parse_cron)]
    schedule: Option<Cadence>,
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
    /// Model versions each cycle keeps after registering a new one (the champion and the
    /// previous champion, which rollback returns to, are always kept); older ones are removed
    /// from a local registry, or from the MLflow download cache. See `songrec models prune`.
    #[arg(long, env = "SONGREC_KEEP_VERSIONS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    keep_versions: u64,
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

fn parse_every(raw: &str) -> Result<Duration, String> {
    let period = parse_period(raw)?;
    if period < Duration::from_secs(1) {
        return Err("the period must be at least 1s".to_owned());
    }
    Ok(period)
}

fn parse_cron(raw: &str) -> Result<Cadence, String> {
    Cadence::cron(raw).map_err(|e| e.to_string())
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
    let mut pipeline = settings.pipeline(fetching, options, train_when)?;
    pipeline.keep_versions = Some(usize::try_from(args.keep_versions)?);

    let stop = CancellationToken::new();
    let on_signal = stop.clone();
    tokio::spawn(async move {
        serve::shutdown_signal().await;
        tracing::info!("stopping after the current step");
        on_signal.cancel();
    });

    if args.once {
        let report = cycle(&pipeline, None, &stop).await;
        if args.json {
            println!("{}", serde_json::to_string(&report)?);
        }
        return Ok(ExitCode::from(report.exit_code()));
    }

    let cadence = match args.schedule.clone() {
        Some(cron) => cron,
        None => Cadence::every(args.every)?,
    };
    tracing::info!(schedule = cadence.describe(), "pipeline scheduled");
    let status = PipelineStatus::runner(&settings.store, pipeline.metrics.clone());
    status
        .set_plan(cadence.describe(), cadence.current_slot(Utc::now()))
        .await;
    let server = (!args.no_serve).then(|| {
        let stopped = stop.clone();
        let (addr, interval, status) = (args.addr, args.reload_interval, status.clone());
        async move {
            serve::serve_until(settings, addr, interval, status, stopped.cancelled_owned()).await
        }
    });
    let schedule = Schedule {
        cadence: cadence.clone(),
        immediately: true,
        max_cycles: None,
    };
    let (pipeline, stopping, status, cadence) = (&pipeline, &stop, &status, &cadence);
    let cycles = run_on_schedule(schedule, Clock::System, stop.clone(), |tick| async move {
        cycle(pipeline, Some(tick.slot), stopping).await;
        // The scheduler's next slot: the first after the cycle finished.
        status
            .set_plan(
                cadence.describe(),
                cadence.next_after(Utc::now().max(tick.slot)),
            )
            .await;
    });
    let served = match server {
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
            served
        }
        None => {
            cycles.await;
            Ok(())
        }
    };
    status.withdraw_plan().await;
    served?;
    Ok(ExitCode::SUCCESS)
}

/// Runs one cycle and prints what it did on stderr: one line per step, then the verdict.
async fn cycle(
    pipeline: &Pipeline,
    slot: Option<DateTime<Utc>>,
    stop: &CancellationToken,
) -> CycleReport {
    let progress = fetch::Progress::new(false);
    let report = pipeline.run_cycle(slot, &progress, stop).await;
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
        None => eprintln!(
            "cycle {} in {:.1}s{}",
            report.status.as_str(),
            report.seconds,
            report
                .note
                .as_ref()
                .map(|n| format!(": {n}"))
                .unwrap_or_default()
        ),
    }
    report
}
