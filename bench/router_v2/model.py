"""The predictor: P(model m answers prompt p well) = σ(a_m · z_p − d_p + b_m + c_source).

z_p (k dims) and the difficulty d_p are linear in the prompt's representation: the static embedding, the
standardised dense and form features, and (optionally) the hashed n-grams through a learned k-dim projection.
`a_m` is model m's ability vector (how good it is in each direction of prompt space), `b_m` its overall
ability, `c_source` a per-source offset for the label type. Trained jointly on every (prompt, model) cell of
the three sources with soft-label cross-entropy, full-batch Adam, L2 penalties; numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from bench.router_v2.represent import Represented

BUCKETS = 4096


@dataclass
class Config:
    """Defaults are the shipped recipe (bench/ROUTING.md: chosen over many held-out splits by router_v2.sweep)."""

    k: int = 4
    use_embed: bool = True
    use_dense: bool = True
    use_hashed: bool = False  # measured: adds little over the embedding and costs a 4096-row table
    l2_w: float = 1e-5
    l2_e: float = 1e-5
    l2_a: float = 1e-5
    steps: int = 400
    lr: float = 0.02
    source_weight: tuple[float, float, float] = (1.0, 1.0, 1.0)
    seed: int = 0
    # Pairwise "gain" term: for two models on one prompt with different scores, cross-entropy of which one is
    # right on σ(logit_m − logit_m'), weighted against the per-cell loss; one random partner per cell and step,
    # within the prompt's source.
    pair_weight: float = 0.0  # measured over 8 splits: within noise (bench/ROUTING.md), so off
    # Dropout of the standardised dense features during training (the prompt side then leans less on them).
    dense_dropout: float = 0.0
    # After fitting, pull z_p toward its training mean (`shrink`): 1 keeps the fit, 0 ranks models by ability alone.
    shrink: float = 1.0
    # The bag-of-words baseline: one logistic regression per model (a_m fixed to one-hot, k = models).
    independent: bool = False


def bow_baseline(steps: int = 400) -> Config:
    """Hashed n-grams + the text pass's dense features, a separate logistic head per model."""
    return Config(use_embed=False, use_hashed=True, independent=True, steps=steps, pair_weight=0.0)


@dataclass
class Params:
    w: np.ndarray  # (features, k + 1): last column is the difficulty direction
    e: np.ndarray  # (BUCKETS, k + 1)
    a: np.ndarray  # (models, k)
    b: np.ndarray  # (models,)
    c: np.ndarray  # (sources,)
    dense_mean: np.ndarray
    dense_scale: np.ndarray
    cfg: Config = field(default_factory=Config)

    def features(self, r: Represented) -> np.ndarray:
        parts = []
        if self.cfg.use_embed:
            parts.append(r.embed)
        if self.cfg.use_dense:
            parts.append((r.dense - self.dense_mean) / self.dense_scale)
        parts.append(np.ones((len(r.embed), 1)))  # intercept of z and d
        return np.hstack(parts)

    def latent(self, r: Represented) -> np.ndarray:
        """(prompts, k + 1): z_p then -d_p."""
        z = self.features(r) @ self.w
        if self.cfg.use_hashed:
            z += hashed_matrix(r) @ self.e.astype(np.float32)
        return z

    def logits(self, r: Represented, source: int | np.ndarray | None = None) -> np.ndarray:
        """(prompts, models); `source` adds that source's offset (None: the mean offset, the serving scale)."""
        z = self.latent(r)
        off = self.c.mean() if source is None else self.c[source]
        return z[:, :-1] @ self.a.T + z[:, -1:] + self.b + (np.asarray(off)[:, None] if np.ndim(off) else off)


def hashed_matrix(r: Represented) -> np.ndarray:
    """Dense (prompts x BUCKETS) float32 of occurrence counts / sqrt(total occurrences), as the text pass sums."""
    n = len(r.ids_ptr) - 1
    h = np.zeros((n, BUCKETS), dtype=np.float32)
    lens = np.diff(r.ids_ptr)
    rows = np.repeat(np.arange(n), lens)
    np.add.at(h, (rows, r.ids), (1.0 / np.sqrt(np.maximum(lens, 1)))[rows])
    return h


def pair_gradient(logit: np.ndarray, y: np.ndarray, mask: np.ndarray, weight: np.ndarray, source: np.ndarray,
                  groups: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """d/d logit of the pairwise term: Bradley–Terry cross-entropy of which of two models scored higher.

    Each model of a source is paired with the one `r` places on in that source's model list (r random per step),
    so every pair is a cyclic shift and the partner's share of the gradient is the same array rolled back.
    """
    out = np.zeros_like(logit)
    parts = []
    for s_, cols in enumerate(groups):
        rows = np.flatnonzero(source == s_)
        if len(cols) < 2 or len(rows) == 0:
            continue
        r_ = int(rng.integers(1, len(cols)))
        lm, ym, mm, wm = (a[np.ix_(rows, cols)] for a in (logit, y, mask, weight))
        lp, yp, mp = (np.roll(a, -r_, axis=1) for a in (lm, ym, mm))
        use = mm * mp * (ym != yp)
        gp = (sigmoid(lm - lp) - (0.5 + (ym - yp) / 2)) * use * wm
        parts.append((rows, cols, gp - np.roll(gp, r_, axis=1)))
    for rows, cols, gp in parts:
        out[np.ix_(rows, cols)] = gp
    return out  # each cell leads at most one pair, with its own weight: the term is on the cell loss's scale


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(x, -30, 30)))


def fit(r: Represented, cell_prompt: np.ndarray, cell_model: np.ndarray, cell_y: np.ndarray,
        cell_source: np.ndarray, n_models: int, cfg: Config, log: bool = False) -> Params:
    """Full-batch Adam on the (prompts x models) matrix of observed scores (masked where a model has none)."""
    rng = np.random.default_rng(cfg.seed)
    n = len(r.embed)
    mean = r.dense.mean(0)
    scale = r.dense.std(0) + 1e-6
    k = n_models if cfg.independent else cfg.k
    p = Params(w=np.zeros((0, k + 1)), e=rng.normal(0, 0.01, (BUCKETS, k + 1)), a=rng.normal(0, 0.1, (n_models, k)),
               b=np.zeros(n_models), c=np.zeros(3), dense_mean=mean, dense_scale=scale, cfg=cfg)
    if cfg.independent:
        p.a = np.eye(n_models)
    x = p.features(r)
    p.w = rng.normal(0, 0.01, (x.shape[1], k + 1))
    h = hashed_matrix(r) if cfg.use_hashed else None
    y = np.zeros((n, n_models))
    mask = np.zeros((n, n_models))
    y[cell_prompt, cell_model] = cell_y
    source = np.zeros(n, dtype=np.int64)
    source[cell_prompt] = cell_source
    weight = np.zeros((n, n_models))
    weight[cell_prompt, cell_model] = np.asarray(cfg.source_weight)[cell_source]
    weight /= weight.sum()
    mask[cell_prompt, cell_model] = 1.0
    groups = [np.unique(cell_model[cell_source == s_]) for s_ in range(3)]
    dense_cols = slice(r.embed.shape[1] if cfg.use_embed else 0, x.shape[1] - 1) if cfg.use_dense else slice(0, 0)
    x_full = x
    names = ("w", "e", "a", "b", "c")
    m1 = {n_: np.zeros_like(getattr(p, n_)) for n_ in names}
    m2 = {n_: np.zeros_like(getattr(p, n_)) for n_ in names}
    for step in range(1, cfg.steps + 1):
        if cfg.dense_dropout > 0:
            x = x_full.copy()
            keep = rng.random((n, dense_cols.stop - dense_cols.start)) >= cfg.dense_dropout
            x[:, dense_cols] *= keep / (1 - cfg.dense_dropout)
        z = x @ p.w + (h @ p.e.astype(np.float32) if h is not None else 0)  # float32: h is big
        logit = z[:, :-1] @ p.a.T + z[:, -1:] + p.b + p.c[source][:, None]
        q = sigmoid(logit)
        g = (q - y) * weight  # d loss / d logit, zero where unobserved
        if cfg.pair_weight > 0:
            g = g + cfg.pair_weight * pair_gradient(logit, y, mask, weight, source, groups, rng)
        gz = np.hstack([g @ p.a, g.sum(1, keepdims=True)])
        grads = {
            "w": x.T @ gz + cfg.l2_w * p.w,
            "e": (h.T @ gz.astype(np.float32) + cfg.l2_e * p.e) if h is not None else np.zeros_like(p.e),
            "a": g.T @ z[:, :-1] + cfg.l2_a * p.a,
            "b": g.sum(0),
            "c": np.bincount(source, g.sum(1), minlength=3),
        }
        if cfg.independent:
            grads["a"][:] = 0
        for n_ in names:
            m1[n_] = 0.9 * m1[n_] + 0.1 * grads[n_]
            m2[n_] = 0.999 * m2[n_] + 0.001 * grads[n_] ** 2
            upd = cfg.lr * (m1[n_] / (1 - 0.9**step)) / (np.sqrt(m2[n_] / (1 - 0.999**step)) + 1e-8)
            setattr(p, n_, getattr(p, n_) - upd)
        if log and (step % 50 == 0 or step == 1):
            ll = y * np.log(q + 1e-12) + (1 - y) * np.log(1 - q + 1e-12)
            print(f"  step {step}: loss {-(weight * ll).sum():.4f}", flush=True)
    return shrink(p, r, cfg.shrink)


def shrink(p: Params, train: Represented, lam: float) -> Params:
    """The latent z_p pulled toward its training mean: z' = λ·z_p + (1 − λ)·z̄ (difficulty untouched).

    λ = 0 ranks models by their overall ability on a prompt of the mean region (a prior over models), λ = 1 is
    the fitted model. Folded into the weights (scaled columns, shifted intercept), so serving needs no change.
    """
    if lam == 1.0:
        return p
    k = p.a.shape[1]
    zbar = p.latent(train)[:, :k].mean(0)
    w = p.w.copy()
    w[:, :k] *= lam
    w[-1, :k] += (1 - lam) * zbar
    e = p.e.copy()
    e[:, :k] *= lam
    return replace(p, w=w, e=e)
