//! `portpool reserve`: the kernel's reserved ports kept holding every leased port.

use portpool_core::{Error, Registry, Reservation, port_list};

use crate::Outcome;
use crate::args::ReserveArgs;
use crate::render::{Render, emit, value};

/// `portpool reserve [--check]`: syncs (root), or reports drift and exits 1 on it (anyone).
pub(super) fn reserve(reg: &Registry, args: ReserveArgs) -> Result<Outcome, Error> {
    if args.check {
        let report = portpool_core::reserve_check(reg)?;
        emit(args.json, &Checked(&report));
        return Ok(if report.drift() {
            Outcome::NotFree
        } else {
            Outcome::Ok
        });
    }
    let report = portpool_core::reserve(reg)?;
    emit(args.json, &Synced(&report));
    Ok(Outcome::Ok)
}

/// `9000-9001 (2 ports)`, or `none`.
fn ports(list: &[u16]) -> String {
    match list.len() {
        0 => "none".to_owned(),
        1 => port_list(list),
        n => format!("{} ({n} ports)", port_list(list)),
    }
}

fn by_hand(report: &Reservation) -> String {
    format!("reserved by hand, left alone: {}", ports(&report.by_hand))
}

struct Synced<'a>(&'a Reservation);

impl Render for Synced<'_> {
    fn text(&self) -> Vec<String> {
        let r = self.0;
        let head = if r.written {
            format!("added {}; removed {}", ports(&r.added), ports(&r.removed))
        } else {
            "nothing to change".to_owned()
        };
        vec![
            format!("{head}: the kernel reserves every leased port"),
            format!("leased: {}", ports(&r.leased)),
            by_hand(r),
        ]
    }

    fn json(&self) -> serde_json::Value {
        value(self.0)
    }
}

struct Checked<'a>(&'a Reservation);

impl Render for Checked<'_> {
    fn text(&self) -> Vec<String> {
        let r = self.0;
        let mut lines = if r.drift() {
            vec![
                format!("drift: leased but not reserved: {}", ports(&r.added)),
                format!(
                    "drift: reserved by portpool but no longer leased: {}",
                    ports(&r.removed)
                ),
                "portpool reserve (as root) brings the kernel in line".to_owned(),
            ]
        } else {
            vec!["in sync: the kernel reserves every leased port".to_owned()]
        };
        lines.push(format!("leased: {}", ports(&r.leased)));
        lines.push(by_hand(r));
        lines
    }

    fn json(&self) -> serde_json::Value {
        value(self.0)
    }
}
