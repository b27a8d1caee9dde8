//! The go front end's lease-option code, generated from core's `LeaseOptions` (see lease.rs):
//! `bindings/go/lease_options_gen.go` holds, for each lease option whose Go cell in
//! tests/parity/options.tsv is a `With…` function, that function (documented with core's doc),
//! its bit in `optionSet`, where the Go values of pointer kinds wait to be copied into C memory,
//! and `lease`, which fills the C struct. Each kind's conversion is written once, in
//! bindings/go/options.go (`cPorts`, `cRange`, `cHost`, `ttlSeconds`, `optionalString`).

use crate::lease::{Kind, LeaseOption, lease_ops, lease_options, lease_rows, op_name, wrap};
use crate::{generated_file, options_table, sources};

const GO_LEASE_OPTIONS: &str = "bindings/go/lease_options_gen.go";

/// A lease option Go takes, as a `With…` function.
struct GoOption {
    option: LeaseOption,
    /// `WithOwner`.
    function: String,
}

impl GoOption {
    /// `Owner`, as in the bit `setOwner`.
    fn bit(&self) -> String {
        format!("set{}", self.function.trim_start_matches("With"))
    }
}

/// The lease options of core that some operation takes in Go as a `With…` function.
fn go_options() -> Vec<GoOption> {
    let ops = lease_ops();
    lease_options()
        .into_iter()
        .filter_map(|option| {
            let function = ops.iter().find_map(|op| {
                lease_rows(op)
                    .into_iter()
                    .find(|(o, row)| o.name == option.name && row.cells[2].starts_with("With"))
                    .map(|(_, row)| row.cells[2].clone())
            })?;
            Some(GoOption { option, function })
        })
        .collect()
}

/// `a`, `a and b`, `a, b and c`.
fn listed(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// The Go calls that take `function`, in the order of options.tsv.
fn calls_taking(function: &str) -> Vec<String> {
    let ops = crate::table().rows;
    let mut calls: Vec<String> = Vec::new();
    for row in options_table().iter().filter(|r| r.cells[2] == function) {
        let Some((_, cells)) = ops.iter().find(|(core, _)| *core == row.op) else {
            continue;
        };
        for call in cells[2].split(", ") {
            if !calls.iter().any(|c| c == call) {
                calls.push(call.to_owned());
            }
        }
    }
    calls
}

/// What Go's spelling of a kind's value adds to core's doc.
fn kind_sentence(kind: Kind) -> &'static str {
    match kind {
        Kind::Flag | Kind::Protocol => "",
        Kind::Pid => {
            "Zero means none, as everywhere in this package; a negative pid, or one that names \
             no running process, is ErrInvalidArgument (checked by libportpool)."
        }
        Kind::Seconds => {
            "The duration is rounded up to whole seconds. Zero means none, as everywhere in this \
             package; a negative one, or one over 100 years, is ErrInvalidArgument (checked by \
             libportpool)."
        }
        Kind::Ports => {
            "Given more than once, the ports add up. A port outside 1-65535 is ErrInvalidArgument."
        }
        Kind::Range => {
            "The range is lo to hi, inclusive. A port outside 1-65535, or lo above hi, is \
             ErrInvalidArgument."
        }
        Kind::Address => {
            "An ip that is not an address of this host is ErrInvalidArgument, and so is the zero \
             netip.Addr. A netip.Addr is taken rather than a net.IP because it is a value: the \
             option keeps no slice the caller may change, IPv4 and IPv4-mapped IPv6 stay apart, \
             and the zero value is told from an address (use netip.AddrFromSlice to convert a \
             net.IP)."
        }
    }
}

/// The Go doc comment of `go`'s `With…` function.
fn go_doc(go: &GoOption, package: &str) -> String {
    let doc = go.option.doc_named(|op| {
        op_name(op, 2).or_else(|| {
            let camel: String = op
                .split('_')
                .map(|w| w[..1].to_uppercase() + &w[1..])
                .collect();
            package
                .contains(&format!("func (r *Registry) {camel}("))
                .then_some(camel)
        })
    });
    let doc = doc.replace('`', "");
    let first = format!(
        "{} sets the lease option {}. {doc} {}",
        go.function,
        go.option.name,
        kind_sentence(go.option.kind)
    );
    let calls = format!(
        "Of the calls that make leases or find ports, {} take it.",
        listed(&calls_taking(&go.function))
    );
    format!("{}//\n{}", wrap(&first, "//", 100), wrap(&calls, "//", 100))
}

/// `go`'s `With…` function: its signature and body, calling the kind's conversion.
fn go_function(go: &GoOption) -> String {
    let (name, function, bit) = (&go.option.name, &go.function, go.bit());
    let (params, body) = match go.option.kind {
        Kind::Flag => (
            String::new(),
            format!("\treturn func(o *leaseOptions) {{ o.c.{name}, o.set = true, o.set|{bit} }}\n"),
        ),
        Kind::Protocol => (
            "p Protocol".to_owned(),
            format!(
                "\treturn func(o *leaseOptions) {{ o.c.{name}, o.set = C.portpool_protocol(p), o.set|{bit} }}\n"
            ),
        ),
        Kind::Pid => (
            "pid int".to_owned(),
            format!(
                "\treturn func(o *leaseOptions) {{ o.c.{name}, o.set = C.int64_t(pid), o.set|{bit} }}\n"
            ),
        ),
        Kind::Seconds => (
            format!("{name} time.Duration"),
            format!(
                "\treturn func(o *leaseOptions) {{ o.c.{name}, o.set = C.int64_t(ttlSeconds({name})), o.set|{bit} }}\n"
            ),
        ),
        Kind::Ports => (
            "ports ...int".to_owned(),
            failing(
                "checked, err := cPorts(ports)",
                &format!("o.{name}, o.set = append(o.{name}, checked...), o.set|{bit}"),
            ),
        ),
        Kind::Range => (
            "lo, hi int".to_owned(),
            failing(
                "start, end, err := cRange(lo, hi)",
                &format!("o.c.{name}_start, o.c.{name}_end, o.set = start, end, o.set|{bit}"),
            ),
        ),
        Kind::Address => (
            "ip netip.Addr".to_owned(),
            failing(
                "host, err := cHost(ip)",
                &format!("o.{name}, o.set = host, o.set|{bit}"),
            ),
        ),
    };
    format!("func {function}({params}) LeaseOption {{\n{body}}}\n")
}

/// The body of an option whose conversion may fail: converted when the option is made, the
/// error kept for the call.
fn failing(convert: &str, set: &str) -> String {
    format!(
        "\t{convert}\n\treturn func(o *leaseOptions) {{\n\t\t{set}\n\t\tif err != nil {{\n\t\t\to.err = err\n\t\t}}\n\t}}\n"
    )
}

/// The Go field that holds `option`'s value until `lease` copies it into C memory, if its
/// kind points to memory.
fn go_value(option: &LeaseOption) -> Option<(String, &'static str)> {
    match option.kind {
        Kind::Ports => Some((option.name.clone(), "[]uint16")),
        Kind::Address => Some((option.name.clone(), "string")),
        _ => None,
    }
}

/// The statements of `lease` that copy `option`'s Go value into C memory.
fn to_c(option: &LeaseOption) -> String {
    let name = &option.name;
    match option.kind {
        Kind::Ports => {
            format!("\tc.{name}, c.n_{name} = mem.ports(o.{name}), C.size_t(len(o.{name}))\n")
        }
        Kind::Address => format!(
            "\t{name}, err := mem.optionalString(\"{name}\", o.{name})\n\tif err != nil {{\n\t\treturn nil, err\n\t}}\n\tc.{name} = {name}\n"
        ),
        _ => String::new(),
    }
}

const HEAD: &str = "\
// Code generated from core's LeaseOptions and tests/parity/options.tsv by cli/tests/parity/gen_go.rs; DO NOT EDIT.
// PORTPOOL_BLESS=1 cargo test -p portpool-cli --test parity regenerates it; each kind's
// conversion is written once, in options.go.

package portpool

/*
#include \"portpool.h\"
*/
import \"C\"
";

/// The `optionSet` bits, names and Go-side values of the lease options.
fn go_bookkeeping(options: &[GoOption]) -> String {
    let mut out = String::from(
        "\n// The lease options' bits in optionSet, in the order of core's LeaseOptions; the other\n\
         // options' bits follow (options.go).\nconst (\n",
    );
    for (i, go) in options.iter().enumerate() {
        let value = if i == 0 { " optionSet = 1 << iota" } else { "" };
        out.push_str(&format!("\t{}{value}\n", go.bit()));
    }
    out.push_str(&format!(
        ")\n\n// nLeaseOptions is how many bits the lease options take.\nconst nLeaseOptions = {}\n\n",
        options.len()
    ));
    let names: Vec<String> = options
        .iter()
        .map(|g| format!("{:?}", g.function))
        .collect();
    out.push_str(&format!(
        "// leaseOptionNames are the lease options' names, in the order of their bits.\n\
         var leaseOptionNames = []string{{{}}}\n\n",
        names.join(", ")
    ));
    let values: Vec<(String, &str)> = options.iter().filter_map(|g| go_value(&g.option)).collect();
    let width = values.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    out.push_str(
        "// leaseValues holds what the C struct points to, copied into C memory by lease (cgo lets\n\
         // C keep no Go pointer inside a struct it is given).\ntype leaseValues struct {\n",
    );
    for (name, go_type) in &values {
        out.push_str(&format!("\t{name:width$} {go_type}\n"));
    }
    out.push_str("}\n");
    out
}

const LEASE: &str = "
// lease returns the options for libportpool, the ports and host they point to copied into mem.
// The struct is a copy of its own: cgo checks the whole Go object a pointer points into, and
// leaseOptions holds Go pointers.
func (o *leaseOptions) lease(mem *cMemory) (*C.portpool_lease_options, error) {
\tc := new(C.portpool_lease_options)
\t*c = o.c
\tc.struct_size = C.size_t(unsafe.Sizeof(*c))
";

/// The text of bindings/go/lease_options_gen.go.
fn generated_go() -> String {
    let options = go_options();
    let package = sources("bindings/go", &[".go"], &["_test.go"]);
    let kinds: Vec<Kind> = options.iter().map(|g| g.option.kind).collect();
    let mut out = String::from(HEAD);
    let mut imports = Vec::new();
    if kinds.contains(&Kind::Address) {
        imports.push("net/netip");
    }
    if kinds.contains(&Kind::Seconds) {
        imports.push("time");
    }
    imports.push("unsafe");
    out.push_str("\nimport (\n");
    for import in imports {
        out.push_str(&format!("\t\"{import}\"\n"));
    }
    out.push_str(")\n");
    out.push_str(&go_bookkeeping(&options));
    for go in &options {
        out.push('\n');
        out.push_str(&go_doc(go, &package));
        out.push_str(&go_function(go));
    }
    out.push_str(LEASE);
    for go in &options {
        out.push_str(&to_c(&go.option));
    }
    out.push_str("\treturn c, nil\n}\n");
    out
}

#[test]
fn gos_lease_options_are_generated_from_core_and_the_table() {
    generated_file(GO_LEASE_OPTIONS, &generated_go());
}
