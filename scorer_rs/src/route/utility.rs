//! The continuous trade-off between predicted quality and estimated cost, and the per-request limits.
//!
//! `tradeoff` t in [0, 1] sets a price of quality: an offer scores `q − κ(t) · cost / REFERENCE_COST_USD
//! − latency_weight · latency_s`, with κ(t) = KAPPA_SCALE · (1 − t) / t. So 1 is the highest predicted
//! quality whatever it costs, 0 the cheapest offer, and in between the choice moves smoothly. The price is
//! absolute, not relative to the pool: this is the Lagrangian of "best mean quality under a mean-cost
//! budget" (what the frontier in bench/ROUTING.md sweeps), and adding a model to the pool never changes
//! the order of the others. The named preferences are fixed points on the scale.

/// Quality given up per `REFERENCE_COST_USD` of estimated cost at tradeoff 0.5.
pub const KAPPA_SCALE: f64 = 0.01;
pub const REFERENCE_COST_USD: f64 = 0.001;
/// `speed`: quality given up per second of estimated latency.
pub const SPEED_LATENCY_WEIGHT: f64 = 0.05;
/// Tie-breaks at the ends of the scale (cost at 1, quality at 0): never enough to reorder anything else.
const TIE: f64 = 1e-9;

/// Where a request sits between cost and quality, and how much latency counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Utility {
    pub tradeoff: f64,
    pub latency_weight: f64,
}

impl Utility {
    /// # Errors
    /// `tradeoff` outside [0, 1] or `latency_weight` negative (or either not a number).
    pub fn new(tradeoff: f64, latency_weight: f64) -> Result<Self, String> {
        if !(0.0..=1.0).contains(&tradeoff) {
            return Err(format!("tradeoff must be a number from 0 to 1; got {tradeoff}"));
        }
        if !(latency_weight >= 0.0 && latency_weight.is_finite()) {
            return Err(format!("latency_weight must be a non-negative number; got {latency_weight}"));
        }
        Ok(Self { tradeoff, latency_weight })
    }

    /// The price of quality: quality given up per `REFERENCE_COST_USD` (infinite at tradeoff 0).
    #[must_use]
    pub fn kappa(&self) -> f64 {
        if self.tradeoff <= 0.0 {
            f64::INFINITY
        } else {
            KAPPA_SCALE * (1.0 - self.tradeoff) / self.tradeoff
        }
    }

    /// The offer's score: higher is better.
    #[must_use]
    pub fn score(&self, quality: f64, cost_usd: f64, latency_ms: f64) -> f64 {
        let cost = cost_usd / REFERENCE_COST_USD;
        let latency = self.latency_weight * latency_ms / 1000.0;
        let kappa = self.kappa();
        if kappa.is_infinite() {
            -cost - latency * TIE + quality * TIE
        } else {
            quality - kappa * cost - latency - if kappa == 0.0 { cost * TIE } else { 0.0 }
        }
    }
}

/// Per-request caps: offers above `max_cost_usd` and models below `min_quality` are dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Limits {
    pub max_cost_usd: Option<f64>,
    pub min_quality: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ends_of_the_scale() {
        let cheapest = Utility::new(0.0, 0.0).unwrap();
        assert!(cheapest.score(0.1, 0.0001, 0.0) > cheapest.score(0.99, 0.0002, 0.0));
        let best = Utility::new(1.0, 0.0).unwrap();
        assert!(best.score(0.8, 1.0, 0.0) > best.score(0.79, 0.0, 0.0));
        // Equal quality: the cheaper wins even at 1.
        assert!(best.score(0.8, 0.001, 0.0) > best.score(0.8, 0.002, 0.0));
    }

    #[test]
    fn the_price_of_quality_falls_smoothly_with_the_tradeoff() {
        let ks: Vec<f64> = [0.1, 0.3, 0.5, 0.7, 0.9].iter().map(|&t| Utility::new(t, 0.0).unwrap().kappa()).collect();
        assert!(ks.windows(2).all(|w| w[0] > w[1]));
        assert!((Utility::new(0.5, 0.0).unwrap().kappa() - KAPPA_SCALE).abs() < 1e-12);
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(Utility::new(1.5, 0.0).unwrap_err().contains("tradeoff"));
        assert!(Utility::new(f64::NAN, 0.0).is_err());
        assert!(Utility::new(0.5, -1.0).unwrap_err().contains("latency_weight"));
    }
}
