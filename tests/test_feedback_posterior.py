"""The Bayesian update behind learning from feedback (proxy/routing/feedback_posterior.py) and the signal
rules (proxy/routing/feedback_learner.py): pure functions, unit and property tests."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.routing.feedback_learner import implicit_signal
from proxy.routing.feedback_posterior import (
    Posterior,
    ability_shift,
    decay,
    dot,
    features,
    observe,
    prior_precision,
    sigmoid,
    solve,
)

DIMS = 5  # k = 4 (the learner reads k from the weights; nothing here assumes 16)
PRIOR = prior_precision(DIMS)
coord = st.floats(-3.0, 3.0, allow_nan=False)
feature = st.lists(coord, min_size=DIMS - 1, max_size=DIMS - 1).map(lambda v: [*v, 1.0])
label = st.floats(0.0, 1.0)
weight = st.floats(0.05, 2.0)
logit = st.floats(-4.0, 4.0)
event = st.tuples(feature, logit, label, weight)


def run(events: list[tuple[list[float], float, float, float]]) -> Posterior:
    post = Posterior.new(PRIOR)
    for x, f0, y, w in events:
        post = observe(post, x, f0, y, w)
    return post


def test_solve_inverts_a_positive_definite_matrix() -> None:
    a = [[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]]
    x = solve(a, [1.0, 2.0, 3.0])
    assert all(abs(dot(row, x) - b) < 1e-12 for row, b in zip(a, [1.0, 2.0, 3.0], strict=True))


def test_no_evidence_is_no_correction() -> None:
    post = Posterior.new(PRIOR)
    assert post.mean() == [0.0] * DIMS and post.evidence == 0
    assert abs(post.variance([0.0] * (DIMS - 1) + [1.0]) - 1 / PRIOR[-1]) < 1e-12


def test_negative_feedback_lowers_the_region_and_barely_moves_an_orthogonal_one() -> None:
    maths, prose = [1.0, 0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 1.0, 0.0, 1.0]
    post = run([(maths, 1.0, 0.0, 1.0)] * 6)
    mu = post.mean()
    assert dot(mu, maths) < -0.5
    # only the shared shift (prior variance 0.25 vs 1 per direction) reaches the other region
    assert abs(dot(mu, prose)) < abs(dot(mu, maths)) / 3
    assert post.evidence == 6


def test_the_ability_shift_is_the_same_correction_in_the_models_terms() -> None:
    centre = [0.3, -0.2, 0.1, 0.5]
    post = run([([0.5, 1.0, -1.0, 0.0, 1.0], 0.0, 1.0, 1.0), ([1.0, 0.0, 0.0, 2.0, 1.0], 0.3, 0.0, 1.0)])
    da, db = ability_shift(post.mean(), centre)
    z = [0.9, -0.4, 0.7, 1.1, -0.3]  # a latent vector: z then -difficulty
    assert abs((dot(da, z[:4]) + db) - dot(post.mean(), features(z, centre))) < 1e-12


@settings(max_examples=150, deadline=None)
@given(st.lists(event, max_size=12), feature)
def test_posterior_variance_is_never_negative(events: list[tuple[list[float], float, float, float]],
                                              x: list[float]) -> None:
    post = run(events)
    assert post.variance(x) > 0
    assert all(math.isfinite(m) for m in post.mean())
    # observations only add information: variance at x never exceeds the prior's
    assert post.variance(x) <= Posterior.new(PRIOR).variance(x) + 1e-9


@settings(max_examples=150, deadline=None)
@given(st.lists(event, max_size=8), feature, logit, st.integers(1, 10), weight)
def test_repeated_positive_feedback_never_lowers_the_prediction_there(
        history: list[tuple[list[float], float, float, float]], x: list[float], f0: float, n: int, w: float) -> None:
    post = run(history)
    before = sigmoid(f0 + dot(post.mean(), x))
    for _ in range(n):
        post = observe(post, x, f0, 1.0, w)
        now = sigmoid(f0 + dot(post.mean(), x))
        assert now >= before - 1e-12
        before = now


@settings(max_examples=100, deadline=None)
@given(st.lists(event, min_size=1, max_size=8), feature, st.floats(0.1, 100.0))
def test_decay_returns_toward_the_prior(events: list[tuple[list[float], float, float, float]], x: list[float],
                                        half_life: float) -> None:
    post = run(events)
    later = decay(post, half_life, half_life)  # one half-life on
    much_later = decay(post, 60 * half_life, half_life)
    # The correction's size measured by its own precision (mean' Λ mean = η' mean) only shrinks. (Along one
    # x it need not: where two learned shifts cancel, the one that fades first can show for a while.)
    size = [dot(p.eta, p.mean()) for p in (post, later, much_later)]
    assert size[0] + 1e-9 >= size[1] >= size[2] - 1e-12 >= -1e-12
    assert abs(dot(much_later.mean(), x)) < 1e-6
    # and the uncertainty grows back to the prior's, never past it
    prior_var = Posterior.new(PRIOR).variance(x)
    assert post.variance(x) - 1e-9 <= later.variance(x) <= prior_var + 1e-9
    assert abs(much_later.variance(x) - prior_var) < 1e-6 * prior_var
    assert decay(post, -1.0, half_life) is post  # time never runs backwards


def test_half_life_halves_the_evidence() -> None:
    post = run([([1.0, 0.0, 0.0, 0.0, 1.0], 0.0, 0.0, 1.0)])
    half = decay(post, 10.0, 10.0)
    assert all(abs(h - p / 2) < 1e-12 for h, p in zip(half.eta, post.eta, strict=True))
    data = post.precision[0][0] - PRIOR[0]
    assert abs((half.precision[0][0] - PRIOR[0]) - data / 2) < 1e-12


def test_implicit_signals_and_what_teaches_nothing() -> None:
    assert implicit_signal("error", 502, "all_providers_failed", None, None) == ("error", 0.0, 0.25)
    assert implicit_signal("partial", 200, "upstream_error", "stop", None) == ("error", 0.0, 0.25)
    assert implicit_signal("ok", 200, None, "length", None) == ("truncated", 0.0, 0.25)
    assert implicit_signal("ok", 200, None, "content_filter", None) == ("refusal", 0.0, 0.5)
    for nothing in [("cancelled", 499, None, None, None),  # the client left
                    ("partial", 200, "upstream_timeout", None, None),  # perhaps the client's own deadline
                    ("error", 504, "all_providers_failed", None, None),
                    ("error", 400, "invalid_request", None, None),  # the client's input
                    ("error", 500, "internal_error", None, None),  # the gateway's own failure
                    ("ok", 200, None, "length", 64),  # the client capped the answer
                    ("ok", 200, None, "stop", None)]:  # a success nobody rated
        assert implicit_signal(*nothing) is None, nothing
