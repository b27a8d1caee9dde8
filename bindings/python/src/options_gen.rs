// Code generated from core's LeaseOptions and tests/parity/options.tsv by
// cli/tests/parity/gen_python.rs; DO NOT EDIT.
// PORTPOOL_BLESS=1 cargo test -p portpool-cli --test parity regenerates it.

//! Each call's lease options, read from its `**options` keywords: exactly the options
//! tests/parity/options.tsv gives Python for its operation, each converted by the
//! converter of its kind (keywords.rs) into core's `LeaseOptions`.

use portpool_core as pp;
use pyo3::PyResult;

use crate::keywords::Keywords;

/// `register()` and `register_async()`: the keys of `portpool.RegisterOptions`.
pub(crate) fn register(keywords: &Keywords<'_, '_>) -> PyResult<pp::LeaseOptions> {
    let given = keywords.only("protocol force pid ttl exclude range host bindable")?;
    Ok(pp::LeaseOptions {
        protocol: given.protocol("protocol")?,
        force: given.flag("force")?,
        pid: given.pid("pid")?,
        ttl: given.seconds("ttl")?,
        exclude: given.ports("exclude")?,
        range: given.range("range")?,
        host: given.address("host")?,
        bindable: given.flag("bindable")?,
    })
}

/// `allocate()` and `allocate_async()`: the keys of `portpool.AllocateOptions`.
pub(crate) fn allocate(keywords: &Keywords<'_, '_>) -> PyResult<pp::LeaseOptions> {
    let given = keywords.only("protocol force pid ttl exclude host bindable")?;
    Ok(pp::LeaseOptions {
        protocol: given.protocol("protocol")?,
        force: given.flag("force")?,
        pid: given.pid("pid")?,
        ttl: given.seconds("ttl")?,
        exclude: given.ports("exclude")?,
        host: given.address("host")?,
        bindable: given.flag("bindable")?,
        ..pp::LeaseOptions::default()
    })
}

/// `allocate_many()` and `allocate_many_async()`: the keys of `portpool.AllocateManyOptions`.
pub(crate) fn allocate_many(keywords: &Keywords<'_, '_>) -> PyResult<pp::LeaseOptions> {
    let given = keywords.only("protocol force pid ttl exclude host bindable")?;
    Ok(pp::LeaseOptions {
        protocol: given.protocol("protocol")?,
        force: given.flag("force")?,
        pid: given.pid("pid")?,
        ttl: given.seconds("ttl")?,
        exclude: given.ports("exclude")?,
        host: given.address("host")?,
        bindable: given.flag("bindable")?,
        ..pp::LeaseOptions::default()
    })
}

/// `lease()` and `lease_async()`: the keys of `portpool.LeaseOptions`.
pub(crate) fn lease(keywords: &Keywords<'_, '_>) -> PyResult<pp::LeaseOptions> {
    let given = keywords.only("protocol force pid ttl exclude range host bindable")?;
    Ok(pp::LeaseOptions {
        protocol: given.protocol("protocol")?,
        force: given.flag("force")?,
        pid: given.pid("pid")?,
        ttl: given.seconds("ttl")?,
        exclude: given.ports("exclude")?,
        range: given.range("range")?,
        host: given.address("host")?,
        bindable: given.flag("bindable")?,
    })
}

/// `listen()` and `listen_async()`: the keys of `portpool.ListenOptions`.
pub(crate) fn listen(keywords: &Keywords<'_, '_>) -> PyResult<pp::LeaseOptions> {
    let given = keywords.only("protocol pid ttl exclude range host")?;
    Ok(pp::LeaseOptions {
        protocol: given.protocol("protocol")?,
        pid: given.pid("pid")?,
        ttl: given.seconds("ttl")?,
        exclude: given.ports("exclude")?,
        range: given.range("range")?,
        host: given.address("host")?,
        ..pp::LeaseOptions::default()
    })
}
