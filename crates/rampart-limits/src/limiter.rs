//! Admission against every applicable limit, and settlement once the call's usage is known.

use std::sync::Arc;

use rampart_config::{LimitConfig, PricePerMillionTokens};
use rampart_core::{LimitCharge, LimitLedger, LimitWindow, Principal, ReserveOutcome};

use crate::error::LimitError;
use crate::rule::{Meter, Rule, affordable_output, cost_nanos};

/// Reservation attempts before a request that keeps losing races for the last of a budget is
/// refused.
const RESERVE_ATTEMPTS: usize = 3;

/// What one request asks of the limits.
#[derive(Debug, Clone)]
pub struct Demand<'a> {
    pub principal: &'a Principal,
    /// The configured model name (not an alias).
    pub model: &'a str,
    pub price: PricePerMillionTokens,
    /// The prompt's tokens, counted before sending.
    pub prompt_tokens: u64,
    /// The most the answer may take (every choice together); 0 for embeddings.
    pub max_output_tokens: u64,
    /// Whether the client set `max_output_tokens` itself (`max_tokens`). Token rate limits
    /// reserve the answer's tokens only then, and settle the rest from actual usage, as
    /// OpenAI's own limits do; spend budgets always reserve the most the answer may cost.
    pub output_is_explicit: bool,
    pub now_unix_secs: i64,
}

/// An admitted request's reservation, to be settled with [`Limiter::settle`].
#[derive(Debug, Clone, Default)]
pub struct Permit {
    /// Each reserved charge with what it measures.
    reserved: Vec<(Meter, LimitCharge)>,
    price: PricePerMillionTokens,
    /// Set when a budget pays for fewer output tokens than asked: the answer must stop here.
    pub output_cap: Option<u64>,
    /// The limit whose room set `output_cap`.
    pub capped_by: Option<String>,
}

impl Permit {
    /// Whether no limit applied (nothing to settle).
    pub fn is_empty(&self) -> bool {
        self.reserved.is_empty()
    }

    /// Whether a spend budget applies, so the answer must never outgrow its reservation.
    pub fn reserves_spend(&self) -> bool {
        self.reserved.iter().any(|(meter, _)| *meter == Meter::Spend)
    }
}

/// One counter of one limit as [`Limiter::status`] reports it. Spend is in nano-dollars
/// (1e-9 USD); requests and tokens are counts.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitStatus {
    pub limit: String,
    pub scope: &'static str,
    /// The principal counted (`*` for a global limit).
    pub subject: String,
    /// The models the limit is restricted to; empty for all.
    pub models: Vec<String>,
    /// `requests`, `tokens` or `spend`.
    pub meter: &'static str,
    /// `minute`, `day` or `month`.
    pub window: &'static str,
    pub window_start_unix: i64,
    pub resets_at_unix: i64,
    pub max: i64,
    /// Reserved and settled so far in this window (in-flight reservations included).
    pub used: i64,
}

/// The `[[limits]]` rules over one ledger.
pub struct Limiter {
    rules: Vec<Rule>,
    ledger: Arc<dyn LimitLedger>,
}

impl Limiter {
    pub fn new(limits: &[LimitConfig], ledger: Arc<dyn LimitLedger>) -> Limiter {
        Limiter { rules: limits.iter().map(Rule::from_config).collect(), ledger }
    }

    /// Whether any limit could apply to a request for `model` by `principal`.
    pub fn applies(&self, principal: &Principal, model: &str) -> bool {
        self.rules.iter().any(|rule| rule.subject(principal, model).is_some())
    }

    /// Whether some applicable limit counts tokens or spend, so the prompt must be counted.
    pub fn needs_token_count(&self, principal: &Principal, model: &str) -> bool {
        self.rules.iter().any(|rule| {
            rule.subject(principal, model).is_some() && rule.meters.iter().any(|(meter, ..)| *meter != Meter::Requests)
        })
    }

    pub fn ledger_engine(&self) -> &'static str {
        self.ledger.ledger_engine()
    }

    /// Reserves the demand on every applicable counter, capping the answer's length when a
    /// token or spend budget has room for the prompt but not for all of `max_output_tokens`.
    pub async fn admit(&self, demand: &Demand<'_>) -> Result<Permit, LimitError> {
        let counters = self.counters(demand);
        if counters.is_empty() {
            return Ok(Permit::default());
        }
        let mut output = demand.max_output_tokens;
        let mut capped_by = None;
        for _ in 0..RESERVE_ATTEMPTS {
            let charges: Vec<LimitCharge> = counters
                .iter()
                .map(|counter| counter.charge(amount(counter.meter, demand, output), demand.now_unix_secs))
                .collect();
            let used = match self.ledger.reserve(&charges).await? {
                ReserveOutcome::Reserved => {
                    let capped = output < demand.max_output_tokens;
                    return Ok(Permit {
                        reserved: counters.iter().map(|counter| counter.meter).zip(charges).collect(),
                        price: demand.price,
                        output_cap: capped.then_some(output),
                        capped_by: if capped { capped_by } else { None },
                    });
                }
                ReserveOutcome::Exceeded { used } => used,
            };
            // Room left for output on each counter, after the prompt's fixed part.
            let mut affordable = demand.max_output_tokens;
            for (counter, used) in counters.iter().zip(&used) {
                let room = counter.limit.saturating_sub(*used).saturating_sub(amount(counter.meter, demand, 0));
                let fits = match counter.meter {
                    _ if room < 0 => 0,
                    // A rate limit makes the client wait rather than cut its answer short.
                    Meter::Requests | Meter::Tokens if amount(counter.meter, demand, output) > counter.limit - used => {
                        0
                    }
                    Meter::Requests | Meter::Tokens => u64::MAX,
                    Meter::Spend => affordable_output(demand.price, room),
                };
                if room < 0 || (fits == 0 && (demand.max_output_tokens > 0 || counter.meter != Meter::Spend)) {
                    return Err(counter.refusal(demand));
                }
                if fits < affordable {
                    affordable = fits;
                    capped_by = Some(counter.rule.clone());
                }
            }
            output = affordable;
        }
        // Lost the race for the last of a budget every time: refuse on the tightest counter.
        Err(counters[0].refusal(demand))
    }

    /// Settles a permit with the call's actual usage, returning what was reserved and not
    /// used (or charging more, if the upstream used more than was counted). `None` usage keeps
    /// the whole reservation charged: a call whose use is unknown is charged as if it used all
    /// it could.
    pub async fn settle(&self, permit: &Permit, usage: Option<(u64, u64)>) -> Result<(), LimitError> {
        let Some((tokens_in, tokens_out)) = usage else { return Ok(()) };
        let adjustments: Vec<LimitCharge> = permit
            .reserved
            .iter()
            .filter_map(|(meter, charge)| {
                let actual = match meter {
                    Meter::Requests => return None,
                    Meter::Tokens => i64::try_from(tokens_in.saturating_add(tokens_out)).unwrap_or(i64::MAX),
                    Meter::Spend => cost_nanos(permit.price, tokens_in, tokens_out),
                };
                let delta = actual.saturating_sub(charge.amount);
                (delta != 0).then(|| LimitCharge { amount: delta, ..charge.clone() })
            })
            .collect();
        if adjustments.is_empty() {
            return Ok(());
        }
        self.ledger.adjust(&adjustments).await.map_err(LimitError::from)
    }

    /// Every limit that counts `principal`, with each counter's use in its current window.
    pub async fn status(&self, principal: &Principal, now_unix_secs: i64) -> Result<Vec<LimitStatus>, LimitError> {
        let mut statuses = Vec::new();
        let mut keys = Vec::new();
        for rule in &self.rules {
            let Some(subject) = rule.subject_of(principal) else { continue };
            for (meter, window, limit) in &rule.meters {
                let (window_start, window_end) = window.bounds(now_unix_secs);
                keys.push((rule.counter(subject, *meter, *window), window_start));
                statuses.push(LimitStatus {
                    limit: rule.name.clone(),
                    scope: rule.scope.as_str(),
                    subject: subject.to_owned(),
                    models: rule.models.clone(),
                    meter: meter.name(),
                    window: window.name(),
                    window_start_unix: window_start,
                    resets_at_unix: window_end,
                    max: *limit,
                    used: 0,
                });
            }
        }
        if keys.is_empty() {
            return Ok(statuses);
        }
        let used = self.ledger.read(&keys).await?;
        for (status, used) in statuses.iter_mut().zip(used) {
            status.used = used;
        }
        Ok(statuses)
    }

    fn counters(&self, demand: &Demand<'_>) -> Vec<Counter> {
        let mut counters = Vec::new();
        for rule in &self.rules {
            let Some(subject) = rule.subject(demand.principal, demand.model) else { continue };
            for (meter, window, limit) in &rule.meters {
                counters.push(Counter {
                    id: rule.counter(subject, *meter, *window),
                    rule: rule.name.clone(),
                    scope: rule.scope.as_str(),
                    subject: subject.to_owned(),
                    meter: *meter,
                    window: *window,
                    limit: *limit,
                });
            }
        }
        counters
    }
}

/// What a request charges a counter of `meter`, with `output` tokens of answer.
fn amount(meter: Meter, demand: &Demand<'_>, output: u64) -> i64 {
    match meter {
        Meter::Requests => 1,
        Meter::Tokens => {
            let output = if demand.output_is_explicit { output } else { 0 };
            i64::try_from(demand.prompt_tokens.saturating_add(output)).unwrap_or(i64::MAX)
        }
        Meter::Spend => cost_nanos(demand.price, demand.prompt_tokens, output),
    }
}

/// One counter a request is charged on.
struct Counter {
    id: String,
    rule: String,
    scope: &'static str,
    subject: String,
    meter: Meter,
    window: LimitWindow,
    limit: i64,
}

impl Counter {
    fn charge(&self, amount: i64, now_unix_secs: i64) -> LimitCharge {
        let (window_start, window_end) = self.window.bounds(now_unix_secs);
        LimitCharge { counter: self.id.clone(), window_start, window_end, amount, limit: self.limit }
    }

    /// The error for a request this counter has no room for.
    fn refusal(&self, demand: &Demand<'_>) -> LimitError {
        let (_, reset_unix) = self.window.bounds(demand.now_unix_secs);
        let retry_after_secs = u64::try_from(reset_unix - demand.now_unix_secs).unwrap_or(1).max(1);
        let whom =
            if self.scope == "global" { String::new() } else { format!(" for {} '{}'", self.scope, self.subject) };
        let reset = format_reset(reset_unix);
        match self.meter {
            Meter::Requests | Meter::Tokens => LimitError::RateLimited {
                limit: self.rule.clone(),
                message: format!(
                    "rate limit '{}' reached{whom}: {} {} per minute; try again in {retry_after_secs} s (at {reset})",
                    self.rule,
                    self.limit,
                    self.meter.name()
                ),
                retry_after_secs,
                reset_unix,
            },
            Meter::Spend => LimitError::QuotaExceeded {
                limit: self.rule.clone(),
                message: format!(
                    "budget '{}' is spent{whom}: ${:.2} per {}; it resets at {reset}",
                    self.rule,
                    self.limit as f64 / 1e9,
                    self.window.name()
                ),
                retry_after_secs,
                reset_unix,
            },
        }
    }
}

/// A reset time as RFC 3339 UTC.
fn format_reset(unix_secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix_secs)
        .ok()
        .and_then(|at| at.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| format!("{unix_secs} (Unix time)"))
}

#[cfg(test)]
#[path = "limiter_tests.rs"]
mod tests;
