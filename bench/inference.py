#!/usr/bin/env python3
"""Embedded-inference benchmark driver: Rampart's in-process models against their Python peers.

Run through bench/inference.sh (it builds Rampart, pulls the models, prepares the venv).

    inference.py run ...           the orchestrator: standard library only; starts Rampart and
                                   the peer workers, interleaves their repeats, writes Markdown
    inference.py worker-llama ...  llama-cpp-python in a process of its own (for its RSS)
    inference.py worker-st ...     sentence-transformers in a process of its own

The workers read one JSON command per line on stdin and answer one JSON line on stdout.

Chat (same GGUF, threads, n_ctx, n_batch, prompt, greedy, fixed max_tokens, no stop strings):
  TTFT              request sent -> first non-empty content delta (Rampart: over HTTP,
                    streaming; peer: in-process streaming create_chat_completion)
  prompt tok/s      prompt_tokens / TTFT
  generation tok/s  (completion_tokens - 1) / (last content delta - first content delta)
Every request starts with a fresh nonce so that no prompt-prefix cache (either side) can
skip prompt processing; llama-cpp-python's own prefix reuse is also reset before each call.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from array import array
from pathlib import Path

# ---------------------------------------------------------------------------------------------
# The workload
# ---------------------------------------------------------------------------------------------

# A descriptive passage to continue: no question, no instruction to stop, so that a base model
# keeps writing until max_tokens. About 200 tokens with Gemma's chat template.
PASSAGE = (
    "The lighthouse keeper on the northern island kept a journal for forty years. Every morning "
    "he wrote down the colour of the sea, the direction of the wind, the birds that passed and "
    "the ships he saw on the horizon. In the spring the terns came back from the south and nested "
    "on the rocks below the tower; in the autumn the storms arrived from the west and the waves "
    "climbed the cliffs until the spray reached the lamp room. He repaired the lens with his own "
    "hands, painted the railings every second summer and rowed to the mainland once a month for "
    "flour, oil, tobacco and letters. His daughter, who grew up on the island, learned to read the "
    "weather before she learned to read books, and she could tell from the smell of the air whether "
    "the fishing boats would come home early. When the old man finally retired, the journal filled "
    "eleven volumes, and the first page of the twelfth began with these words:"
)


def chat_messages(nonce: str) -> list[dict]:
    return [{"role": "user", "content": f"Story {nonce}. {PASSAGE}"}]


def nonce(rng: random.Random) -> str:
    return f"{rng.randrange(10**5, 10**6)}"


WORDS = (
    "the a an river city machine quiet bright winter summer market engineer garden library "
    "ancient modern network signal memory ocean mountain travel letter music window morning "
    "evening student teacher report system method result cloud server request answer question "
    "small large fast slow green blue red careful honest simple complex history science "
    "language model train station coffee bread table chair street bridge tower forest field "
    "people family friend stranger story picture camera phone computer battery engine"
).split()


def corpus(count: int, seed: int = 7) -> list[str]:
    """Deterministic sentences of 6 to 40 words (a mix like real short documents)."""
    rng = random.Random(seed)
    sentences = []
    for index in range(count):
        length = rng.choice((6, 8, 10, 12, 16, 20, 24, 32, 40))
        words = [rng.choice(WORDS) for _ in range(length)]
        sentences.append(f"{index}: " + " ".join(words).capitalize() + ".")
    return sentences


# ---------------------------------------------------------------------------------------------
# Process measurements
# ---------------------------------------------------------------------------------------------


def proc_status_mb(pid: int) -> dict:
    """VmRSS (now) and VmHWM (peak) of a process, in MB, from /proc."""
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024.0
    return {"rss": values.get("VmRSS", 0.0), "peak": values.get("VmHWM", 0.0)}


def median(values):
    values = [value for value in values if value is not None]
    return statistics.median(values) if values else None


# ---------------------------------------------------------------------------------------------
# Rampart over HTTP
# ---------------------------------------------------------------------------------------------



class StreamTally:
    """Times and text of a streamed chat answer, from OpenAI-shaped chunks (either side)."""

    def __init__(self):
        self.first = self.last = None
        self.finish = None
        self.pieces = []

    def absorb(self, chunk, now):
        for choice in chunk.get("choices") or []:
            content = (choice.get("delta") or {}).get("content")
            if content:
                if self.first is None:
                    self.first = now
                self.last = now
                self.pieces.append(content)
            if choice.get("finish_reason"):
                self.finish = choice["finish_reason"]

class Rampart:
    def __init__(self, binary: str, config: Path, port: int, env: dict, log: Path):
        self.port = port
        started = time.perf_counter()
        self.log = open(log, "ab")
        self.proc = subprocess.Popen(
            [binary, "serve", "--config", str(config)], env=env, stdout=self.log, stderr=self.log
        )
        deadline = started + 300
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"rampart exited with {self.proc.returncode}; see {log}")
            try:
                status, _ = self.get("/readyz")
                if status == 200:
                    break
            except OSError:
                pass
            if time.perf_counter() > deadline:
                raise RuntimeError(f"rampart was not ready within 300 s; see {log}")
            time.sleep(0.005)
        self.load_s = time.perf_counter() - started

    def get(self, path: str):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def post(self, path: str, body: dict, timeout: float = 600):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        return conn, conn.getresponse()

    def memory(self) -> dict:
        return proc_status_mb(self.proc.pid)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def chat_stream(self, model: str, messages: list, max_tokens: int) -> dict:
        body = {
            "model": model,
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": 0,
            "max_tokens": max_tokens,
        }
        started = time.perf_counter()
        conn, response = self.post("/v1/chat/completions", body)
        try:
            if response.status != 200:
                raise RuntimeError(f"chat: HTTP {response.status}: {response.read()[:500]!r}")
            tally = StreamTally()
            usage = None
            while True:
                line = response.readline()
                if not line:
                    break
                line = line.strip()
                if not line.startswith(b"data:"):
                    continue
                data = line[5:].strip()
                if data == b"[DONE]":
                    break
                event = json.loads(data)
                if event.get("usage"):
                    usage = event["usage"]
                tally.absorb(event, time.perf_counter())
            ended = time.perf_counter()
        finally:
            conn.close()
        if usage is None or tally.first is None:
            raise RuntimeError("chat: the stream had no usage or no content")
        return {
            "started": started,
            "first": tally.first,
            "last": tally.last,
            "ended": ended,
            "prompt_tokens": usage["prompt_tokens"],
            "cached_tokens": (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0),
            "completion_tokens": usage["completion_tokens"],
            "finish": tally.finish,
            "text": "".join(tally.pieces),
        }

    def embed(self, model: str, batch: list[str]) -> list:
        body = {"model": model, "input": batch, "encoding_format": "base64"}
        conn, response = self.post("/v1/embeddings", body)
        try:
            payload = response.read()
        finally:
            conn.close()
        if response.status != 200:
            raise RuntimeError(f"embeddings: HTTP {response.status}: {payload[:500]!r}")
        vectors = []
        for item in json.loads(payload)["data"]:
            vector = array("f")
            vector.frombytes(base64.b64decode(item["embedding"]))
            vectors.append(vector)
        return vectors


def chat_metrics(result: dict) -> dict:
    ttft = result["first"] - result["started"]
    span = result["last"] - result["first"]
    completion = result["completion_tokens"]
    return {
        "ttft_ms": ttft * 1000,
        "prompt_tokens": result["prompt_tokens"],
        "cached_tokens": result.get("cached_tokens", 0),
        "completion_tokens": completion,
        "prompt_tps": result["prompt_tokens"] / ttft if ttft > 0 else None,
        "gen_tps": (completion - 1) / span if completion > 1 and span > 0 else None,
        "finish": result["finish"],
    }


# ---------------------------------------------------------------------------------------------
# Peer workers (separate processes)
# ---------------------------------------------------------------------------------------------


class Worker:
    def __init__(self, python: str, args: list[str], env: dict, log: Path):
        started = time.perf_counter()
        self.log = open(log, "ab")
        self.proc = subprocess.Popen(
            [python, os.path.abspath(__file__), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=env,
            text=True,
            bufsize=1,
        )
        self.hello = self._read()
        self.process_ready_s = time.perf_counter() - started

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.proc.args[2]} died (exit {self.proc.poll()}); see {self.log.name}")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"worker {self.proc.args[2]}: {answer['error']}")
        return answer

    def call(self, **command) -> dict:
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def memory(self) -> dict:
        return proc_status_mb(self.proc.pid)

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def worker_loop(handle):
    for line in sys.stdin:
        command = json.loads(line)
        try:
            answer = handle(command)
        except Exception as error:  # noqa: BLE001 - reported to the orchestrator
            answer = {"error": f"{type(error).__name__}: {error}"}
        print(json.dumps(answer), flush=True)


def gguf_has_chat_template(path: str) -> bool:
    """Whether the GGUF's metadata (which precedes the tensor data) names a chat template."""
    with open(path, "rb") as file:
        head = file.read(16 << 20)
    return b"tokenizer.chat_template" in head


def worker_llama(args):
    import_started = time.perf_counter()
    import llama_cpp

    import_s = time.perf_counter() - import_started
    # Rampart renders the GGUF's chat template, or Gemma's turn format when the file has none (the
    # pulled Gemma 3 270M has none); llama-cpp-python would fall back to llama-2's [INST] format,
    # so name Gemma's format for the same prompt tokens.
    chat_format = None if gguf_has_chat_template(args.model) else "gemma"
    started = time.perf_counter()
    llm = llama_cpp.Llama(
        model_path=args.model,
        chat_format=chat_format,
        n_ctx=args.ctx,
        n_batch=args.ctx,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        flash_attn=args.flash_attn,
        verbose=False,
    )
    load_s = time.perf_counter() - started

    # Exact token counts for a stream (llama-cpp-python's streams carry no usage): count what
    # generate() is given and what it yields.
    counts = {"prompt": 0, "sampled": 0, "last": None}
    original_generate = llm.generate

    def counting_generate(tokens, *rest, **kwargs):
        counts["prompt"] = len(tokens)
        for token in original_generate(tokens, *rest, **kwargs):
            counts["sampled"] += 1
            counts["last"] = token
            yield token

    llm.generate = counting_generate

    def handle(command):
        if command["op"] != "chat":
            raise ValueError(f"unknown op {command['op']}")
        llm.reset()  # no prompt-prefix reuse across requests (prompts start with a nonce for Rampart)
        counts.update(prompt=0, sampled=0, last=None)
        started = time.perf_counter()
        stream = llm.create_chat_completion(
            messages=command["messages"],
            max_tokens=command["max_tokens"],
            temperature=0.0,
            stream=True,
        )
        tally = StreamTally()
        for chunk in stream:
            tally.absorb(chunk, time.perf_counter())
        ended = time.perf_counter()
        # An end-of-generation token is sampled and yielded but is not completion text.
        ended_by_eog = counts["last"] is not None and llama_cpp.llama_vocab_is_eog(llm._model.vocab, counts["last"])
        completion = counts["sampled"] - (1 if ended_by_eog else 0)
        return {
            "started": started,
            "first": tally.first,
            "last": tally.last,
            "ended": ended,
            "prompt_tokens": counts["prompt"],
            "completion_tokens": completion,
            "finish": tally.finish,
            "text": "".join(tally.pieces),
        }

    print(
        json.dumps(
            {
                "import_s": import_s,
                "load_s": load_s,
                "version": llama_cpp.__version__,
                "chat_format": chat_format or "the GGUF's template",
                "system_info": llama_cpp.llama_print_system_info().decode(errors="replace").strip(),
            }
        ),
        flush=True,
    )
    worker_loop(handle)


def worker_st(args):
    import_started = time.perf_counter()
    import torch
    import sentence_transformers

    torch.set_num_threads(args.threads)
    import_s = time.perf_counter() - import_started
    started = time.perf_counter()
    model = sentence_transformers.SentenceTransformer(args.model, device="cpu")
    load_s = time.perf_counter() - started
    sentences: list[str] = []

    def handle(command):
        nonlocal sentences
        if command["op"] == "corpus":
            sentences = command["sentences"]
            return {"ok": True}
        if command["op"] == "embed":
            # "batches": one encode() per request-sized batch, the same batches Rampart gets;
            # "all": one encode() over the whole corpus (sentence-transformers then sorts every
            # sentence by length before batching, which a server seeing one request cannot do).
            count = command.get("count") or len(sentences)
            chosen = sentences[:count]
            size = command["batch"]
            started = time.perf_counter()
            if command.get("mode", "batches") == "batches":
                parts = [
                    model.encode(chosen[at : at + size], batch_size=size, convert_to_numpy=True, show_progress_bar=False)
                    for at in range(0, len(chosen), size)
                ]
                vectors = parts[0] if len(parts) == 1 else __import__("numpy").concatenate(parts)
            else:
                vectors = model.encode(chosen, batch_size=size, convert_to_numpy=True, show_progress_bar=False)
            secs = time.perf_counter() - started
            keep = command.get("return_vectors", 0)
            return {"secs": secs, "n": len(chosen), "dim": int(vectors.shape[1]), "vectors": vectors[:keep].tolist()}
        raise ValueError(f"unknown op {command['op']}")

    print(
        json.dumps(
            {
                "import_s": import_s,
                "load_s": load_s,
                "version": sentence_transformers.__version__,
                "torch": torch.__version__,
                "torch_threads": torch.get_num_threads(),
                "torch_cpu": torch.backends.cpu.get_cpu_capability(),
                "max_seq_length": model.max_seq_length,
            }
        ),
        flush=True,
    )
    worker_loop(handle)


# ---------------------------------------------------------------------------------------------
# The orchestrator
# ---------------------------------------------------------------------------------------------


def log(message: str):
    print(f"[inference-bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def chat_config(work: Path, port: int, gguf: str, threads: int, ctx: int, parallel: int | None) -> Path:
    path = work / "rampart-chat.toml"
    parallel = f"parallel = {parallel}\n" if parallel else ""
    path.write_text(
        f"""[server]
listen = "127.0.0.1:{port}"
[storage]
data_dir = "{work}/data-chat"
[logging]
level = "warn"
[[backends]]
name = "local-chat"
kind = "embedded"
path = "{gguf}"
threads = {threads}
context_window = {ctx}
max_queue = 16
{parallel}[[models]]
name = "gemma-3-270m"
backend = "local-chat"
kind = "chat"
"""
    )
    return path


def embed_config(work: Path, port: int, model_dir: str) -> Path:
    path = work / "rampart-embed.toml"
    path.write_text(
        f"""[server]
listen = "127.0.0.1:{port}"
[storage]
data_dir = "{work}/data-embed"
[logging]
level = "warn"
[[backends]]
name = "local-embeddings"
kind = "embedded"
path = "{model_dir}"
[[models]]
name = "all-minilm-l6-v2"
backend = "local-embeddings"
kind = "embedding"
"""
    )
    return path


def fmt(value, digits=1):
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if float(value).is_integer() and abs(value) < 100:
        return str(int(value))
    if abs(value) >= 100:
        return f"{value:,.0f}".replace(",", " ")
    return f"{value:.{digits}f}"


def ratio(value, base):
    if value is None or base in (None, 0):
        return "—"
    return f"{value / base:.2f}×"


def run(args):
    rng = random.Random(args.seed)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.pop("RAMPART_CONFIG", None)
    env["RAMPART_LOG"] = "warn"
    # candle's CPU matmuls use rayon; give them the same number of threads as the peers.
    env["RAYON_NUM_THREADS"] = str(args.threads)
    peer_env = dict(env)
    peer_env.update(
        {
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "OMP_NUM_THREADS": str(args.threads),
            "TOKENIZERS_PARALLELISM": "false",
        }
    )
    report = {"args": vars(args), "chat": {}, "embed": {}, "notes": []}
    if "chat" in args.parts:
        chat_bench(args, rng, env, peer_env, work, report)
    elif "concurrency" in args.parts:
        concurrency_bench(args, rng, env, work, report)
    embed_cfg = embed_config(work, args.port + 1, args.minilm)
    # --- 4. Embeddings -------------------------------------------------------------------------
    if "embed" in args.parts:
        report["embed"] = embeddings(args, env, peer_env, work, embed_cfg)

    write_report(args, report)


def chat_bench(args, rng, env, peer_env, work: Path, report: dict):
    """Sections 1-3: load time, one stream against llama-cpp-python, 4 streams vs 1."""
    chat_cfg = chat_config(work, args.port, args.gguf, args.threads, args.ctx, args.parallel)
    worker_llama_args = [
        "worker-llama", "--model", args.gguf, "--threads", str(args.threads), "--ctx", str(args.ctx),
        "--flash-attn", str(args.peer_flash_attn),
    ]

    # --- 1. Chat: load time (fresh processes, interleaved) -------------------------------------
    log(f"chat: load time, {args.load_reps} fresh starts each")
    rampart_loads, peer_loads, peer_ready = [], [], []
    peer_hello = None
    for rep in range(args.load_reps):
        rampart = Rampart(args.rampart, chat_cfg, args.port, env, work / "rampart-chat.log")
        rampart_loads.append(rampart.load_s)
        rampart.stop()
        worker = Worker(args.python, worker_llama_args, peer_env, work / "worker-llama.log")
        peer_hello = worker.hello
        peer_loads.append(worker.hello["load_s"])
        peer_ready.append(worker.process_ready_s)
        worker.stop()
    log(f"  rampart {[round(x, 3) for x in rampart_loads]} s, Llama() {[round(x, 3) for x in peer_loads]} s")

    # --- 2. Chat: single stream, interleaved -----------------------------------------------------
    rampart = Rampart(args.rampart, chat_cfg, args.port, env, work / "rampart-chat.log")
    worker = Worker(args.python, worker_llama_args, peer_env, work / "worker-llama.log")
    rampart_loads.append(rampart.load_s)
    peer_loads.append(worker.hello["load_s"])
    peer_ready.append(worker.process_ready_s)
    peer_hello = worker.hello
    try:
        log("chat: warm-up")
        warm_r = chat_metrics(rampart.chat_stream("gemma-3-270m", chat_messages(nonce(rng)), args.max_tokens))
        warm_p = chat_metrics(worker.call(op="chat", messages=chat_messages(nonce(rng)), max_tokens=args.max_tokens))
        log(f"  warm-up rampart {warm_r}")
        log(f"  warm-up peer    {warm_p}")
        single_r, single_p = [], []
        texts = {}
        for rep in range(args.reps):
            messages = chat_messages(nonce(rng))  # the same prompt for both sides in this repeat
            order = ("r", "p") if rep % 2 == 0 else ("p", "r")
            for side in order:
                if side == "r":
                    raw = rampart.chat_stream("gemma-3-270m", messages, args.max_tokens)
                    single_r.append(chat_metrics(raw))
                    texts.setdefault("rampart", raw["text"])
                else:
                    raw = worker.call(op="chat", messages=messages, max_tokens=args.max_tokens)
                    single_p.append(chat_metrics(raw))
                    texts.setdefault("peer", raw["text"])
            log(
                f"  rep {rep + 1}/{args.reps}: rampart gen {fmt(single_r[-1]['gen_tps'])} tok/s "
                f"ttft {fmt(single_r[-1]['ttft_ms'])} ms | llama-cpp-python gen {fmt(single_p[-1]['gen_tps'])} "
                f"tok/s ttft {fmt(single_p[-1]['ttft_ms'])} ms"
            )
        mem_r_single = rampart.memory()
        mem_p_single = worker.memory()
        report["chat"]["single"] = {"rampart": single_r, "peer": single_p}
        report["chat"]["texts"] = texts

        # --- 3. Concurrency (Rampart only) -------------------------------------------------------
        log(f"chat: {args.streams} concurrent streams vs 1 (Rampart)")
        worker_mem_final = worker.memory()
        worker.stop()
        worker = None
        conc = concurrency_rounds(args, rampart, rng)
        mem_r_after = rampart.memory()
        report["chat"]["concurrency"] = conc
    finally:
        rampart.stop()
        if worker is not None:
            worker.stop()
    report["chat"]["load"] = {"rampart": rampart_loads, "peer": peer_loads, "peer_process": peer_ready}
    report["chat"]["memory"] = {
        "rampart_single": mem_r_single,
        "rampart_after_concurrency": mem_r_after,
        "peer": worker_mem_final,
    }
    report["chat"]["peer_hello"] = peer_hello


def concurrency_rounds(args, rampart: Rampart, rng: random.Random) -> dict:
    """Interleaved rounds of 1 and `args.streams` concurrent streams, `args.reps` of each."""
    conc = {"1": [], str(args.streams): []}
    for rep in range(args.reps):
        for streams in ((1, args.streams) if rep % 2 == 0 else (args.streams, 1)):
            conc[str(streams)].append(concurrent_round(rampart, rng, streams, args.max_tokens))
        log(
            f"  rep {rep + 1}/{args.reps}: 1 stream {fmt(conc['1'][-1]['agg_tps'])} tok/s, "
            f"{args.streams} streams {fmt(conc[str(args.streams)][-1]['agg_tps'])} tok/s"
        )
    return conc


def concurrency_bench(args, rng, env, work: Path, report: dict):
    """Section 3 alone (no llama-cpp-python): Rampart's 4 streams vs 1."""
    chat_cfg = chat_config(work, args.port, args.gguf, args.threads, args.ctx, args.parallel)
    rampart = Rampart(args.rampart, chat_cfg, args.port, env, work / "rampart-chat.log")
    try:
        log("chat: warm-up")
        rampart.chat_stream("gemma-3-270m", chat_messages(nonce(rng)), args.max_tokens)
        log(f"chat: {args.streams} concurrent streams vs 1 (Rampart)")
        report["concurrency"] = concurrency_rounds(args, rampart, rng)
    finally:
        rampart.stop()


def concurrent_round(rampart: Rampart, rng: random.Random, streams: int, max_tokens: int) -> dict:
    barrier = threading.Barrier(streams)
    results: list = [None] * streams
    errors: list = []
    prompts = [chat_messages(nonce(rng)) for _ in range(streams)]

    def one(index):
        barrier.wait()
        try:
            results[index] = rampart.chat_stream("gemma-3-270m", prompts[index], max_tokens)
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=one, args=(index,)) for index in range(streams)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    start = min(result["started"] for result in results)
    end = max(result["ended"] for result in results)
    tokens = sum(result["completion_tokens"] for result in results)
    metrics = [chat_metrics(result) for result in results]
    return {
        "agg_tps": tokens / (end - start),
        "wall_s": end - start,
        "tokens": tokens,
        "ttft_ms": [metric["ttft_ms"] for metric in metrics],
        "gen_tps": [metric["gen_tps"] for metric in metrics],
    }


def embeddings(args, env, peer_env, work: Path, embed_cfg: Path) -> dict:
    sentences = corpus(args.sentences)
    batches = [sentences[start : start + args.batch] for start in range(0, len(sentences), args.batch)]
    out: dict = {"sentences": len(sentences), "batch": args.batch}
    log(f"embeddings: {len(sentences)} sentences in batches of {args.batch}")
    rampart_loads = []
    for _ in range(args.load_reps):
        rampart = Rampart(args.rampart, embed_cfg, args.port + 1, env, work / "rampart-embed.log")
        rampart_loads.append(rampart.load_s)
        rampart.stop()
    rampart = Rampart(args.rampart, embed_cfg, args.port + 1, env, work / "rampart-embed.log")
    rampart_loads.append(rampart.load_s)
    out["rampart_load"] = rampart_loads

    worker = None
    peer_error = None
    if args.no_st:
        peer_error = args.no_st
    else:
        try:
            worker = Worker(
                args.python, ["worker-st", "--model", args.minilm, "--threads", str(args.threads)], peer_env,
                work / "worker-st.log",
            )
            worker.call(op="corpus", sentences=sentences)
            out["peer_hello"] = worker.hello
            out["peer_load"] = [worker.hello["load_s"]]
        except Exception as error:  # noqa: BLE001
            peer_error = f"sentence-transformers did not start: {error}"
            worker = None
    out["peer_error"] = peer_error
    try:
        # warm-up and a correctness check: the two sides must produce the same vectors.
        first = rampart.embed("all-minilm-l6-v2", batches[0])
        out["dim"] = len(first[0])
        if worker is not None:
            answer = worker.call(op="embed", batch=args.batch, count=args.batch, return_vectors=args.batch)
            cosines = []
            for ours, theirs in zip(first, answer["vectors"]):
                dot = sum(a * b for a, b in zip(ours, theirs))
                norm = (sum(a * a for a in ours) * sum(b * b for b in theirs)) ** 0.5
                cosines.append(dot / norm)
            out["min_cosine"] = min(cosines)
            log(f"  Rampart vs sentence-transformers, {len(cosines)} sentences: min cosine {min(cosines):.6f}")
        # Warm-up: one untimed pass over the corpus each (torch settles per input shape, and each
        # batch has its own padded length).
        for batch in batches:
            rampart.embed("all-minilm-l6-v2", batch)
        if worker is not None:
            worker.call(op="embed", batch=args.batch, mode="batches")
            worker.call(op="embed", batch=args.batch, mode="all")
        r_rates, p_rates, p_all_rates = [], [], []
        for rep in range(args.reps):
            order = ("r", "p", "a") if rep % 2 == 0 else ("a", "p", "r")
            for side in order:
                if side == "r":
                    started = time.perf_counter()
                    for batch in batches:
                        rampart.embed("all-minilm-l6-v2", batch)
                    r_rates.append(len(sentences) / (time.perf_counter() - started))
                elif worker is not None:
                    answer = worker.call(op="embed", batch=args.batch, mode="batches" if side == "p" else "all")
                    (p_rates if side == "p" else p_all_rates).append(answer["n"] / answer["secs"])
            log(
                f"  rep {rep + 1}/{args.reps}: rampart {fmt(r_rates[-1])} sentences/s"
                + (f" | sentence-transformers {fmt(p_rates[-1])} sentences/s (same batches), "
                   f"{fmt(p_all_rates[-1])} (one encode() over the corpus)" if p_rates else "")
            )
        out["rampart_rates"] = r_rates
        out["peer_rates"] = p_rates
        out["peer_all_rates"] = p_all_rates
        out["rampart_memory"] = rampart.memory()
        if worker is not None:
            out["peer_memory"] = worker.memory()
    finally:
        rampart.stop()
        if worker is not None:
            worker.stop()
    return out


def write_report(args, report):
    chat = report["chat"]
    med = lambda rows, key: median([row[key] for row in rows])  # noqa: E731
    hello = chat.get("peer_hello") or {}
    emb = report["embed"]
    machine = json.loads(Path(args.machine).read_text()) if args.machine else {}

    lines = []
    add = lines.append
    add("## Embedded inference: Rampart vs llama-cpp-python and sentence-transformers")
    add("")
    add(f"**Command:** `make bench-inference` (= `bench/inference.sh`; threads {args.threads}, "
        f"{args.reps} interleaved repeats, medians). Date: {time.strftime('%Y-%m-%d')}, commit {machine.get('commit', '?')}.")
    add("")
    add(f"**Machine:** `nproc` = {machine.get('nproc', '?')} ({machine.get('cpu', '?')}), "
        f"`free -h` = {machine.get('mem_total', '?')} total; load average before the run: {machine.get('loadavg_before', '?')}, "
        f"after: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}.")
    add("")
    peers = []
    if hello:
        peers.append(f"llama-cpp-python {hello.get('version')} (built from source by pip; `{hello.get('system_info')}`)")
    if emb.get("peer_hello"):
        peers.append(f"sentence-transformers {emb['peer_hello']['version']}, torch {emb['peer_hello']['torch']} "
                     f"(CPU capability {emb['peer_hello']['torch_cpu']}, {emb['peer_hello']['torch_threads']} threads)")
    add(f"**Versions:** Rampart {machine.get('rampart_version', '?')} (llama-cpp-2 {machine.get('llama_cpp_2', '?')}, "
        f"llama-cpp-sys-2 {machine.get('llama_cpp_sys_2', '?')}, candle {machine.get('candle', '?')}; "
        f"llama.cpp CPU code: {machine.get('rampart_simd', '?')})"
        + "".join(f"; {peer}" for peer in peers) + ".")
    add("")
    if chat:
        single_r, single_p = chat["single"]["rampart"], chat["single"]["peer"]
        add(f"**Settings (both sides):** the pulled `gemma-3-270m-q4_k_m.gguf`, n_ctx = n_batch = {args.ctx}, "
            f"{args.threads} threads (prompt and generation), "
            + ("the same prompt tokens (the GGUF has no chat template: Rampart falls back to Gemma's turn format, "
               "llama-cpp-python is given `chat_format=\"gemma\"`, which also makes `<end_of_turn>` a stop string there)"
               if hello.get("chat_format") == "gemma" else "the GGUF's chat template on both sides")
            + f", greedy (`temperature 0`), "
            f"`max_tokens {args.max_tokens}`, no stop strings, flash attention "
            f"{'on (llama.cpp default `auto` in Rampart; `flash_attn=True` in llama-cpp-python)' if args.peer_flash_attn else 'Rampart: auto; llama-cpp-python: off (its default)'}, "
            f"a fresh nonce at the start of every prompt (no prefix "
            f"reuse on either side). Rampart is measured over HTTP (streaming, `stream_options.include_usage`), "
            f"llama-cpp-python in-process (streaming `create_chat_completion`).")
        add("")
        add("### Chat, one stream (medians)")
        add("")
        add("| metric | Rampart | llama-cpp-python | Rampart ÷ peer |")
        add("|---|---:|---:|---:|")
        rows = [
            ("prompt tokens", med(single_r, "prompt_tokens"), med(single_p, "prompt_tokens"), None),
            ("prompt tokens read from a prefix cache", med(single_r, "cached_tokens"), "0 (reset per call)", None),
            ("completion tokens", med(single_r, "completion_tokens"), med(single_p, "completion_tokens"), None),
            ("generation tok/s", med(single_r, "gen_tps"), med(single_p, "gen_tps"), "hi"),
            ("prompt processing tok/s (prompt ÷ TTFT)", med(single_r, "prompt_tps"), med(single_p, "prompt_tps"), "hi"),
            ("TTFT ms (~200-token prompt)", med(single_r, "ttft_ms"), med(single_p, "ttft_ms"), "lo"),
            ("load ms (Rampart: start → `/readyz` 200; peer: `Llama(...)`)",
             median(chat["load"]["rampart"]) * 1000, median(chat["load"]["peer"]) * 1000, "lo"),
            ("peak RSS MB (after the single-stream runs)", chat["memory"]["rampart_single"]["peak"],
             chat["memory"]["peer"]["peak"], "lo"),
            ("steady RSS MB (idle, after the runs)", chat["memory"]["rampart_single"]["rss"],
             chat["memory"]["peer"]["rss"], "lo"),
        ]
        for name, ours, theirs, better in rows:
            add(f"| {name} | {fmt(ours)} | {fmt(theirs)} | {ratio(ours, theirs) if better else ''} |")
        add("")
        add(f"Throughput ratios: > 1 means Rampart is faster; time and memory ratios: < 1 means Rampart is lower. "
            f"llama-cpp-python's process start → model loaded (Python imports included): "
            f"{fmt(median(chat['load']['peer_process']) * 1000)} ms. Rampart's peak RSS after the concurrency runs: "
            f"{fmt(chat['memory']['rampart_after_concurrency']['peak'])} MB.")
        add("")
        texts = chat.get("texts", {})
        ours, theirs = texts.get("rampart", ""), texts.get("peer", "")
        common = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
        add("Same continuation (first repeat, greedy): "
            + ("identical text." if ours == theirs else
               f"the texts agree for their first {common} characters (of {len(ours)} / {len(theirs)}); "
               "builds differ in kernels and summation order, so greedy paths may part.")
            + f" Rampart's starts: {ours[:80]!r}.")
        add("")
        add("Per repeat, generation tok/s: Rampart " + str([round(row["gen_tps"] or 0, 1) for row in single_r])
            + ", llama-cpp-python " + str([round(row["gen_tps"] or 0, 1) for row in single_p]) + "; TTFT ms: Rampart "
            + str([round(row["ttft_ms"], 1) for row in single_r]) + ", llama-cpp-python "
            + str([round(row["ttft_ms"], 1) for row in single_p]) + ". Finish reasons: Rampart "
            + str(sorted({row["finish"] for row in single_r})) + ", llama-cpp-python "
            + str(sorted({row["finish"] for row in single_p})) + ".")
        add("")

        aggn, agg1 = concurrency_table(add, args, chat["concurrency"])
    elif report.get("concurrency"):
        aggn, agg1 = concurrency_table(add, args, report["concurrency"])
    r_rate = p_rate = None
    if emb:
        add("### Embeddings: all-MiniLM-L6-v2 (medians)")
        add("")
        r_rate = median(emb.get("rampart_rates", []))
        p_rate = median(emb.get("peer_rates", []))
        add(f"{emb['sentences']} sentences of 6–40 words in fixed batches of {emb['batch']}; Rampart: one sequential "
            f"`POST /v1/embeddings` per batch (`encoding_format: base64`, RAYON_NUM_THREADS={args.threads}); "
            f"sentence-transformers: `SentenceTransformer(<pulled folder>, device=\"cpu\")`, one in-process "
            f"`encode(batch)` per batch (the same batches), torch threads {args.threads}.")
        add("")
        add("| metric | Rampart | sentence-transformers | Rampart ÷ peer |")
        add("|---|---:|---:|---:|")
        p_all = median(emb.get("peer_all_rates", []))
        add(f"| sentences/s (the same batches) | {fmt(r_rate)} | {fmt(p_rate)} | {ratio(r_rate, p_rate)} |")
        add(f"| sentences/s, peer: one `encode(corpus, batch_size={emb['batch']})` (sorts by length first) | "
            f"{fmt(r_rate)} | {fmt(p_all)} | {ratio(r_rate, p_all)} |")
        peer_load = median(emb.get("peer_load", [])) if emb.get("peer_load") else None
        add(f"| load ms (Rampart: start → `/readyz`; peer: `SentenceTransformer(...)`) | "
            f"{fmt(median(emb['rampart_load']) * 1000)} | {fmt(peer_load * 1000 if peer_load else None)} | "
            f"{ratio(median(emb['rampart_load']) * 1000, peer_load * 1000 if peer_load else None)} |")
        pm = emb.get("peer_memory") or {}
        add(f"| peak RSS MB | {fmt(emb['rampart_memory']['peak'])} | {fmt(pm.get('peak'))} | "
            f"{ratio(emb['rampart_memory']['peak'], pm.get('peak'))} |")
        add(f"| steady RSS MB | {fmt(emb['rampart_memory']['rss'])} | {fmt(pm.get('rss'))} | "
            f"{ratio(emb['rampart_memory']['rss'], pm.get('rss'))} |")
        add("")
        if emb.get("peer_error"):
            add(f"**No sentence-transformers peer in this run:** {emb['peer_error']}")
        else:
            add(f"Same vectors: minimum cosine between Rampart's and sentence-transformers' embeddings of the first "
                f"{emb['batch']} sentences = {emb.get('min_cosine', 0):.6f}. "
                f"**Rampart ÷ sentence-transformers = {ratio(r_rate, p_rate)}** (target ≥ 1.5×). Per repeat: Rampart "
                f"{[round(x) for x in emb['rampart_rates']]}, sentence-transformers {[round(x) for x in emb['peer_rates']]} "
                f"(one encode() over the corpus: {[round(x) for x in emb.get('peer_all_rates', [])]}).")
        add("")

    add("### Against the targets")
    add("")
    add("| target | result |")
    add("|---|---|")
    if chat or report.get("concurrency"):
        add(f"| {args.streams} concurrent streams ≥ 2× one stream's aggregate generation tok/s | {ratio(aggn, agg1)} "
            f"({'met' if aggn and agg1 and aggn / agg1 >= 2 else 'not met'}) |")
    if emb:
        add(f"| embeddings ≥ 1.5× sentence-transformers' sentences/s | {ratio(r_rate, p_rate)} "
            f"({'met' if r_rate and p_rate and r_rate / p_rate >= 1.5 else 'not met' if p_rate else 'no peer'}) |")
    if chat:
        for name, key in (("generation", "gen_tps"), ("prompt processing", "prompt_tps")):
            ours, theirs = med(single_r, key), med(single_p, key)
            verdict = "met" if ours and theirs and ours / theirs >= 0.95 else "not met"
            add(f"| {name} tok/s ≥ 0.95× llama-cpp-python's | {ratio(ours, theirs)} ({verdict}) |")
    add("")
    for note in machine.get("notes", []):
        add(f"- {note}")
    if machine.get("notes"):
        add("")

    text = "\n".join(lines)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")
    Path(args.out).with_suffix(".json").write_text(json.dumps(report, indent=1, default=str))
    print(text)


def concurrency_table(add, args, conc):
    """The 4-streams-vs-1 section of the report."""
    many = str(args.streams)
    add(f"### Chat, {args.streams} concurrent streams vs 1 (Rampart, medians)")
    add("")
    add("| streams | aggregate generation tok/s | per-stream generation tok/s | TTFT p50 ms | TTFT max ms | wall s |")
    add("|---:|---:|---:|---:|---:|---:|")
    for key in ("1", many):
        runs = conc[key]
        add(f"| {key} | {fmt(median([run['agg_tps'] for run in runs]))} "
            f"| {fmt(median([x for run in runs for x in run['gen_tps']]))} "
            f"| {fmt(median([x for run in runs for x in run['ttft_ms']]))} "
            f"| {fmt(median([max(run['ttft_ms']) for run in runs]))} "
            f"| {fmt(median([run['wall_s'] for run in runs]), 2)} |")
    agg1 = median([run["agg_tps"] for run in conc["1"]])
    aggn = median([run["agg_tps"] for run in conc[many]])
    add("")
    add(f"Aggregate = all completion tokens ÷ wall time from the first request sent to the last stream's end. "
        f"**{args.streams} streams ÷ 1 stream = {ratio(aggn, agg1)}** (target ≥ 2×). Per repeat: 1 stream "
        f"{[round(run['agg_tps'], 1) for run in conc['1']]}, {args.streams} streams "
        f"{[round(run['agg_tps'], 1) for run in conc[many]]}.")
    add("")
    return aggn, agg1


def print_corpus(args):
    print("\n".join(corpus(args.sentences)))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--rampart", required=True, help="the release binary")
    r.add_argument("--python", default=sys.executable, help="the bench venv's python (workers)")
    r.add_argument("--gguf", required=True)
    r.add_argument("--minilm", required=True, help="the pulled all-minilm-l6-v2 folder")
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--ctx", type=int, default=2048)
    r.add_argument("--max-tokens", type=int, default=128)
    r.add_argument("--reps", type=int, default=5)
    r.add_argument("--load-reps", type=int, default=2)
    r.add_argument("--streams", type=int, default=4)
    r.add_argument("--parallel", type=int, help="Rampart's `parallel` (slots); unset: its default")
    r.add_argument("--peer-flash-attn", type=int, default=1,
                   help="llama-cpp-python flash_attn (1: on, as llama.cpp's 'auto' resolves on a CPU, Rampart's setting)")
    r.add_argument("--sentences", type=int, default=512)
    r.add_argument("--batch", type=int, default=32)
    r.add_argument("--port", type=int, default=8098)
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--work", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--machine", help="JSON with machine and version facts from inference.sh")
    r.add_argument("--no-st", help="skip the sentence-transformers peer, with this reason")
    r.add_argument("--parts", default="chat,embed",
                   help="comma-separated: chat (with llama-cpp-python; includes 4 streams vs 1), "
                        "concurrency (Rampart's 4 streams vs 1 alone), embed")
    w = sub.add_parser("worker-llama")
    w.add_argument("--model", required=True)
    w.add_argument("--threads", type=int, required=True)
    w.add_argument("--ctx", type=int, required=True)
    w.add_argument("--flash-attn", type=int, default=1)
    s = sub.add_parser("worker-st")
    s.add_argument("--model", required=True)
    s.add_argument("--threads", type=int, required=True)
    c = sub.add_parser("corpus", help="print the embedding corpus, one sentence per line")
    c.add_argument("--sentences", type=int, default=512)
    args = parser.parse_args()
    commands = {"run": run, "worker-llama": worker_llama, "worker-st": worker_st, "corpus": print_corpus}
    try:
        commands[args.command](args)
    except Exception as error:
        if args.command.startswith("worker"):
            print(json.dumps({"error": f"{type(error).__name__}: {error}"}), flush=True)
        raise


if __name__ == "__main__":
    main()
