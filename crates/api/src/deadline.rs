//! The request-head deadline of every connection, kept by one sweeper for the whole server.
//!
//! A connection waiting for a request head (a new connection, or a kept-alive one between
//! requests) has until its deadline to deliver one whole head; one that has not is closed.
//! Each connection keeps its deadline in one atomic word: a request that reaches the service
//! clears it, an answer handed back sets it again. A single task looks at all of them a few
//! times per deadline and aborts the connections past theirs.
//!
//! The deadline runs again from the moment an answer is handed to hyper, not from the moment
//! its last byte is written: a client that takes longer than the deadline to read one answer
//! (the largest answer, the API page's script, is 1.4 MB) is disconnected as an idle
//! one would be.
//!
//! hyper's own header timeout arms and cancels a timer in the runtime's timer wheel for every
//! request (an allocation and two trips through the wheel's lock, about 1,100 instructions of a
//! 33,000-instruction answer). This costs two clock reads and two relaxed stores per request,
//! and is exact to within a tenth of the deadline.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::task::AbortHandle;

/// No deadline: a request is being handled.
const NONE: u64 = u64::MAX;

/// The deadlines of a server's connections.
pub(crate) struct Deadlines {
    /// Time zero of the stored deadlines (milliseconds since).
    epoch: Instant,
    limit: Duration,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    next_id: u64,
    connections: HashMap<u64, (Arc<Clock>, AbortHandle)>,
}

/// One connection's deadline.
pub(crate) struct Clock {
    deadlines: Arc<Deadlines>,
    /// Milliseconds since `epoch` by which a request head must have arrived, or [`NONE`].
    until: AtomicU64,
}

impl Clock {
    /// A request head has arrived: no deadline while it is handled.
    fn clear(&self) {
        self.until.store(NONE, Ordering::Relaxed);
    }

    /// The server waits for the next request head from now.
    fn arm(&self) {
        let d = &self.deadlines;
        self.until
            .store(d.millis(Instant::now() + d.limit), Ordering::Relaxed);
    }
}

impl Deadlines {
    /// Deadlines of `limit` from the moment a connection waits for a request head.
    pub fn new(limit: Duration) -> Arc<Deadlines> {
        Arc::new(Deadlines {
            epoch: Instant::now(),
            limit,
            open: Mutex::default(),
        })
    }

    fn millis(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_millis()).unwrap_or(NONE - 1)
    }

    /// A new connection's clock, armed: the connection has `limit` to send its first head.
    pub fn clock(self: &Arc<Deadlines>) -> Arc<Clock> {
        let clock = Arc::new(Clock {
            deadlines: self.clone(),
            until: AtomicU64::new(NONE),
        });
        clock.arm();
        clock
    }

    /// Watches the connection task `task` with `clock` until it ends; the returned guard
    /// stops the watch when dropped (by the task, when it ends).
    pub fn watch(self: &Arc<Deadlines>, clock: Arc<Clock>, task: AbortHandle) -> Watched {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let id = open.next_id;
        open.next_id += 1;
        open.connections.insert(id, (clock, task));
        Watched {
            deadlines: self.clone(),
            id,
        }
    }

    /// Closes the connections past their deadline, a few times per deadline, for ever.
    pub async fn sweep(self: Arc<Deadlines>) {
        let every = (self.limit / 10).clamp(Duration::from_millis(10), Duration::from_secs(1));
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            self.close_late(Instant::now());
        }
    }

    /// Aborts (and forgets) every connection whose deadline is before `now`; returns how many.
    fn close_late(&self, now: Instant) -> usize {
        let now = self.millis(now);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let before = open.connections.len();
        open.connections.retain(|_, (clock, task)| {
            let late = clock.until.load(Ordering::Relaxed) < now;
            if late {
                tracing::debug!("closing a connection that sent no request head in time");
                task.abort();
            }
            !late
        });
        before - open.connections.len()
    }
}

/// A connection under watch; dropping it ends the watch.
pub(crate) struct Watched {
    deadlines: Arc<Deadlines>,
    id: u64,
}

impl Drop for Watched {
    fn drop(&mut self) {
        let mut open = self
            .deadlines
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        open.connections.remove(&self.id);
    }
}

/// A connection's service: clears the deadline when a request arrives, arms it again when
/// the answer is ready.
#[derive(Clone)]
pub(crate) struct Clocked<S> {
    inner: S,
    clock: Arc<Clock>,
}

impl<S> Clocked<S> {
    pub fn new(inner: S, clock: Arc<Clock>) -> Clocked<S> {
        Clocked { inner, clock }
    }
}

impl<S, R> tower::Service<R> for Clocked<S>
where
    S: tower::Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Armed<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        self.clock.clear();
        Armed {
            inner: self.inner.call(request),
            clock: self.clock.clone(),
        }
    }
}

pin_project_lite::pin_project! {
    /// An answer on its way; arms the connection's deadline when it is ready.
    pub(crate) struct Armed<F> {
        #[pin]
        inner: F,
        clock: Arc<Clock>,
    }
}

impl<F: Future> Future for Armed<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let out = this.inner.poll(cx);
        if out.is_ready() {
            this.clock.arm();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_connections_waiting_past_their_deadline_are_closed() {
        let deadlines = Deadlines::new(Duration::from_secs(10));
        let start = Instant::now();
        let idle = tokio::spawn(std::future::pending::<()>());
        let busy = tokio::spawn(std::future::pending::<()>());
        let idle_clock = deadlines.clock();
        let busy_clock = deadlines.clock();
        let _idle = deadlines.watch(idle_clock, idle.abort_handle());
        let busy_watch = deadlines.watch(busy_clock.clone(), busy.abort_handle());
        busy_clock.clear();

        assert_eq!(deadlines.close_late(start + Duration::from_secs(9)), 0);
        assert_eq!(deadlines.close_late(start + Duration::from_secs(11)), 1);
        assert!(idle.await.unwrap_err().is_cancelled());
        assert!(!busy.is_finished());

        // Its answer ready, the busy connection waits for a head again, with a new deadline.
        busy_clock.arm();
        assert_eq!(deadlines.close_late(Instant::now()), 0);
        assert_eq!(
            deadlines.close_late(Instant::now() + Duration::from_secs(11)),
            1
        );
        assert!(busy.await.unwrap_err().is_cancelled());
        drop(busy_watch);
        assert!(deadlines.open.lock().unwrap().connections.is_empty());
    }

    #[tokio::test]
    async fn a_connection_that_ends_is_no_longer_watched() {
        let deadlines = Deadlines::new(Duration::from_millis(1));
        let task = tokio::spawn(async {});
        let watched = deadlines.watch(deadlines.clock(), task.abort_handle());
        drop(watched);
        assert_eq!(
            deadlines.close_late(Instant::now() + Duration::from_secs(1)),
            0
        );
    }
}
