//! The embedded engine: one SQLite file, WAL journal, every commit synced to disk (or, with
//! [`SqliteSync::Normal`], handed to the operating system and synced at checkpoints).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rampart_core::{
    LimitCharge, LimitLedger, RequestLogEntry, RequestLogQuery, ReserveOutcome, Store, StoreError, UsageQuery, UsageRow,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use crate::ledger::sqlite as ledger;
use crate::request_log::{self, StoredRequest};
use crate::sqlite_writer::{SqliteWriter, Synchronous, WriterTarget};
use crate::usage::{self, Dialect, StoredUsage};
use crate::{SqliteSync, query_error, sqlx_detail};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a writer waits for another connection's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// A few connections let reads run beside a write (WAL).
const MAX_READ_CONNECTIONS: u32 = 4;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// The request log and limit counters in a SQLite database file (or in a scratch file, for
/// throwaway runs).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Reads.
    pool: SqlitePool,
    /// Writes other than the writer's (keys, conversations, checkpoints): one connection, so
    /// they queue here in order rather than in SQLite's busy handler (which sleeps 1 ms, then
    /// longer). The writer's connection and another process sharing the file wait for each
    /// other through busy_timeout.
    write_pool: SqlitePool,
    /// Reservations, adjustments, audit appends and request-log rows go through one writer
    /// thread, committed in groups.
    writer: SqliteWriter,
    #[cfg(test)]
    target: WriterTarget,
    /// The directory of a scratch database (`sqlite::memory:`), deleted with the last clone of
    /// the store.
    _scratch: Option<Arc<tempfile::TempDir>>,
}

impl SqliteStore {
    /// Opens (creating it and its parent directories when missing) the database named by a
    /// `sqlite://PATH` or `sqlite:PATH` URL, and applies pending migrations.
    ///
    /// `synchronous = FULL` with the WAL journal: a write acknowledged by
    /// [`Store::record_requests`] or [`LimitLedger::reserve`] survives the process being killed
    /// and the machine losing power.
    ///
    /// `sqlite::memory:` (or `sqlite://:memory:`, or `mode=memory`) opens a scratch database
    /// instead: a file in a temporary directory, never synced, deleted when the last clone of the
    /// store is dropped. The writer's thread needs a connection of its own beside the read
    /// pool's, which an in-memory SQLite database cannot give.
    ///
    /// Starts the store's writer thread; it ends once every clone of the store is dropped.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(url, SqliteSync::Full).await
    }

    /// [`SqliteStore::open`], syncing commits as `sync` says.
    pub async fn open_with(url: &str, sync: SqliteSync) -> Result<Self, StoreError> {
        let open_error = |detail: String| StoreError::Open { location: url.to_owned(), detail };
        let scratch = if names_in_memory_database(url) {
            let directory = tempfile::Builder::new().prefix("rampart-scratch-").tempdir().map_err(|error| {
                open_error(format!("cannot create a scratch directory for an in-memory database: {error}"))
            })?;
            Some(Arc::new(directory))
        } else {
            None
        };
        let (options, synchronous) = match &scratch {
            Some(directory) => {
                let options = SqliteConnectOptions::new().filename(directory.path().join("rampart.db"));
                (options, SqliteSynchronous::Off)
            }
            None => {
                let options = SqliteConnectOptions::from_str(url).map_err(|error| open_error(sqlx_detail(&error)))?;
                (
                    options,
                    match sync {
                        SqliteSync::Full => SqliteSynchronous::Full,
                        SqliteSync::Normal => SqliteSynchronous::Normal,
                    },
                )
            }
        };
        let options = options
            .create_if_missing(true)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous);
        if let Some(parent) = options.get_filename().parent().filter(|parent| !parent.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|error| open_error(format!("cannot create directory '{}': {error}", parent.display())))?;
        }

        // A local file cannot drop a connection the way a server can, so the pool does not ping
        // one (a round trip to its thread) each time it hands it out.
        let pool_options = || SqlitePoolOptions::new().acquire_timeout(ACQUIRE_TIMEOUT).test_before_acquire(false);
        let pool = pool_options()
            .max_connections(MAX_READ_CONNECTIONS)
            .connect_with(options.clone())
            .await
            .map_err(|error| open_error(sqlx_detail(&error)))?;
        let write_pool = pool_options()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(|error| open_error(sqlx_detail(&error)))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|error| StoreError::Migration { detail: format!("SQLite at '{url}': {error}") })?;
        let target = WriterTarget {
            path: options.get_filename().to_owned(),
            synchronous: match synchronous {
                SqliteSynchronous::Full => Synchronous::Full,
                SqliteSynchronous::Normal => Synchronous::Normal,
                _ => Synchronous::Off,
            },
        };
        #[cfg(test)]
        let writer_target = target.clone();
        let (writer, _) = SqliteWriter::start(target).await.map_err(open_error)?;
        tracing::debug!(location = url, scratch = scratch.is_some(), ?sync, "opened SQLite store");
        Ok(Self {
            pool,
            write_pool,
            writer,
            #[cfg(test)]
            target: writer_target,
            _scratch: scratch,
        })
    }

    #[cfg(test)]
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    #[cfg(test)]
    pub(crate) fn writer(&self) -> &SqliteWriter {
        &self.writer
    }

    #[cfg(test)]
    pub(crate) fn writer_target(&self) -> &WriterTarget {
        &self.target
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
