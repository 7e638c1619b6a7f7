#!/usr/bin/env python3
"""Precision, recall and F1 per entity type against corpus.jsonl, for one or more prediction
files side by side (exact span and overlap matching); or, with --injection, TPR and FPR
against injection.jsonl.

    score.py out/rampart.jsonl out/presidio.jsonl
    score.py --injection out/rampart_injection.jsonl
"""
import json, sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).parent

def load(path):
    with open(path, encoding="utf-8") as f:
        return {row["id"]: row for row in map(json.loads, f)}

def prf(tp, fp, fn):
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)

def score(gold, predictions, overlap):
    counts = defaultdict(lambda: [0, 0, 0])
    for sid, sample in gold.items():
        truth = [(e["type"], e["start"], e["end"]) for e in sample["entities"]]
        pred = [(e["type"], e["start"], e["end"]) for e in predictions.get(sid, {}).get("entities", [])]
        used = set()
        for t in truth:
            match = None
            for i, p in enumerate(pred):
                if i in used or p[0] != t[0]:
                    continue
                if (p[1], p[2]) == (t[1], t[2]) or (overlap and p[1] < t[2] and t[1] < p[2]):
                    match = i
                    break
            if match is None:
                counts[t[0]][2] += 1
            else:
                used.add(match)
                counts[t[0]][0] += 1
        for i, p in enumerate(pred):
            if i not in used:
                counts[p[0]][1] += 1
    return counts

def main():
    args = sys.argv[1:]
    if args and args[0] == "--injection":
        gold = load(HERE / "injection.jsonl")
        for path in args[1:]:
            pred = load(path)
            by_stage = defaultdict(lambda: [0, 0, 0, 0])  # tp fn fp tn
            for sid, sample in gold.items():
                positive = sample["label"] == "injection"
                predicted = pred.get(sid, {}).get("predicted") == "injection"
                row = by_stage[sample["stage"]]
                row[0 if positive and predicted else 1 if positive else 2 if predicted else 3] += 1
            print(f"\n{path}\n\n| stage | injections | TPR | benign | FPR |\n| --- | ---: | ---: | ---: | ---: |")
            total = [0, 0, 0, 0]
            for stage, (tp, fn, fp, tn) in sorted(by_stage.items()):
                total = [a + b for a, b in zip(total, (tp, fn, fp, tn))]
                print(f"| {stage} | {tp + fn} | {tp / max(1, tp + fn):.3f} | {fp + tn} | {fp / max(1, fp + tn):.3f} |")
            tp, fn, fp, tn = total
            print(f"| **all** | {tp + fn} | {tp / max(1, tp + fn):.3f} | {fp + tn} | {fp / max(1, fp + tn):.3f} |")
        return
    gold = load(HERE / "corpus.jsonl")
    runs = [(Path(p).stem, load(p)) for p in args]
    types = sorted({e["type"] for s in gold.values() for e in s["entities"]})
    for mode in ("exact", "overlap"):
        results = [(name, score(gold, pred, mode == "overlap")) for name, pred in runs]
        header = " | ".join(f"{name} P | {name} R | {name} F1" for name, _ in runs)
        print(f"\n{mode} span match\n\n| type | n | {header} |\n| --- | ---: |" + " ---: |" * (3 * len(runs)))
        for t in types:
            cells = []
            for name, counts in results:
                tp, fp, fn = counts[t]
                if tp == 0 and fp == 0:
                    cells += ["n/a", "0.000" if fn else "n/a", "0.000" if fn else "n/a"]
                else:
                    cells += [f"{v:.3f}" for v in prf(tp, fp, fn)]
            n = sum(1 for s in gold.values() for e in s["entities"] if e["type"] == t)
            print(f"| {t} | {n} | " + " | ".join(cells) + " |")
        for name, counts in results:
            stray = {t: c[1] for t, c in counts.items() if t not in types and c[1]}
            if stray:
                print(f"\n{name}: predictions of types the corpus does not label: {stray}")

main()
