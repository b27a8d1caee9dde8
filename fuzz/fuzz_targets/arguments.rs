//! Any strings given where a front end passes user input to core — names, port text, modes,
//! protocols, pool ranges — are accepted or refused with InvalidArgument, never a panic, and a
//! refused call leaves the registry file untouched.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portpool_core::{ErrorKind, LeaseOptions, Mode, Protocol, Registry, parse_port};

fuzz_target!(|input: (&str, &str, &str, &str, i64)| {
    let (name, port_text, mode_text, protocol_text, port_int) = input;
    let dir = std::env::temp_dir().join(format!("portpool-fuzz-{}", std::process::id()));
    let path = dir.join("registry.json");
    let reg = Registry::open(Some(&path)).unwrap();
    let before = std::fs::read(&path).ok();
    let port = parse_port(port_text).or_else(|_| portpool_core::port_from_i64(port_int));
    let mode = mode_text.parse::<Mode>();
    let protocol = protocol_text.parse::<Protocol>();
    for refused in [port.as_ref().err(), mode.as_ref().err(), protocol.as_ref().err()]
        .into_iter()
        .flatten()
    {
        assert_eq!(refused.kind(), ErrorKind::InvalidArgument);
    }
    if let (Ok(port), Ok(mode), Ok(protocol)) = (port, mode, protocol) {
        // Probing is off the path here: a pool reserved for portpool, far from real ports.
        let options = LeaseOptions { protocol, ..LeaseOptions::default() };
        match reg.register(name, port, mode, &options) {
            Ok(_) => {
                reg.release(name).unwrap();
            }
            Err(err) => {
                assert_ne!(err.kind(), ErrorKind::Registry, "{err}");
                if err.kind() == ErrorKind::InvalidArgument {
                    assert_eq!(std::fs::read(&path).ok(), before, "refused input wrote");
                }
            }
        }
    }
    let _ = reg.get(name);
    let _ = reg.allocate(name, mode_text, &LeaseOptions::default());
    let _ = reg.release(name);
});
