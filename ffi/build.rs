//! Generates `portpool.h` into OUT_DIR with cbindgen. The committed `include/portpool.h` is
//! compared against it by `tests/header.rs`; nothing here writes into the source tree.
//!
//! Also gives libportpool.so its SONAME, so programs record `libportpool.so.0` and keep
//! working when a compatible libportpool.so.0.x replaces the one they were linked with.

use std::env;
use std::fs;
use std::path::PathBuf;

/// The shared library's SONAME: the major version of the C ABI. ffi/Makefile installs
/// libportpool.so.VERSION with the symlinks libportpool.so.0 and libportpool.so; a change that
/// breaks the ABI bumps this number and `PORTPOOL_ABI_VERSION` together.
const SONAME: &str = "libportpool.so.0";

fn main() {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));
    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{SONAME}");
    }
    for watched in ["src", "cbindgen.toml"] {
        println!(
            "cargo:rerun-if-changed={}",
            crate_dir.join(watched).display()
        );
    }

    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("ffi/cbindgen.toml is readable and valid");
    let lib_rs = fs::read_to_string(crate_dir.join("src/lib.rs")).expect("src/lib.rs is readable");
    config.header = Some(header_comment(&lib_rs));
    config.after_includes = Some(format!(
        "\n/** The version of portpool this header belongs to; `portpool_version()` returns the \
         library's. */\n#define PORTPOOL_VERSION \"{}\"\n{}",
        env::var("CARGO_PKG_VERSION").expect("set by cargo"),
        INITIALIZERS
    ));

    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen can read ffi/src")
        .write_to_file(out_dir.join("portpool.h"));
}

/// The initializers of the structs that lead with their size: the size this header gives,
/// every other field zero (the defaults). C99 designated initializers; in C++, value-initialize
/// the struct and set `struct_size`.
const INITIALIZERS: &str = "
/** Initializers of the structs a call reads, each the struct's defaults: `struct_size` set to
 * the size this header gives it, every other field zero.
 * `portpool_lease_options opts = PORTPOOL_LEASE_OPTIONS_INIT;` In C++, write
 * `portpool_lease_options opts{}; opts.struct_size = sizeof opts;` instead. */
#define PORTPOOL_LEASE_OPTIONS_INIT { .struct_size = sizeof(portpool_lease_options) }
#define PORTPOOL_FIND_OPTIONS_INIT { .struct_size = sizeof(portpool_find_options) }
#define PORTPOOL_LISTEN_OPTIONS_INIT { .struct_size = sizeof(portpool_listen_options) }
#define PORTPOOL_CHOICE_INIT { .struct_size = sizeof(portpool_choice) }";

/// The crate documentation (the `//!` lines of lib.rs) as a C block comment, so the error
/// protocol is written down once and read in both places.
fn header_comment(lib_rs: &str) -> String {
    let mut comment = String::from("/*\n");
    for line in lib_rs.lines().map_while(|l| l.strip_prefix("//!")) {
        let line = line.strip_prefix(' ').unwrap_or(line);
        if line.is_empty() {
            comment.push_str(" *\n");
        } else {
            comment.push_str(" * ");
            comment.push_str(&line.replace("*/", "* /"));
            comment.push('\n');
        }
    }
    comment.push_str(" */");
    comment
}
