//! A call's entry or exit, or a line about a task, decoded: what every
//! format is given.

use crate::decode::{Arg, Return};
use crate::filter::Status;
use crate::task::TaskNames;
use osm_model::Direction;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EventKind {
    #[default]
    Entry,
    Exit,
    /// A signal delivered to a handler: `name` is the signal's, `nr` its
    /// number, `args` the fields of its siginfo (strace's `--- SIGUSR1
    /// {si_signo=SIGUSR1, ...} ---`).
    Signal,
    /// A process ended: `nr` is its exit status (`+++ exited with 0 +++`).
    Exited,
    /// A process was killed by a signal, as its parent's wait saw it: `nr`
    /// and `name` are the signal's (`+++ killed by SIGTERM +++`).
    Killed {
        core_dumped: bool,
    },
    /// Another thread's exec replaced the process's leader (whose thread
    /// this is): `nr` is that thread's id, which the leader's becomes
    /// (`+++ superseded by execve in pid 90 +++`).
    Superseded,
}

impl EventKind {
    /// A line of its own about a task, not one of a call's halves.
    pub fn is_notice(self) -> bool {
        !matches!(self, EventKind::Entry | EventKind::Exit)
    }
}

/// A call entering or leaving the kernel, decoded. It borrows its parts,
/// so the tracer builds one without copying the decoded arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event<'a> {
    pub kind: EventKind,
    pub vcpu: u32,
    pub thread: u64,
    pub process: u64,
    pub nr: u64,
    pub name: &'a str,
    /// At exit, the entry's arguments with outputs decoded again.
    pub args: &'a [Arg],
    /// Exit only. `None` at an exit means the call does not return (`exit`)
    /// and is shown as `?`.
    pub ret: Option<&'a Return>,
    /// The call's classes (`%file`), for filtering recorded traces.
    pub classes: &'a [String],
    /// Nanoseconds on the trace clock: since the epoch for wall time.
    pub ts: Option<u64>,
    /// Exit only: when the call entered.
    pub entry_ts: Option<u64>,
    /// Arguments whose location or pointed-to memory could not be read
    /// (counted even when arguments are not decoded).
    pub unreadable: u32,
    /// Exit only: the thread and process the call entered with, which an
    /// `exec` (a new address space) or a call that sets the thread
    /// register (`arch_prctl`) changes before it returns. `None` for a
    /// child's first return from fork or clone, which is not the call
    /// its entry began.
    pub entered_as: Option<(u64, u64)>,
    /// The guest's names for the task (with the model's `task` block).
    pub task: Option<TaskNames>,
    /// The call's declaration, numbered across the model's tables in
    /// order (lean jsonl's `decl`), when `args` are its parameters, one
    /// each.
    pub decl: Option<u32>,
    /// A call's half as captured for decoding later (`format=raw`): its
    /// arguments then carry no text ([`crate::raw::record`]).
    pub capture: Option<&'a [u8]>,
    /// Exit only: the call's process ended before the call returned
    /// (killed by a signal, or another thread's exit_group; `ret` is
    /// `None`): strace shows its outputs as `<unfinished ...>`.
    pub process_ended: bool,
}

impl Event<'_> {
    /// How many leading arguments are known at entry: strace prints those
    /// before blocking and the rest once the call returns. An input that
    /// did not read at entry (a page the program had not touched) is read
    /// again at exit (`reread`, or still `unreadable`), so it ends the
    /// entry's part as an output does; an `updated` structure ends it
    /// after itself (its exit adds what the kernel wrote back).
    pub(super) fn entry_prefix(&self) -> usize {
        let known = self
            .args
            .iter()
            .position(|a| !a.hidden && (a.dir != Direction::In || a.unreadable || a.reread))
            .unwrap_or(self.args.len());
        self.args[..known]
            .iter()
            .position(|a| a.updated && !a.hidden)
            .map_or(known, |i| i + 1)
    }

    /// The `updated` argument that ends the entry's part, if one does.
    pub(super) fn updated_at_entry_end(&self, known: usize) -> Option<&Arg> {
        let last = &self.args[known.checked_sub(1)?];
        (last.updated && !last.hidden).then_some(last)
    }

    /// How the call ended (exits only).
    pub fn status(&self) -> Status {
        match self.ret {
            None => Status::Unfinished,
            Some(r) if r.error.is_some() => Status::Failed,
            Some(_) => Status::Successful,
        }
    }
}

/// An [`Event`] that owns its parts: read from a recorded trace, or held
/// back by the status filter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnedEvent {
    pub kind: EventKind,
    pub vcpu: u32,
    pub thread: u64,
    pub process: u64,
    pub nr: u64,
    pub name: String,
    pub args: Vec<Arg>,
    pub ret: Option<Return>,
    pub classes: Vec<String>,
    pub ts: Option<u64>,
    pub entry_ts: Option<u64>,
    pub unreadable: u32,
    pub entered_as: Option<(u64, u64)>,
    pub task: Option<TaskNames>,
    pub decl: Option<u32>,
    pub capture: Option<Vec<u8>>,
    pub process_ended: bool,
}

impl OwnedEvent {
    pub fn as_event(&self) -> Event<'_> {
        Event {
            kind: self.kind,
            vcpu: self.vcpu,
            thread: self.thread,
            process: self.process,
            nr: self.nr,
            name: &self.name,
            args: &self.args,
            ret: self.ret.as_ref(),
            classes: &self.classes,
            ts: self.ts,
            entry_ts: self.entry_ts,
            unreadable: self.unreadable,
            entered_as: self.entered_as,
            task: self.task,
            decl: self.decl,
            capture: self.capture.as_deref(),
            process_ended: self.process_ended,
        }
    }

    pub fn from_event(ev: &Event<'_>) -> Self {
        OwnedEvent {
            kind: ev.kind,
            vcpu: ev.vcpu,
            thread: ev.thread,
            process: ev.process,
            nr: ev.nr,
            name: ev.name.to_string(),
            args: ev.args.to_vec(),
            ret: ev.ret.cloned(),
            classes: ev.classes.to_vec(),
            ts: ev.ts,
            entry_ts: ev.entry_ts,
            unreadable: ev.unreadable,
            entered_as: ev.entered_as,
            task: ev.task,
            decl: ev.decl,
            capture: ev.capture.map(<[u8]>::to_vec),
            process_ended: ev.process_ended,
        }
    }
}

/// What placing an event's prepared text needs of the event: its identity
/// and how its line joins, without its arguments, so that a tracer can
/// keep it alongside the text until the events of all vCPUs are put in
/// order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placed<'a> {
    pub kind: EventKind,
    pub thread: u64,
    pub process: u64,
    /// The guest's thread id, when the model names tasks: lines join by
    /// it rather than by register identity.
    pub tid: Option<i64>,
    pub nr: u64,
    pub entered_as: Option<(u64, u64)>,
    pub ts: Option<u64>,
    pub name: &'a str,
    /// Arguments remain to be shown at exit.
    pub more: bool,
    /// At exit, shown arguments come both before and after the entry's
    /// part of the line, so a comma joins them.
    pub comma: bool,
}

impl<'a> Placed<'a> {
    pub fn of(ev: &Event<'a>) -> Self {
        let known = ev.entry_prefix();
        let shows = |args: &[Arg]| args.iter().any(|a| !a.hidden);
        // After an `updated` argument the exit's text starts with what the
        // kernel wrote back, before the comma: strace's `clone3({...}
        // <unfinished ...>`, then `<... clone3 resumed> => {...}, 88)`.
        let more = shows(&ev.args[known..]) && ev.updated_at_entry_end(known).is_none();
        Placed {
            kind: ev.kind,
            thread: ev.thread,
            process: ev.process,
            tid: ev.task.map(|t| t.tid),
            nr: ev.nr,
            entered_as: ev.entered_as,
            ts: ev.ts,
            name: ev.name,
            more,
            comma: more && shows(&ev.args[..known]),
        }
    }
}
