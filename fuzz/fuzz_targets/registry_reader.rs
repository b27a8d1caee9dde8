//! Any bytes given to the registry reader: it never panics, and whatever it accepts it writes
//! back in a form it reads again to the same leases and pools.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portpool_core::{leases_to_json, parse_registry};
use std::path::Path;

fuzz_target!(|bytes: &[u8]| {
    let path = Path::new("/fuzz/registry.json");
    if let Ok((leases, pools)) = parse_registry(path, bytes) {
        // Names and ports that were accepted obey the rules.
        for lease in &leases {
            portpool_core::check_name(&lease.name).expect("accepted name is valid");
            assert!(lease.port != 0);
        }
        assert!(pools.iter().any(|p| p.name == portpool_core::DEFAULT_POOL));
        let json = leases_to_json(&leases, false);
        let again = format!("{{\"version\":1,\"leases\":{json}}}");
        let (leases2, _) = parse_registry(path, again.as_bytes()).expect("own output reads");
        assert_eq!(leases, leases2);
    }
});
