#!/usr/bin/env bash
# Chaos soak, short form: ~2,000 requests against failing, hanging, flapping mock providers.
# Fails if any request is lost, duplicated or cut without an error event, or if fds/tasks/RSS leak.
set -euo pipefail
cd "$(dirname "$0")/../.."
timeout 180 python3 bench/chaos.py --requests 2000 --warmup 200 --max-seconds 110 --out bench/results/chaos-smoke.json.tmp
