//! The registry's contents and the log of what one update changed: the values the format
//! (`store/format/`, and `store/v1.rs` for version-1 files) encodes, below it and unaware of it.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::spelled::spelled;
use crate::validate::check_name;
pub(crate) use crate::validate::{lease_key, split_key};

/// The newest registry format version this build reads and writes: version 2 with leases
/// for TCP and UDP at once (`"tcp+udp"`). A file holding no such lease is written as
/// [`FORMAT_VERSION_2`], so that every portpool that reads version 2 reads it; one holding such
/// a lease says version 3, so that a portpool predating it refuses the file as newer (with
/// "upgrade portpool") instead of taking the unknown protocol for damage. This build also
/// reads version 1, and upgrades such a file on its first write.
pub const FORMAT_VERSION: u64 = 3;

/// The journal format of files that hold no `"tcp+udp"` lease.
pub(crate) const FORMAT_VERSION_2: u64 = 2;

/// Whether `version` is one of the journal's (JSON Lines) versions: 2 or 3.
pub(crate) fn is_journal_version(version: u64) -> bool {
    (FORMAT_VERSION_2..=FORMAT_VERSION).contains(&version)
}

/// The previous format: one JSON document, replaced whole on every write.
pub(crate) const FORMAT_VERSION_1: u64 = 1;

/// Name of the pool that always exists.
pub const DEFAULT_POOL: &str = "default";
/// First port of the default pool.
pub const DEFAULT_POOL_START: u16 = 9000;
/// Last port of the default pool.
pub const DEFAULT_POOL_END: u16 = 18999;

/// Transport protocol of a lease. A lease holds its port for TCP, for UDP, or for both: a UDP
/// lease never blocks a TCP lease of the same port, nor the reverse, while a `tcp+udp` lease
/// blocks both (and is blocked by either).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP (the default).
    #[default]
    Tcp,
    /// UDP.
    Udp,
    /// One port number held for TCP and UDP alike (as portpicker promises its ports).
    #[serde(rename = "tcp+udp")]
    TcpUdp,
}

spelled!(Protocol, "protocol", { Tcp => "tcp", Udp => "udp", TcpUdp => "tcp+udp" }, parse: [Tcp, Udp, TcpUdp]);

impl Protocol {
    /// The transport protocols a lease of this protocol holds its port for: TCP, UDP, or both.
    pub const fn parts(self) -> &'static [Protocol] {
        match self {
            Protocol::Tcp => &[Protocol::Tcp],
            Protocol::Udp => &[Protocol::Udp],
            Protocol::TcpUdp => &[Protocol::Tcp, Protocol::Udp],
        }
    }

    /// Whether a lease of this protocol holds its port for `transport` (TCP or UDP).
    pub fn covers(self, transport: Protocol) -> bool {
        transport.parts().iter().all(|t| self.parts().contains(t))
    }
}

/// How a lease was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The preferred port, or the next free one above it (the default for `register`).
    #[default]
    Flexible,
    /// Exactly the requested port, or a conflict.
    Fixed,
    /// Taken from a pool's round-robin cursor by `allocate`.
    Pool,
}

// `pool` is how `allocate` records its leases; a caller may ask `register` for the other two.
spelled!(Mode, "mode", { Flexible => "flexible", Fixed => "fixed", Pool => "pool" }, parse: [Fixed, Flexible]);

/// The process a lease belongs to. The start time (clock ticks after boot, field 22 of
/// `/proc/PID/stat`) tells a live owner from a recycled pid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Owner {
    /// Process id, in the pid namespace `pid_ns`.
    pub pid: u32,
    /// The process's start time in clock ticks after boot, as the kernel reports it.
    pub start_time: u64,
    /// The pid namespace the pid belongs to (the inode of the recording process's
    /// `/proc/self/ns/pid`). A process in another namespace cannot see the owner, so it never
    /// takes the lease for stale: only the time to live, or a caller in this namespace, ends
    /// it. `None` in records made before portpool recorded namespaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_ns: Option<u64>,
}

/// One port held by one name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// Unique name of the holder (a service, a worker, ...).
    pub name: String,
    /// The port, 1–65535.
    pub port: u16,
    /// TCP, UDP, or both (`tcp+udp`).
    pub protocol: Protocol,
    /// How the lease was made.
    pub mode: Mode,
    /// The pool it came from, for `Mode::Pool` leases.
    #[serde(default)]
    pub pool: Option<String>,
    /// When the lease was made, in seconds since the Unix epoch.
    pub created: u64,
    /// The owning process; `None` for a permanent lease.
    #[serde(default)]
    pub owner: Option<Owner>,
    /// The time to live in seconds that `renew` restarts; `None` for no expiry.
    #[serde(default)]
    pub ttl: Option<u64>,
    /// When the lease expires, in seconds since the Unix epoch; `None` for never.
    #[serde(default)]
    pub expires: Option<u64>,
    /// The port of the next generation while a handover is under way: leased too, but `get`
    /// still returns `port` until the handover is committed.
    #[serde(default)]
    pub next: Option<Next>,
    /// For a lease `migrate` made: the process that was bound to the port then, so that
    /// `doctor` can tell when another program has taken the port over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// The user id of the process that made the lease through portpool. Only that user or
    /// root may release it, re-register its name, hand it over or change its owner, unless
    /// the caller forces it. `None` in leases made before portpool recorded it: anyone who
    /// may write the registry may change those.
    #[serde(default)]
    pub uid: Option<u32>,
    /// The namespace the name lives in; `None` for the default namespace (every lease made
    /// before namespaces). Names are unique per namespace; ports across all of them.
    #[serde(default)]
    pub namespace: Option<String>,
    /// How many handovers were begun on this lease: a handover's ticket is the generation it
    /// begins, so a ticket of an aborted or superseded handover never matches a later one.
    /// 0 for a lease that never had one.
    #[serde(default)]
    pub generation: u64,
    /// Why the lease is stale (time to live over, owner gone, a handover's owner gone), as
    /// `list` and `who` report it; `None` for a lease that holds its ports. Never stored:
    /// computed when the lease is read.
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub stale: Option<String>,
}

/// The process bound to a port when `migrate` recorded it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Origin {
    /// Process id.
    pub pid: u32,
    /// The process's start time in clock ticks after boot.
    pub start_time: u64,
    /// The program's name, as /proc showed it.
    pub program: String,
}

impl Lease {
    /// The key this lease is recorded under: its name, qualified by its namespace.
    pub(crate) fn key(&self) -> String {
        lease_key(self.namespace.as_deref(), &self.name)
    }

    /// Every port this lease holds: its own and, during a handover, the next one.
    pub fn ports(&self) -> impl Iterator<Item = u16> + '_ {
        std::iter::once(self.port).chain(self.next.as_ref().map(|n| n.port))
    }
}

/// The next generation's port during a zero-downtime handover.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Next {
    /// The new port.
    pub port: u16,
    /// When the handover began, seconds since the epoch.
    pub created: u64,
    /// The next generation's process, which owns the lease once the handover is committed.
    #[serde(default)]
    pub owner: Option<Owner>,
    /// The handover's ticket: the lease's generation it began. Commit, abort and a retried
    /// begin that name it act on this handover only. 0 in records made before tickets.
    #[serde(default)]
    pub ticket: u64,
}

/// A named port range with a round-robin cursor shared by every process on the host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Pool {
    /// The pool's name.
    pub name: String,
    /// First port of the range.
    pub start: u16,
    /// Last port of the range (inclusive).
    pub end: u16,
    /// The next port `allocate` will consider.
    pub cursor: u16,
    /// Whether `allocate` bind-probes candidate ports; off for a range reserved for portpool.
    pub probe: bool,
    /// The user id of the process that created the pool. Only that user or root may change
    /// it, unless the caller forces it. `None` for the `default` pool and pools created
    /// before portpool recorded it: anyone who may write the registry may change those.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
}

impl Pool {
    /// How many ports the range holds.
    pub fn size(&self) -> u32 {
        u32::from(self.end) - u32::from(self.start) + 1
    }

    /// Whether `port` lies in the range.
    pub fn contains(&self, port: u16) -> bool {
        (self.start..=self.end).contains(&port)
    }

    /// Pool `name` over `start..=end` with its cursor at `cursor`, or at `start` when there is
    /// none or it lies outside the range: the one place a cursor is kept inside its range.
    pub(crate) fn with_cursor(
        name: String,
        start: u16,
        end: u16,
        cursor: Option<u16>,
        probe: bool,
    ) -> Pool {
        let mut pool = Pool {
            name,
            start,
            end,
            cursor: start,
            probe,
            uid: None,
        };
        pool.cursor = cursor.filter(|c| pool.contains(*c)).unwrap_or(start);
        pool
    }

    pub(crate) fn default_pool() -> Pool {
        Pool {
            name: DEFAULT_POOL.to_owned(),
            start: DEFAULT_POOL_START,
            end: DEFAULT_POOL_END,
            cursor: DEFAULT_POOL_START,
            probe: true,
            uid: None,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct PoolRepr {
    pub(crate) start: u16,
    pub(crate) end: u16,
    #[serde(default)]
    pub(crate) cursor: Option<u16>,
    #[serde(default = "yes")]
    pub(crate) probe: bool,
}

/// Serde's default for `probe`.
pub(crate) fn yes() -> bool {
    true
}

/// A JSON object read into a map, refusing a key that appears twice (serde's maps keep the
/// last one silently).
pub(crate) fn unique_map<'de, D, V>(deserializer: D) -> Result<BTreeMap<String, V>, D::Error>
where
    D: serde::Deserializer<'de>,
    V: Deserialize<'de>,
{
    struct Visitor<V>(std::marker::PhantomData<V>);
    impl<'de, V: Deserialize<'de>> serde::de::Visitor<'de> for Visitor<V> {
        type Value = BTreeMap<String, V>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((key, value)) = map.next_entry::<String, V>()? {
                if out.contains_key(&key) {
                    return Err(serde::de::Error::custom(format!(
                        "key {key:?} appears twice"
                    )));
                }
                out.insert(key, value);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_map(Visitor(std::marker::PhantomData))
}

/// Why a pool named `name` over `start..=end`, read from a file, cannot be in a registry.
pub(crate) fn pool_problem(name: &str, start: u16, end: u16) -> Option<String> {
    if let Err(e) = check_name(name) {
        return Some(e.to_string());
    }
    if start == 0 || start > end {
        return Some(format!("invalid range {start}-{end}"));
    }
    None
}

/// The whole registry in memory, with an index by (port, TCP or UDP): a `tcp+udp` lease is
/// indexed under both.
///
/// While the store records an update ([`begin_log`](Data::begin_log)), every method that
/// changes a lease or a pool notes the key and its value before the update, so that what the
/// update changed costs what it touched to find, write down or undo. Assigning a whole new
/// `Data` during an update (what `reset` does) drops that log: the store then writes the
/// registry whole.
#[derive(Clone, Debug)]
pub(crate) struct Data {
    pools: BTreeMap<String, Pool>,
    leases: BTreeMap<String, Lease>,
    by_port: HashMap<(u16, Protocol), String>,
    log: Option<Box<ChangeLog>>,
}

/// The keys one update touched, each with its value before the update (`None`: absent).
#[derive(Clone, Debug, Default)]
pub(crate) struct ChangeLog {
    pub(crate) leases: BTreeMap<String, Option<Lease>>,
    pub(crate) pools: BTreeMap<String, Option<Pool>>,
}

impl Default for Data {
    fn default() -> Self {
        let mut data = Data::empty();
        data.pools
            .insert(DEFAULT_POOL.to_owned(), Pool::default_pool());
        data
    }
}

impl Data {
    /// No pools at all, not even the default one: the start of a parse.
    pub(crate) fn empty() -> Data {
        Data {
            pools: BTreeMap::new(),
            leases: BTreeMap::new(),
            by_port: HashMap::new(),
            log: None,
        }
    }

    /// Starts noting every change, for [`end_log`](Data::end_log).
    pub(crate) fn begin_log(&mut self) {
        self.log = Some(Box::default());
    }

    /// Stops noting changes and returns what was noted since `begin_log`, or `None` when the
    /// whole `Data` was replaced meanwhile.
    pub(crate) fn end_log(&mut self) -> Option<ChangeLog> {
        self.log.take().map(|log| *log)
    }

    /// Puts every key in `log` back as it was before the update that `log` noted.
    pub(crate) fn rollback(&mut self, log: ChangeLog) {
        debug_assert!(self.log.is_none());
        for name in log.leases.keys() {
            self.remove(name);
        }
        for lease in log.leases.into_values().flatten() {
            self.insert(lease)
                .expect("a lease that was in the registry before the update is valid");
        }
        for (name, before) in log.pools {
            match before {
                Some(pool) => self.pools.insert(name, pool),
                None => self.pools.remove(&name),
            };
        }
    }

    fn touch_lease(&mut self, name: &str) {
        if let Some(log) = self.log.as_deref_mut()
            && !log.leases.contains_key(name)
        {
            log.leases
                .insert(name.to_owned(), self.leases.get(name).cloned());
        }
    }

    fn touch_pool(&mut self, name: &str) {
        if let Some(log) = self.log.as_deref_mut()
            && !log.pools.contains_key(name)
        {
            log.pools
                .insert(name.to_owned(), self.pools.get(name).cloned());
        }
    }

    /// Whether (port, protocol) of `lease` is free for it: held by nobody, or by itself. A
    /// `tcp+udp` lease needs its ports free for both.
    pub(crate) fn port_conflict(&self, lease: &Lease) -> Option<(u16, &str)> {
        self.port_conflict_of(&lease.key(), lease)
    }

    /// [`port_conflict`](Data::port_conflict) for a lease whose key the caller has already.
    pub(crate) fn port_conflict_of(&self, key: &str, lease: &Lease) -> Option<(u16, &str)> {
        lease.ports().find_map(|port| {
            lease.protocol.parts().iter().find_map(|part| {
                self.by_port
                    .get(&(port, *part))
                    .filter(|holder| **holder != key)
                    .map(|holder| (port, holder.as_str()))
            })
        })
    }

    pub(crate) fn lease(&self, name: &str) -> Option<&Lease> {
        self.leases.get(name)
    }

    /// For changes that keep the name, port and protocol.
    pub(crate) fn lease_mut(&mut self, name: &str) -> Option<&mut Lease> {
        self.touch_lease(name);
        self.leases.get_mut(name)
    }

    pub(crate) fn leases(&self) -> impl ExactSizeIterator<Item = &Lease> {
        self.leases.values()
    }

    /// The format version a file of this registry is written as: 3 while a lease holds its
    /// port for TCP and UDP at once, else 2 (see [`FORMAT_VERSION`]).
    pub(crate) fn format_version(&self) -> u64 {
        if self.leases().any(|l| l.protocol == Protocol::TcpUdp) {
            FORMAT_VERSION
        } else {
            FORMAT_VERSION_2
        }
    }

    /// The lease holding (port, protocol), if any: for `tcp+udp`, the first of the leases
    /// holding it for TCP or for UDP (see [`holders`](Data::holders) for both).
    pub(crate) fn holder(&self, port: u16, protocol: Protocol) -> Option<&Lease> {
        self.holders(port, protocol).next()
    }

    /// Every lease holding `port` for a transport `protocol` covers, each once: one at
    /// most for TCP or UDP; for `tcp+udp`, a lease holding it for both, or one for TCP and
    /// another for UDP.
    pub(crate) fn holders(&self, port: u16, protocol: Protocol) -> impl Iterator<Item = &Lease> {
        let tcp = protocol
            .covers(Protocol::Tcp)
            .then(|| self.by_port.get(&(port, Protocol::Tcp)))
            .flatten();
        let udp = protocol
            .covers(Protocol::Udp)
            .then(|| self.by_port.get(&(port, Protocol::Udp)))
            .flatten()
            .filter(|name| Some(*name) != tcp);
        tcp.into_iter()
            .chain(udp)
            .filter_map(|name| self.leases.get(name))
    }

    pub(crate) fn pool(&self, name: &str) -> Option<&Pool> {
        self.pools.get(name)
    }

    pub(crate) fn pool_mut(&mut self, name: &str) -> Option<&mut Pool> {
        self.touch_pool(name);
        self.pools.get_mut(name)
    }

    pub(crate) fn pools(&self) -> impl ExactSizeIterator<Item = &Pool> {
        self.pools.values()
    }

    pub(crate) fn set_pool(&mut self, pool: Pool) {
        self.touch_pool(&pool.name);
        self.pools.insert(pool.name.clone(), pool);
    }

    /// Adds a lease, after the same checks a reader makes (see [`check_lease`]) and that
    /// neither its name nor its ports are taken: no change can produce a file that reads
    /// back as invalid. A failure is a `Registry` error and changes nothing.
    pub(crate) fn insert(&mut self, mut lease: Lease) -> Result<()> {
        // Computed on reading, never recorded.
        lease.stale = None;
        let bad = |why: String| {
            Error::new(
                crate::ErrorKind::Registry,
                format!(
                    "refused to record lease {}: {why}; the registry was left unchanged",
                    crate::validate::shown(&lease.name)
                ),
            )
        };
        check_lease(&lease).map_err(bad)?;
        let key = lease.key();
        if self.leases.contains_key(&key) {
            return Err(bad("the name is taken".into()));
        }
        for port in lease.ports() {
            if let Some(other) = self.holder(port, lease.protocol) {
                return Err(bad(format!(
                    "port {}/{} is also leased to {}",
                    port,
                    lease.protocol,
                    crate::validate::shown(&other.name)
                )));
            }
        }
        self.insert_checked(key, lease);
        Ok(())
    }

    /// Adds `lease` under `key` (its [`Lease::key`]) once the caller has made every check
    /// [`insert`](Data::insert) makes (the reader makes them, with its own messages): one key
    /// and one round of checks per lease read, where reading a registry spends its time.
    pub(crate) fn insert_checked(&mut self, key: String, mut lease: Lease) {
        debug_assert!(check_lease(&lease).is_ok() && !self.leases.contains_key(&key));
        lease.stale = None;
        self.touch_lease(&key);
        for port in lease.ports() {
            for part in lease.protocol.parts() {
                self.by_port.insert((port, *part), key.clone());
            }
        }
        self.leases.insert(key, lease);
    }

    pub(crate) fn remove(&mut self, name: &str) -> Option<Lease> {
        if !self.leases.contains_key(name) {
            return None;
        }
        self.touch_lease(name);
        let lease = self.leases.remove(name)?;
        for port in lease.ports() {
            for part in lease.protocol.parts() {
                self.by_port.remove(&(port, *part));
            }
        }
        Some(lease)
    }

    /// Replaces `name`'s lease with `lease` (same name), keeping the port index right. A
    /// new lease that would not read back, or whose ports are another's, is refused and the
    /// old one kept.
    pub(crate) fn replace(&mut self, lease: Lease) -> Result<()> {
        let Some(old) = self.remove(&lease.key()) else {
            return self.insert(lease);
        };
        self.insert(lease).inspect_err(|_| {
            self.insert(old)
                .expect("the old lease was valid where it was");
        })
    }
}

/// The entries of a JSON object in file order, refusing a key given twice (serde's maps
/// keep the last one silently).
pub(crate) fn entries_once(
    bytes: &[u8],
) -> std::result::Result<Vec<(String, serde_json::Value)>, String> {
    struct Entries(Vec<(String, serde_json::Value)>);
    impl<'de> Deserialize<'de> for Entries {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            struct Visitor;
            impl<'de> serde::de::Visitor<'de> for Visitor {
                type Value = Entries;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> std::result::Result<Entries, A::Error> {
                    let mut seen = std::collections::HashSet::new();
                    let mut out = Vec::new();
                    while let Some((key, value)) = map.next_entry::<String, serde_json::Value>()? {
                        if !seen.insert(key.clone()) {
                            return Err(serde::de::Error::custom(format!(
                                "key {} is given twice",
                                crate::validate::shown(&key)
                            )));
                        }
                        out.push((key, value));
                    }
                    Ok(Entries(out))
                }
            }
            d.deserialize_map(Visitor)
        }
    }
    serde_json::from_slice::<Entries>(bytes)
        .map(|e| e.0)
        .map_err(|e| e.to_string())
}

/// Whether `bytes` are a registry portpool wrote, whatever its entries hold: a version-1 file
/// (one JSON object with `"version": 1`) or a version-2 journal (a first line that is the
/// header, `{"version": 2}`). Anything else (another version, another shape) is not.
pub(crate) fn is_current_version(bytes: &[u8]) -> bool {
    type Object = serde_json::Map<String, serde_json::Value>;
    let version = |o: &Object| o.get("version").and_then(serde_json::Value::as_u64);
    let header = |o: &Object| {
        version(o).is_some_and(is_journal_version)
            && o.keys()
                .all(|k| ["version", "generation", "copying"].contains(&k.as_str()))
    };
    if let Ok(whole) = serde_json::from_slice::<Object>(bytes) {
        return version(&whole) == Some(FORMAT_VERSION_1) || header(&whole);
    }
    let first = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    serde_json::from_slice::<Object>(first).is_ok_and(|o| header(&o))
}

/// The latest time a registry file may record (the end of the year 9999), in seconds since
/// the Unix epoch: anything later is damage, not a date, and would overflow arithmetic.
pub const MAX_TIME: u64 = 253_402_300_799;

/// What every lease must satisfy, in a file that is read and in a change that is written:
/// a valid name (and namespace), ports 1–65535, a next port other than its own, times no later than
/// [`MAX_TIME`], a time to live of at most 100 years.
pub(crate) fn check_lease(lease: &Lease) -> std::result::Result<(), String> {
    check_name(&lease.name).map_err(|e| e.to_string())?;
    if let Some(ns) = &lease.namespace {
        check_name(ns).map_err(|e| format!("namespace: {e}"))?;
    }
    if lease.port == 0 {
        return Err("port 0 is not a port".into());
    }
    if let Some(next) = lease.next {
        if next.port == 0 || next.port == lease.port {
            return Err(format!(
                "invalid next port {} (the lease holds port {})",
                next.port, lease.port
            ));
        }
        if next.created > MAX_TIME {
            return Err(format!("next.created {} is out of range", next.created));
        }
    }
    for (field, value) in [("created", Some(lease.created)), ("expires", lease.expires)] {
        if let Some(v) = value.filter(|v| *v > MAX_TIME) {
            return Err(format!("{field} {v} is out of range"));
        }
    }
    if let Some(ttl) = lease.ttl {
        crate::validate::check_ttl(ttl).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Leases as a JSON array of lease objects, in the registry file's lease format; the shape
/// `portpool list --json` prints and every binding's JSON output uses.
pub fn leases_to_json(leases: &[Lease], pretty: bool) -> String {
    to_json(&leases, pretty)
}

/// Pools as a JSON array of `{name, start, end, cursor, probe}` objects.
pub fn pools_to_json(pools: &[Pool], pretty: bool) -> String {
    to_json(&pools, pretty)
}

fn to_json<T: Serialize>(value: &T, pretty: bool) -> String {
    let text = if pretty {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    };
    text.expect("serializing plain data cannot fail")
}

pub(crate) fn version_error(path: &Path, version: u64) -> Error {
    if version > FORMAT_VERSION {
        Error::registry(
            path,
            format!(
                "has format version {version}, newer than this portpool reads (version {FORMAT_VERSION}); upgrade portpool. The file was left untouched"
            ),
        )
    } else {
        Error::registry(
            path,
            format!("has unknown format version {version}; the file was left untouched"),
        )
    }
}

/// Explains why bytes that failed to parse as a registry are not one.
pub(crate) fn diagnose(path: &Path, bytes: &[u8], err: serde_json::Error) -> Error {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Err(syntax) if syntax.is_eof() => Error::registry(
            path,
            format!("is truncated ({syntax}); it was left untouched"),
        ),
        Err(syntax) => Error::registry(
            path,
            format!("is not valid JSON ({syntax}); it was left untouched"),
        ),
        Ok(serde_json::Value::Object(map)) => match map.get("version") {
            None => Error::registry(
                path,
                "is not a portpool registry (it has no \"version\" field); it was left untouched",
            ),
            Some(v) => match v.as_u64() {
                Some(n) if is_journal_version(n) => Error::registry(
                    path,
                    format!(
                        "is not a valid portpool registry (a version-{n} file holds one JSON value per line); it was left untouched"
                    ),
                ),
                Some(n) if n != FORMAT_VERSION_1 => version_error(path, n),
                _ => Error::registry(
                    path,
                    format!("is not a valid portpool registry ({err}); it was left untouched"),
                ),
            },
        },
        Ok(_) => Error::registry(
            path,
            "is not a portpool registry (its top level is not a JSON object); it was left untouched",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn parse(text: &str) -> Result<Data> {
        crate::store::v1::parse_v1(Path::new("/r.json"), text.as_bytes())
    }

    fn parse_err(text: &str) -> String {
        let err = parse(text).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Registry, "{err}");
        assert!(err.message().contains("/r.json"), "names the file: {err}");
        err.message().to_owned()
    }

    #[test]
    fn the_api_json_shows_every_lease_field() {
        let lease = Lease {
            name: "web".into(),
            port: 80,
            protocol: Protocol::Tcp,
            mode: Mode::Fixed,
            pool: None,
            created: 1,
            owner: None,
            ttl: None,
            expires: None,
            next: None,
            origin: None,
            uid: None,
            namespace: None,
            generation: 0,
            stale: None,
        };
        let api = leases_to_json(&[lease], false);
        assert!(
            api.contains("\"owner\":null") && api.contains("\"next\":null"),
            "{api}"
        );
    }

    #[test]
    fn minimal_and_reformatted_files_read() {
        let data = parse("{\"version\":1}").unwrap();
        assert_eq!(data.leases().len(), 0);
        assert!(data.pool(DEFAULT_POOL).is_some());
        let compact = r#"{"leases":[{"port":80,"name":"w","protocol":"tcp","mode":"fixed","created":1}],"version":1,"pools":{}}"#;
        assert_eq!(parse(compact).unwrap().lease("w").unwrap().port, 80);
    }

    #[test]
    fn empty_truncated_invalid_and_foreign_files_are_refused() {
        assert!(parse_err("").contains("empty"));
        assert!(parse_err("  \n").contains("empty"));
        assert!(parse_err("{\"version\": 1, \"leases\": [").contains("truncated"));
        assert!(parse_err("{\"a\":}").contains("not valid JSON"));
        assert!(parse_err("{\"keycloak\": 8080, \"web\": 80}").contains("no \"version\""));
        assert!(parse_err("[1,2]").contains("not a JSON object"));
        assert!(parse_err("{\"version\": 1, \"leases\": 5}").contains("not a valid"));
    }

    #[test]
    fn newer_format_version_is_refused() {
        let msg = parse_err("{\"version\": 4, \"leases\": {\"totally\": \"different\"}}");
        assert!(msg.contains("format version 4"), "{msg}");
        assert!(msg.contains("newer"), "{msg}");
        assert!(parse_err("{\"version\": 7}").contains("newer"));
    }

    #[test]
    fn inconsistent_contents_are_refused() {
        let lease = |name: &str, port: u32| {
            format!(
                r#"{{"name":"{name}","port":{port},"protocol":"tcp","mode":"fixed","created":1}}"#
            )
        };
        let file =
            |leases: &[String]| format!(r#"{{"version":1,"leases":[{}]}}"#, leases.join(","));
        assert!(parse_err(&file(&[lease("a", 1), lease("a", 2)])).contains("twice"));
        assert!(parse_err(&file(&[lease("a", 1), lease("b", 1)])).contains("also leased"));
        parse_err(&file(&[lease("a", 0)]));
        parse_err(&file(&[lease("a", 70000)]));
        parse_err(&file(&[lease("a b", 1)]));
        parse_err(r#"{"version":1,"pools":{"p":{"start":10,"end":5}}}"#);
    }

    #[test]
    fn tcp_and_udp_leases_of_one_port_coexist() {
        let text = r#"{"version":1,"leases":[
            {"name":"t","port":53,"protocol":"tcp","mode":"fixed","created":1},
            {"name":"u","port":53,"protocol":"udp","mode":"fixed","created":1}]}"#;
        let data = parse(text).unwrap();
        assert_eq!(data.holder(53, Protocol::Tcp).unwrap().name, "t");
        assert_eq!(data.holder(53, Protocol::Udp).unwrap().name, "u");
    }

    #[test]
    fn cursor_outside_a_hand_edited_range_restarts_at_start() {
        let data =
            parse(r#"{"version":1,"pools":{"p":{"start":100,"end":200,"cursor":9}}}"#).unwrap();
        assert_eq!(data.pool("p").unwrap().cursor, 100);
    }
}
