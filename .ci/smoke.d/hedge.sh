#!/usr/bin/env bash
# Hedging bench, short form (~50 s): 20 req/s against two providers with a 5% tail of 3 s first tokens,
# with and without hedging. Fails unless hedging at least halves the share of first tokens slower than
# 1 s for at most 10% extra calls (400 requests a mode are too few to judge a p99 by).
set -euo pipefail
cd "$(dirname "$0")/../.."
timeout 120 python3 bench/hedge_bench.py --seconds 20 --rounds 2 --warmup 3 --out bench/results/hedge-smoke.json.tmp --check
