//! Starts the real `rampart` binary on a free port against a fake upstream.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod fake_upstream;
pub mod scripted;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use fake_upstream::FakeUpstream;

pub const BIN: &str = env!("CARGO_BIN_EXE_rampart");

pub struct Rampart {
    pub child: Child,
    pub addr: String,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
}

/// A config with one model per fake behaviour, over all three wire formats.
pub fn config_for(upstream: &FakeUpstream, extra_server: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
request_timeout_secs = 3
{extra_server}

[[backends]]
name = "fake-openai"
kind = "openai"
base_url = "{openai}"
api_key = "sk-secret-upstream-key"

[[backends]]
name = "fake-anthropic"
kind = "anthropic"
base_url = "{anthropic}"
api_key = "anthropic-secret"

[[backends]]
name = "fake-ollama"
kind = "ollama"
base_url = "{ollama}"

[[models]]
name = "gpt-fake"
backend = "fake-openai"
upstream_model = "up-model"
aliases = ["default"]
price_per_mtok = {{ input = 1000000.0, output = 2000000.0 }}

[[models]]
name = "fail"
backend = "fake-openai"
upstream_model = "fail-500"

[[models]]
name = "limited"
backend = "fake-openai"
upstream_model = "rate-limited"

[[models]]
name = "slow"
backend = "fake-openai"

[[models]]
name = "slow-stream"
backend = "fake-openai"

[[models]]
name = "broken-stream"
backend = "fake-openai"
upstream_model = "error-mid-stream"

[[models]]
name = "claude"
backend = "fake-anthropic"
upstream_model = "claude-test"
tier = 2

[[models]]
name = "llama"
backend = "fake-ollama"
upstream_model = "llama3"

[[models]]
name = "embedder"
backend = "fake-openai"
upstream_model = "text-embed"
kind = "embedding"

[[models]]
name = "llama-embed"
backend = "fake-ollama"
upstream_model = "nomic"
kind = "embedding"
{PLAIN_ROUTING}"#,
        openai = upstream.url("/v1"),
        anthropic = upstream.url("/anthropic"),
        ollama = upstream.url("/ollama"),
    )
}

/// Routing kept out of the way for tests about translation and the HTTP edge: no retries, and
/// circuits that do not open (one fake backend serves many behaviours, failing ones included).
pub const PLAIN_ROUTING: &str = r#"
[router]
max_retries = 0
[router.breaker]
consecutive_failures = 100000
min_calls = 100000
open_on_failed_health_check = false
"#;

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

impl Rampart {
    /// Starts `rampart serve` with `config` (its `listen` is replaced by a free port) and waits
    /// until `/healthz` answers.
    pub async fn start(config: &str) -> Rampart {
        Self::start_with_env(config, &[]).await
    }

    /// `start`, with extra environment variables for the server process.
    pub async fn start_with_env(config: &str, envs: &[(&str, &str)]) -> Rampart {
        rampart_backends::ensure_crypto_provider();
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let config = config.replace("listen = \"127.0.0.1:0\"", &format!("listen = \"{addr}\""));
        let data_dir = format!("[storage]\ndata_dir = \"{}\"\n", dir.path().display());
        // A config with a [storage] table of its own gets the data dir inside it.
        let config = if config.contains("\n[storage]\n") {
            config.replacen("\n[storage]\n", &format!("\n{data_dir}"), 1)
        } else {
            format!("{config}\n{data_dir}")
        };
        let config_path = dir.path().join("rampart.toml");
        std::fs::write(&config_path, config).expect("write config");
        let log = std::fs::File::create(dir.path().join("rampart.log")).expect("log file");
        let child = Command::new(BIN)
            .args(["serve", "--config"])
            .arg(&config_path)
            .env("RAMPART_LOG", "info")
            .env_remove("RAMPART_CONFIG")
            .envs(envs.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn rampart");
        let rampart = Rampart { child, addr, dir, config_path };
        rampart.wait_until_live().await;
        rampart
    }

    async fn wait_until_live(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = reqwest::Client::new();
        while Instant::now() < deadline {
            if let Ok(response) = client.get(self.url("/healthz")).send().await
                && response.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("rampart did not start; log:\n{}", self.log());
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// POSTs `body` as JSON and returns the JSON answer, whatever its status.
    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> serde_json::Value {
        let response = reqwest::Client::new().post(self.url(path)).json(body).send().await.unwrap();
        response.json().await.unwrap()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("rampart.log")).unwrap_or_default()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill");
        assert!(status.success());
    }

    /// Waits for the process to exit, up to `timeout`; returns its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Rampart {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the CLI to completion with `args`; returns (exit code, stdout, stderr).
pub fn run_cli(args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let mut command = Command::new(BIN);
    command.args(args).env_remove("RAMPART_CONFIG").env_remove("RAMPART_URL").stdin(Stdio::null());
    for (key, value) in envs {
        command.env(key, value);
    }
    let output = command.output().expect("run rampart");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
