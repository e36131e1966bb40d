//! `Scorer`: the live stats table and provider ranking, for Python.

use std::time::Instant;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use crate::circuit::{CircuitConfig, CircuitState};
use crate::provider_rank::{with_provider_ranking, Factor};
use crate::scorer_config::{ConfigError, ScorerConfig, DEFAULT_SCORER_CONFIG};
use crate::stats::{AttemptEnd, Outcome, PairStats, ScorerError, StatsTable};

impl From<ScorerError> for PyErr {
    fn from(err: ScorerError) -> Self {
        PyValueError::new_err(err.to_string())
    }
}

impl From<ConfigError> for PyErr {
    fn from(err: ConfigError) -> Self {
        PyValueError::new_err(err.to_string())
    }
}

const DEFAULTS: ScorerConfig = DEFAULT_SCORER_CONFIG;

/// The `Scorer` constructor's defaults, for Python's config to read instead of repeating them.
#[pyfunction]
pub fn scorer_defaults(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("ewma_alpha", DEFAULTS.ewma_alpha)?;
    d.set_item("failure_threshold", DEFAULTS.circuit.failure_threshold)?;
    d.set_item("cooldown_ms", DEFAULTS.circuit.cooldown_ms)?;
    d.set_item("max_cooldown_ms", DEFAULTS.circuit.max_cooldown_ms)?;
    d.set_item("error_alpha", DEFAULTS.error_alpha)?;
    Ok(d)
}

#[pyclass(module = "proxy._scorer", name = "Scorer")]
pub struct PyScorer {
    pub(crate) table: StatsTable,
    epoch: Instant,
    /// Interned provider names per model slot, in registration order, so rankings return without allocating.
    names: Vec<Vec<Py<PyString>>>,
}

impl PyScorer {
    pub(crate) fn now(&self, now_ms: Option<f64>) -> f64 {
        now_ms.unwrap_or_else(|| self.epoch.elapsed().as_secs_f64() * 1000.0)
    }
}

fn stats_dict<'py>(py: Python<'py>, model: &str, pair: &PairStats, now: f64) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("model", model)?;
    d.set_item("provider", &pair.provider)?;
    d.set_item("first_token_ms", pair.first_token_ms.value())?;
    d.set_item("ttft_p95_ms", pair.first_token_quantile.quantile(0.95))?;
    d.set_item("tokens_per_s", pair.tokens_per_s.value())?;
    d.set_item("error_rate", pair.error_rate)?;
    d.set_item("consecutive_failures", pair.consecutive_failures)?;
    d.set_item("circuit", pair.circuit_state(now).as_str())?;
    d.set_item("in_flight", pair.in_flight)?;
    d.set_item("samples", pair.samples)?;
    d.set_item("failures", pair.failures)?;
    d.set_item("available", pair.available(now))?;
    d.set_item("cooldown_remaining_ms", pair.circuit.remaining_ms(now))?;
    d.set_item("input_price", pair.input_price)?;
    d.set_item("output_price", pair.output_price)?;
    Ok(d)
}

#[pymethods]
impl PyScorer {
    #[new]
    #[pyo3(signature = (
        *,
        ewma_alpha=DEFAULTS.ewma_alpha,
        failure_threshold=DEFAULTS.circuit.failure_threshold,
        cooldown_ms=DEFAULTS.circuit.cooldown_ms,
        max_cooldown_ms=DEFAULTS.circuit.max_cooldown_ms,
        error_alpha=DEFAULTS.error_alpha,
    ))]
    fn new(ewma_alpha: f64, failure_threshold: u32, cooldown_ms: f64, max_cooldown_ms: f64, error_alpha: f64) -> PyResult<Self> {
        let circuit = CircuitConfig { failure_threshold, cooldown_ms, max_cooldown_ms };
        let config = ScorerConfig { ewma_alpha, error_alpha, circuit }.validated()?;
        Ok(Self { table: StatsTable::new(config), epoch: Instant::now(), names: Vec::new() })
    }

    /// Add a (model, provider) pair, or update its prices (USD per 1M tokens).
    fn register(&mut self, py: Python<'_>, model: &str, provider: &str, input_price: f64, output_price: f64) {
        let (at, added) = self.table.register(model, provider, input_price, output_price);
        if added {
            if self.names.len() <= at {
                self.names.resize_with(at + 1, Vec::new);
            }
            self.names[at].push(PyString::new(py, provider).unbind());
        }
    }

    #[pyo3(signature = (model, provider, now_ms=None))]
    fn begin(&mut self, model: &str, provider: &str, now_ms: Option<f64>) -> PyResult<()> {
        let now = self.now(now_ms);
        Ok(self.table.begin(model, provider, now)?)
    }

    #[pyo3(signature = (model, provider, outcome, first_token_ms=None, tokens_per_s=None, retry_after_ms=None, now_ms=None, waited_ms=None))]
    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        model: &str,
        provider: &str,
        outcome: &str,
        first_token_ms: Option<f64>,
        tokens_per_s: Option<f64>,
        retry_after_ms: Option<f64>,
        now_ms: Option<f64>,
        waited_ms: Option<f64>,
    ) -> PyResult<()> {
        let end = AttemptEnd { outcome: Outcome::parse(outcome)?, first_token_ms, tokens_per_s, retry_after_ms, waited_ms };
        let now = self.now(now_ms);
        Ok(self.table.record(model, provider, end, now)?)
    }

    /// Providers of `model`, best first, by "latency", "price" or "throughput".
    #[pyo3(signature = (model, factor="latency", now_ms=None))]
    fn rank_providers<'py>(&self, py: Python<'py>, model: &str, factor: &str, now_ms: Option<f64>) -> PyResult<Bound<'py, PyList>> {
        let factor = Factor::parse(factor)?;
        let at = self.table.slot_index(model)?;
        let now = self.now(now_ms);
        let names = &self.names[at];
        with_provider_ranking(self.table.slot_at(at), factor, now, |order| PyList::new(py, order.iter().map(|&i| names[i].bind(py))))
    }

    /// The live `q` quantile of time to first token in ms; None until `min_samples` attempts fed it.
    #[pyo3(signature = (model, provider, q=0.95, min_samples=20))]
    fn ttft_quantile(&self, model: &str, provider: &str, q: f64, min_samples: u64) -> PyResult<Option<f64>> {
        if !(0.0..=1.0).contains(&q) {
            return Err(PyValueError::new_err(format!("q must be in [0, 1], got {q}")));
        }
        let quantile = &self.table.pair(model, provider)?.first_token_quantile;
        Ok(if quantile.samples() < min_samples { None } else { quantile.quantile(q) })
    }

    /// The hedge delay in ms: the `q` quantile lowered across a nearly empty stretch below it (at most
    /// `gap_share` of the weight); None until `min_samples` attempts fed it.
    #[pyo3(signature = (model, provider, q=0.95, gap_share=0.01, min_samples=20))]
    fn ttft_hedge_delay(&self, model: &str, provider: &str, q: f64, gap_share: f64, min_samples: u64) -> PyResult<Option<f64>> {
        if !(0.0..=1.0).contains(&q) || !(0.0..=1.0).contains(&gap_share) {
            return Err(PyValueError::new_err(format!("q and gap_share must be in [0, 1], got {q} and {gap_share}")));
        }
        let quantile = &self.table.pair(model, provider)?.first_token_quantile;
        Ok(if quantile.samples() < min_samples { None } else { quantile.hedge_delay(q, gap_share) })
    }

    #[pyo3(signature = (model, provider, now_ms=None))]
    fn is_available(&self, model: &str, provider: &str, now_ms: Option<f64>) -> PyResult<bool> {
        let now = self.now(now_ms);
        Ok(self.table.pair(model, provider)?.available(now))
    }

    #[pyo3(signature = (model, provider, now_ms=None))]
    fn stats<'py>(&self, py: Python<'py>, model: &str, provider: &str, now_ms: Option<f64>) -> PyResult<Bound<'py, PyDict>> {
        let now = self.now(now_ms);
        let pair = self.table.pair(model, provider)?;
        stats_dict(py, model, pair, now)
    }

    #[pyo3(signature = (now_ms=None))]
    fn all_stats<'py>(&self, py: Python<'py>, now_ms: Option<f64>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let now = self.now(now_ms);
        let mut out = Vec::new();
        let mut models: Vec<_> = self.table.slots().collect();
        models.sort_by(|a, b| a.0.cmp(b.0));
        for (model, slot) in models {
            for pair in &slot.pairs {
                out.push(stats_dict(py, model, pair, now)?);
            }
        }
        Ok(out)
    }

    fn providers(&self, model: &str) -> PyResult<Vec<String>> {
        let slot = self.table.slot(model)?;
        Ok(slot.pairs.iter().map(|p| p.provider.clone()).collect())
    }

    #[pyo3(signature = (now_ms=None))]
    fn circuit_counts<'py>(&self, py: Python<'py>, now_ms: Option<f64>) -> PyResult<Bound<'py, PyDict>> {
        let now = self.now(now_ms);
        let (mut closed, mut open, mut half) = (0u32, 0u32, 0u32);
        for (_, slot) in self.table.slots() {
            for pair in &slot.pairs {
                match pair.circuit_state(now) {
                    CircuitState::Closed => closed += 1,
                    CircuitState::Open => open += 1,
                    CircuitState::HalfOpen => half += 1,
                }
            }
        }
        let d = PyDict::new(py);
        d.set_item("closed", closed)?;
        d.set_item("open", open)?;
        d.set_item("half_open", half)?;
        Ok(d)
    }

    fn reset(&mut self, model: &str, provider: &str) -> PyResult<()> {
        Ok(self.table.reset(model, provider)?)
    }

    /// Milliseconds on the scorer's monotonic clock (what `now_ms=None` means).
    fn now_ms(&self) -> f64 {
        self.now(None)
    }
}
