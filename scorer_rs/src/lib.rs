//! Switchyard's hot path in plain Rust. The PyO3 layer lives in `py` behind the `python` feature,
//! so `cargo test` never links libpython.

pub mod stats;

#[cfg(feature = "python")]
mod py;
