"""Non-streaming latency from wrk, a C client, so the load generator's own cost is small and fixed.

bench.compare calls `run_wrk` for the c=1 rows. wrk posts the chat body from a generated Lua script, and
the script's `done()` prints one JSON line: counts, errors and the latency percentiles bench.report uses.
wrk cannot time an SSE first byte, so streaming TTFT stays with bench.loadgen.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path
from typing import Any

WRK = shutil.which("wrk")
# Percentiles the Lua script reports, in percent: the CDF bench.report plots and p50/p99/p99.9.
PERCENTS = [float(i) for i in range(100)] + [99.5, 99.9, 100.0]

LUA_TEMPLATE = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
{auth}
local percents = {{{percents}}}

function done(summary, latency, requests)
  local e = summary.errors
  local out = {{}}
  for i, p in ipairs(percents) do
    out[i] = string.format("%.3f", latency:percentile(p) / 1000.0)
  end
  io.write(string.format(
    '{{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"cdf_ms":[%s]}}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout, table.concat(out, ",")))
end
"""


def lua_string(text: str) -> str:
    """A Lua long-bracket literal that no JSON body can close early."""
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


def write_script(path: Path, body: dict[str, Any], api_key: str | None) -> Path:
    auth = f'wrk.headers["Authorization"] = {lua_string("Bearer " + api_key)}' if api_key else ""
    path.write_text(LUA_TEMPLATE.format(body=lua_string(json.dumps(body)), auth=auth,
                                        percents=",".join(f"{p:g}" for p in PERCENTS)))
    return path


def parse_done_line(stdout: str) -> dict[str, Any]:
    """The JSON line `done()` printed, whatever wrk printed around it."""
    for line in reversed(stdout.splitlines()):
        if line.startswith('{"requests"'):
            parsed: dict[str, Any] = json.loads(line)
            return parsed
    raise RuntimeError(f"wrk printed no summary: {stdout[-400:]}")


def result_from(done: dict[str, Any], connections: int) -> dict[str, Any]:
    """wrk's summary in the shape bench.report reads from bench.loadgen (percentiles instead of raw latencies)."""
    elapsed = done["duration_us"] / 1e6
    kinds = {k: done[k] for k in ("connect", "read", "write", "status", "timeout") if done[k]}
    errors = sum(kinds.values())
    cdf = done["cdf_ms"]
    return {
        "mode": f"wrk c={connections}",
        "client": "wrk",
        "sent": done["requests"],
        "ok": done["requests"] - done["status"],
        "errors": errors,
        "error_kinds": {f"wrk_{k}": v for k, v in kinds.items()},
        "elapsed_s": elapsed,
        "rps": done["requests"] / elapsed if elapsed > 0 else 0.0,
        "cdf_ms": cdf,
        "p50": cdf[PERCENTS.index(50.0)],
        "p99": cdf[PERCENTS.index(99.0)],
        "p999": cdf[PERCENTS.index(99.9)],
    }


def run_wrk(url: str, script: Path, seconds: float, connections: int, prefix: list[str]) -> dict[str, Any]:
    """One wrk run (one thread, `connections` keep-alive connections) for at least `seconds` (wrk counts whole seconds)."""
    if WRK is None:
        raise RuntimeError("wrk is not installed (apt-get install -y wrk)")
    argv = [*prefix, WRK, "-t1", f"-c{connections}", f"-d{max(1, math.ceil(seconds))}s", "--timeout", "10s",
            "-s", str(script), url]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr[-400:]}")
    return result_from(parse_done_line(proc.stdout), connections)
