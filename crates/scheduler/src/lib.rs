//! The built-in scheduler behind `songrec run`: runs one pipeline cycle (fetch, train, promote)
//! at start and then every period, never two cycles at once, until told to stop.
//!
//! The cycle itself is the caller's: this crate owns only the timing and the stopping, so the
//! same loop is testable with paused time and a counting job.

use std::future::Future;
use std::time::Duration;

pub use tokio_util::sync::CancellationToken;

/// When cycles run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Time between the starts of two cycles.
    pub every: Duration,
    /// Run the first cycle at once rather than after one period.
    pub immediately: bool,
    /// Stop after this many cycles (`None`: until stopped).
    pub max_cycles: Option<u64>,
}

/// Runs `cycle(n)` (n counts from 1) on `schedule` until `stop` is cancelled or `max_cycles`
/// have run, and returns how many cycles ran.
///
/// A cycle that overruns its period delays the next one instead of piling runs up, and a
/// cancelled `stop` lets the cycle in progress finish (cycles watch `stop` themselves to cut
/// long work short at a safe point).
pub async fn run_periodically<F, Fut>(
    schedule: Schedule,
    stop: CancellationToken,
    mut cycle: F,
) -> u64
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = ()>,
{
    let start = if schedule.immediately {
        tokio::time::Instant::now()
    } else {
        tokio::time::Instant::now() + schedule.every
    };
    let mut ticks = tokio::time::interval_at(start, schedule.every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ran = 0;
    while schedule.max_cycles.is_none_or(|max| ran < max) {
        tokio::select! {
            biased;
            () = stop.cancelled() => break,
            _ = ticks.tick() => {}
        }
        ran += 1;
        tracing::info!(cycle = ran, "pipeline cycle starting");
        cycle(ran).await;
    }
    ran
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    fn hourly(immediately: bool, max_cycles: Option<u64>) -> Schedule {
        Schedule {
            every: Duration::from_secs(3600),
            immediately,
            max_cycles,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn cycles_run_at_start_and_then_once_per_period() {
        let started = tokio::time::Instant::now();
        let starts = Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = starts.clone();
        let ran = run_periodically(hourly(true, Some(3)), CancellationToken::new(), |_| {
            let record = record.clone();
            async move { record.lock().unwrap().push(started.elapsed().as_secs()) }
        })
        .await;
        assert_eq!(ran, 3);
        assert_eq!(*starts.lock().unwrap(), vec![0, 3600, 7200]);
    }

    #[tokio::test(start_paused = true)]
    async fn without_immediately_the_first_cycle_waits_one_period() {
        let started = tokio::time::Instant::now();
        run_periodically(
            hourly(false, Some(1)),
            CancellationToken::new(),
            |_| async {},
        )
        .await;
        assert_eq!(started.elapsed().as_secs(), 3600);
    }

    #[tokio::test(start_paused = true)]
    async fn an_overrunning_cycle_delays_the_next_instead_of_stacking_runs() {
        let started = tokio::time::Instant::now();
        let starts = Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = starts.clone();
        run_periodically(hourly(true, Some(3)), CancellationToken::new(), |n| {
            let record = record.clone();
            async move {
                record.lock().unwrap().push(started.elapsed().as_secs());
                if n == 1 {
                    // The first cycle takes 90 minutes.
                    tokio::time::sleep(Duration::from_secs(5400)).await;
                }
            }
        })
        .await;
        assert_eq!(*starts.lock().unwrap(), vec![0, 5400, 9000]);
    }

    #[tokio::test(start_paused = true)]
    async fn stopping_ends_the_loop_between_cycles_and_lets_a_running_cycle_finish() {
        let stop = CancellationToken::new();
        let finished = Arc::new(AtomicU64::new(0));
        let (count, canceller) = (finished.clone(), stop.clone());
        let ran = run_periodically(hourly(true, None), stop, move |n| {
            let (count, canceller) = (count.clone(), canceller.clone());
            async move {
                if n == 2 {
                    canceller.cancel();
                }
                tokio::time::sleep(Duration::from_secs(60)).await;
                count.fetch_add(1, Ordering::SeqCst);
            }
        })
        .await;
        assert_eq!(ran, 2, "no third cycle after the stop");
        assert_eq!(
            finished.load(Ordering::SeqCst),
            2,
            "the second cycle completed"
        );
    }
}
