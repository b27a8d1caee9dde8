//! Who this process is, as the host's user and group databases record it (getpwuid, getgrgid):
//! for the hint a refused change gives on a registry shared with a group, and for naming the
//! users and groups of leases, pools and the host registry's files.

use std::ffi::CStr;

use crate::sys;

/// What a user refused a change to a registry that group `group` (id `gid`) may change should
/// do, e.g. "to join, ask an administrator to run: usermod -aG portpool alice", or, for a user
/// the group database lists whose session began before: "log in again, or run `newgrp
/// portpool`". The user is named from the passwd entry of this process's user ($USER when it
/// has none), never by a bare uid.
pub(crate) fn join_hint(group: &str, gid: u32) -> String {
    let uid = sys::geteuid();
    let user = user_name(uid).or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()));
    let listed = user
        .as_deref()
        .is_some_and(|user| listed_in_group(user, uid, gid));
    hint(group, uid, user.as_deref(), listed && !sys::in_group(gid))
}

/// The hint's text: `pending` when the group lists the user but this session does not have
/// the group yet.
fn hint(group: &str, uid: u32, user: Option<&str>, pending: bool) -> String {
    match user {
        Some(user) if pending => format!(
            "{user} is in group {group}, but this session began before: log in again, or run `newgrp {group}`"
        ),
        Some(user) => format!("to join, ask an administrator to run: usermod -aG {group} {user}"),
        None => format!(
            "to join, an administrator must give uid {uid} a user name (the passwd database has none) and add it to group {group}"
        ),
    }
}

/// What the passwd database records of a user: its name (when it has one) and its primary
/// group.
struct PasswdEntry {
    name: Option<String>,
    gid: u32,
}

/// What the group database records of a group: its name (when it has one) and the users it
/// lists.
struct GroupEntry {
    name: Option<String>,
    members: Vec<Vec<u8>>,
}

/// The size of the buffer the `_r` lookups fill: far more than any entry takes.
const ENTRY_BUFFER: usize = 16 * 1024;

/// `ptr` as a string, when it is not NULL.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string.
unsafe fn text(ptr: *const libc::c_char) -> Option<String> {
    // SAFETY: as the caller's contract says.
    (!ptr.is_null()).then(|| {
        unsafe { CStr::from_ptr(ptr) }
            .to_string_lossy()
            .into_owned()
    })
}

/// User `uid`'s passwd entry (getpwuid_r), if the database has one.
fn passwd_entry(uid: u32) -> Option<PasswdEntry> {
    // SAFETY: a passwd of zeroes is a valid value for getpwuid_r to fill.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0u8; ENTRY_BUFFER];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call, and buf's length is passed with it.
    let rc = unsafe {
        libc::getpwuid_r(
            uid,
            &mut pw,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return None;
    }
    Some(PasswdEntry {
        // SAFETY: getpwuid_r succeeded: pw_name is NULL or a string in buf.
        name: unsafe { text(pw.pw_name) },
        gid: pw.pw_gid,
    })
}

/// Group `gid`'s entry (getgrgid_r), if the database has one.
fn group_entry(gid: u32) -> Option<GroupEntry> {
    // SAFETY: a group of zeroes is a valid value for getgrgid_r to fill.
    let mut group: libc::group = unsafe { std::mem::zeroed() };
    let mut buf = vec![0u8; ENTRY_BUFFER];
    let mut result: *mut libc::group = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call, and buf's length is passed with it.
    let rc = unsafe {
        libc::getgrgid_r(
            gid,
            &mut group,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return None;
    }
    let mut members = Vec::new();
    let mut member = group.gr_mem;
    // SAFETY: gr_mem is NULL or a NULL-terminated array of NUL-terminated strings in buf.
    unsafe {
        while !member.is_null() && !(*member).is_null() {
            members.push(CStr::from_ptr(*member).to_bytes().to_vec());
            member = member.add(1);
        }
    }
    Some(GroupEntry {
        // SAFETY: getgrgid_r succeeded: gr_name is NULL or a string in buf.
        name: unsafe { text(group.gr_name) },
        members,
    })
}

/// The name of user `uid` in the passwd database.
fn user_name(uid: u32) -> Option<String> {
    passwd_entry(uid)?.name.filter(|n| !n.is_empty())
}

/// Whether the databases make `user` (uid `uid`) a member of group `gid`: it is the primary
/// group of the passwd entry, or the group entry lists the user.
fn listed_in_group(user: &str, uid: u32, gid: u32) -> bool {
    passwd_entry(uid).is_some_and(|pw| pw.gid == gid)
        || group_entry(gid).is_some_and(|g| g.members.iter().any(|m| m == user.as_bytes()))
}

/// The name of group `gid`, or the number when the host has no name for it.
pub fn group_name(gid: u32) -> String {
    group_entry(gid)
        .and_then(|g| g.name)
        .unwrap_or_else(|| gid.to_string())
}

/// `user NAME (uid N)`, or `uid N` when the host has no name for it: how errors name the
/// user who made a lease or pool.
pub(crate) fn user_text(uid: u32) -> String {
    match passwd_entry(uid).and_then(|pw| pw.name) {
        Some(name) => format!("user {name} (uid {uid})"),
        None => format!("uid {uid}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_join_hint_names_the_user_never_a_bare_uid() {
        assert_eq!(user_name(0).as_deref(), Some("root"));
        assert_eq!(
            hint("portpool", 1001, Some("alice"), false),
            "to join, ask an administrator to run: usermod -aG portpool alice"
        );
        let nameless = hint("portpool", 1001, None, false);
        assert!(
            !nameless.contains("usermod -aG portpool 1001"),
            "{nameless}"
        );
        assert!(nameless.contains("user name"), "{nameless}");
    }

    #[test]
    fn a_member_whose_session_predates_the_group_is_told_to_log_in_again() {
        // root's primary group is 0 in every passwd database.
        assert!(listed_in_group("root", 0, 0));
        assert!(!listed_in_group(
            "no-such-user-portpool",
            u32::MAX - 7,
            u32::MAX - 7
        ));
        let pending = hint("portpool", 1001, Some("alice"), true);
        assert!(
            pending.contains("log in again, or run `newgrp portpool`"),
            "{pending}"
        );
        assert!(!pending.contains("administrator"), "{pending}");
    }
}
