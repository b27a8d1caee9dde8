//! Commands that set up and list pools.

use portpool_core::{Error, Pool, Registry, parse_port};

use crate::Outcome;
use crate::args::PoolSetArgs;
use crate::render::{Row, emit, say};

/// `portpool pool set`: prints the pool's range, and core's warnings about it on stderr.
pub(super) fn set(reg: &Registry, args: PoolSetArgs) -> Result<Outcome, Error> {
    let probe = match (args.probe, args.no_probe) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    };
    let (start, end) = (parse_port(&args.start)?, parse_port(&args.end)?);
    reg.set_force(args.force);
    let change = reg.set_pool(&args.name, start, end, probe)?;
    for warning in &change.warnings {
        eprintln!("portpool: warning: {warning}");
    }
    let pool = change.pool;
    say([format!("pool {} {}-{}", pool.name, pool.start, pool.end)]);
    Ok(Outcome::Ok)
}

/// `portpool pool list`: every pool, as a table.
pub(super) fn list(reg: &Registry, json: bool) -> Result<Outcome, Error> {
    emit(json, reg.pools()?.as_slice());
    Ok(Outcome::Ok)
}

impl Row for Pool {
    const HEADER: &'static [&'static str] = &["NAME", "START", "END", "CURSOR", "PROBE"];

    fn row(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.start.to_string(),
            self.end.to_string(),
            self.cursor.to_string(),
            if self.probe { "yes" } else { "no" }.to_owned(),
        ]
    }
}
