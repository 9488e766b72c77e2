//! The end-of-trace summary, like `strace -c`: per syscall the calls, the
//! errors and the time spent in the kernel, then what did not pair up.
//!
//! It is computed from the event stream alone, so the plugin (at QEMU
//! exit) and the trace tool (from a recorded jsonl trace) print the same
//! table for the same events.

use crate::format::{Event, EventKind};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write;

/// Entries remembered while waiting for their exits; beyond this the
/// oldest counts as unfinished, so a trace full of calls that never return
/// cannot grow the summary without bound.
const OPEN_LIMIT: usize = 4096;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Row {
    /// Entries seen.
    pub calls: u64,
    /// Paired exits with an error.
    pub errors: u64,
    /// Nanoseconds between entry and exit, over the paired exits that had
    /// both times.
    pub total_ns: u64,
}

#[derive(Clone, Debug, Default)]
pub struct Summary {
    rows: HashMap<String, Row>,
    /// With `summary=process`: each guest process's own rows, by pid, with
    /// the command name it last had.
    processes: Option<BTreeMap<i64, ProcessRows>>,
    /// (thread, process, nr, unreadable arguments) of entries waiting.
    open: VecDeque<(u64, u64, u64, u32)>,
    /// Calls that did not return: `= ?` exits, and entries never exited.
    pub unfinished: u64,
    /// Exits without an entry of the same thread and process before them:
    /// a child's first return from fork/clone, execve's return into a new
    /// image, a return after the call changed the thread's identity, or an
    /// exit whose entry is not in the trace.
    pub unpaired_exits: u64,
    /// Arguments whose location or pointed-to memory could not be read.
    pub unreadable: u64,
    finished: bool,
}

/// A process's command name and rows.
type ProcessRows = (String, HashMap<String, Row>);

impl Summary {
    pub fn new() -> Self {
        Self::default()
    }

    /// A summary that also has a table per guest process.
    pub fn per_process() -> Self {
        Summary {
            processes: Some(BTreeMap::new()),
            ..Self::default()
        }
    }

    /// The rows `ev` counts in besides the whole trace's: its process's.
    fn process_rows(&mut self, ev: &Event<'_>) -> Option<&mut HashMap<String, Row>> {
        let task = ev.task.as_ref()?;
        let (comm, rows) = self.processes.as_mut()?.entry(task.pid).or_default();
        if let Some(c) = &task.comm
            && (comm.is_empty() || task.tid == task.pid)
        {
            *comm = c.text().into_owned();
        }
        Some(rows)
    }

    #[inline(never)]
    pub fn record(&mut self, ev: &Event<'_>) {
        match ev.kind {
            EventKind::Entry => {
                count_call(&mut self.rows, ev.name);
                if let Some(rows) = self.process_rows(ev) {
                    count_call(rows, ev.name);
                }
                if self.open.len() >= OPEN_LIMIT
                    && let Some((.., unreadable)) = self.open.pop_front()
                {
                    self.unfinished += 1;
                    self.unreadable += u64::from(unreadable);
                }
                self.open
                    .push_back((ev.thread, ev.process, ev.nr, ev.unreadable));
            }
            EventKind::Signal
            | EventKind::Exited
            | EventKind::Killed { .. }
            | EventKind::Superseded => {}
            EventKind::Exit => {
                // The newest entry of this thread: calls of one thread do
                // not nest.
                let paired = self
                    .open
                    .iter()
                    .rposition(|(t, p, nr, _)| *t == ev.thread && *p == ev.process && *nr == ev.nr)
                    .and_then(|i| self.open.remove(i))
                    .is_some();
                // The exit's arguments include the entry's.
                self.unreadable += u64::from(ev.unreadable);
                if !paired {
                    self.unpaired_exits += 1;
                }
                let Some(ret) = ev.ret else {
                    self.unfinished += 1;
                    return;
                };
                if !paired {
                    return;
                }
                let ns = match (ev.ts, ev.entry_ts) {
                    (Some(ts), Some(entry)) => ts.saturating_sub(entry),
                    _ => 0,
                };
                let failed = ret.error.is_some();
                count_return(&mut self.rows, ev.name, failed, ns);
                if let Some(rows) = self.process_rows(ev) {
                    count_return(rows, ev.name, failed, ns);
                }
            }
        }
    }

    /// Counts entries still waiting as unfinished (once).
    pub fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        for (.., unreadable) in self.open.drain(..) {
            self.unfinished += 1;
            self.unreadable += u64::from(unreadable);
        }
    }

    pub fn row(&self, name: &str) -> Option<&Row> {
        self.rows.get(name)
    }

    /// The table, as `strace -c` prints it: by time spent, then by calls;
    /// errors left blank when there are none. Then the pairing counts, and
    /// with `summary=process` a table per process.
    pub fn render(&mut self, out: &mut String) {
        self.finish();
        render_table(&self.rows, out);
        let _ = writeln!(
            out,
            "unfinished calls: {}, unpaired exits: {}, unreadable arguments: {}",
            self.unfinished, self.unpaired_exits, self.unreadable
        );
        for (pid, (comm, rows)) in self.processes.iter().flatten() {
            let _ = writeln!(out, "\nprocess {pid} ({comm}):");
            render_table(rows, out);
        }
    }
}

fn count_call(rows: &mut HashMap<String, Row>, name: &str) {
    match rows.get_mut(name) {
        Some(row) => row.calls += 1,
        None => {
            rows.insert(
                name.to_string(),
                Row {
                    calls: 1,
                    ..Row::default()
                },
            );
        }
    }
}

fn count_return(rows: &mut HashMap<String, Row>, name: &str, failed: bool, ns: u64) {
    if let Some(row) = rows.get_mut(name) {
        row.errors += u64::from(failed);
        row.total_ns += ns;
    }
}

fn render_table(rows: &HashMap<String, Row>, out: &mut String) {
    {
        let mut rows: Vec<(&String, &Row)> = rows.iter().collect();
        rows.sort_by(|(an, a), (bn, b)| {
            b.total_ns
                .cmp(&a.total_ns)
                .then(b.calls.cmp(&a.calls))
                .then(an.cmp(bn))
        });
        let total_ns: u64 = rows.iter().map(|(_, r)| r.total_ns).sum();
        let total_calls: u64 = rows.iter().map(|(_, r)| r.calls).sum();
        let total_errors: u64 = rows.iter().map(|(_, r)| r.errors).sum();
        let rule = "------ ----------- ----------- --------- --------- ----------------\n";
        out.push_str("% time     seconds  usecs/call     calls    errors syscall\n");
        out.push_str(rule);
        let line = |out: &mut String, pct: f64, ns: u64, calls: u64, errors: u64, name: &str| {
            let errors = if errors == 0 {
                String::new()
            } else {
                errors.to_string()
            };
            let per_call = (ns / 1000).checked_div(calls).unwrap_or(0);
            let _ = writeln!(
                out,
                "{pct:6.2} {:11.6} {per_call:11} {calls:9} {errors:>9} {name}",
                ns as f64 / 1e9
            );
        };
        for (name, row) in &rows {
            let pct = if total_ns == 0 {
                0.0
            } else {
                row.total_ns as f64 * 100.0 / total_ns as f64
            };
            line(out, pct, row.total_ns, row.calls, row.errors, name);
        }
        out.push_str(rule);
        let pct = if total_ns == 0 { 0.0 } else { 100.0 };
        line(out, pct, total_ns, total_calls, total_errors, "total");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{ErrorInfo, Return};
    use crate::format::OwnedEvent;

    fn ev(kind: EventKind, thread: u64, nr: u64, name: &str, ts: u64) -> OwnedEvent {
        OwnedEvent {
            kind,
            thread,
            process: 1,
            nr,
            name: name.into(),
            ts: Some(ts),
            ..OwnedEvent::default()
        }
    }

    fn exit(
        thread: u64,
        nr: u64,
        name: &str,
        entry: u64,
        ts: u64,
        ret: Option<Return>,
    ) -> OwnedEvent {
        OwnedEvent {
            ret,
            entry_ts: Some(entry),
            ..ev(EventKind::Exit, thread, nr, name, ts)
        }
    }

    fn ok(v: u64) -> Option<Return> {
        Some(Return {
            raw: v,
            signed: None,
            text: v.to_string(),
            error: None,
        })
    }

    fn failed() -> Option<Return> {
        Some(Return {
            raw: u64::MAX - 1,
            signed: Some(-2),
            text: "-1 ENOENT (No such file or directory)".into(),
            error: Some(ErrorInfo {
                value: 2,
                name: "ENOENT".into(),
                message: "No such file or directory".into(),
            }),
        })
    }

    fn feed(s: &mut Summary, events: &[OwnedEvent]) {
        for e in events {
            s.record(&e.as_event());
        }
    }

    #[test]
    fn counts_calls_errors_and_time() {
        let mut s = Summary::new();
        feed(
            &mut s,
            &[
                ev(EventKind::Entry, 1, 257, "openat", 1000),
                exit(1, 257, "openat", 1000, 4000, failed()),
                ev(EventKind::Entry, 1, 257, "openat", 5000),
                exit(1, 257, "openat", 5000, 6000, ok(3)),
                ev(EventKind::Entry, 1, 1, "write", 7000),
                // Another thread's call in between does not disturb pairing.
                ev(EventKind::Entry, 2, 0, "read", 7500),
                exit(1, 1, "write", 7000, 15000, ok(5)),
                ev(EventKind::Entry, 1, 231, "exit_group", 16000),
                exit(1, 231, "exit_group", 16000, 16000, None),
                // A child's return: no entry of its own.
                exit(3, 56, "clone", 100, 20000, ok(0)),
            ],
        );
        let openat = s.row("openat").unwrap();
        assert_eq!((openat.calls, openat.errors, openat.total_ns), (2, 1, 4000));
        assert_eq!(s.row("write").unwrap().total_ns, 8000);
        assert_eq!(s.row("clone"), None);
        let mut out = String::new();
        s.render(&mut out);
        // read never returned; exit_group does not either.
        assert_eq!((s.unfinished, s.unpaired_exits), (2, 1));
        let expected = "\
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 66.67    0.000008           8         1           write
 33.33    0.000004           2         2         1 openat
  0.00    0.000000           0         1           exit_group
  0.00    0.000000           0         1           read
------ ----------- ----------- --------- --------- ----------------
100.00    0.000012           2         5         1 total
unfinished calls: 2, unpaired exits: 1, unreadable arguments: 0
";
        assert_eq!(out, expected);
        // Rendering twice does not count the waiting entries twice.
        let mut again = String::new();
        s.render(&mut again);
        assert_eq!(again, expected);
    }

    #[test]
    fn unreadable_arguments_and_bounded_memory() {
        let mut s = Summary::new();
        let mut entry = ev(EventKind::Entry, 1, 0, "read", 0);
        entry.unreadable = 1;
        let mut done = exit(1, 0, "read", 0, 1, ok(0));
        done.unreadable = 2;
        feed(&mut s, &[entry.clone(), done]);
        assert_eq!(s.unreadable, 2);
        for i in 0..(OPEN_LIMIT as u64 + 10) {
            let mut e = ev(EventKind::Entry, 100 + i, 0, "read", 0);
            e.unreadable = 1;
            s.record(&e.as_event());
        }
        assert_eq!(s.open.len(), OPEN_LIMIT);
        assert_eq!(s.unfinished, 10);
        s.finish();
        assert_eq!(s.unfinished, OPEN_LIMIT as u64 + 10);
        assert_eq!(s.unreadable, 2 + OPEN_LIMIT as u64 + 10);
        let mut empty = Summary::new();
        let mut out = String::new();
        empty.render(&mut out);
        assert!(
            out.contains("  0.00    0.000000           0         0           total"),
            "{out}"
        );
    }
}
