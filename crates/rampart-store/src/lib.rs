//! Durable storage for Rampart: the [`Store`] trait of `rampart-core` on SQLite (the embedded
//! default, one file) and on PostgreSQL (shared by several gateway replicas), chosen at
//! start-up by the URL scheme through [`open_store`]; and the [`LimitLedger`] of rate limits and
//! budgets on both stores and on Redis ([`RedisLedger`]), chosen through [`open_ledger`].
//!
//! This crate writes what it is given and reads it back: it never creates ids or timestamps,
//! never decides anything about a request (a ledger only answers whether the amounts it is
//! given fit under the limits it is given), and never acknowledges a write before it is
//! committed. It must never panic on what the database, the disk or a URL hands it, and never
//! put a password from a URL into an error or a log line. Both engines pass the same
//! conformance suite (`tests/conformance.rs`), and all three ledgers pass `tests/ledger.rs`;
//! behaviour that differs between them is a bug.

mod audit;
mod conversations;
mod keys;
mod ledger;
mod postgres;
mod request_log;
mod sqlite;
mod sqlite_writer;
mod usage;

use std::sync::Arc;

use rampart_core::{LimitLedger, Store, StoreError};

pub use ledger::redis::RedisLedger;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// The URL forms [`open_store`] accepts, as told to someone who gave another.
pub const SUPPORTED_URL_FORMS: &str = "sqlite://PATH, sqlite:PATH, sqlite::memory:, postgres://... or postgresql://...";

/// The URL forms [`open_ledger`] accepts, as told to someone who gave another.
pub const SUPPORTED_LEDGER_URL_FORMS: &str =
    "redis://..., rediss://... (TLS), or a store URL: sqlite://PATH, sqlite:PATH, postgres://... or postgresql://...";

/// When a SQLite store's commits reach the disk, which decides what an acknowledged write
/// survives. Both keep the file consistent: a commit is all there or not there at all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SqliteSync {
    /// Every commit is synced to disk (`fsync`) before it is acknowledged: an acknowledged write
    /// survives the process being killed and the machine losing power. Each group commit waits
    /// for the disk, and so does a request that waits for its audit record or its limit
    /// reservation (at low load most of that wait; under load the sync is shared by a group).
    #[default]
    Full,
    /// A commit is handed to the operating system before it is acknowledged and synced to disk
    /// at the next WAL checkpoint (SQLite's `synchronous = NORMAL`): an acknowledged write
    /// survives the process being killed (`kill -9`), but a power loss or a kernel crash can
    /// lose the commits made since the last checkpoint.
    Normal,
}

/// How [`open_store_with`] opens a store, beyond what its URL says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreOptions {
    /// When a SQLite store syncs its commits. A PostgreSQL store ignores it: there the server's
    /// own `synchronous_commit` decides.
    pub sqlite_sync: SqliteSync,
}

/// Opens the store a URL names, applying pending migrations: `sqlite:` URLs open a
/// [`SqliteStore`], `postgres://` and `postgresql://` URLs a [`PostgresStore`].
pub async fn open_store(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    open_store_with(url, StoreOptions::default()).await
}

/// [`open_store`], with [`StoreOptions`].
pub async fn open_store_with(url: &str, options: StoreOptions) -> Result<Arc<dyn Store>, StoreError> {
    // Schemes match exactly (lower case), as the engines' own URL parsers expect them.
    match url.split_once(':').map(|(scheme, _)| scheme) {
        Some("sqlite") => Ok(Arc::new(SqliteStore::open_with(url, options.sqlite_sync).await?)),
        Some("postgres" | "postgresql") => Ok(Arc::new(PostgresStore::open(url).await?)),
        _ => Err(StoreError::UnsupportedUrl {
            url: redact_url_password(url),
            reason: format!("expected one of {SUPPORTED_URL_FORMS}"),
        }),
    }
}

/// The ledger that keeps the gateway's rate-limit and budget counters.
///
/// - `None`: the gateway's own `store` (its counters live beside the request log).
/// - `redis://` or `rediss://`: a [`RedisLedger`] with [`RedisLedger::DEFAULT_KEY_PREFIX`], for
///   gateways that share limits without sharing a database.
/// - a store URL (`sqlite:`, `postgres://`, `postgresql://`): that store, opened (and migrated)
///   for its counters alone.
///
/// Errors say which URL failed (without its password) and what to fix.
/// A store URL is opened with `options`, like the main store.
pub async fn open_ledger(
    limits_url: Option<&str>,
    store: &Arc<dyn Store>,
    options: StoreOptions,
) -> Result<Arc<dyn LimitLedger>, StoreError> {
    let Some(url) = limits_url else {
        let ledger: Arc<dyn LimitLedger> = Arc::<dyn Store>::clone(store);
        return Ok(ledger);
    };
    match url.split_once(':').map(|(scheme, _)| scheme) {
        Some("redis" | "rediss") => Ok(Arc::new(RedisLedger::connect(url, RedisLedger::DEFAULT_KEY_PREFIX).await?)),
        Some("sqlite" | "postgres" | "postgresql") => {
            let ledger: Arc<dyn LimitLedger> = open_store_with(url, options).await?;
            Ok(ledger)
        }
        _ => Err(StoreError::UnsupportedUrl {
            url: redact_url_password(url),
            reason: format!("a limits ledger needs one of {SUPPORTED_LEDGER_URL_FORMS}"),
        }),
    }
}

pub(crate) use rampart_core::redact_url_password;

/// A sqlx error as a sentence for an operator.
pub(crate) fn sqlx_detail(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::PoolTimedOut => {
            "no database connection could be had in time; is the database running and reachable?".to_owned()
        }
        other => other.to_string(),
    }
}

/// Ends a transaction by what the work done in it returned: commits on `Ok`; on `Err` rolls
/// back at once. Dropped instead, sqlx would send the ROLLBACK only when the pool next hands
/// the connection out, and until then a PostgreSQL connection sits idle in transaction holding
/// its row locks, and SQLite's one write connection holds the file's write lock. A rollback
/// that fails means a broken connection, which the pool drops; the caller hears the work's
/// error.
pub(crate) async fn finish<DB: sqlx::Database, T>(
    transaction: sqlx::Transaction<'_, DB>,
    result: Result<T, StoreError>,
) -> Result<T, StoreError> {
    match result {
        Ok(value) => {
            transaction.commit().await.map_err(query_error)?;
            Ok(value)
        }
        Err(error) => {
            if let Err(rollback) = transaction.rollback().await {
                tracing::warn!(error = %rollback, "rolling back a failed write failed; the connection is dropped");
            }
            Err(error)
        }
    }
}

pub(crate) fn query_error(error: sqlx::Error) -> StoreError {
    StoreError::Query { detail: sqlx_detail(&error) }
}
