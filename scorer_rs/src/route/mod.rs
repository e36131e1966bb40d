//! Model routing (`rank_offers`): hard filters, then a utility per preference over (model, provider) offers.
//! Not to be confused with `provider_rank`, which orders one model's providers by live stats alone.
//!
//! Filters drop a model that cannot take the request (context window, max output, tools, vision, JSON).
//! A model whose providers are all unhealthy is kept but ranked after every healthy one. The utility mixes
//! predicted quality with cost and latency measured in decades (log10 of the ratio to the cheapest or
//! fastest eligible offer), so the trade-off does not depend on the price scale.
//!
//! `model` holds the model's facts and the predictor seam (`PromptQuality`), `filters` the hard filters,
//! this file the preference and the ranking.

mod filters;
mod model;

use std::borrow::Borrow;

pub use filters::{expected_output_tokens, Needs, Rejection};
pub use model::{ModelSpec, PromptQuality, SPECIALIST_OFF_TASK};

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
    /// Models the hard filters dropped, with the first reason.
    pub rejected: Vec<(usize, Rejection)>,
    pub input_tokens: u32,
    pub output_tokens: u32,
    pub difficulty: f64,
}

/// Quality below the best eligible model by more than this is not "adequate" for price or speed.
pub const PRICE_MARGIN: f64 = 0.15;
pub const SPEED_MARGIN: f64 = 0.15;
/// Balanced pays this much predicted quality per tenfold cost (and per tenfold latency).
pub const BALANCED_COST_WEIGHT: f64 = 0.07;
pub const BALANCED_LATENCY_WEIGHT: f64 = 0.03;

const DEFAULT_TTFT_MS: f64 = 800.0;
const DEFAULT_TOKENS_PER_S: f64 = 60.0;

fn decades(x: f64, best: f64) -> f64 {
    if best > 0.0 && x > best {
        (x / best).log10()
    } else {
        0.0
    }
}

/// Ranks `offers` for one prompt. `models` must cover every `Offer::model` index.
#[must_use]
pub fn rank_offers<M: Borrow<ModelSpec>, P>(
    models: &[M],
    offers: &[Offer<P>],
    prompt: &impl PromptQuality,
    needs: &Needs,
    pref: Preference,
) -> Decision {
    let features = prompt.text_features();
    let input_tokens = features.est_tokens.saturating_add(needs.extra_input_tokens);
    let output_tokens = expected_output_tokens(features, needs.max_tokens);

    let mut rejected: Vec<(usize, Rejection)> = Vec::new();
    let mut eligible = vec![false; models.len()];
    let mut quality = vec![0.0; models.len()];
    let mut healthy_model = vec![false; models.len()];
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
    for (i, o) in offers.iter().enumerate() {
        if !eligible[o.model] {
            continue;
        }
        let cost = (f64::from(input_tokens) * o.input_price + f64::from(output_tokens) * o.output_price) / 1e6;
        let ttft = if o.ttft_ms.is_finite() && o.ttft_ms > 0.0 { o.ttft_ms } else { DEFAULT_TTFT_MS };
        let tps = if o.tokens_per_s.is_finite() && o.tokens_per_s > 0.0 { o.tokens_per_s } else { DEFAULT_TOKENS_PER_S };
        let latency = ttft + f64::from(output_tokens) * 1000.0 / tps;
        healthy_model[o.model] |= o.healthy;
        scored.push(Scored {
            offer: i,
            model: o.model,
            predicted_quality: quality[o.model],
            estimated_cost_usd: cost,
            estimated_latency_ms: latency,
            score: 0.0,
            healthy: o.healthy,
        });
    }

    // Reference points come from healthy offers when there are any, so a dead cheap model sets no bar.
    let pool = |healthy_only: bool| scored.iter().filter(move |s| !healthy_only || s.healthy);
    let any_healthy = scored.iter().any(|s| s.healthy);
    let best_q = pool(any_healthy).map(|s| s.predicted_quality).fold(0.0, f64::max);
    let min_cost = pool(any_healthy).map(|s| s.estimated_cost_usd).fold(f64::INFINITY, f64::min);
    let min_lat = pool(any_healthy).map(|s| s.estimated_latency_ms).fold(f64::INFINITY, f64::min);

    for s in &mut scored {
        let (q, c, l) = (s.predicted_quality, decades(s.estimated_cost_usd, min_cost), decades(s.estimated_latency_ms, min_lat));
        s.score = match pref {
            Preference::Quality => q - 0.01 * c - 0.005 * l,
            Preference::Balanced => q - BALANCED_COST_WEIGHT * c - BALANCED_LATENCY_WEIGHT * l,
            // Adequate offers first, cheapest (fastest) first; the rest after them, best quality first.
            Preference::Price => {
                if q >= best_q - PRICE_MARGIN {
                    -c - 0.01 * l + 0.1 * q
                } else {
                    q - 10.0
                }
            }
            Preference::Speed => {
                if q >= best_q - SPEED_MARGIN {
                    -l - 0.01 * c + 0.1 * q
                } else {
                    q - 10.0
                }
            }
        };
    }

    // A model's rank is its best healthy offer's score; models with no healthy offer go last.
    let mut model_score = vec![f64::NEG_INFINITY; models.len()];
    for s in &scored {
        if s.healthy || !healthy_model[s.model] {
            model_score[s.model] = model_score[s.model].max(s.score);
        }
    }
    scored.sort_by(|a, b| {
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

    Decision { ranked: scored, rejected, input_tokens, output_tokens, difficulty: prompt.difficulty() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quality::tests::toy;

    fn spec(slug: &str, ability: f64) -> ModelSpec {
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

    const EASY: &str = "hi, what is the capital of France?";
    const HARD: &str = "Compute the integral of x^3 e^x from 0 to 1, then use that integral to bound the series and prove convergence.";

    #[test]
    fn balanced_sends_easy_prompts_cheap_and_hard_prompts_strong() {
        let (models, offers) = pool();
        let p = toy();
        let easy = rank_offers(&models, &offers, &p.score(EASY), &Needs::default(), Preference::Balanced);
        let hard = rank_offers(&models, &offers, &p.score(HARD), &Needs::default(), Preference::Balanced);
        assert_eq!(chosen(&models, &easy), "cheap");
        assert_eq!(chosen(&models, &hard), "strong");
        assert!(hard.difficulty > easy.difficulty);
    }

    #[test]
    fn quality_picks_the_strongest_and_price_the_cheapest_adequate() {
        let (models, offers) = pool();
        let p = toy();
        for text in [EASY, HARD] {
            let q = rank_offers(&models, &offers, &p.score(text), &Needs::default(), Preference::Quality);
            assert_eq!(chosen(&models, &q), "strong");
        }
        let easy = rank_offers(&models, &offers, &p.score(EASY), &Needs::default(), Preference::Price);
        assert_eq!(chosen(&models, &easy), "cheap");
        // On the hard prompt the cheap model is not adequate: the cheapest adequate one wins.
        let hard = rank_offers(&models, &offers, &p.score(HARD), &Needs::default(), Preference::Price);
        assert_ne!(chosen(&models, &hard), "cheap");
        let best = hard.ranked.iter().map(|s| s.predicted_quality).fold(0.0, f64::max);
        assert!(hard.ranked[0].predicted_quality >= best - PRICE_MARGIN);
    }

    #[test]
    fn speed_picks_the_fastest_adequate() {
        let (models, mut offers) = pool();
        offers[1].tokens_per_s = 400.0;
        offers[1].ttft_ms = 100.0;
        let d = rank_offers(&models, &offers, &toy().score(EASY), &Needs::default(), Preference::Speed);
        assert_eq!(chosen(&models, &d), "mid");
    }

    #[test]
    fn candidates_are_grouped_by_model_with_the_better_provider_first() {
        let (models, offers) = pool();
        let d = rank_offers(&models, &offers, &toy().score(HARD), &Needs::default(), Preference::Quality);
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
        let d = rank_offers(&models, &offers, &toy().score(&long), &Needs::default(), Preference::Quality);
        assert!(d.ranked.iter().all(|s| s.model != 2));
        assert_eq!(d.rejected, vec![(2, Rejection::ContextWindow)]);
        // Room for the prompt but not for the requested output also rejects.
        models[2].context_window = 2100;
        let needs = Needs { max_tokens: Some(4000), ..Needs::default() };
        let d = rank_offers(&models, &offers, &toy().score(&long), &needs, Preference::Quality);
        assert_eq!(d.rejected, vec![(2, Rejection::ContextWindow)]);
    }

    #[test]
    fn a_specialist_wins_on_its_task_and_is_discounted_off_it() {
        // A cheap coding model and a general model of the same ability at twice the price.
        let mut models = vec![spec("coder", 0.6), spec("general", 0.6)];
        models[0].specialty = Some(0); // SIGNALS[0] == "code"
        let offers = vec![offer(0, "a", 0.5, 1.0), offer(1, "a", 1.0, 2.0)];
        let p = toy();
        let code = p.score("Write a Python function that parses this JSON and returns the keys; fix the bug in my code.");
        let prose = p.score("Translate 'good morning, my friend' into French, please.");
        assert!(code.features.signal_hits[0] > 0 && prose.features.signal_hits[0] == 0);
        let on_task = rank_offers(&models, &offers, &code, &Needs::default(), Preference::Balanced);
        assert_eq!(chosen(&models, &on_task), "coder");
        assert!((on_task.ranked[0].predicted_quality - code.p_good(0.6)).abs() < 1e-12);
        let off_task = rank_offers(&models, &offers, &prose, &Needs::default(), Preference::Balanced);
        assert_eq!(chosen(&models, &off_task), "general");
        let coder = off_task.ranked.iter().find(|s| s.model == 0).unwrap();
        assert!((coder.predicted_quality - prose.p_good(0.6) * SPECIALIST_OFF_TASK).abs() < 1e-12);
        // Without the specialty the cheaper model wins everywhere.
        models[0].specialty = None;
        let plain = rank_offers(&models, &offers, &prose, &Needs::default(), Preference::Balanced);
        assert_eq!(chosen(&models, &plain), "coder");
    }

    #[test]
    fn capability_filters() {
        let (mut models, offers) = pool();
        models[2].tools = false;
        models[1].vision = false;
        models[0].json = false;
        let p = toy().score(HARD);
        let tools = rank_offers(&models, &offers, &p, &Needs { tools: true, ..Needs::default() }, Preference::Quality);
        assert_eq!(tools.rejected, vec![(2, Rejection::Tools)]);
        let vision = rank_offers(&models, &offers, &p, &Needs { vision: true, ..Needs::default() }, Preference::Quality);
        assert_eq!(vision.rejected, vec![(1, Rejection::Vision)]);
        let json = rank_offers(&models, &offers, &p, &Needs { json: true, ..Needs::default() }, Preference::Price);
        assert_eq!(json.rejected, vec![(0, Rejection::Json)]);
        let big = rank_offers(&models, &offers, &p, &Needs { max_tokens: Some(9000), ..Needs::default() }, Preference::Price);
        assert_eq!(big.rejected.len(), 3);
        assert!(big.ranked.is_empty());
    }

    #[test]
    fn models_with_no_healthy_provider_rank_last_but_stay() {
        let (models, mut offers) = pool();
        offers[2].healthy = false;
        offers[3].healthy = false;
        let d = rank_offers(&models, &offers, &toy().score(HARD), &Needs::default(), Preference::Quality);
        assert_ne!(d.ranked[0].model, 2);
        assert_eq!(d.ranked.last().unwrap().model, 2);
        assert_eq!(d.ranked.len(), 4);
        // One healthy provider is enough to keep the model's rank, and it goes first within the model.
        offers[3].healthy = true;
        let d = rank_offers(&models, &offers, &toy().score(HARD), &Needs::default(), Preference::Quality);
        assert_eq!((d.ranked[0].model, d.ranked[0].offer), (2, 3));
    }

    #[test]
    fn cost_and_latency_estimates() {
        let (models, offers) = pool();
        let p = toy().score(EASY);
        let d = rank_offers(&models, &offers, &p, &Needs { max_tokens: Some(50), ..Needs::default() }, Preference::Price);
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
}
