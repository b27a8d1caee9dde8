//! One table of spellings per enum of plain values: `as_str`, `Display`, `FromStr` and `ALL`
//! come from it, so a value is spelled once (the serde names match it; a test per enum says
//! so).

use crate::error::Error;
use crate::validate::shown;

/// The error of a `FromStr` that met none of `accepted`: `invalid mode "x": expected "fixed"
/// or "flexible"`.
pub(crate) fn not_one_of<'a>(
    what: &str,
    text: &str,
    accepted: impl Iterator<Item = &'a str>,
) -> Error {
    let accepted: Vec<String> = accepted.map(|a| format!("{a:?}")).collect();
    let expected = match accepted.as_slice() {
        [one, two] => format!("{one} or {two}"),
        more => format!("one of {}", more.join(", ")),
    };
    Error::invalid(format!(
        "invalid {what} {}: expected {expected}",
        shown(text)
    ))
}

/// `spelled!(Mode, "mode", { Flexible => "flexible", ... }, parse: [Flexible, Fixed]);`
/// gives `Mode::ALL`, `Mode::as_str`, `Display` and a `FromStr` that accepts the spellings
/// of the `parse` values in any case.
macro_rules! spelled {
    ($name:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }, parse: [$($parse:ident),+ $(,)?]) => {
        impl $name {
            /// Every value, in the order of the enum.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The one spelling of this value: in every front end, and in JSON.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::error::Error;

            fn from_str(s: &str) -> crate::error::Result<Self> {
                const ACCEPTED: &[$name] = &[$($name::$parse),+];
                ACCEPTED
                    .iter()
                    .copied()
                    .find(|value| value.as_str().eq_ignore_ascii_case(s))
                    .ok_or_else(|| {
                        crate::spelled::not_one_of($what, s, ACCEPTED.iter().map(|v| v.as_str()))
                    })
            }
        }
    };
}

pub(crate) use spelled;

#[cfg(test)]
mod tests {
    use crate::{ErrorKind, FindingKind, Mode, Protocol, Severity};

    fn json<T: serde::Serialize>(value: T) -> String {
        serde_json::to_string(&value).unwrap()
    }

    #[test]
    fn every_value_is_spelled_in_json_as_as_str_says() {
        for p in Protocol::ALL {
            assert_eq!(json(p), format!("\"{p}\""));
        }
        for m in Mode::ALL {
            assert_eq!(json(m), format!("\"{m}\""));
        }
        for k in FindingKind::ALL {
            assert_eq!(json(k), format!("\"{k}\""));
        }
        for s in Severity::ALL {
            assert_eq!(json(s), format!("\"{s}\""));
        }
    }

    #[test]
    fn parsing_accepts_the_parse_values_in_any_case_and_names_them_when_it_fails() {
        assert_eq!("UDP".parse::<Protocol>().unwrap(), Protocol::Udp);
        assert_eq!("Fixed".parse::<Mode>().unwrap(), Mode::Fixed);
        let err = "pool".parse::<Mode>().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert_eq!(
            err.message(),
            "invalid mode \"pool\": expected \"fixed\" or \"flexible\""
        );
        let err = "nope".parse::<FindingKind>().unwrap_err();
        assert!(
            err.message()
                .starts_with("invalid finding kind \"nope\": expected one of \"not_listening\", "),
            "{err}"
        );
    }
}
