//! Leases the kernel honours: `reserve` keeps `net.ipv4.ip_local_reserved_ports` holding
//! every leased port. The kernel's list is per network namespace, so each test re-runs itself
//! as root inside a private one (`unshare -n`, loopback up), where it may change the list and
//! the ephemeral range without touching the host's. Skipped, with a message, when not root or
//! when the sandbox forbids new namespaces.

mod common;

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;

use common::{open, scratch};
use portpool_core::{
    ErrorKind, LeaseOptions, Registry, kernel_reserved, port_list, record_path, reserve,
    reserve_check,
};

const INNER: &str = "PORTPOOL_TEST_IN_NETNS";

/// True inside the private network namespace (run the test there); outside, re-runs `test`
/// there and returns false.
fn in_private_netns(test: &str) -> bool {
    if std::env::var_os(INNER).is_some() {
        return true;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped {test}: the kernel's reserved ports can only be changed as root");
        return false;
    }
    let probe = Command::new("unshare").args(["-n", "true"]).status();
    if !probe.is_ok_and(|s| s.success()) {
        eprintln!("skipped {test}: unshare -n is not allowed here");
        return false;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .args([
            "-n",
            "--",
            "sh",
            "-c",
            "ip link set lo up && exec \"$0\" \"$@\"",
        ])
        .arg(exe)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(INNER, "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("1 passed"),
        "{test} in a private network namespace:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    false
}

/// Narrows this namespace's ephemeral range to its first 1000 ports, so that a leased port
/// among them is quickly drawn when it is not reserved; returns the range.
fn narrow_ephemeral_range() -> (u16, u16) {
    let (lo, _) = portpool_core::ephemeral_range().unwrap();
    let hi = lo + 999;
    std::fs::write(
        "/proc/sys/net/ipv4/ip_local_port_range",
        format!("{lo} {hi}\n"),
    )
    .unwrap();
    (lo, hi)
}

fn set_kernel(ports: &[u16]) {
    let text = format!("{}\n", port_list(ports));
    std::fs::write(portpool_core::RESERVED_PORTS, text).unwrap();
}

/// A pool of the first `n` ports of the ephemeral range, every one of them leased.
fn lease_pool(reg: &Registry, lo: u16, n: u16) -> BTreeSet<u16> {
    reg.set_pool("eph", lo, lo + n - 1, Some(false)).unwrap();
    let names: Vec<String> = (0..n).map(|i| format!("w{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let opts = LeaseOptions::default();
    reg.allocate_many(&names, "eph", &opts)
        .unwrap()
        .into_iter()
        .collect()
}

/// The port the kernel gives the `i`th port-0 bind: TCP and UDP, IPv4 and IPv6 in turn.
fn port_0_bind(i: u32) -> u16 {
    let v4 = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, 0));
    match i % 3 {
        0 => TcpListener::bind(v4).unwrap().local_addr().unwrap().port(),
        1 => UdpSocket::bind(v4).unwrap().local_addr().unwrap().port(),
        // No IPv6 on this host: IPv4 again.
        _ => TcpListener::bind(v6)
            .or_else(|_| TcpListener::bind(v4))
            .unwrap()
            .local_addr()
            .unwrap()
            .port(),
    }
}

/// The local ports of `n` outgoing connections to a loopback listener, each closed by a reset
/// (no TIME_WAIT to use the range up).
fn outgoing_ports(n: u32) -> Vec<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let to = listener.local_addr().unwrap();
    (0..n)
        .map(|_| {
            let stream = TcpStream::connect(to).unwrap();
            let port = stream.local_addr().unwrap().port();
            let (accepted, _) = listener.accept().unwrap();
            socket2::SockRef::from(&stream)
                .set_linger(Some(std::time::Duration::ZERO))
                .unwrap();
            drop((stream, accepted));
            port
        })
        .collect()
}

#[test]
fn reserved_leases_are_never_given_to_port_0_binds_or_outgoing_connections() {
    if !in_private_netns("reserved_leases_are_never_given_to_port_0_binds_or_outgoing_connections")
    {
        return;
    }
    let s = scratch();
    let reg = open(&s.path);
    let (lo, _) = narrow_ephemeral_range();
    let leased = lease_pool(&reg, lo, 200);
    // Without the reservation, the kernel soon hands out a leased port: the test can fail.
    assert!(
        (0..20_000).any(|i| leased.contains(&port_0_bind(i))),
        "no port-0 bind drew one of 200 leased ports out of 1000"
    );
    let report = reserve(&reg).unwrap();
    assert!(report.written);
    assert_eq!(report.added, leased.iter().copied().collect::<Vec<_>>());
    assert_eq!(kernel_reserved().unwrap(), leased);
    for i in 0..20_000 {
        let port = port_0_bind(i);
        assert!(!leased.contains(&port), "bind {i} was given leased {port}");
    }
    for port in outgoing_ports(2_000) {
        assert!(
            !leased.contains(&port),
            "a connection was given leased {port}"
        );
    }
    // An explicit bind to a reserved port still works.
    let first = *leased.first().unwrap();
    TcpListener::bind((Ipv4Addr::LOCALHOST, first)).unwrap();
    assert!(!reserve_check(&reg).unwrap().drift());
}

#[test]
fn a_released_port_goes_back_to_port_0_binds_once_roots_change_synced() {
    if !in_private_netns("a_released_port_goes_back_to_port_0_binds_once_roots_change_synced") {
        return;
    }
    let s = scratch();
    let reg = open(&s.path);
    let (lo, _) = narrow_ephemeral_range();
    let leased = lease_pool(&reg, lo, 200);
    reserve(&reg).unwrap();
    let gone = reg.get("w7").unwrap().unwrap().port;
    reg.release("w7").unwrap();
    // Root's release synced the kernel's list at once, without another `reserve`.
    let now = kernel_reserved().unwrap();
    assert!(!now.contains(&gone), "{gone} is still reserved");
    assert_eq!(now.len(), leased.len() - 1);
    assert!(
        (0..20_000).any(|i| port_0_bind(i) == gone),
        "no port-0 bind was given the released {gone}"
    );
    // A new lease is reserved at once too.
    let back = reg.allocate("again", "eph", &LeaseOptions::default());
    let back = back.unwrap();
    assert!(kernel_reserved().unwrap().contains(&back));
    assert!(!reserve(&reg).unwrap().written, "already in sync");
}

#[test]
fn a_reservation_made_by_hand_survives_every_sync() {
    if !in_private_netns("a_reservation_made_by_hand_survives_every_sync") {
        return;
    }
    let s = scratch();
    let reg = open(&s.path);
    let (lo, hi) = narrow_ephemeral_range();
    // One port reserved by hand outside any lease, one that a lease will hold too.
    let hand = [lo + 1, hi];
    set_kernel(&hand);
    reg.set_pool("eph", lo, lo + 9, Some(false)).unwrap();
    reg.allocate_many(&["a", "b"], "eph", &LeaseOptions::default())
        .unwrap();
    let report = reserve(&reg).unwrap();
    assert_eq!(report.by_hand, vec![lo + 1, hi]);
    assert_eq!(
        report.reserved,
        vec![lo],
        "b's port lo+1 was reserved by hand"
    );
    for step in 0..3 {
        match step {
            0 => reg.release("b").map(|_| ()).unwrap(),
            1 => reg.release("a").map(|_| ()).unwrap(),
            _ => reserve(&reg).map(|_| ()).unwrap(),
        }
        let now = kernel_reserved().unwrap();
        assert!(hand.iter().all(|p| now.contains(p)), "step {step}: {now:?}");
    }
    assert_eq!(
        kernel_reserved().unwrap(),
        hand.into_iter().collect::<BTreeSet<_>>()
    );
}

#[test]
fn check_reports_drift_when_the_kernels_list_was_changed_by_hand() {
    if !in_private_netns("check_reports_drift_when_the_kernels_list_was_changed_by_hand") {
        return;
    }
    let s = scratch();
    let reg = open(&s.path);
    let (lo, _) = narrow_ephemeral_range();
    let leased = lease_pool(&reg, lo, 5);
    let before = reserve_check(&reg).unwrap();
    assert!(before.drift());
    assert_eq!(before.added.len(), 5);
    assert!(kernel_reserved().unwrap().is_empty(), "a check wrote");
    reserve(&reg).unwrap();
    assert!(!reserve_check(&reg).unwrap().drift());
    set_kernel(&[]);
    let after = reserve_check(&reg).unwrap();
    assert_eq!(after.added, leased.into_iter().collect::<Vec<_>>());
}

#[test]
fn a_record_root_does_not_own_alone_is_refused_and_changes_nothing() {
    if !in_private_netns("a_record_root_does_not_own_alone_is_refused_and_changes_nothing") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let s = scratch();
    let reg = open(&s.path);
    let (lo, _) = narrow_ephemeral_range();
    lease_pool(&reg, lo, 3);
    let record = record_path(&s.path);
    let hostile: [&dyn Fn(); 3] = [
        &|| std::os::unix::fs::chown(&record, Some(65534), None).unwrap(),
        &|| std::fs::set_permissions(&record, std::fs::Permissions::from_mode(0o666)).unwrap(),
        &|| std::os::unix::fs::symlink("/etc/hostname", &record).unwrap(),
    ];
    for (i, make) in hostile.iter().enumerate() {
        let _ = std::fs::remove_file(&record);
        std::fs::write(&record, r#"{"version":1,"netns":0,"added":""}"#).unwrap();
        std::fs::set_permissions(&record, std::fs::Permissions::from_mode(0o644)).unwrap();
        if i == 2 {
            std::fs::remove_file(&record).unwrap();
        }
        make();
        let before = kernel_reserved().unwrap();
        let err = reserve(&reg).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Registry, "{err}");
        assert!(err.to_string().contains(".registry.json.reserved"), "{err}");
        assert_eq!(kernel_reserved().unwrap(), before, "case {i}");
    }
}

#[test]
fn roots_change_syncs_only_when_it_changes_the_leased_ports() {
    if !in_private_netns("roots_change_syncs_only_when_it_changes_the_leased_ports") {
        return;
    }
    let s = scratch();
    let reg = open(&s.path);
    let (lo, _) = narrow_ephemeral_range();
    lease_pool(&reg, lo, 3);
    reserve(&reg).unwrap();
    // Tabs at the end of the record (JSON whitespace): a sync pads with spaces, so they are
    // gone once anything writes the record.
    let record = record_path(&s.path);
    let marked = std::fs::read_to_string(&record)
        .unwrap()
        .trim_end()
        .to_owned()
        + "\t\t\n";
    std::fs::write(&record, &marked).unwrap();
    reg.renew("w0", Some(600)).unwrap();
    reg.set_owner("w1", Some(std::process::id())).unwrap();
    reg.set_pool("eph", lo, lo + 9, Some(false)).unwrap();
    assert_eq!(
        std::fs::read_to_string(&record).unwrap(),
        marked,
        "a change that kept the leased ports synced"
    );
    let port = reg.allocate("w3", "eph", &LeaseOptions::default()).unwrap();
    assert!(
        !std::fs::read_to_string(&record).unwrap().contains('\t'),
        "a new lease did not sync"
    );
    assert!(kernel_reserved().unwrap().contains(&port));
    assert!(!reserve_check(&open(&s.path)).unwrap().drift());
    reg.reset().unwrap();
    assert!(kernel_reserved().unwrap().is_empty(), "reset did not sync");
}
