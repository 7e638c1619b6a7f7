//! Time per text of the injection classifier, without HTTP: each line of TEXTS_FILE scored
//! RUNS times after a warm-up, p50 and p99 per line, as JSON lines on stdout.
//!
//! ```text
//! cargo run --release -p rampart-inference --example classify_speed -- MODEL_DIR TEXTS_FILE [RUNS=50]
//! ```
//! `bench/classifier/run.sh` runs it beside Hugging Face transformers on the same model.

use std::path::Path;
use std::time::Instant;

use rampart_inference::TextClassifier;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: classify_speed MODEL_DIR TEXTS_FILE [RUNS=50]";
    let (Some(model), Some(file)) = (args.get(1), args.get(2)) else {
        return Err(usage.into());
    };
    let runs: usize = args.get(3).map(|value| value.parse()).transpose()?.unwrap_or(50);
    if runs == 0 {
        return Err(usage.into());
    }
    let started = Instant::now();
    let classifier = TextClassifier::load(Path::new(model), &[], None)?;
    let load_ms = started.elapsed().as_secs_f64() * 1e3;
    println!("{}", serde_json::json!({ "load_ms": load_ms }));
    for text in std::fs::read_to_string(file)?.lines() {
        let windows = classifier.logits(text)?.len();
        let score = classifier.score(text)?; // also the warm-up
        let mut times: Vec<f64> = (0..runs)
            .map(|_| {
                let started = Instant::now();
                classifier.score(text).map(|_| started.elapsed().as_secs_f64() * 1e3)
            })
            .collect::<Result<_, _>>()?;
        times.sort_by(f64::total_cmp);
        let at = |quantile: f64| times[((times.len() - 1) as f64 * quantile).round() as usize];
        println!(
            "{}",
            serde_json::json!({
                "bytes": text.len(), "windows": windows, "score": score,
                "p50_ms": at(0.5), "p99_ms": at(0.99),
            })
        );
    }
    Ok(())
}
