//! `songrec train`.

use std::process::ExitCode;

use super::Settings;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_settings: &Settings, _args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not implemented yet")
}
