"""Typed application keys, all in one place."""

from __future__ import annotations

from aiohttp import web

from proxy.gateway import Gateway
from proxy.stored_responses import ResponseStore

GATEWAY = web.AppKey("gateway", Gateway)
RESPONSE_STORE = web.AppKey("response_store", ResponseStore)
