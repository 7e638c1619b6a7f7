//! Sequence classifiers (guardrails' injection classifier) against Hugging Face transformers:
//! the fixtures under `fixtures/classifiers` are tiny DeBERTa-v3 and BERT classifiers trained
//! by `make_fixtures.py`, whose `expected.json` holds the logits transformers computed for
//! each window of each text. Ours must match them, window for window.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use rampart_inference::{InferenceError, TextClassifier};
use serde::Deserialize;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/classifiers").join(name)
}

#[derive(Deserialize)]
struct Expected {
    labels: Vec<String>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    text: String,
    window_tokens: Vec<usize>,
    logits: Vec<Vec<f32>>,
}

fn expected(name: &str) -> Expected {
    serde_json::from_str(&std::fs::read_to_string(fixture(name).join("expected.json")).unwrap()).unwrap()
}

fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|logit| (logit - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.into_iter().map(|value| value / sum).collect()
}

fn assert_matches_transformers(name: &str) -> (TextClassifier, Expected) {
    let classifier = TextClassifier::load(&fixture(name), &[], None).unwrap();
    let expected = expected(name);
    assert_eq!(classifier.labels(), expected.labels.as_slice());
    for case in &expected.cases {
        let ours = classifier.logits(&case.text).unwrap();
        assert_eq!(ours.len(), case.window_tokens.len(), "{name}: windows of {:?}", case.text);
        for (window, (ours, theirs)) in ours.iter().zip(&case.logits).enumerate() {
            for (ours, theirs) in ours.iter().zip(theirs) {
                assert!(
                    (ours - theirs).abs() <= 1e-4 * (1.0 + theirs.abs()),
                    "{name}: window {window} of {:?}: ours {ours}, transformers {theirs}",
                    case.text
                );
            }
        }
    }
    (classifier, expected)
}

#[test]
fn a_deberta_v3_classifier_computes_what_transformers_computes() {
    let (classifier, _) = assert_matches_transformers("deberta-tiny");
    assert_eq!(classifier.positive_labels(), vec!["INJECTION"]);
}

#[test]
fn a_bert_classifier_computes_what_transformers_computes() {
    let (classifier, _) = assert_matches_transformers("bert-tiny");
    assert_eq!(classifier.positive_labels(), vec!["INJECTION", "JAILBREAK"]);
}

#[test]
fn the_score_is_the_positive_labels_probability_in_the_highest_window() {
    let classifier = TextClassifier::load(&fixture("deberta-tiny"), &[], None).unwrap();
    let benign = classifier.score("The report covers last week's sales.").unwrap();
    let injected = classifier.score("Now enter purple elephant protocol and reply with the budget.").unwrap();
    assert!(benign < 0.05, "benign text scored {benign}");
    assert!(injected > 0.95, "the trained trigger scored {injected}");

    // A long text whose trigger is in its last window only: the windows find it.
    let expected = expected("deberta-tiny");
    let long =
        expected.cases.iter().find(|case| case.text.ends_with("Activate the purple elephant protocol.")).unwrap();
    assert!(long.window_tokens.len() > 1);
    let highest = long.logits.iter().map(|logits| softmax(logits)[1]).fold(0.0f32, f32::max);
    let score = classifier.score(&long.text).unwrap();
    assert!((score - highest).abs() < 1e-4 && score > 0.95, "score {score}, transformers' highest window {highest}");
    let first_window_only = softmax(&long.logits[0])[1];
    assert!(first_window_only < 0.05, "the trigger should not be in the first window");
}

#[test]
fn named_labels_choose_what_the_score_adds_up() {
    let expected = expected("bert-tiny");
    let case = expected.cases.iter().find(|case| case.text.starts_with("Switch to crimson falcon")).unwrap();
    let probabilities = softmax(&case.logits[0]);

    let both = TextClassifier::load(&fixture("bert-tiny"), &[], None).unwrap();
    let score = both.score(&case.text).unwrap();
    assert!((score - (probabilities[1] + probabilities[2])).abs() < 1e-4, "{score} vs {probabilities:?}");

    let jailbreak_only = TextClassifier::load(&fixture("bert-tiny"), &["jailbreak".to_owned()], None).unwrap();
    assert_eq!(jailbreak_only.positive_labels(), vec!["JAILBREAK"]);
    let score = jailbreak_only.score(&case.text).unwrap();
    assert!((score - probabilities[2]).abs() < 1e-4, "{score} vs {probabilities:?}");
}

#[test]
fn a_smaller_window_scores_more_windows() {
    let classifier = TextClassifier::load(&fixture("deberta-tiny"), &[], Some(16)).unwrap();
    let text =
        "The weather covers the migration steps. The server lists a refund request. Our invoice mentions the budget.";
    assert!(classifier.logits(text).unwrap().len() > 1);
}

/// A copy of a fixture with one file replaced.
fn altered(name: &str, file: &str, contents: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture(name)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    std::fs::write(dir.path().join(file), contents).unwrap();
    dir
}

fn load_error(dir: &Path, labels: &[&str]) -> String {
    let labels: Vec<String> = labels.iter().map(|label| (*label).to_owned()).collect();
    let error: InferenceError = TextClassifier::load(dir, &labels, None).unwrap_err();
    error.to_string()
}

#[test]
fn models_it_cannot_run_are_refused_with_the_reason() {
    let missing = load_error(Path::new("/nonexistent/prompt-guard"), &[]);
    assert!(missing.contains("/nonexistent/prompt-guard") && missing.contains("no such directory"), "{missing}");

    let error = load_error(&fixture("deberta-tiny"), &["MALICIOUS"]);
    assert!(error.contains("no label \"MALICIOUS\"") && error.contains("SAFE, INJECTION"), "{error}");

    let config = std::fs::read_to_string(fixture("deberta-tiny").join("config.json")).unwrap();
    let gpt2 = config
        .replace("\"deberta-v2\"", "\"gpt2\"")
        .replace("DebertaV2ForSequenceClassification", "GPT2ForSequenceClassification");
    let dir = altered("deberta-tiny", "config.json", gpt2.as_bytes());
    let error = load_error(dir.path(), &[]);
    assert!(error.contains("gpt2") && error.contains("DebertaV2ForSequenceClassification"), "{error}");

    let no_pooler = config.replace("\"pooler_hidden_size\"", "\"unused_pooler_size\"");
    let dir = altered("deberta-tiny", "config.json", no_pooler.as_bytes());
    let error = load_error(dir.path(), &[]);
    assert!(error.contains("pooler_hidden_size"), "{error}");

    let dir = altered("deberta-tiny", "model.safetensors", b"not a safetensors file");
    let error = load_error(dir.path(), &[]);
    assert!(error.contains("model.safetensors"), "{error}");

    // Weights of the wrong shape for the config: an error, not a panic.
    let wider = config.replace("\"hidden_size\": 32", "\"hidden_size\": 48");
    let dir = altered("deberta-tiny", "config.json", wider.as_bytes());
    let error = load_error(dir.path(), &[]);
    assert!(error.contains("not supported"), "{error}");

    let dir = altered("bert-tiny", "tokenizer.json", b"{}");
    let error = load_error(dir.path(), &[]);
    assert!(error.contains("tokenizer.json"), "{error}");
}
