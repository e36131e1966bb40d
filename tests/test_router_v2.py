"""Routing v2 at the edges a user touches: the tradeoff knob, max_cost_usd and min_quality through the real
gateway, `switchyard router fit` + `routing.router_path`, every catalogue model's ability source, and the
Rust WordPiece/embedding pass against its Python reference on arbitrary text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.router_v2 import represent, wordpiece
from proxy.routing.model_routing import load_catalog_specs, load_weights, new_router
from tests.gateway_harness import GatewayHarness, simple_model

pytest.importorskip("proxy._scorer")

FAST = {"ttft_ms": 5.0, "tokens_per_s": 5000.0, "chunks": 4}
POOL = ["test/small", "test/large"]
HARD = ("A thin uniform rod of mass M and length L pivots about one end. Derive its angular frequency for small "
        "oscillations and compare it with a simple pendulum of the same length.\nA. sqrt(3g/2L)\nB. sqrt(g/L)")


@pytest.fixture(scope="module")
def table() -> represent.StaticTable:
    return represent.StaticTable.load()


@pytest.fixture(scope="module")
def router() -> Any:
    return new_router()


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_embedding_pass_matches_the_reference_on_any_text(router: Any, table: represent.StaticTable, text: str) -> None:
    s = router.score(text)
    assert s["embedding_tokens"] == len(wordpiece.token_ids(text, table.vocab))
    assert s["embedding"] == pytest.approx(list(table.embed(text)), abs=1e-9)


WORDY = st.lists(
    st.one_of(
        st.sampled_from(["Write", "should", "MUST", "words", "the", "bronchodilator", "unbelievable", "naïve", "x" * 30,
                         "```", "$x$", "\\frac", "?", "Q:", "summarise", "refactor", "1450", "A."]),
        st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCXYZ0129é#", min_size=1, max_size=30),
    ),
    max_size=700,
)


@settings(max_examples=40, deadline=None)
@given(WORDY, st.sampled_from([" ", "\n", ", ", "-"]))
def test_embedding_and_form_match_the_reference_on_long_wordy_text(router: Any, table: represent.StaticTable,
                                                                   words: list[str], sep: str) -> None:
    """Past the 512-word limit, with word pieces, form words in any case, and markers across the text."""
    text = sep.join(words)
    s = router.score(text)
    assert s["embedding_tokens"] == len(wordpiece.token_ids(text, table.vocab))
    assert s["embedding"] == pytest.approx(list(table.embed(text)), abs=1e-9)
    assert s["form"] == pytest.approx(represent.form_features(text), abs=1e-12)


def test_every_catalogue_model_has_an_ability_source() -> None:
    w = load_weights()
    for spec in load_catalog_specs(weights=w):
        assert spec.config.router is not None, f"{spec.slug}: no router source in the catalogue"
        source = spec.ability.source
        assert source.startswith(("data: ", "proxy: ", "mmlu_pro ")), (spec.slug, source)
        assert len(spec.ability.a) == w["k"]


# -- through the gateway -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayHarness]:
    harness = GatewayHarness(
        providers={"cheap-host": {"knobs": FAST}, "big-host": {"knobs": FAST}},
        models={
            "test/small": simple_model({"cheap-host": "small-1"}, router={"mmlu_pro": 0.45},
                                       prices={"cheap-host": (0.1, 0.2)}),
            "test/large": simple_model({"big-host": "large-1"}, router={"mmlu_pro": 0.85},
                                       prices={"big-host": (10.0, 30.0)}),
        },
    ).start()
    yield harness
    harness.stop()


def route(gw: GatewayHarness, text: str = HARD, headers: dict[str, str] | None = None, **cfg: Any) -> tuple[int, Any]:
    body = {"model": "auto", "messages": [{"role": "user", "content": text}],
            "model_routing_config": {"available_models": POOL, **cfg}}
    status, _, payload = gw.raw("POST", "/v1/route", body, headers=headers or {})
    return status, payload


def test_tradeoff_runs_from_cheapest_to_best(gateway: GatewayHarness) -> None:
    assert route(gateway, tradeoff=0.0)[1]["chosen"] == "test/small"
    assert route(gateway, tradeoff=1.0)[1]["chosen"] == "test/large"
    # It wins over the preference, and the candidates carry predicted quality and estimated cost.
    status, body = route(gateway, tradeoff=0.0, preference="quality")
    assert status == 200 and body["chosen"] == "test/small" and body["tradeoff"] == 0.0
    assert body["reason"].startswith("tradeoff=0;")
    for c in body["candidates"]:
        assert 0 < c["predicted_quality"] < 1 and c["estimated_cost_usd"] > 0 and c["ability_source"]
    large = {c["model"]: c for c in body["candidates"]}["test/large"]
    assert large["predicted_quality"] > {c["model"]: c for c in body["candidates"]}["test/small"]["predicted_quality"]


def test_max_cost_usd_caps_the_estimated_cost(gateway: GatewayHarness) -> None:
    status, open_body = route(gateway, tradeoff=1.0)
    costs = {c["model"]: c["estimated_cost_usd"] for c in open_body["candidates"]}
    status, body = route(gateway, tradeoff=1.0, max_cost_usd=costs["test/small"] * 2)
    assert status == 200 and body["chosen"] == "test/small"
    assert {"model": "test/large", "reason": "max_cost_usd"} in body["rejected"]
    status, err = route(gateway, tradeoff=1.0, max_cost_usd=costs["test/small"] / 10)
    assert status == 400 and err["error"]["param"] == "model_routing_config.max_cost_usd"
    assert "test/small" in err["error"]["message"] and f"{costs['test/small']:.6f}" in err["error"]["message"]


def test_min_quality_sets_a_floor(gateway: GatewayHarness) -> None:
    status, open_body = route(gateway, tradeoff=0.0)
    q = {c["model"]: c["predicted_quality"] for c in open_body["candidates"]}
    status, body = route(gateway, tradeoff=0.0, min_quality=(q["test/small"] + q["test/large"]) / 2)
    assert status == 200 and body["chosen"] == "test/large"
    assert {"model": "test/small", "reason": "min_quality"} in body["rejected"]
    status, err = route(gateway, tradeoff=0.0, min_quality=0.9999)
    assert status == 400 and err["error"]["param"] == "model_routing_config.min_quality"
    assert "test/large" in err["error"]["message"] and f"{q['test/large']:.3f}" in err["error"]["message"]


@pytest.mark.parametrize(
    ("cfg", "param"),
    [({"tradeoff": 1.5}, "tradeoff"), ({"tradeoff": "high"}, "tradeoff"), ({"max_cost_usd": -1}, "max_cost_usd"),
     ({"min_quality": 2}, "min_quality"), ({"min_quality": True}, "min_quality")],
)
def test_bad_knobs_are_400s_naming_the_field(gateway: GatewayHarness, cfg: dict[str, Any], param: str) -> None:
    status, err = route(gateway, **cfg)
    assert status == 400 and err["error"]["param"] == f"model_routing_config.{param}"


# -- router fit + routing.router_path ------------------------------------------------------------------------
def test_router_fit_two_new_models_changes_routing(tmp_path: Path) -> None:
    """Two models new to the router, equal on every prior; the evals say `test/mathy` is right on maths and
    wrong on prose, and `test/wordy` the reverse. After `router fit`, /v1/route follows the evals."""
    from proxy.__main__ import main

    models = {
        "test/mathy": simple_model({"cheap-host": "m-1"}, quality=0.7, prices={"cheap-host": (1.0, 1.0)}),
        "test/wordy": simple_model({"big-host": "w-1"}, quality=0.7, prices={"big-host": (1.0, 1.0)}),
    }
    config = tmp_path / "my.yaml"
    providers = {slug: {"base_url": "http://127.0.0.1:9/v1"} for slug in ("cheap-host", "big-host")}
    config.write_text(json.dumps({"providers": providers, "models": models}))
    maths = ["Solve for x: 3x + 7 = 22.", "Compute the integral of x^2 from 0 to 3.", "What is 17 times 23?",
             "Find the derivative of sin(x) * x^2.", "If a train travels 120 km in 1.5 hours, what is its speed?",
             "Factor the polynomial x^2 - 5x + 6.", "What is the probability of two heads in three coin flips?",
             "Simplify (2x^3)(4x^2) / 8x."]
    prose = ["Write a short poem about the sea at dawn.", "Describe your favourite season and why.",
             "Write a friendly email inviting a colleague to lunch.", "Tell a story about a lost umbrella.",
             "Summarise the plot of a heist film in three sentences.", "Write a haiku about autumn leaves.",
             "Draft a toast for a friend's wedding.", "Describe a quiet village market in spring."]
    data = tmp_path / "evals.jsonl"
    rows = [{"prompt": p, "scores": {"test/mathy": 1, "test/wordy": 0}} for p in maths]
    rows += [{"prompt": p, "scores": {"test/mathy": 0, "test/wordy": 1}} for p in prose]
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "router.json"
    assert main(["router", "fit", "--config", str(config), "--data", str(data), "--out", str(out)]) == 0
    fitted = json.loads(out.read_text())
    assert set(fitted["models"]) == {"test/mathy", "test/wordy"}

    def chosen(extra: dict[str, Any]) -> tuple[str, str]:
        harness = GatewayHarness(providers={"cheap-host": {"knobs": FAST}, "big-host": {"knobs": FAST}},
                                 models=models, extra_config=extra).start()
        try:
            picks = []
            for text in ("Solve 5x - 3 = 12 for x.", "Write a short poem about a rainy afternoon."):
                body = {"model": "auto", "messages": [{"role": "user", "content": text}],
                        "model_routing_config": {"available_models": list(models), "tradeoff": 1.0}}
                status, _, payload = harness.raw("POST", "/v1/route", body)
                assert status == 200, payload
                picks.append(payload["chosen"])
            return picks[0], picks[1]
        finally:
            harness.stop()

    before = chosen({})
    after = chosen({"routing": {"router_path": str(out)}})
    assert after == ("test/mathy", "test/wordy"), after
    assert before != after


def test_router_fit_bad_rows_name_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from proxy.__main__ import main

    data = tmp_path / "evals.jsonl"
    data.write_text('{"prompt": "hi", "scores": {"openai/gpt-4o": 1}}\n{"prompt": "x", "scores": {"nope/model": 1}}\n')
    assert main(["router", "fit", "--data", str(data), "--out", str(tmp_path / "o.json")]) == 2
    assert "evals.jsonl:2: scores.nope/model" in capsys.readouterr().err
