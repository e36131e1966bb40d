//! The PyO3 layer: converts arguments, calls the plain-Rust core, maps errors to ValueError.

use pyo3::prelude::*;

mod router;
mod stats;

#[pymodule]
fn _scorer(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<stats::PyScorer>()?;
    m.add_class::<router::Router>()?;
    Ok(())
}
