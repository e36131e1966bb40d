//! The model router: the quality predictor plus the model registry, routing one prompt over offers.
//!
//! A route is two steps: predict (`Predictor::score`, one pass over the text, yielding a `PromptQuality`)
//! and rank (`route::rank_offers`, filters and a utility per preference). A different predictor replaces
//! the first step only: it must produce something implementing `PromptQuality`.

use crate::quality::{Predictor, PromptScore};
use crate::registry::ModelRegistry;
use crate::route::{rank_offers, Decision, ModelSpec, Needs, Offer, Preference};

pub struct Router {
    predictor: Predictor,
    models: ModelRegistry,
}

impl Router {
    /// `weak_model` and `strong_model` name the models the predictor's two heads were trained on.
    #[must_use]
    pub fn new(predictor: Predictor, weak_model: String, strong_model: String) -> Self {
        Self { predictor, models: ModelRegistry::new(weak_model, strong_model) }
    }

    #[must_use]
    pub fn predictor(&self) -> &Predictor {
        &self.predictor
    }

    #[must_use]
    pub fn models(&self) -> &ModelRegistry {
        &self.models
    }

    pub fn models_mut(&mut self) -> &mut ModelRegistry {
        &mut self.models
    }

    /// Predicts quality for `text`, then ranks `offers`, whose `model` fields index `specs`.
    #[must_use]
    pub fn route<P>(&self, text: &str, specs: &[&ModelSpec], offers: &[Offer<P>], needs: &Needs, pref: Preference) -> (PromptScore, Decision) {
        let prompt = self.predictor.score(text);
        let decision = rank_offers(specs, offers, &prompt, needs, pref);
        (prompt, decision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quality::tests::toy;

    fn spec(slug: &str) -> ModelSpec {
        ModelSpec { slug: slug.into(), ability: 0.0, context_window: 128_000, max_output: 8192, tools: true, vision: true, json: true, specialty: None }
    }

    #[test]
    fn routes_registered_models_by_the_predicted_quality() {
        let mut router = Router::new(toy(), "weak".into(), "strong".into());
        router.models_mut().add(spec("weak"), 0.6);
        router.models_mut().add(spec("strong"), 0.8);
        let mut specs = Vec::new();
        let weak = router.models().pool_index(&mut specs, "weak").unwrap();
        let strong = router.models().pool_index(&mut specs, "strong").unwrap();
        let offer = |model: usize, price: f64| Offer { model, provider: (), input_price: price, output_price: price, ttft_ms: 400.0, tokens_per_s: 80.0, healthy: true };
        let offers = [offer(weak, 0.2), offer(strong, 10.0)];
        let needs = Needs::default();
        let (easy, easy_route) = router.route("hi, what is the capital of France?", &specs, &offers, &needs, Preference::Balanced);
        let (hard, hard_route) = router.route("evaluate the integral of x^3 e^x and prove the series converges", &specs, &offers, &needs, Preference::Balanced);
        assert_eq!((easy_route.ranked[0].model, hard_route.ranked[0].model), (weak, strong));
        assert!(hard.difficulty() > easy.difficulty());
        assert!((hard_route.ranked[0].predicted_quality - hard.p_good(1.0)).abs() < 1e-12);
    }
}
