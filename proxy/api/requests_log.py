"""The request log's API: GET /v1/requests/{id}, GET /v1/requests, GET /v1/usage, POST /v1/feedback.

Who sees what: with gateway keys on, a key sees (and rates) only its own records and usage, and an
admin key sees everything; with no keys configured (a local demo) everything is open. A record of
another key answers 404, exactly as a missing one, so ids of other keys' requests leak nothing.

A rating of an `auto` request also teaches routing (proxy.learning): by default only the rated request's
key's routing; `"scope": "deployment"`, from an admin key only, everyone's.
"""

from __future__ import annotations

import math
import time
from datetime import datetime
from typing import Any

import orjson
from aiohttp import web

from proxy.api.frontend import identity_of
from proxy.appkeys import LEARNING, STORE
from proxy.auth import Identity
from proxy.errors import GatewayError
from proxy.store import BadQuery, Feedback, Page, RequestFilter, Store, StoreUnavailable
from proxy.store.queries import MAX_PAGE, TAG_NAME, decode_cursor, parse_group_by
from proxy.store.records import APIS, STATUSES

METRIC_NAME_MAX = 64
COMMENT_MAX = 4000


def store_of(request: web.Request) -> Store:
    return request.app[STORE]


def unavailable(exc: StoreUnavailable) -> GatewayError:
    return GatewayError(503, "The request log's database is unavailable right now; try again shortly.",
                        code="store_unavailable")


def not_found(request_id: str) -> GatewayError:
    return GatewayError(404, f"No request with id '{request_id}' in the log (ids are the x-request-id of a response).",
                        param="request_id", code="request_not_found")


def visible(identity: Identity, owner: str | None) -> bool:
    return identity.admin or owner == identity.key_name


async def get_request(request: web.Request) -> web.Response:
    request_id = request.match_info["id"]
    try:
        rec = await store_of(request).get_record(request_id)
    except StoreUnavailable as exc:
        raise unavailable(exc) from None
    if rec is None or not visible(identity_of(request), rec.get("key")):
        raise not_found(request_id)
    return web.json_response(rec, dumps=lambda v: orjson.dumps(v).decode())


async def list_requests(request: web.Request) -> web.Response:
    flt = request_filter(request)
    query = request.query
    limit = parse_int(query.get("limit", "50"), "limit", 1, MAX_PAGE)
    try:
        cursor = decode_cursor(query["cursor"]) if query.get("cursor") else None
        data, next_cursor = await store_of(request).list_records(flt, Page(limit=limit, cursor=cursor))
    except BadQuery as exc:
        raise GatewayError(400, str(exc), param=exc.param) from None
    except StoreUnavailable as exc:
        raise unavailable(exc) from None
    return web.json_response({"data": data, "next_cursor": next_cursor}, dumps=lambda v: orjson.dumps(v).decode())


async def usage(request: web.Request) -> web.Response:
    flt = request_filter(request)
    try:
        dims = parse_group_by(request.query.get("group_by", "model"))
        data = await store_of(request).usage(flt, dims)
    except BadQuery as exc:
        raise GatewayError(400, str(exc), param=exc.param) from None
    except StoreUnavailable as exc:
        raise unavailable(exc) from None
    return web.json_response({"group_by": dims, "data": data}, dumps=lambda v: orjson.dumps(v).decode())


async def feedback(request: web.Request) -> web.Response:
    body = await json_object(request)
    fb = parse_feedback(body, identity_of(request))
    store = store_of(request)
    try:
        exists, owner = await store.record_owner(fb.request_id)
        if not exists or not visible(identity_of(request), owner):
            raise not_found(fb.request_id)
        if not await store.add_feedback(fb):
            raise not_found(fb.request_id)
        learning = request.app.get(LEARNING)
        if learning is not None:
            await learning.on_feedback(fb, await store.get_record(fb.request_id))
    except StoreUnavailable as exc:
        raise unavailable(exc) from None
    return web.json_response({"object": "feedback", "request_id": fb.request_id, **fb.to_json()}, status=201)


# -- parsing ---------------------------------------------------------------------------------------


def request_filter(request: web.Request) -> RequestFilter:
    """The list and usage filters, with a non-admin key pinned to its own records."""
    query = request.query
    identity = identity_of(request)
    key = query.get("key")
    if not identity.admin:
        if key is not None and key != identity.key_name:
            raise GatewayError(403, "A gateway key sees only its own records; drop `key` or use an admin key.",
                               param="key", code="forbidden")
        key = identity.key_name
    status = query.get("status")
    if status is not None and status not in STATUSES:
        raise GatewayError(400, f"status: must be one of {', '.join(STATUSES)}", param="status")
    api = query.get("api")
    if api is not None and api not in APIS:
        raise GatewayError(400, f"api: must be one of {', '.join(APIS)}", param="api")
    tags = []
    for raw in query.getall("tag", []):
        name, sep, value = raw.partition(":")
        if not sep or not TAG_NAME.match(name):
            raise GatewayError(400, f"tag: {raw!r} must be name:value, for example tag=feature:search", param="tag")
        tags.append((name, value))
    since = parse_time(query["since"], "since") if "since" in query else None
    until = parse_time(query["until"], "until") if "until" in query else None
    return RequestFilter(model=query.get("model"), provider=query.get("provider"), status=status, key=key, api=api,
                         tags=tuple(tags), since_ms=since, until_ms=until)


def parse_time(raw: str, param: str) -> int:
    """RFC 3339 (2026-12-02T01:02:03Z) or Unix seconds, as Unix milliseconds."""
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = datetime.fromisoformat(raw.replace("z", "Z"))
        except ValueError:
            raise GatewayError(400, f"{param}: {raw!r} is neither RFC 3339 (2026-12-02T01:02:03Z) nor Unix seconds",
                               param=param) from None
        if when.tzinfo is None:
            raise GatewayError(400, f"{param}: {raw!r} needs a time zone (Z or +hh:mm)", param=param) from None
        return int(when.timestamp() * 1000)
    if not math.isfinite(seconds) or not 0 <= seconds < 1e11:
        raise GatewayError(400, f"{param}: {raw!r} is not a plausible Unix time in seconds", param=param)
    return int(seconds * 1000)


def parse_int(raw: str, param: str, low: int, high: int) -> int:
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise GatewayError(400, f"{param}: must be a whole number from {low} to {high}", param=param)
    return int(raw)


async def json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise GatewayError(400, "The body is not valid JSON.", code="invalid_json") from None
    if not isinstance(body, dict):
        raise GatewayError(400, "The body must be a JSON object.", code="invalid_json")
    return body


def parse_feedback(body: dict[str, Any], identity: Identity) -> Feedback:
    request_id = body.get("request_id")
    if not isinstance(request_id, str) or not 0 < len(request_id) <= 128:
        raise GatewayError(400, "request_id: required, the x-request-id of the response being rated", param="request_id")
    score, thumbs = body.get("score"), body.get("thumbs")
    if (score is None) == (thumbs is None):
        raise GatewayError(400, "Give exactly one of score (0.0 to 1.0) or thumbs ('up' or 'down').", param="score")
    if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)
                              or not math.isfinite(score) or not 0.0 <= score <= 1.0):
        raise GatewayError(400, "score: must be a number from 0.0 to 1.0", param="score")
    if thumbs is not None and thumbs not in ("up", "down"):
        raise GatewayError(400, "thumbs: must be 'up' or 'down'", param="thumbs")
    metric = body.get("metric", "helpful")
    if not isinstance(metric, str) or not TAG_NAME.match(metric) or len(metric) > METRIC_NAME_MAX:
        raise GatewayError(400, "metric: a short name of letters, digits, '_', '-' or '.', such as 'helpful'", param="metric")
    comment = body.get("comment")
    if comment is not None and (not isinstance(comment, str) or len(comment) > COMMENT_MAX):
        raise GatewayError(400, f"comment: must be a string of at most {COMMENT_MAX} characters", param="comment")
    return Feedback(request_id=request_id, ts_ms=int(time.time() * 1000), key=identity.key_name, metric=metric,
                    score=None if score is None else float(score), thumbs=thumbs, comment=comment,
                    scope=parse_scope(body.get("scope", "key"), identity))


def parse_scope(scope: Any, identity: Identity) -> str | None:
    """Whose routing the rating teaches: "key" (the rated request's key: None here) or "deployment"."""
    if scope == "key":
        return None
    if scope != "deployment":
        raise GatewayError(400, "scope: must be 'key' (teach this key's routing) or 'deployment' (everyone's; "
                           "admin keys only)", param="scope")
    if not identity.admin:
        raise GatewayError(403, "scope: 'deployment' changes routing for every key, so only an admin key may "
                           "set it; drop `scope` to teach your own key's routing.", param="scope", code="forbidden")
    return "deployment"
