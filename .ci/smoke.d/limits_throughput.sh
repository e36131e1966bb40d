#!/usr/bin/env bash
# c=64 with a virtual key and limits in Redis, smoke form (~10 s): the keyed gateway starts, issues a key
# and takes load beside keys-off and the forwarder, one short round each. Checks the harness, not the figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
timeout 50 python3 -m bench.limits_throughput --smoke
