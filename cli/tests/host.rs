//! The host registry as a real host uses it: root, members of its group and other users, on
//! the default path /var/lib/portpool/registry.json.
//!
//! Every test runs as root (CI does; elsewhere they return at once), creates throwaway users
//! and a group and removes them afterwards, and runs its commands in a private mount
//! namespace where /var/lib is an empty tmpfs: the real /var/lib is never touched.

mod common;

use common::BIN;
use std::process::Command;

/// A group and two users made for one test: a member of the group and an outsider.
struct Users {
    group: String,
    member: String,
    outsider: String,
}

/// useradd and groupadd lock /etc/passwd and /etc/group and fail, rather than wait, when
/// another holds them: the tests of this file take turns.
static ACCOUNTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Users {
    fn new(tag: &str) -> Users {
        let _turn = ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
        let id = std::process::id() % 100_000;
        let users = Users {
            group: format!("ppg{tag}{id}"),
            member: format!("ppm{tag}{id}"),
            outsider: format!("ppo{tag}{id}"),
        };
        run("groupadd", &[&users.group]);
        run("useradd", &["-M", "-G", &users.group, &users.member]);
        run("useradd", &["-M", &users.outsider]);
        users
    }
}

impl Drop for Users {
    fn drop(&mut self) {
        let _turn = ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
        for user in [&self.member, &self.outsider] {
            let _ = Command::new("userdel").arg(user).status();
        }
        let _ = Command::new("groupdel").arg(&self.group).status();
    }
}

fn run(program: &str, args: &[&str]) {
    let status = Command::new(program).args(args).status().unwrap();
    assert!(status.success(), "{program} {args:?}: {status}");
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Runs `script` (bash, `set -eu`) in a private mount namespace with an empty /var/lib, with
/// `pp` (root), `as_member` and `as_outsider` defined, and `$GROUP`, `$MEMBER`, `$OUTSIDER`
/// set. `fail MESSAGE` ends it; the test fails with the script's output.
fn on_a_host(users: &Users, script: &str) {
    let prelude = r#"
set -eu
# Files the script writes (captured stderr) go to a scratch directory, never the source tree.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"
mount -t tmpfs -o size=16m,mode=0755 tmpfs /var/lib
pp() { "$BIN" "$@"; }
as_member() { setpriv --reuid="$MEMBER" --regid="$MEMBER" --init-groups "$BIN" "$@"; }
as_outsider() { setpriv --reuid="$OUTSIDER" --regid="$OUTSIDER" --init-groups "$BIN" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
"#;
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "bash", "-c"])
        .arg(format!("{prelude}\n{script}"))
        .env("BIN", BIN)
        .env("GROUP", &users.group)
        .env("MEMBER", &users.member)
        .env("OUTSIDER", &users.outsider)
        .env_remove("PORTPOOL_REGISTRY")
        .env_remove("XDG_STATE_HOME")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn init_twice_changes_nothing_and_a_new_group_is_applied_in_place() {
    if !is_root() {
        return;
    }
    let users = Users::new("i");
    on_a_host(
        &users,
        r#"
out=$(pp init --group "$GROUP")
echo "$out" | grep -q "^created directory /var/lib/portpool (root:$GROUP 2775)" || fail "first init: $out"
[ "$(stat -c '%U:%G %a' /var/lib/portpool)" = "root:$GROUP 2775" ] || fail "dir $(stat -c '%U:%G %a' /var/lib/portpool)"
[ "$(stat -c '%U:%G %a' /var/lib/portpool/registry.json)" = "root:$GROUP 664" ] || fail registry
[ "$(stat -c '%U:%G %a' /var/lib/portpool/registry.json.lock)" = "root:$GROUP 660" ] || fail lock
port=$(pp allocate kept)
before=$(sha256sum /var/lib/portpool/*)
out=$(pp init --group "$GROUP")
echo "$out" | grep -q "^nothing to change" || fail "second init: $out"
[ "$before" = "$(sha256sum /var/lib/portpool/*)" ] || fail "the second init changed a file"
groupadd "${GROUP}x"
out=$(pp init --group "${GROUP}x")
groupdel "${GROUP}x" || true
echo "$out" | grep -q "^changed group of /var/lib/portpool/registry.json: $GROUP -> ${GROUP}x" || fail "regroup: $out"
[ "$(pp get kept)" = "$port" ] || fail "the leases were not kept"
"#,
    );
}

#[test]
fn init_refuses_a_symlinked_directory_or_a_file_another_user_owns() {
    if !is_root() {
        return;
    }
    let users = Users::new("s");
    on_a_host(
        &users,
        r#"
mkdir /var/lib/elsewhere
ln -s /var/lib/elsewhere /var/lib/portpool
if pp init --group "$GROUP" 2>err; then fail "a symlinked directory was accepted"; fi
grep -q "symbolic link" err || fail "$(cat err)"
[ -z "$(ls /var/lib/elsewhere)" ] || fail "init wrote through the link"
rm /var/lib/portpool
mkdir /var/lib/portpool
touch /var/lib/portpool/registry.json
chown "$MEMBER" /var/lib/portpool/registry.json
if pp init 2>err; then fail "a file owned by another user was taken over"; fi
grep -q "not root" err || fail "$(cat err)"
[ "$(stat -c %U /var/lib/portpool/registry.json)" = "$MEMBER" ] || fail "init changed the file"
"#,
    );
}

#[test]
fn root_and_a_member_share_the_host_registry_and_never_get_one_port() {
    if !is_root() {
        return;
    }
    let users = Users::new("r");
    on_a_host(
        &users,
        r#"
pp init --group "$GROUP" >/dev/null
a=$(pp allocate installer-svc)
b=$(as_member allocate dev-server)
[ "$a" != "$b" ] || fail "root and the member both got $a"
for who in pp as_member; do
  $who list | grep -q installer-svc || fail "$who does not see root's lease"
  $who list | grep -q dev-server || fail "$who does not see the member's lease"
  $who path | grep -q "^rule: the host registry" || fail "$who path: $($who path)"
done
[ "$(as_member get installer-svc)" = "$a" ] || fail "get across users"
"#,
    );
}

#[test]
fn doctor_warns_about_a_per_user_registry_beside_the_host_registry() {
    if !is_root() {
        return;
    }
    let users = Users::new("d");
    on_a_host(
        &users,
        r#"
mkdir -p /var/lib/home && chown "$MEMBER" /var/lib/home
export HOME=/var/lib/home
as_member allocate forgotten >/dev/null
as_member path | grep -q "^rule: the per-user registry" || fail "before init: $(as_member path)"
pp init --group "$GROUP" >/dev/null
out=$(as_member doctor --fail-on split_registry) && fail "doctor passed: $out"
echo "$out" | grep -q "portpool import /var/lib/home/.local/state/portpool/registry.json" || fail "$out"
as_member import /var/lib/home/.local/state/portpool/registry.json >/dev/null
pp list | grep -q forgotten || fail "the lease did not move"
"#,
    );
}

#[test]
fn an_outsider_reads_but_cannot_change_the_registry_or_hold_its_lock() {
    if !is_root() {
        return;
    }
    let users = Users::new("o");
    on_a_host(
        &users,
        r#"
pp init --group "$GROUP" >/dev/null
port=$(pp allocate installer-svc)
before=$(sha256sum /var/lib/portpool/*)
as_outsider list | grep -q installer-svc || fail "the outsider cannot list"
[ "$(as_outsider get installer-svc)" = "$port" ] || fail "the outsider cannot get"
as_outsider check "$port" > /dev/null && fail "check says a leased port is free"
as_outsider doctor --fail-on expired > /dev/null || fail "the outsider cannot run doctor"
start=$(date +%s%N)
if as_outsider allocate intruder 2>err; then fail "the outsider allocated"; else code=$?; fi
[ "$code" = 5 ] || fail "exit $code, not 5"
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$elapsed" -lt 5000 ] || fail "the refusal took $elapsed ms"
grep -q "members of group $GROUP" err || fail "the error names no group: $(cat err)"
grep -q "usermod -aG $GROUP" err || fail "the error says not how to join: $(cat err)"
if setpriv --reuid="$OUTSIDER" --regid="$OUTSIDER" --init-groups flock -n /var/lib/portpool/registry.json.lock true 2>/dev/null; then
  fail "the outsider could take the lock"
fi
[ "$before" = "$(sha256sum /var/lib/portpool/*)" ] || fail "the outsider changed a file"
"#,
    );
}

#[test]
fn owner_group_and_mode_survive_writes_and_compactions_by_root_and_members() {
    if !is_root() {
        return;
    }
    let users = Users::new("c");
    on_a_host(
        &users,
        r#"
pp init --group "$GROUP" >/dev/null
reg=/var/lib/portpool/registry.json
want="root:$GROUP 664"
for who in as_member pp as_member; do
  # 300 changes, more than the journal appends before it compacts: without a compaction it
  # would hold a line for each. (A member's compaction exchanges the registry with its
  # spare, so the inode alone does not tell.)
  for i in $(seq 1 150); do $who allocate "c$i" >/dev/null; $who release "c$i" >/dev/null; done
  lines=$(wc -l < "$reg")
  [ "$lines" -lt 250 ] || fail "$who: no compaction happened ($lines lines)"
  [ "$(stat -c '%U:%G %a' "$reg")" = "$want" ] || fail "$who: the registry is now $(stat -c '%U:%G %a' "$reg")"
  $who allocate "kept-by-$who" >/dev/null
done
[ "$(stat -c '%U:%G %a' /var/lib/portpool/.registry.json.spare)" = "$want" ] || fail "spare $(stat -c '%U:%G %a' /var/lib/portpool/.registry.json.spare)"
[ -z "$(find /var/lib/portpool -user "$MEMBER")" ] || fail "a member owns $(find /var/lib/portpool -user "$MEMBER")"
pp list | grep -q kept-by-as_member || fail "a lease was lost"
pp list | grep -q kept-by-pp || fail "root's lease was lost"
pp init --group "$GROUP" | grep -q "^nothing to change" || fail "init found something to repair"
"#,
    );
}
