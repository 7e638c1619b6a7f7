//! Latency of `Guardrails::check` with the default rules on 2 KB prompts, with and without
//! entities: `cargo run --release -p rampart-guardrails --example guardrails_speed`.

use std::time::Instant;

use rampart_guardrails::{Guardrails, Stage, Vault};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn prompt(with_entities: bool) -> String {
    let filler = "The quarterly report covers revenue, hiring plans and the migration of our billing system to the new platform. ";
    let mut text = String::new();
    while text.len() < 2048 {
        text.push_str(filler);
        if with_entities && text.len().is_multiple_of(3) {
            text.push_str("Contact jane.doe@example.com or +44 20 7946 0958, card 4111 1111 1111 1111, key AKIAIOSFODNN7EXAMPLE. ");
        }
    }
    if with_entities {
        text.push_str(" Mail jane.doe@example.com, IBAN DE89 3704 0044 0532 0130 00.");
    }
    let mut end = 2048.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text
}

fn main() -> Result<(), String> {
    let rules = Guardrails::default_rules();
    let mut redact_all = rules.clone();
    for rule in &mut redact_all {
        if rule.name == "flag-pii" {
            rule.action = rampart_guardrails::Action::Redact;
        }
    }
    for (label, rules) in [("default rules", rules), ("PII redacted too", redact_all)] {
        let guardrails = Guardrails::new(rules, None).map_err(|error| error.to_string())?;
        for with_entities in [false, true] {
            let text = prompt(with_entities);
            let iterations = 10_000;
            let mut micros = Vec::with_capacity(iterations);
            for _ in 0..iterations {
                let mut vault = Vault::default();
                let started = Instant::now();
                let checked = guardrails.check(Stage::Prompt, &text, &[], &mut vault);
                micros.push(started.elapsed().as_secs_f64() * 1e6);
                std::hint::black_box(checked);
            }
            micros.sort_by(f64::total_cmp);
            println!(
                "{label:18} {:>5} bytes, entities: {with_entities:5}  p50 {:7.1} µs  p99 {:7.1} µs  max {:8.1} µs",
                text.len(),
                percentile(&micros, 0.5),
                percentile(&micros, 0.99),
                percentile(&micros, 1.0)
            );
        }
    }
    Ok(())
}
