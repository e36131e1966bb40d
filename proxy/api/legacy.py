"""POST /v1/completions, the legacy text-completion API: answered with a 400 that says where to go.

Not translated, on purpose. A completion continues raw text; a chat model answers a message. Sent
through chat, the same prompt would come back as a reply rather than a continuation: a different
answer under the old API's name. No model in the catalogue is a completion model, and of the wire
formats only OpenAI's still has the endpoint (deprecated there too), so there is nothing to route
it to honestly.
"""

from __future__ import annotations

from aiohttp import web

from proxy.errors import GatewayError

MESSAGE = ("POST /v1/completions (the legacy text-completion API) is not served by this gateway: its models are chat "
           "models. Send the prompt as {\"messages\": [{\"role\": \"user\", \"content\": <prompt>}]} to "
           "POST /v1/chat/completions, or as {\"input\": <prompt>} to POST /v1/responses.")


async def completions(request: web.Request) -> web.Response:
    raise GatewayError(400, MESSAGE, code="unsupported_endpoint")
