"""Evaluate the model router on prompts from subjects it never saw: APGR, CPT(50%), CPT(80%), baselines.

    python -m bench.route_eval [--folds 8] [--no-plot]

Split `subjects-holdout-s0` (seed 0): 10 of the 49 MMLU subjects are held out whole, plus 200 random
GSM8K rows; the router is trained on the rest. The same recipe with seeds 0..folds-1 gives the fold spread.
Metrics follow RouteLLM: sweep a threshold over the router's "send to strong" score; PGR(x) =
(acc(x) - weak acc) / (strong acc - weak acc); APGR is the area under PGR over strong-call share 0..1;
CPT(p) is the smallest strong-call share whose PGR reaches p.

Per-preference figures route each held-out prompt through the real Rust Router (pool: Mixtral 8x7B and
GPT-4 Turbo at catalogue prices) with weights fitted on the training part only.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench import train_router as tr

RESULTS = Path(__file__).resolve().parent / "results"
HELD_SUBJECTS, HELD_GSM8K = 10, 200


@dataclass(frozen=True)
class Split:
    name: str
    test: np.ndarray  # bool mask
    held_subjects: tuple[str, ...]


def holdout_split(sources: np.ndarray, seed: int) -> Split:
    rng = np.random.default_rng(seed)
    subjects = sorted(set(sources) - {"gsm8k"})
    held = tuple(sorted(rng.permutation(subjects)[:HELD_SUBJECTS]))
    gsm = np.flatnonzero(sources == "gsm8k")
    test = np.isin(sources, held)
    test[rng.choice(gsm, HELD_GSM8K, replace=False)] = True
    return Split(f"subjects-holdout-s{seed}", test, held)


def pgr_curve(score: np.ndarray, weak: np.ndarray, strong: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(strong-call share, accuracy, PGR) for every cut of the prompts sorted by score, highest first."""
    order = np.argsort(-score, kind="stable")
    n = len(score)
    gain = (strong[order] - weak[order]).astype(np.float64)
    acc = (weak.sum() + np.concatenate([[0.0], np.cumsum(gain)])) / n
    share = np.arange(n + 1) / n
    return share, acc, (acc - weak.mean()) / (strong.mean() - weak.mean())


def summarise(score: np.ndarray, weak: np.ndarray, strong: np.ndarray) -> dict[str, float]:
    share, _, pgr = pgr_curve(score, weak, strong)
    return {
        "apgr": float(np.trapezoid(pgr, share)),
        "cpt50": float(share[np.argmax(pgr >= 0.5)]),
        "cpt80": float(share[np.argmax(pgr >= 0.8)]),
    }


def baselines(words: np.ndarray, weak: np.ndarray, strong: np.ndarray, seed: int) -> dict[str, dict[str, float]]:
    rng = np.random.default_rng(seed)
    n = len(weak)
    random = [summarise(rng.random(n), weak, strong) for _ in range(20)]
    out = {"random": {k: float(np.mean([r[k] for r in random])) for k in random[0]},
           "prompt_length": summarise(words, weak, strong)}
    # The constant routers are single points on the curve: share 0 (PGR 0) and share 1 (PGR 1).
    out["always_weak"] = {"accuracy": float(weak.mean()), "strong_share": 0.0}
    out["always_strong"] = {"accuracy": float(strong.mean()), "strong_share": 1.0}
    return out


def preference_results(heads: tr.Heads, prompts: list[str], weak: np.ndarray, strong: np.ndarray) -> dict:
    """Route each prompt with the Rust Router under each preference; accuracy and estimated cost achieved."""
    try:
        from proxy._scorer import Router
    except ImportError:
        return {"skipped": "proxy._scorer not built"}
    from proxy.routing.model_routing import load_catalog_specs

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.json"
        tr.export(heads, path, {"split": "train part"})
        router = Router(json.loads(path.read_text()))
    specs = load_catalog_specs([tr.WEAK_SLUG, tr.STRONG_SLUG])
    for spec in specs:
        router.add_model(**spec.model_kwargs())
    offers = [spec.cheapest_offer() for spec in specs]
    out: dict = {}
    for pref in ("balanced", "quality", "price", "speed"):
        correct = cost = strong_calls = 0.0
        for i, text in enumerate(prompts):
            decision = router.route(text, offers, preference=pref)
            model, _, _, est_cost = decision["candidates"][0][:4]
            is_strong = model == tr.STRONG_SLUG
            strong_calls += is_strong
            correct += strong[i] if is_strong else weak[i]
            cost += est_cost
        n = len(prompts)
        out[pref] = {"accuracy": correct / n, "strong_share": strong_calls / n, "cost_usd_per_1k": 1000 * cost / n}
    return out


def plot(curves: dict[str, tuple[np.ndarray, np.ndarray]], points: dict, weak_acc: float, strong_acc: float,
         path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    for name, (share, acc) in curves.items():
        ax.plot(share, acc, label=name, lw=1.6 if name == "router" else 1.0)
    ax.plot([0, 1], [weak_acc, strong_acc], ls=":", c="grey", label="random (expected)")
    for pref, r in points.items():
        if isinstance(r, dict) and "accuracy" in r:
            ax.scatter([r["strong_share"]], [r["accuracy"]], marker="o", zorder=5)
            ax.annotate(pref, (r["strong_share"], r["accuracy"]), textcoords="offset points", xytext=(4, -10),
                        fontsize=8)
    ax.set_xlabel("share of calls to the strong model (GPT-4 Turbo)")
    ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folds", type=int, default=8, help="extra seeded splits for the spread (0 to skip)")
    ap.add_argument("--c", type=float, default=0.1)
    ap.add_argument("--dense-gain", type=float, default=3.0)
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--out", type=Path, default=RESULTS / "route_eval.json")
    args = ap.parse_args()

    data = tr.load()
    features = [tr.prompt_features(p) for p in data.prompts]
    words = np.array([f.dense[0] for f in features])

    def oracle_of(idx: np.ndarray) -> dict[str, float]:
        """Knows each held-out subject's true mean gain: the ceiling for a router that only recognises topics."""
        w, s, src = data.weak[idx], data.strong[idx], data.sources[idx]
        gain = {x: (s[src == x] - w[src == x]).mean() for x in set(src)}
        return summarise(np.array([gain[x] for x in src]), w, s)

    def run(split: Split) -> tuple[tr.Heads, dict, np.ndarray]:
        train_idx, test_idx = np.flatnonzero(~split.test), np.flatnonzero(split.test)
        heads = tr.fit([features[i] for i in train_idx], data.weak[train_idx], data.strong[train_idx],
                       args.c, args.dense_gain)
        score = heads.strong_gain([features[i] for i in test_idx])
        return heads, summarise(score, data.weak[test_idx], data.strong[test_idx]), score

    main_split = holdout_split(data.sources, 0)
    heads, router_metrics, score = run(main_split)
    idx = np.flatnonzero(main_split.test)
    w, s = data.weak[idx], data.strong[idx]
    base = baselines(words[idx], w, s, seed=0)
    oracle = oracle_of(idx)
    prefs = preference_results(heads, [data.prompts[i] for i in idx], w, s)

    folds = []
    for seed in range(1, args.folds + 1):
        sp = holdout_split(data.sources, seed)
        _, m, _ = run(sp)
        fidx = np.flatnonzero(sp.test)
        length_apgr = summarise(words[fidx], data.weak[fidx], data.strong[fidx])["apgr"]
        folds.append({"split": sp.name, "held_subjects": list(sp.held_subjects), **m,
                      "prompt_length_apgr": length_apgr, "subject_oracle_apgr": oracle_of(fidx)["apgr"]})
        print(f"{sp.name}: APGR {m['apgr']:.3f} (prompt length {length_apgr:.3f}, "
              f"subject oracle {folds[-1]['subject_oracle_apgr']:.3f})", flush=True)

    report = {
        "split": {
            "name": main_split.name,
            "recipe": f"seed {0}: {HELD_SUBJECTS} whole MMLU subjects + {HELD_GSM8K} random GSM8K rows held out",
            "held_subjects": list(main_split.held_subjects),
            "test_rows": int(main_split.test.sum()),
            "train_rows": int((~main_split.test).sum()),
        },
        "router": router_metrics,
        "baselines": base,
        "subject_oracle": {**oracle, "note": "knows each held-out subject's true mean gain; not a real router"},
        "accuracy": {"weak": float(w.mean()), "strong": float(s.mean())},
        "preferences": prefs,
        "folds": folds,
    }
    if folds:
        all_apgr = [router_metrics["apgr"]] + [f["apgr"] for f in folds]
        all_length = [base["prompt_length"]["apgr"]] + [f["prompt_length_apgr"] for f in folds]
        all_oracle = [oracle["apgr"]] + [f["subject_oracle_apgr"] for f in folds]
        report["folds_summary"] = {
            "apgr_mean": float(np.mean(all_apgr)), "apgr_sd": float(np.std(all_apgr)), "n": len(all_apgr),
            "per_split": [round(float(a), 4) for a in all_apgr],
            "prompt_length_apgr_mean": float(np.mean(all_length)),
            "subject_oracle_apgr_mean": float(np.mean(all_oracle)), "subject_oracle_apgr_sd": float(np.std(all_oracle)),
        }
        print(f"over {len(all_apgr)} splits: router APGR {np.mean(all_apgr):.3f} ± {np.std(all_apgr):.3f}; "
              f"prompt length {np.mean(all_length):.3f}; subject oracle {np.mean(all_oracle):.3f}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in ("router", "baselines", "subject_oracle", "preferences")}, indent=1))
    if not args.no_plot:
        curves = {"router": pgr_curve(score, w, s)[:2], "prompt length": pgr_curve(words[idx], w, s)[:2]}
        title = (f"{main_split.name}: {int(main_split.test.sum())} held-out prompts; "
                 f"router APGR {router_metrics['apgr']:.3f}")
        plot(curves, prefs, float(w.mean()), float(s.mean()), RESULTS / "route_eval.png", title)


if __name__ == "__main__":
    main()
