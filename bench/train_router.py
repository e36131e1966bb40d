"""Fit the model router's quality predictor and write proxy/routing/router_weights.json.

    python -m bench.train_router [--data PATH] [--out PATH] [--holdout]

The predictor has two logistic heads over the same prompt features, one per model in the data:
logit P(weak right | prompt) = f_w(x), logit P(strong right | prompt) = f_s(x). At serving time every other
catalogue model interpolates between them by its ability (see scorer_rs/src/quality.rs).

This file also holds the pure-Python reference of the Rust text pass (`prompt_features`): training uses
it, and tests check the Rust extractor against it byte for byte. It is not a serving path.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "routing" / "train.jsonl"
WEIGHTS = Path(__file__).resolve().parents[1] / "proxy" / "routing" / "router_weights.json"
WEAK, STRONG = "mixtral-8x7b-instruct", "gpt-4-1106-preview"
WEAK_SLUG, STRONG_SLUG = "mistralai/mixtral-8x7b-instruct", "openai/gpt-4-turbo"

BUCKETS = 1 << 12
WORD_SEED, WORD_MUL, WORD_FINISH = 0x9E3779B97F4A7C15, 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53
M64 = (1 << 64) - 1

# Keyword lists: keep in step with scorer_rs/src/features.rs (tests compare the two extractors).
SIGNAL_WORDS: dict[str, tuple[str, ...]] = {
    "code": ("def", "function", "class", "return", "import", "code", "python", "javascript", "typescript",
             "rust", "java", "sql", "compile", "compiler", "bug", "debug", "regex", "algorithm", "array",
             "variable", "const", "struct", "fn", "println", "printf", "async", "await", "null", "string",
             "int", "void", "loop", "recursion", "script", "html", "css", "json"),
    "math": ("solve", "equation", "integral", "derivative", "calculate", "compute", "sum", "probability",
             "theorem", "math", "number", "numbers", "percent", "total", "average", "multiply", "divide",
             "fraction", "ratio", "matrix", "polynomial", "prime", "integer", "geometry", "algebra", "cost",
             "how", "many", "much"),
    "reasoning": ("why", "explain", "reason", "step", "therefore", "because", "analyze", "analyse", "compare",
                  "logic", "logical", "prove", "proof", "argue", "argument", "implies", "infer", "deduce",
                  "evaluate", "justify", "consequence", "hypothesis", "conclude", "conclusion", "think"),
    "extraction": ("extract", "list", "summarize", "summarise", "summary", "identify", "parse", "table",
                   "fields", "entities", "classify", "label", "tag", "keywords", "bullet", "outline"),
    "translation": ("translate", "translation", "translated", "french", "spanish", "german", "chinese",
                    "japanese", "korean", "italian", "portuguese", "russian", "arabic", "english", "language"),
    "creative": ("write", "story", "poem", "creative", "imagine", "song", "fiction", "character", "lyrics",
                 "haiku", "novel", "plot", "essay", "limerick", "narrative", "dialogue", "joke"),
    "chitchat": ("hi", "hello", "hey", "thanks", "thank", "lol", "morning", "evening", "bye", "cheers",
                 "sup", "yo", "please", "you", "your", "doing", "ok", "okay", "cool", "nice"),
}
SIGNALS = tuple(SIGNAL_WORDS)
DENSE_NAMES = (
    "ln_words", "digit_frac", "ln_numbers", "options", "op_frac", "mean_word_len", "long_word_frac",
    "questions", "ln_lines", "numeric_options", "ln_option_len",
) + tuple(f"signal_{s}" for s in SIGNALS)

_WORD = re.compile(rb"[a-z0-9\x80-\xff]+")
_NUMBER = re.compile(rb"[0-9]+")
_OPTION = re.compile(rb"(?:^|\n)[A-D]\. ([^\n]*)")
_OPS = frozenset(b"+-*/=^<>")
_KEYWORDS = {w.encode(): i for i, s in enumerate(SIGNALS) for w in SIGNAL_WORDS[s]}


def word_hash(word: bytes) -> int:
    """8-byte little-endian chunks through a multiply-xorshift, then one multiply; the high 32 bits."""
    h = WORD_SEED
    for i in range(0, len(word), 8):
        h = ((h ^ int.from_bytes(word[i:i + 8], "little")) * WORD_MUL) & M64
        h ^= h >> 32
    return ((h * WORD_FINISH) & M64) >> 32


def bigram_hash(prev: int, cur: int) -> int:
    h = (((prev ^ 0x9E3779B9) * 0x85EBCA6B) & 0xFFFFFFFF) ^ cur
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    return h ^ (h >> 16)


@dataclass(frozen=True, slots=True)
class PromptFeatures:
    ids: list[int]  # hashed word unigrams then bigrams, with repeats (the model sums over occurrences)
    dense: list[float]  # in DENSE_NAMES order


def prompt_features(text: str, buckets: int = BUCKETS) -> PromptFeatures:
    """Reference of the Rust text pass: words are runs of ASCII alphanumerics or non-ASCII bytes, ASCII-lowercased."""
    raw = text.encode("utf-8")
    low = raw.lower()
    words = _WORD.findall(low)
    word_hashes = [word_hash(w) for w in words]
    ids = [h % buckets for h in word_hashes]
    ids += [bigram_hash(a, b) % buckets for a, b in zip(word_hashes, word_hashes[1:])]
    n_bytes = max(len(raw), 1)
    n_words = len(words)
    options = _OPTION.findall(raw)
    hits = [0] * len(SIGNALS)
    for w in words:
        k = _KEYWORDS.get(w)
        if k is not None:
            hits[k] += 1
    dense = [
        math.log1p(n_words),
        sum(c in b"0123456789" for c in raw) / n_bytes,
        math.log1p(len(_NUMBER.findall(raw))),
        1.0 if len(options) >= 2 else 0.0,
        sum(c in _OPS for c in raw) / n_bytes,
        sum(map(len, words)) / max(n_words, 1),
        sum(len(w) >= 9 for w in words) / max(n_words, 1),
        float(min(raw.count(b"?"), 5)),
        math.log1p(raw.count(b"\n")),
        sum(any(48 <= c <= 57 for c in o) for o in options) / max(len(options), 1),
        math.log1p(sum(map(len, options)) / max(len(options), 1)),
    ] + [min(h, 5) / 5.0 for h in hits]
    return PromptFeatures(ids, dense)


@dataclass
class Dataset:
    prompts: list[str]
    sources: np.ndarray
    weak: np.ndarray  # 0/1
    strong: np.ndarray


def load(path: Path = DATA) -> Dataset:
    rows = [json.loads(line) for line in path.open()]
    return Dataset(
        prompts=[r["prompt"] for r in rows],
        sources=np.array([r["source"] for r in rows]),
        weak=np.array([r[WEAK] for r in rows], dtype=np.int8),
        strong=np.array([r[STRONG] for r in rows], dtype=np.int8),
    )


def design_matrix(features: Sequence[PromptFeatures], mean: np.ndarray, scale: np.ndarray, buckets: int = BUCKETS):
    """Hashed counts / sqrt(occurrences), then standardised dense features; the layout the Rust side computes."""
    from scipy import sparse

    indptr = np.cumsum([0] + [len(f.ids) for f in features])
    indices = np.concatenate([np.asarray(f.ids, dtype=np.int64) for f in features])
    values = np.concatenate([np.full(len(f.ids), 1.0 / math.sqrt(max(len(f.ids), 1))) for f in features])
    hashed = sparse.csr_matrix((values, indices, indptr), shape=(len(features), buckets))
    hashed.sum_duplicates()
    dense = (np.array([f.dense for f in features]) - mean) / scale
    return sparse.hstack([hashed, sparse.csr_matrix(dense)]).tocsr()


def dense_stats(features: Sequence[PromptFeatures], dense_gain: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale; the gain (>1) lets dense features carry more weight under the same L2 penalty."""
    d = np.array([f.dense for f in features])
    return d.mean(0), (d.std(0) + 1e-9) / dense_gain


@dataclass
class Heads:
    mean: np.ndarray
    scale: np.ndarray
    weak: tuple[np.ndarray, float]  # (weights over buckets + dense, bias)
    strong: tuple[np.ndarray, float]

    def logits(self, features: Sequence[PromptFeatures]) -> tuple[np.ndarray, np.ndarray]:
        x = design_matrix(features, self.mean, self.scale)
        return x @ self.weak[0] + self.weak[1], x @ self.strong[0] + self.strong[1]

    def strong_gain(self, features: Sequence[PromptFeatures]) -> np.ndarray:
        """P(strong right) - P(weak right): the router's 'send to strong' score for the eval sweep."""
        fw, fs = self.logits(features)
        return 1 / (1 + np.exp(-fs)) - 1 / (1 + np.exp(-fw))


def fit(features: Sequence[PromptFeatures], weak: np.ndarray, strong: np.ndarray, c: float = 0.1,
        dense_gain: float = 3.0) -> Heads:
    from sklearn.linear_model import LogisticRegression

    mean, scale = dense_stats(features, dense_gain)
    x = design_matrix(features, mean, scale)
    heads = []
    for y in (weak, strong):
        m = LogisticRegression(C=c, max_iter=5000).fit(x, y)
        heads.append((m.coef_[0].astype(np.float64), float(m.intercept_[0])))
    return Heads(mean, scale, heads[0], heads[1])


def export(heads: Heads, path: Path, meta: dict) -> None:
    """Weights as compact JSON: the dense block is unscaled so Rust applies (x - mean) * inv_scale itself."""
    def head(h: tuple[np.ndarray, float]) -> dict:
        w, b = h
        hashed = w[:BUCKETS]
        nz = np.flatnonzero(np.abs(hashed) >= 5e-4)
        return {
            "bias": round(b, 6),
            "dense": [round(float(v), 6) for v in w[BUCKETS:]],
            "hashed_idx": nz.tolist(),
            # Rounded to 1e-4 and within ±3.2767: the Rust scorer keeps them as exact i16 fixed point.
            "hashed_w": [round(float(v), 4) for v in np.clip(hashed[nz], -3.2767, 3.2767)],
        }

    doc = {
        "version": 1,
        "hash": "chunked multiply-xorshift words, high 32 bits of a final multiply; mixed bigrams",
        "buckets": BUCKETS,
        "dense_names": list(DENSE_NAMES),
        "dense_mean": [round(float(v), 6) for v in heads.mean],
        "dense_inv_scale": [round(float(1 / v), 6) for v in heads.scale],
        "weak": {"model": WEAK_SLUG, **head(heads.weak)},
        "strong": {"model": STRONG_SLUG, **head(heads.strong)},
        "meta": meta,
    }
    path.write_text(json.dumps(doc, separators=(",", ":")) + "\n")


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--out", type=Path, default=WEIGHTS)
    ap.add_argument("--c", type=float, default=0.1, help="inverse L2 strength of both logistic heads")
    ap.add_argument("--dense-gain", type=float, default=3.0)
    args = ap.parse_args(argv)
    data = load(args.data)
    features = [prompt_features(p) for p in data.prompts]
    heads = fit(features, data.weak, data.strong, args.c, args.dense_gain)
    meta = {"rows": len(data.prompts), "c": args.c, "dense_gain": args.dense_gain, "data": args.data.name}
    export(heads, args.out, meta)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KB) from {len(data.prompts)} rows")


if __name__ == "__main__":
    main()
