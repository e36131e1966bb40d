"""Typed application keys, all in one place."""

from __future__ import annotations

from aiohttp import web

from proxy.auth import GatewayAccess, Identity
from proxy.gateway import Gateway
from proxy.keys.service import KeyService
from proxy.learning import FeedbackLearning
from proxy.metrics import Metrics
from proxy.state.circuits import SharedCircuits
from proxy.store import Store
from proxy.store.responses import ResponseStore

GATEWAY = web.AppKey("gateway", Gateway)
STORE = web.AppKey("store", Store)
METRICS = web.AppKey("metrics", Metrics)
KEYS = web.AppKey("keys", KeyService)
CIRCUITS = web.AppKey("circuits", SharedCircuits)  # provider health shared with the other replicas
LEARNING = web.AppKey("learning", FeedbackLearning)  # routing's corrections learned from feedback (when auto is on)
# (FRONT_ENDS, path -> front end, is typed by the FrontEnd protocol, so it lives beside it in api/frontend.py)
# the gateway's id for the request being served (a UUIDv7), set by the errors middleware at arrival
REQUEST_ID = web.RequestKey("request_id", str)
# where Responses API conversations are kept (proxy.store.responses: the request log's database)
RESPONSE_STORE = web.AppKey("response_store", ResponseStore)
# who the caller is (its key), set by the key check; absent on an open gateway
IDENTITY = web.RequestKey("identity", Identity)
# the configured keys and console sessions, set by the key check for the console's sign-in exchange
ACCESS = web.RequestKey("access", GatewayAccess)
