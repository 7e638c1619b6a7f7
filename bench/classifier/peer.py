"""Hugging Face transformers scoring the same texts with the same model and windows as
Rampart's `classify_speed` example: tokenise (512-token windows, stride 64), forward each
window, softmax, highest window. Prints JSON lines like the example.

    peer.py MODEL_DIR TEXTS_FILE RUNS THREADS
"""

import json
import sys
import time

import torch
from transformers import AutoModelForSequenceClassification, PreTrainedTokenizerFast


def main(model_dir, texts_file, runs, threads):
    torch.set_num_threads(threads)
    started = time.perf_counter()
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=f"{model_dir}/tokenizer.json")
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    print(json.dumps({"load_ms": (time.perf_counter() - started) * 1e3}))

    def score(text):
        encoded = tokenizer(text, truncation=True, max_length=512, stride=64, return_overflowing_tokens=True,
                            return_token_type_ids=True)
        best = 0.0
        with torch.inference_mode():
            for ids in encoded["input_ids"]:
                logits = model(input_ids=torch.tensor([ids])).logits[0]
                best = max(best, float(torch.softmax(logits, -1)[1]))
        return best, len(encoded["input_ids"])

    for text in open(texts_file).read().splitlines():
        value, windows = score(text)  # also the warm-up
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            score(text)
            times.append((time.perf_counter() - started) * 1e3)
        times.sort()
        at = lambda quantile: times[round((len(times) - 1) * quantile)]
        print(json.dumps({"bytes": len(text.encode()), "windows": windows, "score": value,
                          "p50_ms": at(0.5), "p99_ms": at(0.99)}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
