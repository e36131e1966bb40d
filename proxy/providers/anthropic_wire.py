"""Anthropic Messages API wire types and vocabularies (no translation logic here).

Field names follow the public reference for `POST /v1/messages` and its streaming events.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

API_VERSION = "2023-06-01"
MESSAGES_PATH = "/v1/messages"


class TextBlock(TypedDict):
    type: Literal["text"]
    text: str


class ImageSource(TypedDict, total=False):
    type: Literal["base64", "url"]
    media_type: str
    data: str
    url: str


class ImageBlock(TypedDict):
    type: Literal["image", "document"]
    source: ImageSource


class ToolUseBlock(TypedDict):
    type: Literal["tool_use"]
    id: str
    name: str
    input: dict[str, Any]


class ToolResultBlock(TypedDict, total=False):
    type: Literal["tool_result"]
    tool_use_id: str
    content: str | list[dict[str, Any]]
    is_error: bool


class ThinkingBlock(TypedDict):
    type: Literal["thinking"]
    thinking: str
    signature: str


class RedactedThinkingBlock(TypedDict):
    type: Literal["redacted_thinking"]
    data: str


class Message(TypedDict):
    role: Literal["user", "assistant"]
    content: str | list[dict[str, Any]]


class MessagesRequest(TypedDict, total=False):
    model: str
    max_tokens: int
    messages: list[Message]
    system: str | list[TextBlock]
    tools: list[dict[str, Any]]
    tool_choice: dict[str, Any]
    stop_sequences: list[str]
    temperature: float
    top_p: float
    top_k: int
    stream: bool
    metadata: dict[str, Any]
    thinking: dict[str, Any]


# Anthropic stop_reason <-> OpenAI finish_reason.
STOP_TO_FINISH: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
FINISH_TO_STOP: dict[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}

# Anthropic error type -> (HTTP status, OpenAI error type, OpenAI-style code).
ERROR_TYPES: dict[str, tuple[int, str, str]] = {
    "invalid_request_error": (400, "invalid_request_error", "invalid_request_error"),
    "authentication_error": (401, "authentication_error", "invalid_api_key"),
    "billing_error": (402, "insufficient_quota", "billing_error"),
    "permission_error": (403, "permission_error", "permission_denied"),
    "not_found_error": (404, "invalid_request_error", "model_not_found"),
    "request_too_large": (413, "invalid_request_error", "request_too_large"),
    "rate_limit_error": (429, "rate_limit_error", "rate_limit_exceeded"),
    "api_error": (500, "server_error", "api_error"),
    "timeout_error": (504, "timeout_error", "upstream_timeout"),
    "overloaded_error": (529, "server_error", "overloaded"),
}
STATUS_TO_ERROR_TYPE: dict[int, str] = {status: name for name, (status, _, _) in ERROR_TYPES.items()}

# OpenAI has no 529; an overloaded Anthropic reaches OpenAI clients as 503 (retriable either way).
OVERLOADED_STATUS = 529
OVERLOADED_AS = 503

# reasoning_effort (OpenAI) -> thinking budget_tokens (Anthropic; at least 1024).
THINKING_BUDGETS: dict[str, int] = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576}
