//! Argument conversion: type checks here, value checks in core.

use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use portpool_core as pp;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyInt, PyString};

use crate::errors::{OrRaise, error};

/// A Python int: one that fits an i64, or the decimal text of one that does not.
pub(crate) enum Int {
    Small(i64),
    Big(String),
}

impl Int {
    /// The value as core's `*_from_i64` checks take it. An int beyond 64 bits is outside
    /// every range core accepts; core has no check that takes it, so its message is worded
    /// here.
    pub(crate) fn to_i64(&self, py: Python<'_>, what: &str) -> PyResult<i64> {
        match self {
            Int::Small(n) => Ok(*n),
            Int::Big(text) => Err(error(py, pp::integer_out_of_range(what, text))),
        }
    }
}

/// Reads an int argument, as `operator.index` does (an int, or an object with
/// `__index__`); anything else, `bool` included, is a `TypeError`.
pub(crate) fn int_arg(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Int> {
    static INDEX: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let py = value.py();
    let int = if value.is_instance_of::<PyBool>() {
        None
    } else if value.is_instance_of::<PyInt>() {
        Some(value.clone())
    } else {
        match INDEX.import(py, "operator", "index")?.call1((value,)) {
            Ok(int) => Some(int),
            Err(err) if err.is_instance_of::<PyTypeError>(py) => None,
            Err(err) => return Err(err),
        }
    };
    let Some(int) = int else {
        let type_name = value.get_type().name()?;
        return Err(PyTypeError::new_err(format!(
            "{what} must be an int, not '{type_name}'"
        )));
    };
    Ok(match int.extract::<i64>() {
        Ok(small) => Int::Small(small),
        Err(_) => Int::Big(int.str()?.to_string()),
    })
}

pub(crate) fn port_arg(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<u16> {
    match int_arg(value, "port")? {
        Int::Small(n) => pp::port_from_i64(n),
        Int::Big(text) => pp::parse_port(&text),
    }
    .or_raise(py)
}

pub(crate) fn pid_arg(py: Python<'_>, value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<u32>> {
    value.map(|value| pid_value(py, value, "pid")).transpose()
}

/// A process id named `what` in errors, checked by core.
pub(crate) fn pid_value(py: Python<'_>, value: &Bound<'_, PyAny>, what: &str) -> PyResult<u32> {
    let pid = int_arg(value, what)?.to_i64(py, what)?;
    pp::pid_from_i64(pid).or_raise(py)
}

pub(crate) fn ttl_arg(py: Python<'_>, value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<u64>> {
    value.map(|value| ttl_value(py, value, "ttl")).transpose()
}

/// A time to live in seconds named `what` in errors, checked by core.
pub(crate) fn ttl_value(py: Python<'_>, value: &Bound<'_, PyAny>, what: &str) -> PyResult<u64> {
    let ttl = int_arg(value, what)?.to_i64(py, what)?;
    pp::ttl_from_i64(ttl).or_raise(py)
}

pub(crate) fn protocol_arg(py: Python<'_>, protocol: &str) -> PyResult<pp::Protocol> {
    pp::Protocol::from_str(protocol).or_raise(py)
}

/// Ports given as an iterable of ints (not a str or bytes), each checked as a port.
pub(crate) fn port_list(
    py: Python<'_>,
    value: &Bound<'_, PyAny>,
    what: &str,
) -> PyResult<Vec<u16>> {
    if value.is_instance_of::<PyString>() || value.is_instance_of::<PyBytes>() {
        let type_name = value.get_type().name()?;
        return Err(PyTypeError::new_err(format!(
            "{what} must be an iterable of int, not '{type_name}'"
        )));
    }
    value.try_iter()?.map(|p| port_arg(py, &p?)).collect()
}

/// The preferred ports: one int, or a sequence of them in order.
pub(crate) fn ports_arg(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Vec<u16>> {
    if value.is_instance_of::<PyInt>() || value.hasattr("__index__")? {
        return Ok(vec![port_arg(py, value)?]);
    }
    port_list(py, value, "port")
}

/// A `(start, end)` pair of ports, inclusive, named `what` in errors.
pub(crate) fn range_arg(
    py: Python<'_>,
    value: Option<&Bound<'_, PyAny>>,
    what: &str,
) -> PyResult<Option<(u16, u16)>> {
    let Some(value) = value else { return Ok(None) };
    match port_list(py, value, what)?[..] {
        [start, end] => Ok(Some((start, end))),
        _ => Err(PyTypeError::new_err(format!(
            "{what} must be a (start, end) pair of ports"
        ))),
    }
}

/// One IP address, as text ("127.0.0.1", "::1") or an `ipaddress` object; core parses it.
pub(crate) fn host_arg(
    py: Python<'_>,
    value: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<IpAddr>> {
    let Some(value) = value else { return Ok(None) };
    let text = value.str()?.to_string();
    pp::parse_host(&text).map(Some).or_raise(py)
}

pub(crate) fn exclude_arg(py: Python<'_>, value: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<u16>> {
    value.map_or(Ok(Vec::new()), |v| port_list(py, v, "exclude"))
}

pub(crate) fn repr_str(py: Python<'_>, text: &str) -> PyResult<String> {
    Ok(PyString::new(py, text).repr()?.to_string())
}

/// A per-call `timeout=` in seconds, checked as the handle's lock timeout is.
pub(crate) fn timeout_arg(py: Python<'_>, seconds: Option<f64>) -> PyResult<Option<Duration>> {
    seconds
        .map(pp::lock_timeout_from_secs)
        .transpose()
        .or_raise(py)
}

pub(crate) fn endings_of(pairs: &[(String, Option<u64>)]) -> Vec<pp::Ending<'_>> {
    pairs
        .iter()
        .map(|(name, ticket)| pp::Ending {
            name,
            ticket: *ticket,
        })
        .collect()
}

/// How a scoped lease chooses its port: from `pool`, or `port` in `mode`.
pub(crate) fn choice_arg(
    py: Python<'_>,
    pool: Option<&str>,
    port: Option<&Bound<'_, PyAny>>,
    mode: &str,
) -> PyResult<pp::Choice> {
    let mode = pp::Mode::from_str(mode).or_raise(py)?;
    let ports = port.map(|port| ports_arg(py, port)).transpose()?;
    pp::Choice::new(pool.map(str::to_owned), ports, Some(mode)).or_raise(py)
}

/// A TCP backlog, for core to check; None (and 0) is core's default, the kernel's somaxconn.
pub(crate) fn backlog_arg(py: Python<'_>, n: Option<i64>) -> PyResult<u32> {
    n.map_or(Ok(pp::DEFAULT_BACKLOG), pp::backlog_from_i64)
        .or_raise(py)
}
