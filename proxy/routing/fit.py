"""`switchyard router fit`: fit the abilities of named models to a team's own evals, keeping the prompt
representation. Pure Python (the gateway has no numpy): per model, a logistic regression of its scores on
each prompt's latent vector from the Rust predictor, shrunk toward the model's current ability (its catalogue
source), by Newton's method on at most 17 parameters.

Rows: `{"prompt": str, "scores": {"<catalogue slug>": 0..1}}`, one JSON object per line.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proxy.config import ModelConfig
from proxy.routing.abilities import resolve


class FitError(ValueError):
    """A bad evals file; the message names the line and the field."""


@dataclass(frozen=True, slots=True)
class EvalRow:
    prompt: str
    scores: dict[str, float]


def read_rows(path: Path, known: Iterable[str]) -> list[EvalRow]:
    known_set = set(known)
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            r = json.loads(line)
        except json.JSONDecodeError as exc:
            raise FitError(f"{where}: not JSON ({exc.msg})") from None
        if not isinstance(r, dict) or not isinstance(r.get("prompt"), str) or not isinstance(r.get("scores"), dict):
            raise FitError(f'{where}: each line needs "prompt" (a string) and "scores" (an object)')
        for slug, v in r["scores"].items():
            if slug not in known_set:
                raise FitError(f"{where}: scores.{slug}: not a model in the catalogue or your config")
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 1:
                raise FitError(f"{where}: scores.{slug} must be a number from 0 to 1; got {v!r}")
        rows.append(EvalRow(r["prompt"], {k: float(v) for k, v in r["scores"].items()}))
    if not rows:
        raise FitError(f"{path}: no rows")
    return rows


def _solve(m: list[list[float]], v: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (the matrix is small and positive definite)."""
    n = len(v)
    a = [row[:] + [v[i]] for i, row in enumerate(m)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(a[r][c]))
        a[c], a[p] = a[p], a[c]
        for r in range(c + 1, n):
            f = a[r][c] / a[c][c]
            for j in range(c, n + 1):
                a[r][j] -= f * a[c][j]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (a[r][n] - sum(a[r][j] * x[j] for j in range(r + 1, n))) / a[r][r]
    return x


def fit_one(zs: Sequence[Sequence[float]], ys: Sequence[float], a0: Sequence[float], b0: float,
            l2: float = 2.0, iterations: int = 25) -> tuple[list[float], float]:
    """MAP logistic regression: σ(a·z + (−d) + b) ≈ y, Gaussian prior centred on (a0, b0)."""
    k = len(a0)
    theta = list(a0) + [b0]
    prior = theta[:]
    for _ in range(iterations):
        grad = [l2 * (t - p) for t, p in zip(theta, prior)]
        hess = [[l2 if i == j else 0.0 for j in range(k + 1)] for i in range(k + 1)]
        for z, y in zip(zs, ys):
            x = list(z[:k]) + [1.0]
            s = sum(t * xi for t, xi in zip(theta, x)) + z[k]
            p = 1 / (1 + math.exp(-max(min(s, 30.0), -30.0)))
            w = p * (1 - p)
            for i in range(k + 1):
                grad[i] += (p - y) * x[i]
                xi_w = x[i] * w
                row = hess[i]
                for j in range(i, k + 1):
                    row[j] += xi_w * x[j]
        for i in range(k + 1):
            for j in range(i):
                hess[i][j] = hess[j][i]
        step = _solve(hess, grad)
        theta = [t - s for t, s in zip(theta, step)]
        if max(abs(s) for s in step) < 1e-6:
            break
    return theta[:k], theta[k]


def brier(zs: Sequence[Sequence[float]], ys: Sequence[float], a: Sequence[float], b: float) -> float:
    k = len(a)
    total = 0.0
    for z, y in zip(zs, ys):
        s = sum(ai * zi for ai, zi in zip(a, z)) + z[k] + b
        total += (1 / (1 + math.exp(-max(min(s, 30.0), -30.0))) - y) ** 2
    return total / max(len(ys), 1)


def fit(router: Any, rows: Sequence[EvalRow], models: Mapping[str, ModelConfig],
        weights: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The `router fit` document and a calibration summary, one line per model."""
    latents = [list(router.score(r.prompt)["z"]) for r in rows]
    out: dict[str, Any] = {}
    summary = []
    for slug in sorted({s for r in rows for s in r.scores}):
        idx = [i for i, r in enumerate(rows) if slug in r.scores]
        zs = [latents[i] for i in idx]
        ys = [rows[i].scores[slug] for i in idx]
        start = resolve(slug, models[slug], weights)
        a, b = fit_one(zs, ys, start.a, start.b)
        before, after = brier(zs, ys, start.a, start.b), brier(zs, ys, a, b)
        out[slug] = {"a": [round(x, 6) for x in a], "b": round(b, 6), "rows": len(idx), "prior": start.source}
        mean_pred = sum(1 / (1 + math.exp(-(sum(ai * zi for ai, zi in zip(a, z)) + z[-1] + b))) for z in zs) / len(zs)
        summary.append(f"{slug}: {len(idx)} rows, mean score {sum(ys) / len(ys):.3f}, mean predicted "
                       f"{mean_pred:.3f}, Brier {before:.4f} -> {after:.4f} (start: {start.source})")
    doc = {"version": 1, "representation": weights["embed"]["sha256"], "models": out}
    return doc, summary
