//! What `portpool watch` shows, without a terminal: a snapshot of the registry and the host's
//! listeners, the changes between two snapshots, the filters, and what the keys do. The
//! drawing layer (`view.rs`) only lays these values out.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use portpool_core::{Lease, Pool, Protocol};

/// How many changes the view keeps.
pub(crate) const KEPT_CHANGES: usize = 200;
/// The most ports a pool's strip shows; a larger pool shows its first ones and says so.
pub(crate) const STRIP_MAX: usize = 4096;

/// The registry and the host's listeners at one moment.
#[derive(Clone, Debug, Default)]
pub(crate) struct Snapshot {
    /// Seconds since the epoch when it was taken.
    pub(crate) now: u64,
    pub(crate) pools: Vec<Pool>,
    /// As `list` returns them: a stale lease says why.
    pub(crate) leases: Vec<Lease>,
    /// Ports a server socket is bound to, with their protocol.
    pub(crate) bound: BTreeSet<(u16, Protocol)>,
}

/// One port of a pool's strip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cell {
    Free,
    Leased,
    /// Bound by a process, with no lease.
    Bound,
    /// Leased by a lease that is stale.
    Stale,
}

impl Cell {
    /// The character the strip shows.
    pub(crate) fn glyph(self) -> char {
        match self {
            Cell::Free => '.',
            Cell::Leased => '#',
            Cell::Bound => 'b',
            Cell::Stale => 's',
        }
    }
}

/// A pool and its ports, as the strip shows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Strip {
    pub(crate) pool: Pool,
    /// The first [`STRIP_MAX`] ports of the range, in order.
    pub(crate) cells: Vec<Cell>,
    pub(crate) leased: usize,
}

/// One lease, as its row shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) name: String,
    pub(crate) port: String,
    pub(crate) pool: String,
    pub(crate) owner: String,
    pub(crate) age: String,
    pub(crate) ttl_left: String,
    pub(crate) handover: String,
    pub(crate) stale: String,
}

/// Which filter a key is editing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    Name,
    Pool,
    Namespace,
}

/// What the user narrowed the view to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Filter {
    /// Names containing this.
    pub(crate) name: Option<String>,
    pub(crate) pool: Option<String>,
    /// The lease's namespace (`-`: the default one).
    pub(crate) namespace: Option<String>,
}

impl Filter {
    pub(crate) fn shows(&self, lease: &Lease) -> bool {
        let ns = lease.namespace.as_deref().unwrap_or("-");
        self.name
            .as_ref()
            .is_none_or(|n| lease.name.contains(n.as_str()))
            && self
                .pool
                .as_ref()
                .is_none_or(|p| lease.pool.as_ref() == Some(p))
            && self.namespace.as_deref().is_none_or(|n| n == ns)
    }

    fn slot(&mut self, field: Field) -> &mut Option<String> {
        match field {
            Field::Name => &mut self.name,
            Field::Pool => &mut self.pool,
            Field::Namespace => &mut self.namespace,
        }
    }
}

/// A key the view reacts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Key {
    Char(char),
    Enter,
    Backspace,
    Esc,
}

/// Everything on screen.
#[derive(Debug, Default)]
pub(crate) struct Model {
    pub(crate) snapshot: Snapshot,
    /// Newest last: `(seconds since the epoch, what happened)`.
    pub(crate) changes: VecDeque<(u64, String)>,
    pub(crate) filter: Filter,
    /// The filter being typed, and its text so far.
    pub(crate) editing: Option<(Field, String)>,
    seen: bool,
}

impl Model {
    pub(crate) fn new(filter: Filter) -> Model {
        Model {
            filter,
            ..Model::default()
        }
    }

    /// Takes a new snapshot in, noting what changed since the last one (nothing for the
    /// first: what was there before the view started is not news).
    pub(crate) fn update(&mut self, next: Snapshot) {
        if self.seen {
            for line in changes(&self.snapshot, &next) {
                self.changes.push_back((next.now, line));
            }
            while self.changes.len() > KEPT_CHANGES {
                self.changes.pop_front();
            }
        }
        self.seen = true;
        self.snapshot = next;
    }

    /// Acts on `key`; returns whether the view should end.
    pub(crate) fn key(&mut self, key: Key) -> bool {
        if let Some((field, mut text)) = self.editing.take() {
            match key {
                Key::Enter => *self.filter.slot(field) = Some(text).filter(|t| !t.is_empty()),
                Key::Esc => {}
                Key::Backspace => {
                    text.pop();
                    self.editing = Some((field, text));
                }
                Key::Char(c) => {
                    text.push(c);
                    self.editing = Some((field, text));
                }
            }
            return false;
        }
        let field = match key {
            Key::Char('q') => return true,
            Key::Esc => {
                self.filter = Filter::default();
                return false;
            }
            Key::Char('/') => Field::Name,
            Key::Char('p') => Field::Pool,
            Key::Char('n') => Field::Namespace,
            _ => return false,
        };
        self.editing = Some((field, String::new()));
        false
    }

    /// The leases the filter shows, sorted by name.
    pub(crate) fn rows(&self) -> Vec<Row> {
        let now = self.snapshot.now;
        let mut rows: Vec<Row> = self
            .snapshot
            .leases
            .iter()
            .filter(|l| self.filter.shows(l))
            .map(|l| row(l, now))
            .collect();
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        rows
    }

    /// The pools the filter shows, each with its strip.
    pub(crate) fn strips(&self) -> Vec<Strip> {
        let s = &self.snapshot;
        let mut held: BTreeMap<u16, Cell> = BTreeMap::new();
        for lease in &s.leases {
            let cell = if lease.stale.is_some() {
                Cell::Stale
            } else {
                Cell::Leased
            };
            for port in lease.ports() {
                held.insert(port, cell);
            }
        }
        let bound: BTreeSet<u16> = s.bound.iter().map(|(p, _)| *p).collect();
        s.pools
            .iter()
            .filter(|p| self.filter.pool.as_ref().is_none_or(|f| *f == p.name))
            .map(|pool| {
                let cells: Vec<Cell> = (pool.start..=pool.end)
                    .take(STRIP_MAX)
                    .map(|port| match held.get(&port) {
                        Some(cell) => *cell,
                        None if bound.contains(&port) => Cell::Bound,
                        None => Cell::Free,
                    })
                    .collect();
                let leased = held.keys().filter(|p| pool.contains(**p)).count();
                Strip {
                    pool: pool.clone(),
                    cells,
                    leased,
                }
            })
            .collect()
    }
}

/// `90s`, `5m`, `3h`, `2d`.
pub(crate) fn span(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

fn row(lease: &Lease, now: u64) -> Row {
    let owner = lease
        .owner
        .map_or("-".to_owned(), |o| format!("pid {}", o.pid));
    let handover = lease.next.map_or(String::new(), |n| match n.owner {
        Some(o) => format!("-> {} (pid {})", n.port, o.pid),
        None => format!("-> {}", n.port),
    });
    Row {
        name: label(lease),
        port: format!("{}/{}", lease.port, lease.protocol),
        pool: lease.pool.clone().unwrap_or_else(|| "-".into()),
        owner,
        age: span(now.saturating_sub(lease.created)),
        ttl_left: lease
            .expires
            .map_or("-".into(), |e| span(e.saturating_sub(now))),
        handover,
        stale: lease.stale.clone().unwrap_or_default(),
    }
}

/// How a lease is named on screen: `NAMESPACE/NAME` outside the default namespace (names are
/// unique per namespace only).
fn label(lease: &Lease) -> String {
    match &lease.namespace {
        Some(ns) => format!("{ns}/{}", lease.name),
        None => lease.name.clone(),
    }
}

/// What happened between `old` and `new`, one line each: leases made, released, moved,
/// handed over or gone stale, and pools set.
pub(crate) fn changes(old: &Snapshot, new: &Snapshot) -> Vec<String> {
    let before: BTreeMap<String, &Lease> = old.leases.iter().map(|l| (label(l), l)).collect();
    let after: BTreeMap<String, &Lease> = new.leases.iter().map(|l| (label(l), l)).collect();
    let mut out = Vec::new();
    for (name, lease) in &before {
        if !after.contains_key(name) {
            out.push(format!(
                "released {name} ({}/{})",
                lease.port, lease.protocol
            ));
        }
    }
    for (name, lease) in &after {
        let at = format!("{}/{}", lease.port, lease.protocol);
        match before.get(name) {
            None => out.push(format!("leased {name} {at}")),
            Some(was) => out.extend(lease_change(was, lease, &at)),
        }
    }
    let pools: BTreeMap<&str, &Pool> = old.pools.iter().map(|p| (p.name.as_str(), p)).collect();
    for pool in &new.pools {
        let range = pools.get(pool.name.as_str()).map(|p| (p.start, p.end));
        if range != Some((pool.start, pool.end)) {
            out.push(format!(
                "pool {} set to {}-{}",
                pool.name, pool.start, pool.end
            ));
        }
    }
    out
}

fn lease_change(was: &Lease, now: &Lease, at: &str) -> Option<String> {
    let name = &now.name;
    if was.port != now.port || was.protocol != now.protocol {
        return Some(format!(
            "moved {name} {}/{} -> {at}",
            was.port, was.protocol
        ));
    }
    if was.next.map(|n| n.port) != now.next.map(|n| n.port) {
        return Some(match now.next {
            Some(next) => format!("handover of {name} {at} -> {}", next.port),
            None => format!("handover of {name} ended, {at} stays"),
        });
    }
    if was.stale.is_none()
        && let Some(why) = &now.stale
    {
        return Some(format!("stale {name} {at}: {why}"));
    }
    (was.owner != now.owner || was.expires != now.expires)
        .then(|| format!("updated {name} {at}: owner or time to live"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use portpool_core::{Mode, Next, Owner};

    fn lease(name: &str, port: u16, pool: Option<&str>) -> Lease {
        Lease {
            name: name.into(),
            port,
            protocol: Protocol::Tcp,
            mode: if pool.is_some() {
                Mode::Pool
            } else {
                Mode::Fixed
            },
            pool: pool.map(str::to_owned),
            created: 1000,
            owner: None,
            ttl: None,
            expires: None,
            next: None,
            origin: None,
            stale: None,
            uid: None,
            namespace: None,
            generation: 0,
        }
    }

    fn pool(start: u16, end: u16) -> Pool {
        Pool {
            name: "p".into(),
            start,
            end,
            cursor: start,
            probe: true,
            uid: None,
        }
    }

    fn snap(now: u64, leases: Vec<Lease>) -> Snapshot {
        Snapshot {
            now,
            pools: vec![pool(100, 104)],
            leases,
            bound: [(103, Protocol::Tcp)].into_iter().collect(),
        }
    }

    #[test]
    fn strips_show_leased_free_bound_and_stale_ports() {
        let mut stale = lease("old", 102, Some("p"));
        stale.stale = Some("owner pid 7 is gone".into());
        let mut model = Model::default();
        model.update(snap(1000, vec![lease("a", 100, Some("p")), stale]));
        let strip = &model.strips()[0];
        use Cell::*;
        assert_eq!(strip.cells, vec![Leased, Free, Stale, Bound, Free]);
        assert_eq!(strip.leased, 2);
    }

    #[test]
    fn rows_show_owner_age_ttl_left_and_pending_handovers() {
        let mut a = lease("a", 100, Some("p"));
        a.owner = Some(Owner {
            pid: 42,
            start_time: 1,
            pid_ns: Some(7),
        });
        a.expires = Some(1000 + 3600);
        a.next = Some(Next {
            port: 101,
            created: 1000,
            owner: None,
            ticket: 1,
        });
        let mut model = Model::default();
        model.update(snap(1090, vec![a]));
        let row = &model.rows()[0];
        assert_eq!(
            (row.owner.as_str(), row.age.as_str(), row.ttl_left.as_str()),
            ("pid 42", "90s", "58m")
        );
        assert_eq!(row.handover, "-> 101");
    }

    #[test]
    fn changes_are_what_happened_since_the_last_snapshot_and_none_at_the_start() {
        let mut model = Model::default();
        model.update(snap(
            1000,
            vec![lease("a", 100, None), lease("b", 101, None)],
        ));
        assert!(
            model.changes.is_empty(),
            "what was there before is not news"
        );
        let mut b = lease("b", 101, None);
        b.next = Some(Next {
            port: 104,
            created: 1001,
            owner: None,
            ticket: 1,
        });
        model.update(snap(1001, vec![b, lease("c", 102, None)]));
        let lines: Vec<&str> = model.changes.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(
            lines,
            vec![
                "released a (100/tcp)",
                "handover of b 101/tcp -> 104",
                "leased c 102/tcp"
            ]
        );
        assert!(model.changes.iter().all(|(at, _)| *at == 1001));
    }

    #[test]
    fn keys_filter_by_name_pool_and_namespace_esc_clears_and_q_quits() {
        let mut model = Model::default();
        let mut in_ns = lease("api-1", 100, Some("p"));
        in_ns.namespace = Some("blue".into());
        model.update(snap(1000, vec![in_ns, lease("web", 101, None)]));
        let typed = |model: &mut Model, start: char, text: &str| {
            model.key(Key::Char(start));
            for c in text.chars() {
                assert!(
                    !model.key(Key::Char(c)),
                    "typing q into a filter must not quit"
                );
            }
            model.key(Key::Enter);
        };
        typed(&mut model, '/', "api");
        assert_eq!(model.rows().len(), 1);
        model.key(Key::Esc);
        typed(&mut model, 'n', "blue");
        assert_eq!(model.rows().len(), 1);
        assert_eq!(model.rows()[0].name, "blue/api-1");
        model.key(Key::Esc);
        typed(&mut model, 'n', "-");
        assert_eq!(model.rows()[0].name, "web");
        model.key(Key::Esc);
        typed(&mut model, 'p', "nope");
        assert!(model.rows().is_empty() && model.strips().is_empty());
        model.key(Key::Esc);
        assert_eq!(model.rows().len(), 2);
        assert!(model.key(Key::Char('q')));
    }

    #[test]
    fn a_large_pool_shows_at_most_strip_max_ports() {
        let mut model = Model::default();
        let mut s = snap(1, vec![]);
        s.pools = vec![pool(1, 65535)];
        model.update(s);
        assert_eq!(model.strips()[0].cells.len(), STRIP_MAX);
    }
}
