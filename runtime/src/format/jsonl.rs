//! One JSON object per event: the format traces are recorded in and
//! converted from (`cargo xtask trace-view`).

use super::{Event, EventKind};
use crate::decode::{Arg, push_decimal, push_decimal_padded, push_hex_byte};
use osm_model::{Direction, Model, Name};
use std::fmt::Write;

/// What a jsonl event carries besides its call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct JsonlStyle {
    /// `ts` on every event.
    pub ts: bool,
    /// `dur` on exits.
    pub dur: bool,
    /// `jsonl=lean`: a call's event names its declaration (`decl`, in the
    /// trace's first line, [`declarations`]) instead of repeating its
    /// classes and its arguments' names, types and directions.
    pub lean: bool,
}

/// The version of the `declarations` line; a reader refuses others.
pub const DECLARATIONS_VERSION: u64 = 1;

/// One JSON object on one line, with its times ([`jsonl_with`]).
pub fn jsonl(ev: &Event<'_>, out: &mut String) {
    let style = JsonlStyle {
        ts: true,
        dur: true,
        lean: false,
    };
    jsonl_with(ev, out, style);
}

/// Each table's first declaration number in a lean trace: the model's
/// calls are numbered across its tables, in order.
pub fn decl_bases(model: &Model) -> Vec<u32> {
    model
        .tables
        .iter()
        .scan(0u32, |next, t| {
            let base = *next;
            *next += t.syscalls.len() as u32;
            Some(base)
        })
        .collect()
}

/// The first line of a lean trace: every call of the model's tables, in
/// table order, numbered from 0 (an event's `decl`), with its table,
/// number, name, classes, whether strace shows it `named`, and its
/// arguments' names, types and directions (`dir` for `out` and `inout`
/// only), one per parameter, alternatives (`|`) included.
pub fn declarations(model: &Model, out: &mut String) {
    let _ = write!(
        out,
        "{{\"event\":\"declarations\",\"version\":{DECLARATIONS_VERSION},\"model\":"
    );
    json_str(out, &model.name);
    out.push_str(",\"calls\":[");
    let calls = model
        .tables
        .iter()
        .flat_map(|t| t.syscalls.iter().map(move |s| (t, s)));
    for (i, (table, call)) in calls.enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{{\"decl\":{i},\"table\":");
        json_str(out, &table.name);
        out.push_str(",\"nr\":");
        push_decimal(out, call.number);
        out.push_str(",\"name\":");
        json_str(out, &call.name);
        push_classes(out, &call.classes);
        if call.named {
            out.push_str(",\"named\":true");
        }
        out.push_str(",\"args\":[");
        for (j, p) in call.args.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            open_arg(out, p.name, p.type_name);
            push_dir(out, p.dir);
            out.push('}');
        }
        out.push_str("]}");
    }
    out.push_str("]}\n");
}

/// An argument's object, open after its name and type.
fn open_arg(out: &mut String, name: Name, type_name: Name) {
    out.push_str("{\"name\":");
    out.push_str(name.json());
    out.push_str(",\"type\":");
    out.push_str(type_name.json());
}

/// `,"classes":[...]` when there are any.
fn push_classes(out: &mut String, classes: &[String]) {
    if classes.is_empty() {
        return;
    }
    out.push_str(",\"classes\":[");
    for (i, c) in classes.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_str(out, c);
    }
    out.push(']');
}

/// `,"dir":...` for the directions other than `in`: which arguments
/// strace shows before a call blocks, so a recording converts to the
/// same lines.
fn push_dir(out: &mut String, dir: Direction) {
    match dir {
        Direction::In => {}
        Direction::Out => out.push_str(",\"dir\":\"out\""),
        Direction::InOut => out.push_str(",\"dir\":\"inout\""),
    }
}

/// One JSON object on one line. Numbers are unsigned 64-bit integers
/// (exact in Rust, Python and jq 1.7+; JavaScript needs BigInt above 2^53)
/// but `ret`, which is signed where the declared return type is or the
/// call failed, with the register's bits in `ret_raw` when they differ;
/// an unreadable argument's value is null; `dir` appears on arguments only
/// for `out` and `inout`, `hidden`, `unreadable`, `reread` (an input
/// unreadable at entry that the exit read), `updated` (a structure whose
/// exit text adds ` => ` and what the kernel wrote back) and `named`
/// (shown as `NAME=VALUE` in strace's format) only when true; the ways to
/// show a register that a call did not take are left out;
/// `classes` when the call has any. With
/// `with_ts`, `ts` is the event's time in nanoseconds. Exits carry `ret`
/// (null for a call that does not return, with `process_ended` when its
/// process ended first: killed, or another thread's exit_group),
/// `ret_text`, `error` (the errno's name or null), `errno` with it,
/// `entry_thread` and `entry_process`
/// when the call returned as another thread or process than it entered
/// as, and with `with_dur`, `dur`, the nanoseconds since the entry. A
/// `killed` event (a process killed by the signal `name`, number `nr`)
/// carries `core_dumped`.
///
/// In the lean style, a call's entry or exit that has a declaration
/// carries `decl` and no `classes`, and its `args` hold one item per
/// declared parameter: `[value, text]`, with a third item, an object of
/// the flags that are true, when any is; `null` for a way to show a
/// register that was not taken.
#[inline(never)]
pub fn jsonl_with(ev: &Event<'_>, out: &mut String, style: JsonlStyle) {
    let (with_ts, with_dur) = (style.ts, style.dur);
    let decl = ev.decl.filter(|_| style.lean);
    // A signal's `args` are its siginfo's fields; a process's end says
    // its status in `nr`, as `status` too.
    let kind = match ev.kind {
        EventKind::Entry => "entry",
        EventKind::Exit => "exit",
        EventKind::Signal => "signal",
        EventKind::Exited => "exited",
        EventKind::Killed { .. } => "killed",
        EventKind::Superseded => "superseded",
    };
    out.push_str("{\"event\":\"");
    out.push_str(kind);
    out.push_str("\",\"vcpu\":");
    push_decimal(out, u64::from(ev.vcpu));
    push_identity(out, ev.thread, ev.process);
    out.push_str(",\"nr\":");
    push_decimal(out, ev.nr);
    if let Some(decl) = decl {
        out.push_str(",\"decl\":");
        push_decimal(out, u64::from(decl));
    }
    out.push_str(",\"name\":");
    json_str(out, ev.name);
    if let Some(t) = &ev.task {
        out.push_str(",\"pid\":");
        push_signed(out, t.pid);
        out.push_str(",\"tid\":");
        push_signed(out, t.tid);
        if let Some(ppid) = t.ppid {
            out.push_str(",\"ppid\":");
            push_signed(out, ppid);
        }
        if let Some(comm) = &t.comm {
            out.push_str(",\"comm\":");
            json_str(out, &comm.text());
        }
    }
    if decl.is_none() {
        push_classes(out, ev.classes);
    }
    if with_ts && let Some(ts) = ev.ts {
        out.push_str(",\"ts\":");
        push_decimal(out, ts);
    }
    out.push_str(",\"args\":[");
    match decl {
        Some(_) => lean_args(out, ev.args),
        None => full_args(out, ev.args),
    }
    out.push(']');
    if let EventKind::Killed { core_dumped } = ev.kind {
        out.push_str(if core_dumped {
            ",\"core_dumped\":true"
        } else {
            ",\"core_dumped\":false"
        });
    }
    if ev.kind == EventKind::Exited {
        out.push_str(",\"status\":");
        push_signed(out, ev.nr as i64);
    }
    if ev.kind == EventKind::Exit {
        match ev.ret {
            Some(r) => {
                match r.signed {
                    // The register's bits beside a value that does not
                    // show them (negative, or a narrower type).
                    Some(v) if v < 0 || v as u64 != r.raw => {
                        out.push_str(",\"ret\":");
                        push_signed(out, v);
                        out.push_str(",\"ret_raw\":");
                        push_decimal(out, r.raw);
                    }
                    _ => {
                        out.push_str(",\"ret\":");
                        push_decimal(out, r.raw);
                    }
                }
                out.push_str(",\"ret_text\":");
                json_str(out, &r.text);
                out.push_str(",\"error\":");
                match &r.error {
                    Some(e) => {
                        json_str(out, &e.name);
                        out.push_str(",\"errno\":");
                        push_decimal(out, e.value);
                    }
                    None => out.push_str("null"),
                }
            }
            None if ev.process_ended => out
                .push_str(",\"ret\":null,\"ret_text\":null,\"error\":null,\"process_ended\":true"),
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
            out.push_str(",\"dur\":");
            push_decimal(out, ts.saturating_sub(entry));
        }
    }
    out.push_str("}\n");
}

/// A full event's arguments: an object each, with its name, type, value
/// and text, its direction and the flags that are true; the ways to show
/// a register that were not taken are left out.
fn full_args(out: &mut String, args: &[Arg]) {
    for (i, a) in args.iter().filter(|a| !a.absent).enumerate() {
        if i > 0 {
            out.push(',');
        }
        open_arg(out, a.name, a.type_name);
        out.push_str(",\"value\":");
        match a.raw {
            Some(v) => push_decimal(out, v),
            None => out.push_str("null"),
        }
        out.push_str(",\"text\":");
        json_str(out, &a.text);
        push_dir(out, a.dir);
        if a.hidden {
            out.push_str(",\"hidden\":true");
        }
        if a.unreadable {
            out.push_str(",\"unreadable\":true");
        }
        if a.reread {
            out.push_str(",\"reread\":true");
        }
        if a.updated {
            out.push_str(",\"updated\":true");
        }
        if a.named {
            out.push_str(",\"named\":true");
        }
        out.push('}');
    }
}

/// A lean event's arguments: `[value, text]` each, the flags that are
/// true in a third item, `null` for an alternative not taken.
fn lean_args(out: &mut String, args: &[Arg]) {
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if a.absent {
            out.push_str("null");
            continue;
        }
        out.push('[');
        match a.raw {
            Some(v) => push_decimal(out, v),
            None => out.push_str("null"),
        }
        out.push(',');
        json_str(out, &a.text);
        if a.hidden || a.unreadable || a.reread || a.updated {
            let mut sep = ",{";
            for (set, key) in [
                (a.hidden, "\"hidden\":true"),
                (a.unreadable, "\"unreadable\":true"),
                (a.reread, "\"reread\":true"),
                (a.updated, "\"updated\":true"),
            ] {
                if set {
                    out.push_str(sep);
                    out.push_str(key);
                    sep = ",";
                }
            }
            out.push('}');
        }
        out.push(']');
    }
}

thread_local! {
    /// The last identity this thread wrote and its text: a thread makes
    /// call after call, and its identities are often 20-digit addresses.
    static IDENTITY: std::cell::RefCell<(Option<(u64, u64)>, String)> =
        const { std::cell::RefCell::new((None, String::new())) };
}

/// `,"thread":T,"process":P`, from the thread's last text when it is
/// the same identity.
fn push_identity(out: &mut String, thread: u64, process: u64) {
    let cached = IDENTITY.try_with(|cell| {
        let (key, text) = &mut *cell.borrow_mut();
        if *key != Some((thread, process)) {
            text.clear();
            write_identity(text, thread, process);
            *key = Some((thread, process));
        }
        out.push_str(text);
    });
    if cached.is_err() {
        write_identity(out, thread, process);
    }
}

fn write_identity(out: &mut String, thread: u64, process: u64) {
    out.push_str(",\"thread\":");
    push_decimal(out, thread);
    out.push_str(",\"process\":");
    push_decimal(out, process);
}

/// A signed integer, as the fields declared signed are written.
fn push_signed(out: &mut String, value: i64) {
    push_decimal_padded(out, value, 0);
}

/// A JSON string literal (RFC 8259): quotes, backslashes and control
/// characters escaped, everything else as is. One pass with a table, and
/// the runs between escapes copied whole: strace's quoted texts start and
/// end with a quote, so few strings are clean.
pub fn json_str(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let mut clean = 0;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        let escape = JSON_ESCAPES[usize::from(b)];
        if escape == 0 {
            continue;
        }
        out.push_str(&s[clean..i]);
        out.push('\\');
        if escape == b'u' {
            out.push_str("u00");
            push_hex_byte(out, b);
        } else {
            out.push(char::from(escape));
        }
        clean = i + 1;
    }
    out.push_str(&s[clean..]);
    out.push('"');
}

/// For each byte, what follows the backslash that escapes it in a JSON
/// string (`u` for `\u00XX`), or 0 when it stands as is.
static JSON_ESCAPES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::fixtures::{failed_open_exit, read_entry, read_exit, run, timed};
    use crate::format::{Format, OutputConfig, OwnedEvent, Timestamps};

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

    /// The identity's text is kept from one event to the next: each event
    /// still shows its own.
    #[test]
    fn each_event_shows_its_own_identity() {
        let mut other_process = read_entry(7);
        other_process.process = 0x2000;
        let events = [read_entry(7), read_entry(8), read_entry(7), other_process];
        let out = run(Format::Jsonl, &events);
        let identities: Vec<&str> = out
            .lines()
            .map(|l| {
                l.split(",\"nr\"")
                    .next()
                    .unwrap()
                    .split(",\"thread\"")
                    .nth(1)
                    .unwrap()
            })
            .collect();
        assert_eq!(
            identities,
            [
                ":7,\"process\":4096",
                ":8,\"process\":4096",
                ":7,\"process\":4096",
                ":7,\"process\":8192"
            ]
        );
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut out = String::new();
        json_str(&mut out, "a\"b\\c\nd\te\u{1}\u{8}\u{c}\r\u{1f}é");
        assert_eq!(out, r#""a\"b\\c\nd\te\u0001\b\f\r\u001fé""#);
    }

    /// Every ASCII character and a few others, at every offset in an
    /// eight-byte word and next to one another: escaped as serde_json
    /// escapes them.
    #[test]
    fn json_strings_escape_as_serde_json_does_at_any_offset() {
        let chars: Vec<char> = (0u8..0x80)
            .map(char::from)
            .chain(['é', '日', '\u{7f}', '\u{10ffff}'])
            .collect();
        for &c in &chars {
            for before in 0..17 {
                for after in [0, 1, 7, 8, 9] {
                    let s = format!("{}{c}{c}{}", "a".repeat(before), "z".repeat(after));
                    let mut out = String::new();
                    json_str(&mut out, &s);
                    assert_eq!(out, serde_json::to_string(&s).unwrap(), "{s:?}");
                }
            }
        }
    }

    #[test]
    fn json_strings_read_back() {
        for s in [
            "",
            "plain",
            "é\u{1}ü\"\\\u{7f}\u{1f}日本\n",
            "\u{0}\u{0}x",
            "\"",
            "tail\\",
            "\u{10ffff}\t",
        ] {
            let mut out = String::new();
            json_str(&mut out, s);
            let back: String = serde_json::from_str(&out).expect("valid JSON");
            assert_eq!(back, s, "{out}");
        }
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
}
