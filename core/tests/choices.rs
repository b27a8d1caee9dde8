//! The port choices of issue 14, one test per rule: preferred ports in order, then a range;
//! flexible without a range climbs from the first preferred port, fixed without one stops;
//! excluded ports are never chosen; the probe address; find_free_ports.

mod common;

use common::{free_block, open, scratch, tcp};
use std::fs;
use std::net::{IpAddr, Ipv4Addr, TcpListener};

use portpool_core::{
    ErrorKind, FindOptions, LeaseOptions, Mode, Protocol, find_free_ports, is_free_at,
};

fn with(f: impl FnOnce(&mut LeaseOptions)) -> LeaseOptions {
    let mut options = tcp();
    f(&mut options);
    options
}

/// A TCP listener on 127.0.0.1:`port`: the port is then bound outside the registry.
fn hold(port: u16) -> TcpListener {
    TcpListener::bind(("127.0.0.1", port)).unwrap()
}

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const LOOPBACK_2: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

#[test]
fn preferred_ports_are_tried_in_order() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(4);
    let got = reg
        .register("web", vec![p + 2, p], Mode::Flexible, &tcp())
        .unwrap();
    assert_eq!(got, p + 2, "the first preferred port wins when free");
    let got = reg
        .register("api", [p + 2, p], Mode::Flexible, &tcp())
        .unwrap();
    assert_eq!(got, p, "a preferred port leased to another is passed over");
}

#[test]
fn a_bound_preferred_port_is_passed_over_for_the_next_preferred_one() {
    let s = scratch();
    let p = free_block(4);
    let _held = hold(p);
    for mode in [Mode::Flexible, Mode::Fixed] {
        let name = format!("web-{mode}");
        let got = open(&s.path)
            .register(name.as_str(), vec![p, p + 3], mode, &tcp())
            .unwrap();
        assert_eq!(got, p + 3, "{mode}");
        open(&s.path).release(&name).unwrap();
    }
}

#[test]
fn after_the_preferred_ports_the_range_is_tried_in_order() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(8);
    let _held = hold(p);
    let range = with(|o| o.range = Some((p + 4, p + 7)));
    reg.register("squat", p + 4, Mode::Fixed, &tcp()).unwrap();
    for mode in [Mode::Flexible, Mode::Fixed] {
        let name = format!("web-{mode}");
        let got = reg.register(name.as_str(), p, mode, &range).unwrap();
        assert_eq!(got, p + 5, "{mode}: preferred bound, range start leased");
        reg.release(&name).unwrap();
    }
    let got = reg
        .register("only-range", Vec::new(), Mode::Flexible, &range)
        .unwrap();
    assert_eq!(got, p + 5, "a range alone is enough");
}

#[test]
fn a_range_that_runs_out_is_exhausted_in_either_mode_and_changes_nothing() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(4);
    reg.register("a", p + 1, Mode::Fixed, &tcp()).unwrap();
    let before = fs::read(&s.path).unwrap();
    let range = with(|o| o.range = Some((p + 1, p + 1)));
    for mode in [Mode::Flexible, Mode::Fixed] {
        let _held = hold(p);
        let err = reg.register("web", p, mode, &range).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Exhausted, "{mode}: {err}");
        assert!(
            err.message()
                .contains(&format!("{p} or {}-{}", p + 1, p + 1)),
            "{err}"
        );
    }
    assert_eq!(fs::read(&s.path).unwrap(), before);
}

#[test]
fn flexible_without_a_range_climbs_from_the_first_preferred_port() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(6);
    reg.register("a", p, Mode::Fixed, &tcp()).unwrap();
    reg.register("b", p + 4, Mode::Fixed, &tcp()).unwrap();
    reg.register("c", p + 1, Mode::Fixed, &tcp()).unwrap();
    let got = reg
        .register("web", vec![p, p + 4], Mode::Flexible, &tcp())
        .unwrap();
    assert_eq!(got, p + 2, "both preferred leased: upward from {p}");
}

#[test]
fn fixed_without_a_range_tries_only_the_preferred_ports_and_names_why_each_failed() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(4);
    reg.register("keycloak", p, Mode::Fixed, &tcp()).unwrap();
    let _held = hold(p + 1);
    let before = fs::read(&s.path).unwrap();
    let excluding = with(|o| o.exclude = vec![p + 2]);
    let err = reg
        .register("web", vec![p, p + 1, p + 2], Mode::Fixed, &excluding)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    let msg = err.message();
    assert!(
        msg.contains(&format!("port {p}/tcp is leased to \"keycloak\"")),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "port {}/tcp is in use by a process outside",
            p + 1
        )),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("port {}/tcp is excluded", p + 2)),
        "{msg}"
    );
    assert_eq!(fs::read(&s.path).unwrap(), before, "nothing written");
}

#[test]
fn forced_fixed_takes_the_first_preferred_port_no_lease_holds_even_when_bound() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(4);
    reg.register("keycloak", p, Mode::Fixed, &tcp()).unwrap();
    let _held = hold(p + 1);
    let forced = with(|o| o.force = true);
    let got = reg
        .register("web", vec![p, p + 1, p + 2], Mode::Fixed, &forced)
        .unwrap();
    assert_eq!(got, p + 1);
}

#[test]
fn excluded_ports_are_never_chosen_by_register() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(8);
    let options = with(|o| {
        o.exclude = vec![p, p + 1, p + 4];
        o.range = Some((p + 4, p + 5));
    });
    let got = reg
        .register("a", vec![p, p + 1], Mode::Flexible, &options)
        .unwrap();
    assert_eq!(got, p + 5, "preferred and range start excluded");
    let climbing = with(|o| o.exclude = vec![p + 2, p + 3]);
    let got = reg.register("b", p + 2, Mode::Flexible, &climbing).unwrap();
    assert_eq!(got, p + 4, "the climb passes over excluded ports too");
}

#[test]
fn excluded_ports_are_never_chosen_by_allocate() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(4);
    reg.set_pool("small", p, p + 3, None).unwrap();
    let options = with(|o| o.exclude = vec![p, p + 2]);
    assert_eq!(reg.allocate("a", "small", &options).unwrap(), p + 1);
    assert_eq!(reg.allocate("b", "small", &options).unwrap(), p + 3);
    let err = reg.allocate("c", "small", &options).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Exhausted, "{err}");
    let ports = reg
        .allocate_many(&["d", "e"], "small", &options)
        .unwrap_err();
    assert_eq!(ports.kind(), ErrorKind::Exhausted);
    let got = reg
        .allocate_many(&["d"], "small", &with(|o| o.exclude = vec![p + 2]))
        .unwrap();
    assert_eq!(got, vec![p], "the one port left that is not excluded");
}

#[test]
fn allocate_refuses_a_range_because_a_pool_has_its_own() {
    let s = scratch();
    let reg = open(&s.path);
    let options = with(|o| o.range = Some((4000, 4100)));
    let err = reg.allocate("a", None, &options).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    let err = reg.allocate_many(&["a"], None, &options).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(!s.path.exists(), "nothing written");
}

#[test]
fn a_fixed_holder_keeps_its_port_when_it_is_one_of_the_ports_asked_for() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(6);
    reg.register("web", p + 1, Mode::Fixed, &tcp()).unwrap();
    let grant = reg
        .register_grant("web", vec![p, p + 1], Mode::Fixed, &tcp())
        .unwrap();
    assert_eq!((grant.port, grant.created), (p + 1, false));
    let in_range = with(|o| o.range = Some((p + 1, p + 2)));
    assert_eq!(
        reg.register("web", p, Mode::Fixed, &in_range).unwrap(),
        p + 1
    );
    let err = reg
        .register("web", vec![p + 3, p + 4], Mode::Fixed, &tcp())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(err.message().contains("not one of"), "{err}");
}

#[test]
fn bad_choices_are_invalid_and_change_nothing() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(2);
    reg.register("keep", p, Mode::Flexible, &tcp()).unwrap();
    let before = fs::read(&s.path).unwrap();
    let cases: Vec<(Vec<u16>, LeaseOptions)> = vec![
        (Vec::new(), tcp()),
        (vec![p + 1, 0], tcp()),
        (vec![p + 1], with(|o| o.exclude = vec![0])),
        (vec![p + 1], with(|o| o.range = Some((5000, 4000)))),
        (vec![p + 1], with(|o| o.range = Some((0, 4000)))),
        (
            vec![p + 1],
            with(|o| o.host = Some("192.0.2.1".parse().unwrap())),
        ),
    ];
    for (ports, options) in cases {
        let err = reg
            .register("web", ports.clone(), Mode::Flexible, &options)
            .unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::InvalidArgument,
            "{ports:?} {options:?}: {err}"
        );
    }
    let err = reg
        .allocate("w", None, &with(|o| o.exclude = vec![0]))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(fs::read(&s.path).unwrap(), before);
}

#[test]
fn the_probe_address_checks_that_address_only() {
    let p = free_block(1);
    let _held = hold(p);
    assert!(
        !is_free_at(p, Protocol::Tcp, None).unwrap(),
        "the wildcards see it"
    );
    assert!(!is_free_at(p, Protocol::Tcp, Some(LOOPBACK)).unwrap());
    // The guarantee's limit: a port bound on another address reads as free.
    assert!(is_free_at(p, Protocol::Tcp, Some(LOOPBACK_2)).unwrap());
    let err = is_free_at(p, Protocol::Tcp, Some("192.0.2.1".parse().unwrap())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.message().contains("192.0.2.1"), "{err}");
    assert_eq!(
        is_free_at(0, Protocol::Tcp, None).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn register_probing_one_address_may_hand_out_a_port_bound_on_another() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(2);
    let _held = hold(p);
    let on_other = with(|o| o.host = Some(LOOPBACK_2));
    assert_eq!(reg.register("a", p, Mode::Fixed, &on_other).unwrap(), p);
    let on_same = with(|o| o.host = Some(LOOPBACK));
    assert_eq!(
        reg.register("b", p, Mode::Flexible, &on_same).unwrap(),
        p + 1,
        "leased to a; probing 127.0.0.1 would have skipped it too"
    );
}

#[test]
fn find_free_ports_returns_count_distinct_free_ports() {
    let ports = find_free_ports(&FindOptions {
        count: 5,
        ..FindOptions::default()
    })
    .unwrap();
    assert_eq!(ports.len(), 5);
    let mut sorted = ports.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 5, "distinct: {ports:?}");
    for port in ports {
        assert!(is_free_at(port, Protocol::Tcp, None).unwrap());
    }
}

#[test]
fn find_free_ports_tries_preferred_ports_then_the_range_and_skips_excluded_and_bound() {
    let p = free_block(8);
    let _held = hold(p + 1);
    let options = FindOptions {
        ports: vec![p + 7, p + 1],
        range: Some((p, p + 4)),
        exclude: vec![p + 2],
        count: 3,
        ..FindOptions::default()
    };
    assert_eq!(find_free_ports(&options).unwrap(), vec![p + 7, p, p + 3]);
}

#[test]
fn find_free_ports_in_too_small_a_range_is_exhausted() {
    let p = free_block(3);
    let _held = hold(p + 1);
    let err = find_free_ports(&FindOptions {
        range: Some((p, p + 2)),
        count: 3,
        ..FindOptions::default()
    })
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Exhausted, "{err}");
    assert!(err.message().contains("found 2"), "{err}");
}

#[test]
fn find_free_ports_without_a_range_never_returns_an_excluded_port() {
    let first = find_free_ports(&FindOptions::default()).unwrap()[0];
    let options = FindOptions {
        protocol: Protocol::Udp,
        exclude: vec![first],
        count: 3,
        host: Some(LOOPBACK),
        ..FindOptions::default()
    };
    let ports = find_free_ports(&options).unwrap();
    assert!(!ports.contains(&first), "{ports:?}");
}

#[test]
fn find_free_ports_refuses_count_zero_absurd_counts_and_bad_ranges() {
    for options in [
        FindOptions {
            count: 0,
            ..FindOptions::default()
        },
        FindOptions {
            count: 65536,
            ..FindOptions::default()
        },
        FindOptions {
            count: usize::MAX,
            ..FindOptions::default()
        },
        FindOptions {
            range: Some((10, 9)),
            ..FindOptions::default()
        },
        FindOptions {
            ports: vec![0],
            ..FindOptions::default()
        },
    ] {
        assert_eq!(
            find_free_ports(&options).unwrap_err().kind(),
            ErrorKind::InvalidArgument,
            "{options:?}"
        );
    }
}

/// A privileged port nothing on this host has bound (the kernel's tables list no listener).
fn unbound_privileged_port() -> u16 {
    (600..1000)
        .find(|&p| is_free_at(p, Protocol::Tcp, None).unwrap())
        .expect("a free port below 1024")
}

#[test]
fn a_caller_that_cannot_bind_a_privileged_port_never_gets_it_when_it_binds_itself() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("needs root to run a child as nobody; skipped");
        return;
    }
    let s = scratch();
    fs::set_permissions(s.dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_probes_privileged_ports_as_itself",
            "--nocapture",
        ])
        .env("PORTPOOL_TEST_BINDABLE_CHILD", &s.path)
        .uid(65534)
        .gid(65534)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Run as nobody by the test above.
#[test]
fn child_probes_privileged_ports_as_itself() {
    let Ok(path) = std::env::var("PORTPOOL_TEST_BINDABLE_CHILD") else {
        return;
    };
    let reg = open(std::path::Path::new(&path));
    let p = unbound_privileged_port();
    // As the caller binds: unavailable, for register and for find_free_ports.
    let bindable = with(|o| o.bindable = true);
    let err = reg.register("mine", p, Mode::Fixed, &bindable).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(reg.get("mine").unwrap().is_none());
    let found = find_free_ports(&FindOptions {
        ports: vec![p],
        ..FindOptions::default()
    })
    .unwrap();
    assert_ne!(found, [p]);
    // For anyone (a lease for a privileged service): nothing listens there, so it is free.
    assert_eq!(reg.register("service", p, Mode::Fixed, &tcp()).unwrap(), p);
}
