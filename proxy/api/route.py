"""POST /v1/route: the model-routing dry run. Same body as chat completions; nothing is called upstream."""

from __future__ import annotations

from aiohttp import web

from proxy.api.body import read_json_object
from proxy.appkeys import GATEWAY
from proxy.routing.model_routing import decide
from proxy.schemas import validate_chat_request


async def route_dry_run(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    body = await read_json_object(request, gw.settings.server.max_body_bytes)
    validate_chat_request({**body, "model": body.get("model") or "auto"})
    decision = decide(gw, body, request.headers)
    return web.json_response(decision.details, headers={"x-switchyard-route": decision.reason})
