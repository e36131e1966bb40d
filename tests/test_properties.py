"""Property tests: no input crashes the request parser, and the stream relay is indifferent to framing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.api.openai_chat import ChunkRenderer, error_body
from proxy.call import parse_chat_call
from proxy.catalog import Route
from proxy.config import ProviderConfig
from proxy.errors import GatewayError
from proxy.pipeline.accounting import StreamTally
from proxy.providers.base import UpstreamError
from proxy.providers.openai_compat import OpenAIAdapter
from proxy.schemas import ChatParams, ChatRequest, parse_json_body, quick_chat_params
from proxy.upstream.attempt import open_stream
from proxy.upstream.stream import pump
from proxy.upstream.timeouts import AttemptTimeouts
from tests.gateway_harness import GatewayHarness
from tests.sse_client import decode_events

# -- the request parser --------------------------------------------------------------------------

scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), st.text(max_size=20))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=20)
FIELDS = ["model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens", "n", "provider",
          "switchyard", "model_routing_config", "temperature", "tools"]
message = st.fixed_dictionaries({"role": st.sampled_from(["user", "system", "assistant", "robot", 3])},
                                optional={"content": json_values})
routing = st.fixed_dictionaries({}, optional={
    "type": st.sampled_from(["priority", "order", "x"]), "primary_factor": json_values, "providers": json_values})
timeouts = st.dictionaries(st.sampled_from(["connect_s", "first_token_s", "idle_s", "total_s", "x"]), json_values, max_size=3)
optional_fields: dict[str, Any] = {k: json_values for k in FIELDS[2:]}
optional_fields["provider"] = st.one_of(json_values, st.fixed_dictionaries({}, optional={"routing": st.one_of(routing, json_values)}))
optional_fields["switchyard"] = st.one_of(json_values, st.fixed_dictionaries({}, optional={"timeouts": st.one_of(timeouts, json_values)}))
near_valid = st.fixed_dictionaries(
    {"model": st.one_of(st.just("test/alpha"), json_values), "messages": st.one_of(st.lists(message, max_size=3), json_values)},
    optional=optional_fields,
)


# Valid bodies, then at most one spot spoiled, so both outcomes of the quick check occur often.
EDGES: list[Any] = [None, True, False, 0, 1, 2, -1, 2**63 - 1, 2**63, 2**64, 1.0, 0.5, "", "x", "1", [], {}, {1: "x"}, [{1: "x"}],
                    [{}], ["x"], [None], {"include_usage": None}, {"include_usage": 1}, {"include_usage": True}]
edges = st.sampled_from(EDGES)
odd = st.one_of(edges, edges, edges, json_values)  # mostly the values at the edges of what each field takes
good_part = st.dictionaries(st.text(max_size=6), json_values, max_size=3)
good_message = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "developer", "user", "assistant", "tool", "function"])},
    optional={"content": st.one_of(st.none(), st.text(max_size=8), st.lists(good_part, max_size=3)), "name": json_values},
)
good_body = st.fixed_dictionaries(
    {"model": st.text(min_size=1, max_size=8), "messages": st.lists(good_message, min_size=1, max_size=3)},
    optional={
        "stream": st.booleans(),
        "stream_options": st.fixed_dictionaries({}, optional={"include_usage": st.booleans(), "other": json_values}),
        "max_tokens": st.integers(1, 2**70),
        "max_completion_tokens": st.integers(1, 2**70),
        "n": st.just(1),
        "tools": st.lists(good_part, max_size=2),
        "model_routing_config": good_part,
        "provider": st.none(),
        "temperature": json_values,
        "switchyard": json_values,
    },
)


CHECKED_FIELDS = ["model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens", "n", "tools",
                  "model_routing_config", "provider"]


@st.composite
def spoiled_body(draw: st.DrawFn) -> dict[Any, Any]:
    body: dict[Any, Any] = draw(good_body)
    spot = draw(st.sampled_from(["none", "key", "message", "message-key", "role", "content", "part-key", "options",
                                 "options-key", "tools-key", *CHECKED_FIELDS]))
    bad = draw(odd)
    message = body["messages"][draw(st.integers(0, len(body["messages"]) - 1))]
    if spot in CHECKED_FIELDS:
        body[spot] = draw(edges)
    elif spot == "key":
        body[1] = bad
    elif spot == "message":
        body["messages"].append(bad)
    elif spot == "message-key":
        message[1] = bad
    elif spot == "role":
        message["role"] = bad
    elif spot == "content":
        message["content"] = bad
    elif spot == "part-key":
        message["content"] = [*(message.get("content") or []), {1: bad}] if isinstance(message.get("content"), list) else [{1: bad}]
    elif spot == "options":
        body["stream_options"] = {"include_usage": bad}
    elif spot == "options-key":
        body["stream_options"] = {1: bad}
    elif spot == "tools-key":
        body["tools"] = [{1: bad}]
    return body


def model_params(body: dict[str, Any]) -> ChatParams | None:
    try:
        req = ChatRequest.model_validate(body)
    except ValueError:
        return None
    return ChatParams(req.stream, bool(req.stream_options and req.stream_options.include_usage))


@settings(max_examples=600, deadline=None)
@given(st.one_of(spoiled_body(), near_valid))
def test_quick_check_accepts_only_what_the_model_accepts(body: dict[str, Any]) -> None:
    """validate_chat_request skips the pydantic model for bodies its quick check is sure of: whatever
    that check accepts, the model must accept too, with the same parameters."""
    quick = quick_chat_params(body)
    if quick is not None:
        assert model_params(body) == quick


def test_quick_check_at_the_edges() -> None:
    """Every checked field, and every spot inside a message, set to each value at the edge of what it takes."""
    base = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    bodies: list[dict[Any, Any]] = [{**base, field: value} for field in CHECKED_FIELDS for value in EDGES]
    for spot in ("role", "content", 1):
        bodies += [{**base, "messages": [{"role": "user", spot: value}]} for value in EDGES]
    bodies += [{**base, "messages": [{"role": "user", "content": [value]}]} for value in EDGES]
    bodies += [{**base, "tools": [value]} for value in EDGES]
    bodies += [{**base, 1: value} for value in EDGES]
    accepted = 0
    for body in bodies:
        quick = quick_chat_params(body)
        if quick is not None:
            accepted += 1
            assert model_params(body) == quick, body
    assert 0 < accepted < len(bodies)


def test_quick_check_takes_the_usual_requests() -> None:
    plain = {"model": "m", "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]}
    assert quick_chat_params(plain) == ChatParams(False, False)
    streamed = {**plain, "stream": True, "stream_options": {"include_usage": True}, "max_tokens": 64, "n": 1,
                "tools": [{"type": "function", "function": {"name": "f"}}], "temperature": 0.2,
                "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}, {"role": "assistant", "content": None}]}
    assert quick_chat_params(streamed) == ChatParams(True, True)


def parse_request(raw: bytes) -> None:
    """Everything the gateway does to a body before it picks candidates."""
    body = parse_json_body(raw)
    parse_chat_call(body, {}, request_id="test", default_factor="latency")


def only_client_errors(raw: bytes) -> None:
    try:
        parse_request(raw)
    except GatewayError as exc:
        assert 400 <= exc.status < 500
        assert set(error_body(exc)["error"]) == {"message", "type", "param", "code"} and exc.message


@settings(max_examples=400, deadline=None)
@given(st.one_of(json_values, near_valid))
def test_any_json_is_accepted_or_a_4xx(value: Any) -> None:
    only_client_errors(json.dumps(value).encode())


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_are_accepted_or_a_4xx(raw: bytes) -> None:
    only_client_errors(raw)


@pytest.fixture(scope="module")
def gateway() -> Any:
    from tests.conftest import FAST
    from tests.gateway_harness import simple_model

    h = GatewayHarness(providers={"p-one": {"knobs": FAST}}, models={"test/alpha": simple_model({"p-one": "alpha-one"})}).start()
    yield h
    h.stop()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(json_values, near_valid.map(lambda b: {k: v for k, v in b.items() if k != "tools"})))
def test_gateway_never_answers_5xx_to_bad_input(gateway: GatewayHarness, value: Any) -> None:
    status, _, payload = gateway.raw("POST", "/v1/chat/completions", json.dumps(value).encode())
    assert status < 500, payload
    if status >= 400:
        assert set(payload["error"]) == {"message", "type", "param", "code"}


# -- the stream relay -----------------------------------------------------------------------------

ROUTE = Route(model="test/alpha", provider="p-one", upstream_id="alpha-one", input_price=1.0, output_price=2.0,
              context_window=1000, max_output=100, wire="openai", base_url="http://upstream.invalid",
              adapter=OpenAIAdapter(), provider_config=ProviderConfig(base_url="http://upstream.invalid"), api_key="k")
TIMEOUTS = AttemptTimeouts(connect_s=5, first_token_s=5, idle_s=5, total_s=5)


class FakeContent:
    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    async def _iter(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece

    def iter_any(self) -> AsyncIterator[bytes]:
        return self._iter()


class FakeResponse:
    status = 200
    headers: dict[str, str] = {}

    def __init__(self, pieces: list[bytes]) -> None:
        self.content = FakeContent(pieces)

    def close(self) -> None:
        pass


class FakeSession:
    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    async def post(self, *args: Any, **kwargs: Any) -> FakeResponse:
        return FakeResponse(self.pieces)


class Sink:
    def __init__(self) -> None:
        self.data = b""

    async def write(self, data: bytes) -> None:
        self.data += data


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "alpha-one",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def render(events: list[dict[str, Any] | str], newline: str, comments: list[bool], multiline: list[bool]) -> bytes:
    """SSE framing as an upstream might choose it: any line ending, keep-alive comments, data split over lines."""
    out = []
    for i, event in enumerate(events):
        if comments[i % len(comments)]:
            out.append(": keep-alive" + newline)
        text = event if isinstance(event, str) else json.dumps(event, indent=1 if multiline[i % len(multiline)] else None)
        out.extend(f"data: {line}{newline}" for line in text.split("\n"))
        out.append(newline)
    return "".join(out).encode()


def cut(payload: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(payload) + 1) for c in cuts} | {0, len(payload)})
    return [payload[a:b] for a, b in zip(points, points[1:], strict=False) if b > a]


async def relay(pieces: list[bytes]) -> tuple[list[Any], str | None]:
    """open_stream + pump over a fake upstream; the client-visible events and any UpstreamError code."""
    sink = Sink()
    try:
        opened = await open_stream(FakeSession(pieces), ROUTE, {"messages": []}, TIMEOUTS)  # type: ignore[arg-type]
    except UpstreamError as exc:
        return [], exc.code or "error"
    tally, renderer = StreamTally(ROUTE, {"messages": []}), ChunkRenderer(include_usage=True)

    def emit(chunks: list[dict[str, Any]]) -> Awaitable[None]:
        return sink.write(renderer.encode(tally.feed(chunks)))

    await emit(opened.held)
    try:
        await pump(opened, emit)
    except UpstreamError as exc:
        return decode_events(sink.data), exc.code or "error"
    return decode_events(sink.data), None


text_piece = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)
framing = (st.sampled_from(["\n", "\r\n", "\r"]), st.lists(st.booleans(), min_size=1, max_size=5),
           st.lists(st.booleans(), min_size=1, max_size=5), st.lists(st.integers(0, 100_000), max_size=25))


@settings(max_examples=300, deadline=None)
@given(st.lists(text_piece, min_size=1, max_size=8), *framing)
def test_relay_output_is_independent_of_framing(words: list[str], newline: str, comments: list[bool],
                                                multiline: list[bool], cuts: list[int]) -> None:
    usage = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "alpha-one", "choices": [],
             "usage": {"prompt_tokens": 3, "completion_tokens": len(words), "total_tokens": 3 + len(words)}}
    events: list[dict[str, Any] | str] = [chunk({"role": "assistant", "content": ""}),
                                          *(chunk({"content": w}) for w in words), chunk({}, "stop"), usage, "[DONE]"]
    plain = asyncio.run(relay([render(events, "\n", [False], [False])]))
    framed = asyncio.run(relay(cut(render(events, newline, comments, multiline), cuts)))
    assert framed == plain
    out, error = framed
    assert error is None
    content = "".join(c["delta"].get("content") or "" for e in out for c in e["choices"])
    assert content == "".join(words)
    assert [e["model"] for e in out] == ["test/alpha"] * len(out)
    assert out[-1]["usage"]["cost_usd"] > 0


@settings(max_examples=200, deadline=None)
@given(st.lists(text_piece, min_size=1, max_size=6), st.integers(0, 7), st.booleans(), *framing)
def test_relay_cut_or_failing_stream_always_raises(words: list[str], fail_at: int, drop: bool, newline: str,
                                                   comments: list[bool], multiline: list[bool], cuts: list[int]) -> None:
    """An error event or a cut anywhere: never a silent end. Before content nothing is shown; after it, a prefix."""
    events: list[dict[str, Any] | str] = [chunk({"role": "assistant"}), *(chunk({"content": w}) for w in words)]
    fail_at = min(fail_at, len(events))
    events = events[:fail_at] if drop else [*events[:fail_at], {"error": {"message": "overloaded", "type": "server_error"}}]
    out, error = asyncio.run(relay(cut(render(events, newline, comments, multiline), cuts)))
    assert error is not None
    shown = "".join(c["delta"].get("content") or "" for e in out for c in e["choices"])
    assert "".join(words).startswith(shown)
    if not shown:
        assert out == []  # failed before content: the client saw nothing and the gateway may fall back
