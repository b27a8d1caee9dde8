//! The version-1 reader: a registry file of one JSON object (`{"version": 1, "pools": ...,
//! "leases": [...]}`), as portpool wrote before the journal. Read, never written: the next
//! change upgrades such a file to the current format.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::store::model::{
    DEFAULT_POOL, Data, FORMAT_VERSION_1, Lease, Pool, PoolRepr, check_lease, diagnose,
    pool_problem, unique_map,
};

/// A version-1 file as it reads.
#[derive(Deserialize)]
struct FileIn {
    version: u64,
    #[serde(default, deserialize_with = "unique_map")]
    pools: BTreeMap<String, PoolRepr>,
    #[serde(default)]
    leases: Vec<Lease>,
}

/// Reads the bytes of a version-1 registry file. Every way the bytes can be wrong gives a
/// `Registry` error naming `path`; the caller never writes over such a file.
pub(crate) fn parse_v1(path: &Path, bytes: &[u8]) -> Result<Data> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::registry(
            path,
            "is empty, not a portpool registry; it was left untouched",
        ));
    }
    let file: FileIn = match serde_json::from_slice(bytes) {
        Ok(file) => file,
        Err(err) => return Err(diagnose(path, bytes, err)),
    };
    if file.version != FORMAT_VERSION_1 {
        return Err(diagnose(path, bytes, serde::de::Error::custom("")));
    }
    let mut data = Data::empty();
    for (name, repr) in file.pools {
        let bad = |why: String| Error::registry(path, format!("pool {name:?}: {why}"));
        if let Some(why) = pool_problem(&name, repr.start, repr.end) {
            return Err(bad(why));
        }
        data.set_pool(Pool::with_cursor(
            name,
            repr.start,
            repr.end,
            repr.cursor,
            repr.probe,
        ));
    }
    if data.pool(DEFAULT_POOL).is_none() {
        data.set_pool(Pool::default_pool());
    }
    for lease in file.leases {
        let bad = |why: String| {
            Error::registry(
                path,
                format!("lease {}: {why}", crate::validate::shown(&lease.name)),
            )
        };
        check_lease(&lease).map_err(bad)?;
        if data.lease(&lease.key()).is_some() {
            return Err(bad("appears twice".into()));
        }
        for port in lease.ports() {
            if let Some(other) = data.holder(port, lease.protocol) {
                return Err(bad(format!(
                    "port {}/{} is also leased to {:?}",
                    port, lease.protocol, other.name
                )));
            }
        }
        data.insert(lease)?;
    }
    Ok(data)
}
