//! Options objects: each declared once by [`options!`], which makes it a `#[napi(object)]`
//! (so `index.d.ts` declares it) and reads it from JavaScript strictly: a key the type does not
//! declare (`{ tll: 60 }`) is a `TypeError` naming the keys it takes, and a field of the wrong
//! type is a `TypeError` naming the field.

use napi::bindgen_prelude::{FromNapiValue, Object, TypeName, ValidateNapiValue, sys};
use napi::{Status, ValueType};
use napi_derive::napi;

/// `lock_timeout` as JavaScript spells it: `lockTimeout` (napi-rs's rule for field names).
pub fn camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Refuses a key of `obj` that is not one of `fields` (Rust spelling).
fn check_keys(obj: &Object, what: &str, fields: &[&str]) -> napi::Result<()> {
    let known: Vec<String> = fields.iter().map(|f| camel(f)).collect();
    for key in Object::keys(obj)? {
        if !known.contains(&key) {
            let takes = if known.is_empty() {
                "takes no options".to_owned()
            } else {
                format!("takes: {}", known.join(", "))
            };
            return Err(napi::Error::new(
                Status::InvalidArg,
                format!("unknown option {key:?} ({what} {takes})"),
            ));
        }
    }
    Ok(())
}

/// Field `field` of `obj`: absent, `undefined` and `null` are `None`.
fn field<T: FromNapiValue>(obj: &Object, what: &str, field: &str) -> napi::Result<Option<T>> {
    let key = camel(field);
    obj.get::<Option<T>>(&key)
        .map(Option::flatten)
        .map_err(|e| napi::Error::new(e.status, format!("{what}.{key}: {}", e.reason)))
}

macro_rules! options {
    ($(
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : Option<$fty:ty>, )*
        }
    )*) => {$(
        $(#[$meta])*
        #[napi(object, object_from_js = false)]
        #[derive(Clone, Debug, Default)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: Option<$fty>, )*
        }

        impl FromNapiValue for $name {
            unsafe fn from_napi_value(
                env: sys::napi_env,
                value: sys::napi_value,
            ) -> napi::Result<Self> {
                // SAFETY: napi-rs passes the live `env` and a value of this call.
                let obj = unsafe { Object::from_napi_value(env, value)? };
                check_keys(&obj, stringify!($name), &[$(stringify!($field)),*])?;
                Ok($name { $( $field: field(&obj, stringify!($name), stringify!($field))?, )* })
            }
        }

        impl ValidateNapiValue for $name {}
    )*};
}

options! {
    /// Options of `new Registry`.
    pub struct OpenOptions {
        /// Seconds (like `ttl`; decimals allowed) a change waits for another process's lock
        /// before failing with `PORTPOOL_BUSY`; 0: not at all. Default: `$PORTPOOL_LOCK_TIMEOUT`,
        /// else 10. An `…Async` call waits as long, without holding a thread meanwhile.
        pub lock_timeout: Option<f64>,
    }

    /// Options of `Registry.register`.
    pub struct RegisterOptions {
        /// `'flexible'` (default): the port, or the next free one above it. `'fixed'`: exactly
        /// the port, or a `PORTPOOL_CONFLICT` error.
        #[napi(ts_type = "'flexible' | 'fixed'")]
        pub mode: Option<String>,
        /// `'tcp'` (default) or `'udp'`. A lease is per (port, protocol).
        #[napi(ts_type = "'tcp' | 'udp'")]
        pub protocol: Option<String>,
        /// Fixed mode only: take the port even when a process outside the registry has it
        /// bound. A port leased to another name is never taken.
        pub force: Option<bool>,
        /// The process that owns the lease; once it exits, the lease is stale and is reclaimed.
        pub pid: Option<f64>,
        /// Seconds the lease lives unless renewed.
        pub ttl: Option<f64>,
    }

    /// Options of `Registry.allocate` and `Registry.allocateMany`.
    pub struct AllocateOptions {
        /// The pool to take a port from; `'default'` (9000–9999 unless changed) when omitted.
        pub pool: Option<String>,
        /// `'tcp'` (default) or `'udp'`.
        #[napi(ts_type = "'tcp' | 'udp'")]
        pub protocol: Option<String>,
        /// The process that owns the lease; once it exits, the lease is stale and is reclaimed.
        pub pid: Option<f64>,
        /// Seconds the lease lives unless renewed.
        pub ttl: Option<f64>,
    }

    /// Options of `Registry.lease` and `Registry.leaseSync`: a port from a pool (the default)
    /// or, with `port`, as `register` chooses it.
    pub struct ScopeOptions {
        /// The pool to take a port from; `'default'` when neither `pool` nor `port` is given.
        pub pool: Option<String>,
        /// The port to lease, as `register` takes it (with `mode`), instead of a pool's.
        pub port: Option<f64>,
        /// With `port`: `'flexible'` (default) or `'fixed'`.
        #[napi(ts_type = "'flexible' | 'fixed'")]
        pub mode: Option<String>,
        /// `'tcp'` (default) or `'udp'`.
        #[napi(ts_type = "'tcp' | 'udp'")]
        pub protocol: Option<String>,
        /// With `port` in fixed mode: take the port even when a process outside the registry
        /// has it bound.
        pub force: Option<bool>,
        /// The process that owns the lease; default: this process (`process.pid`, which in a
        /// worker thread is the whole process: the lease outlives the worker).
        pub pid: Option<f64>,
        /// Seconds the lease lives unless renewed.
        pub ttl: Option<f64>,
    }

    /// Options of `Registry.setPool`.
    pub struct PoolOptions {
        /// Whether `allocate` bind-probes candidate ports. A new pool probes unless told not to
        /// (off suits a range reserved for portpool); an existing pool keeps its setting.
        pub probe: Option<bool>,
    }

    /// Options of `Registry.beginHandover`, `commitHandover` and `abortHandover`.
    pub struct HandoverOptions {
        /// The next generation's process, which owns the lease once the handover is committed.
        pub pid: Option<f64>,
    }

    /// Options of `Registry.migrate`.
    pub struct MigrateOptions {
        /// Return the leases `migrate` would make, and write nothing.
        pub dry_run: Option<bool>,
    }
}

/// The options of an `…Async` call that has no options of its own: `{ signal }` only,
/// which `index.js` takes out before the call reaches the addon (declared in
/// `types-header.d.ts`).
#[derive(Clone, Copy, Debug, Default)]
pub struct AsyncOptions;

impl FromNapiValue for AsyncOptions {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        // SAFETY: as above.
        let obj = unsafe { Object::from_napi_value(env, value)? };
        check_keys(&obj, "AsyncOptions", &["signal"])?;
        Ok(AsyncOptions)
    }
}

impl TypeName for AsyncOptions {
    fn type_name() -> &'static str {
        "AsyncOptions"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ValidateNapiValue for AsyncOptions {}

/// The options `T` of an `…Async` call, plus `signal` (which `index.js` takes out before the
/// call reaches the addon). `index.d.ts` spells it `WithSignal<T>` (see types-header.d.ts).
#[derive(Clone, Debug, Default)]
pub struct WithSignal<T>(pub T);

impl<T: FromNapiValue> FromNapiValue for WithSignal<T> {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        // SAFETY: as above.
        unsafe { T::from_napi_value(env, value) }.map(WithSignal)
    }
}

impl<T: TypeName> TypeName for WithSignal<T> {
    fn type_name() -> &'static str {
        T::type_name()
    }
    fn value_type() -> ValueType {
        T::value_type()
    }
}

impl<T: ValidateNapiValue> ValidateNapiValue for WithSignal<T> {
    unsafe fn validate(
        env: sys::napi_env,
        value: sys::napi_value,
    ) -> napi::Result<sys::napi_value> {
        // SAFETY: as above.
        unsafe { T::validate(env, value) }
    }
}
