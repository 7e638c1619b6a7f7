//! `rampart policy`: run a bundle's Rego tests, or decide one input and explain it.

use std::io::Read;
use std::path::Path;

use rampart_policy::{PolicyBundle, PolicyEngine, PolicyInput, run_tests, run_tests_in_dir};

use crate::CliError;
use crate::cli::{PolicyArgs, PolicyCommand, PolicyEvalArgs, PolicyTestArgs};

pub fn run(config_path: Option<&Path>, args: PolicyArgs) -> Result<(), CliError> {
    match args.command {
        PolicyCommand::Test(test) => test_bundle(test),
        PolicyCommand::Eval(eval) => eval_input(config_path, eval),
    }
}

fn test_bundle(args: PolicyTestArgs) -> Result<(), CliError> {
    let report = match &args.dir {
        Some(dir) => run_tests_in_dir(dir),
        None => {
            PolicyBundle::default_bundle(rampart_policy::EvalOptions::default()).and_then(|bundle| run_tests(&bundle))
        }
    }
    .map_err(|error| CliError::failed(error.to_string()))?;
    if args.json {
        say!("{}", serde_json::to_string(&report).unwrap_or_default());
    } else {
        for failure in &report.failed {
            say!("FAIL {} ({}): {}", failure.name, failure.file, failure.message);
        }
        say!("{} passed, {} failed (policy {})", report.passed.len(), report.failed.len(), report.policy_version);
    }
    if report.ok() {
        Ok(())
    } else if report.total() == 0 {
        Err(CliError::failed("the bundle has no tests: add test_* rules in *_test.rego files"))
    } else {
        Err(CliError::failed(format!("{} policy test(s) failed", report.failed.len())))
    }
}

fn eval_input(config_path: Option<&Path>, args: PolicyEvalArgs) -> Result<(), CliError> {
    let text = if args.input.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|error| CliError::failed(format!("cannot read stdin: {error}")))?;
        text
    } else {
        std::fs::read_to_string(&args.input)
            .map_err(|error| CliError::failed(format!("cannot read {}: {error}", args.input.display())))?
    };
    let input: serde_json::Value =
        serde_json::from_str(&text).map_err(|error| CliError::failed(format!("the input is not JSON: {error}")))?;
    let engine = match &args.dir {
        Some(dir) => PolicyEngine::from_dir(dir, rampart_policy::EvalOptions::default())
            .map_err(|error| CliError::failed(error.to_string()))?,
        None => {
            let config = rampart_config::load(config_path)?.config;
            crate::governance::load_policy(&config)?
        }
    };
    let (decision, explanation) = engine.explain(&PolicyInput::from_json(&input));
    let output = serde_json::json!({
        "allow": decision.allow,
        "reasons": decision.reasons,
        "obligations": decision.obligations.iter().map(rampart_policy::Obligation::to_json).collect::<Vec<_>>(),
        "policy_version": decision.policy_version,
        "explanation": explanation,
    });
    say!("{}", serde_json::to_string_pretty(&output).unwrap_or_default());
    Ok(())
}
