//! Cycles that finished while the catalogue database could not record them (down, unreachable,
//! refusing writes): kept in memory and recorded, oldest first, by the next cycle that opens
//! the database, so the record misses no cycle this process ran.

use std::collections::VecDeque;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use songrec_store::Store;

use crate::report::CycleReport;

/// Most cycles kept: days of hourly cycles; older ones are dropped (and were logged).
const CAPACITY: usize = 256;

/// Unrecorded cycles with the slot each belongs to.
#[derive(Debug, Default)]
pub struct Backlog {
    cycles: Mutex<VecDeque<(Option<DateTime<Utc>>, CycleReport)>>,
}

impl Backlog {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(Option<DateTime<Utc>>, CycleReport)>> {
        // Plain data: a panic elsewhere cannot leave it inconsistent.
        self.cycles.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `report` to record later.
    pub(crate) fn push(&self, slot: Option<DateTime<Utc>>, report: CycleReport) {
        let mut cycles = self.lock();
        if cycles.len() == CAPACITY {
            cycles.pop_front();
            tracing::warn!(
                "more than {CAPACITY} cycles could not be recorded; the oldest is dropped"
            );
        }
        cycles.push_back((slot, report));
    }

    /// How many cycles wait to be recorded.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether every cycle was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records the waiting cycles in `store`, oldest first, stopping at the first failure
    /// (the rest wait for the next cycle).
    pub(crate) async fn flush(&self, store: &Store) {
        loop {
            let Some((slot, report)) = self.lock().pop_front() else {
                return;
            };
            if let Err(e) = crate::record(store, slot, &report).await {
                tracing::warn!(
                    "an earlier cycle is still not recorded: {}",
                    crate::error_line(&e)
                );
                self.lock().push_front((slot, report));
                return;
            }
            tracing::info!(started_at = %report.started_at, "recorded an earlier cycle");
        }
    }
}
