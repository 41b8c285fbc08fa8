//! Reliability and security through the real binary: secrets never printed, the HTTP options of
//! `serve` (CORS, admin token), TLS to PostgreSQL, MLflow behind authentication, and faults
//! (database gone mid-run, disk full, SIGKILL) after which nothing is lost or half-written.
//! Service-backed tests start their own throwaway servers (PostgreSQL clusters, an MLflow server
//! with its basic-auth app) and skip when they cannot, unless `SONGREC_REQUIRE_SERVICES=1`, in
//! which case they fail.

#[path = "../../crates/genius/tests/support/fake_genius.rs"]
mod fake_genius;

#[path = "../../crates/registry/tests/support/mlflow_proxy.rs"]
mod mlflow_proxy;

mod cluster;
mod faults;
mod long_runs;
mod mlflow_auth;
mod mlflow_slow;
mod non_root;
mod postgres_tls;
mod promotion_kills;
mod secrets;
mod serve_options;
mod sqlite_disk_full;
mod support;
