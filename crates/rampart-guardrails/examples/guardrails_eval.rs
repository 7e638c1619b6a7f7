//! Runs the detectors over a labelled corpus and writes predictions for
//! `bench/guardrails/score.py`, with offsets in Unicode code points (as Python counts them).
//!
//! ```sh
//! cargo run --release -p rampart-guardrails --example guardrails_eval -- bench/guardrails/corpus.jsonl out.jsonl
//! cargo run --release -p rampart-guardrails --example guardrails_eval -- --injection bench/guardrails/injection.jsonl out.jsonl
//! ```

use std::io::{BufRead, Write};

use rampart_guardrails::{Category, Guardrails, Severity, Stage};
use serde_json::{Value, json};

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (injection, input, output) = match args.as_slice() {
        [flag, input, output] if flag == "--injection" => (true, input, output),
        [input, output] => (false, input, output),
        _ => return Err("usage: guardrails_eval [--injection] CORPUS.jsonl PREDICTIONS.jsonl".into()),
    };
    let guardrails = Guardrails::new(Guardrails::default_rules(), None).map_err(|error| error.to_string())?;
    let reader = std::io::BufReader::new(std::fs::File::open(input).map_err(|error| format!("{input}: {error}"))?);
    let mut out = std::io::BufWriter::new(std::fs::File::create(output).map_err(|error| format!("{output}: {error}"))?);
    for line in reader.lines() {
        let line = line.map_err(|error| error.to_string())?;
        let sample: Value = serde_json::from_str(&line).map_err(|error| error.to_string())?;
        let text = sample["text"].as_str().unwrap_or_default();
        let prediction = if injection {
            let stage = match sample["stage"].as_str() {
                Some("tool_result" | "retrieved_document") => Stage::ToolResult,
                _ => Stage::Prompt,
            };
            let score = guardrails
                .detect(text, stage)
                .iter()
                .filter(|finding| finding.category == Category::Injection)
                .map(|finding| finding.score)
                .fold(0.0_f32, f32::max);
            // What the default rules block: high severity.
            let predicted = if Severity::from_score(score) == Severity::High { "injection" } else { "benign" };
            json!({"id": sample["id"], "predicted": predicted, "score": score})
        } else {
            let entities: Vec<Value> = guardrails
                .detect(text, Stage::Prompt)
                .iter()
                .filter(|finding| matches!(finding.category, Category::Pii | Category::Secret))
                .map(|finding| {
                    json!({
                        "type": finding.entity,
                        "start": text[..finding.start].chars().count(),
                        "end": text[..finding.end].chars().count(),
                    })
                })
                .collect();
            json!({"id": sample["id"], "entities": entities})
        };
        writeln!(out, "{prediction}").map_err(|error| error.to_string())?;
    }
    out.flush().map_err(|error| error.to_string())
}
