//! Format version 2 of the registry file (docs/registry-format.md): JSON Lines.
//!
//! ```text
//! {"version":2,"generation":"3f2a…"}             header: a new generation per rewrite
//! {"pool":{"name":"default","start":9000,...}}     snapshot: one line per pool
//! {"lease":{"name":"web","port":8080,...}}         ... and one per lease
//! {"leases":[{...}],"cursors":{"default":9001}}    one line per change, appended
//! {"del":["web"]}
//! ```
//!
//! A change line is self-contained and idempotent: it carries the whole new value of every
//! lease and pool it touched and the names of the leases it released, so replaying it needs
//! nothing but the state before it. One update is one line, so a torn append loses the whole
//! update or none of it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::error::Category;

mod salvage;

pub(crate) use salvage::{only_version_2_lines, salvage};

use crate::error::{Error, Result};
use crate::store::model::{
    ChangeLog, DEFAULT_POOL, Data, FORMAT_VERSION, FORMAT_VERSION_2, Lease, Mode, Next, Origin,
    Owner, Pool, Protocol, check_lease, is_journal_version, pool_problem, unique_map,
    version_error,
};

/// What the first line of every file of `version` (2 or 3) this build writes starts with; the
/// file's generation (16 hex digits) follows. Every version has one digit: headers of both are
/// as long.
pub(crate) fn header_start(version: u64) -> Vec<u8> {
    format!("{{\"version\":{version},\"generation\":\"").into_bytes()
}

/// Whether `head` is how a header this build writes starts (or a beginning of one).
pub(crate) fn starts_like_a_header(head: &[u8]) -> bool {
    [FORMAT_VERSION_2, FORMAT_VERSION]
        .iter()
        .any(|v| header_start(*v).starts_with(head))
}

/// The version the header of `bytes` (a journal file, or its first line) says: the version a
/// change appended to it may use.
pub(crate) fn header_version(bytes: &[u8]) -> u64 {
    #[derive(Deserialize)]
    struct Probe {
        version: u64,
    }
    let first = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    serde_json::from_slice::<Probe>(first).map_or(FORMAT_VERSION_2, |p| p.version)
}

/// What the message of every refusal of a damaged file ends with: the way back.
pub(crate) const REPAIR_HINT: &str = "run `portpool repair` to rewrite it from every line that reads back (the damaged file is kept beside it)";

/// What the refusal of a file whose header names a newer version ends with.
pub(crate) const NEWER_HINT: &str = "if no newer portpool wrote it (its header is what is damaged), `portpool repair` rewrites it from its lines, all of which must read as version 2";

/// A new generation: every rewrite of the file writes one into its header, so that a reader
/// or writer holding the file open tells a rewritten file from the one it read, even when the
/// rewrite kept the inode or the inode came back.
pub(crate) fn new_generation() -> String {
    crate::sys::random_hex()
}

/// The first line of a file of `version` and `generation`.
pub(crate) fn header(version: u64, generation: &str) -> Vec<u8> {
    let mut line = header_start(version);
    line.extend_from_slice(generation.as_bytes());
    line.extend_from_slice(b"\"}\n");
    line
}

/// The first line written over the registry's while a compaction in place copies the spare
/// (of `generation`) into it: as long as [`header`], so that the final header overwrites it
/// exactly. A file that starts with it is read from the spare.
pub(crate) fn copying_header(version: u64, generation: &str) -> Vec<u8> {
    let mut line = format!("{{\"version\":{version},\"copying\":\"{generation}\"}}").into_bytes();
    let len = header(version, generation).len();
    line.resize(len - 1, b' ');
    line.push(b'\n');
    line
}

/// What a version-2 file's first line says: its generation, or the generation of the spare
/// being copied into it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HeaderState {
    /// An ordinary header (generation absent in files of older builds).
    Generation(Option<String>),
    /// A compaction in place was copying the spare of this generation into the file.
    Copying(String),
}

/// The state of `bytes`' first line when it is a version-2 header.
pub(crate) fn header_state(bytes: &[u8]) -> Option<HeaderState> {
    #[derive(Deserialize)]
    struct Probe {
        version: Option<u64>,
        generation: Option<String>,
        copying: Option<String>,
    }
    let first = bytes.split(|b| *b == b'\n').next()?;
    match serde_json::from_slice::<Probe>(first).ok()? {
        Probe {
            version: Some(v),
            copying: Some(generation),
            ..
        } if is_journal_version(v) => Some(HeaderState::Copying(generation)),
        Probe {
            version: Some(v),
            generation,
            ..
        } if is_journal_version(v) => Some(HeaderState::Generation(generation)),
        _ => None,
    }
}

/// A lease as the file holds it: the optional fields only when set.
#[derive(Serialize)]
struct LeaseOut<'a> {
    name: &'a str,
    port: u16,
    protocol: Protocol,
    mode: Mode,
    pool: Option<&'a str>,
    created: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<&'a Owner>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ttl: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<&'a Next>,
    #[serde(skip_serializing_if = "Option::is_none")]
    origin: Option<&'a Origin>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'a str>,
    #[serde(skip_serializing_if = "is_zero")]
    generation: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl<'a> From<&'a Lease> for LeaseOut<'a> {
    fn from(l: &'a Lease) -> Self {
        LeaseOut {
            name: &l.name,
            port: l.port,
            protocol: l.protocol,
            mode: l.mode,
            pool: l.pool.as_deref(),
            created: l.created,
            owner: l.owner.as_ref(),
            ttl: l.ttl,
            expires: l.expires,
            next: l.next.as_ref(),
            origin: l.origin.as_ref(),
            uid: l.uid,
            namespace: l.namespace.as_deref(),
            generation: l.generation,
        }
    }
}

#[derive(Deserialize)]
struct PoolIn {
    name: String,
    start: u16,
    end: u16,
    #[serde(default)]
    cursor: Option<u16>,
    #[serde(default = "crate::store::model::yes")]
    probe: bool,
    #[serde(default)]
    uid: Option<u32>,
}

impl PoolIn {
    /// The pool, with a cursor outside the range restarting at its start (as in version 1).
    fn into_pool(self) -> std::result::Result<Pool, String> {
        if let Some(why) = pool_problem(&self.name, self.start, self.end) {
            return Err(format!("pool {:?}: {why}", self.name));
        }
        Ok(Pool {
            uid: self.uid,
            ..Pool::with_cursor(self.name, self.start, self.end, self.cursor, self.probe)
        })
    }
}

/// The whole registry as a version-2 file of `generation`: header, pools, leases. Returns the
/// bytes and the number of snapshot lines (pools and leases).
pub(crate) fn encode_snapshot(data: &Data, generation: &str) -> (Vec<u8>, u64) {
    #[derive(Serialize)]
    struct PoolLine<'a> {
        pool: &'a Pool,
    }
    #[derive(Serialize)]
    struct LeaseLine<'a> {
        lease: LeaseOut<'a>,
    }
    // About what a lease line takes: one allocation instead of a growing buffer.
    let head = header(data.format_version(), generation);
    let mut bytes =
        Vec::with_capacity(head.len() + 100 * data.pools().len() + 150 * data.leases().len());
    bytes.extend_from_slice(&head);
    for pool in data.pools() {
        serde_json::to_writer(&mut bytes, &PoolLine { pool }).expect("plain data");
        bytes.push(b'\n');
    }
    for lease in data.leases() {
        serde_json::to_writer(
            &mut bytes,
            &LeaseLine {
                lease: lease.into(),
            },
        )
        .expect("plain data");
        bytes.push(b'\n');
    }
    (bytes, (data.pools().len() + data.leases().len()) as u64)
}

/// What an update comes to in the file.
pub(crate) enum Encoded {
    /// Nothing changed after all.
    Nothing,
    /// One change line, ending in a newline, and whether its caller must wait for it to be
    /// flushed (see [`encode_change`]).
    Line { bytes: Vec<u8>, durable: bool },
    /// The change cannot be said in one line (a pool removed): write the registry whole.
    Whole,
}

/// The change line for what `log` noted, read from `data` after the update.
///
/// `durable` is false when the change concerns only leases owned by a process, before and
/// after (made, released, moved or handed over), and pools' cursors: after a power loss
/// those owners are gone and their leases would be reclaimed anyway, and a cursor is only a
/// hint. Anything else (a lease without an owner, a TTL-only lease, its release, a pool's
/// range) must be flushed before the caller is told it happened.
///
/// A change that makes the first `"tcp+udp"` lease of a file of `file_version` 2 is written
/// whole, as version 3 (see [`FORMAT_VERSION`]).
pub(crate) fn encode_change(data: &Data, log: &ChangeLog, file_version: u64) -> Encoded {
    let mut change = Change::default();
    let leases_durable = change.note_leases(data, log);
    if file_version < FORMAT_VERSION && change.leases.iter().any(|l| l.protocol == Protocol::TcpUdp)
    {
        return Encoded::Whole;
    }
    let Some(pools_durable) = change.note_pools(data, log) else {
        return Encoded::Whole;
    };
    if change.del.is_empty()
        && change.leases.is_empty()
        && change.pools.is_empty()
        && change.cursors.is_empty()
    {
        return Encoded::Nothing;
    }
    let mut bytes = serde_json::to_vec(&change).expect("plain data");
    bytes.push(b'\n');
    Encoded::Line {
        bytes,
        durable: leases_durable || pools_durable,
    }
}

/// One change line: the leases deleted and written, the pools written, the cursors moved.
#[derive(Default, Serialize)]
struct Change<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    del: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    leases: Vec<LeaseOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pools: Vec<&'a Pool>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    cursors: BTreeMap<&'a str, u16>,
}

impl<'a> Change<'a> {
    /// Notes the leases `log` touched that differ now; true when one of them had or has no
    /// owning process (the change must then be flushed).
    fn note_leases(&mut self, data: &'a Data, log: &'a ChangeLog) -> bool {
        let owned = |l: Option<&Lease>| l.is_none_or(|l| l.owner.is_some());
        let mut durable = false;
        for (name, before) in &log.leases {
            let after = data.lease(name);
            if before.as_ref() == after {
                continue;
            }
            durable |= !(owned(before.as_ref()) && owned(after));
            match after {
                None => self.del.push(name),
                Some(lease) => self.leases.push(lease.into()),
            }
        }
        durable
    }

    /// Notes the pools `log` touched that differ now (a cursor alone as a cursor); true when
    /// more than a cursor changed, `None` when a pool was removed (no line can say that).
    fn note_pools(&mut self, data: &'a Data, log: &'a ChangeLog) -> Option<bool> {
        let mut durable = false;
        for (name, before) in &log.pools {
            match (before, data.pool(name)) {
                (before, after) if before.as_ref() == after => {}
                (Some(b), Some(a))
                    if b.cursor != a.cursor
                        && *b
                            == Pool {
                                cursor: b.cursor,
                                ..a.clone()
                            } =>
                {
                    self.cursors.insert(name, a.cursor);
                }
                (_, Some(a)) => {
                    durable = true;
                    self.pools.push(a);
                }
                (Some(_), None) => return None,
                (None, None) => {}
            }
        }
        Some(durable)
    }
}

/// The fewest change lines that make a small registry worth rewriting. A rewrite of a small
/// registry costs mostly its two flushes (about 0.5 ms on a virtual disk); 256 lines spread
/// that to about 2 µs per change, while a process that opens the file (a CLI call) parses at
/// most 256 lines (some 35 KB) after the snapshot.
pub(crate) const MIN_TAIL_LINES: u64 = 256;

/// The fewest bytes of change lines that make a small registry worth rewriting.
pub(crate) const MIN_TAIL_BYTES: u64 = 64 << 10;

/// Where reading a version-2 file got to, kept by a handle so that its next read parses only
/// what was appended since.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tail {
    /// The end of the last line read and applied: every byte before it is valid.
    pub(crate) offset: u64,
    /// Lines before `offset`, the header included (for messages).
    lines: u64,
    /// Where the snapshot ends, and how many pool and lease lines it holds.
    pub(crate) snapshot_end: u64,
    pub(crate) snapshot_entries: u64,
    /// Change lines after the snapshot.
    pub(crate) records: u64,
    /// No change line was read yet: pool and lease lines are still the snapshot's.
    in_snapshot: bool,
    /// The file's first line, newline included: a file that no longer starts with it was
    /// rewritten (its generation changed), whatever its inode and size say.
    pub(crate) header: Vec<u8>,
    /// The default pool was added because the snapshot had none (yet).
    implicit_default: bool,
}

impl Tail {
    /// Where a file that holds only a snapshot of `len` bytes and `entries` lines stands.
    pub(crate) fn of_snapshot(len: u64, entries: u64, header: Vec<u8>) -> Tail {
        Tail {
            header,
            offset: len,
            lines: entries + 1,
            snapshot_end: len,
            snapshot_entries: entries,
            records: 0,
            in_snapshot: true,
            implicit_default: false,
        }
    }

    /// Moves past one change line of `len` bytes that this handle appended.
    pub(crate) fn appended(&mut self, len: u64) {
        self.offset += len;
        self.lines += 1;
        self.records += 1;
        self.in_snapshot = false;
    }

    /// Whether the appended changes have outgrown the snapshot, so that the next change should
    /// rewrite the file whole: at least max([`MIN_TAIL_LINES`], snapshot lines) change lines,
    /// or max([`MIN_TAIL_BYTES`], the snapshot's bytes). Rewriting costs what the snapshot
    /// holds, and happens once per that many changes: amortised O(1) per change.
    pub(crate) fn wants_compaction(&self) -> bool {
        self.outgrown(1)
    }

    /// Whether the tail is twice what [`wants_compaction`](Self::wants_compaction) asks for:
    /// no writer who could compact the file has written for that long.
    pub(crate) fn overgrown(&self) -> bool {
        self.outgrown(2)
    }

    fn outgrown(&self, factor: u64) -> bool {
        let tail_bytes = self.offset - self.snapshot_end;
        self.records >= factor * self.snapshot_entries.max(MIN_TAIL_LINES)
            || tail_bytes >= factor * self.snapshot_end.max(MIN_TAIL_BYTES)
    }
}

/// A registry file's contents, in either format.
pub(crate) enum Decoded {
    V1(Data),
    V2(Data, Tail),
}

impl Decoded {
    pub(crate) fn into_data(self) -> Data {
        match self {
            Decoded::V1(data) | Decoded::V2(data, _) => data,
        }
    }
}

/// Reads a whole registry file of version 1 or 2. A version-2 file's last line, when it has
/// no newline or is not JSON, is a torn append: it is left out, and `Tail::offset` says where
/// the valid part ends. Every other way the bytes can be wrong is a `Registry` error naming
/// `path`.
pub(crate) fn decode(path: &Path, bytes: &[u8]) -> Result<Decoded> {
    decode_any(path, bytes).map_err(|err| {
        if err.message().contains("newer than this portpool") {
            err.with_hint(NEWER_HINT)
        } else {
            err.with_hint(REPAIR_HINT)
        }
    })
}

fn decode_any(path: &Path, bytes: &[u8]) -> Result<Decoded> {
    #[derive(Deserialize)]
    struct Probe {
        version: Option<u64>,
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::registry(
            path,
            "is empty, not a portpool registry; it was left untouched",
        ));
    }
    if let Some(HeaderState::Copying(_)) = header_state(bytes) {
        return Err(Error::registry(
            path,
            "was being compacted in place and its copy from the spare did not finish; the next change completes it",
        ));
    }
    let first_end = bytes.iter().position(|b| *b == b'\n');
    let first = &bytes[..first_end.unwrap_or(bytes.len())];
    match serde_json::from_slice::<Probe>(first) {
        Ok(Probe { version: Some(v) }) if is_journal_version(v) => {}
        Ok(Probe { version: Some(v) }) if v > FORMAT_VERSION => {
            return Err(version_error(path, v));
        }
        _ => return crate::store::v1::parse_v1(path, bytes).map(Decoded::V1),
    }
    let Some(first_end) = first_end else {
        return Err(Error::registry(
            path,
            "is truncated (its header line has no end); it was left untouched",
        ));
    };
    let mut data = Data::empty();
    let mut tail = Tail {
        header: bytes[..=first_end].to_vec(),
        offset: first_end as u64 + 1,
        lines: 1,
        snapshot_end: first_end as u64 + 1,
        in_snapshot: true,
        ..Tail::default()
    };
    read_lines(path, &mut data, &mut tail, &bytes[first_end + 1..])?;
    Ok(Decoded::V2(data, tail))
}

/// Applies the lines of `bytes`, which start at `tail.offset` of a version-2 file, to `data`
/// (read up to there), and moves `tail` past them. Stops before a torn tail: a last line that
/// has no newline or is not JSON, or a line holding a NUL byte and whatever follows it.
pub(crate) fn read_lines(
    path: &Path,
    data: &mut Data,
    tail: &mut Tail,
    bytes: &[u8],
) -> Result<()> {
    let mut pos = 0;
    while let Some(len) = bytes[pos..].iter().position(|b| *b == b'\n') {
        let end = pos + len + 1;
        let line = &bytes[pos..pos + len];
        let number = tail.lines + 1;
        let bad = |why: String| {
            Error::registry(
                path,
                format!("line {number}: {why}; the file was left untouched"),
            )
        };
        // A NUL byte is never in a line portpool wrote (JSON escapes it): it is a block the
        // disk lost. Only the real tail after the last line that reads back is torn; a hole
        // before such a line is damage, never cut.
        if line.contains(&0) {
            if valid_line_in(&bytes[end..]) {
                return Err(bad(
                    "holds NUL bytes (a block lost on the disk) before lines that read back".into(),
                ));
            }
            break;
        }
        if !line.iter().all(u8::is_ascii_whitespace) {
            let parsed = match serde_json::from_slice::<LineIn>(line) {
                Ok(parsed) => parsed,
                // A line that is not JSON with no line that reads back after it is a torn
                // append: ignored, cut by the next writer.
                Err(e)
                    if matches!(e.classify(), Category::Syntax | Category::Eof)
                        && !valid_line_in(&bytes[end..]) =>
                {
                    break;
                }
                Err(e) => return Err(bad(format!("not a registry line ({e})"))),
            };
            apply(data, tail, parsed).map_err(bad)?;
        }
        tail.lines += 1;
        tail.offset += (end - pos) as u64;
        if tail.in_snapshot {
            tail.snapshot_end = tail.offset;
        }
        pos = end;
    }
    if tail.in_snapshot && data.pool(DEFAULT_POOL).is_none() {
        data.set_pool(Pool::default_pool());
        tail.implicit_default = true;
    }
    Ok(())
}

/// Whether `bytes` holds a newline-terminated line that reads as a registry line: what tells
/// damage (lines that read back after it) from a torn tail (nothing that does).
fn valid_line_in(bytes: &[u8]) -> bool {
    bytes
        .split_inclusive(|b| *b == b'\n')
        .filter(|line| line.ends_with(b"\n") && !line.contains(&0))
        .any(is_registry_line)
}

/// Whether `line` reads as a registry line: JSON holding at least one of its fields.
fn is_registry_line(line: &[u8]) -> bool {
    serde_json::from_slice::<LineIn>(line).is_ok_and(|l| {
        l.lease.is_some()
            || l.pool.is_some()
            || l.del.is_some()
            || l.leases.is_some()
            || l.pools.is_some()
            || l.cursors.is_some()
    })
}

/// One line after the header, in any of its shapes.
#[derive(Deserialize)]
struct LineIn {
    #[serde(default)]
    lease: Option<Lease>,
    #[serde(default)]
    pool: Option<PoolIn>,
    #[serde(default)]
    del: Option<Vec<String>>,
    #[serde(default)]
    leases: Option<Vec<Lease>>,
    #[serde(default)]
    pools: Option<Vec<PoolIn>>,
    #[serde(default, deserialize_with = "unique_cursors")]
    cursors: Option<BTreeMap<String, u16>>,
}

fn unique_cursors<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<BTreeMap<String, u16>>, D::Error> {
    unique_map(d).map(Some)
}

fn apply(data: &mut Data, tail: &mut Tail, line: LineIn) -> std::result::Result<(), String> {
    let is_change = line.del.is_some()
        || line.leases.is_some()
        || line.pools.is_some()
        || line.cursors.is_some();
    match (line.lease, line.pool, is_change) {
        (Some(lease), None, false) if tail.in_snapshot => {
            let bad = |why: String| format!("lease {:?}: {why}", lease.name);
            if let Err(why) = check_lease(&lease) {
                return Err(bad(why));
            }
            let key = lease.key();
            if data.lease(&key).is_some() {
                return Err(bad("appears twice".into()));
            }
            if let Some((port, other)) = data.port_conflict_of(&key, &lease) {
                return Err(bad(format!(
                    "port {port}/{} is also leased to {other:?}",
                    lease.protocol
                )));
            }
            data.insert_checked(key, lease);
            tail.snapshot_entries += 1;
            Ok(())
        }
        (None, Some(pool), false) if tail.in_snapshot => {
            let pool = pool.into_pool()?;
            let implicit = tail.implicit_default && pool.name == DEFAULT_POOL;
            if data.pool(&pool.name).is_some() && !implicit {
                return Err(format!("pool {:?} appears twice", pool.name));
            }
            if implicit {
                tail.implicit_default = false;
            }
            data.set_pool(pool);
            tail.snapshot_entries += 1;
            Ok(())
        }
        (None, None, true) => {
            if tail.in_snapshot {
                tail.in_snapshot = false;
                if data.pool(DEFAULT_POOL).is_none() {
                    data.set_pool(Pool::default_pool());
                }
            }
            data.begin_log();
            let applied = apply_change(data, line.del, line.leases, line.pools, line.cursors);
            let log = data.end_log().expect("logging");
            if applied.is_err() {
                data.rollback(log);
            }
            tail.records += 1;
            applied
        }
        (Some(_), None, false) | (None, Some(_), false) => {
            Err("a snapshot line after a change line".into())
        }
        _ => Err("not a registry line (expected one of \"lease\", \"pool\", or a change)".into()),
    }
}

/// Applies one change line: releases, then the new values of the leases it names, then pools
/// and cursors. All or nothing: on an error the caller rolls `data` back.
fn apply_change(
    data: &mut Data,
    del: Option<Vec<String>>,
    leases: Option<Vec<Lease>>,
    pools: Option<Vec<PoolIn>>,
    cursors: Option<BTreeMap<String, u16>>,
) -> std::result::Result<(), String> {
    let leases = leases.unwrap_or_default();
    for name in del.unwrap_or_default() {
        if data.remove(&name).is_none() {
            return Err(format!("releases {name:?}, which holds no lease"));
        }
    }
    for lease in &leases {
        if let Err(why) = check_lease(lease) {
            return Err(format!("lease {:?}: {why}", lease.name));
        }
        data.remove(&lease.key());
    }
    for lease in leases {
        let key = lease.key();
        if data.lease(&key).is_some() {
            return Err(format!("lease {:?} appears twice", lease.name));
        }
        if let Some((port, other)) = data.port_conflict_of(&key, &lease) {
            return Err(format!(
                "lease {:?}: port {port}/{} is also leased to {other:?}",
                lease.name, lease.protocol
            ));
        }
        data.insert_checked(key, lease);
    }
    for pool in pools.unwrap_or_default() {
        data.set_pool(pool.into_pool()?);
    }
    for (name, cursor) in cursors.unwrap_or_default() {
        let pool = data
            .pool_mut(&name)
            .ok_or_else(|| format!("moves the cursor of pool {name:?}, which does not exist"))?;
        pool.cursor = if pool.contains(cursor) {
            cursor
        } else {
            pool.start
        };
    }
    Ok(())
}

/// Parses the contents of a registry file without touching the disk, with the same checks and
/// messages as opening it (`path` only names the file in errors). Returns its leases and pools,
/// sorted by name. For tools that validate or inspect a registry someone handed them.
pub fn parse_registry(path: &Path, bytes: &[u8]) -> Result<(Vec<Lease>, Vec<Pool>)> {
    let data = decode(path, bytes)?.into_data();
    Ok((
        data.leases().cloned().collect(),
        data.pools().cloned().collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    /// A generation for the tests' files.
    const G: &str = "0123456789abcdef";

    fn lease(name: &str, port: u16, owner: Option<u32>) -> Lease {
        Lease {
            name: name.into(),
            port,
            protocol: Protocol::Tcp,
            mode: Mode::Fixed,
            pool: None,
            created: 1_700_000_000,
            owner: owner.map(|pid| Owner {
                pid,
                start_time: 7,
                pid_ns: None,
            }),
            ttl: None,
            expires: None,
            next: None,
            origin: None,
            uid: None,
            namespace: None,
            generation: 0,
            stale: None,
        }
    }

    fn decode_v2(bytes: &[u8]) -> Result<(Data, Tail)> {
        match decode(Path::new("/r.json"), bytes)? {
            Decoded::V2(data, tail) => Ok((data, tail)),
            Decoded::V1(_) => panic!("read as version 1"),
        }
    }

    fn names(data: &Data) -> Vec<&str> {
        data.leases().map(|l| l.name.as_str()).collect()
    }

    /// Runs `f` as an update on `data` and returns the change line it comes to.
    fn change(data: &mut Data, f: impl FnOnce(&mut Data)) -> Encoded {
        data.begin_log();
        f(data);
        let log = data.end_log().unwrap();
        encode_change(data, &log, FORMAT_VERSION)
    }

    fn line(encoded: Encoded) -> (String, bool) {
        match encoded {
            Encoded::Line { bytes, durable } => (String::from_utf8(bytes).unwrap(), durable),
            Encoded::Nothing => panic!("nothing"),
            Encoded::Whole => panic!("whole"),
        }
    }

    #[test]
    fn a_snapshot_reads_back_identically_names_with_quotes_included() {
        let mut data = Data::default();
        data.insert(Lease {
            next: Some(Next {
                port: 8081,
                created: 1,
                owner: None,
                ticket: 0,
            }),
            ttl: Some(30),
            expires: Some(1_700_000_030),
            origin: Some(crate::store::model::Origin {
                pid: 9,
                start_time: 3,
                program: "nginx".into(),
            }),
            ..lease("evil\":1,\"keycloak", 8080, Some(42))
        })
        .unwrap();
        let (bytes, entries) = encode_snapshot(&data, G);
        assert_eq!(entries, 2);
        let (again, tail) = decode_v2(&bytes).unwrap();
        assert_eq!(encode_snapshot(&again, G).0, bytes);
        assert_eq!(tail.offset, bytes.len() as u64);
        assert_eq!(tail.snapshot_end, bytes.len() as u64);
        assert_eq!(again.holder(8081, Protocol::Tcp).unwrap().port, 8080);
        // Every line is one JSON value.
        for line in String::from_utf8(bytes).unwrap().lines() {
            serde_json::from_str::<serde_json::Value>(line).unwrap();
        }
    }

    #[test]
    fn the_file_writes_optional_lease_fields_only_when_set() {
        let mut data = Data::default();
        data.insert(lease("web", 80, None)).unwrap();
        let text = String::from_utf8(encode_snapshot(&data, G).0).unwrap();
        assert!(text.contains("\"pool\":null"), "{text}");
        for absent in ["owner", "ttl", "expires", "next", "uid"] {
            assert!(!text.contains(absent), "{absent} in {text}");
        }
    }

    #[test]
    fn the_process_migrate_found_on_a_port_is_written_and_reads_back() {
        let mut data = Data::default();
        let origin = Origin {
            pid: 4242,
            start_time: 918273,
            program: "nginx".into(),
        };
        data.insert(Lease {
            origin: Some(origin.clone()),
            ..lease("web", 80, None)
        })
        .unwrap();
        let (bytes, _) = encode_snapshot(&data, G);
        let (again, _) = decode_v2(&bytes).unwrap();
        assert_eq!(again.lease("web").unwrap().origin, Some(origin));
    }

    #[test]
    fn the_user_who_made_a_lease_or_pool_reads_back_and_older_files_have_none() {
        let mut data = Data::default();
        data.insert(Lease {
            uid: Some(1001),
            ..lease("web", 80, None)
        })
        .unwrap();
        data.set_pool(Pool {
            name: "ci".into(),
            uid: Some(1002),
            ..Pool::default_pool()
        });
        let (bytes, _) = encode_snapshot(&data, G);
        let (again, _) = decode_v2(&bytes).unwrap();
        assert_eq!(again.lease("web").unwrap().uid, Some(1001));
        assert_eq!(again.pool("ci").unwrap().uid, Some(1002));
        assert_eq!(again.pool("default").unwrap().uid, None);
        let older = b"{\"version\":2}\n{\"lease\":{\"name\":\"a\",\"port\":1,\"protocol\":\"tcp\",\"mode\":\"fixed\",\"pool\":null,\"created\":1}}\n";
        assert_eq!(decode_v2(older).unwrap().0.lease("a").unwrap().uid, None);
    }

    #[test]
    fn changes_of_process_owned_leases_and_cursors_need_no_flush() {
        let mut data = Data::default();
        let (text, durable) = line(change(&mut data, |d| {
            d.insert(lease("w", 9000, Some(1))).unwrap()
        }));
        assert!(!durable, "{text}");
        assert!(text.starts_with("{\"leases\":[{\"name\":\"w\""), "{text}");
        let (text, durable) = line(change(&mut data, |d| {
            d.pool_mut(DEFAULT_POOL).unwrap().cursor = 9001;
        }));
        assert_eq!(
            (text.as_str(), durable),
            ("{\"cursors\":{\"default\":9001}}\n", false)
        );
        let (text, durable) = line(change(&mut data, |d| {
            d.remove("w");
        }));
        assert_eq!((text.as_str(), durable), ("{\"del\":[\"w\"]}\n", false));
    }

    #[test]
    fn changes_of_leases_without_an_owner_and_of_pools_wait_for_a_flush() {
        let mut data = Data::default();
        assert!(
            line(change(&mut data, |d| d
                .insert(lease("svc", 80, None))
                .unwrap()))
            .1
        );
        assert!(
            line(change(&mut data, |d| {
                d.remove("svc");
            }))
            .1
        );
        // Giving a process's lease away to no owner, or the reverse.
        data.insert(lease("w", 81, Some(1))).unwrap();
        assert!(line(change(&mut data, |d| d.lease_mut("w").unwrap().owner = None)).1);
        assert!(
            line(change(&mut data, |d| d.lease_mut("w").unwrap().owner =
                Some(Owner {
                    pid: 2,
                    start_time: 3,
                    pid_ns: None,
                })))
            .1
        );
        assert!(
            line(change(&mut data, |d| d.set_pool(Pool {
                end: 9100,
                ..Pool::default_pool()
            })))
            .1
        );
    }

    #[test]
    fn an_update_that_ends_where_it_began_writes_nothing() {
        let mut data = Data::default();
        assert!(matches!(
            change(&mut data, |d| {
                d.insert(lease("a", 80, None)).unwrap();
                d.remove("a");
                d.set_pool(Pool::default_pool());
            }),
            Encoded::Nothing
        ));
    }

    #[test]
    fn a_rollback_restores_every_touched_key() {
        let mut data = Data::default();
        data.insert(lease("a", 80, None)).unwrap();
        let before = encode_snapshot(&data, G).0;
        data.begin_log();
        data.remove("a");
        data.insert(lease("a", 81, None)).unwrap();
        data.insert(lease("b", 80, None)).unwrap();
        data.pool_mut(DEFAULT_POOL).unwrap().cursor = 9500;
        let log = data.end_log().unwrap();
        data.rollback(log);
        assert_eq!(encode_snapshot(&data, G).0, before);
        assert_eq!(data.holder(80, Protocol::Tcp).unwrap().name, "a");
        assert!(data.holder(81, Protocol::Tcp).is_none());
    }

    #[test]
    fn change_lines_replay_onto_the_snapshot() {
        let mut data = Data::default();
        data.insert(lease("a", 80, None)).unwrap();
        let (mut file, _) = encode_snapshot(&data, G);
        for step in 0..3 {
            let encoded = change(&mut data, |d| match step {
                0 => d.insert(lease("b", 81, None)).unwrap(),
                // "a" moves to the port "b" gives up in the same change.
                1 => {
                    d.remove("b");
                    let mut a = d.remove("a").unwrap();
                    a.port = 81;
                    d.insert(a).unwrap();
                    d.insert(lease("c", 80, Some(5))).unwrap();
                }
                _ => d.pool_mut(DEFAULT_POOL).unwrap().cursor = 9999,
            });
            file.extend(line(encoded).0.into_bytes());
        }
        let (again, tail) = decode_v2(&file).unwrap();
        assert_eq!(names(&again), ["a", "c"]);
        assert_eq!(again.lease("a").unwrap().port, 81);
        assert_eq!(again.holder(80, Protocol::Tcp).unwrap().name, "c");
        assert_eq!(again.pool(DEFAULT_POOL).unwrap().cursor, 9999);
        assert_eq!((tail.records, tail.snapshot_entries), (3, 2));
        assert_eq!(tail.offset, file.len() as u64);
    }

    #[test]
    fn a_torn_last_line_is_left_out_and_any_other_damage_is_refused() {
        let mut data = Data::default();
        let (mut file, _) = encode_snapshot(&data, G);
        let valid = file.len();
        file.extend(
            line(change(&mut data, |d| {
                d.insert(lease("a", 80, None)).unwrap()
            }))
            .0
            .into_bytes(),
        );
        let whole = file.len();
        // Cut anywhere inside the last line: the line is left out.
        for cut in valid..whole {
            let (data, tail) = decode_v2(&file[..cut]).unwrap();
            assert_eq!(data.leases().len(), 0, "cut at {cut}");
            assert_eq!(tail.offset, valid as u64);
        }
        // A last line that is not JSON, newline or not.
        let mut torn = file.clone();
        torn.extend_from_slice(b"{\"del\":[\"a\n");
        assert_eq!(decode_v2(&torn).unwrap().1.offset, whole as u64);
        // The same line followed by another is damage.
        torn.extend_from_slice(b"{\"del\":[\"a\"]}\n");
        let err = decode_v2(&torn).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Registry);
        assert!(err.message().contains("line 4"), "{err}");
        // A block of NUL bytes with nothing that reads back after it is a torn tail; before
        // a line that reads back, it is damage, refused naming the way back.
        let mut hole = file.clone();
        hole.extend_from_slice(b"{\"del\":[\0\0\0\0\0\0\0\0\"]}\n\0\0\0\n{\"del\":[");
        let (data, tail) = decode_v2(&hole).unwrap();
        assert_eq!((data.leases().len(), tail.offset), (1, whole as u64));
        hole.extend_from_slice(b"\"a\"]}\n");
        let err = decode_v2(&hole).unwrap_err();
        assert!(err.message().contains("NUL bytes"), "{err}");
        assert!(err.message().contains("portpool repair"), "{err}");
        // JSON that is not a registry line, even last, is damage.
        for bad in [
            &b"[1]\n"[..],
            b"{\"del\":[\"nobody\"]}\n",
            b"{\"leases\":[{\"name\":\"b\",\"port\":80,\"protocol\":\"tcp\",\"mode\":\"fixed\",\"created\":1}]}\n",
            b"{\"lease\":{\"name\":\"b\",\"port\":81,\"protocol\":\"tcp\",\"mode\":\"fixed\",\"created\":1}}\n",
            b"{\"cursors\":{\"nopool\":1}}\n",
            b"{\"note\":1}\n",
        ] {
            let mut damaged = file.clone();
            damaged.extend_from_slice(bad);
            let err = decode_v2(&damaged).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Registry, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn duplicate_keys_in_a_snapshot_are_refused() {
        let head = "{\"version\":2}\n";
        let l = |name: &str, port: u16| {
            format!(
                "{{\"lease\":{{\"name\":\"{name}\",\"port\":{port},\"protocol\":\"tcp\",\"mode\":\"fixed\",\"created\":1}}}}\n"
            )
        };
        let p =
            |name: &str| format!("{{\"pool\":{{\"name\":\"{name}\",\"start\":10,\"end\":20}}}}\n");
        for (text, needle) in [
            (format!("{head}{}{}", l("a", 1), l("a", 2)), "appears twice"),
            (format!("{head}{}{}", l("a", 1), l("b", 1)), "also leased"),
            (format!("{head}{}{}", p("x"), p("x")), "appears twice"),
            (
                format!("{head}{}{}", p("default"), p("default")),
                "appears twice",
            ),
            (
                format!("{head}{{\"cursors\":{{\"default\":9001,\"default\":9002}}}}\n"),
                "twice",
            ),
        ] {
            let err = decode_v2(text.as_bytes()).unwrap_err();
            assert!(err.message().contains(needle), "{text}: {err}");
        }
        // A version-1 file with a pool key twice is refused too.
        let err = crate::store::v1::parse_v1(
            Path::new("/r.json"),
            br#"{"version":1,"pools":{"p":{"start":1,"end":2},"p":{"start":3,"end":4}}}"#,
        )
        .unwrap_err();
        assert!(err.message().contains("twice"), "{err}");
        // Without a pool line, the default pool is there.
        let (data, _) = decode_v2(head.as_bytes()).unwrap();
        assert!(data.pool(DEFAULT_POOL).is_some());
        let (data, _) = decode_v2(format!("{head}{}", p("default")).as_bytes()).unwrap();
        assert_eq!(data.pool(DEFAULT_POOL).unwrap().start, 10);
    }

    #[test]
    fn version_1_files_read_and_newer_versions_are_refused() {
        let v1 = br#"{"version": 1, "leases": [{"name":"w","port":80,"protocol":"tcp","mode":"fixed","created":1}]}"#;
        assert!(matches!(
            decode(Path::new("/r"), v1).unwrap(),
            Decoded::V1(_)
        ));
        let pretty = b"{\n  \"version\": 1\n}\n";
        assert!(matches!(
            decode(Path::new("/r"), pretty).unwrap(),
            Decoded::V1(_)
        ));
        for newer in [&b"{\"version\":4}\n"[..], b"{\"version\": 99, \"x\": {}}"] {
            let err = decode(Path::new("/r"), newer).err().unwrap();
            assert!(err.message().contains("newer"), "{err}");
        }
        let err = decode(Path::new("/r"), b"{\"version\":2}").err().unwrap();
        assert!(err.message().contains("truncated"), "{err}");
        let err = decode(Path::new("/r"), b"{\n\"version\":2}\n")
            .err()
            .unwrap();
        assert!(err.message().contains("one JSON value per line"), "{err}");
    }
}
