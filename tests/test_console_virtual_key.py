"""Console sign-in with a virtual key (issued by POST /v1/keys): over HTTP and in a real browser.

The session stands for the key without holding it, sees only the key's own requests and usage (as the
API's key views do), and ends with the key: after a revocation the next call is a 401 and the console
shows its sign-in form again.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from proxy.console.session import COOKIE_NAME, CSRF_HEADER, ConsoleSessions
from tests.browser import css, script_errors, start_browser, wait_css, wait_until
from tests.console_gateway import MESSAGES, console_gateway, require_request_log
from tests.gateway_harness import GatewayHarness

ADMIN_KEY, STATIC_KEY = "gw-vk-admin-3c9e1a", "gw-vk-static-6b2f0d"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture(scope="module")
def keyed() -> Iterator[GatewayHarness]:
    harness = console_gateway(extra_config={"server": {"api_keys": [STATIC_KEY], "admin_keys": [ADMIN_KEY]}})
    require_request_log(harness, ADMIN)
    yield harness
    harness.stop()


def issue(h: GatewayHarness, name: str) -> tuple[str, str]:
    """A new virtual key: (id, secret)."""
    made = h.issue_key(ADMIN, name=name)
    return made["id"], made["key"]


def answered(h: GatewayHarness, secret: str) -> str:
    """One chat completion through the openai SDK with this key; its request id, once it is in the log."""
    client = openai.OpenAI(base_url=h.url, api_key=secret, max_retries=0, timeout=30)
    raw = client.chat.completions.with_raw_response.create(model="acme/sparrow:p-fast", messages=MESSAGES)
    request_id = raw.headers["x-request-id"]
    deadline = time.monotonic() + 10
    while h.raw("GET", f"/v1/requests/{request_id}", headers=ADMIN)[0] != 200:
        assert time.monotonic() < deadline, "the record never reached the log"
        time.sleep(0.05)
    return request_id


def sign_in(h: GatewayHarness, secret: str) -> tuple[dict[str, str], dict[str, Any], str]:
    """The Cookie header of a fresh session, the session's answer and the raw Set-Cookie."""
    status, headers, body = h.raw("POST", "/console/session", {"key": secret})
    assert status == 200, body
    token = re.match(rf"{COOKIE_NAME}=([^;]+)", headers["Set-Cookie"]).group(1)  # type: ignore[union-attr]
    return {"Cookie": f"{COOKIE_NAME}={token}"}, body, headers["Set-Cookie"]


def test_a_virtual_key_signs_in_sees_only_its_own_and_revocation_ends_the_session(keyed: GatewayHarness) -> None:
    key_id, secret = issue(keyed, "team-virtual")
    mine, other = answered(keyed, secret), answered(keyed, STATIC_KEY)
    cookie, state, set_cookie = sign_in(keyed, secret)
    assert state["signed_in"] is True and state["key"] == "team-virtual" and state["admin"] is False
    digest = hashlib.sha256(secret.encode()).hexdigest()
    for leaked in (secret, digest, digest[:16]):  # the cookie stands for the key without holding it
        assert leaked not in set_cookie and leaked not in str(state)
    assert keyed.raw("GET", "/console/session", headers=cookie)[2]["key"] == "team-virtual"

    status, _, listed = keyed.raw("GET", "/v1/requests?limit=50", headers=cookie)
    assert status == 200 and [r["id"] for r in listed["data"]] == [mine]  # its own, not the static key's
    assert keyed.raw("GET", f"/v1/requests/{other}", headers=cookie)[0] == 404
    assert keyed.raw("GET", "/v1/requests?key=gw-other", headers=cookie)[0] == 403
    status, _, usage = keyed.raw("GET", "/v1/usage?group_by=key", headers=cookie)
    assert status == 200 and [(r["group"]["key"], r["requests"]) for r in usage["data"]] == [("team-virtual", 1)]
    assert keyed.raw("GET", "/v1/key", headers=cookie)[2]["id"] == key_id  # the caller's own key
    assert keyed.raw("GET", "/v1/keys", headers=cookie)[0] == 403  # not an admin
    # a write with the cookie still needs the session's CSRF token
    route = {"model": "auto", "messages": MESSAGES}
    assert keyed.raw("POST", "/v1/route", route, headers=cookie)[0] == 403
    assert keyed.raw("POST", "/v1/route", route, headers={**cookie, CSRF_HEADER: state["csrf"]})[0] == 200

    assert keyed.raw("DELETE", f"/v1/keys/{key_id}", headers=ADMIN)[0] == 200
    status, _, body = keyed.raw("GET", "/v1/requests?limit=50", headers=cookie)
    assert status == 401 and body["error"]["code"] == "invalid_session"
    assert keyed.raw("GET", "/console/session", headers=cookie)[2]["signed_in"] is False
    status, headers, body = keyed.raw("POST", "/console/session", {"key": secret})
    assert status == 401 and body["error"]["param"] == "key" and "Set-Cookie" not in headers
    assert secret not in str(body)


def test_an_expired_virtual_key_cannot_sign_in_and_its_session_lapses(keyed: GatewayHarness) -> None:
    key_id, secret = issue(keyed, "short-lived")
    cookie, _, _ = sign_in(keyed, secret)
    assert keyed.raw("GET", "/v1/models", headers=cookie)[0] == 200
    past = "2020-01-01T00:00:00Z"
    assert keyed.raw("PATCH", f"/v1/keys/{key_id}", {"expires_at": past}, ADMIN)[0] == 200
    assert keyed.raw("GET", "/v1/models", headers=cookie)[0] == 401
    assert keyed.raw("POST", "/console/session", {"key": secret})[0] == 401


def test_virtual_sessions_are_bound_to_the_key_id_and_digest() -> None:
    digest, other = hashlib.sha256(b"sk-sy-one").digest(), hashlib.sha256(b"sk-sy-two").digest()
    known = {"key_aaaaaaaaaaaaaaaaaaaa": digest, "key_bbbbbbbbbbbbbbbbbbbb": other}
    env = {"SWITCHYARD_CONSOLE_SECRET": "shared"}
    sessions = ConsoleSessions([], env, known.get)
    token, session = sessions.issue(digest, now=1_000_000, key_id="key_aaaaaaaaaaaaaaaaaaaa")
    assert sessions.verify(token, now=1_000_001) == session and session.key_id == "key_aaaaaaaaaaaaaaaaaaaa"
    assert digest.hex()[:16] not in token
    # another worker with the same secret and registry accepts it; a key with another digest does not
    assert ConsoleSessions([], env, known.get).verify(token, now=1_000_001) == session
    assert ConsoleSessions([], env, {"key_aaaaaaaaaaaaaaaaaaaa": other}.get).verify(token, now=1_000_001) is None
    assert ConsoleSessions([], env, {}.get).verify(token, now=1_000_001) is None  # the key is unknown here
    assert ConsoleSessions([digest], env).verify(token, now=1_000_001) is None  # not a static key's session
    with pytest.raises(ValueError):
        sessions.issue(digest, key_id="k" * 41)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    driver = start_browser()
    yield driver
    driver.quit()


def row_ids(driver: Any) -> list[str]:
    return [r.get_attribute("data-id") for r in css(driver, "#requests-table tbody tr")]


def test_browser_signs_in_with_a_virtual_key_and_is_signed_out_by_its_revocation(keyed: GatewayHarness, browser: Any) -> None:
    key_id, secret = issue(keyed, "browser-team")
    mine, other = answered(keyed, secret), answered(keyed, STATIC_KEY)
    browser.delete_all_cookies()
    browser.get(keyed.base + "/console/requests")
    wait_css(browser, "#login-form")
    browser.find_element("id", "login-key").send_keys(secret + "\n")
    wait_until(browser, lambda d: mine in row_ids(d), what="the virtual key's own request after sign-in")
    assert other not in row_ids(browser)
    assert wait_css(browser, "#who").text == "browser-team"
    assert not browser.find_element("css selector", "#nav a[data-page='keys']").is_displayed()
    assert secret not in browser.page_source and browser.execute_script("return document.cookie") == ""

    assert keyed.raw("DELETE", f"/v1/keys/{key_id}", headers=ADMIN)[0] == 200
    # the Requests page polls every 2 s: its next poll is a 401 and the sign-in form takes over
    wait_css(browser, "#login-form", timeout=8)
    assert not css(browser, "#requests-table") and not browser.find_element("id", "who").is_displayed()
    # the refused poll is the only error the page logged (chromium reports every non-2xx fetch)
    assert all("401 (Unauthorized)" in e for e in script_errors(browser))


def test_a_gateway_with_only_virtual_keys_asks_the_console_to_sign_in(tmp_path: Any) -> None:
    """No key in the configuration, only virtual keys in the store (issued earlier, with an admin key since
    removed): the console must not call itself open, and a virtual key signs in."""
    store = {"store": {"data_dir": str(tmp_path)}}
    first = console_gateway(extra_config={"server": {"admin_keys": [ADMIN_KEY]}, **store})
    try:
        _, secret = issue(first, "only-virtual")
    finally:
        first.stop()
    only_virtual = console_gateway(extra_config=store)
    try:
        status, _, state = only_virtual.raw("GET", "/console/session")
        assert status == 200 and state["keys_required"] is True and state["signed_in"] is False
        assert only_virtual.raw("GET", "/v1/models")[0] == 401
        cookie, state, _ = sign_in(only_virtual, secret)
        assert state["key"] == "only-virtual" and state["admin"] is False
        assert only_virtual.raw("GET", "/v1/models", headers=cookie)[0] == 200
    finally:
        only_virtual.stop()
