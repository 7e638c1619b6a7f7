//! `Store::usage_summary` checks, run against every engine by the `conformance!` macro.
//!
//! One fixed set of requests (`charged_requests`) with totals worked out by hand, so each
//! expectation below is a number someone can check on paper. Costs are exact binary fractions,
//! so sums are exact whatever order an engine adds them in.

use std::sync::Arc;

use rampart_core::{RequestLogEntry, Store, UsageGroup, UsageQuery, UsageRow};
use uuid::Uuid;

use super::{BASE_TIME_MS, record};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;
/// 2025-06-15T00:00:00Z, the first of the three days the requests span.
const DAY_0: i64 = BASE_TIME_MS - BASE_TIME_MS % DAY_MS;
const DAY_1: i64 = DAY_0 + DAY_MS;
const DAY_2: i64 = DAY_1 + DAY_MS;

/// (key, requests, errors, tokens_in, tokens_out, cost_usd)
type Expected<'a> = &'a [(&'a str, u64, u64, u64, u64, f64)];

struct Charged {
    api_key_id: Option<&'static str>,
    tenant: Option<&'static str>,
    user: Option<&'static str>,
    model: &'static str,
    backend: &'static str,
    time_unix_ms: i64,
    status: u16,
    tokens_in: u64,
    tokens_out: u64,
    cost_usd: f64,
}

impl Charged {
    fn entry(&self) -> RequestLogEntry {
        RequestLogEntry {
            id: Uuid::now_v7().to_string(),
            request_id: "req".to_owned(),
            time_unix_ms: self.time_unix_ms,
            endpoint: "chat.completions".to_owned(),
            model: self.model.to_owned(),
            backend: self.backend.to_owned(),
            status: self.status,
            stream: false,
            tokens_in: self.tokens_in,
            tokens_out: self.tokens_out,
            latency_ms: 5,
            cost_usd: self.cost_usd,
            error: (self.status >= 400).then(|| "failed".to_owned()),
            api_key_id: self.api_key_id.map(str::to_owned),
            tenant: self.tenant.map(str::to_owned),
            user: self.user.map(str::to_owned),
        }
    }
}

#[rustfmt::skip]
fn charged_requests() -> Vec<RequestLogEntry> {
    let row = |api_key_id, tenant, user, model, backend, time_unix_ms, status, tokens_in, tokens_out, cost_usd| {
        Charged { api_key_id, tenant, user, model, backend, time_unix_ms, status, tokens_in, tokens_out, cost_usd }.entry()
    };
    vec![
        //   key            tenant          user           model    backend   time                  status  in    out  cost
        row(Some("key_a"), Some("acme"),   Some("alice"), "gpt",   "openai", DAY_0 + HOUR_MS,      200,    100,  10,  1.0),
        row(Some("key_a"), Some("acme"),   Some("bob"),   "gpt",   "openai", DAY_0 + 2 * HOUR_MS,  200,    200,  20,  2.0),
        row(Some("key_a"), Some("acme"),   Some("alice"), "llama", "vllm",   DAY_1,                400,    50,   0,   0.0),
        row(Some("key_b"), Some("globex"), Some("carol"), "gpt",   "openai", DAY_1 + 5 * HOUR_MS,  200,    400,  40,  4.0),
        row(Some("key_b"), Some("globex"), None,          "llama", "vllm",   DAY_2 - 1,            499,    10,   0,   0.0),
        row(Some("key_b"), None,           None,          "llama", "vllm",   DAY_2,                200,    1000, 100, 0.5),
        row(None,          None,           None,          "nope",  "",       DAY_2 + 4 * HOUR_MS,  404,    0,    0,   0.0),
        row(None,          Some("acme"),   Some("dave"),  "gpt",   "openai", DAY_2 + 6 * HOUR_MS,  200,    8,    2,   0.25),
    ]
}

async fn store_with_charged_requests(store: &Arc<dyn Store>) {
    record(store, &charged_requests()).await;
}

fn by(group_by: UsageGroup) -> UsageQuery {
    UsageQuery { group_by, ..UsageQuery::default() }
}

/// The summary for `query` is exactly `expected`, in that order.
async fn check(store: &Arc<dyn Store>, query: &UsageQuery, expected: Expected<'_>) {
    let expected: Vec<UsageRow> = expected
        .iter()
        .map(|&(key, requests, errors, tokens_in, tokens_out, cost_usd)| UsageRow {
            key: key.to_owned(),
            requests,
            errors,
            tokens_in,
            tokens_out,
            cost_usd,
        })
        .collect();
    let summary = store.usage_summary(query).await.expect("usage_summary");
    assert_eq!(summary, expected, "{query:?}");
}

pub(crate) async fn usage_totals_per_key_tenant_and_user(store: Arc<dyn Store>) {
    store_with_charged_requests(&store).await;
    check(
        &store,
        &by(UsageGroup::ApiKey),
        &[("key_b", 3, 1, 1410, 140, 4.5), ("key_a", 3, 1, 350, 30, 3.0), ("", 2, 1, 8, 2, 0.25)],
    )
    .await;
    check(
        &store,
        &by(UsageGroup::Tenant),
        &[("globex", 2, 1, 410, 40, 4.0), ("acme", 4, 1, 358, 32, 3.25), ("", 2, 1, 1000, 100, 0.5)],
    )
    .await;
    check(
        &store,
        &by(UsageGroup::User),
        &[
            ("carol", 1, 0, 400, 40, 4.0),
            ("bob", 1, 0, 200, 20, 2.0),
            ("alice", 2, 1, 150, 10, 1.0),
            ("", 3, 2, 1010, 100, 0.5),
            ("dave", 1, 0, 8, 2, 0.25),
        ],
    )
    .await;
}

pub(crate) async fn usage_totals_per_model_backend_and_day(store: Arc<dyn Store>) {
    store_with_charged_requests(&store).await;
    let by_model = [("gpt", 4, 0, 708, 72, 7.25), ("llama", 3, 2, 1060, 100, 0.5), ("nope", 1, 1, 0, 0, 0.0)];
    check(&store, &by(UsageGroup::Model), &by_model).await;
    check(&store, &UsageQuery::default(), &by_model).await;
    check(
        &store,
        &by(UsageGroup::Backend),
        &[("openai", 4, 0, 708, 72, 7.25), ("vllm", 3, 2, 1060, 100, 0.5), ("", 1, 1, 0, 0, 0.0)],
    )
    .await;
    // Midnight belongs to the day it starts; the last millisecond before it to the day before.
    check(
        &store,
        &by(UsageGroup::Day),
        &[
            ("2025-06-16", 3, 2, 460, 40, 4.0),
            ("2025-06-15", 2, 0, 300, 30, 3.0),
            ("2025-06-17", 3, 1, 1008, 102, 0.75),
        ],
    )
    .await;
}

pub(crate) async fn usage_filters_match_exactly(store: Arc<dyn Store>) {
    store_with_charged_requests(&store).await;
    let tenant_acme = UsageQuery { tenant: Some("acme".to_owned()), ..by(UsageGroup::ApiKey) };
    check(&store, &tenant_acme, &[("key_a", 3, 1, 350, 30, 3.0), ("", 1, 0, 8, 2, 0.25)]).await;

    let key_b = UsageQuery { api_key_id: Some("key_b".to_owned()), ..by(UsageGroup::Model) };
    check(&store, &key_b, &[("gpt", 1, 0, 400, 40, 4.0), ("llama", 2, 1, 1010, 100, 0.5)]).await;

    let alice = UsageQuery { user: Some("alice".to_owned()), ..by(UsageGroup::Day) };
    check(&store, &alice, &[("2025-06-15", 1, 0, 100, 10, 1.0), ("2025-06-16", 1, 1, 50, 0, 0.0)]).await;

    let llama = UsageQuery { model: Some("llama".to_owned()), ..by(UsageGroup::Tenant) };
    check(&store, &llama, &[("", 1, 0, 1000, 100, 0.5), ("acme", 1, 1, 50, 0, 0.0), ("globex", 1, 1, 10, 0, 0.0)])
        .await;

    let all_at_once = UsageQuery {
        tenant: Some("acme".to_owned()),
        user: Some("alice".to_owned()),
        model: Some("gpt".to_owned()),
        api_key_id: Some("key_a".to_owned()),
        ..by(UsageGroup::Backend)
    };
    check(&store, &all_at_once, &[("openai", 1, 0, 100, 10, 1.0)]).await;

    for nobody in [
        UsageQuery { tenant: Some("acm".to_owned()), ..by(UsageGroup::Model) },
        UsageQuery { api_key_id: Some("KEY_A".to_owned()), ..by(UsageGroup::Model) },
        UsageQuery { user: Some("alice' OR '1'='1".to_owned()), ..by(UsageGroup::Model) },
        UsageQuery { model: Some("gp".to_owned()), ..by(UsageGroup::Model) },
    ] {
        check(&store, &nobody, &[]).await;
    }
}

pub(crate) async fn usage_empty_filter_asks_for_requests_without_one(store: Arc<dyn Store>) {
    store_with_charged_requests(&store).await;
    let no_tenant = UsageQuery { tenant: Some(String::new()), ..by(UsageGroup::ApiKey) };
    check(&store, &no_tenant, &[("key_b", 1, 0, 1000, 100, 0.5), ("", 1, 1, 0, 0, 0.0)]).await;
    let no_key = UsageQuery { api_key_id: Some(String::new()), ..by(UsageGroup::Tenant) };
    check(&store, &no_key, &[("acme", 1, 0, 8, 2, 0.25), ("", 1, 1, 0, 0, 0.0)]).await;
    let no_user = UsageQuery { user: Some(String::new()), ..by(UsageGroup::User) };
    check(&store, &no_user, &[("", 3, 2, 1010, 100, 0.5)]).await;
}

pub(crate) async fn usage_time_bounds_are_since_inclusive_until_exclusive(store: Arc<dyn Store>) {
    store_with_charged_requests(&store).await;
    let day_1 = UsageQuery { since_unix_ms: Some(DAY_1), until_unix_ms: Some(DAY_2), ..by(UsageGroup::Day) };
    check(&store, &day_1, &[("2025-06-16", 3, 2, 460, 40, 4.0)]).await;
    let from_day_2 = UsageQuery { since_unix_ms: Some(DAY_2), ..by(UsageGroup::Day) };
    check(&store, &from_day_2, &[("2025-06-17", 3, 1, 1008, 102, 0.75)]).await;
    let before_day_1 = UsageQuery { until_unix_ms: Some(DAY_1), ..by(UsageGroup::ApiKey) };
    check(&store, &before_day_1, &[("key_a", 2, 0, 300, 30, 3.0)]).await;
    let one_millisecond =
        UsageQuery { since_unix_ms: Some(DAY_2 - 1), until_unix_ms: Some(DAY_2), ..by(UsageGroup::Tenant) };
    check(&store, &one_millisecond, &[("globex", 1, 1, 10, 0, 0.0)]).await;
    let empty_window = UsageQuery { since_unix_ms: Some(DAY_1), until_unix_ms: Some(DAY_1), ..by(UsageGroup::Model) };
    check(&store, &empty_window, &[]).await;
}

pub(crate) async fn usage_ties_order_by_key_in_byte_order(store: Arc<dyn Store>) {
    // A locale collation would put "a" before "B"; byte order puts upper case first.
    let tied = ["b", "B", "a", "_", "ä"].map(|tenant| {
        Charged {
            api_key_id: None,
            tenant: Some(tenant),
            user: None,
            model: "m",
            backend: "x",
            time_unix_ms: BASE_TIME_MS,
            status: 200,
            tokens_in: 1,
            tokens_out: 1,
            cost_usd: 0.5,
        }
        .entry()
    });
    record(&store, &tied).await;
    check(
        &store,
        &by(UsageGroup::Tenant),
        &[
            ("B", 1, 0, 1, 1, 0.5),
            ("_", 1, 0, 1, 1, 0.5),
            ("a", 1, 0, 1, 1, 0.5),
            ("b", 1, 0, 1, 1, 0.5),
            ("ä", 1, 0, 1, 1, 0.5),
        ],
    )
    .await;
}

pub(crate) async fn usage_token_sums_saturate_and_extreme_days_report(store: Arc<dyn Store>) {
    let extreme = |time_unix_ms, tokens| {
        Charged {
            api_key_id: Some("huge"),
            tenant: None,
            user: None,
            model: "m",
            backend: "x",
            time_unix_ms,
            status: 200,
            tokens_in: tokens,
            tokens_out: tokens,
            cost_usd: 1.0,
        }
        .entry()
    };
    let max = i64::MAX as u64;
    record(&store, &[extreme(i64::MIN, max), extreme(-1, max), extreme(0, 3), extreme(i64::MAX, 4)]).await;

    check(&store, &by(UsageGroup::ApiKey), &[("huge", 4, 0, max, max, 4.0)]).await;
    // Days beyond the calendar stay day numbers (days since 1970) instead of failing the report.
    let first_day = i64::MIN.div_euclid(DAY_MS).to_string();
    let last_day = i64::MAX.div_euclid(DAY_MS).to_string();
    let mut expected_days = vec![
        (first_day.as_str(), 1, 0, max, max, 1.0),
        ("1969-12-31", 1, 0, max, max, 1.0),
        ("1970-01-01", 1, 0, 3, 3, 1.0),
        (last_day.as_str(), 1, 0, 4, 4, 1.0),
    ];
    expected_days.sort_by(|left, right| left.0.cmp(right.0));
    check(&store, &by(UsageGroup::Day), &expected_days).await;
}
