"""The request log's HTTP API on a running gateway: receipts, lists, usage, feedback, /metrics, and who
may see what (open, per key, admin)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from proxy.auth import key_name
from proxy.observability import REQUEST_LOG
from proxy.store import AttemptRecord, RequestRecord, RouteReceipt, Usage
from tests.gateway_harness import GatewayHarness, bearer, simple_model
from tests.pg_cluster import free_port

TEAM_A, TEAM_B, BARE, ADMIN = "sk-team-a-0123456789", "sk-team-b-0123456789", "sk-bare-0123456789", "sk-admin-0123456789"
NOW_MS = int(time.time() * 1000)


def a_record(key: str | None, n: int = 0, **over: Any) -> RequestRecord:
    fields: dict[str, Any] = dict(
        id=str(uuid.uuid4()), ts_ms=NOW_MS - 1000 + n, api="chat.completions", model_requested="auto", status="ok",
        key=key, tags={"feature": "search"}, model="test/alpha", provider="p-one", stream=True, ttft_ms=12.0,
        duration_ms=40.0 + n, usage=Usage(prompt_tokens=100, completion_tokens=20, cost_usd=0.0005),
        attempts=[AttemptRecord("test/alpha", "p-two", "http_503", 503, "busy", 0.2, None, 3.0, 0.0),
                  AttemptRecord("test/alpha", "p-one", "ok", 200, None, 3.5, 12.0, 36.0, 0.0005)],
        route=RouteReceipt("balanced", 0.3, "cheapest good enough", [{"model": "test/alpha", "score": 0.8}], {"code": 0.0}),
    )
    fields.update(over)
    return RequestRecord(**fields)


def finish(h: GatewayHarness, *records: RequestRecord) -> None:
    async def go() -> None:
        for rec in records:
            h.app[REQUEST_LOG].record(rec)

    h.call(go())


def start(extra: dict[str, Any] | None = None) -> GatewayHarness:
    return GatewayHarness(
        providers={"p-one": {"knobs": {"ttft_ms": 1.0}}},
        models={"test/alpha": simple_model({"p-one": "alpha-one"})},
        extra_config=extra,
    ).start()


@pytest.fixture(scope="module")
def open_gateway() -> Iterator[GatewayHarness]:
    h = start()
    yield h
    h.stop()


@pytest.fixture(scope="module")
def keyed_gateway() -> Iterator[GatewayHarness]:
    h = start({"server": {"api_keys": [{"name": "team-a", "key": TEAM_A}, {"name": "team-b", "key": TEAM_B}, BARE],
                          "admin_keys": [{"name": "ops", "key": ADMIN}], "metrics_listen": f"127.0.0.1:{free_port()}"}})
    yield h
    h.stop()


def test_open_gateway_shows_everything(open_gateway: GatewayHarness) -> None:
    h = open_gateway
    rec = a_record(None)
    finish(h, rec)
    status, _, body = h.raw("GET", f"/v1/requests/{rec.id}")
    assert status == 200
    assert body == {**rec.to_json(), "feedback": []}
    assert body["route"]["candidates"] and body["attempts"][0]["outcome"] == "http_503"
    status, _, listing = h.raw("GET", "/v1/requests?limit=5")
    assert status == 200 and listing["data"][0]["id"] == rec.id
    assert "candidates" not in listing["data"][0]["route"]
    status, _, health = h.raw("GET", "/health")
    assert health["log"] == "ok"
    assert h.raw("GET", "/metrics")[0] == 200


def test_feedback_attaches_and_bad_values_are_named(open_gateway: GatewayHarness) -> None:
    h = open_gateway
    rec = a_record(None)
    finish(h, rec)
    status, _, body = h.raw("POST", "/v1/feedback", {"request_id": rec.id, "score": 0.9, "metric": "helpful", "comment": "ok"})
    assert status == 201 and body["score"] == 0.9
    assert h.raw("POST", "/v1/feedback", {"request_id": rec.id, "thumbs": "down"})[0] == 201
    fb = h.raw("GET", f"/v1/requests/{rec.id}")[2]["feedback"]
    assert [(f["metric"], f["score"], f["thumbs"]) for f in fb] == [("helpful", 0.9, None), ("helpful", None, "down")]
    for bad, param in [
        ({"request_id": rec.id, "score": 1.5}, "score"),
        ({"request_id": rec.id, "score": True}, "score"),
        ({"request_id": rec.id, "score": 0.5, "thumbs": "up"}, "score"),
        ({"request_id": rec.id}, "score"),
        ({"request_id": rec.id, "thumbs": "sideways"}, "thumbs"),
        ({"request_id": rec.id, "score": 0.5, "metric": "a b"}, "metric"),
        ({"request_id": rec.id, "score": 0.5, "comment": 7}, "comment"),
        ({"score": 0.5}, "request_id"),
    ]:
        status, _, err = h.raw("POST", "/v1/feedback", bad)
        assert status == 400 and err["error"]["param"] == param, (bad, err)
    status, _, err = h.raw("POST", "/v1/feedback", {"request_id": str(uuid.uuid4()), "score": 1.0})
    assert status == 404 and err["error"]["code"] == "request_not_found"
    assert h.raw("POST", "/v1/feedback", b"{not json")[0] == 400


@pytest.mark.parametrize(
    ("query", "param"),
    [("limit=500", "limit"), ("limit=0", "limit"), ("since=yesterday", "since"), ("until=2026-12-02T01:02:03", "until"),
     ("status=fine", "status"), ("api=chat", "api"), ("tag=nocolon", "tag"), ("cursor=zzz", "cursor")],
)
def test_bad_list_queries_are_400_naming_the_field(open_gateway: GatewayHarness, query: str, param: str) -> None:
    status, _, err = open_gateway.raw("GET", f"/v1/requests?{query}")
    assert status == 400 and err["error"]["param"] == param


def test_usage_sums_and_filters(open_gateway: GatewayHarness) -> None:
    h = open_gateway
    tag = uuid.uuid4().hex[:8]
    recs = [a_record(None, n, tags={"run": tag, "feature": ["a", "b"][n % 2]}, status=["ok", "error"][n % 2]) for n in range(6)]
    finish(h, *recs)
    since = (NOW_MS - 5000) / 1000
    status, _, body = h.raw("GET", f"/v1/usage?group_by=tag:feature&tag=run:{tag}&since={since}")
    assert status == 200
    rows = {r["group"]["tag:feature"]: r for r in body["data"]}
    assert rows["a"]["requests"] == 3 and rows["a"]["errors"] == 0 and rows["b"]["errors"] == 3
    assert rows["a"]["prompt_tokens"] == 300 and rows["a"]["cost_usd"] == pytest.approx(0.0015)
    assert rows["a"]["duration_ms_p50"] == pytest.approx(42.0)
    status, _, err = h.raw("GET", "/v1/usage?group_by=model,provider,key")
    assert status == 400 and err["error"]["param"] == "group_by"
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW_MS / 1000 - 5))
    status, _, body = h.raw("GET", f"/v1/usage?group_by=day&tag=run:{tag}&since={when}")
    assert status == 200 and sum(r["requests"] for r in body["data"]) == 6


def test_a_key_sees_only_its_own_records(keyed_gateway: GatewayHarness) -> None:
    h = keyed_gateway
    mine, theirs, bare = a_record("team-a"), a_record("team-b"), a_record(key_name(BARE))
    finish(h, mine, theirs, bare)
    assert h.raw("GET", f"/v1/requests/{mine.id}", headers=bearer(TEAM_A))[0] == 200
    assert h.raw("GET", f"/v1/requests/{theirs.id}", headers=bearer(TEAM_A))[0] == 404
    assert h.raw("GET", f"/v1/requests/{bare.id}", headers=bearer(BARE))[0] == 200
    assert h.raw("GET", f"/v1/requests/{mine.id}")[0] == 401
    listing = h.raw("GET", "/v1/requests?limit=200", headers=bearer(TEAM_A))[2]["data"]
    assert {r["key"] for r in listing} == {"team-a"}
    status, _, err = h.raw("GET", "/v1/requests?key=team-b", headers=bearer(TEAM_A))
    assert status == 403 and err["error"]["param"] == "key"
    usage = h.raw("GET", "/v1/usage?group_by=key", headers=bearer(TEAM_B))[2]["data"]
    assert [r["group"]["key"] for r in usage] == ["team-b"]
    # a key may rate only its own records; another key's answers as unknown
    assert h.raw("POST", "/v1/feedback", {"request_id": theirs.id, "score": 1}, headers=bearer(TEAM_A))[0] == 404
    assert h.raw("POST", "/v1/feedback", {"request_id": mine.id, "score": 1}, headers=bearer(TEAM_A))[0] == 201


def test_an_admin_key_sees_everything(keyed_gateway: GatewayHarness) -> None:
    h = keyed_gateway
    a, b = a_record("team-a"), a_record("team-b")
    finish(h, a, b)
    for rec in (a, b):
        assert h.raw("GET", f"/v1/requests/{rec.id}", headers=bearer(ADMIN))[0] == 200
    keys = {r["key"] for r in h.raw("GET", "/v1/requests?limit=200", headers=bearer(ADMIN))[2]["data"]}
    assert {"team-a", "team-b"} <= keys
    assert h.raw("GET", "/v1/requests?key=team-b", headers=bearer(ADMIN))[0] == 200
    assert h.raw("POST", "/v1/feedback", {"request_id": b.id, "thumbs": "up"}, headers=bearer(ADMIN))[0] == 201


def test_metrics_need_an_admin_key_or_the_metrics_port(keyed_gateway: GatewayHarness) -> None:
    h = keyed_gateway
    finish(h, a_record("team-a"))
    assert h.raw("GET", "/metrics")[0] == 401
    assert h.raw("GET", "/metrics", headers=bearer(TEAM_A))[0] == 403
    status, headers, text = h.raw("GET", "/metrics", headers=bearer(ADMIN))
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    attempts = {(s.labels["provider"], s.labels["outcome"]): s.value
                for s in families["switchyard_attempts"].samples if s.name == "switchyard_attempts_total"}
    assert attempts[("p-two", "http_503")] >= 1 and attempts[("p-one", "ok")] >= 1
    assert any(s.value >= 1 for s in families["switchyard_fallbacks"].samples)
    assert "gen_ai_server_request_duration_seconds" in families
    everything = " ".join(str(s.labels) for f in families.values() for s in f.samples)
    for secret in ("team-a", TEAM_A, ADMIN, "sk-"):
        assert secret not in everything  # no label carries a key or its name
    listen = h.gateway.settings.server.metrics_listen
    assert listen is not None

    async def scrape() -> tuple[int, str]:
        async with aiohttp.ClientSession() as s, s.get(f"http://{listen}/metrics") as r:
            return r.status, await r.text()

    status, text = h.call(scrape())
    assert status == 200 and "switchyard_attempts_total" in text


def test_two_gateways_share_one_postgres_log(postgres: Any) -> None:
    url = postgres.new_database()
    one, two = start({"store": {"url": url}}), start({"store": {"url": url}})
    try:
        rec_one, rec_two = a_record(None), a_record(None)
        finish(one, rec_one)
        finish(two, rec_two)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # each replica's writer flushes within its batch window
            ids = {r["id"] for r in two.raw("GET", "/v1/requests?limit=200")[2]["data"]}
            if {rec_one.id, rec_two.id} <= ids:
                break
            time.sleep(0.05)
        assert {rec_one.id, rec_two.id} <= ids
        assert one.raw("GET", f"/v1/requests/{rec_two.id}")[0] == 200
        # feedback is durable: written through one replica, read back at once through the other
        assert two.raw("POST", "/v1/feedback", {"request_id": rec_one.id, "score": 0.25})[0] == 201
        assert one.raw("GET", f"/v1/requests/{rec_one.id}")[2]["feedback"][0]["score"] == 0.25
        assert one.raw("GET", "/health")[2]["log"] == "ok"
    finally:
        one.stop()
        two.stop()


def test_access_log_off(caplog: pytest.LogCaptureFixture) -> None:
    h = start({"server": {"access_log": False}})
    try:
        with caplog.at_level(logging.INFO, logger="switchyard.access"):
            rec = a_record(None)
            finish(h, rec)
            assert h.raw("GET", f"/v1/requests/{rec.id}")[0] == 200  # logged, just not printed
        assert not [r for r in caplog.records if r.name == "switchyard.access"]
    finally:
        h.stop()
