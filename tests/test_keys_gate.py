"""The key gate over a real catalogue: allow-list matching after alias resolution, pins, `auto`'s
pool narrowed to the allow-list, and the reservation priced at the dearest reachable route."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from proxy.config import StateConfig
from proxy.errors import GatewayError
from proxy.keys.enforce import Enforcer
from proxy.keys.gate import KeyGate, dearest_prices
from proxy.keys.registry import KeyRegistry
from proxy.state.shared import SharedState
from proxy.store.keys import KeyRecord
from tests.gateway_harness import GatewayHarness, simple_model

MESSAGES = [{"role": "user", "content": "x" * 400}]


@pytest.fixture(scope="module")
def gw() -> Iterator[GatewayHarness]:
    h = GatewayHarness(
        providers={"p-one": {}, "p-two": {}},
        models={
            "acme/alpha": simple_model({"p-one": "a1", "p-two": "a2"}, prices={"p-one": (1.0, 2.0), "p-two": (3.0, 8.0)}),
            "acme/beta": simple_model({"p-one": "b1"}),
            "other/gamma": simple_model({"p-two": "g2"}),
        },
    ).start()
    yield h
    h.stop()


def gate_for(gw: GatewayHarness, **key: Any) -> tuple[KeyGate, KeyRecord]:
    rec = KeyRecord("key_1", "team", "00", 1, 1, **key)
    registry = KeyRegistry()
    registry.apply(rec)
    return KeyGate(Enforcer(registry, SharedState(StateConfig())), gw.gateway.catalog), rec


def enter(gw: GatewayHarness, gate: KeyGate, rec: KeyRecord, model: str, pool: list[str] | None = None) -> Any:
    return gw.call(gate.enter(rec, model=model, auto_pool=pool, messages=MESSAGES, max_tokens=100))


def test_allow_list_matches_slugs_after_resolution(gw: GatewayHarness) -> None:
    gate, rec = gate_for(gw, models=("acme/*",))
    assert enter(gw, gate, rec, "acme/alpha").admission is None  # no limits: nothing to count
    assert enter(gw, gate, rec, "beta").auto_pool is None  # a short name resolves to acme/beta
    assert enter(gw, gate, rec, "acme/alpha:p-two") is not None  # a pin is allowed when its model is
    with pytest.raises(GatewayError) as err:
        enter(gw, gate, rec, "other/gamma")
    assert err.value.status == 403 and err.value.code == "model_not_allowed" and err.value.param == "model"
    with pytest.raises(GatewayError) as err:
        enter(gw, gate, rec, "gamma:p-two")
    assert err.value.status == 403


def test_auto_routes_only_among_allowed_models(gw: GatewayHarness) -> None:
    gate, rec = gate_for(gw, models=("acme/beta", "other/*"))
    assert set(enter(gw, gate, rec, "auto").auto_pool) == {"acme/beta", "other/gamma"}
    assert enter(gw, gate, rec, "auto", ["acme/alpha", "acme/beta"]).auto_pool == ("acme/beta",)
    with pytest.raises(GatewayError) as err:
        enter(gw, gate, rec, "auto", ["acme/alpha"])
    assert err.value.status == 400 and err.value.code == "no_allowed_model"
    open_gate, open_rec = gate_for(gw)
    assert enter(gw, open_gate, open_rec, "auto").auto_pool is None  # no allow-list: the pool stays as asked


def test_reservation_uses_the_dearest_reachable_route(gw: GatewayHarness) -> None:
    catalog = gw.gateway.catalog
    assert dearest_prices(catalog, ["acme/alpha"]) == (3.0, 8.0)
    assert dearest_prices(catalog, ["acme/alpha"], pin="p-one") == (1.0, 2.0)
    gate, rec = gate_for(gw, budget_nusd=10**9, rpm=100)
    kp = enter(gw, gate, rec, "acme/alpha")
    # 400 chars ~ 100 prompt tokens + 4 framing, 100 output tokens (max_tokens; no history yet)
    assert kp.admission.decision.reserved_nusd == round((104 * 3.0 + 100 * 8.0) / 1e6 * 1e9)
    assert kp.headers["x-ratelimit-limit-requests"] == "100"
    assert kp.headers["x-ratelimit-remaining-requests"] == "99"
