//! Rampart's policy decisions: Rego bundles evaluated in-process with regorus.
//!
//! Every request, retrieval, tool call, memory write and administrative read asks
//! [`PolicyEngine::decide`] for a [`Decision`] (allow, reasons, obligations, and the version of
//! the bundle that decided). Bundles are content-addressed ([`PolicyBundle::version`]), compiled
//! and smoke-tested before they serve, and swapped atomically on reload.
//!
//! This crate must never allow on error: an evaluation error, a timeout, a panic inside
//! regorus, or a decision that is not exactly `{allow: bool, reasons: [string], obligations:
//! [object]}` is a deny whose reason says what went wrong. It never serves a bundle that failed
//! to load, and a failed reload leaves the serving bundle in place.
//!
//! # The contract with policy authors
//!
//! The entry point is `data.rampart.decision` ([`DECISION_ENTRYPOINT`]). Its input:
//!
//! ```json
//! {
//!   "identity": {"tenant_id": "t1", "user_id": "u1", "roles": ["user"],
//!                "privacy_mode": false, "credential": "api_key | oidc | none",
//!                "agent": null | {"run_id": "r2", "parent_run_id": "r1" | null,
//!                                 "max_tool_tier": 0..3 (optional)}},
//!   "action": "model.call | retrieval | tool.call | memory.write | admin.read | admin.write | audit.read",
//!   "resource": {...}
//! }
//! ```
//!
//! with `resource` per action:
//! - `model.call`: `{"model", "tier": 1 | 2, "classification": null | "public" | "internal" |
//!   "confidential" | "restricted" | "secret", "endpoint"}`
//! - `retrieval`: `{"collection", "tenant_id", "classification"}`
//! - `tool.call`: `{"tool", "tier": 0..3, "arguments", "tripcode_verified": bool (optional)}`
//! - `memory.write`: `{"scope": "global" | "tenant" | "user" | "session", "tenant_id"}`
//! - `admin.read`, `admin.write`: `{"kind", "tenant_id" (optional)}`; `audit.read`:
//!   `{"tenant_id" (optional)}`
//!
//! and its output `{"allow": bool, "reasons": [string], "obligations": [{"type": …}]}`, with
//! obligations `force_tier` ([`Obligation::ForceTier`]), `redact` ([`Obligation::Redact`]) and
//! any other kept as [`Obligation::Other`]. `docs/policy-input.md` is the full
//! reference, with the default bundle's rules.
//!
//! # Evaluation
//!
//! Decisions run on regorus' RVM (the bundle compiled to bytecode), one VM per thread per
//! bundle, under [`EvalOptions`] (wall-clock time and instruction count). The RVM of regorus
//! 0.14 differs from OPA in ways that can allow what OPA denies (an assignment from a missing
//! key succeeds; conflicting rule values read as undefined), so each bundle is cross-checked
//! against the interpreter on a corpus of typical inputs at load. A bundle on which they
//! disagree, or that regorus cannot compile to the RVM, is served by the interpreter instead
//! (logged at WARN), as is every bundle when [`EvaluatorKind::Interpreter`] is chosen.
//! `run_tests` and `explain` always use the interpreter.
//!
//! A bundle remembers the decisions its policy made, per distinct input (bounded by
//! [`EvalOptions::decision_cache_entries`]), unless its policies name a builtin whose answer
//! can change between calls ([`NON_DETERMINISTIC_BUILTINS`]); failed evaluations are never
//! remembered, and a reload starts from an empty cache.

mod bundle;
mod cache;
mod crosscheck;
mod decision;
mod engine;
mod error;
mod eval;
mod explain;
mod input;
mod testing;

pub use bundle::{DATA_FILE, DECISION_ENTRYPOINT, EvalOptions, EvaluatorKind, PolicyBundle, PolicyFile};
pub use cache::NON_DETERMINISTIC_BUILTINS;
pub use decision::{Decision, Obligation};
pub use engine::PolicyEngine;
pub use error::PolicyError;
pub use explain::Explanation;
pub use input::{Action, Classification, MemoryScope, PolicyInput, UnknownAction, UnknownClassification};
pub use testing::{TestFailure, TestReport, run_tests, run_tests_in_dir};
