//! A lease held for TCP and UDP at once (`tcp+udp`): one port number, both protocols.

mod common;

use common::{free_block, open, scratch, tcp, udp};
use std::fs;
use std::net::{TcpListener, UdpSocket};

use portpool_core::{
    Choice, ErrorKind, FindOptions, LeaseOptions, ListenOptions, Mode, PortState, Protocol,
    find_free_ports, is_free_at,
};

fn both() -> LeaseOptions {
    LeaseOptions {
        protocol: Protocol::TcpUdp,
        ..Default::default()
    }
}

#[test]
fn a_tcp_udp_lease_conflicts_with_a_tcp_lease_of_its_port_both_ways() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(2);
    reg.register("web", p, Mode::Fixed, &tcp()).unwrap();
    let err = reg.register("dns", p, Mode::Fixed, &both()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    reg.register("dns", p + 1, Mode::Fixed, &both()).unwrap();
    let err = reg
        .register("web-2", p + 1, Mode::Fixed, &tcp())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
}

#[test]
fn a_tcp_udp_lease_conflicts_with_a_udp_lease_of_its_port_both_ways() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(2);
    reg.register("syslog", p, Mode::Fixed, &udp()).unwrap();
    let err = reg.register("dns", p, Mode::Fixed, &both()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(err.to_string().contains("syslog"), "{err}");
    reg.register("dns", p + 1, Mode::Fixed, &both()).unwrap();
    let err = reg
        .register("syslog-2", p + 1, Mode::Fixed, &udp())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
}

#[test]
fn a_tcp_udp_lease_conflicts_with_another_tcp_udp_lease() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(1);
    reg.register("a", p, Mode::Fixed, &both()).unwrap();
    let err = reg.register("b", p, Mode::Fixed, &both()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
}

#[test]
fn flexible_tcp_udp_register_skips_ports_leased_for_either_protocol() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(3);
    reg.register("web", p, Mode::Fixed, &tcp()).unwrap();
    reg.register("syslog", p + 1, Mode::Fixed, &udp()).unwrap();
    assert_eq!(
        reg.register("dns", p, Mode::Flexible, &both()).unwrap(),
        p + 2
    );
}

#[test]
fn releasing_a_tcp_udp_lease_frees_its_port_for_both_protocols() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(1);
    reg.register("dns", p, Mode::Fixed, &both()).unwrap();
    assert!(reg.release("dns").unwrap());
    assert_eq!(reg.register("web", p, Mode::Fixed, &tcp()).unwrap(), p);
    assert_eq!(reg.register("syslog", p, Mode::Fixed, &udp()).unwrap(), p);
}

#[test]
fn the_probe_refuses_for_tcp_udp_a_port_bound_for_udp_only() {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    assert!(!is_free_at(port, Protocol::TcpUdp, None).unwrap());
    assert!(!is_free_at(port, Protocol::TcpUdp, Some("127.0.0.1".parse().unwrap())).unwrap());
}

#[test]
fn the_probe_refuses_for_tcp_udp_a_port_bound_for_tcp_only() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    assert!(!is_free_at(port, Protocol::TcpUdp, None).unwrap());
    assert!(!is_free_at(port, Protocol::TcpUdp, Some("127.0.0.1".parse().unwrap())).unwrap());
}

#[test]
fn flexible_tcp_udp_register_skips_a_port_bound_for_udp_only() {
    let s = scratch();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let busy = socket.local_addr().unwrap().port();
    let got = open(&s.path)
        .register("dns", busy, Mode::Flexible, &both())
        .unwrap();
    assert!(got > busy, "{got} should be above the UDP-bound {busy}");
}

#[test]
fn check_says_a_port_leased_for_udp_is_leased_for_tcp_udp() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(1);
    reg.register("syslog", p, Mode::Fixed, &udp()).unwrap();
    match reg.check(p, Protocol::TcpUdp).unwrap() {
        PortState::Leased(lease) => assert_eq!(lease.name, "syslog"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn allocate_for_tcp_udp_skips_pool_ports_leased_for_either_protocol() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(3);
    reg.set_pool("w", p, p + 2, None).unwrap();
    reg.register("web", p, Mode::Fixed, &tcp()).unwrap();
    reg.register("syslog", p + 1, Mode::Fixed, &udp()).unwrap();
    assert_eq!(reg.allocate("dns", "w", &both()).unwrap(), p + 2);
    let err = reg.allocate("dns-2", "w", &both()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Exhausted, "{err}");
    assert!(err.to_string().contains("tcp+udp"), "{err}");
}

#[test]
fn a_tcp_udp_lease_reads_back_from_the_file_as_tcp_udp() {
    let s = scratch();
    let p = free_block(2);
    let reg = open(&s.path);
    reg.register("dns", p, Mode::Fixed, &both()).unwrap();
    reg.register("dns-2", p + 1, Mode::Fixed, &both()).unwrap();
    let text = fs::read_to_string(&s.path).unwrap();
    assert_eq!(text.matches(r#""protocol":"tcp+udp""#).count(), 2, "{text}");
    let again = open(&s.path);
    for name in ["dns", "dns-2"] {
        assert_eq!(again.lease(name).unwrap().protocol, Protocol::TcpUdp);
    }
    for port in [p, p + 1] {
        let err = again
            .register("web", port, Mode::Fixed, &tcp())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
        let err = again
            .register("syslog", port, Mode::Fixed, &udp())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    }
}

#[test]
fn who_lists_a_tcp_udp_lease_once() {
    let s = scratch();
    let reg = open(&s.path);
    let p = free_block(1);
    reg.register("dns", p, Mode::Fixed, &both()).unwrap();
    let who = reg.who(p).unwrap();
    assert_eq!(who.leases.len(), 1, "{:?}", who.leases);
    assert_eq!(who.leases[0].protocol, Protocol::TcpUdp);
}

#[test]
fn find_free_ports_for_tcp_udp_passes_over_a_port_bound_for_udp_only() {
    let socket = UdpSocket::bind("0.0.0.0:0").unwrap();
    let busy = socket.local_addr().unwrap().port();
    let found = find_free_ports(&FindOptions {
        protocol: Protocol::TcpUdp,
        ports: vec![busy],
        ..Default::default()
    })
    .unwrap();
    assert_ne!(found, vec![busy]);
}

#[test]
fn listen_refuses_tcp_udp_as_one_socket_is_one_protocol() {
    let s = scratch();
    let reg = open(&s.path);
    let choice = Choice::Ports {
        ports: vec![free_block(1)],
        mode: Mode::Flexible,
    };
    let err = reg
        .listen("dns", &choice, &both(), &ListenOptions::default())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(reg.get("dns").unwrap().is_none());
}

#[test]
fn tcp_udp_is_spelled_tcp_plus_udp_in_every_front_end() {
    assert_eq!(Protocol::TcpUdp.as_str(), "tcp+udp");
    assert_eq!("TCP+UDP".parse::<Protocol>().unwrap(), Protocol::TcpUdp);
    assert!("both".parse::<Protocol>().is_err());
}

/// What a portpool that predates `tcp+udp` does with a file holding one, pinned with a
/// protocol this build does not know: it refuses the file, naming the value, and leaves the
/// file as it was (so nothing reads a lease for both protocols as one for either).
#[test]
fn a_lease_of_an_unknown_protocol_is_refused_by_name_and_the_file_is_left_untouched() {
    let s = scratch();
    let text = "{\"version\":2}\n{\"lease\":{\"name\":\"a\",\"port\":4000,\"protocol\":\"sctp\",\"mode\":\"fixed\",\"pool\":null,\"created\":1}}\n";
    fs::write(&s.path, text).unwrap();
    let err = open(&s.path).get("a").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Registry, "{err}");
    assert!(err.to_string().contains("sctp"), "{err}");
    let err = open(&s.path)
        .register("b", 4001, Mode::Fixed, &tcp())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Registry, "{err}");
    assert_eq!(fs::read_to_string(&s.path).unwrap(), text);
}

/// The format version the registry file's header says.
fn header_version(path: &std::path::Path) -> u64 {
    let text = fs::read_to_string(path).unwrap();
    let header: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    header["version"].as_u64().unwrap()
}

#[test]
fn a_file_holding_a_tcp_udp_lease_says_format_version_3_so_older_portpools_refuse_it_as_newer() {
    let s = scratch();
    let p = free_block(2);
    let reg = open(&s.path);
    reg.register("web", p, Mode::Fixed, &tcp()).unwrap();
    assert_eq!(header_version(&s.path), 2);
    // The first tcp+udp lease rewrites the file under a version-3 header.
    reg.register("dns", p + 1, Mode::Fixed, &both()).unwrap();
    assert_eq!(header_version(&s.path), portpool_core::FORMAT_VERSION);
    assert_eq!(portpool_core::FORMAT_VERSION, 3);
    let again = open(&s.path);
    assert_eq!(again.lease("dns").unwrap().protocol, Protocol::TcpUdp);
    assert_eq!(again.lease("web").unwrap().port, p);
    // Changes go on being appended to it.
    let before = fs::read_to_string(&s.path).unwrap();
    reg.release("web").unwrap();
    let after = fs::read_to_string(&s.path).unwrap();
    assert!(
        after.starts_with(&before),
        "a release appends to a version-3 file"
    );
}

#[test]
fn a_file_without_tcp_udp_leases_stays_format_version_2_for_every_portpool_that_reads_it() {
    let s = scratch();
    let p = free_block(2);
    let reg = open(&s.path);
    reg.register("web", p, Mode::Fixed, &tcp()).unwrap();
    reg.register("syslog", p, Mode::Fixed, &udp()).unwrap();
    reg.register("dns", p + 1, Mode::Fixed, &udp()).unwrap();
    reg.release("dns").unwrap();
    assert_eq!(header_version(&s.path), 2);
}
