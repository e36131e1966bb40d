"""Turn bench.compare's raw results into the table, bench/results/<date>.json and a PNG."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.ratios import CPU, THROUGHPUT, median, metric_for, per_round_ratios, ratio_targets

if TYPE_CHECKING:
    from bench.compare import Slice

CDF_QUANTILES = [i / 100 for i in range(100)] + [0.995, 0.999, 1.0]
ORDER = ("direct", "forwarder", "switchyard", "switchyard-2w", "litellm")


def quantile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def round_figure(r: dict[str, Any], key: str) -> float | None:
    """One round's percentile: from wrk's own percentiles, or from bench.loadgen's raw latencies."""
    if key in r:
        return float(r[key])
    raw = r.get("ttft_ms") if key == "ttft_p50" else r.get("latencies_ms")
    return quantile(sorted(raw), 0.5) if raw and key in ("p50", "ttft_p50") else None


def cpu_per_request(rounds: list[dict[str, Any]]) -> float | None:
    ok = sum(r["ok"] for r in rounds)
    if not ok or any("cpu_s" not in r for r in rounds):
        return None
    cpu = sum(r["cpu_s"] for r in rounds)
    return cpu / ok * 1e6 if cpu > 0 else None


def merged_latency(s: Slice) -> dict[str, Any]:
    """Percentiles over every round: all raw latencies pooled, or (wrk) the median of each round's percentile."""
    if "latencies_ms" in s.results[0]:
        lat = sorted(x for r in s.results for x in r["latencies_ms"])
        return {"p50": quantile(lat, 0.5), "p99": quantile(lat, 0.99), "p999": quantile(lat, 0.999),
                "cdf_ms": [quantile(lat, q) for q in CDF_QUANTILES]}
    cdf = [median([r["cdf_ms"][i] for r in s.results]) for i in range(len(CDF_QUANTILES))]
    return {"p50": median([r["p50"] for r in s.results]), "p99": median([r["p99"] for r in s.results]),
            "p999": median([r["p999"] for r in s.results]), "cdf_ms": cdf}


def summarise(s: Slice) -> dict[str, Any]:
    """One contender in one scenario: all rounds merged, and each round's p50 (for per-round ratios)."""
    elapsed = sum(r["elapsed_s"] for r in s.results)
    ok = sum(r["ok"] for r in s.results)
    kinds: dict[str, int] = {}
    for r in s.results:
        for k, v in r["error_kinds"].items():
            kinds[k] = kinds.get(k, 0) + v
    out: dict[str, Any] = {
        "load": s.results[0]["mode"],
        "ok": ok,
        "errors": sum(r["errors"] for r in s.results),
        "error_kinds": kinds,
        "rps": ok / elapsed if elapsed else 0.0,
        "rps_rounds": [r["rps"] for r in s.results],
        "p50_rounds": [round_figure(r, "p50") for r in s.results],
        # the contender's own cpu per answered request (psutil, all its processes); direct has none
        "cpu_us_per_request": cpu_per_request(s.results),
        "cpu_us_rounds": [cpu_per_request([r]) for r in s.results],
        "peak_rss_mb": s.peak_rss_mb,
        **merged_latency(s),
    }
    if "ttft_ms" in s.results[0]:
        ttft = sorted(x for r in s.results for x in r["ttft_ms"])
        gaps = sorted(x for r in s.results for x in r["gaps_ms"])
        out |= {
            "ttft_p50": quantile(ttft, 0.5), "ttft_p99": quantile(ttft, 0.99),
            "ttft_p50_rounds": [round_figure(r, "ttft_p50") for r in s.results],
            "gap_p50": quantile(gaps, 0.5), "gap_p99": quantile(gaps, 0.99), "gap_max": gaps[-1] if gaps else None,
            "stalls": sum(r["stalls"] for r in s.results), "stalled_streams": sum(r["stalled_streams"] for r in s.results),
            "bunched": sum(r.get("bunched", 0) for r in s.results),
            "streams": ok, "pace_ms": s.results[0]["pace_ms"],
        }
    return out


def minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def add_relative(results: dict[str, Any]) -> None:
    """Added latency against direct in the same scenario (negative values are noise, kept as measured)."""
    for rows in results["scenarios"].values():
        direct = rows.get("direct")
        if direct is None:
            continue
        for row in rows.values():
            for key in ("p50", "p99", "p999", "ttft_p50", "ttft_p99", "gap_p50", "gap_p99"):
                if key in row:
                    row[f"added_{key}"] = minus(row[key], direct.get(key))


def ceiling_warnings(results: dict[str, Any]) -> list[str]:
    """A contender within 10% of direct is measuring the mock and the load generator, not itself."""
    out = []
    for scen, rows in results["scenarios"].items():
        if "direct" not in rows or metric_for(scen, rows) != THROUGHPUT:
            continue
        ceiling = rows["direct"]["rps"]
        for name, row in rows.items():
            if name != "direct" and row["rps"] >= 0.9 * ceiling:
                out.append(f"{scen}: {name} reached {row['rps']:.0f} req/s, within 10% of the mock+loadgen ceiling "
                           f"({ceiling:.0f} req/s direct): its throughput here is a lower bound")
    rates = results["max_rate"]
    ceiling = rates.get("direct", {}).get("max_rate") or 0
    for name, row in rates.items():
        if name != "direct" and ceiling and row["max_rate"] >= 0.9 * ceiling:
            out.append(f"max rate: {name} sustained {row['max_rate']:.0f}/s, within 10% of direct's {ceiling:.0f}/s")
    return out


def scorer_figures() -> dict[str, Any] | None:
    """bench/scorer_bench.py's latest figures, when it has been run."""
    results_dir = Path(__file__).resolve().parent / "results"
    for name in ("scorer_bench.json", "scorer_bench_quick.json"):
        path = results_dir / name
        if path.exists():
            try:
                data = json.loads(path.read_text())
                return {"file": name, **data.get("results", {}).get("rank_providers", {})}
            except (OSError, ValueError):
                return None
    return None


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    sc = results["scenarios"]
    top = f"c{max((int(k[1:]) for k in sc if k.startswith('c') and k[1:].isdigit()), default=256)}"
    rps = {n: r["rps"] for n, r in sc.get(top, {}).items()}
    c1 = sc.get("c1", {})
    stream_key = "stream-open" if "stream-open" in sc else "stream"
    stream = sc.get(stream_key, {})
    burst = sc.get("stream", {})
    held = results["held_streams"].get("switchyard", {})
    rows: list[dict[str, Any]] = []

    def add(name: str, value: float | None, goal: str, passed: bool | None) -> None:
        rows.append({"target": name, "value": value, "goal": goal, "pass": passed})

    v = ratio(rps.get("switchyard"), rps.get("forwarder"))
    add(f"switchyard / forwarder throughput ({top})", v, ">= 0.8", None if v is None else v >= 0.8)
    v = ratio(rps.get("switchyard"), rps.get("litellm"))
    add(f"switchyard / litellm throughput ({top})", v, ">= 40", None if v is None else v >= 40)
    sy, fw = c1.get("switchyard", {}).get("added_p50"), c1.get("forwarder", {}).get("added_p50")
    v = ratio(sy, fw) if sy is not None and fw and fw > 0 else None
    add("added p50 at c=1, switchyard / forwarder", v, "<= 1.3", None if v is None else v <= 1.3)
    v = stream.get("switchyard", {}).get("added_ttft_p50")
    add(f"added streaming TTFT p50 (ms), {stream_key}", v, "< 1", None if v is None else v < 1.0)
    if stream_key != "stream":
        v = burst.get("switchyard", {}).get("added_ttft_p50")
        add("added streaming TTFT p50 (ms), stream (closed loop, starts in bursts)", v, "< 1", None if v is None else v < 1.0)
    for key, by_name in (("stream", burst), ("stream-open", sc.get("stream-open", {}))):
        s_sy, s_d = by_name.get("switchyard", {}).get("stalls"), by_name.get("direct", {}).get("stalls")
        v = None if s_sy is None or s_d is None else float(s_sy - s_d)
        add(f"added stalls, switchyard minus direct ({key})", v, "0", None if v is None else v <= 0)
    v = held.get("rss_open_mb")
    add(f"switchyard RSS with {held.get('streams', 0)} open streams (MB)", v, "< 150", None if v is None else v < 150)
    v = ratio(rps.get("switchyard-2w"), rps.get("switchyard"))
    add(f"--workers 2 / 1 throughput, same pinned cpus ({top})", v, ">= 1.7", None if v is None else v >= 1.7)
    scaling = results.get("scaling")
    if scaling:
        rows2 = scaling["rows"]
        v = ratio(rows2.get("switchyard-2w@all-cpus", {}).get("rps"), rows2.get("switchyard@all-cpus", {}).get("rps"))
        add(f"--workers 2 / 1 throughput, both on cpus {scaling['cpus']} with mock+loadgen ({scaling['scenario']})", v,
            ">= 1.7", None if v is None else v >= 1.7)
    scorer = scorer_figures()
    v = scorer.get("ratio_p50") if scorer else None
    add("rust rank_providers speed-up vs python (scorer_bench)", v, ">= 20", None if v is None else v >= 20)
    return rows


def fmt(v: float | None, digits: int = 2) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def ordered(rows: dict[str, Any]) -> list[str]:
    return [n for n in ORDER if n in rows] + [n for n in rows if n not in ORDER]


def table(results: dict[str, Any]) -> str:
    lines = ["| scenario | contender | p50 ms | p99 ms | p99.9 ms | added p50 | added p99 | req/s | errors | peak RSS MB |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for scen, rows in results["scenarios"].items():
        for name in ordered(rows):
            r = rows[name]
            lines.append(f"| {scen} | {name} | {fmt(r['p50'])} | {fmt(r['p99'])} | {fmt(r['p999'])} | "
                         f"{fmt(r.get('added_p50'))} | {fmt(r.get('added_p99'))} | {r['rps']:.0f} | {r['errors']} | "
                         f"{fmt(r['peak_rss_mb'] or None, 0)} |")
    for scen, stream in results["scenarios"].items():
        if not scen.startswith("stream"):
            continue
        first: dict[str, Any] = next(iter(stream.values()), {})
        load = first.get("load", "")
        lines += ["", f"| {scen}: 64 chunks, {load} | TTFT p50 ms | added TTFT p50 | gap p50 ms | gap p99 ms | added gap p50 | added gap p99 | stalls / streams | bunched gaps |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for name in ordered(stream):
            r = stream[name]
            lines.append(f"| {name} | {fmt(r['ttft_p50'])} | {fmt(r.get('added_ttft_p50'))} | {fmt(r['gap_p50'])} | "
                         f"{fmt(r['gap_p99'])} | {fmt(r.get('added_gap_p50'))} | {fmt(r.get('added_gap_p99'))} | "
                         f"{r['stalls']} in {r['stalled_streams']} / {r['streams']} | {r.get('bunched', 0)} |")
    if any(k.startswith("stream") for k in results["scenarios"]):
        lines += ["", "stall: a gap between content chunks over 2x the pace; bunched: under 0.1x the pace, chunks that "
                      "arrived together (buffering). Stalls the forwarder or direct show too come from the machine, not the gateway."]
    if results["max_rate"]:
        lines += ["", "| contender | highest sustained rate (p99 < 1 s, errors < 0.1%) | first failing rate | peak RSS MB |",
                  "|---|---|---|---|"]
        for name in ordered(results["max_rate"]):
            r = results["max_rate"][name]
            rss = max((s["peak_rss_mb"] for s in r["steps"]), default=0.0)
            lines.append(f"| {name} | {r['max_rate']:.0f}/s | {fmt(r['first_failing_rate'], 0)} | {rss:.0f} |")
    if results["held_streams"]:
        lines += ["", "| contender | streams opened | live (all answered) | live at end of hold | RSS before MB | RSS with streams open MB |",
                  "|---|---|---|---|---|---|"]
        for name, r in results["held_streams"].items():
            lines.append(f"| {name} | {r['opened']} | {r['live_streams']} | {r.get('live_at_end')} | {r['rss_before_mb']:.0f} | "
                         f"{r['rss_open_mb']:.0f} |")
    scaling = results.get("scaling")
    if scaling:
        lines += ["", f"| scaling ({scaling['scenario']}, every contender and the loadgen on cpus {scaling['cpus']}) | p50 ms | p99 ms | req/s | errors |",
                  "|---|---|---|---|---|"]
        for name, r in scaling["rows"].items():
            lines.append(f"| {name} | {fmt(r['p50'])} | {fmt(r['p99'])} | {r['rps']:.0f} | {r['errors']} |")
    lines += ["", "| target | measured | goal | met |", "|---|---|---|---|"]
    for t in results["targets"]:
        met = "n/a" if t["pass"] is None else ("yes" if t["pass"] else "NO")
        lines.append(f"| {t['target']} | {fmt(t['value'])} | {t['goal']} | {met} |")
    return "\n".join(lines)


def ratios_table(ratios: dict[str, Any]) -> str:
    lines = ["| scenario | figure | contender / baseline | per-round ratios | median |", "|---|---|---|---|---|"]
    for scenario, block in ratios.items():
        for pair, r in block["ratios"].items():
            rounds = " ".join(fmt(x) for x in r["rounds"])
            lines.append(f"| {scenario} | {r['figure']} | {pair.removesuffix(', cpu')} | {rounds} | **{fmt(r['median'])}** |")
    lines += ["", "| scenario | figure | contender | per round |", "|---|---|---|---|"]
    for scenario, block in ratios.items():
        for name, values in block["per_round"].items():
            digits = 0 if block["metric"] == THROUGHPUT else 3
            lines.append(f"| {scenario} | {block['metric']} | {name} | {' '.join(fmt(v, digits) for v in values)} |")
        for name, values in block["cpu_per_round"].items():
            lines.append(f"| {scenario} | {CPU} | {name} | {' '.join(fmt(v, 0) for v in values)} |")
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scen = [s for s in ("c1", "c64", "c256") if s in results["scenarios"]]
    if not scen:
        return
    fig, axes = plt.subplots(1, len(scen) + 1, figsize=(5 * (len(scen) + 1), 4.2), squeeze=False)
    axes = axes[0]
    for ax, name in zip(axes, scen):
        rows = results["scenarios"][name]
        for contender in ordered(rows):
            xs = rows[contender]["cdf_ms"]
            if xs and xs[0] is not None:
                ax.plot(xs, [q * 100 for q in CDF_QUANTILES], label=contender)
        ax.set_xscale("log")
        ax.set_xlabel("latency (ms, log)")
        ax.set_ylabel("percentile")
        ax.set_title(f"latency CDF, non-streaming, {name.replace('c', 'concurrency ')}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    ax = axes[-1]
    top = scen[-1]
    names = ordered(results["scenarios"][top])
    closed = [results["scenarios"][top][n]["rps"] for n in names]
    sustained = [results["max_rate"].get(n, {}).get("max_rate", 0.0) for n in names]
    xs = range(len(names))
    ax.bar([x - 0.2 for x in xs], closed, width=0.4, label=f"closed loop, {top}")
    ax.bar([x + 0.2 for x in xs], sustained, width=0.4, label="highest sustained open-loop rate")
    ax.set_xticks(list(xs), names, rotation=20)
    ax.set_ylabel("requests/s")
    ax.set_yscale("log")
    ax.set_title("throughput by contender")
    ax.legend(fontsize=8)
    fig.suptitle(f"Switchyard benchmark, {results['meta']['started']} ({results['meta']['mode']})")
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)


def finish(results: dict[str, Any], out_dir: Path, smoke: bool, png: bool = True, label: str = "") -> Path:
    """Fill in relative figures, per-round ratios and targets, print the tables, write the JSON (and PNG)."""
    add_relative(results)
    results["ratios"] = per_round_ratios(results)
    results["warnings"] = results.get("warnings", []) + ceiling_warnings(results)
    results["targets"] = targets(results) + ratio_targets(results["ratios"])
    out_dir.mkdir(parents=True, exist_ok=True)
    # smoke output ends in .tmp, which git ignores; a full run's is kept, one file per run
    stamp = time.strftime("%Y-%m-%d-%H%M%S") + (f"-{label}" if label else "")
    json_path, png_path = ((out_dir / "compare-smoke.json.tmp", out_dir / "compare-smoke.png.tmp") if smoke
                           else (out_dir / f"{stamp}.json", out_dir / f"{stamp}.png"))
    json_path.write_text(json.dumps(results, indent=1))
    print(table(results))
    print("\nPer-round ratios (each round: every contender in turn; added = p50 - direct's p50 in that round)\n")
    print(ratios_table(results["ratios"]))
    meta = results["meta"]
    print(f"\nmachine: {meta['cpus']} cpus, contenders on cpus {meta['gateway_cpus']}, mock+loadgen on {meta['aux_cpus']}; "
          f"load {meta['load_before']['load1']:.2f} before, {meta['load_after']['load1']:.2f} after; "
          f"{meta['elapsed_s']:.0f} s")
    for name, why in meta.get("unavailable", {}).items():
        print(f"not measured: {name}: {why}")
    for w in results["warnings"]:
        print(f"warning: {w}")
    print(f"wrote {json_path}")
    if png:
        plot(results, png_path)
        print(f"wrote {png_path}")
    return json_path
