"""Each model's ability for the v2 predictor, and where it came from: pure functions over the weights file,
the catalogue's `router` entries and an optional `router fit` result.

Precedence: a fitted ability (`routing.router_path`) > the model in the routing data (`router.data`) > a
declared proxy (`router.proxy`) > a public MMLU-Pro score (`router.mmlu_pro`) mapped through the weights'
prior table > the catalogue's hand-set `quality`, read on the same MMLU-Pro scale (last resort).
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from proxy.config import ModelConfig


@dataclass(frozen=True, slots=True)
class Ability:
    a: tuple[float, ...]
    b: float
    source: str  # e.g. "data: gpt-4o-2024-05-13", "proxy: ...", "mmlu_pro 0.81 (model card)", "fit: router.json"


class AbilityError(ValueError):
    """A `router` entry that names a model the weights do not have."""


def prior(weights: Mapping[str, Any], mmlu_pro: float) -> tuple[tuple[float, ...], float]:
    """(a, b) for a model with this MMLU-Pro accuracy: linear interpolation in the weights' prior table
    (clamped to the table's range, 0.05..0.95)."""
    table: Sequence[Mapping[str, Any]] = weights["prior"]
    xs = [float(r["mmlu_pro"]) for r in table]
    i = min(max(bisect.bisect_left(xs, mmlu_pro), 1), len(xs) - 1)
    lo, hi = table[i - 1], table[i]
    t = min(max((mmlu_pro - xs[i - 1]) / (xs[i] - xs[i - 1]), 0.0), 1.0)
    a = tuple(float(x) + t * (float(y) - float(x)) for x, y in zip(lo["a"], hi["a"]))
    return a, float(lo["b"]) + t * (float(hi["b"]) - float(lo["b"]))


def _data_model(weights: Mapping[str, Any], name: str, slug: str, kind: str) -> tuple[tuple[float, ...], float]:
    m = weights["models"].get(name)
    if m is None:
        known = ", ".join(sorted(weights["models"]))
        raise AbilityError(f"models.{slug}.router.{kind}: '{name}' is not a model in the routing data. Known: {known}")
    return tuple(float(x) for x in m["a"]), float(m["b"])


def resolve(slug: str, cfg: ModelConfig, weights: Mapping[str, Any],
            fitted: Mapping[str, Any] | None = None) -> Ability:
    """The ability `auto` uses for one catalogue model."""
    if fitted is not None and slug in fitted.get("models", {}):
        m = fitted["models"][slug]
        return Ability(tuple(float(x) for x in m["a"]), float(m["b"]), f"fit: {fitted.get('name', 'router_path')}")
    r = cfg.router
    if r is not None and r.data is not None:
        return Ability(*_data_model(weights, r.data, slug, "data"), f"data: {r.data}")
    if r is not None and r.proxy is not None:
        return Ability(*_data_model(weights, r.proxy, slug, "proxy"), f"proxy: {r.proxy}")
    if r is not None and r.mmlu_pro is not None:
        src = f" ({r.source})" if r.source else ""
        return Ability(*prior(weights, r.mmlu_pro), f"mmlu_pro {r.mmlu_pro:.3f}{src}")
    return Ability(*prior(weights, cfg.quality), f"hand-set quality {cfg.quality:.2f}")
