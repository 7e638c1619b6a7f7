//! `rampart ingest PATH…` and `rampart query TEXT`: documents into a running gateway's
//! index, and searches over it, as the caller the API key names.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use clap::Args;
use serde_json::{Value, json};

use crate::CliError;
use crate::cli::ClientArgs;
use crate::client::Client;

/// Extensions a folder walk picks up (a file named on the command line is always sent).
const INGESTIBLE: &[&str] =
    &["txt", "text", "md", "markdown", "html", "htm", "pdf", "docx", "json", "jsonl", "csv", "log"];

/// Whose a document or memory is and how long it lives: the flags `ingest` and `memory add` share.
#[derive(Debug, Args)]
pub struct OwnerArgs {
    /// global, tenant, user or session [default: tenant for operators and admins, else user].
    #[arg(long)]
    pub scope: Option<String>,
    /// Forget it after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub ttl_secs: Option<u64>,
    /// The session of session-scoped items.
    #[arg(long)]
    pub session: Option<String>,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Files and folders (folders are walked; hidden entries are skipped).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// fact, preference, episodic, trace or policy [default: fact].
    #[arg(long)]
    pub kind: Option<String>,
    #[command(flatten)]
    pub owner: OwnerArgs,
    /// Print one JSON result per file instead of a progress bar.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The question or keywords.
    pub query: String,
    /// Results to show.
    #[arg(long, short = 'k')]
    pub top_k: Option<usize>,
    /// hybrid, lexical or vector.
    #[arg(long, default_value = "hybrid")]
    pub mode: String,
    /// Print the /query response as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Files under `paths`, in a stable order.
fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
    let mut files = Vec::new();
    for path in paths {
        let metadata = std::fs::metadata(path)
            .map_err(|error| CliError::failed(format!("cannot read {}: {error}", path.display())))?;
        if metadata.is_dir() {
            walk(path, &mut files)?;
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), CliError> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|error| CliError::failed(format!("cannot list {}: {error}", dir.display())))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| !path.file_name().and_then(|name| name.to_str()).is_some_and(|name| name.starts_with('.')))
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, files)?;
        } else {
            let extension = path.extension().and_then(|ext| ext.to_str()).map(str::to_ascii_lowercase);
            if extension.is_some_and(|ext| INGESTIBLE.contains(&ext.as_str())) {
                files.push(path);
            }
        }
    }
    Ok(())
}

fn progress(done: usize, total: usize, name: &str) {
    let width = 30;
    let filled = (done * width).checked_div(total).unwrap_or(width).min(width);
    let mut shown: String = name.chars().take(40).collect();
    if name.chars().count() > 40 {
        shown.push('…');
    }
    eprint!("\r\x1b[2K[{}{}] {done}/{total} {shown}", "#".repeat(filled), "-".repeat(width - filled));
    let _ = std::io::stderr().flush();
}

pub async fn ingest(config_path: Option<&Path>, args: IngestArgs) -> Result<(), CliError> {
    let files = collect(&args.paths)?;
    if files.is_empty() {
        return Err(CliError::failed(format!(
            "no documents found under {}: supported extensions are {}",
            args.paths.iter().map(|path| path.display().to_string()).collect::<Vec<_>>().join(", "),
            INGESTIBLE.join(", ")
        )));
    }
    let client = Client::new(config_path, &args.client)?;
    let bar = !args.json && std::io::stderr().is_terminal();
    let (mut ingested, mut duplicates, mut failed) = (0usize, 0usize, 0usize);
    for (position, path) in files.iter().enumerate() {
        let name = path.display().to_string();
        if bar {
            progress(position, files.len(), &name);
        }
        let result = match std::fs::read(path) {
            Ok(bytes) => send(&client, &args, &name, &bytes).await,
            Err(error) => {
                Ok(json!({ "name": name, "status": "failed", "error": { "message": format!("cannot read: {error}") } }))
            }
        }?;
        match result["status"].as_str() {
            Some("ingested") => ingested += 1,
            Some("duplicate") => duplicates += 1,
            _ => failed += 1,
        }
        if args.json {
            say!("{result}");
        } else if result["status"] == "failed" {
            if bar {
                eprint!("\r\x1b[2K");
            }
            eprintln!("{name}: {}", result["error"]["message"].as_str().unwrap_or("failed"));
        } else if !bar {
            eprintln!("{name}: {} ({} chunks)", result["status"].as_str().unwrap_or(""), result["chunks"]);
        }
    }
    if bar {
        progress(files.len(), files.len(), "");
        eprintln!();
    }
    eprintln!("{ingested} ingested, {duplicates} already present, {failed} failed");
    if failed > 0 {
        return Err(CliError::failed(format!(
            "{failed} of {} files could not be ingested (reasons above)",
            files.len()
        )));
    }
    Ok(())
}

/// Sends one file; a refusal of the file itself is a result, a refusal of the request (auth,
/// an unreachable gateway) an error.
async fn send(client: &Client, args: &IngestArgs, name: &str, bytes: &[u8]) -> Result<Value, CliError> {
    let body = json!({
        "documents": [{ "name": name, "content_base64": base64::engine::general_purpose::STANDARD.encode(bytes) }],
        "scope": args.owner.scope,
        "kind": args.kind,
        "ttl_secs": args.owner.ttl_secs,
        "session": args.owner.session,
    });
    let request = client.http.post(format!("{}/ingest", client.base)).json(&body);
    match client.send(request).await {
        Ok(response) => {
            let answer: Value = response
                .json()
                .await
                .map_err(|error| CliError::failed(format!("unexpected /ingest answer: {error}")))?;
            Ok(answer["data"][0].clone())
        }
        Err(CliError::Failed { message }) if is_file_refusal(&message) => {
            Ok(json!({ "name": name, "status": "failed", "error": { "message": message } }))
        }
        Err(error) => Err(error),
    }
}

/// 400 and 413 answers to a one-file request are about the file.
fn is_file_refusal(message: &str) -> bool {
    message.starts_with("the gateway answered 400") || message.starts_with("the gateway answered 413")
}

pub async fn query(config_path: Option<&Path>, args: QueryArgs) -> Result<(), CliError> {
    let client = Client::new(config_path, &args.client)?;
    let body = json!({ "query": args.query, "top_k": args.top_k, "mode": args.mode });
    let answer = client.json(client.http.post(format!("{}/query", client.base)).json(&body), "/query").await?;
    if args.json {
        say!("{}", serde_json::to_string_pretty(&answer).map_err(|error| CliError::failed(error.to_string()))?);
        return Ok(());
    }
    let hits = answer["data"].as_array().cloned().unwrap_or_default();
    if hits.is_empty() {
        eprintln!("nothing found: ingest documents first (rampart ingest PATH)");
        return Ok(());
    }
    for hit in hits {
        let heading: Vec<&str> =
            hit["heading"].as_array().map(|parts| parts.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        say!(
            "[{}] {} #{}{} (score {:.4}, document {})",
            hit["rank"],
            hit["document_name"].as_str().unwrap_or(""),
            hit["chunk_index"],
            if heading.is_empty() { String::new() } else { format!(" — {}", heading.join(" › ")) },
            hit["score"].as_f64().unwrap_or(0.0),
            hit["document_id"].as_str().unwrap_or("")
        );
        for line in hit["text"].as_str().unwrap_or("").lines().take(6) {
            say!("    {line}");
        }
    }
    Ok(())
}
