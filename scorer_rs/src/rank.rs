//! Provider ranking for one model: available first, then by the chosen factor.
//!
//! Among available providers an unmeasured one comes first, so it gets measured; the rest follow by
//! the factor (latency is penalised by the error rate). Ejected providers come last, soonest to
//! reopen first, so a model whose providers are all ejected still has a least-bad candidate.

use std::cmp::Ordering;

use crate::stats::{ModelSlot, PairStats, ScorerError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Factor {
    Latency,
    Price,
    Throughput,
}

impl Factor {
    /// # Errors
    /// An unknown factor name.
    pub fn parse(name: &str) -> Result<Self, ScorerError> {
        match name {
            "latency" => Ok(Factor::Latency),
            "price" => Ok(Factor::Price),
            "throughput" => Ok(Factor::Throughput),
            other => Err(ScorerError::UnknownFactor(other.to_owned())),
        }
    }
}

/// How much a 100% error rate inflates a provider's effective latency.
pub const ERROR_LATENCY_PENALTY: f64 = 2.0;

/// Effective first-token latency: the EWMA, inflated by the error rate; unmeasured is `None`.
#[must_use]
pub fn effective_latency(pair: &PairStats) -> Option<f64> {
    if !pair.measured() {
        return None;
    }
    let base = pair.first_token_ms.value().unwrap_or(f64::MAX / 4.0);
    Some(base * (1.0 + ERROR_LATENCY_PENALTY * pair.error_rate))
}

fn cmp_f64(a: f64, b: f64) -> Ordering {
    a.partial_cmp(&b).unwrap_or(Ordering::Equal)
}

fn cmp_measured_first(a: Option<f64>, b: Option<f64>, lower_is_better: bool) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => {
            if lower_is_better {
                cmp_f64(x, y)
            } else {
                cmp_f64(y, x)
            }
        }
    }
}

fn tie_break(a: &PairStats, b: &PairStats) -> Ordering {
    a.in_flight
        .cmp(&b.in_flight)
        .then_with(|| cmp_f64(a.blended_price(), b.blended_price()))
        .then_with(|| a.provider.cmp(&b.provider))
}

fn compare(a: &PairStats, b: &PairStats, factor: Factor, now_ms: f64) -> Ordering {
    let (avail_a, avail_b) = (a.available(now_ms), b.available(now_ms));
    if avail_a != avail_b {
        return avail_b.cmp(&avail_a);
    }
    if !avail_a {
        return cmp_f64(a.circuit.open_until_ms(), b.circuit.open_until_ms()).then_with(|| tie_break(a, b));
    }
    let by_factor = match factor {
        Factor::Latency => cmp_measured_first(effective_latency(a), effective_latency(b), true),
        Factor::Throughput => {
            let tps = |p: &PairStats| if p.measured() { Some(p.tokens_per_s.value().unwrap_or(0.0)) } else { None };
            cmp_measured_first(tps(a), tps(b), false)
        }
        Factor::Price => cmp_f64(a.blended_price(), b.blended_price())
            .then_with(|| cmp_f64(effective_latency(a).unwrap_or(0.0), effective_latency(b).unwrap_or(0.0))),
    };
    by_factor.then_with(|| tie_break(a, b))
}

/// Indices into `slot.pairs`, best first.
#[must_use]
pub fn rank_indices(slot: &ModelSlot, factor: Factor, now_ms: f64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..slot.pairs.len()).collect();
    order.sort_by(|&i, &j| compare(&slot.pairs[i], &slot.pairs[j], factor, now_ms));
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{Outcome, ScorerConfig, StatsTable};

    fn names(t: &StatsTable, factor: Factor, now: f64) -> Vec<String> {
        let slot = t.slot("m").unwrap();
        rank_indices(slot, factor, now).into_iter().map(|i| slot.pairs[i].provider.clone()).collect()
    }

    fn table() -> StatsTable {
        let mut t = StatsTable::new(ScorerConfig::default());
        t.register("m", "slow", 1.0, 1.0);
        t.register("m", "fast", 5.0, 5.0);
        t.register("m", "cheap", 0.1, 0.1);
        t
    }

    fn ok(t: &mut StatsTable, p: &str, ttft: f64, tps: f64) {
        t.begin("m", p, 0.0).unwrap();
        t.record("m", p, Outcome::Ok, Some(ttft), Some(tps), None, 0.0).unwrap();
    }

    #[test]
    fn unmeasured_first_then_by_latency() {
        let mut t = table();
        ok(&mut t, "slow", 300.0, 10.0);
        ok(&mut t, "fast", 20.0, 50.0);
        assert_eq!(names(&t, Factor::Latency, 0.0), ["cheap", "fast", "slow"]);
        ok(&mut t, "cheap", 100.0, 500.0);
        assert_eq!(names(&t, Factor::Latency, 0.0), ["fast", "cheap", "slow"]);
        assert_eq!(names(&t, Factor::Throughput, 0.0), ["cheap", "fast", "slow"]);
        assert_eq!(names(&t, Factor::Price, 0.0), ["cheap", "slow", "fast"]);
    }

    #[test]
    fn ejected_go_last_soonest_first() {
        let mut t = table();
        for p in ["slow", "fast", "cheap"] {
            ok(&mut t, p, 10.0, 10.0);
        }
        for _ in 0..3 {
            t.begin("m", "fast", 0.0).unwrap();
            t.record("m", "fast", Outcome::Error, None, None, None, 0.0).unwrap();
        }
        t.begin("m", "cheap", 0.0).unwrap();
        t.record("m", "cheap", Outcome::Error, None, None, Some(60_000.0), 0.0).unwrap();
        assert_eq!(names(&t, Factor::Price, 100.0), ["slow", "fast", "cheap"]);
        assert_eq!(names(&t, Factor::Latency, 100.0), ["slow", "fast", "cheap"]);
    }

    #[test]
    fn errors_push_a_provider_down() {
        let mut t = table();
        ok(&mut t, "slow", 100.0, 10.0);
        ok(&mut t, "fast", 90.0, 10.0);
        ok(&mut t, "cheap", 300.0, 10.0);
        t.begin("m", "fast", 0.0).unwrap();
        t.record("m", "fast", Outcome::Error, None, None, None, 0.0).unwrap();
        assert_eq!(names(&t, Factor::Latency, 0.0)[0], "slow");
    }

    #[test]
    fn unknown_factor() {
        assert!(Factor::parse("vibes").is_err());
    }
}
