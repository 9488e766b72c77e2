//! Output lines for decoded events, in three formats:
//! - `paper`: the layout of Fig. 1 of Ivanov, Dovgaluk and Makarov (2018),
//!   raw values only, so traces can be compared with theirs;
//! - `strace`: what strace prints, including `<unfinished ...>` and
//!   `<... name resumed>` when calls of several threads interleave;
//! - `jsonl`: one JSON object per event, the format traces are recorded in
//!   and converted from.

use crate::decode::{Arg, Return};
use osm_compiler::model::Direction;
use std::fmt::Write;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Strace,
    Paper,
    Jsonl,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Strace, Format::Paper, Format::Jsonl];

    pub fn name(self) -> &'static str {
        match self {
            Format::Strace => "strace",
            Format::Paper => "paper",
            Format::Jsonl => "jsonl",
        }
    }

    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Entry,
    Exit,
}

/// A call entering or leaving the kernel, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub vcpu: u32,
    pub thread: u64,
    pub process: u64,
    pub nr: u64,
    pub name: String,
    /// At exit, the entry's arguments with outputs decoded again.
    pub args: Vec<Arg>,
    /// Exit only. `None` at an exit means the call does not return (`exit`)
    /// and is shown as `?`.
    pub ret: Option<Return>,
}

impl Event {
    /// How many leading arguments are known at entry: strace prints those
    /// before blocking and the rest once the call returns.
    fn entry_prefix(&self) -> usize {
        self.args
            .iter()
            .position(|a| a.dir != Direction::In)
            .unwrap_or(self.args.len())
    }
}

/// Turns events into text. The strace format needs state, since a call's
/// line is completed by its exit unless another event comes in between.
#[derive(Clone, Debug, Default)]
pub struct Formatter {
    format: Format,
    /// A strace entry not printed yet, waiting for its exit.
    open: Option<OpenEntry>,
}

#[derive(Clone, Debug)]
struct OpenEntry {
    thread: u64,
    process: u64,
    nr: u64,
    /// `[thread] name(known args` without the closing part.
    head: String,
    /// Whether arguments remain to be shown at exit.
    more: bool,
}

impl Formatter {
    pub fn new(format: Format) -> Self {
        Formatter { format, open: None }
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Appends the lines for `ev` (possibly none yet, for a strace entry).
    pub fn event(&mut self, ev: &Event, out: &mut String) {
        match self.format {
            Format::Paper => paper(ev, out),
            Format::Jsonl => jsonl(ev, out),
            Format::Strace => self.strace(ev, out),
        }
    }

    /// Appends whatever is still held back, at the end of a trace.
    pub fn finish(&mut self, out: &mut String) {
        if let Some(open) = self.open.take() {
            unfinished(&open, out);
        }
    }

    fn strace(&mut self, ev: &Event, out: &mut String) {
        let same_call = |o: &OpenEntry| {
            ev.kind == EventKind::Exit
                && o.thread == ev.thread
                && o.process == ev.process
                && o.nr == ev.nr
        };
        let resumes_open = match self.open.take() {
            Some(open) if same_call(&open) => true,
            Some(open) => {
                unfinished(&open, out);
                false
            }
            None => false,
        };
        let known = ev.entry_prefix();
        if ev.kind == EventKind::Entry {
            let mut head = format!("[{:#x}] {}(", ev.thread, ev.name);
            join_args(&mut head, &ev.args[..known]);
            self.open = Some(OpenEntry {
                thread: ev.thread,
                process: ev.process,
                nr: ev.nr,
                head,
                more: known < ev.args.len(),
            });
            return;
        }
        let _ = write!(out, "[{:#x}] ", ev.thread);
        if resumes_open {
            let _ = write!(out, "{}(", ev.name);
            join_args(out, &ev.args);
        } else {
            let _ = write!(out, "<... {} resumed>", ev.name);
            join_args(out, &ev.args[known..]);
        }
        strace_ret(ev, out);
    }
}

fn join_args(out: &mut String, args: &[Arg]) {
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
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

fn strace_ret(ev: &Event, out: &mut String) {
    match &ev.ret {
        Some(r) => {
            let _ = writeln!(out, ") = {}", r.text);
        }
        None => out.push_str(") = ?\n"),
    }
}

/// Fig. 1 of the paper: the thread, `entr`/`exit`, the number in hex and
/// the name; then raw argument values with the type and name as written
/// (the space before `)` is the paper's); then the raw return value.
pub fn paper(ev: &Event, out: &mut String) {
    let word = match ev.kind {
        EventKind::Entry => "entr",
        EventKind::Exit => "exit",
    };
    let _ = writeln!(out, "{:#x} {word}: {:#x}: {}", ev.thread, ev.nr, ev.name);
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
            let _ = match &ev.ret {
                Some(r) => writeln!(out, "return: {:#x}", r.raw),
                None => writeln!(out, "return: ?"),
            };
        }
    }
}

/// One JSON object on one line. Numbers are unsigned 64-bit integers
/// (exact in Rust, Python and jq 1.7+; JavaScript needs BigInt above 2^53);
/// an unreadable argument's value is null. Exits carry `ret` (null for a
/// call that does not return), `ret_text`, and `error`: the errno's name or
/// null.
pub fn jsonl(ev: &Event, out: &mut String) {
    let kind = match ev.kind {
        EventKind::Entry => "entry",
        EventKind::Exit => "exit",
    };
    let _ = write!(
        out,
        "{{\"event\":\"{kind}\",\"vcpu\":{},\"thread\":{},\"process\":{},\"nr\":{},\"name\":",
        ev.vcpu, ev.thread, ev.process, ev.nr
    );
    json_str(out, &ev.name);
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
        out.push('}');
    }
    out.push(']');
    if ev.kind == EventKind::Exit {
        match &ev.ret {
            Some(r) => {
                let _ = write!(out, ",\"ret\":{},\"ret_text\":", r.raw);
                json_str(out, &r.text);
                out.push_str(",\"error\":");
                match &r.error {
                    Some(e) => json_str(out, &e.name),
                    None => out.push_str("null"),
                }
            }
            None => out.push_str(",\"ret\":null,\"ret_text\":null,\"error\":null"),
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
        }
    }

    fn read_entry(thread: u64) -> Event {
        Event {
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
            ret: None,
        }
    }

    fn read_exit(thread: u64) -> Event {
        let mut ev = read_entry(thread);
        ev.kind = EventKind::Exit;
        ev.args[1].text = "\"hi\\n\"".into();
        ev.ret = Some(Return {
            raw: 3,
            text: "3".into(),
            error: None,
        });
        ev
    }

    fn failed_open_exit() -> Event {
        Event {
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
                text: "-1 ENOENT (No such file or directory)".into(),
                error: Some(ErrorInfo {
                    value: 2,
                    name: "ENOENT".into(),
                    message: "No such file or directory".into(),
                }),
            }),
        }
    }

    fn run(format: Format, events: &[Event]) -> String {
        let mut f = Formatter::new(format);
        let mut out = String::new();
        for ev in events {
            f.event(ev, &mut out);
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

    #[test]
    fn paper_matches_figure_1() {
        let hex = |name: &str, ty: &str, v: u64| arg(name, ty, Direction::In, v, "");
        let entry = Event {
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
            ret: None,
        };
        let exit = Event {
            kind: EventKind::Exit,
            ret: Some(Return {
                raw: 0,
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
        let mut pipe = Event {
            kind: EventKind::Entry,
            vcpu: 0,
            thread: 5,
            process: 1,
            nr: 22,
            name: "pipe".into(),
            args: vec![arg("fds", "ptr", Direction::Out, 0x10, "0x10")],
            ret: None,
        };
        assert_eq!(
            run(Format::Strace, &[pipe.clone()]),
            "[0x5] pipe( <unfinished ...>\n"
        );
        pipe.kind = EventKind::Exit;
        pipe.args[0].text = "[3, 4]".into();
        pipe.ret = Some(Return {
            raw: 0,
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
        f.event(&read_entry(1), &mut out);
        assert_eq!(out, "[earlier]\n");
        f.event(&read_exit(1), &mut out);
        assert_eq!(out, "[earlier]\n[0x1] read(3, \"hi\\n\", 100) = 3\n");
    }

    #[test]
    fn jsonl_events() {
        let out = run(Format::Jsonl, &[read_entry(1), failed_open_exit()]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            r#"{"event":"entry","vcpu":0,"thread":1,"process":4096,"nr":0,"name":"read","args":[{"name":"fd","type":"fd","value":3,"text":"3"},{"name":"buf","type":"buf","value":8192,"text":"0x2000"},{"name":"count","type":"size","value":100,"text":"100"}]}"#
        );
        assert_eq!(
            lines[1],
            r#"{"event":"exit","vcpu":1,"thread":119,"process":4096,"nr":257,"name":"openat","args":[{"name":"dirfd","type":"fd","value":18446744073709551516,"text":"AT_FDCWD"},{"name":"path","type":"cstr","value":4096,"text":"\"/nonexistent\""}],"ret":18446744073709551614,"ret_text":"-1 ENOENT (No such file or directory)","error":"ENOENT"}"#
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
}
