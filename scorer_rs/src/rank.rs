//! Provider ranking for one model: available first, then by the chosen factor.
//!
//! Among available providers, for latency and throughput, one with no successful attempt yet comes
//! first, so it gets measured; the rest follow by the factor (latency is inflated by the error rate),
//! ties by fewer in flight, then price, then name. The price factor orders by blended price, ties by
//! latency, then name. Ejected providers come last, soonest to reopen first, so a model whose
//! providers are all ejected still has a least-bad candidate.

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

/// Effective first-token latency: the EWMA, inflated by the error rate, so a fast provider that
/// fails intermittently (below the circuit's threshold) sinks; `None` until an attempt succeeded.
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
        Factor::Price => {
            // Unmeasured reads as 0 ms, so among equal prices the unmeasured one is tried first.
            return cmp_f64(a.blended_price(), b.blended_price())
                .then_with(|| cmp_f64(effective_latency(a).unwrap_or(0.0), effective_latency(b).unwrap_or(0.0)))
                .then_with(|| a.provider.cmp(&b.provider));
        }
    };
    by_factor.then_with(|| tie_break(a, b))
}

/// Writes the indices of `slot.pairs`, best first, into `order` (which must hold exactly
/// `slot.pairs.len()` entries); the caller owns the buffer so the hot path need not allocate.
///
/// # Panics
/// If `order.len() != slot.pairs.len()`.
pub fn rank_into(slot: &ModelSlot, factor: Factor, now_ms: f64, order: &mut [usize]) {
    assert_eq!(order.len(), slot.pairs.len(), "rank_into: buffer length must equal the provider count");
    for (i, at) in order.iter_mut().enumerate() {
        *at = i;
    }
    // Stable sort: the comparator is a total order over distinct names, so stability only matters
    // for a (never produced) duplicate provider.
    order.sort_by(|&i, &j| compare(&slot.pairs[i], &slot.pairs[j], factor, now_ms));
}

/// Indices into `slot.pairs`, best first.
#[must_use]
pub fn rank_indices(slot: &ModelSlot, factor: Factor, now_ms: f64) -> Vec<usize> {
    let mut order = vec![0; slot.pairs.len()];
    rank_into(slot, factor, now_ms, &mut order);
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{AttemptEnd, ScorerConfig, StatsTable};

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
        t.record("m", p, AttemptEnd::ok(ttft, Some(tps)), 0.0).unwrap();
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
            t.record("m", "fast", AttemptEnd::error(None), 0.0).unwrap();
        }
        t.begin("m", "cheap", 0.0).unwrap();
        t.record("m", "cheap", AttemptEnd::error(Some(60_000.0)), 0.0).unwrap();
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
        t.record("m", "fast", AttemptEnd::error(None), 0.0).unwrap();
        assert_eq!(names(&t, Factor::Latency, 0.0)[0], "slow");
    }

    #[test]
    fn a_provider_that_only_failed_keeps_its_exploration_slot() {
        let mut t = table();
        ok(&mut t, "slow", 300.0, 10.0);
        ok(&mut t, "cheap", 100.0, 10.0);
        t.begin("m", "fast", 0.0).unwrap();
        t.record("m", "fast", AttemptEnd::error(None), 0.0).unwrap();
        assert_eq!(names(&t, Factor::Latency, 0.0)[0], "fast");
        assert_eq!(names(&t, Factor::Throughput, 0.0)[0], "fast");
    }

    #[test]
    fn ties_go_to_fewer_in_flight_then_price_then_name() {
        let mut t = StatsTable::new(ScorerConfig::default());
        for (p, price) in [("z", 1.0), ("y", 1.0), ("x", 2.0)] {
            t.register("m", p, price, price);
        }
        assert_eq!(names(&t, Factor::Latency, 0.0), ["y", "z", "x"]);
        t.begin("m", "y", 0.0).unwrap();
        assert_eq!(names(&t, Factor::Latency, 0.0), ["z", "x", "y"]);
        // Price ignores in-flight: price, then latency, then name.
        assert_eq!(names(&t, Factor::Price, 0.0), ["y", "z", "x"]);
    }

    #[test]
    fn half_open_with_probe_in_flight_ranks_with_the_ejected() {
        let mut t = table();
        ok(&mut t, "slow", 300.0, 10.0);
        ok(&mut t, "cheap", 100.0, 10.0);
        for _ in 0..3 {
            t.record("m", "fast", AttemptEnd::error(None), 0.0).unwrap();
        }
        let cooled = 5000.0;
        assert_eq!(names(&t, Factor::Latency, cooled)[0], "fast", "half-open and unmeasured: probe it");
        t.begin("m", "fast", cooled).unwrap();
        assert_eq!(names(&t, Factor::Latency, cooled).last().map(String::as_str), Some("fast"));
    }

    #[test]
    fn unknown_factor() {
        assert!(Factor::parse("vibes").is_err());
    }
}
