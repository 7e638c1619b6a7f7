//! `rampart usage`: the request log totalled per key, tenant, user, model, backend or day, read
//! from the configured storage like `rampart logs`.

use std::path::Path;

use rampart_core::{UsageGroup, UsageQuery, UsageRow, unix_now_millis};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::CliError;
use crate::cli::{UsageArgs, UsageBy};
use crate::commands::truncate;

/// Keys longer than this are cut in the table (never in `--json`).
const MAX_KEY_WIDTH: usize = 48;

pub async fn usage(config_path: Option<&Path>, args: UsageArgs) -> Result<(), CliError> {
    let loaded = rampart_config::load(config_path)?;
    let store = crate::serve::open_store(&loaded.config).await?;
    if let (Some(since), Some(until)) = (args.since, args.until)
        && since > until
    {
        return Err(CliError::failed("--until is before --since: the window would be empty"));
    }
    let filtered = args.since.is_some()
        || args.until.is_some()
        || [&args.model, &args.tenant, &args.key, &args.user].iter().any(|filter| filter.is_some());
    let query = UsageQuery {
        group_by: group(args.by),
        since_unix_ms: args.since,
        until_unix_ms: args.until,
        model: args.model,
        tenant: args.tenant,
        api_key_id: args.key,
        user: args.user,
    };
    let rows = store.usage_summary(&query).await.map_err(|error| CliError::failed(error.to_string()))?;
    if args.json {
        for row in &rows {
            let line =
                serde_json::to_string(&UsageLine::from(row)).map_err(|error| CliError::failed(error.to_string()))?;
            say!("{line}");
        }
        return Ok(());
    }
    let url = loaded.config.storage.effective_url();
    if rows.is_empty() {
        if filtered {
            eprintln!("no logged requests in {url} match these filters");
        } else {
            eprintln!("no requests logged yet in {url}");
        }
        return Ok(());
    }
    for line in table(query.group_by, &rows) {
        say!("{line}");
    }
    Ok(())
}

/// One `--json` line: the fields of `GET /api/v1/usage`'s `data`, in that order.
#[derive(serde::Serialize)]
struct UsageLine<'row> {
    key: &'row str,
    requests: u64,
    errors: u64,
    tokens_in: u64,
    tokens_out: u64,
    cost_usd: f64,
}

impl<'row> From<&'row UsageRow> for UsageLine<'row> {
    fn from(row: &'row UsageRow) -> Self {
        UsageLine {
            key: &row.key,
            requests: row.requests,
            errors: row.errors,
            tokens_in: row.tokens_in,
            tokens_out: row.tokens_out,
            cost_usd: row.cost_usd,
        }
    }
}

fn group(by: UsageBy) -> UsageGroup {
    match by {
        UsageBy::Key => UsageGroup::ApiKey,
        UsageBy::Tenant => UsageGroup::Tenant,
        UsageBy::User => UsageGroup::User,
        UsageBy::Model => UsageGroup::Model,
        UsageBy::Backend => UsageGroup::Backend,
        UsageBy::Day => UsageGroup::Day,
    }
}

/// The rows, a header naming the group, and a TOTAL row; columns as wide as their widest cell.
fn table(group: UsageGroup, rows: &[UsageRow]) -> Vec<String> {
    let mut total =
        UsageRow { key: "TOTAL".to_owned(), requests: 0, errors: 0, tokens_in: 0, tokens_out: 0, cost_usd: 0.0 };
    for row in rows {
        total.requests = total.requests.saturating_add(row.requests);
        total.errors = total.errors.saturating_add(row.errors);
        total.tokens_in = total.tokens_in.saturating_add(row.tokens_in);
        total.tokens_out = total.tokens_out.saturating_add(row.tokens_out);
        total.cost_usd += row.cost_usd;
    }
    let header = [
        group.name().to_uppercase(),
        "REQUESTS".into(),
        "ERRORS".into(),
        "TOKENS IN".into(),
        "TOKENS OUT".into(),
        "COST $".into(),
    ];
    let cells = |row: &UsageRow| {
        let key = if row.key.is_empty() { "(none)".to_owned() } else { truncate(&row.key, MAX_KEY_WIDTH) };
        [
            key,
            row.requests.to_string(),
            row.errors.to_string(),
            row.tokens_in.to_string(),
            row.tokens_out.to_string(),
            format!("{:.6}", row.cost_usd),
        ]
    };
    let mut lines: Vec<[String; 6]> = vec![header];
    lines.extend(rows.iter().map(cells));
    lines.push(cells(&total));
    let mut widths = [0usize; 6];
    for line in &lines {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    lines
        .iter()
        .map(|line| {
            let mut text = pad_right(&line[0], widths[0]);
            for (cell, width) in line.iter().zip(widths).skip(1) {
                text.push_str("  ");
                text.push_str(&format!("{cell:>width$}"));
            }
            text
        })
        .collect()
}

/// Pads by characters, not bytes, so keys with accents line up.
fn pad_right(text: &str, width: usize) -> String {
    let padding = width.saturating_sub(text.chars().count());
    format!("{text}{}", " ".repeat(padding))
}

/// `--since` / `--until`: a span back from now (`90s`, `30m`, `24h`, `7d`, `2w`) or an RFC 3339
/// time, as Unix milliseconds.
pub fn parse_time_arg(value: &str) -> Result<i64, String> {
    if let Some(span_ms) = span_millis(value) {
        return Ok(unix_now_millis().saturating_sub(span_ms));
    }
    OffsetDateTime::parse(value, &Rfc3339)
        .ok()
        .and_then(|moment| i64::try_from(moment.unix_timestamp_nanos() / 1_000_000).ok())
        .ok_or_else(|| {
            "use a span back from now (30m, 24h, 7d, 2w) or an RFC 3339 time (2025-06-15T00:00:00Z)".to_owned()
        })
}

pub(crate) fn span_millis(value: &str) -> Option<i64> {
    let unit_start = value.find(|c: char| !c.is_ascii_digit())?;
    let (count, unit) = value.split_at(unit_start);
    let unit_ms: i64 = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 604_800_000,
        _ => return None,
    };
    count.parse::<i64>().ok()?.checked_mul(unit_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_count_back_from_now() {
        assert_eq!(span_millis("90s"), Some(90_000));
        assert_eq!(span_millis("30m"), Some(1_800_000));
        assert_eq!(span_millis("24h"), Some(86_400_000));
        assert_eq!(span_millis("7d"), Some(604_800_000));
        assert_eq!(span_millis("2w"), Some(1_209_600_000));
        for bad in ["", "d", "7", "7days", "-7d", "7D", "1.5h", "99999999999999999999d"] {
            assert_eq!(span_millis(bad), None, "{bad:?}");
        }
        let before = unix_now_millis();
        let since = parse_time_arg("1h").unwrap();
        assert!((before - 3_600_000..=unix_now_millis() - 3_600_000).contains(&since));
    }

    #[test]
    fn rfc3339_times_are_absolute() {
        assert_eq!(parse_time_arg("2025-06-15T00:00:00Z"), Ok(1_749_945_600_000));
        assert_eq!(parse_time_arg("2025-06-15T02:00:00.5+02:00"), Ok(1_749_945_600_500));
        assert!(parse_time_arg("2025-06-15").unwrap_err().contains("RFC 3339"));
    }

    #[test]
    fn the_table_aligns_columns_and_ends_with_the_total() {
        let row = |key: &str, requests, cost_usd| UsageRow {
            key: key.to_owned(),
            requests,
            errors: 1,
            tokens_in: 1500,
            tokens_out: 20,
            cost_usd,
        };
        let lines = table(UsageGroup::Tenant, &[row("globex", 12, 4.5), row("", 3, 0.000_25)]);
        assert_eq!(
            lines,
            [
                "TENANT  REQUESTS  ERRORS  TOKENS IN  TOKENS OUT    COST $",
                "globex        12       1       1500          20  4.500000",
                "(none)         3       1       1500          20  0.000250",
                "TOTAL         15       2       3000          40  4.500250",
            ]
        );
    }
}
