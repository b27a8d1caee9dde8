//! Work in progress; see the issue that builds this crate.
