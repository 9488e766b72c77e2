//! Events joined into rows: an entry waits for its exit, and the two make
//! one `call` row; an exit without its entry (a child's first return from
//! fork or clone) is a `return` row, a signal or a process's end a row of
//! its own.

use super::columns::{ArgCell, Row};
use crate::decode::Arg;
use crate::format::{EventKind, OwnedEvent};
use osm_compiler::model::Direction;
use std::collections::VecDeque;

/// Calls waiting for their exits; beyond this the oldest becomes an
/// unfinished row, so memory stays bounded.
const OPEN_LIMIT: usize = 4096;

/// Entries waiting for their exits.
#[derive(Debug, Default)]
pub struct Pairing {
    open: VecDeque<OwnedEvent>,
}

impl Pairing {
    /// Holds an entry; returns the oldest one when too many wait.
    pub fn enter(&mut self, entry: OwnedEvent) -> Option<OwnedEvent> {
        let evicted = if self.open.len() >= OPEN_LIMIT {
            self.open.pop_front()
        } else {
            None
        };
        self.open.push_back(entry);
        evicted
    }

    /// The entry an exit belongs to: the one with the exit's entry time
    /// and number (which survives an exec changing the identity), else the
    /// newest of the thread the call entered as.
    pub fn exit(&mut self, exit: &OwnedEvent) -> Option<OwnedEvent> {
        let by_time = exit.entry_ts.and_then(|ts| {
            self.open
                .iter()
                .rposition(|e| e.ts == Some(ts) && e.nr == exit.nr)
        });
        let (thread, process) = exit.entered_as.unwrap_or((exit.thread, exit.process));
        let i = by_time.or_else(|| {
            // A child's first return never entered: it pairs with nothing.
            exit.entered_as?;
            self.open
                .iter()
                .rposition(|e| e.thread == thread && e.process == process && e.nr == exit.nr)
        })?;
        self.open.remove(i)
    }

    /// What still waits, oldest first.
    pub fn drain(&mut self) -> impl Iterator<Item = OwnedEvent> + '_ {
        self.open.drain(..)
    }
}

fn dir(d: Direction) -> &'static str {
    match d {
        Direction::In => "in",
        Direction::Out => "out",
        Direction::InOut => "inout",
    }
}

fn args(args: &[Arg]) -> Vec<ArgCell<'_>> {
    args.iter()
        .map(|a| ArgCell {
            name: &a.name,
            type_name: &a.type_name,
            value: a.raw,
            text: &a.text,
            dir: dir(a.dir),
            hidden: a.hidden,
            unreadable: a.unreadable,
        })
        .collect()
}

/// What every row has from its event.
fn base<'a>(event: &'a OwnedEvent, kind: &'a str) -> Row<'a> {
    let task = event.task.as_ref();
    Row {
        event: kind,
        vcpu: event.vcpu,
        thread: event.thread,
        process: event.process,
        pid: task.map(|t| t.pid),
        tid: task.map(|t| t.tid),
        ppid: task.and_then(|t| t.ppid),
        comm: task.and_then(|t| t.comm.as_ref()).map(|c| c.text()),
        nr: event.nr as i64,
        name: &event.name,
        classes: &event.classes,
        ts: event.ts,
        args: args(&event.args),
        ..Row::default()
    }
}

/// A call's row: its entry joined with its exit when there is one (the
/// exit's arguments, with outputs decoded, and its identity, which an exec
/// changes), else the entry alone, unfinished.
pub fn call<'a>(entry: &'a OwnedEvent, exit: Option<&'a OwnedEvent>) -> Row<'a> {
    let Some(exit) = exit else {
        return Row {
            unfinished: true,
            ..base(entry, "call")
        };
    };
    Row {
        ts: entry.ts.or(exit.entry_ts),
        ..returned(exit, "call")
    }
}

/// An exit's row: joined with its entry, or a `return` row of its own.
pub fn call_or_return<'a>(entry: Option<&'a OwnedEvent>, exit: &'a OwnedEvent) -> Row<'a> {
    match entry {
        Some(entry) => call(entry, Some(exit)),
        None => returned(exit, "return"),
    }
}

fn returned<'a>(exit: &'a OwnedEvent, kind: &'a str) -> Row<'a> {
    let mut row = Row {
        ts: exit.entry_ts,
        exit_ts: exit.ts,
        ..base(exit, kind)
    };
    if let Some(r) = &exit.ret {
        row.ret = Some(r.signed.unwrap_or(r.raw as i64));
        row.ret_raw = Some(r.raw);
        row.ret_text = Some(&r.text);
        if let Some(e) = &r.error {
            row.error = Some(&e.name);
            row.errno = Some(e.value as i32);
        }
    }
    if let Some((thread, process)) = exit.entered_as
        && (thread, process) != (exit.thread, exit.process)
    {
        row.entry_thread = Some(thread);
        row.entry_process = Some(process);
    }
    row
}

/// A signal's delivery (its siginfo as arguments) or a process's end (its
/// status).
pub fn notice(event: &OwnedEvent) -> Row<'_> {
    match event.kind {
        EventKind::Exited => Row {
            status: Some(event.nr as i64),
            ..base(event, "exited")
        },
        _ => base(event, "signal"),
    }
}
