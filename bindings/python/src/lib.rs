//! `portpool._native`, the native module behind the `portpool` Python package.
//!
//! Every method converts its Python arguments, calls one `portpool_core` function with the
//! GIL released, and maps the one core error enum, [`portpool_core::ErrorKind`], to one
//! exception class. The rules (ports, names, allocation, locking) live in core only.

mod args;
mod calls;
mod errors;
mod functions;
mod guard;
mod jobs;
mod keywords;
mod leases;
mod options_gen;
mod registry;
mod values;

use portpool_core as pp;
use pyo3::prelude::*;

use crate::errors::Exceptions;
use crate::functions::{find_free, is_free, lease_tuples, unnamed_lease_name};
use crate::guard::LeaseGuard;
use crate::registry::Registry;

/// portpool's native module; import `portpool` instead.
#[pymodule]
#[pyo3(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", pp::VERSION)?;
    m.add("DEFAULT_POOL", pp::DEFAULT_POOL)?;
    m.add("DEFAULT_POOL_START", pp::DEFAULT_POOL_START)?;
    m.add("DEFAULT_POOL_END", pp::DEFAULT_POOL_END)?;
    m.add("MAX_NAME_BYTES", pp::MAX_NAME_BYTES)?;
    m.add("FORMAT_VERSION", pp::FORMAT_VERSION)?;
    m.add_class::<Registry>()?;
    m.add_class::<LeaseGuard>()?;
    m.add_function(wrap_pyfunction!(is_free, m)?)?;
    m.add_function(wrap_pyfunction!(find_free, m)?)?;
    // Private (the package's own modules use it): set, not added to `__all__`.
    m.setattr(
        "_unnamed_lease_name",
        wrap_pyfunction!(unnamed_lease_name, m)?,
    )?;
    // Private: bench/front.py's baseline for list().
    m.setattr("_lease_tuples", wrap_pyfunction!(lease_tuples, m)?)?;
    for class in Exceptions::get(py)?.all() {
        let class = class.bind(py);
        m.add(class.name()?.to_string(), class)?;
    }
    Ok(())
}
