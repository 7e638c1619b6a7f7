//! Start-up of retrieval: the embedded index, the ingest pipeline, the memory gate, hybrid
//! search and the expiry sweep.

use std::sync::Arc;
use std::time::Duration;

use rampart_config::Config;
use rampart_conversations::KeyRing;
use rampart_core::Store;
use rampart_gateway::{GuardrailsSanitizer, Retrieval, RouterEmbedder};
use rampart_guardrails::Guardrails;
use rampart_ingest::{ChunkerConfig, ParseLimits};
use rampart_retrieval::{
    EmbeddedIndex, FusionWeights, GateSettings, IngestSettings, Ingestor, MemoryGate, PostgresIndex, Retriever,
    SealedIndex,
};

use crate::CliError;

/// Builds retrieval when `[retrieval]` is on and an embedding model is known; `None` (with a
/// log line saying why) otherwise. The memory gate screens with `guardrails` when they are on,
/// and with the built-in detectors when they are off: memory is screened either way.
pub async fn start(
    config: &Config,
    store: &Arc<dyn Store>,
    router: &rampart_gateway::ModelRouter,
    guardrails: Option<Arc<Guardrails>>,
) -> Result<Option<Arc<Retrieval>>, CliError> {
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
    let (engine, location): (Arc<dyn rampart_core::RetrievalIndex>, String) = match &settings.url {
        Some(url) => {
            let location = rampart_core::redact_url_password(url);
            let index = PostgresIndex::open(url)
                .await
                .map_err(|error| CliError::failed(format!("{error}\nhint: check [retrieval].url ({location})")))?;
            (Arc::new(index), location)
        }
        None => {
            let path = settings.effective_path(&config.storage.effective_data_dir());
            let index = EmbeddedIndex::open(&path).map_err(|error| {
                CliError::failed(format!("{error}\nhint: check [retrieval].path ({})", path.display()))
            })?;
            (Arc::new(index), path.display().to_string())
        }
    };
    // Every engine sits behind the sealing layer: with `encrypt` it seals, without it it
    // refuses chunks sealed earlier rather than serving them as empty text.
    let index: Arc<dyn rampart_core::RetrievalIndex> = if settings.encrypt {
        let key = crate::conversations::serving_master_key(config, store).await?;
        tracing::info!(master_key = %key.id(), "passages encrypted at rest");
        Arc::new(SealedIndex::new(engine, Arc::new(KeyRing::new(key, store.clone()))))
    } else {
        Arc::new(SealedIndex::plain(engine))
    };
    let ingest = IngestSettings {
        chunker: ChunkerConfig { max_tokens: settings.chunk_tokens, overlap_tokens: settings.chunk_overlap_tokens },
        limits: ParseLimits::with_max_bytes(settings.max_file_bytes),
        embed_batch: 32,
    };
    let weights = FusionWeights { lexical: settings.lexical_weight, vector: settings.vector_weight, k: settings.rrf_k };
    let ingestor = Ingestor::new(index.clone(), embedder.clone(), ingest);
    let retriever = Retriever::new(index.clone(), embedder, weights);
    let detectors = match guardrails {
        Some(guardrails) => guardrails,
        None => Arc::new(
            Guardrails::new(Guardrails::default_rules(), None)
                .map_err(|error| CliError::failed(format!("the memory gate's detectors: {error}")))?,
        ),
    };
    let gate_settings = GateSettings {
        session_ttl_ms: secs_to_ms(settings.session_ttl_secs),
        trace_ttl_ms: secs_to_ms(settings.trace_ttl_secs),
        ..GateSettings::default()
    };
    let gate = MemoryGate::new(ingestor.clone(), Arc::new(GuardrailsSanitizer::new(detectors)), gate_settings);
    spawn_expiry_sweep(index, Duration::from_secs(settings.gc_interval_secs));
    tracing::info!(embedding_model = model, index = %location, "retrieval on");
    Ok(Some(Arc::new(Retrieval { retriever, ingestor, gate, settings: settings.clone() })))
}

fn secs_to_ms(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
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
