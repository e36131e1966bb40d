"""Evaluate the v2 router on held-out groups of every source: AUC, calibration, APGR, frontiers, AIQ, ablations.

    python -m bench.route_eval [--folds 3] [--steps 400] [--ablations] [--no-plot]
    python -m bench.route_eval --smoke    # CI: every 12th prompt, one fold, 60 steps, under a minute

Splits hold out whole groups, never seen in training (the model is fitted on every other prompt of all three
sources each time): RouteLLM — 10 MMLU subjects + 200 GSM8K rows (seeds as before, the two-model APGR);
MMLU-Pro — 3 of its 11 categories; LLMRouter — the generation tasks (commongen, human_eval, mbpp: the
open-ended proxy) plus 3 other tasks. Frontiers sweep the router's `tradeoff` against each single model, the
random-mix hull of single models, a hashed bag-of-words logistic regression per model and the oracle; cost is
models.json prices × (prompt bytes / 4 input tokens, 300 output tokens).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.router_v2 import data, evaluate, model
from bench.router_v2.cache import represented

RESULTS = Path(__file__).resolve().parent / "results"
SMOKE_EVERY = 12
SMOKE_STEPS = 60
ABLATIONS = {  # each against the shipped recipe (model.Config's defaults); bench.router_v2.sweep runs more splits
    "full": {},
    "no embedding": {"use_embed": False},
    "embedding only": {"use_dense": False},
    "pair term": {"pair_weight": 1.0},
    "k=8": {"k": 8},
    "k=16": {"k": 16},
}


def splits(c: data.Corpus, folds: int) -> list[data.Split]:
    out = []
    for s in range(folds):
        out += [data.routellm_split(c, s), data.mmlu_pro_split(c, s), data.llmrouter_split(c, s)]
    return out


def headline(results: list[dict]) -> dict:
    """Means over the folds, per source."""
    by: dict[str, list[dict]] = {}
    for r in results:
        by.setdefault(r["source"], []).append(r)
    out = {}
    for src, rs in by.items():
        f = [r["frontier"] for r in rs]
        row = {"folds": len(rs), "auc_mean": np.mean([r["auc_mean"] for r in rs]),
               "brier": np.mean([r["brier"] for r in rs]), "brier_constant": np.mean([r["brier_constant"] for r in rs]),
               "best_single_quality": np.mean([x["best_single"]["quality"] for x in f])}
        for k in f[0]["aiq"]:
            row[f"aiq_{k}"] = np.mean([x["aiq"][k] for x in f])
        for k in f[0]["at_half_best_cost"]:
            vals = [x["at_half_best_cost"][k] for x in f]
            row[f"half_cost_{k}"] = np.mean([v if v is not None else np.nan for v in vals])
        if "bow_auc_mean" in rs[0]:
            row["bow_auc_mean"] = np.mean([r["bow_auc_mean"] for r in rs])
        if src == "routellm":
            row["apgr"] = np.mean([r["apgr"] for r in rs])
            row["apgr_per_split"] = [round(r["apgr"], 4) for r in rs]
            row["subject_oracle_apgr"] = np.mean([r["subject_oracle_apgr"] for r in rs])
            if "bow_apgr" in rs[0]:
                row["bow_apgr"] = np.mean([r["bow_apgr"] for r in rs])
        out[src] = {k: (round(float(v), 4) if isinstance(v, float | np.floating) else v) for k, v in row.items()}
    return out


def write(path: Path, report: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1, default=float) + "\n")


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    firsts = {}
    for r in results:
        firsts.setdefault(r["source"], r)
    fig, axes = plt.subplots(1, len(firsts), figsize=(5.2 * len(firsts), 4.4), dpi=110)
    for ax, r in zip(np.atleast_1d(axes), firsts.values()):
        f = r["frontier"]
        for name, style in (("router", "-"), ("bow", "--"), ("group_oracle", (0, (1, 3))), ("oracle", ":")):
            if f"curve_{name}" in f:
                pts = np.array(f[f"curve_{name}"])
                label = {"bow": "bag-of-words LR", "group_oracle": "group oracle (true accuracy per held-out group)"}
                ax.plot(pts[:, 1], pts[:, 2], linestyle=style, label=label.get(name, name))
        hull = np.array(f["hull_singles"])
        ax.plot(hull[:, 0], hull[:, 1], "-.", c="grey", label="random mix of single models")
        singles = np.array(list(f["singles"].values()))
        ax.scatter(singles[:, 0], singles[:, 1], s=10, c="k", label="single models")
        ax.set_xscale("log")
        ax.set_xlabel("est. cost per 1k prompts (USD, log)")
        ax.set_ylabel("quality")
        ax.set_title(f"{r['split']} ({r['prompts']} prompts)", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--ablations", action="store_true", help="also refit without each part, on fold 0")
    ap.add_argument("--ablations-only", action="store_true", help="only the ablations (fold 0), no headline folds")
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--out", type=Path, default=RESULTS / "route_eval.json")
    ap.add_argument("--smoke", action="store_true",
                    help="every 12th prompt, fold 0, 60 steps, no plot; fails on a missing or NaN headline figure")
    args = ap.parse_args()
    if not data.available():
        raise SystemExit(f"routing data not found under {data.SHARED}")
    corpus = data.load()
    if args.smoke:
        corpus = data.subsample(corpus, SMOKE_EVERY)
        args.folds, args.steps, args.no_plot = 1, SMOKE_STEPS, True
        if args.out == RESULTS / "route_eval.json":
            args.out = Path(tempfile.gettempdir()) / "route_eval_smoke.json"
    rep = represented(corpus.prompts)
    price = evaluate.prices()
    tokens = np.array([len(p.encode()) / 4 for p in corpus.prompts])
    cfg = model.Config(steps=args.steps)
    results = []
    for sp in splits(corpus, 0 if args.ablations_only else args.folds):
        fitted = evaluate.fit_split(corpus, rep, sp, cfg, with_bow=True)
        res = evaluate.evaluate_split(corpus, rep, sp, fitted, price, tokens)
        results.append(res)
        f = res["frontier"]
        print(f"{sp.name}: AUC {res['auc_mean']:.3f} (bow {res.get('bow_auc_mean', float('nan')):.3f}) "
              f"Brier {res['brier']:.4f} (constant {res['brier_constant']:.4f}) AIQ router {f['aiq']['router']:.4f} "
              f"bow {f['aiq'].get('bow', float('nan')):.4f} hull {f['aiq']['random_mix_hull']:.4f} "
              f"oracle {f['aiq']['oracle']:.4f}; at half best cost {f['at_half_best_cost']} "
              f"(best {f['best_single']})" + (f"; APGR {res['apgr']:.3f} bow {res.get('bow_apgr', 0):.3f} "
                                             f"subject oracle {res['subject_oracle_apgr']:.3f}" if "apgr" in res else ""),
              flush=True)
        write(args.out, {"config": cfg.__dict__, "summary": headline(results), "splits": results})
        if not args.no_plot:  # after every split, so a long run leaves figures behind
            plot(results, RESULTS / "route_eval.png")
    report: dict = {"config": cfg.__dict__, "summary": headline(results) if results else {}, "splits": results}
    if args.ablations or args.ablations_only:
        report["ablations"] = {}
        for name, change in ABLATIONS.items():
            rs = []
            for sp in splits(corpus, 1):
                fitted = evaluate.fit_split(corpus, rep, sp, replace(cfg, **change), with_bow=False)
                rs.append(evaluate.evaluate_split(corpus, rep, sp, fitted, price, tokens))
            report["ablations"][name] = headline(rs)
            print(f"ablation {name}: {json.dumps(report['ablations'][name])}", flush=True)
    write(args.out, report)
    print(json.dumps(report["summary"], indent=1))
    if args.smoke:
        check_smoke(report["summary"])


def check_smoke(summary: dict) -> None:
    """The smoke's figures exist and are numbers (a broken metric or fit shows as NaN or a missing key)."""
    need = {"routellm": ("auc_mean", "brier", "aiq_router", "aiq_bow", "apgr"),
            "mmlu_pro": ("auc_mean", "brier", "aiq_router", "aiq_random_mix_hull", "half_cost_router"),
            "llmrouter": ("auc_mean", "brier", "aiq_router", "aiq_oracle")}
    bad = [f"{src}.{k}" for src, keys in need.items() for k in keys
           if not np.isfinite(summary.get(src, {}).get(k, np.nan))]
    if bad:
        raise SystemExit(f"route_eval smoke: missing or NaN figures: {', '.join(bad)}")


if __name__ == "__main__":
    main()
