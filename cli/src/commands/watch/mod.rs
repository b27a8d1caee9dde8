//! `portpool watch`: a live view of the registry. [`model`] decides what is shown (tested
//! without a terminal), [`view`] draws it with ratatui. The view is redrawn when inotify
//! reports a change in the registry's directory (not by polling the file), and once a second
//! for the clock (ages, time to live left). When stdout is not a terminal, plain text instead,
//! every `--interval`. Reads only: it works for anyone who may read the registry.

pub(crate) mod model;
mod view;

use std::io::IsTerminal;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossterm::event::{Event, KeyCode, KeyEventKind, KeyModifiers};
use portpool_core::{Error, ErrorKind, Registry};

use crate::Outcome;
use crate::args::WatchArgs;
use crate::render::{say, table, timestamp};
use model::{Filter, Key, Model, Snapshot};

/// How often the clock columns are redrawn without a change.
const TICK: Duration = Duration::from_secs(1);

enum Msg {
    Changed,
    Key(Key),
    Quit,
    Redraw,
}

/// `portpool watch`.
pub(super) fn watch(reg: &Registry, args: WatchArgs) -> Result<Outcome, Error> {
    let filter = Filter {
        name: args.name,
        pool: args.pool,
        // The namespace this handle works in (--namespace, $PORTPOOL_NAMESPACE); else all.
        namespace: reg.namespace().map(str::to_owned),
    };
    if std::io::stdout().is_terminal() {
        terminal(reg, Model::new(filter))
    } else {
        plain(reg, Model::new(filter), args.interval, args.count)
    }
}

/// The registry and the host's listeners now.
pub(crate) fn snapshot(reg: &Registry) -> Result<Snapshot, Error> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let bound = portpool_core::server_sockets()
        .unwrap_or_default()
        .iter()
        .map(|s| (s.port(), s.protocol))
        .collect();
    Ok(Snapshot {
        now,
        pools: reg.pools()?,
        leases: reg.list_all_namespaces()?,
        bound,
    })
}

fn io_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Io, format!("watch: {what}: {e}"))
}

/// An inotify watch on the registry's directory that sends [`Msg::Changed`] for every event
/// naming the registry file (an append, a rename over it, an exchange with the spare).
fn watch_registry(path: &Path, tx: Sender<Msg>) -> Result<notify::INotifyWatcher, Error> {
    use notify::Watcher;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new(".")).to_owned();
    let name = path.file_name().map(|n| n.to_owned());
    let mut watcher = notify::INotifyWatcher::new(
        move |event: notify::Result<notify::Event>| {
            if let Ok(event) = event
                && event.paths.iter().any(|p| p.file_name() == name.as_deref())
            {
                let _ = tx.send(Msg::Changed);
            }
        },
        notify::Config::default(),
    )
    .map_err(|e| io_error("inotify", e))?;
    watcher
        .watch(&dir, notify::RecursiveMode::NonRecursive)
        .map_err(|e| io_error(&format!("cannot watch {}", dir.display()), e))?;
    Ok(watcher)
}

/// Sends each key the view reacts to, and a redraw on a resize, until the terminal fails.
fn read_keys(tx: Sender<Msg>) {
    while let Ok(event) = crossterm::event::read() {
        let msg = match event {
            Event::Key(k) if k.kind != KeyEventKind::Press => continue,
            Event::Key(k) if k.modifiers.contains(KeyModifiers::CONTROL) => match k.code {
                KeyCode::Char('c') => Msg::Quit,
                _ => continue,
            },
            Event::Key(k) => match k.code {
                KeyCode::Char(c) => Msg::Key(Key::Char(c)),
                KeyCode::Enter => Msg::Key(Key::Enter),
                KeyCode::Backspace => Msg::Key(Key::Backspace),
                KeyCode::Esc => Msg::Key(Key::Esc),
                _ => continue,
            },
            Event::Resize(..) => Msg::Redraw,
            _ => continue,
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
}

fn terminal(reg: &Registry, mut model: Model) -> Result<Outcome, Error> {
    let (tx, rx) = mpsc::channel();
    let _watcher = watch_registry(reg.path(), tx.clone())?;
    let mut term = ratatui::try_init().map_err(|e| io_error("terminal", e))?;
    std::thread::spawn(move || read_keys(tx));
    let result = run(reg, &mut model, &mut term, &rx);
    ratatui::restore();
    result.map(|()| Outcome::Ok)
}

/// Redraws on every change, key and tick until `q`.
fn run(
    reg: &Registry,
    model: &mut Model,
    term: &mut ratatui::DefaultTerminal,
    rx: &Receiver<Msg>,
) -> Result<(), Error> {
    let path = reg.path().display().to_string();
    let mut stale = true;
    let mut pending = None;
    loop {
        if stale {
            model.update(snapshot(reg)?);
        }
        term.draw(|frame| view::draw(frame, model, &path))
            .map_err(|e| io_error("terminal", e))?;
        let next = match pending.take() {
            Some(msg) => Ok(msg),
            None => rx.recv_timeout(TICK),
        };
        stale = match next {
            Ok(Msg::Changed) | Err(RecvTimeoutError::Timeout) => true,
            Ok(Msg::Key(key)) => {
                if model.key(key) {
                    return Ok(());
                }
                false
            }
            Ok(Msg::Redraw) => false,
            Ok(Msg::Quit) | Err(RecvTimeoutError::Disconnected) => return Ok(()),
        };
        // The events of one change (or of a burst of changes) make one redraw; a key that
        // arrives meanwhile waits for the next turn.
        while stale && pending.is_none() {
            match rx.try_recv() {
                Ok(Msg::Changed) => {}
                Ok(other) => pending = Some(other),
                Err(_) => break,
            }
        }
    }
}

/// Plain text every `interval`: the time, the changes since the last printout, the leases.
fn plain(
    reg: &Registry,
    mut model: Model,
    interval: Duration,
    count: Option<u64>,
) -> Result<Outcome, Error> {
    let mut printed = 0u64;
    loop {
        let next = snapshot(reg)?;
        let fresh = if printed > 0 {
            model::changes(&model.snapshot, &next)
        } else {
            Vec::new()
        };
        model.update(next);
        let rows = model.rows();
        let mut lines = vec![format!(
            "{}  {}: {} lease(s)",
            timestamp(Some(model.snapshot.now)),
            reg.path().display(),
            rows.len()
        )];
        lines.extend(fresh.into_iter().map(|c| format!("  {c}")));
        let header = [
            "NAME", "PORT", "POOL", "OWNER", "AGE", "TTL LEFT", "HANDOVER", "STALE",
        ];
        let cells = rows.into_iter().map(|r| {
            vec![
                r.name, r.port, r.pool, r.owner, r.age, r.ttl_left, r.handover, r.stale,
            ]
        });
        lines.extend(table(&header, cells));
        say(lines);
        printed += 1;
        if count.is_some_and(|c| printed >= c) {
            return Ok(Outcome::Ok);
        }
        std::thread::sleep(interval);
    }
}
