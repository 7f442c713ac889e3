#!/usr/bin/env python3
"""Writes N Kaggle arXiv-snapshot JSON Lines for scripts/bench-recommend: a busy hub's year.

usage: make-recommend-corpus.py HF_DAILY_DIR N OUT.jsonl [LAST_DAY]

Texts are real: each line takes the title and authors of one Hugging Face daily paper and the
abstract of another (so the N documents differ although the source has a few thousand papers),
with a unique new-style id. Version 1 dates are spread evenly over the 365 days up to LAST_DAY
(default 2026-08-21, the bundled sample's last day), newest ids last: a 30-day recommender
window then holds about N/12 papers, as on a hub harvesting a large share of arXiv.
"""
import datetime
import glob
import json
import sys


def main() -> None:
    source, count, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    last = datetime.date.fromisoformat(sys.argv[4] if len(sys.argv) > 4 else "2026-08-21")
    papers = {}
    for path in sorted(glob.glob(f"{source}/*.json")):
        with open(path, encoding="utf-8") as f:
            for entry in json.load(f):
                p = entry.get("paper", entry)
                if p.get("title") and p.get("summary"):
                    papers[p["id"]] = p
    papers = [papers[k] for k in sorted(papers)]
    n = len(papers)
    with open(out, "w", encoding="utf-8") as w:
        for i in range(count):
            head = papers[i % n]
            body = papers[(i * 7919 + i // n) % n]
            day = last - datetime.timedelta(days=364 - (i * 365) // count)
            created = datetime.datetime(day.year, day.month, day.day, 12, 0, 0)
            authors = [a.get("name", "") for a in head.get("authors", []) if a.get("name")]
            record = {
                # 12 months x 100k numbers per year, years from 2001 on: unique, valid ids.
                "id": f"{1 + i // 1_200_000:02d}{1 + (i // 100_000) % 12:02d}.{i % 100_000:05d}",
                "title": head["title"],
                "abstract": body["summary"],
                "authors": ", ".join(authors) or "Anonymous",
                "categories": "cs.LG",
                "versions": [
                    {"version": "v1", "created": created.strftime("%a, %d %b %Y %H:%M:%S GMT")}
                ],
            }
            w.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
            w.write("\n")


if __name__ == "__main__":
    main()
