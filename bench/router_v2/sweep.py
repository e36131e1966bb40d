"""Compare predictor variants over many held-out folds, cheaply: one fit per fold and variant.

    python -m bench.router_v2.sweep [--folds 9] [--variants k4,k16] [--out bench/results/route_sweep.json]

Each split holds out one source's groups (as `bench/route_eval.py` does: RouteLLM subject split s, MMLU-Pro
category split s, LLMRouter task split s) and fits on every other prompt of all three sources; `--folds` says how
many splits per source (RouteLLM's nine subject splits are the old recipe's). Every fit is also read with its latent vector
shrunk toward the training mean (`model.shrink`) at several strengths, which costs no refit. No bag-of-words
baseline here (route_eval has it); the random-mix hull and the oracle are per split and do not depend on the fit.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.router_v2 import data, evaluate, model
from bench.router_v2.cache import represented
from bench.router_v2.represent import Represented

RESULTS = Path(__file__).resolve().parents[1] / "results"
# The v2 recipe before this sweep; every variant changes it (not the current defaults, which may be a variant).
BASE = {"k": 16, "use_embed": True, "pair_weight": 0.0, "dense_dropout": 0.0, "shrink": 1.0}
VARIANTS: dict[str, dict] = {
    "k16": {"k": 16},
    "k8": {"k": 8},
    "k4": {"k": 4},
    "k4-dense-only": {"k": 4, "use_embed": False},
    "k16-dense-only": {"k": 16, "use_embed": False},
    "k4-pair": {"k": 4, "pair_weight": 1.0},
    "k4-dense-dropout": {"k": 4, "dense_dropout": 0.3},
    "k4-l2a": {"k": 4, "l2_a": 1e-3},
}
SHRINKS = (1.0, 0.5, 0.0)
SHOWN = ("apgr", "auc_mean", "aiq_router", "aiq_hull", "half_router", "half_hull", "best_single", "half_group_oracle",
         "brier", "brier_constant")


SPLITTERS = {"routellm": data.routellm_split, "mmlu_pro": data.mmlu_pro_split, "llmrouter": data.llmrouter_split}


def brief(res: dict) -> dict:
    f = res["frontier"]
    out = {"auc_mean": res["auc_mean"], "brier": res["brier"], "brier_constant": res["brier_constant"],
           "aiq_router": f["aiq"]["router"], "aiq_hull": f["aiq"]["random_mix_hull"], "aiq_oracle": f["aiq"]["oracle"],
           "half_router": f["at_half_best_cost"]["router"], "half_hull": f["at_half_best_cost"]["random_mix_hull"],
           "aiq_group_oracle": f["aiq"]["group_oracle"], "half_group_oracle": f["at_half_best_cost"]["group_oracle"],
           "half_oracle": f["at_half_best_cost"]["oracle"],
           "best_single": f["best_single"]["quality"]}
    if "apgr" in res:
        out |= {"apgr": res["apgr"], "subject_oracle_apgr": res["subject_oracle_apgr"]}
    return {k: (round(float(v), 4) if v is not None else None) for k, v in out.items()}


def means(rows: list[dict]) -> dict:
    keys = rows[0].keys()
    return {k: round(float(np.mean([r[k] if r[k] is not None else np.nan for r in rows])), 4) for k in keys}


def fold_range(spec: str) -> range:
    """"9" is splits 0..8; "6-9" is splits 6..8 (to extend an earlier run)."""
    lo, _, hi = spec.rpartition("-")
    return range(int(lo) if lo else 0, int(hi))


def ceilings(corpus: data.Corpus, rep: Represented, price: dict, tokens: np.ndarray, n: int) -> dict:
    """What needs no fit, per split: the best single model, the random-mix hull, the group oracle (each model's true
    accuracy on each held-out group, nothing within it), the per-prompt oracle, and RouteLLM's subject-oracle APGR."""
    blank = model.Params(w=np.zeros((rep.embed.shape[1] + rep.dense.shape[1] + 1, 2)), e=np.zeros((model.BUCKETS, 2)),
                         a=np.zeros((len(corpus.models), 1)), b=np.zeros(len(corpus.models)), c=np.zeros(3),
                         dense_mean=np.zeros(rep.dense.shape[1]), dense_scale=np.ones(rep.dense.shape[1]),
                         cfg=model.Config(k=1))
    out: dict = {}
    for src, split in SPLITTERS.items():
        for s in range(n):
            sp = split(corpus, s)
            res = evaluate.evaluate_split(corpus, rep, sp, evaluate.Fitted(blank, None), price, tokens)
            row = {k: v for k, v in brief(res).items() if not k.endswith(("router", "auc_mean", "brier", "apgr")) or k.startswith("subject")}
            out.setdefault(src, {})[str(s)] = {"held": list(sp.held), "best_model": res["frontier"]["best_single"]["model"],
                                               **row}
        out[src]["mean"] = means([{k: v for k, v in r.items() if isinstance(v, float)} for r in out[src].values()])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folds", default="routellm:9,mmlu_pro:3,llmrouter:3",
                    help="splits per source: N for 0..N-1, or A-B for A..B-1")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--shrinks", default=",".join(map(str, SHRINKS)))
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--out", type=Path, default=RESULTS / "route_sweep.json")
    ap.add_argument("--ceilings", type=int, default=0, metavar="N",
                    help="only the fit-free ceilings over N splits per source -> route_ceilings.json")
    args = ap.parse_args()
    corpus = data.load()
    rep = represented(corpus.prompts)
    price = evaluate.prices()
    tokens = np.array([len(p.encode()) / 4 for p in corpus.prompts])
    if args.ceilings:
        out = ceilings(corpus, rep, price, tokens, args.ceilings)
        (RESULTS / "route_ceilings.json").write_text(json.dumps(out, indent=1) + "\n")
        print(json.dumps({src: v["mean"] for src, v in out.items()}, indent=1))
        return
    shrinks = [float(x) for x in args.shrinks.split(",")]
    folds = [(src, fold_range(n)) for src, n in (f.split(":") for f in args.folds.split(","))]
    report = json.loads(args.out.read_text()) if args.out.exists() else {}
    for name in args.variants.split(","):
        cfg = replace(model.Config(steps=args.steps), **{**BASE, **VARIANTS[name]})
        for src, seeds in folds:
            for s in seeds:
                sp = SPLITTERS[src](corpus, s)
                t0 = time.time()
                fitted = evaluate.fit_on(corpus, rep, ~sp.test, cfg)
                train = rep.rows(np.flatnonzero(~sp.test))
                line = []
                for lam in shrinks:
                    key = f"{name} shrink={lam:g}"
                    entry = report.setdefault(key, {"config": {**cfg.__dict__, "shrink": lam}, "folds": {}})
                    res = brief(evaluate.evaluate_split(corpus, rep, sp, evaluate.Fitted(model.shrink(fitted, train, lam),
                                                                                         None), price, tokens))
                    entry["folds"].setdefault(src, {})[str(s)] = res
                    entry["mean"] = {k: means(list(v.values())) for k, v in entry["folds"].items()}
                    line.append(f"shrink {lam:g}: " + (f"APGR {res['apgr']:.3f}" if "apgr" in res else
                                                      f"half {res['half_router']} AIQ {res['aiq_router']}"))
                print(f"{name} {sp.name}: {time.time() - t0:.0f} s; " + "; ".join(line), flush=True)
                args.out.write_text(json.dumps(report, indent=1) + "\n")
    for key, entry in report.items():
        print(f"{key:28s} " + " | ".join(f"{src} ({len(entry['folds'][src])}): " + " ".join(
            f"{k} {v:.3f}" for k, v in m.items() if k in SHOWN) for src, m in entry["mean"].items()))

if __name__ == "__main__":
    main()
