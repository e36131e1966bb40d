"""How long one routing decision takes: 5 models x 3 providers, a ~2,000-token prompt.

    python -m bench.route_speed [--quick] [--out bench/results/route_speed.json]

Times `Router.route` as the gateway calls it, from Python: argument conversion, the text pass (GIL
released), scoring, filters, ranking, and building the result dicts. Target: p99 under 50 us.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from bench import train_router as tr
from proxy._scorer import Router
from proxy.routing.model_routing import load_catalog_specs, load_weights

RESULTS = Path(__file__).resolve().parent / "results"
POOL = [
    "mistralai/mixtral-8x7b-instruct",
    "openai/gpt-4-turbo",
    "openai/gpt-4o-mini",
    "meta-llama/llama-3.3-70b-instruct",
    "meta-llama/llama-3.1-8b-instruct",
]
TARGET_TOKENS = 2000


README = Path(__file__).resolve().parents[1] / "README.md"


def prompt_of(tokens: int) -> tuple[str, str]:
    """Real MMLU/GSM8K prompts joined until the o200k estimate reaches `tokens`, and where they came
    from. Without the training data beside the checkout (../shared), the README's paragraphs stand in:
    English prose with code and tables, so the bench still runs from a bare clone."""
    if tr.DATA.exists():
        source, pieces = str(tr.DATA.name), tr.load().prompts
    else:
        source, pieces = "README.md (training data not present)", [p for p in README.read_text().split("\n\n") if p.strip()]
    parts, n = [], 0
    router_free = Router(load_weights())
    while n < tokens:
        for p in pieces:
            parts.append(p)
            n += router_free.features(p)["est_tokens"]
            if n >= tokens:
                break
    return "\n\n".join(parts), source


def offers() -> list[tuple[str, str, float, float, float, float, bool]]:
    out = []
    for spec in load_catalog_specs(POOL):
        providers = list(spec.prices.items())[:3]
        while len(providers) < 3:  # pad to 3 providers per model with a dearer copy
            name, (i, o) = providers[-1]
            providers.append((f"{name}-{len(providers)}", (i * 1.1, o * 1.1)))
        for k, (provider, (i, o)) in enumerate(providers):
            out.append((spec.slug, provider, i, o, 300.0 + 100 * k, 60.0 + 20 * k, True))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer iterations, for CI smoke")
    ap.add_argument("--out", type=Path, default=RESULTS / "route_speed.json")
    args = ap.parse_args()
    iterations = 2_000 if args.quick else 50_000

    router = Router(load_weights())
    for spec in load_catalog_specs(POOL):
        router.add_model(**spec.model_kwargs())
    text, source = prompt_of(TARGET_TOKENS)
    offer_list = offers()
    est = router.features(text)["est_tokens"]

    for _ in range(min(2_000, iterations)):
        router.route(text, offer_list)
    samples = np.empty(iterations)
    clock = time.perf_counter_ns
    for i in range(iterations):
        t0 = clock()
        router.route(text, offer_list, preference="balanced")
        samples[i] = clock() - t0
    us = samples / 1000
    # The text pass plus the two heads alone (`score` returns four floats; `features` would also build a
    # Python list of every hashed id, which the hot path never does).
    score_samples = np.empty(min(iterations, 10_000))
    for i in range(len(score_samples)):
        t0 = clock()
        router.score(text)
        score_samples[i] = clock() - t0

    report = {
        "models": len(POOL),
        "providers_per_model": 3,
        "prompt_chars": len(text),
        "prompt_est_tokens": est,
        "prompt_source": source,
        "iterations": iterations,
        "p50_us": float(np.percentile(us, 50)),
        "p90_us": float(np.percentile(us, 90)),
        "p99_us": float(np.percentile(us, 99)),
        "max_us": float(us.max()),
        "score_call_p50_us": float(np.percentile(score_samples, 50) / 1000),
        "load_average_1m": os.getloadavg()[0],
        "target_p99_us": 50.0,
        "measured": "Router.route from Python, end to end (conversion, text pass, scoring, ranking, result dicts)",
        "machine": f"{platform.machine()} {platform.processor() or ''} python {platform.python_version()}".strip(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
