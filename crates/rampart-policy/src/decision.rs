//! The policy's answer, read strictly: anything but a well-formed decision object is a deny.

use regorus::Value;
use serde::ser::{Serialize, Serializer};
use serde_json::{Value as Json, json};

/// What the enforcement point must do when it goes ahead with an allowed action.
#[derive(Debug, Clone, PartialEq)]
pub enum Obligation {
    /// `{"type": "force_tier", "tier": 1}`: route only to models of this tier (1 on-premises,
    /// 2 cloud), and keep what is built from the result there too.
    ForceTier(u8),
    /// `{"type": "redact", "target": "records", "fields": ["prompt", "completion"]}`: stored
    /// copies named by `target` must not keep `fields`.
    Redact { target: String, fields: Vec<String> },
    /// `{"type": "guardrail", "rule": "strict-pii"}`: switch this `[[guardrails.rules]]` rule
    /// on for the call, even when it is configured `enabled = false`.
    Guardrail(String),
    /// Any other obligation (`{"type": "snapshot"}` from the tool tiers, or one a newer policy
    /// invents), kept whole. An enforcement point that does not know it must not go ahead.
    Other(Json),
}

impl Obligation {
    /// The JSON the policy wrote for it.
    pub fn to_json(&self) -> Json {
        match self {
            Obligation::ForceTier(tier) => json!({"type": "force_tier", "tier": tier}),
            Obligation::Redact { target, fields } => {
                json!({"type": "redact", "target": target, "fields": fields})
            }
            Obligation::Guardrail(rule) => json!({"type": "guardrail", "rule": rule}),
            Obligation::Other(value) => value.clone(),
        }
    }

    /// The `type` field.
    pub fn kind(&self) -> &str {
        match self {
            Obligation::ForceTier(_) => "force_tier",
            Obligation::Redact { .. } => "redact",
            Obligation::Guardrail(_) => "guardrail",
            Obligation::Other(value) => value.get("type").and_then(Json::as_str).unwrap_or(""),
        }
    }
}

impl Serialize for Obligation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

/// One policy decision. `policy_version` names the bundle that made it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Decision {
    pub allow: bool,
    /// Why: for an allow, the grants; for a deny, at least one human-readable reason.
    pub reasons: Vec<String>,
    pub obligations: Vec<Obligation>,
    pub policy_version: String,
}

impl Decision {
    /// A deny that did not come from the policy (evaluation failed, malformed output).
    pub fn deny(policy_version: &str, reason: impl Into<String>) -> Self {
        Decision {
            allow: false,
            reasons: vec![reason.into()],
            obligations: Vec::new(),
            policy_version: policy_version.to_owned(),
        }
    }

    /// The tier the decision confines the action to, if any (the lowest, if several).
    pub fn forced_tier(&self) -> Option<u8> {
        self.obligations
            .iter()
            .filter_map(|obligation| match obligation {
                Obligation::ForceTier(tier) => Some(*tier),
                _ => None,
            })
            .min()
    }

    /// Reads the value of the decision rule. Anything that is not a well-formed decision
    /// object becomes a deny naming what was wrong; a deny without reasons gets one.
    pub(crate) fn from_policy_value(value: &Value, policy_version: &str) -> Decision {
        match read_decision(value) {
            Ok((allow, mut reasons, obligations)) => {
                if !allow && reasons.is_empty() {
                    reasons.push("denied by policy (the policy gave no reason)".to_owned());
                }
                Decision { allow, reasons, obligations, policy_version: policy_version.to_owned() }
            }
            Err(problem) => Decision::deny(policy_version, format!("malformed policy decision: {problem}")),
        }
    }
}

type Parts = (bool, Vec<String>, Vec<Obligation>);

fn read_decision(value: &Value) -> Result<Parts, String> {
    let object = match value {
        Value::Object(object) => object,
        Value::Undefined => return Err("the decision rule is undefined for this input".into()),
        other => return Err(format!("expected an object, got {}", short(other))),
    };
    let allow = match object.get(&Value::from("allow")) {
        Some(Value::Bool(allow)) => *allow,
        Some(other) => return Err(format!("`allow` must be true or false, got {}", short(other))),
        None => return Err("`allow` is missing".into()),
    };
    let reasons = match object.get(&Value::from("reasons")) {
        None => Vec::new(),
        Some(value) => elements(value, "reasons")?
            .map(|reason| match reason {
                Value::String(text) => Ok(text.to_string()),
                other => Err(format!("`reasons` must hold strings, got {}", short(other))),
            })
            .collect::<Result<_, _>>()?,
    };
    let obligations = match object.get(&Value::from("obligations")) {
        None => Vec::new(),
        Some(value) => elements(value, "obligations")?.map(read_obligation).collect::<Result<_, _>>()?,
    };
    Ok((allow, reasons, obligations))
}

/// Arrays and sets both count as lists (a policy may return a partial set rule as is).
fn elements<'a>(value: &'a Value, field: &str) -> Result<Box<dyn Iterator<Item = &'a Value> + 'a>, String> {
    match value {
        Value::Array(items) => Ok(Box::new(items.iter())),
        Value::Set(items) => Ok(Box::new(items.iter())),
        other => Err(format!("`{field}` must be an array, got {}", short(other))),
    }
}

fn read_obligation(value: &Value) -> Result<Obligation, String> {
    let Value::Object(object) = value else {
        return Err(format!("an obligation must be an object, got {}", short(value)));
    };
    let field = |name: &str| object.get(&Value::from(name));
    match field("type") {
        Some(Value::String(kind)) if kind.as_ref() == "force_tier" => match field("tier") {
            Some(Value::Number(tier)) if matches!(tier.as_u64(), Some(1 | 2)) => {
                Ok(Obligation::ForceTier(if tier.as_u64() == Some(1) { 1 } else { 2 }))
            }
            other => Err(format!(
                "force_tier needs `tier` 1 or 2, got {}",
                other.map_or_else(|| "nothing".to_owned(), short)
            )),
        },
        Some(Value::String(kind)) if kind.as_ref() == "redact" => {
            let target = match field("target") {
                Some(Value::String(target)) => target.to_string(),
                _ => return Err("redact needs a string `target`".into()),
            };
            let fields = field("fields")
                .ok_or("redact needs `fields`")
                .map_err(str::to_owned)
                .and_then(|value| elements(value, "fields"))?
                .map(|item| match item {
                    Value::String(name) => Ok(name.to_string()),
                    other => Err(format!("redact `fields` must hold strings, got {}", short(other))),
                })
                .collect::<Result<_, _>>()?;
            Ok(Obligation::Redact { target, fields })
        }
        Some(Value::String(kind)) if kind.as_ref() == "guardrail" => match field("rule") {
            Some(Value::String(rule)) if !rule.is_empty() => Ok(Obligation::Guardrail(rule.to_string())),
            other => Err(format!(
                "guardrail needs a non-empty string `rule`, got {}",
                other.map_or_else(|| "nothing".to_owned(), short)
            )),
        },
        Some(Value::String(_)) => serde_json::to_value(value)
            .map(Obligation::Other)
            .map_err(|error| format!("obligation is not JSON: {error}")),
        _ => Err(format!("an obligation needs a string `type`, got {}", short(value))),
    }
}

/// A value for an error message, cut short.
fn short(value: &Value) -> String {
    let text = match value {
        Value::Undefined => return "undefined".to_owned(),
        other => other.to_json_str().unwrap_or_else(|_| format!("{other:?}")),
    };
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(policy_output: &str, expected_allow: bool, expected_reason: &str) -> Decision {
        let value = Value::from_json_str(policy_output).unwrap_or(Value::Undefined);
        let decision = Decision::from_policy_value(&value, "sha256:test");
        assert_eq!(decision.allow, expected_allow, "{policy_output}: {decision:?}");
        assert!(
            decision.reasons.iter().any(|reason| reason.contains(expected_reason)),
            "{policy_output}: no reason contains {expected_reason:?}: {:?}",
            decision.reasons
        );
        assert_eq!(decision.policy_version, "sha256:test");
        decision
    }

    #[test]
    fn well_formed_decisions_are_read_with_typed_obligations() {
        let decision = check(
            r#"{"allow": true, "reasons": ["ok"], "obligations": [
                {"type": "force_tier", "tier": 1},
                {"type": "redact", "target": "records", "fields": ["prompt"]},
                {"type": "snapshot", "label": "before"},
                {"type": "guardrail", "rule": "strict-pii"}]}"#,
            true,
            "ok",
        );
        assert_eq!(
            decision.obligations,
            vec![
                Obligation::ForceTier(1),
                Obligation::Redact { target: "records".into(), fields: vec!["prompt".into()] },
                Obligation::Other(json!({"type": "snapshot", "label": "before"})),
                Obligation::Guardrail("strict-pii".into()),
            ]
        );
        assert_eq!(decision.obligations[3].kind(), "guardrail");
        assert_eq!(decision.forced_tier(), Some(1));
        assert_eq!(decision.obligations[2].kind(), "snapshot");
        let serialized = serde_json::to_value(&decision).unwrap_or_default();
        assert_eq!(serialized["obligations"][0], json!({"type": "force_tier", "tier": 1}));
    }

    #[test]
    fn malformed_decisions_deny_and_say_why() {
        for (output, reason) in [
            ("null", "expected an object, got null"),
            ("not json", "the decision rule is undefined"),
            (r#"{"reasons": []}"#, "`allow` is missing"),
            (r#"{"allow": "yes"}"#, "`allow` must be true or false, got \"yes\""),
            (r#"{"allow": true, "reasons": "fine"}"#, "`reasons` must be an array"),
            (r#"{"allow": true, "reasons": [1]}"#, "`reasons` must hold strings, got 1"),
            (r#"{"allow": true, "obligations": {}}"#, "`obligations` must be an array"),
            (r#"{"allow": true, "obligations": ["x"]}"#, "an obligation must be an object"),
            (r#"{"allow": true, "obligations": [{"tier": 1}]}"#, "needs a string `type`"),
            (r#"{"allow": true, "obligations": [{"type": "force_tier", "tier": 3}]}"#, "tier` 1 or 2, got 3"),
            (r#"{"allow": true, "obligations": [{"type": "force_tier"}]}"#, "got nothing"),
            (r#"{"allow": true, "obligations": [{"type": "redact", "fields": []}]}"#, "string `target`"),
            (r#"{"allow": true, "obligations": [{"type": "redact", "target": "x"}]}"#, "needs `fields`"),
            (r#"{"allow": true, "obligations": [{"type": "guardrail", "rule": ""}]}"#, "non-empty string `rule`"),
            (r#"{"allow": true, "obligations": [{"type": "guardrail"}]}"#, "`rule`, got nothing"),
        ] {
            check(output, false, reason);
        }
    }

    #[test]
    fn a_deny_without_reasons_gets_one() {
        check(r#"{"allow": false}"#, false, "the policy gave no reason");
        let allowed = check(r#"{"allow": true, "reasons": ["x"]}"#, true, "x");
        assert!(allowed.obligations.is_empty());
    }
}
