//! The one suite every `ResponseCache` passes: the in-memory cache and Redis.
//!
//! Each check is an `async fn` of one cache that knows nothing of the engine; the
//! `cache_suite!` macro runs every check against a fresh `MemoryCache` and a `RedisCache` with
//! a key prefix of its own. Redis is required: it is reached at `redis://127.0.0.1:6379` unless
//! `RAMPART_TEST_REDIS_URL` says otherwise, and a test fails (never skips) when it cannot be
//! reached. Entries are written with short TTLs, so Redis forgets them by itself. Engine-specific
//! behaviour (Redis keys, URLs, errors) is tested after the suite; the memory cache's budget and
//! eviction are unit-tested in `src/memory.rs`.

// Helpers outside `#[test]` functions are test code too: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use rampart_cache::{CacheError, CacheKey, MemoryCache, RedisCache, ResponseCache, open_cache};

const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
/// Long enough for any check, short enough that Redis soon forgets what the suite wrote.
const TTL: Duration = Duration::from_secs(60);
const MEMORY_BUDGET: usize = 1 << 20;

// ---------------------------------------------------------------------------------------------
// Harnesses

fn redis_url() -> String {
    std::env::var("RAMPART_TEST_REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS_URL.to_owned())
}

/// A key prefix of its own, so tests running side by side never see each other's entries.
fn unique_prefix(test: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|since| since.as_nanos()).unwrap_or_default();
    format!("rampart:test:cache:{test}:{}:{nanos}:", std::process::id())
}

fn memory_cache() -> Arc<dyn ResponseCache> {
    Arc::new(MemoryCache::new(MEMORY_BUDGET))
}

async fn redis_cache_with_prefix(key_prefix: &str) -> RedisCache {
    let url = redis_url();
    RedisCache::connect(&url, key_prefix).await.unwrap_or_else(|error| {
        panic!(
            "Redis at {url} is required by the response cache suite \
             (start one, or set RAMPART_TEST_REDIS_URL to use another): {error}"
        )
    })
}

async fn redis_cache(test: &str) -> Arc<dyn ResponseCache> {
    Arc::new(redis_cache_with_prefix(&unique_prefix(test)).await)
}

fn key(name: &str) -> CacheKey {
    CacheKey::digest(name.as_bytes())
}

// ---------------------------------------------------------------------------------------------
// The suite

macro_rules! cache_suite {
    ($($check:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $check() {
                    super::$check(super::memory_cache()).await;
                }
            )*
        }

        mod redis {
            $(
                #[tokio::test]
                async fn $check() {
                    super::$check(super::redis_cache(stringify!($check)).await).await;
                }
            )*
        }
    };
}

cache_suite!(
    put_then_get_round_trips,
    a_missing_key_is_none,
    an_entry_expires_at_its_ttl,
    a_put_overwrites,
    keys_are_independent,
    empty_and_binary_values_round_trip,
    a_zero_ttl_removes_the_entry,
    concurrent_callers_see_their_own_entries,
);

async fn put_then_get_round_trips(cache: Arc<dyn ResponseCache>) {
    let value = Bytes::from_static(br#"{"id":"chatcmpl-1","choices":[]}"#);
    cache.put(&key("a"), value.clone(), TTL).await.unwrap();
    assert_eq!(cache.get(&key("a")).await.unwrap(), Some(value.clone()));
    // Reading does not consume.
    assert_eq!(cache.get(&key("a")).await.unwrap(), Some(value));
}

async fn a_missing_key_is_none(cache: Arc<dyn ResponseCache>) {
    assert_eq!(cache.get(&key("never written")).await.unwrap(), None);
}

async fn an_entry_expires_at_its_ttl(cache: Arc<dyn ResponseCache>) {
    cache.put(&key("short"), Bytes::from_static(b"soon gone"), Duration::from_millis(300)).await.unwrap();
    cache.put(&key("long"), Bytes::from_static(b"still here"), TTL).await.unwrap();
    assert_eq!(cache.get(&key("short")).await.unwrap(), Some(Bytes::from_static(b"soon gone")));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(cache.get(&key("short")).await.unwrap(), None, "read after its TTL");
    assert_eq!(cache.get(&key("long")).await.unwrap(), Some(Bytes::from_static(b"still here")));
}

async fn a_put_overwrites(cache: Arc<dyn ResponseCache>) {
    cache.put(&key("a"), Bytes::from_static(b"first"), TTL).await.unwrap();
    cache.put(&key("a"), Bytes::from_static(b"second, longer"), TTL).await.unwrap();
    assert_eq!(cache.get(&key("a")).await.unwrap(), Some(Bytes::from_static(b"second, longer")));
    // The new TTL applies: a short one replaces a long one.
    cache.put(&key("a"), Bytes::from_static(b"third"), Duration::from_millis(200)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(cache.get(&key("a")).await.unwrap(), None);
}

async fn keys_are_independent(cache: Arc<dyn ResponseCache>) {
    cache.put(&key("a"), Bytes::from_static(b"for a"), TTL).await.unwrap();
    cache.put(&key("b"), Bytes::from_static(b"for b"), TTL).await.unwrap();
    assert_eq!(cache.get(&key("a")).await.unwrap(), Some(Bytes::from_static(b"for a")));
    assert_eq!(cache.get(&key("b")).await.unwrap(), Some(Bytes::from_static(b"for b")));
}

async fn empty_and_binary_values_round_trip(cache: Arc<dyn ResponseCache>) {
    cache.put(&key("empty"), Bytes::new(), TTL).await.unwrap();
    assert_eq!(cache.get(&key("empty")).await.unwrap(), Some(Bytes::new()), "an empty value is not a miss");
    let binary = Bytes::from((0..=255u8).chain((0..=255u8).rev()).collect::<Vec<_>>());
    cache.put(&key("binary"), binary.clone(), TTL).await.unwrap();
    assert_eq!(cache.get(&key("binary")).await.unwrap(), Some(binary));
}

async fn a_zero_ttl_removes_the_entry(cache: Arc<dyn ResponseCache>) {
    cache.put(&key("a"), Bytes::from_static(b"answer"), TTL).await.unwrap();
    cache.put(&key("a"), Bytes::from_static(b"newer"), Duration::ZERO).await.unwrap();
    assert_eq!(cache.get(&key("a")).await.unwrap(), None);
}

async fn concurrent_callers_see_their_own_entries(cache: Arc<dyn ResponseCache>) {
    let tasks: Vec<_> = (0..16)
        .map(|task| {
            let cache = Arc::clone(&cache);
            tokio::spawn(async move {
                let key = key(&format!("task {task}"));
                let value = Bytes::from(format!("answer {task}"));
                cache.put(&key, value.clone(), TTL).await.unwrap();
                assert_eq!(cache.get(&key).await.unwrap(), Some(value));
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Engines, URLs and errors

#[tokio::test]
async fn open_cache_without_a_url_is_in_memory() {
    let cache = open_cache(None, MEMORY_BUDGET).await.unwrap();
    assert_eq!(cache.engine(), "memory");
}

#[tokio::test]
async fn open_cache_with_a_redis_url_is_redis() {
    let url = redis_url();
    let cache = open_cache(Some(&url), MEMORY_BUDGET).await.unwrap_or_else(|error| {
        panic!("Redis at {url} is required (set RAMPART_TEST_REDIS_URL to use another): {error}")
    });
    assert_eq!(cache.engine(), "redis");
}

#[tokio::test]
async fn other_urls_are_refused_naming_the_accepted_forms() {
    for url in ["memcached://app:hunter2@cache:11211", "REDIS://cache", "cache:6379", ""] {
        let error = match open_cache(Some(url), MEMORY_BUDGET).await {
            Err(error) => error,
            Ok(cache) => panic!("{url:?} opened a {} cache", cache.engine()),
        };
        assert!(matches!(error, CacheError::UnsupportedUrl { .. }), "{url:?}: {error:?}");
        let message = error.to_string();
        assert!(message.contains("redis://") && message.contains("rediss://"), "{message}");
        assert!(message.contains("in-memory"), "{message}");
        assert!(!message.contains("hunter2") && !format!("{error:?}").contains("hunter2"), "{message}");
    }
}

#[tokio::test]
async fn redis_errors_name_the_address_and_never_the_password() {
    // Port 1: nothing listens there, so the connection is refused at once.
    for url in
        ["redis://:hunter2@127.0.0.1:1/0", "redis://app:hunter2@127.0.0.1:1", "redis://:hunter2@127.0.0.1:notaport"]
    {
        let error = match RedisCache::connect(url, "rampart:test:cache:").await {
            Err(error) => error,
            Ok(_) => panic!("{url} connected"),
        };
        assert!(matches!(error, CacheError::Open { .. }), "{url}: {error:?}");
        let message = error.to_string();
        assert!(message.contains("127.0.0.1"), "{message}");
        assert!(message.contains("***"), "the location shows that a password was given: {message}");
        assert!(!message.contains("hunter2") && !format!("{error:?}").contains("hunter2"), "{message}");
    }
}

#[tokio::test]
async fn redis_entries_live_under_the_prefix_and_expire_in_redis() {
    let prefix = unique_prefix("prefix");
    let cache = redis_cache_with_prefix(&prefix).await;
    assert!(format!("{cache:?}").contains(&prefix));
    cache.put(&key("a"), Bytes::from_static(b"answer"), TTL).await.unwrap();

    let url = redis_url();
    let mut admin = ::redis::Client::open(url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let redis_key = format!("{prefix}{}", key("a").as_str());
    let stored: Option<Vec<u8>> = ::redis::cmd("GET").arg(&redis_key).query_async(&mut admin).await.unwrap();
    assert_eq!(stored.as_deref(), Some(&b"answer"[..]));
    let ttl_ms: i64 = ::redis::cmd("PTTL").arg(&redis_key).query_async(&mut admin).await.unwrap();
    assert!(ttl_ms > 0 && ttl_ms <= 60_000, "PTTL {ttl_ms}");

    // Another prefix on the same Redis does not see it.
    let other = redis_cache_with_prefix(&unique_prefix("other-prefix")).await;
    assert_eq!(other.get(&key("a")).await.unwrap(), None);
}

#[test]
fn the_default_key_prefix_is_rampart_cache() {
    assert_eq!(RedisCache::DEFAULT_KEY_PREFIX, "rampart:cache:");
}

#[tokio::test]
async fn redis_operation_errors_say_what_to_check() {
    let prefix = unique_prefix("wrongtype");
    let cache = redis_cache_with_prefix(&prefix).await;
    // Something else wrote a list where an entry belongs.
    let mut admin =
        ::redis::Client::open(redis_url().as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let redis_key = format!("{prefix}{}", key("a").as_str());
    let _: () = ::redis::cmd("RPUSH").arg(&redis_key).arg("not an entry").query_async(&mut admin).await.unwrap();
    let _: () = ::redis::cmd("PEXPIRE").arg(&redis_key).arg(60_000).query_async(&mut admin).await.unwrap();

    let error = cache.get(&key("a")).await.unwrap_err();
    assert!(matches!(error, CacheError::Operation { operation: "reading an entry", .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("WRONGTYPE") && message.contains("key prefix"), "{message}");
}
