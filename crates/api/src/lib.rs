//! The HTTP service: serves the champion model's recommendations and swaps in a new champion
//! without restart.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use songrec_registry::Registry;

/// How the server finds and refreshes its model.
pub struct ServeConfig {
    pub registry: Arc<Registry>,
    /// How often the registry is polled for a new champion.
    pub reload_interval: Duration,
}

/// Serves on `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn run(
    _listener: tokio::net::TcpListener,
    _config: ServeConfig,
    _shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    todo!()
}
