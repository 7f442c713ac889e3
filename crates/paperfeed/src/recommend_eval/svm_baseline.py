"""arxiv-sanity-lite's recommender on paperfeed's simulated readers, for `paperfeed eval --recommend`.

The method as arxiv-sanity-lite runs it (compute.py, serve.py's svm_rank, read at
karpathy/arxiv-sanity-lite d7a303b): tf-idf over each paper's title, abstract and author names
(scikit-learn's TfidfVectorizer with its settings: word unigrams and bigrams, English stop words,
sublinear tf, l2, at most 20 000 features, min_df 5, max_df 0.1), fitted on every paper; then per
reader a LinearSVC (class_weight balanced, C 0.01, tol 1e-6, max_iter 10 000) with the reader's
papers as positives and every other paper as a negative, and the candidates ranked by its decision
function.

usage: python recommend-svm-baseline.py INPUT.json OUTPUT.json
INPUT: {"papers": [{"id", "text"}], "readers": [{"name", "positives": [ids], "pool": [ids]}], "k": 20}
OUTPUT: {"reader name": [the k best pool ids, best first]}
"""

import json
import sys

import numpy as np
from sklearn import svm
from sklearn.feature_extraction.text import TfidfVectorizer


def main(input_path, output_path):
    with open(input_path, encoding="utf-8") as f:
        data = json.load(f)
    papers = data["papers"]
    k = data["k"]
    vectorizer = TfidfVectorizer(
        input="content", encoding="utf-8", decode_error="replace", strip_accents="unicode",
        lowercase=True, analyzer="word", stop_words="english",
        token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",
        ngram_range=(1, 2), max_features=20000,
        norm="l2", use_idf=True, smooth_idf=True, sublinear_tf=True,
        max_df=0.1, min_df=5)
    x = vectorizer.fit_transform(p["text"] for p in papers).astype(np.float32)
    row = {p["id"]: i for i, p in enumerate(papers)}
    out = {}
    for reader in data["readers"]:
        y = np.zeros(len(papers), dtype=np.float32)
        for pid in reader["positives"]:
            y[row[pid]] = 1.0
        clf = svm.LinearSVC(class_weight="balanced", verbose=False, max_iter=10000, tol=1e-6, C=0.01)
        clf.fit(x, y)
        pool = reader["pool"]
        scores = clf.decision_function(x[[row[pid] for pid in pool]])
        # Stable, so ties keep the pool's order (ascending ids), as the Rust side breaks them.
        order = np.argsort(-scores, kind="stable")[:k]
        out[reader["name"]] = [pool[i] for i in order]
    with open(output_path, "w", encoding="utf-8") as f:
        json.dump(out, f)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: recommend-svm-baseline.py INPUT.json OUTPUT.json")
    main(sys.argv[1], sys.argv[2])
