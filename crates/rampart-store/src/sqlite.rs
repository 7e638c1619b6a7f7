//! The embedded engine: one SQLite file, WAL journal, every commit synced to disk (or, with
//! [`SqliteSync::Normal`], handed to the operating system and synced at checkpoints).

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use rampart_core::{
    LimitCharge, LimitLedger, RequestLogEntry, RequestLogQuery, ReserveOutcome, Store, StoreError, UsageQuery, UsageRow,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use crate::ledger::sqlite as ledger;
use crate::request_log::{self, StoredRequest};
use crate::sqlite_writer::SqliteWriter;
use crate::usage::{self, Dialect, StoredUsage};
use crate::{SqliteSync, query_error, sqlx_detail};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a writer waits for another connection's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// A few connections let reads run beside a write (WAL).
const MAX_READ_CONNECTIONS: u32 = 4;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// The request log and limit counters in a SQLite database file (or in memory, for throwaway
/// runs).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Reads.
    pool: SqlitePool,
    /// Every write: one connection. SQLite writes one transaction at a time anyway, and a
    /// writer that finds the file locked sleeps in SQLite's busy handler (1 ms, then longer),
    /// so the store's own writers (audit, limits, request log, keys, conversations) queue here
    /// in order instead. Another process sharing the file still waits through busy_timeout.
    /// The same pool as `pool` for an in-memory database, which has only one connection.
    write_pool: SqlitePool,
    /// Reservations, adjustments, audit appends and request-log rows go through one writer
    /// task, committed in groups.
    writer: SqliteWriter,
}

impl SqliteStore {
    /// Opens (creating it and its parent directories when missing) the database named by a
    /// `sqlite://PATH`, `sqlite:PATH` or `sqlite::memory:` URL, and applies pending migrations.
    ///
    /// `synchronous = FULL` with the WAL journal: a write acknowledged by
    /// [`Store::record_requests`] or [`LimitLedger::reserve`] survives the process being killed
    /// and the machine losing power.
    ///
    /// Starts the store's writer task on the current Tokio runtime; it ends once every
    /// clone of the store is dropped.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(url, SqliteSync::Full).await
    }

    /// [`SqliteStore::open`], syncing commits as `sync` says.
    pub async fn open_with(url: &str, sync: SqliteSync) -> Result<Self, StoreError> {
        let open_error = |detail: String| StoreError::Open { location: url.to_owned(), detail };
        let in_memory = names_in_memory_database(url);

        let mut options = SqliteConnectOptions::from_str(url)
            .map_err(|error| open_error(sqlx_detail(&error)))?
            .create_if_missing(true)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            .synchronous(match sync {
                SqliteSync::Full => SqliteSynchronous::Full,
                SqliteSync::Normal => SqliteSynchronous::Normal,
            });
        // A local file cannot drop a connection the way a server can, so the pool does not ping
        // one (a round trip to its thread) each time it hands it out.
        let mut pool_options = SqlitePoolOptions::new().acquire_timeout(ACQUIRE_TIMEOUT).test_before_acquire(false);
        let write_pool_options =
            SqlitePoolOptions::new().acquire_timeout(ACQUIRE_TIMEOUT).test_before_acquire(false).max_connections(1);

        if in_memory {
            // An in-memory database lives only as long as a connection to it: keep exactly one,
            // forever, which also avoids shared-cache table locks between connections.
            pool_options = pool_options.max_connections(1).min_connections(1).idle_timeout(None).max_lifetime(None);
        } else {
            options = options.journal_mode(SqliteJournalMode::Wal);
            pool_options = pool_options.max_connections(MAX_READ_CONNECTIONS);
            if let Some(parent) = options.get_filename().parent().filter(|parent| !parent.as_os_str().is_empty()) {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|error| open_error(format!("cannot create directory '{}': {error}", parent.display())))?;
            }
        }

        let pool = pool_options.connect_with(options.clone()).await.map_err(|error| open_error(sqlx_detail(&error)))?;
        let write_pool = if in_memory {
            pool.clone()
        } else {
            write_pool_options.connect_with(options).await.map_err(|error| open_error(sqlx_detail(&error)))?
        };
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|error| StoreError::Migration { detail: format!("SQLite at '{url}': {error}") })?;
        tracing::debug!(location = url, in_memory, ?sync, "opened SQLite store");
        let (writer, _) = SqliteWriter::start(write_pool.clone());
        Ok(Self { pool, write_pool, writer })
    }

    #[cfg(test)]
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// `sqlite::memory:`, `sqlite://:memory:` and `?mode=memory` all name a database that never
/// touches disk (so no directory to create and no WAL).
fn names_in_memory_database(url: &str) -> bool {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
    let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
    database == ":memory:" || params.split('&').any(|param| param == "mode=memory")
}

#[async_trait]
impl Store for SqliteStore {
    fn engine(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(query_error)?;
        Ok(())
    }

    async fn record_requests(&self, entries: &[RequestLogEntry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        self.writer.record_requests(entries).await
    }

    async fn list_requests(&self, query: &RequestLogQuery) -> Result<Vec<RequestLogEntry>, StoreError> {
        request_log::list_statement(query)
            .build_query_as::<StoredRequest>()
            .fetch_all(&self.pool)
            .await
            .map_err(query_error)?
            .into_iter()
            .map(StoredRequest::into_entry)
            .collect()
    }

    async fn usage_summary(&self, query: &UsageQuery) -> Result<Vec<UsageRow>, StoreError> {
        let groups = usage::summary_statement(query, Dialect::Sqlite)
            .build_query_as::<StoredUsage>()
            .fetch_all(&self.pool)
            .await
            .map_err(query_error)?;
        usage::into_rows(query.group_by, groups)
    }
}

#[async_trait]
impl LimitLedger for SqliteStore {
    fn ledger_engine(&self) -> &'static str {
        "sqlite"
    }

    async fn reserve(&self, charges: &[LimitCharge]) -> Result<ReserveOutcome, StoreError> {
        self.writer.reserve(charges).await
    }

    async fn adjust(&self, charges: &[LimitCharge]) -> Result<(), StoreError> {
        self.writer.adjust(charges).await
    }

    async fn read(&self, counters: &[(String, i64)]) -> Result<Vec<i64>, StoreError> {
        ledger::read(&self.pool, counters).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::{SqliteStore, SqliteSync, names_in_memory_database};

    #[tokio::test]
    async fn every_connection_syncs_as_asked() {
        let dir = tempfile::tempdir().unwrap();
        for (sync, pragma) in [(SqliteSync::Full, 2), (SqliteSync::Normal, 1)] {
            let url = format!("sqlite://{}", dir.path().join(format!("{sync:?}.db")).display());
            let store = SqliteStore::open_with(&url, sync).await.unwrap();
            for pool in [&store.pool, &store.write_pool] {
                let level: i64 = sqlx::query_scalar("PRAGMA synchronous").fetch_one(pool).await.unwrap();
                assert_eq!(level, pragma, "{sync:?}");
            }
            let journal: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&store.write_pool).await.unwrap();
            assert_eq!(journal, "wal", "NORMAL keeps the file consistent only with the WAL journal");
        }
    }

    #[test]
    fn recognises_in_memory_urls() {
        assert!(names_in_memory_database("sqlite::memory:"));
        assert!(names_in_memory_database("sqlite://:memory:"));
        assert!(names_in_memory_database("sqlite://?mode=memory"));
        assert!(!names_in_memory_database("sqlite://data/rampart.db"));
        assert!(!names_in_memory_database("sqlite:rampart.db?mode=rwc"));
    }
}

crate::keys::impl_api_key_store!(SqliteStore, "BEGIN IMMEDIATE");
crate::conversations::impl_conversation_store!(SqliteStore, "BEGIN IMMEDIATE");
crate::audit::impl_audit_log!(SqliteStore, writer);
