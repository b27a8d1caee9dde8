//! Reading back what can be read from a damaged file, for `repair`: every line that parses
//! and applies is kept, in order; everything else is named in the report.

use super::{LineIn, PoolIn};
use crate::store::model::{DEFAULT_POOL, Data, Lease, Pool, check_lease};

/// What a damaged file still holds.
pub(crate) struct Salvaged {
    pub(crate) data: Data,
    /// What could not be kept, one sentence each.
    pub(crate) lost: Vec<String>,
}

/// Keeps every line of `bytes` that reads back: snapshot lines wherever they are, change
/// lines one value at a time (a release of a name that holds no lease is nothing lost; a
/// lease whose port another lease kept, or that does not pass the reader's checks, is lost).
/// A version-1 document that reads back is kept whole.
pub(crate) fn salvage(bytes: &[u8]) -> Salvaged {
    if let Ok(data) = crate::store::v1::parse_v1(std::path::Path::new(""), bytes) {
        return Salvaged {
            data,
            lost: Vec::new(),
        };
    }
    let mut kept = Salvaged {
        data: Data::empty(),
        lost: Vec::new(),
    };
    for (index, line) in bytes.split_inclusive(|b| *b == b'\n').enumerate() {
        let number = index + 1;
        if line.iter().all(u8::is_ascii_whitespace) || is_header(line) {
            continue;
        }
        let parsed = line
            .ends_with(b"\n")
            .then(|| serde_json::from_slice::<LineIn>(line).ok())
            .flatten();
        match parsed {
            Some(parsed) => kept.line(number, parsed),
            None => kept.unreadable(number, line),
        }
    }
    if kept.data.pool(DEFAULT_POOL).is_none() {
        kept.data.set_pool(Pool::default_pool());
    }
    kept
}

/// Whether every line of `bytes` after the first reads as a version-2 registry line: a file
/// whose header names a newer version but which holds nothing else is a version-2 file with
/// a damaged header, not a newer version's file.
pub(crate) fn only_version_2_lines(bytes: &[u8]) -> bool {
    bytes
        .split_inclusive(|b| *b == b'\n')
        .skip(1)
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .all(|line| line.ends_with(b"\n") && super::is_registry_line(line))
}

fn is_header(line: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Probe {
        version: u64,
    }
    serde_json::from_slice::<Probe>(line)
        .is_ok_and(|p| p.version <= crate::store::model::FORMAT_VERSION)
}

impl Salvaged {
    fn line(&mut self, number: usize, line: LineIn) {
        for name in line.del.unwrap_or_default() {
            self.data.remove(&name);
        }
        for lease in line
            .lease
            .into_iter()
            .chain(line.leases.unwrap_or_default())
        {
            self.lease(number, lease);
        }
        for pool in line.pool.into_iter().chain(line.pools.unwrap_or_default()) {
            self.pool(number, pool);
        }
        for (name, cursor) in line.cursors.unwrap_or_default() {
            if let Some(pool) = self.data.pool_mut(&name) {
                pool.cursor = if pool.contains(cursor) {
                    cursor
                } else {
                    pool.start
                };
            }
        }
    }

    fn lease(&mut self, number: usize, lease: Lease) {
        let why = match check_lease(&lease) {
            Err(why) => Some(why),
            Ok(()) => self.data.port_conflict(&lease).map(|(port, other)| {
                format!("port {port}/{} is held by {other:?}", lease.protocol)
            }),
        };
        if let Some(why) = why {
            self.lost.push(format!(
                "line {number}: lease {:?} (port {}): {why}",
                lease.name, lease.port
            ));
            return;
        }
        let name = lease.name.clone();
        let previous = self.data.remove(&name);
        if let Err(err) = self.data.insert(lease) {
            if let Some(previous) = previous {
                let _ = self.data.insert(previous);
            }
            self.lost
                .push(format!("line {number}: lease {name:?}: {}", err.message()));
        }
    }

    fn pool(&mut self, number: usize, pool: PoolIn) {
        match pool.into_pool() {
            Ok(pool) => self.data.set_pool(pool),
            Err(why) => self.lost.push(format!("line {number}: {why}")),
        }
    }

    /// A line that does not read back: named with the names it seems to hold.
    fn unreadable(&mut self, number: usize, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let names: Vec<&str> = text
            .split("\"name\":\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .filter(|name| !name.is_empty())
            .collect();
        let what = if names.is_empty() {
            "no name readable in it".to_owned()
        } else {
            format!("it named {}", names.join(", "))
        };
        self.lost.push(format!(
            "line {number}: unreadable ({} bytes; {what})",
            line.len()
        ));
    }
}
