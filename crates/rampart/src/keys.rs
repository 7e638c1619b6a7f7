//! `rampart keys`: API keys straight in the configured store, which is how the first admin key
//! is made (the HTTP API needs a key already). Every change is audited like the API's.

use std::path::Path;
use std::sync::Arc;

use rampart_core::{ApiKeyRecord, Role, Store, unix_now_millis};
use rampart_identity::keys::{ApiKeyAuthConfig, ApiKeyAuthenticator, NewApiKey};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::CliError;
use crate::cli::{KeyCreateArgs, KeyListArgs, KeyRevokeArgs, KeysArgs, KeysCommand};

pub async fn run(config_path: Option<&Path>, args: KeysArgs) -> Result<(), CliError> {
    let config = rampart_config::load(config_path)?.config;
    let store = crate::serve::open_store(&config).await?;
    match args.command {
        KeysCommand::Create(create) => create_key(&store, config.audit.enabled, create).await,
        KeysCommand::List(list) => list_keys(&store, list).await,
        KeysCommand::Revoke(revoke) => revoke_key(&store, config.audit.enabled, revoke).await,
    }
}

/// `30d`, `12h`, `2w` back from now; in Unix milliseconds.
pub fn parse_since(value: &str) -> Result<i64, String> {
    crate::usage::span_millis(value)
        .map(|span| unix_now_millis().saturating_sub(span))
        .ok_or_else(|| "use a span back from now: 30m, 24h, 7d, 2w".to_owned())
}

/// `30d`, `12h`, `2w` from now, or an RFC 3339 time; in Unix milliseconds.
pub fn parse_expiry(value: &str) -> Result<i64, String> {
    if let Some(span) = crate::usage::span_millis(value) {
        return Ok(unix_now_millis().saturating_add(span));
    }
    OffsetDateTime::parse(value, &Rfc3339)
        .ok()
        .and_then(|moment| i64::try_from(moment.unix_timestamp_nanos() / 1_000_000).ok())
        .ok_or_else(|| "use a span from now (12h, 30d, 2w) or an RFC 3339 time (2027-01-01T00:00:00Z)".to_owned())
}

fn authenticator(store: &Arc<dyn Store>) -> ApiKeyAuthenticator {
    let key_store: Arc<dyn rampart_core::ApiKeyStore> = store.clone();
    ApiKeyAuthenticator::new(key_store, &ApiKeyAuthConfig::default())
}

pub(crate) async fn audit_admin(
    store: &Arc<dyn Store>,
    enabled: bool,
    tenant: &str,
    data: serde_json::Value,
) -> Result<(), CliError> {
    if !enabled {
        return Ok(());
    }
    let event = rampart_core::AuditEvent {
        time_unix_ms: unix_now_millis(),
        tenant: Some(tenant.to_owned()),
        kind: "admin".to_owned(),
        actor: Some(format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned()))),
        request_id: None,
        data,
    };
    store
        .append_audit(vec![event])
        .await
        .map(drop)
        .map_err(|error| CliError::failed(format!("cannot audit the change: {error}")))
}

async fn create_key(store: &Arc<dyn Store>, audit: bool, args: KeyCreateArgs) -> Result<(), CliError> {
    let roles = args
        .roles
        .iter()
        .map(|name| name.parse::<Role>().map_err(|error| CliError::failed(format!("--role: {error}"))))
        .collect::<Result<Vec<_>, _>>()?;
    if args.tenant.trim().is_empty() {
        return Err(CliError::failed("--tenant must not be empty"));
    }
    if let Some(expires) = args.expires
        && expires <= unix_now_millis()
    {
        return Err(CliError::failed("--expires is in the past: give a span from now (30d) or a future time"));
    }
    let keys = authenticator(store);
    let new =
        NewApiKey { name: args.name, tenant_id: args.tenant, user_id: args.user, roles, expires_unix_ms: args.expires };
    let issued =
        keys.issue_key(new).await.map_err(|error| CliError::failed(format!("cannot create the key: {error}")))?;
    let record = &issued.record;
    let data = json!({ "action": "key.create", "key_id": record.id, "roles": role_names(&record.roles), "expires_unix_ms": record.expires_unix_ms });
    if let Err(error) = audit_admin(store, audit, &record.tenant_id, data).await {
        // Unrecorded, the key must not work.
        let _ = keys.revoke_key(&record.id, unix_now_millis()).await;
        return Err(error);
    }
    if args.json {
        let mut value = key_json(record);
        value["key"] = json!(issued.plaintext);
        say!("{value}");
    } else {
        say!("{}", issued.plaintext);
        eprintln!(
            "created key {} for tenant '{}' ({}); it is shown only now: store it as a secret",
            record.id,
            record.tenant_id,
            role_names(&record.roles).join(", ")
        );
    }
    Ok(())
}

async fn list_keys(store: &Arc<dyn Store>, args: KeyListArgs) -> Result<(), CliError> {
    let keys = store.list_keys(args.tenant.as_deref()).await.map_err(|error| CliError::failed(error.to_string()))?;
    if args.json {
        for key in &keys {
            say!("{}", key_json(key));
        }
        return Ok(());
    }
    say!("{:<14} {:<16} {:<20} {:<10} {}", "ID", "TENANT", "ROLES", "STATE", "NAME");
    let now = unix_now_millis();
    for key in &keys {
        let state = if key.is_revoked() {
            "revoked"
        } else if key.is_expired_at(now) {
            "expired"
        } else {
            "active"
        };
        say!(
            "{:<14} {:<16} {:<20} {:<10} {}",
            key.id,
            crate::commands::truncate(&key.tenant_id, 16),
            role_names(&key.roles).join(","),
            state,
            key.name.as_deref().unwrap_or("")
        );
    }
    Ok(())
}

async fn revoke_key(store: &Arc<dyn Store>, audit: bool, args: KeyRevokeArgs) -> Result<(), CliError> {
    let record =
        store.find_key(&args.id).await.map_err(|error| CliError::failed(error.to_string()))?.ok_or_else(|| {
            CliError::failed(format!("no API key has id '{}'\nhint: `rampart keys list` shows the ids", args.id))
        })?;
    audit_admin(store, audit, &record.tenant_id, json!({ "action": "key.revoke", "key_id": record.id })).await?;
    store.revoke_key(&record.id, unix_now_millis()).await.map_err(|error| CliError::failed(error.to_string()))?;
    eprintln!("revoked key {} (gateways refuse it within their key cache time, 5 s by default)", record.id);
    Ok(())
}

fn role_names(roles: &[Role]) -> Vec<&'static str> {
    roles.iter().map(|role| role.as_str()).collect()
}

fn key_json(key: &ApiKeyRecord) -> serde_json::Value {
    json!({
        "id": key.id,
        "name": key.name,
        "tenant": key.tenant_id,
        "user": key.user_id,
        "roles": role_names(&key.roles),
        "created_unix_ms": key.created_unix_ms,
        "expires_unix_ms": key.expires_unix_ms,
        "revoked_unix_ms": key.revoked_unix_ms,
        "last_used_unix_ms": key.last_used_unix_ms,
    })
}
