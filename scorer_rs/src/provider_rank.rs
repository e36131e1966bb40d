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

/// Rankings of up to this many providers sort on the stack (no allocation per call).
pub const INLINE_PROVIDERS: usize = 16;

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

/// A provider's place in the order, computed once per ranking; compared field by field, then by name.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct RankKey {
    /// 0: available and unmeasured (explore first), 1: available, 2: ejected.
    tier: u8,
    primary: f64,
    secondary: f64,
    in_flight: u32,
    price: f64,
}

impl RankKey {
    fn of(pair: &PairStats, factor: Factor, now_ms: f64) -> Self {
        let (in_flight, price) = (pair.in_flight, pair.blended_price());
        if !pair.available(now_ms) {
            let reopens = pair.circuit.open_until_ms();
            return Self { tier: 2, primary: reopens, secondary: 0.0, in_flight, price };
        }
        let measured = |value: f64| Self { tier: 1, primary: value, secondary: 0.0, in_flight, price };
        match (factor, effective_latency(pair)) {
            // Price ignores in-flight: price, then latency (unmeasured reads as 0 ms), then name.
            (Factor::Price, latency) => {
                Self { tier: 0, primary: price, secondary: latency.unwrap_or(0.0), in_flight: 0, price: 0.0 }
            }
            (_, None) => Self { tier: 0, primary: 0.0, secondary: 0.0, in_flight, price },
            (Factor::Latency, Some(latency)) => measured(latency),
            // Highest first; measured without a tokens/s sample reads as 0.
            (Factor::Throughput, Some(_)) => measured(-pair.tokens_per_s.value().unwrap_or(0.0)),
        }
    }

    fn cmp(&self, other: &Self) -> Ordering {
        self.tier
            .cmp(&other.tier)
            .then_with(|| cmp_f64(self.primary, other.primary))
            .then_with(|| cmp_f64(self.secondary, other.secondary))
            .then_with(|| self.in_flight.cmp(&other.in_flight))
            .then_with(|| cmp_f64(self.price, other.price))
    }
}

fn cmp_f64(a: f64, b: f64) -> Ordering {
    a.partial_cmp(&b).unwrap_or(Ordering::Equal)
}

fn sort_keyed(slot: &ModelSlot, keyed: &mut [(RankKey, usize)], factor: Factor, now_ms: f64) {
    for (i, (key, at)) in keyed.iter_mut().enumerate() {
        *key = RankKey::of(&slot.pairs[i], factor, now_ms);
        *at = i;
    }
    // Provider names are unique within a slot, so the order is total and an unstable sort is deterministic.
    keyed.sort_unstable_by(|(ka, a), (kb, b)| ka.cmp(kb).then_with(|| slot.pairs[*a].provider.cmp(&slot.pairs[*b].provider)));
}

/// Ranks `slot.pairs` best first and hands the indices to `use_order`; up to
/// [`INLINE_PROVIDERS`] providers are ranked without allocating.
pub fn with_provider_ranking<R>(slot: &ModelSlot, factor: Factor, now_ms: f64, use_order: impl FnOnce(&[usize]) -> R) -> R {
    let n = slot.pairs.len();
    if n <= INLINE_PROVIDERS {
        let mut keyed = [(RankKey::default(), 0usize); INLINE_PROVIDERS];
        sort_keyed(slot, &mut keyed[..n], factor, now_ms);
        let mut order = [0usize; INLINE_PROVIDERS];
        for (slot_at, (_, at)) in order.iter_mut().zip(&keyed[..n]) {
            *slot_at = *at;
        }
        use_order(&order[..n])
    } else {
        let mut keyed = vec![(RankKey::default(), 0usize); n];
        sort_keyed(slot, &mut keyed, factor, now_ms);
        let order: Vec<usize> = keyed.into_iter().map(|(_, at)| at).collect();
        use_order(&order)
    }
}

/// Indices into `slot.pairs`, best first.
#[must_use]
pub fn rank_providers(slot: &ModelSlot, factor: Factor, now_ms: f64) -> Vec<usize> {
    with_provider_ranking(slot, factor, now_ms, <[usize]>::to_vec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scorer_config::ScorerConfig;
    use crate::stats::{AttemptEnd, StatsTable};

    fn names(t: &StatsTable, factor: Factor, now: f64) -> Vec<String> {
        let slot = t.slot("m").unwrap();
        rank_providers(slot, factor, now).into_iter().map(|i| slot.pairs[i].provider.clone()).collect()
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
    fn more_providers_than_the_inline_buffer() {
        let mut t = StatsTable::new(ScorerConfig::default());
        for i in 0..40u32 {
            t.register("m", &format!("p{i:02}"), f64::from(40 - i), 1.0);
        }
        let ranked = names(&t, Factor::Price, 0.0);
        assert_eq!((ranked[0].as_str(), ranked[39].as_str()), ("p39", "p00"));
    }

    #[test]
    fn unknown_factor() {
        assert!(Factor::parse("vibes").is_err());
    }
}
