//! What a trace shows and how: decoded events in one of five formats,
//! after the `status=` filter, with the summary alongside.
//! - `strace`: what strace prints, including `<unfinished ...>` and
//!   `<... name resumed>` when calls of several threads interleave, with
//!   optional timestamps (strace -ttt) and durations (strace -T);
//! - `paper`: the layout of Fig. 1 of Ivanov, Dovgaluk and Makarov (2018),
//!   raw values only, so traces can be compared with theirs;
//! - `jsonl`: one JSON object per event, the format traces are recorded in
//!   and converted from (`cargo xtask trace-view`);
//! - `perfetto`: a Chrome trace-event timeline ([`crate::perfetto`]);
//! - `summary`: only the `strace -c` table ([`crate::summary`]).
//!
//! The same [`Formatter`] serves the plugin and the trace tool, so a
//! recorded trace converts to exactly what the plugin would have printed.

use crate::decode::{Arg, Return, push_decimal_padded, push_hex};
use crate::filter::{FilterSpec, Status};
use crate::perfetto::PerfettoWriter;
use crate::summary::Summary;
use crate::task::TaskNames;
use osm_model::Direction;
use std::collections::VecDeque;
use std::fmt::Write;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Strace,
    Paper,
    Jsonl,
    Perfetto,
    /// A Parquet table, one row per call ([`crate::parquet_trace`]); its
    /// events are formatted as jsonl for the log's writer thread.
    Parquet,
    Summary,
    /// `format=none`: every entry's and exit's registers read, nothing
    /// decoded, paired or written: what any tracer pays (the bench's floor).
    Nothing,
}

impl Format {
    pub const ALL: [Format; 7] = [
        Format::Strace,
        Format::Paper,
        Format::Jsonl,
        Format::Perfetto,
        Format::Parquet,
        Format::Summary,
        Format::Nothing,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::Strace => "strace",
            Format::Paper => "paper",
            Format::Jsonl => "jsonl",
            Format::Perfetto => "perfetto",
            Format::Parquet => "parquet",
            Format::Summary => "summary",
            Format::Nothing => "none",
        }
    }

    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Whether the format is text for people, where a summary table can
    /// follow the trace (not a machine format that it would corrupt).
    fn is_text(self) -> bool {
        matches!(self, Format::Strace | Format::Paper | Format::Summary)
    }
}

/// Which clock timestamps come from, and whether strace lines show them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Timestamps {
    /// Wall-clock time, not printed in strace lines (jsonl, durations, the
    /// summary and the timeline still use it).
    #[default]
    None,
    /// Wall-clock time, printed like `strace -ttt`.
    Wall,
    /// The guest's own clock: instructions all vCPUs have executed before
    /// the event's instruction, counted by the plugin with QEMU's inline
    /// operations. Identical on every replay of a recording; strace lines
    /// show the count, durations are instructions, and the summary and
    /// the timeline take one instruction for a nanosecond.
    Virtual,
}

impl Timestamps {
    pub const ALL: [Timestamps; 3] = [Timestamps::None, Timestamps::Wall, Timestamps::Virtual];

    pub fn name(self) -> &'static str {
        match self {
            Timestamps::None => "none",
            Timestamps::Wall => "wall",
            Timestamps::Virtual => "virtual",
        }
    }

    pub fn from_name(name: &str) -> Option<Timestamps> {
        Timestamps::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// Everything about what the trace shows: the format, the filter, how
/// much of each string, timestamps, durations and the summary. One value,
/// so the plugin glue hands it to the tracer in one piece.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputConfig {
    pub format: Format,
    pub filter: FilterSpec,
    /// strace's `-s`: characters of strings, bytes of buffers and elements
    /// of arrays shown.
    pub string_limit: usize,
    /// strace's `-v`: structure fields the model marks `verbose`.
    pub verbose: bool,
    pub timestamps: Timestamps,
    /// strace's `-T`: ` <0.000123>` after each return.
    pub durations: bool,
    /// strace's `-C`: the summary table at the end as well as the trace.
    pub summary: bool,
    /// `summary=process`: also a table per guest process.
    pub summary_by_process: bool,
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            format: Format::Strace,
            filter: FilterSpec::default(),
            string_limit: crate::decode::DEFAULT_STRING_LIMIT,
            verbose: false,
            timestamps: Timestamps::None,
            durations: false,
            summary: false,
            summary_by_process: false,
        }
    }
}

impl From<Format> for OutputConfig {
    fn from(format: Format) -> Self {
        OutputConfig {
            format,
            ..OutputConfig::default()
        }
    }
}

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
}

impl EventKind {
    /// A line of its own about a task, not one of a call's halves.
    pub fn is_notice(self) -> bool {
        matches!(self, EventKind::Signal | EventKind::Exited)
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
}

impl Event<'_> {
    /// How many leading arguments are known at entry: strace prints those
    /// before blocking and the rest once the call returns.
    fn entry_prefix(&self) -> usize {
        self.args
            .iter()
            .position(|a| a.dir != Direction::In)
            .unwrap_or(self.args.len())
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
        }
    }
}

/// Entries the status filter holds until their exit says how they ended;
/// beyond this the oldest is released as unfinished.
const HELD_LIMIT: usize = 4096;

/// `status=`: entries wait for their exits, then both pass or neither.
#[derive(Clone, Debug, Default)]
struct StatusGate {
    held: VecDeque<OwnedEvent>,
}

impl StatusGate {
    /// The held entry an exit belongs to: by entry time when known (it
    /// survives identity changes), else the newest of the same thread.
    fn release(&mut self, exit: &Event<'_>) -> Option<OwnedEvent> {
        let i = match exit.entry_ts {
            Some(ts) => self
                .held
                .iter()
                .rposition(|e| e.ts == Some(ts) && e.nr == exit.nr),
            None => self.held.iter().rposition(|e| {
                e.thread == exit.thread && e.process == exit.process && e.nr == exit.nr
            }),
        }?;
        self.held.remove(i)
    }
}

/// The part of formatting that depends on each event alone, split off so
/// that a tracer can do it on the vCPU's thread before the event is put in
/// order with other vCPUs' events, and then only place the text
/// ([`Formatter::place_prepared`]): the order (and
/// `<unfinished ...>`) needs the events before it, the text does not. The
/// tracer keeps a prepared event in its vCPU's queue
/// ([`crate::ordered`]), so the output's lock is not taken per event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preparer {
    Strace {
        timestamps: Timestamps,
        durations: bool,
    },
    Paper,
    Jsonl {
        ts: bool,
        dur: bool,
    },
}

impl Preparer {
    /// Appends `ev`'s own text to `text`.
    pub fn prepare(&self, ev: &Event<'_>, text: &mut String) {
        match *self {
            Preparer::Strace {
                timestamps,
                durations,
            } => strace_prepare(ev, text, timestamps, durations),
            Preparer::Paper => paper(ev, text),
            Preparer::Jsonl { ts, dur } => jsonl_with(ev, text, ts, dur),
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
        let more = shows(&ev.args[known..]);
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

/// The format's own state.
#[derive(Clone, Debug)]
enum Writer {
    Strace(StraceWriter),
    Paper,
    /// Whether events carry `ts` and exits `dur`.
    Jsonl {
        ts: bool,
        dur: bool,
    },
    Perfetto(Box<PerfettoWriter>),
    /// The summary is the whole output.
    None,
}

/// Turns events into text: the status filter, the format, the summary.
#[derive(Clone, Debug)]
pub struct Formatter {
    config: OutputConfig,
    writer: Writer,
    gate: Option<StatusGate>,
    summary: Option<Summary>,
}

impl Default for Formatter {
    fn default() -> Self {
        Formatter::new(OutputConfig::default())
    }
}

impl Formatter {
    pub fn new(config: impl Into<OutputConfig>) -> Self {
        let config = config.into();
        let writer = match config.format {
            Format::Strace => Writer::Strace(StraceWriter {
                open: None,
                spare: String::new(),
                timestamps: config.timestamps,
                durations: config.durations,
            }),
            Format::Paper => Writer::Paper,
            // Times only when asked for: a trace without them is the same
            // every run, which test vectors and diffs of traces rely on.
            Format::Jsonl => Writer::Jsonl {
                ts: config.timestamps != Timestamps::None,
                dur: config.timestamps != Timestamps::None || config.durations,
            },
            Format::Perfetto => Writer::Perfetto(Box::default()),
            // Every row has its times.
            Format::Parquet => Writer::Jsonl {
                ts: true,
                dur: true,
            },
            Format::Summary | Format::Nothing => Writer::None,
        };
        let gate = config.filter.status.is_some().then(StatusGate::default);
        let summary = (config.summary || config.format == Format::Summary).then(|| {
            if config.summary_by_process {
                Summary::per_process()
            } else {
                Summary::new()
            }
        });
        Formatter {
            config,
            writer,
            gate,
            summary,
        }
    }

    pub fn format(&self) -> Format {
        self.config.format
    }

    pub fn config(&self) -> &OutputConfig {
        &self.config
    }

    pub fn summary(&self) -> Option<&Summary> {
        self.summary.as_ref()
    }

    /// How events can be prepared before [`Formatter::place_prepared`],
    /// if they can: not under a status filter, which holds entries back
    /// and decides at their exits, nor with a summary, which counts whole
    /// events, nor for Perfetto's timeline, whose output is not one text
    /// per event.
    pub fn preparer(&self) -> Option<Preparer> {
        if !self.places_text_alone() {
            return None;
        }
        match self.writer {
            Writer::Strace(ref w) => Some(Preparer::Strace {
                timestamps: w.timestamps,
                durations: w.durations,
            }),
            Writer::Paper => Some(Preparer::Paper),
            Writer::Jsonl { ts, dur } => Some(Preparer::Jsonl { ts, dur }),
            Writer::Perfetto(_) | Writer::None => None,
        }
    }

    /// Events can be placed from their prepared text alone: no status
    /// filter holds them back and no summary counts them.
    fn places_text_alone(&self) -> bool {
        self.gate.is_none() && self.summary.is_none()
    }

    /// Like [`Formatter::event`], for an event whose text the
    /// [`Formatter::preparer`] has made; a formatter without a preparer
    /// ignores it.
    pub fn place_prepared(&mut self, ev: &Placed<'_>, prepared: &str, out: &mut String) {
        if !self.places_text_alone() {
            return;
        }
        match &mut self.writer {
            Writer::Strace(w) => w.place(ev, prepared, out),
            Writer::Paper | Writer::Jsonl { .. } => out.push_str(prepared),
            Writer::Perfetto(_) | Writer::None => {}
        }
    }

    /// Appends the text for `ev` (possibly none yet: a strace entry waits
    /// for its exit, the status filter holds entries).
    pub fn event(&mut self, ev: &Event<'_>, out: &mut String) {
        if self.gate.is_none() {
            return self.pass(ev, out);
        }
        self.gated(ev, out);
    }

    /// [`Formatter::event`] under a status filter. Out of line, as the
    /// writers other than strace's are: inlined, they made the stack frame
    /// of every event's formatting several times larger.
    #[inline(never)]
    fn gated(&mut self, ev: &Event<'_>, out: &mut String) {
        let Some(gate) = &mut self.gate else {
            return;
        };
        match ev.kind {
            EventKind::Entry => {
                let evicted = if gate.held.len() >= HELD_LIMIT {
                    gate.held.pop_front()
                } else {
                    None
                };
                gate.held.push_back(OwnedEvent::from_event(ev));
                if let Some(old) = evicted
                    && self.config.filter.status_ok(Status::Unfinished)
                {
                    self.pass(&old.as_event(), out);
                }
            }
            EventKind::Signal | EventKind::Exited => self.pass(ev, out),
            EventKind::Exit => {
                let entry = gate.release(ev);
                if self.config.filter.status_ok(ev.status()) {
                    if let Some(entry) = entry {
                        self.pass(&entry.as_event(), out);
                    }
                    self.pass(ev, out);
                }
            }
        }
    }

    fn pass(&mut self, ev: &Event<'_>, out: &mut String) {
        if let Some(summary) = &mut self.summary {
            summary.record(ev);
        }
        match &mut self.writer {
            Writer::Strace(w) => w.event(ev, out),
            Writer::Paper => paper(ev, out),
            Writer::Jsonl { ts, dur } => jsonl_with(ev, out, *ts, *dur),
            Writer::Perfetto(w) => w.event(ev, out),
            Writer::None => {}
        }
    }

    /// At the end of a trace: entries still held (unfinished calls), the
    /// end of the format, and the summary table when it belongs in the
    /// trace. Returns the summary when it does not (a jsonl or Perfetto
    /// file), for the plugin to print on stderr.
    pub fn finish(&mut self, out: &mut String) -> Option<String> {
        if let Some(gate) = &mut self.gate {
            let held: Vec<OwnedEvent> = gate.held.drain(..).collect();
            if self.config.filter.status_ok(Status::Unfinished) {
                for entry in held {
                    self.pass(&entry.as_event(), out);
                }
            }
        }
        match &mut self.writer {
            Writer::Strace(w) => w.finish(out),
            Writer::Perfetto(w) => w.finish(out),
            Writer::Paper | Writer::Jsonl { .. } | Writer::None => {}
        }
        let summary = self.summary.as_mut()?;
        let mut table = String::new();
        summary.render(&mut table);
        if self.config.format.is_text() {
            out.push_str(&table);
            None
        } else {
            Some(table)
        }
    }
}

#[derive(Clone, Debug)]
struct OpenEntry {
    thread: u64,
    process: u64,
    tid: Option<i64>,
    nr: u64,
    /// `[thread] name(known args` without the closing part.
    head: String,
    /// Whether arguments remain to be shown at exit.
    more: bool,
}

#[derive(Clone, Debug)]
struct StraceWriter {
    /// An entry not printed yet, waiting for its exit.
    open: Option<OpenEntry>,
    /// The last printed entry's line buffer, kept for the next entry: one
    /// allocation for the whole trace instead of one per call.
    spare: String,
    timestamps: Timestamps,
    durations: bool,
}

/// `[pid  1234] ` with the guest's thread id as `strace -f` prints it, or
/// `[thread] ` with the model's thread identity, and with timestamps,
/// `seconds.micros ` like strace -ttt (virtual time: the instruction
/// count).
fn line_start(
    out: &mut String,
    thread: u64,
    tid: Option<i64>,
    ts: Option<u64>,
    timestamps: Timestamps,
) {
    match tid {
        Some(tid) => {
            // `[pid %5u] `, without the formatting machinery: it is on
            // every line.
            out.push_str("[pid ");
            push_decimal_padded(out, tid, 5);
            out.push_str("] ");
        }
        None => {
            out.push('[');
            push_hex(out, thread);
            out.push_str("] ");
        }
    }
    match (timestamps, ts) {
        (Timestamps::Wall, Some(ts)) => {
            let _ = write!(
                out,
                "{}.{:06} ",
                ts / 1_000_000_000,
                ts % 1_000_000_000 / 1000
            );
        }
        (Timestamps::Virtual, Some(ts)) => {
            let _ = write!(out, "{ts} ");
        }
        _ => {}
    }
}

/// What [`StraceWriter::start`] leaves to write.
enum Start {
    /// An entry: its line's start goes into this buffer, which then
    /// becomes the open entry ([`StraceWriter::open_entry`]).
    Entry(String),
    /// An exit: the rest of its line goes into the output.
    Exit,
}

impl StraceWriter {
    /// Formats an event whole, straight into the output or the entry's
    /// buffer (one copy less than preparing it first).
    fn event(&mut self, ev: &Event<'_>, out: &mut String) {
        let placed = Placed::of(ev);
        match self.start(&placed, out) {
            Start::Entry(mut head) => {
                strace_prepare(ev, &mut head, self.timestamps, self.durations);
                self.open_entry(&placed, head);
            }
            Start::Exit => strace_prepare(ev, out, self.timestamps, self.durations),
        }
    }

    /// Places an event whose own text [`strace_prepare`] made.
    fn place(&mut self, ev: &Placed<'_>, prepared: &str, out: &mut String) {
        match self.start(ev, out) {
            Start::Entry(mut head) => {
                head.push_str(prepared);
                self.open_entry(ev, head);
            }
            Start::Exit => out.push_str(prepared),
        }
    }

    /// What an event's place in the trace decides: an entry waits for its
    /// exit; an exit finishes its entry's line, or resumes it when other
    /// lines came between, and an open entry of another call is shown
    /// unfinished.
    fn start(&mut self, ev: &Placed<'_>, out: &mut String) -> Start {
        let (thread, process) = ev.entered_as.unwrap_or((ev.thread, ev.process));
        let same_call = |o: &OpenEntry| {
            ev.kind == EventKind::Exit
                && o.nr == ev.nr
                && match (o.tid, ev.tid) {
                    (Some(a), Some(b)) => a == b,
                    (None, None) => o.thread == thread && o.process == process,
                    _ => false,
                }
        };
        let resumes_open = match self.open.take() {
            Some(open) if same_call(&open) => {
                // The line starts as the entry began it (its time).
                out.push_str(&open.head);
                self.spare = open.head;
                true
            }
            Some(open) => {
                unfinished(&open, out);
                self.spare = open.head;
                false
            }
            None => false,
        };
        if ev.kind == EventKind::Entry {
            let mut head = std::mem::take(&mut self.spare);
            head.clear();
            return Start::Entry(head);
        }
        if ev.kind.is_notice() {
            // A whole line: strace_prepare starts it.
            return Start::Exit;
        }
        if resumes_open {
            if ev.comma {
                out.push_str(", ");
            }
        } else {
            line_start(out, ev.thread, ev.tid, ev.ts, self.timestamps);
            out.push_str("<... ");
            out.push_str(ev.name);
            out.push_str(" resumed>");
        }
        Start::Exit
    }

    fn open_entry(&mut self, ev: &Placed<'_>, head: String) {
        self.open = Some(OpenEntry {
            thread: ev.thread,
            process: ev.process,
            tid: ev.tid,
            nr: ev.nr,
            head,
            more: ev.more,
        });
    }

    fn finish(&mut self, out: &mut String) {
        if let Some(open) = self.open.take() {
            unfinished(&open, out);
        }
    }
}

/// Appends the text of a strace line that depends on `ev` alone: for an
/// entry, the line's start up to its known arguments; for an exit, the
/// arguments shown at exit and the return. How the two join (one line, or
/// `<unfinished ...>` and `<... resumed>`) is [`StraceWriter::start`]'s.
fn strace_prepare(ev: &Event<'_>, text: &mut String, timestamps: Timestamps, durations: bool) {
    if ev.kind.is_notice() {
        line_start(text, ev.thread, ev.task.map(|t| t.tid), ev.ts, timestamps);
        return notice(ev, text);
    }
    let known = ev.entry_prefix();
    if ev.kind == EventKind::Entry {
        line_start(text, ev.thread, ev.task.map(|t| t.tid), ev.ts, timestamps);
        text.push_str(ev.name);
        text.push('(');
        join_args(text, &ev.args[..known]);
        return;
    }
    join_args(text, &ev.args[known..]);
    match ev.ret {
        Some(r) => {
            text.push_str(") = ");
            text.push_str(&r.text);
            if durations && let (Some(ts), Some(entry)) = (ev.ts, ev.entry_ts) {
                let d = ts.saturating_sub(entry);
                let _ = if timestamps == Timestamps::Virtual {
                    write!(text, " <{d}>")
                } else {
                    write!(
                        text,
                        " <{}.{:06}>",
                        d / 1_000_000_000,
                        d % 1_000_000_000 / 1000
                    )
                };
            }
            text.push('\n');
        }
        None => text.push_str(") = ?\n"),
    }
}

/// strace's lines about a task rather than a call: `--- SIGUSR1
/// {si_signo=SIGUSR1, si_code=SI_USER, si_pid=83, si_uid=0} ---` (a
/// signal without the frame's siginfo shows its number alone) and `+++
/// exited with 0 +++`.
fn notice(ev: &Event<'_>, text: &mut String) {
    match ev.kind {
        EventKind::Signal => {
            text.push_str("--- ");
            text.push_str(ev.name);
            text.push_str(" {");
            if ev.args.is_empty() {
                text.push_str("si_signo=");
                text.push_str(ev.name);
                text.push_str(", ...");
            }
            for (i, a) in ev.args.iter().enumerate() {
                if i > 0 {
                    text.push_str(", ");
                }
                text.push_str(&a.name);
                text.push('=');
                text.push_str(&a.text);
            }
            text.push_str("} ---\n");
        }
        _ => {
            let _ = writeln!(text, "+++ exited with {} +++", ev.nr as i64);
        }
    }
}

/// Visible arguments, comma-separated.
fn join_args(out: &mut String, args: &[Arg]) {
    let mut first = true;
    for a in args.iter().filter(|a| !a.hidden) {
        if !first {
            out.push_str(", ");
        }
        first = false;
        out.push_str(&a.text);
    }
}

fn unfinished(open: &OpenEntry, out: &mut String) {
    out.push_str(&open.head);
    // strace leaves the separator of the arguments still to come, hence
    // `read(3,  <unfinished ...>` with two spaces.
    if open.more && !open.head.ends_with('(') {
        out.push_str(", ");
    }
    out.push_str(" <unfinished ...>\n");
}

/// Fig. 1 of the paper: the thread, `entr`/`exit`, the number in hex and
/// the name; then raw argument values with the type and name as written
/// (the space before `)` is the paper's); then the raw return value.
#[inline(never)]
pub fn paper(ev: &Event<'_>, out: &mut String) {
    let word = match ev.kind {
        EventKind::Entry => "entr",
        EventKind::Exit => "exit",
        EventKind::Signal | EventKind::Exited => {
            let thread = ev.task.map_or(ev.thread, |t| t.tid as u64);
            let _ = write!(out, "{thread:#x} ");
            return notice(ev, out);
        }
    };
    let thread = ev.task.map_or(ev.thread, |t| t.tid as u64);
    let _ = writeln!(out, "{thread:#x} {word}: {:#x}: {}", ev.nr, ev.name);
    match ev.kind {
        EventKind::Entry => {
            // The layout shows values only: an argument whose location
            // could not be read has no line (as in the paper's Figure 1,
            // where some calls show none).
            for (i, a) in ev.args.iter().enumerate() {
                if let Some(v) = a.raw {
                    let _ = writeln!(out, "arg {i}: {v:#x} ({} {} )", a.type_name, a.name);
                }
            }
        }
        EventKind::Exit => {
            let _ = match ev.ret {
                Some(r) => writeln!(out, "return: {:#x}", r.raw),
                None => writeln!(out, "return: ?"),
            };
        }
        EventKind::Signal | EventKind::Exited => {}
    }
}

/// One JSON object on one line, with its times ([`jsonl_with`]).
pub fn jsonl(ev: &Event<'_>, out: &mut String) {
    jsonl_with(ev, out, true, true);
}

/// One JSON object on one line. Numbers are unsigned 64-bit integers
/// (exact in Rust, Python and jq 1.7+; JavaScript needs BigInt above 2^53)
/// but `ret`, which is signed where the declared return type is or the
/// call failed, with the register's bits in `ret_raw` when they differ;
/// an unreadable argument's value is null; `dir` appears on arguments only
/// for `out` and `inout`, `hidden` and `unreadable` only when true;
/// `classes` when the call has any. With
/// `with_ts`, `ts` is the event's time in nanoseconds. Exits carry `ret`
/// (null for a call that does not return), `ret_text`, `error` (the errno's
/// name or null), `errno` with it, `entry_thread` and `entry_process`
/// when the call returned as another thread or process than it entered
/// as, and with `with_dur`, `dur`, the nanoseconds since the entry.
#[inline(never)]
pub fn jsonl_with(ev: &Event<'_>, out: &mut String, with_ts: bool, with_dur: bool) {
    // A signal's `args` are its siginfo's fields; a process's end says
    // its status in `nr`, as `status` too.
    let kind = match ev.kind {
        EventKind::Entry => "entry",
        EventKind::Exit => "exit",
        EventKind::Signal => "signal",
        EventKind::Exited => "exited",
    };
    let _ = write!(
        out,
        "{{\"event\":\"{kind}\",\"vcpu\":{},\"thread\":{},\"process\":{},\"nr\":{},\"name\":",
        ev.vcpu, ev.thread, ev.process, ev.nr
    );
    json_str(out, ev.name);
    if let Some(t) = &ev.task {
        let _ = write!(out, ",\"pid\":{},\"tid\":{}", t.pid, t.tid);
        if let Some(ppid) = t.ppid {
            let _ = write!(out, ",\"ppid\":{ppid}");
        }
        if let Some(comm) = &t.comm {
            out.push_str(",\"comm\":");
            json_str(out, &comm.text());
        }
    }
    if !ev.classes.is_empty() {
        out.push_str(",\"classes\":[");
        for (i, c) in ev.classes.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json_str(out, c);
        }
        out.push(']');
    }
    if with_ts && let Some(ts) = ev.ts {
        let _ = write!(out, ",\"ts\":{ts}");
    }
    out.push_str(",\"args\":[");
    for (i, a) in ev.args.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"name\":");
        json_str(out, &a.name);
        out.push_str(",\"type\":");
        json_str(out, &a.type_name);
        out.push_str(",\"value\":");
        match a.raw {
            Some(v) => {
                let _ = write!(out, "{v}");
            }
            None => out.push_str("null"),
        }
        out.push_str(",\"text\":");
        json_str(out, &a.text);
        // Which arguments strace shows before a call blocks, so a recording
        // converts to the same lines.
        match a.dir {
            Direction::In => {}
            Direction::Out => out.push_str(",\"dir\":\"out\""),
            Direction::InOut => out.push_str(",\"dir\":\"inout\""),
        }
        if a.hidden {
            out.push_str(",\"hidden\":true");
        }
        if a.unreadable {
            out.push_str(",\"unreadable\":true");
        }
        out.push('}');
    }
    out.push(']');
    if ev.kind == EventKind::Exited {
        let _ = write!(out, ",\"status\":{}", ev.nr as i64);
    }
    if ev.kind == EventKind::Exit {
        match ev.ret {
            Some(r) => {
                match r.signed {
                    // The register's bits beside a value that does not
                    // show them (negative, or a narrower type).
                    Some(v) if v < 0 || v as u64 != r.raw => {
                        let _ = write!(out, ",\"ret\":{v},\"ret_raw\":{}", r.raw);
                    }
                    _ => {
                        let _ = write!(out, ",\"ret\":{}", r.raw);
                    }
                }
                out.push_str(",\"ret_text\":");
                json_str(out, &r.text);
                out.push_str(",\"error\":");
                match &r.error {
                    Some(e) => {
                        json_str(out, &e.name);
                        let _ = write!(out, ",\"errno\":{}", e.value);
                    }
                    None => out.push_str("null"),
                }
            }
            None => out.push_str(",\"ret\":null,\"ret_text\":null,\"error\":null"),
        }
        // An exec or arch_prctl returns as another thread or process than
        // it entered as: kept, so a recording joins the two as a live
        // trace does.
        if let Some((thread, process)) = ev.entered_as
            && (thread, process) != (ev.thread, ev.process)
        {
            let _ = write!(
                out,
                ",\"entry_thread\":{thread},\"entry_process\":{process}"
            );
        }
        if with_dur && let (Some(ts), Some(entry)) = (ev.ts, ev.entry_ts) {
            let _ = write!(out, ",\"dur\":{}", ts.saturating_sub(entry));
        }
    }
    out.push_str("}\n");
}

/// A JSON string literal (RFC 8259): quotes, backslashes and control
/// characters escaped, everything else as is.
pub fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::ErrorInfo;

    fn arg(name: &str, type_name: &str, dir: Direction, raw: u64, text: &str) -> Arg {
        Arg {
            name: name.into(),
            type_name: type_name.into(),
            dir,
            raw: Some(raw),
            text: text.into(),
            ..Arg::default()
        }
    }

    fn read_entry(thread: u64) -> OwnedEvent {
        OwnedEvent {
            kind: EventKind::Entry,
            vcpu: 0,
            thread,
            process: 0x1000,
            nr: 0,
            name: "read".into(),
            args: vec![
                arg("fd", "fd", Direction::In, 3, "3"),
                arg("buf", "buf", Direction::Out, 0x2000, "0x2000"),
                arg("count", "size", Direction::In, 100, "100"),
            ],
            ..OwnedEvent::default()
        }
    }

    fn read_exit(thread: u64) -> OwnedEvent {
        let mut ev = read_entry(thread);
        ev.kind = EventKind::Exit;
        ev.args[1].text = "\"hi\\n\"".into();
        ev.ret = Some(Return {
            raw: 3,
            signed: Some(3),
            text: "3".into(),
            error: None,
        });
        ev
    }

    fn failed_open_exit() -> OwnedEvent {
        OwnedEvent {
            kind: EventKind::Exit,
            vcpu: 1,
            thread: 0x77,
            process: 0x1000,
            nr: 257,
            name: "openat".into(),
            args: vec![
                arg("dirfd", "fd", Direction::In, -100i64 as u64, "AT_FDCWD"),
                arg("path", "cstr", Direction::In, 0x1000, "\"/nonexistent\""),
            ],
            ret: Some(Return {
                raw: -2i64 as u64,
                signed: Some(-2),
                text: "-1 ENOENT (No such file or directory)".into(),
                error: Some(ErrorInfo {
                    value: 2,
                    name: "ENOENT".into(),
                    message: "No such file or directory".into(),
                }),
            }),
            ..OwnedEvent::default()
        }
    }

    fn run(config: impl Into<OutputConfig>, events: &[OwnedEvent]) -> String {
        let mut f = Formatter::new(config);
        let mut out = String::new();
        for ev in events {
            f.event(&ev.as_event(), &mut out);
        }
        f.finish(&mut out);
        out
    }

    #[test]
    fn format_names() {
        for f in Format::ALL {
            assert_eq!(Format::from_name(f.name()), Some(f));
        }
        assert_eq!(Format::from_name("xml"), None);
        assert_eq!(Formatter::default().format(), Format::Strace);
    }

    /// An exec returns in a new address space, arch_prctl(ARCH_SET_FS)
    /// with a new thread register: the exit is still the call the held
    /// entry began, and strace shows it on one line.
    #[test]
    fn strace_joins_a_call_whose_identity_changed() {
        let entry = read_entry(0);
        let mut exit = read_exit(0x4d5000);
        exit.process = 0x2000;
        exit.entered_as = Some((0, 0x1000));
        assert_eq!(
            run(Format::Strace, &[entry.clone(), exit.clone()]),
            "[0x0] read(3, \"hi\\n\", 100) = 3\n"
        );
        // Without the identity it entered with, the exit is another call's.
        exit.entered_as = None;
        assert_eq!(
            run(Format::Strace, &[entry, exit]),
            "[0x0] read(3,  <unfinished ...>\n\
             [0x4d5000] <... read resumed>\"hi\\n\", 100) = 3\n"
        );
    }

    #[test]
    fn paper_matches_figure_1() {
        let hex = |name: &str, ty: &str, v: u64| arg(name, ty, Direction::In, v, "");
        let entry = OwnedEvent {
            kind: EventKind::Entry,
            vcpu: 0,
            thread: 0x3e84000,
            process: 0,
            nr: 0x112,
            name: "NtWriteFile".into(),
            args: vec![
                hex("FileHandle", "HANDLE", 0x2a4),
                hex("Event", "HANDLE", 0),
                hex("Buffer", "PVOID", 0x9059f8),
            ],
            ..OwnedEvent::default()
        };
        let exit = OwnedEvent {
            kind: EventKind::Exit,
            ret: Some(Return {
                raw: 0,
                signed: Some(0),
                text: "0".into(),
                error: None,
            }),
            ..entry.clone()
        };
        assert_eq!(
            run(Format::Paper, &[entry, exit]),
            "0x3e84000 entr: 0x112: NtWriteFile\n\
             arg 0: 0x2a4 (HANDLE FileHandle )\n\
             arg 1: 0x0 (HANDLE Event )\n\
             arg 2: 0x9059f8 (PVOID Buffer )\n\
             0x3e84000 exit: 0x112: NtWriteFile\n\
             return: 0x0\n"
        );
    }

    #[test]
    fn paper_unreadable_and_no_return() {
        let mut entry = read_entry(1);
        entry.args.truncate(1);
        entry.args[0].raw = None;
        let mut exit = entry.clone();
        exit.kind = EventKind::Exit;
        assert_eq!(
            run(Format::Paper, &[entry, exit]),
            "0x1 entr: 0x0: read\n0x1 exit: 0x0: read\nreturn: ?\n"
        );
    }

    #[test]
    fn strace_one_line_when_nothing_interleaves() {
        assert_eq!(
            run(Format::Strace, &[read_entry(1), read_exit(1)]),
            "[0x1] read(3, \"hi\\n\", 100) = 3\n"
        );
        let mut open_entry = failed_open_exit();
        open_entry.kind = EventKind::Entry;
        open_entry.ret = None;
        assert_eq!(
            run(Format::Strace, &[open_entry, failed_open_exit()]),
            "[0x77] openat(AT_FDCWD, \"/nonexistent\") = -1 ENOENT (No such file or directory)\n"
        );
    }

    #[test]
    fn strace_unfinished_and_resumed() {
        let mut write_entry = read_entry(2);
        write_entry.name = "write".into();
        write_entry.nr = 1;
        write_entry.args[1].dir = Direction::In;
        write_entry.args[1].text = "\"x\"".into();
        let mut write_exit = write_entry.clone();
        write_exit.kind = EventKind::Exit;
        write_exit.ret = Some(Return {
            raw: 1,
            signed: Some(1),
            text: "1".into(),
            error: None,
        });
        let out = run(
            Format::Strace,
            &[read_entry(1), write_entry.clone(), write_exit, read_exit(1)],
        );
        assert_eq!(
            out,
            "[0x1] read(3,  <unfinished ...>\n\
             [0x2] write(3, \"x\", 100) = 1\n\
             [0x1] <... read resumed>\"hi\\n\", 100) = 3\n"
        );
        // All arguments known at entry: nothing but the return is resumed.
        let mut write_exit2 = write_entry.clone();
        write_exit2.kind = EventKind::Exit;
        write_exit2.ret = None;
        let out = run(
            Format::Strace,
            &[write_entry.clone(), read_entry(1), write_exit2],
        );
        assert_eq!(
            out,
            "[0x2] write(3, \"x\", 100 <unfinished ...>\n\
             [0x1] read(3,  <unfinished ...>\n\
             [0x2] <... write resumed>) = ?\n"
        );
    }

    #[test]
    fn strace_exit_without_entry_and_first_arg_out() {
        let mut pipe = OwnedEvent {
            kind: EventKind::Entry,
            vcpu: 0,
            thread: 5,
            process: 1,
            nr: 22,
            name: "pipe".into(),
            args: vec![arg("fds", "ptr", Direction::Out, 0x10, "0x10")],
            ..OwnedEvent::default()
        };
        assert_eq!(
            run(Format::Strace, &[pipe.clone()]),
            "[0x5] pipe( <unfinished ...>\n"
        );
        pipe.kind = EventKind::Exit;
        pipe.args[0].text = "[3, 4]".into();
        pipe.ret = Some(Return {
            raw: 0,
            signed: Some(0),
            text: "0".into(),
            error: None,
        });
        assert_eq!(
            run(Format::Strace, &[pipe]),
            "[0x5] <... pipe resumed>[3, 4]) = 0\n"
        );
    }

    #[test]
    fn strace_keeps_earlier_output() {
        let mut f = Formatter::new(Format::Strace);
        let mut out = String::from("[earlier]\n");
        f.event(&read_entry(1).as_event(), &mut out);
        assert_eq!(out, "[earlier]\n");
        f.event(&read_exit(1).as_event(), &mut out);
        assert_eq!(out, "[earlier]\n[0x1] read(3, \"hi\\n\", 100) = 3\n");
    }

    #[test]
    fn jsonl_events() {
        let out = run(Format::Jsonl, &[read_entry(1), failed_open_exit()]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            r#"{"event":"entry","vcpu":0,"thread":1,"process":4096,"nr":0,"name":"read","args":[{"name":"fd","type":"fd","value":3,"text":"3"},{"name":"buf","type":"buf","value":8192,"text":"0x2000","dir":"out"},{"name":"count","type":"size","value":100,"text":"100"}]}"#
        );
        assert_eq!(
            lines[1],
            r#"{"event":"exit","vcpu":1,"thread":119,"process":4096,"nr":257,"name":"openat","args":[{"name":"dirfd","type":"fd","value":18446744073709551516,"text":"AT_FDCWD"},{"name":"path","type":"cstr","value":4096,"text":"\"/nonexistent\""}],"ret":-2,"ret_raw":18446744073709551614,"ret_text":"-1 ENOENT (No such file or directory)","error":"ENOENT","errno":2}"#
        );
        let mut ok = read_exit(1);
        ok.args.clear();
        let mut none = ok.clone();
        none.ret = None;
        let mut unreadable = read_entry(1);
        unreadable.args.truncate(1);
        unreadable.args[0].raw = None;
        let out = run(Format::Jsonl, &[ok, none, unreadable]);
        let lines: Vec<&str> = out.lines().collect();
        assert!(
            lines[0].ends_with(r#""args":[],"ret":3,"ret_text":"3","error":null}"#),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].ends_with(r#""ret":null,"ret_text":null,"error":null}"#),
            "{}",
            lines[1]
        );
        assert!(lines[2].contains(r#""value":null"#), "{}", lines[2]);
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut out = String::new();
        json_str(&mut out, "a\"b\\c\nd\te\u{1}\u{8}\u{c}\r\u{1f}é");
        assert_eq!(out, r#""a\"b\\c\nd\te\u0001\b\f\r\u001fé""#);
    }

    fn timed(mut ev: OwnedEvent, ts: u64, entry_ts: Option<u64>) -> OwnedEvent {
        ev.ts = Some(ts);
        ev.entry_ts = entry_ts;
        ev
    }

    #[test]
    fn strace_hides_arguments_whose_condition_is_false() {
        let mut entry = read_entry(1);
        entry.name = "openat".into();
        entry.args[1].dir = Direction::In;
        entry.args[2].hidden = true;
        let mut exit = entry.clone();
        exit.kind = EventKind::Exit;
        exit.ret = read_exit(1).ret;
        assert_eq!(
            run(Format::Strace, &[entry.clone(), exit.clone()]),
            "[0x1] openat(3, 0x2000) = 3\n"
        );
        // A hidden argument between shown ones leaves no gap.
        entry.args.swap(1, 2);
        exit.args.swap(1, 2);
        assert_eq!(
            run(Format::Strace, &[entry, exit]),
            "[0x1] openat(3, 0x2000) = 3\n"
        );
        // Hidden `out` arguments after the split are skipped too.
        let mut read = read_entry(1);
        read.args[2].hidden = true;
        let mut done = read_exit(1);
        done.args[2].hidden = true;
        assert_eq!(
            run(Format::Strace, &[read.clone(), read_entry(2), done]),
            "[0x1] read(3,  <unfinished ...>\n[0x2] read(3,  <unfinished ...>\n[0x1] <... read resumed>\"hi\\n\") = 3\n"
        );
    }

    /// What the tracer does: each event's text prepared first, in one
    /// buffer reused from event to event, then placed.
    fn run_prepared(config: impl Into<OutputConfig>, events: &[OwnedEvent]) -> String {
        let mut f = Formatter::new(config);
        let preparer = f.preparer().expect("the format prepares events");
        let mut out = String::new();
        let mut text = String::new();
        for ev in events {
            let ev = ev.as_event();
            text.clear();
            preparer.prepare(&ev, &mut text);
            f.place_prepared(&Placed::of(&ev), &text, &mut out);
        }
        f.finish(&mut out);
        out
    }

    #[test]
    fn prepared_events_print_as_formatted_ones() {
        let entry = timed(read_entry(1), 1_700_000_000_000_001_000, None);
        let exit = timed(read_exit(1), 1_700_000_000_000_124_999, entry.ts);
        let other = timed(read_entry(2), 1_700_000_000_000_050_000, None);
        let mut other_exit = timed(read_exit(2), 1_700_000_000_000_200_000, other.ts);
        other_exit.ret = None;
        let mut open_entry = failed_open_exit();
        open_entry.kind = EventKind::Entry;
        open_entry.ret = None;
        // One line, interleaved lines, an exit with no entry, a call that
        // does not return, and one left unfinished at the end.
        let events = [
            entry.clone(),
            exit.clone(),
            entry.clone(),
            other.clone(),
            exit,
            open_entry,
            failed_open_exit(),
            other_exit,
            read_exit(3),
            other,
        ];
        let timed_strace = OutputConfig {
            timestamps: Timestamps::Wall,
            durations: true,
            ..OutputConfig::default()
        };
        for config in [
            OutputConfig::from(Format::Strace),
            timed_strace,
            OutputConfig::from(Format::Paper),
            OutputConfig::from(Format::Jsonl),
        ] {
            let formatted = run(config.clone(), &events);
            assert!(formatted.lines().count() >= 5, "{formatted}");
            assert_eq!(run_prepared(config, &events), formatted);
        }
        // Output that is not one piece of text per event has no preparer.
        assert_eq!(Formatter::new(Format::Perfetto).preparer(), None);
        assert_eq!(Formatter::new(Format::Summary).preparer(), None);
        let summed = OutputConfig {
            summary: true,
            ..OutputConfig::default()
        };
        assert_eq!(Formatter::new(summed).preparer(), None);
        let gated = OutputConfig {
            filter: crate::filter::FilterSpec::parse("status=failed").unwrap(),
            ..OutputConfig::default()
        };
        assert_eq!(Formatter::new(gated).preparer(), None);
    }

    #[test]
    fn strace_timestamps_and_durations() {
        let config = OutputConfig {
            timestamps: Timestamps::Wall,
            durations: true,
            ..OutputConfig::default()
        };
        let entry = timed(read_entry(1), 1_700_000_000_000_001_000, None);
        let exit = timed(read_exit(1), 1_700_000_000_000_124_999, entry.ts);
        assert_eq!(
            run(config.clone(), &[entry.clone(), exit.clone()]),
            "[0x1] 1700000000.000001 read(3, \"hi\\n\", 100) = 3 <0.000123>\n"
        );
        // Interleaved: the unfinished line has the entry's time, the
        // resumed line the exit's.
        let other = timed(read_entry(2), 1_700_000_000_000_050_000, None);
        assert_eq!(
            run(config, &[entry, other, exit]),
            "[0x1] 1700000000.000001 read(3,  <unfinished ...>\n\
             [0x2] 1700000000.000050 read(3,  <unfinished ...>\n\
             [0x1] 1700000000.000124 <... read resumed>\"hi\\n\", 100) = 3 <0.000123>\n"
        );
        // Without them, the same events print plainly.
        let plain = run(
            Format::Strace,
            &[
                timed(read_entry(1), 5, None),
                timed(read_exit(1), 9, Some(5)),
            ],
        );
        assert_eq!(plain, "[0x1] read(3, \"hi\\n\", 100) = 3\n");
    }

    #[test]
    fn strace_virtual_timestamps_are_instruction_counts() {
        let config = OutputConfig {
            timestamps: Timestamps::Virtual,
            durations: true,
            ..OutputConfig::default()
        };
        let entry = timed(read_entry(1), 6_052_057_619, None);
        let exit = timed(read_exit(1), 6_052_057_948, entry.ts);
        assert_eq!(
            run(config, &[entry, exit]),
            "[0x1] 6052057619 read(3, \"hi\\n\", 100) = 3 <329>\n"
        );
    }

    #[test]
    fn jsonl_times_classes_and_argument_flags() {
        let mut entry = timed(read_entry(1), 1000, None);
        entry.classes = vec!["desc".into()];
        entry.args[0].hidden = true;
        entry.args[1].unreadable = true;
        let exit = OwnedEvent {
            kind: EventKind::Exit,
            ret: read_exit(1).ret,
            ..timed(entry.clone(), 1500, Some(1000))
        };
        let timed_jsonl = OutputConfig {
            format: Format::Jsonl,
            timestamps: Timestamps::Wall,
            ..OutputConfig::default()
        };
        let out = run(timed_jsonl, &[entry.clone(), exit.clone()]);
        let lines: Vec<&str> = out.lines().collect();
        assert!(
            lines[0].contains(r#""name":"read","classes":["desc"],"ts":1000,"args":[{"name":"fd","type":"fd","value":3,"text":"3","hidden":true},{"name":"buf","type":"buf","value":8192,"text":"0x2000","dir":"out","unreadable":true}"#),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].ends_with(r#""error":null,"dur":500}"#),
            "{}",
            lines[1]
        );
    }

    fn failed_open_entry() -> OwnedEvent {
        OwnedEvent {
            kind: EventKind::Entry,
            ret: None,
            ..failed_open_exit()
        }
    }

    #[test]
    fn status_filter_holds_entries_until_their_exit() {
        let config = |status: &str| OutputConfig {
            filter: crate::filter::FilterSpec::parse(&format!("status={status}")).unwrap(),
            ..OutputConfig::default()
        };
        let events = [
            read_entry(1),
            failed_open_entry(),
            failed_open_exit(),
            read_exit(1),
            read_entry(2),
        ];
        assert_eq!(
            run(config("failed"), &events),
            "[0x77] openat(AT_FDCWD, \"/nonexistent\") = -1 ENOENT (No such file or directory)\n"
        );
        // Held entries print whole even when the calls interleaved.
        assert_eq!(
            run(config("successful"), &events),
            "[0x1] read(3, \"hi\\n\", 100) = 3\n"
        );
        // A call still in the kernel at the end is unfinished.
        assert_eq!(
            run(config("unfinished"), &events),
            "[0x2] read(3,  <unfinished ...>\n"
        );
        assert_eq!(run(config("!unfinished"), &events).lines().count(), 2);
    }

    #[test]
    fn summary_follows_text_and_not_machine_formats() {
        let events = [
            timed(failed_open_entry(), 10, None),
            timed(failed_open_exit(), 30, Some(10)),
        ];
        let out = run(Format::Summary, &events);
        assert!(out.starts_with("% time     seconds  usecs/call"), "{out}");
        assert!(out.contains("         1         1 openat\n"), "{out}");
        let with_trace = OutputConfig {
            summary: true,
            ..OutputConfig::default()
        };
        let out = run(with_trace, &events);
        assert!(
            out.starts_with("[0x77] openat(") && out.contains("% time"),
            "{out}"
        );
        // jsonl stays jsonl; the table comes back for stderr.
        let mut f = Formatter::new(OutputConfig {
            format: Format::Jsonl,
            summary: true,
            ..OutputConfig::default()
        });
        let mut out = String::new();
        for ev in &events {
            f.event(&ev.as_event(), &mut out);
        }
        let report = f.finish(&mut out).expect("a summary for stderr");
        assert!(
            report.contains("openat") && !out.contains("% time"),
            "{out}"
        );
        assert_eq!(out.lines().count(), 2);
        assert_eq!(f.summary().map(|s| s.unfinished), Some(0));
    }

    #[test]
    fn perfetto_through_the_formatter() {
        let events = [
            timed(read_entry(1), 1000, None),
            timed(read_exit(1), 3000, Some(1000)),
        ];
        let out = run(Format::Perfetto, &events);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let slice = v
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["ph"] == "X")
            .unwrap();
        assert_eq!(slice["name"], "read");
        assert_eq!(slice["dur"].as_f64(), Some(2.0));
        assert_eq!(slice["args"]["args"]["buf"], "\"hi\\n\"");
    }
}
