"""Reading a request body: content type, size limit, JSON object."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from proxy.errors import GatewayError
from proxy.schemas import parse_json_body

JSON_TYPES = ("application/json", "text/json", "")


async def read_json_object(request: web.Request, max_bytes: int) -> dict[str, Any]:
    ctype = request.content_type if request.headers.get("Content-Type") else ""
    if ctype not in JSON_TYPES and not ctype.endswith("+json"):
        raise GatewayError(415, f"Unsupported Content-Type '{ctype}': send application/json.", code="unsupported_media_type")
    if request.content_length is not None and request.content_length > max_bytes:
        raise GatewayError(413, f"The request body is {request.content_length} bytes; the limit is {max_bytes}.", code="request_too_large")
    if request.content_length is not None:  # the common case: one read of a known length
        return parse_json_body(await request.read())
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > max_bytes:
            raise GatewayError(413, f"The request body is over the limit of {max_bytes} bytes.", code="request_too_large")
        chunks.append(chunk)
    return parse_json_body(b"".join(chunks))
