//! The models the router may pick: their routing facts and ability.
//!
//! A model's ability (`predictor::Ability`) comes from the gateway, which resolves it from the routing data,
//! a declared proxy, a public score or a user's fit (`proxy/routing/abilities.py`); it must have the
//! predictor's dimension.

use std::collections::HashMap;

use crate::features::SIGNALS;
use crate::predictor::Ability;
use crate::route::ModelSpec;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistryError {
    UnknownModel(String),
    UnknownSpecialty(String),
    AbilityDims { slug: String, got: usize, want: usize },
}

impl std::fmt::Display for RegistryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegistryError::UnknownModel(slug) => write!(f, "unknown model {slug:?}; add_model it first"),
            RegistryError::UnknownSpecialty(task) => write!(f, "unknown specialty {task:?}; one of {SIGNALS:?}"),
            RegistryError::AbilityDims { slug, got, want } => {
                write!(f, "model {slug:?}: ability has {got} dimensions; the predictor has {want}")
            }
        }
    }
}

impl std::error::Error for RegistryError {}

/// A specialty's index into `SIGNALS` (what `ModelSpec::specialty` holds).
///
/// # Errors
/// The name is not a task signal.
pub fn specialty_index(task: &str) -> Result<u8, RegistryError> {
    SIGNALS
        .iter()
        .position(|s| *s == task)
        .and_then(|i| u8::try_from(i).ok())
        .ok_or_else(|| RegistryError::UnknownSpecialty(task.to_owned()))
}

/// The registered models, in registration order.
#[derive(Clone, Debug)]
pub struct ModelRegistry {
    dims: usize,
    models: Vec<ModelSpec>,
    /// Slug -> index into `models`: a request names every model by slug, 30+ times a route.
    by_slug: HashMap<String, usize>,
}

impl ModelRegistry {
    /// An empty registry for abilities of `dims` dimensions.
    #[must_use]
    pub fn new(dims: usize) -> Self {
        Self { dims, models: Vec::new(), by_slug: HashMap::new() }
    }

    /// Registers (or replaces) a model.
    ///
    /// # Errors
    /// The ability's dimension is not the predictor's.
    pub fn add(&mut self, spec: ModelSpec) -> Result<(), RegistryError> {
        if spec.ability.a.len() != self.dims {
            return Err(RegistryError::AbilityDims { slug: spec.slug, got: spec.ability.a.len(), want: self.dims });
        }
        match self.by_slug.get(&spec.slug) {
            Some(&i) => self.models[i] = spec,
            None => {
                self.by_slug.insert(spec.slug.clone(), self.models.len());
                self.models.push(spec);
            }
        }
        Ok(())
    }

    /// Slugs in registration order.
    pub fn slugs(&self) -> impl Iterator<Item = &str> {
        self.models.iter().map(|m| m.slug.as_str())
    }

    /// # Errors
    /// The model is not registered.
    pub fn spec(&self, slug: &str) -> Result<&ModelSpec, RegistryError> {
        self.by_slug.get(slug).map(|&i| &self.models[i]).ok_or_else(|| RegistryError::UnknownModel(slug.to_owned()))
    }

    /// The model's ability on the predictor's scale.
    ///
    /// # Errors
    /// The model is not registered.
    pub fn ability(&self, slug: &str) -> Result<&Ability, RegistryError> {
        self.spec(slug).map(|s| &s.ability)
    }

    /// The index of `slug` in one request's model table `pool`, adding it on first sight, so each model of
    /// the request's offers appears once, in the order the offers first name it.
    ///
    /// # Errors
    /// The model is not registered.
    pub fn pool_index<'a>(&'a self, pool: &mut Vec<&'a ModelSpec>, slug: &str) -> Result<usize, RegistryError> {
        let spec = self.spec(slug)?;
        // The pool is short (one entry per model): comparing addresses beats hashing the slug again.
        if let Some(i) = pool.iter().position(|s| std::ptr::eq(*s, spec)) {
            return Ok(i);
        }
        pool.push(spec);
        Ok(pool.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(slug: &str, a: Vec<f64>) -> ModelSpec {
        let ability = Ability { a, b: 0.5 };
        ModelSpec { slug: slug.into(), ability, context_window: 8000, max_output: 1000, tools: false, vision: false, json: false, specialty: None }
    }

    #[test]
    fn models_keep_their_order_and_are_replaced_in_place() {
        let mut r = ModelRegistry::new(2);
        r.add(spec("a", vec![1.0, 0.0])).unwrap();
        r.add(spec("b", vec![0.0, 1.0])).unwrap();
        r.add(spec("a", vec![2.0, 0.0])).unwrap();
        assert_eq!(r.slugs().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(r.ability("a").unwrap().a, vec![2.0, 0.0]);
        let err = r.add(spec("c", vec![1.0])).unwrap_err();
        assert!(err.to_string().contains("1 dimensions; the predictor has 2"), "{err}");
    }

    #[test]
    fn unknown_models_and_specialties_are_errors() {
        let mut r = ModelRegistry::new(1);
        r.add(spec("a", vec![0.0])).unwrap();
        r.add(spec("b", vec![0.0])).unwrap();
        assert_eq!(r.ability("nope"), Err(RegistryError::UnknownModel("nope".into())));
        let mut pool = Vec::new();
        assert_eq!(r.pool_index(&mut pool, "b"), Ok(0));
        assert_eq!(r.pool_index(&mut pool, "a"), Ok(1));
        assert_eq!(r.pool_index(&mut pool, "b"), Ok(0));
        assert!(r.pool_index(&mut pool, "nope").unwrap_err().to_string().contains("add_model"));
        assert_eq!(specialty_index("code"), Ok(0));
        assert!(specialty_index("poetry").unwrap_err().to_string().contains("unknown specialty"));
    }
}
