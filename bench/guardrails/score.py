#!/usr/bin/env python3
"""Scores detector predictions against the labelled corpora and prints markdown tables.

PII and secrets (against corpus.jsonl), one or more prediction files side by side:

    score.py out/rampart.jsonl out/presidio.jsonl [--corpus corpus.jsonl] [--negatives]

  Prediction lines: {"id": ..., "entities": [{"type": entity_id, "start": int, "end": int}, ...]}
  (code-point offsets, end exclusive). Per entity type: precision, recall and F1 with exact span
  matching, then with overlap matching (same type, spans overlap; one prediction matches at most
  one gold entity). A tool "covers" a type if a sidecar PRED.types.json lists it ({"types": [...]},
  presidio_eval.py writes one), or else if the file predicts that type at least once; for a type
  a tool does not cover, its cells read n/a (its misses still count in the "all types" row).
  --negatives adds, per hard-negative family, how many texts each tool flagged.

Injection (against injection.jsonl):

    score.py --injection out/rampart_injection.jsonl [more.jsonl ...] [--families]

  Prediction lines: {"id": ..., "predicted": "injection"|"benign", "score": float}. TPR and FPR
  overall and per stage (and per family with --families); ROC AUC from "score" when present.
"""
import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).parent
ORDER = ["email", "phone", "credit_card", "iban", "us_ssn", "uk_nino", "es_dni", "fr_nir", "it_fiscal_code", "nl_bsn",
         "in_aadhaar", "ca_sin", "br_cpf", "ip_address", "date_of_birth", "postal_address", "person_name",
         "aws_access_key", "aws_secret_key", "gcp_api_key", "github_token", "gitlab_token", "slack_token", "stripe_key",
         "openai_api_key", "anthropic_api_key", "private_key", "jwt", "password_assignment", "high_entropy_secret"]


def load(path):
    with open(path, encoding="utf-8") as f:
        return {row["id"]: row for row in map(json.loads, f) if row}


def prf(tp, fp, fn):
    p = tp / (tp + fp) if tp + fp else None
    r = tp / (tp + fn) if tp + fn else None
    if tp == 0:
        return p, r, (0.0 if fp or fn else None)
    return p, r, 2 * p * r / (p + r)


def fmt(x):
    return "n/a" if x is None else f"{x:.3f}"


def match(gold, pred, overlap):
    """One-to-one matching of (type, start, end) lists; returns (tp, unmatched gold, unmatched pred)."""
    pairs = []
    for gi, g in enumerate(gold):
        for pi, p in enumerate(pred):
            if p[0] != g[0]:
                continue
            if (p[1], p[2]) == (g[1], g[2]):
                pairs.append((2.0, gi, pi))
            elif overlap and p[1] < g[2] and g[1] < p[2]:
                inter = min(p[2], g[2]) - max(p[1], g[1])
                pairs.append((inter / (max(p[2], g[2]) - min(p[1], g[1])), gi, pi))
    pairs.sort(reverse=True)
    used_g, used_p, tp = set(), set(), []
    for _, gi, pi in pairs:
        if gi not in used_g and pi not in used_p:
            used_g.add(gi)
            used_p.add(pi)
            tp.append(gold[gi][0])
    return tp, [g for i, g in enumerate(gold) if i not in used_g], [p for i, p in enumerate(pred) if i not in used_p]


def score(gold, preds, overlap):
    counts = defaultdict(lambda: [0, 0, 0])  # tp fp fn
    confused = 0
    for sid, sample in gold.items():
        truth = [(e["type"], e["start"], e["end"]) for e in sample["entities"]]
        pred = [(e["type"], e["start"], e["end"]) for e in preds.get(sid, {}).get("entities", [])]
        tp, fn, fp = match(truth, pred, overlap)
        for t in tp:
            counts[t][0] += 1
        for t in fn:
            counts[t[0]][2] += 1
        for p in fp:
            counts[p[0]][1] += 1
            if any(g[0] != p[0] and p[1] < g[2] and g[1] < p[2] for g in truth):
                confused += 1
    return counts, confused


def coverage(path, preds):
    sidecar = Path(path).with_suffix(".types.json")
    if sidecar.exists():
        meta = json.loads(sidecar.read_text())
        return set(meta["types"]), meta
    return {e["type"] for row in preds.values() for e in row.get("entities", [])}, None


def entities_report(args):
    gold = load(args.corpus)
    gold_types = {e["type"] for s in gold.values() for e in s["entities"]}
    types = [t for t in ORDER if t in gold_types] + sorted(gold_types - set(ORDER))
    n_by_type = Counter(e["type"] for s in gold.values() for e in s["entities"])
    runs = []
    for path in args.predictions:
        preds = load(path)
        missing = len(set(gold) - set(preds))
        covered, meta = coverage(path, preds)
        runs.append((Path(path).stem, preds, covered, meta, missing))
    n_pos = sum(1 for s in gold.values() if s["entities"])
    print(f"Corpus: {args.corpus} — {len(gold)} texts, {n_pos} with entities, {len(gold) - n_pos} hard negatives, "
          f"{sum(n_by_type.values())} entities of {len(types)} types.\n")
    for name, _, covered, meta, missing in runs:
        extra = f"; {meta['nlp']}; threshold {meta['threshold']}" if meta else ""
        gap = f"; {missing} texts have no prediction line (counted as empty)" if missing else ""
        print(f"- **{name}**: covers {len(covered & set(types))}/{len(types)} types{extra}{gap}")
    for mode in ("exact", "overlap"):
        results = [(name, *score(gold, preds, mode == "overlap"), covered) for name, preds, covered, _, _ in runs]
        print(f"\n### {mode} span match\n")
        head = " | ".join(f"{n} P | {n} R | {n} F1" for n, *_ in results)
        print(f"| type | n | {head} |\n| --- | ---: |" + " ---: |" * (3 * len(results)))
        totals = {name: ([0, 0, 0], [0, 0, 0], []) for name, *_ in results}
        for t in types:
            cells = []
            for name, counts, _, covered in results:
                tp, fp, fn = counts[t]
                all_, cov, f1s = totals[name]
                all_[0] += tp; all_[1] += fp; all_[2] += fn
                if t not in covered:
                    cells += ["n/a"] * 3
                    continue
                cov[0] += tp; cov[1] += fp; cov[2] += fn
                p, r, f = prf(tp, fp, fn)
                f1s.append(f or 0.0)
                cells += [fmt(p), fmt(r), fmt(f)]
            print(f"| {t} | {n_by_type[t]} | " + " | ".join(cells) + " |")
        rows = {"micro, covered types": [], "micro, all types": [], "macro F1, covered types": []}
        for name, *_ in results:
            all_, cov, f1s = totals[name]
            rows["micro, covered types"] += [fmt(x) for x in prf(*cov)]
            rows["micro, all types"] += [fmt(x) for x in prf(*all_)]
            rows["macro F1, covered types"] += ["", "", fmt(sum(f1s) / len(f1s) if f1s else None)]
        for label, cells in rows.items():
            print(f"| **{label}** | | " + " | ".join(cells) + " |")
        for name, counts, confused, _ in results:
            stray = {t: c[1] for t, c in counts.items() if t not in gold_types and c[1]}
            notes = []
            if stray:
                notes.append(f"predictions of types the corpus never labels (counted as false positives nowhere): {stray}")
            if confused:
                notes.append(f"{confused} false positives overlap a gold entity of another type")
            if notes:
                print(f"\n{name}: " + "; ".join(notes))
    if args.negatives:
        fams = sorted({sid.split("-")[1] for sid in gold if sid.startswith("neg-")})
        print("\n### hard negatives: texts with at least one prediction (of a corpus type)\n")
        print("| family | texts | " + " | ".join(name for name, *_ in runs) + " |\n| --- | ---: |" + " ---: |" * len(runs))
        for fam in fams:
            ids = [sid for sid in gold if sid.startswith(f"neg-{fam}-")]
            cells = []
            for _, preds, *_ in runs:
                flagged = [sid for sid in ids if any(e["type"] in gold_types for e in preds.get(sid, {}).get("entities", []))]
                kinds = Counter(e["type"] for sid in flagged for e in preds[sid]["entities"] if e["type"] in gold_types)
                top = ", ".join(f"{k} {v}" for k, v in kinds.most_common(2))
                cells.append(f"{len(flagged)}" + (f" ({top})" if top else ""))
            print(f"| {fam} | {len(ids)} | " + " | ".join(cells) + " |")


def auc(pos, neg):
    if not pos or not neg:
        return None
    wins = 0.0
    neg_sorted = sorted(neg)
    import bisect
    for p in pos:
        lo = bisect.bisect_left(neg_sorted, p)
        hi = bisect.bisect_right(neg_sorted, p)
        wins += lo + 0.5 * (hi - lo)
    return wins / (len(pos) * len(neg))


def injection_report(args):
    gold = load(args.injection_corpus)
    for path in args.predictions:
        pred = load(path)
        by = defaultdict(lambda: [0, 0, 0, 0])  # tp fn fp tn
        scores = ([], [])
        for sid, sample in gold.items():
            positive = sample["label"] == "injection"
            row = pred.get(sid, {})
            predicted = row.get("predicted") == "injection"
            cell = 0 if positive and predicted else 1 if positive else 2 if predicted else 3
            for key in ("all", "stage:" + sample["stage"], "family:" + sid.rsplit("-", 1)[0]):
                by[key][cell] += 1
            if isinstance(row.get("score"), (int, float)):
                scores[0 if positive else 1].append(float(row["score"]))
        print(f"\n### {Path(path).stem} on {Path(args.injection_corpus).name}\n")
        print("| stage | injections | detected | TPR | benign | flagged | FPR |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        keys = sorted(k for k in by if k.startswith("stage:")) + ["all"]
        for k in keys:
            tp, fn, fp, tn = by[k]
            label = "**all**" if k == "all" else k.split(":", 1)[1]
            print(f"| {label} | {tp + fn} | {tp} | {fmt(tp / (tp + fn) if tp + fn else None)} | {fp + tn} | {fp} | "
                  f"{fmt(fp / (fp + tn) if fp + tn else None)} |")
        tp, fn, fp, tn = by["all"]
        p = tp / (tp + fp) if tp + fp else None
        a = auc(*scores) if len(scores[0]) + len(scores[1]) == len(gold) else None
        print(f"\nprecision {fmt(p)}, F1 {fmt(prf(tp, fp, fn)[2])}" + (f", ROC AUC of the score {a:.3f}" if a is not None else ""))
        if args.families:
            print("\n| family | texts | predicted injection | rate |\n| --- | ---: | ---: | ---: |")
            for k in sorted(k for k in by if k.startswith("family:")):
                tp, fn, fp, tn = by[k]
                n, hit = tp + fn + fp + tn, tp + fp
                print(f"| {k.split(':', 1)[1]} | {n} | {hit} | {hit / n:.3f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("predictions", nargs="+")
    ap.add_argument("--injection", action="store_true", help="score injection predictions against injection.jsonl")
    ap.add_argument("--corpus", default=str(HERE / "corpus.jsonl"))
    ap.add_argument("--injection-corpus", default=str(HERE / "injection.jsonl"))
    ap.add_argument("--negatives", action="store_true", help="per hard-negative family false alarms")
    ap.add_argument("--families", action="store_true", help="per injection/benign family detection rates")
    args = ap.parse_args()
    (injection_report if args.injection else entities_report)(args)


if __name__ == "__main__":
    main()
