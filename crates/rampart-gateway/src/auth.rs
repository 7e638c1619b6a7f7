//! Who is calling: the layer that turns a request's `Authorization` header into the
//! [`IdentityEnvelope`] every handler and decision receives, and refuses what it cannot check.
//!
//! `[auth] mode = "auto"` (the default) requires credentials as soon as an API key exists or an
//! OIDC issuer is configured. Until then, and always with `mode = "off"`, the gateway is a
//! development server: every caller is the admin of the tenant it names in `x-rampart-tenant`
//! (else `[auth] development_tenant`), and the start-up log says so loudly.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rampart_config::{AuthConfig, AuthMode, OidcIssuerConfig};
use rampart_core::{Credential, IdentityEnvelope, Principal, Role, Store, unix_now_millis};
use rampart_identity::keys::{ApiKeyAuthConfig, ApiKeyAuthenticator};
use rampart_identity::oidc::{ClaimMapping, OidcConfig, OidcProvider, parse_signing_algorithm};
use rampart_identity::{AuthError, Authenticator, OidcError};

use crate::error::ApiError;
use crate::principal::principal_from;
use crate::state::AppState;

/// The user id of unauthenticated development callers that do not name one.
const DEVELOPMENT_USER: &str = "developer";
/// How often the gateway looks whether keys exist (in `auto` mode) and flushes last-used times.
const KEY_PRESENCE_INTERVAL: Duration = Duration::from_secs(5);
const LAST_USED_FLUSH_INTERVAL: Duration = Duration::from_secs(30);

/// Why the gatekeeper could not be built.
#[derive(Debug, thiserror::Error)]
pub enum GatekeeperError {
    #[error("[auth] oidc issuer '{issuer}': {reason}")]
    InvalidIssuer { issuer: String, reason: String },
    #[error(transparent)]
    Oidc(#[from] OidcError),
    #[error("cannot tell whether API keys exist: {0}")]
    Store(#[from] rampart_core::StoreError),
}

/// Authentication as configured: the authenticator, and whether credentials are required now.
pub struct Gatekeeper {
    mode: AuthMode,
    authenticator: Authenticator,
    has_issuers: bool,
    /// In `auto` mode: whether an active API key exists (checked every few seconds, and set at
    /// once when this gateway creates one).
    keys_exist: AtomicBool,
    development_tenant: String,
}

impl Gatekeeper {
    /// Builds the API-key authenticator over `store` and one OIDC provider per issuer (keys are
    /// fetched on first use, so an identity provider that is down does not stop the gateway;
    /// its tokens get 503 until it answers).
    pub async fn build(config: &AuthConfig, store: Arc<dyn Store>) -> Result<Self, GatekeeperError> {
        let key_config = ApiKeyAuthConfig { cache_ttl_secs: config.key_cache_secs, ..ApiKeyAuthConfig::default() };
        let key_store: Arc<dyn rampart_core::ApiKeyStore> = store.clone();
        let api_keys = Arc::new(ApiKeyAuthenticator::new(key_store, &key_config));
        let providers = config
            .oidc
            .iter()
            .map(|issuer| Ok(Arc::new(OidcProvider::new(oidc_config(issuer)?)?)))
            .collect::<Result<Vec<_>, GatekeeperError>>()?;
        let has_issuers = !providers.is_empty();
        let keys_exist = store.count_active_keys(unix_now_millis()).await? > 0;
        Ok(Gatekeeper {
            mode: config.mode,
            authenticator: Authenticator::new(Some(api_keys), providers)?,
            has_issuers,
            keys_exist: AtomicBool::new(keys_exist),
            development_tenant: config.development_tenant.clone(),
        })
    }

    /// Whether a request without valid credentials is refused right now.
    pub fn required(&self) -> bool {
        match self.mode {
            AuthMode::Off => false,
            AuthMode::Required => true,
            AuthMode::Auto => self.has_issuers || self.keys_exist.load(Ordering::Relaxed),
        }
    }

    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    pub fn api_keys(&self) -> Option<&Arc<ApiKeyAuthenticator>> {
        self.authenticator.api_keys()
    }

    /// Called when this gateway creates a key: `auto` mode requires credentials from the next
    /// request on.
    pub fn note_key_created(&self) {
        self.keys_exist.store(true, Ordering::Relaxed);
    }

    /// The caller's identity, or why they are refused.
    pub async fn identify(&self, headers: &HeaderMap) -> Result<IdentityEnvelope, AuthError> {
        if !self.required() {
            return Ok(self.development_identity(headers));
        }
        let authorization = headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok());
        self.authenticator.authenticate(authorization).await
    }

    /// With authentication off, the caller is the admin of the tenant it names.
    fn development_identity(&self, headers: &HeaderMap) -> IdentityEnvelope {
        let named = principal_from(headers, None);
        IdentityEnvelope {
            tenant_id: named.tenant.unwrap_or_else(|| self.development_tenant.clone()),
            user_id: named.user.unwrap_or_else(|| DEVELOPMENT_USER.to_owned()),
            roles: vec![Role::Admin],
            privacy_mode: false,
            policy_version: String::new(),
            credential: Credential::Unauthenticated,
            agent: None,
        }
    }

    /// Timers: whether keys exist (auto mode), last-used times, and due key-set refreshes. Ends
    /// when the gatekeeper is dropped.
    pub fn spawn_maintenance(self: &Arc<Self>, store: Arc<dyn Store>) {
        let gatekeeper = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut presence = tokio::time::interval(KEY_PRESENCE_INTERVAL);
            let mut flush = tokio::time::interval(LAST_USED_FLUSH_INTERVAL);
            loop {
                tokio::select! {
                    _ = presence.tick() => {
                        let Some(gatekeeper) = gatekeeper.upgrade() else { return };
                        if gatekeeper.mode == AuthMode::Auto {
                            match store.count_active_keys(unix_now_millis()).await {
                                Ok(count) => gatekeeper.keys_exist.store(count > 0, Ordering::Relaxed),
                                // Keep the last answer: a store hiccup must not open the gateway.
                                Err(error) => tracing::warn!(%error, "cannot count API keys"),
                            }
                        }
                        gatekeeper.authenticator.refresh_due_keys().await;
                    }
                    _ = flush.tick() => {
                        let Some(gatekeeper) = gatekeeper.upgrade() else { return };
                        gatekeeper.flush_last_used().await;
                    }
                }
            }
        });
    }

    /// Writes gathered last-used times; also called at shutdown.
    pub async fn flush_last_used(&self) {
        if let Err(error) = self.authenticator.flush_last_used().await {
            tracing::warn!(%error, "cannot record API keys' last use; will retry");
        }
    }

    /// The start-up log line that says how callers are checked.
    pub fn describe(&self) -> String {
        match (self.mode, self.required()) {
            (AuthMode::Off, _) => "authentication is OFF ([auth] mode = \"off\"): every caller is an admin; \
                                   never expose this gateway"
                .to_owned(),
            (_, true) => "authentication required (API keys and configured OIDC issuers)".to_owned(),
            (_, false) => "no API key or OIDC issuer yet: every caller is an admin until one exists; \
                           create one with `rampart keys create --tenant T --role admin`"
                .to_owned(),
        }
    }
}

fn oidc_config(issuer: &OidcIssuerConfig) -> Result<OidcConfig, GatekeeperError> {
    let invalid = |reason: String| GatekeeperError::InvalidIssuer { issuer: issuer.issuer.clone(), reason };
    let role = |name: &String| name.parse::<Role>().map_err(|error| invalid(error.to_string()));
    let mut config = OidcConfig::new(issuer.issuer.clone(), issuer.audiences.clone());
    config.jwks_url = issuer.jwks_url.clone();
    config.algorithms = issuer
        .algorithms
        .iter()
        .map(|name| parse_signing_algorithm(name).map_err(|error| invalid(error.to_string())))
        .collect::<Result<_, _>>()?;
    config.leeway_secs = issuer.leeway_secs;
    config.jwks_refresh_secs = issuer.jwks_refresh_secs;
    config.min_refresh_interval_secs = issuer.min_refresh_interval_secs;
    config.http_timeout_secs = issuer.http_timeout_secs;
    config.claims = ClaimMapping {
        tenant_claim: issuer.tenant_claim.clone(),
        user_claim: issuer.user_claim.clone(),
        roles_claim: issuer.roles_claim.clone(),
        default_tenant: issuer.default_tenant.clone(),
        role_map: issuer
            .role_map
            .iter()
            .map(|(from, to)| Ok((from.clone(), role(to)?)))
            .collect::<Result<_, GatekeeperError>>()?,
        default_roles: issuer.default_roles.iter().map(role).collect::<Result<_, _>>()?,
    };
    Ok(config)
}

/// The identity of the request, set by [`authenticate`] for every protected route.
#[derive(Debug, Clone)]
pub struct Caller(pub Arc<IdentityEnvelope>);

impl Caller {
    /// Who the request is charged to. Authenticated: the key, tenant and user of the identity.
    /// In development: what the client sent, as before authentication existed.
    pub fn principal(&self, headers: &HeaderMap, body_user: Option<&str>) -> Principal {
        match &self.0.credential {
            Credential::Unauthenticated => principal_from(headers, body_user),
            credential => Principal {
                api_key_id: match credential {
                    Credential::ApiKey { key_id } => Some(key_id.clone()),
                    _ => None,
                },
                tenant: Some(self.0.tenant_id.clone()),
                user: Some(self.0.user_id.clone()),
            },
        }
    }

    /// `key:<id>`, `oidc:<issuer>#<subject>` or `dev:<user>`: who acted, for the audit log.
    pub fn actor(&self) -> String {
        match &self.0.credential {
            Credential::ApiKey { key_id } => format!("key:{key_id}"),
            Credential::Oidc { issuer, subject } => format!("oidc:{issuer}#{subject}"),
            Credential::Unauthenticated => format!("dev:{}", self.0.user_id),
        }
    }

    /// Refuses unless the caller holds one of `roles`.
    pub fn require_any(&self, roles: &[Role], what: &str) -> Result<(), ApiError> {
        if roles.iter().any(|role| self.0.has_role(*role)) {
            return Ok(());
        }
        let wanted = roles.iter().map(|role| role.as_str()).collect::<Vec<_>>().join(" or ");
        Err(ApiError::Forbidden { message: format!("{what} needs the {wanted} role"), code: "permission_denied" })
    }

    /// The tenant a read is limited to: `None` (every tenant) for admins and auditors, else the
    /// caller's own. Asking for another tenant without that right is refused.
    pub fn tenant_scope(&self, asked: Option<&str>) -> Result<Option<String>, ApiError> {
        if self.0.reads_all_tenants() {
            return Ok(asked.map(str::to_owned));
        }
        match asked {
            Some(tenant) if tenant != self.0.tenant_id => Err(ApiError::Forbidden {
                message: format!("tenant '{tenant}' is not yours: you may read tenant '{}' only", self.0.tenant_id),
                code: "tenant_forbidden",
            }),
            _ => Ok(Some(self.0.tenant_id.clone())),
        }
    }
}

/// The layer on every protected route: identifies the caller or answers 401 (503 when the key
/// store or identity provider cannot be reached), and audits refusals.
pub async fn authenticate(State(state): State<Arc<AppState>>, mut request: Request, next: Next) -> Response {
    match state.gatekeeper.identify(request.headers()).await {
        Ok(identity) => {
            request.extensions_mut().insert(Caller(Arc::new(identity)));
            next.run(request).await
        }
        Err(error) => {
            let request_id = request.extensions().get::<crate::middleware::RequestId>().map(|id| id.0.clone());
            state.audit.auth_refused(&error, request.uri().path(), request_id).await;
            let api_error = if error.is_unavailable() {
                ApiError::Unavailable { message: error.to_string(), retry_after_secs: 5 }
            } else {
                ApiError::Unauthenticated { message: error.to_string() }
            };
            api_error.into_response()
        }
    }
}
