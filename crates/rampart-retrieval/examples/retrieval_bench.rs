//! The Rust side of `bench/retrieval.sh` (see bench/retrieval/README.md).
//!
//! ```text
//! retrieval_bench chunk DOCS.jsonl CHUNKS.jsonl
//!     Cuts each document ({"id", "name", "text"}) with the ingest chunker and its default
//!     settings; writes one chunk per line with the text the embedder reads.
//! retrieval_bench search CHUNKS.jsonl CHUNK_VECTORS.f32 QUERIES.jsonl QUERY_VECTORS.f32 RANKINGS.jsonl [SCALE]
//!     Indexes the chunks with their vectors (raw little-endian f32 rows) in a fresh embedded
//!     index, writes each query's top 300 chunks by BM25, by vector and hybrid, then grows the
//!     index to SCALE chunks (copies with perturbed vectors) and times searches. Prints a JSON
//!     summary on stdout.
//! ```
//!
//! Query vectors are computed beforehand, so the timings exclude query embedding, as the
//! benchmark asks; hybrid timings are the whole `Retriever::search` (BM25 and vector search
//! together, fusion, chunk fetch).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::io::{BufRead, BufWriter, Write};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use rampart_core::{
    ChunkRecord, DocumentRecord, MemoryKind, MemoryState, NewDocument, Owner, Provenance, RetrievalIndex, Visibility,
};
use rampart_ingest::{ChunkerConfig, ParseLimits, WordEstimate};
use rampart_retrieval::{
    EmbeddedIndex, Embedder, FusionWeights, RetrievalError, Retriever, SearchMode, SearchRequest, embedding_text,
    normalise,
};
use serde_json::{Value, json};

const TENANT: &str = "bench";
const DEPTH: usize = 300;

fn lines(path: &str) -> Vec<Value> {
    let file = std::fs::File::open(path).unwrap_or_else(|error| panic!("{path}: {error}"));
    std::io::BufReader::new(file).lines().map(|line| serde_json::from_str(&line.unwrap()).unwrap()).collect()
}

fn vectors(path: &str, rows: usize) -> Vec<Vec<f32>> {
    let bytes = std::fs::read(path).unwrap_or_else(|error| panic!("{path}: {error}"));
    let floats: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    assert!(rows > 0 && floats.len().is_multiple_of(rows), "{path}: {} floats for {rows} rows", floats.len());
    floats.chunks(floats.len() / rows).map(<[f32]>::to_vec).collect()
}

fn chunk(docs: &str, out: &str) {
    let mut writer = BufWriter::new(std::fs::File::create(out).unwrap());
    let (config, limits) = (ChunkerConfig::default(), ParseLimits::default());
    let mut count = 0;
    for doc in lines(docs) {
        let id = doc["id"].as_str().unwrap();
        let name = format!("{}.txt", doc["name"].as_str().unwrap_or(id));
        let parsed = rampart_ingest::parse(&name, doc["text"].as_str().unwrap().as_bytes(), &limits).unwrap();
        for piece in rampart_ingest::chunk(&parsed, &config, &WordEstimate) {
            let line = json!({
                "chunk_id": format!("{id}:{}", piece.index),
                "doc_id": id,
                "heading": piece.heading,
                "text": piece.text,
                "embed_text": embedding_text(&piece.heading, &piece.text),
            });
            writeln!(writer, "{line}").unwrap();
            count += 1;
        }
    }
    eprintln!("{count} chunks");
}

/// Hands back the query vectors computed beforehand, so no model runs while timing.
struct Precomputed(HashMap<String, Vec<f32>>);

#[async_trait]
impl Embedder for Precomputed {
    fn model(&self) -> &str {
        "precomputed"
    }

    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, RetrievalError> {
        texts
            .iter()
            .map(|text| {
                self.0.get(text).cloned().ok_or_else(|| RetrievalError::Invalid(format!("no vector for {text:?}")))
            })
            .collect()
    }
}

fn documents(chunks: &[Value], vectors: &[Vec<f32>], copy: usize, noise: f32) -> Vec<NewDocument> {
    let mut by_doc: Vec<(String, Vec<ChunkRecord>)> = Vec::new();
    for (chunk, vector) in chunks.iter().zip(vectors) {
        let doc = chunk["doc_id"].as_str().unwrap();
        let doc_id = if copy == 0 { doc.to_owned() } else { format!("{doc}~{copy}") };
        let index: u32 = chunk["chunk_id"].as_str().unwrap().rsplit(':').next().unwrap().parse().unwrap();
        let mut embedding = vector.clone();
        if noise > 0.0 {
            for value in &mut embedding {
                *value += (fastrand::f32() - 0.5) * 2.0 * noise;
            }
            normalise(&mut embedding);
        }
        let record = ChunkRecord {
            id: ChunkRecord::chunk_id(&doc_id, index),
            document_hash: String::new(),
            index,
            heading: serde_json::from_value(chunk["heading"].clone()).unwrap(),
            text: chunk["text"].as_str().unwrap().to_owned(),
            embedding,
            sealed: None,
        };
        match by_doc.last_mut() {
            Some((id, records)) if *id == doc_id => records.push(record),
            _ => by_doc.push((doc_id, vec![record])),
        }
    }
    by_doc
        .into_iter()
        .map(|(id, mut records)| {
            let hash = format!("{:064x}", fastrand::u128(..));
            for record in &mut records {
                record.document_hash = hash.clone();
            }
            NewDocument {
                document: DocumentRecord {
                    id: id.clone(),
                    hash,
                    owner: Owner::tenant(TENANT),
                    kind: MemoryKind::Fact,
                    state: MemoryState::Active,
                    name: id,
                    format: "txt".into(),
                    chunk_count: records.len() as u32,
                    created_unix_ms: 0,
                    expires_unix_ms: None,
                    provenance: Provenance::default(),
                },
                chunks: records,
            }
        })
        .collect()
}

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

fn request(query: &str, mode: SearchMode, limit: usize, candidates: usize) -> SearchRequest {
    SearchRequest {
        query: query.to_owned(),
        visibility: Visibility::tenant(TENANT, 1),
        limit,
        mode,
        candidates,
        weights: None,
    }
}

async fn search(args: &[String]) {
    let chunks = lines(&args[0]);
    let chunk_vectors = vectors(&args[1], chunks.len());
    let queries = lines(&args[2]);
    let query_vectors = vectors(&args[3], queries.len());
    let scale: usize = args.get(5).map(|scale| scale.parse().unwrap()).unwrap_or(0);
    let dir = tempfile::tempdir().unwrap();
    let index = Arc::new(EmbeddedIndex::open(dir.path()).unwrap());
    let started = Instant::now();
    for batch in documents(&chunks, &chunk_vectors, 0, 0.0).chunks(256) {
        index.insert_batch(batch.to_vec()).await.unwrap();
    }
    let insert_secs = started.elapsed().as_secs_f64();
    let base_bytes = index.disk_bytes().unwrap();

    let embedder = Precomputed(
        queries.iter().zip(&query_vectors).map(|(q, v)| (q["query"].as_str().unwrap().to_owned(), v.clone())).collect(),
    );
    let retriever = Retriever::new(index.clone(), Arc::new(embedder), FusionWeights::default());
    let view = Visibility::tenant(TENANT, 1);
    let mut out = BufWriter::new(std::fs::File::create(&args[4]).unwrap());
    for (query, vector) in queries.iter().zip(&query_vectors) {
        let text = query["query"].as_str().unwrap();
        let ids = |hits: Vec<rampart_core::ScoredChunk>| hits.into_iter().map(|hit| hit.chunk_id).collect::<Vec<_>>();
        let lexical = ids(index.search_lexical(&view, text, DEPTH).await.unwrap());
        let vector_hits = ids(index.search_vector(&view, vector, DEPTH).await.unwrap());
        let hybrid: Vec<String> = retriever
            .search(&request(text, SearchMode::Hybrid, DEPTH, DEPTH))
            .await
            .unwrap()
            .into_iter()
            .map(|hit| hit.chunk.id)
            .collect();
        writeln!(out, "{}", json!({"qid": query["qid"], "lexical": lexical, "vector": vector_hits, "hybrid": hybrid}))
            .unwrap();
    }
    out.flush().unwrap();

    // Grow to `scale` chunks with perturbed copies, then time searches at the default depths.
    let mut copy = 0;
    let grow_started = Instant::now();
    let mut total = chunks.len();
    while total < scale {
        copy += 1;
        for batch in documents(&chunks, &chunk_vectors, copy, 0.05).chunks(256) {
            index.insert_batch(batch.to_vec()).await.unwrap();
        }
        total += chunks.len();
    }
    let grow_secs = grow_started.elapsed().as_secs_f64();
    let mut timings: HashMap<&str, Vec<f64>> = HashMap::new();
    for pass in 0..3 {
        for (query, vector) in queries.iter().zip(&query_vectors) {
            let text = query["query"].as_str().unwrap();
            let started = Instant::now();
            index.search_lexical(&view, text, 50).await.unwrap();
            let lexical = started.elapsed().as_secs_f64() * 1e3;
            let started = Instant::now();
            index.search_vector(&view, vector, 50).await.unwrap();
            let vector_ms = started.elapsed().as_secs_f64() * 1e3;
            let started = Instant::now();
            retriever.search(&request(text, SearchMode::Hybrid, 5, 50)).await.unwrap();
            let hybrid = started.elapsed().as_secs_f64() * 1e3;
            if pass > 0 {
                timings.entry("lexical").or_default().push(lexical);
                timings.entry("vector").or_default().push(vector_ms);
                timings.entry("hybrid").or_default().push(hybrid);
            }
        }
    }
    let mut latency = serde_json::Map::new();
    for (name, samples) in &mut timings {
        latency.insert(
            (*name).to_owned(),
            json!({"p50_ms": percentile(samples, 50.0), "p99_ms": percentile(samples, 99.0), "n": samples.len()}),
        );
    }
    let summary = json!({
        "chunks": chunks.len(),
        "insert_chunks_per_sec": chunks.len() as f64 / insert_secs,
        "index_bytes": base_bytes,
        "scaled_chunks": total,
        "scaled_index_bytes": index.disk_bytes().unwrap(),
        "grow_secs": grow_secs,
        "latency": latency,
    });
    println!("{summary}");
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("chunk") if args.len() == 3 => chunk(&args[1], &args[2]),
        Some("search") if args.len() >= 6 => search(&args[1..]).await,
        _ => {
            eprintln!("usage: retrieval_bench chunk DOCS CHUNKS | search CHUNKS CVEC QUERIES QVEC RANKINGS [SCALE]");
            std::process::exit(2);
        }
    }
}
