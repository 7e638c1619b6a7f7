//! Commands that read local state: `config check`, `logs`, `version`.

use std::path::Path;

use rampart_core::RequestLogQuery;

use crate::CliError;
use crate::cli::{ConfigCheckArgs, LogsArgs};

pub fn config_check(config_path: Option<&Path>, args: ConfigCheckArgs) -> Result<(), CliError> {
    let loaded = rampart_config::load(config_path)?;
    let effective = loaded.config.redacted();
    if args.json {
        let document = serde_json::json!({"source": loaded.source.label(), "config": effective});
        say!("{}", serde_json::to_string_pretty(&document).map_err(|error| CliError::failed(error.to_string()))?);
    } else {
        let text = toml::to_string_pretty(&effective).map_err(|error| CliError::failed(error.to_string()))?;
        say!("# effective configuration from {} (secrets masked)\n{text}", loaded.source.label());
        eprintln!(
            "config OK: {} backend(s), {} model(s), storage {}",
            effective.backends.len(),
            effective.models.len(),
            effective.storage.effective_url()
        );
    }
    Ok(())
}

pub async fn logs(config_path: Option<&Path>, args: LogsArgs) -> Result<(), CliError> {
    let loaded = rampart_config::load(config_path)?;
    let store = crate::serve::open_store(&loaded.config).await?;
    if !(1..=1000).contains(&args.limit) {
        return Err(CliError::failed(format!("--limit {} is out of range: use 1 to 1000", args.limit)));
    }
    let query = RequestLogQuery {
        limit: args.limit,
        before_id: None,
        since_unix_ms: None,
        model: args.model,
        status: args.status,
        tenant: args.tenant,
    };
    let entries = store.list_requests(&query).await.map_err(|error| CliError::failed(error.to_string()))?;
    if args.json {
        for entry in &entries {
            let line = serde_json::json!({
                "id": entry.id, "request_id": entry.request_id, "time_unix_ms": entry.time_unix_ms,
                "endpoint": entry.endpoint, "model": entry.model, "backend": entry.backend,
                "status": entry.status, "stream": entry.stream, "tokens_in": entry.tokens_in,
                "tokens_out": entry.tokens_out, "latency_ms": entry.latency_ms, "cost_usd": entry.cost_usd,
                "error": entry.error, "api_key_id": entry.api_key_id, "tenant": entry.tenant,
                "user": entry.user,
            });
            say!("{line}");
        }
        return Ok(());
    }
    if entries.is_empty() {
        eprintln!("no requests logged yet in {}", loaded.config.storage.effective_url());
        return Ok(());
    }
    say!(
        "{:<24} {:<17} {:<20} {:<12} {:>6} {:>8} {:>8} {:>9} {:>10}",
        "TIME (UTC)",
        "ENDPOINT",
        "MODEL",
        "BACKEND",
        "STATUS",
        "IN",
        "OUT",
        "LATENCY",
        "COST $"
    );
    for entry in &entries {
        say!(
            "{:<24} {:<17} {:<20} {:<12} {:>6} {:>8} {:>8} {:>7}ms {:>10.6}{}",
            format_time(entry.time_unix_ms),
            entry.endpoint,
            truncate(&entry.model, 20),
            truncate(&entry.backend, 12),
            entry.status,
            entry.tokens_in,
            entry.tokens_out,
            entry.latency_ms,
            entry.cost_usd,
            entry.error.as_ref().map(|error| format!("  {}", truncate(error, 80))).unwrap_or_default(),
        );
    }
    Ok(())
}

pub(crate) fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

fn format_time(unix_ms: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:3]");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ms) * 1_000_000)
        .ok()
        .and_then(|moment| moment.format(&format).ok())
        .unwrap_or_else(|| unix_ms.to_string())
}

pub fn version(json: bool) {
    let version = env!("CARGO_PKG_VERSION");
    if json {
        say!("{}", serde_json::json!({"name": "rampart", "version": version}));
    } else {
        say!("rampart {version}");
    }
}
