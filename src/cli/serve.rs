//! `songrec serve`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use songrec_api::ServeConfig;

use super::Settings;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, env = "SONGREC_ADDR", default_value = "127.0.0.1:8000")]
    pub addr: SocketAddr,
    /// How often to check the registry for a new champion (e.g. `30s`, `5m`).
    #[arg(long, env = "SONGREC_RELOAD_INTERVAL", default_value = "30s", value_parser = parse_interval)]
    pub reload_interval: Duration,
}

pub async fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    serve(settings, args.addr, args.reload_interval).await?;
    Ok(ExitCode::SUCCESS)
}

/// Serves the champion on `addr` until Ctrl-C or SIGTERM, then drains in-flight requests.
pub async fn serve(
    settings: &Settings,
    addr: SocketAddr,
    reload_interval: Duration,
) -> anyhow::Result<()> {
    serve_until(settings, addr, reload_interval, shutdown_signal()).await
}

/// Serves the champion on `addr` until `shutdown` resolves, then drains in-flight requests.
pub async fn serve_until(
    settings: &Settings,
    addr: SocketAddr,
    reload_interval: Duration,
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
