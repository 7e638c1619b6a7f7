//! The one conformance suite every `LimitLedger` passes: SQLite, PostgreSQL and Redis.
//!
//! Each check is an `async fn` of one ledger (or, for the checks of gateways sharing a ledger,
//! of two ledgers opened separately on the same state, as two gateway processes would) that
//! knows nothing of the engine; the `ledger_conformance!` macro runs every check against a fresh
//! SQLite file, a fresh PostgreSQL schema and a fresh Redis key prefix. PostgreSQL and Redis are
//! required: they are reached at `postgres://postgres@127.0.0.1:5432/test` and
//! `redis://127.0.0.1:6379` unless `RAMPART_TEST_POSTGRES_URL` and `RAMPART_TEST_REDIS_URL` say
//! otherwise, and a test fails (never skips) when one cannot be reached. Engine-specific
//! behaviour (SQLite durability, Redis keys and expiry, URLs, errors) is tested after the suite.

// Helpers outside `#[test]` functions are test code too: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use rampart_core::{LimitCharge, LimitLedger, RequestLogQuery, ReserveOutcome, StoreError, unix_now_secs};
use rampart_store::{RedisLedger, StoreOptions, open_ledger, open_store};
use sqlx::Connection;
use tempfile::TempDir;
use uuid::Uuid;

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
/// The window every check charges unless it says otherwise; its end is set an hour from now,
/// so that no engine prunes or expires a counter while a check runs.
const WINDOW_START: i64 = 1_750_000_000;
const OTHER_WINDOW_START: i64 = WINDOW_START + 60;

// ---------------------------------------------------------------------------------------------
// Harnesses: fresh, empty state per test, and as many ledgers on it as a check needs.

enum Harness {
    Sqlite { url: String, _dir: TempDir },
    Postgres { admin_url: String, schema: String, url: String },
    Redis { url: String, key_prefix: String },
}

async fn sqlite_harness() -> Harness {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("rampart.db").display());
    Harness::Sqlite { url, _dir: dir }
}

fn postgres_admin_url() -> String {
    std::env::var("RAMPART_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

fn redis_url() -> String {
    std::env::var("RAMPART_TEST_REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS_URL.to_owned())
}

async fn postgres_admin_connection(admin_url: &str) -> sqlx::PgConnection {
    let connect = sqlx::PgConnection::connect(admin_url);
    match tokio::time::timeout(Duration::from_secs(10), connect).await {
        Ok(Ok(connection)) => connection,
        Ok(Err(error)) => panic!(
            "PostgreSQL at {admin_url} is required by the ledger conformance suite \
             (set RAMPART_TEST_POSTGRES_URL to use another): {error}"
        ),
        Err(_) => panic!(
            "PostgreSQL at {admin_url} is required by the ledger conformance suite \
             (set RAMPART_TEST_POSTGRES_URL to use another): no answer within 10 s"
        ),
    }
}

/// A schema of its own, so tests running side by side never see each other's counters.
async fn postgres_harness() -> Harness {
    let admin_url = postgres_admin_url();
    let schema = format!("rampart_test_{}", Uuid::now_v7().simple());
    let mut admin = postgres_admin_connection(&admin_url).await;
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&mut admin).await.expect("create test schema");
    admin.close().await.expect("close admin connection");
    let separator = if admin_url.contains('?') { '&' } else { '?' };
    let url = format!("{admin_url}{separator}options=-c%20search_path%3D{schema}");
    Harness::Postgres { admin_url, schema, url }
}

async fn redis_admin_connection(url: &str) -> ::redis::aio::MultiplexedConnection {
    let client = ::redis::Client::open(url).unwrap_or_else(|error| panic!("Redis URL {url}: {error}"));
    match tokio::time::timeout(Duration::from_secs(10), client.get_multiplexed_async_connection()).await {
        Ok(Ok(connection)) => connection,
        Ok(Err(error)) => panic!(
            "Redis at {url} is required by the ledger conformance suite \
             (set RAMPART_TEST_REDIS_URL to use another): {error}"
        ),
        Err(_) => panic!(
            "Redis at {url} is required by the ledger conformance suite \
             (set RAMPART_TEST_REDIS_URL to use another): no answer within 10 s"
        ),
    }
}

/// A key prefix of its own, so tests running side by side never see each other's counters.
async fn redis_harness() -> Harness {
    let url = redis_url();
    // Fails the test here, with the message above, when Redis is not there.
    drop(redis_admin_connection(&url).await);
    Harness::Redis { url, key_prefix: format!("rampart:test:{}:", Uuid::now_v7().simple()) }
}

impl Harness {
    /// One more ledger on the harness's state, as another gateway process would open it.
    async fn ledger(&self) -> Arc<dyn LimitLedger> {
        match self {
            Harness::Sqlite { url, .. } | Harness::Postgres { url, .. } => {
                let store = open_store(url).await.unwrap_or_else(|error| panic!("open {url}: {error}"));
                open_ledger(None, &store, StoreOptions::default()).await.expect("a store is its own ledger")
            }
            Harness::Redis { url, key_prefix } => Arc::new(
                RedisLedger::connect(url, key_prefix).await.unwrap_or_else(|error| panic!("connect {url}: {error}")),
            ),
        }
    }

    /// Run after a check passed; a failed check leaves its state behind to be looked at.
    async fn finish(self) {
        match self {
            Harness::Sqlite { .. } => {}
            Harness::Postgres { admin_url, schema, .. } => {
                let mut admin = postgres_admin_connection(&admin_url).await;
                sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                    .execute(&mut admin)
                    .await
                    .expect("drop test schema");
            }
            Harness::Redis { url, key_prefix } => {
                let mut admin = redis_admin_connection(&url).await;
                let keys: Vec<String> =
                    ::redis::cmd("KEYS").arg(format!("{key_prefix}*")).query_async(&mut admin).await.expect("KEYS");
                if !keys.is_empty() {
                    ::redis::cmd("DEL").arg(keys).query_async::<i64>(&mut admin).await.expect("DEL");
                }
            }
        }
    }
}

macro_rules! ledger_conformance {
    (single: [$($check:ident),+ $(,)?], shared: [$($shared:ident),+ $(,)?] $(,)?) => {
        ledger_conformance!(@engine sqlite, sqlite_harness, [$($check),+], [$($shared),+]);
        ledger_conformance!(@engine postgres, postgres_harness, [$($check),+], [$($shared),+]);
        ledger_conformance!(@engine redis, redis_harness, [$($check),+], [$($shared),+]);
    };
    (@engine $engine:ident, $harness:ident, [$($check:ident),+], [$($shared:ident),+]) => {
        mod $engine {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let harness = super::$harness().await;
                    let ledger = harness.ledger().await;
                    assert_eq!(ledger.ledger_engine(), stringify!($engine));
                    super::$check(ledger).await;
                    harness.finish().await;
                }
            )+
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $shared() {
                    let harness = super::$harness().await;
                    super::$shared(harness.ledger().await, harness.ledger().await).await;
                    harness.finish().await;
                }
            )+
        }
    };
}

ledger_conformance!(
    single: [
        reserves_within_limits_and_reads_back,
        exactly_at_the_limit_is_allowed_one_more_is_not,
        one_short_counter_adds_nothing_and_reports_every_counter,
        windows_of_one_counter_are_independent,
        adjustments_are_unconditional_both_ways,
        unknown_counters_read_zero,
        empty_calls_succeed,
        a_counter_named_twice_is_checked_with_both_amounts,
        counter_names_keep_every_byte,
        values_beyond_double_precision_stay_exact,
    ],
    shared: [
        concurrent_reservations_from_two_gateways_stop_exactly_at_the_limit,
        concurrent_calls_in_opposite_orders_do_not_deadlock,
        gateways_sharing_a_ledger_see_each_other,
    ],
);

// ---------------------------------------------------------------------------------------------
// Test data.

fn charge_in(counter: &str, window_start: i64, amount: i64, limit: i64) -> LimitCharge {
    LimitCharge { counter: counter.to_owned(), window_start, window_end: unix_now_secs() + 3600, amount, limit }
}

fn charge(counter: &str, amount: i64, limit: i64) -> LimitCharge {
    charge_in(counter, WINDOW_START, amount, limit)
}

fn counters(names: &[&str]) -> Vec<(String, i64)> {
    names.iter().map(|name| ((*name).to_owned(), WINDOW_START)).collect()
}

async fn reserve(ledger: &Arc<dyn LimitLedger>, charges: &[LimitCharge]) -> ReserveOutcome {
    ledger.reserve(charges).await.unwrap_or_else(|error| panic!("reserve {charges:?}: {error}"))
}

async fn adjust(ledger: &Arc<dyn LimitLedger>, charges: &[LimitCharge]) {
    ledger.adjust(charges).await.unwrap_or_else(|error| panic!("adjust {charges:?}: {error}"));
}

async fn read(ledger: &Arc<dyn LimitLedger>, names: &[&str]) -> Vec<i64> {
    ledger.read(&counters(names)).await.unwrap_or_else(|error| panic!("read {names:?}: {error}"))
}

fn exceeded(used: &[i64]) -> ReserveOutcome {
    ReserveOutcome::Exceeded { used: used.to_vec() }
}

// ---------------------------------------------------------------------------------------------
// Checks: each runs against every engine.

async fn reserves_within_limits_and_reads_back(ledger: Arc<dyn LimitLedger>) {
    assert_eq!(
        reserve(&ledger, &[charge("requests", 1, 10), charge("tokens", 500, 1000)]).await,
        ReserveOutcome::Reserved
    );
    assert_eq!(
        reserve(&ledger, &[charge("requests", 1, 10), charge("tokens", 300, 1000)]).await,
        ReserveOutcome::Reserved
    );
    assert_eq!(read(&ledger, &["tokens", "requests"]).await, vec![800, 2]);
}

async fn exactly_at_the_limit_is_allowed_one_more_is_not(ledger: Arc<dyn LimitLedger>) {
    assert_eq!(reserve(&ledger, &[charge("c", 4, 5)]).await, ReserveOutcome::Reserved);
    assert_eq!(reserve(&ledger, &[charge("c", 1, 5)]).await, ReserveOutcome::Reserved, "used + amount == limit fits");
    assert_eq!(reserve(&ledger, &[charge("c", 1, 5)]).await, exceeded(&[5]));
    assert_eq!(reserve(&ledger, &[charge("c", 0, 5)]).await, ReserveOutcome::Reserved, "nothing more always fits");
    assert_eq!(read(&ledger, &["c"]).await, vec![5]);
}

async fn one_short_counter_adds_nothing_and_reports_every_counter(ledger: Arc<dyn LimitLedger>) {
    adjust(&ledger, &[charge("a", 2, 0), charge("b", 9, 0)]).await;

    let charges = [charge("a", 1, 10), charge("b", 2, 10), charge("fresh", 1, 10)];
    assert_eq!(reserve(&ledger, &charges).await, exceeded(&[2, 9, 0]), "used is reported for all, in order");
    assert_eq!(read(&ledger, &["a", "b", "fresh"]).await, vec![2, 9, 0], "none of the amounts was added");

    // The short counter is named last this time: still nothing added.
    let charges = [charge("fresh", 1, 10), charge("a", 1, 10), charge("b", 2, 10)];
    assert_eq!(reserve(&ledger, &charges).await, exceeded(&[0, 2, 9]));
    assert_eq!(read(&ledger, &["a", "b", "fresh"]).await, vec![2, 9, 0]);

    let fitting = [charge("fresh", 1, 10), charge("a", 1, 10), charge("b", 1, 10)];
    assert_eq!(reserve(&ledger, &fitting).await, ReserveOutcome::Reserved);
    assert_eq!(read(&ledger, &["a", "b", "fresh"]).await, vec![3, 10, 1]);
}

async fn windows_of_one_counter_are_independent(ledger: Arc<dyn LimitLedger>) {
    assert_eq!(reserve(&ledger, &[charge_in("c", WINDOW_START, 3, 3)]).await, ReserveOutcome::Reserved);
    assert_eq!(reserve(&ledger, &[charge_in("c", WINDOW_START, 1, 3)]).await, exceeded(&[3]));
    assert_eq!(reserve(&ledger, &[charge_in("c", OTHER_WINDOW_START, 2, 3)]).await, ReserveOutcome::Reserved);
    adjust(&ledger, &[charge_in("c", OTHER_WINDOW_START, -1, 0)]).await;

    let windows = [("c".to_owned(), WINDOW_START), ("c".to_owned(), OTHER_WINDOW_START)];
    assert_eq!(ledger.read(&windows).await.expect("read"), vec![3, 1]);
}

async fn adjustments_are_unconditional_both_ways(ledger: Arc<dyn LimitLedger>) {
    assert_eq!(reserve(&ledger, &[charge("c", 5, 10)]).await, ReserveOutcome::Reserved);
    adjust(&ledger, &[charge("c", -3, 10)]).await;
    assert_eq!(read(&ledger, &["c"]).await, vec![2], "a settlement below the estimate gives back the difference");

    adjust(&ledger, &[charge("c", 20, 10)]).await;
    assert_eq!(read(&ledger, &["c"]).await, vec![22], "a settlement is never refused, even past the limit");
    assert_eq!(reserve(&ledger, &[charge("c", 1, 10)]).await, exceeded(&[22]));

    adjust(&ledger, &[charge("refund", -4, 0), charge("c", -22, 0)]).await;
    assert_eq!(read(&ledger, &["refund", "c"]).await, vec![-4, 0], "an unknown counter starts at 0, even going down");
    assert_eq!(reserve(&ledger, &[charge("refund", 5, 1)]).await, ReserveOutcome::Reserved);
    assert_eq!(read(&ledger, &["refund"]).await, vec![1]);
}

async fn unknown_counters_read_zero(ledger: Arc<dyn LimitLedger>) {
    assert_eq!(read(&ledger, &["never", "charged"]).await, vec![0, 0]);
    assert_eq!(ledger.read(&[]).await.expect("read nothing"), Vec::<i64>::new());
    adjust(&ledger, &[charge("known", 7, 0)]).await;
    assert_eq!(read(&ledger, &["never", "known", "never"]).await, vec![0, 7, 0]);
}

async fn empty_calls_succeed(ledger: Arc<dyn LimitLedger>) {
    assert_eq!(reserve(&ledger, &[]).await, ReserveOutcome::Reserved);
    adjust(&ledger, &[]).await;
}

async fn a_counter_named_twice_is_checked_with_both_amounts(ledger: Arc<dyn LimitLedger>) {
    assert_eq!(reserve(&ledger, &[charge("c", 3, 5), charge("c", 3, 5)]).await, exceeded(&[0, 0]));
    assert_eq!(read(&ledger, &["c"]).await, vec![0]);
    assert_eq!(reserve(&ledger, &[charge("c", 2, 5), charge("c", 3, 5)]).await, ReserveOutcome::Reserved);
    adjust(&ledger, &[charge("c", -1, 0), charge("c", -1, 0)]).await;
    assert_eq!(read(&ledger, &["c"]).await, vec![3]);
}

async fn counter_names_keep_every_byte(ledger: Arc<dyn LimitLedger>) {
    // Separators, quotes and SQL in names; "a:1" in window 2 is not "a" in window "1:2".
    let names = ["tenant:acmé ✓ 'quoted' \"twice\"", "a:1", "a", "x'; DROP TABLE limit_counters; --", "A"];
    for (index, name) in names.iter().enumerate() {
        adjust(&ledger, &[charge_in(name, 2, index as i64 + 1, 0)]).await;
    }
    let asked: Vec<(String, i64)> = names.iter().map(|name| ((*name).to_owned(), 2)).collect();
    assert_eq!(ledger.read(&asked).await.expect("read"), vec![1, 2, 3, 4, 5]);
    assert_eq!(ledger.read(&[("a".to_owned(), 1)]).await.expect("read"), vec![0]);
}

async fn values_beyond_double_precision_stay_exact(ledger: Arc<dyn LimitLedger>) {
    let huge = (1_i64 << 60) + 1;
    adjust(&ledger, &[charge("c", huge, 0)]).await;
    assert_eq!(read(&ledger, &["c"]).await, vec![huge]);
    assert_eq!(reserve(&ledger, &[charge("c", 1, 10)]).await, exceeded(&[huge]));
    assert_eq!(reserve(&ledger, &[charge("c", 2, i64::MAX)]).await, ReserveOutcome::Reserved);
    assert_eq!(read(&ledger, &["c"]).await, vec![huge + 2]);
}

async fn concurrent_reservations_from_two_gateways_stop_exactly_at_the_limit(
    first: Arc<dyn LimitLedger>,
    second: Arc<dyn LimitLedger>,
) {
    let attempts: Vec<_> = (0..200)
        .map(|index| {
            let ledger = Arc::clone(if index % 2 == 0 { &first } else { &second });
            tokio::spawn(async move { ledger.reserve(&[charge("shared", 1, 50)]).await })
        })
        .collect();
    let mut reserved = 0;
    for attempt in attempts {
        match attempt.await.expect("task") {
            Ok(ReserveOutcome::Reserved) => reserved += 1,
            Ok(ReserveOutcome::Exceeded { used }) => assert_eq!(used, vec![50], "refused only once full"),
            Err(error) => panic!("a reservation failed: {error}"),
        }
    }
    assert_eq!(reserved, 50);
    assert_eq!(read(&first, &["shared"]).await, vec![50]);
    assert_eq!(read(&second, &["shared"]).await, vec![50]);
}

async fn concurrent_calls_in_opposite_orders_do_not_deadlock(
    first: Arc<dyn LimitLedger>,
    second: Arc<dyn LimitLedger>,
) {
    let calls: Vec<_> = (0..200)
        .map(|index| {
            let ledger = Arc::clone(if index % 2 == 0 { &first } else { &second });
            let (one, other) = if index % 4 < 2 { ("left", "right") } else { ("right", "left") };
            let charges = [charge(one, 1, 1_000), charge(other, 1, 1_000)];
            tokio::spawn(async move {
                if index % 3 == 0 {
                    ledger.adjust(&charges).await.map(|()| ReserveOutcome::Reserved)
                } else {
                    ledger.reserve(&charges).await
                }
            })
        })
        .collect();
    let all = async {
        for call in calls {
            assert_eq!(call.await.expect("task").expect("no call fails"), ReserveOutcome::Reserved);
        }
    };
    tokio::time::timeout(Duration::from_secs(60), all).await.expect("every call finished within 60 s");
    assert_eq!(read(&first, &["left", "right"]).await, vec![200, 200]);
}

async fn gateways_sharing_a_ledger_see_each_other(first: Arc<dyn LimitLedger>, second: Arc<dyn LimitLedger>) {
    assert_eq!(reserve(&first, &[charge("c", 10, 10)]).await, ReserveOutcome::Reserved);
    assert_eq!(reserve(&second, &[charge("c", 1, 10)]).await, exceeded(&[10]));
    adjust(&second, &[charge("c", -4, 10)]).await;
    assert_eq!(read(&first, &["c"]).await, vec![6]);
    assert_eq!(reserve(&first, &[charge("c", 4, 10)]).await, ReserveOutcome::Reserved);
    assert_eq!(read(&second, &["c"]).await, vec![10]);
}

// ---------------------------------------------------------------------------------------------
// Engine-specific behaviour.

#[tokio::test]
async fn sqlite_acknowledged_reservations_survive_reopening_the_file() {
    let harness = sqlite_harness().await;
    let ledger = harness.ledger().await;
    let reservations: Vec<_> = (0..30)
        .map(|_| {
            let ledger = Arc::clone(&ledger);
            tokio::spawn(async move { ledger.reserve(&[charge("durable", 1, 100)]).await })
        })
        .collect();
    for reservation in reservations {
        assert_eq!(reservation.await.expect("task").expect("reserve"), ReserveOutcome::Reserved);
    }
    adjust(&ledger, &[charge("durable", -5, 0)]).await;
    drop(ledger);

    let reopened = harness.ledger().await;
    assert_eq!(read(&reopened, &["durable"]).await, vec![25]);
    harness.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_in_memory_store_keeps_counters_beside_the_request_log() {
    // One pooled connection, shared by the counters' writer, reads and the request log.
    let store = open_store("sqlite::memory:").await.expect("open in-memory store");
    let ledger = open_ledger(None, &store, StoreOptions::default()).await.expect("the store is its own ledger");
    let reservations: Vec<_> = (0..40)
        .map(|_| {
            let ledger = Arc::clone(&ledger);
            tokio::spawn(async move { ledger.reserve(&[charge("memory", 1, 30)]).await })
        })
        .collect();
    let listing = store.list_requests(&RequestLogQuery::default()).await;
    assert_eq!(listing.expect("the request log stays usable"), vec![]);
    let mut reserved = 0;
    for reservation in reservations {
        if reservation.await.expect("task").expect("reserve") == ReserveOutcome::Reserved {
            reserved += 1;
        }
    }
    assert_eq!(reserved, 30);
    assert_eq!(read(&ledger, &["memory"]).await, vec![30]);
}

#[tokio::test]
async fn postgres_prunes_counters_an_hour_after_their_window() {
    let harness = postgres_harness().await;
    let ledger = harness.ledger().await;
    let now = unix_now_secs();
    adjust(&ledger, &[LimitCharge { window_end: now - 2 * 3600, ..charge("expired", 7, 0) }]).await;
    // A second ledger (another process) prunes on its first call, in the background.
    let other = harness.ledger().await;
    adjust(&other, &[charge("current", 1, 0)]).await;
    let pruned = async {
        while read(&other, &["expired"]).await != vec![0] {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), pruned).await.expect("the expired counter was pruned");
    assert_eq!(read(&other, &["current"]).await, vec![1]);
    harness.finish().await;
}

#[tokio::test]
async fn redis_keys_carry_the_prefix_and_expire_an_hour_after_the_window() {
    let harness = redis_harness().await;
    let Harness::Redis { url, key_prefix } = &harness else { unreachable!() };
    let ledger = harness.ledger().await;
    let reserved = charge("tokens", 5, 10);
    assert_eq!(reserve(&ledger, std::slice::from_ref(&reserved)).await, ReserveOutcome::Reserved);

    let mut admin = redis_admin_connection(url).await;
    let key = format!("{key_prefix}tokens:{WINDOW_START}");
    let value: String = ::redis::cmd("GET").arg(&key).query_async(&mut admin).await.expect("GET");
    assert_eq!(value, "5");
    let expire_at: i64 = ::redis::cmd("EXPIRETIME").arg(&key).query_async(&mut admin).await.expect("EXPIRETIME");
    assert_eq!(expire_at, reserved.window_end + 3600);
    harness.finish().await;
}

#[tokio::test]
async fn redis_counters_holding_garbage_fail_calls_and_change_nothing() {
    let harness = redis_harness().await;
    let Harness::Redis { url, key_prefix } = &harness else { unreachable!() };
    let ledger = harness.ledger().await;
    let mut admin = redis_admin_connection(url).await;
    let key = format!("{key_prefix}garbage:{WINDOW_START}");
    ::redis::cmd("SET").arg(&key).arg("12abc").query_async::<()>(&mut admin).await.expect("SET");

    for error in [
        ledger.reserve(&[charge("fine", 1, 10), charge("garbage", 1, 10)]).await.map(|_| ()).expect_err("reserve"),
        ledger.adjust(&[charge("fine", 1, 10), charge("garbage", 1, 10)]).await.expect_err("adjust"),
        ledger.read(&counters(&["garbage"])).await.map(|_| ()).expect_err("read"),
    ] {
        let StoreError::Query { detail } = error else { panic!("expected a Query error, got {error:?}") };
        assert!(detail.contains("not an integer") && detail.contains("127.0.0.1"), "{detail}");
    }
    assert_eq!(read(&ledger, &["fine"]).await, vec![0], "nothing was added to the counter beside it");
    harness.finish().await;
}

#[tokio::test]
async fn unreachable_redis_fails_quickly_with_an_open_error_without_the_password() {
    // Port 1 on loopback: nothing listens there.
    for url in ["redis://:s3cret@127.0.0.1:1/0", "rediss://rampart:s3cret@127.0.0.1:1"] {
        let connecting = RedisLedger::connect(url, RedisLedger::DEFAULT_KEY_PREFIX);
        let connected = tokio::time::timeout(Duration::from_secs(15), connecting).await.expect("gave up within 15 s");
        let Err(StoreError::Open { location, detail }) = connected else {
            panic!("{url}: expected an Open error, got {connected:?}");
        };
        assert!(location.starts_with("redis") && location.contains(":***@127.0.0.1:1"), "{location}");
        assert!(detail.contains("Redis"), "the message says what to check: {detail}");
        assert!(!detail.contains("s3cret") && !location.contains("s3cret"));
    }
}

#[tokio::test]
async fn open_ledger_picks_the_engine_by_url_and_defaults_to_the_store() {
    let harness = sqlite_harness().await;
    let Harness::Sqlite { url, .. } = &harness else { unreachable!() };
    let store = open_store(url).await.expect("open store");

    let own = open_ledger(None, &store, StoreOptions::default()).await.expect("no URL: the store");
    assert_eq!(own.ledger_engine(), "sqlite");
    assert_eq!(reserve(&own, &[charge("c", 2, 10)]).await, ReserveOutcome::Reserved);
    assert_eq!(store.read(&counters(&["c"])).await.expect("read through the store"), vec![2], "the very same store");

    let redis = open_ledger(Some(&redis_url()), &store, StoreOptions::default()).await.expect("a Redis URL");
    assert_eq!(redis.ledger_engine(), "redis");

    let other_dir = tempfile::tempdir().expect("temporary directory");
    let other_url = format!("sqlite:{}", other_dir.path().join("limits.db").display());
    let other = open_ledger(Some(&other_url), &store, StoreOptions::default()).await.expect("another SQLite file");
    assert_eq!(other.ledger_engine(), "sqlite");
    assert_eq!(read(&other, &["c"]).await, vec![0], "a ledger of its own");

    for url in ["mysql://root:hunter2@db:3306/rampart", "REDIS://x", "memcached://x"] {
        match open_ledger(Some(url), &store, StoreOptions::default()).await {
            Err(StoreError::UnsupportedUrl { url: reported, reason }) => {
                assert!(!reported.contains("hunter2"), "password leaked: {reported}");
                for scheme in ["redis://", "rediss://", "sqlite://", "postgres://"] {
                    assert!(reason.contains(scheme), "reason {reason:?} does not name {scheme}");
                }
            }
            other => panic!("{url}: expected UnsupportedUrl, got {:?}", other.map(|ledger| ledger.ledger_engine())),
        }
    }
    harness.finish().await;
}

#[tokio::test]
async fn open_ledger_opens_a_postgres_url() {
    let harness = postgres_harness().await;
    let Harness::Postgres { url, .. } = &harness else { unreachable!() };
    let store = open_store("sqlite::memory:").await.expect("open in-memory store");
    let ledger = open_ledger(Some(url), &store, StoreOptions::default()).await.expect("a PostgreSQL URL");
    assert_eq!(ledger.ledger_engine(), "postgres");
    assert_eq!(reserve(&ledger, &[charge("c", 1, 1)]).await, ReserveOutcome::Reserved);
    drop(ledger);
    harness.finish().await;
}
