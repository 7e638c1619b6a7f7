//! The `request_log` table, shared by both engines: the SQL is written once, generic over the
//! engine, and only its execution differs (see `sqlite.rs` and `postgres.rs`).

use std::sync::LazyLock;

use rampart_core::{RequestLogEntry, RequestLogQuery, StoreError};
use sqlx::{Database, Encode, QueryBuilder, Type};

/// Rows per `INSERT`: 16 bound values each, far below both engines' limits on bound values
/// (32766 for SQLite, 65535 for PostgreSQL) whatever size of batch the caller hands over.
pub(crate) const INSERT_CHUNK_ROWS: usize = 500;

/// What `limit: 0` means.
pub(crate) const DEFAULT_LIST_LIMIT: u32 = 50;
/// No single read returns more than this; callers page with `before_id`.
pub(crate) const MAX_LIST_LIMIT: u32 = 1000;

const COLUMNS: &str = "id, request_id, time_unix_ms, endpoint, model, backend, status, stream, \
                       tokens_in, tokens_out, latency_ms, cost_usd, error, api_key_id, tenant, end_user";

/// One `request_log` row as the engines hold it: signed integers, no `u64`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct StoredRequest {
    id: String,
    request_id: String,
    time_unix_ms: i64,
    endpoint: String,
    model: String,
    backend: String,
    status: i32,
    stream: bool,
    tokens_in: i64,
    tokens_out: i64,
    latency_ms: i64,
    cost_usd: f64,
    error: Option<String>,
    api_key_id: Option<String>,
    tenant: Option<String>,
    end_user: Option<String>,
}

impl StoredRequest {
    pub(crate) fn into_entry(self) -> Result<RequestLogEntry, StoreError> {
        let status =
            u16::try_from(self.status).map_err(|_| corrupt_column(&self.id, "status", i64::from(self.status)))?;
        Ok(RequestLogEntry {
            tokens_in: count_from_stored(&self.id, "tokens_in", self.tokens_in)?,
            tokens_out: count_from_stored(&self.id, "tokens_out", self.tokens_out)?,
            latency_ms: count_from_stored(&self.id, "latency_ms", self.latency_ms)?,
            id: self.id,
            request_id: self.request_id,
            time_unix_ms: self.time_unix_ms,
            endpoint: self.endpoint,
            model: self.model,
            backend: self.backend,
            status,
            stream: self.stream,
            cost_usd: self.cost_usd,
            error: self.error,
            api_key_id: self.api_key_id,
            tenant: self.tenant,
            user: self.end_user,
        })
    }
}

/// Counters beyond `i64::MAX` are kept as `i64::MAX`: a wrong-but-huge count is better than a
/// lost batch of log rows.
fn count_to_stored(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

fn count_from_stored(id: &str, column: &str, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| corrupt_column(id, column, value))
}

/// SQLite cannot hold NaN (it becomes NULL and breaks the NOT NULL column, failing the whole
/// batch), so both engines store it as 0 to behave alike.
fn cost_to_stored(cost_usd: f64) -> f64 {
    if cost_usd.is_nan() { 0.0 } else { cost_usd }
}

fn corrupt_column(id: &str, column: &str, value: i64) -> StoreError {
    StoreError::Query {
        detail: format!("request_log row '{id}' holds {value} in column {column}, which is out of range"),
    }
}

/// `0` means the default; anything else is clamped to `1..=MAX_LIST_LIMIT`.
pub(crate) fn effective_limit(requested: u32) -> u32 {
    if requested == 0 { DEFAULT_LIST_LIMIT } else { requested.min(MAX_LIST_LIMIT) }
}

/// `INSERT INTO request_log ... VALUES (...), (...)` for one chunk of at most
/// [`INSERT_CHUNK_ROWS`] entries, appended to `statement`.
pub(crate) fn push_insert<'args, DB>(statement: &mut QueryBuilder<'args, DB>, entries: &'args [RequestLogEntry])
where
    DB: Database,
    &'args str: Encode<'args, DB> + Type<DB>,
    Option<&'args str>: Encode<'args, DB> + Type<DB>,
    i64: Encode<'args, DB> + Type<DB>,
    i32: Encode<'args, DB> + Type<DB>,
    bool: Encode<'args, DB> + Type<DB>,
    f64: Encode<'args, DB> + Type<DB>,
{
    statement.push(format!("INSERT INTO request_log ({COLUMNS}) "));
    statement.push_values(entries, |mut row, entry| {
        row.push_bind(entry.id.as_str())
            .push_bind(entry.request_id.as_str())
            .push_bind(entry.time_unix_ms)
            .push_bind(entry.endpoint.as_str())
            .push_bind(entry.model.as_str())
            .push_bind(entry.backend.as_str())
            .push_bind(i32::from(entry.status))
            .push_bind(entry.stream)
            .push_bind(count_to_stored(entry.tokens_in))
            .push_bind(count_to_stored(entry.tokens_out))
            .push_bind(count_to_stored(entry.latency_ms))
            .push_bind(cost_to_stored(entry.cost_usd))
            .push_bind(entry.error.as_deref())
            .push_bind(entry.api_key_id.as_deref())
            .push_bind(entry.tenant.as_deref())
            .push_bind(entry.user.as_deref());
    });
}

/// One row, as the SQLite writer inserts it: `VALUES (?1, ..., ?16)`.
static INSERT_ONE: LazyLock<String> = LazyLock::new(|| {
    let placeholders: Vec<String> = (1..=COLUMNS.split(',').count()).map(|index| format!("?{index}")).collect();
    format!("INSERT INTO request_log ({COLUMNS}) VALUES ({})", placeholders.join(", "))
});

/// Inserts entries through the SQLite writer's connection, with its statement prepared once.
pub(crate) fn insert_sqlite(
    connection: &rusqlite::Connection,
    entries: &[RequestLogEntry],
    pace: &mut crate::sqlite_writer::Pace,
) -> Result<(), rusqlite::Error> {
    crate::sqlite_writer::insert_each(connection, &INSERT_ONE, entries, pace, |insert, entry| {
        insert.execute(rusqlite::params![
            entry.id,
            entry.request_id,
            entry.time_unix_ms,
            entry.endpoint,
            entry.model,
            entry.backend,
            i32::from(entry.status),
            entry.stream,
            count_to_stored(entry.tokens_in),
            count_to_stored(entry.tokens_out),
            count_to_stored(entry.latency_ms),
            cost_to_stored(entry.cost_usd),
            entry.error,
            entry.api_key_id,
            entry.tenant,
            entry.user
        ])
    })
}

/// `SELECT ... ORDER BY id DESC LIMIT n` with the query's filters as bound values.
pub(crate) fn list_statement<'args, DB>(query: &'args RequestLogQuery) -> QueryBuilder<'args, DB>
where
    DB: Database,
    DB::Arguments<'args>: Default,
    &'args str: Encode<'args, DB> + Type<DB>,
    i64: Encode<'args, DB> + Type<DB>,
    i32: Encode<'args, DB> + Type<DB>,
{
    let mut statement = QueryBuilder::new(format!("SELECT {COLUMNS} FROM request_log WHERE TRUE"));
    if let Some(before_id) = &query.before_id {
        statement.push(" AND id < ").push_bind(before_id.as_str());
    }
    if let Some(since_unix_ms) = query.since_unix_ms {
        statement.push(" AND time_unix_ms >= ").push_bind(since_unix_ms);
    }
    if let Some(model) = &query.model {
        statement.push(" AND model = ").push_bind(model.as_str());
    }
    if let Some(status) = query.status {
        statement.push(" AND status = ").push_bind(i32::from(status));
    }
    if let Some(tenant) = &query.tenant {
        statement.push(" AND tenant = ").push_bind(tenant.as_str());
    }
    statement.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(effective_limit(query.limit)));
    statement
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_zero_means_default_and_large_limits_are_clamped() {
        assert_eq!(effective_limit(0), DEFAULT_LIST_LIMIT);
        assert_eq!(effective_limit(1), 1);
        assert_eq!(effective_limit(MAX_LIST_LIMIT), MAX_LIST_LIMIT);
        assert_eq!(effective_limit(u32::MAX), MAX_LIST_LIMIT);
    }

    #[test]
    fn counts_saturate_instead_of_wrapping() {
        assert_eq!(count_to_stored(7), 7);
        assert_eq!(count_to_stored(u64::MAX), i64::MAX);
        assert!(count_from_stored("x", "tokens_in", -1).is_err());
    }
}
