//! The models the router may pick: their routing facts, catalogue quality and ability.
//!
//! A model's ability is on the predictor's scale, where the weak anchor is 0 and the strong anchor 1. The
//! anchors are the two models the predictor has per-prompt heads for; every other model's ability is
//! linear in its catalogue quality through the anchors' catalogue qualities.

use crate::features::SIGNALS;
use crate::quality::ability_from_quality;
use crate::route::ModelSpec;

/// Catalogue qualities of the anchors when the catalogue does not list them.
pub const DEFAULT_WEAK_QUALITY: f64 = 0.62;
pub const DEFAULT_STRONG_QUALITY: f64 = 0.80;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistryError {
    UnknownModel(String),
    UnknownSpecialty(String),
}

impl std::fmt::Display for RegistryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegistryError::UnknownModel(slug) => write!(f, "unknown model {slug:?}; add_model it first"),
            RegistryError::UnknownSpecialty(task) => write!(f, "unknown specialty {task:?}; one of {SIGNALS:?}"),
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

#[derive(Clone, Debug)]
struct ModelEntry {
    spec: ModelSpec,
    quality: f64,
}

/// The registered models, in registration order, with abilities kept current.
#[derive(Clone, Debug)]
pub struct ModelRegistry {
    weak_model: String,
    strong_model: String,
    models: Vec<ModelEntry>,
}

impl ModelRegistry {
    /// An empty registry anchored on the predictor's two models.
    #[must_use]
    pub fn new(weak_model: String, strong_model: String) -> Self {
        Self { weak_model, strong_model, models: Vec::new() }
    }

    /// Registers (or replaces) a model; `spec.ability` is ignored and computed from `quality`.
    pub fn add(&mut self, spec: ModelSpec, quality: f64) {
        let entry = ModelEntry { spec, quality };
        match self.models.iter_mut().find(|m| m.spec.slug == entry.spec.slug) {
            Some(existing) => *existing = entry,
            None => self.models.push(entry),
        }
        // Abilities hang on the anchors' catalogue qualities, so any change recomputes them all, here
        // rather than per request.
        let abilities: Vec<f64> = self.models.iter().map(|m| self.ability_from_catalogue(m)).collect();
        for (m, a) in self.models.iter_mut().zip(abilities) {
            m.spec.ability = a;
        }
    }

    fn ability_from_catalogue(&self, entry: &ModelEntry) -> f64 {
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

    /// Slugs in registration order.
    pub fn slugs(&self) -> impl Iterator<Item = &str> {
        self.models.iter().map(|m| m.spec.slug.as_str())
    }

    /// # Errors
    /// The model is not registered.
    pub fn spec(&self, slug: &str) -> Result<&ModelSpec, RegistryError> {
        self.models.iter().find(|m| m.spec.slug == slug).map(|m| &m.spec).ok_or_else(|| RegistryError::UnknownModel(slug.to_owned()))
    }

    /// The model's ability on the predictor's scale (weak anchor 0, strong anchor 1).
    ///
    /// # Errors
    /// The model is not registered.
    pub fn ability(&self, slug: &str) -> Result<f64, RegistryError> {
        self.spec(slug).map(|s| s.ability)
    }

    /// The index of `slug` in one request's model table `pool`, adding it on first sight, so each model of
    /// the request's offers appears once, in the order the offers first name it.
    ///
    /// # Errors
    /// The model is not registered.
    pub fn pool_index<'a>(&'a self, pool: &mut Vec<&'a ModelSpec>, slug: &str) -> Result<usize, RegistryError> {
        if let Some(i) = pool.iter().position(|s| s.slug == slug) {
            return Ok(i);
        }
        pool.push(self.spec(slug)?);
        Ok(pool.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(slug: &str) -> ModelSpec {
        ModelSpec { slug: slug.into(), ability: f64::NAN, context_window: 8000, max_output: 1000, tools: false, vision: false, json: false, specialty: None }
    }

    #[test]
    fn abilities_follow_the_anchors_catalogue_qualities() {
        let mut r = ModelRegistry::new("weak".into(), "strong".into());
        r.add(spec("mid"), 0.71);
        // Anchors not registered yet: their default catalogue qualities place the model.
        let expected = ability_from_quality(0.71, DEFAULT_WEAK_QUALITY, DEFAULT_STRONG_QUALITY);
        assert!((r.ability("mid").unwrap() - expected).abs() < 1e-12);
        r.add(spec("weak"), 0.6);
        r.add(spec("strong"), 0.9);
        assert_eq!((r.ability("weak").unwrap(), r.ability("strong").unwrap()), (0.0, 1.0));
        assert!((r.ability("mid").unwrap() - 0.11 / 0.3).abs() < 1e-12, "recomputed when an anchor arrives");
        // Replacing keeps the order and recomputes.
        r.add(spec("mid"), 0.9);
        assert!((r.ability("mid").unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(r.slugs().collect::<Vec<_>>(), ["mid", "weak", "strong"]);
    }

    #[test]
    fn unknown_models_and_specialties_are_errors() {
        let mut r = ModelRegistry::new("weak".into(), "strong".into());
        r.add(spec("a"), 0.7);
        r.add(spec("b"), 0.7);
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
