"""What every inbound API's front end provides, and what they share: the answer's common headers.

A front end reads its wire format into a ChatCall, calls the pipeline, and renders the result and
every error in its own format. The middleware hands an error that escaped a handler to the front end
of the route it came from (`front_end_for`), so even a 401 or a 404 leaves in the API's own shape.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from aiohttp import web

from proxy.api.body import read_json_object
from proxy.appkeys import GATEWAY, IDENTITY, REQUEST_ID
from proxy.auth import OPEN, Identity
from proxy.call import ChatCall, parse_chat_call
from proxy.errors import GatewayError
from proxy.outcome import Outcome
from proxy.pipeline import describe, fail, new_outcome
from proxy.request_id import HEADER as REQUEST_ID_HEADER

SIMULATED_HEADER = "x-switchyard-simulated"


class FrontEnd(Protocol):
    name: str  # the `api` of the outcome: "openai_chat", "anthropic_messages", ...
    key_hint: str  # how this API's clients send a gateway key, for a 401's message

    def error_response(self, error: GatewayError, headers: Mapping[str, str]) -> web.Response:
        """The error as this API's clients expect it, with `headers` added."""
        ...


# path -> the front end that renders that path's answers and errors (filled by proxy.app)
FRONT_ENDS = web.AppKey("front_ends", dict[str, FrontEnd])


def front_end_for(request: web.Request, default: FrontEnd) -> FrontEnd:
    return request.app[FRONT_ENDS].get(request.path, default)


def identity_of(request: web.Request) -> Identity:
    """The caller's identity (set by the key check); OPEN, which may see everything, on an open gateway."""
    return request.get(IDENTITY, OPEN)


def request_id(request: web.Request) -> str:
    return request[REQUEST_ID]


def answer_headers(request: web.Request) -> dict[str, str]:
    """Headers every answer carries: the gateway's request id, and the simulated flag when it applies.
    (The middleware adds them to answers it sees unsent; streams take them here, before the first byte.)"""
    headers = {REQUEST_ID_HEADER: request[REQUEST_ID]}
    if request.app[GATEWAY].simulated:
        headers[SIMULATED_HEADER] = "true"
    return headers


class ChatArrival:
    """A chat request as read at the door: the checked call, its outcome (begun at arrival) and the
    event-loop time of arrival, which anchors the total deadline."""

    __slots__ = ("call", "outcome", "received_at")

    def __init__(self, call: ChatCall, outcome: Outcome, received_at: float) -> None:
        self.call = call
        self.outcome = outcome
        self.received_at = received_at


async def read_chat_call(
    request: web.Request, api: str, translate: Callable[[dict[str, Any]], dict[str, Any]] | None = None
) -> ChatArrival:
    """Read the body, translate it to the internal shape (if this API's is another), check it once."""
    gw = request.app[GATEWAY]
    received_at = asyncio.get_running_loop().time()
    outcome = new_outcome(request[REQUEST_ID], api, gw.chat, gw.simulated)
    outcome.key = request[IDENTITY].key_name if IDENTITY in request else None
    try:
        body = await read_json_object(request, gw.settings.server.max_body_bytes)
        if translate is not None:
            body = translate(body)
        call = parse_chat_call(body, request.headers, request_id=outcome.request_id, api=api,
                               default_factor=gw.settings.routing.default_factor, known_models=gw.catalog.models,
                               tenant=outcome.key or "")  # the cache's scope: the caller's key name
    except BaseException as exc:
        fail(outcome, exc)
        raise
    describe(outcome, call)
    return ChatArrival(call, outcome, received_at)
