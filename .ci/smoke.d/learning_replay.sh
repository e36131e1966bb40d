#!/usr/bin/env bash
# The learning replay query before and after migration 7's index, short form (10,000 records, ~10 s).
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 bench/learning_replay_bench.py --quick
