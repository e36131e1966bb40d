//! The live model × provider table: EWMAs of time to first token and tokens/s, error rate,
//! consecutive failures, circuit state and in-flight count, fed by every attempt.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::circuit::{Circuit, CircuitState};
use crate::ewma::Ewma;
use crate::quantile::LiveQuantile;
use crate::scorer_config::ScorerConfig;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Error,
    Cancelled,
}

impl Outcome {
    /// # Errors
    /// An unknown outcome name.
    pub fn parse(name: &str) -> Result<Self, ScorerError> {
        match name {
            "ok" => Ok(Outcome::Ok),
            "error" => Ok(Outcome::Error),
            "cancelled" => Ok(Outcome::Cancelled),
            other => Err(ScorerError::UnknownOutcome(other.to_owned())),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScorerError {
    UnknownModel(String),
    UnknownProvider(String, String),
    UnknownOutcome(String),
    UnknownFactor(String),
}

impl std::fmt::Display for ScorerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScorerError::UnknownModel(m) => write!(f, "unknown model {m:?}: register it first"),
            ScorerError::UnknownProvider(m, p) => write!(f, "provider {p:?} is not registered for model {m:?}"),
            ScorerError::UnknownOutcome(o) => write!(f, "unknown outcome {o:?}: expected ok, error or cancelled"),
            ScorerError::UnknownFactor(x) => write!(f, "unknown factor {x:?}: expected latency, price or throughput"),
        }
    }
}

impl std::error::Error for ScorerError {}

/// How an attempt ended, with what it measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AttemptEnd {
    pub outcome: Outcome,
    pub first_token_ms: Option<f64>,
    pub tokens_per_s: Option<f64>,
    /// A Retry-After (429/503): the circuit stays open at least this long.
    pub retry_after_ms: Option<f64>,
    /// For a cancelled attempt that had no first token: how long it had waited. It enters the TTFT
    /// quantile as censored (the first token would have come later), and nothing else.
    pub waited_ms: Option<f64>,
}

impl AttemptEnd {
    #[must_use]
    pub fn ok(first_token_ms: f64, tokens_per_s: Option<f64>) -> Self {
        Self { outcome: Outcome::Ok, first_token_ms: Some(first_token_ms), tokens_per_s, retry_after_ms: None, waited_ms: None }
    }

    #[must_use]
    pub fn error(retry_after_ms: Option<f64>) -> Self {
        Self { outcome: Outcome::Error, first_token_ms: None, tokens_per_s: None, retry_after_ms, waited_ms: None }
    }

    #[must_use]
    pub fn cancelled() -> Self {
        Self { outcome: Outcome::Cancelled, first_token_ms: None, tokens_per_s: None, retry_after_ms: None, waited_ms: None }
    }
}

/// The TTFT quantile's weight per new sample: an effective window of the last 500 attempts.
pub const QUANTILE_DECAY: f64 = 1.0 / 500.0;

/// Live statistics of one (model, provider) pair.
#[derive(Clone, Debug, PartialEq)]
pub struct PairStats {
    pub provider: String,
    pub input_price: f64,
    pub output_price: f64,
    pub first_token_ms: Ewma,
    /// Live TTFT distribution, for hedging's delay (p95): successes observed, cancelled waits censored.
    pub first_token_quantile: LiveQuantile,
    pub tokens_per_s: Ewma,
    pub error_rate: f64,
    pub consecutive_failures: u32,
    pub samples: u64,
    pub failures: u64,
    pub in_flight: u32,
    pub circuit: Circuit,
}

impl PairStats {
    fn new(provider: &str, input_price: f64, output_price: f64, config: &ScorerConfig) -> Self {
        Self {
            provider: provider.to_owned(),
            input_price,
            output_price,
            first_token_ms: Ewma::new(config.ewma_alpha),
            first_token_quantile: LiveQuantile::new(QUANTILE_DECAY),
            tokens_per_s: Ewma::new(config.ewma_alpha),
            error_rate: 0.0,
            consecutive_failures: 0,
            samples: 0,
            failures: 0,
            in_flight: 0,
            circuit: Circuit::new(&config.circuit),
        }
    }

    /// Blended price per 1M tokens, weighting input 3:1 as typical chat traffic does.
    #[must_use]
    pub fn blended_price(&self) -> f64 {
        (3.0 * self.input_price + self.output_price) / 4.0
    }

    /// Has any attempt succeeded? Failures alone do not count: a provider whose first attempt failed
    /// keeps its exploration slot until it succeeds or its circuit opens, so it cannot be starved.
    #[must_use]
    pub fn measured(&self) -> bool {
        self.samples > 0
    }

    #[must_use]
    pub fn circuit_state(&self, now_ms: f64) -> CircuitState {
        self.circuit.state(now_ms)
    }

    #[must_use]
    pub fn available(&self, now_ms: f64) -> bool {
        self.circuit.available(now_ms)
    }
}

/// The providers of one model, in registration order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModelSlot {
    pub pairs: Vec<PairStats>,
}

impl ModelSlot {
    #[must_use]
    pub fn index_of(&self, provider: &str) -> Option<usize> {
        self.pairs.iter().position(|p| p.provider == provider)
    }
}

/// FNV-1a: model slugs are short and trusted, so a fast non-keyed hash is the right trade.
#[derive(Default)]
pub struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

#[derive(Clone, Debug, Default)]
pub struct StatsTable {
    pub config: ScorerConfig,
    index: HashMap<String, usize, BuildHasherDefault<Fnv>>,
    slots: Vec<(String, ModelSlot)>,
}

impl StatsTable {
    #[must_use]
    pub fn new(config: ScorerConfig) -> Self {
        Self { config, index: HashMap::default(), slots: Vec::new() }
    }

    /// Adds the pair, or updates its prices if it exists. Returns the model's slot index and whether
    /// the provider is new.
    pub fn register(&mut self, model: &str, provider: &str, input_price: f64, output_price: f64) -> (usize, bool) {
        let config = self.config;
        let at = if let Some(&at) = self.index.get(model) {
            at
        } else {
            self.slots.push((model.to_owned(), ModelSlot::default()));
            self.index.insert(model.to_owned(), self.slots.len() - 1);
            self.slots.len() - 1
        };
        let slot = &mut self.slots[at].1;
        if let Some(i) = slot.index_of(provider) {
            slot.pairs[i].input_price = input_price;
            slot.pairs[i].output_price = output_price;
            (at, false)
        } else {
            slot.pairs.push(PairStats::new(provider, input_price, output_price, &config));
            (at, true)
        }
    }

    /// # Errors
    /// The model is not registered.
    pub fn slot(&self, model: &str) -> Result<&ModelSlot, ScorerError> {
        self.slot_index(model).map(|i| &self.slots[i].1)
    }

    /// Position of the model's slot; stable for the table's life (slots are never removed).
    ///
    /// # Errors
    /// The model is not registered.
    pub fn slot_index(&self, model: &str) -> Result<usize, ScorerError> {
        self.index.get(model).copied().ok_or_else(|| ScorerError::UnknownModel(model.to_owned()))
    }

    #[must_use]
    pub fn slot_at(&self, index: usize) -> &ModelSlot {
        &self.slots[index].1
    }

    /// # Errors
    /// The model or provider is not registered.
    pub fn pair(&self, model: &str, provider: &str) -> Result<&PairStats, ScorerError> {
        let slot = self.slot(model)?;
        slot.index_of(provider)
            .map(|i| &slot.pairs[i])
            .ok_or_else(|| ScorerError::UnknownProvider(model.to_owned(), provider.to_owned()))
    }

    fn pair_mut(&mut self, model: &str, provider: &str) -> Result<&mut PairStats, ScorerError> {
        let at = self.slot_index(model)?;
        let slot = &mut self.slots[at].1;
        match slot.index_of(provider) {
            Some(i) => Ok(&mut slot.pairs[i]),
            None => Err(ScorerError::UnknownProvider(model.to_owned(), provider.to_owned())),
        }
    }

    /// An attempt starts.
    ///
    /// # Errors
    /// The model or provider is not registered.
    pub fn begin(&mut self, model: &str, provider: &str, now_ms: f64) -> Result<(), ScorerError> {
        let pair = self.pair_mut(model, provider)?;
        pair.in_flight += 1;
        pair.circuit.on_begin(now_ms);
        Ok(())
    }

    /// An attempt ended.
    ///
    /// # Errors
    /// The model or provider is not registered.
    pub fn record(&mut self, model: &str, provider: &str, end: AttemptEnd, now_ms: f64) -> Result<(), ScorerError> {
        let config = self.config;
        let pair = self.pair_mut(model, provider)?;
        pair.in_flight = pair.in_flight.saturating_sub(1);
        match end.outcome {
            Outcome::Ok => {
                if let Some(ms) = end.first_token_ms.filter(|v| *v >= 0.0) {
                    pair.first_token_ms.update(ms);
                    pair.first_token_quantile.observe(ms);
                }
                if let Some(tps) = end.tokens_per_s.filter(|v| *v > 0.0) {
                    pair.tokens_per_s.update(tps);
                }
                pair.error_rate *= 1.0 - config.error_alpha;
                pair.consecutive_failures = 0;
                pair.samples += 1;
                pair.circuit.on_success(&config.circuit);
            }
            Outcome::Error => {
                pair.error_rate = pair.error_rate * (1.0 - config.error_alpha) + config.error_alpha;
                pair.consecutive_failures += 1;
                pair.failures += 1;
                pair.circuit.on_failure(&config.circuit, now_ms, pair.consecutive_failures, end.retry_after_ms);
            }
            // No verdict on the provider; only the probe slot (if this was the probe) is released.
            Outcome::Cancelled => {
                if let Some(ms) = end.waited_ms {
                    pair.first_token_quantile.observe_censored(ms);
                }
                pair.circuit.on_cancel();
            }
        }
        Ok(())
    }

    /// Forget everything measured about one pair (prices stay).
    ///
    /// # Errors
    /// The model or provider is not registered.
    pub fn reset(&mut self, model: &str, provider: &str) -> Result<(), ScorerError> {
        let config = self.config;
        let pair = self.pair_mut(model, provider)?;
        *pair = PairStats::new(&pair.provider.clone(), pair.input_price, pair.output_price, &config);
        Ok(())
    }

    pub fn slots(&self) -> impl Iterator<Item = (&String, &ModelSlot)> {
        self.slots.iter().map(|(name, slot)| (name, slot))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> StatsTable {
        let mut t = StatsTable::new(ScorerConfig::default());
        t.register("m", "a", 1.0, 2.0);
        t.register("m", "b", 3.0, 4.0);
        t
    }

    #[test]
    fn record_updates_ewmas_and_in_flight() {
        let mut t = table();
        t.begin("m", "a", 0.0).unwrap();
        assert_eq!(t.pair("m", "a").unwrap().in_flight, 1);
        t.record("m", "a", AttemptEnd::ok(100.0, Some(50.0)), 1.0).unwrap();
        let p = t.pair("m", "a").unwrap();
        assert_eq!(p.in_flight, 0);
        assert_eq!(p.first_token_ms.value(), Some(100.0));
        assert_eq!(p.tokens_per_s.value(), Some(50.0));
        assert_eq!(p.samples, 1);
    }

    #[test]
    fn failures_open_the_circuit_and_success_closes_it() {
        let mut t = table();
        for i in 0..3 {
            t.begin("m", "b", f64::from(i)).unwrap();
            t.record("m", "b", AttemptEnd::error(None), f64::from(i)).unwrap();
        }
        let p = t.pair("m", "b").unwrap();
        assert_eq!(p.circuit_state(10.0), CircuitState::Open);
        assert!(p.error_rate > 0.2);
        t.begin("m", "b", 6000.0).unwrap();
        t.record("m", "b", AttemptEnd::ok(5.0, None), 6001.0).unwrap();
        assert_eq!(t.pair("m", "b").unwrap().circuit_state(6002.0), CircuitState::Closed);
    }

    #[test]
    fn in_flight_never_underflows_and_cancel_changes_no_stats() {
        let mut t = table();
        let cancelled = AttemptEnd { first_token_ms: Some(1.0), ..AttemptEnd::cancelled() };
        t.record("m", "a", cancelled, 0.0).unwrap();
        let p = t.pair("m", "a").unwrap();
        assert_eq!((p.in_flight, p.samples, p.failures), (0, 0, 0));
        assert_eq!(p.first_token_ms.value(), None);
    }

    #[test]
    fn ttft_quantile_sees_successes_and_censored_waits_only() {
        let mut t = table();
        for i in 0..40 {
            t.begin("m", "a", 0.0).unwrap();
            t.record("m", "a", AttemptEnd::ok(100.0 + f64::from(i), None), 1.0).unwrap();
        }
        t.record("m", "a", AttemptEnd::error(None), 1.0).unwrap();
        let q = &t.pair("m", "a").unwrap().first_token_quantile;
        assert_eq!(q.samples(), 40);
        let p95 = q.quantile(0.95).unwrap();
        assert!((120.0..=150.0).contains(&p95), "{p95}");
        let waited = AttemptEnd { waited_ms: Some(900.0), ..AttemptEnd::cancelled() };
        for _ in 0..10 {
            t.record("m", "a", waited, 2.0).unwrap();
        }
        let p = t.pair("m", "a").unwrap();
        assert!(p.first_token_quantile.quantile(0.95).unwrap() > 800.0);
        assert_eq!((p.samples, p.failures, p.consecutive_failures), (40, 1, 1));
    }

    #[test]
    fn failures_alone_leave_a_pair_unmeasured() {
        let mut t = table();
        t.begin("m", "a", 0.0).unwrap();
        t.record("m", "a", AttemptEnd::error(None), 0.0).unwrap();
        let p = t.pair("m", "a").unwrap();
        assert!(!p.measured());
        assert_eq!((p.failures, p.consecutive_failures), (1, 1));
    }

    #[test]
    fn reset_forgets_stats_but_keeps_prices() {
        let mut t = table();
        for _ in 0..3 {
            t.record("m", "b", AttemptEnd::error(None), 0.0).unwrap();
        }
        t.reset("m", "b").unwrap();
        let p = t.pair("m", "b").unwrap();
        assert_eq!((p.failures, p.error_rate, p.input_price), (0, 0.0, 3.0));
        assert_eq!(p.circuit_state(1.0), CircuitState::Closed);
    }

    #[test]
    fn register_is_idempotent_and_errors_are_typed() {
        let mut t = table();
        assert_eq!(t.register("m", "a", 9.0, 9.0), (0, false));
        assert_eq!(t.register("n", "a", 1.0, 1.0), (1, true));
        assert_eq!(t.slot("m").unwrap().pairs.len(), 2);
        assert!((t.pair("m", "a").unwrap().input_price - 9.0).abs() < f64::EPSILON);
        assert!(matches!(t.pair("x", "a"), Err(ScorerError::UnknownModel(_))));
        assert!(matches!(t.pair("m", "z"), Err(ScorerError::UnknownProvider(..))));
        assert!(Outcome::parse("meh").is_err());
    }
}
