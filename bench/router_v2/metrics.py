"""Routing metrics: AUC, Brier and reliability, RouteLLM's APGR, quality–cost frontiers and RouterBench's AIQ."""

from __future__ import annotations

import numpy as np


def auc(score: np.ndarray, y: np.ndarray) -> float:
    """Rank AUC of binary labels (ties averaged); NaN when one class is missing."""
    pos, neg = y > 0.5, y <= 0.5
    if pos.sum() == 0 or neg.sum() == 0:
        return float("nan")
    order = np.argsort(score, kind="stable")
    ranks = np.empty(len(score))
    s = score[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[pos].sum() - pos.sum() * (pos.sum() + 1) / 2) / (pos.sum() * neg.sum()))


def brier(p: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((p - y) ** 2))


def reliability(p: np.ndarray, y: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Mean prediction and mean outcome per decile of predicted probability."""
    edges = np.linspace(0, 1, bins + 1)
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (p >= lo) & ((p < hi) | (hi == 1))
        if m.sum():
            out.append({"bin": round(float(lo), 2), "n": int(m.sum()), "predicted": round(float(p[m].mean()), 4),
                        "observed": round(float(y[m].mean()), 4)})
    return out


def pgr_curve(score: np.ndarray, weak: np.ndarray, strong: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(strong-call share, accuracy, PGR) for every cut of the prompts sorted by score, highest first."""
    order = np.argsort(-score, kind="stable")
    n = len(score)
    gain = (strong[order] - weak[order]).astype(np.float64)
    acc = (weak.sum() + np.concatenate([[0.0], np.cumsum(gain)])) / n
    share = np.arange(n + 1) / n
    return share, acc, (acc - weak.mean()) / (strong.mean() - weak.mean())


def apgr(score: np.ndarray, weak: np.ndarray, strong: np.ndarray) -> float:
    share, _, pgr = pgr_curve(score, weak, strong)
    return float(np.trapezoid(pgr, share))


def choose(pred: np.ndarray, cost: np.ndarray, kappa: float, mask: np.ndarray) -> np.ndarray:
    """Per prompt, the model maximising pred − kappa · cost / REFERENCE_COST_USD: the Rust router's utility.

    kappa = inf means the cheapest model (quality breaks ties). A fixed price of quality (not one relative to
    the pool) is the Lagrangian of "best mean quality under a mean-cost budget", and adding a model to the
    pool never changes the choice among the others.
    """
    if np.isinf(kappa):
        u = -cost + 1e-9 * pred
    else:
        u = pred - kappa * cost / REFERENCE_COST_USD
    return np.where(mask, u, -np.inf).argmax(1)


def kappa_of(tradeoff: float) -> float:
    """The tradeoff knob in [0, 1] as the price of quality: 0 cheapest, 1 quality only (scorer_rs route/utility.rs)."""
    return float("inf") if tradeoff <= 0 else (1 - tradeoff) / tradeoff * KAPPA_SCALE


# Quality given up per REFERENCE_COST_USD of estimated cost at tradeoff 0.5.
KAPPA_SCALE = 0.01
REFERENCE_COST_USD = 0.001
TRADEOFFS = np.round(np.concatenate([[0.0], np.geomspace(0.002, 1, 80)]), 5)


def sweep(pred: np.ndarray, y: np.ndarray, cost: np.ndarray, mask: np.ndarray,
          tradeoffs: np.ndarray = TRADEOFFS) -> list[tuple[float, float, float]]:
    """(tradeoff, mean cost, mean quality) along the knob."""
    rows = np.arange(len(y))
    out = []
    for t in tradeoffs:
        pick = choose(pred, cost, kappa_of(float(t)), mask)
        out.append((float(t), float(cost[rows, pick].mean()), float(np.nan_to_num(y[rows, pick]).mean())))
    return out


def single_models(y: np.ndarray, cost: np.ndarray, mask: np.ndarray, names: list[str]) -> dict[str, tuple[float, float]]:
    """(mean cost, mean quality) of always calling one model, over the prompts it has a result for."""
    return {n: (float(cost[mask[:, j], j].mean()), float(y[mask[:, j], j].mean()))
            for j, n in enumerate(names) if mask[:, j].any()}


def upper_hull(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The non-decreasing upper convex hull of (cost, quality) points: what random mixing of them reaches."""
    pts = sorted(set(points))
    hull: list[tuple[float, float]] = []
    for p in pts:
        if hull and p[1] <= hull[-1][1]:
            continue  # dearer and no better: never on a non-decreasing frontier
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (x2 - x1) * (p[1] - y1) - (y2 - y1) * (p[0] - x1) >= 0:
                hull.pop()
            else:
                break
        hull.append(p)
    return hull


def hull_at(hull: list[tuple[float, float]], c: float) -> float:
    """Quality of the hull at cost c (flat after its last point, nothing before its first)."""
    if c < hull[0][0]:
        return float("nan")
    for (x1, y1), (x2, y2) in zip(hull, hull[1:]):
        if x1 <= c <= x2:
            return y1 + (y2 - y1) * (c - x1) / (x2 - x1)
    return hull[-1][1]


def aiq(points: list[tuple[float, float]], lo: float, hi: float, grid: int = 400) -> float:
    """RouterBench's AIQ: the mean of the non-decreasing convex hull over cost [lo, hi] (0 before its start)."""
    hull = upper_hull(points)
    xs = np.linspace(lo, hi, grid)
    return float(np.mean([np.nan_to_num(hull_at(hull, x)) for x in xs]))


def best_within(points: list[tuple[float, float]], budget: float) -> float:
    """Best quality the hull of these points reaches at mean cost ≤ budget."""
    hull = upper_hull(points)
    return float(np.nan_to_num(hull_at(hull, budget), nan=0.0))
