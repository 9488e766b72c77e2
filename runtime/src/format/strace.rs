//! strace's text: a line per call, or `<unfinished ...>` and
//! `<... name resumed>` when calls of several threads interleave, with
//! `-ttt` timestamps and `-T` durations when asked for.

use super::{Event, EventKind, Placed, Preparer, Timestamps};
use crate::decode::{Arg, push_decimal_padded, push_hex, written_back};
use std::fmt::Write;

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
pub(super) struct StraceWriter {
    /// An entry not printed yet, waiting for its exit.
    open: Option<OpenEntry>,
    /// The last printed entry's line buffer, kept for the next entry: one
    /// allocation for the whole trace instead of one per call.
    spare: String,
    timestamps: Timestamps,
    durations: bool,
    column: ThreadColumn,
}

/// `[pid  1234] ` with the guest's thread id as `strace -f` prints it, or
/// `[thread] ` with the model's thread identity, and with timestamps,
/// `seconds.micros ` like strace -ttt (virtual time: the instruction
/// count).
fn line_start(
    out: &mut String,
    column: Option<&mut ThreadColumn>,
    thread: u64,
    tid: Option<i64>,
    ts: Option<u64>,
    timestamps: Timestamps,
) {
    match column {
        Some(column) => column.push(out, thread, tid),
        None => thread_column(out, thread, tid),
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

fn thread_column(out: &mut String, thread: u64, tid: Option<i64>) {
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
}

/// A writer's last thread column, kept for the next line of the same
/// thread: consecutive lines are mostly one thread's, and its number is
/// often sixteen hex digits (a kernel address).
#[derive(Clone, Debug, Default)]
pub(super) struct ThreadColumn {
    of: Option<(u64, Option<i64>)>,
    text: String,
}

impl ThreadColumn {
    fn push(&mut self, out: &mut String, thread: u64, tid: Option<i64>) {
        if self.of != Some((thread, tid)) {
            self.text.clear();
            thread_column(&mut self.text, thread, tid);
            self.of = Some((thread, tid));
        }
        out.push_str(&self.text);
    }
}

/// What [`StraceWriter::start`] leaves to write.
enum Start {
    /// An entry: its line's start goes into this buffer, which then
    /// becomes the open entry ([`StraceWriter::open_entry`]).
    Entry(String),
    /// An exit: the rest of its line goes into the output, after its
    /// entry's line or a `<... NAME resumed>`.
    Exit,
}

impl StraceWriter {
    pub(super) fn new(timestamps: Timestamps, durations: bool) -> Self {
        StraceWriter {
            open: None,
            spare: String::new(),
            timestamps,
            durations,
            column: ThreadColumn::default(),
        }
    }

    /// The [`Preparer`] that makes this writer's text.
    pub(super) fn preparer(&self) -> Preparer {
        Preparer::Strace {
            timestamps: self.timestamps,
            durations: self.durations,
        }
    }

    /// Formats an event whole, straight into the output or the entry's
    /// buffer (one copy less than preparing it first).
    pub(super) fn event(&mut self, ev: &Event<'_>, out: &mut String) {
        let placed = Placed::of(ev);
        match self.start(&placed, out) {
            Start::Entry(mut head) => {
                strace_prepare(
                    ev,
                    &mut head,
                    Some(&mut self.column),
                    self.timestamps,
                    self.durations,
                );
                self.open_entry(&placed, head);
            }
            Start::Exit => strace_prepare(
                ev,
                out,
                Some(&mut self.column),
                self.timestamps,
                self.durations,
            ),
        }
    }

    /// Places an event whose own text [`strace_prepare`] made.
    pub(super) fn place(&mut self, ev: &Placed<'_>, prepared: &str, out: &mut String) {
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
            line_start(
                out,
                Some(&mut self.column),
                ev.thread,
                ev.tid,
                ev.ts,
                self.timestamps,
            );
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

    pub(super) fn finish(&mut self, out: &mut String) {
        if let Some(open) = self.open.take() {
            unfinished(&open, out);
        }
    }
}

/// Appends the text of a strace line that depends on `ev` alone: for an
/// entry, the line's start up to its known arguments; for an exit, the
/// arguments shown at exit and the return. How the two join (one line, or
/// `<unfinished ...>` and `<... resumed>`) is [`StraceWriter::start`]'s.
pub(super) fn strace_prepare(
    ev: &Event<'_>,
    text: &mut String,
    column: Option<&mut ThreadColumn>,
    timestamps: Timestamps,
    durations: bool,
) {
    if ev.kind.is_notice() || ev.kind == EventKind::Entry {
        let tid = ev.task.map(|t| t.tid);
        line_start(text, column, ev.thread, tid, ev.ts, timestamps);
    }
    if ev.kind.is_notice() {
        return notice(ev, text);
    }
    let known = ev.entry_prefix();
    if ev.kind == EventKind::Entry {
        text.push_str(ev.name);
        text.push('(');
        join_args(text, &ev.args[..known]);
        return;
    }
    if let Some(updated) = ev.updated_at_entry_end(known) {
        text.push_str(written_back(&updated.text));
        if ev.args[known..].iter().any(|a| !a.hidden) {
            text.push_str(", ");
        }
    }
    // A call whose process ended first has no outputs: strace's
    // `read(3,  <unfinished ...>) = ?`.
    if ev.process_ended && ev.args[known..].iter().any(|a| !a.hidden) {
        text.push_str(" <unfinished ...>) = ?\n");
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
/// signal without the frame's siginfo shows its number alone), `+++
/// exited with 0 +++` and the others.
pub(super) fn notice(ev: &Event<'_>, text: &mut String) {
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
        EventKind::Killed { core_dumped } => {
            text.push_str("+++ killed by ");
            text.push_str(ev.name);
            if core_dumped {
                text.push_str(" (core dumped)");
            }
            text.push_str(" +++\n");
        }
        EventKind::Superseded => {
            let _ = writeln!(text, "+++ superseded by execve in pid {} +++", ev.nr);
        }
        _ => {
            let _ = writeln!(text, "+++ exited with {} +++", ev.nr as i64);
        }
    }
}

/// Visible arguments, comma-separated. Inline: at the exit of most calls
/// (every argument shown at entry) there are none to join.
#[inline]
fn join_args(out: &mut String, args: &[Arg]) {
    let mut first = true;
    for a in args.iter().filter(|a| !a.hidden) {
        if !first {
            out.push_str(", ");
        }
        first = false;
        if a.named {
            out.push_str(&a.name);
            out.push('=');
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Return;
    use crate::format::fixtures::{
        arg, failed_open_exit, read_entry, read_exit, run, run_prepared, timed,
    };
    use crate::format::{Format, Formatter, OutputConfig, OwnedEvent};
    use osm_model::Direction;

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

    /// The thread column is kept for the next line of the same thread:
    /// a line of another task, or of the same identity under another
    /// guest thread id, gets its own.
    #[test]
    fn strace_thread_column_follows_each_line() {
        let named = |thread, tid| {
            let mut ev = read_entry(thread);
            ev.task = Some(crate::task::TaskNames {
                tid,
                pid: tid,
                ppid: None,
                comm: None,
            });
            let mut exit = read_exit(thread);
            exit.task = ev.task;
            [ev, exit]
        };
        let events: Vec<OwnedEvent> = [
            named(1, 10),
            named(1, 10),
            named(1, 11),
            [read_entry(1), read_exit(1)],
            [
                read_entry(0xffff_8880_0123_4560),
                read_exit(0xffff_8880_0123_4560),
            ],
            [read_entry(1), read_exit(1)],
        ]
        .into_iter()
        .flatten()
        .collect();
        let columns: Vec<String> = run(Format::Strace, &events)
            .lines()
            .map(|l| l[..l.find("] ").expect("a thread column") + 1].to_string())
            .collect();
        assert_eq!(
            columns,
            [
                "[pid    10]",
                "[pid    10]",
                "[pid    11]",
                "[0x1]",
                "[0xffff888001234560]",
                "[0x1]"
            ]
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

    /// A buffer on a page the program had not touched is unreadable at
    /// entry and read at exit: it is shown with the exit's part of the
    /// line, as an output is, also after a `resumed`.
    #[test]
    fn strace_shows_an_input_the_exit_read_with_the_exit() {
        let mut entry = read_entry(2);
        entry.name = "write".into();
        entry.nr = 1;
        entry.args[1].dir = Direction::In;
        entry.args[1].text = "0x4000".into();
        entry.args[1].unreadable = true;
        let mut exit = entry.clone();
        exit.kind = EventKind::Exit;
        exit.args[1].text = "\"x\"".into();
        exit.args[1].unreadable = false;
        exit.args[1].reread = true;
        exit.ret = Some(Return {
            raw: 1,
            signed: Some(1),
            text: "1".into(),
            error: None,
        });
        let runs: [fn(OutputConfig, &[OwnedEvent]) -> String; 2] = [run, run_prepared];
        for run in runs {
            assert_eq!(
                run(Format::Strace.into(), &[entry.clone(), exit.clone()]),
                "[0x2] write(3, \"x\", 100) = 1\n"
            );
            assert_eq!(
                run(
                    Format::Strace.into(),
                    &[entry.clone(), read_entry(1), exit.clone(), read_exit(1)]
                ),
                "[0x2] write(3,  <unfinished ...>\n\
                 [0x1] read(3,  <unfinished ...>\n\
                 [0x2] <... write resumed>\"x\", 100) = 1\n\
                 [0x1] <... read resumed>\"hi\\n\", 100) = 3\n"
            );
        }
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
        // A call whose process ended first shows no outputs, on its
        // line or resumed, as strace shows it.
        let mut killed = read_exit(1);
        killed.ret = None;
        killed.process_ended = true;
        let out = run(Format::Strace, &[read_entry(1), killed.clone()]);
        assert_eq!(out, "[0x1] read(3,  <unfinished ...>) = ?\n");
        let out = run(
            Format::Strace,
            &[read_entry(1), write_entry.clone(), killed],
        );
        assert_eq!(
            out,
            "[0x1] read(3,  <unfinished ...>\n\
             [0x2] write(3, \"x\", 100 <unfinished ...>\n\
             [0x1] <... read resumed> <unfinished ...>) = ?\n"
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
}
