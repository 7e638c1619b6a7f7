//! The RVM against the interpreter, at load, on a corpus of typical inputs.
//!
//! regorus' RVM is several times faster than its interpreter, but not always the same
//! language: in 0.14 it lets `x := t[k]` succeed for a missing key, and reads a complete rule
//! whose definitions disagree as undefined instead of an error. Either can turn a deny into an
//! allow. A bundle whose decisions differ between the two on any input here is served by the
//! interpreter instead. This catches divergence on common shapes; it proves nothing in general.

use regorus::{Engine, Value};
use serde_json::{Value as Json, json};

use crate::bundle::PolicyBundle;
use crate::decision::Decision;
use crate::eval;

/// The first input (as JSON) on which the two evaluators decide differently, and both answers.
pub(crate) fn first_divergence(bundle: &PolicyBundle, interpreter: &Engine) -> Option<String> {
    let version = bundle.version();
    corpus().into_iter().find_map(|input| {
        let value = Value::from(input.clone());
        let decide = |result: Result<Value, String>| match result {
            Ok(value) => Decision::from_policy_value(&value, version),
            Err(error) => Decision::deny(version, format!("policy evaluation failed: {error}")),
        };
        let vm = decide(eval::evaluate(bundle, value.clone()));
        let tree = decide(eval::evaluate_interpreted(interpreter, bundle.options(), value));
        let same =
            vm.allow == tree.allow && vm.obligations == tree.obligations && (vm.reasons == tree.reasons || !vm.allow);
        (!same).then(|| format!("input {input}: rvm {vm:?}, interpreter {tree:?}"))
    })
}

/// Every action for each single role and for no role, with in-tenant and cross-tenant
/// resources, Tier 2 and classified model calls, and private identities.
fn corpus() -> Vec<Json> {
    let resources = [
        ("model.call", json!({"model": "m", "tier": 2, "classification": "internal", "endpoint": null})),
        ("model.call", json!({"model": "m", "tier": 1, "classification": "secret", "endpoint": null})),
        ("model.call", json!({"model": "m", "tier": 2, "classification": "confidential", "endpoint": null})),
        ("retrieval", json!({"collection": "c", "tenant_id": "t1", "classification": null})),
        ("retrieval", json!({"collection": "c", "tenant_id": "t2", "classification": "restricted"})),
        ("tool.call", json!({"tool": "x", "tier": 1, "arguments": {}})),
        ("tool.call", json!({"tool": "x", "tier": 3, "arguments": {}})),
        ("memory.write", json!({"scope": "session", "tenant_id": "t1"})),
        ("memory.write", json!({"scope": "tenant", "tenant_id": "t2"})),
        ("memory.write", json!({"scope": "global", "tenant_id": null})),
        ("admin.read", json!({"kind": "keys", "tenant_id": "t2"})),
        ("admin.write", json!({"kind": "policy"})),
        ("audit.read", json!({})),
    ];
    let roles = [vec![], vec!["admin"], vec!["operator"], vec!["user"], vec!["agent"], vec!["auditor"]];
    let mut inputs = Vec::new();
    for roles in &roles {
        for privacy_mode in [false, true] {
            let agent = roles.contains(&"agent").then(|| json!({"run_id": "r2", "parent_run_id": "r1"}));
            let identity = json!({
                "tenant_id": "t1", "user_id": "u1", "roles": roles, "privacy_mode": privacy_mode,
                "credential": "api_key", "agent": agent,
            });
            for (action, resource) in &resources {
                if privacy_mode && *action != "model.call" {
                    continue;
                }
                inputs.push(json!({"identity": identity, "action": action, "resource": resource}));
            }
        }
    }
    inputs.push(json!({}));
    inputs
}
