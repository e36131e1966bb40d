#!/usr/bin/env bash
# Console polling cost, smoke form (~20 s): one round with and without 5 simulated Requests-page consoles.
set -euo pipefail
cd "$(dirname "$0")/../.."
timeout 120 python3 -m bench.console_load --smoke
