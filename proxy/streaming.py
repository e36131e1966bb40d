"""Server-sent events: an incremental parser that is indifferent to chunk boundaries.

Follows the WHATWG rules: lines end in CRLF, LF or CR; `:` starts a comment; `data` lines join with
a newline; a blank line dispatches the event.
"""

from __future__ import annotations

from typing import NamedTuple


class SSEEvent(NamedTuple):
    """One dispatched event. (Named tuples, not frozen dataclasses: one is built per upstream chunk.)"""

    data: str
    event: str | None = None
    id: str | None = None
    retry: int | None = None


class SSEComment(NamedTuple):
    text: str


class SSEParser:
    """Feed bytes as they arrive; get back complete events (and comments, for keep-alive tracking)."""

    __slots__ = ("_buf", "_data", "_event", "_id", "_retry", "_has_data", "_pending_cr")

    def __init__(self) -> None:
        self._buf = b""
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None
        self._retry: int | None = None
        self._has_data = False
        self._pending_cr = False

    def feed(self, chunk: bytes) -> list[SSEEvent | SSEComment]:
        if self._pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        self._pending_cr = False
        buf = self._buf + chunk if self._buf else chunk
        out: list[SSEEvent | SSEComment] = []
        if b"\r" not in buf:
            return self._feed_lf(buf, out)
        start = 0
        n = len(buf)
        while start < n:
            lf = buf.find(b"\n", start)
            cr = buf.find(b"\r", start, lf if lf != -1 else n)
            if cr != -1:
                end, nxt = cr, cr + 1
                if nxt < n and buf[nxt] == 0x0A:
                    nxt += 1
                elif nxt == n:
                    self._pending_cr = True
            elif lf != -1:
                end, nxt = lf, lf + 1
            else:
                break
            self._line(buf[start:end].decode("utf-8", "replace"), out)
            start = nxt
        self._buf = buf[start:]
        return out

    def _feed_lf(self, buf: bytes, out: list[SSEEvent | SSEComment]) -> list[SSEEvent | SSEComment]:
        """`feed` for LF-only framing, what providers send: the complete lines decoded in one go (a
        newline is never inside a UTF-8 sequence, so this decodes as line by line would), data lines
        and blank lines handled inline, the rest by `_line`."""
        end = buf.rfind(b"\n")
        if end == -1:
            self._buf = buf
            return out
        self._buf = buf[end + 1 :]
        data = self._data
        for line in buf[:end].decode("utf-8", "replace").split("\n"):
            if not line:
                if self._has_data:
                    out.append(SSEEvent("\n".join(data), self._event, self._id, self._retry))
                    data = self._data = []
                    self._has_data = False
                elif data:
                    data = self._data = []
                self._event = None
                self._retry = None
            elif line.startswith("data:"):
                data.append(line[6:] if line.startswith(" ", 5) else line[5:])
                self._has_data = True
            else:
                self._line(line, out)
                data = self._data
        return out

    def close(self) -> list[SSEEvent | SSEComment]:
        """At EOF: an unterminated final event is dispatched, as browsers do not, but proxies must not lose it."""
        out: list[SSEEvent | SSEComment] = []
        if self._buf:
            self._line(self._buf.decode("utf-8", "replace"), out)
            self._buf = b""
        self._line("", out)
        return out

    def _line(self, line: str, out: list[SSEEvent | SSEComment]) -> None:
        if not line:
            if self._has_data:
                data = "\n".join(self._data)
                out.append(SSEEvent(data=data, event=self._event, id=self._id, retry=self._retry))
            self._data = []
            self._event = None
            self._retry = None
            self._has_data = False
            return
        if line[0] == ":":
            out.append(SSEComment(line[1:].lstrip(" ")))
            return
        field, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
            self._has_data = True
        elif field == "event":
            self._event = value
        elif field == "id":
            if "\0" not in value:
                self._id = value
        elif field == "retry":
            if value.isdigit():
                self._retry = int(value)


def sse_frame(data: bytes, event: str | None = None) -> bytes:
    """One SSE frame, the only place frames are written; `data` must hold no newline (orjson's JSON never does)."""
    if event is None:
        return b"data: " + data + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"
