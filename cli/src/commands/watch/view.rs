//! Draws the [`Model`] with ratatui: the pools' strips on top, the leases in the middle, the
//! last changes at the bottom, and a status line with the filters and the keys.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell as TableCell, Paragraph, Row as TableRow, Table};

use super::model::{Cell, Field, Model, span};

fn style(cell: Cell) -> Style {
    match cell {
        Cell::Free => Style::default().fg(Color::DarkGray),
        Cell::Leased => Style::default().fg(Color::Green),
        Cell::Bound => Style::default().fg(Color::Yellow),
        Cell::Stale => Style::default().fg(Color::Red),
    }
}

/// Draws the whole view into `frame`.
pub(crate) fn draw(frame: &mut Frame, model: &Model, path: &str) {
    let width = usize::from(frame.area().width.saturating_sub(2)).max(1);
    let mut lines = Vec::new();
    for strip in model.strips() {
        // At most two rows of ports per pool, so that every pool stays on screen.
        let shown = strip.cells.len().min(2 * width);
        let total = strip.pool.size() as usize;
        let more = if shown < total {
            format!(" (first {shown} of {total} ports shown)")
        } else {
            String::new()
        };
        lines.push(Line::from(format!(
            "{} {}-{}: {} leased{more}",
            strip.pool.name, strip.pool.start, strip.pool.end, strip.leased
        )));
        for row in strip.cells[..shown].chunks(width) {
            let spans: Vec<Span> = row
                .iter()
                .map(|c| Span::styled(c.glyph().to_string(), style(*c)))
                .collect();
            lines.push(Line::from(spans));
        }
    }
    let [top, middle, bottom, status] = Layout::vertical([
        Constraint::Length((lines.len() as u16).saturating_add(2).min(20)),
        Constraint::Min(5),
        Constraint::Length(8),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let legend = "pools  # leased  . free  b bound outside the registry  s stale";
    frame.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(legend)),
        top,
    );
    frame.render_widget(leases(model), middle);
    frame.render_widget(recent(model, bottom.height.saturating_sub(2)), bottom);
    frame.render_widget(Paragraph::new(status_line(model, path)), status);
}

fn leases(model: &Model) -> Table<'static> {
    let header = [
        "name", "port", "pool", "owner", "age", "ttl left", "handover", "stale",
    ];
    let rows = model.rows().into_iter().map(|r| {
        let stale = !r.stale.is_empty();
        let cells = [
            r.name, r.port, r.pool, r.owner, r.age, r.ttl_left, r.handover, r.stale,
        ];
        let row = TableRow::new(cells.into_iter().map(TableCell::from));
        if stale {
            row.style(style(Cell::Stale))
        } else {
            row
        }
    });
    let widths = [
        Constraint::Min(12),
        Constraint::Length(11),
        Constraint::Length(10),
        Constraint::Length(11),
        Constraint::Length(5),
        Constraint::Length(8),
        Constraint::Length(18),
        Constraint::Min(10),
    ];
    Table::new(rows, widths)
        .header(TableRow::new(header).style(Style::default().add_modifier(Modifier::BOLD)))
        .block(Block::default().borders(Borders::ALL).title("leases"))
}

fn recent(model: &Model, height: u16) -> Paragraph<'static> {
    let now = model.snapshot.now;
    let lines: Vec<Line> = model
        .changes
        .iter()
        .rev()
        .take(usize::from(height))
        .map(|(at, text)| Line::from(format!("{:>4} ago  {text}", span(now.saturating_sub(*at)))))
        .collect();
    Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title("last changes"))
}

fn status_line(model: &Model, path: &str) -> String {
    if let Some((field, text)) = &model.editing {
        let what = match field {
            Field::Name => "name contains",
            Field::Pool => "pool",
            Field::Namespace => "namespace (- the default one)",
        };
        return format!("{what}: {text}_   (Enter: apply, Esc: cancel)");
    }
    let f = &model.filter;
    let mut shown = Vec::new();
    for (label, value) in [("name", &f.name), ("pool", &f.pool), ("ns", &f.namespace)] {
        if let Some(v) = value {
            shown.push(format!("{label}={v}"));
        }
    }
    let filters = if shown.is_empty() {
        "all".to_owned()
    } else {
        shown.join(" ")
    };
    format!("{path}  [{filters}]  / name  p pool  n namespace  Esc clear  q quit")
}
