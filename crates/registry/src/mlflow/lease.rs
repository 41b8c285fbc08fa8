//! The promotion lease: a registered-model tag that makes champion changes one at a time across
//! every process sharing an MLflow server, whatever database each one uses.
//!
//! MLflow has no compare-and-set, so the lease is taken the way Fischer's mutual exclusion does
//! it with last-writer-wins registers: read the tag; when nobody holds it, write this holder's
//! name; wait [`SETTLE`]; read it again. If the name is still there, every contender that read
//! the tag free before this one wrote has written by then and lost, and any later contender sees
//! the lease held. That holds while a tag write lands within [`SETTLE`] of the read before it,
//! which a tag write to a live server does by far; a holder that dies leaves a lease that
//! expires after [`TTL`], or at once for contenders on its machine, which see it is gone.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::MlflowRegistry;
use crate::RegistryError;

/// Registered-model tag holding the lease (JSON: holder and expiry).
const TAG_LEASE: &str = "songrec.promotion.lease";
/// Time between writing the lease and reading it back.
const SETTLE: Duration = Duration::from_millis(750);
/// How long a lease lasts when its holder dies without releasing it: far longer than a
/// promotion's few calls.
const TTL: Duration = Duration::from_secs(120);
/// How long a promotion waits for another holder before giving up.
const WAIT_LIMIT: Duration = Duration::from_secs(300);
/// Between two looks at a lease someone else holds.
const POLL: Duration = Duration::from_millis(500);

/// What the lease tag says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct LeaseValue {
    holder: String,
    /// Seconds since the Unix epoch, by the holder's clock.
    until: u64,
}

/// A held lease; give it back with [`MlflowRegistry::release`].
#[derive(Debug)]
pub(super) struct Lease {
    holder: String,
}

impl Lease {
    /// This holder's name (`host:pid:nonce`), recorded on the decisions it made.
    pub(super) fn holder(&self) -> &str {
        &self.holder
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// A name no other contender uses: host, process and a per-call nonce.
fn new_holder() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NONCE: AtomicU64 = AtomicU64::new(0);
    let host = host_name();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let nonce = NONCE.fetch_add(1, Ordering::Relaxed);
    format!("{host}:{}:{nanos:09}{nonce}", std::process::id())
}

/// Who holds the lease now, by the tag's value; `None` when free, expired, unreadable, or
/// held by a process of this machine that no longer runs (killed while holding it: waiting
/// for the expiry would hold up every promotion for [`TTL`]).
fn live_holder(value: Option<&str>, now: u64) -> Option<LeaseValue> {
    let lease: LeaseValue = serde_json::from_str(value?).ok()?;
    let dead = process_gone(&lease.holder, &host_name(), |pid| {
        let proc = std::path::Path::new("/proc");
        proc.join("self").exists().then(|| proc.join(pid).exists())
    });
    (lease.until > now && !dead).then_some(lease)
}

/// Whether `holder` (`host:pid:nonce`) names a process of `host` that `alive` (`None`: cannot
/// tell) says is gone.
fn process_gone(holder: &str, host: &str, alive: impl Fn(&str) -> Option<bool>) -> bool {
    let mut parts = holder.rsplitn(3, ':');
    let (Some(_nonce), Some(pid), Some(holder_host)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    holder_host == host && pid.parse::<u32>().is_ok() && alive(pid) == Some(false)
}

impl MlflowRegistry {
    async fn read_lease(&self) -> Result<Option<LeaseValue>, RegistryError> {
        let model = self.registered_model().await?;
        let value = model
            .as_ref()
            .and_then(|m| m.tags.iter().find(|t| t.key == TAG_LEASE))
            .map(|t| t.value.as_str());
        Ok(live_holder(value, unix_now()))
    }

    async fn write_lease(&self, value: &LeaseValue) -> Result<(), RegistryError> {
        let value = serde_json::to_string(value)
            .map_err(|e| RegistryError::Corrupt(format!("cannot encode the lease: {e}")))?;
        self.client
            .post::<Value>(
                "registered-models/set-tag",
                json!({"name": self.name(), "key": TAG_LEASE, "value": value}),
            )
            .await?;
        Ok(())
    }

    /// Takes the promotion lease, waiting up to [`WAIT_LIMIT`] for another holder.
    pub(super) async fn acquire(&self) -> Result<Lease, RegistryError> {
        let holder = new_holder();
        let started = tokio::time::Instant::now();
        loop {
            if let Some(other) = self.read_lease().await? {
                if started.elapsed() >= WAIT_LIMIT {
                    return Err(RegistryError::Mlflow {
                        operation: "promotion".into(),
                        code: "PROMOTION_LOCKED".into(),
                        message: format!(
                            "{} held the promotion lease (tag {TAG_LEASE} of model {}) for \
                             over {} s; not promoted",
                            other.holder,
                            self.name(),
                            WAIT_LIMIT.as_secs()
                        ),
                    });
                }
                tracing::debug!(holder = %other.holder, "waiting for the promotion lease");
                tokio::time::sleep(POLL).await;
                continue;
            }
            let mine = LeaseValue {
                holder: holder.clone(),
                until: unix_now() + TTL.as_secs(),
            };
            self.write_lease(&mine).await?;
            tokio::time::sleep(SETTLE).await;
            match self.read_lease().await? {
                Some(now) if now.holder == holder => return Ok(Lease { holder }),
                _ => tracing::debug!("another process took the promotion lease first"),
            }
        }
    }

    /// Gives the lease back, if it is still this holder's. A failure only delays the next
    /// promotion until the lease expires, so it is logged, not returned.
    pub(super) async fn release(&self, lease: Lease) {
        let result = async {
            if self
                .read_lease()
                .await?
                .is_some_and(|l| l.holder == lease.holder)
            {
                let free = LeaseValue {
                    holder: String::new(),
                    until: 0,
                };
                self.write_lease(&free).await?;
            }
            Ok::<_, RegistryError>(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!("cannot release the promotion lease (it expires by itself): {e}");
        }
    }

    /// Runs `work` holding the lease, releasing it whatever `work` returns.
    pub(super) async fn leased<T>(
        &self,
        work: impl AsyncFnOnce(&Lease) -> Result<T, RegistryError>,
    ) -> Result<T, RegistryError> {
        let lease = self.acquire().await?;
        let result = work(&lease).await;
        self.release(lease).await;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_is_live_until_it_expires_and_anything_unreadable_is_free() {
        let value = |until: u64| {
            serde_json::to_string(&LeaseValue {
                holder: "h:1:1".into(),
                until,
            })
            .unwrap()
        };
        assert_eq!(live_holder(Some(&value(101)), 100).unwrap().holder, "h:1:1");
        assert!(live_holder(Some(&value(100)), 100).is_none());
        assert!(live_holder(Some(&value(0)), 100).is_none());
        assert!(live_holder(None, 100).is_none());
        assert!(live_holder(Some("not json"), 100).is_none());
        assert!(live_holder(Some("{\"holder\":\"x\"}"), 100).is_none());
    }

    #[test]
    fn a_holder_of_this_machine_that_no_longer_runs_is_gone_and_nothing_else_is() {
        let gone = |pid: &str| Some(pid == "7");
        let alive = |_: &str| Some(true);
        let unknown = |_: &str| None;
        assert!(process_gone("h:9:123", "h", gone));
        assert!(!process_gone("h:7:123", "h", gone));
        assert!(!process_gone("h:9:123", "h", alive));
        assert!(!process_gone("h:9:123", "h", unknown));
        assert!(!process_gone("other:9:123", "h", gone), "another machine's");
        assert!(!process_gone("h:x:123", "h", gone));
        assert!(!process_gone("garbage", "h", gone));
        // This process holds a live lease.
        let mine = serde_json::to_string(&LeaseValue {
            holder: new_holder(),
            until: u64::MAX,
        })
        .unwrap();
        assert!(live_holder(Some(&mine), 100).is_some());
        let dead = serde_json::to_string(&LeaseValue {
            holder: format!("{}:{}:1", host_name(), u32::MAX),
            until: u64::MAX,
        })
        .unwrap();
        assert!(live_holder(Some(&dead), 100).is_none());
    }

    #[test]
    fn holders_are_unique_within_a_process() {
        let (a, b) = (new_holder(), new_holder());
        assert_ne!(a, b);
        assert!(a.contains(&format!(":{}:", std::process::id())));
    }
}
