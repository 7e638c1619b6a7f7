//! The built-in default bundle: its Rego tests, and its decisions as a table.
// Helpers outside `#[test]` functions are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{agent, identity, private};
use rampart_core::Role::{self, Admin, Agent, Auditor, Operator, User};
use rampart_policy::{
    Classification, Decision, EvalOptions, EvaluatorKind, MemoryScope, Obligation, PolicyBundle, PolicyEngine,
    PolicyInput, run_tests,
};
use serde_json::json;
use std::sync::OnceLock;

fn engine() -> PolicyEngine {
    PolicyEngine::with_default_bundle().unwrap()
}

#[test]
fn the_default_bundles_rego_tests_all_pass() {
    let bundle = PolicyBundle::default_bundle(EvalOptions::default()).unwrap();
    let report = run_tests(&bundle).unwrap();
    assert!(report.failed.is_empty(), "{:#?}", report.failed);
    assert!(report.total() >= 40, "only {} tests found", report.total());
    assert!(report.ok());
    assert_eq!(report.policy_version, bundle.version());
}

#[test]
fn the_embedded_bundle_is_the_policies_default_directory() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/default");
    let from_dir = PolicyBundle::from_dir(&dir, EvalOptions::default()).unwrap();
    let embedded = PolicyBundle::default_bundle(EvalOptions::default()).unwrap();
    assert_eq!(from_dir.files(), embedded.files(), "include_str! list out of date");
    assert_eq!(from_dir.version(), embedded.version());
    assert_eq!(embedded.evaluator_name(), "rvm");
}

/// The default bundle on regorus' interpreter, to hold the RVM's decisions against.
fn interpreter() -> &'static PolicyEngine {
    static ENGINE: OnceLock<PolicyEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let options = EvalOptions { evaluator: EvaluatorKind::Interpreter, ..EvalOptions::default() };
        PolicyEngine::new(PolicyBundle::default_bundle(options).unwrap())
    })
}

/// Decides `input` with the default bundle and checks the outcome and one reason, and that
/// both regorus evaluators decide alike.
fn check(engine: &PolicyEngine, input: PolicyInput, expected_allow: bool, expected_reason: &str) -> Decision {
    let decision = engine.decide(&input);
    assert_eq!(decision, interpreter().decide(&input), "RVM and interpreter differ on {}", input.to_json());
    assert_eq!(decision.allow, expected_allow, "{}\n=> {decision:#?}", input.to_json());
    assert!(
        decision.reasons.iter().any(|reason| reason.contains(expected_reason)),
        "{}\n=> no reason contains {expected_reason:?}: {:#?}",
        input.to_json(),
        decision.reasons
    );
    assert_eq!(decision.policy_version, engine.version());
    decision
}

#[test]
fn roles_and_actions() {
    let engine = engine();
    let model = |roles: &[Role]| PolicyInput::model_call(&identity(roles), "m", 2, Some(Classification::Internal));
    let retrieval = |roles: &[Role], tenant: &str| PolicyInput::retrieval(&identity(roles), "docs", tenant, None);
    let memory = |roles: &[Role], scope, tenant| PolicyInput::memory_write(&identity(roles), scope, tenant);
    let admin_read = |roles: &[Role], kind, tenant| PolicyInput::admin_read(&identity(roles), kind, tenant);
    let cases: Vec<(PolicyInput, bool, &str)> = vec![
        // admin: everything, every tenant
        (model(&[Admin]), true, "role admin may call models"),
        (retrieval(&[Admin], "t2"), true, "role admin"),
        (memory(&[Admin], MemoryScope::Global, None), true, "role admin"),
        (admin_read(&[Admin], "keys", Some("t2")), true, "role admin"),
        (PolicyInput::admin_write(&identity(&[Admin]), "policy", None), true, "role admin"),
        (PolicyInput::audit_read(&identity(&[Admin]), None), true, "role admin"),
        // operator: models and admin reads of its tenant, not keys, audit or writes
        (model(&[Operator]), true, "role operator may call models"),
        (admin_read(&[Operator], "backends", None), true, "role operator may read"),
        (admin_read(&[Operator], "logs", Some("t1")), true, "role operator may read"),
        (admin_read(&[Operator], "keys", None), false, "role operator may not read API keys"),
        (
            admin_read(&[Operator], "logs", Some("t2")),
            false,
            "tenant isolation: role operator reads only its own tenant t1, not t2",
        ),
        (
            PolicyInput::audit_read(&identity(&[Operator]), None),
            false,
            "default deny: no rule allows roles [operator] to perform audit.read",
        ),
        (PolicyInput::admin_write(&identity(&[Operator]), "models", None), false, "default deny"),
        (retrieval(&[Operator], "t1"), true, "role operator may retrieve from its own tenant"),
        (retrieval(&[Operator], "t2"), false, "tenant isolation"),
        // user: models, retrieval and memory in its own tenant
        (model(&[User]), true, "role user may call models"),
        (retrieval(&[User], "t1"), true, "role user may retrieve"),
        (
            retrieval(&[User], "t2"),
            false,
            "tenant isolation: collection docs belongs to tenant t2; role user acts only in tenant t1",
        ),
        (memory(&[User], MemoryScope::Tenant, Some("t1")), true, "role user may write tenant memory in its own tenant"),
        (memory(&[User], MemoryScope::Session, Some("t2")), false, "tenant isolation"),
        (memory(&[User], MemoryScope::Global, None), false, "only role admin may write global memory"),
        (PolicyInput::tool_call(&identity(&[User]), "shell", 0, &json!({})), false, "default deny"),
        (admin_read(&[User], "models", None), false, "default deny"),
        // agent: models, tools up to its tier, session and user memory
        (PolicyInput::model_call(&agent(), "m", 1, None), true, "role agent may call models"),
        (
            PolicyInput::tool_call(&agent(), "grep", 1, &json!({"pattern": "x"})),
            true,
            "role agent may call tools up to tier 1",
        ),
        (
            PolicyInput::tool_call(&agent(), "apt", 2, &json!({})),
            false,
            "role agent may call tools up to tier 1; apt is tier 2",
        ),
        (PolicyInput::tool_call(&agent(), "apt", 2, &json!({})).with_agent_max_tool_tier(2), true, "up to tier 2"),
        (PolicyInput::tool_call(&identity(&[Agent]), "grep", 0, &json!({})), false, "needs run lineage"),
        (PolicyInput::memory_write(&agent(), MemoryScope::Session, Some("t1")), true, "role agent may write"),
        (
            PolicyInput::memory_write(&agent(), MemoryScope::Tenant, Some("t1")),
            false,
            "role agent may write memory only in scopes session, user",
        ),
        (PolicyInput::retrieval(&agent(), "docs", "t1", None), true, "role agent may retrieve from its own tenant"),
        (PolicyInput::retrieval(&agent(), "docs", "t2", None), false, "tenant isolation"),
        (retrieval(&[Auditor], "t1"), false, "default deny"),
        // auditor: reads audit and admin state, calls no models
        (PolicyInput::audit_read(&identity(&[Auditor]), Some("t2")), true, "role auditor may read the audit log"),
        (admin_read(&[Auditor], "logs", Some("t2")), true, "role auditor may read"),
        (model(&[Auditor]), false, "no rule allows roles [auditor] to perform model.call"),
        (memory(&[Auditor], MemoryScope::User, Some("t1")), false, "default deny"),
        // no role at all
        (model(&[]), false, "no rule allows roles [] to perform model.call"),
    ];
    for (input, allow, reason) in cases {
        check(&engine, input, allow, reason);
    }
}

#[test]
fn tiers_and_obligations() {
    let engine = engine();
    let model = |identity, tier, classification| PolicyInput::model_call(&identity, "m", tier, classification);
    let user = || identity(&[User]);

    let denied = check(
        &engine,
        model(private(user()), 2, None),
        false,
        "privacy mode requires a Tier 1 (on-premises) model; m is Tier 2 (cloud)",
    );
    assert_eq!(denied.forced_tier(), Some(1), "the router can re-plan on Tier 1");

    let allowed = check(&engine, model(private(user()), 1, None), true, "role user may call models");
    assert_eq!(
        allowed.obligations,
        vec![
            Obligation::Redact { target: "records".into(), fields: vec!["prompt".into(), "completion".into()] },
            Obligation::ForceTier(1),
        ]
    );

    for level in [Classification::Confidential, Classification::Restricted] {
        check(
            &engine,
            model(user(), 2, Some(level)),
            false,
            &format!("classification {} requires a Tier 1", level.as_str()),
        );
        let decision = check(&engine, model(user(), 1, Some(level)), true, "role user");
        assert_eq!(decision.obligations, vec![Obligation::ForceTier(1)]);
    }
    check(
        &engine,
        model(identity(&[Admin]), 2, Some(Classification::Secret)),
        false,
        "secret data never leaves Tier 1",
    );
    for level in [None, Some(Classification::Public), Some(Classification::Internal)] {
        let decision = check(&engine, model(user(), 2, level), true, "role user");
        assert!(decision.obligations.is_empty(), "{decision:?}");
    }

    let retrieval = PolicyInput::retrieval(&user(), "docs", "t1", Some(Classification::Secret));
    assert_eq!(check(&engine, retrieval, true, "role user").forced_tier(), Some(1));

    let tripcode = |verified: bool| {
        let input = PolicyInput::tool_call(&identity(&[Admin]), "rm", 3, &json!({"path": "/"}));
        if verified { input.with_tripcode_verified() } else { input }
    };
    check(
        &engine,
        tripcode(false),
        false,
        "tool rm is tier 3 (destructive or sensitive) and needs a verified tripcode",
    );
    let decision = check(&engine, tripcode(true), true, "role admin may call tools of every tier");
    assert_eq!(decision.obligations, vec![Obligation::Other(json!({"type": "snapshot"}))]);
}

#[test]
fn malformed_inputs_are_denied_by_the_policy() {
    let engine = engine();
    let input = |json: serde_json::Value| PolicyInput::from_json(&json);
    check(&engine, input(json!({})), false, "unknown action (no action)");
    check(&engine, input(json!(null)), false, "tenant_id must be a non-empty string");
    check(
        &engine,
        input(json!({"identity": {"roles": ["admin"], "privacy_mode": false}, "action": "admin.read", "resource": {}})),
        false,
        "tenant_id must be a non-empty string",
    );
    let mut bad_tier = PolicyInput::model_call(&identity(&[Admin]), "m", 1, None).to_json();
    bad_tier["resource"]["tier"] = json!("1");
    check(&engine, input(bad_tier), false, "resource.tier must be 1 (on-premises) or 2 (cloud), not 1");
}

#[test]
fn inputs_have_the_documented_shape() {
    let input = PolicyInput::tool_call(&agent(), "grep", 1, &json!({"q": 1}))
        .with_agent_max_tool_tier(2)
        .with_resource_field("dry_run", true);
    assert_eq!(
        input.to_json(),
        json!({
            "identity": {
                "tenant_id": "t1", "user_id": "u1", "roles": ["agent"], "privacy_mode": false,
                "credential": "api_key",
                "agent": {"run_id": "run-2", "parent_run_id": "run-1", "max_tool_tier": 2},
            },
            "action": "tool.call",
            "resource": {"tool": "grep", "tier": 1, "arguments": {"q": 1}, "dry_run": true},
        })
    );
    assert_eq!(input.action(), Some("tool.call"));
    let model = PolicyInput::model_call(&identity(&[User]), "llama", 1, Some(Classification::Secret))
        .with_resource_field("endpoint", "http://gpu-1:8000/v1");
    assert_eq!(
        model.to_json()["resource"],
        json!({"model": "llama", "tier": 1, "classification": "secret", "endpoint": "http://gpu-1:8000/v1"})
    );
    assert_eq!(
        PolicyInput::memory_write(&identity(&[User]), MemoryScope::Global, None).to_json()["resource"],
        json!({"scope": "global", "tenant_id": null})
    );
    assert_eq!("confidential".parse::<Classification>(), Ok(Classification::Confidential));
    assert_eq!("model.call".parse::<rampart_policy::Action>(), Ok(rampart_policy::Action::ModelCall));
}

#[test]
fn explain_shows_the_rules_that_fired_and_the_lines_evaluated() {
    let engine = engine();
    let input = PolicyInput::retrieval(&identity(&[User]), "docs", "t2", None);
    let (decision, explanation) = engine.explain(&input);
    assert!(!decision.allow);
    assert_eq!(explanation.error, None);
    assert_eq!(explanation.evaluator, "rvm");
    assert_eq!(explanation.raw_decision["allow"], json!(false));
    assert_eq!(explanation.raw_decision["reasons"], json!(decision.reasons));
    assert_eq!(explanation.rules["verdict"]["grants"], json!([]));
    assert_eq!(explanation.rules["verdict"]["refusals"].as_array().map(Vec::len), Some(1), "{:#}", explanation.rules);
    assert_eq!(explanation.rules["caller_tenant"], json!("t1"));
    let covered = &explanation.covered_lines["rbac.rego"];
    assert!(!covered.is_empty());
    assert!(!explanation.covered_lines.contains_key("rbac_test.rego"));
}
