#!/usr/bin/env python3
"""Writes crates/paperfeed-search/tests/fixtures/minilm_reference.json: reference vectors of
all-MiniLM-L6-v2 computed by sentence-transformers (the Python original) for ~20 real abstracts,
which tests/embedding_parity.rs compares the Rust embedder against (cosine >= 0.999).

Run once by hand, never in CI: it needs PyTorch (a ~6 GB install from PyPI), so keep it in a
throw-away venv outside the repository:

    python3 -m venv /tmp/st-venv && /tmp/st-venv/bin/pip install torch sentence-transformers
    scripts/fetch-model
    /tmp/st-venv/bin/python scripts/make-embedding-fixture.py [MODEL_DIR]

MODEL_DIR defaults to target/models/all-MiniLM-L6-v2 (what scripts/fetch-model writes).
The texts are what the hub embeds for a paper: title + ". " + abstract, taken from the ingest
fixtures (real Hugging Face daily_papers days) and, for TeX, ../shared/data/hf_daily_papers, chosen to include abstracts longer than the
model's 256-token limit and TeX ($...$) in the text, plus two short search queries.
"""

import json
import sys
from pathlib import Path

from sentence_transformers import SentenceTransformer

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [
    ROOT / "crates/paperfeed-ingest/tests/fixtures/2024-03-12.json",
    ROOT / "crates/paperfeed-ingest/tests/fixtures/2026-08-21.json",
]
# Neither ingest fixture has TeX in an abstract; the shared data has a few.
TEX_SOURCES = sorted((ROOT / "../shared/data/hf_daily_papers").glob("*.json"))
OUT = ROOT / "crates/paperfeed-search/tests/fixtures/minilm_reference.json"
QUERIES = ["vision transformer", "Diffusion models for 3D scene generation from a single image"]
WANT_DOCS = 20
WANT_LONG = 3


def document_text(entry):
    paper = entry.get("paper", entry)
    return paper["title"].strip() + ". " + paper["summary"].strip()


def main():
    model_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "target/models/all-MiniLM-L6-v2"
    model = SentenceTransformer(str(model_dir), device="cpu")
    assert model.max_seq_length == 256, model.max_seq_length

    docs = [document_text(e) for src in SOURCES for e in json.loads(src.read_text())]
    tex_docs = [document_text(e) for src in TEX_SOURCES for e in json.loads(src.read_text())]
    n_tokens = {d: len(model.tokenizer(d)["input_ids"]) for d in docs + tex_docs}
    # Required picks first (long ones, TeX ones), then the rest in file order up to WANT_DOCS.
    long = [d for d in docs if n_tokens[d] > 256][:WANT_LONG]
    tex = [d for d in tex_docs if "$" in d][:2]
    assert len(long) == WANT_LONG and len(tex) == 2, "need long and TeX abstracts"
    chosen = long + tex
    chosen += [d for d in docs if d not in chosen][: WANT_DOCS - len(chosen)]
    texts = chosen + QUERIES

    vectors = model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    fixture = [
        {"text": t, "tokens": len(model.tokenizer(t)["input_ids"]),
         "vector": [round(float(x), 6) for x in v]}
        for t, v in zip(texts, vectors)
    ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(fixture, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size // 1024} KB): {len(texts)} texts, "
          f"{sum(n_tokens[d] > 256 for d in chosen)} over 256 tokens (up to {max(n_tokens[d] for d in chosen)}), "
          f"{sum('$' in d for d in chosen)} with TeX")


if __name__ == "__main__":
    main()
