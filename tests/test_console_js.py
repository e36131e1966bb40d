"""The console's pure JS modules, run in the real browser: the SSE reader over every chunk boundary,
number and time formatting, chart ticks, and the DOM builder's refusal to parse markup."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import start_browser, wait_css
from tests.console_gateway import XSS, console_gateway
from tests.gateway_harness import GatewayHarness

SSE = (
    'data: {"choices":[{"delta":{"content":"Hel"}}]}\r\n\r\n'
    ": keep-alive\n\n"
    'event: message\ndata: {"choices":[{"delta":{"content":"lo, \\u00e9t\\u00e9 \\ud83d\\ude80"}}]}\n\n'
    "data: line one\ndata: line two\n\n"
    'event: error\ndata: {"error":{"message":"boom"}}\n\n'
    "data: [DONE]\n\n"
)
EXPECTED = [
    ["message", '{"choices":[{"delta":{"content":"Hel"}}]}'],
    ["message", '{"choices":[{"delta":{"content":"lo, \\u00e9t\\u00e9 \\ud83d\\ude80"}}]}'],
    ["message", "line one\nline two"],
    ["error", '{"error":{"message":"boom"}}'],
    ["message", "[DONE]"],
]


@pytest.fixture(scope="module")
def page() -> Iterator[tuple[GatewayHarness, Any]]:
    harness = console_gateway()
    driver = start_browser()
    driver.get(harness.base + "/console/keys")  # a page that calls nothing: only the modules matter here
    wait_css(driver, "h1", "Keys")
    yield harness, driver
    driver.quit()
    harness.stop()


def run_module(driver: Any, body: str) -> Any:
    """Run `body` (async, may `return`) in the page with `m` bound to the module imports it names."""
    script = f"""
        const done = arguments[arguments.length - 1];
        (async () => {{ {body} }})().then((v) => done(JSON.stringify(v)), (e) => done(JSON.stringify({{error: String(e)}})));
    """
    out = json.loads(driver.execute_async_script(script))
    assert not (isinstance(out, dict) and "error" in out), out
    return out


def test_sse_reader_gives_the_same_events_whatever_the_chunk_boundaries(page: tuple[GatewayHarness, Any]) -> None:
    _, driver = page
    driver.set_script_timeout(60)
    results = run_module(driver, f"""
        const {{ readEvents }} = await import("/console/static/sse.js");
        const bytes = new TextEncoder().encode({json.dumps(SSE)});
        const read = async (cuts) => {{
          const stream = new ReadableStream({{ start(c) {{
            let last = 0;
            for (const cut of [...cuts, bytes.length]) {{ c.enqueue(bytes.slice(last, cut)); last = cut; }}
            c.close();
          }} }});
          const events = [];
          for await (const e of readEvents(new Response(stream))) events.push([e.event, e.data]);
          return events;
        }};
        const out = [await read([])];
        for (let i = 1; i < bytes.length; i++) out.push(await read([i]));      // every single split, mid-UTF-8 too
        for (let i = 1; i < bytes.length; i += 7) out.push(await read([...Array(bytes.length).keys()].filter((k) => k && k % i === 0)));
        return out;
    """)
    assert len(results) > len(SSE.encode())
    for events in results:
        assert events == EXPECTED


def test_formatting_gives_units(page: tuple[GatewayHarness, Any]) -> None:
    _, driver = page
    got = run_module(driver, """
        const f = await import("/console/static/format.js");
        const c = await import("/console/static/chart.js");
        return {
          usd: [f.usd(0.00424), f.usd(0.0005), f.usd(12.4), f.usd(0), f.usd(null), f.usd(0.000000123)],
          ms: [f.ms(412.3), f.ms(2310), f.ms(45000), f.ms(null)],
          compact: [f.compact(999), f.compact(1234), f.compact(128000), f.compact(1047576)],
          pct: f.pct(0.1234), price: f.pricePerM(2.5),
          date: [f.toDate("2026-12-02T01:02:03.456Z").getTime(), f.toDate(1796000000).getTime(), f.toDate("nope")],
          ticks: [c.niceTicks(7), c.niceTicks(0.0042), c.niceTicks(0)],
        };
    """)
    assert got["usd"] == ["$0.00424", "$0.0005", "$12.40", "$0", "–", "$0.00000012"]  # at most 8 decimals
    assert got["ms"] == ["412 ms", "2.31 s", "45 s", "–"]
    assert got["compact"] == ["999", "1.2k", "128k", "1M"]
    assert got["pct"] == "12.3%" and got["price"] == "$2.50 / 1M"
    assert got["date"] == [1796173323456, 1796000000000, None]
    assert got["ticks"][0] == [0, 2, 4, 6, 8] and got["ticks"][1][-1] >= 0.0042 and got["ticks"][2] == [0, 1]


def test_dom_builder_never_parses_markup(page: tuple[GatewayHarness, Any]) -> None:
    _, driver = page
    got = run_module(driver, f"""
        const {{ h, s }} = await import("/console/static/dom.js");
        const payload = {json.dumps(XSS)};
        const el = h("div", {{ title: payload, href: "javascript:alert(1)" }}, payload, h("span", null, payload), s("text", null, payload));
        document.body.append(el);
        return {{ text: el.textContent, children: el.children.length, title: el.getAttribute("title"),
                 href: el.getAttribute("href"), imgs: document.querySelectorAll("img[src='x']").length, xss: window.__xss ?? null }};
    """)
    assert got == {"text": XSS * 3, "children": 2, "title": XSS, "href": None, "imgs": 0, "xss": None}
