//! `Router`: the model router's thin PyO3 face. Arguments become core structs; errors become ValueError.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use crate::features::{scan, TextFeatures, DENSE_NAMES, SIGNALS};
use crate::quality::{ability_from_quality, Predictor, SparseWeights};
use crate::route::{rank, ModelSpec, Needs, Offer, Preference};

/// Catalogue qualities of the anchors when the catalogue does not list them.
const DEFAULT_WEAK_QUALITY: f64 = 0.62;
const DEFAULT_STRONG_QUALITY: f64 = 0.80;

struct ModelEntry {
    spec: ModelSpec,
    quality: f64,
}

#[pyclass(module = "proxy._scorer")]
pub struct Router {
    predictor: Predictor,
    weak_model: String,
    strong_model: String,
    models: Vec<ModelEntry>,
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

impl Router {
    fn ability(&self, entry: &ModelEntry) -> f64 {
        if entry.spec.slug == self.weak_model {
            return 0.0;
        }
        if entry.spec.slug == self.strong_model {
            return 1.0;
        }
        let quality_of = |slug: &str, default: f64| self.models.iter().find(|m| m.spec.slug == slug).map_or(default, |m| m.quality);
        ability_from_quality(
            entry.quality,
            quality_of(&self.weak_model, DEFAULT_WEAK_QUALITY),
            quality_of(&self.strong_model, DEFAULT_STRONG_QUALITY),
        )
    }
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
        Ok(Self { predictor, weak_model, strong_model, models: Vec::new() })
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
        let specialty = match specialty {
            None => None,
            Some(task) => Some(
                SIGNALS
                    .iter()
                    .position(|s| *s == task)
                    .and_then(|i| u8::try_from(i).ok())
                    .ok_or_else(|| PyValueError::new_err(format!("unknown specialty {task:?}; one of {SIGNALS:?}")))?,
            ),
        };
        let spec = ModelSpec { slug, ability: 0.0, context_window, max_output, tools, vision, json, specialty };
        let entry = ModelEntry { spec, quality };
        match self.models.iter_mut().find(|m| m.spec.slug == entry.spec.slug) {
            Some(existing) => *existing = entry,
            None => self.models.push(entry),
        }
        // Abilities hang on the anchors' catalogue qualities, so any change recomputes them all, here
        // rather than per request.
        let abilities: Vec<f64> = self.models.iter().map(|m| self.ability(m)).collect();
        for (m, a) in self.models.iter_mut().zip(abilities) {
            m.spec.ability = a;
        }
        Ok(())
    }

    fn models(&self) -> Vec<String> {
        self.models.iter().map(|m| m.spec.slug.clone()).collect()
    }

    /// The model ability on the predictor's scale (weak anchor 0, strong anchor 1).
    fn ability_of(&self, slug: &str) -> PyResult<f64> {
        let entry = self.models.iter().find(|m| m.spec.slug == slug).ok_or_else(|| PyValueError::new_err(format!("unknown model {slug:?}")))?;
        Ok(self.ability(entry))
    }

    /// The text pass alone: features plus the dense vector and hashed ids the predictor sees.
    fn features<'py>(&self, py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyDict>> {
        let buckets = self.predictor.buckets();
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
        let s = py.detach(|| self.predictor.score(text));
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
        let mut specs: Vec<&ModelSpec> = Vec::new();
        let mut core_offers: Vec<Offer<()>> = Vec::with_capacity(offers.len());
        for (model, _, input_price, output_price, ttft_ms, tokens_per_s, healthy) in &offers {
            let slug = model.to_str()?;
            let idx = match specs.iter().position(|s| s.slug == slug) {
                Some(i) => i,
                None => {
                    let entry = self
                        .models
                        .iter()
                        .find(|m| m.spec.slug == slug)
                        .ok_or_else(|| PyValueError::new_err(format!("unknown model {slug:?}; add_model it first")))?;
                    specs.push(&entry.spec);
                    specs.len() - 1
                }
            };
            let (input_price, output_price, ttft_ms, tokens_per_s, healthy) = (*input_price, *output_price, *ttft_ms, *tokens_per_s, *healthy);
            core_offers.push(Offer { model: idx, provider: (), input_price, output_price, ttft_ms, tokens_per_s, healthy });
        }
        let needs = Needs { tools, vision, json, max_tokens, extra_input_tokens };
        let (score, decision) = py.detach(|| {
            let score = self.predictor.score(text);
            let decision = rank(&specs, &core_offers, &score, &needs, pref);
            (score, decision)
        });

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
