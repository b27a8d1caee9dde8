//! Options objects: each declared once by [`options!`], which makes it a `#[napi(object)]`
//! (so `index.d.ts` declares it) and reads it from JavaScript strictly: a key the type does not
//! declare (`{ tll: 60 }`) is a `TypeError` naming the keys it takes, and a field of the wrong
//! type is a `TypeError` naming the field. The objects of the operations that take core's
//! lease options (`RegisterOptions`, `AllocateOptions`, `ScopeOptions`, `ListenOptions`) are
//! generated into options_gen.rs from core's `LeaseOptions` and tests/parity/options.tsv.

use napi::bindgen_prelude::{
    Array, FromNapiValue, Object, ToNapiValue, TypeName, Unknown, ValidateNapiValue, sys,
};
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
pub(crate) fn check_keys(obj: &Object, what: &str, fields: &[&str]) -> napi::Result<()> {
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
pub(crate) fn field<T: FromNapiValue>(
    obj: &Object,
    what: &str,
    field: &str,
) -> napi::Result<Option<T>> {
    let key = camel(field);
    obj.get::<Option<T>>(&key)
        .map(Option::flatten)
        .map_err(|e| napi::Error::new(e.status, format!("{what}.{key}: {}", e.reason)))
}

/// Declares options objects: each a `#[napi(object)]` (so `index.d.ts` declares it) read from
/// JavaScript by [`check_keys`] and [`field`]. Its users import `napi_derive::napi`; every other
/// name it uses is spelled out, so the generated options (options_gen.rs) use it too.
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

        impl ::napi::bindgen_prelude::FromNapiValue for $name {
            unsafe fn from_napi_value(
                env: ::napi::sys::napi_env,
                value: ::napi::sys::napi_value,
            ) -> ::napi::Result<Self> {
                use $crate::options::{check_keys, field};
                // SAFETY: napi-rs passes the live `env` and a value of this call.
                let obj = unsafe { ::napi::bindgen_prelude::Object::from_napi_value(env, value)? };
                check_keys(&obj, stringify!($name), &[$(stringify!($field)),*])?;
                Ok($name { $( $field: field(&obj, stringify!($name), stringify!($field))?, )* })
            }
        }

        impl ::napi::bindgen_prelude::ValidateNapiValue for $name {}
    )*};
}

pub(crate) use options;

options! {
    /// Options of `new Registry`.
    pub struct OpenOptions {
        /// Seconds (like `ttl`; decimals allowed) a change waits for another process's lock
        /// before failing with `PORTPOOL_BUSY`; 0: not at all. Default: `$PORTPOOL_LOCK_TIMEOUT`,
        /// else 10. An `…Async` call waits as long, without holding a thread meanwhile.
        pub lock_timeout: Option<f64>,
        /// Let calls change what another user made: `release`, `register`, `allocate` (of a
        /// name another user's lease holds), the handover calls and `setOwner` act on leases
        /// another user made, `setPool` changes pools another user created, and `reset`
        /// empties a registry where another user holds a live lease. `false` (the default):
        /// each of those is `PORTPOOL_CONFLICT` naming that user, unless the caller is root.
        pub force: Option<bool>,
        /// Read and write only this namespace's names (default: the default namespace), so
        /// two supervisors may both name a worker `'worker-1'`; ports stay unique across every
        /// namespace, and `list` lists this namespace only.
        pub namespace: Option<String>,
    }

    /// Options of `isFree`, or its protocol alone (`isFree(port, 'udp')`).
    pub struct IsFreeOptions {
        /// `'tcp'` (default), `'udp'`, or `'tcp+udp'`: one port number for both.
        #[napi(ts_type = "'tcp' | 'udp' | 'tcp+udp'")]
        pub protocol: Option<String>,
        /// Check this one address (e.g. `'127.0.0.1'`) instead of the IPv4 and IPv6
        /// wildcards: a port another process has bound on another address reads as free.
        pub host: Option<String>,
    }

    /// Options of `findFree`, or its protocol alone (`findFree('udp')`).
    pub struct FindFreeOptions {
        /// `'tcp'` (default), `'udp'`, or `'tcp+udp'`: one port number for both.
        #[napi(ts_type = "'tcp' | 'udp' | 'tcp+udp'")]
        pub protocol: Option<String>,
        /// Ports to try first, in order.
        pub ports: Option<Vec<f64>>,
        /// `[lo, hi]` (inclusive), tried in order after `ports`. Without one, the kernel
        /// picks.
        #[napi(ts_type = "[number, number]")]
        pub range: Option<PortRange>,
        /// Ports never returned.
        pub exclude: Option<Vec<f64>>,
        /// How many distinct ports to return (at least 1). Given, `findFree` returns an
        /// array; omitted, one number.
        pub count: Option<f64>,
        /// Probe this one address instead of the wildcards (see `IsFreeOptions.host`).
        pub host: Option<String>,
    }

    /// Options of `Registry.setPool`.
    pub struct PoolOptions {
        /// Whether `allocate` bind-probes candidate ports. A new pool probes unless told not to
        /// (off suits a range reserved for portpool); an existing pool keeps its setting.
        pub probe: Option<bool>,
    }

    /// Options of `Registry.beginHandover`, `commitHandover` and `abortHandover`, and of
    /// their ticket and batch forms.
    pub struct HandoverOptions {
        /// The next generation's process, which owns the lease once the handover is committed.
        pub pid: Option<f64>,
        /// The handover's ticket: `commitHandover` and `abortHandover` end that handover only
        /// (another, or one that has ended, is `PORTPOOL_CONFLICT`); `beginHandoverTicket`
        /// retries it. Omitted: whatever handover is under way.
        pub ticket: Option<f64>,
        /// `beginHandoverTicket` and `beginHandovers`: abort the handover under way and begin
        /// a new one, in one change.
        pub supersede: Option<bool>,
    }

    /// A handover that `commitHandovers` or `abortHandovers` ends.
    pub struct Ending {
        /// The lease's name (required).
        pub name: Option<String>,
        /// The handover's ticket; omitted: whatever handover is under way, unchecked.
        pub ticket: Option<f64>,
    }

    /// Options of `Registry.migrate`.
    pub struct MigrateOptions {
        /// Return the leases `migrate` would make, and write nothing.
        pub dry_run: Option<bool>,
    }
}

/// A range of ports as JavaScript writes it: `[lo, hi]`, an array of exactly two numbers
/// (anything else is a `TypeError`). Core checks the numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PortRange(pub f64, pub f64);

impl FromNapiValue for PortRange {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        let shape = || {
            napi::Error::new(
                Status::InvalidArg,
                "expected a range [lo, hi]: an array of two port numbers",
            )
        };
        // SAFETY: as above.
        let array = unsafe { Array::from_napi_value(env, value) }.map_err(|_| shape())?;
        if array.len() != 2 {
            return Err(shape());
        }
        let bound = |i: u32| -> napi::Result<f64> {
            array.get::<f64>(i).map_err(|_| shape())?.ok_or_else(shape)
        };
        Ok(PortRange(bound(0)?, bound(1)?))
    }
}

impl ToNapiValue for PortRange {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        // SAFETY: as above.
        unsafe { <(f64, f64)>::to_napi_value(env, (val.0, val.1)) }
    }
}

impl TypeName for PortRange {
    fn type_name() -> &'static str {
        "[number, number]"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ValidateNapiValue for PortRange {}

/// Preferred ports as JavaScript writes them: one number, or an array of numbers in order
/// of preference (anything else is a `TypeError`). Core checks the numbers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PortList(pub Vec<f64>);

impl FromNapiValue for PortList {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        let shape = || {
            napi::Error::new(
                Status::InvalidArg,
                "expected a port number or an array of port numbers",
            )
        };
        // SAFETY: as above.
        let unknown = unsafe { Unknown::from_napi_value(env, value)? };
        if unknown.get_type()? == ValueType::Number {
            // SAFETY: as above.
            return Ok(PortList(vec![unsafe { f64::from_napi_value(env, value)? }]));
        }
        // SAFETY: as above.
        unsafe { Vec::<f64>::from_napi_value(env, value) }
            .map(PortList)
            .map_err(|_| shape())
    }
}

impl ToNapiValue for PortList {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        // SAFETY: as above.
        unsafe { Vec::<f64>::to_napi_value(env, val.0) }
    }
}

impl TypeName for PortList {
    fn type_name() -> &'static str {
        "number | number[]"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ValidateNapiValue for PortList {
    unsafe fn validate(_: sys::napi_env, _: sys::napi_value) -> napi::Result<sys::napi_value> {
        // A number or an array: the conversion checks which, with a clearer message.
        Ok(std::ptr::null_mut())
    }
}

/// `isFree`'s and `findFree`'s last argument: the protocol alone (`'udp'`), or an options
/// object `T`, read as strictly as any (its errors name the field).
#[derive(Clone, Debug, Default)]
pub struct ProtocolOr<T> {
    /// The protocol given alone.
    pub protocol: Option<String>,
    /// The options object (default when the protocol was given alone).
    pub options: T,
}

impl<T: FromNapiValue + TypeName + Default> FromNapiValue for ProtocolOr<T> {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        // SAFETY: as above.
        let unknown = unsafe { Unknown::from_napi_value(env, value)? };
        if unknown.get_type()? == ValueType::String {
            // SAFETY: as above.
            let protocol = unsafe { String::from_napi_value(env, value)? };
            return Ok(ProtocolOr {
                protocol: Some(protocol),
                options: T::default(),
            });
        }
        if unknown.get_type()? != ValueType::Object {
            return Err(napi::Error::new(
                Status::InvalidArg,
                format!("expected 'tcp', 'udp' or {} {{ ... }}", T::type_name()),
            ));
        }
        // SAFETY: as above.
        let options = unsafe { T::from_napi_value(env, value)? };
        Ok(ProtocolOr {
            protocol: None,
            options,
        })
    }
}

impl<T: TypeName> TypeName for ProtocolOr<T> {
    fn type_name() -> &'static str {
        T::type_name()
    }
    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

impl<T: FromNapiValue + TypeName + Default> ValidateNapiValue for ProtocolOr<T> {
    unsafe fn validate(_: sys::napi_env, _: sys::napi_value) -> napi::Result<sys::napi_value> {
        // A string or an object: the conversion checks which, with a clearer message.
        Ok(std::ptr::null_mut())
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
