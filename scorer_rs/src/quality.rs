//! The learned quality predictor: P(good answer | prompt, model).
//!
//! Two logistic heads share the prompt features, one per model with per-prompt training data:
//! `f_w(x)` for the weak anchor (Mixtral 8x7B) and `f_s(x)` for the strong anchor (GPT-4 Turbo). Every
//! model gets an ability `θ` on the scale where the weak anchor is 0 and the strong anchor is 1, and
//!
//! ```text
//! logit P(good | x, θ) = f_w(x) + θ · (f_s(x) − f_w(x))            for 0 ≤ θ ≤ 1
//! ```
//!
//! This is an item-response model with a per-prompt discrimination `a(x) = f_s − f_w` and difficulty
//! `b(x) = −f_w / a(x)`: a one-dimensional IRT (one difficulty per prompt) measured far worse on held-out
//! subjects, because the weak/strong gap varies by topic, not only by difficulty. Outside the anchors the
//! gap is clamped at zero so a stronger model is never predicted worse than a weaker one.

use crate::features::{scan, TextFeatures, N_DENSE};

/// One logistic head over the hashed and dense features.
#[derive(Debug, Clone)]
pub struct Head {
    pub bias: f64,
    pub dense: [f64; N_DENSE],
}

/// The predictor's weights, as written by `bench/train_router.py`.
#[derive(Debug, Clone)]
pub struct Predictor {
    buckets: u32,
    /// Both heads' hashed weights side by side, so one lookup serves both, in fixed point (units of
    /// `HASHED_UNIT`): integer sums are exact, have no floating-point add latency in the hot loop, and
    /// 4 bytes a bucket keep the table (16 KB at 4,096 buckets) in L1 with the text.
    hashed: Vec<[i16; 2]>,
    hashed_unit: f64,
    dense_mean: [f64; N_DENSE],
    dense_inv_scale: [f64; N_DENSE],
    weak: Head,
    strong: Head,
}

/// Sparse hashed weights of one head: bucket indices and values.
pub struct SparseWeights<'a> {
    pub idx: &'a [u32],
    pub w: &'a [f64],
}

/// What the predictor says about one prompt.
#[derive(Debug, Clone)]
pub struct PromptScore {
    pub weak_logit: f64,
    pub strong_logit: f64,
    pub features: TextFeatures,
}

/// Fixed-point units of the hashed weights, finest first: the finest one that holds the largest weight in
/// an i16 is used. The trainer writes weights rounded to 1e-4 and within ±3.2767, so it is exact.
const HASHED_UNITS: [f64; 5] = [1e-4, 1e-3, 1e-2, 1e-1, 1.0];

#[inline]
#[must_use]
pub fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

impl PromptScore {
    /// P(good answer) for a model of ability `theta` (weak anchor 0, strong anchor 1).
    #[must_use]
    pub fn p_good(&self, theta: f64) -> f64 {
        let (fw, fs) = (self.weak_logit, self.strong_logit);
        let gap = fs - fw;
        let z = if theta < 0.0 {
            fw + theta * gap.max(0.0)
        } else if theta > 1.0 {
            fs + (theta - 1.0) * gap.max(0.0)
        } else {
            fw + theta * gap
        };
        sigmoid(z)
    }

    /// How likely a model halfway between the anchors gets this wrong (0 easy .. 1 hard).
    #[must_use]
    pub fn difficulty(&self) -> f64 {
        1.0 - self.p_good(0.5)
    }

    /// P(strong right) − P(weak right): the "send to strong" score the eval sweeps.
    #[must_use]
    pub fn strong_gain(&self) -> f64 {
        sigmoid(self.strong_logit) - sigmoid(self.weak_logit)
    }
}

/// Ability from a catalogue quality score, linear through the two anchors' catalogue qualities.
#[must_use]
pub fn ability_from_quality(quality: f64, weak_quality: f64, strong_quality: f64) -> f64 {
    let span = strong_quality - weak_quality;
    if span.abs() < 1e-9 {
        return 0.5;
    }
    (quality - weak_quality) / span
}

impl Predictor {
    /// Builds from the weights file's fields; errors name the field that is wrong.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        buckets: u32,
        dense_mean: &[f64],
        dense_inv_scale: &[f64],
        weak: (f64, &[f64], SparseWeights<'_>),
        strong: (f64, &[f64], SparseWeights<'_>),
    ) -> Result<Self, String> {
        if buckets == 0 {
            return Err("buckets must be positive".into());
        }
        let fixed = |v: &[f64], name: &str| -> Result<[f64; N_DENSE], String> {
            v.try_into().map_err(|_| format!("{name} has {} entries; the scorer expects {N_DENSE}", v.len()))
        };
        let mut hashed = vec![[0i16; 2]; buckets as usize];
        let largest = weak.2.w.iter().chain(strong.2.w).fold(0f64, |m, w| m.max(w.abs()));
        let unit = HASHED_UNITS
            .into_iter()
            .find(|u| largest / u <= f64::from(i16::MAX))
            .ok_or_else(|| format!("hashed weights up to {largest} are too large"))?;
        for (k, (name, sparse)) in [("weak", &weak.2), ("strong", &strong.2)].into_iter().enumerate() {
            if sparse.idx.len() != sparse.w.len() {
                return Err(format!("{name}.hashed_idx and {name}.hashed_w differ in length"));
            }
            for (&i, &w) in sparse.idx.iter().zip(sparse.w) {
                let slot = hashed.get_mut(i as usize).ok_or_else(|| format!("{name}.hashed_idx {i} >= buckets"))?;
                let fixed = (w / unit).round();
                if !fixed.is_finite() {
                    return Err(format!("{name}.hashed_w {w} is not a number"));
                }
                slot[k] = fixed as i16;
            }
        }
        Ok(Self {
            buckets,
            hashed,
            hashed_unit: unit,
            dense_mean: fixed(dense_mean, "dense_mean")?,
            dense_inv_scale: fixed(dense_inv_scale, "dense_inv_scale")?,
            weak: Head { bias: weak.0, dense: fixed(weak.1, "weak.dense")? },
            strong: Head { bias: strong.0, dense: fixed(strong.1, "strong.dense")? },
        })
    }

    #[must_use]
    pub fn buckets(&self) -> u32 {
        self.buckets
    }

    /// One pass over the text, accumulating both heads as the hashed ids stream out.
    #[must_use]
    pub fn score(&self, text: &str) -> PromptScore {
        let (mut hw, mut hs) = (0i64, 0i64);
        let hashed = &self.hashed[..];
        let features = scan(text, self.buckets, |id| {
            // `scan` emits ids below `buckets`, the table's length.
            let [w, s] = hashed[id as usize];
            hw += i64::from(w);
            hs += i64::from(s);
        });
        let (hw, hs) = (hw as f64 * self.hashed_unit, hs as f64 * self.hashed_unit);
        // Hashed features are occurrence counts / sqrt(total occurrences), as in training.
        let norm = 1.0 / f64::from(features.n_ids.max(1)).sqrt();
        let (mut zw, mut zs) = (self.weak.bias + hw * norm, self.strong.bias + hs * norm);
        for i in 0..N_DENSE {
            let x = (features.dense[i] - self.dense_mean[i]) * self.dense_inv_scale[i];
            zw += self.weak.dense[i] * x;
            zs += self.strong.dense[i] * x;
        }
        PromptScore { weak_logit: zw, strong_logit: zs, features }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::features::word_hash;

    /// A toy predictor: the word "integral" makes prompts hard for the weak model only.
    pub(crate) fn toy() -> Predictor {
        let buckets = 1 << 10;
        let hard = word_hash(b"integral") % buckets;
        let zeros = [0.0; N_DENSE];
        let ones = [1.0; N_DENSE];
        let mut weak_dense = [0.0; N_DENSE];
        weak_dense[0] = -0.5; // longer prompts are harder for the weak model
        Predictor::new(
            buckets,
            &zeros,
            &ones,
            (4.0, &weak_dense, SparseWeights { idx: &[hard], w: &[-20.0] }),
            (4.5, &zeros, SparseWeights { idx: &[hard], w: &[-2.0] }),
        )
        .unwrap()
    }

    #[test]
    fn the_prompt_moves_the_prediction() {
        let p = toy();
        let easy = p.score("hi there");
        let hard = p.score("evaluate the integral of x^2 sin x dx from 0 to pi");
        assert!(easy.p_good(0.0) > 0.6);
        assert!(hard.p_good(0.0) < easy.p_good(0.0) - 0.3);
        assert!(hard.strong_gain() > easy.strong_gain());
        assert!(hard.difficulty() > easy.difficulty());
    }

    #[test]
    fn ability_interpolates_and_is_monotone_outside_the_anchors() {
        let s = PromptScore { weak_logit: -1.0, strong_logit: 1.0, features: crate::features::features("") };
        assert!((s.p_good(0.0) - sigmoid(-1.0)).abs() < 1e-12);
        assert!((s.p_good(1.0) - sigmoid(1.0)).abs() < 1e-12);
        assert!(s.p_good(0.5) > s.p_good(0.0) && s.p_good(1.5) > s.p_good(1.0) && s.p_good(-1.0) < s.p_good(0.0));
        // A prompt where the weak anchor did better: beyond the anchors the gap is clamped, never inverted.
        let odd = PromptScore { weak_logit: 1.0, strong_logit: 0.0, features: crate::features::features("") };
        assert!((odd.p_good(2.0) - odd.p_good(1.0)).abs() < 1e-12);
        assert!((odd.p_good(-2.0) - odd.p_good(0.0)).abs() < 1e-12);
    }

    #[test]
    fn ability_from_catalogue_quality() {
        assert!((ability_from_quality(0.62, 0.62, 0.80)).abs() < 1e-12);
        assert!((ability_from_quality(0.80, 0.62, 0.80) - 1.0).abs() < 1e-12);
        assert!(ability_from_quality(0.92, 0.62, 0.80) > 1.0);
    }

    #[test]
    fn rejects_malformed_weights() {
        let z = [0.0; N_DENSE];
        let bad = Predictor::new(8, &z[..3], &z, (0.0, &z, SparseWeights { idx: &[], w: &[] }), (0.0, &z, SparseWeights { idx: &[], w: &[] }));
        assert!(bad.unwrap_err().contains("dense_mean"));
        let oob = Predictor::new(8, &z, &z, (0.0, &z, SparseWeights { idx: &[9], w: &[1.0] }), (0.0, &z, SparseWeights { idx: &[], w: &[] }));
        assert!(oob.unwrap_err().contains("weak.hashed_idx"));
    }
}
