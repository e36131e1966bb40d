"""Typed application keys, all in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from proxy.gateway import Gateway

if TYPE_CHECKING:
    from proxy.api.frontend import FrontEnd

GATEWAY = web.AppKey("gateway", Gateway)
# path -> the front end that renders that path's answers and errors
FRONT_ENDS: web.AppKey[dict[str, FrontEnd]] = web.AppKey("front_ends", dict[str, Any])  # type: ignore[arg-type]
# the gateway's id for the request being served (a UUIDv7), set by the errors middleware at arrival
REQUEST_ID = web.RequestKey("request_id", str)
