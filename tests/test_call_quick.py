"""parse_chat_call's quick path for the common body: it accepts only what the full checks accept, with
the same ChatCall, and hands everything else to them (so every 400 stays theirs)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from proxy.call import QUICK_FIELDS, checked_chat_call, quick_chat_call
from proxy.errors import GatewayError

EDGES: list[Any] = [None, True, False, 0, 1, 2, 3, -1, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, -0.1, float("nan"), float("inf"),
                    2**63 - 1, 2**63, "", "x", "auto", [], {}, [{"role": "user", "content": "x"}], {1: "x"}]
edges = st.sampled_from(EDGES)


def mostly(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually a good value, now and then one at the edge of what the field takes."""
    return st.sampled_from(range(8)).flatmap(lambda i: edges if i == 7 else good)  # hypothesis favours the first


role = mostly(st.sampled_from(["user", "system", "assistant", "developer", "user", "tool", "function", "robot"]))
message = mostly(st.sampled_from(range(5)).flatmap(lambda i: st.fixed_dictionaries(
    {"role": role, "content": mostly(st.text(max_size=5))}) if i < 4 else st.fixed_dictionaries(
    {"role": role}, optional={"content": edges, "name": st.text(max_size=3), "tool_call_id": edges})))
HEADERS = st.dictionaries(st.sampled_from(["x-request-id", "X-Switchyard-Tags", "x-switchyard-hedge", "x-switchyard-cache",
                                           "x-switchyard-timeout-total", "x-switchyard-strategy", "accept"]),
                          st.sampled_from(["", "a=b", "off", "p95", "use", "skip", "2", "0", "x"]), max_size=2)
rare = st.one_of(edges, st.text(max_size=3))
common_body = st.fixed_dictionaries(
    {"model": mostly(st.just("test/alpha")), "messages": mostly(st.lists(message, min_size=1, max_size=4))},
    optional={
        "stream": mostly(st.booleans()),
        "stream_options": mostly(st.fixed_dictionaries({}, optional={"include_usage": mostly(st.booleans()), "other": edges})),
        "max_tokens": mostly(st.integers(-2, 2**64)),
        "max_completion_tokens": mostly(st.integers(0, 10)),
        "temperature": mostly(st.floats(-1, 3)),
        "top_p": mostly(st.floats(-1, 2)),
    },
)
# now and then one field the quick path leaves to the full checks, good or bad
other_field = st.sampled_from(range(5)).flatmap(lambda i: st.just({}) if i < 4 else st.dictionaries(
    st.sampled_from(["n", "tools", "metadata", "switchyard", "provider", "user", "stop", 1]), rare, max_size=1))

def full(body: dict[str, Any], headers: CIMultiDict[str]) -> Any:
    try:
        return checked_chat_call(body, headers, request_id="rid", default_factor="price", tenant="t")
    except GatewayError as exc:
        return exc


@settings(max_examples=1500, deadline=None)
@given(common_body, other_field, HEADERS)
def test_the_quick_path_gives_what_the_full_checks_give(body: dict[str, Any], other: dict[Any, Any],
                                                       headers: dict[str, str]) -> None:
    body = {**body, **other}
    sent = CIMultiDict(headers)
    try:
        quick = quick_chat_call(body, sent, "rid", "openai_chat", "price", "t")
    except GatewayError as exc:  # a header the quick path reads as the full path does: the same 400
        answer = full(body, sent)
        assert isinstance(answer, GatewayError) and (answer.param, answer.message) == (exc.param, exc.message)
        return
    if quick is not None:
        assert quick == full(body, sent)


def test_the_quick_path_takes_the_usual_requests_and_leaves_the_rest() -> None:
    chat = {"model": "m", "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"},
                                       {"role": "assistant", "content": "hello"}, {"role": "user", "content": "again"}]}
    usual = [chat, {**chat, "stream": True, "stream_options": {"include_usage": True}, "max_tokens": 64, "temperature": 0.2,
                    "top_p": 1}, {**chat, "max_completion_tokens": 16, "stream": False, "temperature": None}]
    headers: CIMultiDict[str] = CIMultiDict({"x-request-id": "abc", "x-switchyard-tags": "a=b"})
    for body in usual:
        quick = quick_chat_call(body, headers, "rid", "openai_chat", "latency", "")
        assert quick is not None and quick == checked_chat_call(body, headers, request_id="rid")
    rare = [{**chat, "model": "auto"}, {**chat, "n": 1}, {**chat, "tools": []}, {**chat, "metadata": {}},
            {**chat, "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]},
            {**chat, "messages": [{"role": "user", "content": "hi", "name": "ann"}]}, {**chat, "temperature": True}]
    assert all(quick_chat_call(body, headers, "rid", "openai_chat", "latency", "") is None for body in rare)
    assert set(chat) < QUICK_FIELDS
