//! A timeline in the Chrome trace-event JSON format, which Perfetto
//! (ui.perfetto.dev) and chrome://tracing open: one slice (`"ph":"X"`) per
//! call on its thread's track, threads grouped by process, with metadata
//! events (`"ph":"M"`) naming them.
//!
//! Both viewers keep pid and tid as 32-bit numbers and treat a tid as
//! unique across processes, while a model's identities are 64-bit values
//! (page-table bases, TLS pointers) that may repeat across processes (a
//! TLS pointer of 0 before a thread sets it up). So each process and each
//! (process, thread) pair gets a small number of its own, from one counter
//! so that no tid equals a pid, and the metadata names them by identity:
//! `process 0x1234000`, `thread 0x4d5000`.
//!
//! With the guest's names for tasks, tracks are the guest's own processes
//! and threads: pid and tid as the guest numbers them, named `comm (pid)`
//! and `comm (tid)` (named again when an exec or a rename changes the
//! command name); the small numbers of unnamed tracks then start above any
//! pid Linux gives out.
//!
//! The file is the JSON array format, written as events come: `[`, events
//! separated by commas, `]` at the end. Chrome accepts the array without
//! its `]`, so a trace cut short by a killed QEMU still opens.

use crate::format::{Event, EventKind};
use crate::task::{Comm, TaskNames};
use std::collections::{HashMap, VecDeque};
use std::fmt::Write;

/// Calls waiting for their exits; beyond this the oldest is written as an
/// unfinished slice, so memory stays bounded.
const OPEN_LIMIT: usize = 4096;

#[derive(Clone, Debug)]
struct OpenSlice {
    ts: u64,
    nr: u64,
    thread: u64,
    process: u64,
    task: Option<TaskNames>,
    name: String,
    /// The `"args":{...}` object of the entry, for a call that never exits.
    args: String,
}

#[derive(Clone, Debug, Default)]
pub struct PerfettoWriter {
    started: bool,
    /// Timestamps are written relative to the first event, in µs.
    origin: Option<u64>,
    last_ts: u64,
    /// Events without a time get consecutive ones, so they still order.
    tick: u64,
    next_id: u32,
    processes: HashMap<u64, u32>,
    threads: HashMap<(u64, u64), u32>,
    /// The names tracks of the guest's processes and threads were given.
    named_processes: HashMap<i64, Comm>,
    named_threads: HashMap<i64, Comm>,
    open: VecDeque<OpenSlice>,
}

/// Linux's largest pid (`PID_MAX_LIMIT`): numbers of unnamed tracks start
/// above it in a trace that has named ones.
const PID_LIMIT: u32 = 4 << 20;

impl PerfettoWriter {
    pub fn new() -> Self {
        Self::default()
    }

    fn begin(&mut self, out: &mut String) {
        if !self.started {
            self.started = true;
            out.push_str("[\n");
        } else {
            out.push_str(",\n");
        }
    }

    fn time(&mut self, ts: Option<u64>) -> u64 {
        let ts = ts.unwrap_or_else(|| {
            self.tick += 1000;
            self.tick
        });
        self.last_ts = self.last_ts.max(ts);
        self.origin.get_or_insert(ts);
        ts
    }

    fn micros(&self, ts: u64) -> String {
        let rel = ts.saturating_sub(self.origin.unwrap_or(ts));
        format!("{}.{:03}", rel / 1000, rel % 1000)
    }

    /// The pid and tid of a call, writing metadata the first time a
    /// process or thread appears (or, named by the guest, is renamed).
    fn ids(
        &mut self,
        thread: u64,
        process: u64,
        task: Option<&TaskNames>,
        out: &mut String,
    ) -> (u32, u32) {
        if let Some(t) = task {
            return self.named_ids(t, out);
        }
        let pid = match self.processes.get(&process) {
            Some(pid) => *pid,
            None => {
                self.next_id = self.next_id.max(PID_LIMIT) + 1;
                let pid = self.next_id;
                self.processes.insert(process, pid);
                self.begin(out);
                let _ = write!(
                    out,
                    "{{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":{pid},\"args\":{{\"name\":\"process {process:#x}\"}}}}"
                );
                pid
            }
        };
        let tid = match self.threads.get(&(process, thread)) {
            Some(tid) => *tid,
            None => {
                self.next_id = self.next_id.max(PID_LIMIT) + 1;
                let tid = self.next_id;
                self.threads.insert((process, thread), tid);
                self.begin(out);
                let _ = write!(
                    out,
                    "{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":{pid},\"tid\":{tid},\"args\":{{\"name\":\"thread {thread:#x}\"}}}}"
                );
                tid
            }
        };
        (pid, tid)
    }

    fn named_ids(&mut self, t: &TaskNames, out: &mut String) -> (u32, u32) {
        let (pid, tid) = (t.pid as u32, t.tid as u32);
        let comm = t.comm.unwrap_or(Comm::EMPTY);
        // A process is named after its main thread once that calls.
        let process_named = self.named_processes.get(&t.pid);
        if process_named.is_none() || (t.tid == t.pid && process_named != Some(&comm)) {
            self.named_processes.insert(t.pid, comm);
            self.begin(out);
            out.push_str("{\"name\":\"process_name\",\"ph\":\"M\",");
            let _ = write!(out, "\"pid\":{pid},\"args\":{{\"name\":");
            json_text(out, &format!("{} ({})", comm.text(), t.pid));
            out.push_str("}}");
        }
        if self.named_threads.get(&t.tid) != Some(&comm) {
            self.named_threads.insert(t.tid, comm);
            self.begin(out);
            out.push_str("{\"name\":\"thread_name\",\"ph\":\"M\",");
            let _ = write!(out, "\"pid\":{pid},\"tid\":{tid},\"args\":{{\"name\":");
            json_text(out, &format!("{} ({})", comm.text(), t.tid));
            out.push_str("}}");
        }
        (pid, tid)
    }

    #[inline(never)]
    pub fn event(&mut self, ev: &Event<'_>, out: &mut String) {
        let ts = self.time(ev.ts);
        match ev.kind {
            EventKind::Entry => {
                if self.open.len() >= OPEN_LIMIT
                    && let Some(old) = self.open.pop_front()
                {
                    self.unfinished(old, out);
                }
                let mut args = String::new();
                args_object(&mut args, ev);
                self.open.push_back(OpenSlice {
                    ts,
                    nr: ev.nr,
                    thread: ev.thread,
                    process: ev.process,
                    task: ev.task,
                    name: ev.name.to_string(),
                    args,
                });
            }
            // Lines about a task, not slices.
            EventKind::Signal
            | EventKind::Exited
            | EventKind::Killed { .. }
            | EventKind::Superseded => {}
            EventKind::Exit => {
                // The entry by its time when known (it stays right when
                // the thread's identity changed during the call), else the
                // newest entry of this thread.
                let found = match ev.entry_ts {
                    Some(entry) => self
                        .open
                        .iter()
                        .rposition(|o| o.ts == entry && o.nr == ev.nr),
                    None => self.open.iter().rposition(|o| {
                        let same = match (&o.task, &ev.task) {
                            (Some(a), Some(b)) => a.tid == b.tid,
                            _ => o.thread == ev.thread && o.process == ev.process,
                        };
                        same && o.nr == ev.nr
                    }),
                };
                let start = match found.and_then(|i| self.open.remove(i)) {
                    Some(open) => open.ts,
                    None => ev.entry_ts.unwrap_or(ts),
                };
                let mut args = String::new();
                args_object(&mut args, ev);
                let (pid, tid) = self.ids(ev.thread, ev.process, ev.task.as_ref(), out);
                let begin = self.micros(start);
                let dur = ts.saturating_sub(start);
                self.begin(out);
                out.push_str("{\"name\":");
                json_text(out, ev.name);
                let _ = write!(
                    out,
                    ",\"cat\":\"syscall\",\"ph\":\"X\",\"ts\":{begin},\"dur\":{}.{:03},\"pid\":{pid},\"tid\":{tid},\"args\":{args}}}",
                    dur / 1000,
                    dur % 1000
                );
            }
        }
    }

    /// A call that has not exited, from its entry to the last time seen.
    fn unfinished(&mut self, open: OpenSlice, out: &mut String) {
        let (pid, tid) = self.ids(open.thread, open.process, open.task.as_ref(), out);
        let begin = self.micros(open.ts);
        let dur = self.last_ts.saturating_sub(open.ts);
        self.begin(out);
        out.push_str("{\"name\":");
        json_text(out, &open.name);
        let _ = write!(
            out,
            ",\"cat\":\"syscall\",\"ph\":\"X\",\"ts\":{begin},\"dur\":{}.{:03},\"pid\":{pid},\"tid\":{tid},\"args\":{}}}",
            dur / 1000,
            dur % 1000,
            open.args
        );
    }

    /// Calls still open become slices to the end; then the closing `]`.
    pub fn finish(&mut self, out: &mut String) {
        while let Some(open) = self.open.pop_front() {
            self.unfinished(open, out);
        }
        if !self.started {
            out.push('[');
        }
        out.push_str("\n]\n");
        self.started = false;
    }
}

/// `{"nr":..,"thread":"0x..","process":"0x..","args":{name:text,...},
/// "return":..,"error":..}`; a call that does not return has `"return":"?"`,
/// and one still in the kernel at the end `"unfinished":true` too.
fn args_object(out: &mut String, ev: &Event<'_>) {
    let _ = write!(
        out,
        "{{\"nr\":{},\"thread\":\"{:#x}\",\"process\":\"{:#x}\",\"args\":{{",
        ev.nr, ev.thread, ev.process
    );
    let mut first = true;
    for arg in ev.args.iter().filter(|a| !a.hidden) {
        if !first {
            out.push(',');
        }
        first = false;
        json_text(out, &arg.name);
        out.push(':');
        json_text(out, &arg.text);
    }
    out.push('}');
    if ev.kind == EventKind::Exit {
        out.push_str(",\"return\":");
        match ev.ret {
            Some(r) => {
                json_text(out, &r.text);
                if let Some(e) = &r.error {
                    out.push_str(",\"error\":");
                    json_text(out, &e.name);
                }
            }
            None => out.push_str("\"?\""),
        }
    } else {
        // Used only for a call that never exits within the trace.
        out.push_str(",\"return\":\"?\",\"unfinished\":true");
    }
    out.push('}');
}

/// A JSON string without `\u` escapes, which some Perfetto versions
/// refuse: control characters (which decoded text never holds; names
/// might) become `?`.
fn json_text(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if u32::from(c) < 0x20 => out.push('?'),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{Arg, Return};
    use crate::format::OwnedEvent;
    use serde_json::Value;

    fn call(thread: u64, process: u64, nr: u64, name: &str, ts: u64) -> OwnedEvent {
        OwnedEvent {
            kind: EventKind::Entry,
            thread,
            process,
            nr,
            name: name.into(),
            ts: Some(ts),
            args: vec![Arg {
                name: "fd".into(),
                text: "3".into(),
                raw: Some(3),
                ..Arg::default()
            }],
            ..OwnedEvent::default()
        }
    }

    fn exit_of(entry: &OwnedEvent, ts: u64, ret: &str) -> OwnedEvent {
        OwnedEvent {
            kind: EventKind::Exit,
            ts: Some(ts),
            entry_ts: entry.ts,
            ret: Some(Return {
                raw: 0,
                signed: None,
                text: ret.into(),
                error: None,
            }),
            ..entry.clone()
        }
    }

    fn run(events: &[OwnedEvent]) -> Value {
        let mut w = PerfettoWriter::new();
        let mut out = String::new();
        for e in events {
            w.event(&e.as_event(), &mut out);
        }
        w.finish(&mut out);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}:\n{out}"))
    }

    #[test]
    fn slices_tracks_and_names() {
        let read = call(0x10, 0x1000, 0, "read", 1_000_000);
        let write = call(0x20, 0x1000, 1, "write", 1_500_000);
        let other = call(0x10, 0x2000, 1, "write", 1_600_000);
        let events = run(&[
            read.clone(),
            write.clone(),
            exit_of(&write, 1_700_500, "1"),
            other.clone(),
            exit_of(&read, 3_000_000, "5"),
        ]);
        let list = events.as_array().unwrap();
        let slices: Vec<&Value> = list.iter().filter(|e| e["ph"] == "X").collect();
        let meta: Vec<&Value> = list.iter().filter(|e| e["ph"] == "M").collect();
        assert_eq!(slices.len(), 3);
        // Two processes, three threads (0x10 is in both processes).
        let names: Vec<&str> = meta
            .iter()
            .map(|m| m["args"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "process 0x1000",
                "thread 0x20",
                "thread 0x10",
                "process 0x2000",
                "thread 0x10"
            ]
        );
        let write_slice = slices[0];
        assert_eq!(write_slice["name"], "write");
        assert_eq!(write_slice["ts"].as_f64(), Some(500.0));
        assert_eq!(write_slice["dur"].as_f64(), Some(200.5));
        assert_eq!(write_slice["args"]["return"], "1");
        assert_eq!(write_slice["args"]["args"]["fd"], "3");
        let read_slice = slices[1];
        assert_eq!(
            (read_slice["ts"].as_f64(), read_slice["dur"].as_f64()),
            (Some(0.0), Some(2000.0))
        );
        // The same thread identity in two processes: two tracks.
        assert_ne!(read_slice["tid"], slices[2]["tid"]);
        assert_ne!(read_slice["pid"], slices[2]["pid"]);
        // The unexited write runs to the last time seen.
        assert_eq!(slices[2]["args"]["unfinished"], true);
        assert_eq!(slices[2]["dur"].as_f64(), Some(1400.0));
        // No tid is also a pid.
        let pids: Vec<&Value> = list.iter().map(|e| &e["pid"]).collect();
        for e in list.iter().filter(|e| e.get("tid").is_some()) {
            assert!(!pids.contains(&&e["tid"]), "{e}");
        }
    }

    #[test]
    fn empty_and_awkward_names() {
        assert_eq!(run(&[]), serde_json::json!([]));
        let mut odd = call(1, 1, 9, "we\"ird\u{1}", 5);
        odd.args[0].text = "\"a\\nb\"".into();
        let v = run(&[odd.clone(), exit_of(&odd, 6, "0")]);
        assert_eq!(v[2]["name"], "we\"ird?");
        assert_eq!(v[2]["args"]["args"]["fd"], "\"a\\nb\"");
        // Events without times still get ordered slices.
        let mut untimed = call(1, 1, 0, "read", 0);
        untimed.ts = None;
        let mut exit = exit_of(&untimed, 0, "0");
        exit.ts = None;
        exit.entry_ts = None;
        let v = run(&[untimed, exit]);
        assert_eq!(v[2]["dur"].as_f64(), Some(1.0));
    }
}
