//! Reading recorded traces back: one jsonl line (as [`crate::format::jsonl`]
//! writes it) to an [`OwnedEvent`], so a recording converts to every other
//! format through the same [`crate::format::Formatter`]. A lean trace's
//! events are completed from the declarations of its first line.

use crate::decode::{Arg, ErrorInfo, Return};
use crate::format::{DECLARATIONS_VERSION, EventKind, OwnedEvent};
use crate::task::{Comm, TaskNames};
use osm_model::{Direction, Name};
use serde_json::Value;

/// A recorded trace's lines, read in order: a lean trace's declarations
/// (`jsonl=lean`) complete the events after them.
#[derive(Debug, Default)]
pub struct JsonlReader {
    decls: Vec<Declared>,
}

/// One call of a lean trace's declarations.
#[derive(Debug)]
struct Declared {
    name: String,
    classes: Vec<String>,
    named: bool,
    args: Vec<(Name, Name, Direction)>,
}

/// Parses one line of a trace without declarations ([`JsonlReader`]).
pub fn parse_jsonl_line(line: &str) -> Result<Option<OwnedEvent>, String> {
    JsonlReader::default().parse_line(line)
}

impl JsonlReader {
    /// Parses one line; `Ok(None)` for a blank line, the declarations or
    /// the closing `summary` event. Errors name the field.
    pub fn parse_line(&mut self, line: &str) -> Result<Option<OwnedEvent>, String> {
        if line.trim().is_empty() {
            return Ok(None);
        }
        let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
        if v.get("event").and_then(Value::as_str) == Some("declarations") {
            self.decls = declarations(&v)?;
            return Ok(None);
        }
        let decl = match v.get("decl") {
            None => None,
            Some(d) => {
                let i = d.as_u64().ok_or("`decl` is not an unsigned integer")?;
                let declared = usize::try_from(i).ok().and_then(|i| self.decls.get(i));
                Some(declared.ok_or_else(|| {
                    format!(
                        "`decl` {i} is not declared (a lean trace declares its calls in its first line)"
                    )
                })?)
            }
        };
        event(&v, decl)
    }
}

/// The calls of a `declarations` line.
fn declarations(v: &Value) -> Result<Vec<Declared>, String> {
    let version = v.get("version").and_then(Value::as_u64);
    if version != Some(DECLARATIONS_VERSION) {
        return Err(format!(
            "declarations of version {}: this reader knows version {DECLARATIONS_VERSION}",
            version.map_or("(none)".to_string(), |n| n.to_string())
        ));
    }
    let calls = v
        .get("calls")
        .and_then(Value::as_array)
        .ok_or("declarations: `calls` is missing")?;
    calls
        .iter()
        .enumerate()
        .map(|(i, call)| {
            let text = |from: &Value, key: &str| -> Result<String, String> {
                from.get(key)
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| format!("declaration {i}: `{key}` is missing"))
            };
            let args = call
                .get("args")
                .and_then(Value::as_array)
                .ok_or_else(|| format!("declaration {i}: `args` is missing"))?
                .iter()
                .map(|a| {
                    Ok((
                        Name::new(&text(a, "name")?),
                        Name::new(&text(a, "type")?),
                        direction(a).map_err(|e| format!("declaration {i}: {e}"))?,
                    ))
                })
                .collect::<Result<_, String>>()?;
            Ok(Declared {
                name: text(call, "name")?,
                classes: classes(call).map_err(|e| format!("declaration {i}: {e}"))?,
                named: call.get("named").and_then(Value::as_bool) == Some(true),
                args,
            })
        })
        .collect()
}

fn direction(a: &Value) -> Result<Direction, String> {
    match a.get("dir").and_then(Value::as_str) {
        None | Some("in") => Ok(Direction::In),
        Some("out") => Ok(Direction::Out),
        Some("inout") => Ok(Direction::InOut),
        Some(other) => Err(format!("unknown `dir` \"{other}\"")),
    }
}

fn classes(v: &Value) -> Result<Vec<String>, String> {
    match v.get("classes") {
        None => Ok(Vec::new()),
        Some(Value::Array(list)) => list
            .iter()
            .map(|c| {
                c.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| "`classes` holds a non-string".to_string())
            })
            .collect(),
        Some(_) => Err("`classes` is not an array".into()),
    }
}

/// A full event's arguments: an object each, naming itself.
fn full_args(items: &[Value]) -> Result<Vec<Arg>, String> {
    let mut args = Vec::new();
    for (i, a) in items.iter().enumerate() {
        let text = |key: &str| -> Result<String, String> {
            a.get(key)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| format!("argument {i}: `{key}` is missing"))
        };
        let flag = |key: &str| a.get(key).and_then(Value::as_bool).unwrap_or(false);
        args.push(Arg {
            name: text("name")?.into(),
            type_name: text("type")?.into(),
            dir: direction(a).map_err(|e| format!("argument {i}: {e}"))?,
            raw: a.get("value").and_then(Value::as_u64),
            text: text("text")?,
            hidden: flag("hidden"),
            unreadable: flag("unreadable"),
            reread: flag("reread"),
            updated: flag("updated"),
            absent: false,
            named: flag("named"),
            returned: String::new(),
        });
    }
    Ok(args)
}

/// A lean event's arguments, one per declared parameter: `[value, text]`
/// with the flags that are true in a third item, or `null` for an
/// alternative not taken (left out, as in a full trace).
fn lean_args(items: &[Value], decl: &Declared) -> Result<Vec<Arg>, String> {
    if items.len() != decl.args.len() {
        return Err(format!(
            "{} arguments where {} declares {}",
            items.len(),
            decl.name,
            decl.args.len()
        ));
    }
    let mut args = Vec::new();
    for (i, (item, &(name, type_name, dir))) in items.iter().zip(&decl.args).enumerate() {
        let parts = match item {
            Value::Null => continue,
            Value::Array(parts) if (2..=3).contains(&parts.len()) => parts,
            _ => return Err(format!("argument {i}: not [value, text] or null")),
        };
        let flag = |key: &str| {
            parts
                .get(2)
                .and_then(|f| f.get(key))
                .and_then(Value::as_bool)
                .unwrap_or(false)
        };
        args.push(Arg {
            name,
            type_name,
            dir,
            raw: parts[0].as_u64(),
            text: parts[1]
                .as_str()
                .ok_or_else(|| format!("argument {i}: the text is not a string"))?
                .to_string(),
            hidden: flag("hidden"),
            unreadable: flag("unreadable"),
            reread: flag("reread"),
            updated: flag("updated"),
            absent: false,
            named: decl.named,
            returned: String::new(),
        });
    }
    Ok(args)
}

/// One event, completed from its declaration when it names one.
fn event(v: &Value, decl: Option<&Declared>) -> Result<Option<OwnedEvent>, String> {
    let uint = |key: &str| -> Result<u64, String> {
        v.get(key)
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("`{key}` is missing or not an unsigned integer"))
    };
    let opt_uint = |key: &str| -> Result<Option<u64>, String> {
        match v.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(x) => x
                .as_u64()
                .map(Some)
                .ok_or_else(|| format!("`{key}` is not an unsigned integer")),
        }
    };
    let kind = match v.get("event").and_then(Value::as_str) {
        Some("entry") => EventKind::Entry,
        Some("exit") => EventKind::Exit,
        Some("signal") => EventKind::Signal,
        Some("exited") => EventKind::Exited,
        Some("superseded") => EventKind::Superseded,
        Some("killed") => EventKind::Killed {
            core_dumped: v.get("core_dumped").and_then(Value::as_bool) == Some(true),
        },
        // The health figures at the end: not a call.
        Some("summary") => return Ok(None),
        _ => {
            return Err(
                "`event` must be \"entry\", \"exit\", \"signal\", \"exited\", \"killed\", \"superseded\" or \"summary\""
                    .into(),
            );
        }
    };
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .ok_or("`name` is missing")?
        .to_string();
    if let Some(decl) = decl
        && decl.name != name
    {
        return Err(format!("`decl` names {}, not {name}", decl.name));
    }
    let classes = match decl {
        Some(decl) => decl.classes.clone(),
        None => classes(v)?,
    };
    let items = v
        .get("args")
        .and_then(Value::as_array)
        .ok_or("`args` is missing")?;
    let args = match decl {
        Some(decl) => lean_args(items, decl)?,
        None => full_args(items)?,
    };
    let unreadable = args.iter().filter(|a| a.is_unreadable()).count() as u32;
    let ts = opt_uint("ts")?;
    let mut ret = None;
    let mut entry_ts = None;
    let mut entered_as = None;
    if kind == EventKind::Exit {
        if let Some((raw, signed)) = ret_of(v)? {
            let text = v
                .get("ret_text")
                .and_then(Value::as_str)
                .ok_or("`ret_text` is missing")?
                .to_string();
            let error = match v.get("error") {
                Some(Value::String(name)) => Some(ErrorInfo {
                    value: opt_uint("errno")?.unwrap_or(0),
                    name: name.clone(),
                    // `-1 ENOENT (No such file or directory)`
                    message: text
                        .split_once(" (")
                        .map(|(_, m)| m.trim_end_matches(')').to_string())
                        .unwrap_or_default(),
                }),
                _ => None,
            };
            ret = Some(Return {
                raw,
                signed,
                text,
                error,
            });
        }
        entry_ts = match (ts, opt_uint("dur")?) {
            (Some(ts), Some(dur)) => Some(ts.saturating_sub(dur)),
            _ => None,
        };
        if let (Some(thread), Some(process)) =
            (opt_uint("entry_thread")?, opt_uint("entry_process")?)
        {
            entered_as = Some((thread, process));
        }
    }
    let int = |key: &str| -> Result<Option<i64>, String> {
        match v.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(x) => x
                .as_i64()
                .map(Some)
                .ok_or_else(|| format!("`{key}` is not an integer")),
        }
    };
    let task = match (int("pid")?, int("tid")?) {
        (Some(pid), Some(tid)) => Some(TaskNames {
            tid,
            pid,
            ppid: int("ppid")?,
            comm: match v.get("comm") {
                None | Some(Value::Null) => None,
                Some(Value::String(c)) => Some(Comm::new(c.as_bytes())),
                Some(_) => return Err("`comm` is not a string".into()),
            },
        }),
        (None, None) => None,
        _ => return Err("`pid` and `tid` come together".into()),
    };
    Ok(Some(OwnedEvent {
        kind,
        vcpu: u32::try_from(uint("vcpu")?).map_err(|_| "`vcpu` is too large")?,
        thread: uint("thread")?,
        process: uint("process")?,
        nr: uint("nr")?,
        name,
        args,
        ret,
        classes,
        ts,
        entry_ts,
        unreadable,
        entered_as,
        task,
        decl: None,
        capture: None,
        process_ended: kind == EventKind::Exit
            && v.get("process_ended").and_then(Value::as_bool) == Some(true),
    }))
}

/// An exit's `ret` and `ret_raw` (written since `ret` is signed) as the
/// register's bits and the signed value; traces from before have only an
/// unsigned `ret`.
fn ret_of(v: &Value) -> Result<Option<(u64, Option<i64>)>, String> {
    let raw = match v.get("ret_raw") {
        None | Some(Value::Null) => None,
        Some(x) => Some(x.as_u64().ok_or("`ret_raw` is not an unsigned integer")?),
    };
    match v.get("ret") {
        None | Some(Value::Null) => Ok(None),
        Some(x) => match (x.as_u64(), x.as_i64(), raw) {
            (_, Some(signed), Some(raw)) => Ok(Some((raw, Some(signed)))),
            (Some(value), _, None) => Ok(Some((value, None))),
            (None, Some(signed), None) => Ok(Some((signed as u64, Some(signed)))),
            _ => Err("`ret` is not an integer".to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::jsonl;

    fn round_trip(ev: &OwnedEvent) -> OwnedEvent {
        let mut line = String::new();
        jsonl(&ev.as_event(), &mut line);
        parse_jsonl_line(&line).unwrap().unwrap()
    }

    #[test]
    fn what_jsonl_writes_reads_back() {
        let entry = OwnedEvent {
            kind: EventKind::Entry,
            vcpu: 1,
            thread: 0x4d5000,
            process: u64::MAX,
            nr: 257,
            name: "openat".into(),
            classes: vec!["desc".into(), "file".into()],
            ts: Some(1_700_000_000_123_456_789),
            args: vec![
                Arg {
                    name: "filename".into(),
                    type_name: "cstr".into(),
                    raw: Some(0x1000),
                    text: "\"/x\\n\"".into(),
                    ..Arg::default()
                },
                Arg {
                    name: "buf".into(),
                    type_name: "buf".into(),
                    dir: Direction::InOut,
                    raw: Some(0x2000),
                    text: "0x2000".into(),
                    ..Arg::default()
                },
                Arg {
                    name: "mode".into(),
                    type_name: "mode".into(),
                    raw: None,
                    text: "?".into(),
                    hidden: true,
                    unreadable: true,
                    ..Arg::default()
                },
                Arg {
                    name: "uargs".into(),
                    type_name: "clone_args".into(),
                    raw: Some(0x3000),
                    text: "{flags=CLONE_VM}".into(),
                    updated: true,
                    ..Arg::default()
                },
            ],
            unreadable: 1,
            ..OwnedEvent::default()
        };
        assert_eq!(round_trip(&entry), entry);
        let exit = OwnedEvent {
            kind: EventKind::Exit,
            ts: Some(1_700_000_000_123_556_789),
            entry_ts: entry.ts,
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
            ..entry.clone()
        };
        assert_eq!(round_trip(&exit), exit);
        // A 32-bit guest's -2, and an address (unsigned).
        for (raw, signed) in [(0xffff_fffe, Some(-2)), (0xffff_8000_0000_0000, None)] {
            let mut other = exit.clone();
            other.ret.as_mut().unwrap().raw = raw;
            other.ret.as_mut().unwrap().signed = signed;
            assert_eq!(round_trip(&other), other);
        }
        let noreturn = OwnedEvent {
            ret: None,
            ..exit.clone()
        };
        assert_eq!(round_trip(&noreturn), noreturn);
        let ended = OwnedEvent {
            process_ended: true,
            ..noreturn.clone()
        };
        assert_eq!(round_trip(&ended), ended);
        // An exec's return, in the new address space.
        let exec = OwnedEvent {
            process: 0x7000,
            entered_as: Some((0x4d5000, u64::MAX)),
            ..exit.clone()
        };
        assert_eq!(round_trip(&exec), exec);
        // A signal (its siginfo's fields as arguments) and a process's end
        // (its status in `nr`) read back as what was written, for
        // trace-view to show them again.
        let signal = OwnedEvent {
            kind: EventKind::Signal,
            nr: 10,
            name: "SIGUSR1".into(),
            classes: Vec::new(),
            args: vec![Arg {
                name: "si_code".into(),
                type_name: "si_code".into(),
                raw: Some(0),
                text: "SI_USER".into(),
                ..Arg::default()
            }],
            unreadable: 0,
            ..entry.clone()
        };
        assert_eq!(round_trip(&signal), signal);
        let exited = OwnedEvent {
            kind: EventKind::Exited,
            nr: 7,
            name: String::new(),
            classes: Vec::new(),
            args: Vec::new(),
            unreadable: 0,
            ..entry.clone()
        };
        assert_eq!(round_trip(&exited), exited);
        for core_dumped in [false, true] {
            let killed = OwnedEvent {
                kind: EventKind::Killed { core_dumped },
                nr: 11,
                name: "SIGSEGV".into(),
                ..exited.clone()
            };
            assert_eq!(round_trip(&killed), killed);
        }
        // A leader another thread's exec replaced: that thread's id in `nr`.
        let superseded = OwnedEvent {
            kind: EventKind::Superseded,
            nr: 90,
            ..exited.clone()
        };
        assert_eq!(round_trip(&superseded), superseded);
    }

    #[test]
    fn the_summary_line_is_no_event() {
        let line = r#"{"event":"summary","calls":3,"unfinished":0}"#;
        assert_eq!(parse_jsonl_line(line), Ok(None));
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        assert_eq!(parse_jsonl_line("  "), Ok(None));
        for (line, wanted) in [
            ("{", "not JSON"),
            (r#"{"event":"x"}"#, "`event`"),
            (
                r#"{"event":"entry","name":"a","args":[],"vcpu":0,"thread":1,"process":1}"#,
                "`nr`",
            ),
            (
                r#"{"event":"entry","name":"a","vcpu":0,"thread":1,"process":1,"nr":0}"#,
                "`args`",
            ),
            (
                r#"{"event":"entry","name":"a","args":[{"name":"x"}],"vcpu":0,"thread":1,"process":1,"nr":0}"#,
                "argument 0",
            ),
            (
                r#"{"event":"exit","name":"a","args":[],"vcpu":0,"thread":1,"process":1,"nr":0,"ret":1}"#,
                "`ret_text`",
            ),
            (
                r#"{"event":"entry","name":"a","args":[],"vcpu":0,"thread":-1,"process":1,"nr":0}"#,
                "`thread`",
            ),
        ] {
            let e = parse_jsonl_line(line).unwrap_err();
            assert!(e.contains(wanted), "{line}: {e}");
        }
    }
}
