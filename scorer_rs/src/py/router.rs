//! `Router`: the model router's thin PyO3 face. Arguments become core structs; errors become ValueError.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use crate::features::{scan, TextFeatures, DENSE_NAMES, SIGNALS};
use crate::quality::{Predictor, SparseWeights};
use crate::registry::{specialty_index, RegistryError};
use crate::route::{ModelSpec, Needs, Offer, Preference};
use crate::router::Router as CoreRouter;

impl From<RegistryError> for PyErr {
    fn from(err: RegistryError) -> Self {
        PyValueError::new_err(err.to_string())
    }
}

#[pyclass(module = "proxy._scorer")]
pub struct Router {
    core: CoreRouter,
}

/// (model, provider, input_price, output_price, ttft_ms, tokens_per_s, healthy). The strings stay Python
/// objects: the result hands the same objects back, so the hot path copies no text.
type OfferTuple<'py> = (Bound<'py, PyString>, Bound<'py, PyString>, f64, f64, f64, f64, bool);

fn field<'py, T: FromPyObjectOwned<'py>>(d: &Bound<'py, PyDict>, path: &str, key: &str) -> PyResult<T> {
    let item = d.get_item(key)?.ok_or_else(|| PyValueError::new_err(format!("router weights: missing {path}{key}")))?;
    item.extract::<T>().map_err(|e| {
        let e: PyErr = e.into();
        PyValueError::new_err(format!("router weights: {path}{key}: {e}"))
    })
}

type HeadParts = (f64, Vec<f64>, Vec<u32>, Vec<f64>, String);

fn head(weights: &Bound<'_, PyDict>, name: &str) -> PyResult<HeadParts> {
    let d = weights
        .get_item(name)?
        .ok_or_else(|| PyValueError::new_err(format!("router weights: missing {name}")))?
        .cast_into::<PyDict>()
        .map_err(|_| PyValueError::new_err(format!("router weights: {name} must be an object")))?;
    let path = format!("{name}.");
    Ok((
        field(&d, &path, "bias")?,
        field(&d, &path, "dense")?,
        field(&d, &path, "hashed_idx")?,
        field(&d, &path, "hashed_w")?,
        field(&d, &path, "model")?,
    ))
}

fn features_dict<'py>(py: Python<'py>, f: &TextFeatures) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("est_tokens", f.est_tokens)?;
    d.set_item("bytes", f.bytes)?;
    d.set_item("words", f.words)?;
    d.set_item("lines", f.lines)?;
    d.set_item("language", f.language)?;
    d.set_item("task", f.task())?;
    let signals = PyDict::new(py);
    for (i, name) in SIGNALS.iter().enumerate() {
        signals.set_item(*name, f.signal_strength(i))?;
    }
    d.set_item("signals", signals)?;
    Ok(d)
}

#[pymethods]
impl Router {
    /// Builds the router from the parsed weights file (`proxy/routing/router_weights.json`).
    #[new]
    fn new(weights: &Bound<'_, PyDict>) -> PyResult<Self> {
        let buckets: u32 = field(weights, "", "buckets")?;
        let mean: Vec<f64> = field(weights, "", "dense_mean")?;
        let inv: Vec<f64> = field(weights, "", "dense_inv_scale")?;
        let (wb, wd, wi, ww, weak_model) = head(weights, "weak")?;
        let (sb, sd, si, sw, strong_model) = head(weights, "strong")?;
        let predictor = Predictor::new(
            buckets,
            &mean,
            &inv,
            (wb, &wd, SparseWeights { idx: &wi, w: &ww }),
            (sb, &sd, SparseWeights { idx: &si, w: &sw }),
        )
        .map_err(|e| PyValueError::new_err(format!("router weights: {e}")))?;
        Ok(Self { core: CoreRouter::new(predictor, weak_model, strong_model) })
    }

    /// Registers (or replaces) a model the router may pick.
    #[pyo3(signature = (slug, quality, context_window, max_output, tools=false, vision=false, json=false, specialty=None))]
    #[allow(clippy::too_many_arguments)]
    fn add_model(
        &mut self,
        slug: String,
        quality: f64,
        context_window: u32,
        max_output: u32,
        tools: bool,
        vision: bool,
        json: bool,
        specialty: Option<&str>,
    ) -> PyResult<()> {
        let specialty = specialty.map(specialty_index).transpose()?;
        let spec = ModelSpec { slug, ability: 0.0, context_window, max_output, tools, vision, json, specialty };
        self.core.models_mut().add(spec, quality);
        Ok(())
    }

    fn models(&self) -> Vec<String> {
        self.core.models().slugs().map(str::to_owned).collect()
    }

    /// The model ability on the predictor's scale (weak anchor 0, strong anchor 1).
    fn ability_of(&self, slug: &str) -> PyResult<f64> {
        Ok(self.core.models().ability(slug)?)
    }

    /// The text pass alone: features plus the dense vector and hashed ids the predictor sees.
    fn features<'py>(&self, py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyDict>> {
        let buckets = self.core.predictor().buckets();
        let (f, ids) = py.detach(|| {
            let mut ids = Vec::new();
            let f = scan(text, buckets, |id| ids.push(id));
            (f, ids)
        });
        let d = features_dict(py, &f)?;
        d.set_item("dense", f.dense.to_vec())?;
        d.set_item("dense_names", DENSE_NAMES.to_vec())?;
        d.set_item("ids", ids)?;
        Ok(d)
    }

    /// The predictor's view of one prompt.
    fn score<'py>(&self, py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyDict>> {
        let s = py.detach(|| self.core.predictor().score(text));
        let d = PyDict::new(py);
        d.set_item("weak_logit", s.weak_logit)?;
        d.set_item("strong_logit", s.strong_logit)?;
        d.set_item("strong_gain", s.strong_gain())?;
        d.set_item("difficulty", s.difficulty())?;
        Ok(d)
    }

    /// Ranks offers `(model, provider, input_price, output_price, ttft_ms, tokens_per_s, healthy)` for `text`.
    /// Candidates come back as `(model, provider, predicted_quality, estimated_cost_usd,
    /// estimated_latency_ms, score, healthy)` in rank order; `explain` adds the prompt's features.
    #[pyo3(signature = (text, offers, preference="balanced", tools=false, vision=false, json=false, max_tokens=None, extra_input_tokens=0, explain=false))]
    #[allow(clippy::too_many_arguments)]
    fn route<'py>(
        &self,
        py: Python<'py>,
        text: &str,
        offers: Vec<OfferTuple<'py>>,
        preference: &str,
        tools: bool,
        vision: bool,
        json: bool,
        max_tokens: Option<u32>,
        extra_input_tokens: u32,
        explain: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let pref = Preference::parse(preference).ok_or_else(|| {
            PyValueError::new_err(format!("preference must be balanced, quality, price or speed; got {preference:?}"))
        })?;
        let registry = self.core.models();
        let mut specs: Vec<&ModelSpec> = Vec::new();
        let mut core_offers: Vec<Offer<()>> = Vec::with_capacity(offers.len());
        for (model, _, input_price, output_price, ttft_ms, tokens_per_s, healthy) in &offers {
            let model = registry.pool_index(&mut specs, model.to_str()?)?;
            let (input_price, output_price, ttft_ms, tokens_per_s, healthy) = (*input_price, *output_price, *ttft_ms, *tokens_per_s, *healthy);
            core_offers.push(Offer { model, provider: (), input_price, output_price, ttft_ms, tokens_per_s, healthy });
        }
        let needs = Needs { tools, vision, json, max_tokens, extra_input_tokens };
        let (score, decision) = py.detach(|| self.core.route(text, &specs, &core_offers, &needs, pref));

        // Tuples, not dicts: this is the hot path; the Python glue names the fields. The model and
        // provider strings are the caller's own objects.
        let candidates = PyList::empty(py);
        for s in &decision.ranked {
            let offer = &offers[s.offer];
            let row = (
                &offer.0,
                &offer.1,
                s.predicted_quality,
                s.estimated_cost_usd,
                s.estimated_latency_ms,
                s.score,
                s.healthy,
            );
            candidates.append(row)?;
        }
        let rejected = PyList::empty(py);
        for (m, why) in &decision.rejected {
            rejected.append((specs[*m].slug.as_str(), why.as_str()))?;
        }
        let out = PyDict::new(py);
        out.set_item("preference", pref.as_str())?;
        out.set_item("difficulty", decision.difficulty)?;
        out.set_item("strong_gain", score.strong_gain())?;
        out.set_item("input_tokens", decision.input_tokens)?;
        out.set_item("output_tokens", decision.output_tokens)?;
        out.set_item("candidates", candidates)?;
        out.set_item("rejected", rejected)?;
        if explain {
            out.set_item("features", features_dict(py, &score.features)?)?;
        }
        Ok(out)
    }
}
