//! Usage accounting: the totals of the request log per key, tenant, user, model, backend or
//! day, as `GET /api/v1/usage` and `rampart usage` report them.

/// What [`crate::Store::usage_summary`] totals requests by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum UsageGroup {
    /// The principal's `api_key_id`.
    ApiKey,
    Tenant,
    User,
    /// The model as the client asked for it (name or alias).
    #[default]
    Model,
    Backend,
    /// The UTC calendar day, `YYYY-MM-DD`.
    Day,
}

impl UsageGroup {
    pub const ALL: [UsageGroup; 6] = [
        UsageGroup::ApiKey,
        UsageGroup::Tenant,
        UsageGroup::User,
        UsageGroup::Model,
        UsageGroup::Backend,
        UsageGroup::Day,
    ];

    /// The name users write (`group_by=key`, `rampart usage --by key`).
    pub fn name(self) -> &'static str {
        match self {
            UsageGroup::ApiKey => "key",
            UsageGroup::Tenant => "tenant",
            UsageGroup::User => "user",
            UsageGroup::Model => "model",
            UsageGroup::Backend => "backend",
            UsageGroup::Day => "day",
        }
    }

    pub fn from_name(name: &str) -> Option<UsageGroup> {
        UsageGroup::ALL.into_iter().find(|group| group.name() == name)
    }
}

/// Which requests [`crate::Store::usage_summary`] totals, and by what. Every filter matches exactly.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsageQuery {
    pub group_by: UsageGroup,
    /// Only requests at or after this time (inclusive).
    pub since_unix_ms: Option<i64>,
    /// Only requests before this time (exclusive), so adjacent windows never count a request twice.
    pub until_unix_ms: Option<i64>,
    pub model: Option<String>,
    pub tenant: Option<String>,
    pub api_key_id: Option<String>,
    pub user: Option<String>,
}

/// The totals of one group of requests.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageRow {
    /// The group's value: empty for requests that had none (no key, tenant or user), the day
    /// as `YYYY-MM-DD` (UTC) when grouped by day.
    pub key: String,
    pub requests: u64,
    /// Requests answered with a status of 400 or more (499: the client went away).
    pub errors: u64,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub cost_usd: f64,
}

#[cfg(test)]
mod tests {
    use super::UsageGroup;

    #[test]
    fn every_group_is_found_by_its_name() {
        for group in UsageGroup::ALL {
            assert_eq!(UsageGroup::from_name(group.name()), Some(group));
        }
        assert_eq!(UsageGroup::from_name("api_key"), None);
        assert_eq!(UsageGroup::from_name("Model"), None, "names are lower case");
    }
}
