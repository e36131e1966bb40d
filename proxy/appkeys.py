"""Typed application keys, all in one place."""

from __future__ import annotations

from aiohttp import web

from proxy.gateway import Gateway
from proxy.keys.service import KeyService
from proxy.metrics import Metrics
from proxy.store import Store

GATEWAY = web.AppKey("gateway", Gateway)
STORE = web.AppKey("store", Store)
METRICS = web.AppKey("metrics", Metrics)
KEYS = web.AppKey("keys", KeyService)
