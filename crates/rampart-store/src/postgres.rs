//! The shared engine: PostgreSQL, for several gateway replicas writing one request log.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use rampart_core::{
    LimitCharge, LimitLedger, RequestLogEntry, RequestLogQuery, ReserveOutcome, Store, StoreError, UsageQuery, UsageRow,
};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};

use crate::audit::writer::AuditWriter;
use crate::ledger::postgres::PostgresLedger;
use crate::request_log::{self, INSERT_CHUNK_ROWS, StoredRequest};
use crate::usage::{self, Dialect, StoredUsage};
use crate::{query_error, redact_url_password, sqlx_detail};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

const MAX_CONNECTIONS: u32 = 10;
/// A database that is down or unreachable fails start-up and requests after this long, with
/// a message, instead of hanging them.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
const DIAGNOSTIC_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The request log and limit counters in a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// Writes share the pool: PostgreSQL runs them side by side, locking rows.
    write_pool: PgPool,
    ledger: PostgresLedger,
    /// Audit appends go through one writer task per gateway, sealed and committed in groups;
    /// the head row's lock orders the writers of several gateways.
    audit: AuditWriter,
}

impl PostgresStore {
    /// Connects to a `postgres://` or `postgresql://` URL and applies pending migrations.
    ///
    /// Every libpq-style parameter sqlx understands is honoured, including
    /// `?options=-c%20search_path%3Dmy_schema` to keep the tables in a schema of their own
    /// (the schema must already exist).
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        // Errors name where we tried to connect, never the password.
        let location = redact_url_password(url);
        let open_error = |detail: String| StoreError::Open { location: location.clone(), detail };

        let options = PgConnectOptions::from_str(url).map_err(|error| open_error(sqlx_detail(&error)))?;
        let pool = match PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
        {
            Ok(pool) => pool,
            Err(sqlx::Error::PoolTimedOut) => {
                return Err(open_error(why_no_connection(&options).await));
            }
            Err(error) => return Err(open_error(sqlx_detail(&error))),
        };
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|error| StoreError::Migration { detail: format!("PostgreSQL at '{location}': {error}") })?;
        tracing::debug!(location = %location, "opened PostgreSQL store");
        let ledger = PostgresLedger::new(pool.clone());
        let audit = AuditWriter::start(Self::audit_commit(pool.clone()));
        Ok(Self { write_pool: pool.clone(), pool, ledger, audit })
    }
}

/// The pool retries refused connections until its timeout and then reports only that it timed
/// out; one more direct attempt recovers the cause (refused, unknown host, ...) for the operator.
async fn why_no_connection(options: &PgConnectOptions) -> String {
    let waited = ACQUIRE_TIMEOUT.as_secs();
    match tokio::time::timeout(DIAGNOSTIC_CONNECT_TIMEOUT, PgConnection::connect_with(options)).await {
        Ok(Err(error)) => format!("no connection within {waited} s: {}", sqlx_detail(&error)),
        Ok(Ok(connection)) => {
            // It came up just now; the caller can simply try again.
            let _ = connection.close().await;
            format!("no connection within {waited} s (the database answered only afterwards)")
        }
        Err(_) => format!("no connection within {waited} s; is PostgreSQL running and reachable from here?"),
    }
}

#[async_trait]
impl Store for PostgresStore {
    fn engine(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(query_error)?;
        Ok(())
    }

    async fn record_requests(&self, entries: &[RequestLogEntry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut transaction = self.pool.begin().await.map_err(query_error)?;
        let written = async {
            for chunk in entries.chunks(INSERT_CHUNK_ROWS) {
                let mut insert = sqlx::QueryBuilder::new("");
                request_log::push_insert(&mut insert, chunk);
                insert.build().execute(&mut *transaction).await.map_err(query_error)?;
            }
            Ok(())
        }
        .await;
        crate::finish(transaction, written).await
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
        let groups = usage::summary_statement(query, Dialect::Postgres)
            .build_query_as::<StoredUsage>()
            .fetch_all(&self.pool)
            .await
            .map_err(query_error)?;
        usage::into_rows(query.group_by, groups)
    }
}

#[async_trait]
impl LimitLedger for PostgresStore {
    fn ledger_engine(&self) -> &'static str {
        "postgres"
    }

    async fn reserve(&self, charges: &[LimitCharge]) -> Result<ReserveOutcome, StoreError> {
        self.ledger.reserve(charges).await
    }

    async fn adjust(&self, charges: &[LimitCharge]) -> Result<(), StoreError> {
        self.ledger.adjust(charges).await
    }

    async fn read(&self, counters: &[(String, i64)]) -> Result<Vec<i64>, StoreError> {
        self.ledger.read(counters).await
    }
}

crate::keys::impl_api_key_store!(PostgresStore, "BEGIN");
crate::conversations::impl_conversation_store!(PostgresStore, "BEGIN");
crate::audit::impl_audit_log!(PostgresStore, audit);

impl PostgresStore {
    /// One batch of audit appends in one transaction; the head row's lock orders the writers
    /// of every gateway sharing the database.
    fn audit_commit(pool: PgPool) -> impl Fn(crate::audit::writer::Batch) -> crate::audit::writer::CommitFuture {
        move |batch| {
            let pool = pool.clone();
            Box::pin(async move {
                let mut transaction = pool.begin().await.map_err(query_error)?;
                let appended = async {
                    let (size, chain_hex): (i64, String) = sqlx::query_as(crate::audit::SELECT_HEAD_FOR_UPDATE)
                        .fetch_one(&mut *transaction)
                        .await
                        .map_err(query_error)?;
                    let mut chain = crate::audit::chain_from_head(size, &chain_hex)?;
                    let (rows, outcomes) = crate::audit::seal_batch(&mut chain, &batch);
                    for chunk in rows.chunks(crate::audit::INSERT_CHUNK_ROWS) {
                        let mut insert = sqlx::QueryBuilder::new("");
                        crate::audit::push_insert(&mut insert, chunk);
                        insert.build().execute(&mut *transaction).await.map_err(query_error)?;
                    }
                    sqlx::query(crate::audit::UPDATE_HEAD)
                        .bind(crate::audit::stored_size(&chain))
                        .bind(hex::encode(chain.to_bytes()))
                        .execute(&mut *transaction)
                        .await
                        .map_err(query_error)?;
                    Ok(outcomes)
                }
                .await;
                crate::finish(transaction, appended).await
            })
        }
    }
}
