//! Where the registry lives: the host registry every user shares, or a per-user one.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The host registry: one per host, for every user, created by `portpool init`.
pub const HOST_REGISTRY: &str = "/var/lib/portpool/registry.json";

/// What every refusal of a damaged host registry ends with: the way back.
pub(crate) const REPAIR_HINT: &str = "run 'sudo portpool repair' to set the host registry right, keeping every lease that reads back";

/// Which rule chose a registry path; it also decides the mode of files portpool creates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathSource {
    /// Given by the caller.
    Explicit,
    /// From `$PORTPOOL_REGISTRY`.
    Environment,
    /// The host registry, `/var/lib/portpool/registry.json`: `portpool init` set up its
    /// directory (or the file exists), so every user shares it, and a missing registry there
    /// is an error rather than an empty one.
    Host,
    /// The host registry for root on a host that has none yet: root's first write creates it.
    System,
    /// The per-user registry under `$XDG_STATE_HOME` or `~/.local/state`, on a host without a
    /// host registry.
    User,
}

impl PathSource {
    /// A stable identifier: `explicit`, `environment`, `host`, `system` or `user`.
    pub fn as_str(self) -> &'static str {
        match self {
            PathSource::Explicit => "explicit",
            PathSource::Environment => "environment",
            PathSource::Host => "host",
            PathSource::System => "system",
            PathSource::User => "user",
        }
    }

    /// The rule, in a sentence for people (`portpool path` prints it).
    pub fn rule(self) -> &'static str {
        match self {
            PathSource::Explicit => "given with --registry (or by the caller)",
            PathSource::Environment => "from $PORTPOOL_REGISTRY",
            PathSource::Host => {
                "the host registry, shared by every user: portpool init set up its directory (or it exists)"
            }
            PathSource::System => {
                "the host registry, for root on a host that has none yet (created on the first change; run 'portpool init' to share it with a group)"
            }
            PathSource::User => {
                "the per-user registry: this host has no host registry (run 'sudo portpool init --group portpool' to create one)"
            }
        }
    }
}

impl PathSource {
    /// What a front end tells root, once, when its change created the host registry (this
    /// source is [`PathSource::System`] only until then): that only root may change it, and
    /// what `portpool init --group` would add.
    pub fn created_note(self, path: &Path) -> Option<String> {
        (self == PathSource::System).then(|| {
            format!(
                "created the host registry {}: only root may change it; 'portpool init --group portpool' would let the members of group portpool change it too (directory root:portpool 3775, registry 0664, lock file 0660)",
                path.display()
            )
        })
    }
}

/// Resolves the registry path: `explicit`, else `$PORTPOOL_REGISTRY`, else the host registry
/// `/var/lib/portpool/registry.json` whenever `portpool init` set up its directory (a
/// directory owned by root with the sticky bit, which no one but root can make or undo) or
/// anything is at that path, for every user, else that same path for root (created on root's
/// first change), else the per-user registry
/// `$XDG_STATE_HOME/portpool/registry.json` (`~/.local/state/portpool/registry.json` when
/// unset or not absolute).
pub fn resolve_path(explicit: Option<&Path>) -> Result<(PathBuf, PathSource)> {
    resolve_with_host(explicit, Path::new(HOST_REGISTRY))
}

/// [`resolve_path`] with the host registry at `host`.
pub(crate) fn resolve_with_host(
    explicit: Option<&Path>,
    host: &Path,
) -> Result<(PathBuf, PathSource)> {
    if let Some(path) = explicit {
        if path.as_os_str().is_empty() {
            return Err(Error::invalid("invalid registry path \"\": empty"));
        }
        return Ok((path.to_owned(), PathSource::Explicit));
    }
    if let Some(env) = std::env::var_os("PORTPOOL_REGISTRY").filter(|v| !v.is_empty()) {
        return Ok((PathBuf::from(env), PathSource::Environment));
    }
    // Anything at the host path counts, a link or a file that is not a registry included: the
    // store then refuses it with a message, rather than a user silently using another file.
    // So does a directory init set up, with nothing in it: the store then says what to do.
    if std::fs::symlink_metadata(host).is_ok() || host.parent().is_some_and(is_set_up) {
        return Ok((host.to_owned(), PathSource::Host));
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return Ok((host.to_owned(), PathSource::System));
    }
    Ok((user_registry()?, PathSource::User))
}

/// Whether `dir` is a host registry's directory as `portpool init` leaves it: a directory
/// (not a link) owned by root with the sticky bit. Only root can make one under a directory
/// only root may write (`/var/lib`), and a member cannot take the mark away.
pub(crate) fn is_set_up(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(dir)
        .is_ok_and(|m| m.is_dir() && m.uid() == 0 && m.mode() & 0o1000 != 0)
}

/// The per-user registry path: `$XDG_STATE_HOME/portpool/registry.json`, else
/// `~/.local/state/portpool/registry.json`.
pub fn user_registry() -> Result<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|home| home.join(".local/state"))
        })
        .ok_or_else(|| {
            Error::invalid(
                "no registry path: none given, $PORTPOOL_REGISTRY, $XDG_STATE_HOME and $HOME are unset",
            )
        })?;
    Ok(state.join("portpool/registry.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_existing_host_registry_wins_over_the_per_user_one_for_everyone() {
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().join("registry.json");
        std::fs::write(&host, "").unwrap();
        let explicit = dir.path().join("mine.json");
        assert_eq!(
            resolve_with_host(Some(&explicit), &host).unwrap(),
            (explicit.clone(), PathSource::Explicit)
        );
        if std::env::var_os("PORTPOOL_REGISTRY").is_none() {
            assert_eq!(
                resolve_with_host(None, &host).unwrap(),
                (host.clone(), PathSource::Host)
            );
        }
        assert!(resolve_with_host(Some(Path::new("")), &host).is_err());
    }

    #[test]
    fn root_creating_the_host_registry_is_told_what_init_would_add() {
        let host = Path::new(HOST_REGISTRY);
        let note = PathSource::System.created_note(host).unwrap();
        assert!(note.contains(HOST_REGISTRY), "{note}");
        assert!(note.contains("portpool init --group portpool"), "{note}");
        for source in [
            PathSource::Explicit,
            PathSource::Environment,
            PathSource::Host,
            PathSource::User,
        ] {
            assert_eq!(source.created_note(host), None);
        }
    }

    #[test]
    fn a_directory_init_set_up_decides_the_registry_even_when_the_file_is_gone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().join("registry.json");
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        if std::env::var_os("PORTPOOL_REGISTRY").is_some() || !root {
            // Only root owns a directory init set up; others cannot make one to test with.
            assert!(!is_set_up(dir.path()));
            return;
        }
        assert!(!is_set_up(dir.path()), "no sticky bit yet");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o3775)).unwrap();
        assert!(is_set_up(dir.path()));
        assert_eq!(
            resolve_with_host(None, &host).unwrap(),
            (host.clone(), PathSource::Host)
        );
    }
}
