"""Per-round ratios: each contender against its baseline in the same round, and the median over rounds.

At c=1 these machines are noisy (single runs of one build scatter from 1.0 to 1.7), so one pooled
percentile per contender is not to be trusted. Each round is a short turn for every contender in a row;
a round's added latency is the contender's p50 minus direct's p50 in that round, its ratio is the
contender's added p50 over the baseline's, and the figure quoted is the median of the rounds' ratios.
Throughput scenarios (closed loop, c > 1, non-streaming) use requests/s in the round instead.
"""

from __future__ import annotations

from typing import Any

# What each ratio measures, and whether higher is better (throughput) or lower (added latency).
ADDED_P50, ADDED_TTFT, THROUGHPUT = "added p50 ms", "added TTFT p50 ms", "req/s"
CPU = "cpu us per request"


def median(values: list[float]) -> float | None:
    s = sorted(values)
    if not s:
        return None
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def metric_for(scenario: str, rows: dict[str, Any]) -> str:
    first = next(iter(rows.values()))
    if "ttft_p50_rounds" in first:
        return ADDED_TTFT
    if scenario.startswith("c") and scenario[1:].isdigit() and int(scenario[1:]) > 1:
        return THROUGHPUT
    return ADDED_P50


def round_values(rows: dict[str, Any], metric: str) -> dict[str, list[float | None]]:
    """Each contender's figure per round: requests/s, or its p50 minus direct's p50 in the same round."""
    if metric == THROUGHPUT:
        return {name: list(row["rps_rounds"]) for name, row in rows.items()}
    key = "ttft_p50_rounds" if metric == ADDED_TTFT else "p50_rounds"
    direct = rows["direct"][key]
    return {name: [None if v is None or d is None else v - d for v, d in zip(row[key], direct)]
            for name, row in rows.items() if name != "direct"}


def ratio_rounds(values: list[float | None], baseline: list[float | None]) -> list[float | None]:
    """A round whose baseline figure is not positive (noise at c=1) has no ratio; the median skips it."""
    return [None if v is None or b is None or b <= 0 else v / b for v, b in zip(values, baseline)]


def summary(figure: str, rounds: list[float | None]) -> dict[str, Any]:
    return {"figure": figure, "rounds": rounds, "median": median([r for r in rounds if r is not None]),
            "rounds_without_ratio": sum(r is None for r in rounds)}


def pairs_for(names: list[str], variants: list[str]) -> list[tuple[str, str]]:
    """(contender, baseline): everyone against the forwarder, and each variant also against Switchyard."""
    out = [(n, "forwarder") for n in names if n not in ("direct", "forwarder") and "forwarder" in names]
    out += [(n, "switchyard") for n in names if n in variants and "switchyard" in names]
    return out


def per_round_ratios(results: dict[str, Any]) -> dict[str, Any]:
    variants = results.get("meta", {}).get("variants", [])
    out: dict[str, Any] = {}
    for scenario, rows in results["scenarios"].items():
        if "direct" not in rows:
            continue
        metric = metric_for(scenario, rows)
        values = round_values(rows, metric)
        ratios = {}
        for name, baseline in pairs_for(list(rows), variants):
            rounds = ratio_rounds(values[name], values[baseline])
            ratios[f"{name} / {baseline}"] = summary(metric, rounds)
        cpu = {name: row["cpu_us_rounds"] for name, row in rows.items() if row.get("cpu_us_per_request")}
        for name, baseline in pairs_for(list(rows), variants):
            if name in cpu and baseline in cpu:
                rounds = ratio_rounds(cpu[name], cpu[baseline])
                ratios[f"{name} / {baseline}, cpu"] = summary(CPU, rounds)
        out[scenario] = {"metric": metric, "per_round": values, "cpu_per_round": cpu, "ratios": ratios}
    return out


def ratio_targets(ratios: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 10's targets, each on the median of per-round ratios."""
    rows = []
    goals = (("c1-wrk-paced", "added p50 at c=1 (wrk, paced mock)", 1.3),
             ("ttft-paced", "added streaming TTFT p50 at c=1 (paced mock)", 1.3),
             ("c1-wrk", "added p50 at c=1 (wrk, instant mock)", 1.3))
    for scenario, what, most in goals:
        v = ratios.get(scenario, {}).get("ratios", {}).get("switchyard / forwarder", {}).get("median")
        rows.append({"target": f"{what}, switchyard / forwarder, median of per-round ratios", "value": v,
                     "goal": f"<= {most}", "pass": None if v is None else v <= most})
    v = ratios.get("c64", {}).get("ratios", {}).get("switchyard / forwarder", {}).get("median")
    rows.append({"target": "throughput at c=64, switchyard / forwarder, median of per-round ratios", "value": v,
                 "goal": ">= 0.8", "pass": None if v is None else v >= 0.8})
    return rows
