//! `rampart conversations`: read, export, purge and erase encrypted conversation history
//! straight from the configured storage, and rotate its master key. Every access is audited
//! before anything is shown; an audit write that fails stops the command.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Subcommand};
use rampart_config::Config;
use rampart_conversations::{Conversation, ConversationLog, MasterKey, rotate_master_key};
use rampart_core::{ConversationQuery, ConversationRecord, Store, unix_now_millis};
use serde_json::json;

use crate::CliError;

#[derive(Debug, Args)]
pub struct ConversationsArgs {
    #[command(subcommand)]
    pub command: ConversationsCommand,
}

#[derive(Debug, Subcommand)]
pub enum ConversationsCommand {
    /// List conversations, newest first (metadata only: nothing is decrypted).
    List(ListArgs),
    /// Decrypt and print one conversation.
    Show(ShowArgs),
    /// Decrypt and write conversations as JSON Lines.
    Export(ExportArgs),
    /// Delete expired conversations (`--expired`) or every conversation of one user
    /// (`--tenant T --user U --yes`: the right to erasure).
    Purge(PurgeArgs),
    /// Re-wrap every tenant's data key under a new master key (conversations are not
    /// re-encrypted); then point `[conversations] master_key_file` at the new key.
    RotateKey(RotateArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(long)]
    pub tenant: Option<String>,
    #[arg(long)]
    pub user: Option<String>,
    /// `24h`, `7d`, `2w` back from now.
    #[arg(long, value_parser = crate::keys::parse_since)]
    pub since: Option<i64>,
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    pub id: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[arg(long)]
    pub tenant: Option<String>,
    #[arg(long)]
    pub user: Option<String>,
    #[arg(long, value_parser = crate::keys::parse_since)]
    pub since: Option<i64>,
    /// A file to write, or `-` for standard output.
    #[arg(long, default_value = "-")]
    pub out: String,
}

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Delete what retention has expired.
    #[arg(long)]
    pub expired: bool,
    #[arg(long)]
    pub tenant: Option<String>,
    #[arg(long)]
    pub user: Option<String>,
    /// Confirms an erasure.
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// The new master key (32 bytes, base64 or hex); created (mode 0600) if it does not exist.
    #[arg(long)]
    pub new_key_file: PathBuf,
}

/// The configured master key: `master_key_env`, else the key file. `create` makes the file
/// when it is missing (the server does, on first start with conversations on).
pub fn master_key(config: &Config, create: bool) -> Result<MasterKey, CliError> {
    let section = &config.conversations;
    let hint = "hint: set [conversations] master_key_file or master_key_env";
    if let Some(variable) = &section.master_key_env {
        return MasterKey::from_env(variable).map_err(|error| CliError::failed(format!("{error}\n{hint}")));
    }
    let path = section.effective_master_key_file(&config.storage.effective_data_dir());
    if create && !path.exists() {
        tracing::info!(path = %path.display(), "created the conversation master key");
        return MasterKey::generate_file(&path).map_err(|error| CliError::failed(format!("{error}\n{hint}")));
    }
    check_private(&path)?;
    MasterKey::from_file(&path).map_err(|error| CliError::failed(format!("{error}\n{hint}")))
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), CliError> {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(metadata) = std::fs::metadata(path)
        && metadata.permissions().mode() & 0o077 != 0
    {
        return Err(CliError::failed(format!(
            "the conversation master key {} is readable by other users: run `chmod 600 {}`",
            path.display(),
            path.display()
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_: &Path) -> Result<(), CliError> {
    Ok(())
}

pub async fn run(config_path: Option<&Path>, args: ConversationsArgs) -> Result<(), CliError> {
    let config = rampart_config::load(config_path)?.config;
    let store = crate::serve::open_store(&config).await?;
    if !config.conversations.enabled {
        eprintln!("note: [conversations] enabled = false: nothing new is recorded; existing history is still readable");
    }
    let audit = config.audit.enabled;
    match args.command {
        ConversationsCommand::List(list) => list_conversations(&store, list).await,
        ConversationsCommand::Show(show) => {
            let log = ConversationLog::new(master_key(&config, false)?, store.clone());
            let record = store.get_conversation(&show.id).await.map_err(failed)?.ok_or_else(|| {
                CliError::failed(format!("no conversation '{}': list them with `rampart conversations list`", show.id))
            })?;
            crate::keys::audit_admin(
                &store,
                audit,
                &record.tenant,
                json!({"action": "conversations.show", "id": record.id}),
            )
            .await?;
            let conversation = log.open(record).await.map_err(failed)?;
            print_conversation(&conversation, show.json)
        }
        ConversationsCommand::Export(export) => export_conversations(&config, &store, audit, export).await,
        ConversationsCommand::Purge(args) => purge(&config, &store, audit, args).await,
        ConversationsCommand::RotateKey(rotate) => {
            let old = master_key(&config, false)?;
            let new = if rotate.new_key_file.exists() {
                MasterKey::from_file(&rotate.new_key_file).map_err(failed)?
            } else {
                MasterKey::generate_file(&rotate.new_key_file).map_err(failed)?
            };
            crate::keys::audit_admin(
                &store,
                audit,
                "*",
                json!({"action": "conversations.rotate_key", "from": old.id(), "to": new.id()}),
            )
            .await?;
            let count = rotate_master_key(store.as_ref(), &old, &new).await.map_err(failed)?;
            eprintln!(
                "re-wrapped {count} data key(s) from master key {} to {}; now set [conversations] master_key_file = \"{}\"",
                old.id(),
                new.id(),
                rotate.new_key_file.display()
            );
            Ok(())
        }
    }
}

fn failed(error: impl std::fmt::Display) -> CliError {
    CliError::failed(error.to_string())
}

fn metadata_json(record: &ConversationRecord) -> serde_json::Value {
    json!({
        "id": record.id, "tenant": record.tenant, "user": record.user, "request_id": record.request_id,
        "model": record.model, "created_unix_ms": record.created_unix_ms, "expires_unix_ms": record.expires_unix_ms,
        "pii_tags": record.pii_tags,
    })
}

async fn list_conversations(store: &Arc<dyn Store>, args: ListArgs) -> Result<(), CliError> {
    let query =
        ConversationQuery { tenant: args.tenant, user: args.user, since_unix_ms: args.since, limit: args.limit };
    let records = store.list_conversations(&query).await.map_err(failed)?;
    if args.json {
        for record in &records {
            say!("{}", metadata_json(record));
        }
        return Ok(());
    }
    say!("{:<36}  {:<12}  {:<12}  {:<16}  {:<13}  PII", "ID", "TENANT", "USER", "MODEL", "CREATED (ms)");
    for record in &records {
        say!(
            "{:<36}  {:<12}  {:<12}  {:<16}  {:<13}  {}",
            record.id,
            record.tenant,
            record.user.as_deref().unwrap_or("-"),
            record.model,
            record.created_unix_ms,
            record.pii_tags.join(",")
        );
    }
    Ok(())
}

fn print_conversation(conversation: &Conversation, as_json: bool) -> Result<(), CliError> {
    if as_json {
        say!("{}", serde_json::to_string(conversation).map_err(failed)?);
        return Ok(());
    }
    say!(
        "id: {}\ntenant: {}\nuser: {}\nmodel: {}",
        conversation.id,
        conversation.tenant,
        conversation.user.as_deref().unwrap_or("-"),
        conversation.model
    );
    say!("messages: {}", serde_json::to_string_pretty(&conversation.content.messages).map_err(failed)?);
    say!("response: {}", serde_json::to_string_pretty(&conversation.content.response).map_err(failed)?);
    Ok(())
}

async fn export_conversations(
    config: &Config,
    store: &Arc<dyn Store>,
    audit: bool,
    args: ExportArgs,
) -> Result<(), CliError> {
    let log = ConversationLog::new(master_key(config, false)?, store.clone());
    let query =
        ConversationQuery { tenant: args.tenant.clone(), user: args.user.clone(), since_unix_ms: args.since, limit: 0 };
    let records = store.list_conversations(&query).await.map_err(failed)?;
    let scope = args.tenant.clone().unwrap_or_else(|| "*".to_owned());
    crate::keys::audit_admin(
        store,
        audit,
        &scope,
        json!({"action": "conversations.export", "tenant": args.tenant, "user": args.user, "count": records.len()}),
    )
    .await?;
    let mut out: Box<dyn Write> = if args.out == "-" {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(
            std::fs::File::create(&args.out)
                .map_err(|error| CliError::failed(format!("cannot write {}: {error}", args.out)))?,
        )
    };
    for record in records {
        let conversation = log.open(record).await.map_err(failed)?;
        let line = serde_json::to_string(&conversation).map_err(failed)?;
        writeln!(out, "{line}").map_err(failed)?;
    }
    out.flush().map_err(failed)
}

async fn purge(config: &Config, store: &Arc<dyn Store>, audit: bool, args: PurgeArgs) -> Result<(), CliError> {
    match (args.expired, &args.tenant, &args.user) {
        (true, None, None) => {
            let log = ConversationLog::new(master_key(config, false)?, store.clone());
            crate::keys::audit_admin(store, audit, "*", json!({"action": "conversations.purge_expired"})).await?;
            let count = log.purge_expired(unix_now_millis()).await.map_err(failed)?;
            eprintln!("purged {count} expired conversation(s)");
            Ok(())
        }
        (false, Some(tenant), Some(user)) => {
            if !args.yes {
                return Err(CliError::failed(format!(
                    "this deletes every conversation of user '{user}' in tenant '{tenant}': add --yes to confirm"
                )));
            }
            crate::keys::audit_admin(store, audit, tenant, json!({"action": "conversations.erase_user", "user": user}))
                .await?;
            let count = store.delete_user_conversations(tenant, user).await.map_err(failed)?;
            eprintln!("erased {count} conversation(s) of user '{user}' in tenant '{tenant}'");
            Ok(())
        }
        _ => Err(CliError::failed("say what to purge: --expired, or --tenant T --user U --yes for one user's erasure")),
    }
}

/// The master key a server seals with (conversation logs, `[retrieval] encrypt`): created on
/// first start, and checked against the data keys already stored, so a wrong key stops
/// start-up with both key ids instead of failing on the first read.
pub async fn serving_master_key(config: &Config, store: &Arc<dyn Store>) -> Result<MasterKey, CliError> {
    let key = master_key(config, true)?;
    if let Some(stored) =
        store.data_keys(None).await.map_err(failed)?.into_iter().find(|stored| stored.master_key_id != key.id())
    {
        return Err(failed(rampart_conversations::ConversationError::WrongMasterKey {
            expected_id: stored.master_key_id,
            got_id: key.id(),
        }));
    }
    Ok(key)
}

/// The conversation recorder for `serve` when `[conversations] enabled`, with its purge job.
/// A master key that does not match the stored data keys stops start-up with the key ids.
pub async fn start_recording(
    config: &Config,
    store: &Arc<dyn Store>,
    guardrails: Option<Arc<rampart_guardrails::Guardrails>>,
) -> Result<Option<rampart_gateway::conversation_log::ConversationRecorder>, CliError> {
    if !config.conversations.enabled {
        return Ok(None);
    }
    let key = serving_master_key(config, store).await?;
    tracing::info!(master_key = %key.id(), retention_days = config.conversations.retention_days, "conversation history on, encrypted");
    let log = Arc::new(ConversationLog::new(key, store.clone()));
    let interval = std::time::Duration::from_secs(config.conversations.purge_interval_secs.max(1));
    let purger = log.clone();
    tokio::spawn(async move {
        loop {
            match purger.purge_expired(unix_now_millis()).await {
                Ok(0) => {}
                Ok(count) => tracing::info!(count, "purged expired conversations"),
                Err(error) => tracing::error!(%error, "could not purge expired conversations"),
            }
            tokio::time::sleep(interval).await;
        }
    });
    Ok(Some(rampart_gateway::conversation_log::ConversationRecorder::new(
        log,
        guardrails,
        config.conversations.clone(),
    )))
}
