#!/usr/bin/env python3
"""Writes N Kaggle arXiv-snapshot JSON Lines by rewriting the ids of real lines.

usage: make-kaggle-jsonl.py SOURCE.jsonl N OUT.jsonl

Each output line is a real line with only its "id" replaced by a unique new-style id, so the
parser and store see real titles, abstracts, author lists and version histories.
"""
import json
import sys


def main() -> None:
    source, count, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with open(source, encoding="utf-8") as f:
        lines = [l for l in f.read().splitlines() if l.strip()]
    with open(out, "w", encoding="utf-8") as w:
        for i in range(count):
            record = json.loads(lines[i % len(lines)])
            # 12 months x 100k numbers per year, years from 2001 on: unique, valid five-digit ids.
            year = 1 + i // 1_200_000
            month = 1 + (i // 100_000) % 12
            record["id"] = f"{year:02d}{month:02d}.{i % 100_000:05d}"
            w.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
            w.write("\n")


if __name__ == "__main__":
    main()
