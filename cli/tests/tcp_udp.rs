//! `--protocol tcp+udp`: one port number leased, probed and checked for TCP and UDP at once.

mod common;

use common::*;

#[test]
fn a_tcp_udp_lease_conflicts_with_a_tcp_and_a_udp_registration_of_its_port() {
    let s = scratch();
    let p = free_block(1).to_string();
    ok(
        &s.path,
        &["register", "dns", &p, "fixed", "--protocol", "tcp+udp"],
    );
    let err = fails(&s.path, &["register", "web", &p, "fixed"], 3);
    assert!(
        err.contains(&format!("port {p}/tcp is leased to \"dns\"")),
        "{err}"
    );
    let err = fails(&s.path, &["register", "syslog", &p, "fixed", "--udp"], 3);
    assert!(
        err.contains(&format!("port {p}/udp is leased to \"dns\"")),
        "{err}"
    );
    let all = leases(&s.path);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["protocol"], "tcp+udp");
}

#[test]
fn a_tcp_udp_registration_of_a_port_leased_for_udp_exits_3_naming_the_holder() {
    let s = scratch();
    let p = free_block(1).to_string();
    ok(
        &s.path,
        &["register", "syslog", &p, "fixed", "--protocol", "udp"],
    );
    let err = fails(
        &s.path,
        &["register", "dns", &p, "fixed", "--protocol", "tcp+udp"],
        3,
    );
    assert!(err.contains("syslog"), "{err}");
}

#[test]
fn check_for_tcp_udp_finds_a_port_bound_for_udp_only_busy() {
    let s = scratch();
    let udp = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    let p = udp.local_addr().unwrap().port().to_string();
    let out = pp(&s.path, &["check", &p, "--protocol", "tcp+udp", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&v["state"], &v["protocol"]),
        (&"busy".into(), &"tcp+udp".into())
    );
}

#[test]
fn an_unknown_protocol_exits_2_naming_the_accepted_ones() {
    let s = scratch();
    let err = fails(&s.path, &["register", "dns", "--protocol", "sctp"], 2);
    assert!(
        err.contains(r#"expected one of "tcp", "udp", "tcp+udp""#),
        "{err}"
    );
    assert!(!s.path.exists());
}

#[test]
fn protocol_and_udp_together_are_refused() {
    let s = scratch();
    let p = free_block(1).to_string();
    fails(
        &s.path,
        &["register", "dns", &p, "--protocol", "tcp", "--udp"],
        2,
    );
    assert!(!s.path.exists());
}

#[test]
fn run_listen_refuses_tcp_udp_as_one_socket_is_one_protocol() {
    let s = scratch();
    let p = free_block(1).to_string();
    let args = [
        "run",
        "dns",
        "--port",
        &p,
        "--protocol",
        "tcp+udp",
        "--listen",
        "--",
        "true",
    ];
    let err = fails(&s.path, &args, 2);
    assert!(err.contains("invalid protocol tcp+udp for listen"), "{err}");
}
