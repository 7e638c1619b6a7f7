#!/usr/bin/env python3
"""Reference sentence embeddings for the embedder test, computed independently of Rampart:
a plain numpy forward pass of the BERT weights (safetensors), the HF `tokenizers` package,
then mean pooling and L2 normalisation as sentence-transformers defines them.

Usage: python scripts/embeddings_reference.py MODEL_DIR > crates/rampart-inference/tests/data/minilm_reference.json
Needs: pip install numpy safetensors tokenizers
"""

import json
import math
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Rampart runs governed AI on your own hardware.",
    "A sovereign platform keeps answering when the cloud is gone.",
    "Hello!",
    "Embeddings map sentences to vectors; similar meanings land close together, "
    "which is what retrieval relies on when it ranks passages for a question.",
]


def layer_norm(x, weight, bias, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def gelu(x):
    # BERT's exact (erf) GELU.
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def main(model_dir: Path) -> None:
    config = json.loads((model_dir / "config.json").read_text())
    weights = load_file(str(model_dir / "model.safetensors"))
    w = lambda name: weights[name] if name in weights else weights["bert." + name]
    max_len = json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"]
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(max_len)
    tokenizer.no_padding()  # tokenizer.json pads to 128; the reference sees real tokens only
    heads, hidden, eps = config["num_attention_heads"], config["hidden_size"], config["layer_norm_eps"]
    out = []
    for sentence in SENTENCES:
        enc = tokenizer.encode(sentence)
        ids = np.array(enc.ids)
        types = np.array(enc.type_ids)
        x = w("embeddings.word_embeddings.weight")[ids] + w("embeddings.position_embeddings.weight")[np.arange(len(ids))] \
            + w("embeddings.token_type_embeddings.weight")[types]
        x = layer_norm(x, w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias"), eps)
        head_dim = hidden // heads
        for layer in range(config["num_hidden_layers"]):
            p = f"encoder.layer.{layer}."
            lin = lambda t, name: t @ w(p + name + ".weight").T + w(p + name + ".bias")
            q = lin(x, "attention.self.query").reshape(-1, heads, head_dim).transpose(1, 0, 2)
            k = lin(x, "attention.self.key").reshape(-1, heads, head_dim).transpose(1, 0, 2)
            v = lin(x, "attention.self.value").reshape(-1, heads, head_dim).transpose(1, 0, 2)
            scores = q @ k.transpose(0, 2, 1) / math.sqrt(head_dim)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(1, 0, 2).reshape(-1, hidden)
            x = layer_norm(lin(context, "attention.output.dense") + x,
                           w(p + "attention.output.LayerNorm.weight"), w(p + "attention.output.LayerNorm.bias"), eps)
            inter = gelu(lin(x, "intermediate.dense"))
            x = layer_norm(lin(inter, "output.dense") + x, w(p + "output.LayerNorm.weight"), w(p + "output.LayerNorm.bias"), eps)
        pooled = x.mean(0)
        pooled = pooled / max(np.linalg.norm(pooled), 1e-12)
        out.append({"text": sentence, "tokens": len(ids), "embedding": [round(float(v), 7) for v in pooled]})
    json.dump({"model": "all-MiniLM-L6-v2", "method": "numpy forward pass, mean pooling, L2 norm", "sentences": out},
              sys.stdout, indent=1)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
