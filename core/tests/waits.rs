//! The caller's bound and check on lock waits (`with_wait`): a per-call timeout, and a check
//! that ends a wait early, leave the registry as it was.

mod common;

use std::fs;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use portpool_core::{Error, ErrorKind, Mode, Wait, with_wait};

fn hold_lock(s: &Scratch) -> fs::File {
    let lock = fs::File::open(s.path.with_file_name("registry.json.lock")).unwrap();
    lock.lock().unwrap();
    lock
}

#[test]
fn a_call_timeout_shorter_than_the_handles_ends_the_wait_with_busy() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(2);
    reg.register("a", p, Mode::Fixed, &tcp()).unwrap();
    let before = fs::read(&s.path).unwrap();
    let _lock = hold_lock(&s);
    let wait = Wait {
        timeout: Some(Duration::from_millis(50)),
        check: None,
    };
    let started = Instant::now();
    let err = with_wait(&wait, || reg.register("b", p + 1, Mode::Fixed, &tcp())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Busy, "{err}");
    // Far below the handle's 10 s: the call's own bound applied (generous for busy machines).
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(fs::read(&s.path).unwrap(), before);
}

#[test]
fn a_check_that_fails_ends_the_wait_with_its_error_and_changes_nothing() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(1);
    reg.register("a", p, Mode::Fixed, &tcp()).unwrap();
    let before = fs::read(&s.path).unwrap();
    let lock = hold_lock(&s);
    let calls = AtomicUsize::new(0);
    let check = || {
        if calls.fetch_add(1, Ordering::SeqCst) >= 3 {
            return Err(Error::new(ErrorKind::Busy, "cancelled by the caller"));
        }
        Ok(())
    };
    let wait = Wait {
        timeout: None,
        check: Some(&check),
    };
    let err = with_wait(&wait, || reg.allocate("b", None, &tcp())).unwrap_err();
    assert_eq!(err.message(), "cancelled by the caller");
    assert!(calls.load(Ordering::SeqCst) >= 4);
    assert_eq!(fs::read(&s.path).unwrap(), before);
    drop(lock);
    assert!(reg.get("b").unwrap().is_none());
}

#[test]
fn a_check_is_not_called_when_the_lock_is_free() {
    let s = scratch();
    let reg = open(&s.path);
    let check = || Err(Error::new(ErrorKind::Busy, "never"));
    let wait = Wait {
        timeout: Some(Duration::ZERO),
        check: Some(&check),
    };
    let port = with_wait(&wait, || reg.allocate("a", None, &tcp())).unwrap();
    assert_eq!(reg.get("a").unwrap().unwrap().port, port);
}

#[test]
fn a_governed_call_behind_another_thread_of_this_process_is_bounded_and_checked() {
    let s = scratch();
    let reg = Arc::new(open(&s.path).with_lock_timeout(Duration::from_secs(30)));
    reg.allocate("made-the-files", None, &tcp()).unwrap();
    // Another thread of this process waits for the held lock, holding this process's state.
    let lock = hold_lock(&s);
    let other = {
        let reg = Arc::clone(&reg);
        std::thread::spawn(move || reg.allocate("first", None, &tcp()))
    };
    std::thread::sleep(Duration::from_millis(100));
    let checked = AtomicUsize::new(0);
    let check = || {
        checked.fetch_add(1, Ordering::SeqCst);
        Err(Error::new(ErrorKind::Busy, "interrupted"))
    };
    let wait = Wait {
        timeout: None,
        check: Some(&check),
    };
    let started = Instant::now();
    let err = with_wait(&wait, || reg.allocate("second", None, &tcp())).unwrap_err();
    assert_eq!(err.message(), "interrupted");
    assert!(checked.load(Ordering::SeqCst) >= 1);
    assert!(started.elapsed() < Duration::from_secs(5));
    let bounded = Wait {
        timeout: Some(Duration::from_millis(20)),
        check: None,
    };
    let err = with_wait(&bounded, || reg.allocate("second", None, &tcp())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Busy, "{err}");
    drop(lock);
    other.join().unwrap().unwrap();
    assert!(reg.get("second").unwrap().is_none());
}
