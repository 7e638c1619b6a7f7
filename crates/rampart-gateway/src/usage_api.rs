//! `GET /api/v1/usage`: requests, errors, tokens and cost from the request log, totalled per
//! API key, tenant, user, model, backend or day.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use rampart_core::{UsageGroup, UsageQuery, UsageRow};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UsageParams {
    /// What to total by: `key`, `tenant`, `user`, `model` (the default), `backend` or `day` (UTC).
    #[param(example = "tenant")]
    pub group_by: Option<String>,
    /// Only requests at or after this time: Unix milliseconds or RFC 3339
    /// (`2025-06-15T00:00:00Z`; write `+` in an offset as `%2B`).
    pub since: Option<String>,
    /// Only requests before this time (exclusive), in the same forms as `since`.
    pub until: Option<String>,
    /// Only this model, as the client named it (name or alias).
    pub model: Option<String>,
    /// Only this tenant (`x-rampart-tenant`); empty: only requests that named none.
    pub tenant: Option<String>,
    /// Only this API key id (`key_` and 16 hex digits, as reported here); empty: only requests
    /// without a bearer token.
    pub key: Option<String>,
    /// Only this end user (`user` field or `x-rampart-user`); empty: only requests that named none.
    pub user: Option<String>,
}

/// Totals of one group.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageGroupTotals {
    /// The group's value; empty for requests without one, `YYYY-MM-DD` when grouped by day.
    pub key: String,
    pub requests: u64,
    /// Requests answered with status 400 or more.
    pub errors: u64,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub cost_usd: f64,
}

/// Totals over every group.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct UsageTotals {
    pub requests: u64,
    pub errors: u64,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub cost_usd: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageReport {
    /// `key`, `tenant`, `user`, `model`, `backend` or `day`.
    pub group_by: &'static str,
    /// The window's start in Unix milliseconds (inclusive), if one was asked for.
    pub since: Option<i64>,
    /// The window's end in Unix milliseconds (exclusive), if one was asked for.
    pub until: Option<i64>,
    /// Highest cost first, then by key.
    pub data: Vec<UsageGroupTotals>,
    pub total: UsageTotals,
}

#[utoipa::path(get, path = "/api/v1/usage", tag = "rampart", params(UsageParams),
    responses((status = 200, description = "Usage totals per group", body = UsageReport),
              (status = 400, description = "Bad query", body = rampart_types::ErrorResponse),
              (status = 503, description = "The request log is unavailable", body = rampart_types::ErrorResponse)))]
pub async fn usage_summary(
    State(state): State<Arc<AppState>>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    params: Result<Query<UsageParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<UsageReport>, ApiError> {
    let Query(mut params) = params.map_err(|rejection| ApiError::invalid(rejection.body_text(), None))?;
    // Everyone but admins and auditors totals their own tenant only.
    params.tenant = caller.tenant_scope(params.tenant.as_deref())?.or(params.tenant);
    let query = usage_query(params)?;
    let rows = state.store.usage_summary(&query).await.map_err(|error| ApiError::Unavailable {
        message: format!("the request log is unavailable: {error}"),
        retry_after_secs: 5,
    })?;
    Ok(Json(report(&query, rows)))
}

fn usage_query(params: UsageParams) -> Result<UsageQuery, ApiError> {
    let group_by = match params.group_by.as_deref() {
        None => UsageGroup::Model,
        Some(name) => UsageGroup::from_name(name).ok_or_else(|| {
            ApiError::invalid(
                format!("'group_by' is '{name}': use one of key, tenant, user, model, backend, day"),
                Some("group_by"),
            )
        })?,
    };
    let since_unix_ms = params.since.as_deref().map(|since| parse_time("since", since)).transpose()?;
    let until_unix_ms = params.until.as_deref().map(|until| parse_time("until", until)).transpose()?;
    if let (Some(since), Some(until)) = (since_unix_ms, until_unix_ms)
        && since > until
    {
        return Err(ApiError::invalid(
            format!("'until' ({until}) is before 'since' ({since}): the window would be empty"),
            Some("until"),
        ));
    }
    Ok(UsageQuery {
        group_by,
        since_unix_ms,
        until_unix_ms,
        model: params.model,
        tenant: params.tenant,
        api_key_id: params.key,
        user: params.user,
    })
}

/// Unix milliseconds, or an RFC 3339 time. A query string decodes an unescaped `+` as a space,
/// so an offset written `+02:00` is read back as such.
fn parse_time(param: &'static str, value: &str) -> Result<i64, ApiError> {
    if let Ok(unix_ms) = value.trim().parse::<i64>() {
        return Ok(unix_ms);
    }
    let rfc3339 = OffsetDateTime::parse(value.trim(), &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(&value.trim().replace(' ', "+"), &Rfc3339));
    rfc3339.ok().and_then(|moment| i64::try_from(moment.unix_timestamp_nanos() / 1_000_000).ok()).ok_or_else(|| {
        ApiError::invalid(
            format!("'{param}' is '{value}': use Unix milliseconds or an RFC 3339 time such as 2025-06-15T00:00:00Z"),
            Some(param),
        )
    })
}

fn report(query: &UsageQuery, rows: Vec<UsageRow>) -> UsageReport {
    let mut total = UsageTotals::default();
    for row in &rows {
        total.requests = total.requests.saturating_add(row.requests);
        total.errors = total.errors.saturating_add(row.errors);
        total.tokens_in = total.tokens_in.saturating_add(row.tokens_in);
        total.tokens_out = total.tokens_out.saturating_add(row.tokens_out);
        total.cost_usd += row.cost_usd;
    }
    let data = rows
        .into_iter()
        .map(|row| UsageGroupTotals {
            key: row.key,
            requests: row.requests,
            errors: row.errors,
            tokens_in: row.tokens_in,
            tokens_out: row.tokens_out,
            cost_usd: row.cost_usd,
        })
        .collect();
    UsageReport { group_by: query.group_by.name(), since: query.since_unix_ms, until: query.until_unix_ms, data, total }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(group_by: Option<&str>, since: Option<&str>, until: Option<&str>) -> UsageParams {
        UsageParams {
            group_by: group_by.map(str::to_owned),
            since: since.map(str::to_owned),
            until: until.map(str::to_owned),
            model: None,
            tenant: None,
            key: None,
            user: None,
        }
    }

    fn bad_param(result: Result<UsageQuery, ApiError>) -> Option<String> {
        match result {
            Err(ApiError::InvalidRequest { param, .. }) => param,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn group_names_map_to_groups() {
        assert_eq!(usage_query(params(None, None, None)).unwrap().group_by, UsageGroup::Model);
        for group in UsageGroup::ALL {
            assert_eq!(usage_query(params(Some(group.name()), None, None)).unwrap().group_by, group);
        }
        assert_eq!(bad_param(usage_query(params(Some("api_key"), None, None))).as_deref(), Some("group_by"));
        assert_eq!(bad_param(usage_query(params(Some(""), None, None))).as_deref(), Some("group_by"));
    }

    #[test]
    fn times_are_unix_milliseconds_or_rfc3339() {
        let check = |value: &str| parse_time("since", value).ok();
        assert_eq!(check("1750000000000"), Some(1_750_000_000_000));
        assert_eq!(check("-5"), Some(-5));
        assert_eq!(check("2025-06-15T00:00:00Z"), Some(1_749_945_600_000));
        assert_eq!(check("2025-06-15T02:00:00.250+02:00"), Some(1_749_945_600_250));
        assert_eq!(check("2025-06-15T02:00:00 02:00"), Some(1_749_945_600_000), "an unescaped + reads as a space");
        for bad in ["", "yesterday", "2025-06-15", "7d", "1.5"] {
            assert_eq!(check(bad), None, "{bad:?}");
        }
        let until_first = usage_query(params(None, Some("2000"), Some("1000")));
        assert_eq!(bad_param(until_first).as_deref(), Some("until"));
        assert_eq!(bad_param(usage_query(params(None, None, Some("soon")))).as_deref(), Some("until"));
        let empty_window = usage_query(params(None, Some("1000"), Some("1000"))).unwrap();
        assert_eq!((empty_window.since_unix_ms, empty_window.until_unix_ms), (Some(1000), Some(1000)));
    }

    #[test]
    fn the_total_sums_every_group() {
        let row = |key: &str, requests, cost_usd| UsageRow {
            key: key.to_owned(),
            requests,
            errors: 1,
            tokens_in: u64::MAX,
            tokens_out: 2,
            cost_usd,
        };
        let query = UsageQuery { group_by: UsageGroup::Tenant, since_unix_ms: Some(7), ..UsageQuery::default() };
        let report = report(&query, vec![row("acme", 3, 1.5), row("", 2, 0.25)]);
        assert_eq!((report.group_by, report.since, report.until), ("tenant", Some(7), None));
        assert_eq!(report.data.len(), 2);
        let total = &report.total;
        assert_eq!((total.requests, total.errors, total.tokens_in, total.tokens_out), (5, 2, u64::MAX, 4));
        assert_eq!(total.cost_usd, 1.75);
    }
}
