#!/usr/bin/env python3
"""Builds the fuzzing corpora: fuzz/seeds/<target>/ (committed, hand-made, a few KB each) plus
small seeds cut from the real files in ../shared/data, written to fuzz/corpus/<target>/.

usage: fuzz/make-corpus.py SHARED_DATA_DIR CORPUS_DIR
Real files are split into single records wrapped in their page's header (one HF entry as a
one-element array, one Atom <entry> in its <feed>, one OAI <record> in its <ListRecords>, one
Kaggle line), so each seed is small and libFuzzer mutates records, not megabytes. A missing
data folder is fine: the committed seeds alone are used.
"""
import hashlib
import hmac
import base64
import json
import os
import random
import re
import shutil
import sys

TARGETS = [
    "arxiv_id", "email_address", "hf_daily", "atom", "oai_pmh", "kaggle_lines",
    "detect_format", "search_query", "comment_markdown", "rich_text", "tokens", "redirect_target",
]
HERE = os.path.dirname(os.path.abspath(__file__))
random.seed(9)


def main():
    data, out = sys.argv[1], sys.argv[2]
    seeds = {t: [] for t in TARGETS}
    if os.path.isdir(data):
        from_shared(data, seeds)
    else:
        print(f"make-corpus: {data} not found; committed seeds only", file=sys.stderr)
    from_tokens(seeds)
    for target in TARGETS:
        folder = os.path.join(out, target)
        os.makedirs(folder, exist_ok=True)
        committed = os.path.join(HERE, "seeds", target)
        if os.path.isdir(committed):
            for name in os.listdir(committed):
                shutil.copy(os.path.join(committed, name), folder)
        for blob in seeds[target]:
            if isinstance(blob, str):
                blob = blob.encode()
            name = hashlib.sha1(blob).hexdigest()
            with open(os.path.join(folder, name), "wb") as f:
                f.write(blob)
        print(f"{target}: {len(os.listdir(folder))} seeds")


def from_shared(data, seeds):
    titles, abstracts, authors, ids = [], [], [], []

    hf_dir = os.path.join(data, "hf_daily_papers")
    days = sorted(os.listdir(hf_dir)) if os.path.isdir(hf_dir) else []
    for day in days[:: max(1, len(days) // 12)]:
        raw = open(os.path.join(hf_dir, day), "rb").read()
        try:
            entries = json.loads(raw)
        except ValueError:
            continue
        for entry in entries[:4]:
            one = json.dumps([entry]).encode()
            seeds["hf_daily"].append(one)
            if len(seeds["detect_format"]) < 30:
                seeds["detect_format"].append(one)
        if len(raw) < 64 * 1024:
            seeds["hf_daily"].append(raw)
        for entry in entries:
            paper = entry.get("paper", {})
            if paper.get("id"):
                ids.append(paper["id"])
            if paper.get("title"):
                titles.append(paper["title"])
            if paper.get("summary"):
                abstracts.append(paper["summary"])
            for a in paper.get("authors", [])[:3]:
                if a.get("name"):
                    authors.append(a["name"])

    api_dir = os.path.join(data, "arxiv_api")
    for name in sorted(os.listdir(api_dir)) if os.path.isdir(api_dir) else []:
        text = open(os.path.join(api_dir, name), encoding="utf-8").read()
        seeds["atom"].append(text)
        head, _, _ = text.partition("<entry>")
        for entry in re.findall(r"<entry>.*?</entry>", text, re.S):
            seeds["atom"].append(head + entry + "\n</feed>\n")
            seeds["detect_format"].append(head + entry + "\n</feed>\n")
            m = re.search(r"<title>(.*?)</title>", entry, re.S)
            if m:
                titles.append(m.group(1))

    oai_dir = os.path.join(data, "arxiv_oai_pmh")
    for name in sorted(os.listdir(oai_dir)) if os.path.isdir(oai_dir) else []:
        text = open(os.path.join(oai_dir, name), encoding="utf-8").read()
        head, _, _ = text.partition("<record>")
        tail = text[text.rfind("</record>") + len("</record>"):]
        records = re.findall(r"<record>.*?</record>", text, re.S)
        for record in records[:12]:
            seeds["oai_pmh"].append(head + record + tail)
        seeds["detect_format"].append(head + records[0] + tail if records else text[:4096])
        for record in records:
            m = re.search(r"<id>(.*?)</id>", record)
            if m:
                ids.append(m.group(1))
            m = re.search(r"<abstract>(.*?)</abstract>", record, re.S)
            if m and "$" in m.group(1):
                abstracts.append(m.group(1))

    kaggle_dir = os.path.join(data, "kaggle_arxiv_metadata")
    for name in sorted(os.listdir(kaggle_dir)) if os.path.isdir(kaggle_dir) else []:
        path = os.path.join(kaggle_dir, name)
        with open(path, "rb") as f:
            head = f.read(256 * 1024)
        lines = [l for l in head.split(b"\n")[:-1] if l.startswith(b"{")]
        for i, line in enumerate(lines[:30]):
            seeds["kaggle_lines"].append(line + b"\n")
            if i < 5:
                seeds["detect_format"].append(line + b"\n")
            try:
                record = json.loads(line)
                ids.append(record.get("id", ""))
                if "$" in record.get("abstract", ""):
                    abstracts.append(record["abstract"])
            except ValueError:
                pass
        if len(lines) >= 3:
            seeds["kaggle_lines"].append(b"\n".join(lines[:3]) + b"\n")

    ids = [i for i in dict.fromkeys(ids) if i]
    for i in random.sample(ids, min(60, len(ids))):
        seeds["arxiv_id"] += [i, f"arXiv:{i}v2", f"https://arxiv.org/abs/{i}", f"http://arxiv.org/pdf/{i}v1.pdf"]
    tex = [t for t in titles + abstracts if "$" in t]
    for t in tex[:80]:
        seeds["rich_text"].append(t[:2000])
    for t in random.sample(titles, min(20, len(titles))):
        seeds["rich_text"].append(t)
    for a in random.sample(abstracts, min(20, len(abstracts))):
        seeds["comment_markdown"].append(a[:1500])
    words = [w for t in titles for w in re.findall(r"[A-Za-z]{4,}", t)]
    for _ in range(40):
        parts = random.sample(words, 2) if len(words) > 2 else ["attention"]
        choice = random.randrange(6)
        if choice == 0 and authors:
            parts.append(f'author:"{random.choice(authors)}"')
        elif choice == 1:
            parts.append(random.choice(["category:cs.CL", "cat:cs.*", "category:math.GT"]))
        elif choice == 2:
            parts.append(random.choice(["published:2024-03..2024-06", "featured:2024", "published:..2023-12-31"]))
        elif choice == 3:
            parts.append(random.choice(["sort:newest", "sort:votes", "sort:relevance"]))
        elif choice == 4:
            parts = ['"' + " ".join(parts) + '"']
        seeds["search_query"].append(" ".join(parts))
    for t in random.sample(titles, min(10, len(titles))):
        seeds["search_query"].append(t)
    for i in ids[:10]:
        seeds["search_query"].append(i)
    for a in random.sample(authors, min(30, len(authors))):
        local = re.sub(r"[^a-z0-9]+", ".", a.lower()).strip(".") or "x"
        seeds["email_address"].append(f"{local}@example.org")
        seeds["email_address"].append(local.replace(".", "_")[:32])


def from_tokens(seeds):
    """Links signed with the fuzz target's key, so the valid path is in the corpus."""
    key = b"fuzzing key, 32 bytes or more..."
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    for sub, kind, exp in [(42, "u", 1_900_000_000), (7, "c", 1_700_000_000), (1, "p", 1_800_000_001)]:
        payload = f"{sub}.{kind}.{exp}".encode()
        tag = hmac.new(key, payload, hashlib.sha256).digest()
        seeds["tokens"].append(f"{b64(payload)}.{b64(tag)}")


if __name__ == "__main__":
    main()
