#!/usr/bin/env python3
"""Builds the committed known-item retrieval set from Debian manual pages.

No public IR collection (Cranfield, BEIR, MS MARCO) can be fetched from the package registries
this project builds from, so the retrieval benchmark uses a set built from a public corpus with
stated known-item queries, as the issue allows:

- Corpus: the English section 1 and 8 manual pages installed on a Debian 12 machine from
  Debian's own packages (GPL/BSD/MIT documentation; the package of every page is recorded).
  Each page is rendered to text (`man -l`), its NAME section removed, and its body cut to the
  first MAX_CHARS characters at a line boundary.
- Queries: each page's NAME description ("list directory contents" for ls), the one-line
  summary a person would type when looking for the tool. Exactly one page is relevant to each
  query: the page it came from. Descriptions shared by several pages, shorter than three words,
  or containing the command's own name are left out.

Run once; the output (data/manpages.jsonl.gz, data/queries.jsonl) is committed, so every run
of the benchmark reads the same set whatever is installed.
"""

import gzip
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

MAX_DOCS = int(os.environ.get("MAX_DOCS", "2000"))
MAX_CHARS = 3000
HERE = Path(__file__).resolve().parent
SECTIONS = ["/usr/share/man/man1", "/usr/share/man/man8"]


def render(path: str) -> str:
    env = dict(os.environ, MANWIDTH="100", MAN_KEEP_FORMATTING="0", LC_ALL="C.UTF-8")
    out = subprocess.run(["man", "-l", "-E", "UTF-8", path], capture_output=True, env=env, timeout=30)
    text = out.stdout.decode("utf-8", "replace")
    text = re.sub(r".\x08", "", text)  # overstrike bold/underline
    return text


def split_name(text: str):
    """(name, description, body without the NAME section) or None."""
    lines = text.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "NAME")
    except StopIteration:
        return None
    end = next((i for i in range(start + 1, len(lines)) if lines[i] and not lines[i][0].isspace()), len(lines))
    name_line = " ".join(line.strip() for line in lines[start + 1 : end]).strip()
    match = re.match(r"^(.+?)\s+[-\u2010\u2013\u2014]+\s+(.+)$", name_line)
    if not match:
        return None
    names, description = match.group(1), " ".join(match.group(2).split()).rstrip(".")
    body_lines = lines[:start] + lines[end:]
    # Drop the page header and footer lines (command(1) ... command(1)).
    body_lines = [line for line in body_lines if not re.match(r"^\S+\(\d\w*\)\s.*\S+\(\d\w*\)$", line.strip())]
    body = "\n".join(line.strip() for line in body_lines).strip()
    body = re.sub(r"\n{3,}", "\n\n", body)
    return names, description, body


def source_description(path: str):
    """The NAME line's description from the groff source, cheaply (no rendering)."""
    try:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
            source = handle.read(20000)
    except OSError:
        return None
    match = re.search(r"^\.S[Hh]\s+\"?NAME\"?\s*\n(.*?)(?=^\.S[Hh]\s)", source, re.S | re.M)
    if not match:
        return None
    text = re.sub(r"^\.\S*\s?", "", match.group(1), flags=re.M)
    text = re.sub(r"\\f[BIRP]|\\f\(..|\\&|\\/|\\,", "", text).replace("\\-", "-").replace("\\(em", "-")
    text = " ".join(text.split())
    found = re.match(r"^(.+?)\s+-+\s+(.+)$", text)
    return found.group(2).strip().rstrip(".").lower() if found else None


def cut(body: str) -> str:
    if len(body) <= MAX_CHARS:
        return body
    cut_at = body.rfind("\n", 0, MAX_CHARS)
    return body[: cut_at if cut_at > MAX_CHARS // 2 else MAX_CHARS]


def packages(paths):
    owners = {}
    for start in range(0, len(paths), 200):
        batch = paths[start : start + 200]
        out = subprocess.run(["dpkg", "-S", *batch], capture_output=True, text=True)
        for line in out.stdout.splitlines():
            package, _, path = line.partition(": ")
            owners[path.strip()] = package.split(",")[0].split(":")[0].strip()
    return owners


def main():
    paths = sorted(
        os.path.join(section, name)
        for section in SECTIONS
        if os.path.isdir(section)
        for name in os.listdir(section)
        if not os.path.islink(os.path.join(section, name))
    )
    owners = packages(paths)
    paths = [path for path in paths if path in owners]
    # Descriptions several pages share are ambiguous as known-item queries: leave them all out.
    described = {path: source_description(path) for path in paths}
    shared = Counter(description for description in described.values() if description)
    paths = [path for path in paths if described[path] and shared[described[path]] == 1]
    per_package = Counter()
    pages = []
    for path in paths:
        if len(pages) >= MAX_DOCS:
            break
        # A spread over packages: at most 15 pages from any one.
        if per_package[owners[path]] >= 15:
            continue
        parsed = split_name(render(path))
        if not parsed:
            continue
        names, description, body = parsed
        command = re.split(r"[,\s]+", names.strip())[0]
        words = re.findall(r"\w+", description.lower())
        if len(words) < 3 or command.lower() in description.lower() or " - " in description or len(body) < 200:
            continue
        per_package[owners[path]] += 1
        pages.append({"name": command, "names": names, "description": description, "package": owners[path],
                      "path": path, "text": cut(body)})
    counts = Counter(page["description"].lower() for page in pages)
    chosen = [page for page in pages if counts[page["description"].lower()] == 1]
    data = HERE / "data"
    data.mkdir(exist_ok=True)
    with gzip.open(data / "manpages.jsonl.gz", "wt", encoding="utf-8", compresslevel=9) as out:
        for number, page in enumerate(chosen):
            doc = {"id": f"d{number:04d}", "name": page["name"], "package": page["package"],
                   "text": f"{page['name']}\n\n{page['text']}"}
            out.write(json.dumps(doc, ensure_ascii=False) + "\n")
    with open(data / "queries.jsonl", "w", encoding="utf-8") as out:
        for number, page in enumerate(chosen):
            out.write(json.dumps({"qid": f"q{number:04d}", "query": page["description"], "relevant": f"d{number:04d}"},
                                 ensure_ascii=False) + "\n")
    print(f"{len(chosen)} pages from {len(per_package)} packages "
          f"({sum(len(p['text']) for p in chosen) / 1e6:.1f} MB of text)", file=sys.stderr)


if __name__ == "__main__":
    main()
