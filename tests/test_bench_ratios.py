"""bench.compare's new parts: per-round ratios, contender specs, wrk's Lua script (run by real wrk) and the paced mock."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bench import hop_report, ratios, report, wrk_client
from bench.contenders import Slice, deep_merge, specs_from_args, write_switchyard_config
from bench.fast_mock import whole_answer_pacing
from proxy.simulated.knobs import Knobs
from proxy.simulated.openai_mock import create_openai_mock


def wrk_round(p50: float, rps: float = 100.0) -> dict[str, Any]:
    """A result as bench.wrk_client returns it (percentiles, no raw latencies)."""
    cdf = [p50] * len(report.CDF_QUANTILES)
    return {"mode": "wrk c=1", "client": "wrk", "sent": 10, "ok": 10, "errors": 0, "error_kinds": {}, "elapsed_s": 1.0,
            "rps": rps, "cdf_ms": cdf, "p50": p50, "p99": p50, "p999": p50, "peak_rss_mb": 0.0}


def scenario(rounds: dict[str, list[float]]) -> dict[str, Any]:
    return {name: report.summarise(Slice([wrk_round(p) for p in p50s])) for name, p50s in rounds.items()}


def test_ratio_is_the_median_of_per_round_ratios_not_of_pooled_figures() -> None:
    rows = scenario({"direct": [1.0, 1.0, 3.0], "forwarder": [1.5, 2.0, 4.0], "switchyard": [2.0, 2.0, 6.0]})
    block = ratios.per_round_ratios({"scenarios": {"c1-wrk-paced": rows}})["c1-wrk-paced"]
    assert block["metric"] == ratios.ADDED_P50
    assert block["per_round"]["switchyard"] == [1.0, 1.0, 3.0]  # each round minus that round's direct
    pair = block["ratios"]["switchyard / forwarder"]
    assert pair["rounds"] == [2.0, 1.0, 3.0] and pair["median"] == 2.0


def test_a_round_where_the_baseline_adds_nothing_has_no_ratio() -> None:
    rows = scenario({"direct": [1.0, 1.0], "forwarder": [0.9, 1.5], "switchyard": [1.2, 2.0]})
    pair = ratios.per_round_ratios({"scenarios": {"c1-wrk": rows}})["c1-wrk"]["ratios"]["switchyard / forwarder"]
    assert pair["rounds"] == [None, 2.0] and pair["median"] == 2.0 and pair["rounds_without_ratio"] == 1


def test_throughput_scenarios_compare_requests_per_second_and_variants_also_face_switchyard() -> None:
    rows = {name: report.summarise(Slice([wrk_round(1.0, rps) for rps in per_round])) for name, per_round in
            {"direct": [900, 900], "forwarder": [400, 500], "switchyard": [320, 450], "logs-on": [160, 450]}.items()}
    results = {"scenarios": {"c64": rows}, "meta": {"variants": ["logs-on"]}}
    block = ratios.per_round_ratios(results)["c64"]
    assert block["metric"] == ratios.THROUGHPUT
    assert block["ratios"]["switchyard / forwarder"]["median"] == pytest.approx(0.85)  # 0.8 and 0.9
    assert block["ratios"]["logs-on / switchyard"]["rounds"] == [0.5, 1.0]
    targets = {t["target"]: t for t in ratios.ratio_targets(ratios.per_round_ratios(results))}
    assert targets["throughput at c=64, switchyard / forwarder, median of per-round ratios"]["pass"] is True


def test_median() -> None:
    assert ratios.median([3.0, 1.0, 2.0]) == 2.0 and ratios.median([1.0, 4.0]) == 2.5 and ratios.median([]) is None


def test_variants_take_a_config_overlay_env_and_sidecars(tmp_path: Path) -> None:
    overlay = tmp_path / "logs_on.yaml"
    overlay.write_text("server: {log_level: info}\n")
    specs = specs_from_args(["direct", "forwarder", "switchyard"], [f"logs-on={overlay}", "pollers"],
                            ["logs-on:SWITCHYARD_X=1"], ["pollers:python -m poll --origin {origin}"],
                            ["other=other-proxy --port {port} --upstream {upstream}"])
    by_name = {s.name: s for s in specs}
    assert list(by_name) == ["direct", "forwarder", "switchyard", "logs-on", "pollers", "other"]
    assert by_name["logs-on"].kind == "switchyard" and by_name["logs-on"].env == {"SWITCHYARD_X": "1"}
    assert by_name["pollers"].sidecars == ["python -m poll --origin {origin}"] and by_name["pollers"].overlay is None
    assert by_name["other"].kind == "command"
    with pytest.raises(SystemExit, match="new name"):
        specs_from_args([], ["switchyard=x.yaml"], [], [], [])
    with pytest.raises(SystemExit, match="no such config file"):
        specs_from_args([], [f"v={tmp_path / 'missing.yaml'}"], [], [], [])
    with pytest.raises(SystemExit, match="no --variant named"):
        specs_from_args([], [], [], ["ghost:cmd"], [])
    with pytest.raises(SystemExit, match="must take"):
        specs_from_args([], [], [], [], ["other=other-proxy"])


def test_a_variant_can_run_switchyard_from_another_checkout(tmp_path: Path) -> None:
    (tmp_path / "proxy").mkdir()
    (tmp_path / "proxy" / "__main__.py").write_text("")
    (spec,) = specs_from_args([], ["before"], [], [], [], [f"before:{tmp_path}"])
    assert spec.kind == "switchyard" and spec.checkout == tmp_path.resolve()
    with pytest.raises(SystemExit, match="Switchyard checkout"):
        specs_from_args([], ["before"], [], [], [], [f"before:{tmp_path / 'nowhere'}"])


def test_an_overlay_is_merged_over_the_bench_config(tmp_path: Path) -> None:
    base = {"server": {"log_level": "warning", "shutdown_grace_s": 1}, "providers": {"m1": {"base_url": "http://x"}}}
    assert deep_merge(base, {"server": {"log_level": "info"}}) == {
        "server": {"log_level": "info", "shutdown_grace_s": 1}, "providers": {"m1": {"base_url": "http://x"}}}
    overlay = tmp_path / "o.yaml"
    overlay.write_text("request_log: {enabled: true}\n")
    written = write_switchyard_config(tmp_path / "c.yaml", base, overlay).read_text()
    assert "request_log" in written and "shutdown_grace_s: 1" in written


def test_lua_strings_cannot_be_closed_by_the_body() -> None:
    assert wrk_client.lua_string('{"a": "b"}') == '[[{"a": "b"}]]'
    assert wrk_client.lua_string("x]]y]=]") == "[==[x]]y]=]]==]"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(wrk_client.WRK is None, reason="wrk is not installed (.ci/run installs it)")
async def test_wrk_posts_the_body_with_the_key_and_reports_percentiles(tmp_path: Path) -> None:
    seen: list[tuple[str | None, Any]] = []

    async def echo(request: web.Request) -> web.Response:
        seen.append((request.headers.get("Authorization"), await request.json()))
        return web.json_response({"ok": True}, status=200 if len(seen) % 10 else 503)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    body = {"model": "m", "messages": [{"role": "user", "content": "a ]] b"}]}
    script = wrk_client.write_script(tmp_path / "post.lua", body, "sk-test")
    try:
        result = await asyncio.to_thread(wrk_client.run_wrk, f"http://127.0.0.1:{port}/v1/chat/completions", script, 1, 1, [])
    finally:
        await runner.cleanup()
    assert seen and seen[0] == ("Bearer sk-test", body)
    assert result["sent"] >= len(seen) - 1 and result["error_kinds"].get("wrk_status", 0) >= 1  # every 10th was a 503
    assert result["ok"] == result["sent"] - result["error_kinds"]["wrk_status"]
    assert 0 < result["p50"] <= result["p99"] <= result["p999"] and len(result["cdf_ms"]) == len(report.CDF_QUANTILES)


async def test_the_paced_mock_holds_a_whole_answer_until_its_last_chunk(aiohttp_client: Any) -> None:
    knobs = Knobs(ttft_ms=5.0, chunks=8, tokens_per_chunk=1, tokens_per_s=20.0)  # 50 ms a chunk
    app = create_openai_mock(knobs)
    app.middlewares.append(whole_answer_pacing)
    client: TestClient = await aiohttp_client(app)
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    started = time.perf_counter()
    resp = await client.post("/v1/chat/completions", data=json.dumps(body))
    assert resp.status == 200 and (await resp.json())["choices"][0]["message"]["content"]
    assert time.perf_counter() - started >= 0.405  # 5 ms + 8 x 50 ms, never sooner
    started = time.perf_counter()
    resp = await client.post("/v1/chat/completions", data=json.dumps(body | {"stream": True}))
    first = await resp.content.readline()
    assert first.startswith(b"data: ") and time.perf_counter() - started < 0.3  # a stream's first chunk is not held
    await resp.read()


def test_hop_spans_start_from_the_last_bytes_the_proxy_waited_for() -> None:
    us = 1000  # events are in ns
    stream = [(0, "in", False), (50 * us, "in", False), (80 * us, "up_out", False), (5000 * us, "up_in", False),
              (5010 * us, "out", False),  # headers and the role chunk, sent during the wait
              (10000 * us, "up_in", True), (10014 * us, "out", True), (12000 * us, "up_in", False), (12052 * us, "out", False)]
    json_answer = [(20000 * us, "in", False), (20160 * us, "up_out", False), (41000 * us, "up_in", True),
                   (41200 * us, "up_in", False), (41300 * us, "out", True)]
    requests = hop_report.split_requests(stream + json_answer)
    assert [len(r) for r in requests] == [9, 5]
    assert hop_report.spans(requests[0]) == {"request": 30.0, "first": 14.0, "last": 52.0}
    assert hop_report.spans(requests[1]) == {"request": 160.0, "first": 100.0, "last": 100.0}
    summary = hop_report.summarise_hops(stream + json_answer)
    assert summary["requests"] == 2 and summary["first_us"]["p50"] == 100.0


def test_ttft_spans_split_the_proxy_from_the_upstream() -> None:
    us = 1000  # events are in ns
    stream = [(0, "in", False), (50 * us, "in", False), (80 * us, "up_out", False), (5000 * us, "up_in", False),
              (5010 * us, "out", False), (10000 * us, "up_in", True), (10014 * us, "out", True),
              (12000 * us, "up_in", False), (12052 * us, "out", False)]
    # from the request's last bytes in to the first content out; the upstream's answer and its pace
    assert hop_report.ttft_spans(stream) == {"ttft": 9964.0, "upstream_answer": 4920.0, "upstream_content": 5000.0}
    never_answered = [(0, "in", False), (80 * us, "up_out", False)]
    assert hop_report.ttft_spans(never_answered) is None
    summary = hop_report.summarise_hops(stream)
    assert summary["ttft_us"]["p50"] == 9964.0 and summary["request_us"]["p50"] == 30.0
