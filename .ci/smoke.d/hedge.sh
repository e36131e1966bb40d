#!/usr/bin/env bash
# Hedging bench, short form (~25 s): 20 req/s against two providers with a 5% tail of 3 s first tokens,
# with and without hedging. Fails unless hedging cuts p99 TTFT at least 2x for at most 10% extra calls.
set -euo pipefail
cd "$(dirname "$0")/../.."
timeout 60 python3 bench/hedge_bench.py --seconds 10 --rounds 1 --warmup 3 --out bench/results/hedge-smoke.json.tmp --check
