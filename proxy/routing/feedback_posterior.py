"""The Bayesian update behind learning from feedback: pure functions over one Gaussian posterior.

What is learned, per (scope, model), is a correction θ of the model's logit on a prompt p:
logit P(good) = a_m·z_p + b_m − d_p + θ·x_p, with x_p = (z_p − c, 1). `c` is the centre of prompt space
(the mean latent vector of typical prompts, `ModelRouter.latent_centre`): z_p has a large component every
prompt shares, so without centring a correction learned on maths would move prose almost as much. In the
model's own terms θ is a shift (Δa, Δb) of its ability, Δa = θ[:k] and Δb = θ[k] − θ[:k]·c: a Gaussian on
θ with a diagonal prior is a full-covariance Gaussian on (Δa, Δb).

The posterior is kept in information form (precision Λ, η = Λ·mean), full covariance (k + 1 ≤ 33 numbers
a side: a Cholesky solve per update costs ~0.1 ms in Python), so evidence from one region of prompt space
does not claim certainty about unrelated directions, and feedback on a second region can explain away a
shift the first one suggested. Prior: mean 0, precision diag(1/σa², …, 1/σb²).

- `observe`: one Newton step of the MAP (the Laplace approximation) for a logistic likelihood with a soft
  label y in [0, 1] and a weight w: Λ += w·p(1−p)·x xᵀ, η += w·x·(p(1−p)·x·μ + y − p), p at the current
  mean. The mean moves by w(y − p)·Λ⁻¹x, so a label above the prediction never lowers it at x.
- `decay`: old evidence fades with a half-life: the data part of the precision and η are scaled by
  γ = 2^(−Δt/half_life), i.e. Λ → Λ0 + γ(Λ − Λ0), η → γη (each observation's log-likelihood weighted by
  γ^age). Λ stays positive definite; the correction's size in its own precision (μᵀΛμ) only shrinks, and as
  Δt grows the posterior returns to the prior.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

PRIOR_VAR_A = 0.25  # per latent direction: a centred z_p has a norm near 1, so ~0.5 logit of room per region
PRIOR_VAR_B = 0.05  # the shift every prompt shares: smaller, so one region's feedback moves others little


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def prior_precision(dims: int, var_a: float = PRIOR_VAR_A, var_b: float = PRIOR_VAR_B) -> list[float]:
    """The prior precision's diagonal for `dims` = k + 1 parameters (the last is the shared shift)."""
    return [1.0 / var_a] * (dims - 1) + [1.0 / var_b]


@dataclass(slots=True)
class Posterior:
    """A Gaussian over θ in information form; `evidence` counts observations, `t` is when it was last moved
    (seconds, any clock the caller keeps to)."""

    prior: list[float]  # the prior precision's diagonal
    precision: list[list[float]]
    eta: list[float]
    evidence: int = 0
    t: float = 0.0
    _mean: list[float] | None = field(default=None, repr=False)

    @classmethod
    def new(cls, prior: list[float], t: float = 0.0) -> Posterior:
        d = len(prior)
        return cls(list(prior), [[prior[i] if i == j else 0.0 for j in range(d)] for i in range(d)], [0.0] * d, 0, t)

    @property
    def dims(self) -> int:
        return len(self.prior)

    def mean(self) -> list[float]:
        if self._mean is None:
            self._mean = solve(self.precision, self.eta)
        return self._mean

    def variance(self, x: list[float]) -> float:
        """xᵀ Σ x: the posterior variance of the correction's logit at feature x."""
        return dot(x, solve(self.precision, x))


def observe(post: Posterior, x: list[float], base_logit: float, y: float, weight: float) -> Posterior:
    """The posterior after one observation (label y in [0, 1], weight w > 0) at feature x, where the
    uncorrected model's logit was `base_logit`. Returns a new Posterior; `post` is unchanged."""
    mu = post.mean()
    f = base_logit + dot(mu, x)
    p = sigmoid(f)
    curv = weight * p * (1.0 - p)
    d = post.dims
    precision = [[post.precision[i][j] + curv * x[i] * x[j] for j in range(d)] for i in range(d)]
    step = curv * dot(x, mu) + weight * (y - p)
    eta = [post.eta[i] + step * x[i] for i in range(d)]
    return Posterior(post.prior, precision, eta, post.evidence + 1, post.t)


def decay(post: Posterior, now: float, half_life: float) -> Posterior:
    """The posterior as of `now`: evidence older by Δt weighs 2^(−Δt/half_life) as much. `now` before
    the posterior's time changes nothing (replay applies events in time order)."""
    dt = now - post.t
    if dt <= 0.0:
        return post
    gamma = 0.5 ** (dt / half_life) if half_life > 0 else 0.0
    d = post.dims
    precision = [[post.prior[i] * (i == j) + gamma * (post.precision[i][j] - post.prior[i] * (i == j))
                  for j in range(d)] for i in range(d)]
    return Posterior(post.prior, precision, [gamma * e for e in post.eta], post.evidence, now)


def ability_shift(theta: list[float], centre: list[float]) -> tuple[list[float], float]:
    """θ (over centred features) as the shift (Δa, Δb) of the model's ability the router adds."""
    k = len(centre)
    da = theta[:k]
    return list(da), theta[k] - dot(da, centre)


def features(z: list[float], centre: list[float]) -> list[float]:
    """x_p = (z_p − c, 1) from the router's latent vector (z then −d, as the decision reports it)."""
    k = len(centre)
    return [z[i] - centre[i] for i in range(k)] + [1.0]


def dot(u: list[float], v: list[float]) -> float:
    return math.fsum(a * b for a, b in zip(u, v, strict=True))


def solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Solve A·x = b for a symmetric positive definite A (Cholesky)."""
    n = len(b)
    low = [[0.0] * n for _ in range(n)]
    for i in range(n):
        row = low[i]
        for j in range(i + 1):
            s = a[i][j] - sum(row[m] * low[j][m] for m in range(j))
            if i == j:
                row[i] = math.sqrt(max(s, 1e-300))
            else:
                row[j] = s / low[j][j]
    y = [0.0] * n
    for i in range(n):
        y[i] = (b[i] - sum(low[i][m] * y[m] for m in range(i))) / low[i][i]
    x = [0.0] * n
    for i in reversed(range(n)):
        x[i] = (y[i] - sum(low[m][i] * x[m] for m in range(i + 1, n))) / low[i][i]
    return x
