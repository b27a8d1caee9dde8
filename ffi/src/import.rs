//! Import: reading another tool's flat `{"name": port}` file into leases.

use std::ffi::c_char;

use portpool_core::{Error, ErrorKind};

use crate::args;
use crate::args::{optional_out, optional_path, registry, set_json};
use crate::status::{guard, portpool_error, portpool_status};
use crate::types::portpool_registry;

/// Reads a flat `{"name": port, ...}` file into fixed, permanent TCP leases, in one write.
/// Names already present with the same port are skipped; any problem refuses the whole file,
/// listing every problem, and writes nothing. `*out_json`, when not NULL, is
/// `{"imported": [lease objects], "skipped": [names]}`. The path is taken as bytes.
///
/// - **Ownership:** `file` is only read during the call; a string in `*out_json` is owned by
///   the caller: free it with `portpool_string_free`.
/// - **Threads:** safe to call concurrently on one handle.
/// - **Errors:** `PORTPOOL_NOT_FOUND` (no such file), `PORTPOOL_INVALID_ARGUMENT` (NULL `reg`
///   or `file`; not a `{"name": port}` map; bad names or ports), `PORTPOOL_CONFLICT` (a port
///   leased to another name, a name holding another port), `PORTPOOL_REGISTRY_ERROR`,
///   `PORTPOOL_IO_ERROR`.
///
/// ```c
/// if (portpool_import(reg, "/etc/myapp/port_allocation.json", NULL, NULL) != PORTPOOL_OK)
///     fprintf(stderr, "%s\n", portpool_last_error_message());
/// ```
///
/// # Safety
/// `reg` is NULL or a live handle; `file` is NULL or a NUL-terminated string; `out_json` is
/// NULL or writable.
/// `out_error` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn portpool_import(
    reg: *mut portpool_registry,
    file: *const c_char,
    out_json: *mut *mut c_char,
    out_error: *mut *mut portpool_error,
) -> portpool_status {
    // SAFETY: `out_error` is NULL or writable, as this function's contract says.
    let out_error = unsafe { args::optional_out(out_error) };
    guard(out_error, || {
        // SAFETY: forwarded from this function's contract.
        let (reg, file, out_json) =
            unsafe { (registry(reg)?, optional_path(file), optional_out(out_json)) };
        let file = file
            .ok_or_else(|| Error::new(ErrorKind::InvalidArgument, "invalid file: NULL pointer"))?;
        let report = reg.inner.import(file)?;
        set_json(out_json, &report);
        Ok(())
    })
}
