//! Model routing (`rank_offers`): hard filters, then a utility per preference over (model, provider) offers.
//! Not to be confused with `provider_rank`, which orders one model's providers by live stats alone.
//!
//! Filters drop a model that cannot take the request (context window, max output, tools, vision, JSON),
//! then the request's limits drop offers over `max_cost_usd` and models under `min_quality`. A model whose
//! providers are all unhealthy is kept but ranked after every healthy one. Offers are ordered by the
//! continuous trade-off between predicted quality and estimated cost (`utility`).
//!
//! `model` holds the model's facts and the predictor seam (`PromptQuality`), `filters` the hard filters,
//! `utility` the trade-off and limits, `correction` the abilities learned from feedback per scope, this
//! file the named preferences and the ranking.

mod correction;
mod filters;
mod model;
mod utility;

use std::borrow::Borrow;

pub use correction::{Correction, Corrections};
pub use filters::{expected_output_tokens, Needs, Rejection};
pub use model::{ModelSpec, PromptQuality, SPECIALIST_OFF_TASK};
pub use utility::{Limits, Utility, KAPPA_SCALE, REFERENCE_COST_USD, SPEED_LATENCY_WEIGHT};

use filters::reject;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preference {
    Balanced,
    Quality,
    Price,
    Speed,
}

impl Preference {
    /// Parses a canonical preference name. Aliases (`performance`, `cost`) and spelling variants are
    /// resolved by the gateway's request parser, never here.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "balanced" => Some(Self::Balanced),
            "quality" => Some(Self::Quality),
            "price" => Some(Self::Price),
            "speed" => Some(Self::Speed),
            _ => None,
        }
    }

    /// The preference's fixed point on the trade-off scale (`speed` adds a latency weight).
    #[must_use]
    pub fn utility(self) -> Utility {
        let (tradeoff, latency_weight) = match self {
            Self::Quality => (1.0, 0.0),
            Self::Balanced => (BALANCED_TRADEOFF, 0.0),
            Self::Price => (PRICE_TRADEOFF, 0.0),
            Self::Speed => (BALANCED_TRADEOFF, SPEED_LATENCY_WEIGHT),
        };
        Utility { tradeoff, latency_weight }
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Balanced => "balanced",
            Self::Quality => "quality",
            Self::Price => "price",
            Self::Speed => "speed",
        }
    }
}

/// One provider's offer of a model, with live stats. `P` names the provider (the Python face keeps the
/// caller's string objects instead, so it uses `()` and copies nothing).
#[derive(Debug, Clone)]
pub struct Offer<P = String> {
    /// Index into the `ModelSpec` slice.
    pub model: usize,
    pub provider: P,
    /// USD per 1M tokens.
    pub input_price: f64,
    pub output_price: f64,
    pub ttft_ms: f64,
    pub tokens_per_s: f64,
    pub healthy: bool,
}

#[derive(Debug, Clone)]
pub struct Scored {
    pub offer: usize,
    pub model: usize,
    pub predicted_quality: f64,
    pub estimated_cost_usd: f64,
    pub estimated_latency_ms: f64,
    pub score: f64,
    pub healthy: bool,
}

#[derive(Debug, Clone)]
pub struct Decision {
    /// Offers grouped by model in rank order; within a model, healthy offers first, best score first.
    pub ranked: Vec<Scored>,
    /// Models the hard filters or the limits dropped, with the first reason.
    pub rejected: Vec<(usize, Rejection)>,
    /// Offers the limits dropped, with their figures (what a "nothing meets the limits" error reports).
    pub limited: Vec<(Scored, Rejection)>,
    pub input_tokens: u32,
    pub output_tokens: u32,
    pub difficulty: f64,
}

/// Tradeoff of `balanced` and `speed`, and of `price`: measured on held-out data (bench/ROUTING.md).
pub const BALANCED_TRADEOFF: f64 = 0.5;
pub const PRICE_TRADEOFF: f64 = 0.2;

const DEFAULT_TTFT_MS: f64 = 800.0;
const DEFAULT_TOKENS_PER_S: f64 = 60.0;

/// Ranks `offers` for one prompt. `models` must cover every `Offer::model` index.
#[must_use]
pub fn rank_offers<M: Borrow<ModelSpec>, P>(
    models: &[M],
    offers: &[Offer<P>],
    prompt: &impl PromptQuality,
    needs: &Needs,
    utility: &Utility,
    limits: &Limits,
) -> Decision {
    let features = prompt.text_features();
    let input_tokens = features.est_tokens.saturating_add(needs.extra_input_tokens);
    let output_tokens = expected_output_tokens(features, needs.max_tokens);

    let mut rejected: Vec<(usize, Rejection)> = Vec::new();
    let mut eligible = vec![false; models.len()];
    let mut quality = vec![0.0; models.len()];
    for (m, spec) in models.iter().map(Borrow::borrow).enumerate() {
        if !offers.iter().any(|o| o.model == m) {
            continue;
        }
        match reject(spec, needs, input_tokens, output_tokens) {
            Some(r) => rejected.push((m, r)),
            None => {
                eligible[m] = true;
                quality[m] = spec.predicted_quality(prompt);
            }
        }
    }

    let mut scored: Vec<Scored> = Vec::with_capacity(offers.len());
    let mut limited: Vec<(Scored, Rejection)> = Vec::new();
    let mut healthy_model = vec![false; models.len()];
    for (i, o) in offers.iter().enumerate() {
        if !eligible[o.model] {
            continue;
        }
        let cost = (f64::from(input_tokens) * o.input_price + f64::from(output_tokens) * o.output_price) / 1e6;
        let ttft = if o.ttft_ms.is_finite() && o.ttft_ms > 0.0 { o.ttft_ms } else { DEFAULT_TTFT_MS };
        let tps = if o.tokens_per_s.is_finite() && o.tokens_per_s > 0.0 { o.tokens_per_s } else { DEFAULT_TOKENS_PER_S };
        let latency = ttft + f64::from(output_tokens) * 1000.0 / tps;
        let q = quality[o.model];
        let s = Scored {
            offer: i,
            model: o.model,
            predicted_quality: q,
            estimated_cost_usd: cost,
            estimated_latency_ms: latency,
            score: utility.score(q, cost, latency),
            healthy: o.healthy,
        };
        if limits.min_quality.is_some_and(|floor| q < floor) {
            limited.push((s, Rejection::MinQuality));
        } else if limits.max_cost_usd.is_some_and(|cap| cost > cap) {
            limited.push((s, Rejection::MaxCost));
        } else {
            healthy_model[o.model] |= o.healthy;
            scored.push(s);
        }
    }
    for (s, why) in &limited {
        if !scored.iter().any(|k| k.model == s.model) && !rejected.iter().any(|(m, _)| *m == s.model) {
            rejected.push((s.model, *why));
        }
    }

    // A model's rank is its best healthy offer's score; models with no healthy offer go last.
    let mut model_score = vec![f64::NEG_INFINITY; models.len()];
    for s in &scored {
        if s.healthy || !healthy_model[s.model] {
            model_score[s.model] = model_score[s.model].max(s.score);
        }
    }
    // The order is total (the offer index breaks every tie), so an unstable sort gives the same order.
    scored.sort_unstable_by(|a, b| {
        let key = |s: &Scored| (healthy_model[s.model], model_score[s.model]);
        let (ha, sa) = key(a);
        let (hb, sb) = key(b);
        hb.cmp(&ha)
            .then(sb.total_cmp(&sa))
            .then(a.model.cmp(&b.model))
            .then(b.healthy.cmp(&a.healthy))
            .then(b.score.total_cmp(&a.score))
            .then(a.offer.cmp(&b.offer))
    });

    Decision { ranked: scored, rejected, limited, input_tokens, output_tokens, difficulty: prompt.difficulty() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{features, TextFeatures};
    use crate::predictor::{sigmoid, Ability};

    /// A stand-in predictor: prompts mentioning "integral" are hard, and only strong abilities (a[0]) help.
    struct Toy {
        features: TextFeatures,
        hard: f64,
    }

    fn toy(text: &str) -> Toy {
        Toy { features: features(text), hard: if text.contains("integral") { 1.0 } else { 0.0 } }
    }

    impl PromptQuality for Toy {
        fn text_features(&self) -> &TextFeatures {
            &self.features
        }
        fn quality_of(&self, model: &ModelSpec) -> f64 {
            sigmoid(model.ability.b + self.hard * (model.ability.a[0] - 3.0))
        }
        fn difficulty(&self) -> f64 {
            self.hard
        }
    }

    fn spec(slug: &str, strength: f64) -> ModelSpec {
        let ability = Ability { a: vec![strength * 2.0], b: 7.0 + strength };
        ModelSpec { slug: slug.into(), ability, context_window: 128_000, max_output: 8192, tools: true, vision: true, json: true, specialty: None }
    }

    fn offer(model: usize, provider: &str, input: f64, output: f64) -> Offer {
        Offer { model, provider: provider.into(), input_price: input, output_price: output, ttft_ms: 400.0, tokens_per_s: 80.0, healthy: true }
    }

    /// weak-cheap, mid, strong-expensive.
    fn pool() -> (Vec<ModelSpec>, Vec<Offer>) {
        let models = vec![spec("cheap", 0.0), spec("mid", 0.6), spec("strong", 1.4)];
        let offers = vec![offer(0, "a", 0.2, 0.2), offer(1, "a", 1.0, 3.0), offer(2, "a", 10.0, 30.0), offer(2, "b", 12.0, 36.0)];
        (models, offers)
    }

    fn chosen(models: &[ModelSpec], d: &Decision) -> String {
        models[d.ranked[0].model].slug.clone()
    }

    fn rank(models: &[ModelSpec], offers: &[Offer], text: &str, needs: &Needs, pref: Preference) -> Decision {
        rank_offers(models, offers, &toy(text), needs, &pref.utility(), &Limits::default())
    }

    const EASY: &str = "hi, what is the capital of France?";
    const HARD: &str = "Compute the integral of x^3 e^x from 0 to 1, then use that integral to bound the series and prove convergence.";

    #[test]
    fn balanced_sends_easy_prompts_cheap_and_hard_prompts_stronger() {
        let (models, offers) = pool();
        let easy = rank(&models, &offers, EASY, &Needs::default(), Preference::Balanced);
        let hard = rank(&models, &offers, HARD, &Needs::default(), Preference::Balanced);
        assert_eq!(chosen(&models, &easy), "cheap");
        assert_ne!(chosen(&models, &hard), "cheap");
        assert!(hard.difficulty > easy.difficulty);
    }

    #[test]
    fn quality_picks_the_strongest_and_price_the_cheapest() {
        let (models, offers) = pool();
        for text in [EASY, HARD] {
            assert_eq!(chosen(&models, &rank(&models, &offers, text, &Needs::default(), Preference::Quality)), "strong");
            assert_eq!(chosen(&models, &rank(&models, &offers, text, &Needs::default(), Preference::Price)), "cheap");
        }
    }

    #[test]
    fn the_tradeoff_moves_the_choice_from_cheapest_to_best() {
        let (models, offers) = pool();
        let pick = |t: f64| {
            let d = rank_offers(&models, &offers, &toy(HARD), &Needs::default(), &Utility::new(t, 0.0).unwrap(), &Limits::default());
            d.ranked[0].model
        };
        assert_eq!(pick(0.0), 0);
        assert_eq!(pick(1.0), 2);
        let picks: Vec<usize> = (0..=20).map(|i| pick(f64::from(i) / 20.0)).collect();
        assert!(picks.windows(2).all(|w| w[0] <= w[1]), "quality never drops as the tradeoff rises: {picks:?}");
    }

    #[test]
    fn speed_weighs_latency() {
        let (models, mut offers) = pool();
        offers[0].tokens_per_s = 5.0; // the cheap model is very slow
        let by_cost = rank(&models, &offers, EASY, &Needs::default(), Preference::Balanced);
        let by_speed = rank(&models, &offers, EASY, &Needs::default(), Preference::Speed);
        assert_eq!(chosen(&models, &by_cost), "cheap");
        assert_ne!(chosen(&models, &by_speed), "cheap");
    }

    #[test]
    fn max_cost_drops_offers_over_the_cap() {
        let (models, offers) = pool();
        let quality = Preference::Quality.utility();
        let open = rank_offers(&models, &offers, &toy(HARD), &Needs::default(), &quality, &Limits::default());
        let cap = open.ranked.iter().filter(|s| s.model == 1).map(|s| s.estimated_cost_usd).fold(0.0, f64::max);
        let limits = Limits { max_cost_usd: Some(cap), min_quality: None };
        let d = rank_offers(&models, &offers, &toy(HARD), &Needs::default(), &quality, &limits);
        assert_eq!(chosen(&models, &d), "mid");
        assert!(d.ranked.iter().all(|s| s.estimated_cost_usd <= cap));
        assert_eq!(d.rejected, vec![(2, Rejection::MaxCost)]);
        assert_eq!(d.limited.len(), 2);
    }

    #[test]
    fn min_quality_drops_weak_models_and_reports_them() {
        let (models, offers) = pool();
        let price = Preference::Price.utility();
        let q = |m: usize| toy(HARD).quality_of(&models[m]);
        let limits = Limits { max_cost_usd: None, min_quality: Some((q(1) + q(2)) / 2.0) };
        let d = rank_offers(&models, &offers, &toy(HARD), &Needs::default(), &price, &limits);
        assert_eq!(chosen(&models, &d), "strong");
        assert_eq!(d.rejected, vec![(0, Rejection::MinQuality), (1, Rejection::MinQuality)]);
        // Nothing meets an impossible floor: no candidates, and the limited offers carry their figures.
        let none = rank_offers(&models, &offers, &toy(HARD), &Needs::default(), &price, &Limits { max_cost_usd: None, min_quality: Some(0.9999) });
        assert!(none.ranked.is_empty());
        let best = none.limited.iter().map(|(s, _)| s.predicted_quality).fold(0.0, f64::max);
        assert!((best - q(2)).abs() < 1e-12);
    }

    #[test]
    fn candidates_are_grouped_by_model_with_the_better_provider_first() {
        let (models, offers) = pool();
        let d = rank(&models, &offers, HARD, &Needs::default(), Preference::Quality);
        let order: Vec<(usize, &str)> = d.ranked.iter().map(|s| (s.model, offers[s.offer].provider.as_str())).collect();
        assert_eq!(order[0], (2, "a"));
        assert_eq!(order[1], (2, "b"));
        assert_eq!(d.ranked.len(), 4);
    }

    #[test]
    fn context_window_filter_drops_models_that_cannot_hold_the_prompt() {
        let (mut models, offers) = pool();
        models[2].context_window = 1000;
        let long = "word ".repeat(2000);
        let d = rank(&models, &offers, &long, &Needs::default(), Preference::Quality);
        assert!(d.ranked.iter().all(|s| s.model != 2));
        assert_eq!(d.rejected, vec![(2, Rejection::ContextWindow)]);
        // Room for the prompt but not for the requested output also rejects.
        models[2].context_window = 2100;
        let needs = Needs { max_tokens: Some(4000), ..Needs::default() };
        let d = rank(&models, &offers, &long, &needs, Preference::Quality);
        assert_eq!(d.rejected, vec![(2, Rejection::ContextWindow)]);
    }

    #[test]
    fn a_specialist_wins_on_its_task_and_is_discounted_off_it() {
        // A cheap coding model and a general model of the same ability at twice the price.
        let mut models = vec![spec("coder", 0.6), spec("general", 0.6)];
        models[0].specialty = Some(0); // SIGNALS[0] == "code"
        let offers = vec![offer(0, "a", 0.5, 1.0), offer(1, "a", 1.0, 2.0)];
        let code = "Write a Python function that parses this JSON and returns the keys; fix the bug in my code.";
        let prose = "Translate 'good morning, my friend' into French, please.";
        assert!(toy(code).features.signal_hits[0] > 0 && toy(prose).features.signal_hits[0] == 0);
        let on_task = rank(&models, &offers, code, &Needs::default(), Preference::Balanced);
        assert_eq!(chosen(&models, &on_task), "coder");
        assert!((on_task.ranked[0].predicted_quality - toy(code).quality_of(&models[0])).abs() < 1e-12);
        let off_task = rank(&models, &offers, prose, &Needs::default(), Preference::Balanced);
        assert_eq!(chosen(&models, &off_task), "general");
        let coder = off_task.ranked.iter().find(|s| s.model == 0).unwrap();
        assert!((coder.predicted_quality - toy(prose).quality_of(&models[0]) * SPECIALIST_OFF_TASK).abs() < 1e-12);
        // Without the specialty the cheaper model wins everywhere.
        models[0].specialty = None;
        let plain = rank(&models, &offers, prose, &Needs::default(), Preference::Balanced);
        assert_eq!(chosen(&models, &plain), "coder");
    }

    #[test]
    fn capability_filters() {
        let (mut models, offers) = pool();
        models[2].tools = false;
        models[1].vision = false;
        models[0].json = false;
        let tools = rank(&models, &offers, HARD, &Needs { tools: true, ..Needs::default() }, Preference::Quality);
        assert_eq!(tools.rejected, vec![(2, Rejection::Tools)]);
        let vision = rank(&models, &offers, HARD, &Needs { vision: true, ..Needs::default() }, Preference::Quality);
        assert_eq!(vision.rejected, vec![(1, Rejection::Vision)]);
        let json = rank(&models, &offers, HARD, &Needs { json: true, ..Needs::default() }, Preference::Price);
        assert_eq!(json.rejected, vec![(0, Rejection::Json)]);
        let big = rank(&models, &offers, HARD, &Needs { max_tokens: Some(9000), ..Needs::default() }, Preference::Price);
        assert_eq!(big.rejected.len(), 3);
        assert!(big.ranked.is_empty());
    }

    #[test]
    fn models_with_no_healthy_provider_rank_last_but_stay() {
        let (models, mut offers) = pool();
        offers[2].healthy = false;
        offers[3].healthy = false;
        let d = rank(&models, &offers, HARD, &Needs::default(), Preference::Quality);
        assert_ne!(d.ranked[0].model, 2);
        assert_eq!(d.ranked.last().unwrap().model, 2);
        assert_eq!(d.ranked.len(), 4);
        // One healthy provider is enough to keep the model's rank, and it goes first within the model.
        offers[3].healthy = true;
        let d = rank(&models, &offers, HARD, &Needs::default(), Preference::Quality);
        assert_eq!((d.ranked[0].model, d.ranked[0].offer), (2, 3));
    }

    #[test]
    fn cost_and_latency_estimates() {
        let (models, offers) = pool();
        let d = rank(&models, &offers, EASY, &Needs { max_tokens: Some(50), ..Needs::default() }, Preference::Price);
        assert_eq!(d.output_tokens, 50);
        let s = d.ranked.iter().find(|s| s.offer == 2).unwrap();
        let want = (f64::from(d.input_tokens) * 10.0 + 50.0 * 30.0) / 1e6;
        assert!((s.estimated_cost_usd - want).abs() < 1e-12);
        assert!((s.estimated_latency_ms - (400.0 + 50.0 * 1000.0 / 80.0)).abs() < 1e-9);
    }

    #[test]
    fn preferences_parse_by_canonical_name_only() {
        for pref in [Preference::Balanced, Preference::Quality, Preference::Price, Preference::Speed] {
            assert_eq!(Preference::parse(pref.as_str()), Some(pref));
        }
        // Aliases and variants belong to the request parser.
        for other in ["performance", "cost", "Balanced", " price", "cheap"] {
            assert_eq!(Preference::parse(other), None, "{other}");
        }
    }

    #[test]
    fn named_preferences_are_points_on_the_scale() {
        assert_eq!(Preference::Quality.utility().tradeoff, 1.0);
        assert!(Preference::Price.utility().tradeoff < Preference::Balanced.utility().tradeoff);
        assert_eq!(Preference::Speed.utility().tradeoff, Preference::Balanced.utility().tradeoff);
        assert!(Preference::Speed.utility().latency_weight > 0.0);
    }
}
