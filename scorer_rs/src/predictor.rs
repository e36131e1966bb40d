//! The v2 quality predictor: P(model m answers prompt p well) = σ(a_m · z_p − d_p + b_m).
//!
//! `z_p` (k dims) and `−d_p` are linear in the prompt's representation: the static embedding (`embed/`),
//! the text pass's dense features and the form features (standardised), and optionally the hashed n-grams
//! through a learned projection. Each model brings its ability: a vector `a_m` (how good it is in each
//! direction of prompt space) and a bias `b_m`. Weights come from `bench/router_v2` (router_v2.json); the
//! Python reference is `bench/router_v2/model.py`, and parity tests compare the two.

use crate::embed::{Embedded, StaticEmbedding, N_FORM};
use crate::features::{scan, TextFeatures, N_DENSE};
use crate::route::{ModelSpec, PromptQuality};

pub const N_DENSE_ALL: usize = N_DENSE + N_FORM;

#[inline]
#[must_use]
pub fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// A model's ability on the predictor's scale.
#[derive(Debug, Clone, PartialEq)]
pub struct Ability {
    pub a: Vec<f64>,
    pub b: f64,
}

/// What the predictor knows about one prompt: its latent vector and the text pass's features.
#[derive(Debug, Clone)]
pub struct PromptLatent {
    /// `z_p` then `−d_p`.
    pub z: Vec<f64>,
    pub features: TextFeatures,
    pub embedded: Embedded,
}

impl PromptLatent {
    /// P(good answer) for a model of this ability.
    #[must_use]
    pub fn p_good(&self, ability: &Ability) -> f64 {
        let k = self.z.len() - 1;
        let dot: f64 = ability.a.iter().zip(&self.z[..k]).map(|(a, z)| a * z).sum();
        sigmoid(dot + self.z[k] + ability.b)
    }

    /// How hard the prompt is for a model of average ability (0 easy .. 1 hard).
    #[must_use]
    pub fn difficulty(&self) -> f64 {
        1.0 - sigmoid(self.z[self.z.len() - 1])
    }
}

impl PromptQuality for PromptLatent {
    fn text_features(&self) -> &TextFeatures {
        &self.features
    }

    fn quality_of(&self, model: &ModelSpec) -> f64 {
        self.p_good(&model.ability)
    }

    fn difficulty(&self) -> f64 {
        PromptLatent::difficulty(self)
    }
}

/// `a · b` over eight running sums, so the loop vectorises (a single running sum fixes the order of
/// additions, which LLVM must keep); the result differs from a left-to-right sum only in rounding.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    const LANES: usize = 8;
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f64 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    let mut sums = [0.0; LANES];
    for (x, y) in ca.zip(cb) {
        for l in 0..LANES {
            sums[l] += x[l] * y[l];
        }
    }
    sums.iter().sum::<f64>() + tail
}

/// The predictor's prompt-side weights.
#[derive(Debug)]
pub struct Predictor {
    k: usize,
    embedding: StaticEmbedding,
    use_embed: bool,
    dense: Option<([f64; N_DENSE_ALL], [f64; N_DENSE_ALL])>,
    /// The weights column by column: (k + 1) columns of rows (embedding dims, dense features, intercept),
    /// so each latent coordinate is one contiguous dot product with the prompt's inputs.
    w_cols: Vec<f64>,
    rows: usize,
    /// Hashed n-gram projection, buckets × (k + 1), or none.
    hashed: Option<(u32, Vec<f32>)>,
}

/// The trained weights, as plain slices (the bindings turn router_v2.json into this).
pub struct PredictorParts<'a> {
    pub k: usize,
    pub use_embed: bool,
    pub dense_mean: Option<&'a [f64]>,
    pub dense_inv_scale: Option<&'a [f64]>,
    pub w: &'a [f64],
    pub hashed: Option<(u32, &'a [f64])>,
}

/// Buckets the text pass hashes into when the predictor has no hashed projection (its ids are unused).
const DEFAULT_BUCKETS: u32 = 4096;

impl Predictor {
    /// Builds from the weights' parts; errors name the part that is wrong.
    pub fn new(embedding: StaticEmbedding, parts: &PredictorParts<'_>) -> Result<Self, String> {
        let k = parts.k;
        if k == 0 {
            return Err("k must be positive".into());
        }
        let dense = match (parts.dense_mean, parts.dense_inv_scale) {
            (Some(m), Some(s)) => {
                let fixed = |v: &[f64], name: &str| -> Result<[f64; N_DENSE_ALL], String> {
                    v.try_into().map_err(|_| format!("dense.{name} has {} entries; the scorer expects {N_DENSE_ALL}", v.len()))
                };
                Some((fixed(m, "mean")?, fixed(s, "inv_scale")?))
            }
            (None, None) => None,
            _ => return Err("dense needs both mean and inv_scale".into()),
        };
        let rows = if parts.use_embed { embedding.dims() } else { 0 } + if dense.is_some() { N_DENSE_ALL } else { 0 } + 1;
        if parts.w.len() != rows * (k + 1) {
            return Err(format!("w has {} entries; expected {rows} rows x {} columns", parts.w.len(), k + 1));
        }
        let hashed = match parts.hashed {
            Some((buckets, e)) => {
                if buckets == 0 || e.len() != buckets as usize * (k + 1) {
                    return Err(format!("hashed.e has {} entries; expected {buckets} x {}", e.len(), k + 1));
                }
                #[allow(clippy::cast_possible_truncation)]
                Some((buckets, e.iter().map(|&v| v as f32).collect()))
            }
            None => None,
        };
        // router_v2.json stores W row-major (rows x columns); transposed once here.
        let cols = k + 1;
        let w_cols = (0..cols).flat_map(|j| (0..rows).map(move |r| parts.w[r * cols + j])).collect();
        Ok(Self { k, embedding, use_embed: parts.use_embed, dense, w_cols, rows, hashed })
    }

    #[must_use]
    pub fn k(&self) -> usize {
        self.k
    }

    #[must_use]
    pub fn buckets(&self) -> u32 {
        self.hashed.as_ref().map_or(DEFAULT_BUCKETS, |h| h.0)
    }

    /// The prompt's latent vector: one text pass (features and hashed ids), one embedding pass.
    #[must_use]
    pub fn latent(&self, text: &str) -> PromptLatent {
        let cols = self.k + 1;
        let mut z = vec![0.0; cols];
        let features = match &self.hashed {
            Some((buckets, e)) => {
                let mut acc = vec![0f32; cols];
                let f = scan(text, *buckets, |id| {
                    let row = &e[id as usize * cols..(id as usize + 1) * cols];
                    for (a, r) in acc.iter_mut().zip(row) {
                        *a += r;
                    }
                });
                // Hashed features are occurrence counts / sqrt(total occurrences), as in training.
                let norm = 1.0 / f64::from(f.n_ids.max(1)).sqrt();
                for (zi, a) in z.iter_mut().zip(&acc) {
                    *zi = f64::from(*a) * norm;
                }
                f
            }
            None => scan(text, DEFAULT_BUCKETS, |_| {}),
        };
        let embedded = self.embedding.embed(text);
        // The inputs x (embedding, standardised dense and form features, 1 for the intercept), then z += W^T x.
        let mut x = Vec::with_capacity(self.rows);
        if self.use_embed {
            x.extend_from_slice(&embedded.vector);
        }
        if let Some((mean, inv)) = &self.dense {
            let raw = features.dense.iter().chain(&embedded.form);
            x.extend(raw.enumerate().map(|(i, &v)| (v - mean[i]) * inv[i]));
        }
        x.push(1.0);
        for (zj, column) in z.iter_mut().zip(self.w_cols.chunks_exact(self.rows)) {
            *zj += dot(column, &x);
        }
        PromptLatent { z, features, embedded }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::embed::tests::toy_table;

    /// A toy predictor over the toy table (2 dims), k = 1, no dense or hashed part:
    /// z = 4·e0 − 4·e1 (an "e0 direction" skill), −d = 1 − 2·e1.
    pub(crate) fn toy() -> Predictor {
        let emb = StaticEmbedding::parse(&toy_table()).unwrap();
        let w = [4.0, 0.0, -4.0, -2.0, 0.0, 1.0];
        Predictor::new(emb, &PredictorParts { k: 1, use_embed: true, dense_mean: None, dense_inv_scale: None, w: &w, hashed: None }).unwrap()
    }

    #[test]
    fn abilities_vary_by_region_of_prompt_space() {
        let p = toy();
        let the = p.latent("the the the"); // e = (1, 0)
        let cat = p.latent("cat"); // e = (0, 1)
        let specialist = Ability { a: vec![2.0], b: 0.0 };
        let generalist = Ability { a: vec![0.0], b: 1.0 };
        assert!(specialist.a[0] * the.z[0] > 0.0);
        assert!(the.p_good(&specialist) > the.p_good(&generalist));
        assert!(cat.p_good(&specialist) < cat.p_good(&generalist));
        assert!(cat.difficulty() > the.difficulty());
    }

    #[test]
    fn matches_the_formula() {
        let p = toy();
        let l = p.latent("The cat");
        let e = &l.embedded.vector;
        let want_z = 4.0 * e[0] - 4.0 * e[1];
        let want_d = 1.0 - 2.0 * e[1];
        assert!((l.z[0] - want_z).abs() < 1e-12 && (l.z[1] - want_d).abs() < 1e-12);
        let ab = Ability { a: vec![0.5], b: -0.3 };
        assert!((l.p_good(&ab) - sigmoid(0.5 * want_z + want_d - 0.3)).abs() < 1e-12);
    }

    #[test]
    fn rejects_malformed_weights() {
        let emb = || StaticEmbedding::parse(&toy_table()).unwrap();
        let parts = |w: &'static [f64]| PredictorParts { k: 1, use_embed: true, dense_mean: None, dense_inv_scale: None, w, hashed: None };
        assert!(Predictor::new(emb(), &parts(&[1.0; 5])).unwrap_err().contains("w has 5"));
        let bad_dense = PredictorParts { dense_mean: Some(&[0.0; 3]), dense_inv_scale: Some(&[1.0; 3]), ..parts(&[0.0; 6]) };
        assert!(Predictor::new(emb(), &bad_dense).unwrap_err().contains("dense.mean"));
        let bad_hash = PredictorParts { hashed: Some((4, &[0.0; 3])), ..parts(&[0.0; 6]) };
        assert!(Predictor::new(emb(), &bad_hash).unwrap_err().contains("hashed.e"));
    }
}
