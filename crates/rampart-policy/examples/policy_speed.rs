//! Times decisions of the built-in default bundle, warm, on one thread, with each regorus
//! evaluator, every decision evaluated, and then with the RVM and the decision cache (what the
//! gateway serves with): `cargo run --release -p rampart-policy --example policy_speed`.
//!
//! The time is `PolicyEngine::decide` alone (the input is built once); allocation goes through
//! mimalloc, as in the `rampart` binary.
#![allow(clippy::print_stdout, clippy::expect_used)]

use std::time::{Duration, Instant};

use rampart_core::{Credential, IdentityEnvelope, Role};
use rampart_policy::{EvalOptions, EvaluatorKind, PolicyBundle, PolicyEngine, PolicyInput};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const DECISIONS: usize = 100_000;

fn main() {
    let user = IdentityEnvelope {
        tenant_id: "t1".into(),
        user_id: "u1".into(),
        roles: vec![Role::User],
        privacy_mode: false,
        policy_version: String::new(),
        credential: Credential::ApiKey { key_id: "key_1".into() },
        agent: None,
    };
    let private = IdentityEnvelope { privacy_mode: true, ..user.clone() };
    let cases = [
        ("model.call allow", PolicyInput::model_call(&user, "llama", 1, None)),
        ("model.call deny", PolicyInput::model_call(&private, "gpt", 2, None)),
    ];
    let cached = EvalOptions::default().decision_cache_entries;
    for (evaluator, decision_cache_entries) in
        [(EvaluatorKind::Rvm, 0), (EvaluatorKind::Interpreter, 0), (EvaluatorKind::Rvm, cached)]
    {
        let options = EvalOptions { evaluator, decision_cache_entries, ..EvalOptions::default() };
        let loading = Instant::now();
        let bundle = PolicyBundle::default_bundle(options).expect("default bundle loads");
        let mode = if bundle.caches_decisions() { "cached" } else { "evaluated" };
        println!(
            "{evaluator:?}, {mode}: bundle {} loaded in {:.1} ms",
            bundle.version(),
            loading.elapsed().as_secs_f64() * 1e3
        );
        let engine = PolicyEngine::new(bundle);
        for (name, input) in &cases {
            let expected = engine.decide(input).allow;
            for _ in 0..10_000 {
                std::hint::black_box(engine.decide(input));
            }
            let mut times = Vec::with_capacity(DECISIONS);
            let mut changed = Vec::new();
            for _ in 0..DECISIONS {
                let started = Instant::now();
                let decision = engine.decide(std::hint::black_box(input));
                times.push(started.elapsed());
                if decision.allow != expected {
                    changed.push(decision.reasons.join("; "));
                }
            }
            times.sort();
            let micros = |time: Duration| time.as_secs_f64() * 1e6;
            println!(
                "{evaluator:<11?} {mode:<9} {name:<16} p50 {:6.2} µs  p99 {:6.2} µs  max {:8.2} µs  ({DECISIONS} decisions, allow={expected})",
                micros(times[DECISIONS / 2]),
                micros(times[DECISIONS * 99 / 100]),
                micros(times[DECISIONS - 1]),
            );
            if let Some(first) = changed.first() {
                println!("  {} decisions differed, e.g.: {first}", changed.len());
            }
        }
    }
}
