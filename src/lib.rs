//! songrec: song recommendations from Genius metadata.
//!
//! # Layout
//! The pipeline, one crate per stage (see `docs/ARCHITECTURE.md`):
//! - `songrec-genius`: Genius API types and client (fetch).
//! - `songrec-store`: the catalogue in SQLite or PostgreSQL.
//! - `songrec-model`: features, nearest neighbours, evaluation, the model file.
//! - `songrec-registry`: model versions and the champion, locally or in MLflow.
//! - `songrec-api`: the HTTP service.
//! - `songrec-pipeline`: one cycle (fetch, train, evaluate, register, promote) and its report.
//! - `songrec-scheduler`: when cycles run.
//! - `songrec-synth`: synthetic catalogues with planted structure, for demos and tests.
//!
//! This crate is the command line that wires them together: [`cli`].

pub mod cli;
