"""Per-request hop times from bench/hops/sitecustomize.py's events, at concurrency 1.

A request starts with the first bytes from the client ("in") after the previous answer went out. Three
spans, each the proxy's own work on the critical path (the mock's and the client's time excluded):

    request   last "in" -> first "up_out"               read, parse, route, build and send upstream
    first     "up_in" -> first "out" with content        the first token's way through (from the last piece
                                                         of upstream bytes that came before it)
    last      last "up_in" -> last "out"                 the end of the answer
"""

from __future__ import annotations

from typing import Any, NamedTuple


def split_requests(events: list[tuple[int, str, bool]]) -> list[list[tuple[int, str, bool]]]:
    requests: list[list[tuple[int, str, bool]]] = []
    current: list[tuple[int, str, bool]] = []
    answered = True
    for event in events:
        if event[1] == "in" and answered:
            if current:
                requests.append(current)
            current, answered = [], False
        current.append(event)
        if event[1] == "out":
            answered = True
    if current:
        requests.append(current)
    return requests


class Landmarks(NamedTuple):
    """The instants (ns) one request's spans are measured between."""

    last_in: int  # the request's last bytes in, before it went upstream
    up_out: int  # the request sent upstream
    up_first: int  # the upstream's first bytes back
    up_before_out: int  # the last upstream bytes before the first content went out
    out_content: int  # the first content out
    last_up: int  # the upstream's last bytes
    last_out: int  # the answer's last bytes out


def landmarks(request: list[tuple[int, str, bool]]) -> Landmarks | None:
    """One request's landmarks; None when it never reached the upstream or never got content back."""
    up_out = next((t for t, h, _ in request if h == "up_out"), None)
    up_content = next((t for t, h, c in request if h == "up_in" and c), None)
    if up_out is None or up_content is None:
        return None
    out_content = next((t for t, h, c in request if h == "out" and c and t >= up_content), None)
    last_in = max((t for t, h, _ in request if h == "in" and t <= up_out), default=None)
    if out_content is None or last_in is None:
        return None
    ups = [t for t, h, _ in request if h == "up_in"]
    # a body can arrive in pieces: the first token's way starts at the last piece before it went out
    return Landmarks(last_in, up_out, ups[0], max(t for t in ups if t <= out_content), out_content, max(ups),
                     max(t for t, h, _ in request if h == "out"))


def span_times(m: Landmarks) -> dict[str, float]:
    return {"request": (m.up_out - m.last_in) / 1000, "first": (m.out_content - m.up_before_out) / 1000,
            "last": (m.last_out - m.last_up) / 1000}


def ttft_times(m: Landmarks) -> dict[str, float]:
    return {"ttft": (m.out_content - m.last_in) / 1000, "upstream_answer": (m.up_first - m.up_out) / 1000,
            "upstream_content": (m.up_before_out - m.up_first) / 1000}


def spans(request: list[tuple[int, str, bool]]) -> dict[str, float] | None:
    """The three spans of one request, each from the last bytes the proxy had to wait for."""
    m = landmarks(request)
    return None if m is None else span_times(m)


def ttft_spans(request: list[tuple[int, str, bool]]) -> dict[str, float] | None:
    """The whole time to first content inside the proxy (the request's last bytes in -> the first content
    out) and the upstream's part of it: sent -> its first bytes back, and those -> the bytes that carried
    the first content (the mock's own pace, if nothing else)."""
    m = landmarks(request)
    return None if m is None else ttft_times(m)


def window_marks(request: list[tuple[int, str, bool]], start: int, end: int) -> dict[str, float]:
    """Each mark (a function entered or left) between `start` and `end`, in us after `start` (first time only)."""
    marks: dict[str, float] = {}
    for t, hop, _ in request:
        if start <= t <= end and hop.startswith(("enter ", "exit ")) and hop not in marks:
            marks[hop] = (t - start) / 1000
    return marks


def marks_by_span(request: list[tuple[int, str, bool]]) -> dict[str, dict[str, float]]:
    """Marks inside the request path and inside the first token's way."""
    up_out = next((t for t, h, _ in request if h == "up_out"), None)
    up_content = next((t for t, h, c in request if h == "up_in" and c), None)
    out_content = next((t for t, h, c in request if h == "out" and c and up_content is not None and t >= up_content), None)
    last_in = max((t for t, h, _ in request if h == "in" and up_out is not None and t <= up_out), default=None)
    out: dict[str, dict[str, float]] = {}
    if up_out is not None and last_in is not None:
        out["request"] = window_marks(request, last_in, up_out)
    if up_content is not None and out_content is not None:
        start = max(t for t, h, _ in request if h == "up_in" and t <= out_content)
        out["first"] = window_marks(request, start, out_content)
    return out


def summarise_hops(events: list[tuple[int, str, bool]]) -> dict[str, Any]:
    """Median and quartiles of each span over every complete request, in microseconds; the median
    offset of each mark inside the first token's way."""
    requests = split_requests(events)
    rows = [{**span_times(m), **ttft_times(m)} for m in map(landmarks, requests) if m is not None]
    out: dict[str, Any] = {"requests": len(rows)}
    for span in ("request", "first"):
        by_mark: dict[str, list[float]] = {}
        for request in requests:
            for mark, offset in marks_by_span(request).get(span, {}).items():
                by_mark.setdefault(mark, []).append(offset)
        # marks seen in under half the requests come from another kind of request (the readiness probe)
        medians = {m: sorted(v)[len(v) // 2] for m, v in by_mark.items() if len(v) * 2 >= len(requests)}
        out[f"{span}_marks_us"] = dict(sorted(medians.items(), key=lambda kv: kv[1]))
    for key in ("request", "first", "last", "ttft", "upstream_answer", "upstream_content"):
        values = sorted(r[key] for r in rows)
        if values:
            out[f"{key}_us"] = {q: values[min(len(values) - 1, int(f * len(values)))]
                                for q, f in (("p25", 0.25), ("p50", 0.5), ("p75", 0.75))}
    return out
