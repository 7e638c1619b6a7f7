#!/usr/bin/env python3
"""Driver of bench/retrieval.sh: see that script and README.md beside this file."""

import gzip
import json
import math
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
from rank_bm25 import BM25Okapi

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
URL = os.environ["BENCH_URL"]
WORK = Path(os.environ["BENCH_WORK"])
TOOL = os.environ["BENCH_TOOL"]
SCALE = int(os.environ["BENCH_SCALE"])
OUT = Path(os.environ["BENCH_OUT"])
INDEX_DIR = Path(os.environ["BENCH_INDEX_DIR"])
DEPTH = 300
RRF_K = 60.0


def log(message):
    print(f"[retrieval-bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def post(path, body):
    request = urllib.request.Request(URL + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read())


def embed(texts, batch=64):
    rows = []
    for start in range(0, len(texts), batch):
        answer = post("/embed", {"input": texts[start:start + batch]})
        rows.extend(item["embedding"] for item in sorted(answer["data"], key=lambda item: item["index"]))
    return np.asarray(rows, dtype="<f4")


def dir_bytes(path):
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def tokens(text):
    return re.findall(r"[a-z0-9]+", text.lower())


def doc_ranking(chunk_ids, limit=100):
    """Documents in the order their best chunk appears."""
    seen, docs = set(), []
    for chunk_id in chunk_ids:
        doc = chunk_id.rsplit(":", 1)[0]
        if doc not in seen:
            seen.add(doc)
            docs.append(doc)
            if len(docs) == limit:
                break
    return docs


def metrics(rankings, relevant):
    ndcg, recall = [], []
    for qid, docs in rankings.items():
        wanted = relevant[qid]
        rank = docs.index(wanted) + 1 if wanted in docs else None
        ndcg.append(1.0 / math.log2(rank + 1) if rank and rank <= 10 else 0.0)
        recall.append(1.0 if rank and rank <= 100 else 0.0)
    return sum(ndcg) / len(ndcg), sum(recall) / len(recall)


def rrf(lexical, vector):
    scores = {}
    for ranking in (lexical, vector):
        for position, chunk_id in enumerate(ranking):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + 1.0 / (RRF_K + position + 1)
    return [chunk_id for chunk_id, _ in sorted(scores.items(), key=lambda item: (-item[1], item[0]))]


def machine():
    def sh(*cmd):
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
    mem = next((line.split()[1] for line in sh("free", "-h").splitlines() if line.startswith("Mem:")), "?")
    cpu = next((line.split(":", 1)[1].strip() for line in sh("lscpu").splitlines() if line.startswith("Model name:")), "?")
    commit = sh("git", "-C", str(ROOT), "rev-parse", "--short", "HEAD")
    return {"nproc": sh("nproc"), "cpu": cpu, "mem": mem, "commit": commit,
            "loadavg": open("/proc/loadavg").read().split()[:3]}


def main():
    with gzip.open(HERE / "data" / "manpages.jsonl.gz", "rt", encoding="utf-8") as handle:
        docs = [json.loads(line) for line in handle]
    queries = [json.loads(line) for line in open(HERE / "data" / "queries.jsonl", encoding="utf-8")]
    relevant = {query["qid"]: query["relevant"] for query in queries}
    log(f"{len(docs)} documents, {len(queries)} known-item queries")

    # 1. Ingest through the gateway: parse, chunk, embed with the in-process MiniLM, index.
    started, ingested_chunks = time.perf_counter(), 0
    for start in range(0, len(docs), 25):
        batch = [{"name": f"{doc['id']}-{doc['name']}.txt", "text": doc["text"]} for doc in docs[start:start + 25]]
        answer = post("/ingest", {"documents": batch})
        if answer.get("failed"):
            raise SystemExit(f"ingest failures: {[r for r in answer['data'] if r['status'] == 'failed'][:3]}")
        ingested_chunks += sum(result.get("chunks", 0) for result in answer["data"])
    ingest_secs = time.perf_counter() - started
    ingest = {"documents": len(docs), "chunks": ingested_chunks, "secs": ingest_secs,
              "chunks_per_sec": ingested_chunks / ingest_secs, "index_bytes": dir_bytes(INDEX_DIR)}
    log(f"ingest: {ingested_chunks} chunks in {ingest_secs:.1f} s")

    # 2. The same chunks and vectors for both sides.
    docs_path = WORK / "docs.jsonl"
    with open(docs_path, "w", encoding="utf-8") as handle:
        for doc in docs:
            handle.write(json.dumps({"id": doc["id"], "name": doc["name"], "text": doc["text"]}) + "\n")
    subprocess.run([TOOL, "chunk", str(docs_path), str(WORK / "chunks.jsonl")], check=True)
    chunks = [json.loads(line) for line in open(WORK / "chunks.jsonl", encoding="utf-8")]
    log(f"embedding {len(chunks)} chunks and {len(queries)} queries through /embed")
    chunk_vectors = embed([chunk["embed_text"] for chunk in chunks])
    query_vectors = embed([query["query"] for query in queries])
    chunk_vectors.tofile(WORK / "chunks.f32")
    query_vectors.tofile(WORK / "queries.f32")

    # 3. Rampart's index: rankings, then latency at SCALE chunks.
    log(f"Rampart: searching, then growing the index to {SCALE} chunks and timing")
    result = subprocess.run([TOOL, "search", str(WORK / "chunks.jsonl"), str(WORK / "chunks.f32"),
                             str(HERE / "data" / "queries.jsonl"), str(WORK / "queries.f32"),
                             str(WORK / "rankings.jsonl"), str(SCALE)], check=True, capture_output=True, text=True)
    rampart = json.loads(result.stdout.strip().splitlines()[-1])
    ours = {"lexical": {}, "vector": {}, "hybrid": {}}
    for line in open(WORK / "rankings.jsonl", encoding="utf-8"):
        row = json.loads(line)
        for mode in ours:
            ours[mode][row["qid"]] = doc_ranking(row[mode])

    # 4. The Python reference over the same chunks and vectors.
    log("reference: rank_bm25 (BM25Okapi) and numpy cosine")
    chunk_ids = [chunk["chunk_id"] for chunk in chunks]
    bm25 = BM25Okapi([tokens(chunk["embed_text"]) for chunk in chunks])
    reference = {"lexical": {}, "vector": {}, "hybrid": {}}
    bm25_times, cosine_times = [], []
    for number, query in enumerate(queries):
        started = time.perf_counter()
        scores = bm25.get_scores(tokens(query["query"]))
        lexical = [chunk_ids[i] for i in np.argsort(-scores, kind="stable")[:DEPTH] if scores[i] > 0]
        bm25_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        row = query_vectors[number] @ chunk_vectors.T
        vector = [chunk_ids[i] for i in np.argsort(-row, kind="stable")[:DEPTH]]
        cosine_times.append(time.perf_counter() - started)
        reference["lexical"][query["qid"]] = doc_ranking(lexical)
        reference["vector"][query["qid"]] = doc_ranking(vector)
        reference["hybrid"][query["qid"]] = doc_ranking(rrf(lexical, vector))

    rows = []
    for mode, label in [("lexical", "BM25"), ("vector", "vectors (MiniLM)"), ("hybrid", "hybrid (RRF, k=60)")]:
        ndcg, recall = metrics(ours[mode], relevant)
        ref_ndcg, ref_recall = metrics(reference[mode], relevant)
        rows.append((label, ndcg, ref_ndcg, recall, ref_recall))

    facts = machine()
    latency = rampart["latency"]
    ms = lambda values: sorted(values)[len(values) // 2] * 1e3
    p99 = lambda values: sorted(values)[min(len(values) - 1, math.ceil(0.99 * len(values)) - 1)] * 1e3
    lines = [
        "## Retrieval (`make bench-retrieval`)",
        "",
        f"Machine: {facts['nproc']} cores ({facts['cpu']}), {facts['mem']} memory, load {' '.join(facts['loadavg'])}; "
        f"commit {facts['commit']}.",
        f"Set: {len(docs)} Debian manual pages, {len(queries)} known-item queries (bench/retrieval/README.md); "
        f"{len(chunks)} chunks of at most 200 tokens; one relevant page per query; scores by page.",
        "",
        "| Retriever | nDCG@10 Rampart | nDCG@10 reference | recall@100 Rampart | recall@100 reference |",
        "|---|---|---|---|---|",
    ]
    for label, ndcg, ref_ndcg, recall, ref_recall in rows:
        lines.append(f"| {label} | {ndcg:.3f} | {ref_ndcg:.3f} | {recall:.3f} | {ref_recall:.3f} |")
    lines += [
        "",
        "Reference: `rank_bm25` 0.2.2 `BM25Okapi` (lower-cased alphanumeric tokens, no stemming) and numpy "
        "cosine over the same chunk vectors; hybrid is RRF (k=60) of their top 300. Rampart: Tantivy BM25 with "
        "English stemming, HNSW (exact scan under 2,048 visible vectors), weighted RRF (1:1, k=60).",
        "",
        f"Search latency at {rampart['scaled_chunks']:,} chunks (one tenant; the set plus copies with perturbed "
        f"vectors), excluding query embedding, {latency['hybrid']['n']} queries:",
        "",
        "| Search | p50 ms | p99 ms |",
        "|---|---|---|",
    ]
    for mode, label in [("lexical", "BM25 top 50"), ("vector", "HNSW top 50"),
                        ("hybrid", "hybrid (`Retriever::search`, top 5 of 50+50)")]:
        lines.append(f"| {label} | {latency[mode]['p50_ms']:.2f} | {latency[mode]['p99_ms']:.2f} |")
    lines += [
        f"| reference at {len(chunks):,} chunks: rank_bm25 `get_scores` | {ms(bm25_times):.2f} | {p99(bm25_times):.2f} |",
        f"| reference at {len(chunks):,} chunks: numpy cosine + argsort | {ms(cosine_times):.2f} | {p99(cosine_times):.2f} |",
        "",
        f"Ingest through `POST /ingest` (parse, chunk, embed with the in-process MiniLM, index): "
        f"{ingest['chunks']:,} chunks in {ingest['secs']:.1f} s = **{ingest['chunks_per_sec']:.1f} chunks/s**.",
        f"Index on disk: {ingest['index_bytes'] / 1e6:.1f} MB for {ingest['chunks']:,} chunks "
        f"({ingest['index_bytes'] / max(ingest['chunks'], 1):,.0f} B/chunk); "
        f"{rampart['scaled_index_bytes'] / 1e6:.1f} MB at {rampart['scaled_chunks']:,} chunks.",
    ]
    report = "\n".join(lines) + "\n"
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(report)
    OUT.with_suffix(".json").write_text(json.dumps({"machine": facts, "ingest": ingest, "rampart": rampart,
                                                    "quality": rows}, indent=2))
    print(report)


if __name__ == "__main__":
    main()
