"""What learned corrections cost a routing decision: `Router.route` over every catalogue model on a ~2,000-token
prompt, without scopes vs with a request's two scopes (deployment + key) both holding a correction for every
model (the worst case), in interleaved rounds; the figure is the median of per-round ratios of medians.

    python -m bench.feedback_route_speed [--quick] [--out bench/results/feedback_route_speed.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path
from statistics import median

from bench.route_speed import TARGET_TOKENS, prompt_of
from proxy.routing.model_routing import load_catalog_specs, load_weights, new_router

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer iterations, for CI smoke")
    ap.add_argument("--out", type=Path, default=RESULTS / "feedback_route_speed.json")
    args = ap.parse_args()
    rounds, per_round = (3, 200) if args.quick else (10, 2000)

    weights = load_weights()
    k = int(weights["k"])
    specs = load_catalog_specs(weights=weights)
    router = new_router(weights)
    for spec in specs:
        router.add_model(**spec.model_kwargs())
    rng = random.Random(7)
    for scope in ("deployment", "key:team-a"):
        for spec in specs:
            router.set_correction(scope, spec.slug, [rng.gauss(0, 0.1) for _ in range(k)], rng.gauss(0, 0.1), 5)
    offers = [spec.cheapest_offer()[:4] + (400.0, 80.0, True) for spec in specs]
    text, source = prompt_of(TARGET_TOKENS, router)
    scopes = ["deployment", "key:team-a"]
    assert len(router.route(text, offers, tradeoff=0.5, scopes=scopes)["learned"]) == len(specs)

    def timed(scoped: bool) -> float:
        clock = time.perf_counter_ns
        out = []
        for _ in range(per_round):
            t0 = clock()
            router.route(text, offers, tradeoff=0.5, scopes=scopes if scoped else None)
            out.append(clock() - t0)
        return median(out) / 1000

    plain, corrected = [], []
    for r in range(rounds):
        order = (False, True) if r % 2 == 0 else (True, False)
        got = {scoped: timed(scoped) for scoped in order}
        plain.append(got[False])
        corrected.append(got[True])
    ratios = [c / p for c, p in zip(corrected, plain, strict=True)]
    report = {
        "models": len(specs), "k": k, "prompt_source": source, "rounds": rounds, "per_round": per_round,
        "p50_us_without_corrections": round(median(plain), 2),
        "p50_us_with_two_scopes_correcting_every_model": round(median(corrected), 2),
        "ratio_median_of_rounds": round(median(ratios), 3),
        "ratio_per_round": [round(r, 3) for r in ratios],
        "load_average_1m": os.getloadavg()[0],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
