"""ChatCall -> internal completion or stream: routing, fallback over attempts, accounting, the outcome.

No aiohttp here: front ends (proxy.api) read the wire and render the result; transport is proxy.upstream.
"""

from proxy.pipeline.chat import (
    ChatResources,
    ChatStream,
    Completion,
    OnFinish,
    StreamRenderer,
    complete,
    describe,
    fail,
    new_outcome,
    open_chat_stream,
    relay,
)

__all__ = ["ChatResources", "ChatStream", "Completion", "OnFinish", "StreamRenderer", "complete", "describe", "fail", "new_outcome",
           "open_chat_stream", "relay"]
