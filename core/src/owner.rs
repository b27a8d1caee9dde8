//! Owning processes: recording one, and telling whether it still lives.

use crate::error::{Error, Result};
use crate::model::{Lease, Owner};

/// The owner record for a live process `pid`: its pid and start time.
pub fn owner_of(pid: u32) -> Result<Owner> {
    start_time(pid)
        .map(|start_time| Owner { pid, start_time })
        .ok_or_else(|| Error::invalid(format!("invalid pid {pid}: no such process")))
}

/// The start time of `pid` in clock ticks after boot, or `None` when no such process exists.
fn start_time(pid: u32) -> Option<u64> {
    let pid = i32::try_from(pid).ok().filter(|p| *p > 0)?;
    procfs::process::Process::new(pid)
        .and_then(|p| p.stat())
        .ok()
        .map(|stat| stat.starttime)
}

/// Whether `owner` is still the process it was: the pid exists and started at the same time
/// (a recycled pid has another start time).
pub fn is_alive(owner: &Owner) -> bool {
    start_time(owner.pid) == Some(owner.start_time)
}

/// Why a lease no longer holds its port, if it does not: its owner is gone or its time to
/// live ran out at `now` (seconds since the epoch).
pub fn stale_reason(lease: &Lease, now: u64) -> Option<String> {
    if let Some(expires) = lease.expires.filter(|e| *e <= now) {
        return Some(format!("expired {}s ago", now - expires));
    }
    match lease.owner {
        Some(owner) if !is_alive(&owner) => Some(format!("owner pid {} is gone", owner.pid)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn unknown_pids_are_invalid() {
        assert!(owner_of(0).is_err());
        assert!(owner_of(u32::MAX).is_err());
    }
}
