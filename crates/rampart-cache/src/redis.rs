//! The Redis cache, shared by every gateway that names the same Redis and key prefix.
//!
//! Each entry is one string key (`key_prefix` + the 64 hex digits of its [`CacheKey`]) holding
//! the value's bytes, written with `SET ... PX` so that Redis itself forgets it at its TTL. How
//! much Redis holds is Redis's business: set `maxmemory` and an eviction policy such as
//! `allkeys-lru` (or `volatile-lru` when the same Redis also holds data that must not be
//! evicted, such as Rampart's limit counters).

use std::fmt;
use std::future::Future;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{ErrorKind, RedisError};
use async_trait::async_trait;
use bytes::Bytes;

use crate::{CacheError, CacheKey, ResponseCache, SUPPORTED_CACHE_URL_FORMS};
use rampart_core::{redact_url_password as redact_password, scrub_url_password as scrub_password};

/// Connecting (TCP, TLS, `AUTH`, `SELECT`) is given this long.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(3);
/// Each answer is given this long.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Nothing waits longer than this for Redis, reconnection included: a cache that does not
/// answer costs a request a few seconds, then the request goes upstream as if it had missed.
const CALL_DEADLINE: Duration = Duration::from_secs(3);
/// The longest TTL sent to Redis (about 35,000 years), well inside what `PX` accepts.
const MAX_TTL_MS: u64 = 1 << 50;

/// Responses in Redis, shared by every gateway that names the same Redis and key prefix.
///
/// Cheap to clone: clones share one connection, which reconnects by itself after Redis
/// restarts (a call made while it is down fails with [`CacheError::Operation`]).
#[derive(Clone)]
pub struct RedisCache {
    connection: ConnectionManager,
    key_prefix: String,
    /// The URL without its password, for messages.
    location: String,
    /// The URL as given, only to scrub its password out of Redis's own messages.
    url: String,
}

impl fmt::Debug for RedisCache {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("RedisCache")
            .field("location", &self.location)
            .field("key_prefix", &self.key_prefix)
            .finish_non_exhaustive()
    }
}

impl RedisCache {
    /// The key prefix gateways use unless told otherwise.
    pub const DEFAULT_KEY_PREFIX: &'static str = "rampart:cache:";

    /// Connects to a `redis://` or `rediss://` (TLS) URL, such as
    /// `redis://:password@host:6379/0`, and checks that Redis answers. Every key this cache
    /// writes starts with `key_prefix` (see [`Self::DEFAULT_KEY_PREFIX`]).
    pub async fn connect(url: &str, key_prefix: &str) -> Result<Self, CacheError> {
        let location = redact_password(url);
        let open_error = |detail: String| CacheError::Open { location: location.clone(), detail };

        let client = ::redis::Client::open(url).map_err(|error| {
            open_error(format!(
                "not a Redis URL ({}); expected {SUPPORTED_CACHE_URL_FORMS}",
                scrub_password(&error.to_string(), url)
            ))
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECTION_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            // One quick retry on reconnection; the call deadline bounds the rest.
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let connecting = ConnectionManager::new_with_config(client, config);
        let mut connection = match tokio::time::timeout(CALL_DEADLINE, connecting).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(error)) => return Err(open_error(connect_detail(&error, url))),
            Err(_) => {
                return Err(open_error(format!(
                    "no connection within {} s; is Redis running and reachable from here?",
                    CALL_DEADLINE.as_secs()
                )));
            }
        };
        let ping = ::redis::cmd("PING");
        match tokio::time::timeout(CALL_DEADLINE, ping.query_async::<String>(&mut connection)).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => return Err(open_error(connect_detail(&error, url))),
            Err(_) => return Err(open_error(format!("no answer to PING within {} s", CALL_DEADLINE.as_secs()))),
        }
        tracing::debug!(location = %location, key_prefix, "connected to Redis response cache");
        Ok(Self { connection, key_prefix: key_prefix.to_owned(), location, url: url.to_owned() })
    }

    pub fn key_prefix(&self) -> &str {
        &self.key_prefix
    }

    fn redis_key(&self, key: &CacheKey) -> String {
        format!("{}{}", self.key_prefix, key.as_str())
    }

    /// Runs one call to Redis under the call deadline, naming Redis in any error.
    async fn call<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, CacheError> {
        match tokio::time::timeout(CALL_DEADLINE, call).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(error)) => Err(CacheError::Operation {
                location: self.location.clone(),
                operation,
                detail: format!("{}; {}", scrub_password(&error.to_string(), &self.url), operation_hint(&error)),
            }),
            Err(_) => Err(CacheError::Operation {
                location: self.location.clone(),
                operation,
                detail: format!("no answer within {} s; is Redis running and reachable?", CALL_DEADLINE.as_secs()),
            }),
        }
    }
}

/// Why a connection could not be made, with what to check.
fn connect_detail(error: &RedisError, url: &str) -> String {
    let hint = if error.is_connection_refusal() {
        "is Redis running and listening at this address?"
    } else if error.is_timeout() {
        "is Redis reachable from here (firewall, address)?"
    } else if matches!(error.kind(), ErrorKind::AuthenticationFailed) {
        "check the user and password in the URL"
    } else {
        "check the URL and that Redis is running"
    };
    format!("{}; {hint}", scrub_password(&error.to_string(), url))
}

/// What to check when a call to a connected Redis fails.
fn operation_hint(error: &RedisError) -> &'static str {
    if error.is_io_error() || error.is_connection_dropped() || error.is_connection_refusal() || error.is_timeout() {
        "is Redis running and reachable?"
    } else if error.code() == Some("OOM") {
        "Redis is at its maxmemory: give it an eviction policy such as allkeys-lru or volatile-lru, or more memory"
    } else {
        "check that Redis is healthy and that nothing else writes under this key prefix"
    }
}

/// A TTL in whole milliseconds for `PX`: at least 1 (Redis refuses 0), at most [`MAX_TTL_MS`].
fn ttl_millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).clamp(1, MAX_TTL_MS)
}

#[async_trait]
impl ResponseCache for RedisCache {
    fn engine(&self) -> &'static str {
        "redis"
    }

    async fn get(&self, key: &CacheKey) -> Result<Option<Bytes>, CacheError> {
        let mut connection = self.connection.clone();
        let mut get = ::redis::cmd("GET");
        get.arg(self.redis_key(key));
        let value: Option<Vec<u8>> = self.call("reading an entry", get.query_async(&mut connection)).await?;
        Ok(value.map(Bytes::from))
    }

    async fn put(&self, key: &CacheKey, value: Bytes, ttl: Duration) -> Result<(), CacheError> {
        let mut connection = self.connection.clone();
        if ttl.is_zero() {
            let mut del = ::redis::cmd("DEL");
            del.arg(self.redis_key(key));
            self.call::<i64>("removing an entry", del.query_async(&mut connection)).await?;
            return Ok(());
        }
        let mut set = ::redis::cmd("SET");
        set.arg(self.redis_key(key)).arg(value.as_ref()).arg("PX").arg(ttl_millis(ttl));
        self.call::<()>("writing an entry", set.query_async(&mut connection)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_round_to_what_redis_accepts() {
        assert_eq!(ttl_millis(Duration::from_micros(1)), 1);
        assert_eq!(ttl_millis(Duration::from_millis(300)), 300);
        assert_eq!(ttl_millis(Duration::MAX), MAX_TTL_MS);
    }
}
