//! `rampart policy eval`: the decision, and what in the policy led to it.

use std::collections::BTreeMap;
use std::time::Duration;

use regorus::Value;
use serde_json::Value as Json;

use crate::bundle::{DECISION_ENTRYPOINT, EvalOptions, PolicyBundle};
use crate::decision::Decision;
use crate::engine::evaluate_decision;
use crate::input::PolicyInput;

/// An operator waits for `explain`; a serving decision never runs under this budget.
const EXPLAIN_TIME: Duration = Duration::from_secs(2);

/// What led to a decision. Computed with regorus' interpreter (with coverage on), separately
/// from the serving evaluation that produced the [`Decision`] returned beside it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Explanation {
    pub policy_version: String,
    /// `"rvm"` or `"interpreter"`: which evaluator served the decision.
    pub evaluator: &'static str,
    /// `data.rampart.decision` exactly as the policy produced it.
    pub raw_decision: Json,
    /// Every rule of the decision's package for this input (`data.rampart`): which `grants`,
    /// `denials`, `refusals` and `obligation_set` entries fired, and the helper values.
    pub rules: Json,
    /// Per policy file, the lines the evaluation of the decision went through.
    pub covered_lines: BTreeMap<String, Vec<u32>>,
    /// Why part of the explanation is missing, if it is.
    pub error: Option<String>,
}

pub(crate) fn explain(bundle: &PolicyBundle, input: &PolicyInput) -> (Decision, Explanation) {
    let (decision, _) = evaluate_decision(bundle, input);
    let mut explanation = Explanation {
        policy_version: bundle.version().to_owned(),
        evaluator: bundle.evaluator_name(),
        raw_decision: Json::Null,
        rules: Json::Null,
        covered_lines: BTreeMap::new(),
        error: None,
    };
    if let Err(error) = fill(bundle, input, &mut explanation) {
        explanation.error = Some(error);
    }
    (decision, explanation)
}

fn fill(bundle: &PolicyBundle, input: &PolicyInput, out: &mut Explanation) -> Result<(), String> {
    let mut engine = bundle.interpreter(false).map_err(|error| error.to_string())?;
    let options = EvalOptions { time_limit: EXPLAIN_TIME, ..bundle.options() };
    engine.set_execution_timer_config(options.timer());
    engine.set_enable_coverage(true);
    engine.set_input(input.value().clone());

    let raw = engine
        .eval_rule(DECISION_ENTRYPOINT.to_owned())
        .map_err(|error| format!("evaluating {DECISION_ENTRYPOINT}: {error:#}"))?;
    out.raw_decision = to_json(&raw);
    let report = engine.get_coverage_report().map_err(|error| format!("coverage: {error:#}"))?;
    for file in report.files {
        out.covered_lines.insert(file.path, file.covered.into_iter().collect());
    }

    let package = DECISION_ENTRYPOINT.rsplit_once('.').map_or(DECISION_ENTRYPOINT, |(package, _)| package);
    let results =
        engine.eval_query(package.to_owned(), false).map_err(|error| format!("evaluating {package}: {error:#}"))?;
    if let Some(expression) = results.result.first().and_then(|result| result.expressions.first()) {
        out.rules = to_json(&expression.value);
    }
    Ok(())
}

/// Undefined becomes null; sets become arrays.
pub(crate) fn to_json(value: &Value) -> Json {
    match value {
        Value::Undefined => Json::Null,
        other => serde_json::to_value(other).unwrap_or(Json::Null),
    }
}
