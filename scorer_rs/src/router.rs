//! The model router: the quality predictor plus the model registry, routing one prompt over offers.
//!
//! A route is two steps: predict (`Predictor::latent`, one text pass and one embedding pass, yielding a
//! `PromptQuality`) and rank (`route::rank_offers`: filters, limits, the quality–cost trade-off). A
//! different predictor replaces the first step only: it must produce something implementing `PromptQuality`.

use std::borrow::Borrow;

use crate::predictor::{Predictor, PromptLatent};
use crate::registry::ModelRegistry;
use crate::route::{rank_offers, Decision, Limits, ModelSpec, Needs, Offer, Utility};

pub struct Router {
    predictor: Predictor,
    models: ModelRegistry,
}

impl Router {
    #[must_use]
    pub fn new(predictor: Predictor) -> Self {
        let dims = predictor.k();
        Self { predictor, models: ModelRegistry::new(dims) }
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
    pub fn route<M: Borrow<ModelSpec>, P>(
        &self,
        text: &str,
        specs: &[M],
        offers: &[Offer<P>],
        needs: &Needs,
        utility: &Utility,
        limits: &Limits,
    ) -> (PromptLatent, Decision) {
        let prompt = self.predictor.latent(text);
        let decision = rank_offers(specs, offers, &prompt, needs, utility, limits);
        (prompt, decision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predictor::tests::toy;
    use crate::predictor::Ability;
    use crate::route::Preference;

    fn spec(slug: &str, a: f64, b: f64) -> ModelSpec {
        ModelSpec { slug: slug.into(), ability: Ability { a: vec![a], b }, context_window: 128_000, max_output: 8192, tools: true, vision: true, json: true, specialty: None }
    }

    #[test]
    fn routes_registered_models_by_the_predicted_quality() {
        let mut router = Router::new(toy());
        // The toy's skill direction: "the" prompts favour a positive `a`, "cat" prompts a negative one.
        router.models_mut().add(spec("the-expert", 1.5, 0.0)).unwrap();
        router.models_mut().add(spec("cat-expert", -1.5, 0.0)).unwrap();
        let mut specs = Vec::new();
        let the = router.models().pool_index(&mut specs, "the-expert").unwrap();
        let cat = router.models().pool_index(&mut specs, "cat-expert").unwrap();
        let offer = |model: usize| Offer { model, provider: (), input_price: 1.0, output_price: 1.0, ttft_ms: 400.0, tokens_per_s: 80.0, healthy: true };
        let offers = [offer(the), offer(cat)];
        let (needs, u, l) = (Needs::default(), Preference::Quality.utility(), Limits::default());
        let (p, on_the) = router.route("the the", &specs, &offers, &needs, &u, &l);
        let (_, on_cat) = router.route("cat", &specs, &offers, &needs, &u, &l);
        assert_eq!((on_the.ranked[0].model, on_cat.ranked[0].model), (the, cat));
        assert!((on_the.ranked[0].predicted_quality - p.p_good(&specs[the].ability)).abs() < 1e-12);
    }
}
