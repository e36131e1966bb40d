//! Switchyard's hot path in plain Rust. The PyO3 layer lives in `py` behind the `python` feature,
//! so `cargo test` never links libpython.

pub mod circuit;
pub mod ewma;
pub mod rank;
pub mod stats;

pub mod embed;
pub mod features;
pub mod predictor;
pub mod quality;
pub mod route;

#[cfg(feature = "python")]
mod py;
