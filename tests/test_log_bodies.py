"""log.bodies: messages and answers kept redacted and capped (a pure function, so properties)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from proxy.store.bodies import TRUNCATED, capped, captured_bodies


def test_secrets_are_redacted_before_storing() -> None:
    messages = [{"role": "user", "content": "my key is sk-proj-abcdefghijklmnop and token hunter2-secret"}]
    got = captured_bodies(messages, "Use Bearer abc.def.ghi to call", 10_000, secrets=["hunter2-secret"])
    assert "sk-proj" not in got["request"] and "hunter2" not in got["request"]
    assert "abc.def" not in got["response"] and not got["truncated"]


def test_a_long_answer_is_capped() -> None:
    got = captured_bodies([], "é" * 5000, 1000, ())
    assert got["truncated"] and got["response"].endswith(TRUNCATED)
    assert len(got["response"].removesuffix(TRUNCATED).encode()) <= 1000


@given(st.text(), st.integers(min_value=0, max_value=300))
def test_capped_never_exceeds_the_cap_and_never_splits_a_character(text: str, cap: int) -> None:
    out, cut = capped(text, cap)
    body = out.removesuffix(TRUNCATED) if cut else out
    assert len(body.encode("utf-8", "surrogatepass")) <= cap or not cut and out == text
    assert text.startswith(body)
