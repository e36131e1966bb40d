"""One held-out split, evaluated: fit on everything else, then AUC, calibration, APGR and frontiers on the split."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.router_v2 import metrics, model
from bench.router_v2.data import SHARED, SOURCES, Corpus, Split
from bench.router_v2.represent import Represented

OUTPUT_TOKENS = 300
# Not in models.json (RouteLLM's strong model): GPT-4 Turbo's public list price, USD per 1M tokens.
EXTRA_PRICES = {"gpt-4-1106-preview": (10.0, 30.0)}


def prices(root: Path = SHARED) -> dict[str, tuple[float, float]]:
    doc = json.loads((root / "multimodel" / "models.json").read_text())
    out = {k: (v["input_per_million"], v["output_per_million"]) for k, v in doc.items()}
    return {**out, **EXTRA_PRICES}


@dataclass
class Fitted:
    params: model.Params
    bow: model.Params | None


def fit_on(c: Corpus, rep: Represented, keep_prompt: np.ndarray, cfg: model.Config) -> model.Params:
    keep = np.flatnonzero(keep_prompt)
    remap = np.full(len(c.prompts), -1)
    remap[keep] = np.arange(len(keep))
    cells = keep_prompt[c.cell_prompt]
    return model.fit(rep.rows(keep), remap[c.cell_prompt[cells]], c.cell_model[cells], c.cell_y[cells],
                     c.source_of_cell()[cells], len(c.models), cfg)


def fit_split(c: Corpus, rep: Represented, split: Split, cfg: model.Config, with_bow: bool) -> Fitted:
    """The router on every other prompt of all sources; the bag-of-words baseline on its own source's only."""
    bow = None
    if with_bow:
        source = c.source[np.flatnonzero(split.test)[0]]
        bow = fit_on(c, rep, ~split.test & (c.source == source), model.bow_baseline(min(cfg.steps, 200)))
    return Fitted(fit_on(c, rep, ~split.test, cfg), bow)


def evaluate_split(c: Corpus, rep: Represented, split: Split, fitted: Fitted, price: dict[str, tuple[float, float]],
                   tokens: np.ndarray) -> dict:
    idx = np.flatnonzero(split.test)
    source = int(c.source[idx[0]])
    r = rep.rows(idx)
    present = sorted(set(c.cell_model[np.isin(c.cell_prompt, idx)]))
    names = [c.models[m] for m in present]
    y = c.matrix(idx, names)
    mask = ~np.isnan(y)
    pred = model.sigmoid(fitted.params.logits(r, source))[:, present]
    serve = model.sigmoid(fitted.params.logits(r))[:, present]
    cost = np.array([[(t * price[n][0] + OUTPUT_TOKENS * price[n][1]) / 1e6 for n in names] for t in tokens[idx]])
    out: dict = {"split": split.name, "source": SOURCES[source], "held": list(split.held), "prompts": int(len(idx))}
    binary = np.all((y[mask] == 0) | (y[mask] == 1))
    out["brier"] = metrics.brier(pred[mask], y[mask])
    out["brier_serving_offset"] = metrics.brier(serve[mask], y[mask])
    out["brier_constant"] = metrics.brier(np.where(mask, np.nanmean(y, 0), 0)[mask], y[mask])
    out["reliability"] = metrics.reliability(pred[mask], y[mask])
    yb = np.where(y > 0.5, 1.0, 0.0)
    out["auc"] = {n: round(metrics.auc(pred[mask[:, j], j], yb[mask[:, j], j]), 4) for j, n in enumerate(names)}
    out["auc_mean"] = float(np.nanmean(list(out["auc"].values())))
    out["binary_labels"] = bool(binary)
    if fitted.bow is not None:
        bow = model.sigmoid(fitted.bow.logits(r, source))[:, present]
        out["bow_auc_mean"] = float(np.nanmean([metrics.auc(bow[mask[:, j], j], yb[mask[:, j], j])
                                                for j in range(len(names))]))
    if SOURCES[source] == "routellm":
        w, s = names.index("Mixtral-8x7B-Instruct-v0.1"), names.index("gpt-4-1106-preview")
        out["apgr"] = metrics.apgr(pred[:, s] - pred[:, w], y[:, w], y[:, s])
        if fitted.bow is not None:
            out["bow_apgr"] = metrics.apgr(bow[:, s] - bow[:, w], y[:, w], y[:, s])
        gain = {t: (y[c.task[idx] == t, s] - y[c.task[idx] == t, w]).mean() for t in set(c.task[idx])}
        out["subject_oracle_apgr"] = metrics.apgr(np.array([gain[t] for t in c.task[idx]]), y[:, w], y[:, s])
    # The group oracle knows each model's true accuracy on each held-out group (subject, category, task) and
    # nothing within it: the ceiling of a router whose prompt side only recovers the group.
    tasks = c.task[idx]
    group_mean = np.zeros_like(y)
    for t in set(tasks):
        rows = tasks == t
        group_mean[rows] = np.nan_to_num(np.nanmean(np.where(mask[rows], y[rows], np.nan), 0))
    out["frontier"] = frontier(pred, y, cost, mask, names, bow if fitted.bow is not None else None, group_mean)
    return out


def frontier(pred: np.ndarray, y: np.ndarray, cost: np.ndarray, mask: np.ndarray, names: list[str],
             bow: np.ndarray | None, group_mean: np.ndarray | None = None) -> dict:
    singles = metrics.single_models(y, cost, mask, names)
    lo = min(v[0] for v in singles.values())
    hi = max(v[0] for v in singles.values())
    best_name, (best_cost, best_q) = max(singles.items(), key=lambda kv: (kv[1][1], -kv[1][0]))
    curves = {"router": metrics.sweep(pred, y, cost, mask), "oracle": metrics.sweep(np.nan_to_num(y), y, cost, mask)}
    if bow is not None:
        curves["bow"] = metrics.sweep(bow, y, cost, mask)
    if group_mean is not None:
        curves["group_oracle"] = metrics.sweep(group_mean, y, cost, mask)
    hull = metrics.upper_hull(list(singles.values()))
    out: dict = {"singles": {k: [round(v[0] * 1000, 5), round(v[1], 4)] for k, v in singles.items()},
                 "best_single": {"model": best_name, "cost_per_1k": best_cost * 1000, "quality": best_q},
                 "cost_range_per_1k": [lo * 1000, hi * 1000]}
    budget = best_cost / 2
    out["at_half_best_cost"] = {"budget_per_1k": budget * 1000,
                                "random_mix_hull": metrics.best_within(list(singles.values()), budget)}
    out["aiq"] = {"random_mix_hull": metrics.aiq(list(singles.values()), lo, hi)}
    for name, curve in curves.items():
        pts = [(cst, q) for _, cst, q in curve]
        out["aiq"][name] = metrics.aiq(pts + list(singles.values()) if name == "oracle" else pts, lo, hi)
        within = [q for _, cst, q in curve if cst <= budget]
        out["at_half_best_cost"][name] = max(within) if within else None
        out[f"curve_{name}"] = [[t, round(cst * 1000, 5), round(q, 4)] for t, cst, q in curve]
    out["hull_singles"] = [[round(cst * 1000, 5), round(q, 4)] for cst, q in hull]
    return out
