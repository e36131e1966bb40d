"""Model routing: config parsing, prompt extraction, the Rust Router's choices, and `auto` end to end."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from proxy.call import canonical_preference as normalise_preference
from proxy.call import parse_routing_config
from proxy.errors import GatewayError
from proxy.routing.model_routing import (
    extract_prompt,
    load_catalog_specs,
    new_router,
)
from tests.gateway_harness import GatewayHarness, simple_model

Router = pytest.importorskip("proxy._scorer").Router

EASY = "What is the capital of France?"
HARD = (
    "For which of these two scenarios does the main character (who uses I/me/my) do something clearly "
    "morally wrong, according to ordinary moral standards in the US as of 2020? Scenario 1 | I kept the "
    "extra change the cashier gave me by mistake. Scenario 2 | I read my sister's diary while she slept.\n"
    "A. Wrong, Wrong\nB. Wrong, Not wrong\nC. Not wrong, Wrong\nD. Not wrong, Not wrong\nAnswer:"
)
WEAK, STRONG = "mistralai/mixtral-8x7b-instruct", "openai/gpt-4-turbo"
POOL = [WEAK, STRONG, "openai/gpt-4o-mini", "openai/gpt-4o", "meta-llama/llama-3.1-8b-instruct"]


# -- parse_routing_config ---------------------------------------------------------------------------
KNOWN = {WEAK, STRONG, "openai/gpt-4o"}


@pytest.mark.parametrize(
    ("cfg", "headers", "pool", "preference"),
    [
        ({"available_models": [WEAK, STRONG]}, {}, (WEAK, STRONG), "balanced"),
        ({"models": [WEAK, STRONG], "preference": "price"}, {}, (WEAK, STRONG), "price"),
        ({"preference": "performance"}, {}, None, "quality"),
        ({"preference": "cost"}, {}, None, "price"),
        ({}, {"X-Switchyard-Strategy": "speed"}, None, "speed"),
        ({"preference": "quality"}, {"x-switchyard-strategy": "price"}, None, "quality"),  # body wins
        (None, {}, None, "balanced"),
    ],
)
def test_parse_routing_config(cfg: Any, headers: dict[str, str], pool: Any, preference: str) -> None:
    body = {"model": "auto"} if cfg is None else {"model": "auto", "model_routing_config": cfg}
    req = parse_routing_config(body, headers, known=KNOWN)
    assert (req.pool, req.preference) == (pool, preference)


@pytest.mark.parametrize(
    ("cfg", "headers", "param"),
    [
        ({"available_models": [WEAK]}, {}, "model_routing_config.available_models"),
        ({"models": [WEAK, WEAK]}, {}, "model_routing_config.models"),
        ({"available_models": [WEAK, "nope/model"]}, {}, "model_routing_config.available_models[1]"),
        ({"available_models": "openai/gpt-4o"}, {}, "model_routing_config.available_models"),
        ({"preference": "cheapest"}, {}, "model_routing_config.preference"),
        ({}, {"x-switchyard-strategy": "fastest"}, "x-switchyard-strategy"),
        ("balanced", {}, "model_routing_config"),
    ],
)
def test_parse_routing_config_errors_name_the_field(cfg: Any, headers: dict[str, str], param: str) -> None:
    with pytest.raises(GatewayError) as err:
        parse_routing_config({"model": "auto", "model_routing_config": cfg}, headers, known=KNOWN)
    assert err.value.status == 400
    assert err.value.param == param
    assert param.split("[")[0] in err.value.message


def test_extract_prompt_reads_messages_and_request_fields() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "first answer"},
            {"role": "user", "content": [
                {"type": "text", "text": "What is in this picture?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            ]},
        ],
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "response_format": {"type": "json_object"},
        "max_tokens": 77,
    }
    p = extract_prompt(body)
    assert p.text == "What is in this picture?"
    assert "first answer" in p.context and "You are terse." in p.context
    assert (p.turns, p.images, p.tools, p.json_mode, p.max_tokens) == (2, 1, 1, True, 77)
    assert p.system_chars == len("You are terse.")


# -- the Router with the shipped weights and the bundled catalogue --------------------------------------
@pytest.fixture(scope="module")
def router() -> Any:
    r = new_router()
    for spec in load_catalog_specs():
        r.add_model(**spec.model_kwargs())
    return r


@pytest.fixture(scope="module")
def offers() -> list[tuple[str, str, float, float, float, float, bool]]:
    return [s.cheapest_offer()[:4] + (400.0, 80.0, True) for s in load_catalog_specs(POOL)]


def top(decision: dict[str, Any]) -> str:
    return str(decision["candidates"][0][0])


def test_the_prompt_is_not_ignored(router: Any, offers: Any) -> None:
    easy = router.route(EASY, offers, preference="balanced")
    hard = router.route(HARD, offers, preference="balanced")
    assert hard["difficulty"] > easy["difficulty"] + 0.05  # v2's difficulty: a model of average ability
    assert top(easy) != top(hard)
    q = {row[0]: row[2] for row in hard["candidates"]}
    assert q[top(hard)] > {row[0]: row[2] for row in easy["candidates"]}[top(easy)] - 0.5
    prices = {o[0]: o[2] + o[3] for o in offers}
    assert prices[top(easy)] < prices[top(hard)], "balanced: easy goes cheap, hard goes strong"


def test_quality_picks_the_strongest(router: Any, offers: Any) -> None:
    for text in (EASY, HARD):
        d = router.route(text, offers, preference="quality")
        # The highest *predicted* quality on this prompt (issue 17: catalogue quality is only a prior).
        assert top(d) == max(d["candidates"], key=lambda r: r[2])[0]
        assert top(d) in ("openai/gpt-4o", "openai/gpt-4-turbo")
        performance = normalise_preference("performance", "preference")  # aliases resolve before Rust
        assert router.route(text, offers, preference=performance)["candidates"] == d["candidates"]


def test_price_picks_the_cheapest_adequate(router: Any, offers: Any) -> None:
    d = router.route(EASY, offers, preference="price")
    rows = d["candidates"]
    best_q = max(r[2] for r in rows)
    adequate = [r for r in rows if r[2] >= best_q - 0.15]
    assert top(d) == min(adequate, key=lambda r: r[3])[0]
    assert rows[0][3] < max(r[3] for r in rows)


def test_candidates_are_in_rank_order_with_every_offer(router: Any, offers: Any) -> None:
    d = router.route(HARD, offers, preference="balanced")
    assert len(d["candidates"]) == len(offers)
    scores = [r[5] for r in d["candidates"]]
    assert scores == sorted(scores, reverse=True)


def test_context_window_filter(router: Any, offers: Any) -> None:
    long_prompt = "Summarise the following notes. " + "The committee met and discussed the budget at length. " * 4000
    d = router.route(long_prompt, offers, preference="quality")
    assert {m for m, why in d["rejected"]} == {WEAK}  # Mixtral's 32k window cannot hold ~40k tokens
    assert all(r[0] != WEAK for r in d["candidates"])
    # The requested output counts too: gpt-4-turbo's max output is 4,096.
    d = router.route(EASY, offers, preference="quality", max_tokens=10_000)
    assert (STRONG, "max_output") in d["rejected"]


@pytest.mark.parametrize(
    ("need", "dropped"),
    [({"tools": True}, {WEAK}), ({"vision": True}, {WEAK, "meta-llama/llama-3.1-8b-instruct"})],
)
def test_capability_filters(router: Any, offers: Any, need: dict[str, bool], dropped: set[str]) -> None:
    d = router.route(EASY, offers, preference="price", **need)
    assert {m for m, _ in d["rejected"]} == dropped
    assert not dropped & {r[0] for r in d["candidates"]}


def test_unhealthy_models_rank_last(router: Any, offers: Any) -> None:
    sick = [o[:6] + (o[0] != "openai/gpt-4o",) for o in offers]
    d = router.route(HARD, sick, preference="quality")
    assert d["candidates"][-1][0] == "openai/gpt-4o"
    assert len(d["candidates"]) == len(offers)


def test_bad_preference_is_a_value_error(router: Any, offers: Any) -> None:
    with pytest.raises(ValueError, match="preference"):
        router.route(EASY, offers, preference="cheapest")


# -- end to end: the real gateway, the real openai SDK ---------------------------------------------
FAST = {"ttft_ms": 5.0, "tokens_per_s": 5000.0, "chunks": 4}


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayHarness]:
    harness = GatewayHarness(
        providers={"cheap-host": {"knobs": FAST}, "big-host": {"knobs": FAST}},
        models={
            "test/small": simple_model({"cheap-host": "small-1"}, quality=0.55, prices={"cheap-host": (0.1, 0.2)},
                                       capabilities={"tools": False, "vision": False, "json": True}),
            "test/large": simple_model({"big-host": "large-1"}, quality=0.9, prices={"big-host": (10.0, 30.0)},
                                       context_window=128000),
        },
    ).start()
    yield harness
    harness.stop()


def auto_body(text: str, **cfg: Any) -> dict[str, Any]:
    return {"model": "auto", "messages": [{"role": "user", "content": text}],
            "model_routing_config": {"available_models": ["test/small", "test/large"], **cfg}}


def test_openai_sdk_auto_follows_difficulty_and_preference(gateway: GatewayHarness) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=gateway.url, api_key="unused", max_retries=0)

    def ask(text: str, **cfg: Any) -> tuple[str, str]:
        raw = client.chat.completions.with_raw_response.create(
            model="auto", messages=[{"role": "user", "content": text}],
            extra_body={"model_routing_config": {"available_models": ["test/small", "test/large"], **cfg}},
        )
        completion = raw.parse()
        assert completion.choices[0].message.content
        return completion.model, raw.headers["x-switchyard-route"]

    # v2 (issue 17): preferences are points on one price of quality, so which model a prompt gets at `balanced`
    # depends on its estimated cost as well as its difficulty; what must hold is that the hard prompt's
    # predicted gain from the large model is the larger, and that a lower tradeoff never picks a dearer model.
    def difficulty(reason: str) -> float:
        return float(reason.split("difficulty=")[1].split(";")[0])

    easy_model, easy_reason = ask(EASY, tradeoff=0.05)
    hard_model, hard_reason = ask(HARD, tradeoff=0.05)
    assert easy_model == "test/small" and difficulty(hard_reason) > difficulty(easy_reason)
    assert easy_reason.startswith("tradeoff=0.05; difficulty=") and "picked=test/small over 1 other" in easy_reason
    assert ask(EASY)[1].startswith("pref=balanced; difficulty=")
    assert ask(EASY, preference="quality")[0] == "test/large"
    assert ask(HARD, preference="quality")[0] == "test/large"
    assert ask(EASY, preference="cost")[0] == "test/small"
    assert ask(EASY, tradeoff=0.0)[0] == "test/small"


def test_specialty_names_match_the_scorer_task_signals(router: Any) -> None:
    from typing import get_args

    from proxy.config import Specialty

    assert list(get_args(Specialty)) == list(router.features("x")["signals"])
    with pytest.raises(ValueError, match="unknown specialty"):
        router.add_model("test/odd", [0.0] * len(router.ability_of("openai/gpt-4o")[0]), 0.0, 8000, 1000,
                         specialty="poetry")


def test_a_code_specialist_answers_code_and_not_translation() -> None:
    """Two models of the same catalogue quality; the coder is cheaper. It wins a coding prompt and loses a
    translation prompt under `balanced`; without `specialty: code` it would win both (checked below)."""
    pool = ["test/coder", "test/general"]
    models = {
        "test/coder": simple_model({"cheap-host": "coder-1"}, quality=0.75, prices={"cheap-host": (0.5, 1.0)},
                                   specialty="code"),
        "test/general": simple_model({"big-host": "general-1"}, quality=0.75, prices={"big-host": (1.0, 2.0)}),
    }
    code = "Write a Python function that parses this JSON file and returns its keys; fix the bug in my code."
    prose = "Translate 'good morning, my friend, how was your trip?' into French, please."
    for specialty, expected in (("code", ("test/coder", "test/general")), (None, ("test/coder", "test/coder"))):
        models["test/coder"]["specialty"] = specialty
        harness = GatewayHarness(providers={"cheap-host": {"knobs": FAST}, "big-host": {"knobs": FAST}},
                                 models=models).start()
        try:
            chosen = []
            for text in (code, prose):
                body = {"model": "auto", "messages": [{"role": "user", "content": text}],
                        "model_routing_config": {"available_models": pool, "preference": "balanced"}}
                status, _, answer = harness.raw("POST", "/v1/chat/completions", body)
                assert status == 200, answer
                chosen.append(answer["model"])
        finally:
            harness.stop()
        assert tuple(chosen) == expected, (specialty, chosen)


def test_auto_falls_back_to_the_next_model(gateway: GatewayHarness) -> None:
    gateway.set_knobs("cheap-host", error_rate=1.0, error_status=500)
    try:
        # tradeoff 0: the cheap model first, so its failure falls back to the large one
        status, headers, body = gateway.raw("POST", "/v1/chat/completions", auto_body(EASY, tradeoff=0.0))
    finally:
        gateway.set_knobs("cheap-host", error_rate=0.0)
    assert status == 200, body
    assert body["model"] == "test/large"
    assert "picked=test/small" in headers["x-switchyard-route"]


def test_route_dry_run_shape(gateway: GatewayHarness) -> None:
    before = gateway.counters("big-host").requests if hasattr(gateway.counters("big-host"), "requests") else None
    status, headers, body = gateway.raw("POST", "/v1/route", auto_body(HARD, preference="balanced"))
    assert status == 200, body
    assert set(body) >= {"chosen", "reason", "features", "candidates"}
    assert body["chosen"] == "test/large" and body["reason"] == headers["x-switchyard-route"]
    assert [c["model"] for c in body["candidates"]] == ["test/large", "test/small"]
    for c in body["candidates"]:
        assert set(c) >= {"model", "provider", "predicted_quality", "estimated_cost_usd", "estimated_latency_ms", "score"}
        assert 0.0 <= c["predicted_quality"] <= 1.0 and c["estimated_cost_usd"] > 0
    f = body["features"]
    assert f["est_tokens"] > 50 and f["language"] == "en" and f["turns"] == 1 and 0 <= f["difficulty"] <= 1
    if before is not None:
        assert gateway.counters("big-host").requests == before, "a dry run calls nothing upstream"


def test_route_filters_end_to_end(gateway: GatewayHarness) -> None:
    tools = {**auto_body(EASY, preference="price"), "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}
    status, _, body = gateway.raw("POST", "/v1/route", tools)
    assert status == 200 and body["chosen"] == "test/large"
    assert {"model": "test/small", "reason": "tools"} in body["rejected"]
    long_text = "Please summarise. " + "The quarterly figures were discussed in detail by the board. " * 3500
    status, _, body = gateway.raw("POST", "/v1/route", auto_body(long_text, preference="price"))
    assert status == 200 and body["chosen"] == "test/large"
    assert {"model": "test/small", "reason": "context_window"} in body["rejected"]


@pytest.mark.parametrize(
    ("cfg", "param"),
    [
        ({"available_models": ["test/small"]}, "model_routing_config.available_models"),
        ({"available_models": ["test/small", "test/nope"]}, "model_routing_config.available_models[1]"),
        ({"available_models": ["test/small", "test/large"], "preference": "fast"}, "model_routing_config.preference"),
    ],
)
def test_auto_config_errors_are_400s_naming_the_field(gateway: GatewayHarness, cfg: dict[str, Any], param: str) -> None:
    body = {"model": "auto", "messages": [{"role": "user", "content": "hi"}], "model_routing_config": cfg}
    for path in ("/v1/chat/completions", "/v1/route"):
        status, _, payload = gateway.raw("POST", path, body)
        assert status == 400, payload
        assert payload["error"]["param"] == param
