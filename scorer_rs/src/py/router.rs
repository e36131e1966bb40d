//! `Router`: the model router's thin PyO3 face. Arguments become core structs; errors become ValueError.

use std::borrow::Cow;

use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use crate::embed::{StaticEmbedding, FORM_NAMES};
use crate::features::{scan, TextFeatures, DENSE_NAMES, SIGNALS};
use crate::predictor::{Ability, Predictor, PredictorParts};
use crate::registry::{specialty_index, RegistryError};
use crate::route::{Correction, Corrections, Limits, ModelSpec, Needs, Offer, Preference, Utility};
use crate::router::Router as CoreRouter;

impl From<RegistryError> for PyErr {
    fn from(err: RegistryError) -> Self {
        PyValueError::new_err(err.to_string())
    }
}

#[pyclass(module = "proxy._scorer")]
pub struct Router {
    core: CoreRouter,
    /// Abilities learned from feedback, per scope (`proxy/routing/feedback_learner.py` keeps them current).
    corrections: Corrections,
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

fn sub<'py>(d: &Bound<'py, PyDict>, key: &str) -> PyResult<Option<Bound<'py, PyDict>>> {
    match d.get_item(key)? {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) => v.cast_into::<PyDict>().map(Some).map_err(|_| PyValueError::new_err(format!("router weights: {key} must be an object"))),
    }
}

fn bad<E: std::fmt::Display>(e: E) -> PyErr {
    PyValueError::new_err(e.to_string())
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
    /// `weights`: the parsed `proxy/routing/router_v2.json`; `table`: the bytes of its static embedding file.
    #[new]
    fn new(weights: &Bound<'_, PyDict>, table: &[u8]) -> PyResult<Self> {
        let k: usize = field(weights, "", "k")?;
        let w: Vec<f64> = field(weights, "", "w")?;
        let use_embed = match sub(weights, "embed")? {
            Some(e) => field::<usize>(&e, "embed.", "dims")? > 0,
            None => false,
        };
        let dense = sub(weights, "dense")?;
        let (mean, inv): (Option<Vec<f64>>, Option<Vec<f64>>) = match &dense {
            Some(d) => (Some(field(d, "dense.", "mean")?), Some(field(d, "dense.", "inv_scale")?)),
            None => (None, None),
        };
        let hashed: Option<(u32, Vec<f64>)> = match sub(weights, "hashed")? {
            Some(h) => Some((field(&h, "hashed.", "buckets")?, field(&h, "hashed.", "e")?)),
            None => None,
        };
        let embedding = StaticEmbedding::parse(table).map_err(|e| PyValueError::new_err(format!("static embedding: {e}")))?;
        let parts = PredictorParts {
            k,
            use_embed,
            dense_mean: mean.as_deref(),
            dense_inv_scale: inv.as_deref(),
            w: &w,
            hashed: hashed.as_ref().map(|(b, e)| (*b, e.as_slice())),
        };
        let predictor = Predictor::new(embedding, &parts).map_err(|e| PyValueError::new_err(format!("router weights: {e}")))?;
        Ok(Self { core: CoreRouter::new(predictor), corrections: Corrections::new(k) })
    }

    #[pyo3(signature = (slug, a, b, context_window, max_output, tools=false, vision=false, json=false, specialty=None))]
    #[allow(clippy::too_many_arguments)]
    fn add_model(
        &mut self,
        slug: String,
        a: Vec<f64>,
        b: f64,
        context_window: u32,
        max_output: u32,
        tools: bool,
        vision: bool,
        json: bool,
        specialty: Option<&str>,
    ) -> PyResult<()> {
        let specialty = specialty.map(specialty_index).transpose()?;
        let spec = ModelSpec { slug, ability: Ability { a, b }, context_window, max_output, tools, vision, json, specialty };
        self.core.models_mut().add(spec)?;
        Ok(())
    }

    #[pyo3(signature = (scope, model, da, db, evidence))]
    fn set_correction(&mut self, scope: &str, model: &str, da: Vec<f64>, db: f64, evidence: u32) -> PyResult<()> {
        self.core.models().spec(model)?;
        self.corrections.set(scope, model, Correction { da, db, evidence }).map_err(bad)
    }

    #[pyo3(signature = (scope=None))]
    fn clear_corrections(&mut self, scope: Option<&str>) {
        self.corrections.clear(scope);
    }

    fn models(&self) -> Vec<String> {
        self.core.models().slugs().map(str::to_owned).collect()
    }

    fn ability_of(&self, slug: &str) -> PyResult<(Vec<f64>, f64)> {
        let a = self.core.models().ability(slug)?;
        Ok((a.a.clone(), a.b))
    }

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
    /// The predictor's view of one prompt: its latent vector (z then -difficulty) and form features.
    fn score<'py>(&self, py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyDict>> {
        let s = py.detach(|| self.core.predictor().latent(text));
        let d = PyDict::new(py);
        d.set_item("z", s.z.clone())?;
        d.set_item("difficulty", s.difficulty())?;
        d.set_item("embedding", s.embedded.vector.clone())?;
        d.set_item("embedding_tokens", s.embedded.tokens)?;
        d.set_item("form", s.embedded.form.to_vec())?;
        d.set_item("form_names", FORM_NAMES.to_vec())?;
        Ok(d)
    }

    /// P(good answer) for each registered model on `text`, in registration order.
    fn predict(&self, py: Python<'_>, text: &str) -> Vec<(String, f64)> {
        let latent = py.detach(|| self.core.predictor().latent(text));
        self.core.models().slugs().filter_map(|m| Some((m.to_owned(), latent.p_good(self.core.models().ability(m).ok()?)))).collect()
    }

    #[pyo3(signature = (text, offers, preference="balanced", tradeoff=None, max_cost_usd=None, min_quality=None, tools=false, vision=false, json=false, max_tokens=None, extra_input_tokens=0, explain=false, scopes=None))]
    #[allow(clippy::too_many_arguments)]
    fn route<'py>(
        &self,
        py: Python<'py>,
        text: &str,
        offers: Vec<OfferTuple<'py>>,
        preference: &str,
        tradeoff: Option<f64>,
        max_cost_usd: Option<f64>,
        min_quality: Option<f64>,
        tools: bool,
        vision: bool,
        json: bool,
        max_tokens: Option<u32>,
        extra_input_tokens: u32,
        explain: bool,
        scopes: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let pref = Preference::parse(preference).ok_or_else(|| {
            PyValueError::new_err(format!("preference must be balanced, quality, price or speed; got {preference:?}"))
        })?;
        // An explicit tradeoff replaces the preference's point (and its latency weight).
        let utility = match tradeoff {
            Some(t) => Utility::new(t, 0.0).map_err(bad)?,
            None => pref.utility(),
        };
        let limits = Limits { max_cost_usd, min_quality };
        let registry = self.core.models();
        let mut specs: Vec<&ModelSpec> = Vec::new();
        let mut core_offers: Vec<Offer<()>> = Vec::with_capacity(offers.len());
        for (model, _, input_price, output_price, ttft_ms, tokens_per_s, healthy) in &offers {
            let model = registry.pool_index(&mut specs, model.to_str()?)?;
            let (input_price, output_price, ttft_ms, tokens_per_s, healthy) = (*input_price, *output_price, *ttft_ms, *tokens_per_s, *healthy);
            core_offers.push(Offer { model, provider: (), input_price, output_price, ttft_ms, tokens_per_s, healthy });
        }
        let needs = Needs { tools, vision, json, max_tokens, extra_input_tokens };
        // The request's scopes' learned corrections, on copies of the models they touch; with none (the
        // common case) the registry's own specs rank, and nothing is copied.
        let scopes: Vec<&str> = scopes.iter().flatten().map(String::as_str).collect();
        let learned: Vec<(usize, Correction)> = if scopes.is_empty() || self.corrections.is_empty() {
            Vec::new()
        } else {
            specs.iter().enumerate().filter_map(|(i, s)| Some((i, self.corrections.sum(&scopes, &s.slug)?))).collect()
        };
        let pool: Option<Vec<Cow<'_, ModelSpec>>> = (!learned.is_empty()).then(|| {
            let mut pool: Vec<Cow<'_, ModelSpec>> = specs.iter().map(|s| Cow::Borrowed(*s)).collect();
            for (i, c) in &learned {
                pool[*i] = Cow::Owned(specs[*i].corrected(c));
            }
            pool
        });
        let (score, decision) = py.detach(|| match &pool {
            Some(pool) => self.core.route(text, pool, &core_offers, &needs, &utility, &limits),
            None => self.core.route(text, &specs, &core_offers, &needs, &utility, &limits),
        });

        // Tuples, not dicts: this is the hot path; the Python glue names the fields. The model and
        // provider strings are the caller's own objects, and the keys are interned once per process.
        let candidates = PyList::new(
            py,
            decision.ranked.iter().map(|s| {
                let offer = &offers[s.offer];
                (&offer.0, &offer.1, s.predicted_quality, s.estimated_cost_usd, s.estimated_latency_ms, s.score, s.healthy)
            }),
        )?;
        let rejected = PyList::new(py, decision.rejected.iter().map(|(m, why)| (specs[*m].slug.as_str(), why.as_str())))?;
        let limited = PyList::new(
            py,
            decision.limited.iter().map(|(s, why)| {
                let offer = &offers[s.offer];
                (&offer.0, &offer.1, s.predicted_quality, s.estimated_cost_usd, why.as_str())
            }),
        )?;
        let out = PyDict::new(py);
        out.set_item(intern!(py, "preference"), pref.as_str())?;
        out.set_item(intern!(py, "tradeoff"), utility.tradeoff)?;
        out.set_item(intern!(py, "latency_weight"), utility.latency_weight)?;
        out.set_item(intern!(py, "difficulty"), decision.difficulty)?;
        out.set_item(intern!(py, "limited"), limited)?;
        out.set_item(intern!(py, "input_tokens"), decision.input_tokens)?;
        out.set_item(intern!(py, "output_tokens"), decision.output_tokens)?;
        out.set_item(intern!(py, "candidates"), candidates)?;
        out.set_item(intern!(py, "rejected"), rejected)?;
        // (model, change in P(good) the correction made on this prompt, observations behind it)
        let corrected = PyList::empty(py);
        if let Some(pool) = &pool {
            for (i, c) in &learned {
                let delta = score.p_good(&pool[*i].ability) - score.p_good(&specs[*i].ability);
                corrected.append((specs[*i].slug.as_str(), delta, c.evidence))?;
            }
        }
        out.set_item(intern!(py, "learned"), corrected)?;
        if explain {
            out.set_item(intern!(py, "features"), features_dict(py, &score.features)?)?;
            out.set_item(intern!(py, "z"), score.z.clone())?;
        }
        Ok(out)
    }
}
