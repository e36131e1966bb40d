"""How long one routing decision takes: every catalogue model (30+) on one provider each, a ~2,000-token
prompt; and how much faster it is than the pure-Python reference of the same computation.

    python -m bench.route_speed [--quick] [--min-speedup 20] [--out bench/results/route_speed.json]

Times `Router.route` as the gateway calls it, from Python: argument conversion, the text pass and the
embedding pass (GIL released), the predictor, filters, ranking, and building the result. Targets: p50 under
50 us, p99 under 150 us, and at least 20x the reference (bench/router_v2/reference.py), compared as the
median of per-round ratios over interleaved rounds. Each round also times the parts, so the report says
where the time goes: `score` (both passes and the latent vector, no ranking) on the same prompt, and
`route` on a 2-word prompt (the Python conversion of the offers, ranking and the result, nearly no text).
`--min-speedup` makes the run fail when the ratio falls under it (the CI smoke); absolute times depend on
the machine and its load, so they are reported, not checked.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench import train_router as tr
from bench.router_v2 import reference, represent
from proxy.routing.model_routing import load_catalog_specs, load_weights, new_router

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_TOKENS = 2000
README = Path(__file__).resolve().parents[1] / "README.md"


def prompt_of(tokens: int, router: object) -> tuple[str, str]:
    """Real MMLU/GSM8K prompts joined until the o200k estimate reaches `tokens`, and where they came
    from. Without the training data beside the checkout (../shared), the README's paragraphs stand in:
    English prose with code and tables, so the bench still runs from a bare clone."""
    if tr.DATA.exists():
        source, pieces = str(tr.DATA.name), tr.load().prompts
    else:
        source, pieces = "README.md (training data not present)", [p for p in README.read_text().split("\n\n") if p.strip()]
    parts, n = [], 0
    while n < tokens:
        for p in pieces:
            parts.append(p)
            n += router.features(p)["est_tokens"]  # type: ignore[attr-defined]
            if n >= tokens:
                break
    return "\n\n".join(parts), source


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer iterations, for CI smoke")
    ap.add_argument("--out", type=Path, default=RESULTS / "route_speed.json")
    ap.add_argument("--min-speedup", type=float, default=0.0, help="exit 1 when the ratio to the reference is lower")
    args = ap.parse_args()
    rounds, per_round = (5, 300) if args.quick else (10, 3000)

    weights = load_weights()
    specs = load_catalog_specs(weights=weights)
    router = new_router(weights)
    for spec in specs:
        router.add_model(**spec.model_kwargs())
    offers = [spec.cheapest_offer()[:4] + (400.0, 80.0, True) for spec in specs]
    text, source = prompt_of(TARGET_TOKENS, router)
    est = router.features(text)["est_tokens"]
    decision = router.route(text, offers, tradeoff=0.5)

    table = represent.StaticTable.load()
    abilities = {s.slug: (s.ability.a, s.ability.b) for s in specs}
    ref_offers = [o[:4] for o in offers]

    def ref() -> object:
        return reference.route(text, weights, table, abilities, ref_offers, 0.5, decision["input_tokens"],
                               decision["output_tokens"])

    ref_top = ref()[0]  # type: ignore[index]
    assert ref_top[0] == decision["candidates"][0][0], (ref_top, decision["candidates"][0])

    parts: dict[str, Callable[[], object]] = {
        "route": lambda: router.route(text, offers, tradeoff=0.5),
        "score": lambda: router.score(text),
        "route_2_words": lambda: router.route("hi there", offers, tradeoff=0.5),
    }
    clock = time.perf_counter_ns
    samples: dict[str, list[float]] = {name: [] for name in parts}
    ratios = []
    for _ in range(rounds):
        medians = {}
        for name, call in parts.items():
            ns = np.empty(per_round if name == "route" else per_round // 3)
            for i in range(len(ns)):
                t0 = clock()
                call()
                ns[i] = clock() - t0
            samples[name] += list(ns / 1000)
            medians[name] = float(np.median(ns))
        py = []
        for _ in range(max(5, per_round // 300)):
            t0 = clock()
            ref()
            py.append(clock() - t0)
        ratios.append(float(np.median(py) / medians["route"]))
    us = np.array(samples["route"])

    def figures(values: list[float]) -> dict[str, float]:
        v = np.array(values)
        return {"min_us": round(float(v.min()), 2), "p50_us": round(float(np.percentile(v, 50)), 2)}

    report = {
        "models": len(specs),
        "offers": len(offers),
        "prompt_chars": len(text),
        "prompt_est_tokens": est,
        "prompt_source": source,
        "iterations": len(us),
        "min_us": float(us.min()),
        "p50_us": float(np.percentile(us, 50)),
        "p90_us": float(np.percentile(us, 90)),
        "p99_us": float(np.percentile(us, 99)),
        "max_us": float(us.max()),
        "speedup_vs_python_reference": float(np.median(ratios)),
        "speedup_per_round": [round(r, 1) for r in ratios],
        "parts": {name: figures(values) for name, values in samples.items()},
        "load_average_1m": os.getloadavg()[0],
        "targets": {"p50_us": 50.0, "p99_us": 150.0, "speedup": 20.0},
        "measured": "Router.route from Python, end to end (conversion, text and embedding passes, predictor, "
                    "ranking, result); the reference is bench/router_v2/reference.py on the same prompt; parts: "
                    "score() on the same prompt (both passes and the latent vector), route() on a 2-word prompt",
        "machine": f"{platform.machine()} {platform.processor() or ''} python {platform.python_version()}".strip(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    if report["speedup_vs_python_reference"] < args.min_speedup:
        sys.exit(f"route_speed: {report['speedup_vs_python_reference']:.1f}x the Python reference, under the "
                 f"required {args.min_speedup:g}x")


if __name__ == "__main__":
    main()
