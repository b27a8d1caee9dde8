//! The host's ownership policy for a registry's files, decided by where its path came from
//! and handed to the store as a value ([`Policy`]): the store itself knows nothing of users,
//! groups or how the host was set up.

use crate::account::{group_name, join_hint};
use crate::paths::{PathSource, REPAIR_HINT};
use crate::store::Policy;

/// The policy for a registry found through `source`: a user's registry is private to them; the
/// host's (and one named by a path) may be read by all; the host registry must exist, and
/// its absence says how to bring it back.
pub(crate) fn policy_for(source: PathSource) -> Policy {
    let (file_mode, dir_mode) = match source {
        PathSource::User => (0o600, 0o700),
        _ => (0o644, 0o755),
    };
    Policy {
        file_mode,
        dir_mode,
        missing: (source == PathSource::Host).then_some(missing_host_registry as fn() -> String),
        group_refusal,
    }
}

/// What to do about a missing host registry, for the user this process runs as.
fn missing_host_registry() -> String {
    if crate::sys::geteuid() == 0 {
        REPAIR_HINT.to_owned()
    } else {
        "ask root to run 'sudo portpool repair'".to_owned()
    }
}

/// Who may change a file of group `gid`, and how this user would join them.
fn group_refusal(gid: u32) -> String {
    let group = group_name(gid);
    let hint = join_hint(&group, gid);
    format!("only its owner and members of group {group} may change it; {hint}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_users_registry_is_private_and_only_the_host_registry_must_exist() {
        let user = policy_for(PathSource::User);
        assert_eq!((user.file_mode, user.dir_mode), (0o600, 0o700));
        assert!(user.missing.is_none());
        for shared in [
            PathSource::Explicit,
            PathSource::Environment,
            PathSource::System,
        ] {
            let policy = policy_for(shared);
            assert_eq!((policy.file_mode, policy.dir_mode), (0o644, 0o755));
            assert!(policy.missing.is_none(), "{shared:?}");
        }
        let host = policy_for(PathSource::Host);
        assert_eq!((host.file_mode, host.dir_mode), (0o644, 0o755));
        let said = (host.missing.expect("the host registry must exist"))();
        assert!(said.contains("portpool repair"), "{said}");
    }

    #[test]
    fn a_refusal_on_a_group_file_names_the_group() {
        let said = (policy_for(PathSource::Host).group_refusal)(0);
        assert!(
            said.starts_with("only its owner and members of group root may change it; "),
            "{said}"
        );
    }
}
