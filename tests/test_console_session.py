"""The console over plain HTTP: its files, CSP, and the key-for-cookie sign-in with CSRF protection."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath

import pytest

from proxy.api.console import PAGE_PATHS, STATIC_DIR
from proxy.auth import key_name
from proxy.console.session import COOKIE_NAME, CSRF_HEADER, SESSION_TTL_S, ConsoleSessions
from tests.conftest import FAST
from tests.gateway_harness import GatewayHarness, simple_model

KEY = "gw-console-key-5e8d1c"
ROOT = Path(__file__).resolve().parent.parent
ROUTE_BODY = {"messages": [{"role": "user", "content": "hi"}], "model_routing_config": {"available_models": ["test/alpha", "test/beta"]}}
PAGES = ["/console", "/console/models", "/console/models/test/alpha", "/console/requests", "/console/requests/0193abc",
         "/console/usage", "/console/playground", "/console/keys"]


@pytest.fixture(scope="module")
def keyed() -> Iterator[GatewayHarness]:
    harness = GatewayHarness(
        providers={"p-one": {"knobs": FAST}},
        models={"test/alpha": simple_model({"p-one": "alpha-one"}, quality=0.9), "test/beta": simple_model({"p-one": "beta-one"}, quality=0.3)},
        extra_config={"server": {"api_keys": [KEY]}},
    ).start()
    yield harness
    harness.stop()


@pytest.fixture(scope="module")
def open_gateway() -> Iterator[GatewayHarness]:
    harness = GatewayHarness(providers={"p-one": {"knobs": FAST}}, models={"test/alpha": simple_model({"p-one": "alpha-one"})}).start()
    yield harness
    harness.stop()


def sign_in(h: GatewayHarness) -> tuple[str, str, dict[str, str]]:
    """Cookie header, CSRF token and the Set-Cookie response headers of a fresh sign-in."""
    status, headers, body = h.raw("POST", "/console/session", {"key": KEY})
    assert status == 200, body
    cookie = headers["Set-Cookie"]
    token = re.match(rf"{COOKIE_NAME}=([^;]+)", cookie).group(1)  # type: ignore[union-attr]
    return f"{COOKIE_NAME}={token}", body["csrf"], headers


# -- files and headers ------------------------------------------------------------------------------
class ScriptAudit(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inline_scripts = 0
        self.handlers: list[str] = []
        self.sources: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        self.handlers += [n for n in names if n.startswith("on")]
        if tag == "script":
            self._in_script = "src" not in names
            self.sources += [names["src"] or ""] if "src" in names else []
        for attr in ("src", "href"):
            if tag in ("script", "link") and names.get(attr):
                self.sources.append(names[attr] or "")

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False


def test_every_page_url_serves_the_shell_with_a_strict_csp(open_gateway: GatewayHarness) -> None:
    assert len(PAGES) == len(PAGE_PATHS)
    for path in PAGES:
        status, headers, body = open_gateway.raw("GET", path)
        assert status == 200 and headers["Content-Type"].startswith("text/html"), path
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp and headers["X-Content-Type-Options"] == "nosniff"
        audit = ScriptAudit()
        audit.feed(body)
        assert audit.inline_scripts == 0 and audit.handlers == [], path


def test_static_files_are_local_modules_that_load_nothing_from_elsewhere(open_gateway: GatewayHarness) -> None:
    files = [p for p in STATIC_DIR.rglob("*") if p.is_file()]
    assert {"index.html", "app.js", "style.css", "chart.js"} <= {p.name for p in files}
    for path in files:
        rel = path.relative_to(STATIC_DIR).as_posix()
        status, headers, body = open_gateway.raw("GET", f"/console/static/{rel}")
        assert status == 200 and "Content-Security-Policy" in headers, rel
        if path.suffix in (".js", ".css", ".html"):
            assert headers["Content-Type"].startswith({".js": "text/javascript", ".css": "text/css", ".html": "text/html"}[path.suffix])
            assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", body), f"{rel} names an outside URL"
        if path.suffix == ".js":
            assert "innerHTML" not in body and "insertAdjacentHTML" not in body and "eval(" not in body, rel
            for imported in re.findall(r'from "(\.[^"]+)"', body):
                assert (path.parent / imported).resolve().is_file(), f"{rel} imports missing {imported}"
    etag = {k.lower(): v for k, v in open_gateway.raw("GET", "/console/static/app.js")[1].items()}["etag"]
    assert open_gateway.raw("GET", "/console/static/app.js", headers={"If-None-Match": etag})[0] == 304
    status, _, body = open_gateway.raw("GET", "/console/static/../app.py")
    assert status == 404
    assert open_gateway.raw("GET", "/console/static/nope.js")[0] == 404


def test_static_files_ship_in_the_wheel() -> None:
    """maturin packs only listed non-Python files: every console file must match an include pattern."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["maturin"]
    patterns = [entry["path"] for entry in config["include"] if "wheel" in entry.get("format", ["wheel"])]
    for path in STATIC_DIR.rglob("*"):
        if path.is_file():
            rel = path.relative_to(ROOT).as_posix()
            assert any(PurePosixPath(rel).match(p) for p in patterns), f"{rel} is not in [tool.maturin] include"


# -- sign-in ----------------------------------------------------------------------------------------
def test_open_gateway_needs_no_sign_in(open_gateway: GatewayHarness) -> None:
    status, _, state = open_gateway.raw("GET", "/console/session")
    assert status == 200 and state["keys_required"] is False
    assert open_gateway.raw("GET", "/v1/models")[0] == 200


def test_keys_on_the_console_shell_is_open_but_the_api_is_not(keyed: GatewayHarness) -> None:
    assert keyed.raw("GET", "/console/models")[0] == 200
    assert keyed.raw("GET", "/console/static/app.js")[0] == 200
    status, _, state = keyed.raw("GET", "/console/session")
    assert state == {"keys_required": True, "signed_in": False, "key": None, "admin": False, "csrf": None, "expires_at": None}
    assert keyed.raw("GET", "/v1/models")[0] == 401


def test_sign_in_sets_an_httponly_strict_cookie_that_carries_no_key(keyed: GatewayHarness) -> None:
    cookie, csrf, headers = sign_in(keyed)
    set_cookie = headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie and "Path=/" in set_cookie
    assert f"Max-Age={SESSION_TTL_S}" in set_cookie and headers["Cache-Control"] == "no-store"
    assert KEY not in set_cookie and KEY not in csrf
    status, _, models = keyed.raw("GET", "/v1/models", headers={"Cookie": cookie})
    assert status == 200 and models["data"][0]["id"] == "test/alpha"
    status, _, state = keyed.raw("GET", "/console/session", headers={"Cookie": cookie})
    assert state["signed_in"] is True and state["csrf"] == csrf and state["expires_at"].endswith("Z")
    assert state["key"] == key_name(KEY) and state["admin"] is False  # the key's name, never the key


def test_wrong_or_malformed_keys_are_refused_by_field(keyed: GatewayHarness) -> None:
    status, headers, body = keyed.raw("POST", "/console/session", {"key": KEY + "x"})
    assert status == 401 and body["error"]["param"] == "key" and "Set-Cookie" not in headers
    assert KEY not in str(body)
    for bad in ({}, {"key": ""}, {"key": 42}):
        status, _, body = keyed.raw("POST", "/console/session", bad)
        assert status == 400 and body["error"]["param"] == "key", bad
    status, _, body = keyed.raw("POST", "/console/session", f"key={KEY}", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 415


def test_writes_with_the_cookie_need_the_csrf_header(keyed: GatewayHarness) -> None:
    cookie, csrf, _ = sign_in(keyed)
    status, _, body = keyed.raw("POST", "/v1/route", ROUTE_BODY, headers={"Cookie": cookie})
    assert status == 403 and body["error"]["code"] == "csrf_token_missing"
    forged = csrf[:-1] + ("B" if csrf.endswith("A") else "A")  # one character off, whatever the last one was
    status, _, body = keyed.raw("POST", "/v1/route", ROUTE_BODY, headers={"Cookie": cookie, CSRF_HEADER: forged})
    assert status == 403
    status, _, body = keyed.raw("POST", "/v1/route", ROUTE_BODY, headers={"Cookie": cookie, CSRF_HEADER: csrf})
    assert status == 200 and body["chosen"] in ("test/alpha", "test/beta")
    other_cookie, other_csrf, _ = sign_in(keyed)
    assert other_csrf != csrf  # a token is bound to its own session
    assert keyed.raw("POST", "/v1/route", ROUTE_BODY, headers={"Cookie": cookie, CSRF_HEADER: other_csrf})[0] == 403


def test_tampered_cookies_and_sign_out(keyed: GatewayHarness) -> None:
    cookie, _, _ = sign_in(keyed)
    name, token = cookie.split("=", 1)
    flipped = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    for bad in (flipped, token[:-2], "x" * 40, "", "%%%"):
        status, _, body = keyed.raw("GET", "/v1/models", headers={"Cookie": f"{name}={bad}"})
        assert status == 401, bad
    status, headers, _ = keyed.raw("DELETE", "/console/session", headers={"Cookie": cookie})
    assert status == 200 and f"{COOKIE_NAME}=\"\"" in headers["Set-Cookie"] or "Max-Age=0" in headers["Set-Cookie"]


def test_sessions_expire_and_are_shared_by_processes_with_one_secret() -> None:
    digest = bytes(range(32))
    first = ConsoleSessions([digest], {"SWITCHYARD_CONSOLE_SECRET": "shared"})
    token, session = first.issue(digest, now=1_000_000)
    assert first.verify(token, now=1_000_000 + SESSION_TTL_S - 1) == session
    assert first.verify(token, now=1_000_000 + SESSION_TTL_S + 1) is None
    worker_two = ConsoleSessions([digest], {"SWITCHYARD_CONSOLE_SECRET": "shared"})
    assert worker_two.verify(token, now=1_000_001) == session
    assert ConsoleSessions([digest], {"SWITCHYARD_CONSOLE_SECRET": "other"}).verify(token, now=1_000_001) is None
    assert ConsoleSessions([bytes(32)], {"SWITCHYARD_CONSOLE_SECRET": "shared"}).verify(token, now=1_000_001) is None  # key removed
    assert digest.hex() not in token and digest.hex()[:16] not in token
