//! jsonl events joined into rows: an entry waits for its exit, and the two
//! make one `call` row; an exit without its entry (a child's first return
//! from fork or clone) is a `return` row, a signal or a process's end a
//! row of its own.
//!
//! Lines are read into borrowed structures (no allocation for a string
//! without escapes), and an entry is kept as its text with the few fields
//! that pair it: the exit carries everything else, and only a call that
//! never returns is read in full.

use super::columns::{ArgCell, Row};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::VecDeque;

/// Calls waiting for their exits; beyond this the oldest becomes an
/// unfinished row, so memory stays bounded.
const OPEN_LIMIT: usize = 4096;

/// One jsonl event, as [`crate::format::jsonl_with`] writes it.
#[derive(Debug, Deserialize)]
pub struct Line<'a> {
    #[serde(borrow)]
    pub event: Cow<'a, str>,
    pub vcpu: u32,
    pub thread: u64,
    pub process: u64,
    pub nr: u64,
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    pub pid: Option<i64>,
    pub tid: Option<i64>,
    pub ppid: Option<i64>,
    #[serde(borrow, default)]
    pub comm: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub classes: Vec<Cow<'a, str>>,
    pub ts: Option<u64>,
    #[serde(borrow)]
    pub args: Vec<LineArg<'a>>,
    /// Signed where the declared type is, else the register's bits.
    pub ret: Option<serde_json::Number>,
    pub ret_raw: Option<u64>,
    #[serde(borrow, default)]
    pub ret_text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub error: Option<Cow<'a, str>>,
    pub errno: Option<i64>,
    pub entry_thread: Option<u64>,
    pub entry_process: Option<u64>,
    pub dur: Option<u64>,
    pub status: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub struct LineArg<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow, rename = "type")]
    type_name: Cow<'a, str>,
    value: Option<u64>,
    #[serde(borrow)]
    text: Cow<'a, str>,
    #[serde(borrow, default)]
    dir: Option<Cow<'a, str>>,
    #[serde(default)]
    hidden: bool,
    #[serde(default)]
    unreadable: bool,
}

/// What pairs an entry with its exit.
#[derive(Debug, Deserialize, PartialEq, Eq)]
struct EntryKey {
    thread: u64,
    process: u64,
    nr: u64,
    ts: Option<u64>,
}

impl EntryKey {
    /// The key read straight from the text the plugin writes (the fields
    /// in its order, `ts` before `args`): every entry passes here, and a
    /// full parse of each cost as much as the exit's. `None` for any other
    /// text.
    fn scan(line: &str) -> Option<EntryKey> {
        fn number<'a>(rest: &'a str, key: &str) -> Option<(u64, &'a str)> {
            let rest = rest.strip_prefix(key)?;
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            Some((rest[..end].parse().ok()?, &rest[end..]))
        }
        let rest = line.strip_prefix("{\"event\":\"entry\"")?;
        let (_, rest) = number(rest, ",\"vcpu\":")?;
        let (thread, rest) = number(rest, ",\"thread\":")?;
        let (process, rest) = number(rest, ",\"process\":")?;
        let (nr, rest) = number(rest, ",\"nr\":")?;
        // Quotes inside strings are escaped, so the first `,"args":[` is
        // the key, and a `,"ts":` before it is too.
        let head = &rest[..rest.find(",\"args\":[")?];
        let ts = match head.find(",\"ts\":") {
            Some(at) => Some(number(&head[at..], ",\"ts\":")?.0),
            None => None,
        };
        Some(EntryKey {
            thread,
            process,
            nr,
            ts,
        })
    }
}

/// An entry waiting for its exit: its key and its line.
#[derive(Debug)]
struct Held {
    key: EntryKey,
    line: String,
}

/// Entries waiting for their exits.
#[derive(Debug, Default)]
pub struct Pairing {
    open: VecDeque<Held>,
}

impl Pairing {
    /// Holds an entry's line; returns the oldest one's when too many wait.
    pub fn enter(&mut self, line: &str) -> Result<Option<String>, serde_json::Error> {
        let key = match EntryKey::scan(line) {
            Some(key) => key,
            None => serde_json::from_str(line)?,
        };
        let evicted = if self.open.len() >= OPEN_LIMIT {
            self.open.pop_front().map(|h| h.line)
        } else {
            None
        };
        self.open.push_back(Held {
            key,
            line: line.to_string(),
        });
        Ok(evicted)
    }

    /// Takes the exit's entry, if it waits: the newest
    /// entry of the thread and process the call entered as (an exec's
    /// exit says which), with its number and, when the exit says, its
    /// entry time. A child's first return entered as nothing of its own.
    /// Returns the entry's time when it was found.
    pub fn exit(&mut self, exit: &Line<'_>) -> Option<Option<u64>> {
        let thread = exit.entry_thread.unwrap_or(exit.thread);
        let process = exit.entry_process.unwrap_or(exit.process);
        let entry_ts = entry_ts(exit);
        let found = self.open.iter().rposition(|h| {
            h.key.thread == thread
                && h.key.process == process
                && h.key.nr == exit.nr
                && (entry_ts.is_none() || h.key.ts == entry_ts)
        });
        found.and_then(|i| self.open.remove(i)).map(|h| h.key.ts)
    }

    /// The lines of what still waits, oldest first.
    pub fn drain(&mut self) -> impl Iterator<Item = String> + '_ {
        self.open.drain(..).map(|h| h.line)
    }
}

fn entry_ts(exit: &Line<'_>) -> Option<u64> {
    Some(exit.ts?.saturating_sub(exit.dur?))
}

/// The row of `line`, an event of any kind; for an exit, `entry` is
/// whether its entry was found and the entry's time.
pub fn row<'a>(line: &'a Line<'a>, entry: Option<Option<u64>>) -> Row<'a> {
    let mut row = Row {
        event: "call",
        vcpu: line.vcpu,
        thread: line.thread,
        process: line.process,
        pid: line.pid,
        tid: line.tid,
        ppid: line.ppid,
        comm: line.comm.as_deref().map(Cow::Borrowed),
        nr: line.nr as i64,
        name: &line.name,
        classes: line.classes.iter().map(|c| c.as_ref()).collect(),
        ts: line.ts,
        args: line
            .args
            .iter()
            .map(|a| ArgCell {
                name: &a.name,
                type_name: &a.type_name,
                value: a.value,
                text: &a.text,
                dir: a.dir.as_deref().unwrap_or("in"),
                hidden: a.hidden,
                unreadable: a.unreadable,
            })
            .collect(),
        ..Row::default()
    };
    match line.event.as_ref() {
        "entry" => row.unfinished = true,
        "exit" => {
            row.event = if entry.is_some() { "call" } else { "return" };
            row.ts = entry_ts(line).or(entry.flatten());
            row.exit_ts = line.ts;
            if let Some(ret) = &line.ret {
                let signed = ret.as_i64();
                let raw = line
                    .ret_raw
                    .or_else(|| ret.as_u64())
                    .or(signed.map(|v| v as u64));
                row.ret = signed.or(raw.map(|v| v as i64));
                row.ret_raw = raw;
            }
            row.ret_text = line.ret_text.as_deref();
            row.error = line.error.as_deref();
            row.errno = line.errno.and_then(|e| i32::try_from(e).ok());
            row.entry_thread = line.entry_thread;
            row.entry_process = line.entry_process;
        }
        "signal" => row.event = "signal",
        "killed" => row.event = "killed",
        "superseded" => row.event = "superseded",
        _ => {
            row.event = "exited";
            row.status = line.status.or(Some(line.nr as i64));
        }
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_s_key_scanned_as_parsed() {
        for line in [
            r#"{"event":"entry","vcpu":1,"thread":16,"process":4096,"nr":0,"name":"read","pid":3,"tid":3,"comm":"a\",\"ts\":9","classes":["desc"],"ts":2000000,"args":[{"name":"fd","type":"fd","value":3,"text":",\"ts\":5"}]}"#,
            r#"{"event":"entry","vcpu":0,"thread":16,"process":4096,"nr":39,"name":"getpid","args":[]}"#,
        ] {
            let parsed: EntryKey = serde_json::from_str(line).unwrap();
            assert_eq!(EntryKey::scan(line), Some(parsed), "{line}");
        }
        assert_eq!(EntryKey::scan(r#"{"event":"entry","vcpu":"x"}"#), None);
    }
}
