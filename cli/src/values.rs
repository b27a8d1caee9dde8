//! How the command line spells core's values: one converter per kind of lease option (see
//! cli/tests/parity/lease.rs's `Kind`), which the generated [`crate::lease_args`] calls field by
//! field, and the port lists and ranges other arguments share. A flag (`bool`), a pid
//! (`Option<u32>`) and seconds (`Option<u64>`) need none: clap reads them as core's types.
//! A new kind of lease option needs its converter here and its spelling in gen_cli.rs.

use std::net::IpAddr;

use portpool_core::{Error, ErrorKind, Protocol, parse_port};

/// A protocol, as core spells it (`tcp`, `udp`, `tcp+udp`): clap's value parser of --protocol.
pub(crate) fn protocol_value(text: &str) -> Result<Protocol, String> {
    text.parse().map_err(|e: Error| e.message().to_owned())
}

/// The protocol of `--protocol` and `--udp` (short for `--protocol udp`): TCP unless told
/// otherwise.
pub(crate) fn protocol(protocol: Option<Protocol>, udp: bool) -> Protocol {
    if udp {
        Protocol::Udp
    } else {
        protocol.unwrap_or_default()
    }
}

/// The ports of a list option given comma separated or repeated (`--exclude 4001,4002`).
pub(crate) fn ports(each: &[String]) -> Result<Vec<u16>, Error> {
    each.iter().map(|p| parse_port(p)).collect()
}

/// The range of a range option, written `START-END`.
pub(crate) fn range(text: Option<&str>) -> Result<Option<(u16, u16)>, Error> {
    text.map(parse_range).transpose()
}

/// The address of an address option (`127.0.0.1`, `::1`), as core parses it.
pub(crate) fn address(text: Option<&str>) -> Result<Option<IpAddr>, Error> {
    text.map(portpool_core::parse_host).transpose()
}

/// Ports written as a comma-separated list (`3000,3001`), each 1-65535.
pub(crate) fn parse_ports(text: &str) -> Result<Vec<u16>, Error> {
    text.split(',').map(parse_port).collect()
}

/// A range written `START-END` (`4000-4100`); core checks that START is not after END.
pub(crate) fn parse_range(text: &str) -> Result<(u16, u16), Error> {
    match text.split_once('-') {
        Some((start, end)) => Ok((parse_port(start)?, parse_port(end)?)),
        None => Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("invalid range {text:?}: expected START-END, e.g. 4000-4100"),
        )),
    }
}
