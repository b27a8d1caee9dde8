//! Helpers shared by the core test suites.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use portpool_core::{LeaseOptions, Protocol, Registry, is_free_at};

/// A registry path in a directory of its own, removed with the value.
pub struct Scratch {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

pub fn scratch() -> Scratch {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.json");
    Scratch { dir, path }
}

pub fn open(path: &Path) -> Registry {
    Registry::open(Some(path)).unwrap()
}

pub fn tcp() -> LeaseOptions {
    LeaseOptions::default()
}

pub fn udp() -> LeaseOptions {
    LeaseOptions {
        protocol: Protocol::Udp,
        ..Default::default()
    }
}

/// The first of `n` consecutive ports in 20000-31999 (below the kernel's ephemeral range)
/// that are free for both TCP and UDP right now. Each call in this process starts past the
/// blocks handed out before, from a start that differs per process, so the tests of one binary,
/// which run at once and may bind real sockets, do not meet; at most 400 blocks are tried.
pub fn free_block(n: u16) -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    const LO: u16 = 20000;
    const SPAN: u16 = 12000;
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let busy = |p: u16| {
        !is_free_at(p, Protocol::Tcp, None).unwrap() || !is_free_at(p, Protocol::Udp, None).unwrap()
    };
    assert!(
        n > 0 && n < SPAN,
        "free_block({n}): 1 to {} ports",
        SPAN - 1
    );
    let base = (std::process::id() as u16).wrapping_mul(7919) % SPAN;
    for _ in 0..400 {
        let offset = NEXT.fetch_add(n + 8, Ordering::Relaxed);
        let start = LO + ((u32::from(base) + u32::from(offset)) % u32::from(SPAN - n)) as u16;
        if !(start..start + n).any(busy) {
            return start;
        }
    }
    panic!(
        "no {n} consecutive free ports in {LO}-{} after 400 tries",
        LO + SPAN - 1
    )
}
