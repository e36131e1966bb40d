//! Switchyard's hot path in plain Rust. The PyO3 layer lives in `py` behind the `python` feature,
//! so `cargo test` never links libpython.

pub mod circuit;
pub mod ewma;
pub mod provider_rank;
pub mod quantile;
pub mod scorer_config;
pub mod stats;

pub mod embed;
pub mod features;
pub mod predictor;
pub mod registry;
pub mod route;
pub mod router;

#[cfg(feature = "python")]
mod py;
