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

/// The first of `n` consecutive ports, below the kernel's ephemeral range, that are free for
/// both TCP and UDP right now. Test processes start at different places.
pub fn free_block(n: u16) -> u16 {
    let busy = |p: &u16| {
        !is_free_at(*p, Protocol::Tcp, None).unwrap()
            || !is_free_at(*p, Protocol::Udp, None).unwrap()
    };
    let mut start = 20000 + (std::process::id() as u16).wrapping_mul(7919) % 9000;
    loop {
        match (start..start + n).find(busy) {
            None => return start,
            Some(taken) => start = taken + 1,
        }
    }
}

/// Like [`free_block`], but each call in this process starts past the blocks handed out
/// before: for tests that bind real sockets while the other tests of their binary run.
pub fn own_block(n: u16) -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let busy = |p: &u16| {
        !is_free_at(*p, Protocol::Tcp, None).unwrap()
            || !is_free_at(*p, Protocol::Udp, None).unwrap()
    };
    let base = 20000 + (std::process::id() as u16).wrapping_mul(7919) % 9000;
    loop {
        let offset = NEXT.fetch_add(n + 8, Ordering::Relaxed);
        let start = base + offset % 3000;
        if !(start..start + n).any(|p| busy(&p)) {
            return start;
        }
    }
}
