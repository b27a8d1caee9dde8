//! Leases as Python values on the hot path (`list()`: thousands at once). Each
//! `portpool.Lease` is made here, without the serde form, `from_core` and the dataclass's
//! frozen `__init__` in between: the object is allocated and each of its slots stored as
//! `object.__setattr__` stores it (the dataclass is frozen: its own `__setattr__` refuses).
//! The fields come from the dataclass itself, in its order; which core value fills each one is
//! [`LeaseField::value`], and a field it does not know is an error when the module first
//! builds a lease, so the class and this table cannot drift apart unnoticed.

use portpool_core as pp;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyList, PyString, PyTuple, PyType};
use pyo3::{IntoPyObjectExt, ffi};

use crate::values::ToPython;

/// Leases, shown as `list[Lease]`.
pub(crate) struct Leases(pub(crate) Vec<pp::Lease>);

impl ToPython for Leases {
    fn to_python(self: Box<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let classes = Classes::get(py)?;
        let items = self
            .0
            .iter()
            .map(|lease| classes.lease.build(py, classes, lease))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(PyList::new(py, items)?.into_any().unbind())
    }
}

/// The same leases as plain tuples of the same values, in the same order: the floor any
/// conversion of leases stands on (bench/front.py measures `list()` against it).
pub(crate) fn lease_tuples(py: Python<'_>, leases: &[pp::Lease]) -> PyResult<Py<PyAny>> {
    let classes = Classes::get(py)?;
    let items = leases
        .iter()
        .map(|lease| {
            let values = classes
                .lease
                .fields
                .iter()
                .map(|(_, field)| field.value(py, classes, lease, true))
                .collect::<PyResult<Vec<_>>>()?;
            PyTuple::new(py, values)
        })
        .collect::<PyResult<Vec<_>>>()?;
    Ok(PyList::new(py, items)?.into_any().unbind())
}

/// A dataclass of `portpool._values`, and its fields in order with what fills each.
struct Class<F> {
    ty: Py<PyType>,
    fields: Vec<(Py<PyString>, F)>,
}

struct Classes {
    lease: Class<LeaseField>,
    next: Class<NextField>,
}

impl Classes {
    fn get(py: Python<'_>) -> PyResult<&Classes> {
        static CLASSES: PyOnceLock<Classes> = PyOnceLock::new();
        CLASSES.get_or_try_init(py, || {
            Ok(Classes {
                lease: Class::load(py, "Lease", LeaseField::named)?,
                next: Class::load(py, "Next", NextField::named)?,
            })
        })
    }
}

impl<F> Class<F> {
    fn load(py: Python<'_>, name: &str, named: fn(&str) -> Option<F>) -> PyResult<Class<F>> {
        let ty = py
            .import("portpool._values")?
            .getattr(name)?
            .cast_into::<PyType>()?;
        let mut fields = Vec::new();
        for field in py
            .import("dataclasses")?
            .getattr("fields")?
            .call1((&ty,))?
            .try_iter()?
        {
            let field_name = field?.getattr("name")?.cast_into::<PyString>()?;
            let which = named(field_name.to_str()?).ok_or_else(|| {
                PyRuntimeError::new_err(format!(
                    "portpool bug: portpool.{name} has a field {field_name} that the native \
                     module does not fill (add it to bindings/python/src/leases.rs)"
                ))
            })?;
            fields.push((PyString::intern(py, field_name.to_str()?).unbind(), which));
        }
        Ok(Class {
            ty: ty.unbind(),
            fields,
        })
    }

    /// An instance with each field set to `value(field)`, past the frozen `__setattr__`.
    fn instance(
        &self,
        py: Python<'_>,
        value: impl Fn(&F) -> PyResult<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        // SAFETY: the type is a heap type whose instances PyType_GenericAlloc makes (a
        // dataclass with slots); the new reference is owned by the Bound.
        let obj = unsafe {
            Bound::from_owned_ptr_or_err(py, ffi::PyType_GenericAlloc(self.ty.as_ptr().cast(), 0))?
        };
        for (name, field) in &self.fields {
            let value = value(field)?;
            // SAFETY: three valid objects; object.__setattr__ is this call, and a slot's
            // descriptor takes its own reference to the value.
            let status = unsafe {
                ffi::PyObject_GenericSetAttr(obj.as_ptr(), name.as_ptr(), value.as_ptr())
            };
            if status != 0 {
                return Err(PyErr::fetch(py));
            }
        }
        Ok(obj.unbind())
    }
}

impl Class<LeaseField> {
    fn build(&self, py: Python<'_>, classes: &Classes, lease: &pp::Lease) -> PyResult<Py<PyAny>> {
        self.instance(py, |field| field.value(py, classes, lease, false))
    }
}

/// What fills each field of `portpool.Lease`: core's field of the same name, but for `pid`
/// (core's `owner.pid`).
enum LeaseField {
    Name,
    Port,
    Protocol,
    Mode,
    Pool,
    Pid,
    Created,
    Ttl,
    Expires,
    Next,
    Stale,
    Uid,
    Namespace,
    Generation,
}

impl LeaseField {
    fn named(name: &str) -> Option<LeaseField> {
        use LeaseField::*;
        Some(match name {
            "name" => Name,
            "port" => Port,
            "protocol" => Protocol,
            "mode" => Mode,
            "pool" => Pool,
            "pid" => Pid,
            "created" => Created,
            "ttl" => Ttl,
            "expires" => Expires,
            "next" => Next,
            "stale" => Stale,
            "uid" => Uid,
            "namespace" => Namespace,
            "generation" => Generation,
            _ => return None,
        })
    }

    /// The field's value; `plain`: the next generation as a tuple, not a `Next`.
    fn value(
        &self,
        py: Python<'_>,
        classes: &Classes,
        l: &pp::Lease,
        plain: bool,
    ) -> PyResult<Py<PyAny>> {
        match self {
            LeaseField::Name => l.name.as_str().into_py_any(py),
            LeaseField::Port => l.port.into_py_any(py),
            LeaseField::Protocol => PyString::intern(py, l.protocol.as_str()).into_py_any(py),
            LeaseField::Mode => PyString::intern(py, l.mode.as_str()).into_py_any(py),
            LeaseField::Pool => l.pool.as_deref().into_py_any(py),
            LeaseField::Pid => l.owner.map(|o| o.pid).into_py_any(py),
            LeaseField::Created => l.created.into_py_any(py),
            LeaseField::Ttl => l.ttl.into_py_any(py),
            LeaseField::Expires => l.expires.into_py_any(py),
            LeaseField::Next => match &l.next {
                None => Ok(py.None()),
                Some(next) if plain => {
                    let values = classes.next.fields.iter().map(|(_, f)| f.value(py, next));
                    PyTuple::new(py, values.collect::<PyResult<Vec<_>>>()?)?.into_py_any(py)
                }
                Some(next) => classes.next.instance(py, |f| f.value(py, next)),
            },
            LeaseField::Stale => l.stale.as_deref().into_py_any(py),
            LeaseField::Uid => l.uid.into_py_any(py),
            LeaseField::Namespace => l.namespace.as_deref().into_py_any(py),
            LeaseField::Generation => l.generation.into_py_any(py),
        }
    }
}

/// What fills each field of `portpool.Next`.
enum NextField {
    Port,
    Created,
    Pid,
    Ticket,
}

impl NextField {
    fn named(name: &str) -> Option<NextField> {
        Some(match name {
            "port" => NextField::Port,
            "created" => NextField::Created,
            "pid" => NextField::Pid,
            "ticket" => NextField::Ticket,
            _ => return None,
        })
    }

    fn value(&self, py: Python<'_>, next: &pp::Next) -> PyResult<Py<PyAny>> {
        match self {
            NextField::Port => next.port.into_py_any(py),
            NextField::Created => next.created.into_py_any(py),
            NextField::Pid => next.owner.map(|o| o.pid).into_py_any(py),
            NextField::Ticket => next.ticket.into_py_any(py),
        }
    }
}
