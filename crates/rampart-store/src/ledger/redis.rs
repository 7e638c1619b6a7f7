//! The Redis ledger, for gateways that share limits without sharing a database.
//!
//! A reservation is one Lua script, which Redis runs atomically: it reads every counter, checks
//! every limit, and only then adds every amount, so two gateways can never both take the last
//! unit. Each counter is one integer key (`PREFIX` + counter + `:` + window start) that expires
//! an hour after its window ends. All of a call's keys must live on one Redis node: a cluster
//! would refuse a script whose keys span slots.
//!
//! Redis's Lua has only floating-point numbers, so the check `used + amount <= limit` is exact
//! while the numbers stay below 2^53 (9 * 10^15: requests and tokens do, and spend in
//! nano-dollars does for budgets up to about $9 million);
//! the counters themselves, and the values reported back, are exact 64-bit integers always.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use rampart_core::{LimitCharge, LimitLedger, ReserveOutcome, StoreError};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, Script};

use super::RETAIN_AFTER_WINDOW_SECS;
use crate::redact_url_password;

/// Connecting (TCP, TLS, `AUTH`, `SELECT`) and each answer are given this long.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(3);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);
/// Nothing waits longer than this for Redis, reconnection included: a dead Redis fails a
/// request, it never hangs it.
const CALL_DEADLINE: Duration = Duration::from_secs(5);

/// Reads every counter, checks every limit, and only then adds every amount. `KEYS[i]` is charge
/// i's counter; `ARGV[3i-2]`, `ARGV[3i-1]` and `ARGV[3i]` are its amount, its limit and when Redis
/// may forget it (Unix seconds). Answers `{'reserved'}` or `{'exceeded', used_1, ...}` with each
/// counter's value before the reservation, as strings so that no value passes through Lua's
/// floating-point numbers on its way back. A counter named twice is checked with both amounts.
const RESERVE_SCRIPT: &str = r"
local after = {}
local reply = {'exceeded'}
local fits = true
for i, key in ipairs(KEYS) do
  local stored = redis.call('GET', key) or '0'
  if not string.match(stored, '^%-?%d+$') then
    return redis.error_reply('limit counter ' .. key .. ' holds ' .. stored .. ', which is not an integer')
  end
  reply[i + 1] = stored
  local total = (after[key] or tonumber(stored)) + tonumber(ARGV[3 * i - 2])
  if total > tonumber(ARGV[3 * i - 1]) then
    fits = false
  end
  after[key] = total
end
if not fits then
  return reply
end
for i, key in ipairs(KEYS) do
  redis.call('INCRBY', key, ARGV[3 * i - 2])
  redis.call('EXPIREAT', key, ARGV[3 * i])
end
return {'reserved'}
";

/// Adds every amount unchecked. `ARGV[2i-1]` and `ARGV[2i]` are charge i's amount and when Redis
/// may forget its counter. Every key is checked to hold an integer before any is changed, so a
/// settlement is applied whole or not at all.
const ADJUST_SCRIPT: &str = r"
for _, key in ipairs(KEYS) do
  local stored = redis.call('GET', key) or '0'
  if not string.match(stored, '^%-?%d+$') then
    return redis.error_reply('limit counter ' .. key .. ' holds ' .. stored .. ', which is not an integer')
  end
end
for i, key in ipairs(KEYS) do
  redis.call('INCRBY', key, ARGV[2 * i - 1])
  redis.call('EXPIREAT', key, ARGV[2 * i])
end
return 1
";

/// Limit counters in Redis, shared by every gateway that names the same Redis and key prefix.
///
/// Cheap to clone: clones share one connection, which reconnects by itself after Redis
/// restarts (a call made while it is down fails with [`StoreError::Query`]).
#[derive(Clone)]
pub struct RedisLedger {
    connection: ConnectionManager,
    key_prefix: String,
    /// The URL without its password, for messages.
    location: String,
    reserve_script: Script,
    adjust_script: Script,
}

impl fmt::Debug for RedisLedger {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("RedisLedger")
            .field("location", &self.location)
            .field("key_prefix", &self.key_prefix)
            .finish_non_exhaustive()
    }
}

impl RedisLedger {
    /// The key prefix gateways use unless told otherwise.
    pub const DEFAULT_KEY_PREFIX: &'static str = "rampart:limits:";

    /// Connects to a `redis://` or `rediss://` (TLS) URL, such as
    /// `redis://:password@host:6379/0`, and checks that Redis answers. Every key this ledger
    /// writes starts with `key_prefix` (see [`Self::DEFAULT_KEY_PREFIX`]).
    pub async fn connect(url: &str, key_prefix: &str) -> Result<Self, StoreError> {
        let location = redact_url_password(url);
        let open_error = |detail: String| StoreError::Open { location: location.clone(), detail };

        let client = redis::Client::open(url).map_err(|error| {
            open_error(format!(
                "not a Redis URL ({error}); expected redis://[:PASSWORD@]HOST[:PORT][/DB] or rediss://..."
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
            Ok(Err(error)) => return Err(open_error(connect_detail(&error))),
            Err(_) => {
                return Err(open_error(format!(
                    "no connection within {} s; is Redis running and reachable from here?",
                    CALL_DEADLINE.as_secs()
                )));
            }
        };
        let ping = redis::cmd("PING");
        match tokio::time::timeout(CALL_DEADLINE, ping.query_async::<String>(&mut connection)).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => return Err(open_error(connect_detail(&error))),
            Err(_) => return Err(open_error(format!("no answer to PING within {} s", CALL_DEADLINE.as_secs()))),
        }
        tracing::debug!(location = %location, key_prefix, "connected to Redis limit ledger");
        Ok(Self {
            connection,
            key_prefix: key_prefix.to_owned(),
            location,
            reserve_script: Script::new(RESERVE_SCRIPT),
            adjust_script: Script::new(ADJUST_SCRIPT),
        })
    }

    fn key(&self, counter: &str, window_start: i64) -> String {
        format!("{}{counter}:{window_start}", self.key_prefix)
    }

    /// Runs one call to Redis under the call deadline, naming Redis in any error.
    async fn call<T>(&self, what: &str, call: impl Future<Output = Result<T, RedisError>>) -> Result<T, StoreError> {
        match tokio::time::timeout(CALL_DEADLINE, call).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(error)) => {
                Err(StoreError::Query { detail: format!("Redis at '{}', {what}: {error}", self.location) })
            }
            Err(_) => Err(StoreError::Query {
                detail: format!(
                    "Redis at '{}' did not answer ({what}) within {} s; is it running and reachable?",
                    self.location,
                    CALL_DEADLINE.as_secs()
                ),
            }),
        }
    }
}

/// Why a connection could not be made, with what to check.
fn connect_detail(error: &RedisError) -> String {
    let hint = if error.is_connection_refusal() {
        "is Redis running and listening at this address?"
    } else if error.is_timeout() {
        "is Redis reachable from here (firewall, address)?"
    } else if matches!(error.kind(), redis::ErrorKind::AuthenticationFailed) {
        "check the user and password in the URL"
    } else {
        "check the URL and that Redis is running"
    };
    format!("{error}; {hint}")
}

/// When Redis may forget a counter: an hour after its window ends.
fn expire_at(charge: &LimitCharge) -> i64 {
    charge.window_end.saturating_add(RETAIN_AFTER_WINDOW_SECS)
}

#[async_trait]
impl LimitLedger for RedisLedger {
    fn ledger_engine(&self) -> &'static str {
        "redis"
    }

    async fn reserve(&self, charges: &[LimitCharge]) -> Result<ReserveOutcome, StoreError> {
        if charges.is_empty() {
            return Ok(ReserveOutcome::Reserved);
        }
        let mut invocation = self.reserve_script.prepare_invoke();
        for charge in charges {
            invocation.key(self.key(&charge.counter, charge.window_start));
            invocation.arg(charge.amount).arg(charge.limit).arg(expire_at(charge));
        }
        let mut connection = self.connection.clone();
        let reply: Vec<String> = self.call("reserving", invocation.invoke_async(&mut connection)).await?;
        match reply.split_first() {
            Some((status, _)) if status == "reserved" => Ok(ReserveOutcome::Reserved),
            Some((status, used)) if status == "exceeded" && used.len() == charges.len() => {
                let used = used.iter().map(|value| self.parse_counter(value)).collect::<Result<_, _>>()?;
                Ok(ReserveOutcome::Exceeded { used })
            }
            _ => Err(StoreError::Query {
                detail: format!("Redis at '{}' answered the reservation script with {reply:?}", self.location),
            }),
        }
    }

    async fn adjust(&self, charges: &[LimitCharge]) -> Result<(), StoreError> {
        if charges.is_empty() {
            return Ok(());
        }
        let mut invocation = self.adjust_script.prepare_invoke();
        for charge in charges {
            invocation.key(self.key(&charge.counter, charge.window_start));
            invocation.arg(charge.amount).arg(expire_at(charge));
        }
        let mut connection = self.connection.clone();
        self.call::<i64>("adjusting", invocation.invoke_async(&mut connection)).await?;
        Ok(())
    }

    async fn read(&self, counters: &[(String, i64)]) -> Result<Vec<i64>, StoreError> {
        if counters.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> =
            counters.iter().map(|(counter, window_start)| self.key(counter, *window_start)).collect();
        let mut connection = self.connection.clone();
        let mut mget = redis::cmd("MGET");
        mget.arg(keys);
        let values: Vec<Option<String>> = self.call("reading", mget.query_async(&mut connection)).await?;
        values.iter().map(|value| value.as_deref().map_or(Ok(0), |value| self.parse_counter(value))).collect()
    }
}

impl RedisLedger {
    fn parse_counter(&self, value: &str) -> Result<i64, StoreError> {
        value.parse().map_err(|_| StoreError::Query {
            detail: format!("Redis at '{}' holds {value:?} in a limit counter, which is not an integer", self.location),
        })
    }
}
