//! An exact-match response cache for chat completions.
//!
//! The same prompt and parameters sent to the same model get the stored answer without an
//! upstream call. [`chat_cache_key`] hashes everything in a request that can change the answer
//! (and nothing that only says who asks or how the answer is delivered) into a [`CacheKey`];
//! a [`ResponseCache`] maps keys to opaque bytes (the gateway stores the serialised
//! `ChatCompletionResponse`) for a time-to-live. Two engines: [`MemoryCache`], embedded and
//! bounded by a byte budget, and [`RedisCache`], shared by every gateway that names the same
//! Redis. [`open_cache`] picks one from a URL.
//!
//! Guarantees:
//! - a key matches only a request equal in every answer-changing field, for the same
//!   configured model; key order in the client's JSON and the order of `tools` do not matter;
//! - a value is never returned after its TTL;
//! - [`MemoryCache`] holds at most its byte budget of keys and values, evicting the least
//!   recently used entries first;
//! - errors name the engine and what to check, and never carry a password from a URL.
//!
//! Deliberately absent:
//! - no semantic or similarity matching: one byte of difference in a message is a miss;
//! - no policy: the crate does not decide what is cacheable. Streams are not stored by the
//!   crate; whether to cache, for how long, whether to replay a cached answer as a stream, and
//!   how hits and misses are reported (headers, metrics) are the gateway's decisions;
//! - no tenant scoping: requests from different callers with the same key share an entry;
//!   a caller that must keep callers apart puts them in separate caches or key prefixes;
//! - a cache error is not a request error: callers are expected to log it and go upstream.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

mod key;
mod memory;
mod redis;

pub use self::redis::RedisCache;
pub use key::{CacheKey, chat_cache_key, sort_tools};
pub use memory::MemoryCache;

/// The cache URLs [`open_cache`] accepts, for messages.
pub const SUPPORTED_CACHE_URL_FORMS: &str =
    "redis://[USER][:PASSWORD@]HOST[:PORT][/DB] or rediss://... (TLS), or no URL for the in-memory cache";

/// A store of opaque values under [`CacheKey`]s, each kept for a time-to-live.
#[async_trait]
pub trait ResponseCache: Send + Sync {
    /// The engine's name, for logs and metrics: `memory` or `redis`.
    fn engine(&self) -> &'static str;

    /// The value stored under `key`, or `None` when there is none or it has expired.
    async fn get(&self, key: &CacheKey) -> Result<Option<Bytes>, CacheError>;

    /// Stores `value` under `key` for `ttl`, replacing any value there. A zero `ttl` stores
    /// nothing and removes any value there; an engine may also decline to store a value (a
    /// [`MemoryCache`] entry larger than its whole budget), which is not an error.
    async fn put(&self, key: &CacheKey, value: Bytes, ttl: Duration) -> Result<(), CacheError>;
}

/// Why the cache could not be opened or answer. Every message says what to check.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The URL names an engine this crate does not have. `url` has its password replaced.
    #[error("the response cache URL '{url}' is not supported; use {SUPPORTED_CACHE_URL_FORMS}")]
    UnsupportedUrl { url: String },
    /// The engine could not be reached when opening it. `location` has its password replaced.
    #[error("cannot open the response cache at '{location}': {detail}")]
    Open { location: String, detail: String },
    /// A get or put failed or timed out. `location` has its password replaced.
    #[error("the response cache at '{location}' failed while {operation}: {detail}")]
    Operation { location: String, operation: &'static str, detail: String },
}

/// Opens the response cache a gateway is configured with: a [`MemoryCache`] of `max_bytes` when
/// `url` is `None`, a [`RedisCache`] (with [`RedisCache::DEFAULT_KEY_PREFIX`]) for a `redis://`
/// or `rediss://` URL. `max_bytes` applies to the memory cache only; Redis has its own
/// `maxmemory` and eviction policy.
pub async fn open_cache(url: Option<&str>, max_bytes: usize) -> Result<Arc<dyn ResponseCache>, CacheError> {
    let Some(url) = url else {
        return Ok(Arc::new(MemoryCache::new(max_bytes)));
    };
    match url.split_once("://").map(|(scheme, _)| scheme) {
        Some("redis" | "rediss") => Ok(Arc::new(RedisCache::connect(url, RedisCache::DEFAULT_KEY_PREFIX).await?)),
        _ => Err(CacheError::UnsupportedUrl { url: rampart_core::redact_url_password(url) }),
    }
}
