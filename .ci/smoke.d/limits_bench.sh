#!/usr/bin/env bash
# Keys and limits, smoke form (seconds): key lookup + limits in process and in Redis on loopback.
set -euo pipefail
cd "$(dirname "$0")/../.."
timeout 120 python3 bench/limits_bench.py --quick
