"""The pure-Python reference of the Rust text pass (`prompt_features`: hashed word n-grams and dense features)
and the RouteLLM training pairs (`load`). The v2 router (bench/router_v2) trains on these features; tests check
the Rust extractor against this reference byte for byte. It is not a serving path. (The v1 two-head trainer that
lived here is gone: the v2 predictor replaced it; see bench/ROUTING.md.)
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "routing" / "train.jsonl"
WEAK, STRONG = "mixtral-8x7b-instruct", "gpt-4-1106-preview"

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
