//! `usage_summary`, shared by both engines: one `GROUP BY` over `request_log`, whose grouping
//! column is chosen from a fixed set of expressions and whose filters are bound values.

use rampart_core::{StoreError, UsageGroup, UsageQuery, UsageRow};
use sqlx::{Database, Encode, QueryBuilder, Type};

/// Where the engines' SQL differs: summing counters without overflow.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// A sum of a counter column, saturating at `i64::MAX` (the stored counters already do), so
    /// that one absurd row cannot fail every report that includes it.
    fn saturating_sum(self, column: &str) -> String {
        match self {
            // SQLite's SUM fails on integer overflow; TOTAL sums as a float (exact below 2^53)
            // and CAST to INTEGER saturates at i64::MAX.
            Dialect::Sqlite => format!("CAST(TOTAL({column}) AS INTEGER)"),
            // PostgreSQL's SUM of BIGINT is an exact NUMERIC; LEAST caps it before the cast.
            Dialect::Postgres => format!("CAST(LEAST(SUM({column}), 9223372036854775807) AS BIGINT)"),
        }
    }

    fn cost_sum(self) -> &'static str {
        match self {
            // TOTAL is 0.0, never NULL or an integer, whatever the rows hold.
            Dialect::Sqlite => "TOTAL(cost_usd)",
            Dialect::Postgres => "SUM(cost_usd)",
        }
    }
}

/// Julian day number of 1970-01-01.
const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;

/// Whole days since 1970-01-01 (UTC), rounded down on both engines alike (integer division
/// truncates towards zero on both); cannot overflow, whatever the row holds.
const DAY_NUMBER: &str = "CASE WHEN time_unix_ms < 0 AND time_unix_ms % 86400000 <> 0 \
                          THEN time_unix_ms / 86400000 - 1 ELSE time_unix_ms / 86400000 END";

/// The grouping expression, always text; requests with no key, tenant or user group under ''.
fn group_expression(group: UsageGroup) -> String {
    match group {
        UsageGroup::ApiKey => "COALESCE(api_key_id, '')".to_owned(),
        UsageGroup::Tenant => "COALESCE(tenant, '')".to_owned(),
        UsageGroup::User => "COALESCE(end_user, '')".to_owned(),
        UsageGroup::Model => "model".to_owned(),
        UsageGroup::Backend => "backend".to_owned(),
        UsageGroup::Day => format!("CAST({DAY_NUMBER} AS TEXT)"),
    }
}

/// One group as the engines return it: signed integers, and the day as a day number.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct StoredUsage {
    usage_key: String,
    requests: i64,
    errors: i64,
    tokens_in: i64,
    tokens_out: i64,
    cost_usd: f64,
}

/// `SELECT key, COUNT(*), ... GROUP BY key` with the query's filters as bound values.
pub(crate) fn summary_statement<'args, DB>(query: &'args UsageQuery, dialect: Dialect) -> QueryBuilder<'args, DB>
where
    DB: Database,
    DB::Arguments<'args>: Default,
    &'args str: Encode<'args, DB> + Type<DB>,
    i64: Encode<'args, DB> + Type<DB>,
{
    let key = group_expression(query.group_by);
    let mut statement = QueryBuilder::new(format!(
        "SELECT {key} AS usage_key, COUNT(*) AS requests, \
         SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS errors, \
         {tokens_in} AS tokens_in, {tokens_out} AS tokens_out, {cost} AS cost_usd \
         FROM request_log WHERE TRUE",
        tokens_in = dialect.saturating_sum("tokens_in"),
        tokens_out = dialect.saturating_sum("tokens_out"),
        cost = dialect.cost_sum(),
    ));
    if let Some(since_unix_ms) = query.since_unix_ms {
        statement.push(" AND time_unix_ms >= ").push_bind(since_unix_ms);
    }
    if let Some(until_unix_ms) = query.until_unix_ms {
        statement.push(" AND time_unix_ms < ").push_bind(until_unix_ms);
    }
    if let Some(model) = &query.model {
        statement.push(" AND model = ").push_bind(model.as_str());
    }
    for (column, value) in [("api_key_id", &query.api_key_id), ("tenant", &query.tenant), ("end_user", &query.user)] {
        match value.as_deref() {
            // '' is how a missing value is reported, so it is also how one is asked for.
            Some("") => {
                statement.push(format!(" AND ({column} IS NULL OR {column} = '')"));
            }
            Some(value) => {
                statement.push(format!(" AND {column} = ")).push_bind(value);
            }
            None => {}
        }
    }
    statement.push(format!(" GROUP BY {key}"));
    statement
}

/// The groups as [`UsageRow`]s, highest cost first, then by key in byte order (sorted here,
/// not in SQL, so that the database's collation cannot change the order).
pub(crate) fn into_rows(group: UsageGroup, stored: Vec<StoredUsage>) -> Result<Vec<UsageRow>, StoreError> {
    let mut rows = stored.into_iter().map(|row| row.into_usage_row(group)).collect::<Result<Vec<_>, _>>()?;
    rows.sort_by(|left, right| right.cost_usd.total_cmp(&left.cost_usd).then_with(|| left.key.cmp(&right.key)));
    Ok(rows)
}

impl StoredUsage {
    fn into_usage_row(self, group: UsageGroup) -> Result<UsageRow, StoreError> {
        let key = match group {
            UsageGroup::Day => day_key(&self.usage_key),
            _ => self.usage_key,
        };
        let total = |column: &str, value: i64| {
            u64::try_from(value).map_err(|_| StoreError::Query {
                detail: format!("the usage total of {column} for '{key}' is {value}, which is out of range"),
            })
        };
        Ok(UsageRow {
            requests: total("requests", self.requests)?,
            errors: total("errors", self.errors)?,
            tokens_in: total("tokens_in", self.tokens_in)?,
            tokens_out: total("tokens_out", self.tokens_out)?,
            cost_usd: self.cost_usd,
            key,
        })
    }
}

/// A day number as `YYYY-MM-DD`; one beyond the calendar `time` knows stays a number rather than
/// failing the report.
fn day_key(day_number: &str) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    day_number
        .parse::<i64>()
        .ok()
        .and_then(|day| day.checked_add(UNIX_EPOCH_JULIAN_DAY))
        .and_then(|julian_day| i32::try_from(julian_day).ok())
        .and_then(|julian_day| time::Date::from_julian_day(julian_day).ok())
        .and_then(|date| date.format(&format).ok())
        .unwrap_or_else(|| day_number.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_become_utc_dates() {
        assert_eq!(day_key("0"), "1970-01-01");
        assert_eq!(day_key("-1"), "1969-12-31");
        assert_eq!(day_key(&(1_750_000_000_000_i64 / 86_400_000).to_string()), "2025-06-15");
        assert_eq!(day_key("106751991167300"), "106751991167300", "beyond the calendar: kept as a number");
    }
}
