//! `songrec serve`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use secrecy::SecretString;
use songrec_api::{ServeConfig, ServeOptions};
use songrec_pipeline::PipelineStatus;

use super::Settings;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, env = "SONGREC_ADDR", default_value = "127.0.0.1:8000")]
    pub addr: SocketAddr,
    /// How often to check the registry for a new champion (e.g. `30s`, `5m`).
    #[arg(long, env = "SONGREC_RELOAD_INTERVAL", default_value = "30s", value_parser = parse_interval)]
    pub reload_interval: Duration,
    /// An origin browsers may call the API from (CORS), e.g. `https://app.example.com`;
    /// repeatable. None by default: no CORS headers are sent.
    #[arg(
        long = "cors-origin",
        env = "SONGREC_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
}

pub async fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    let options = serve_options(args.cors_origins, PipelineStatus::reader(&settings.store));
    serve_with(
        settings,
        args.addr,
        args.reload_interval,
        options,
        shutdown_signal(),
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// The HTTP options: the admin token from `SONGREC_ADMIN_TOKEN` (never a flag, so it stays out
/// of process listings), CORS origins as given, and the pipeline `GET /pipeline` shows.
fn serve_options(cors_origins: Vec<String>, pipeline: PipelineStatus) -> ServeOptions {
    let admin_token = std::env::var("SONGREC_ADMIN_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())
        .map(SecretString::from);
    ServeOptions {
        admin_token,
        cors_origins: cors_origins
            .into_iter()
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty())
            .collect(),
        pipeline: Some(pipeline),
        ..ServeOptions::default()
    }
}

/// Serves the champion on `addr` until Ctrl-C or SIGTERM, then drains in-flight requests.
pub async fn serve(
    settings: &Settings,
    addr: SocketAddr,
    reload_interval: Duration,
) -> anyhow::Result<()> {
    let pipeline = PipelineStatus::reader(&settings.store);
    serve_until(settings, addr, reload_interval, pipeline, shutdown_signal()).await
}

/// Serves the champion on `addr`, showing `pipeline`, until `shutdown` resolves, then drains
/// in-flight requests.
pub async fn serve_until(
    settings: &Settings,
    addr: SocketAddr,
    reload_interval: Duration,
    pipeline: PipelineStatus,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let cors = std::env::var("SONGREC_CORS_ORIGINS")
        .map(|v| v.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    serve_with(
        settings,
        addr,
        reload_interval,
        serve_options(cors, pipeline),
        shutdown,
    )
    .await
}

async fn serve_with(
    settings: &Settings,
    addr: SocketAddr,
    reload_interval: Duration,
    options: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let registry = Arc::new(settings.open_registry()?);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let bound = listener
        .local_addr()
        .context("cannot read the bound address")?;
    tracing::info!(reload_interval = %humantime::format_duration(reload_interval), "serving on http://{bound}/");
    eprintln!("songrec is serving on http://{bound}/ (Ctrl-C stops it)");
    let config = ServeConfig {
        registry,
        reload_interval,
        options,
    };
    songrec_api::run(listener, config, shutdown)
        .await
        .context("the HTTP server failed")?;
    tracing::info!("stopped");
    Ok(())
}

fn parse_interval(raw: &str) -> Result<Duration, String> {
    let interval = humantime::parse_duration(raw).map_err(|e| e.to_string())?;
    if interval.is_zero() {
        return Err("the reload interval must be longer than zero".to_owned());
    }
    Ok(interval)
}

/// Resolves on Ctrl-C, or on SIGTERM where there is one (service managers, containers).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
