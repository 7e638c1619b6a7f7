//! Quality gate on the committed labelled corpus (`bench/guardrails/corpus.jsonl`, written
//! independently of the detectors): F1 of every structured entity type stays at or above
//! 0.95 (the target). Spans match when they overlap with the same type: the
//! corpus labels only a PEM key's BEGIN line, the detector redacts the whole block. Timing is
//! measured in the benchmark, never here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use rampart_guardrails::{Category, Guardrails, Stage};
use serde_json::Value;

const STRUCTURED: &[&str] = &[
    "email",
    "phone",
    "credit_card",
    "iban",
    "us_ssn",
    "uk_nino",
    "es_dni",
    "fr_nir",
    "it_fiscal_code",
    "nl_bsn",
    "in_aadhaar",
    "ca_sin",
    "br_cpf",
    "ip_address",
    "aws_access_key",
    "aws_secret_key",
    "gcp_api_key",
    "github_token",
    "gitlab_token",
    "slack_token",
    "stripe_key",
    "openai_api_key",
    "anthropic_api_key",
    "private_key",
    "jwt",
    // Not a structured type, but its detector parses whole addresses and is held to the same
    // floor.
    "postal_address",
];

#[test]
fn structured_types_keep_their_f1_on_the_corpus() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../bench/guardrails/corpus.jsonl");
    let corpus = std::fs::read_to_string(path).expect("bench/guardrails/corpus.jsonl is committed");
    let guardrails = Guardrails::new(Guardrails::default_rules(), None).unwrap();
    // type → (true positives, false positives, false negatives)
    let mut counts: HashMap<String, (u32, u32, u32)> = HashMap::new();
    for line in corpus.lines() {
        let sample: Value = serde_json::from_str(line).unwrap();
        let text = sample["text"].as_str().unwrap();
        let truth: Vec<(String, usize, usize)> = sample["entities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["type"].as_str().unwrap().to_owned(),
                    e["start"].as_u64().unwrap() as usize,
                    e["end"].as_u64().unwrap() as usize,
                )
            })
            .collect();
        let predicted: Vec<(String, usize, usize)> = guardrails
            .detect(text, Stage::Prompt)
            .into_iter()
            .filter(|f| matches!(f.category, Category::Pii | Category::Secret))
            .map(|f| (f.entity.to_owned(), text[..f.start].chars().count(), text[..f.end].chars().count()))
            .collect();
        let overlaps = |a: &(String, usize, usize), b: &(String, usize, usize)| a.0 == b.0 && a.1 < b.2 && b.1 < a.2;
        let mut used = vec![false; predicted.len()];
        for entity in &truth {
            let row = counts.entry(entity.0.clone()).or_default();
            match predicted.iter().enumerate().position(|(index, found)| !used[index] && overlaps(entity, found)) {
                Some(index) => {
                    used[index] = true;
                    row.0 += 1;
                }
                None => row.2 += 1,
            }
        }
        for (index, found) in predicted.iter().enumerate() {
            if !used[index] {
                counts.entry(found.0.clone()).or_default().1 += 1;
            }
        }
    }
    let mut failures = Vec::new();
    for kind in STRUCTURED {
        let (tp, fp, fn_) = counts.get(*kind).copied().unwrap_or_default();
        let f1 = if tp == 0 { 0.0 } else { 2.0 * f64::from(tp) / f64::from(2 * tp + fp + fn_) };
        if f1 < 0.95 {
            failures.push(format!("{kind}: F1 {f1:.3} (tp {tp}, fp {fp}, fn {fn_})"));
        }
    }
    assert!(failures.is_empty(), "below the floor: {failures:#?}");
}
