"""The limiter against its reference model over random arrival sequences: in-process and in Redis."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from proxy.state import rules
from proxy.state.backend import Demand, Settlement
from proxy.state.local import LocalLimits
from proxy.state.redis_limits import RedisLimits
from proxy.state.reference import ReferenceLimiter
from tests.redis_server import RedisServer

WINDOW = 60.0
LEASE = 30.0

limits_st = st.builds(
    rules.KeyLimits,
    rpm=st.one_of(st.none(), st.integers(0, 8)),
    tpm=st.one_of(st.none(), st.integers(0, 400)),
    max_parallel=st.one_of(st.none(), st.integers(0, 4)),
    budget_nusd=st.one_of(st.none(), st.integers(0, 5_000)),
)
# (seconds since the previous event, action, estimate tokens, estimate cost, true tokens, true cost, which to settle)
event_st = st.tuples(
    st.floats(0, 25, allow_nan=False).map(lambda x: round(x, 3)),
    st.sampled_from(["admit", "admit", "settle"]),
    st.integers(0, 150), st.integers(0, 1_500), st.integers(0, 150), st.integers(0, 1_500), st.integers(0, 50),
)


def demand(limits: rules.KeyLimits, key_id: str, ticket: str, tokens: int, cost: int) -> Demand:
    return Demand(key_id=key_id, ticket=ticket, limits=limits, tokens=tokens, cost_nusd=cost, period_id=0,
                  spent_seed_nusd=0, lease_s=LEASE, window_s=WINDOW)


def replay(events: list[Any], limits: rules.KeyLimits, admit: Any, settle: Any) -> None:
    """Feed the same arrivals to a back end and the reference; every decision must agree."""
    ref = ReferenceLimiter(limits, WINDOW)
    now = 1_000.0
    open_tickets: list[str] = []
    for i, (dt, action, est_t, est_c, true_t, true_c, pick) in enumerate(events):
        now = round(now + dt, 3)
        if action == "settle" and open_tickets:
            ticket = open_tickets.pop(pick % len(open_tickets))
            ref.settle(ticket, true_t, true_c)
            settle(Settlement("k", ticket, true_t, true_c, 0), now)
            continue
        ticket = f"t{i}"
        expected = ref.admit(ticket, est_t, est_c, now, LEASE)
        decision = admit(demand(limits, "k", ticket, est_t, est_c), now)
        assert decision.refused_by == expected, (i, now, decision, expected)
        if decision.admitted:
            open_tickets.append(ticket)
    if limits.rpm is not None:
        assert ref.max_in_any_window() <= limits.rpm


@given(limits=limits_st, events=st.lists(event_st, max_size=60))
@settings(max_examples=300, deadline=None)
def test_local_limiter_matches_the_reference(limits: rules.KeyLimits, events: list[Any]) -> None:
    backend = LocalLimits()
    replay(events, limits, backend.admit_now, lambda done, now: backend.settle_now(done))


@pytest.fixture(scope="module")
def redis_loop(redis_server: RedisServer) -> Any:
    loop = asyncio.new_event_loop()
    client = Redis.from_url(redis_server.url)
    yield loop, RedisLimits(client)
    loop.run_until_complete(client.aclose())
    loop.close()


@given(limits=limits_st, events=st.lists(event_st, max_size=40))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_redis_limiter_matches_the_reference(redis_loop: Any, limits: rules.KeyLimits, events: list[Any]) -> None:
    loop, backend = redis_loop
    key_id = uuid.uuid4().hex  # a fresh key per example: Redis keeps state between them

    def admit(d: Demand, now: float) -> Any:
        return loop.run_until_complete(backend.admit(Demand(**{**_fields(d), "key_id": key_id}), now))

    def settle(done: Settlement, now: float) -> None:
        loop.run_until_complete(backend.settle(Settlement(key_id, done.ticket, done.tokens, done.cost_nusd, 0), now))

    replay(events, limits, admit, settle)


# Bursts: several admissions at the same instant, as the gateway batches them under load.
burst_st = st.lists(st.tuples(st.integers(1, 5), st.floats(0, 25, allow_nan=False).map(lambda x: round(x, 3)),
                              st.lists(st.tuples(st.integers(0, 150), st.integers(0, 1_500)), min_size=1, max_size=6)),
                    max_size=12)


@given(limits=limits_st, bursts=burst_st)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_redis_batched_admissions_match_the_reference(redis_loop: Any, limits: rules.KeyLimits,
                                                      bursts: list[Any]) -> None:
    """A batch (one script call per key, two keys interleaved in one pipeline, each key's settlements riding
    along or, for a key with no admission in the batch, alone) decides as one call a request would."""
    loop, backend = redis_loop
    keys = (uuid.uuid4().hex, uuid.uuid4().hex)
    refs = (ReferenceLimiter(limits, WINDOW), ReferenceLimiter(limits, WINDOW))
    now, open_tickets, n = 1_000.0, [], 0
    for settle_first, dt, burst in bursts:
        now = round(now + dt, 3)
        settles = []  # they ride in the same call, applied before the admissions (they came first)
        for _ in range(min(settle_first - 1, len(open_tickets))):
            ticket = open_tickets.pop(0)
            for key_id, ref in zip(keys, refs, strict=True):
                ref.settle(ticket, 1, 10)
                settles.append(Settlement(key_id, ticket, 1, 10, 0))
        tickets = [f"t{n + i}" for i in range(len(burst))]
        n += len(burst)
        demands = [demand(limits, key_id, t, tokens, cost) for t, (tokens, cost) in zip(tickets, burst, strict=True)
                   for key_id in keys[: 1 if settle_first == 5 else 2]]  # sometimes B only settles
        decisions = loop.run_until_complete(backend.admit_many(demands, settles, now=now))
        for i, (d, decision) in enumerate(zip(demands, decisions, strict=True)):
            expected = refs[keys.index(d.key_id)].admit(d.ticket, d.tokens, d.cost_nusd, now, LEASE)
            assert decision.refused_by == expected, (i, now, decision, expected)
        admitted_by_both = [t for t in tickets if all(t in {d.ticket for d, dec in zip(demands, decisions, strict=True)
                                                            if dec.admitted and d.key_id == k} for k in keys)]
        open_tickets += admitted_by_both


def _fields(d: Demand) -> dict[str, Any]:
    return {f: getattr(d, f) for f in d.__dataclass_fields__}


@given(times=st.lists(st.floats(0, 300, allow_nan=False), max_size=80), rpm=st.integers(1, 10))
@settings(max_examples=300, deadline=None)
def test_no_window_admits_more_than_rpm(times: list[float], rpm: int) -> None:
    """Whatever the arrivals, no 60-second window holds more than rpm admissions, and a request is
    refused only when its window is full."""
    backend = LocalLimits()
    lim = rules.KeyLimits(rpm=rpm)
    admitted: list[float] = []
    for i, t in enumerate(sorted(times)):
        in_window = sum(1 for a in admitted if t - WINDOW < a <= t)
        d = backend.admit_now(demand(lim, "k", f"t{i}", 1, 0), t)
        assert d.admitted == (in_window < rpm)
        if d.admitted:
            admitted.append(t)
    for t in admitted:
        assert sum(1 for a in admitted if t - WINDOW < a <= t) <= rpm


def test_budget_reservation_then_settlement() -> None:
    """Reserve the estimate, settle the truth: a request that fits after a settlement is admitted."""
    backend = LocalLimits()
    lim = rules.KeyLimits(budget_nusd=1000)
    assert backend.admit_now(demand(lim, "k", "a", 10, 600), 0.0).admitted
    # 600 reserved of 1000: another 600 does not fit while the first is in flight
    assert backend.admit_now(demand(lim, "k", "b", 10, 600), 0.1).refused_by == "budget"
    backend.settle_now(Settlement("k", "a", 10, 200, 0))  # the true cost was 200
    assert backend.admit_now(demand(lim, "k", "c", 10, 600), 0.2).admitted
    # a stale reservation (its replica died) expires with its lease instead of refusing for ever
    assert backend.admit_now(demand(lim, "k", "d", 10, 600), 0.3).refused_by == "budget"
    assert backend.admit_now(demand(lim, "k", "e", 10, 600), 0.3 + LEASE).admitted


def test_high_estimate_alone_is_admitted_while_budget_remains() -> None:
    backend = LocalLimits()
    lim = rules.KeyLimits(budget_nusd=1000)
    d = backend.admit_now(demand(lim, "k", "a", 10, 5000), 0.0)
    assert d.admitted  # nothing else in flight and 1000 left: a worst-case estimate must not refuse it
    backend.settle_now(Settlement("k", "a", 10, 1200, 0))
    assert backend.admit_now(demand(lim, "k", "b", 10, 1), 1.0).refused_by == "budget"


def test_periods_reset_at_utc_boundaries() -> None:
    now = datetime(2026, 12, 2, 23, 59, 59, tzinfo=UTC)
    assert rules.period_start("day", now) == datetime(2026, 12, 2, tzinfo=UTC)
    assert rules.period_end("day", now) == datetime(2026, 12, 3, tzinfo=UTC)
    assert rules.period_start("week", now) == datetime(2026, 11, 30, tzinfo=UTC)  # a Monday
    assert rules.period_start("month", now) == datetime(2026, 12, 1, tzinfo=UTC)
    assert rules.period_end("month", now) == datetime(2027, 1, 1, tzinfo=UTC)
    assert rules.period_start(None, now).year == 1970 and rules.period_end(None, now) is None
    assert rules.period_id("day", now) != rules.period_id("day", datetime(2026, 12, 3, 0, 0, 1, tzinfo=UTC))


def test_output_reservation_and_shares() -> None:
    assert rules.output_tokens_to_reserve(500, 120) == 120
    assert rules.output_tokens_to_reserve(100, 120) == 100
    assert rules.output_tokens_to_reserve(None, None) == rules.DEFAULT_OUTPUT_GUESS
    assert rules.p95(range(10)) is None
    assert rules.p95(range(1, 101)) == 95
    shared = rules.KeyLimits(rpm=21, tpm=None, max_parallel=1, budget_nusd=10).shared(2)
    assert (shared.rpm, shared.tpm, shared.max_parallel, shared.budget_nusd) == (10, None, 0, 5)


def test_a_lagging_store_poll_never_lowers_the_spend_counted_here() -> None:
    """The spend writer batches, so a poll of the store can report less than this process settled;
    the budget must still refuse the request that would go over it."""
    from proxy.state.backend import Demand, Settlement
    from proxy.state.local import LocalLimits
    from proxy.state.rules import KeyLimits

    local = LocalLimits()
    limits = KeyLimits(budget_nusd=20_000_000)  # $0.02

    def demand(ticket: str) -> Demand:
        return Demand("k", ticket, limits, 10, 1_000_000, 0, 0, 600.0)

    for i in range(4):
        assert local.admit_now(demand(f"t{i}"), float(i)).admitted
        local.settle_now(Settlement("k", f"t{i}", 10, 5_000_000, 0))  # $0.005 each: $0.02 in all
    local.sync_spent("k", 0, 15_000_000)  # the store has three of them so far
    assert not local.admit_now(demand("t4"), 4.0).admitted


def test_a_poll_of_a_key_with_no_spend_yet_keeps_this_periods_spend() -> None:
    """A new key's record says spend 0 of period 0 until its first spend reaches the store; a poll
    in that window must not wipe what this process counted for the current period."""
    from proxy.state.backend import Demand, Settlement
    from proxy.state.local import LocalLimits
    from proxy.state.rules import KeyLimits

    local = LocalLimits()
    limits = KeyLimits(budget_nusd=10_000_000)  # $0.01
    day = 1_764_633_600  # the current period's start

    def demand(ticket: str) -> Demand:
        return Demand("k", ticket, limits, 10, 1_000_000, day, 0, 600.0)

    for i in range(2):
        assert local.admit_now(demand(f"t{i}"), float(i)).admitted
        local.settle_now(Settlement("k", f"t{i}", 10, 5_000_000, day))  # $0.005 each: the whole budget
    local.sync_spent("k", 0, 0)  # the record as issued: no spend, no period yet
    assert local.admit_now(demand("t2"), 2.0).refused_by == "budget"
