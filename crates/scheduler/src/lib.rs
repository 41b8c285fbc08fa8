//! When songrec's pipeline cycles run: every period (`--every 1h`) or on a cron schedule
//! (`--schedule "0 * * * *"`), never two at once, until told to stop.
//!
//! Cycles run at wall-clock *slots*: the boundaries of the period counted from the Unix epoch
//! (every hour on the hour for `1h`), or the cron expression's times, in UTC. Two processes with
//! the same schedule therefore agree on which slot a cycle belongs to, which lets the pipeline
//! run each slot once across replicas. A cycle that overruns skips the slots it missed instead
//! of piling runs up.
//!
//! The cycle itself is the caller's: this crate owns only the timing and the stopping, so the
//! same loop is testable with paused time ([`Clock::Tokio`]) and a counting job.

use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
pub use tokio_util::sync::CancellationToken;

/// How often cycles run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cadence {
    /// At every multiple of this period since the Unix epoch.
    Every(Duration),
    /// At the times a cron expression names (5 fields, or 6 with seconds first), in UTC.
    Cron(Box<croner::Cron>),
}

/// A period or cron expression that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("the period must be at least one second")]
    PeriodTooShort,
    #[error("invalid cron expression {expression:?}: {reason}")]
    Cron { expression: String, reason: String },
}

impl Cadence {
    pub fn every(period: Duration) -> Result<Cadence, ScheduleError> {
        if period < Duration::from_secs(1) {
            return Err(ScheduleError::PeriodTooShort);
        }
        Ok(Cadence::Every(period))
    }

    /// Parses a cron expression such as `0 * * * *` (hourly) or `*/15 * * * *`.
    pub fn cron(expression: &str) -> Result<Cadence, ScheduleError> {
        let invalid = |reason: String| ScheduleError::Cron {
            expression: expression.to_string(),
            reason,
        };
        let cron = croner::Cron::from_str(expression.trim()).map_err(|e| invalid(e.to_string()))?;
        // An expression that never fires (e.g. 30 February) is refused now, not at run time.
        let probe = DateTime::<Utc>::from_timestamp(0, 0).unwrap_or_default();
        cron.find_next_occurrence(&probe, false)
            .map_err(|e| invalid(e.to_string()))?;
        Ok(Cadence::Cron(Box::new(cron)))
    }

    /// The first slot strictly after `now`.
    pub fn next_after(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Cadence::Every(period) => {
                let period_ms = i64::try_from(period.as_millis()).ok()?.max(1);
                let now_ms = now.timestamp_millis();
                let next = (now_ms.div_euclid(period_ms) + 1).checked_mul(period_ms)?;
                DateTime::from_timestamp_millis(next)
            }
            Cadence::Cron(cron) => cron.find_next_occurrence(&now, false).ok(),
        }
    }

    /// The latest slot at or before `now`: the slot a cycle started at once belongs to.
    pub fn current_slot(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Cadence::Every(period) => {
                let period_ms = i64::try_from(period.as_millis()).ok()?.max(1);
                let now_ms = now.timestamp_millis();
                DateTime::from_timestamp_millis(now_ms.div_euclid(period_ms) * period_ms)
            }
            Cadence::Cron(cron) => cron.find_previous_occurrence(&now, true).ok(),
        }
    }

    /// For logs: `every 1h` or `cron 0 * * * *`.
    pub fn describe(&self) -> String {
        match self {
            Cadence::Every(period) => {
                format!("every {}", humanize(*period))
            }
            Cadence::Cron(cron) => format!("cron {}", cron.as_str()),
        }
    }
}

fn humanize(period: Duration) -> String {
    let secs = period.as_secs();
    match secs {
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// When cycles run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub cadence: Cadence,
    /// Run a first cycle at once (in the current slot) rather than waiting for the next slot.
    pub immediately: bool,
    /// Stop after this many cycles (`None`: until stopped).
    pub max_cycles: Option<u64>,
}

/// Where the scheduler reads the time.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    /// The system's UTC clock.
    System,
    /// `base` plus the tokio time elapsed since `at`: with paused time, tests move it exactly.
    Tokio {
        base: DateTime<Utc>,
        at: tokio::time::Instant,
    },
}

impl Clock {
    /// A clock reading `base` now and moving with tokio's (pausable) time.
    pub fn tokio_from(base: DateTime<Utc>) -> Clock {
        Clock::Tokio {
            base,
            at: tokio::time::Instant::now(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Tokio { base, at } => {
                let elapsed = TimeDelta::from_std(at.elapsed()).unwrap_or(TimeDelta::MAX);
                base.checked_add_signed(elapsed).unwrap_or(*base)
            }
        }
    }
}

/// One scheduled cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    /// Counts from 1 in this process.
    pub number: u64,
    /// The slot the cycle belongs to.
    pub slot: DateTime<Utc>,
}

/// Runs `cycle(tick)` on `schedule` until `stop` is cancelled or `max_cycles` have run, and
/// returns how many cycles ran.
///
/// Cycles never overlap: the next slot is the first one after the running cycle finished.
/// A cancelled `stop` lets the cycle in progress finish (cycles watch `stop` themselves to
/// cut long work short at a safe point).
pub async fn run_on_schedule<F, Fut>(
    schedule: Schedule,
    clock: Clock,
    stop: CancellationToken,
    mut cycle: F,
) -> u64
where
    F: FnMut(Tick) -> Fut,
    Fut: Future<Output = ()>,
{
    let now = clock.now();
    let mut next = if schedule.immediately {
        schedule.cadence.current_slot(now).map(|slot| (slot, true))
    } else {
        schedule.cadence.next_after(now).map(|slot| (slot, false))
    };
    let mut ran = 0;
    while let Some((slot, due_now)) = next {
        if schedule.max_cycles.is_some_and(|max| ran >= max) {
            break;
        }
        if !due_now && !sleep_until(&clock, slot, &stop).await {
            break;
        }
        if stop.is_cancelled() {
            break;
        }
        ran += 1;
        tracing::info!(cycle = ran, slot = %slot.to_rfc3339(), "pipeline cycle starting");
        cycle(Tick { number: ran, slot }).await;
        let after = clock.now().max(slot);
        next = schedule.cadence.next_after(after).map(|slot| (slot, false));
    }
    ran
}

/// Sleeps until `clock` reads `when`; false if `stop` was cancelled first.
async fn sleep_until(clock: &Clock, when: DateTime<Utc>, stop: &CancellationToken) -> bool {
    loop {
        let left = (when - clock.now()).to_std().unwrap_or(Duration::ZERO);
        if left.is_zero() {
            return true;
        }
        tokio::select! {
            biased;
            () = stop.cancelled() => return false,
            () = tokio::time::sleep(left) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// 2026-01-01T00:10:00Z: ten minutes past a full hour.
    fn base() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-01T00:10:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn hourly(immediately: bool, max_cycles: Option<u64>) -> Schedule {
        Schedule {
            cadence: Cadence::every(Duration::from_secs(3600)).unwrap(),
            immediately,
            max_cycles,
        }
    }

    /// Runs `schedule` from `base()` and returns each cycle's start (seconds after the base)
    /// and slot.
    async fn starts(
        schedule: Schedule,
        mut work: impl FnMut(u64) -> Duration,
    ) -> Vec<(u64, String)> {
        let clock = Clock::tokio_from(base());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        run_on_schedule(schedule, clock, CancellationToken::new(), |tick| {
            let started = (clock.now() - base()).num_seconds() as u64;
            record
                .lock()
                .unwrap()
                .push((started, tick.slot.format("%H:%M").to_string()));
            let busy = work(tick.number);
            async move { tokio::time::sleep(busy).await }
        })
        .await;
        seen.lock().unwrap().clone()
    }

    #[tokio::test(start_paused = true)]
    async fn cycles_run_at_start_and_then_on_every_full_period() {
        let got = starts(hourly(true, Some(3)), |_| Duration::from_secs(60)).await;
        assert_eq!(
            got,
            vec![
                (0, "00:00".into()),
                (50 * 60, "01:00".into()),
                (110 * 60, "02:00".into())
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn without_immediately_the_first_cycle_waits_for_the_next_slot() {
        let got = starts(hourly(false, Some(1)), |_| Duration::ZERO).await;
        assert_eq!(got, vec![(50 * 60, "01:00".into())]);
    }

    #[tokio::test(start_paused = true)]
    async fn an_overrunning_cycle_skips_the_slots_it_missed_instead_of_stacking_runs() {
        // The first cycle takes 90 minutes: it ends at 01:40, so 01:00 is skipped.
        let got = starts(hourly(true, Some(3)), |n| {
            Duration::from_secs(if n == 1 { 5400 } else { 60 })
        })
        .await;
        let slots: Vec<&str> = got.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(slots, ["00:00", "02:00", "03:00"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cron_schedule_runs_at_its_times() {
        let schedule = Schedule {
            cadence: Cadence::cron("*/20 * * * *").unwrap(),
            immediately: false,
            max_cycles: Some(3),
        };
        let got = starts(schedule, |_| Duration::from_secs(1)).await;
        assert_eq!(
            got,
            vec![
                (10 * 60, "00:20".into()),
                (30 * 60, "00:40".into()),
                (50 * 60, "01:00".into())
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn cycles_never_overlap() {
        let clock = Clock::tokio_from(base());
        let running = Arc::new(Mutex::new((0u32, 0u32)));
        let state = running.clone();
        let schedule = Schedule {
            cadence: Cadence::every(Duration::from_secs(60)).unwrap(),
            immediately: true,
            max_cycles: Some(10),
        };
        run_on_schedule(schedule, clock, CancellationToken::new(), |tick| {
            let state = state.clone();
            async move {
                {
                    let mut s = state.lock().unwrap();
                    s.0 += 1;
                    s.1 = s.1.max(s.0);
                }
                // Every other cycle overruns its minute.
                let secs = if tick.number % 2 == 0 { 150 } else { 10 };
                tokio::time::sleep(Duration::from_secs(secs)).await;
                state.lock().unwrap().0 -= 1;
            }
        })
        .await;
        assert_eq!(running.lock().unwrap().1, 1, "never two cycles at once");
    }

    #[tokio::test(start_paused = true)]
    async fn stopping_ends_the_loop_between_cycles_and_lets_a_running_cycle_finish() {
        let stop = CancellationToken::new();
        let finished = Arc::new(Mutex::new(0));
        let (count, canceller) = (finished.clone(), stop.clone());
        let ran = run_on_schedule(
            hourly(true, None),
            Clock::tokio_from(base()),
            stop,
            move |tick| {
                let (count, canceller) = (count.clone(), canceller.clone());
                async move {
                    if tick.number == 2 {
                        canceller.cancel();
                    }
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    *count.lock().unwrap() += 1;
                }
            },
        )
        .await;
        assert_eq!(ran, 2, "no third cycle after the stop");
        assert_eq!(*finished.lock().unwrap(), 2, "the second cycle completed");
    }

    #[test]
    fn bad_periods_and_cron_expressions_are_refused() {
        assert_eq!(
            Cadence::every(Duration::from_millis(10)),
            Err(ScheduleError::PeriodTooShort)
        );
        assert!(Cadence::cron("not a schedule").is_err());
        assert!(Cadence::cron("0 * * *").is_err(), "four fields");
        assert!(Cadence::cron("0 * * * *").is_ok());
        assert_eq!(
            Cadence::cron("0 * * * *").unwrap().describe(),
            "cron 0 * * * *"
        );
        assert_eq!(
            Cadence::every(Duration::from_secs(3600))
                .unwrap()
                .describe(),
            "every 1h"
        );
    }

    #[test]
    fn period_slots_are_aligned_to_the_epoch_so_replicas_agree() {
        let cadence = Cadence::every(Duration::from_secs(3600)).unwrap();
        let slot = cadence.current_slot(base()).unwrap();
        assert_eq!(slot.to_rfc3339(), "2026-01-01T00:00:00+00:00");
        let next = cadence.next_after(slot).unwrap();
        assert_eq!(next.to_rfc3339(), "2026-01-01T01:00:00+00:00");
    }
}
