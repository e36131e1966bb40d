"""Learned corrections visible to an operator: GET /v1/routing/corrections (admin only) over HTTP, then the
console's model page and receipt in a real browser.

Key `a` rates `test/steady`'s maths answers down and `test/rival`'s up through POST /v1/feedback, after
`auto` requests made with the openai SDK; the corrections the learner holds must be listed with their
scope, model, Δb, evidence and last update, survive a rebuild from the log, and show in the console.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.browser import css, no_script_ran, save_screenshot, wait_css, wait_until
from tests.feedback_support import FAST, MATHS, MODELS, ask, rate
from tests.gateway_harness import GatewayHarness, bearer

KEY_A, ADMIN = "sk-corr-key-a-0123456789", "sk-corr-admin-0123456789"


def gateway(data_dir: Path) -> GatewayHarness:
    server = {"api_keys": [{"name": "a", "key": KEY_A}], "admin_keys": [{"name": "ops", "key": ADMIN}]}
    return GatewayHarness(providers={"host-a": {"knobs": FAST}, "host-b": {"knobs": FAST}}, models=MODELS,
                          extra_config={"server": server, "store": {"data_dir": str(data_dir)}}).start()






def corrections(gw: GatewayHarness, query: str = "", key: str = ADMIN) -> tuple[int, Any]:
    status, _, body = gw.raw("GET", f"/v1/routing/corrections{query}", headers=bearer(key))
    return status, body


@pytest.fixture(scope="module")
def learned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayHarness, Path, str, float]]:
    """A gateway where key a rated steady down three times and rival up twice; then one more auto request
    (its id), routed with those corrections; and when the ratings began."""
    data_dir = tmp_path_factory.mktemp("corrections")
    gw = gateway(data_dir)
    try:
        steady = [ask(gw, KEY_A, q, 1.0) for q in MATHS[:3]]
        rival = [ask(gw, KEY_A, q, 0.0) for q in MATHS[:2]]
        assert {m for _, m in steady} == {"test/steady"} and {m for _, m in rival} == {"test/rival"}
        began = time.time()
        for request_id, _ in steady:
            assert rate(gw, KEY_A, request_id, "down")[0] == 201
        for request_id, _ in rival:
            assert rate(gw, KEY_A, request_id, "up")[0] == 201
        after, _ = ask(gw, KEY_A, MATHS[3], 1.0)
        yield gw, data_dir, after, began
    finally:
        gw.stop()


def test_an_admin_lists_the_learned_corrections_with_their_evidence(learned: tuple[GatewayHarness, Path, str, float]) -> None:
    gw, _, _, began = learned
    status, body = corrections(gw)
    assert status == 200 and body["learning"] is True and body["half_life_s"] == 604800
    rows = {(r["scope"], r["model"]): r for r in body["data"]}
    assert set(rows) == {("key:a", "test/steady"), ("key:a", "test/rival")}
    steady, rival = rows["key:a", "test/steady"], rows["key:a", "test/rival"]
    assert steady["delta_b"] < 0 < rival["delta_b"] and steady["delta_a_norm"] > 0
    assert (steady["evidence"], rival["evidence"]) == (3, 2)
    for row in (steady, rival):
        updated = datetime.fromisoformat(row["updated_at"].replace("Z", "+00:00"))
        assert began - 1 <= updated.timestamp() <= time.time() and updated.tzinfo == UTC

    assert [r["model"] for r in corrections(gw, "?model=steady")[1]["data"]] == ["test/steady"]  # a short name resolves
    assert len(corrections(gw, "?scope=key:a")[1]["data"]) == 2
    assert corrections(gw, "?scope=key:b")[1]["data"] == [] and corrections(gw, "?scope=deployment")[1]["data"] == []


def test_bad_filters_and_non_admins_get_openai_errors(learned: tuple[GatewayHarness, Path, str, float]) -> None:
    gw = learned[0]
    status, body = corrections(gw, "?scope=team-a")
    assert status == 400 and body["error"]["param"] == "scope" and "key:<key name>" in body["error"]["message"]
    status, body = corrections(gw, "?model=test/nope")
    assert status == 404 and body["error"]["param"] == "model"
    status, body = corrections(gw, key=KEY_A)
    assert status == 403 and body["error"]["code"] == "admin_key_required" and set(body) == {"error"}
    assert {"message", "type", "param", "code"} <= set(body["error"])
    assert corrections(gw, key="sk-not-a-key")[0] == 401


def test_a_deployment_rating_lists_first_and_a_rebuild_from_the_log_keeps_every_row(
        learned: tuple[GatewayHarness, Path, str, float]) -> None:
    gw, data_dir, after, _ = learned
    assert rate(gw, ADMIN, after, "up", scope="deployment")[0] == 201
    rows = corrections(gw)[1]["data"]
    assert rows[0]["scope"] == "deployment" and rows[0]["evidence"] == 1
    # a second gateway on the same log rebuilds every correction from it, last updates included
    again = gateway(data_dir)
    try:
        rebuilt = corrections(again)[1]["data"]
    finally:
        again.stop()
    assert [(r["scope"], r["model"], r["evidence"], r["updated_at"]) for r in rebuilt] == [
        (r["scope"], r["model"], r["evidence"], r["updated_at"]) for r in rows]
    assert all(abs(a["delta_b"] - b["delta_b"]) < 1e-3 for a, b in zip(rebuilt, rows, strict=True))




def test_console_shows_a_models_corrections_and_a_candidates_learned_adjustment(
        learned: tuple[GatewayHarness, Path, str, float], browser: Any) -> None:
    gw, _, after, _ = learned
    browser.delete_all_cookies()
    browser.get(gw.base + "/console/models/test/steady")
    wait_css(browser, "#login-form")
    browser.find_element("id", "login-key").send_keys(ADMIN + "\n")
    row = wait_css(browser, "#corrections-table tr[data-scope='key:a']")
    expected = next(r for r in corrections(gw, "?model=test/steady")[1]["data"] if r["scope"] == "key:a")
    assert f"{expected['delta_b']:.3f}" in row.text and "3 obs." in row.text and "key a" in row.text
    browser.execute_script("window.scrollTo(0, document.getElementById('model-corrections').offsetTop - 200)")
    save_screenshot(browser, "model-corrections", from_top=False)

    status, _, record = gw.raw("GET", f"/v1/requests/{after}", headers=bearer(ADMIN))
    assert status == 200, record
    adjustments = {c["model"]: c["learned_adjustment"] for c in record["route"]["candidates"]}
    assert adjustments["test/steady"]["evidence"] == 3 and adjustments["test/steady"]["delta"] < 0
    browser.get(gw.base + f"/console/requests/{after}")
    wait_until(browser, lambda d: any(th.text.lower() == "learned" for th in css(d, "#candidates-table th")),
               what="the Learned column on the receipt")
    wait_until(browser, lambda d: any("obs." in c.text for c in css(d, "#candidates-table tr[data-model='test/steady'] .learned")),
               what="steady's learned adjustment on the receipt")
    cell = css(browser, "#candidates-table tr[data-model='test/steady'] .learned")[0].text
    assert cell == f"{adjustments['test/steady']['delta']:.3f} (3 obs.)"
    no_script_ran(browser)

    # a key that is not an admin sees no corrections on the model page (the API would refuse it)
    browser.find_element("id", "sign-out").click()
    wait_css(browser, "#login-form")
    browser.find_element("id", "login-key").send_keys(KEY_A + "\n")
    wait_until(browser, lambda d: d.find_element("id", "who").text == "a", what="signed in as key a")
    browser.get(gw.base + "/console/models/test/steady")
    wait_css(browser, "#providers-table")
    assert not css(browser, "#model-corrections") and not css(browser, "#corrections-table")
