"""Typed application keys, all in one place."""

from __future__ import annotations

from aiohttp import web

from proxy.gateway import Gateway

GATEWAY = web.AppKey("gateway", Gateway)
