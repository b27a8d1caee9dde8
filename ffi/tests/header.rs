//! The committed header is what cbindgen emits from this crate.

use std::path::Path;

const GENERATED: &str = include_str!(concat!(env!("OUT_DIR"), "/portpool.h"));

#[test]
fn committed_header_matches_what_cbindgen_generates() {
    let committed_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../include/portpool.h");
    if std::env::var_os("PORTPOOL_BLESS").is_some_and(|v| !v.is_empty()) {
        std::fs::write(&committed_path, GENERATED).expect("include/portpool.h is writable");
        return;
    }
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    assert!(
        committed == GENERATED,
        "include/portpool.h differs from what cbindgen generates from ffi/src.\n\
         Review the change, then run: PORTPOOL_BLESS=1 cargo test -p portpool-ffi --test header\n\
         first differing line: {}",
        first_difference(&committed, GENERATED)
    );
}

fn first_difference(a: &str, b: &str) -> String {
    let mut a_lines = a.lines();
    let mut b_lines = b.lines();
    for number in 1.. {
        match (a_lines.next(), b_lines.next()) {
            (Some(x), Some(y)) if x == y => continue,
            (None, None) => break,
            (x, y) => {
                return format!(
                    "{number}\n  committed: {}\n  generated: {}",
                    x.unwrap_or("<end of file>"),
                    y.unwrap_or("<end of file>")
                );
            }
        }
    }
    "none (line endings differ)".to_owned()
}
