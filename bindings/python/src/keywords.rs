//! Lease options given as keywords (a call's `**options`): one converter per kind of option.
//!
//! Which keywords each call takes, and which converter reads each, is generated from core's
//! `LeaseOptions` and tests/parity/options.tsv into `options_gen.rs`; this module is the part
//! written by hand, once per kind (cli/tests/parity/lease.rs's `Kind`). A new option of an
//! existing kind needs nothing here; a new kind needs its converter here and its line in
//! cli/tests/parity/gen_python.rs.

use std::net::IpAddr;

use portpool_core as pp;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::PyDict;

use crate::args::{host_arg, pid_value, port_list, protocol_arg, range_arg, ttl_value};

/// The keywords one call was given beyond its named parameters, and the call's name for
/// errors (`Registry.register()`, as Python names it).
pub(crate) struct Keywords<'a, 'py> {
    py: Python<'py>,
    call: &'static str,
    given: Option<&'a Bound<'py, PyDict>>,
}

impl<'a, 'py> Keywords<'a, 'py> {
    pub(crate) fn new(
        py: Python<'py>,
        call: &'static str,
        given: Option<&'a Bound<'py, PyDict>>,
    ) -> Self {
        Keywords { py, call, given }
    }

    /// The keywords given, when each is one of `names` (space-separated); any other is a
    /// TypeError in Python's words for an unknown keyword argument.
    pub(crate) fn only(&self, names: &str) -> PyResult<Given<'py>> {
        let mut items = Vec::new();
        for (key, value) in self.given.into_iter().flat_map(|given| given.iter()) {
            let key = key.str()?.to_string();
            if !names.split_whitespace().any(|name| name == key) {
                return Err(PyTypeError::new_err(format!(
                    "{} got an unexpected keyword argument '{key}'",
                    self.call
                )));
            }
            items.push((key, value));
        }
        Ok(Given { py: self.py, items })
    }
}

/// The keywords a call was given, each one it takes: read by one converter per kind.
pub(crate) struct Given<'py> {
    py: Python<'py>,
    items: Vec<(String, Bound<'py, PyAny>)>,
}

impl<'py> Given<'py> {
    /// The value given for `key`, if any (None counts as given).
    fn value(&self, key: &str) -> Option<&Bound<'py, PyAny>> {
        self.items
            .iter()
            .find(|(given, _)| given == key)
            .map(|(_, value)| value)
    }

    /// The value given for `key`, None and absent alike read as not given.
    fn optional(&self, key: &str) -> Option<&Bound<'py, PyAny>> {
        self.value(key).filter(|value| !value.is_none())
    }

    /// `key`'s value, when given, extracted as pyo3 extracts a typed parameter (None is a
    /// TypeError unless `T` takes it), with the same note on its error.
    fn typed<T>(&self, key: &str) -> PyResult<Option<T>>
    where
        T: for<'x> FromPyObject<'x, 'py>,
        for<'x> <T as FromPyObject<'x, 'py>>::Error: Into<PyErr>,
    {
        let Some(value) = self.value(key) else {
            return Ok(None);
        };
        let extracted = value.extract::<T>().map_err(|err| {
            let err: PyErr = err.into();
            let note = format!("while processing '{key}'");
            let _ = err.value(self.py).call_method1("add_note", (note,));
            err
        })?;
        Ok(Some(extracted))
    }

    /// `Kind::Flag` (`bool`): True or False; off when not given.
    pub(crate) fn flag(&self, key: &str) -> PyResult<bool> {
        Ok(self.typed::<bool>(key)?.unwrap_or(false))
    }

    /// `Kind::Protocol`: "tcp" (when not given), "udp" or "tcp+udp", as core spells them.
    pub(crate) fn protocol(&self, key: &str) -> PyResult<pp::Protocol> {
        self.typed::<PyBackedStr>(key)?
            .map_or(Ok(pp::Protocol::default()), |text| {
                protocol_arg(self.py, &text)
            })
    }

    /// `Kind::Pid` (`Option<u32>`): an int, checked by core as a process id.
    pub(crate) fn pid(&self, key: &str) -> PyResult<Option<u32>> {
        self.optional(key)
            .map(|value| pid_value(self.py, value, key))
            .transpose()
    }

    /// `Kind::Seconds` (`Option<u64>`): an int, checked by core as a time to live.
    pub(crate) fn seconds(&self, key: &str) -> PyResult<Option<u64>> {
        self.optional(key)
            .map(|value| ttl_value(self.py, value, key))
            .transpose()
    }

    /// `Kind::Ports` (`Vec<u16>`): an iterable of int ports; none when not given.
    pub(crate) fn ports(&self, key: &str) -> PyResult<Vec<u16>> {
        self.optional(key)
            .map_or(Ok(Vec::new()), |value| port_list(self.py, value, key))
    }

    /// `Kind::Range` (`Option<(u16, u16)>`): a (start, end) pair of ports.
    pub(crate) fn range(&self, key: &str) -> PyResult<Option<(u16, u16)>> {
        range_arg(self.py, self.optional(key), key)
    }

    /// `Kind::Address` (`Option<IpAddr>`): an IP address as text or an `ipaddress` object.
    pub(crate) fn address(&self, key: &str) -> PyResult<Option<IpAddr>> {
        host_arg(self.py, self.optional(key))
    }
}
