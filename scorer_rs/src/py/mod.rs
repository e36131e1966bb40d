//! The `PyO3` layer: converts arguments, calls the plain-Rust core, maps errors to `ValueError`.
//! One file per pyclass; each is registered below with one line.

use pyo3::prelude::*;

mod router;
mod stats;

#[pymodule]
fn _scorer(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Pyclass registrations, one line each: `Scorer` (stats.rs), `Router` (router.rs), then
    // functions; add new ones here.
    m.add_class::<stats::PyScorer>()?;
    m.add_class::<router::Router>()?;
    m.add_function(wrap_pyfunction!(stats::scorer_defaults, m)?)?;
    Ok(())
}
