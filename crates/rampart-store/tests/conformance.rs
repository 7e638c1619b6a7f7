//! The one conformance suite every `Store` engine passes.
//!
//! Each check is an `async fn(Arc<dyn Store>)` that knows nothing of the engine; the
//! `conformance!` macro runs every check once against a fresh SQLite file and once against a
//! fresh PostgreSQL schema. PostgreSQL is required: it is reached at
//! `postgres://postgres@127.0.0.1:5432/test` unless `RAMPART_TEST_POSTGRES_URL` says otherwise,
//! and a test fails (never skips) when it cannot be reached. Engine-specific behaviour (SQLite
//! durability across reopen, URL forms, errors) is tested after the suite.

// Helpers outside `#[test]` functions are test code too: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use audit::*;
use conversations::*;
use keys::*;
use rampart_core::{RequestLogEntry, RequestLogQuery, Store, StoreError, UsageQuery};
use rampart_store::open_store;
use sqlx::Connection;
use tempfile::TempDir;
use usage::*;
use uuid::Uuid;

/// The audit-log checks.
#[path = "conformance/audit.rs"]
mod audit;
/// The conversation-store checks.
#[path = "conformance/conversations.rs"]
mod conversations;
/// The API-key checks.
#[path = "conformance/keys.rs"]
mod keys;
/// The usage-summary checks, kept in a file of their own.
#[path = "conformance/usage.rs"]
mod usage;

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// 2025-06-15, so every test row has a fixed, recognisable time.
const BASE_TIME_MS: i64 = 1_750_000_000_000;

// ---------------------------------------------------------------------------------------------
// Harnesses: one fresh, empty store per test.

struct SqliteHarness {
    store: Arc<dyn Store>,
    url: String,
    _dir: TempDir,
}

async fn sqlite_harness() -> SqliteHarness {
    let dir = tempfile::tempdir().expect("temporary directory");
    // A nested path, so every test also checks that missing parent directories are created.
    let path = dir.path().join("state").join("rampart.db");
    let url = format!("sqlite://{}", path.display());
    let store = open_store(&url).await.unwrap_or_else(|error| panic!("open {url}: {error}"));
    SqliteHarness { store, url, _dir: dir }
}

struct PostgresHarness {
    store: Arc<dyn Store>,
    admin_url: String,
    schema: String,
}

fn postgres_admin_url() -> String {
    std::env::var("RAMPART_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

/// The URL with `search_path` set to `schema` for every connection of the store's pool.
fn with_search_path(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}")
}

async fn postgres_admin_connection(admin_url: &str) -> sqlx::PgConnection {
    let connect = sqlx::PgConnection::connect(admin_url);
    match tokio::time::timeout(Duration::from_secs(10), connect).await {
        Ok(Ok(connection)) => connection,
        Ok(Err(error)) => panic!(
            "PostgreSQL at {admin_url} is required by the store conformance suite \
             (set RAMPART_TEST_POSTGRES_URL to use another): {error}"
        ),
        Err(_) => panic!(
            "PostgreSQL at {admin_url} is required by the store conformance suite \
             (set RAMPART_TEST_POSTGRES_URL to use another): no answer within 10 s"
        ),
    }
}

/// A store in a schema of its own, so tests running side by side never see each other's rows.
async fn postgres_harness() -> PostgresHarness {
    let admin_url = postgres_admin_url();
    let schema = format!("rampart_test_{}", Uuid::now_v7().simple());
    let mut admin = postgres_admin_connection(&admin_url).await;
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&mut admin).await.expect("create test schema");
    admin.close().await.expect("close admin connection");

    let url = with_search_path(&admin_url, &schema);
    let store = open_store(&url).await.unwrap_or_else(|error| panic!("open {url}: {error}"));
    PostgresHarness { store, admin_url, schema }
}

impl PostgresHarness {
    /// Run after a check passed; a failed check leaves its schema behind to be looked at.
    async fn drop_schema(self) {
        drop(self.store);
        let mut admin = postgres_admin_connection(&self.admin_url).await;
        sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.schema))
            .execute(&mut admin)
            .await
            .expect("drop test schema");
    }
}

/// Direct SQL on a harness's database, as someone with database access (an attacker, in the
/// audit checks) would run it.
pub struct Raw {
    sqlite_url: Option<String>,
    postgres: Option<(String, String)>,
}

impl Raw {
    /// Runs statements; the error text when the database refuses.
    pub async fn try_exec(&self, sql: &str) -> Result<(), String> {
        let outcome = match (&self.sqlite_url, &self.postgres) {
            (Some(url), _) => {
                let mut connection =
                    sqlx::SqliteConnection::connect(url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
                sqlx::raw_sql(sql).execute(&mut connection).await.map(drop)
            }
            (None, Some((admin_url, schema))) => {
                let url = with_search_path(admin_url, schema);
                let mut connection = sqlx::PgConnection::connect(&url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
                sqlx::raw_sql(sql).execute(&mut connection).await.map(drop)
            }
            (None, None) => panic!("a Raw handle names a database"),
        };
        outcome.map_err(|error| error.to_string())
    }

    pub async fn exec(&self, sql: &str) {
        self.try_exec(sql).await.unwrap_or_else(|error| panic!("{sql}: {error}"));
    }

    /// What an attacker with database access does first.
    pub async fn drop_append_only_triggers(&self) {
        if self.sqlite_url.is_some() {
            self.exec("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete").await;
        } else {
            self.exec("DROP TRIGGER audit_log_no_change ON audit_log").await;
        }
    }
}

macro_rules! conformance_with_raw_sql {
    ($($check:ident),+ $(,)?) => {
        mod sqlite_raw {
            $(
                #[tokio::test]
                async fn $check() {
                    let harness = super::sqlite_harness().await;
                    let raw = super::Raw { sqlite_url: Some(harness.url.clone()), postgres: None };
                    super::$check(std::sync::Arc::clone(&harness.store), raw).await;
                }
            )+
        }

        mod postgres_raw {
            $(
                #[tokio::test]
                async fn $check() {
                    let harness = super::postgres_harness().await;
                    let raw = super::Raw {
                        sqlite_url: None,
                        postgres: Some((harness.admin_url.clone(), harness.schema.clone())),
                    };
                    super::$check(std::sync::Arc::clone(&harness.store), raw).await;
                    harness.drop_schema().await;
                }
            )+
        }
    };
}

conformance_with_raw_sql!(
    audit_log_refuses_updates_and_deletes,
    audit_verify_names_an_edited_record,
    audit_verify_names_a_deleted_record,
    audit_verify_names_records_cut_from_the_end,
    audit_verify_names_reordered_records,
    audit_verify_names_an_inserted_record,
);

macro_rules! conformance {
    ($($check:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $check() {
                    let harness = super::sqlite_harness().await;
                    super::$check(std::sync::Arc::clone(&harness.store)).await;
                }
            )+
        }

        mod postgres {
            $(
                #[tokio::test]
                async fn $check() {
                    let harness = super::postgres_harness().await;
                    super::$check(std::sync::Arc::clone(&harness.store)).await;
                    harness.drop_schema().await;
                }
            )+
        }
    };
}

conformance!(
    ping_succeeds,
    empty_store_lists_nothing,
    empty_batch_is_accepted,
    round_trip_keeps_every_field,
    status_and_counter_extremes_round_trip,
    counters_beyond_i64_saturate_and_nan_cost_is_zero,
    lists_newest_first_across_batches,
    limit_and_cursor_paging_covers_every_row_once,
    limit_zero_means_fifty_and_limits_clamp_to_a_thousand,
    filters_by_model,
    filters_by_status,
    filters_by_tenant,
    filters_by_since_inclusively,
    filters_and_cursor_combine,
    records_500_rows_in_one_call,
    failed_batch_stores_nothing,
    usage_totals_per_key_tenant_and_user,
    usage_totals_per_model_backend_and_day,
    usage_filters_match_exactly,
    usage_empty_filter_asks_for_requests_without_one,
    usage_time_bounds_are_since_inclusive_until_exclusive,
    usage_ties_order_by_key_in_byte_order,
    usage_token_sums_saturate_and_extreme_days_report,
    api_keys_round_trip_and_ids_are_unique,
    api_keys_list_per_tenant_newest_first,
    api_keys_revoke_once_and_count_only_active_keys,
    api_keys_last_used_never_moves_backwards,
    audit_appends_from_many_tasks_form_one_clean_chain,
    audit_queries_filter_by_tenant_kind_and_request_newest_first,
    audit_checkpoints_are_kept_once_and_prove_records,
    conversations_round_trip_and_list_newest_first_with_filters,
    conversation_retention_purges_exactly_what_expired_and_erasure_one_user,
    conversation_data_keys_are_one_per_tenant_and_rewrap_together,
);

// ---------------------------------------------------------------------------------------------
// Test data.

/// Entry number `index` of a test; ids are UUIDv7 made in call order, so later is newer.
fn entry(index: usize, model: &str) -> RequestLogEntry {
    let index_u64 = index as u64;
    RequestLogEntry {
        id: Uuid::now_v7().to_string(),
        request_id: format!("req-{index}"),
        time_unix_ms: BASE_TIME_MS + index as i64 * 1000,
        endpoint: "chat.completions".to_owned(),
        model: model.to_owned(),
        backend: "local-vllm".to_owned(),
        status: if index.is_multiple_of(3) { 429 } else { 200 },
        stream: index.is_multiple_of(2),
        tokens_in: index_u64 * 10,
        tokens_out: index_u64 * 3,
        latency_ms: 100 + index_u64,
        cost_usd: index as f64 * 0.000_125,
        error: (index.is_multiple_of(3)).then(|| "rate limited".to_owned()),
        api_key_id: None,
        tenant: None,
        user: None,
    }
}

fn entries(count: usize, model: &str) -> Vec<RequestLogEntry> {
    (0..count).map(|index| entry(index, model)).collect()
}

fn newest_first(entries: &[RequestLogEntry]) -> Vec<RequestLogEntry> {
    let mut sorted = entries.to_vec();
    sorted.sort_by(|left, right| right.id.cmp(&left.id));
    sorted
}

fn limit(limit: u32) -> RequestLogQuery {
    RequestLogQuery { limit, ..RequestLogQuery::default() }
}

async fn record(store: &Arc<dyn Store>, entries: &[RequestLogEntry]) {
    store.record_requests(entries).await.expect("record_requests");
}

async fn list(store: &Arc<dyn Store>, query: &RequestLogQuery) -> Vec<RequestLogEntry> {
    store.list_requests(query).await.expect("list_requests")
}

// ---------------------------------------------------------------------------------------------
// Checks: each runs against every engine.

async fn ping_succeeds(store: Arc<dyn Store>) {
    store.ping().await.expect("ping");
}

async fn empty_store_lists_nothing(store: Arc<dyn Store>) {
    assert_eq!(list(&store, &RequestLogQuery::default()).await, vec![]);
    let filtered = RequestLogQuery {
        limit: 10,
        before_id: Some("ffffffff-ffff-7fff-bfff-ffffffffffff".to_owned()),
        since_unix_ms: Some(0),
        model: Some("gpt-4o".to_owned()),
        status: Some(200),
        tenant: Some("acme".to_owned()),
    };
    assert_eq!(list(&store, &filtered).await, vec![]);
    assert_eq!(store.usage_summary(&UsageQuery::default()).await.expect("usage_summary"), vec![]);
}

async fn empty_batch_is_accepted(store: Arc<dyn Store>) {
    record(&store, &[]).await;
    assert_eq!(list(&store, &RequestLogQuery::default()).await, vec![]);
}

async fn round_trip_keeps_every_field(store: Arc<dyn Store>) {
    let failed = RequestLogEntry {
        id: Uuid::now_v7().to_string(),
        request_id: "client-supplied-id-42".to_owned(),
        time_unix_ms: BASE_TIME_MS + 17,
        endpoint: "embeddings".to_owned(),
        model: "text-embedding-3-small".to_owned(),
        backend: "openai-primary".to_owned(),
        status: 502,
        stream: false,
        tokens_in: 1234,
        tokens_out: 0,
        latency_ms: 30_001,
        cost_usd: 0.000_123_456_789,
        error: Some("upstream said: 'bad gateway' \"twice\"; ünïcode ✓ -- DROP TABLE x".to_owned()),
        api_key_id: Some("key_0123456789abcdef".to_owned()),
        tenant: Some("acmé ✓ 'quoted'".to_owned()),
        user: Some("user-42@example.com".to_owned()),
    };
    let streamed = RequestLogEntry {
        id: Uuid::now_v7().to_string(),
        request_id: "gw-0190".to_owned(),
        time_unix_ms: BASE_TIME_MS + 18,
        endpoint: "chat.completions".to_owned(),
        model: String::new(),
        backend: String::new(),
        status: 200,
        stream: true,
        tokens_in: 5,
        tokens_out: 987_654,
        latency_ms: 0,
        cost_usd: 12.5,
        error: None,
        api_key_id: None,
        tenant: None,
        user: None,
    };
    record(&store, &[failed.clone(), streamed.clone()]).await;

    assert_eq!(list(&store, &RequestLogQuery::default()).await, vec![streamed, failed]);
}

async fn status_and_counter_extremes_round_trip(store: Arc<dyn Store>) {
    let mut lowest = entry(1, "m");
    lowest.status = 0;
    lowest.time_unix_ms = i64::MIN;
    lowest.cost_usd = 0.0;
    let mut highest = entry(2, "m");
    highest.status = u16::MAX;
    highest.time_unix_ms = i64::MAX;
    highest.tokens_in = i64::MAX as u64;
    highest.tokens_out = i64::MAX as u64;
    highest.latency_ms = i64::MAX as u64;
    highest.cost_usd = f64::MAX;
    record(&store, &[lowest.clone(), highest.clone()]).await;

    assert_eq!(list(&store, &RequestLogQuery::default()).await, vec![highest, lowest]);
}

async fn counters_beyond_i64_saturate_and_nan_cost_is_zero(store: Arc<dyn Store>) {
    let mut huge = entry(1, "m");
    huge.tokens_in = u64::MAX;
    huge.tokens_out = i64::MAX as u64 + 1;
    huge.latency_ms = u64::MAX;
    huge.cost_usd = f64::NAN;
    record(&store, std::slice::from_ref(&huge)).await;

    let stored = list(&store, &RequestLogQuery::default()).await;
    let expected = RequestLogEntry {
        tokens_in: i64::MAX as u64,
        tokens_out: i64::MAX as u64,
        latency_ms: i64::MAX as u64,
        cost_usd: 0.0,
        ..huge
    };
    assert_eq!(stored, vec![expected]);
}

async fn lists_newest_first_across_batches(store: Arc<dyn Store>) {
    let all = entries(20, "m");
    for batch in all.chunks(5) {
        record(&store, batch).await;
    }

    let listed = list(&store, &limit(100)).await;
    assert_eq!(listed, newest_first(&all));
    assert_eq!(listed.first().map(|entry| &entry.request_id), Some(&"req-19".to_owned()));
}

async fn limit_and_cursor_paging_covers_every_row_once(store: Arc<dyn Store>) {
    let all = entries(23, "m");
    record(&store, &all).await;

    let mut seen = Vec::new();
    let mut page_sizes = Vec::new();
    let mut query = limit(5);
    loop {
        let page = list(&store, &query).await;
        if page.is_empty() {
            break;
        }
        page_sizes.push(page.len());
        query.before_id = page.last().map(|entry| entry.id.clone());
        seen.extend(page);
    }

    assert_eq!(page_sizes, vec![5, 5, 5, 5, 3]);
    assert_eq!(seen, newest_first(&all));
}

async fn limit_zero_means_fifty_and_limits_clamp_to_a_thousand(store: Arc<dyn Store>) {
    let all = entries(1001, "m");
    record(&store, &all).await;
    let expected = newest_first(&all);

    assert_eq!(list(&store, &limit(0)).await, expected[..50]);
    assert_eq!(list(&store, &limit(1)).await, expected[..1]);
    assert_eq!(list(&store, &limit(1000)).await, expected[..1000]);
    assert_eq!(list(&store, &limit(5000)).await, expected[..1000]);
    assert_eq!(list(&store, &limit(u32::MAX)).await, expected[..1000]);
}

async fn filters_by_model(store: Arc<dyn Store>) {
    let all: Vec<_> =
        (0..12).map(|index| entry(index, if index.is_multiple_of(4) { "llama-3.1-8b" } else { "gpt-4o" })).collect();
    record(&store, &all).await;

    let query = RequestLogQuery { limit: 100, model: Some("llama-3.1-8b".to_owned()), ..RequestLogQuery::default() };
    let expected: Vec<_> = newest_first(&all).into_iter().filter(|entry| entry.model == "llama-3.1-8b").collect();
    assert_eq!(expected.len(), 3);
    assert_eq!(list(&store, &query).await, expected);

    let nobody = RequestLogQuery { model: Some("llama".to_owned()), ..query };
    assert_eq!(list(&store, &nobody).await, vec![], "model matches exactly, not by prefix");
}

async fn filters_by_status(store: Arc<dyn Store>) {
    let all = entries(12, "m");
    record(&store, &all).await;

    let query = RequestLogQuery { limit: 100, status: Some(429), ..RequestLogQuery::default() };
    let expected: Vec<_> = newest_first(&all).into_iter().filter(|entry| entry.status == 429).collect();
    assert_eq!(expected.len(), 4);
    assert_eq!(list(&store, &query).await, expected);
}

async fn filters_by_tenant(store: Arc<dyn Store>) {
    let mut all = entries(6, "m");
    for (index, entry) in all.iter_mut().enumerate() {
        entry.tenant = (index % 3 != 2).then(|| if index % 3 == 0 { "acme" } else { "beta" }.to_owned());
    }
    record(&store, &all).await;
    let query = RequestLogQuery { limit: 100, tenant: Some("acme".to_owned()), ..RequestLogQuery::default() };
    let expected: Vec<_> =
        newest_first(&all).into_iter().filter(|entry| entry.tenant.as_deref() == Some("acme")).collect();
    assert_eq!(expected.len(), 2);
    assert_eq!(list(&store, &query).await, expected);
    let nobody = RequestLogQuery { limit: 100, tenant: Some("nobody".to_owned()), ..RequestLogQuery::default() };
    assert!(list(&store, &nobody).await.is_empty());
}

async fn filters_by_since_inclusively(store: Arc<dyn Store>) {
    let all = entries(12, "m");
    record(&store, &all).await;
    let since = all[8].time_unix_ms;

    let query = RequestLogQuery { limit: 100, since_unix_ms: Some(since), ..RequestLogQuery::default() };
    let expected: Vec<_> = newest_first(&all).into_iter().filter(|entry| entry.time_unix_ms >= since).collect();
    assert_eq!(expected.len(), 4);
    assert_eq!(list(&store, &query).await, expected);
}

async fn filters_and_cursor_combine(store: Arc<dyn Store>) {
    let all: Vec<_> = (0..30).map(|index| entry(index, if index.is_multiple_of(2) { "a" } else { "b" })).collect();
    record(&store, &all).await;
    let since = all[4].time_unix_ms;
    let matches = |entry: &RequestLogEntry| entry.model == "a" && entry.status == 429 && entry.time_unix_ms >= since;
    // Model "a" and status 429 are indexes divisible by 6; since index 4 leaves 6, 12, 18, 24.
    let expected: Vec<_> = newest_first(&all).into_iter().filter(matches).collect();
    assert_eq!(expected.len(), 4);

    let mut query = RequestLogQuery {
        limit: 3,
        before_id: None,
        since_unix_ms: Some(since),
        model: Some("a".to_owned()),
        status: Some(429),
        tenant: None,
    };
    let first_page = list(&store, &query).await;
    assert_eq!(first_page, expected[..3]);
    query.before_id = first_page.last().map(|entry| entry.id.clone());
    assert_eq!(list(&store, &query).await, expected[3..]);
}

async fn records_500_rows_in_one_call(store: Arc<dyn Store>) {
    let all = entries(500, "bulk");
    record(&store, &all).await;

    assert_eq!(list(&store, &limit(1000)).await, newest_first(&all));
}

async fn failed_batch_stores_nothing(store: Arc<dyn Store>) {
    // A duplicate id at the end of a batch longer than one INSERT statement: the rows before
    // it, written by earlier statements of the same transaction, must not be kept either.
    let mut batch = entries(600, "m");
    let duplicate = RequestLogEntry { request_id: "duplicate".to_owned(), ..batch[0].clone() };
    batch.push(duplicate);
    let error = store.record_requests(&batch).await.expect_err("a duplicate id fails the batch");
    assert!(matches!(error, StoreError::Query { .. }), "unexpected error: {error:?}");
    assert_eq!(list(&store, &limit(1000)).await, vec![]);

    // The store is still usable, and a batch clashing with a stored row is refused whole too.
    let kept = entry(1000, "m");
    record(&store, std::slice::from_ref(&kept)).await;
    let clashing = vec![entry(1001, "m"), RequestLogEntry { request_id: "again".to_owned(), ..kept.clone() }];
    assert!(store.record_requests(&clashing).await.is_err());
    assert_eq!(list(&store, &limit(1000)).await, vec![kept]);
}

// ---------------------------------------------------------------------------------------------
// Engine-specific behaviour.

#[tokio::test]
async fn sqlite_acknowledged_writes_survive_reopening_the_file() {
    let harness = sqlite_harness().await;
    let all = entries(40, "durable");
    record(&harness.store, &all).await;
    let SqliteHarness { store, url, _dir } = harness;
    drop(store);

    let reopened = open_store(&url).await.expect("reopen the same file");
    assert_eq!(reopened.engine(), "sqlite");
    assert_eq!(list(&reopened, &limit(1000)).await, newest_first(&all));

    // The journal mode is kept in the file, so a separate connection can confirm it.
    let mut raw = sqlx::SqliteConnection::connect(&url).await.expect("raw connection");
    let journal_mode: String =
        sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut raw).await.expect("read journal mode");
    assert_eq!(journal_mode, "wal");
}

#[tokio::test]
async fn two_sqlite_stores_on_one_file_append_one_clean_audit_chain() {
    // Two processes on one file (a gateway and `rampart keys create`, say): each writer appends
    // after the head it last committed until the other has moved it, then reads it again.
    let harness = sqlite_harness().await;
    let other = open_store(&harness.url).await.expect("a second store on the same file");
    let event = |n: i64| rampart_core::AuditEvent {
        time_unix_ms: BASE_TIME_MS + n,
        tenant: Some("acme".to_owned()),
        kind: "decision".to_owned(),
        actor: None,
        request_id: Some(format!("req-{n}")),
        data: serde_json::json!({ "n": n }),
    };
    let mut expected = 0;
    for n in 0..10 {
        let store = if n % 3 == 0 { &other } else { &harness.store };
        expected += 1;
        assert_eq!(store.append_audit(vec![event(n)]).await.unwrap(), vec![expected]);
    }
    let concurrent = (0..40).map(|n| {
        let store = Arc::clone(if n % 2 == 0 { &other } else { &harness.store });
        tokio::spawn(async move { store.append_audit(vec![event(100 + n)]).await.unwrap() })
    });
    for task in concurrent.collect::<Vec<_>>() {
        assert_eq!(task.await.unwrap().len(), 1);
    }
    for store in [&harness.store, &other] {
        let head = store.audit_head().await.unwrap();
        assert_eq!(head.size, 50);
        let report = rampart_audit::verify_stored_log(store.as_ref(), None, rampart_audit::VerifyRange::default())
            .await
            .unwrap();
        assert!(report.is_clean(), "{:?}", report.first_problem);
        assert_eq!(report.records_checked, 50);
    }
}

#[tokio::test]
async fn sqlite_accepts_single_colon_and_in_memory_urls() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("a").join("b").join("single-colon.db");
    for url in [format!("sqlite:{}", path.display()), "sqlite::memory:".to_owned()] {
        let store = open_store(&url).await.unwrap_or_else(|error| panic!("open {url}: {error}"));
        assert_eq!(store.engine(), "sqlite");
        let all = entries(3, "m");
        record(&store, &all).await;
        assert_eq!(list(&store, &RequestLogQuery::default()).await, newest_first(&all), "{url}");
    }
    assert!(path.exists(), "sqlite:PATH creates the file and its parent directories");
}

#[tokio::test]
async fn a_failed_postgres_write_leaves_no_connection_holding_locks() {
    let harness = postgres_harness().await;
    let kept = entry(1, "m");
    record(&harness.store, std::slice::from_ref(&kept)).await;
    let clashing = vec![entry(2, "m"), RequestLogEntry { request_id: "again".to_owned(), ..kept.clone() }];
    assert!(harness.store.record_requests(&clashing).await.is_err());

    // The failed transaction had inserted a row: had it been left idle in transaction (rolled
    // back only when the pool next hands the connection out), its lock would stop this.
    let mut admin = postgres_admin_connection(&harness.admin_url).await;
    let mut transaction = admin.begin().await.expect("begin");
    sqlx::query("SET LOCAL lock_timeout = '3s'").execute(&mut *transaction).await.expect("set lock_timeout");
    sqlx::query(&format!("LOCK TABLE {}.request_log IN ACCESS EXCLUSIVE MODE", harness.schema))
        .execute(&mut *transaction)
        .await
        .expect("no connection of the store holds a lock on the request log");
    transaction.rollback().await.expect("rollback");
    drop(admin);
    harness.drop_schema().await;
}

#[tokio::test]
async fn both_postgres_schemes_open_the_postgres_engine() {
    let harness = postgres_harness().await;
    assert_eq!(harness.store.engine(), "postgres");
    let other_scheme =
        with_search_path(&harness.admin_url, &harness.schema).replacen("postgres://", "postgresql://", 1);
    let store = open_store(&other_scheme).await.unwrap_or_else(|error| panic!("open {other_scheme}: {error}"));
    assert_eq!(store.engine(), "postgres");
    store.ping().await.expect("ping");
    drop(store);
    harness.drop_schema().await;
}

#[tokio::test]
async fn unreachable_postgres_fails_quickly_with_an_open_error() {
    // Port 1 on loopback: nothing listens there.
    let url = "postgres://rampart:s3cret@127.0.0.1:1/rampart";
    let opened = tokio::time::timeout(Duration::from_secs(15), open_store(url)).await.expect("gave up within 15 s");
    let Err(StoreError::Open { location, detail }) = opened else {
        panic!("expected an Open error, got {:?}", opened.map(|store| store.engine()));
    };
    assert_eq!(location, "postgres://rampart:***@127.0.0.1:1/rampart");
    assert!(detail.contains("refused"), "the cause is named: {detail}");
    assert!(!detail.contains("s3cret") && !location.contains("s3cret"));
}

#[tokio::test]
async fn unsupported_urls_are_refused_naming_the_accepted_schemes() {
    for url in
        ["mysql://root:hunter2@db:3306/rampart", "/var/lib/rampart/rampart.db", "", "sqlite3://x.db", "SQLITE://x.db"]
    {
        match open_store(url).await {
            Err(StoreError::UnsupportedUrl { url: reported, reason }) => {
                assert!(!reported.contains("hunter2"), "password leaked: {reported}");
                for scheme in ["sqlite://", "sqlite::memory:", "postgres://", "postgresql://"] {
                    assert!(reason.contains(scheme), "reason {reason:?} does not name {scheme}");
                }
                let message = StoreError::UnsupportedUrl { url: reported, reason }.to_string();
                assert!(message.contains("not supported"), "{message}");
            }
            other => panic!("{url:?}: expected UnsupportedUrl, got {:?}", other.map(|store| store.engine())),
        }
    }
}
