"""The console in a real browser (headless Debian chromium via selenium) against a live gateway.

Each test drives pages as a user would and saves a screenshot of each page to docs/console/.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.browser import (
    css,
    no_script_ran,
    save_screenshot,
    script_errors,
    wait_css,
    wait_until,
)
from tests.console_gateway import FALL_BACK, MESSAGES, XSS, console_gateway
from tests.gateway_harness import GatewayHarness

KEY = "gw-browser-key-3c9e1f"
XSS_NAME = XSS


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayHarness]:
    harness = console_gateway()
    client = openai.OpenAI(base_url=harness.url, api_key="unused", max_retries=0, timeout=30)
    for _ in range(3):  # live speed figures for both of sparrow's providers
        for provider in ("p-fast", "p-slow"):
            list(client.chat.completions.create(model=f"acme/sparrow:{provider}", messages=MESSAGES, stream=True))
    for _ in range(3):  # falcon falls back from p-down to p-fast until p-down's circuit opens
        client.chat.completions.create(model="acme/falcon", messages=MESSAGES, extra_body=FALL_BACK)
    yield harness
    harness.stop()


def test_models_page_lists_prices_providers_and_live_health(gateway: GatewayHarness, browser: Any) -> None:
    browser.get(gateway.base + "/console")
    wait_css(browser, "#models-table tr[data-model='acme/falcon']", "1/2 up")
    rows = {r.get_attribute("data-model"): r.text for r in css(browser, "#models-table tbody tr")}
    assert set(rows) == {"acme/falcon", "acme/sparrow", "acme/xss"}
    assert "Falcon" in rows["acme/falcon"] and "$0.50" in rows["acme/falcon"] and "$1.50" in rows["acme/falcon"]
    assert "128k" in rows["acme/sparrow"] and "2/2 up" in rows["acme/sparrow"]
    ttft, tokens_per_s = css(browser, "#models-table tr[data-model='acme/sparrow'] td")[-2:]
    assert ttft.text.endswith(" ms") and tokens_per_s.text.replace(",", "").isdigit()  # live figures
    assert XSS_NAME in rows["acme/xss"] and "text only" in rows["acme/xss"]
    assert not browser.find_element("id", "mode-badge").is_displayed()  # real (mock) upstreams, not simulated mode
    save_screenshot(browser, "models")

    search = browser.find_element("id", "model-search")
    search.send_keys("sparr")
    wait_until(browser, lambda d: [r.get_attribute("data-model") for r in css(d, "#models-table tbody tr")] == ["acme/sparrow"], what="filtered rows")
    assert "q=sparr" in browser.current_url  # the filter is part of the bookmarkable URL
    search.clear()
    search.send_keys(" ")
    wait_until(browser, lambda d: len(css(d, "#models-table tbody tr")) == 3, what="all rows back")
    header = next(th for th in css(browser, "#models-table th") if th.text.startswith("INPUT"))
    header.find_element("tag name", "button").click()  # numeric columns sort high to low first
    wait_until(browser, lambda d: [r.get_attribute("data-model") for r in css(d, "#models-table tbody tr")][-1] == "acme/sparrow", what="sorted by input price")
    no_script_ran(browser)


def test_model_details_compare_providers(gateway: GatewayHarness, browser: Any) -> None:
    browser.get(gateway.base + "/console/models/acme/falcon")
    down = wait_css(browser, "#providers-table tr[data-provider='p-down']")
    fast = wait_css(browser, "#providers-table tr[data-provider='p-fast']")
    assert down.find_element("css selector", "[data-circuit] .chip").text in ("down", "probing")  # its circuit opened
    assert fast.find_element("css selector", "[data-circuit] .chip").text == "up"
    assert "$0.50" in down.text and "$0.80" in fast.text and "$2.40" in fast.text
    assert "OpenAI, Anthropic" in fast.text and "upstream OpenAI" in fast.text
    assert "32k" in fast.text and " ms" in fast.text  # the answering provider has a live TTFT
    heads = [th.text.upper() for th in css(browser, "#providers-table th")]
    for column in ("PROVIDER", "CONTEXT", "FEATURES", "API COMPAT", "TTFT", "THROUGHPUT", "AVAILABILITY", "INPUT", "OUTPUT"):
        assert any(h.startswith(column) for h in heads), column
    wait_until(browser, lambda d: "Loading charts" not in d.find_element("id", "model-charts").text, what="charts section")
    save_screenshot(browser, "model")
    browser.find_element("link text", "Models").click()  # in-app navigation, no reload
    wait_css(browser, "#models-table")
    assert browser.current_url.endswith("/console/models")
    browser.get(gateway.base + "/console/models/acme/xss")
    wait_css(browser, "h1", XSS_NAME)
    no_script_ran(browser)


def test_playground_ranks_a_pool_and_streams_the_answer(gateway: GatewayHarness, browser: Any) -> None:
    from selenium.webdriver.support.ui import Select

    browser.get(gateway.base + "/console/playground")
    prompt = wait_css(browser, "#prompt")
    browser.find_element("id", "rank").click()
    wait_css(browser, "#playground-error", "Type a prompt first")
    prompt.send_keys("Write a haiku about switchyards. " + XSS_NAME)
    pool = Select(browser.find_element("id", "pool"))
    pool.select_by_value("acme/falcon")
    pool.select_by_value("acme/sparrow")
    Select(browser.find_element("id", "preference")).select_by_value("price")
    browser.find_element("id", "rank").click()
    wait_css(browser, "#ranking-table tbody tr")
    ranked = {(r.get_attribute("data-model"), r.get_attribute("data-provider")) for r in css(browser, "#ranking-table tbody tr")}
    assert {m for m, _ in ranked} == {"acme/falcon", "acme/sparrow"}
    chosen = browser.find_element("id", "route-chosen").text
    assert chosen in ("acme/falcon", "acme/sparrow")
    assert "price" in browser.find_element("css selector", ".why").text
    browser.find_element("id", "send").click()
    meta = wait_css(browser, "#answer-meta", "via p-")
    assert wait_until(browser, lambda d: d.find_element("id", "answer").text.strip(), what="streamed answer")
    assert "first token" in meta.text and "$" in meta.text
    save_screenshot(browser, "playground")
    no_script_ran(browser)


def test_keys_on_the_console_asks_once_and_keeps_the_key_out_of_reach(browser: Any) -> None:
    keyed = console_gateway(extra_config={"server": {"api_keys": [KEY]}})
    try:
        browser.delete_all_cookies()
        browser.get(keyed.base + "/console/models")
        wait_css(browser, "#login-form")
        assert not css(browser, "#models-table")
        save_screenshot(browser, "login")
        browser.find_element("id", "login-key").send_keys("not-the-key")
        browser.find_element("id", "login-submit").click()
        wait_css(browser, "#login-error", "not valid")
        field = browser.find_element("id", "login-key")
        field.clear()
        field.send_keys(KEY)
        browser.find_element("id", "login-submit").click()
        wait_css(browser, "#models-table tr[data-model='acme/sparrow']")
        assert KEY not in browser.current_url and not css(browser, "#login-key")
        assert browser.execute_script("return document.cookie") == ""  # HttpOnly: scripts cannot read it
        assert browser.execute_script("return localStorage.length + sessionStorage.length") == 0
        assert KEY not in browser.page_source
        cookie = browser.get_cookie("switchyard_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and KEY not in cookie["value"]
        browser.refresh()  # the session outlives a reload without asking again
        wait_css(browser, "#models-table tr[data-model='acme/sparrow']")
        browser.get(keyed.base + "/console/playground")
        wait_css(browser, "#prompt").send_keys("Hello")
        browser.find_element("id", "rank").click()  # a POST: the page sends its CSRF header
        wait_css(browser, "#ranking-table tbody tr")
        browser.find_element("id", "sign-out").click()
        wait_css(browser, "#login-form")
        assert browser.get_cookie("switchyard_session") is None
        assert script_errors(browser) == [] or all("401" in m for m in script_errors(browser))
    finally:
        browser.delete_all_cookies()
        keyed.stop()
