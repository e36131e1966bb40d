"""Gemini `generateContent` wire types and vocabularies (no translation logic here).

Field names are the REST API's JSON names (lowerCamelCase, which the API also emits).
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

API_KEY_HEADER = "x-goog-api-key"


class Blob(TypedDict):
    mimeType: str
    data: str


class FileData(TypedDict):
    mimeType: str
    fileUri: str


class FunctionCall(TypedDict, total=False):
    id: str
    name: str
    args: dict[str, Any]


class FunctionResponse(TypedDict, total=False):
    id: str
    name: str
    response: dict[str, Any]


class Part(TypedDict, total=False):
    text: str
    thought: bool
    thoughtSignature: str
    inlineData: Blob
    fileData: FileData
    functionCall: FunctionCall
    functionResponse: FunctionResponse


class Content(TypedDict, total=False):
    role: Literal["user", "model"]
    parts: list[Part]


class GenerateContentRequest(TypedDict, total=False):
    contents: list[Content]
    systemInstruction: Content
    tools: list[dict[str, Any]]
    toolConfig: dict[str, Any]
    generationConfig: dict[str, Any]


# finishReason -> OpenAI finish_reason; STOP becomes tool_calls when the answer called functions.
FINISH_REASONS: dict[str, str] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "LANGUAGE": "stop",
    "OTHER": "stop",
    "MALFORMED_FUNCTION_CALL": "stop",
    "FINISH_REASON_UNSPECIFIED": "stop",
}

# google.rpc status -> (HTTP status, OpenAI error type, OpenAI-style code).
ERROR_STATUSES: dict[str, tuple[int, str, str]] = {
    "INVALID_ARGUMENT": (400, "invalid_request_error", "invalid_argument"),
    "FAILED_PRECONDITION": (400, "invalid_request_error", "failed_precondition"),
    "OUT_OF_RANGE": (400, "invalid_request_error", "out_of_range"),
    "UNAUTHENTICATED": (401, "authentication_error", "invalid_api_key"),
    "PERMISSION_DENIED": (403, "permission_error", "permission_denied"),
    "NOT_FOUND": (404, "invalid_request_error", "model_not_found"),
    "RESOURCE_EXHAUSTED": (429, "rate_limit_error", "rate_limit_exceeded"),
    "CANCELLED": (499, "server_error", "cancelled"),
    "INTERNAL": (500, "server_error", "internal"),
    "UNKNOWN": (500, "server_error", "unknown"),
    "UNAVAILABLE": (503, "server_error", "unavailable"),
    "DEADLINE_EXCEEDED": (504, "timeout_error", "upstream_timeout"),
}
# A bad key is a 400 INVALID_ARGUMENT whose ErrorInfo reason says so; clients expect a 401.
KEY_INVALID_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED"})
RETRY_INFO_TYPE = "type.googleapis.com/google.rpc.RetryInfo"

# reasoning_effort (OpenAI) -> thinkingConfig.thinkingBudget.
THINKING_BUDGETS: dict[str, int] = {"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576}

# JSON-schema keys the functionDeclarations schema (an OpenAPI subset) rejects.
UNSUPPORTED_SCHEMA_KEYS = frozenset({"$schema", "$id", "$comment", "additionalProperties", "strict"})
