//! Where the served model comes from: the registry's champion, loaded from its model file.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use songrec_model::Model;
use songrec_registry::{Registry, VersionInfo};

use crate::Recommender;

/// Any error a source reports; the server only logs it and keeps its current model.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The future a [`ModelSource`] method returns.
pub type SourceFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send + 'a>>;

/// The champion to serve and a way to load it.
pub trait ModelSource: Send + Sync + 'static {
    /// The current champion version, if any.
    fn champion(&self) -> SourceFuture<'_, Option<VersionInfo>>;

    /// Loads a version's model; an error means the version is refused.
    fn load(&self, version: &VersionInfo) -> SourceFuture<'_, Box<dyn Recommender>>;
}

/// The model registry as a [`ModelSource`]: checksum-verified model files read with
/// [`Model::load`], which refuses corrupt or truncated files.
pub struct RegistrySource {
    registry: Arc<Registry>,
}

impl RegistrySource {
    pub fn new(registry: Arc<Registry>) -> RegistrySource {
        RegistrySource { registry }
    }
}

impl ModelSource for RegistrySource {
    fn champion(&self) -> SourceFuture<'_, Option<VersionInfo>> {
        Box::pin(async move { Ok(self.registry.champion().await?) })
    }

    fn load(&self, version: &VersionInfo) -> SourceFuture<'_, Box<dyn Recommender>> {
        let version = version.version;
        Box::pin(async move {
            let path = self.registry.model_file(version).await?;
            // Reading and checking a large model file is blocking work.
            let model = tokio::task::spawn_blocking(move || Model::load(&path)).await??;
            Ok(Box::new(model) as Box<dyn Recommender>)
        })
    }
}
