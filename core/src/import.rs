//! Import: leases brought in from a flat `{"name": port}` map or another portpool registry,
//! all or nothing.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::owner::{Standing, standing};
use crate::registry::{NewLease, Registry, live_holder, settle};
use crate::store::model::{Lease, Protocol};
use crate::validate::{check_name, port_from_i64, shown};

/// What [`Registry::import`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Leases made, one per entry of the file.
    pub imported: Vec<Lease>,
    /// Names already present with the same port, left as they were.
    pub skipped: Vec<String>,
}

impl Registry {
    /// Imports leases from `file`, in one write: either a flat `{"name": port, ...}` map
    /// (the format of hand-kept port maps such as a `port_allocation.json`), whose entries
    /// become fixed, permanent TCP leases, or another portpool registry file (to move a
    /// per-user registry's leases into the host registry), whose live leases are copied as
    /// they are. Names already present with the same port and protocol are skipped, and so
    /// are a registry file's stale leases.
    ///
    /// Any problem — not a regular file, invalid JSON, a key given twice, a bad name or port,
    /// one port given to two names, a port leased to another live name, a name holding
    /// another port — refuses the whole file with every problem listed, and writes nothing.
    /// Ports are not probed: importing the ports of running services is the point.
    pub fn import(&self, file: &Path) -> Result<ImportReport> {
        let bytes = read_import_file(file)?;
        let now = self.now();
        let entries: Vec<Lease> = import_entries(file, &bytes, now)?
            .into_iter()
            .map(|lease| Lease {
                namespace: self.namespace().map(str::to_owned),
                ..lease
            })
            .collect();
        self.store.update(|data| {
            let now = self.now();
            let mut report = ImportReport::default();
            let mut conflicts = Vec::new();
            for lease in &entries {
                settle(data, &lease.key(), now)?;
                if let Some(held) = data.lease(&lease.key()) {
                    if held.port == lease.port && held.protocol == lease.protocol {
                        report.skipped.push(lease.name.clone());
                    } else {
                        conflicts.push(format!(
                            "{} already holds port {}/{}",
                            shown(&lease.key()),
                            held.port,
                            held.protocol
                        ));
                    }
                    continue;
                }
                for port in lease.ports() {
                    if let Some(holder) = live_holder(data, port, lease.protocol, now, None)? {
                        conflicts.push(format!(
                            "port {port}/{} is leased to {}",
                            lease.protocol,
                            shown(&holder)
                        ));
                    }
                }
            }
            if !conflicts.is_empty() {
                return Err(Error::conflict(format!(
                    "{}: nothing imported: {}",
                    file.display(),
                    conflicts.join("; ")
                )));
            }
            for lease in entries {
                if report.skipped.contains(&lease.name) {
                    continue;
                }
                data.insert(lease.clone())?;
                report.imported.push(lease);
            }
            let changed = !report.imported.is_empty();
            Ok((report, changed))
        })
    }
}

/// The largest file `import` reads: a port map or registry many times any real one.
const MAX_IMPORT_BYTES: u64 = 64 << 20;

/// Reads an import file: a regular file of at most [`MAX_IMPORT_BYTES`]. A FIFO, device,
/// socket or directory is refused at once, never waited on.
fn read_import_file(file: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let io_err = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => {
            Error::not_found(format!("{}: no such file", file.display()))
        }
        _ => Error::from_io(file, "reading", e),
    };
    let handle = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(file)
        .map_err(io_err)?;
    let meta = handle.metadata().map_err(io_err)?;
    if !meta.is_file() {
        return Err(Error::invalid(format!(
            "{}: not a regular file; import reads a {{\"name\": port}} map or a portpool registry",
            file.display()
        )));
    }
    let mut bytes = Vec::new();
    handle
        .take(MAX_IMPORT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    if bytes.len() as u64 > MAX_IMPORT_BYTES {
        return Err(Error::invalid(format!(
            "{}: larger than {} MiB, not a port map",
            file.display(),
            MAX_IMPORT_BYTES >> 20
        )));
    }
    Ok(bytes)
}

/// Whether `bytes` hold a portpool registry rather than a flat port map: the first JSON value
/// is an object with a `"version"` and either registry sections or more values after it.
fn is_registry_file(bytes: &[u8]) -> bool {
    let mut values = serde_json::Deserializer::from_slice(bytes).into_iter::<serde_json::Value>();
    let Some(Ok(serde_json::Value::Object(first))) = values.next() else {
        return false;
    };
    first.contains_key("version")
        && (first.contains_key("leases") || first.contains_key("pools") || values.next().is_some())
}

/// The leases an import file asks for, checked: every problem listed, or the leases.
fn import_entries(file: &Path, bytes: &[u8], now: Duration) -> Result<Vec<Lease>> {
    if is_registry_file(bytes) {
        let data = crate::store::format::decode(file, bytes)?.into_data();
        return Ok(data
            .leases()
            .filter(|l| standing(l, now) == Standing::Held)
            .cloned()
            .collect());
    }
    let map = crate::store::model::entries_once(bytes).map_err(|e| {
        Error::invalid(format!(
            "{}: not a {{\"name\": port}} map: {e}",
            file.display()
        ))
    })?;
    let mut problems = Vec::new();
    let mut entries: Vec<Lease> = Vec::new();
    for (name, value) in map {
        let port = match &value {
            serde_json::Value::Number(n) => Some(n.as_i64().map_or_else(
                || {
                    Err(Error::invalid(format!(
                        "invalid port {n}: ports are 1-65535"
                    )))
                },
                port_from_i64,
            )),
            serde_json::Value::String(s) => Some(crate::validate::parse_port(s)),
            _ => None,
        };
        match (check_name(&name), port) {
            (Err(e), _) => problems.push(e.to_string()),
            (_, Some(Ok(port))) => {
                let new = NewLease::recorded(&name, Protocol::Tcp);
                entries.push(new.at(port, now));
            }
            (_, Some(Err(e))) => problems.push(format!("{}: {e}", shown(&name))),
            (_, None) => problems.push(format!("{}: {value} is not a port", shown(&name))),
        }
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let mut by_port: BTreeMap<u16, Vec<&str>> = BTreeMap::new();
    for lease in &entries {
        by_port.entry(lease.port).or_default().push(&lease.name);
    }
    for (port, names) in by_port.iter().filter(|(_, n)| n.len() > 1) {
        problems.push(format!("port {port} is given to {}", names.join(", ")));
    }
    if !problems.is_empty() {
        return Err(Error::invalid(format!(
            "{}: nothing imported: {}",
            file.display(),
            problems.join("; ")
        )));
    }
    Ok(entries)
}
