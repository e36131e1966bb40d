"""Write the trained predictor as proxy/routing/router_v2.json (the Rust router reads it; the package ships it).

Besides the prompt-side weights and every data model's ability, the file carries the prior table: for a public
MMLU-Pro accuracy s (0.05..0.95), the ability (a, b) of a model that scores s on this data. `a` is the mean of
the MMLU-Pro data models' ability vectors (the same for every s, so a model with a higher public score is never
predicted worse on any prompt), and b is set so the mean predicted accuracy over the MMLU-Pro training prompts
equals s. The gateway interpolates it for catalogue models known only by a score.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from bench.router_v2 import model, represent
from bench.router_v2.data import SOURCES, Corpus
from bench.router_v2.represent import Represented

OUT = Path(__file__).resolve().parents[2] / "proxy" / "routing" / "router_v2.json"
PRIOR_GRID = np.round(np.arange(0.05, 0.951, 0.01), 2)


def _r(a: np.ndarray, nd: int = 5) -> list:
    return np.round(np.asarray(a, dtype=np.float64), nd).tolist()


def model_sources(c: Corpus) -> dict[str, list[str]]:
    out: dict[str, set[str]] = {}
    for m, s in zip(c.cell_model, c.source_of_cell()):
        out.setdefault(c.models[m], set()).add(SOURCES[s])
    return {k: sorted(v) for k, v in out.items()}


def prior_table(p: model.Params, c: Corpus, rep: Represented) -> list[dict]:
    src = SOURCES.index("mmlu_pro")
    on = c.source == src
    names = sorted({c.models[m] for m in c.cell_model[c.source_of_cell() == src]})
    idx = [c.models.index(n) for n in names]
    a = p.a[idx].mean(0)
    z = p.latent(rep.rows(np.flatnonzero(on)))
    out = []
    for s in PRIOR_GRID:
        base = z[:, :-1] @ a + z[:, -1] + p.c[src]
        lo, hi = -20.0, 20.0
        for _ in range(60):  # bisection: mean predicted accuracy on MMLU-Pro prompts = s
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if model.sigmoid(base + mid).mean() < s else (lo, mid)
        out.append({"mmlu_pro": float(s), "a": _r(a), "b": round((lo + hi) / 2 + p.c.mean(), 5)})
    return out


def export(p: model.Params, c: Corpus, rep: Represented, path: Path = OUT, meta: dict | None = None) -> dict:
    """The document. Every model's `b` is on one scale, whatever source it came from: its own ability plus the
    mean of the source offsets (the label types' difficulty), which is what `auto` serves with."""
    k = p.a.shape[1]
    sources = model_sources(c)
    serving = p.c.mean()
    models = {}
    for i, name in enumerate(c.models):
        models[name] = {"a": _r(p.a[i]), "b": round(float(p.b[i] + serving), 5), "sources": sources[name]}
    table = represent.TABLE_PATH.read_bytes()
    doc = {
        "version": 2,
        "k": k,
        "embed": {"file": represent.TABLE_PATH.name, "sha256": hashlib.sha256(table).hexdigest(),
                  "dims": int(rep.embed.shape[1]) if p.cfg.use_embed else 0},
        "dense": {"names": list(represent.DENSE_ALL), "mean": _r(p.dense_mean, 6),
                  "inv_scale": _r(1 / p.dense_scale, 6)} if p.cfg.use_dense else None,
        # Rows: embedding dims, then dense features, then the intercept; columns: z (k) then -difficulty.
        "w": _r(p.w.ravel(), 6),
        "hashed": {"buckets": model.BUCKETS, "e": _r(p.e.ravel(), 5)} if p.cfg.use_hashed else None,
        "source_offsets": {s: round(float(p.c[i] - serving), 5) for i, s in enumerate(SOURCES)},
        "models": models,
        "prior": prior_table(p, c, rep),
        "meta": {**(meta or {}), "config": {k_: v for k_, v in p.cfg.__dict__.items()}},
    }
    path.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    return doc
