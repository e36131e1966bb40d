#!/usr/bin/env bash
# What learned corrections cost a route, short form: runs, and both paths agree on the pool (no threshold:
# the ratio is reported in bench/ROUTING.md from a full run).
set -euo pipefail
cd "$(dirname "$0")/../.."
timeout 120 python3 -m bench.feedback_route_speed --quick --out /tmp/feedback_route_speed_quick.json
