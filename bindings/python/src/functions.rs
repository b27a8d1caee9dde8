//! The module's free functions.

use portpool_core as pp;
use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;

use crate::args::{exclude_arg, host_arg, int_arg, port_arg, port_list, protocol_arg, range_arg};
use crate::errors::OrRaise;
use crate::registry::Registry;

/// Whether `port` can be bound for `protocol` on this host right now (IPv4 and IPv6
/// wildcards, or `host` only). Consults no registry; the answer is a snapshot.
///
/// Args:
///     port: The port, 1-65535.
///     protocol: "tcp" (default), "udp", or "tcp+udp" (one port for both).
///     host: Probe this one address (e.g. "127.0.0.1") instead of the wildcards: a port
///         bound on another address then reads as free.
///
/// Returns:
///     True when nothing has the port bound.
///
/// Raises:
///     InvalidArgumentError: a bad port, protocol or host (not an address of this machine).
///     TypeError: an argument of the wrong type.
#[pyfunction]
#[pyo3(signature = (port, protocol="tcp", *, host=None))]
pub(crate) fn is_free(
    py: Python<'_>,
    port: &Bound<'_, PyAny>,
    protocol: &str,
    host: Option<&Bound<'_, PyAny>>,
) -> PyResult<bool> {
    let port = port_arg(py, port)?;
    let protocol = protocol_arg(py, protocol)?;
    let host = host_arg(py, host)?;
    py.detach(|| pp::is_free_at(port, protocol, host))
        .or_raise(py)
}

/// Free ports, like portpicker.pick_unused_port() and get-port: `count` distinct ports that
/// nothing has bound right now. Takes no lease: use Registry.register() or allocate() to keep
/// other portpool users off them.
///
/// Candidates in order: `ports`, then `range`; without a range, ports the kernel picks.
/// Each is probed on the IPv4 and IPv6 wildcards, or on `host` only.
///
/// Args:
///     protocol: "tcp" (default), "udp", or "tcp+udp" (one port for both).
///     ports: Ports to try first, in order (an iterable of int).
///     range: Then this (start, end) pair of ports, inclusive.
///     exclude: Ports never returned (an iterable of int).
///     count: How many distinct ports to return; None: one, returned as an int.
///     host: Probe this one address (e.g. "127.0.0.1") instead of the wildcards: a port
///         bound on another address then reads as free.
///
/// Returns:
///     A port (count None), else a list of `count` ports.
///
/// Raises:
///     InvalidArgumentError: a bad protocol, port, range, count or host (not an address of
///         this machine).
///     ExhaustedError: fewer free ports than asked for.
///     PortpoolIOError: the kernel refused a socket.
///     TypeError: an argument of the wrong type.
#[pyfunction]
#[pyo3(signature = (protocol="tcp", *, ports=None, range=None, exclude=None, count=None, host=None))]
pub(crate) fn find_free(
    py: Python<'_>,
    protocol: &str,
    ports: Option<&Bound<'_, PyAny>>,
    range: Option<&Bound<'_, PyAny>>,
    exclude: Option<&Bound<'_, PyAny>>,
    count: Option<&Bound<'_, PyAny>>,
    host: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let asked = count
        .map(|c| int_arg(c, "count")?.to_i64(py, "count"))
        .transpose()?;
    let options = pp::FindOptions {
        protocol: protocol_arg(py, protocol)?,
        ports: ports.map_or(Ok(Vec::new()), |p| port_list(py, p, "ports"))?,
        range: range_arg(py, range, "range")?,
        exclude: exclude_arg(py, exclude)?,
        count: match asked {
            None => 1,
            Some(n) => pp::count_from_i64(n).or_raise(py)?,
        },
        host: host_arg(py, host)?,
    };
    let found = py.detach(|| pp::find_free_ports(&options)).or_raise(py)?;
    match asked {
        None => found[0].into_py_any(py),
        Some(_) => found.into_py_any(py),
    }
}

/// A name for a lease its caller gave none (portpicker's ports): unique on the host, as core
/// makes it for every front end (`{tool}:{pid}:{start}:{label}{serial}`). Private: for
/// the package's own modules.
#[pyfunction(name = "_unnamed_lease_name")]
pub(crate) fn unnamed_lease_name(tool: &str, label: &str) -> String {
    pp::unnamed_lease_name(tool, label)
}

/// `registry.list()` with each lease a plain tuple of its fields' values: the baseline
/// bench/front.py measures `list()` against. Private.
#[pyfunction(name = "_lease_tuples")]
pub(crate) fn lease_tuples(py: Python<'_>, registry: PyRef<'_, Registry>) -> PyResult<Py<PyAny>> {
    let reg = registry.core();
    let leases = py.detach(|| reg.list()).or_raise(py)?;
    crate::leases::lease_tuples(py, &leases)
}
