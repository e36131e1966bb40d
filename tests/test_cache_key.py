"""The cache key and the stored answer's two forms: pure parts, checked over open-ended input."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.cache.answer import CachedAnswer, chunks_from_completion, completion_from_chunks
from proxy.cache.key import cache_key
from proxy.cache.memory import MemoryStore
from proxy.call import ChatCall, parse_chat_call

BASE: dict[str, Any] = {"model": "test/alpha", "messages": [{"role": "user", "content": "hi"}]}


def call(body: dict[str, Any], headers: dict[str, str] | None = None) -> ChatCall:
    return parse_chat_call(body, headers or {}, request_id="r")


def key(body: dict[str, Any], namespace: str = "tenant:a", headers: dict[str, str] | None = None) -> str:
    return cache_key(call(body, headers), namespace)


@pytest.mark.parametrize("extra", [
    {"stream": True}, {"stream": True, "stream_options": {"include_usage": True}}, {"user": "u-1"},
    {"metadata": {"team": "search"}}, {"switchyard": {"hedge": False, "cache": {"ttl_s": 5}}},
])
def test_delivery_and_labels_do_not_change_the_key(extra: dict[str, Any]) -> None:
    assert key({**BASE, **extra}) == key(BASE)


@pytest.mark.parametrize("extra", [
    {"temperature": 0.5}, {"top_p": 0.9}, {"seed": 1}, {"frequency_penalty": 0.1}, {"presence_penalty": 0.1},
    {"n": 1}, {"max_tokens": 10}, {"max_completion_tokens": 10}, {"stop": ["x"]}, {"reasoning_effort": "high"},
    {"response_format": {"type": "json_object"}}, {"model": "test/beta"},
    {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}], "tool_choice": "auto"},
    {"provider": {"routing": {"type": "order", "providers": ["p-one"]}}},
    {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]},
])
def test_what_determines_the_answer_changes_the_key(extra: dict[str, Any]) -> None:
    assert key({**BASE, **extra}) != key(BASE)


def test_key_is_scoped_and_auto_includes_its_strategy() -> None:
    assert key(BASE, "tenant:a") != key(BASE, "tenant:b") != key(BASE, "shared:team")
    auto = {**BASE, "model": "auto"}
    assert key(auto, headers={"x-switchyard-strategy": "price"}) != key(auto, headers={"x-switchyard-strategy": "quality"})
    assert key({**auto, "model_routing_config": {"preference": "cost"}}) == key(auto, headers={"x-switchyard-strategy": "price"})


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=8), st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8),
    max_size=4))
def test_key_ignores_field_order(extra: dict[str, Any]) -> None:
    extra = {k: v for k, v in extra.items() if k not in BASE and k not in ("stream", "stream_options", "provider",
                                                                          "model_routing_config", "switchyard",
                                                                          "metadata")}
    forward = {**BASE, **extra}
    backward = dict(reversed(list(forward.items())))
    try:
        a = key(forward)
    except Exception:  # the request schema refused it: nothing to key
        return
    assert a == key(backward)


texts = st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=6)


@given(texts, st.lists(st.text(min_size=1, max_size=8), max_size=3))
def test_a_stream_and_its_completion_carry_the_same_answer(pieces: list[str], reasoning: list[str]) -> None:
    head = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 7, "model": "m"}
    batches = [[{**head, "choices": [{"index": 0, "delta": {"reasoning_content": r}, "finish_reason": None}]}] for r in reasoning]
    batches += [[{**head, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}] for p in pieces]
    batches.append([{**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}])
    usage = {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7, "cost_usd": 0.01}
    whole = completion_from_chunks([c for b in batches for c in b], usage)
    message = whole["choices"][0]["message"]
    assert message["content"] == "".join(pieces) and message.get("reasoning_content", "") == "".join(reasoning)
    assert whole["usage"] == usage and whole["id"] == "chatcmpl-1" and whole["choices"][0]["finish_reason"] == "stop"
    again = completion_from_chunks([c for b in chunks_from_completion(whole) for c in b], usage)
    assert again == whole
    stored = CachedAnswer("m", "p", usage, "stop", batches=batches)
    assert CachedAnswer.from_bytes(stored.to_bytes()) == stored


async def test_memory_store_evicts_least_recent_past_its_cap() -> None:
    store = MemoryStore(max_bytes=10)
    await store.put("a", b"1234", 60)
    await store.put("b", b"5678", 60)
    assert await store.get("a") == b"1234"  # now b is the least recent
    await store.put("c", b"9999", 60)
    assert await store.get("b") is None and await store.get("a") == b"1234" and store.bytes == 8
    await store.put("huge", b"x" * 11, 60)
    assert await store.get("huge") is None
    await store.put("a", b"12", 60)
    assert store.bytes == 6
    await store.put("gone", b"1", -1)
    assert await store.get("gone") is None and store.bytes == 6
