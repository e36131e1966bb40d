"""A prompt's representation, the pure-Python reference of the Rust side (parity tests compare the two).

Three parts, each measured in ROUTING.md:
- `embed`: the mean of the static MiniLM token vectors (bench/router_v2/distill.py) over the first 512 words'
  WordPiece tokens, L2-normalised: what the prompt is about, in a space where unseen topics land near seen ones;
- `form`: cheap signals of the request's form (instruction or question, a requested length, constraints,
  code, LaTeX) that transfer to open-ended prompts, beside the 18 dense features of the text pass;
- `ids`: the text pass's hashed word unigrams and bigrams (bench/train_router.py::prompt_features).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench import train_router as tr
from bench.router_v2 import wordpiece
from bench.router_v2.distill import OUT as TABLE_PATH
from bench.router_v2.distill import read_table

IMPERATIVE = frozenset(
    b"write explain describe list create generate summarize summarise give translate compose draft make tell "
    b"provide suggest design implement rewrite find compute calculate solve convert classify edit name outline "
    b"plan build develop help show compare analyze analyse discuss evaluate prove imagine pretend act answer "
    b"complete fill identify determine choose select rank sort fix debug refactor".split()
)
QUESTION = frozenset(b"what which who whom whose how why when where is are does do did can could would should "
                     b"will was were has have".split())
LENGTH = frozenset(b"words word sentences sentence paragraph paragraphs brief briefly concise concisely detailed "
                   b"detail short long essay page pages bullet points summary".split())
CONSTRAINT = frozenset(b"must should exactly least most only without avoid ensure include format never always "
                       b"limit maximum minimum strictly require required".split())
FORM_NAMES = ("starts_imperative", "starts_question", "ends_question", "length_request", "ln_constraints",
              "code_fence", "latex")
N_FORM = len(FORM_NAMES)
DENSE_ALL = tr.DENSE_NAMES + FORM_NAMES


def form_features(text: str) -> list[float]:
    """Computed over the same words the embedding reads (the first 512)."""
    ws = list(wordpiece.words(text))
    first = ws[0] if ws else b""
    stripped = text.rstrip()
    return [
        1.0 if first in IMPERATIVE else 0.0,
        1.0 if first in QUESTION else 0.0,
        1.0 if stripped.endswith("?") else 0.0,
        1.0 if any(w in LENGTH for w in ws) else 0.0,
        math.log1p(sum(w in CONSTRAINT for w in ws)),
        1.0 if "```" in text else 0.0,
        1.0 if ("\\frac" in text or "$" in text or "\\(" in text) else 0.0,
    ]


@dataclass
class StaticTable:
    vocab: dict[bytes, int]
    table: np.ndarray  # float32 (tokens x dims), dequantised
    q: np.ndarray
    scale: np.ndarray

    @classmethod
    def load(cls, path: Path = TABLE_PATH) -> StaticTable:
        vocab, q, scale = read_table(path)
        return cls(wordpiece.load_vocab(vocab), q.astype(np.float32) * scale, q, scale)

    def embed(self, text: str) -> np.ndarray:
        """Mean of the token vectors, L2-normalised; zeros when no word is in the vocabulary."""
        ids = wordpiece.token_ids(text, self.vocab)
        dims = self.table.shape[1]
        if not ids:
            return np.zeros(dims, dtype=np.float64)
        # Integer sum of the int8 rows, then the per-dimension scale: exact, so Rust can match it.
        s = self.q[ids].astype(np.int64).sum(0) * self.scale.astype(np.float64)
        n = np.linalg.norm(s)
        return s / n if n > 0 else s


@dataclass
class Represented:
    """Every prompt of a corpus, ready for the predictor."""

    embed: np.ndarray  # (n, dims)
    dense: np.ndarray  # (n, 18 + N_FORM), raw
    ids_ptr: np.ndarray  # CSR over hashed ids (repeats kept)
    ids: np.ndarray

    def rows(self, idx: np.ndarray) -> Represented:
        ptr, ids = [0], []
        for i in idx:
            ids.append(self.ids[self.ids_ptr[i]:self.ids_ptr[i + 1]])
            ptr.append(ptr[-1] + len(ids[-1]))
        return Represented(self.embed[idx], self.dense[idx], np.array(ptr), np.concatenate(ids) if ids else
                           np.zeros(0, dtype=np.int64))


def represent(prompts: list[str], table: StaticTable) -> Represented:
    emb, dense, ptr, ids = [], [], [0], []
    for p in prompts:
        f = tr.prompt_features(p)
        emb.append(table.embed(p))
        dense.append(list(f.dense) + form_features(p))
        ids.append(np.asarray(f.ids, dtype=np.int64))
        ptr.append(ptr[-1] + len(f.ids))
    return Represented(np.array(emb), np.array(dense), np.array(ptr), np.concatenate(ids))
