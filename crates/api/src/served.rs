//! The model being served and the slot that holds it.
//!
//! Each request takes its own `Arc` of the current [`ServedModel`] when it starts, so a swap
//! never changes the model under a request in flight: the old one is dropped when its last
//! request finishes.

use std::time::{Instant, SystemTime};

use arc_swap::ArcSwapOption;
use songrec_registry::VersionInfo;

use crate::Recommender;
use crate::search::SearchIndex;

/// A loaded model with what the routes need around it.
pub(crate) struct ServedModel {
    pub model: Box<dyn Recommender>,
    /// The registry version; `None` only for a model that did not come from a registry.
    pub version: Option<VersionInfo>,
    pub search: SearchIndex,
    pub loaded_at: SystemTime,
    /// Seconds from the start of the load to the model being ready to serve.
    pub load_seconds: f64,
}

impl ServedModel {
    /// Wraps a freshly loaded model; builds its search index, so call it off the async threads
    /// for large catalogues.
    pub fn new(
        model: Box<dyn Recommender>,
        version: Option<VersionInfo>,
        started: Instant,
    ) -> ServedModel {
        let search = SearchIndex::build(model.as_ref());
        ServedModel {
            model,
            version,
            search,
            loaded_at: SystemTime::now(),
            load_seconds: started.elapsed().as_secs_f64(),
        }
    }

    pub fn version_number(&self) -> Option<u64> {
        self.version.as_ref().map(|v| v.version)
    }
}

/// The atomically swappable current model (empty until the first champion loads).
pub(crate) type ModelSlot = ArcSwapOption<ServedModel>;
