//! The registry file as a journal (format version 2), pinned through the public core API:
//! recovery from a power loss at any byte, readers during rewrites, the upgrade from
//! version 1, torn and damaged files.

mod common;

use common::{free_block, open, scratch, tcp};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use portpool_core::{ErrorKind, LeaseOptions, Mode, Registry};

fn names(reg: &Registry) -> Vec<String> {
    reg.list().unwrap().into_iter().map(|l| l.name).collect()
}

/// Leases (name, port, next port) and pools (name, cursor): what a registry holds.
type State = (Vec<(String, u16, Option<u16>)>, Vec<(String, u16)>);

fn state(reg: &Registry) -> State {
    let leases = reg
        .list()
        .unwrap()
        .into_iter()
        .map(|l| (l.name, l.port, l.next.map(|n| n.port)))
        .collect();
    let pools = reg
        .pools()
        .unwrap()
        .into_iter()
        .map(|p| (p.name, p.cursor))
        .collect();
    (leases, pools)
}

fn owned() -> LeaseOptions {
    LeaseOptions {
        pid: Some(std::process::id()),
        ..LeaseOptions::default()
    }
}

#[test]
fn a_power_loss_at_any_byte_of_the_tail_recovers_the_longest_valid_prefix() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(20);
    reg.set_pool("w", p, p + 9, Some(false)).unwrap();
    reg.register("perm", p + 10, Mode::Fixed, &tcp()).unwrap();
    let snapshot_end = fs::metadata(&s.path).unwrap().len();
    // After each change: where the file ended, and what it held.
    let mut steps = vec![(snapshot_end, state(&reg))];
    let mut change = |f: &dyn Fn(&Registry)| {
        f(&reg);
        steps.push((fs::metadata(&s.path).unwrap().len(), state(&reg)));
    };
    change(&|r| {
        r.allocate("a", "w", &owned()).unwrap();
    });
    change(&|r| {
        r.allocate("b", "w", &tcp()).unwrap();
    });
    change(&|r| {
        r.begin_handover("b", None).unwrap();
    });
    change(&|r| {
        r.commit_handover("b", None).unwrap();
    });
    change(&|r| {
        r.release("a").unwrap();
    });
    change(&|r| {
        r.allocate_many(&["c", "d\"quoted"], "w", &owned()).unwrap();
    });
    change(&|r| {
        r.set_owner("perm", Some(std::process::id())).unwrap();
    });
    change(&|r| {
        r.renew("b", Some(60)).unwrap();
    });
    let whole = fs::read(&s.path).unwrap();
    assert_eq!(whole.len() as u64, steps.last().unwrap().0);
    assert!(
        steps.windows(2).all(|w| w[0].0 < w[1].0),
        "every change appended"
    );

    let copy = s.dir.path().join("copy.json");
    for cut in snapshot_end..=whole.len() as u64 {
        recovers_at_cut(&copy, &whole, cut, &steps, p + 19);
    }
}

/// What a power loss at byte `cut` of `whole` leaves: the file reads as the state of the last
/// change that ended at or before `cut`, and the next writer (leasing `next` as "next") cuts
/// the torn line and appends one line after that valid prefix.
fn recovers_at_cut(copy: &Path, whole: &[u8], cut: u64, steps: &[(u64, State)], next: u16) {
    let _ = fs::remove_file(copy);
    fs::write(copy, &whole[..cut as usize]).unwrap();
    let (valid, expected) = steps.iter().rev().find(|(end, _)| *end <= cut).unwrap();
    let reader = open(copy);
    assert_eq!(&state(&reader), expected, "cut at {cut}");
    // The next writer cuts the torn line and continues from the valid prefix.
    let writer = open(copy);
    writer
        .register("next", next, Mode::Fixed, &owned())
        .unwrap();
    let after = fs::read(copy).unwrap();
    assert_eq!(
        &after[..*valid as usize],
        &whole[..*valid as usize],
        "cut at {cut}"
    );
    let appended = &after[*valid as usize..];
    assert!(
        appended.ends_with(b"\n") && appended.iter().filter(|b| **b == b'\n').count() == 1,
        "cut at {cut}: one new line after the valid prefix, got {:?}",
        String::from_utf8_lossy(appended)
    );
    let mut grown = expected.clone();
    grown.0.push(("next".into(), next, None));
    grown.0.sort();
    assert_eq!(state(&open(copy)), grown, "cut at {cut}");
}

#[test]
fn readers_running_during_rewrites_always_see_a_whole_registry() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(30);
    reg.set_pool("w", p, p + 19, Some(false)).unwrap();
    let keepers: Vec<String> = (0..10).map(|i| format!("keep-{i}")).collect();
    let keeper_refs: Vec<&str> = keepers.iter().map(String::as_str).collect();
    reg.allocate_many(&keeper_refs, "w", &tcp()).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (path, done, keepers) = (s.path.clone(), done.clone(), keepers.clone());
            std::thread::spawn(move || {
                let reader = Registry::open(Some(&path)).unwrap();
                let mut reads = 0;
                while !done.load(Ordering::Relaxed) {
                    let seen = names(&reader);
                    for k in &keepers {
                        assert!(seen.contains(k), "{k} missing from {seen:?}");
                    }
                    assert!(seen.len() <= keepers.len() + 1, "{seen:?}");
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let mut inodes = vec![fs::metadata(&s.path).unwrap().ino()];
    for i in 0..700 {
        reg.allocate(&format!("w{i}"), "w", &owned()).unwrap();
        reg.release(&format!("w{i}")).unwrap();
        let ino = fs::metadata(&s.path).unwrap().ino();
        if ino != *inodes.last().unwrap() {
            inodes.push(ino);
        }
    }
    done.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    assert!(inodes.len() >= 4, "rewrites happened: {inodes:?}");
}

#[test]
fn a_version_1_file_is_read_as_it_is_and_upgraded_whole_on_the_first_write() {
    let s = scratch();
    let p = free_block(3);
    let v1 = format!(
        r#"{{
  "version": 1,
  "pools": {{
    "default": {{ "start": 9000, "end": 9999, "cursor": 9003, "probe": true }},
    "w": {{ "start": {p}, "end": {}, "cursor": {}, "probe": false }}
  }},
  "leases": [
    {{ "name": "web", "port": {p}, "protocol": "tcp", "mode": "pool", "pool": "w", "created": 5,
       "owner": {{ "pid": 1, "start_time": 1 }}, "ttl": 30, "expires": 4000000000 }}
  ]
}}
"#,
        p + 2,
        p + 1
    );
    fs::write(&s.path, &v1).unwrap();
    fs::set_permissions(&s.path, fs::Permissions::from_mode(0o640)).unwrap();
    let reg = open(&s.path);
    let before = state(&reg);
    assert_eq!(before.0, [("web".into(), p, None)]);
    assert!(before.1.contains(&("default".into(), 9003)));
    assert_eq!(
        fs::read_to_string(&s.path).unwrap(),
        v1,
        "reads change nothing"
    );
    let ino = fs::metadata(&s.path).unwrap().ino();
    assert_eq!(reg.allocate("api", "w", &tcp()).unwrap(), p + 1);
    let text = fs::read_to_string(&s.path).unwrap();
    assert!(
        text.starts_with("{\"version\":2,\"generation\":\""),
        "{text}"
    );
    let meta = fs::metadata(&s.path).unwrap();
    assert_ne!(meta.ino(), ino, "replaced by rename, never edited in place");
    assert_eq!(meta.mode() & 0o777, 0o640, "the mode is kept");
    let after = state(&open(&s.path));
    assert_eq!(after.0.len(), 2);
    assert!(after.1.contains(&("default".into(), 9003)));
    assert!(after.1.contains(&("w".into(), p + 2)));
    // Its owner (pid 1 with another start time) is gone, so `get` says it holds nothing; the
    // record itself came through the upgrade whole.
    let web = open(&s.path)
        .list()
        .unwrap()
        .into_iter()
        .find(|l| l.name == "web");
    assert_eq!(web.unwrap().ttl, Some(30));
}

#[test]
fn a_torn_last_line_is_ignored_by_readers_and_cut_by_the_next_writer() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(3);
    reg.register("a", p, Mode::Fixed, &tcp()).unwrap();
    let valid = fs::read(&s.path).unwrap();
    for torn in [
        &b"{\"leases\":[{\"name\":\"b\",\"po"[..],
        b"\0\0\0\0\0\0",
        b"{\"del\":[\"a\"\n",
    ] {
        let mut bytes = valid.clone();
        bytes.extend_from_slice(torn);
        fs::write(&s.path, &bytes).unwrap();
        let reader = open(&s.path);
        assert_eq!(names(&reader), ["a"]);
        assert_eq!(fs::read(&s.path).unwrap(), bytes, "readers never write");
        let writer = open(&s.path);
        writer.register("b", p + 1, Mode::Fixed, &tcp()).unwrap();
        let after = fs::read(&s.path).unwrap();
        assert!(after.starts_with(&valid));
        // The torn line is gone: one whole line follows the valid part.
        let new = &after[valid.len()..];
        assert_eq!(new.iter().filter(|b| **b == b'\n').count(), 1, "{new:?}");
        serde_json::from_slice::<serde_json::Value>(new).unwrap();
        assert_eq!(names(&reader), ["a", "b"]);
        writer.release("b").unwrap();
        fs::write(&s.path, &valid).unwrap();
    }
}

#[test]
fn damage_other_than_a_torn_last_line_is_refused_and_never_rewritten() {
    let p = free_block(2);
    let lease = |name: &str, port: u16| {
        format!(
            "{{\"lease\":{{\"name\":\"{name}\",\"port\":{port},\"protocol\":\"tcp\",\"mode\":\"fixed\",\"created\":1}}}}\n"
        )
    };
    let head = "{\"version\":2}\n";
    for (text, needle) in [
        (
            format!("{head}{}{}", lease("a", p), lease("a", p + 1)),
            "appears twice",
        ),
        (
            format!(
                "{head}{{\"pool\":{{\"name\":\"x\",\"start\":1,\"end\":2}}}}\n{{\"pool\":{{\"name\":\"x\",\"start\":1,\"end\":2}}}}\n"
            ),
            "appears twice",
        ),
        (format!("{head}garbage\n{}", lease("a", p)), "line 2"),
        (format!("{head}{{\"del\":[\"nobody\"]}}\n"), "nobody"),
    ] {
        let s = scratch();
        fs::write(&s.path, &text).unwrap();
        let reg = open(&s.path);
        for err in [
            reg.list().unwrap_err(),
            reg.register("z", p, Mode::Flexible, &tcp()).unwrap_err(),
        ] {
            assert_eq!(err.kind(), ErrorKind::Registry, "{err}");
            assert!(err.message().contains(needle), "{text}: {err}");
            assert!(err.message().contains(s.path.to_str().unwrap()), "{err}");
        }
        assert_eq!(fs::read_to_string(&s.path).unwrap(), text);
    }
}

#[test]
fn a_change_waits_for_the_lock_at_most_the_handles_timeout() {
    let s = scratch();
    let reg = open(&s.path).with_lock_timeout(Duration::from_millis(100));
    assert_eq!(reg.lock_timeout(), Duration::from_millis(100));
    let p = free_block(2);
    reg.register("a", p, Mode::Fixed, &tcp()).unwrap();
    let lock = fs::File::open(s.path.with_file_name("registry.json.lock")).unwrap();
    lock.lock().unwrap();
    let err = reg.register("b", p + 1, Mode::Fixed, &tcp()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Busy, "{err}");
    assert!(err.message().contains("busy"), "{err}");
    assert_eq!(names(&reg), ["a"], "reads take no lock");
    lock.unlock().unwrap();
    reg.register("b", p + 1, Mode::Fixed, &tcp()).unwrap();
    assert_eq!(
        Registry::open(Some(Path::new("/x")))
            .unwrap()
            .lock_timeout(),
        Duration::from_secs(10)
    );
}
