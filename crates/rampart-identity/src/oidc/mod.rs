//! OIDC bearer tokens: one [`OidcProvider`] per trusted issuer verifies JWTs against the
//! issuer's published key set and maps their claims to an [`IdentityEnvelope`].
//!
//! Keys: found through `{issuer}/.well-known/openid-configuration` (whose `issuer` must equal
//! the configured one exactly) or a configured `jwks_url`, cached for `jwks_refresh_secs`, then
//! fetched again (from [`OidcProvider::refresh_if_due`] on a timer, or by the first request
//! that finds them stale), so removed keys stop verifying and rotated ones are picked up
//! without a restart. A token whose `kid` is unknown triggers one refetch, at most once per
//! `min_refresh_interval_secs`. When a refetch fails, the keys already held stay in use (the
//! IdP being down must not log everyone out); with none held, requests get a 503.
//!
//! Verification: `alg` must be in the configured allowlist and be one the selected key can
//! verify (an RSA key verifies `RS*`/`PS*` only, which defeats HS256 signed with the public
//! key); `kid` is required when the set has several keys; then the signature, `exp`/`nbf`/`iat`
//! with leeway, `iss` (exact) and `aud` (one configured audience) are checked.

mod claims;
mod config;
mod jwks;
mod token;

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::Validation;
use rampart_core::{IdentityEnvelope, unix_now_secs};
use serde_json::{Map, Value};

pub use config::{AlgorithmNotAccepted, ClaimMapping, DEFAULT_ALGORITHMS, OidcConfig, parse_signing_algorithm};
pub use jsonwebtoken::Algorithm;
pub(crate) use token::{looks_like_jwt, unverified_issuer};

use crate::error::{AuthError, OidcError};
use jwks::{KeyMiss, KeySet, SigningKey};

/// The keys in use, replaced whole by each successful fetch.
#[derive(Default)]
struct KeyState {
    keys: Arc<KeySet>,
    fetched_at: Option<Instant>,
    /// Counts successful fetches, so a waiter can tell whether someone else just refreshed.
    generation: u64,
}

/// Bookkeeping of fetches, guarded by the single-flight refresh lock.
#[derive(Default)]
struct RefreshLog {
    /// From configuration or discovery; forgotten after a failed fetch if it came from discovery.
    jwks_url: Option<String>,
    last_attempt: Option<Instant>,
    last_attempt_failed: bool,
    last_unknown_kid_refresh: Option<Instant>,
}

/// One trusted issuer. Share it (`Arc`) between requests: it holds the key cache.
pub struct OidcProvider {
    config: OidcConfig,
    client: reqwest::Client,
    state: RwLock<KeyState>,
    refresh: tokio::sync::Mutex<RefreshLog>,
}

impl std::fmt::Debug for OidcProvider {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("OidcProvider").field("issuer", &self.config.issuer).finish_non_exhaustive()
    }
}

impl OidcProvider {
    /// Checks the configuration and builds the HTTP client; fetches nothing. Keys are fetched
    /// by the first request (or [`OidcProvider::refresh_keys`]), so Rampart starts while the
    /// IdP is down.
    pub fn new(config: OidcConfig) -> Result<Self, OidcError> {
        config.validate()?;
        crate::install_crypto_provider();
        let timeout = Duration::from_secs(config.http_timeout_secs);
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .map_err(|error| OidcError::InvalidConfig {
                issuer: config.issuer.clone(),
                reason: format!("the HTTP client could not be built: {error}"),
            })?;
        let refresh = RefreshLog { jwks_url: config.jwks_url.clone(), ..RefreshLog::default() };
        Ok(OidcProvider { config, client, state: RwLock::default(), refresh: tokio::sync::Mutex::new(refresh) })
    }

    /// [`OidcProvider::new`], then discovery and the first key set fetch; fails if either
    /// does (discovery naming another issuer, unreachable IdP, unreadable document).
    pub async fn discover(config: OidcConfig) -> Result<Self, OidcError> {
        let provider = OidcProvider::new(config)?;
        provider.refresh_keys().await?;
        Ok(provider)
    }

    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// Fetches the key set now (discovering its URL first if needed) and swaps it in.
    pub async fn refresh_keys(&self) -> Result<(), OidcError> {
        let mut log = self.refresh.lock().await;
        self.fetch_locked(&mut log).await
    }

    /// Fetches the key set if it is older than `jwks_refresh_secs` (or was never fetched), no
    /// sooner than `min_refresh_interval_secs` after a failed try. For a timer; returns whether
    /// a fetch was made. A failure is logged and the old keys kept.
    pub async fn refresh_if_due(&self) -> bool {
        if self.keys_are_fresh() {
            return false;
        }
        let mut log = self.refresh.lock().await;
        if self.keys_are_fresh() || !self.may_retry(&log) {
            return false;
        }
        if let Err(error) = self.fetch_locked(&mut log).await {
            tracing::warn!(%error, "OIDC key set refresh failed; keeping the keys already held");
        }
        true
    }

    /// Verifies a JWT from this issuer and maps its claims.
    pub async fn authenticate(&self, token: &str) -> Result<IdentityEnvelope, AuthError> {
        let header = token::read_header(token)?;
        let refuse_alg = || AuthError::DisallowedAlgorithm { alg: format!("{:?}", header.alg) };
        if !self.config.algorithms.contains(&header.alg) {
            return Err(refuse_alg());
        }
        let key = self.key_for(header.kid.as_deref()).await?;
        if !key.algorithms.contains(&header.alg) {
            return Err(refuse_alg());
        }
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.config.leeway_secs;
        validation.validate_nbf = true;
        validation.set_audience(&self.config.audiences);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let verified = jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation)
            .map_err(|error| token::map_jwt_error(&error, header.alg))?;
        let claims = verified.claims;
        // jsonwebtoken also accepts an array `iss` that contains ours; only the exact string is.
        if claims.get("iss").and_then(Value::as_str) != Some(self.config.issuer.as_str()) {
            return Err(AuthError::WrongIssuer);
        }
        token::check_issued_at(&claims, self.config.leeway_secs, unix_now_secs().max(0) as u64)?;
        claims::envelope_from_claims(&self.config.issuer, &self.config.claims, &claims)
    }

    /// The key for `kid`, refetching the set once when the kid is unknown (rate-limited).
    async fn key_for(&self, kid: Option<&str>) -> Result<Arc<SigningKey>, AuthError> {
        let (keys, generation) = self.usable_keys().await?;
        match keys.select(kid) {
            Ok(key) => return Ok(key),
            Err(KeyMiss::NeedKid) => return Err(AuthError::MissingKeyId),
            Err(KeyMiss::Unknown) => {}
        }
        let keys = self.refetch_for_unknown_kid(generation).await;
        match keys.select(kid) {
            Ok(key) => Ok(key),
            Err(KeyMiss::NeedKid) => Err(AuthError::MissingKeyId),
            Err(KeyMiss::Unknown) => {
                tracing::debug!(issuer = %self.config.issuer, "token refused: unknown signing key");
                Err(AuthError::UnknownKeyId)
            }
        }
    }

    fn snapshot(&self) -> (Arc<KeySet>, Option<Instant>, u64) {
        let state = self.state.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        (Arc::clone(&state.keys), state.fetched_at, state.generation)
    }

    fn keys_are_fresh(&self) -> bool {
        let refresh_after = Duration::from_secs(self.config.jwks_refresh_secs);
        self.snapshot().1.is_some_and(|fetched_at| fetched_at.elapsed() < refresh_after)
    }

    fn may_retry(&self, log: &RefreshLog) -> bool {
        let interval = Duration::from_secs(self.config.min_refresh_interval_secs);
        !(log.last_attempt_failed && log.last_attempt.is_some_and(|at| at.elapsed() < interval))
    }

    /// Keys to verify with: fresh ones, else a refetch, else (fetch failed) the stale ones.
    async fn usable_keys(&self) -> Result<(Arc<KeySet>, u64), AuthError> {
        if !self.keys_are_fresh() {
            let mut log = self.refresh.lock().await;
            if !self.keys_are_fresh()
                && self.may_retry(&log)
                && let Err(error) = self.fetch_locked(&mut log).await
            {
                tracing::warn!(%error, "OIDC key set fetch failed");
            }
        }
        let (keys, fetched_at, generation) = self.snapshot();
        if fetched_at.is_none() {
            return Err(AuthError::IdentityProviderUnavailable { issuer: self.config.issuer.clone() });
        }
        Ok((keys, generation))
    }

    async fn refetch_for_unknown_kid(&self, seen_generation: u64) -> Arc<KeySet> {
        let mut log = self.refresh.lock().await;
        let (keys, _, generation) = self.snapshot();
        if generation != seen_generation {
            return keys; // another request refetched while this one waited
        }
        let interval = Duration::from_secs(self.config.min_refresh_interval_secs);
        if log.last_unknown_kid_refresh.is_some_and(|at| at.elapsed() < interval) {
            return keys;
        }
        log.last_unknown_kid_refresh = Some(Instant::now());
        if let Err(error) = self.fetch_locked(&mut log).await {
            tracing::warn!(%error, "OIDC key set fetch for an unknown kid failed");
        }
        self.snapshot().0
    }

    /// One fetch (with discovery when the URL is not known yet). Holds the refresh lock.
    async fn fetch_locked(&self, log: &mut RefreshLog) -> Result<(), OidcError> {
        log.last_attempt = Some(Instant::now());
        log.last_attempt_failed = true;
        let issuer = &self.config.issuer;
        let jwks_url = match &log.jwks_url {
            Some(url) => url.clone(),
            None => {
                let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
                let discovered = jwks::get_json(&self.client, &url)
                    .await
                    .and_then(|document| jwks::jwks_uri_from_discovery(&document, issuer))
                    .map_err(|detail| OidcError::Discovery { issuer: issuer.clone(), url: url.clone(), detail })?;
                log.jwks_url = Some(discovered.clone());
                discovered
            }
        };
        let fetched =
            jwks::get_json(&self.client, &jwks_url).await.and_then(|document| KeySet::from_document(&document, issuer));
        let keys = match fetched {
            Ok(keys) => keys,
            Err(detail) => {
                if self.config.jwks_url.is_none() {
                    log.jwks_url = None; // the IdP may have moved its keys: rediscover next time
                }
                return Err(OidcError::KeySet { issuer: issuer.clone(), url: jwks_url, detail });
            }
        };
        tracing::debug!(%issuer, keys = keys.len(), "OIDC key set fetched");
        let mut state = self.state.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        *state = KeyState { keys: Arc::new(keys), fetched_at: Some(Instant::now()), generation: state.generation + 1 };
        log.last_attempt_failed = false;
        Ok(())
    }
}
