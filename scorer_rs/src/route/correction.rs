//! Learned corrections to the models' abilities, per scope: what feedback taught one deployment.
//!
//! The gateway learns, per (scope, model), a shift `(Δa, Δb)` of the model's ability from feedback and
//! outcomes (`proxy/routing/feedback_posterior.py`, the Bayesian update) and hands the posterior means
//! here. A request names the scopes that apply to it (the deployment's, its key's); the corrections of
//! those scopes are summed onto the model's ability for that request only.

use std::collections::HashMap;

use crate::predictor::Ability;

use super::ModelSpec;

/// One scope's learned shift of one model's ability, and how many observations it rests on.
#[derive(Debug, Clone, PartialEq)]
pub struct Correction {
    pub da: Vec<f64>,
    pub db: f64,
    pub evidence: u32,
}

/// Corrections by scope, then by model slug.
#[derive(Debug, Clone, Default)]
pub struct Corrections {
    dims: usize,
    scopes: HashMap<String, HashMap<String, Correction>>,
}

impl Corrections {
    /// An empty table for abilities of `dims` dimensions.
    #[must_use]
    pub fn new(dims: usize) -> Self {
        Self { dims, scopes: HashMap::new() }
    }

    /// Sets (or replaces) one scope's correction of one model.
    ///
    /// # Errors
    /// `da` does not have the predictor's dimension, or a number is not finite.
    pub fn set(&mut self, scope: &str, model: &str, correction: Correction) -> Result<(), String> {
        if correction.da.len() != self.dims {
            return Err(format!("correction of {model:?}: da has {} numbers; the predictor has {}", correction.da.len(), self.dims));
        }
        if !correction.db.is_finite() || correction.da.iter().any(|x| !x.is_finite()) {
            return Err(format!("correction of {model:?}: every number must be finite"));
        }
        self.scopes.entry(scope.to_owned()).or_default().insert(model.to_owned(), correction);
        Ok(())
    }

    /// Forgets one scope's corrections, or every scope's.
    pub fn clear(&mut self, scope: Option<&str>) {
        match scope {
            Some(s) => {
                self.scopes.remove(s);
            }
            None => self.scopes.clear(),
        }
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.scopes.values().all(HashMap::is_empty)
    }

    /// The sum of the `scopes`' corrections of `model`; none when no scope has one.
    #[must_use]
    pub fn sum(&self, scopes: &[&str], model: &str) -> Option<Correction> {
        let mut total: Option<Correction> = None;
        for c in scopes.iter().filter_map(|s| self.scopes.get(*s)?.get(model)) {
            match &mut total {
                None => total = Some(c.clone()),
                Some(t) => {
                    for (x, y) in t.da.iter_mut().zip(&c.da) {
                        *x += y;
                    }
                    t.db += c.db;
                    t.evidence = t.evidence.saturating_add(c.evidence);
                }
            }
        }
        total
    }
}

impl ModelSpec {
    /// This model with `correction` added to its ability.
    #[must_use]
    pub fn corrected(&self, correction: &Correction) -> ModelSpec {
        let a = self.ability.a.iter().zip(&correction.da).map(|(a, d)| a + d).collect();
        ModelSpec { ability: Ability { a, b: self.ability.b + correction.db }, ..self.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ModelSpec {
        ModelSpec { slug: "m".into(), ability: Ability { a: vec![1.0, -1.0], b: 0.5 }, context_window: 1000, max_output: 100, tools: false, vision: false, json: false, specialty: None }
    }

    fn c(da: [f64; 2], db: f64, evidence: u32) -> Correction {
        Correction { da: da.to_vec(), db, evidence }
    }

    #[test]
    fn scopes_sum_and_only_named_scopes_apply() {
        let mut t = Corrections::new(2);
        t.set("deployment", "m", c([0.5, 0.0], 0.1, 2)).unwrap();
        t.set("key:a", "m", c([0.0, 1.0], -0.3, 3)).unwrap();
        let both = t.sum(&["deployment", "key:a"], "m").unwrap();
        assert_eq!(both.da, vec![0.5, 1.0]);
        assert!((both.db + 0.2).abs() < 1e-12);
        assert_eq!(both.evidence, 5);
        assert_eq!(t.sum(&["deployment", "key:b"], "m").unwrap(), c([0.5, 0.0], 0.1, 2));
        assert_eq!(t.sum(&["key:b"], "m"), None);
        assert_eq!(t.sum(&["key:a"], "other"), None);
        let fixed = spec().corrected(&both);
        assert_eq!(fixed.ability.a, vec![1.5, 0.0]);
        assert!((fixed.ability.b - 0.3).abs() < 1e-12);
    }

    #[test]
    fn a_correction_reranks_only_the_requests_whose_scopes_hold_it() {
        use crate::predictor::tests::toy;
        use crate::route::{Limits, Needs, Offer, Preference};
        use crate::router::Router;
        use std::borrow::Cow;

        let mut router = Router::new(toy());
        let named = |slug: &str, b: f64| ModelSpec { slug: slug.into(), ability: Ability { a: vec![0.0], b }, ..spec() };
        router.models_mut().add(named("good", 1.0)).unwrap();
        router.models_mut().add(named("fair", 0.5)).unwrap();
        let mut specs = Vec::new();
        let good = router.models().pool_index(&mut specs, "good").unwrap();
        let fair = router.models().pool_index(&mut specs, "fair").unwrap();
        let offer = |model: usize| Offer { model, provider: (), input_price: 1.0, output_price: 1.0, ttft_ms: 400.0, tokens_per_s: 80.0, healthy: true };
        let offers = [offer(good), offer(fair)];
        let mut table = Corrections::new(1);
        table.set("key:a", "good", c1(-1.0, 3)).unwrap();
        let pick = |scopes: &[&str]| {
            let pool: Vec<Cow<'_, ModelSpec>> = specs.iter().map(|s| table.sum(scopes, &s.slug).map_or(Cow::Borrowed(*s), |c| Cow::Owned(s.corrected(&c)))).collect();
            let (_, d) = router.route("the cat", &pool, &offers, &Needs::default(), &Preference::Quality.utility(), &Limits::default());
            d.ranked[0].model
        };
        assert_eq!(pick(&["deployment"]), good);
        assert_eq!(pick(&["deployment", "key:b"]), good);
        assert_eq!(pick(&["deployment", "key:a"]), fair);
    }

    fn c1(db: f64, evidence: u32) -> Correction {
        Correction { da: vec![0.0], db, evidence }
    }

    #[test]
    fn bad_corrections_are_refused_and_clear_forgets() {
        let mut t = Corrections::new(2);
        assert!(t.set("s", "m", c([0.0, 0.0], f64::NAN, 1)).unwrap_err().contains("finite"));
        assert!(t.set("s", "m", Correction { da: vec![1.0], db: 0.0, evidence: 1 }).unwrap_err().contains("da has 1"));
        assert!(t.is_empty());
        t.set("s", "m", c([1.0, 0.0], 0.0, 1)).unwrap();
        t.set("u", "m", c([1.0, 0.0], 0.0, 1)).unwrap();
        t.clear(Some("s"));
        assert!(t.sum(&["s"], "m").is_none() && t.sum(&["u"], "m").is_some());
        t.clear(None);
        assert!(t.is_empty());
    }
}
