//! Writers killed with SIGKILL at random moments, hundreds of times: the registry always
//! parses and holds every lease a writer was told it had.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const KILLS: usize = 300;

#[test]
fn three_hundred_sigkills_never_lose_an_acknowledged_lease() {
    let s = scratch();
    let ack = s.dir.path().join("acknowledged");
    ok(
        &s.path,
        &["pool", "set", "crash", "22000", "31999", "--no-probe"],
    );
    let script = writer_script(&s.path, &ack);
    let mut seed: u64 = u64::from(std::process::id()) | 1;
    let mut most_held = 0;
    for _ in 0..KILLS {
        let child = Command::new("bash")
            .args(["-c", &script])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(2 + seed % 70));
        // SAFETY: kill has no memory-safety preconditions; the group is the writer's own.
        unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
        let _ = child.wait_with_output();

        let held: BTreeSet<String> = leases(&s.path)
            .iter()
            .map(|l| l["name"].as_str().unwrap().to_owned())
            .collect();
        let expected = acknowledged(&ack);
        let lost: Vec<&String> = expected.difference(&held).collect();
        assert!(lost.is_empty(), "acknowledged leases lost: {lost:?}");
        most_held = most_held.max(expected.len());
    }
    let log = fs::read_to_string(&ack).unwrap();
    assert!(log.lines().any(|l| l.starts_with('-')), "releases happened");
    assert!(most_held > 50, "the writers made progress: {most_held}");
    // Temporary files of killed writers are cleared by the next write.
    ok(&s.path, &["register", "last", "22000"]);
    let leftovers: Vec<String> = fs::read_dir(s.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".registry.json."))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// A writer that records a lease only after portpool acknowledged it, gives up its claim on a
/// lease before asking for its release, and hands leases over along the way.
fn writer_script(registry: &Path, ack: &Path) -> String {
    format!(
        "i=0; while :; do i=$((i+1)); n=w$$-$i; \
         if {bin} --registry {reg} allocate $n --pool crash >/dev/null; then echo $n >> {ack}; fi; \
         case $((i % 3)) in \
           2) printf -- '-%s\\n' w$$-$((i-1)) >> {ack}; \
              {bin} --registry {reg} release w$$-$((i-1)) >/dev/null;; \
           1) {bin} --registry {reg} handover $n >/dev/null && \
              {bin} --registry {reg} handover $n --commit >/dev/null;; \
           0) {bin} --registry {reg} register r$$-$i 22000 >/dev/null && echo r$$-$i >> {ack};; \
         esac; done",
        bin = BIN,
        reg = registry.display(),
        ack = ack.display(),
    )
}

/// The names the writers' log `ack` says were acknowledged and not given up.
fn acknowledged(ack: &Path) -> BTreeSet<String> {
    let mut expected = BTreeSet::new();
    for line in fs::read_to_string(ack).unwrap_or_default().lines() {
        match line.strip_prefix('-') {
            Some(name) => expected.remove(name),
            None => expected.insert(line.to_owned()),
        };
    }
    expected
}
