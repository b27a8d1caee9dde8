//! Input rules shared by every front end: ports, names, modes and protocols.

use crate::error::{Error, Result};

/// Longest accepted lease or pool name, in bytes of UTF-8.
pub const MAX_NAME_BYTES: usize = 128;

/// Longest time to live accepted, in seconds: 100 years. Anything longer is a mistake (or an
/// attempt to overflow an expiry time), not a lease.
pub const MAX_TTL_SECS: u64 = 100 * 365 * 24 * 60 * 60 + 25 * 24 * 60 * 60;

/// What separates a namespace from a name in a lease's key: a control character, which
/// neither may contain, so a key names one (namespace, name) pair only.
pub(crate) const NAMESPACE_SEPARATOR: char = '\u{1f}';

/// The key of `name` in `namespace` (`None`: the default namespace, whose keys are the
/// names themselves, as before namespaces).
pub(crate) fn lease_key(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        None => name.to_owned(),
        Some(ns) => format!("{ns}{NAMESPACE_SEPARATOR}{name}"),
    }
}

/// A key's namespace (`None`: the default one) and name.
pub(crate) fn split_key(key: &str) -> (Option<&str>, &str) {
    match key.split_once(NAMESPACE_SEPARATOR) {
        Some((ns, name)) => (Some(ns), name),
        None => (None, key),
    }
}

/// A name as error messages show it: quoted and escaped like Rust's `{:?}`, and cut after
/// [`MAX_NAME_BYTES`] bytes with `…`, so that a 100 KB name never becomes a 100 KB message.
pub fn shown(name: &str) -> String {
    // A name in a namespace is known inside core by its key: shown as the name and where.
    if let (Some(ns), plain) = split_key(name)
        && check_name(ns).is_ok()
        && check_name(plain).is_ok()
    {
        return format!("{} in namespace {}", shown(plain), shown(ns));
    }
    if name.len() <= MAX_NAME_BYTES {
        return format!("{name:?}");
    }
    let mut end = MAX_NAME_BYTES;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}…", &name[..end])
}

/// Checks a lease or pool name: 1–128 bytes of UTF-8, no whitespace, no control characters.
/// Every other character (quotes, slashes, dots, non-ASCII) is accepted and stored exactly.
/// The error echoes at most 128 bytes of the name.
pub fn check_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid(
            "invalid name \"\": a name must not be empty",
        ));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(Error::invalid(format!(
            "invalid name {}: longer than {MAX_NAME_BYTES} bytes ({} bytes)",
            shown(name),
            name.len()
        )));
    }
    if let Some(c) = name.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid(format!(
            "invalid name {}: contains {}",
            shown(name),
            if c.is_control() {
                format!("control character U+{:04X}", c as u32)
            } else {
                format!("whitespace U+{:04X}", c as u32)
            }
        )));
    }
    Ok(())
}

/// Checks a handover's ticket given as an integer of any width: tickets are 1 or more.
pub fn ticket_from_i64(value: i64) -> Result<u64> {
    u64::try_from(value)
        .ok()
        .filter(|t| *t > 0)
        .ok_or_else(|| Error::invalid(format!("invalid ticket {value}: tickets are 1 or more")))
}

/// Checks a port number given as an integer of any width: it must lie in 1–65535.
pub fn port_from_i64(value: i64) -> Result<u16> {
    match u16::try_from(value) {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(Error::invalid(format!(
            "invalid port {value}: ports are 1-65535"
        ))),
    }
}

/// Checks a count of ports given as an integer of any width: 1 to 65535 (there are no more
/// ports to ask for).
pub fn count_from_i64(value: i64) -> Result<usize> {
    match u16::try_from(value) {
        Ok(count) if count != 0 => Ok(usize::from(count)),
        _ => Err(Error::invalid(format!(
            "invalid count {value}: ask for 1 to 65535 ports"
        ))),
    }
}

/// The backlog every front end means when given none, or 0: the kernel's
/// `net.core.somaxconn`, read when the socket listens, so a socket portpool binds queues as
/// many connections as the host allows (as systemd's 4096 would be capped to it).
pub const DEFAULT_BACKLOG: u32 = 0;

/// Checks a TCP listen backlog given as an integer of any width: 0 ([`DEFAULT_BACKLOG`], the
/// kernel's `somaxconn`) to 2147483647 (the kernel caps any length at `somaxconn`).
pub fn backlog_from_i64(value: i64) -> Result<u32> {
    match i32::try_from(value) {
        Ok(backlog) if backlog >= 0 => Ok(backlog.unsigned_abs()),
        _ => Err(Error::invalid(format!(
            "invalid backlog {value}: expected 0 (the kernel's somaxconn) to {}",
            i32::MAX
        ))),
    }
}

/// The longest lock timeout accepted: a year.
const MAX_LOCK_TIMEOUT_SECS: f64 = 365.0 * 24.0 * 3600.0;

/// Checks a lock timeout given in seconds: 0 (no wait at all) to a year; negative, NaN or
/// longer is `InvalidArgument`.
pub fn lock_timeout_from_secs(secs: f64) -> Result<std::time::Duration> {
    if secs.is_finite() && (0.0..=MAX_LOCK_TIMEOUT_SECS).contains(&secs) {
        Ok(std::time::Duration::from_secs_f64(secs))
    } else {
        Err(lock_timeout_error(&secs.to_string()))
    }
}

/// The error of a lock timeout that is not 0 to a year of seconds, `text` as it was given.
pub(crate) fn lock_timeout_error(text: &str) -> Error {
    Error::invalid(format!(
        "invalid lock timeout {}: expected seconds, from 0 to a year",
        shown(text)
    ))
}

/// The error of an integer given in a language whose integers are wider than 64 bits, or
/// whose numbers are not all whole: `text` is outside every range core accepts.
pub fn integer_out_of_range(what: &str, text: &str) -> Error {
    Error::invalid(format!("invalid {what} {text}: out of range"))
}

/// The error of a number that is not a whole number (1.5, NaN, Infinity) where an integer is
/// asked for.
pub fn not_an_integer(what: &str, text: &str) -> Error {
    Error::invalid(format!("invalid {what} {text}: expected an integer"))
}

/// An IP address given as text, as every front end takes a probe or bind address
/// (`127.0.0.1`, `::1`); host names are refused, so no lookup can stall a call.
pub fn parse_host(text: &str) -> Result<std::net::IpAddr> {
    text.trim().parse().map_err(|_| {
        Error::invalid(format!(
            "invalid host {}: not an IP address (e.g. 127.0.0.1 or ::1)",
            shown(text)
        ))
    })
}

/// Checks a process id given as an integer of any width: 1 up to the largest `pid_t`.
/// Whether such a process exists is checked where an owner is recorded.
pub fn pid_from_i64(value: i64) -> Result<u32> {
    match i32::try_from(value) {
        Ok(pid) if pid > 0 => Ok(pid as u32),
        _ => Err(Error::invalid(format!(
            "invalid pid {value}: process ids are 1-{}",
            i32::MAX
        ))),
    }
}

/// Checks a time to live in seconds given as an integer of any width: 1 second to 100 years.
pub fn ttl_from_i64(value: i64) -> Result<u64> {
    match u64::try_from(value) {
        Ok(ttl) => check_ttl(ttl),
        Err(_) => Err(Error::invalid(format!(
            "invalid ttl {value}: a time to live is at least 1 second"
        ))),
    }
}

/// Checks a time to live in seconds: at least 1, at most [`MAX_TTL_SECS`] (100 years).
pub fn check_ttl(ttl: u64) -> Result<u64> {
    match ttl {
        0 => Err(Error::invalid(
            "invalid ttl 0: a time to live is at least 1 second",
        )),
        t if t > MAX_TTL_SECS => Err(Error::invalid(format!(
            "invalid ttl {t}: a time to live is at most {MAX_TTL_SECS} seconds (100 years)"
        ))),
        t => Ok(t),
    }
}

/// Checks a port that is already a `u16`: 0 is rejected.
pub fn check_port(port: u16) -> Result<u16> {
    port_from_i64(i64::from(port))
}

/// Parses a port written as decimal text, as a command line or config file gives it.
pub fn parse_port(text: &str) -> Result<u16> {
    let trimmed = text.trim();
    if trimmed.is_empty() || !trimmed.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        return Err(Error::invalid(format!(
            "invalid port {text:?}: not a number (ports are 1-65535)"
        )));
    }
    match trimmed.parse::<i64>() {
        Ok(value) => port_from_i64(value),
        Err(_) => Err(Error::invalid(format!(
            "invalid port {text:?}: ports are 1-65535"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn ports_outside_1_to_65535_are_rejected() {
        for bad in [0, -5, 65536, 70000, i64::MIN, i64::MAX] {
            let err = port_from_i64(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument);
            assert!(err.message().contains(&bad.to_string()), "{err}");
        }
        assert_eq!(port_from_i64(1).unwrap(), 1);
        assert_eq!(port_from_i64(65535).unwrap(), 65535);
    }

    #[test]
    fn counts_are_1_to_65535_ports() {
        for bad in [0, -1, 65536, i64::MIN, i64::MAX] {
            let err = count_from_i64(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument);
            assert_eq!(
                err.message(),
                format!("invalid count {bad}: ask for 1 to 65535 ports")
            );
        }
        assert_eq!(count_from_i64(1).unwrap(), 1);
        assert_eq!(count_from_i64(65535).unwrap(), 65535);
    }

    #[test]
    fn a_backlog_is_0_for_the_kernels_somaxconn_to_i32_max() {
        assert_eq!(backlog_from_i64(0).unwrap(), DEFAULT_BACKLOG);
        assert_eq!(backlog_from_i64(4096).unwrap(), 4096);
        assert_eq!(
            backlog_from_i64(i64::from(i32::MAX)).unwrap(),
            i32::MAX as u32
        );
        for bad in [-1, i64::from(i32::MAX) + 1, i64::MIN] {
            let err = backlog_from_i64(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument);
            assert!(
                err.message()
                    .starts_with(&format!("invalid backlog {bad}: expected 0"))
            );
        }
    }

    #[test]
    fn a_lock_timeout_is_0_to_a_year_of_seconds() {
        assert_eq!(lock_timeout_from_secs(0.5).unwrap().as_millis(), 500);
        assert_eq!(lock_timeout_from_secs(0.0).unwrap().as_millis(), 0);
        for bad in [-1.0, f64::NAN, f64::INFINITY, MAX_LOCK_TIMEOUT_SECS + 1.0] {
            let err = lock_timeout_from_secs(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument);
            assert!(err.message().contains("from 0 to a year"), "{err}");
        }
    }

    #[test]
    fn pids_and_ttls_must_be_positive_and_in_range() {
        for bad in [0, -1, i64::from(i32::MAX) + 1] {
            assert_eq!(
                pid_from_i64(bad).unwrap_err().kind(),
                ErrorKind::InvalidArgument
            );
        }
        assert_eq!(pid_from_i64(1).unwrap(), 1);
        for bad in [0, -30] {
            let err = ttl_from_i64(bad).unwrap_err();
            assert!(err.message().contains(&bad.to_string()), "{err}");
        }
        assert_eq!(ttl_from_i64(30).unwrap(), 30);
    }

    #[test]
    fn ttls_over_100_years_are_rejected() {
        for bad in [MAX_TTL_SECS + 1, u64::MAX, u64::MAX / 2] {
            assert_eq!(
                check_ttl(bad).unwrap_err().kind(),
                ErrorKind::InvalidArgument
            );
        }
        assert_eq!(check_ttl(MAX_TTL_SECS).unwrap(), MAX_TTL_SECS);
        assert_eq!(
            ttl_from_i64(i64::MAX).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }

    #[test]
    fn error_messages_echo_at_most_128_bytes_of_a_name() {
        let huge = "é".repeat(50_000);
        let err = check_name(&huge).unwrap_err();
        assert!(err.message().len() < 300, "{} bytes", err.message().len());
        assert!(err.message().contains('…'));
        let spaced = format!("{} x", "a".repeat(100_000));
        assert!(check_name(&spaced).unwrap_err().message().len() < 300);
        assert_eq!(shown("web"), "\"web\"");
    }

    #[test]
    fn port_text_must_be_a_plain_decimal_number() {
        for bad in ["", "abc", "80a", "0x50", "1e3", "-5", "70000", "0", " "] {
            let err = parse_port(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{bad:?}");
        }
        assert_eq!(parse_port("8080").unwrap(), 8080);
        assert_eq!(parse_port("00443").unwrap(), 443);
    }

    #[test]
    fn names_reject_empty_long_whitespace_and_control_characters() {
        let long = "x".repeat(MAX_NAME_BYTES + 1);
        for bad in [
            "",
            "a b",
            "a\tb",
            "a\nb",
            "a\u{7}b",
            "a\u{a0}b",
            long.as_str(),
        ] {
            let err = check_name(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{bad:?}");
        }
    }

    #[test]
    fn names_accept_any_other_utf8() {
        let max = "é".repeat(MAX_NAME_BYTES / 2);
        for good in [
            "web",
            "evil\":1,\"keycloak",
            "a.c",
            "a/b",
            "../../etc/passwd",
            "名前",
            "$(rm${IFS}-rf${IFS}/)",
            max.as_str(),
        ] {
            check_name(good).unwrap();
        }
    }
}
