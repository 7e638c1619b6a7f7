//! `rampart`: the command line. `serve` runs the gateway; the other commands configure,
//! inspect and talk to it. Exit codes: 0 success, 1 failure, 2 usage error, 3 config error,
//! 4 server unreachable, 5 the audit log failed verification.

#[macro_use]
mod output;
mod audit;
mod cli;
mod client;
mod commands;
mod conversations;
mod governance;
mod ingest;
mod keys;
mod memory;
mod observability;
mod policy;
mod pull;
mod retrieval;
mod serve;
mod usage;

use std::process::ExitCode;

/// mimalloc: glibc malloc was ~13% of the gateway's CPU under load (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

use crate::cli::{Cli, Command, ConfigCommand, ModelsCommand};

/// A failure a user can act on: what went wrong, then what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Config(#[from] rampart_config::ConfigError),
    #[error(
        "cannot reach Rampart at {url}: {detail}\nhint: start it with `rampart serve`, or point --url / RAMPART_URL at a running server"
    )]
    Unreachable { url: String, detail: String },
    #[error("{message}")]
    Failed { message: String },
    /// `rampart audit verify` found the log tampered with (the report is printed already).
    #[error("{message}")]
    Tampered { message: String },
}

impl CliError {
    pub fn failed(message: impl Into<String>) -> Self {
        CliError::Failed { message: message.into() }
    }

    fn exit_code(&self) -> u8 {
        match self {
            CliError::Failed { .. } => 1,
            CliError::Config(_) => 3,
            CliError::Unreachable { .. } => 4,
            CliError::Tampered { .. } => 5,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let config_path = cli.config.as_deref();
    match cli.command {
        Command::Serve(args) => serve::serve(config_path, args).await,
        Command::Chat(args) => client::chat(config_path, args).await,
        Command::Ingest(args) => ingest::ingest(config_path, args).await,
        Command::Query(args) => ingest::query(config_path, args).await,
        Command::Memory(args) => memory::run(config_path, args).await,
        Command::Models(args) => match args.command.unwrap_or(ModelsCommand::List(args.list)) {
            ModelsCommand::List(list) => client::list_models(config_path, list).await,
            ModelsCommand::Pull(pull) => pull::pull(config_path, pull).await,
        },
        Command::Logs(args) => commands::logs(config_path, args).await,
        Command::Usage(args) => usage::usage(config_path, args).await,
        Command::Keys(args) => keys::run(config_path, args).await,
        Command::Audit(args) => audit::run(config_path, args).await,
        Command::Conversations(args) => conversations::run(config_path, args).await,
        Command::Policy(args) => policy::run(config_path, args),
        Command::Config(args) => match args.command {
            ConfigCommand::Check(check) => commands::config_check(config_path, check),
        },
        Command::Version(args) => {
            commands::version(args.json);
            Ok(())
        }
        Command::Openapi => {
            say!("{}", rampart_gateway::openapi_json());
            Ok(())
        }
    }
}
