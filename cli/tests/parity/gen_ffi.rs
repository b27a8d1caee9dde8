//! The ffi front end's lease-option code, generated from core's `LeaseOptions` (see lease.rs):
//! `ffi/src/lease_options.rs` holds the C struct `portpool_lease_options` (after `struct_size`,
//! one field group per core field, in core's order, documented with core's doc) and
//! `lease_options()`, which reads it into `LeaseOptions` through one hand-written converter
//! per kind (in ffi/src/args.rs). cbindgen reads the generated file like any other of
//! ffi/src, so the header follows (`PORTPOOL_BLESS=1 cargo test -p portpool-ffi --test header`).

use crate::lease::{Kind, LeaseOption, lease_options, op_name, wrap};
use crate::{generated_file, read};

const FFI_LEASE_OPTIONS: &str = "ffi/src/lease_options.rs";

/// What C's spelling of a kind's value adds to core's doc.
fn kind_sentence(option: &LeaseOption) -> String {
    let name = &option.name;
    match option.kind {
        Kind::Flag => String::new(),
        Kind::Protocol => "`PORTPOOL_PROTOCOL_TCP` (0), `PORTPOOL_PROTOCOL_UDP` or \
                           `PORTPOOL_PROTOCOL_TCP_UDP`."
            .to_owned(),
        Kind::Pid => "0 means none; a pid that is negative, larger than any `pid_t` or names no \
                      running process is `PORTPOOL_INVALID_ARGUMENT`."
            .to_owned(),
        Kind::Seconds => {
            "0 means none; negative or over 100 years is `PORTPOOL_INVALID_ARGUMENT`.".to_owned()
        }
        Kind::Ports => format!("`n_{name}` of them (NULL when `n_{name}` is 0)."),
        Kind::Range => format!("The ports `{name}_start`..=`{name}_end` (both 0: none)."),
        Kind::Address => {
            "A NUL-terminated IP address, e.g. `\"127.0.0.1\"`; NULL means none.".to_owned()
        }
    }
}

/// Core's doc of `option`, core's operations given their C names, and C's kind sentence.
fn c_doc(option: &LeaseOption, header: &str) -> String {
    let doc = option.doc_named(|op| {
        op_name(op, 1).or_else(|| {
            let c = format!("portpool_{op}");
            header.contains(&format!(" {c}(")).then_some(c)
        })
    });
    format!("{doc} {}", kind_sentence(option))
}

/// The C fields of `option`: (name, C-side Rust type, doc).
fn c_fields(option: &LeaseOption, header: &str) -> Vec<(String, &'static str, String)> {
    let name = &option.name;
    let doc = c_doc(option, header);
    match option.kind {
        Kind::Flag => vec![(name.clone(), "bool", doc)],
        Kind::Protocol => vec![(name.clone(), "portpool_protocol", doc)],
        Kind::Pid | Kind::Seconds => vec![(name.clone(), "i64", doc)],
        Kind::Ports => vec![
            (name.clone(), "*const u16", doc),
            (
                format!("n_{name}"),
                "usize",
                format!("How many ports `{name}` holds."),
            ),
        ],
        Kind::Range => vec![
            (format!("{name}_start"), "u16", doc),
            (
                format!("{name}_end"),
                "u16",
                "The last port of the range (inclusive).".to_owned(),
            ),
        ],
        Kind::Address => vec![(name.clone(), "*const c_char", doc)],
    }
}

/// The expression that converts `option`'s C fields (read with `field!`) into core's value.
fn converter(option: &LeaseOption) -> String {
    let name = &option.name;
    match option.kind {
        Kind::Flag => format!("flag(&raw const (*c).{name})"),
        Kind::Protocol => format!("protocol(field!({name}))?"),
        Kind::Pid => format!("optional_pid(field!({name}))?"),
        Kind::Seconds => format!("optional_ttl(field!({name}))?"),
        Kind::Ports => {
            format!("ports(field!({name}), field!(n_{name}), \"options.{name}\")?")
        }
        Kind::Range => format!("optional_range((field!({name}_start), field!({name}_end)))"),
        Kind::Address => format!("optional_host(field!({name}), \"options.{name}\")?"),
    }
}

/// The `use` lines the generated code needs, sorted as rustfmt sorts them.
fn imports(options: &[LeaseOption]) -> String {
    let mut args: Vec<String> = options
        .iter()
        .map(|o| converter(o).split('(').next().unwrap().to_owned())
        .collect();
    args.push("sized".to_owned());
    args.sort_unstable();
    args.dedup();
    let kinds: Vec<Kind> = options.iter().map(|o| o.kind).collect();
    let mut out = String::new();
    if kinds.contains(&Kind::Address) {
        out.push_str("use std::ffi::c_char;\n\n");
    }
    out.push_str("use portpool_core::{LeaseOptions, Result};\n\n");
    for function in args {
        out.push_str(&format!("use crate::args::{function};\n"));
    }
    if kinds.contains(&Kind::Protocol) {
        out.push_str("use crate::types::portpool_protocol;\n");
    }
    out
}

const STRUCT_DOC: &str = "\
/// Options of a new lease, for `portpool_register_ex`, `portpool_register_ports`,
/// `portpool_allocate_ex`, `portpool_allocate_many`, `portpool_lease_open` and `portpool_listen`.
///
/// `portpool_lease_options opts = PORTPOOL_LEASE_OPTIONS_INIT;` (its size, every other field
/// zero) is the default: a permanent TCP lease, not forced, with no owner, no excluded ports,
/// no range, probed on the wildcards. Passing NULL instead of a struct means the same.
/// **Owner:** the caller; the library only reads it during the call.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct portpool_lease_options {
    /// `sizeof` this struct as the caller compiled it: set it with `PORTPOOL_LEASE_OPTIONS_INIT` (or
    /// `sizeof(portpool_lease_options)`). A size smaller than any header ever gave, or over
    /// 4096, is `PORTPOOL_INVALID_ARGUMENT`; a larger one than this library's (a newer header)
    /// is read when the fields this library does not know are zero.
    pub struct_size: usize,
";

const READER: &str = "
/// Lease options; NULL gives the defaults. Zero fields mean \"none\".
///
/// # Safety
/// `ptr` is NULL or points to a readable `portpool_lease_options` of `struct_size` bytes whose
/// pointers are as its fields say.
pub(crate) unsafe fn lease_options(ptr: *const portpool_lease_options) -> Result<LeaseOptions> {
    if ptr.is_null() {
        return Ok(LeaseOptions::default());
    }
    // SAFETY: forwarded from this function's contract.
    let copy = unsafe { sized(ptr, \"options\")? };
    let c = copy.as_ptr();
    macro_rules! field {
        ($name:ident) => {
            (&raw const (*c).$name).read()
        };
    }
    // SAFETY: `copy` is a whole struct, the fields the caller's header lacks zeroed. Each field
    // is read through a raw pointer and is valid with any bits, but flags, which `flag` reads
    // as bytes; the pointers are as this function's contract says.
    unsafe {
        Ok(LeaseOptions {
";

/// The text of ffi/src/lease_options.rs.
fn generated_ffi() -> String {
    let options = lease_options();
    let header = read("include/portpool.h");
    let mut out = String::from(
        "// Code generated from core's LeaseOptions and tests/parity/options.tsv by \
         cli/tests/parity/gen_ffi.rs; DO NOT EDIT.\n\
         // PORTPOOL_BLESS=1 cargo test -p portpool-cli --test parity regenerates it; each kind's\n\
         // converter is written once, in args.rs.\n\n",
    );
    out.push_str(&imports(&options));
    out.push('\n');
    out.push_str(STRUCT_DOC);
    for option in &options {
        for (name, rust_type, doc) in c_fields(option, &header) {
            out.push_str(&wrap(&doc, "    ///", 100));
            out.push_str(&format!("    pub {name}: {rust_type},\n"));
        }
    }
    out.push_str("}\n");
    let (last, last_type) = options
        .last()
        .and_then(|o| c_fields(o, &header).pop())
        .map(|(name, rust_type, _)| (name, rust_type))
        .expect("LeaseOptions has fields");
    out.push_str(&format!(
        "\n/// Where the last field of `portpool_lease_options` ends (`Growable::END`): a caller's bytes\n\
         /// after it, a newer header's fields or tail padding, must be zero.\n\
         pub(crate) const LEASE_OPTIONS_END: usize =\n    \
         std::mem::offset_of!(portpool_lease_options, {last}) + size_of::<{last_type}>();\n"
    ));
    out.push_str(READER);
    for option in &options {
        out.push_str(&format!(
            "            {}: {},\n",
            option.name,
            converter(option)
        ));
    }
    out.push_str("        })\n    }\n}\n");
    out
}

#[test]
fn cs_lease_options_are_generated_from_core_and_the_table() {
    generated_file(FFI_LEASE_OPTIONS, &generated_ffi());
}
