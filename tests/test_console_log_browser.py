"""The console's log pages in a real browser: Requests (live), a receipt, Usage and the model charts.

Real calls through the openai SDK first (one falling back, one `auto`, one tagged with an XSS payload),
then each page must show them. Screenshots go to docs/console/.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from proxy.auth import key_name
from tests.browser import css, no_script_ran, save_screenshot, wait_css, wait_until
from tests.console_gateway import FALL_BACK, MESSAGES, XSS, console_gateway, require_request_log
from tests.gateway_harness import GatewayHarness

KEY, OTHER_KEY, ADMIN_KEY = "gw-log-key-8a1b2c", "gw-log-other-4d5e6f", "gw-log-admin-7a8b9c"
POOL = {"model_routing_config": {"available_models": ["acme/falcon", "acme/sparrow"], "preference": "balanced"}}


def newest_ids(h: GatewayHarness, headers: dict[str, str] | None) -> list[str]:
    status, _, body = h.raw("GET", "/v1/requests?limit=20", headers=headers)
    assert status == 200, body
    return [r["id"] for r in body["data"]]


def new_record(h: GatewayHarness, before: set[str], headers: dict[str, str] | None = None) -> str:
    """The one record not in `before`, once the batching writer has stored it."""
    deadline = time.monotonic() + 10
    while True:
        new = [i for i in newest_ids(h, headers) if i not in before]
        if new or time.monotonic() > deadline:
            assert len(new) == 1, new
            return new[0]
        time.sleep(0.05)


def call(h: GatewayHarness, client: openai.OpenAI, headers: dict[str, str] | None = None, **kwargs: Any) -> str:
    """One chat completion through the SDK; its id in the log (the tests call one at a time)."""
    before = set(newest_ids(h, headers))
    raw = client.chat.completions.with_raw_response.create(messages=MESSAGES, **kwargs)
    parsed = raw.parse()
    if kwargs.get("stream"):
        list(parsed)  # type: ignore[call-overload]
    request_id = new_record(h, before, headers)
    assert raw.headers.get("x-request-id") in (None, request_id)
    return request_id


def logged(h: GatewayHarness, request_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    status, _, body = h.raw("GET", f"/v1/requests/{request_id}", headers=headers)
    assert status == 200, body
    return body  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayHarness]:
    harness = console_gateway()
    yield harness
    harness.stop()


@pytest.fixture(scope="module")
def calls(gateway: GatewayHarness) -> dict[str, str]:
    """The requests the pages must show, by kind, once each is in the log."""
    require_request_log(gateway)
    client = openai.OpenAI(base_url=gateway.url, api_key="unused", max_retries=0, timeout=30)
    for n in range(6):  # some everyday traffic around them, so the pages look like a gateway at work
        call(gateway, client, model=f"acme/sparrow:{('p-fast', 'p-slow')[n % 2]}", stream=n % 3 == 0,
             metadata={"feature": ("chat", "search", "summarise")[n % 3]})
    before = set(newest_ids(gateway, None))
    with pytest.raises(openai.InternalServerError):  # one failure: p-down alone, no fallback
        client.chat.completions.create(model="acme/falcon:p-down", messages=MESSAGES)
    assert logged(gateway, new_record(gateway, before))["status"] == "error"
    return {
        "fallback": call(gateway, client, model="acme/falcon", extra_body=FALL_BACK, metadata={"feature": XSS}),
        "auto": call(gateway, client, model="auto", extra_body=POOL),
        "named": call(gateway, client, model="acme/sparrow:p-slow", stream=True, metadata={"feature": "search"}),
    }


def row_ids(driver: Any) -> list[str]:
    return [r.get_attribute("data-id") for r in css(driver, "#requests-table tbody tr")]


def test_requests_page_shows_the_calls_and_new_ones_without_a_reload(gateway: GatewayHarness, calls: dict[str, str], browser: Any) -> None:
    browser.get(gateway.base + "/console/requests")
    wait_until(browser, lambda d: set(calls.values()) <= set(row_ids(d)), what="the three calls on the Requests page")
    ids = row_ids(browser)
    assert ids.index(calls["named"]) < ids.index(calls["auto"]) < ids.index(calls["fallback"])  # newest first
    fallback = css(browser, f"#requests-table tr[data-id='{calls['fallback']}']")[0].text
    assert "acme/falcon" in fallback and "p-fast" in fallback and "2 (1 failed)" in fallback and "ok" in fallback
    assert f"feature={XSS}" in fallback  # the tag, as text
    auto = css(browser, f"#requests-table tr[data-id='{calls['auto']}']")[0].text
    assert "asked: auto" in auto
    save_screenshot(browser, "requests")

    browser.execute_script("window.__still_here = true")
    client = openai.OpenAI(base_url=gateway.url, api_key="unused", max_retries=0, timeout=30)
    fresh = call(gateway, client, model="acme/sparrow:p-fast")
    wait_until(browser, lambda d: fresh in row_ids(d), timeout=8, what="the new request to appear by itself")
    assert row_ids(browser)[0] == fresh and browser.execute_script("return window.__still_here === true")  # no reload

    field = browser.find_element("id", "filter-model")
    field.send_keys("acme/sparrow\n")
    browser.execute_script("document.getElementById('filter-model').dispatchEvent(new Event('change', {bubbles: true}))")
    wait_until(browser, lambda d: calls["fallback"] not in row_ids(d) and calls["named"] in row_ids(d), what="the model filter")
    assert "model=acme%2Fsparrow" in browser.current_url
    no_script_ran(browser)


def test_receipt_shows_both_attempts_and_takes_feedback(gateway: GatewayHarness, calls: dict[str, str], browser: Any) -> None:
    browser.get(gateway.base + "/console/requests")
    wait_css(browser, f"#requests-table tr[data-id='{calls['fallback']}'] a").click()
    wait_css(browser, "#attempts-table")
    assert browser.current_url.endswith(f"/console/requests/{calls['fallback']}")
    attempts = [(r.get_attribute("data-provider"), r.get_attribute("data-outcome")) for r in css(browser, "#attempts-table tbody tr")]
    assert attempts == [("p-down", "http_503"), ("p-fast", "ok")]
    bars = [b.get_attribute("data-outcome") for b in css(browser, "#attempt-timeline .attempt-bar")]
    assert bars == ["http_503", "ok"]
    page = browser.find_element("id", "main").text
    assert "acme/falcon via p-fast" in page and "The caller named acme/falcon" in page and f"feature={XSS}" in page
    browser.find_element("id", "thumbs-up").click()
    wait_css(browser, "#feedback-list", "helpful")
    assert logged(gateway, calls["fallback"])["feedback"][0]["thumbs"] == "up"
    save_screenshot(browser, "receipt")
    no_script_ran(browser)

    browser.get(gateway.base + f"/console/requests/{calls['auto']}")
    wait_css(browser, "#candidates-table tbody tr")
    record = logged(gateway, calls["auto"])
    shown = {(r.get_attribute("data-model"), r.get_attribute("data-provider")) for r in css(browser, "#candidates-table tbody tr")}
    assert shown == {(c["model"], c["provider"]) for c in record["route"]["candidates"]}
    why = browser.find_element("id", "why-chosen").text
    first = record["route"]["candidates"][0]
    assert f"{first['model']} via {first['provider']}" in why and "balanced" in why
    save_screenshot(browser, "receipt-auto")


def test_usage_page_totals_and_charts(gateway: GatewayHarness, calls: dict[str, str], browser: Any) -> None:
    status, _, usage = gateway.raw("GET", "/v1/usage?group_by=provider")
    total = sum(row["requests"] for row in usage["data"])
    browser.get(gateway.base + "/console/usage?by=provider")
    totals = wait_css(browser, "#usage-totals")
    wait_until(browser, lambda d: f"Requests\n{total}" in d.find_element("id", "usage-totals").text, what="request total")
    assert "$" in totals.text and "Error rate" in totals.text
    providers = {r.find_elements("tag name", "td")[0].text for r in css(browser, "#usage-table tbody tr")}
    assert {"p-fast", "p-slow"} <= providers
    assert len(css(browser, ".chart-grid svg.chart-svg")) == 4
    save_screenshot(browser, "usage")
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element("id", "usage-by")).select_by_value("tag")
    tag = browser.find_element("id", "usage-tag")
    tag.send_keys("feature\t")
    wait_until(browser, lambda d: any(XSS in r.text for r in css(d, "#usage-table tbody tr")), what="usage by tag")
    no_script_ran(browser)


def test_model_details_charts_come_from_the_log(gateway: GatewayHarness, calls: dict[str, str], browser: Any) -> None:
    browser.get(gateway.base + "/console/models/acme/falcon")
    charts = wait_css(browser, "#model-charts svg")
    assert charts
    text = browser.find_element("id", "model-charts").text
    assert "p-fast" in text and "Last hour" in text and "Last 24 hours" in text
    browser.execute_script("window.scrollTo(0, document.getElementById('model-charts').offsetTop - 120)")
    save_screenshot(browser, "model-charts", from_top=False)


def sign_in(browser: Any, key: str) -> None:
    wait_css(browser, "#login-form")
    field = browser.find_element("id", "login-key")
    field.clear()
    field.send_keys(key + "\n")


def test_with_keys_a_key_sees_its_own_requests_and_an_admin_sees_all(browser: Any) -> None:
    keyed = console_gateway(extra_config={"server": {"api_keys": [KEY, OTHER_KEY], "admin_keys": [ADMIN_KEY]}})
    try:
        mine_h, other_h = {"Authorization": f"Bearer {KEY}"}, {"Authorization": f"Bearer {OTHER_KEY}"}
        require_request_log(keyed, headers=mine_h)
        mine = call(keyed, openai.OpenAI(base_url=keyed.url, api_key=KEY, max_retries=0, timeout=30), mine_h, model="acme/sparrow:p-fast")
        other = call(keyed, openai.OpenAI(base_url=keyed.url, api_key=OTHER_KEY, max_retries=0, timeout=30), other_h,
                     model="acme/falcon", extra_body=FALL_BACK)
        browser.delete_all_cookies()
        browser.get(keyed.base + "/console/requests")
        wait_css(browser, "#login-form")
        assert not css(browser, "#requests-table")  # nothing without a key
        sign_in(browser, KEY)
        wait_until(browser, lambda d: mine in row_ids(d), what="the key's own request after sign-in")
        assert other not in row_ids(browser)
        assert wait_css(browser, "#who").text == key_name(KEY)
        assert browser.find_element("id", "filter-key").get_attribute("disabled") is not None
        assert KEY not in browser.page_source and browser.execute_script("return document.cookie") == ""
        browser.get(keyed.base + f"/console/requests/{other}")  # another key's receipt is not found
        wait_css(browser, ".empty", "No request with this id")

        browser.find_element("id", "sign-out").click()
        sign_in(browser, ADMIN_KEY)
        browser.get(keyed.base + "/console/requests")
        wait_until(browser, lambda d: {mine, other} <= set(row_ids(d)), what="every key's requests for the admin")
        assert wait_css(browser, "#who").text == f"{key_name(ADMIN_KEY)} · admin"
        no_script_ran(browser)
    finally:
        browser.delete_all_cookies()
        keyed.stop()
