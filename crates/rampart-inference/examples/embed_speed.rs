//! Sentences per second of the in-process embedder, without HTTP: the corpus of
//! `bench/inference.py` (or any file of one sentence per line) in requests of a fixed size.
//!
//! ```text
//! python3 bench/inference.py corpus > /tmp/sentences.txt
//! cargo run --release -p rampart-inference --example embed_speed -- MODEL_DIR /tmp/sentences.txt [BATCH] [REPS]
//! ```
//! The whole-service comparison with sentence-transformers is `make bench-inference`.

use std::path::Path;
use std::time::Instant;

use rampart_inference::BertEmbedder;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: embed_speed MODEL_DIR SENTENCES_FILE [BATCH=32] [REPS=5]";
    let (Some(model), Some(file)) = (args.get(1), args.get(2)) else {
        return Err(usage.into());
    };
    let batch: usize = args.get(3).map(|value| value.parse()).transpose()?.unwrap_or(32);
    let reps: usize = args.get(4).map(|value| value.parse()).transpose()?.unwrap_or(5);
    let sentences: Vec<String> = std::fs::read_to_string(file)?.lines().map(str::to_owned).collect();
    if sentences.is_empty() || batch == 0 {
        return Err(usage.into());
    }
    let embedder = BertEmbedder::load(Path::new(model))?;
    for chunk in sentences.chunks(batch) {
        embedder.embed(chunk)?; // warm-up
    }
    let mut rates = Vec::with_capacity(reps);
    for _ in 0..reps {
        let started = Instant::now();
        for chunk in sentences.chunks(batch) {
            embedder.embed(chunk)?;
        }
        rates.push(sentences.len() as f64 / started.elapsed().as_secs_f64());
    }
    let mut sorted = rates.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "{} sentences, requests of {batch}: median {:.1} sentences/s (repeats: {})",
        sentences.len(),
        sorted[sorted.len() / 2],
        rates.iter().map(|rate| format!("{rate:.1}")).collect::<Vec<_>>().join(", ")
    );
    Ok(())
}
