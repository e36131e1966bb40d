#!/usr/bin/env bash
# Benchmark harness, smoke form (~45 s): direct, bare forwarder and Switchyard (1 and 2 workers) against the
# fast mock, every scenario for a moment, including issue 10's c=1 rows (wrk, paced mock, stream TTFT; under
# SCHED_FIFO where allowed) and their per-round ratios. Checks the harness works end to end, not that anything
# is fast.
set -euo pipefail
cd "$(dirname "$0")/../.."
timeout 150 python3 -m bench.compare --smoke --realtime
