"""POST /v1/route: the model-routing dry run. Same body as chat completions; nothing is called upstream."""

from __future__ import annotations

from aiohttp import web

from proxy.api.body import read_json_object
from proxy.api.frontend import identity_of, request_id
from proxy.appkeys import GATEWAY
from proxy.call import AUTO_MODEL, parse_chat_call
from proxy.routing.candidates import decide_auto


async def route_dry_run(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    body = await read_json_object(request, gw.settings.server.max_body_bytes)
    tenant = identity_of(request).key_name or ""  # the caller's learned corrections apply, as for `auto`
    call = parse_chat_call({**body, "model": body.get("model") or AUTO_MODEL}, request.headers, request_id=request_id(request),
                           api="route", default_factor=gw.settings.routing.default_factor, known_models=gw.catalog.models,
                           tenant=tenant)
    if call.auto is None:  # a named model: route it as `auto` would, for the dry run's report
        call = parse_chat_call({**body, "model": AUTO_MODEL}, request.headers, request_id=call.request_id, api="route",
                               default_factor=gw.settings.routing.default_factor, known_models=gw.catalog.models,
                               tenant=tenant)
    decision = decide_auto(call, gw.catalog, gw.scorer, gw.model_router)
    return web.json_response(decision.details, headers={"x-switchyard-route": decision.reason})
