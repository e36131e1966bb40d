"""The pure-Python reference of one routing decision (the Rust `Router.route` computes the same): the test
oracle for parity and the speed bench's baseline. Not a serving path.

latent: the text pass (bench/train_router.py::prompt_features) and the static embedding and form features
(represent.py), then z = x · W; quality: σ(a_m · z + (−d) + b_m); utility: the tradeoff's price of quality
(scorer_rs/src/route/utility.rs); cost: prices × (estimated input tokens, expected output tokens).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from bench import train_router as tr
from bench.router_v2 import represent
from bench.router_v2.metrics import KAPPA_SCALE, REFERENCE_COST_USD


def latent(text: str, weights: Mapping[str, Any], table: represent.StaticTable) -> list[float]:
    k = int(weights["k"])
    cols = k + 1
    w = weights["w"]
    z = [0.0] * cols
    hashed = weights.get("hashed")
    f = tr.prompt_features(text, hashed["buckets"] if hashed else tr.BUCKETS)
    if hashed:
        e = hashed["e"]
        acc = [0.0] * cols
        for i in f.ids:
            for j in range(cols):
                acc[j] += e[i * cols + j]
        norm = 1 / math.sqrt(max(len(f.ids), 1))
        z = [a * norm for a in acc]
    x: list[float] = []
    if weights["embed"]["dims"]:
        x += [float(v) for v in table.embed(text)]
    if weights.get("dense"):
        d = weights["dense"]
        raw = list(f.dense) + represent.form_features(text)
        x += [(v - m) * s for v, m, s in zip(raw, d["mean"], d["inv_scale"])]
    x.append(1.0)
    for r, xv in enumerate(x):
        if xv != 0.0:
            row = w[r * cols:(r + 1) * cols]
            for j in range(cols):
                z[j] += row[j] * xv
    return z


def p_good(z: Sequence[float], a: Sequence[float], b: float) -> float:
    s = sum(ai * zi for ai, zi in zip(a, z)) + z[-1] + b
    return 1 / (1 + math.exp(-s))


def utility(q: float, cost_usd: float, tradeoff: float) -> float:
    cost = cost_usd / REFERENCE_COST_USD
    if tradeoff <= 0:
        return -cost + 1e-9 * q
    kappa = KAPPA_SCALE * (1 - tradeoff) / tradeoff
    return q - kappa * cost - (cost * 1e-9 if kappa == 0 else 0.0)


def route(text: str, weights: Mapping[str, Any], table: represent.StaticTable,
          abilities: Mapping[str, tuple[Sequence[float], float]],
          offers: Sequence[tuple[str, str, float, float]], tradeoff: float, input_tokens: int,
          output_tokens: int) -> list[tuple[str, str, float, float, float]]:
    """(model, provider, predicted quality, estimated cost, score), best first."""
    z = latent(text, weights, table)
    q = {m: p_good(z, a, b) for m, (a, b) in abilities.items()}
    rows = []
    for model, provider, pin, pout in offers:
        cost = (input_tokens * pin + output_tokens * pout) / 1e6
        rows.append((model, provider, q[model], cost, utility(q[model], cost, tradeoff)))
    rows.sort(key=lambda r: -r[4])
    return rows
