//! Where the served model comes from: the registry's champion, loaded from its model file.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use songrec_model::{Model, ModelError};
use songrec_registry::{ModelFile, Registry, VersionInfo};

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

    /// Every registered version, oldest first.
    fn versions(&self) -> SourceFuture<'_, Vec<VersionInfo>>;
}

/// The model registry as a [`ModelSource`]: model files read with [`Model::load_expecting`],
/// which refuses corrupt or truncated files and any file whose SHA-256 is not the one the
/// registry recorded, checking that in the same read that loads the model.
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

    fn versions(&self) -> SourceFuture<'_, Vec<VersionInfo>> {
        Box::pin(async move { Ok(self.registry.list().await?) })
    }

    fn load(&self, version: &VersionInfo) -> SourceFuture<'_, Box<dyn Recommender>> {
        let version = version.version;
        Box::pin(async move {
            // Hashing the file before loading it would read hundreds of megabytes twice.
            let file = self.registry.model_file_unverified(version).await?;
            let checksum = file.checksum.clone();
            let model = match load_expecting(file).await? {
                Err(ModelError::ChecksumMismatch { .. }) => {
                    // The registry's own check replaces a damaged cached download (MLflow), or
                    // refuses the file, saying which version it is.
                    let path = self.registry.model_file(version).await?;
                    load_expecting(ModelFile { path, checksum }).await??
                }
                loaded => loaded?,
            };
            Ok(Box::new(model) as Box<dyn Recommender>)
        })
    }
}

/// Reading and checking a large model file is blocking work.
async fn load_expecting(file: ModelFile) -> Result<Result<Model, ModelError>, BoxError> {
    Ok(
        tokio::task::spawn_blocking(move || Model::load_expecting(&file.path, &file.checksum))
            .await?,
    )
}
