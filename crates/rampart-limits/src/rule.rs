//! `[[limits]]` entries as rules: which requests they count, and their counters.

use rampart_config::{LimitConfig, LimitScope, PricePerMillionTokens};
use rampart_core::{LimitWindow, Principal};

/// What a counter measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Meter {
    Requests,
    Tokens,
    /// Spend in nano-dollars (1e-9 USD), so counters stay exact integers.
    Spend,
}

impl Meter {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Meter::Requests => "requests",
            Meter::Tokens => "tokens",
            Meter::Spend => "spend",
        }
    }
}

/// One `[[limits]]` entry, amounts in counter units.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub name: String,
    pub scope: LimitScope,
    pub value: Option<String>,
    pub models: Vec<String>,
    /// (meter, window, limit) for each limit the entry sets.
    pub meters: Vec<(Meter, LimitWindow, i64)>,
}

impl Rule {
    pub(crate) fn from_config(config: &LimitConfig) -> Rule {
        let to_count = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        let mut meters = Vec::new();
        if let Some(rpm) = config.requests_per_minute {
            meters.push((Meter::Requests, LimitWindow::Minute, to_count(rpm)));
        }
        if let Some(tpm) = config.tokens_per_minute {
            meters.push((Meter::Tokens, LimitWindow::Minute, to_count(tpm)));
        }
        if let Some(usd) = config.spend_per_day_usd {
            meters.push((Meter::Spend, LimitWindow::Day, usd_to_nanos(usd)));
        }
        if let Some(usd) = config.spend_per_month_usd {
            meters.push((Meter::Spend, LimitWindow::Month, usd_to_nanos(usd)));
        }
        Rule {
            name: config.name.clone(),
            scope: config.scope,
            value: config.value.clone(),
            models: config.models.clone(),
            meters,
        }
    }

    /// The principal this rule counts the request under, or `None` when it does not apply.
    pub(crate) fn subject<'a>(&'a self, principal: &'a Principal, model: &str) -> Option<&'a str> {
        if !self.models.is_empty() && !self.models.iter().any(|name| name == model) {
            return None;
        }
        self.subject_of(principal)
    }

    /// The principal this rule counts `principal` under, whatever the model.
    pub(crate) fn subject_of<'a>(&'a self, principal: &'a Principal) -> Option<&'a str> {
        let who = match self.scope {
            LimitScope::Global => return Some("*"),
            LimitScope::ApiKey => principal.api_key_id.as_deref(),
            LimitScope::Tenant => principal.tenant.as_deref(),
            LimitScope::User => principal.user.as_deref(),
        }?;
        match &self.value {
            Some(only) if only != who => None,
            _ => Some(who),
        }
    }

    /// A counter's stable identity: rule, scope, principal and meter.
    pub(crate) fn counter(&self, subject: &str, meter: Meter, window: LimitWindow) -> String {
        format!("{}|{}={}|{}/{}", self.name, self.scope.as_str(), subject, meter.name(), window.name())
    }
}

fn usd_to_nanos(usd: f64) -> i64 {
    // Validated finite, positive and below 1e9 dollars, so this fits an i64.
    (usd * 1e9).round() as i64
}

/// What `tokens_in` and `tokens_out` cost at `price`, in nano-dollars, rounded up so a budget
/// is never charged less than the request log records.
pub fn cost_nanos(price: PricePerMillionTokens, tokens_in: u64, tokens_out: u64) -> i64 {
    // Dollars per million tokens are nano-dollars per thousandth of a token.
    let nanos = (tokens_in as f64 * price.input + tokens_out as f64 * price.output) * 1_000.0;
    if nanos.is_finite() && nanos < i64::MAX as f64 { nanos.ceil() as i64 } else { i64::MAX }
}

/// The most output tokens `room` nano-dollars pays for at `price` (unbounded when output is free).
pub(crate) fn affordable_output(price: PricePerMillionTokens, room_nanos: i64) -> u64 {
    if room_nanos <= 0 {
        return 0;
    }
    let per_token = price.output * 1_000.0;
    if per_token <= 0.0 {
        return u64::MAX;
    }
    (room_nanos as f64 / per_token).floor().min(u64::MAX as f64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_is_exact_in_nano_dollars() {
        let price = PricePerMillionTokens { input: 3.0, output: 15.0 };
        // 1000 in at $3/M = $0.003; 100 out at $15/M = $0.0015.
        assert_eq!(cost_nanos(price, 1000, 100), 4_500_000);
        assert_eq!(cost_nanos(PricePerMillionTokens { input: 0.15, output: 0.6 }, 1, 0), 150);
        assert_eq!(affordable_output(price, 15_000), 1);
        assert_eq!(affordable_output(price, 14_999), 0);
        assert_eq!(affordable_output(PricePerMillionTokens::default(), 1), u64::MAX);
    }

    #[test]
    fn rules_pick_their_principals() {
        let config = |scope, value: Option<&str>, models: &[&str]| LimitConfig {
            name: "l".into(),
            scope,
            value: value.map(str::to_owned),
            models: models.iter().map(|model| (*model).to_owned()).collect(),
            requests_per_minute: Some(1),
            tokens_per_minute: None,
            spend_per_day_usd: None,
            spend_per_month_usd: None,
        };
        let acme = Principal { api_key_id: Some("key_1".into()), tenant: Some("acme".into()), user: None };
        assert_eq!(Rule::from_config(&config(LimitScope::Tenant, None, &[])).subject(&acme, "m"), Some("acme"));
        assert_eq!(Rule::from_config(&config(LimitScope::Tenant, Some("other"), &[])).subject(&acme, "m"), None);
        assert_eq!(Rule::from_config(&config(LimitScope::User, None, &[])).subject(&acme, "m"), None);
        assert_eq!(Rule::from_config(&config(LimitScope::Global, None, &["m"])).subject(&acme, "m"), Some("*"));
        assert_eq!(Rule::from_config(&config(LimitScope::Global, None, &["m"])).subject(&acme, "x"), None);
        assert_eq!(Rule::from_config(&config(LimitScope::ApiKey, None, &[])).subject(&acme, "m"), Some("key_1"));
    }
}
