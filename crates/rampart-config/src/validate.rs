//! Checks that need more than types: references, uniqueness, addresses, ranges.

use std::collections::HashSet;
use std::net::SocketAddr;

use crate::error::ConfigError;
use crate::locate::{KeyPath, line_of};
use crate::model::{BackendKindConfig, Config};

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

    if let Some(url) = &config.storage.url {
        let supported = ["sqlite:", "postgres://", "postgresql://"];
        if !supported.iter().any(|scheme| url.starts_with(scheme)) {
            return Err(invalid(
                root.key("storage").key("url"),
                format!("is '{url}': use sqlite:///path/to/rampart.db or postgres://user@host/db"),
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
        if !config.backends.iter().any(|backend| backend.name == model.backend) {
            let known: Vec<&str> = config.backends.iter().map(|backend| backend.name.as_str()).collect();
            let hint = if known.is_empty() {
                "no [[backends]] are configured".to_owned()
            } else {
                format!("configured backends: {}", known.join(", "))
            };
            return Err(invalid(
                path.key("backend"),
                format!("names '{}', which is not a backend ({hint})", model.backend),
            ));
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
    Ok(())
}
