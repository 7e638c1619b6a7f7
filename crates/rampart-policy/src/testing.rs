//! `rampart policy test`: the bundle's own Rego unit tests, OPA's way.
//!
//! A test is a rule named `test_*` in a `*_test.rego` file; it passes when it evaluates to
//! `true` (undefined, any other value, or an error is a failure).

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use regorus::Value;

use crate::bundle::{EvalOptions, PolicyBundle};
use crate::error::PolicyError;
use crate::explain::to_json;

/// A runaway test fails instead of hanging the run.
const TEST_TIME: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TestFailure {
    /// Full rule path, `data.<package>.test_…`.
    pub name: String,
    pub file: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TestReport {
    pub policy_version: String,
    /// Full rule paths of the tests that passed.
    pub passed: Vec<String>,
    pub failed: Vec<TestFailure>,
}

impl TestReport {
    /// Every test passed (and there was at least one).
    pub fn ok(&self) -> bool {
        self.failed.is_empty() && !self.passed.is_empty()
    }

    pub fn total(&self) -> usize {
        self.passed.len() + self.failed.len()
    }
}

/// Loads the bundle in `dir` (refusing it as serving would) and runs its tests.
pub fn run_tests_in_dir(dir: &Path) -> Result<TestReport, PolicyError> {
    let bundle = PolicyBundle::from_dir(dir, EvalOptions::default())?;
    run_tests(&bundle)
}

/// Runs every `test_*` rule of the bundle's `*_test.rego` files, in file and rule order.
pub fn run_tests(bundle: &PolicyBundle) -> Result<TestReport, PolicyError> {
    let mut engine = bundle.interpreter(true)?;
    let options = EvalOptions { time_limit: TEST_TIME, ..bundle.options() };
    engine.set_execution_timer_config(options.timer());

    let mut tests = Vec::new();
    let mut seen = BTreeSet::new();
    for module in engine.get_modules().iter() {
        let file = module.package.span.source.get_path().to_string();
        if !file.ends_with("_test.rego") {
            continue;
        }
        let package = format!("data.{}", module.package.refr.span().text());
        for rule in &module.policy {
            if let Some(name) = test_rule_name(rule.span().text()) {
                let path = format!("{package}.{name}");
                if seen.insert(path.clone()) {
                    tests.push((path, file.clone()));
                }
            }
        }
    }

    let mut report = TestReport { policy_version: bundle.version().to_owned(), passed: Vec::new(), failed: Vec::new() };
    for (name, file) in tests {
        let message = match engine.eval_rule(name.clone()) {
            Ok(Value::Bool(true)) => {
                report.passed.push(name);
                continue;
            }
            Ok(Value::Undefined) => "undefined: some condition in the test was false".to_owned(),
            Ok(other) => format!("evaluated to {}, not true", to_json(&other)),
            Err(error) => format!("error: {error:#}"),
        };
        report.failed.push(TestFailure { name, file, message });
    }
    Ok(report)
}

/// `test_x` for a rule whose text starts `test_x if …`, `test_x := …` or `test_x { … }`;
/// None for other rules and for functions (`test_x(a) …`), which OPA does not run either.
fn test_rule_name(rule_text: &str) -> Option<&str> {
    let end = rule_text
        .find(|character: char| !(character.is_ascii_alphanumeric() || character == '_'))
        .unwrap_or(rule_text.len());
    let name = &rule_text[..end];
    let is_function = rule_text[end..].trim_start().starts_with('(');
    (name.starts_with("test_") && !is_function).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::test_rule_name;

    #[test]
    fn test_rules_are_named_test_and_are_not_functions() {
        assert_eq!(test_rule_name("test_a if { true }"), Some("test_a"));
        assert_eq!(test_rule_name("test_b := true"), Some("test_b"));
        assert_eq!(test_rule_name("test_c(x) if x"), None);
        assert_eq!(test_rule_name("testing if true"), None);
        assert_eq!(test_rule_name("default test_d := false"), None);
    }
}
