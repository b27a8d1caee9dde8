//! The host registry as a real host uses it: root, members of its group and other users, on
//! the default path /var/lib/portpool/registry.json.
//!
//! Every test runs as root (CI does; elsewhere they return at once) on a host of its own (see
//! [`on_a_host`]): a private mount namespace with a private copy of /etc, in which it makes
//! its throwaway users and group, and an empty /var/lib. The real /etc and /var/lib are never
//! touched.

mod common;

use common::BIN;
use std::process::Command;

/// Runs `script` (bash, `set -eu`) as root on a host of its own: a private mount namespace
/// where /etc is a private copy of the real one (so `groupadd` and `useradd` change only that
/// copy), /var/lib an empty tmpfs and /home a tmpfs, with the group `ppg` and three throwaway
/// users made in it: `ppm` (M, a member), `ppq` (Q, an honest member) and `ppo` (O, an
/// outsider). Defined in the script: `pp` (portpool as root), `as_member`, `as_q` and
/// `as_outsider` (portpool as each user), `as USER CMD...` (any command as a user), `fail
/// MESSAGE`; set: `$GROUP`, `$MEMBER`, `$Q`, `$OUTSIDER`, `$REG`, `$DIR` and `$FREE` (the
/// first of 32 consecutive free ports). The real /etc
/// and /var/lib are never touched, and everything goes with the namespace. The test fails
/// with the script's output unless it exits 0.
fn on_a_host(script: &str) {
    let prelude = r#"
set -eu
# Files the script writes (captured stderr) go to a scratch directory, never the source tree.
scratch=$(mktemp -d)
trap 'cd /; umount -l /etc /var/lib /home "$scratch/etc" 2>/dev/null; rm -rf "$scratch"' EXIT
mkdir "$scratch/etc"
mount -t tmpfs -o size=32m,mode=0755 tmpfs "$scratch/etc"
cp -a /etc/. "$scratch/etc/"
mount --bind "$scratch/etc" /etc
mount -t tmpfs -o size=16m,mode=0755 tmpfs /var/lib
mount -t tmpfs -o size=4m,mode=0755 tmpfs /home
cd "$scratch"
GROUP=ppg MEMBER=ppm Q=ppq OUTSIDER=ppo
groupadd "$GROUP"
for user in "$MEMBER" "$Q"; do useradd -m -G "$GROUP" "$user"; done
useradd -m "$OUTSIDER"
DIR=/var/lib/portpool REG=/var/lib/portpool/registry.json
pp() { "$BIN" "$@"; }
as() { local user=$1; shift; HOME=/home/$user setpriv --reuid="$user" --regid="$user" --init-groups "$@"; }
as_member() { as "$MEMBER" "$BIN" "$@"; }
as_q() { as "$Q" "$BIN" "$@"; }
as_outsider() { as "$OUTSIDER" "$BIN" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
"#;
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "bash", "-c"])
        .arg(format!("{prelude}\n{script}"))
        .env("BIN", BIN)
        .env("FREE", common::free_block(32).to_string())
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

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn init_twice_changes_nothing_and_a_new_group_is_applied_in_place() {
    if !is_root() {
        return;
    }
    on_a_host(
        r#"
out=$(pp init --group "$GROUP")
echo "$out" | grep -q "^created directory /var/lib/portpool (root:$GROUP 3775)" || fail "first init: $out"
[ "$(stat -c '%U:%G %a' /var/lib/portpool)" = "root:$GROUP 3775" ] || fail "dir $(stat -c '%U:%G %a' /var/lib/portpool)"
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
    on_a_host(
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
    on_a_host(
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
    on_a_host(
        r#"
as_member allocate forgotten >/dev/null
as_member path | grep -q "^rule: the per-user registry" || fail "before init: $(as_member path)"
pp init --group "$GROUP" >/dev/null
out=$(as_member doctor --fail-on split_registry) && fail "doctor passed: $out"
echo "$out" | grep -q "portpool import /home/$MEMBER/.local/state/portpool/registry.json" || fail "$out"
as_member import "/home/$MEMBER/.local/state/portpool/registry.json" >/dev/null
pp list | grep -q forgotten || fail "the lease did not move"
"#,
    );
}

#[test]
fn an_outsider_reads_but_cannot_change_the_registry_or_hold_its_lock() {
    if !is_root() {
        return;
    }
    on_a_host(
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
    on_a_host(
        r#"
pp init --group "$GROUP" >/dev/null
reg=/var/lib/portpool/registry.json
want="root:$GROUP 664"
for who in as_member pp as_member; do
  # 300 changes, more than the journal appends before it compacts: without a compaction it
  # would hold a line for each. In the sticky directory a member can no longer exchange
  # root's spare with root's registry, so members append and root's next change compacts.
  for i in $(seq 1 150); do $who allocate "c$i" >/dev/null; $who release "c$i" >/dev/null; done
  lines=$(wc -l < "$reg")
  [ "$who" = as_member ] || [ "$lines" -lt 250 ] || fail "$who: no compaction happened ($lines lines)"
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

#[test]
fn a_member_can_neither_replace_nor_rename_nor_delete_a_file_in_the_sticky_host_directory() {
    if !is_root() {
        return;
    }
    on_a_host(
        r#"
pp init --group "$GROUP" >/dev/null
port=$(pp allocate installer-svc)
files="$REG $REG.lock $DIR/.registry.json.spare"
before=$(sha256sum $files; stat -c '%i %U:%G %a' $files)
# The directory is the group's to create files in (setgid), but sticky: a name belongs to
# whoever owns its file.
as "$MEMBER" sh -c "echo garbage > $DIR/planted" || fail "a member cannot create a file"
as "$MEMBER" mkfifo "$DIR/fifo"
for target in $files; do
  as "$MEMBER" mv "$DIR/planted" "$target" 2>err && fail "the member renamed a file over $target"
  grep -q "Operation not permitted" err || fail "mv over $target: $(cat err)"
  as "$MEMBER" mv "$DIR/fifo" "$target" 2>err && fail "the member planted a FIFO at $target"
  as "$MEMBER" mv "$target" "$DIR/aside" 2>err && fail "the member renamed $target away"
  grep -q "Operation not permitted" err || fail "mv $target: $(cat err)"
  as "$MEMBER" rm -f "$target" 2>err && fail "the member deleted $target"
  grep -q "Operation not permitted" err || fail "rm $target: $(cat err)"
done
[ "$before" = "$(sha256sum $files; stat -c '%i %U:%G %a' $files)" ] || fail "a file changed"
[ "$(as_q get installer-svc)" = "$port" ] || fail "Q lost root's lease"
as_q allocate q-svc >/dev/null || fail "Q cannot allocate"
as "$MEMBER" rm "$DIR/planted" "$DIR/fifo"
"#,
    );
}

#[test]
fn the_directory_init_set_up_is_every_users_registry_and_a_missing_file_there_names_repair() {
    if !is_root() {
        return;
    }
    on_a_host(
        r#"
pp init --group "$GROUP" >/dev/null
pp allocate installer-svc >/dev/null
# A backup script, or rm -rf /var/lib/portpool/*: the registry is gone, the directory stays.
rm "$REG"
for who in as_q as_outsider; do
  $who path | grep -qx "$REG" || fail "$who path: $($who path)"
  if $who allocate q1 2>err; then fail "$who allocated without the host registry"; else code=$?; fi
  [ "$code" = 5 ] || fail "$who: exit $code, not 5"
  grep -q "ask root to run 'sudo portpool repair'" err || fail "$who: $(cat err)"
  if $who list >/dev/null 2>err; then fail "$who read a missing host registry as empty"; fi
  [ ! -e "/home/${who#as_}/.local/state/portpool" ] || fail "$who fell back to a per-user registry"
done
[ ! -e "/home/$Q/.local/state/portpool" ] || fail "Q fell back to a per-user registry"
if pp allocate r1 2>err; then fail "root's write recreated the registry"; fi
grep -q "run 'sudo portpool repair'" err || fail "root: $(cat err)"
[ ! -e "$REG" ] || fail "the registry was recreated with root's own owner and mode"
"#,
    );
}

#[test]
fn init_refuses_a_registry_or_spare_with_more_than_one_link_and_names_it() {
    if !is_root() {
        return;
    }
    on_a_host(
        r#"
pp init --group "$GROUP" >/dev/null
echo secret > /var/lib/shadow-like
chmod 600 /var/lib/shadow-like
for name in .registry.json.spare registry.json registry.json.lock; do
  mv "$DIR/$name" "$DIR/$name.kept"
  ln /var/lib/shadow-like "$DIR/$name"
  if pp init --group "$GROUP" 2>err; then fail "init accepted a hard-linked $name"; fi
  grep -q "$DIR/$name: has 2 links" err || fail "$name: $(cat err)"
  grep -q "portpool repair" err || fail "$name: no way back named: $(cat err)"
  [ "$(stat -c '%U:%G %a' /var/lib/shadow-like)" = "root:root 600" ] || fail "init gave the group the linked file"
  rm "$DIR/$name"
  mv "$DIR/$name.kept" "$DIR/$name"
done
pp init --group "$GROUP" | grep -q "^nothing to change" || fail "init after the links went"
"#,
    );
}

#[test]
fn init_on_a_damaged_registry_says_to_run_repair() {
    if !is_root() {
        return;
    }
    on_a_host(
        r#"
pp init --group "$GROUP" >/dev/null
printf 'not a registry\n{"lease":1}\n' > "$REG"
if pp init --group "$GROUP" 2>err; then fail "init passed a damaged registry"; fi
grep -q "portpool repair" err || fail "$(cat err)"
"#,
    );
}

#[test]
fn owners_hidden_by_hidepid_count_as_alive_until_the_kernel_says_they_are_gone() {
    if !is_root() {
        return;
    }
    on_a_host(
        r#"
pp init --group "$GROUP" >/dev/null
mount -t proc -o hidepid=invisible proc /proc
sleep 600 &
owner=$!
port=$(pp allocate --pid "$owner" root-svc)
[ ! -e "/proc/$owner" ] || as "$Q" test ! -e "/proc/$owner" || fail "hidepid does not hide root's process from Q"
as_q gc >/dev/null
[ "$(as_q get root-svc)" = "$port" ] || fail "Q's gc released root's live lease"
if as_q register q-svc "$port" fixed 2>err; then fail "Q got root's port"; else code=$?; fi
[ "$code" = 3 ] || fail "register: exit $code: $(cat err)"
as_q list | grep root-svc | grep -q stale && fail "Q lists root's live lease as stale"
kill "$owner"
wait "$owner" || true
as_q gc | grep -q root-svc || fail "the lease of a process that is gone was kept"
"#,
    );
}

#[test]
fn a_member_may_not_release_re_register_hand_over_or_re_own_another_users_lease_without_force() {
    if !is_root() {
        return;
    }
    on_a_host(
        r#"
pp init --group "$GROUP" >/dev/null
port=$(pp allocate installer-svc)
refused() {
  if "$@" 2>err >/dev/null; then fail "$* succeeded"; else code=$?; fi
  [ "$code" = 3 ] || fail "$*: exit $code, not 3: $(cat err)"
}
refused as_member release installer-svc
grep -q "lease \"installer-svc\" was made by user root (uid 0)" err || fail "$(cat err)"
refused as_member allocate installer-svc
refused as_member register installer-svc "$port" fixed
refused as_member set-owner installer-svc
refused as_member handover installer-svc
refused as_member reset --yes
[ "$(pp get installer-svc)" = "$port" ] || fail "root's lease changed"
[ "$(as_member register --force installer-svc "$port" fixed)" = "$port" ] || fail "register --force"
[ "$(as_member allocate --force installer-svc)" = "$port" ] || fail "allocate --force"
as_q allocate q-svc >/dev/null
refused as_member release q-svc
grep -q "user $Q (uid $(id -u "$Q"))" err || fail "$(cat err)"
as_q release q-svc | grep -q "^released" || fail "Q cannot release its own lease"
pp allocate for-q >/dev/null
pp release installer-svc >/dev/null
# The rail is against accidents: a member who means it forces.
port=$(pp allocate installer-svc)
as_member release --force installer-svc | grep -q "^released" || fail "--force did not release"
"#,
    );
}

#[test]
fn a_pool_is_changed_only_by_the_user_who_created_it_or_root_unless_forced() {
    if !is_root() {
        return;
    }
    on_a_host(
        r#"
pp init --group "$GROUP" >/dev/null
as_q pool set ci "$FREE" $((FREE + 7)) >/dev/null
if as_member pool set ci "$FREE" $((FREE + 3)) 2>err; then fail "M moved Q's pool"; else code=$?; fi
[ "$code" = 3 ] || fail "exit $code: $(cat err)"
grep -q "pool \"ci\" was created by user $Q" err || fail "$(cat err)"
as_q pool list | grep -Eq "^ci +$FREE +$((FREE + 7)) " || fail "Q's pool changed: $(as_q pool list)"
as_q pool set ci "$FREE" $((FREE + 5)) >/dev/null || fail "Q cannot change its own pool"
pp pool set ci "$FREE" $((FREE + 6)) >/dev/null || fail "root cannot change Q's pool"
as_member pool set --force ci "$FREE" $((FREE + 4)) >/dev/null || fail "--force did not change it"
"#,
    );
}

/// Root and three members (Q and two more) allocate and release in a loop for
/// `$PORTPOOL_SOAK_SECONDS` (default 60) while a fourth member (M) loops through every attack
/// of the host's table a member can still try, each recorded with its outcome (the names of
/// the sticky directory, the rails, holding the lock, and damage written by hand into the
/// registry: garbage, a NUL block, a flipped byte, a duplicated line, a newer version's
/// header), and the outsider through its own (the portserver's included: greedy asks and a
/// connect storm, while the portserver serves the soak's pool); root repairs what M damaged,
/// as an operator would. Afterwards no port was ever held by two acknowledged leases, every repair kept
/// every honest lease, and, with M's last damage left in place, one `portpool repair` as
/// root brings list, get, allocate, release and doctor back for every user. The script is
/// `host_soak.sh`.
#[test]
fn under_a_members_attacks_no_port_is_ever_held_by_two_acknowledged_leases() {
    if !is_root() {
        return;
    }
    on_a_host(include_str!("host_soak.sh"));
}
