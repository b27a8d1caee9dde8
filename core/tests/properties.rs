//! The lease rules, proven over random sequences of operations, owner deaths and expiries.
//!
//! After every step: the file reads back (through a fresh handle and the plain parser), no
//! port has two holders for TCP or for UDP (a `tcp+udp` lease holds it for both), and no port held by a live owner — current or next — was
//! taken from its lease by an operation on another name. Scoped leases (entered and left) and
//! `listen` (whose socket must be bound to the very port its lease names) are among the
//! operations. Names live in two namespaces (the default one and `blue`), sharing one pool;
//! handovers are begun plain, retried with their ticket or superseded, alone or in batches,
//! and ended with their ticket, an old one or none. A begin that succeeds while another
//! handover of the name is under way (not a retry of its ticket, not a supersede) breaks
//! the rules: two supervisors would start workers for one lease at once.
//! Another process compacting the file in place while releasing a name, padded to the very
//! size it had (same inode, same size, a new generation), is an operation too: a long-lived
//! handle must always read what a fresh one reads.

mod common;

use std::collections::{HashMap, HashSet};
use std::os::fd::OwnedFd;
use std::process::{Child, Command};

use proptest::prelude::*;

use common::{free_block, open, scratch};
use portpool_core::{
    Choice, Ending, Handover, HandoverOptions, Lease, LeaseOptions, ListenOptions, Mode, Protocol,
    Registry, ScopedLease, is_alive, parse_registry,
};

const NAMES: [&str; 3] = ["a", "b", "c"];
/// Names 0–2 are NAMES in the default namespace, 3–5 the same names in `blue`.
const KEYS: usize = 2 * NAMES.len();
const BLUE: &str = "blue";

/// The two handles, one per namespace, on one file.
struct Handles([Registry; 2]);

impl Handles {
    fn at(&self, n: usize) -> &Registry {
        &self.0[n / NAMES.len()]
    }
    fn advance(&self, secs: u64) {
        for reg in &self.0 {
            reg.advance_clock_for_tests(secs);
        }
    }
}

fn name(n: usize) -> &'static str {
    NAMES[n % NAMES.len()]
}

/// A lease's identity across namespaces: (namespace, name).
fn key_of(n: usize) -> (Option<String>, String) {
    let ns = (n >= NAMES.len()).then(|| BLUE.to_owned());
    (ns, name(n).to_owned())
}
const OWNERS: usize = 3;
const POOL_SIZE: u16 = 3;

#[derive(Clone, Debug)]
enum Op {
    Register {
        name: usize,
        offset: u16,
        fixed: bool,
        owner: Option<usize>,
        ttl: Option<u64>,
        protocol: Protocol,
    },
    Allocate {
        name: usize,
        owner: Option<usize>,
        ttl: Option<u64>,
        protocol: Protocol,
    },
    Release(usize),
    /// Release with `release_all`: both generations of a handover.
    ReleaseAll(usize),
    /// Begin a handover: `how` 0 plain, 1 a retry with the last ticket seen, 2 supersede.
    Begin(usize, Option<usize>, u8),
    /// Commit, with the last ticket seen for the name when `ticket`.
    Commit(usize, Option<usize>, bool),
    Abort(usize, Option<usize>, bool),
    /// Begin a handover of two names of one namespace in one change (`supersede`).
    BatchBegin(usize, usize, bool),
    /// Commit (`true`) or abort two names' handovers with their last tickets, in one change.
    BatchEnd(usize, usize, bool),
    Renew(usize, Option<u64>),
    Gc,
    Kill(usize),
    Advance(u64),
    /// A scoped lease for this process, from the pool or as `register` chooses.
    Scope {
        name: usize,
        offset: Option<u16>,
    },
    /// The scope of a name ends (released only if this process's scope still holds it).
    EndScope(usize),
    /// Lease and bind in one step, from the pool; the socket is kept open.
    Listen(usize),
    /// Another process compacted the file in place (same inode, same size, a new generation)
    /// while releasing this name.
    CompactRelease(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let name = 0..KEYS;
    let owner = proptest::option::of(0..OWNERS);
    let ttl = proptest::option::weighted(0.3, 1..4u64);
    // Mostly TCP (as handovers, scopes and listen lease), so that every kind of lease meets
    // the others on the same ports.
    let protocol = prop_oneof![
        4 => Just(Protocol::Tcp),
        1 => Just(Protocol::Udp),
        2 => Just(Protocol::TcpUdp),
    ];
    prop_oneof![
        3 => (name.clone(), 0..POOL_SIZE + 2, any::<bool>(), owner.clone(), ttl.clone(), protocol.clone())
            .prop_map(|(name, offset, fixed, owner, ttl, protocol)| Op::Register {
                name, offset, fixed, owner, ttl, protocol
            }),
        3 => (name.clone(), owner.clone(), ttl, protocol).prop_map(|(name, owner, ttl, protocol)| {
            Op::Allocate { name, owner, ttl, protocol }
        }),
        1 => name.clone().prop_map(Op::Release),
        1 => name.clone().prop_map(Op::ReleaseAll),
        3 => (name.clone(), owner.clone(), 0..3u8).prop_map(|(n, o, h)| Op::Begin(n, o, h)),
        1 => (name.clone(), owner.clone(), any::<bool>()).prop_map(|(n, o, t)| Op::Commit(n, o, t)),
        1 => (name.clone(), owner, any::<bool>()).prop_map(|(n, o, t)| Op::Abort(n, o, t)),
        1 => (name.clone(), 0..NAMES.len() - 1, any::<bool>())
            .prop_map(|(n, d, s)| Op::BatchBegin(n, pair(n, d), s)),
        1 => (name.clone(), 0..NAMES.len() - 1, any::<bool>())
            .prop_map(|(n, d, c)| Op::BatchEnd(n, pair(n, d), c)),
        1 => (name.clone(), proptest::option::of(1..4u64)).prop_map(|(n, t)| Op::Renew(n, t)),
        1 => Just(Op::Gc),
        1 => (0..OWNERS).prop_map(Op::Kill),
        1 => (1..3u64).prop_map(Op::Advance),
        2 => (name.clone(), proptest::option::of(0..POOL_SIZE + 2))
            .prop_map(|(name, offset)| Op::Scope { name, offset }),
        1 => name.clone().prop_map(Op::EndScope),
        2 => name.clone().prop_map(Op::Listen),
        1 => name.prop_map(Op::CompactRelease),
    ]
}

/// Another name of `n`'s namespace, `d` (0 or 1) choosing which.
fn pair(n: usize, d: usize) -> usize {
    let base = n - n % NAMES.len();
    base + (n % NAMES.len() + 1 + d) % NAMES.len()
}

/// Owner processes the operations refer to by index; a killed one stays dead (its pid is
/// then refused as an owner, and leases it owned are stale).
struct Owners(Vec<Child>);

impl Owners {
    fn new() -> Owners {
        Owners(
            (0..OWNERS)
                .map(|_| Command::new("sleep").arg("300").spawn().unwrap())
                .collect(),
        )
    }
    fn pid(&self, i: Option<usize>) -> Option<u32> {
        i.map(|i| self.0[i].id())
    }
    fn kill(&mut self, i: usize) {
        let _ = self.0[i].kill();
        let _ = self.0[i].wait();
    }
}

impl Drop for Owners {
    fn drop(&mut self) {
        for i in 0..self.0.len() {
            self.kill(i);
        }
    }
}

/// The names that an operation may legitimately take ports away from.
fn targets(op: &Op) -> Vec<(Option<String>, String)> {
    match op {
        Op::Release(n)
        | Op::ReleaseAll(n)
        | Op::Commit(n, _, _)
        | Op::Abort(n, _, _)
        | Op::Begin(n, _, _)
        | Op::EndScope(n)
        | Op::CompactRelease(n) => vec![key_of(*n)],
        Op::BatchBegin(a, b, _) | Op::BatchEnd(a, b, _) => vec![key_of(*a), key_of(*b)],
        _ => Vec::new(),
    }
}

/// The ports a lease holds for a live owner at `now` (seconds since the epoch, as the
/// handle's clock reads): the current port while its owner lives (or it has none), the next
/// port while the next generation's owner lives (or it has none), nothing once expired.
fn protected(lease: &Lease, now: u64) -> Vec<u16> {
    // A second of margin: a lease that expires while the operation runs may go.
    if lease.expires.is_some_and(|e| e <= now + 1) {
        return Vec::new();
    }
    let alive = |o: &Option<portpool_core::Owner>| o.as_ref().is_none_or(is_alive);
    let mut ports = Vec::new();
    let next_alive = lease.next.map(|n| alive(&n.owner));
    if alive(&lease.owner) {
        ports.push(lease.port);
    }
    if let (Some(next), Some(true)) = (lease.next, next_alive) {
        ports.push(next.port);
    }
    ports
}

fn holdings(reg: &Registry) -> Vec<Lease> {
    let bytes = std::fs::read(reg.path()).unwrap_or_default();
    if bytes.is_empty() {
        return Vec::new();
    }
    let (leases, _) = parse_registry(reg.path(), &bytes).expect("the file reads back");
    leases
}

/// What this process holds between operations: its open scopes and listening sockets.
#[derive(Default)]
struct Held {
    scopes: HashMap<usize, ScopedLease>,
    sockets: Vec<OwnedFd>,
}

/// The port a socket is bound to.
fn bound_port(fd: &OwnedFd) -> u16 {
    let socket = socket2::SockRef::from(fd);
    socket.local_addr().unwrap().as_socket().unwrap().port()
}

/// What this process holds between operations: the last ticket a begin returned per name.
type Tickets = HashMap<usize, u64>;

/// Applies `op`; returns the handovers its begins returned (name index, handover, whether it
/// was asked to supersede or retry), for the caller to check against the state before.
/// Errors are part of the rules (conflicts, exhaustion, a dead pid refused); what they must
/// not do is change the invariants, which the caller checks.
fn apply(
    regs: &Handles,
    owners: &mut Owners,
    held: &mut Held,
    tickets: &mut Tickets,
    op: &Op,
    base: u16,
    skew: &mut u64,
) -> Vec<(usize, Handover, bool)> {
    if let Some(begun) = apply_handover(regs, owners, tickets, op) {
        return begun;
    }
    let reg = |n: usize| regs.at(n);
    let opts = |owner: &Option<usize>, ttl: &Option<u64>, protocol: &Protocol| LeaseOptions {
        pid: owners.pid(*owner),
        ttl: *ttl,
        protocol: *protocol,
        ..LeaseOptions::default()
    };
    let _ = match op {
        Op::Register {
            name: n,
            offset,
            fixed,
            owner,
            ttl,
            protocol,
        } => {
            let mode = if *fixed { Mode::Fixed } else { Mode::Flexible };
            reg(*n)
                .register(name(*n), base + offset, mode, &opts(owner, ttl, protocol))
                .map(drop)
        }
        Op::Allocate {
            name: n,
            owner,
            ttl,
            protocol,
        } => reg(*n)
            .allocate(name(*n), "p", &opts(owner, ttl, protocol))
            .map(drop),
        Op::Release(n) => reg(*n).release(name(*n)).map(drop),
        Op::ReleaseAll(n) => reg(*n).release_all(name(*n)).map(drop),
        Op::Renew(n, t) => reg(*n).renew(name(*n), *t).map(drop),
        Op::Gc => reg(0).gc().map(drop),
        Op::Kill(i) => {
            owners.kill(*i);
            Ok(())
        }
        Op::Advance(secs) => {
            regs.advance(*secs);
            *skew += secs;
            Ok(())
        }
        Op::Scope { name, offset } => scope_op(reg(*name), *name, *offset, base, held),
        Op::EndScope(n) => match held.scopes.remove(n) {
            Some(scope) => scope.release(reg(*n)).map(drop),
            None => Ok(()),
        },
        Op::Listen(n) => listen_op(reg(*n), *n, held),
        Op::CompactRelease(_) => Ok(()),
        _ => unreachable!("handovers are applied by apply_handover"),
    };
    Vec::new()
}

/// A scoped lease for this process, from the pool or at `base + offset`, kept in `held`.
fn scope_op(
    reg: &Registry,
    n: usize,
    offset: Option<u16>,
    base: u16,
    held: &mut Held,
) -> portpool_core::Result<()> {
    let choice = match offset {
        Some(offset) => Choice::Ports {
            ports: vec![base + offset],
            mode: Mode::Flexible,
        },
        None => Choice::Pool(Some("p".into())),
    };
    let scope = reg.lease_scoped(name(n), &choice, &LeaseOptions::default())?;
    held.scopes.insert(n, scope);
    Ok(())
}

/// `listen` from the pool, keeping the socket; checks that it is bound to the very port the
/// lease names, and that the lease holds it.
fn listen_op(reg: &Registry, n: usize, held: &mut Held) -> portpool_core::Result<()> {
    let bound = reg.listen(
        name(n),
        &Choice::Pool(Some("p".into())),
        &LeaseOptions::default(),
        &ListenOptions::default(),
    )?;
    assert_eq!(bound_port(&bound.fd), bound.port);
    let lease = reg.get(name(n)).unwrap().expect("listen leased the name");
    assert!(
        lease.ports().any(|p| p == bound.port),
        "{lease:?} vs {}",
        bound.port
    );
    held.sockets.push(bound.fd);
    Ok(())
}

/// Applies `op` when it is a handover operation (`None` otherwise), keeping `tickets`.
fn apply_handover(
    regs: &Handles,
    owners: &Owners,
    tickets: &mut Tickets,
    op: &Op,
) -> Option<Vec<(usize, Handover, bool)>> {
    let ending = |n: usize, with: bool, tickets: &Tickets| Ending {
        name: name(n),
        ticket: tickets.get(&n).copied().filter(|_| with),
    };
    let mut begun = Vec::new();
    match op {
        Op::Begin(n, o, how) => {
            let options = HandoverOptions {
                pid: owners.pid(*o),
                ticket: tickets.get(n).copied().filter(|_| *how == 1),
                supersede: *how == 2,
            };
            if let Ok(h) = regs.at(*n).begin_handover_with(name(*n), &options) {
                begun.push((*n, h, *how != 0));
            }
        }
        Op::Commit(n, o, t) | Op::Abort(n, o, t) => {
            let reg = regs.at(*n);
            let e = ending(*n, *t, tickets);
            let _ = match op {
                Op::Commit(..) => reg.commit_handover_ticket(e.name, owners.pid(*o), e.ticket),
                _ => reg.abort_handover_ticket(e.name, owners.pid(*o), e.ticket),
            };
        }
        Op::BatchBegin(a, b, supersede) => {
            let options = HandoverOptions {
                supersede: *supersede,
                ..HandoverOptions::default()
            };
            if let Ok(hs) = regs.at(*a).begin_handovers(&[name(*a), name(*b)], &options) {
                begun.extend(
                    [*a, *b]
                        .into_iter()
                        .zip(hs)
                        .map(|(n, h)| (n, h, *supersede)),
                );
            }
        }
        Op::BatchEnd(a, b, commit) => {
            let endings = [ending(*a, true, tickets), ending(*b, true, tickets)];
            let reg = regs.at(*a);
            let _ = match commit {
                true => reg.commit_handovers(&endings, None),
                false => reg.abort_handovers(&endings, None),
            };
        }
        _ => return None,
    }
    for (n, h, _) in &begun {
        tickets.insert(*n, h.ticket);
    }
    Some(begun)
}

/// What another process's compaction in place does while it releases the lease of `key` (namespace, name): the registry
/// rewritten into the same inode as a snapshot of a new generation, padded with blank lines
/// to the size it had (so that inode and size alone cannot tell), and cut there.
fn compact_release(path: &std::path::Path, key: &(Option<String>, String)) {
    use std::os::unix::fs::FileExt;
    let size = std::fs::metadata(path).unwrap().len() as usize;
    let now = open(path);
    let mut text = String::from("{\"version\":2,\"generation\":\"");
    text.push_str(&format!("{:016x}\"}}\n", rand_u64()));
    for pool in now.pools().unwrap() {
        text.push_str(&format!(
            "{{\"pool\":{}}}\n",
            serde_json::to_string(&pool).unwrap()
        ));
    }
    for lease in now
        .list_all_namespaces()
        .unwrap()
        .into_iter()
        .filter(|l| (&l.namespace, &l.name) != (&key.0, &key.1))
    {
        text.push_str(&format!(
            "{{\"lease\":{}}}\n",
            serde_json::to_string(&lease).unwrap()
        ));
    }
    let mut bytes = text.into_bytes();
    while bytes.len() < size {
        let pad = (size - bytes.len()).min(64);
        bytes.extend(std::iter::repeat_n(b' ', pad - 1));
        bytes.push(b'\n');
    }
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.write_all_at(&bytes, 0).unwrap();
    file.set_len(bytes.len() as u64).unwrap();
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::Instant::now())
}

fn now(skew: u64) -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + skew
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn random_operations_keep_every_invariant(ops in proptest::collection::vec(op(), 1..40)) {
        let s = scratch();
        let regs = Handles([open(&s.path), open(&s.path).with_namespace(Some(BLUE)).unwrap()]);
        let base = free_block(POOL_SIZE + 2);
        regs.at(0).set_pool("p", base, base + POOL_SIZE - 1, Some(false)).unwrap();
        let mut owners = Owners::new();
        let mut held = Held::default();
        let mut tickets = Tickets::new();
        let mut skew = 0;
        let watcher = open(&s.path);
        for op in &ops {
            if let Op::CompactRelease(n) = op {
                compact_release(&s.path, &key_of(*n));
            }
            let recorded = holdings(regs.at(0));
            let before: HashMap<(Option<String>, String), Vec<u16>> = recorded
                .iter()
                .map(|l| ((l.namespace.clone(), l.name.clone()), protected(l, now(skew))))
                .collect();
            // The clock before the call: a handover the registry found under way (a retry)
            // was under way then too, even when the second ticks over during the call.
            let started = now(skew);
            let begun = apply(&regs, &mut owners, &mut held, &mut tickets, op, base, &mut skew);
            let after = holdings(regs.at(0));
            // The file reads back through a fresh handle too, and a long-lived one reads the
            // same.
            let stored = |reg: &Registry| {
                let mut leases = reg.list_all_namespaces().unwrap();
                leases.iter_mut().for_each(|l| l.stale = None);
                leases
            };
            prop_assert_eq!(stored(&watcher), stored(&open(&s.path)), "after {:?}", op);
            let mut held = HashSet::new();
            for lease in &after {
                for port in lease.ports() {
                    for part in lease.protocol.parts() {
                        prop_assert!(
                            held.insert((port, *part)),
                            "{port}/{part} has two holders after {op:?}"
                        );
                    }
                }
            }
            for (n, handover, asked) in begun {
                // A begin that was neither a retry nor a supersede found no handover under
                // way that a live next generation (or none) still holds.
                let pending = recorded
                    .iter()
                    .find(|l| (l.namespace.clone(), l.name.clone()) == key_of(n))
                    .and_then(|l| l.next.filter(|_| protected(l, now(skew)).len() > 1));
                prop_assert!(
                    asked || pending.is_none(),
                    "{op:?} began {handover:?} while {pending:?} was under way"
                );
                let pending_then = recorded
                    .iter()
                    .find(|l| (l.namespace.clone(), l.name.clone()) == key_of(n))
                    .filter(|l| l.expires.is_none_or(|e| e > started))
                    .and_then(|l| l.next);
                prop_assert!(
                    handover.created || pending_then.is_some_and(|p| p.ticket == handover.ticket)
                );
            }
            for (name, ports) in before {
                if targets(op).contains(&name) {
                    continue;
                }
                let lease = after
                    .iter()
                    .find(|l| (l.namespace.clone(), l.name.clone()) == name);
                for port in ports {
                    prop_assert!(
                        lease.is_some_and(|l| l.ports().any(|p| p == port)),
                        "{name:?} lost live port {port} to {op:?}: now {lease:?}"
                    );
                }
            }
        }
    }
}
