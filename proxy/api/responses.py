"""POST /v1/responses, GET and DELETE /v1/responses/{id}, GET /v1/responses/{id}/input_items: OpenAI's
Responses API in front of the gateway's normal pipeline, so any model on any provider answers it
(`auto`, pins, fallback).

The request is translated to the internal shape (`proxy.api.responses_inbound`), the turns a
`previous_response_id` names are put back in front of it from the response store, and the answer is
translated back: a Response object, or its event sequence. With `store` on (OpenAI's default, unless
the operator set `store.responses: false`) the conversation is kept for the next turn.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import orjson
from aiohttp import web

from proxy.api.event_stream import EventStreamFrame
from proxy.api.frontend import answer_headers, read_chat_call
from proxy.api.key_limits import enter_key_limits, has_virtual_key
from proxy.api.openai_chat import SSE_HEADERS, end_stream, error_body
from proxy.api.responses_events import ResponsesEventEncoder
from proxy.api.responses_inbound import ResponsesRequest, to_responses_request
from proxy.api.responses_output import new_id, to_response
from proxy.appkeys import GATEWAY, IDENTITY, RESPONSE_STORE
from proxy.errors import GatewayError
from proxy.gateway import Gateway
from proxy.pipeline import complete, fail, open_chat_stream, relay
from proxy.store import StoreUnavailable
from proxy.store.responses import StoredResponse

NAME = "openai_responses"
KEPT_MESSAGE_FIELDS = ("role", "content", "refusal", "tool_calls", "reasoning_content", "thinking_blocks")


class ResponsesFrontEnd:
    name = NAME
    key_hint = "Send 'Authorization: Bearer <key>'"

    def error_response(self, error: GatewayError, headers: Mapping[str, str]) -> web.Response:
        return web.Response(status=error.status, body=orjson.dumps(error_body(error)), content_type="application/json",
                            headers={**error.headers, **headers})


FRONT_END = ResponsesFrontEnd()


def owner_of(request: web.Request) -> str | None:
    """Whose conversations these are: the gateway key's name (None on a gateway without keys)."""
    return request[IDENTITY].key_name if IDENTITY in request else None


def not_found(response_id: str, param: str | None = None) -> GatewayError:
    what = "Previous response" if param == "previous_response_id" else "Response"
    return GatewayError(404, f"{what} with id '{response_id}' not found.", param=param,
                        code="previous_response_not_found" if param else "not_found")


async def earlier_turns(request: web.Request, gw: Gateway, req: ResponsesRequest) -> list[dict[str, Any]]:
    """The conversation a previous_response_id names, as internal messages; [] without one."""
    if req.previous_response_id is None:
        return []
    if not gw.settings.store.responses:
        raise GatewayError(400, "previous_response_id: this gateway keeps no conversations (its operator set "
                           "store.responses to false); send the earlier turns in input instead.",
                           param="previous_response_id", code="unsupported_parameter")
    return (await load_stored(request, req.previous_response_id, "previous_response_id")).conversation


def assistant_turn(message: dict[str, Any]) -> dict[str, Any]:
    return {k: message[k] for k in KEPT_MESSAGE_FIELDS if message.get(k) is not None} | {"role": "assistant"}


async def keep(request: web.Request, gw: Gateway, req: ResponsesRequest, response: dict[str, Any],
               conversation: list[dict[str, Any]]) -> None:
    ttl_s = gw.settings.store.responses_ttl_days * 86400.0
    stored = StoredResponse(id=response["id"], owner=owner_of(request), created_at=int(response["created_at"]),
                            expires_at=time.time() + ttl_s, response=response, conversation=conversation,
                            input_items=req.input_items())
    try:
        await request.app[RESPONSE_STORE].save(stored)
    except StoreUnavailable:
        raise unavailable("The answer could not be stored") from None


async def load_stored(request: web.Request, response_id: str, param: str | None = None) -> StoredResponse:
    """The caller's stored response; a 404 naming `param` when it has none by that id."""
    try:
        stored = await request.app[RESPONSE_STORE].load(response_id, owner_of(request))
    except StoreUnavailable:
        raise unavailable("Stored responses cannot be read") from None
    if stored is None:
        raise not_found(response_id, param)
    return stored


def unavailable(what: str) -> GatewayError:
    return GatewayError(503, f"{what}: the response store (the request log's database) is unavailable. Retry shortly, "
                        "or send store: false and the earlier turns in input.", code="store_unavailable")


async def create_response(request: web.Request) -> web.StreamResponse:
    gw = request.app[GATEWAY]
    res = gw.chat
    translated: list[ResponsesRequest] = []

    def translate(body: dict[str, Any]) -> dict[str, Any]:
        translated.append(to_responses_request(body))
        return translated[0].chat_body()

    arrival = await read_chat_call(request, NAME, translate)
    limits = await enter_key_limits(request, arrival, "openai") if has_virtual_key(request) else {}
    call, outcome, received_at, req = arrival.call, arrival.outcome, arrival.received_at, translated[0]
    if req.echo.get("metadata"):  # the Responses API's own metadata tags the request, as chat's does
        outcome.tags = MappingProxyType({**call.tags, **req.echo["metadata"]})
    try:
        history = await earlier_turns(request, gw, req)
    except BaseException as exc:
        fail(outcome, exc)
        raise
    if history:  # the earlier turns go between this turn's instructions and its input
        call.body["messages"] = req.chat_body(history)["messages"]
    kept = req.store and gw.settings.store.responses
    response_id, created_at = new_id("resp"), int(time.time())
    packed = "reasoning.encrypted_content" in req.include
    turn = [*history, *req.input_messages]

    if not call.stream:
        done = await complete(call, res, outcome, received_at)
        data = to_response(done.data, response_id, req.echo, store=kept, previous_response_id=req.previous_response_id,
                           include_packed=packed, created_at=created_at)
        if kept:
            message = ((done.data.get("choices") or [{}])[0]).get("message") or {}
            await keep(request, gw, req, data, [*turn, assistant_turn(message)])
        return web.Response(body=orjson.dumps(data), content_type="application/json",
                            headers={**done.notes, **limits, **answer_headers(request)})

    frame = EventStreamFrame(request, lambda: {**SSE_HEADERS, **limits, **answer_headers(request)})
    stream = await frame.opening(open_chat_stream(call, res, outcome, received_at, frame.open))
    resp = await frame.response(stream.notes)
    renderer = EventRenderer(ResponsesEventEncoder(response_id, stream.route.model, req.echo, created_at, store=kept,
                                                   previous_response_id=req.previous_response_id, include_packed=packed))

    async def write(data: bytes) -> None:
        # the conversation is kept before the client hears response.completed: its next turn may follow at once
        result = renderer.events.result
        if kept and result is not None and result["status"] != "failed" and not renderer.kept:
            renderer.kept = True
            await keep(request, gw, req, result, [*turn, assistant_turn(renderer.events.assistant_message())])
        await resp.write(data)

    await relay(stream, renderer, lambda: resp.prepare(request), write, res, outcome)
    await end_stream(resp)
    return resp


async def get_response(request: web.Request) -> web.Response:
    stored = await load_stored(request, request.match_info["response_id"])
    return web.Response(body=orjson.dumps(stored.response), content_type="application/json")


async def delete_response(request: web.Request) -> web.Response:
    response_id = request.match_info["response_id"]
    try:
        deleted = await request.app[RESPONSE_STORE].delete(response_id, owner_of(request))
    except StoreUnavailable:
        raise unavailable("The response cannot be deleted") from None
    if not deleted:
        raise not_found(response_id)
    return web.Response(body=orjson.dumps({"id": response_id, "object": "response.deleted", "deleted": True}),
                        content_type="application/json")


async def list_input_items(request: web.Request) -> web.Response:
    """GET /v1/responses/{id}/input_items: this turn's input, newest first unless `order=asc`, in pages."""
    response_id = request.match_info["response_id"]
    stored = await load_stored(request, response_id)
    order, limit, after = page_query(request.query)
    items = stored.input_items if order == "asc" else stored.input_items[::-1]
    if after is not None:
        ids = [item["id"] for item in items]
        if after not in ids:
            raise GatewayError(400, f"after: no input item '{after}' in response '{response_id}'.", param="after", code="invalid_value")
        items = items[ids.index(after) + 1:]
    page = items[:limit]
    body = {"object": "list", "data": page, "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None, "has_more": len(items) > limit}
    return web.Response(body=orjson.dumps(body), content_type="application/json")


def page_query(query: Mapping[str, str]) -> tuple[str, int, str | None]:
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise GatewayError(400, f"order: expected 'asc' or 'desc', got {order!r}.", param="order", code="invalid_value")
    raw = query.get("limit", "20")
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise GatewayError(400, f"limit: expected an integer from 1 to 100, got {raw!r}.", param="limit", code="invalid_value")
    return order, int(raw), query.get("after")


class EventRenderer:
    """Internal chunks (model name and usage with cost already set) as Responses events."""

    __slots__ = ("events", "kept")

    def __init__(self, events: ResponsesEventEncoder) -> None:
        self.events = events
        self.kept = False

    def encode(self, chunks: list[dict[str, Any]]) -> bytes:
        return b"".join(self.events.encode(chunk) for chunk in chunks if chunk.get("choices"))

    def closing(self, usage: dict[str, Any], first: dict[str, Any] | None) -> bytes:
        return self.events.finish_events(usage)  # never an answer without usage

    def failure(self, error: GatewayError, message: str) -> bytes:
        return self.events.failure_events(error.status, message, None)
