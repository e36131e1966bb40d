//! Where a routing decision's time goes, in plain Rust (no Python): the text pass, the embedding pass, the
//! latent vector and the ranking over 31 offers, each timed alone over many calls.
//!
//!     cargo run --release --example route_timing -- [PROMPT_FILE] [CALLS]
//!
//! The table is the shipped `proxy/routing/static_embed.bin`; the predictor's weights are synthetic (the
//! shapes of router_v2.json: k = 16, 128 embedding dims, the dense features, an intercept), which is all the
//! timing depends on. Prints the minimum and median of each part, in microseconds.

use std::hint::black_box;
use std::time::Instant;

use scorer_rs::embed::StaticEmbedding;
use scorer_rs::features::{scan, N_DENSE};
use scorer_rs::predictor::{Ability, Predictor, PredictorParts, N_DENSE_ALL};
use scorer_rs::route::{rank_offers, Limits, ModelSpec, Needs, Offer, Utility};

const TABLE: &str = "proxy/routing/static_embed.bin";
const K: usize = 16;
const MODELS: usize = 31;

/// A deterministic pseudo-random stream (xorshift), so runs compare.
fn stream(seed: u64) -> impl FnMut() -> f64 {
    let mut s = seed;
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    }
}

fn time(name: &str, calls: usize, mut f: impl FnMut()) {
    let mut ns: Vec<u128> = Vec::with_capacity(calls);
    for _ in 0..calls {
        let t0 = Instant::now();
        f();
        ns.push(t0.elapsed().as_nanos());
    }
    ns.sort_unstable();
    let us = |v: u128| v as f64 / 1000.0;
    println!("{name:<22} min {:7.2} us  p50 {:7.2} us  p90 {:7.2} us", us(ns[0]), us(ns[calls / 2]), us(ns[calls * 9 / 10]));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let prompt = args.get(1).map_or_else(
        || "Explain, in two short paragraphs, why the sky is blue and why sunsets are red. ".repeat(100),
        |p| std::fs::read_to_string(p).expect("prompt file"),
    );
    let calls: usize = args.get(2).and_then(|c| c.parse().ok()).unwrap_or(3000);
    let raw = std::fs::read(TABLE).expect("run from the repository root: the static embedding table");
    let embedding = StaticEmbedding::parse(&raw).expect("table");
    let dims = embedding.dims();

    let mut rnd = stream(0x5EED);
    let w: Vec<f64> = (0..(dims + N_DENSE_ALL + 1) * (K + 1)).map(|_| rnd()).collect();
    let (mean, inv) = ([0.1; N_DENSE_ALL], [1.5; N_DENSE_ALL]);
    let parts = PredictorParts { k: K, use_embed: true, dense_mean: Some(&mean), dense_inv_scale: Some(&inv), w: &w, hashed: None };
    let predictor = Predictor::new(StaticEmbedding::parse(&raw).expect("table"), &parts).expect("predictor");
    let specs: Vec<ModelSpec> = (0..MODELS)
        .map(|m| ModelSpec {
            slug: format!("model-{m}"),
            ability: Ability { a: (0..K).map(|_| rnd()).collect(), b: rnd() },
            context_window: 128_000,
            max_output: 8192,
            tools: true,
            vision: m % 2 == 0,
            json: true,
            specialty: None,
        })
        .collect();
    let offers: Vec<Offer<()>> = (0..MODELS)
        .map(|m| Offer { model: m, provider: (), input_price: 0.1 + rnd().abs() * 10.0, output_price: 0.3 + rnd().abs() * 30.0, ttft_ms: 400.0, tokens_per_s: 80.0, healthy: true })
        .collect();
    let (needs, utility, limits) = (Needs::default(), Utility::new(0.5, 0.0).expect("tradeoff"), Limits::default());

    let f = scan(&prompt, 4096, |_| {});
    println!("prompt: {} bytes, {} words, ~{} o200k tokens; {MODELS} models, k = {K}, {} dense", prompt.len(), f.words, f.est_tokens, N_DENSE);
    let latent = predictor.latent(&prompt);
    for round in 0..2 {
        println!("-- round {round}");
        time("text pass (scan)", calls, || {
            black_box(scan(black_box(&prompt), 4096, |_| {}));
        });
        time("embedding pass", calls, || {
            black_box(embedding.embed(black_box(&prompt)));
        });
        time("latent (both + w)", calls, || {
            black_box(predictor.latent(black_box(&prompt)));
        });
        time("rank 31 offers", calls, || {
            black_box(rank_offers(&specs, &offers, black_box(&latent), &needs, &utility, &limits));
        });
        time("latent + rank", calls, || {
            let l = predictor.latent(black_box(&prompt));
            black_box(rank_offers(&specs, &offers, &l, &needs, &utility, &limits));
        });
    }
}
