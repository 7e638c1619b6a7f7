"""Model directories for bench/classifier/run.sh, and the texts both sides score.

    models.py MODELS_DIR TEXTS_FILE

Writes, with random weights (the timing of a forward pass does not depend on what the weights
say): `xsmall/`, shaped as Llama Prompt Guard 2 22M (DeBERTa-v3-xsmall: 12 layers, hidden 384,
vocabulary 128k), and `base/`, shaped as ProtectAI's deberta-v3-base-prompt-injection-v2 and
Prompt Guard 86M's encoder (12 layers, hidden 768). Both use the tokenizer of the test fixture
`deberta-tiny` (a real DeBERTa-v3-style SentencePiece tokenizer, small vocabulary); the texts
are cut to token counts a real tokenizer gives a short prompt and a 2 KB one.
"""

import os
import shutil
import sys

import torch
from transformers import DebertaV2Config, DebertaV2ForSequenceClassification, PreTrainedTokenizerFast

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "../../crates/rampart-inference/tests/fixtures/classifiers/deberta-tiny")
SHAPES = {
    "xsmall": dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536),
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
}
# Tokens of a short prompt, and of a 2 KB prompt under DeBERTa-v3's tokenizer (~4 bytes/token).
TARGET_TOKENS = [64, 500]
SENTENCES = [
    "The quarterly report covers last week's sales in the northern region.",
    "Please summarise the meeting notes and list the open questions for the team.",
    "Our invoice mentions a late delivery and a refund request from a customer.",
    "The migration steps for the server are described in the onboarding notes.",
]


def main(models_dir, texts_file):
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=os.path.join(FIXTURE, "tokenizer.json"))
    for name, shape in SHAPES.items():
        config = DebertaV2Config(
            vocab_size=128100, max_position_embeddings=512, type_vocab_size=0, relative_attention=True,
            position_buckets=256, max_relative_positions=-1, norm_rel_ebd="layer_norm", share_att_key=True,
            pos_att_type=["p2c", "c2p"], position_biased_input=False, hidden_act="gelu", layer_norm_eps=1e-7,
            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, pooler_dropout=0.0,
            pooler_hidden_act="gelu", pooler_hidden_size=shape["hidden_size"], pad_token_id=0,
            id2label={0: "BENIGN", 1: "MALICIOUS"}, label2id={"BENIGN": 0, "MALICIOUS": 1}, **shape)
        torch.manual_seed(0)
        model = DebertaV2ForSequenceClassification(config).eval()
        target = os.path.join(models_dir, name)
        os.makedirs(target, exist_ok=True)
        model.save_pretrained(target, safe_serialization=True)
        shutil.copy(os.path.join(FIXTURE, "tokenizer.json"), target)
        print(f"{name}: {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters -> {target}")
    texts = []
    for tokens in TARGET_TOKENS:
        words = " ".join(SENTENCES[i % len(SENTENCES)] for i in range(200)).split()
        low, high = 1, len(words)
        while low < high:  # the most words that stay within `tokens`
            middle = (low + high + 1) // 2
            if len(tokenizer(" ".join(words[:middle]))["input_ids"]) + 2 <= tokens:
                low = middle
            else:
                high = middle - 1
        texts.append(" ".join(words[:low]))
    with open(texts_file, "w") as out:
        out.write("\n".join(texts) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
