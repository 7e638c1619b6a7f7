//! The embedded cache: a map in this process, bounded by a byte budget.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::time::Instant;

use crate::{CacheError, CacheKey, ResponseCache};

/// Responses kept in this process, lost when it stops and not shared with other gateways.
///
/// Each entry is charged the bytes of its key and value against `max_bytes` (the map's own
/// bookkeeping, about 150 bytes an entry, is not counted); storing past the budget evicts the
/// least recently used entries (read or written) first, and an entry larger than the whole
/// budget is not stored. An expired entry is removed when it is next read, or evicted like any
/// other when it is not. Every operation is O(log n) under one short-held lock.
#[derive(Debug)]
pub struct MemoryCache {
    max_bytes: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<Arc<str>, Entry>,
    /// Least recently used first: each entry's last use → its key.
    recency: BTreeMap<u64, Arc<str>>,
    used_bytes: usize,
    /// Counts uses; never repeats, so it orders `recency`.
    clock: u64,
}

#[derive(Debug)]
struct Entry {
    value: Bytes,
    /// `None`: a TTL too long to represent, which never expires.
    expires_at: Option<Instant>,
    last_used: u64,
    charged: usize,
}

impl MemoryCache {
    /// A cache holding at most `max_bytes` of keys and values (0 stores nothing).
    pub fn new(max_bytes: usize) -> Self {
        Self { max_bytes, state: Mutex::new(State::default()) }
    }

    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// The bytes of keys and values now held, expired entries not yet removed included.
    pub fn used_bytes(&self) -> usize {
        self.lock().used_bytes
    }

    /// How many entries are held, expired ones not yet removed included.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing under the lock can leave the state half-changed, so a panic elsewhere while
        // it was held does not make it unusable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn remove(&mut self, key: &str) -> Option<Entry> {
        let entry = self.entries.remove(key)?;
        self.recency.remove(&entry.last_used);
        self.used_bytes -= entry.charged;
        Some(entry)
    }

    fn evict_least_recently_used(&mut self) -> bool {
        let Some((_, key)) = self.recency.pop_first() else {
            return false;
        };
        if let Some(entry) = self.entries.remove(&key) {
            self.used_bytes -= entry.charged;
        }
        true
    }
}

#[async_trait]
impl ResponseCache for MemoryCache {
    fn engine(&self) -> &'static str {
        "memory"
    }

    async fn get(&self, key: &CacheKey) -> Result<Option<Bytes>, CacheError> {
        let now = Instant::now();
        let mut guard = self.lock();
        let state = &mut *guard;
        let Some(entry) = state.entries.get_mut(key.as_str()) else {
            return Ok(None);
        };
        if entry.expires_at.is_some_and(|expires_at| expires_at <= now) {
            state.remove(key.as_str());
            return Ok(None);
        }
        // Field by field: `entry` still borrows `state.entries`.
        state.clock += 1;
        let tick = state.clock;
        let shared_key = state.recency.remove(&entry.last_used).unwrap_or_else(|| Arc::from(key.as_str()));
        state.recency.insert(tick, shared_key);
        entry.last_used = tick;
        Ok(Some(entry.value.clone()))
    }

    async fn put(&self, key: &CacheKey, value: Bytes, ttl: Duration) -> Result<(), CacheError> {
        let charged = key.as_str().len() + value.len();
        let expires_at = Instant::now().checked_add(ttl);
        let mut state = self.lock();
        state.remove(key.as_str());
        if ttl.is_zero() || charged > self.max_bytes {
            if charged > self.max_bytes {
                tracing::debug!(
                    charged,
                    max_bytes = self.max_bytes,
                    "response larger than the whole memory cache; not stored"
                );
            }
            return Ok(());
        }
        while state.used_bytes + charged > self.max_bytes {
            if !state.evict_least_recently_used() {
                break;
            }
        }
        let tick = state.tick();
        let shared_key: Arc<str> = Arc::from(key.as_str());
        state.recency.insert(tick, Arc::clone(&shared_key));
        state.entries.insert(shared_key, Entry { value, expires_at, last_used: tick, charged });
        state.used_bytes += charged;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(60);

    fn key(name: &str) -> CacheKey {
        CacheKey::digest(name.as_bytes())
    }

    /// Bytes that, with a 64-byte key, are charged exactly `charged` bytes.
    fn value_charged(charged: usize) -> Bytes {
        Bytes::from(vec![b'x'; charged - 64])
    }

    #[tokio::test]
    async fn evicts_least_recently_used_first_within_the_budget() {
        let cache = MemoryCache::new(300);
        for name in ["a", "b", "c"] {
            cache.put(&key(name), value_charged(100), TTL).await.unwrap();
        }
        assert_eq!(cache.used_bytes(), 300);
        // Reading `a` makes `b` the least recently used.
        assert!(cache.get(&key("a")).await.unwrap().is_some());
        cache.put(&key("d"), value_charged(100), TTL).await.unwrap();
        assert!(cache.get(&key("b")).await.unwrap().is_none(), "b was least recently used");
        for name in ["a", "c", "d"] {
            assert!(cache.get(&key(name)).await.unwrap().is_some(), "{name} should still be held");
        }
        assert_eq!(cache.used_bytes(), 300);
        assert_eq!(cache.len(), 3);
    }

    #[tokio::test]
    async fn a_large_entry_evicts_as_many_as_it_needs() {
        let cache = MemoryCache::new(300);
        for name in ["a", "b", "c"] {
            cache.put(&key(name), value_charged(100), TTL).await.unwrap();
        }
        cache.put(&key("big"), value_charged(250), TTL).await.unwrap();
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.used_bytes(), 250);
        assert!(cache.get(&key("big")).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn overwriting_charges_only_the_new_value() {
        let cache = MemoryCache::new(300);
        cache.put(&key("a"), value_charged(100), TTL).await.unwrap();
        cache.put(&key("a"), value_charged(150), TTL).await.unwrap();
        assert_eq!(cache.used_bytes(), 150);
        assert_eq!(cache.len(), 1);
    }

    #[tokio::test]
    async fn an_entry_larger_than_the_budget_is_not_stored() {
        let cache = MemoryCache::new(300);
        cache.put(&key("a"), value_charged(100), TTL).await.unwrap();
        cache.put(&key("huge"), value_charged(301), TTL).await.unwrap();
        assert!(cache.get(&key("huge")).await.unwrap().is_none());
        // Nothing was evicted to make room for it.
        assert!(cache.get(&key("a")).await.unwrap().is_some());
        // An entry of exactly the budget fits.
        cache.put(&key("exact"), value_charged(300), TTL).await.unwrap();
        assert!(cache.get(&key("exact")).await.unwrap().is_some());
        assert_eq!(cache.used_bytes(), 300);
    }

    #[tokio::test]
    async fn an_oversized_overwrite_removes_the_old_value() {
        let cache = MemoryCache::new(300);
        cache.put(&key("a"), value_charged(100), TTL).await.unwrap();
        cache.put(&key("a"), value_charged(400), TTL).await.unwrap();
        assert!(cache.get(&key("a")).await.unwrap().is_none(), "a stale answer must not outlive its replacement");
        assert_eq!(cache.used_bytes(), 0);
    }

    #[tokio::test]
    async fn a_zero_budget_stores_nothing() {
        let cache = MemoryCache::new(0);
        cache.put(&key("a"), Bytes::new(), TTL).await.unwrap();
        assert!(cache.get(&key("a")).await.unwrap().is_none());
        assert!(cache.is_empty());
    }

    #[tokio::test]
    async fn a_zero_ttl_stores_nothing_and_removes_the_old_value() {
        let cache = MemoryCache::new(300);
        cache.put(&key("a"), value_charged(100), TTL).await.unwrap();
        cache.put(&key("a"), value_charged(100), Duration::ZERO).await.unwrap();
        assert!(cache.get(&key("a")).await.unwrap().is_none());
        assert!(cache.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn an_expired_entry_is_removed_when_read() {
        let cache = MemoryCache::new(300);
        cache.put(&key("a"), value_charged(100), Duration::from_secs(10)).await.unwrap();
        tokio::time::advance(Duration::from_secs(9)).await;
        assert!(cache.get(&key("a")).await.unwrap().is_some());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(cache.get(&key("a")).await.unwrap().is_none());
        assert_eq!(cache.used_bytes(), 0);
        assert!(cache.is_empty());
    }

    #[tokio::test]
    async fn a_ttl_too_long_to_represent_never_expires() {
        let cache = MemoryCache::new(300);
        cache.put(&key("a"), value_charged(100), Duration::MAX).await.unwrap();
        assert!(cache.get(&key("a")).await.unwrap().is_some());
    }
}
