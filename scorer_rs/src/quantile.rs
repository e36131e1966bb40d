//! A live quantile of time to first token: a decaying histogram over log-spaced buckets.
//!
//! Buckets grow by 2^(1/8) (about 9%) from 1 ms to about 18 minutes, so any quantile is within one
//! bucket (±4.5% after interpolation) of the truth. Every new sample first decays the old weights, so
//! the estimate follows the provider as its queue changes; the effective window is 1 / `decay` samples.
//!
//! A censored sample (an attempt cancelled at `t` ms before its first token, e.g. a hedge's loser)
//! says only "longer than `t`". It is spread over the buckets above `t` in proportion to the weight
//! already there (Kaplan–Meier's redistribution to the right), or put at `t` when nothing is known
//! above it. Dropping it instead would let hedging hide exactly the tail it cuts.

const BUCKETS_PER_DOUBLING: f64 = 8.0;
const BUCKETS: usize = 160; // 2^(160/8) ms = 2^20 ms, about 17.5 minutes
const MIN_MS: f64 = 1.0;

#[derive(Clone, Debug, PartialEq)]
pub struct LiveQuantile {
    weights: [f64; BUCKETS],
    total: f64,
    decay: f64,
    samples: u64,
}

/// Lower edge of bucket `i` in ms (bucket 0 also takes everything below 1 ms).
fn lower_edge(i: usize) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let exponent = i as f64 / BUCKETS_PER_DOUBLING;
    MIN_MS * exponent.exp2()
}

fn bucket_of(ms: f64) -> usize {
    if ms <= MIN_MS {
        return 0;
    }
    let i = ((ms / MIN_MS).log2() * BUCKETS_PER_DOUBLING).floor();
    // i is finite and >= 0 here; anything past the last edge goes into the last bucket
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let i = i as usize;
    i.min(BUCKETS - 1)
}

impl LiveQuantile {
    /// `decay` in (0, 1]: the weight each new sample takes from the past (1 / window).
    #[must_use]
    pub fn new(decay: f64) -> Self {
        Self { weights: [0.0; BUCKETS], total: 0.0, decay, samples: 0 }
    }

    /// Samples seen (observed and censored), undecayed.
    #[must_use]
    pub fn samples(&self) -> u64 {
        self.samples
    }

    fn age(&mut self) {
        let keep = 1.0 - self.decay;
        for w in &mut self.weights {
            *w *= keep;
        }
        self.total *= keep;
        self.samples += 1;
    }

    /// A first token arrived after `ms`.
    pub fn observe(&mut self, ms: f64) {
        if !ms.is_finite() || ms < 0.0 {
            return;
        }
        self.age();
        self.weights[bucket_of(ms)] += self.decay;
        self.total += self.decay;
    }

    /// An attempt was cancelled after `ms` without a first token: its first token would have come later.
    pub fn observe_censored(&mut self, ms: f64) {
        if !ms.is_finite() || ms < 0.0 {
            return;
        }
        self.age();
        let at = bucket_of(ms);
        // the part of bucket `at` above `ms`, plus every bucket after it
        let upper = lower_edge(at + 1);
        let width = upper - lower_edge(at);
        let share_of_at = ((upper - ms) / width).clamp(0.0, 1.0);
        let above: f64 = self.weights[at] * share_of_at + self.weights[at + 1..].iter().sum::<f64>();
        if above <= 0.0 {
            self.weights[at] += self.decay;
        } else {
            let scale = self.decay / above;
            self.weights[at] += self.weights[at] * share_of_at * scale;
            for w in &mut self.weights[at + 1..] {
                *w += *w * scale;
            }
        }
        self.total += self.decay;
    }

    /// The `q` quantile in ms (q in [0, 1]), interpolated inside its bucket; None before any sample.
    #[must_use]
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.total <= 0.0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        let target = q * self.total;
        let mut below = 0.0;
        for (i, w) in self.weights.iter().enumerate() {
            if *w > 0.0 && below + w >= target {
                let (lo, hi) = (lower_edge(i), lower_edge(i + 1));
                let fraction = ((target - below) / w).clamp(0.0, 1.0);
                // geometric interpolation: buckets are log-spaced
                return Some(lo * (hi / lo).powf(fraction));
            }
            below += w;
        }
        self.weights.iter().rposition(|w| *w > 0.0).map(|i| lower_edge(i + 1))
    }
}

impl LiveQuantile {
    /// When to hedge an attempt still waiting for its first token: the `q` quantile, lowered across any
    /// nearly empty stretch just below it (holding at most `gap_share` of the weight), to where first
    /// tokens actually arrive. Waiting through a stretch in which almost no first token comes gains
    /// nothing: with 95% of answers at 300 ms and 5% at 3 s, p95 can sit at 3 s, and a hedge there is
    /// useless, while the bulk ends at about 330 ms. On a continuous distribution this is the quantile.
    #[must_use]
    pub fn hedge_delay(&self, q: f64, gap_share: f64) -> Option<f64> {
        let quantile = self.quantile(q)?;
        let at = bucket_of(quantile);
        let allowance = gap_share * self.total;
        let mut gap = 0.0;
        let mut i = at;
        while i > 0 && gap + self.weights[i - 1] <= allowance {
            gap += self.weights[i - 1];
            i -= 1;
        }
        if i == at || i == 0 {
            return Some(quantile);
        }
        Some(lower_edge(i).min(quantile))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn within(value: f64, truth: f64, tolerance: f64) -> bool {
        (value / truth - 1.0).abs() <= tolerance
    }

    #[test]
    fn empty_has_no_quantile_and_bad_input_is_ignored() {
        let mut q = LiveQuantile::new(0.01);
        assert_eq!(q.quantile(0.5), None);
        q.observe(f64::NAN);
        q.observe(-1.0);
        q.observe_censored(f64::INFINITY);
        assert_eq!((q.quantile(0.5), q.samples()), (None, 0));
        q.observe(10.0);
        assert_eq!(q.quantile(1.5), None);
    }

    #[test]
    fn uniform_quantiles_are_within_a_bucket() {
        let mut q = LiveQuantile::new(0.000_01);
        for i in 0..2000 {
            q.observe(100.0 + f64::from(i % 1000));
        }
        for (p, truth) in [(0.5, 600.0), (0.95, 1050.0), (0.99, 1090.0)] {
            let got = q.quantile(p).unwrap();
            assert!(within(got, truth, 0.06), "p{p}: {got} vs {truth}");
        }
    }

    #[test]
    fn the_tail_shows_in_p99_and_extremes_are_clamped() {
        let mut q = LiveQuantile::new(0.001);
        for i in 0..1000 {
            q.observe(if i % 50 == 0 { 3000.0 } else { 300.0 });
        }
        assert!(within(q.quantile(0.5).unwrap(), 300.0, 0.1));
        assert!(within(q.quantile(0.99).unwrap(), 3000.0, 0.1));
        q.observe(0.01);
        q.observe(1e12);
        assert!(q.quantile(1.0).unwrap() > 1e6);
    }

    #[test]
    fn old_samples_decay_away() {
        let mut q = LiveQuantile::new(0.05);
        for _ in 0..200 {
            q.observe(2000.0);
        }
        for _ in 0..200 {
            q.observe(100.0);
        }
        assert!(within(q.quantile(0.95).unwrap(), 100.0, 0.1));
    }

    #[test]
    fn censored_samples_keep_the_tail_that_hedging_cuts() {
        // 90% answer at 300 ms, 10% would take 3 s but are cancelled at 600 ms by a hedge.
        let mut censored = LiveQuantile::new(0.001);
        let mut dropped = LiveQuantile::new(0.001);
        for _ in 0..20 {
            censored.observe(3000.0); // the tail as measured before hedging began
            dropped.observe(3000.0);
        }
        for i in 0..1000 {
            if i % 10 == 0 {
                censored.observe_censored(600.0);
            } else {
                censored.observe(300.0);
                dropped.observe(300.0);
            }
        }
        assert!(censored.quantile(0.95).unwrap() > 2500.0, "{:?}", censored.quantile(0.95));
        assert!(dropped.quantile(0.95).unwrap() < 400.0);
    }

    #[test]
    fn censored_with_nothing_known_above_counts_at_its_time() {
        let mut q = LiveQuantile::new(0.01);
        q.observe(100.0);
        q.observe_censored(800.0);
        assert!(within(q.quantile(1.0).unwrap(), 800.0, 0.1));
        assert!(within(q.quantile(0.25).unwrap(), 100.0, 0.1));
    }

    #[test]
    fn hedge_delay_skips_the_empty_stretch_below_a_bimodal_p95() {
        let mut q = LiveQuantile::new(0.001);
        for i in 0..2000 {
            q.observe(if i % 16 == 0 { 3000.0 } else { 300.0 + f64::from(i % 7) });
        }
        assert!(q.quantile(0.95).unwrap() > 2500.0);
        let delay = q.hedge_delay(0.95, 0.01).unwrap();
        assert!((300.0..=340.0).contains(&delay), "{delay}");
        // a continuous distribution: the delay is the quantile itself
        let mut smooth = LiveQuantile::new(0.000_01);
        for i in 0..2000 {
            smooth.observe(100.0 + f64::from(i % 1000));
        }
        assert_eq!(smooth.hedge_delay(0.95, 0.01), smooth.quantile(0.95));
        assert_eq!(LiveQuantile::new(0.01).hedge_delay(0.95, 0.01), None);
    }

    #[test]
    fn buckets_cover_their_range() {
        for ms in [0.5, 1.0, 1.5, 37.0, 300.0, 3000.0, 1e9] {
            let i = bucket_of(ms);
            assert!(i == 0 || lower_edge(i) <= ms, "{ms}");
            assert!(i == BUCKETS - 1 || ms < lower_edge(i + 1), "{ms}");
        }
    }
}
