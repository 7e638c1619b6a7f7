//! `[[limits]]` (rate limits and budgets per principal), `[context]` (token budgets for
//! assembled prompts) and `[cache]` (the exact-match response cache).

use serde::{Deserialize, Serialize};

/// One rate limit or budget. Every limit whose scope and filters match a request applies to
/// it; the request is admitted only if all of them have room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitConfig {
    /// Names the limit's counters (renaming a limit starts it afresh) and errors that cite it.
    pub name: String,
    /// Who the counters belong to.
    pub scope: LimitScope,
    /// Only this principal (an API key id, tenant or user, per `scope`). Unset: every
    /// principal of the scope has counters of its own. Ignored for `global`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Only requests for these models (names as configured). Unset: every model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_minute: Option<u64>,
    /// Prompt plus completion tokens per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_minute: Option<u64>,
    /// US dollars per UTC day, at the models' `price_per_mtok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spend_per_day_usd: Option<f64>,
    /// US dollars per UTC calendar month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spend_per_month_usd: Option<f64>,
}

/// The part of a request's principal a limit counts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitScope {
    /// All requests together.
    Global,
    /// The API key (its fingerprint); requests without one are not counted by this limit.
    ApiKey,
    /// `x-rampart-tenant`; requests without a tenant are not counted by this limit.
    Tenant,
    /// The OpenAI `user` field or `x-rampart-user`; requests without one are not counted.
    User,
}

impl LimitScope {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitScope::Global => "global",
            LimitScope::ApiKey => "api_key",
            LimitScope::Tenant => "tenant",
            LimitScope::User => "user",
        }
    }
}

/// `[context]`: how many tokens each layer of an assembled prompt may take (seed `000`'s
/// layered context), and what to do with a request too long for its model's context window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContextConfig {
    /// The whole assembled prompt.
    pub total_tokens: u32,
    /// Organisation-wide instructions.
    pub global_tokens: u32,
    pub tenant_tokens: u32,
    pub user_tokens: u32,
    /// Retrieved documents.
    pub retrieved_tokens: u32,
    /// The conversation so far.
    pub session_tokens: u32,
    /// A chat request whose prompt does not fit its model's context window: `reject` answers
    /// `400 context_length_exceeded`; `drop_oldest` removes the oldest non-system messages
    /// until it fits (the last message is always kept).
    pub overflow: ContextOverflow,
}

impl Default for ContextConfig {
    fn default() -> Self {
        ContextConfig {
            total_tokens: 4000,
            global_tokens: 500,
            tenant_tokens: 800,
            user_tokens: 600,
            retrieved_tokens: 1200,
            session_tokens: 900,
            overflow: ContextOverflow::Reject,
        }
    }
}

impl ContextConfig {
    /// The layers and their budgets, in assembly order.
    pub fn layers(&self) -> [(&'static str, u32); 5] {
        [
            ("global", self.global_tokens),
            ("tenant", self.tenant_tokens),
            ("user", self.user_tokens),
            ("retrieved", self.retrieved_tokens),
            ("session", self.session_tokens),
        ]
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContextOverflow {
    #[default]
    Reject,
    DropOldest,
}

/// `[cache]`: the exact-match response cache. Requests use it when their model sets
/// `cache_ttl_secs` or they send `x-rampart-cache: use`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// `redis://host:6379` to share the cache between gateways. Unset: in memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The in-memory cache's size; least recently used answers go first.
    pub max_bytes: u64,
    /// How long an answer is kept when a request opts in without a model TTL or its own
    /// `x-rampart-cache-ttl`.
    pub default_ttl_secs: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig { url: None, max_bytes: 64 * 1024 * 1024, default_ttl_secs: 300 }
    }
}
