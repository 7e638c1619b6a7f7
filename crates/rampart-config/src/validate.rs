//! Checks that need more than types: references, uniqueness, addresses, ranges.

use std::collections::HashSet;
use std::net::SocketAddr;

use crate::error::ConfigError;
use crate::locate::{KeyPath, line_of};
use crate::model::{BackendKindConfig, Config, ModelKind, SqliteSynchronous};

pub(crate) fn validate(config: &Config, text: &str, file: &str) -> Result<(), ConfigError> {
    let invalid = |path: KeyPath, message: String| ConfigError::Invalid {
        file: file.to_owned(),
        line: line_of(text, &path),
        key: path.to_string(),
        message,
    };
    let root = KeyPath::default();

    let server = root.key("server");
    if config.server.listen.parse::<SocketAddr>().is_err() {
        return Err(invalid(
            server.key("listen"),
            format!("is '{}', which is not an address like 127.0.0.1:8080", config.server.listen),
        ));
    }
    for (key, value) in [
        ("body_limit_bytes", config.server.body_limit_bytes),
        ("request_timeout_secs", config.server.request_timeout_secs),
        ("header_read_timeout_secs", config.server.header_read_timeout_secs),
    ] {
        if value == 0 {
            return Err(invalid(server.key(key), "must be greater than 0".to_owned()));
        }
    }
    if config.server.workers == Some(0) {
        return Err(invalid(
            server.key("workers"),
            "must be at least 1 (or left out: one serving thread per CPU)".to_owned(),
        ));
    }

    if let Some(url) = &config.storage.url {
        let supported = ["sqlite:", "postgres://", "postgresql://"];
        if !supported.iter().any(|scheme| url.starts_with(scheme)) {
            return Err(invalid(
                root.key("storage").key("url"),
                format!("is '{url}': use sqlite:///path/to/rampart.db or postgres://user@host/db"),
            ));
        }
        if config.storage.sqlite_synchronous != SqliteSynchronous::Full && !url.starts_with("sqlite:") {
            return Err(invalid(
                root.key("storage").key("sqlite_synchronous"),
                "applies to a SQLite store only: with PostgreSQL, set synchronous_commit on the server, or remove this key".to_owned(),
            ));
        }
    }

    let mut backend_names = HashSet::new();
    for (index, backend) in config.backends.iter().enumerate() {
        let path = root.key("backends").index(index);
        if backend.name.trim().is_empty() {
            return Err(invalid(path.key("name"), "must not be empty".to_owned()));
        }
        if !backend_names.insert(backend.name.as_str()) {
            return Err(invalid(path.key("name"), format!("'{}' is used by another backend", backend.name)));
        }
        if backend.kind == BackendKindConfig::Embedded {
            if backend.path.is_none() {
                return Err(invalid(
                    path.key("path"),
                    "is missing: an embedded backend needs the model's path (see `rampart models pull`)".to_owned(),
                ));
            }
        } else if !(backend.base_url.starts_with("http://") || backend.base_url.starts_with("https://")) {
            return Err(invalid(
                path.key("base_url"),
                format!("is '{}': it must start with http:// or https://", backend.base_url),
            ));
        }
        if backend.timeout_secs == 0 || backend.connect_timeout_secs == 0 {
            return Err(invalid(path.key("timeout_secs"), "timeouts must be greater than 0".to_owned()));
        }
    }

    let mut model_names = HashSet::new();
    for (index, model) in config.models.iter().enumerate() {
        let path = root.key("models").index(index);
        if model.name.trim().is_empty() {
            return Err(invalid(path.key("name"), "must not be empty".to_owned()));
        }
        let replicas = model.replicas();
        if replicas.is_empty() {
            return Err(invalid(
                path.key("backend"),
                "is missing: name the [[backends]] entry that serves this model (or `backends` for replicas)"
                    .to_owned(),
            ));
        }
        let mut seen = HashSet::new();
        for name in replicas {
            let key = if model.backend.as_deref() == Some(name) { path.key("backend") } else { path.key("backends") };
            if !config.backends.iter().any(|backend| backend.name == name) {
                let known: Vec<&str> = config.backends.iter().map(|backend| backend.name.as_str()).collect();
                let hint = if known.is_empty() {
                    "no [[backends]] are configured".to_owned()
                } else {
                    format!("configured backends: {}", known.join(", "))
                };
                return Err(invalid(key, format!("names '{name}', which is not a backend ({hint})")));
            }
            if !seen.insert(name) {
                return Err(invalid(key, format!("names backend '{name}' twice")));
            }
        }
        if !(1..=2).contains(&model.tier) {
            return Err(invalid(path.key("tier"), format!("is {}: use 1 (on-premises) or 2 (cloud)", model.tier)));
        }
        let price = model.price_per_mtok;
        if !(price.input.is_finite() && price.output.is_finite() && price.input >= 0.0 && price.output >= 0.0) {
            return Err(invalid(path.key("price_per_mtok"), "prices must be finite and not negative".to_owned()));
        }
        for (position, name) in std::iter::once(&model.name).chain(model.aliases.iter()).enumerate() {
            if !model_names.insert(name.as_str()) {
                let key = if position == 0 { path.key("name") } else { path.key("aliases") };
                return Err(invalid(key, format!("'{name}' is already the name or alias of another model")));
            }
        }
    }
    validate_fallbacks(config, &invalid)?;
    validate_router(config, &invalid)?;
    crate::validate_limits::validate_limits(config, &invalid)?;
    crate::validate_governance::validate_governance(config, &invalid)?;
    validate_observability(config, &invalid)?;
    crate::retrieval::validate_retrieval(config, &invalid)
}

/// `[guardrails]` rule names (policies switch rules on by name) and `[telemetry]` ranges.
/// Entity ids are checked when the rules are compiled at start, with close names suggested.
fn validate_observability(
    config: &Config,
    invalid: &impl Fn(KeyPath, String) -> ConfigError,
) -> Result<(), ConfigError> {
    let root = KeyPath::default();
    let mut names = std::collections::HashSet::new();
    for (index, rule) in config.guardrails.rules.iter().enumerate() {
        let path = root.key("guardrails").key("rules").index(index);
        if rule.name.trim().is_empty() {
            return Err(invalid(path.key("name"), "must not be empty".to_owned()));
        }
        if !names.insert(rule.name.as_str()) {
            return Err(invalid(
                path.key("name"),
                format!("'{}' names another rule too: names must be unique", rule.name),
            ));
        }
        if rule.entities.is_empty() {
            return Err(invalid(
                path.key("entities"),
                "is empty: list entity ids (email, credit_card, …), categories (pii, secret, injection, moderation) or \"*\""
                    .to_owned(),
            ));
        }
    }
    if let Some(classifier) = &config.guardrails.injection_classifier {
        let path = root.key("guardrails").key("injection_classifier");
        if classifier.path.as_os_str().is_empty() {
            return Err(invalid(path.key("path"), "is empty: name the model's directory".to_owned()));
        }
        if let Some(window) = classifier.window_tokens.filter(|window| *window < 8) {
            return Err(invalid(path.key("window_tokens"), format!("is {window}: use at least 8 tokens")));
        }
    }
    let ratio = config.telemetry.sample_ratio;
    if !(0.0..=1.0).contains(&ratio) {
        return Err(invalid(
            root.key("telemetry").key("sample_ratio"),
            format!("is {ratio}: use a share from 0.0 to 1.0"),
        ));
    }
    Ok(())
}

fn validate_fallbacks(config: &Config, invalid: &impl Fn(KeyPath, String) -> ConfigError) -> Result<(), ConfigError> {
    let root = KeyPath::default();
    for (index, model) in config.models.iter().enumerate() {
        let path = root.key("models").index(index).key("fallbacks");
        for name in &model.fallbacks {
            let Some(fallback) = config.models.iter().find(|other| other.name == *name) else {
                return Err(invalid(path, format!("names '{name}', which is not a configured model name")));
            };
            if fallback.name == model.name {
                return Err(invalid(path, format!("names the model itself ('{name}')")));
            }
            if fallback.kind != model.kind {
                return Err(invalid(
                    path,
                    format!(
                        "names '{name}', whose kind is {}: a {} model falls back to {} models only",
                        fallback.kind.as_str(),
                        model.kind.as_str(),
                        model.kind.as_str()
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn validate_router(config: &Config, invalid: &impl Fn(KeyPath, String) -> ConfigError) -> Result<(), ConfigError> {
    let router = KeyPath::default().key("router");
    let settings = &config.router;
    if let Some(name) = &settings.sustain_model {
        match config.models.iter().find(|model| model.name == *name) {
            None => {
                return Err(invalid(
                    router.key("sustain_model"),
                    format!("names '{name}', which is not a configured model name"),
                ));
            }
            Some(model) if model.tier != 1 || model.kind != ModelKind::Chat => {
                return Err(invalid(
                    router.key("sustain_model"),
                    format!("names '{name}': it must be a Tier 1 chat model"),
                ));
            }
            Some(_) => {}
        }
    }
    for (key, value) in
        [("attempt_timeout_secs", settings.attempt_timeout_secs), ("health_check_secs", settings.health_check_secs)]
    {
        if value == 0 {
            return Err(invalid(router.key(key), "must be greater than 0".to_owned()));
        }
    }
    if settings.retry_backoff_max_ms < settings.retry_backoff_ms {
        return Err(invalid(
            router.key("retry_backoff_max_ms"),
            "must not be smaller than retry_backoff_ms".to_owned(),
        ));
    }
    let breaker = router.key("breaker");
    if !(settings.breaker.error_rate > 0.0 && settings.breaker.error_rate <= 1.0) {
        return Err(invalid(breaker.key("error_rate"), "must be above 0 and at most 1".to_owned()));
    }
    for (key, value) in [
        ("consecutive_failures", u64::from(settings.breaker.consecutive_failures)),
        ("window_secs", settings.breaker.window_secs),
        ("open_secs", settings.breaker.open_secs),
    ] {
        if value == 0 {
            return Err(invalid(breaker.key(key), "must be greater than 0".to_owned()));
        }
    }
    for (index, backend) in config.backends.iter().enumerate() {
        if backend.max_concurrency == Some(0) {
            return Err(invalid(
                KeyPath::default().key("backends").index(index).key("max_concurrency"),
                "must be at least 1 (leave it out for no limit)".to_owned(),
            ));
        }
    }
    Ok(())
}
