"""The SSE parser gives the same events whatever the chunk boundaries and line endings."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.streaming import SSEComment, SSEEvent, SSEParser

text = st.text(alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=40)
event = st.tuples(st.one_of(st.none(), st.from_regex(r"[a-z_]{1,12}", fullmatch=True)), st.lists(text, min_size=1, max_size=3), st.booleans())


def render(events: list[tuple[str | None, list[str], bool]], newline: str) -> bytes:
    out = []
    for name, lines, comment in events:
        if comment:
            out.append(": keep-alive" + newline)
        if name:
            out.append(f"event: {name}{newline}")
        out.extend(f"data: {line}{newline}" for line in lines)
        out.append(newline)
    return "".join(out).encode()


def parse_all(payload: bytes, cuts: list[int]) -> list[SSEEvent | SSEComment]:
    parser = SSEParser()
    out: list[SSEEvent | SSEComment] = []
    last = 0
    for cut in sorted(set(c % (len(payload) + 1) for c in cuts)):
        out += parser.feed(payload[last:cut])
        last = cut
    out += parser.feed(payload[last:])
    out += parser.close()
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(event, min_size=1, max_size=6), st.sampled_from(["\n", "\r\n", "\r"]), st.lists(st.integers(0, 10_000), max_size=12))
def test_boundaries_and_line_endings_do_not_matter(events: list, newline: str, cuts: list[int]) -> None:
    payload = render(events, newline)
    expected = [
        item
        for name, lines, comment in events
        for item in ([SSEComment("keep-alive")] if comment else []) + [SSEEvent(data="\n".join(lines), event=name)]
    ]
    assert parse_all(payload, cuts) == expected


@settings(max_examples=300, deadline=None)  # no per-example deadline: CI machines are shared
@given(st.binary(max_size=300), st.lists(st.integers(0, 400), max_size=8))
def test_arbitrary_bytes_never_crash(payload: bytes, cuts: list[int]) -> None:
    parse_all(payload, cuts)


def test_multiline_data_and_fields() -> None:
    events = parse_all(b"id: 7\nretry: 100\nevent: message_start\ndata: a\ndata: b\n\n:c\ndata:x\n\n", [5, 20])
    assert events[0] == SSEEvent(data="a\nb", event="message_start", id="7", retry=100)
    assert events[1] == SSEComment("c")
    assert events[2] == SSEEvent(data="x", event=None, id="7")
