//! `rampart memory list|show|add|approve|revoke|gc`: memory items and documents in a running
//! gateway's index, as the caller the API key names. Curators (operators, admins) see and
//! manage their tenant; everyone else their own memory.

use std::path::Path;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::CliError;
use crate::cli::ClientArgs;
use crate::client::Client;
use crate::ingest::OwnerArgs;

#[derive(Debug, Args)]
pub struct MemoryArgs {
    #[command(subcommand)]
    pub command: MemoryCommand,
}

#[derive(Debug, Subcommand)]
pub enum MemoryCommand {
    /// List memory items and documents, newest first.
    List(MemoryListArgs),
    /// Show one item's record, provenance and text (quarantined items too, for review).
    Show(MemoryKeyArgs),
    /// Propose an item; it passes the memory gate (admitted, quarantined or refused).
    Add(MemoryAddArgs),
    /// Admit a quarantined item (curators).
    Approve(MemoryKeyArgs),
    /// Revoke items by document id or content-hash prefix: kept as a record, never retrieved.
    Revoke(MemoryKeyArgs),
    /// Delete everything whose time has run out, now (operators and admins).
    Gc(MemoryGcArgs),
}

#[derive(Debug, Args)]
pub struct MemoryListArgs {
    /// global, tenant, user or session.
    #[arg(long)]
    pub scope: Option<String>,
    /// policy, preference, fact, episodic or trace.
    #[arg(long)]
    pub kind: Option<String>,
    /// provisional, active, quarantined or revoked.
    #[arg(long)]
    pub state: Option<String>,
    /// Another tenant (admins).
    #[arg(long)]
    pub tenant: Option<String>,
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// One JSON record per line.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct MemoryKeyArgs {
    /// Document id, or a content-hash prefix of 6+ hex characters.
    pub id: String,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct MemoryAddArgs {
    /// The statement to remember.
    pub text: String,
    /// preference, fact, episodic, trace or policy (curators).
    #[arg(long, default_value = "preference")]
    pub kind: String,
    /// Where it came from (required for facts).
    #[arg(long)]
    pub source: Option<String>,
    #[arg(long)]
    pub title: Option<String>,
    #[command(flatten)]
    pub owner: OwnerArgs,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct MemoryGcArgs {
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

pub async fn run(config_path: Option<&Path>, args: MemoryArgs) -> Result<(), CliError> {
    match args.command {
        MemoryCommand::List(list) => self::list(config_path, list).await,
        MemoryCommand::Show(key) => show(config_path, key).await,
        MemoryCommand::Add(add) => self::add(config_path, add).await,
        MemoryCommand::Approve(key) => set_state(config_path, key, "active").await,
        MemoryCommand::Revoke(key) => set_state(config_path, key, "revoked").await,
        MemoryCommand::Gc(gc) => collect(config_path, gc).await,
    }
}

fn print_json(value: &Value) -> Result<(), CliError> {
    say!("{}", serde_json::to_string_pretty(value).map_err(|error| CliError::failed(error.to_string()))?);
    Ok(())
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("")
}

async fn list(config_path: Option<&Path>, args: MemoryListArgs) -> Result<(), CliError> {
    let client = Client::new(config_path, &args.client)?;
    let mut query: Vec<(&str, String)> = vec![("limit", args.limit.to_string())];
    for (name, value) in
        [("scope", &args.scope), ("kind", &args.kind), ("state", &args.state), ("tenant", &args.tenant)]
    {
        if let Some(value) = value {
            query.push((name, value.clone()));
        }
    }
    let mut url = reqwest::Url::parse(&format!("{}/api/v1/documents", client.base))
        .map_err(|error| CliError::failed(format!("the gateway URL {} is not valid: {error}", client.base)))?;
    url.query_pairs_mut().extend_pairs(&query);
    let answer = client.json(client.http.get(url), "list").await?;
    let items = answer["data"].as_array().cloned().unwrap_or_default();
    if args.json {
        for item in &items {
            say!("{item}");
        }
        return Ok(());
    }
    if items.is_empty() {
        eprintln!("no memory items or documents match");
        return Ok(());
    }
    say!("{:<32} {:<8} {:<10} {:<11} {:<8} {}", "ID", "SCOPE", "KIND", "STATE", "FORMAT", "NAME");
    for item in &items {
        say!(
            "{:<32} {:<8} {:<10} {:<11} {:<8} {}",
            text(&item["id"]),
            text(&item["owner"]["scope"]),
            text(&item["kind"]),
            text(&item["state"]),
            text(&item["format"]),
            crate::commands::truncate(text(&item["name"]), 60)
        );
    }
    Ok(())
}

async fn show(config_path: Option<&Path>, args: MemoryKeyArgs) -> Result<(), CliError> {
    let client = Client::new(config_path, &args.client)?;
    let url = format!("{}/api/v1/documents/{}", client.base, args.id.trim());
    let answer = client.json(client.http.get(url), "show").await?;
    if args.json {
        return print_json(&answer);
    }
    let document = &answer["document"];
    let owner = &document["owner"];
    say!("id:         {}", text(&document["id"]));
    say!("hash:       {}", text(&document["hash"]));
    say!("name:       {}", text(&document["name"]));
    say!("kind:       {}", text(&document["kind"]));
    say!("state:      {}", text(&document["state"]));
    let mut scope = format!("{} (tenant {})", text(&owner["scope"]), text(&owner["tenant"]));
    for part in ["user", "session"] {
        if let Some(value) = owner[part].as_str() {
            scope.push_str(&format!(", {part} {value}"));
        }
    }
    say!("scope:      {scope}");
    if let Some(expires) = document["expires_unix_ms"].as_i64() {
        say!("expires:    {} (unix ms)", expires);
    }
    let provenance = &document["provenance"];
    for field in ["source", "author", "request_id", "embedding_model"] {
        if let Some(value) = provenance[field].as_str() {
            say!("{:<11} {value}", format!("{}:", field.replace('_', " ")));
        }
    }
    if let Some(steps) = provenance["gate"].as_array() {
        let steps: Vec<&str> = steps.iter().filter_map(Value::as_str).collect();
        say!("gate:       {}", steps.join(" → "));
    }
    for chunk in answer["chunks"].as_array().cloned().unwrap_or_default() {
        say!("");
        let heading: Vec<&str> = chunk["heading"]
            .as_array()
            .map(|parts| parts.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        say!(
            "#{}{}",
            chunk["index"],
            if heading.is_empty() { String::new() } else { format!(" — {}", heading.join(" › ")) }
        );
        say!("{}", text(&chunk["text"]));
    }
    Ok(())
}

async fn add(config_path: Option<&Path>, args: MemoryAddArgs) -> Result<(), CliError> {
    let client = Client::new(config_path, &args.client)?;
    let body = json!({
        "text": args.text,
        "kind": args.kind,
        "scope": args.owner.scope,
        "source": args.source,
        "title": args.title,
        "ttl_secs": args.owner.ttl_secs,
        "session": args.owner.session,
    });
    let answer = client.json(client.http.post(format!("{}/api/v1/memory", client.base)).json(&body), "memory").await?;
    if args.json {
        return print_json(&answer);
    }
    let state = text(&answer["state"]);
    let what = match (answer["duplicate"].as_bool(), state) {
        (Some(true), _) => "already remembered",
        (_, "quarantined") => "quarantined for review",
        _ => "admitted",
    };
    say!("{} {what}", text(&answer["document_id"]));
    for note in answer["notes"].as_array().cloned().unwrap_or_default() {
        eprintln!("  {}", text(&note));
    }
    Ok(())
}

async fn set_state(config_path: Option<&Path>, args: MemoryKeyArgs, state: &str) -> Result<(), CliError> {
    let client = Client::new(config_path, &args.client)?;
    let url = format!("{}/api/v1/documents/{}/state", client.base, args.id.trim());
    let answer = client.json(client.http.post(url).json(&json!({ "state": state })), "state change").await?;
    if args.json {
        return print_json(&answer);
    }
    let ids: Vec<&str> =
        answer["documents"].as_array().map(|ids| ids.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    say!("{} {}: {}", ids.len(), if state == "active" { "approved" } else { "revoked" }, ids.join(", "));
    Ok(())
}

async fn collect(config_path: Option<&Path>, args: MemoryGcArgs) -> Result<(), CliError> {
    let client = Client::new(config_path, &args.client)?;
    let answer = client.json(client.http.post(format!("{}/api/v1/memory/gc", client.base)), "gc").await?;
    if args.json {
        return print_json(&answer);
    }
    say!("{} expired items deleted", answer["deleted"]);
    Ok(())
}
