"""parse_chat_call: one parse per request, each check in one place, errors that name the field."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from proxy.call import NO_OVERRIDES, NO_TAGS, TimeoutOverrides, parse_chat_call
from proxy.errors import GatewayError
from proxy.request_id import CURRENT, RequestIdFilter, uuid7

BASE: dict[str, Any] = {"model": "test/alpha", "messages": [{"role": "user", "content": "hi"}]}


def parse(body: dict[str, Any], headers: dict[str, str] | None = None, **kw: Any) -> Any:
    return parse_chat_call(body, CIMultiDict(headers or {}), request_id="rid-1", **kw)  # as aiohttp hands them over


def test_the_common_request_is_all_defaults() -> None:
    call = parse(BASE)
    assert (call.model, call.stream, call.include_usage, call.auto) == ("test/alpha", False, False, None)
    assert call.timeouts is NO_OVERRIDES and call.tags is NO_TAGS and call.client_request_id is None
    assert (call.provider_routing.kind, call.provider_routing.factor) == ("priority", "latency")
    assert call.messages is BASE["messages"] and not call.provider_routing_set


def test_gateway_fields_are_read_once_into_typed_fields() -> None:
    body = {**BASE, "model": "auto", "stream": True, "stream_options": {"include_usage": True},
            "model_routing_config": {"preference": " Performance "}, "switchyard": {"timeouts": {"total_s": 9}},
            "provider": {"routing": {"type": "priority", "primary_factor": "price"}}, "metadata": {"team": "a"}}
    call = parse(body, {"X-Switchyard-Timeout-Idle": "2", "x-switchyard-tags": "env=prod,team=b", "x-request-id": "abc"})
    assert call.auto is not None and (call.auto.pool, call.auto.preference) == (None, "quality")
    assert call.timeouts == TimeoutOverrides(None, None, 2.0, 9.0)
    assert dict(call.tags) == {"env": "prod", "team": "a"}  # the body's metadata wins over the header
    assert (call.client_request_id, call.request_id) == ("abc", "rid-1")
    assert (call.provider_routing.factor, call.provider_routing_set, call.stream, call.include_usage) == ("price", True, True, True)
    assert parse({**body, "model_routing_config": {"preference": "cost"}}).auto.preference == "price"


@pytest.mark.parametrize(("body", "headers", "param"), [
    ({**BASE, "metadata": "x"}, {}, "metadata"),
    ({**BASE, "metadata": {"k": 5}}, {}, "metadata.k"),
    (BASE, {"x-switchyard-tags": "novalue"}, "x-switchyard-tags"),
    ({**BASE, "model": "auto", "model_routing_config": {"preference": "cheapest"}}, {}, "model_routing_config.preference"),
    ({**BASE, "model": "auto", "model_routing_config": {"available_models": ["test/alpha", "nope/x"]}}, {},
     "model_routing_config.available_models[1]"),
    ({**BASE, "switchyard": {"timeouts": {"idle_s": -1}}}, {}, "switchyard.timeouts.idle_s"),
    ({**BASE, "provider": {"routing": {"type": "order"}}}, {}, "provider.routing.providers"),
])
def test_each_bad_field_is_a_400_naming_it(body: dict[str, Any], headers: dict[str, str], param: str) -> None:
    with pytest.raises(GatewayError) as info:
        parse(body, headers, known_models={"test/alpha": None, "test/beta": None})
    assert info.value.status == 400 and info.value.param == param and param in info.value.message


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_any_tags_header_is_parsed_or_a_400(header: str) -> None:
    try:
        call = parse(BASE, {"x-switchyard-tags": header})
    except GatewayError as exc:
        assert exc.status == 400 and exc.param == "x-switchyard-tags"
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in call.tags.items())


def test_request_ids_are_unique_uuid7_in_arrival_order() -> None:
    ids = [uuid7() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert [i[:13] for i in ids] == sorted(i[:13] for i in ids)  # the millisecond prefix never goes back


def test_log_lines_carry_the_request_id(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("switchyard.test-call")
    logger.addFilter(RequestIdFilter())
    token = CURRENT.set("0190-rid")
    try:
        with caplog.at_level(logging.INFO, logger="switchyard.test-call"):
            logger.info("attempt failed: %s", "boom")
    finally:
        CURRENT.reset(token)
    assert caplog.records[-1].getMessage() == "[0190-rid] attempt failed: boom"
