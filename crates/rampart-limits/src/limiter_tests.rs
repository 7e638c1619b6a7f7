//! The limiter's arithmetic against an in-memory ledger; the engines' own atomicity is
//! tested by rampart-store's ledger conformance suite.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use rampart_config::LimitScope;
use rampart_core::StoreError;

use super::*;

/// A ledger in a map behind one lock: atomic by construction.
#[derive(Default)]
struct MapLedger(Mutex<HashMap<(String, i64), i64>>);

#[async_trait]
impl LimitLedger for MapLedger {
    fn ledger_engine(&self) -> &'static str {
        "map"
    }
    async fn reserve(&self, charges: &[LimitCharge]) -> Result<ReserveOutcome, StoreError> {
        let mut map = self.0.lock().unwrap();
        let used: Vec<i64> =
            charges.iter().map(|c| *map.get(&(c.counter.clone(), c.window_start)).unwrap_or(&0)).collect();
        if charges.iter().zip(&used).any(|(c, used)| used + c.amount > c.limit) {
            return Ok(ReserveOutcome::Exceeded { used });
        }
        for c in charges {
            *map.entry((c.counter.clone(), c.window_start)).or_default() += c.amount;
        }
        Ok(ReserveOutcome::Reserved)
    }
    async fn adjust(&self, charges: &[LimitCharge]) -> Result<(), StoreError> {
        let mut map = self.0.lock().unwrap();
        for c in charges {
            *map.entry((c.counter.clone(), c.window_start)).or_default() += c.amount;
        }
        Ok(())
    }
    async fn read(&self, counters: &[(String, i64)]) -> Result<Vec<i64>, StoreError> {
        let map = self.0.lock().unwrap();
        Ok(counters.iter().map(|key| *map.get(key).unwrap_or(&0)).collect())
    }
}

fn limit(name: &str, scope: LimitScope) -> LimitConfig {
    LimitConfig {
        name: name.into(),
        scope,
        value: None,
        models: Vec::new(),
        requests_per_minute: None,
        tokens_per_minute: None,
        spend_per_day_usd: None,
        spend_per_month_usd: None,
    }
}

const NOW: i64 = 1_709_214_330;
/// $1 per million tokens in and out: a token costs 1000 nano-dollars.
const PRICE: PricePerMillionTokens = PricePerMillionTokens { input: 1.0, output: 1.0 };

fn demand(principal: &Principal, prompt: u64, output: u64, explicit: bool) -> Demand<'_> {
    Demand {
        principal,
        model: "m",
        price: PRICE,
        prompt_tokens: prompt,
        max_output_tokens: output,
        output_is_explicit: explicit,
        now_unix_secs: NOW,
    }
}

fn tenant(name: &str) -> Principal {
    Principal { tenant: Some(name.into()), ..Principal::default() }
}

#[tokio::test]
async fn requests_per_minute_refuse_with_the_reset_time() {
    let limiter = Limiter::new(
        &[LimitConfig { requests_per_minute: Some(2), ..limit("rpm", LimitScope::Tenant) }],
        Arc::new(MapLedger::default()),
    );
    let acme = tenant("acme");
    for _ in 0..2 {
        limiter.admit(&demand(&acme, 10, 10, false)).await.unwrap();
    }
    match limiter.admit(&demand(&acme, 10, 10, false)).await {
        Err(LimitError::RateLimited { limit, retry_after_secs, reset_unix, message }) => {
            assert_eq!(limit, "rpm");
            assert_eq!(reset_unix, 1_709_214_360);
            assert_eq!(retry_after_secs, 30);
            assert!(message.contains("tenant 'acme'") && message.contains("2024-02-29T13:46:00Z"), "{message}");
        }
        other => panic!("expected a rate limit, got {other:?}"),
    }
    // Another tenant has counters of its own; a request without a tenant is not counted.
    limiter.admit(&demand(&tenant("other"), 10, 10, false)).await.unwrap();
    assert!(limiter.admit(&demand(&Principal::default(), 10, 10, false)).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_spend_budget_caps_the_answer_then_refuses_with_insufficient_quota() {
    // $0.001 a day: 1000 tokens at $1/M.
    let ledger = Arc::new(MapLedger::default());
    let limiter =
        Limiter::new(&[LimitConfig { spend_per_day_usd: Some(0.001), ..limit("daily", LimitScope::Global) }], ledger);
    let anyone = Principal::default();
    // 100 in + up to 500 out fits whole.
    let first = limiter.admit(&demand(&anyone, 100, 500, true)).await.unwrap();
    assert_eq!(first.output_cap, None);
    // It used only 50 out: 450 tokens' worth is given back (150 of 1000 spent).
    limiter.settle(&first, Some((100, 50))).await.unwrap();
    // 100 in + 2000 out does not fit: the answer is capped at what is left (750 out).
    let second = limiter.admit(&demand(&anyone, 100, 2000, false)).await.unwrap();
    assert_eq!(second.output_cap, Some(750));
    assert_eq!(second.capped_by.as_deref(), Some("daily"));
    // Now the budget is fully reserved: even the prompt does not fit.
    match limiter.admit(&demand(&anyone, 1, 10, false)).await {
        Err(LimitError::QuotaExceeded { limit, reset_unix, .. }) => {
            assert_eq!(limit, "daily");
            assert_eq!(reset_unix, 1_709_251_200);
        }
        other => panic!("expected an exhausted budget, got {other:?}"),
    }
}

#[tokio::test]
async fn token_rate_limits_never_cut_answers_short() {
    let limiter = Limiter::new(
        &[LimitConfig { tokens_per_minute: Some(1000), ..limit("tpm", LimitScope::Global) }],
        Arc::new(MapLedger::default()),
    );
    let anyone = Principal::default();
    // Without max_tokens only the prompt is reserved; the answer is settled afterwards.
    let permit = limiter.admit(&demand(&anyone, 600, 100_000, false)).await.unwrap();
    assert_eq!(permit.output_cap, None);
    limiter.settle(&permit, Some((600, 300))).await.unwrap();
    // 900 used: a prompt of 50 with max_tokens 100 would pass 1000, so it waits.
    assert!(matches!(limiter.admit(&demand(&anyone, 50, 100, true)).await, Err(LimitError::RateLimited { .. })));
    limiter.admit(&demand(&anyone, 50, 50, true)).await.unwrap();
}

#[tokio::test]
async fn unknown_usage_keeps_the_whole_reservation() {
    let ledger = Arc::new(MapLedger::default());
    let limiter = Limiter::new(
        &[LimitConfig { spend_per_month_usd: Some(1.0), ..limit("monthly", LimitScope::Global) }],
        ledger.clone(),
    );
    let anyone = Principal::default();
    let permit = limiter.admit(&demand(&anyone, 100, 400, true)).await.unwrap();
    limiter.settle(&permit, None).await.unwrap();
    let counter = permit.reserved[0].1.clone();
    let used = ledger.read(&[(counter.counter, counter.window_start)]).await.unwrap();
    assert_eq!(used, vec![500_000]);
}

#[tokio::test]
async fn limits_filtered_by_model_apply_only_to_it() {
    let limiter = Limiter::new(
        &[LimitConfig { requests_per_minute: Some(1), models: vec!["big".into()], ..limit("big", LimitScope::Global) }],
        Arc::new(MapLedger::default()),
    );
    let anyone = Principal::default();
    assert!(limiter.admit(&demand(&anyone, 1, 1, false)).await.unwrap().is_empty());
    assert!(limiter.applies(&anyone, "big"));
    assert!(!limiter.needs_token_count(&anyone, "big"));
    assert!(!limiter.applies(&anyone, "m"));
}
