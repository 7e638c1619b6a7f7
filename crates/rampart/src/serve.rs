//! `rampart serve`: wire configuration, storage, backends and the gateway together.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_config::{Config, LogFormat};
use rampart_gateway::{
    AppState, HealthMonitor, Limiter, Limits, Metrics, ModelCatalog, ModelRouter, RequestLogger, RouteTable,
    ServeOptions,
};

use crate::CliError;
use crate::cli::ServeArgs;

pub async fn serve(config_path: Option<&Path>, args: ServeArgs) -> Result<(), CliError> {
    let loaded = rampart_config::load(config_path)?;
    let mut config = loaded.config;
    if let Some(listen) = args.listen {
        if listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(CliError::failed(format!("--listen '{listen}' is not an address like 127.0.0.1:8080")));
        }
        config.server.listen = listen;
    }
    if config.backends.is_empty() && config.models.is_empty() {
        use_default_models(&mut config)?;
    }
    init_tracing(&config);
    tracing::info!(config = %loaded.source.label(), "starting rampart {}", env!("CARGO_PKG_VERSION"));

    let store = open_store(&config).await?;
    let ledger = rampart_store::open_ledger(config.storage.limits_url.as_deref(), &store, store_options(&config))
        .await
        .map_err(|error| CliError::failed(format!("{error}\nhint: check [storage].limits_url")))?;
    let limiter = Arc::new(Limiter::new(&config.limits, ledger));
    if !config.limits.is_empty() {
        tracing::info!(
            limits = config.limits.len(),
            ledger = limiter.ledger_engine(),
            "rate limits and budgets enforced"
        );
    }
    let max_cache_bytes = usize::try_from(config.cache.max_bytes).unwrap_or(usize::MAX);
    let cache = rampart_cache::open_cache(config.cache.url.as_deref(), max_cache_bytes)
        .await
        .map_err(|error| CliError::failed(format!("{error}\nhint: check [cache].url")))?;
    // Token counting's tables load in the background, before the first request needs them,
    // and only when something counts tokens: each costs tens of megabytes.
    rampart_tokens::preload_in_background(encodings_in_use(&config));
    let mut backends = Vec::with_capacity(config.backends.len());
    for backend in &config.backends {
        backends.push(build_backend(backend).await?);
    }
    let catalog = ModelCatalog::new(&config, backends).map_err(|error| CliError::failed(error.to_string()))?;
    if catalog.models().is_empty() {
        tracing::warn!(
            "no models are configured: add [[backends]] and [[models]] to the config (see config/rampart.example.toml)"
        );
    }

    let routes = RouteTable::new(&config, &catalog);
    let router = ModelRouter::new(catalog, config.router.clone());
    let mut metrics = Metrics::new();
    router.metrics().register(metrics.registry_mut());
    let metrics = Arc::new(metrics);
    let (request_log, log_writer) = RequestLogger::spawn(store.clone(), metrics.clone());
    let health = Arc::new(HealthMonitor::default());
    let prober = health.spawn(router.clone(), Duration::from_secs(config.router.health_check_secs), metrics.clone());
    let governance = crate::governance::start(&config, &store).await?;
    let observability = crate::observability::start(&config)?;
    let conversations =
        crate::conversations::start_recording(&config, &store, observability.guardrails.clone()).await?;
    let retrieval = crate::retrieval::start(&config, &store, &router, observability.guardrails.clone()).await?;
    let state = Arc::new(AppState {
        retrieval,
        tracer: Arc::new(observability.telemetry.tracer()),
        guardrails: observability.guardrails.clone(),
        conversations,
        gatekeeper: governance.gatekeeper.clone(),
        policy: governance.policy,
        audit: governance.audit,
        audit_public_key: governance.audit_public_key,
        router,
        routes,
        limiter,
        context: config.context.clone(),
        cache,
        cache_default_ttl: Duration::from_secs(config.cache.default_ttl_secs),
        store,
        metrics,
        request_log,
        health,
        limits: Limits::from(&config.server),
        started_at: Instant::now(),
        started_unix_secs: rampart_core::unix_now_secs(),
    });

    let listener = tokio::net::TcpListener::bind(&config.server.listen).await.map_err(|error| {
        let hint = if error.kind() == std::io::ErrorKind::AddrInUse {
            "another process uses this port: stop it or pass --listen with another address"
        } else {
            "check [server].listen"
        };
        CliError::failed(format!("cannot listen on {}: {error}\nhint: {hint}", config.server.listen))
    })?;
    let address =
        listener.local_addr().map(|address| address.to_string()).unwrap_or_else(|_| config.server.listen.clone());
    tracing::info!(%address, models = state.router.catalog().models().len(), "listening");
    eprintln!("Rampart is serving the OpenAI API at http://{address}/v1");

    let options = ServeOptions {
        header_read_timeout: Duration::from_secs(config.server.header_read_timeout_secs),
        shutdown_grace: Duration::from_secs(config.server.shutdown_grace_secs),
        workers: config
            .server
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)),
    };
    let workers =
        rampart_gateway::serve(listener, rampart_gateway::router(state), options, shutdown_signal()).await.map_err(
            |error| CliError::failed(format!("cannot start a serving thread: {error}\nhint: lower [server].workers")),
        )?;
    prober.abort();
    governance.gatekeeper.flush_last_used().await;
    // The writer ends when the last logger clone is gone; give it time to flush the queue.
    if tokio::time::timeout(Duration::from_secs(10), log_writer).await.is_err() {
        tracing::warn!("request log writer did not finish within 10 s");
    }
    // Spans still queued are exported before exit (bounded by the export timeout).
    let telemetry = observability.telemetry;
    let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    // Last: connections the store opened from a worker's requests live on its runtime.
    workers.stop().await;
    tracing::info!("stopped");
    Ok(())
}

/// The encodings prompt counting will use: those of the models' upstream names, when limits,
/// context windows or size-based routes count prompts at all.
fn encodings_in_use(config: &Config) -> Vec<rampart_tokens::Encoding> {
    let counts = !config.limits.is_empty()
        || config.models.iter().any(|model| model.context_window.is_some())
        || config.routes.iter().flat_map(|route| &route.rules).any(|rule| rule.when.needs_prompt_tokens());
    if !counts {
        return Vec::new();
    }
    let mut encodings: Vec<rampart_tokens::Encoding> = Vec::new();
    for model in &config.models {
        let encoding = rampart_tokens::Encoding::for_model(model.upstream_model());
        if !encodings.contains(&encoding) {
            encodings.push(encoding);
        }
    }
    encodings
}

pub async fn open_store(config: &Config) -> Result<Arc<dyn rampart_core::Store>, CliError> {
    let url = config.storage.effective_url();
    if config.storage.url.is_none() {
        let dir = config.storage.effective_data_dir();
        std::fs::create_dir_all(&dir).map_err(|error| {
            CliError::failed(format!(
                "cannot create the data directory {}: {error}\nhint: set [storage].data_dir or RAMPART_STORAGE__DATA_DIR to a writable directory",
                dir.display()
            ))
        })?;
    }
    rampart_store::open_store_with(&url, store_options(config))
        .await
        .map_err(|error| CliError::failed(format!("{error}\nhint: check [storage].url")))
}

fn store_options(config: &Config) -> rampart_store::StoreOptions {
    use rampart_config::SqliteSynchronous;
    rampart_store::StoreOptions {
        sqlite_sync: match config.storage.sqlite_synchronous {
            SqliteSynchronous::Full => rampart_store::SqliteSync::Full,
            SqliteSynchronous::Normal => rampart_store::SqliteSync::Normal,
        },
    }
}

/// With no backends configured, Rampart serves the default local models from the data dir:
/// `gemma-3-270m` (chat, alias `default`) and `all-minilm-l6-v2` (embeddings).
fn use_default_models(config: &mut Config) -> Result<(), CliError> {
    use rampart_config::{BackendConfig, BackendKindConfig, ModelConfig, ModelKind};
    use rampart_models::{ALL_MINILM_L6_V2, GEMMA_3_270M, ModelStore};
    let store = ModelStore::new(&config.storage.effective_data_dir());
    if !cfg!(feature = "embedded") {
        return Err(CliError::failed(
            "no backends are configured, and this build of rampart leaves out embedded inference (built without the `embedded` feature)
             hint: configure [[backends]] and [[models]] (see config/rampart.example.toml), or build with the default features to serve local models",
        ));
    }
    let missing: Vec<&str> =
        [GEMMA_3_270M, ALL_MINILM_L6_V2].iter().filter(|spec| !store.is_present(spec)).map(|spec| spec.id).collect();
    if !missing.is_empty() {
        return Err(CliError::failed(format!(
            "no backends are configured and the default local models are missing from {} ({})
             hint: run `rampart models pull`, or configure [[backends]] and [[models]] (see config/rampart.example.toml)",
            store.root().display(),
            missing.join(", ")
        )));
    }
    let embedded = |name: &str, path: std::path::PathBuf| BackendConfig {
        name: name.to_owned(),
        kind: BackendKindConfig::Embedded,
        base_url: String::new(),
        path: Some(path),
        api_key: None,
        timeout_secs: 600,
        connect_timeout_secs: 10,
        headers: Default::default(),
        default_max_tokens: 4096,
        threads: None,
        context_window: None,
        parallel: None,
        max_concurrency: None,
        max_queue: None,
    };
    let model = |name: &str, backend: &str, kind: ModelKind, aliases: Vec<String>| ModelConfig {
        name: name.to_owned(),
        backend: Some(backend.to_owned()),
        backends: Vec::new(),
        fallbacks: Vec::new(),
        privacy_mode: false,
        sustain: true,
        upstream_model: None,
        aliases,
        tier: 1,
        context_window: None,
        price_per_mtok: Default::default(),
        kind,
        cache_ttl_secs: None,
    };
    config.backends = vec![
        embedded("local-chat", store.path_of(&GEMMA_3_270M)),
        embedded("local-embeddings", store.path_of(&ALL_MINILM_L6_V2)),
    ];
    config.models = vec![
        model(GEMMA_3_270M.id, "local-chat", ModelKind::Chat, vec!["default".to_owned()]),
        model(ALL_MINILM_L6_V2.id, "local-embeddings", ModelKind::Embedding, Vec::new()),
    ];
    Ok(())
}

/// An HTTP adapter, or an in-process model loaded off the async workers.
async fn build_backend(config: &rampart_config::BackendConfig) -> Result<Arc<dyn rampart_core::Backend>, CliError> {
    if config.kind != rampart_config::BackendKindConfig::Embedded {
        return rampart_backends::build_backend(config).map_err(|error| CliError::failed(error.to_string()));
    }
    let started = Instant::now();
    let loaded = load_embedded(config).await;
    match loaded {
        Ok(loaded) => {
            let elapsed_ms = started.elapsed().as_millis() as u64;
            tracing::info!(backend = %config.name, elapsed_ms, "embedded model loaded");
            Ok(Arc::new(loaded))
        }
        // One model that will not load must not take the other backends down: its models
        // answer with the reason, and /health shows it.
        Err(reason) => {
            tracing::error!(backend = %config.name, %reason, "embedded model did not load; its models are unavailable");
            Ok(Arc::new(rampart_core::UnavailableBackend::new(
                config.name.clone(),
                rampart_core::BackendKind::Embedded,
                format!("the model did not load: {reason}"),
            )))
        }
    }
}

/// Loads an in-process model off the async workers.
#[cfg(feature = "embedded")]
async fn load_embedded(config: &rampart_config::BackendConfig) -> Result<rampart_inference::EmbeddedBackend, String> {
    let name = config.name.clone();
    let path = config.path.clone().unwrap_or_default();
    let defaults = rampart_inference::EmbeddedSettings::default();
    let settings = rampart_inference::EmbeddedSettings {
        threads: config.threads.unwrap_or(defaults.threads),
        context_window: config.context_window.unwrap_or(defaults.context_window),
        slots: config.parallel.unwrap_or(defaults.slots),
        queue: config.max_queue.unwrap_or(defaults.queue),
    };
    tokio::task::spawn_blocking(move || rampart_inference::EmbeddedBackend::load(&name, &path, settings))
        .await
        .map_err(|error| error.to_string())
        .and_then(|loaded| loaded.map_err(|error| error.to_string()))
}

/// A build without the `embedded` feature serves no in-process models: the backend answers
/// with the reason, like a model that did not load.
#[cfg(not(feature = "embedded"))]
async fn load_embedded(_: &rampart_config::BackendConfig) -> Result<rampart_core::UnavailableBackend, String> {
    Err("this build of rampart leaves out embedded inference (built without the `embedded` feature); rebuild with the default features".to_owned())
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("received Ctrl-C"),
        () = terminate => tracing::info!("received SIGTERM"),
    }
}

fn init_tracing(config: &Config) {
    let filter = std::env::var("RAMPART_LOG").unwrap_or_else(|_| config.logging.level.clone());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|error| {
        eprintln!("warning: log filter '{filter}' is invalid ({error}); using 'info'");
        tracing_subscriber::EnvFilter::new("info")
    });
    // Colour only on a terminal: log files and collectors get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr);
    let _ = match config.logging.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
