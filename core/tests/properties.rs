//! The lease rules, proven over random sequences of operations, owner deaths and expiries.
//!
//! After every step: the file reads back (through a fresh handle and the plain parser), no
//! (port, protocol) has two holders, and no port held by a live owner — current or next — was
//! taken from its lease by an operation on another name. Scoped leases (entered and left) and
//! `listen` (whose socket must be bound to the very port its lease names) are among the
//! operations, and so is another process compacting the file in place while releasing a
//! name, padded to the very size it had (same inode, same size, a new generation): a
//! long-lived second handle must always read what a fresh one reads.

mod common;

use std::collections::{HashMap, HashSet};
use std::os::fd::OwnedFd;
use std::process::{Child, Command};

use proptest::prelude::*;

use common::{free_block, open, scratch};
use portpool_core::{
    Choice, Lease, LeaseOptions, ListenOptions, Mode, Protocol, Registry, ScopedLease, is_alive,
    parse_registry,
};

const NAMES: [&str; 3] = ["a", "b", "c"];
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
    },
    Allocate {
        name: usize,
        owner: Option<usize>,
        ttl: Option<u64>,
    },
    Release(usize),
    Begin(usize, Option<usize>),
    Commit(usize, Option<usize>),
    Abort(usize, Option<usize>),
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
    let name = 0..NAMES.len();
    let owner = proptest::option::of(0..OWNERS);
    let ttl = proptest::option::weighted(0.3, 1..4u64);
    prop_oneof![
        3 => (name.clone(), 0..POOL_SIZE + 2, any::<bool>(), owner.clone(), ttl.clone()).prop_map(
            |(name, offset, fixed, owner, ttl)| Op::Register { name, offset, fixed, owner, ttl }
        ),
        3 => (name.clone(), owner.clone(), ttl).prop_map(|(name, owner, ttl)| Op::Allocate {
            name,
            owner,
            ttl
        }),
        1 => name.clone().prop_map(Op::Release),
        2 => (name.clone(), owner.clone()).prop_map(|(n, o)| Op::Begin(n, o)),
        1 => (name.clone(), owner.clone()).prop_map(|(n, o)| Op::Commit(n, o)),
        1 => (name.clone(), owner).prop_map(|(n, o)| Op::Abort(n, o)),
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

/// The name that an operation may legitimately take ports away from.
fn target(op: &Op) -> Option<&'static str> {
    match op {
        Op::Release(n)
        | Op::Commit(n, _)
        | Op::Abort(n, _)
        | Op::Begin(n, _)
        | Op::EndScope(n)
        | Op::CompactRelease(n) => Some(NAMES[*n]),
        _ => None,
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

fn apply(reg: &Registry, owners: &mut Owners, held: &mut Held, op: &Op, base: u16, skew: &mut u64) {
    let opts = |owner: &Option<usize>, ttl: &Option<u64>| LeaseOptions {
        pid: owners.pid(*owner),
        ttl: *ttl,
        ..LeaseOptions::default()
    };
    // Errors are part of the rules (conflicts, exhaustion, a dead pid refused); what they
    // must not do is change the invariants, which the caller checks.
    let _ = match op {
        Op::Register {
            name,
            offset,
            fixed,
            owner,
            ttl,
        } => {
            let mode = if *fixed { Mode::Fixed } else { Mode::Flexible };
            reg.register(NAMES[*name], base + offset, mode, &opts(owner, ttl))
                .map(drop)
        }
        Op::Allocate { name, owner, ttl } => {
            reg.allocate(NAMES[*name], "p", &opts(owner, ttl)).map(drop)
        }
        Op::Release(n) => reg.release(NAMES[*n]).map(drop),
        Op::Begin(n, o) => reg.begin_handover(NAMES[*n], owners.pid(*o)).map(drop),
        Op::Commit(n, o) => reg.commit_handover(NAMES[*n], owners.pid(*o)).map(drop),
        Op::Abort(n, o) => reg.abort_handover(NAMES[*n], owners.pid(*o)).map(drop),
        Op::Renew(n, t) => reg.renew(NAMES[*n], *t).map(drop),
        Op::Gc => reg.gc().map(drop),
        Op::Kill(i) => {
            owners.kill(*i);
            Ok(())
        }
        Op::Advance(secs) => {
            reg.advance_clock_for_tests(*secs);
            *skew += secs;
            Ok(())
        }
        Op::Scope { name, offset } => {
            let choice = match offset {
                Some(offset) => Choice::Ports {
                    ports: vec![base + offset],
                    mode: Mode::Flexible,
                },
                None => Choice::Pool(Some("p".into())),
            };
            reg.lease_scoped(NAMES[*name], &choice, &LeaseOptions::default())
                .map(|scope| {
                    held.scopes.insert(*name, scope);
                })
        }
        Op::EndScope(n) => match held.scopes.remove(n) {
            Some(scope) => scope.release(reg).map(drop),
            None => Ok(()),
        },
        Op::Listen(n) => reg
            .listen(
                NAMES[*n],
                &Choice::Pool(Some("p".into())),
                &LeaseOptions::default(),
                &ListenOptions::default(),
            )
            .map(|bound| {
                // The socket is bound to the very port the lease names, and the lease holds it.
                assert_eq!(bound_port(&bound.fd), bound.port);
                let lease = reg.get(NAMES[*n]).unwrap().expect("listen leased the name");
                assert!(
                    lease.ports().any(|p| p == bound.port),
                    "{lease:?} vs {}",
                    bound.port
                );
                held.sockets.push(bound.fd);
            }),
        Op::CompactRelease(_) => Ok(()),
    };
}

/// What another process's compaction in place does while it releases `name`: the registry
/// rewritten into the same inode as a snapshot of a new generation, padded with blank lines
/// to the size it had (so that inode and size alone cannot tell), and cut there.
fn compact_release(path: &std::path::Path, name: &str) {
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
    for lease in now.list().unwrap().into_iter().filter(|l| l.name != name) {
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
        let reg = open(&s.path);
        let base = free_block(POOL_SIZE + 2);
        reg.set_pool("p", base, base + POOL_SIZE - 1, Some(false)).unwrap();
        let mut owners = Owners::new();
        let mut held = Held::default();
        let mut skew = 0;
        let watcher = open(&s.path);
        for op in &ops {
            if let Op::CompactRelease(n) = op {
                compact_release(&s.path, NAMES[*n]);
            }
            let before: HashMap<String, Vec<u16>> = holdings(&reg)
                .iter()
                .map(|l| (l.name.clone(), protected(l, now(skew))))
                .collect();
            apply(&reg, &mut owners, &mut held, op, base, &mut skew);
            let after = holdings(&reg);
            // The file reads back through a fresh handle too, and a long-lived one reads the
            // same.
            let stored = |reg: &Registry| {
                let mut leases = reg.list().unwrap();
                leases.iter_mut().for_each(|l| l.stale = None);
                leases
            };
            prop_assert_eq!(stored(&watcher), stored(&open(&s.path)), "after {:?}", op);
            let mut held = HashSet::new();
            for lease in &after {
                for port in lease.ports() {
                    prop_assert!(
                        held.insert((port, lease.protocol)),
                        "{port}/{} has two holders after {op:?}", lease.protocol
                    );
                }
            }
            prop_assert!(after.iter().all(|l| l.protocol == Protocol::Tcp));
            for (name, ports) in before {
                if target(op) == Some(name.as_str()) {
                    continue;
                }
                let lease = after.iter().find(|l| l.name == name);
                for port in ports {
                    prop_assert!(
                        lease.is_some_and(|l| l.ports().any(|p| p == port)),
                        "{name} lost live port {port} to {op:?}: now {lease:?}"
                    );
                }
            }
        }
    }
}
