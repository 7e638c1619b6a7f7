//! What every adapter shares: the pooled client, error mapping and secret redaction.

use std::time::Duration;

use rampart_config::BackendConfig;
use rampart_core::BackendError;
use rampart_core::worker::PerWorker;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

/// How an upstream's HTTP clients are built: the same for every worker's.
#[derive(Debug)]
struct ClientSettings {
    headers: HeaderMap,
    connect_timeout: Duration,
    timeout: Duration,
}

impl ClientSettings {
    fn build(&self) -> Result<reqwest::Client, reqwest::Error> {
        reqwest::Client::builder()
            .default_headers(self.headers.clone())
            .connect_timeout(self.connect_timeout)
            // Per read, so a long stream lives on while a stalled one is cut.
            .read_timeout(self.timeout)
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(256)
            .build()
    }
}

/// Largest upstream error body read for its message.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum BackendBuildError {
    #[error("backend '{backend}': header '{header}' is not a valid HTTP header")]
    InvalidHeader { backend: String, header: String },
    #[error("backend '{backend}' is an embedded model, not an HTTP server: the inference crate builds it")]
    NotHttp { backend: String },
    #[error("backend '{backend}': cannot build the HTTP client: {detail}")]
    Client { backend: String, detail: String },
}

/// An upstream's identity, client and secrets, shared by the three adapters.
#[derive(Debug, Clone)]
pub(crate) struct Upstream {
    pub name: String,
    pub base_url: String,
    /// One pool of keep-alive connections per serving worker (see `rampart_core::worker`).
    clients: std::sync::Arc<PerWorker<reqwest::Client>>,
    /// What each worker's client is built from.
    settings: std::sync::Arc<ClientSettings>,
    pub timeout: Duration,
    /// Values that must never appear in an error message (API key, header values).
    secrets: Vec<String>,
    /// Parsed endpoint URLs: parsing (with IDNA) on every request showed in profiles.
    endpoints: std::sync::Arc<std::sync::RwLock<std::collections::HashMap<String, reqwest::Url>>>,
}

impl Upstream {
    /// `auth_headers` are the adapter's own credentials; `config.headers` come on top.
    pub fn new(config: &BackendConfig, auth_headers: Vec<(String, String)>) -> Result<Self, BackendBuildError> {
        let mut headers = HeaderMap::new();
        let mut secrets: Vec<String> = Vec::new();
        let configured: Vec<(String, String)> =
            config.headers.iter().map(|(name, value)| (name.clone(), value.clone())).collect();
        for (name, value) in auth_headers.iter().chain(configured.iter()) {
            let invalid = || BackendBuildError::InvalidHeader { backend: config.name.clone(), header: name.clone() };
            let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
            let mut header_value = HeaderValue::from_str(value).map_err(|_| invalid())?;
            header_value.set_sensitive(true);
            headers.insert(header_name, header_value);
            if is_credential_header(name) && value.len() >= 4 {
                secrets.push(value.clone());
            }
        }
        if let Some(key) = &config.api_key
            && !key.is_empty()
        {
            secrets.push(key.clone());
        }
        let timeout = Duration::from_secs(config.timeout_secs);
        ensure_crypto_provider();
        let settings =
            ClientSettings { headers, connect_timeout: Duration::from_secs(config.connect_timeout_secs), timeout };
        let client = settings
            .build()
            .map_err(|error| BackendBuildError::Client { backend: config.name.clone(), detail: error.to_string() })?;
        Ok(Upstream {
            name: config.name.clone(),
            base_url: config.base_url.trim_end_matches('/').to_owned(),
            clients: std::sync::Arc::new(PerWorker::new(client)),
            settings: std::sync::Arc::new(settings),
            timeout,
            secrets,
            endpoints: Default::default(),
        })
    }

    /// The calling worker's client, made on its first call there (the shared one elsewhere).
    fn client(&self) -> &reqwest::Client {
        self.clients.get(|| {
            self.settings
                .build()
                .inspect_err(|error| tracing::warn!(backend = %self.name, %error, "a serving worker shares the start-up HTTP client"))
                .ok()
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// The parsed URL of `path`, cached after the first use.
    fn endpoint(&self, path: &str) -> Result<reqwest::Url, BackendError> {
        if let Some(url) = self.endpoints.read().ok().and_then(|cache| cache.get(path).cloned()) {
            return Ok(url);
        }
        let url = reqwest::Url::parse(&self.url(path)).map_err(|error| BackendError::Unreachable {
            backend: self.name.clone(),
            detail: format!("invalid URL: {error}"),
        })?;
        if let Ok(mut cache) = self.endpoints.write() {
            cache.insert(path.to_owned(), url.clone());
        }
        Ok(url)
    }

    /// Sends a JSON POST. `streaming` requests have no total deadline (only the per-read one).
    pub async fn post_json<T: serde::Serialize + ?Sized>(
        &self,
        path: &str,
        body: &T,
        streaming: bool,
    ) -> Result<reqwest::Response, BackendError> {
        let mut request = crate::trace_context::propagate(self.client().post(self.endpoint(path)?).json(body));
        if !streaming {
            request = request.timeout(self.timeout);
        }
        let response = request.send().await.map_err(|error| self.transport_error(&error))?;
        if response.status().is_success() { Ok(response) } else { Err(self.status_error(response).await) }
    }

    pub async fn get(&self, path: &str) -> Result<reqwest::Response, BackendError> {
        let response = self
            .client()
            .get(self.endpoint(path)?)
            .timeout(self.timeout.min(Duration::from_secs(10)))
            .send()
            .await
            .map_err(|error| self.transport_error(&error))?;
        if response.status().is_success() { Ok(response) } else { Err(self.status_error(response).await) }
    }

    /// Reads a whole 2xx JSON body into `T`.
    pub async fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        response: reqwest::Response,
    ) -> Result<T, BackendError> {
        let bytes = response.bytes().await.map_err(|error| self.transport_error(&error))?;
        serde_json::from_slice(&bytes).map_err(|error| self.invalid(format!("{error}")))
    }

    pub fn invalid(&self, detail: impl Into<String>) -> BackendError {
        BackendError::InvalidResponse { backend: self.name.clone(), detail: self.redact(&detail.into()) }
    }

    pub fn transport_error(&self, error: &reqwest::Error) -> BackendError {
        if error.is_timeout() {
            BackendError::Timeout { backend: self.name.clone(), timeout: self.timeout }
        } else {
            let mut detail = error.to_string();
            let mut source = std::error::Error::source(error);
            while let Some(inner) = source {
                detail.push_str(": ");
                detail.push_str(&inner.to_string());
                source = inner.source();
            }
            BackendError::Unreachable { backend: self.name.clone(), detail: self.redact(&detail) }
        }
    }

    /// Turns a non-2xx response into an error that keeps the upstream status and message.
    pub async fn status_error(&self, response: reqwest::Response) -> BackendError {
        let status = response.status().as_u16();
        let retry_after_secs = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok());
        let body = read_limited(response).await;
        let (message, error_type, code) = upstream_error_fields(&body);
        BackendError::Upstream {
            backend: self.name.clone(),
            status,
            message: self.redact(&message),
            error_type,
            code,
            retry_after_secs,
        }
    }

    pub fn redact(&self, text: &str) -> String {
        let mut redacted = text.to_owned();
        for secret in &self.secrets {
            if redacted.contains(secret.as_str()) {
                redacted = redacted.replace(secret.as_str(), "[REDACTED]");
            }
        }
        redacted
    }
}

/// Headers whose values are credentials and must never appear in an error message.
fn is_credential_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["auth", "key", "token", "secret", "cookie", "password"].iter().any(|marker| name.contains(marker))
}

/// reqwest is built without a default TLS provider (to ship ring rather than aws-lc); one
/// must be installed before the first client is built, or building panics.
pub fn ensure_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

async fn read_limited(mut response: reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = ERROR_BODY_LIMIT.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= ERROR_BODY_LIMIT {
            break;
        }
    }
    body
}

/// Message, type and code from the error bodies of OpenAI (`{"error":{"message"}}`),
/// Anthropic (`{"type":"error","error":{"type","message"}}`) and Ollama (`{"error":"..."}`).
pub(crate) fn upstream_error_fields(body: &[u8]) -> (String, Option<String>, Option<String>) {
    let text = || {
        let text = String::from_utf8_lossy(body).trim().to_owned();
        if text.is_empty() { "no error message".to_owned() } else { text.chars().take(2000).collect() }
    };
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return (text(), None, None);
    };
    let as_string = |value: Option<&Value>| {
        value.and_then(|value| match value {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        })
    };
    match value.get("error") {
        Some(Value::String(message)) => (message.clone(), None, None),
        Some(error @ Value::Object(_)) => (
            as_string(error.get("message")).unwrap_or_else(text),
            as_string(error.get("type")),
            as_string(error.get("code")),
        ),
        _ => (
            as_string(value.get("message")).or_else(|| as_string(value.get("detail"))).unwrap_or_else(text),
            None,
            None,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_error_bodies_of_each_wire_format() {
        let openai = br#"{"error":{"message":"bad key","type":"invalid_request_error","code":"invalid_api_key"}}"#;
        assert_eq!(
            upstream_error_fields(openai),
            ("bad key".into(), Some("invalid_request_error".into()), Some("invalid_api_key".into()))
        );
        let anthropic = br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        assert_eq!(upstream_error_fields(anthropic), ("Overloaded".into(), Some("overloaded_error".into()), None));
        let ollama = br#"{"error":"model 'x' not found"}"#;
        assert_eq!(upstream_error_fields(ollama), ("model 'x' not found".into(), None, None));
        assert_eq!(upstream_error_fields(b"Bad Gateway").0, "Bad Gateway");
    }
}
