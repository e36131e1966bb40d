"""The console's Keys page in a real browser (headless Debian chromium via selenium): an admin key issues a
virtual key (its secret shown once), sees it listed with its budget, and revokes it; other keys never see it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import css, no_script_ran, save_screenshot, wait_css, wait_until
from tests.console_gateway import XSS, console_gateway
from tests.gateway_harness import GatewayHarness, bearer

ADMIN_KEY = "gw-keys-admin-7d21c4"
KEY = "gw-keys-plain-19ab0e"


@pytest.fixture(scope="module")
def keyed() -> Iterator[GatewayHarness]:
    harness = console_gateway(extra_config={"server": {"api_keys": [KEY], "admin_keys": [{"name": "ops", "key": ADMIN_KEY}]}})
    yield harness
    harness.stop()


def sign_in(browser: Any, key: str) -> None:
    wait_css(browser, "#login-form")
    field = browser.find_element("id", "login-key")
    field.clear()
    field.send_keys(key + "\n")


def keys_link(browser: Any) -> Any:
    return browser.find_element("css selector", "#nav a[data-page='keys']")


def test_an_admin_issues_a_key_sees_its_secret_once_and_revokes_it(keyed: GatewayHarness, browser: Any) -> None:
    status, _, made = keyed.raw("POST", "/v1/keys", {"name": "nightly-batch", "budget_usd": 2, "budget_period": "day",
                                                     "tags": {"note": XSS}}, {"Authorization": f"Bearer {ADMIN_KEY}"})
    assert status == 201, made
    browser.delete_all_cookies()
    browser.get(keyed.base + "/console/models")
    sign_in(browser, ADMIN_KEY)
    wait_until(browser, lambda d: keys_link(d).is_displayed(), what="the Keys link for an admin")
    keys_link(browser).click()
    wait_css(browser, f"#keys-table tr[data-key='{made['id']}']", "$2.00 / day")

    browser.find_element("id", "key-name").send_keys("team-search")
    browser.find_element("id", "key-budget-usd").send_keys("25")
    browser.find_element("id", "key-rpm").send_keys("60")
    browser.find_element("id", "key-max-parallel").send_keys("4")
    browser.find_element("id", "key-models").send_keys("acme/*, sparrow")
    browser.find_element("id", "key-create").click()  # a POST with the session's CSRF header
    secret = wait_css(browser, "#key-secret code").text
    assert secret.startswith("sk-sy-") and "will not be shown again" in browser.find_element("id", "key-secret").text
    row = wait_css(browser, "#keys-table tbody tr", "team-search")
    assert "$0 of $25.00 / month" in row.text and "60 req/min" in row.text and "4 parallel" in row.text
    assert "acme/*, acme/sparrow" in row.text
    save_screenshot(browser, "keys")

    browser.refresh()  # the secret is gone for good: not in the page, not in any answer
    wait_css(browser, "#keys-table tbody tr", "team-search")
    assert not css(browser, "#key-secret") and secret not in browser.page_source
    status, _, listed = keyed.raw("GET", "/v1/keys", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert status == 200 and secret not in str(listed)
    new_id = next(k["id"] for k in listed["data"] if k["name"] == "team-search")

    browser.find_element("css selector", f"button[data-revoke='{new_id}']").click()
    wait_css(browser, f"button[data-confirm='{new_id}']").click()  # revoking asks first
    wait_css(browser, f"#keys-table tr[data-key='{new_id}']", "revoked")
    status, _, gone = keyed.raw("GET", "/models", headers={"Authorization": f"Bearer {secret}"})
    assert status == 401, gone
    no_script_ran(browser)


def test_a_key_that_is_not_admin_has_no_keys_page(keyed: GatewayHarness, browser: Any) -> None:
    browser.delete_all_cookies()
    browser.get(keyed.base + "/console/models")
    sign_in(browser, KEY)
    wait_css(browser, "#models-table tr[data-model='acme/sparrow']")
    assert not keys_link(browser).is_displayed()
    browser.get(keyed.base + "/console/keys")
    wait_css(browser, ".empty", "admin key")
    assert not css(browser, "#key-form") and not css(browser, "#keys-table")
    status, _, _ = keyed.raw("GET", "/v1/keys", headers={"Authorization": f"Bearer {KEY}"})
    assert status == 403


def test_an_admin_issues_a_key_with_the_answer_cache_on(keyed: GatewayHarness, browser: Any) -> None:
    from selenium.webdriver.support.ui import Select

    # a key left on the configuration's cache setting, for the table to show beside the new one (the
    # test must not lean on keys other tests happened to make first)
    keyed.issue_key(bearer(ADMIN_KEY), name="plain-batch")
    browser.delete_all_cookies()
    browser.get(keyed.base + "/console/keys")
    sign_in(browser, ADMIN_KEY)
    wait_css(browser, "#key-form")
    browser.find_element("id", "key-name").send_keys("cached-batch")
    Select(browser.find_element("id", "key-cache")).select_by_value("on")
    browser.find_element("id", "key-cache-ttl-s").send_keys("900")
    browser.find_element("id", "key-create").click()
    wait_css(browser, "#key-secret code")
    row = wait_css(browser, "#keys-table tbody tr", "cached-batch")
    assert row.find_element("css selector", ".key-cache").text == "on · 900 s"
    status, _, listed = keyed.raw("GET", "/v1/keys", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    made = next(k for k in listed["data"] if k["name"] == "cached-batch")
    assert made["cache"] == {"enabled": True, "ttl_s": 900.0}
    others = [r for r in css(browser, "#keys-table tbody tr") if "cached-batch" not in r.text]
    assert others and all(r.find_element("css selector", ".key-cache").text == "config" for r in others)
    no_script_ran(browser)
