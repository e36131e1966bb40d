"""Provider routing and fallback against live mock providers over real sockets."""

from __future__ import annotations

import asyncio
import collections

import openai
import pytest

from tests.gateway_harness import GatewayHarness

MESSAGES = [{"role": "user", "content": "ping"}]


def client(h: GatewayHarness) -> openai.OpenAI:
    return openai.OpenAI(base_url=h.url, api_key="k", max_retries=0, timeout=20)


def provider_of(h: GatewayHarness, **kwargs: object) -> str:
    raw = client(h).chat.completions.with_raw_response.create(messages=MESSAGES, **kwargs)  # type: ignore[arg-type]
    raw.parse()
    return raw.headers["x-switchyard-provider"]


def test_order_follows_live_latency_after_warmup(three_providers: GatewayHarness) -> None:
    h = three_providers
    h.set_knobs("p-one", ttft_ms=150.0)
    h.set_knobs("p-two", ttft_ms=5.0)
    h.set_knobs("p-three", ttft_ms=60.0)
    for provider in ("p-one", "p-two", "p-three"):  # warm-up: every provider measured once
        provider_of(h, model=f"test/alpha:{provider}")
    seen = collections.Counter(provider_of(h, model="test/alpha") for _ in range(10))
    assert seen.most_common(1)[0][0] == "p-two"
    # the fast one slows down; the order follows
    h.set_knobs("p-two", ttft_ms=300.0)
    for _ in range(6):
        provider_of(h, model="test/alpha:p-two")
    assert provider_of(h, model="test/alpha") == "p-three"


def test_pin_is_respected(three_providers: GatewayHarness) -> None:
    for provider in ("p-one", "p-two", "p-three"):
        assert provider_of(three_providers, model=f"test/alpha:{provider}") == provider


def test_pinned_provider_failure_is_not_hidden(three_providers: GatewayHarness) -> None:
    three_providers.set_knobs("p-one", status=503)
    with pytest.raises(openai.InternalServerError) as info:
        client(three_providers).chat.completions.create(model="test/alpha:p-one", messages=MESSAGES)
    assert info.value.response.headers["x-switchyard-provider"] == "p-one"


def test_priority_price(three_providers: GatewayHarness) -> None:
    body = {"provider": {"routing": {"type": "priority", "primary_factor": "price"}}}
    assert provider_of(three_providers, model="test/alpha", extra_body=body) == "p-two"
    three_providers.set_knobs("p-two", status=500)
    assert provider_of(three_providers, model="test/alpha", extra_body=body) == "p-three"


def test_priority_throughput(three_providers: GatewayHarness) -> None:
    h = three_providers
    h.set_knobs("p-one", tokens_per_s=100.0, chunks=10)
    h.set_knobs("p-two", tokens_per_s=300.0, chunks=10)
    h.set_knobs("p-three", tokens_per_s=3000.0, chunks=10)
    for provider in ("p-one", "p-two", "p-three"):
        list(client(h).chat.completions.create(model=f"test/alpha:{provider}", messages=MESSAGES, stream=True))
    body = {"provider": {"routing": {"type": "priority", "primary_factor": "throughput"}}}
    assert provider_of(h, model="test/alpha", extra_body=body) == "p-three"


def test_order_tries_exactly_those(three_providers: GatewayHarness) -> None:
    body = {"provider": {"routing": {"type": "order", "providers": ["p-three", "p-one"]}}}
    assert provider_of(three_providers, model="test/alpha", extra_body=body) == "p-three"
    three_providers.set_knobs("p-three", status=502)
    assert provider_of(three_providers, model="test/alpha", extra_body=body) == "p-one"
    three_providers.set_knobs("p-one", status=502)
    before = three_providers.counters("p-two").requests
    with pytest.raises(openai.APIStatusError):
        client(three_providers).chat.completions.create(model="test/alpha", messages=MESSAGES, extra_body=body)
    assert three_providers.counters("p-two").requests == before  # never tried: not in the list


def test_order_with_one_returns_its_error(three_providers: GatewayHarness) -> None:
    three_providers.set_knobs("p-two", status=429, retry_after_s=7)
    body = {"provider": {"routing": {"type": "order", "providers": ["p-two"]}}}
    with pytest.raises(openai.RateLimitError) as info:
        client(three_providers).chat.completions.create(model="test/alpha", messages=MESSAGES, extra_body=body)
    assert info.value.response.status_code == 429
    assert info.value.response.headers.get("retry-after") == "7"


def test_order_rejects_unknown_provider(three_providers: GatewayHarness) -> None:
    body = {"provider": {"routing": {"type": "order", "providers": ["p-two", "nope"]}}}
    with pytest.raises(openai.BadRequestError) as info:
        client(three_providers).chat.completions.create(model="test/alpha", messages=MESSAGES, extra_body=body)
    assert info.value.body["param"] == "provider.routing.providers[1]"


@pytest.mark.parametrize("status", [500, 502, 503, 429])
@pytest.mark.parametrize("stream", [False, True])
def test_fallback_on_retriable_status(three_providers: GatewayHarness, status: int, stream: bool) -> None:
    body = {"provider": {"routing": {"type": "order", "providers": ["p-one", "p-two"]}}}
    three_providers.set_knobs("p-one", status=status)
    raw = client(three_providers).chat.completions.with_raw_response.create(
        model="test/alpha", messages=MESSAGES, extra_body=body, stream=stream
    )
    parsed = raw.parse()
    if stream:
        text = "".join(c.choices[0].delta.content or "" for c in parsed if c.choices)
    else:
        text = parsed.choices[0].message.content
    assert text.startswith("[alpha-two]")
    assert raw.headers["x-switchyard-provider"] == "p-two" and raw.headers["x-switchyard-attempts"] == "2"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_non_retriable_fails_fast(three_providers: GatewayHarness, status: int) -> None:
    body = {"provider": {"routing": {"type": "order", "providers": ["p-one", "p-two"]}}}
    three_providers.set_knobs("p-one", status=status)
    before = three_providers.counters("p-two").requests
    with pytest.raises(openai.APIStatusError) as info:
        client(three_providers).chat.completions.create(model="test/alpha", messages=MESSAGES, extra_body=body)
    assert info.value.status_code == status
    assert set(info.value.body) >= {"message", "type", "param", "code"}
    assert three_providers.counters("p-two").requests == before
    assert "sk-test" not in info.value.body["message"]


def test_fallback_on_connection_refused_and_hang(three_providers: GatewayHarness) -> None:
    h = three_providers
    body = {"provider": {"routing": {"type": "order", "providers": ["p-one", "p-two", "p-three"]}},
            "switchyard": {"timeouts": {"first_token_s": 0.5}}}
    h.kill("p-one")
    h.set_knobs("p-two", hang=True)
    raw = client(h).chat.completions.with_raw_response.create(model="test/alpha", messages=MESSAGES, extra_body=body, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    assert text.startswith("[alpha-three]") and raw.headers["x-switchyard-attempts"] == "3"


FIRST_TOKEN_10S = {"switchyard": {"timeouts": {"first_token_s": 10}}}


def test_burst_survives_a_killed_provider(three_providers: GatewayHarness) -> None:
    """500 requests; one provider dies mid-burst; every request gets exactly one good answer."""
    h = three_providers
    for provider in ("p-one", "p-two", "p-three"):
        h.set_knobs(provider, ttft_ms=20.0, chunks=4)

    async def burst() -> list[str]:
        aclient = openai.AsyncOpenAI(base_url=h.url, api_key="k", max_retries=0, timeout=30)
        sem = asyncio.Semaphore(64)

        async def one(i: int) -> str:
            async with sem:
                # An attempt that the dying provider leaves silent falls back at the first-token
                # deadline. The default (30 s) equals the client's timeout, so the fallback would come
                # just as the client gives up (seen once in CI): the deadline is set well inside it. A
                # non-streaming attempt has no first-token deadline unless the request sets one (it
                # then bounds the wait for the response headers), so both kinds set it.
                if i % 2:
                    r = await aclient.chat.completions.create(model="test/alpha", messages=MESSAGES,
                                                              extra_body=FIRST_TOKEN_10S)
                    return r.choices[0].message.content or ""
                parts = []
                async for chunk in await aclient.chat.completions.create(model="test/alpha", messages=MESSAGES, stream=True,
                                                                         extra_body=FIRST_TOKEN_10S):
                    parts.extend(c.delta.content or "" for c in chunk.choices)
                return "".join(parts)

        async def killer() -> None:
            await asyncio.sleep(0.3)
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(h.mocks["p-two"].stop(), h.loop))

        results = await asyncio.gather(*(one(i) for i in range(500)), killer())
        await aclient.close()
        return results[:500]  # type: ignore[return-value]

    answers = asyncio.run(burst())
    assert len(answers) == 500
    assert all(a.startswith("[alpha-") and a.count("[alpha-") == 1 for a in answers)
    assert h.stats("test/alpha", "p-two")["failures"] >= 0
    assert sum(h.stats("test/alpha", p)["in_flight"] for p in ("p-one", "p-two", "p-three")) == 0
