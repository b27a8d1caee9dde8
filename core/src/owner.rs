//! Owning processes: recording one, and telling whether it still lives.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::store::model::{Lease, Owner};

/// The owner record for a live process `pid`: its pid, start time and the pid namespace the
/// pid belongs to (this process's).
pub fn owner_of(pid: u32) -> Result<Owner> {
    start_time(pid)
        .map(|start_time| Owner {
            pid,
            start_time,
            pid_ns: own_pid_namespace(),
        })
        .ok_or_else(|| Error::invalid(format!("invalid pid {pid}: no such process")))
}

/// The real user id of process `pid`, or `None` when there is no such process (or its
/// `/proc` entry cannot be read).
pub fn real_uid(pid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    line.split_whitespace().next()?.parse().ok()
}

/// Whether a client whose user and process ids the kernel vouches for (`SO_PEERCRED`) may
/// have a lease made for process `pid`: root may claim any process, anyone else itself or a
/// process whose real user id is theirs. `pid` must be a pid (1 to 2^31 - 1) of a running
/// process.
pub fn may_claim(client_uid: u32, client_pid: u32, pid: u32) -> Result<()> {
    let pid = crate::validate::pid_from_i64(i64::from(pid))?;
    let Some(uid) = real_uid(pid) else {
        return Err(Error::invalid(format!(
            "invalid pid {pid}: no such process"
        )));
    };
    if client_uid == 0 || client_pid == pid || uid == client_uid {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid pid {pid}: process {pid} belongs to uid {uid}"
        )))
    }
}

/// A name for a lease its caller gave none (portpicker's, get-port's and the portserver's
/// ports): `{tool}:{pid}:{start}:{label}{serial}`. This process's pid and start time make
/// it unique on the host (a later process with the same pid started later), the serial
/// unique within this process; `label` says what the lease is for.
pub fn unnamed_lease_name(tool: &str, label: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    let serial = SERIAL.fetch_add(1, Ordering::Relaxed) + 1;
    let me = std::process::id();
    format!("{tool}:{me}:{}:{label}{serial}", own_start_time())
}

/// The pid namespace this process sees pids in: the inode of `/proc/self/ns/pid`. Read on
/// every call (a stat of /proc, as costly as the rest of a change), never kept from one call
/// to the next: a process may move to another namespace. Within a [`with_liveness_memo`]
/// it is read once.
fn own_pid_namespace() -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    let read = || std::fs::metadata("/proc/self/ns/pid").ok().map(|m| m.ino());
    if !MEMO.with(|m| m.borrow().is_some()) {
        return read();
    }
    OWN_NS.with(|own| match own.get() {
        Some(known) => known,
        None => {
            let ns = read();
            own.set(Some(ns));
            ns
        }
    })
}

/// The start time of `pid` in clock ticks after boot, or `None` when no such process exists
/// or it has exited and only its zombie is left (it holds no sockets any more, and a zombie
/// whose parent never reaps it would otherwise keep its leases forever).
fn start_time(pid: u32) -> Option<u64> {
    if pid == std::process::id() {
        return Some(own_start_time());
    }
    read_start_time(pid)
}

/// This process's start time: read once per process (it never changes), since a lease owned
/// by its own caller — a scoped lease, `listen`, the drop-ins — is the common case. Kept in
/// atomics, not a lock, so that a child forked while another thread reads it finds it usable;
/// the child's own pid differs, so it reads its own.
fn own_start_time() -> u64 {
    use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
    static PID: AtomicU32 = AtomicU32::new(0);
    static START: AtomicU64 = AtomicU64::new(0);
    let me = std::process::id();
    if PID.load(Ordering::Acquire) == me {
        return START.load(Ordering::Acquire);
    }
    // A live process always has its stat file; 0 (never a real start time after boot) would
    // only make this process's leases read as another process's.
    let start = read_start_time(me).unwrap_or(0);
    START.store(start, Ordering::Release);
    PID.store(me, Ordering::Release);
    start
}

fn read_start_time(pid: u32) -> Option<u64> {
    match read_stat(pid)? {
        Seen::Running(start) => Some(start),
        Seen::Exited => None,
    }
}

/// Whether `owner` is still the process it was: the pid exists and started at the same time
/// (a recycled pid has another start time). An owner recorded in another pid namespace than
/// this process's cannot be seen from here and counts as alive: its pid would name another
/// process, or none, in this namespace.
///
/// A process whose `/proc` entry this process cannot read (`/proc` mounted with
/// `hidepid=invisible` or `hidepid=noaccess`, or a service under systemd's `ProtectProc=`)
/// counts as alive while the kernel says the pid exists (`kill(pid, 0)` answers anything
/// but `ESRCH`): its start time cannot be compared, and taking a hidden live owner for dead
/// would hand its port to someone else. Only `ESRCH`, or a start time that differs, ends it.
pub fn is_alive(owner: &Owner) -> bool {
    let key = (owner.pid, owner.start_time, owner.pid_ns);
    if let Some(known) = MEMO.with(|m| m.borrow().as_ref().and_then(|m| m.get(&key).copied())) {
        return known;
    }
    let alive = read_alive(owner);
    MEMO.with(|m| {
        if let Some(memo) = m.borrow_mut().as_mut() {
            memo.insert(key, alive);
        }
    });
    alive
}

fn read_alive(owner: &Owner) -> bool {
    if let (Some(theirs), Some(ours)) = (owner.pid_ns, own_pid_namespace())
        && theirs != ours
    {
        return true;
    }
    if owner.pid == std::process::id() {
        return own_start_time() == owner.start_time;
    }
    match read_stat(owner.pid) {
        Some(Seen::Running(start)) => start == owner.start_time,
        Some(Seen::Exited) => false,
        None => crate::sys::pid_exists(owner.pid),
    }
}

/// What `/proc/PID/stat` shows of a process.
enum Seen {
    /// Running (or stopped), started at this many clock ticks after boot.
    Running(u64),
    /// Exited, and only its zombie is left.
    Exited,
}

/// `None` when `/proc/PID/stat` cannot be read: no such process, or one hidden from this
/// process (`hidepid=`).
fn read_stat(pid: u32) -> Option<Seen> {
    let pid = i32::try_from(pid).ok().filter(|p| *p > 0)?;
    let stat = procfs::process::Process::new(pid)
        .and_then(|p| p.stat())
        .ok()?;
    Some(if matches!(stat.state, 'Z' | 'X') {
        Seen::Exited
    } else {
        Seen::Running(stat.starttime)
    })
}

// Ordered, not hashed: a memo holds a few owners (a farm's workers), and a lookup per lease
// costs a few comparisons instead of a SipHash.
type Liveness = std::collections::BTreeMap<(u32, u64, Option<u64>), bool>;

thread_local! {
    /// While [`with_liveness_memo`] runs on this thread: what [`is_alive`] found so far.
    static MEMO: std::cell::RefCell<Option<Liveness>> = const { std::cell::RefCell::new(None) };
    /// While [`with_liveness_memo`] runs on this thread: this process's pid namespace, once
    /// read.
    static OWN_NS: std::cell::Cell<Option<Option<u64>>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` with each owner's liveness read at most once: a choice that passes over a whole
/// pool of leases held by a few processes (a test farm's workers) reads each process once,
/// not once per lease, so a pool with no free port refuses about as fast as one with a free
/// port answers. Within one choice, under the registry's lock, an owner found alive is
/// taken as alive throughout, as a scan reading it once per lease would find it a moment
/// earlier anyway. A handover's change runs in one too: its lease's owner and next owner
/// (the same process, in a reload) are read once, and so is this process's pid namespace,
/// each a stat of /proc, while the lock is held.
pub(crate) fn with_liveness_memo<T>(f: impl FnOnce() -> T) -> T {
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            MEMO.with(|m| *m.borrow_mut() = None);
            OWN_NS.with(|own| own.set(None));
        }
    }
    if MEMO.with(|m| m.borrow().is_some()) {
        return f(); // an outer call keeps its memo
    }
    MEMO.with(|m| *m.borrow_mut() = Some(Liveness::new()));
    let _clear = Clear;
    f()
}

/// What a recorded lease amounts to at a given moment. The one rule for staleness: every
/// call that reclaims, reports or reads leases (gc, reclaim on allocate, `check`, `who`,
/// `list`, `import`, `renew`, `doctor`, `get`) goes through [`standing`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Standing {
    /// It holds every port it records.
    Held,
    /// Its time to live ran out: it holds nothing any more, the next port included.
    Expired(String),
    /// Its owner (and the next generation's, during a handover) is gone: it holds nothing.
    Gone(String),
    /// Its owner is gone while a handover is under way whose next generation is not known
    /// to be gone: the handover counts as committed, and the next port is the lease.
    Committed(String),
    /// The next generation's owner is gone: the next port is free again, the current one
    /// still held.
    NextGone(String),
}

impl Standing {
    /// Why the lease is not simply held, if it is not.
    pub(crate) fn reason(&self) -> Option<&str> {
        match self {
            Standing::Held => None,
            Standing::Expired(why)
            | Standing::Gone(why)
            | Standing::Committed(why)
            | Standing::NextGone(why) => Some(why),
        }
    }
}

fn is_gone(owner: Option<&Owner>) -> bool {
    owner.is_some_and(|o| !is_alive(o))
}

/// How `lease` stands at `now` (time since the Unix epoch). A time to live ends the whole
/// lease, the next port included. Otherwise owners decide: no owner never dies; a dead
/// current owner with a live next generation (or one named by no pid) commits the handover;
/// a dead next owner frees only the next port; both dead free both.
pub(crate) fn standing(lease: &Lease, now: Duration) -> Standing {
    if let Some(expires) = lease.expires {
        let expires = Duration::from_secs(expires);
        if expires <= now {
            return Standing::Expired(format!("expired {}s ago", (now - expires).as_secs()));
        }
    }
    let current_gone = is_gone(lease.owner.as_ref());
    let Some(next) = lease.next else {
        return match lease.owner {
            Some(o) if current_gone => Standing::Gone(format!("owner pid {} is gone", o.pid)),
            _ => Standing::Held,
        };
    };
    let next_gone = is_gone(next.owner.as_ref());
    let pid = |o: Option<Owner>| o.map_or(0, |o| o.pid);
    match (current_gone, next_gone) {
        (true, true) => Standing::Gone(format!(
            "owner pid {} and the next generation's owner pid {} are gone",
            pid(lease.owner),
            pid(next.owner)
        )),
        (true, false) => Standing::Committed(match next.owner {
            Some(o) => format!(
                "owner pid {} is gone; the next generation (pid {}) on port {} took over",
                pid(lease.owner),
                o.pid,
                next.port
            ),
            None => format!(
                "owner pid {} is gone; the next generation on port {} took over",
                pid(lease.owner),
                next.port
            ),
        }),
        (false, true) => Standing::NextGone(format!(
            "the next generation's owner pid {} is gone; its port {} is free again",
            pid(next.owner),
            next.port
        )),
        (false, false) => Standing::Held,
    }
}

/// `lease` as it stands at `now`: `None` when it holds nothing any more; a committed or
/// abandoned handover applied. The name never changes.
pub(crate) fn settled(lease: &Lease, now: Duration) -> (Option<Lease>, Standing) {
    let standing = standing(lease, now);
    let view = match &standing {
        Standing::Held => Some(lease.clone()),
        Standing::Expired(_) | Standing::Gone(_) => None,
        Standing::Committed(_) => lease.next.map(|next| Lease {
            port: next.port,
            created: next.created,
            owner: next.owner,
            next: None,
            ..lease.clone()
        }),
        Standing::NextGone(_) => Some(Lease {
            next: None,
            ..lease.clone()
        }),
    };
    (view, standing)
}

#[cfg(test)]
mod tests {
    #[test]
    fn within_one_choice_each_owners_liveness_is_read_once() {
        let mut child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        let owner = super::owner_of(child.id()).unwrap();
        super::with_liveness_memo(|| {
            assert!(super::is_alive(&owner));
            child.kill().unwrap();
            child.wait().unwrap();
            assert!(
                super::is_alive(&owner),
                "the first answer stands within the choice"
            );
        });
        assert!(!super::is_alive(&owner), "a new choice reads it again");
    }

    use super::*;

    #[test]
    fn this_processs_start_time_is_read_once_and_matches_proc() {
        let me = std::process::id();
        assert_eq!(start_time(me), read_start_time(me));
        assert_eq!(start_time(me), start_time(me));
        assert_ne!(own_start_time(), 0);
        // A forked child reads its own (its pid differs), not the parent's cached one.
        // SAFETY: the child only reads /proc through std and procfs, then `_exit`s.
        let child = unsafe { libc::fork() };
        assert!(child >= 0);
        if child == 0 {
            let ok = start_time(std::process::id()) == read_start_time(std::process::id())
                && start_time(me) == read_start_time(me);
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let mut status = 0;
        assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    }

    #[test]
    fn the_current_process_is_alive_and_a_recycled_pid_is_not() {
        let me = owner_of(std::process::id()).unwrap();
        assert!(is_alive(&me));
        let recycled = Owner {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(!is_alive(&recycled));
    }

    #[test]
    fn an_owner_in_another_pid_namespace_is_never_taken_for_dead() {
        let me = owner_of(std::process::id()).unwrap();
        assert!(me.pid_ns.is_some());
        let elsewhere = Owner {
            pid: u32::MAX - 1,
            start_time: 1,
            pid_ns: me.pid_ns.map(|ns| ns + 1),
        };
        assert!(is_alive(&elsewhere));
        let unrecorded = Owner {
            pid_ns: None,
            ..elsewhere
        };
        assert!(!is_alive(&unrecorded));
    }

    #[test]
    fn an_exited_process_left_as_a_zombie_is_not_alive() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        // Not reaped yet: only its zombie is left once it has exited.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while procfs::process::Process::new(pid as i32)
            .and_then(|p| p.stat())
            .is_ok_and(|s| s.state != 'Z')
        {
            assert!(std::time::Instant::now() < deadline, "true never exited");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(owner_of(pid).is_err(), "a zombie is no owner");
        child.wait().unwrap();
    }

    #[test]
    fn unknown_pids_are_invalid() {
        assert!(owner_of(0).is_err());
        assert!(owner_of(u32::MAX).is_err());
    }

    #[test]
    fn a_client_may_claim_itself_and_root_any_process_but_not_another_users() {
        let me = std::process::id();
        let uid = real_uid(me).unwrap();
        assert!(may_claim(uid, me, me).is_ok());
        assert!(may_claim(0, me, 1).is_ok());
        // Another uid claiming this process: refused (pid 1 stands in for "some client").
        let other = if uid == 65534 { 65533 } else { 65534 };
        let err = may_claim(other, 1, me).unwrap_err();
        assert_eq!(
            err.message(),
            format!("invalid pid {me}: process {me} belongs to uid {uid}")
        );
        for gone in [0, u32::MAX / 2, u32::MAX] {
            assert!(may_claim(0, me, gone).is_err(), "pid {gone} accepted");
        }
    }

    #[test]
    fn unnamed_leases_get_names_unique_on_the_host_and_valid() {
        let a = unnamed_lease_name("get-port", "");
        let b = unnamed_lease_name("get-port", "");
        assert_ne!(a, b);
        let me = std::process::id();
        assert!(
            a.starts_with(&format!("get-port:{me}:{}:", own_start_time())),
            "{a}"
        );
        crate::validate::check_name(&unnamed_lease_name("portserver", "pid2147483647-")).unwrap();
    }
}
