"""The training-side pieces of routing v2 that are pure functions: the pairwise gain term's gradient (against
finite differences of its loss), the latent shrink (folded into the weights, it equals the formula it states),
and the smoke subsample (whole groups stay, cells follow their prompts)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.router_v2 import data, model
from bench.router_v2.represent import Represented


def pair_loss(logit: np.ndarray, y: np.ndarray, mask: np.ndarray, weight: np.ndarray, source: np.ndarray,
              groups: list[np.ndarray], seed: int) -> float:
    """The term pair_gradient differentiates, written out directly (same random partner shifts per seed)."""
    rng = np.random.default_rng(seed)
    total = 0.0
    for s, cols in enumerate(groups):
        rows = np.flatnonzero(source == s)
        if len(cols) < 2 or len(rows) == 0:
            continue
        r = int(rng.integers(1, len(cols)))
        lm, ym, mm, wm = (a[np.ix_(rows, cols)] for a in (logit, y, mask, weight))
        lp, yp, mp = (np.roll(a, -r, axis=1) for a in (lm, ym, mm))
        use = mm * mp * (ym != yp)
        t, q = 0.5 + (ym - yp) / 2, model.sigmoid(lm - lp)
        total -= float((use * wm * (t * np.log(q) + (1 - t) * np.log(1 - q))).sum())
    return total


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pair_gradient_matches_finite_differences(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m = 7, 5
    logit = rng.normal(size=(n, m))
    y = (rng.random((n, m)) > 0.5).astype(float)
    y[3, 1] = 0.4  # a fractional score, as LLMRouter has
    mask = np.ones((n, m))
    mask[0, 1] = mask[4, 2] = 0
    weight = mask / mask.sum()
    source = np.array([0, 0, 1, 1, 1, 1, 2])
    groups = [np.array([0, 1]), np.array([1, 2, 3, 4]), np.array([], dtype=np.int64)]
    got = model.pair_gradient(logit, y, mask, weight, source, groups, np.random.default_rng(100 + seed))
    num = np.zeros_like(logit)
    for i in range(n):
        for j in range(m):
            up, down = logit.copy(), logit.copy()
            up[i, j] += 1e-6
            down[i, j] -= 1e-6
            num[i, j] = (pair_loss(up, y, mask, weight, source, groups, 100 + seed)
                         - pair_loss(down, y, mask, weight, source, groups, 100 + seed)) / 2e-6
    assert np.abs(num).max() > 0  # some pair disagreed, so the check is not vacuous
    assert got == pytest.approx(num, abs=1e-8)


def tiny_params(rng: np.random.Generator, k: int = 3, models: int = 4) -> tuple[model.Params, Represented]:
    n, dims, dense = 20, 6, 25
    rep = Represented(rng.normal(size=(n, dims)), rng.normal(size=(n, dense)), np.zeros(n + 1, dtype=np.int64),
                      np.zeros(0, dtype=np.int64))
    p = model.Params(w=rng.normal(size=(dims + dense + 1, k + 1)), e=np.zeros((model.BUCKETS, k + 1)),
                     a=rng.normal(size=(models, k)), b=rng.normal(size=models), c=np.zeros(3),
                     dense_mean=np.zeros(dense), dense_scale=np.ones(dense), cfg=model.Config(k=k))
    return p, rep


@pytest.mark.parametrize("lam", [0.0, 0.3, 1.0])
def test_shrink_pulls_the_latent_toward_its_training_mean(lam: float) -> None:
    p, rep = tiny_params(np.random.default_rng(5))
    z = p.latent(rep)
    shrunk = model.shrink(p, rep, lam).latent(rep)
    k = p.a.shape[1]
    assert shrunk[:, :k] == pytest.approx(lam * z[:, :k] + (1 - lam) * z[:, :k].mean(0), abs=1e-12)
    assert shrunk[:, k] == pytest.approx(z[:, k], abs=1e-12)  # the difficulty is left alone


def test_subsample_keeps_every_source_and_its_cells() -> None:
    c = data.Corpus(prompts=[f"p{i}" for i in range(10)], source=np.array([0] * 4 + [1] * 3 + [2] * 3),
                    task=np.array(list("aabbccdeef")), models=["x", "y"],
                    cell_prompt=np.repeat(np.arange(10), 2), cell_model=np.tile([0, 1], 10),
                    cell_y=np.arange(20, dtype=float))
    s = data.subsample(c, 3)
    assert s.prompts == ["p0", "p3", "p6", "p9"]
    assert list(s.source) == [0, 0, 1, 2]
    assert list(s.cell_prompt) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert list(s.cell_y) == [0, 1, 6, 7, 12, 13, 18, 19]
