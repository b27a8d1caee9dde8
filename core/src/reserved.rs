//! Leases the kernel honours: keeping `net.ipv4.ip_local_reserved_ports` (the ports Linux never
//! hands to an outgoing connection or a port-0 bind, in this network namespace, IPv4 and IPv6
//! alike) holding every port leased in the registry, while ports reserved by anyone else stay.
//!
//! What portpool added is remembered in a root-owned file beside the registry,
//! `.<registry name>.reserved` (docs/registry-format.md): not in the registry itself, which
//! the members of the host registry's group may write, so that none of them can make root's
//! next sync remove a reservation an administrator made by hand.

use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::store::Store;
use crate::store::model::Data;
use crate::sys::{self, Access};

/// The kernel's list of reserved ports, per network namespace.
pub const RESERVED_PORTS: &str = "/proc/sys/net/ipv4/ip_local_reserved_ports";

/// What [`reserve`] did, or what [`reserve_check`] found a sync would do. Every list is sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Reservation {
    /// Every port leased in the registry: TCP and UDP, a handover's next port too.
    pub leased: Vec<u16>,
    /// The ports portpool keeps in the kernel's list (after the sync, or after the sync a
    /// check describes): the leased ones nobody else had reserved.
    pub reserved: Vec<u16>,
    /// Ports added to the kernel's list (by a check: leased but not reserved, the drift).
    pub added: Vec<u16>,
    /// Ports removed from it: portpool had added them and they are no longer leased.
    pub removed: Vec<u16>,
    /// Ports in the kernel's list that portpool did not add: left alone, always.
    pub by_hand: Vec<u16>,
    /// Whether this call wrote the kernel's list (never for a check, nor when nothing changed).
    pub written: bool,
}

impl Reservation {
    /// Whether the kernel's list and the registry disagree (before this call, for a sync).
    pub fn drift(&self) -> bool {
        !self.added.is_empty() || !self.removed.is_empty()
    }
}

/// `ports` (sorted) in the kernel's syntax: `9000-9199,9300`; empty for none.
pub fn port_list(ports: &[u16]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ports.len() {
        let start = ports[i];
        let mut end = start;
        while i + 1 < ports.len() && ports[i + 1] == end.wrapping_add(1) && end < u16::MAX {
            i += 1;
            end = ports[i];
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    out.join(",")
}

/// Reads a list in the kernel's syntax (`8080,9000-9010`; empty for none).
pub fn parse_port_list(text: &str) -> Result<BTreeSet<u16>> {
    let bad = || Error::invalid(format!("invalid port list {:?}", text.trim()));
    let mut ports = BTreeSet::new();
    for item in text.trim().split(',').filter(|s| !s.trim().is_empty()) {
        let (lo, hi) = item.split_once('-').unwrap_or((item, item));
        let lo: u16 = lo.trim().parse().map_err(|_| bad())?;
        let hi: u16 = hi.trim().parse().map_err(|_| bad())?;
        if lo > hi {
            return Err(bad());
        }
        ports.extend(lo..=hi);
    }
    Ok(ports)
}

/// The kernel's reserved ports in this network namespace.
pub fn kernel_reserved() -> Result<BTreeSet<u16>> {
    let text = std::fs::read_to_string(RESERVED_PORTS)
        .map_err(|e| Error::new(ErrorKind::Io, format!("cannot read {RESERVED_PORTS}: {e}")))?;
    parse_port_list(&text)
}

fn write_kernel(ports: &BTreeSet<u16>) -> Result<()> {
    let list: Vec<u16> = ports.iter().copied().collect();
    // One write(2) of the whole list: the kernel replaces its list with it.
    let text = format!("{}\n", port_list(&list));
    let mut file = OpenOptions::new()
        .write(true)
        .open(RESERVED_PORTS)
        .map_err(|e| Error::new(ErrorKind::Io, format!("cannot open {RESERVED_PORTS}: {e}")))?;
    match file.write(text.as_bytes()) {
        Ok(n) if n == text.len() => Ok(()),
        Ok(n) => Err(Error::new(
            ErrorKind::Io,
            format!("{RESERVED_PORTS} took {n} of {} bytes", text.len()),
        )),
        Err(e) => Err(Error::new(
            ErrorKind::Io,
            format!("cannot write {RESERVED_PORTS}: {e}"),
        )),
    }
}

/// Every port leased in `data`, both protocols, a handover's next port too.
pub(crate) fn leased_ports(data: &Data) -> BTreeSet<u16> {
    data.leases().flat_map(|l| l.ports()).collect()
}

/// The leased ports of `data` as a bitmap of the 65,536 ports: what a root change compares
/// before and after itself, in one pass over the leases and no allocation per port.
fn leased_bitmap(data: &Data) -> Vec<u64> {
    let mut bits = vec![0u64; 1024];
    for port in data.leases().flat_map(|l| l.ports()) {
        bits[usize::from(port) / 64] |= 1 << (port % 64);
    }
    bits
}

/// The record of what portpool added, beside the registry at `registry`.
pub fn record_path(registry: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(".");
    name.push(registry.file_name().unwrap_or_default());
    name.push(".reserved");
    registry.with_file_name(name)
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Record {
    version: u64,
    /// The network namespace (inode of /proc/self/ns/net) whose list `added` is about.
    netns: u64,
    /// The ports portpool added, in the kernel's syntax.
    added: String,
}

fn this_netns() -> u64 {
    std::fs::metadata("/proc/self/ns/net").map_or(0, |m| m.ino())
}

/// Why a record file must not be trusted, if it must not: only a root-owned regular file with
/// one link, which only root can write, says what portpool added.
fn untrusted(meta: &std::fs::Metadata) -> Option<String> {
    if meta.uid() != 0 {
        return Some(format!("it is owned by uid {}, not root", meta.uid()));
    }
    if meta.mode() & 0o022 != 0 {
        return Some(format!(
            "its mode {:04o} lets others than root write it",
            meta.mode() & 0o7777
        ));
    }
    (meta.nlink() != 1).then(|| format!("it has {} links", meta.nlink()))
}

/// The ports portpool added to this network namespace's list, as the record beside
/// `registry` says; none when there is no record, or it is about another namespace.
fn read_record(registry: &Path) -> Result<Option<BTreeSet<u16>>> {
    let path = record_path(registry);
    // A reader without the lock may meet a write in progress: it reads again.
    let mut attempts = 0;
    let record = loop {
        let Some(text) = record_text(&path)? else {
            return Ok(None);
        };
        if text.trim().is_empty() {
            // A record whose write a power loss cut off: what portpool added is unknown, so
            // every port in the kernel's list counts as reserved by hand.
            return Ok(Some(BTreeSet::new()));
        }
        match serde_json::from_str::<Record>(&text) {
            Ok(record) => break record,
            Err(_) if attempts < 3 => attempts += 1,
            Err(e) => {
                let why = format!("is not a reservation record: {e}");
                return Err(Error::registry(&path, why));
            }
        }
    };
    if record.netns != this_netns() {
        return Ok(Some(BTreeSet::new()));
    }
    parse_port_list(&record.added)
        .map(Some)
        .map_err(|e| Error::registry(&path, e.message()))
}

/// The record's text, when there is one that may be trusted.
fn record_text(path: &Path) -> Result<Option<String>> {
    let (file, meta) = match sys::open(path, Access::Read) {
        Ok(opened) => opened,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(record_error(path, e)),
    };
    if let Some(why) = untrusted(&meta) {
        return Err(untrusted_error(path, &why));
    }
    let mut text = String::new();
    file.take(1 << 20)
        .read_to_string(&mut text)
        .map_err(|e| record_error(path, e))?;
    Ok(Some(text))
}

fn record_error(path: &Path, e: std::io::Error) -> Error {
    Error::from_io(path, "reading", e)
}

/// Writes what portpool added into the record beside `registry`. An existing record (checked
/// again: root's alone) is overwritten in place, in one `pwrite` at offset 0, padded with
/// spaces to its old length: a few microseconds, where replacing the file costs the file
/// system's flush-on-rename. A first record is created whole under a temporary name
/// (`O_EXCL`, never following a link) and renamed into place. Nothing is flushed: the kernel's
/// list does not survive a reboot either, and a record that lost its last write only makes
/// portpool take some of its own ports for reserved by hand, never the reverse
/// (docs/registry-format.md).
fn write_record(registry: &Path, added: &BTreeSet<u16>) -> Result<()> {
    let path = record_path(registry);
    let list: Vec<u16> = added.iter().copied().collect();
    let record = Record {
        version: 1,
        netns: this_netns(),
        added: port_list(&list),
    };
    let mut text = serde_json::to_string(&record).expect("a record serializes");
    text.push('\n');
    match sys::open(&path, Access::Write) {
        Ok((file, meta)) => {
            if let Some(why) = untrusted(&meta) {
                return Err(untrusted_error(&path, &why));
            }
            let old = usize::try_from(meta.len()).unwrap_or(usize::MAX);
            if text.len() < old {
                text.insert_str(text.len() - 1, &" ".repeat(old - text.len()));
            }
            std::os::unix::fs::FileExt::write_all_at(&file, text.as_bytes(), 0)
                .map_err(|e| Error::from_io(&path, "writing", e))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_record(&path, &text),
        Err(e) => Err(Error::from_io(&path, "writing", e)),
    }
}

fn create_record(path: &Path, text: &str) -> Result<()> {
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(".{}.tmp", sys::random_hex()));
    let tmp = path.with_file_name(tmp_name);
    let write = || -> std::io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(sys::OPEN_FLAGS)
            .open(&tmp)?;
        sys::fchmod(&file, 0o644)?;
        file.write_all(text.as_bytes())?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::from_io(path, "writing", e)
    })
}

fn untrusted_error(path: &Path, why: &str) -> Error {
    Error::registry(
        path,
        format!("is not trusted: {why}; remove it and run portpool reserve as root"),
    )
}

/// What a sync from `kernel` with `recorded` (what portpool added) for `leased` makes of the
/// kernel's list, and of the record.
fn plan(
    kernel: &BTreeSet<u16>,
    recorded: &BTreeSet<u16>,
    leased: &BTreeSet<u16>,
) -> (BTreeSet<u16>, BTreeSet<u16>, Reservation) {
    let by_hand: BTreeSet<u16> = kernel.difference(recorded).copied().collect();
    let reserved: BTreeSet<u16> = leased.difference(&by_hand).copied().collect();
    let wanted: BTreeSet<u16> = by_hand.union(leased).copied().collect();
    let v = |s: &BTreeSet<u16>| s.iter().copied().collect::<Vec<u16>>();
    let report = Reservation {
        leased: v(leased),
        reserved: v(&reserved),
        added: wanted.difference(kernel).copied().collect(),
        removed: kernel.difference(&wanted).copied().collect(),
        by_hand: v(&by_hand),
        written: false,
    };
    (wanted, reserved, report)
}

/// Brings the kernel's list in line with `data`, the registry at `registry` as it stands
/// under its lock: at most one write of the kernel's list, and of the record only when what
/// portpool added changes. Ports added go into the record before they go into the kernel's
/// list, so that a crash in between never makes portpool's own port look reserved by hand.
pub(crate) fn sync(registry: &Path, data: &Data) -> Result<Reservation> {
    let kernel = kernel_reserved()?;
    let recorded = read_record(registry)?;
    let known = recorded.clone().unwrap_or_default();
    let (wanted, reserved, mut report) = plan(&kernel, &known, &leased_ports(data));
    let union: BTreeSet<u16> = known.union(&reserved).copied().collect();
    if union != known {
        write_record(registry, &union)?;
    }
    if wanted != kernel {
        write_kernel(&wanted)?;
        report.written = true;
    }
    if reserved != union || recorded.is_none() {
        write_record(registry, &reserved)?;
    }
    Ok(report)
}

/// [`crate::reserve`] on `store`: under its lock, the kernel's list made to hold every port it
/// leases (see there). As root only.
pub(crate) fn reserve_in(store: &Store) -> Result<Reservation> {
    if sys::geteuid() != 0 {
        return Err(Error::new(
            ErrorKind::Registry,
            format!(
                "reserve writes the kernel's {RESERVED_PORTS} and must run as root (sudo portpool reserve); portpool reserve --check works for anyone"
            ),
        ));
    }
    let path = store.path().to_owned();
    store.update(|data| sync(&path, data).map(|report| (report, false)))
}

/// [`crate::reserve_check`] on `store`: what a sync would do now, read only.
pub(crate) fn check_in(store: &Store) -> Result<Reservation> {
    let kernel = kernel_reserved()?;
    let known = read_record(store.path())?.unwrap_or_default();
    let leased = store.read(leased_ports)?;
    Ok(plan(&kernel, &known, &leased).2)
}

/// The hook every root handle runs inside each change (see `Store::set_hook`): once a record
/// exists beside the registry, a change to the set of leased ports syncs the kernel's list.
pub(crate) fn hook() -> crate::store::Hook {
    crate::store::Hook {
        enabled: |path| std::fs::symlink_metadata(record_path(path)).is_ok(),
        digest: leased_bitmap,
        // The change itself stands whatever happens here: a failed sync leaves drift that
        // `reserve --check`, `doctor` and the next sync see.
        after: |path, data| {
            let _ = sync(path, data);
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ports: &[u16]) -> BTreeSet<u16> {
        ports.iter().copied().collect()
    }

    #[test]
    fn port_lists_read_and_write_the_kernels_ranges() {
        assert_eq!(port_list(&[1, 2, 3, 5, 65534, 65535]), "1-3,5,65534-65535");
        assert_eq!(port_list(&[]), "");
        assert_eq!(parse_port_list("1-3,5\n").unwrap(), set(&[1, 2, 3, 5]));
        assert_eq!(parse_port_list("\n").unwrap(), set(&[]));
        for bad in ["x", "5-1", "1-", "70000"] {
            assert!(parse_port_list(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sync_keeps_ports_reserved_by_hand_and_removes_only_its_own() {
        // Kernel: 80 by hand, 9000 and 9001 portpool's; 9001 released, 9002 leased, 80 leased.
        let (wanted, reserved, report) = plan(
            &set(&[80, 9000, 9001]),
            &set(&[9000, 9001]),
            &set(&[80, 9000, 9002]),
        );
        assert_eq!(wanted, set(&[80, 9000, 9002]));
        assert_eq!(reserved, set(&[9000, 9002]));
        assert_eq!(report.added, vec![9002]);
        assert_eq!(report.removed, vec![9001]);
        assert_eq!(report.by_hand, vec![80]);
        assert!(report.drift());
    }
}
