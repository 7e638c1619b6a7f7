#!/usr/bin/env python3
"""Runs Microsoft Presidio (presidio-analyzer) over corpus.jsonl and writes predictions in
score.py's shape. Offline: no spaCy model can be downloaded here (they are not on PyPI), so
Presidio runs with a blank English spaCy pipeline: its pattern recognizers (email, phone,
cards, IBAN, SSN, IP, national ids…) work; PERSON and LOCATION, which need NER, find nothing.
All predefined recognizers are loaded for every language they ship for, as English.

    presidio_eval.py out/presidio.jsonl
"""
import json, sys, time, tempfile
from pathlib import Path

import spacy
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
from presidio_analyzer.nlp_engine import NlpEngineProvider

HERE = Path(__file__).parent
THRESHOLD = 0.4  # between Presidio's low-confidence pattern scores and its validated ones

MAPPING = {
    "EMAIL_ADDRESS": "email", "PHONE_NUMBER": "phone", "CREDIT_CARD": "credit_card", "IBAN_CODE": "iban",
    "US_SSN": "us_ssn", "IP_ADDRESS": "ip_address", "UK_NINO": "uk_nino", "ES_NIF": "es_dni", "ES_NIE": "es_dni",
    "IT_FISCAL_CODE": "it_fiscal_code", "IN_AADHAAR": "in_aadhaar", "PERSON": "person_name",
    "NL_BSN": "nl_bsn", "CA_SIN": "ca_sin", "BR_CPF": "br_cpf", "FR_NIR": "fr_nir",
}

def engine():
    model_dir = Path(tempfile.mkdtemp()) / "blank_en"
    spacy.blank("en").to_disk(model_dir)
    provider = NlpEngineProvider(nlp_configuration={"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": str(model_dir)}]})
    nlp = provider.create_engine()
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=nlp)
    # Country recognizers that ship for other languages (es, it, ...) are added as English too.
    from presidio_analyzer import predefined_recognizers as pr
    for name in dir(pr):
        cls = getattr(pr, name)
        if isinstance(cls, type) and name.endswith("Recognizer") and name not in {r.__class__.__name__ for r in registry.recognizers}:
            try:
                registry.add_recognizer(cls(supported_language="en"))
            except Exception:
                pass
    return AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])

def main():
    out_path = Path(sys.argv[1] if len(sys.argv) > 1 else HERE / "out" / "presidio.jsonl")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    analyzer = engine()
    times = []
    with open(HERE / "corpus.jsonl", encoding="utf-8") as corpus, open(out_path, "w", encoding="utf-8") as out:
        for line in corpus:
            sample = json.loads(line)
            started = time.perf_counter()
            results = analyzer.analyze(text=sample["text"], language="en", score_threshold=THRESHOLD)
            times.append(time.perf_counter() - started)
            entities = [{"type": MAPPING[r.entity_type], "start": r.start, "end": r.end} for r in results if r.entity_type in MAPPING]
            out.write(json.dumps({"id": sample["id"], "entities": entities}) + "\n")
    times.sort()
    print(f"presidio: {len(times)} texts, mean {1e3 * sum(times) / len(times):.2f} ms, p99 {1e3 * times[int(0.99 * (len(times) - 1))]:.2f} ms per text")

main()
