//! Start-up of retrieval (the embedded index, the ingest pipeline, hybrid search and the
//! expiry sweep), and the `ingest` and `query` commands, which talk to a running gateway.

use std::sync::Arc;
use std::time::Duration;

use rampart_config::Config;
use rampart_gateway::{Retrieval, RouterEmbedder};
use rampart_ingest::{ChunkerConfig, ParseLimits};
use rampart_retrieval::{EmbeddedIndex, FusionWeights, IngestSettings, Ingestor, Retriever};

use crate::CliError;

/// Builds retrieval when `[retrieval]` is on and an embedding model is known; `None` (with a
/// log line saying why) otherwise.
pub fn start(config: &Config, router: &rampart_gateway::ModelRouter) -> Result<Option<Arc<Retrieval>>, CliError> {
    let settings = &config.retrieval;
    if !settings.enabled {
        return Ok(None);
    }
    let Some(model) = settings.effective_embedding_model(config) else {
        tracing::warn!(
            "retrieval is off: no embedding model is configured, or several are and [retrieval] embedding_model \
             does not say which"
        );
        return Ok(None);
    };
    let timeout = Duration::from_secs(config.server.request_timeout_secs);
    let embedder = Arc::new(RouterEmbedder::new(router.clone(), model, timeout).map_err(CliError::failed)?);
    let path = settings.effective_path(&config.storage.effective_data_dir());
    let index = EmbeddedIndex::open(&path)
        .map_err(|error| CliError::failed(format!("{error}\nhint: check [retrieval].path ({})", path.display())))?;
    let index: Arc<dyn rampart_core::RetrievalIndex> = Arc::new(index);
    let ingest = IngestSettings {
        chunker: ChunkerConfig { max_tokens: settings.chunk_tokens, overlap_tokens: settings.chunk_overlap_tokens },
        limits: ParseLimits::with_max_bytes(settings.max_file_bytes),
        embed_batch: 32,
    };
    let weights = FusionWeights { lexical: settings.lexical_weight, vector: settings.vector_weight, k: settings.rrf_k };
    let ingestor = Ingestor::new(index.clone(), embedder.clone(), ingest);
    let retriever = Retriever::new(index.clone(), embedder, weights);
    spawn_expiry_sweep(index, Duration::from_secs(settings.gc_interval_secs));
    tracing::info!(embedding_model = model, path = %path.display(), "retrieval on");
    Ok(Some(Arc::new(Retrieval { retriever, ingestor, settings: settings.clone() })))
}

/// Deletes expired documents and memory items every `interval` (session memory's TTL).
fn spawn_expiry_sweep(index: Arc<dyn rampart_core::RetrievalIndex>, interval: Duration) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            match index.delete_expired(rampart_core::unix_now_millis()).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "expired documents deleted"),
                Err(error) => tracing::warn!(%error, "expiry sweep failed; retrying next interval"),
            }
        }
    });
}
