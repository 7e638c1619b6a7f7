//! `[auth]`, `[policy]` and `[audit]`: who may call, what they may do, and the record of it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[auth]`: how callers prove who they are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    pub mode: AuthMode,
    /// How long a verified API key is trusted before the store is asked again. Revocations
    /// made through this gateway apply at once; those made elsewhere within this time.
    pub key_cache_secs: u64,
    /// The tenant of unauthenticated callers while authentication is not on.
    pub development_tenant: String,
    /// OpenID Connect issuers whose bearer tokens are accepted.
    pub oidc: Vec<OidcIssuerConfig>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            mode: AuthMode::Auto,
            key_cache_secs: 5,
            development_tenant: "default".to_owned(),
            oidc: Vec::new(),
        }
    }
}

/// When authentication is required.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Required as soon as an API key exists or an OIDC issuer is configured; until then the
    /// gateway is a single-user development server and says so loudly at start.
    #[default]
    Auto,
    /// Required always: with no key and no issuer, every request is refused.
    Required,
    /// Off, even when keys exist: every caller is the development admin. For development
    /// only; logged as a warning at start.
    Off,
}

/// `[[auth.oidc]]`: one identity provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcIssuerConfig {
    /// The issuer URL, exactly as tokens carry it in `iss`.
    pub issuer: String,
    /// Tokens must name at least one of these in `aud`.
    pub audiences: Vec<String>,
    /// Where the key set is; unset: read from `{issuer}/.well-known/openid-configuration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_url: Option<String>,
    /// Accepted signature algorithms: `RS256`, `RS384`, `RS512`, `PS256`, `ES256`, `ES384`,
    /// `EdDSA`. HMAC algorithms and `none` are refused.
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<String>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    #[serde(default = "default_leeway_secs")]
    pub leeway_secs: u64,
    /// How long a fetched key set is used before it is fetched again.
    #[serde(default = "default_jwks_refresh_secs")]
    pub jwks_refresh_secs: u64,
    /// An unknown `kid` refetches the key set at most this often.
    #[serde(default = "default_min_refresh_interval_secs")]
    pub min_refresh_interval_secs: u64,
    #[serde(default = "default_http_timeout_secs")]
    pub http_timeout_secs: u64,
    /// Claim (dotted path allowed, e.g. `org.id`) holding the tenant.
    #[serde(default = "default_tenant_claim")]
    pub tenant_claim: String,
    /// Claim holding the user id.
    #[serde(default = "default_user_claim")]
    pub user_claim: String,
    /// Claim holding the roles, e.g. `roles` or `realm_access.roles` (Keycloak).
    #[serde(default = "default_roles_claim")]
    pub roles_claim: String,
    /// Tenant for tokens without the tenant claim; unset: such tokens are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_tenant: Option<String>,
    /// The identity provider's role names mapped to Rampart roles (admin, operator, user,
    /// agent, auditor). Only mapped names grant anything: an IdP role that happens to be
    /// called `admin` grants nothing unless listed here.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub role_map: BTreeMap<String, String>,
    /// Roles every token from this issuer gets, on top of the mapped ones (often `["user"]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub default_roles: Vec<String>,
}

fn default_algorithms() -> Vec<String> {
    ["RS256", "ES256", "EdDSA"].map(str::to_owned).to_vec()
}
fn default_leeway_secs() -> u64 {
    60
}
fn default_jwks_refresh_secs() -> u64 {
    300
}
fn default_min_refresh_interval_secs() -> u64 {
    10
}
fn default_http_timeout_secs() -> u64 {
    10
}
fn default_tenant_claim() -> String {
    "tenant".to_owned()
}
fn default_user_claim() -> String {
    "sub".to_owned()
}
fn default_roles_claim() -> String {
    "roles".to_owned()
}

/// `[policy]`: the Rego bundle that decides every model call, retrieval, tool call and memory
/// write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// A directory of `.rego` files (and an optional `data.json`). Unset: the built-in
    /// default policy (seed 001's RBAC and seed 000's tier rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// How often the directory is checked for changes; a changed bundle is swapped in whole
    /// once it compiles and passes a smoke evaluation, else the old one keeps serving.
    pub reload_interval_secs: u64,
    /// How many distinct inputs' decisions a bundle remembers; 0 evaluates every decision.
    /// A bundle whose policies read the clock, the network or a random source is never
    /// cached, whatever this says.
    pub decision_cache_entries: usize,
    /// Wall-clock budget of one decision, in milliseconds; a decision that runs past it is a
    /// deny. Raise it for large bundles or slow machines (or when profiling under valgrind).
    pub eval_timeout_ms: u64,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig { dir: None, reload_interval_secs: 2, decision_cache_entries: 4096, eval_timeout_ms: 10 }
    }
}

/// `[audit]`: the tamper-evident log of every decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Off only for benchmarks and development; logged as a warning at start.
    pub enabled: bool,
    /// The Ed25519 signing key (PKCS#8) for checkpoints. Unset: `audit-ed25519.pk8` in the
    /// data dir, created with mode 0600 on first start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<PathBuf>,
    /// A signed checkpoint (tree head) is written this often when records were added.
    pub checkpoint_interval_secs: u64,
    /// Which model calls wait for their decision's record to commit before anything is sent.
    /// Every call waits for it before anything is answered, whatever this says.
    pub record_before_send: RecordBeforeSend,
}

/// `[audit] record_before_send`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordBeforeSend {
    /// A call that may reach a Tier 2 (cloud) model waits, so nothing leaves the organisation
    /// before its decision is on record. A call that stays on Tier 1 models goes out while the
    /// record commits: the commit's wait (a disk sync) overlaps the model's own time.
    #[default]
    Cloud,
    /// Every call waits, Tier 1 included: no model sees a prompt whose decision is not on
    /// record.
    Always,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            enabled: true,
            signing_key: None,
            checkpoint_interval_secs: 10,
            record_before_send: RecordBeforeSend::default(),
        }
    }
}

impl AuditConfig {
    pub fn effective_signing_key(&self, data_dir: &std::path::Path) -> PathBuf {
        self.signing_key.clone().unwrap_or_else(|| data_dir.join("audit-ed25519.pk8"))
    }
}
