//! Which calls a trace shows, in strace's words: `trace=` names and
//! classes, `status=`, and the identity filters `process=` and `thread=`.
//!
//! QEMU splits plugin arguments at commas, so the items of one list are
//! separated by `:` (`trace=openat:read:%network`). Items apply left to
//! right: a list that starts with a name or class starts from nothing and
//! adds; one that starts with `!` starts from everything and removes
//! (`trace=!futex:!nanosleep`); `all` stands for every call.
//!
//! The plugin resolves `trace=` against the model once ([`Selection`]), so
//! deciding whether a call is traced is an index into a table of booleans
//! by the syscall number the entry instruction already gave: a call that
//! is filtered out is never decoded and its memory never read. A recorded
//! trace has no model; there the same filter matches names and the classes
//! each event carries ([`FilterSpec::matches_call`]).

use crate::task::TaskNames;
use osm_model::Model;
use std::collections::HashSet;
use std::sync::RwLock;

/// One item of `trace=`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// Every call.
    All,
    /// A syscall by name.
    Name(String),
    /// A class declared in the model (`%file`); a unique prefix of a
    /// declared class also names it (`%net` for `%network`).
    Class(String),
}

/// How a call ended, for `status=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Successful,
    Failed,
    /// Never returned: `exit`, interrupted, or still in the kernel at the
    /// end of the trace (strace prints these with `= ?`).
    Unfinished,
}

impl Status {
    pub const ALL: [Status; 3] = [Status::Successful, Status::Failed, Status::Unfinished];

    pub fn name(self) -> &'static str {
        match self {
            Status::Successful => "successful",
            Status::Failed => "failed",
            Status::Unfinished => "unfinished",
        }
    }
}

/// A parsed filter, before it is resolved against a model.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilterSpec {
    /// `trace=` items with whether each adds (`true`) or removes; `None`
    /// traces every call.
    pub trace: Option<Vec<(bool, Item)>>,
    /// `status=`: the statuses shown; `None` shows all.
    pub status: Option<Vec<Status>>,
    /// `process=`: process identity values; `None` allows all.
    pub processes: Option<Vec<u64>>,
    /// `thread=`: thread identity values; `None` allows all.
    pub threads: Option<Vec<u64>>,
    /// `pid=`: the guest's process ids (with the model's `task` block).
    pub pids: Option<Vec<i64>>,
    /// `tid=`: the guest's thread ids.
    pub tids: Option<Vec<i64>>,
    /// `comm=`: command names, as shell patterns (`sh`, `kworker*`).
    pub comms: Option<Vec<glob::Pattern>>,
    /// `follow=`: a process whose command name matches starts being
    /// traced, with all it starts ([`crate::tracer`] keeps the set).
    pub follow: Option<Vec<glob::Pattern>>,
}

/// The keys this module parses, with what their values may be.
pub const KEYS: &[(&str, &str)] = &[
    ("trace", "NAME|%CLASS|!NAME|all:..."),
    ("status", "successful|failed|unfinished:..."),
    ("process", "ID:..."),
    ("thread", "ID:..."),
    ("pid", "PID:..."),
    ("tid", "TID:..."),
    ("comm", "NAME|PATTERN:..."),
    ("follow", "NAME|PATTERN:..."),
];

fn items(value: &str) -> impl Iterator<Item = &str> {
    value.split(':').map(str::trim)
}

/// `0x1f` or `31`.
fn parse_number(text: &str) -> Option<u64> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

impl FilterSpec {
    /// Whether the filter can drop anything.
    pub fn is_empty(&self) -> bool {
        self == &FilterSpec::default()
    }

    /// Parses one `key=value`; `Ok(false)` if the key is not a filter key.
    pub fn parse_kv(&mut self, key: &str, value: &str) -> Result<bool, String> {
        match key {
            "trace" => {
                let mut list = Vec::new();
                for item in items(value) {
                    let (add, word) = match item.strip_prefix('!') {
                        Some(rest) => (false, rest.trim()),
                        None => (true, item),
                    };
                    let parsed = if word == "all" {
                        Item::All
                    } else if let Some(class) = word.strip_prefix('%') {
                        if class.is_empty() {
                            return Err("trace=: `%` needs a class name, e.g. %file".into());
                        }
                        Item::Class(class.to_string())
                    } else if word.is_empty() {
                        return Err(format!(
                            "trace=: empty item in '{value}'; separate names with ':'"
                        ));
                    } else {
                        Item::Name(word.to_string())
                    };
                    list.push((add, parsed));
                }
                self.trace = Some(list);
            }
            "status" => {
                let mut shown: Vec<Status> = Vec::new();
                let mut first = true;
                for item in items(value) {
                    let (add, word) = match item.strip_prefix('!') {
                        Some(rest) => (false, rest.trim()),
                        None => (true, item),
                    };
                    let status = match word {
                        "all" => None,
                        other => Some(
                            Status::ALL
                                .into_iter()
                                .find(|s| s.name() == other)
                                .ok_or_else(|| {
                                    format!(
                                        "status=: unknown status '{other}' (valid: successful, failed, unfinished, all)"
                                    )
                                })?,
                        ),
                    };
                    if first && !add {
                        shown = Status::ALL.to_vec();
                    }
                    first = false;
                    let affected: Vec<Status> = status.map_or(Status::ALL.to_vec(), |s| vec![s]);
                    for s in affected {
                        shown.retain(|x| *x != s);
                        if add {
                            shown.push(s);
                        }
                    }
                }
                self.status = Some(shown);
            }
            "process" | "thread" => {
                let mut ids = Vec::new();
                for item in items(value) {
                    ids.push(parse_number(item).ok_or_else(|| {
                        format!("{key}=: '{item}' is not a number (decimal or 0x hex)")
                    })?);
                }
                if key == "process" {
                    self.processes = Some(ids);
                } else {
                    self.threads = Some(ids);
                }
            }
            "pid" | "tid" => {
                let mut ids = Vec::new();
                for item in items(value) {
                    ids.push(item.parse::<i64>().map_err(|_| {
                        format!("{key}=: '{item}' is not a {key} (a decimal number)")
                    })?);
                }
                if key == "pid" {
                    self.pids = Some(ids);
                } else {
                    self.tids = Some(ids);
                }
            }
            "comm" | "follow" => {
                let mut patterns = Vec::new();
                for item in items(value) {
                    if item.is_empty() {
                        return Err(format!(
                            "{key}=: empty name in '{value}'; separate names with ':'"
                        ));
                    }
                    patterns.push(
                        glob::Pattern::new(item).map_err(|e| {
                            format!("{key}=: '{item}' is not a name or pattern: {e}")
                        })?,
                    );
                }
                if key == "comm" {
                    self.comms = Some(patterns);
                } else {
                    self.follow = Some(patterns);
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Whether `pid=`, `tid=`, `comm=` or `follow=` is given: filters that
    /// need the guest's names for the calling task.
    pub fn by_names(&self) -> bool {
        self.pids.is_some() || self.tids.is_some() || self.comms.is_some() || self.follow.is_some()
    }

    /// `pid=`, `tid=` and `comm=` for a task with these names (`follow=`
    /// is the tracer's: it depends on the tasks seen before).
    #[inline(always)]
    pub fn names_ok(&self, names: Option<&TaskNames>) -> bool {
        self.pids.is_none() && self.tids.is_none() && self.comms.is_none()
            || self.names_match(names)
    }

    fn names_match(&self, names: Option<&TaskNames>) -> bool {
        let Some(n) = names else {
            return false;
        };
        self.pids.as_ref().is_none_or(|p| p.contains(&n.pid))
            && self.tids.as_ref().is_none_or(|t| t.contains(&n.tid))
            && self.comms.as_ref().is_none_or(|c| {
                n.comm
                    .is_some_and(|comm| c.iter().any(|p| p.matches(&comm.text())))
            })
    }

    /// Parses `trace=...,status=...` (the trace tool's `--filter`). Commas
    /// separate keys here, as in plugin arguments.
    pub fn parse(text: &str) -> Result<FilterSpec, String> {
        let mut spec = FilterSpec::default();
        let mut seen: Vec<&str> = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((key, value)) = part.split_once('=') else {
                return Err(format!("filter '{part}' is not key=value; {}", usage()));
            };
            if seen.contains(&key) {
                return Err(format!("filter '{key}' given twice"));
            }
            if !spec.parse_kv(key, value)? {
                return Err(format!("unknown filter '{key}'; {}", usage()));
            }
            seen.push(key);
        }
        Ok(spec)
    }

    pub fn status_ok(&self, status: Status) -> bool {
        self.status.as_ref().is_none_or(|s| s.contains(&status))
    }

    #[inline]
    pub fn identity_ok(&self, thread: u64, process: u64) -> bool {
        self.threads.as_ref().is_none_or(|t| t.contains(&thread))
            && self.processes.as_ref().is_none_or(|p| p.contains(&process))
    }

    /// `trace=` for a call known by its name and classes (a recorded
    /// trace). A class matches a class of the call that it equals or is a
    /// prefix of.
    pub fn matches_call(&self, name: &str, classes: &[String]) -> bool {
        let Some(list) = &self.trace else {
            return true;
        };
        let mut selected = !matches!(list.first(), Some((true, _)));
        for (add, item) in list {
            let hit = match item {
                Item::All => true,
                Item::Name(n) => n == name,
                Item::Class(c) => classes.iter().any(|k| k.starts_with(c.as_str())),
            };
            if hit {
                selected = *add;
            }
        }
        selected
    }

    /// Resolves `trace=` against a model. Every name must be a syscall of
    /// the model and every class a declared class: a misspelt name would
    /// silently trace nothing.
    pub fn resolve(&self, model: &Model) -> Result<Selection, String> {
        let all = |value: bool| Selection {
            tables: model
                .tables
                .iter()
                .map(|t| vec![value; t.syscalls.len()])
                .collect(),
            unknown: value,
        };
        let Some(list) = &self.trace else {
            return Ok(all(true));
        };
        let mut selection = all(!matches!(list.first(), Some((true, _))));
        for (add, item) in list {
            match item {
                Item::All => {
                    for t in &mut selection.tables {
                        t.iter_mut().for_each(|s| *s = *add);
                    }
                    selection.unknown = *add;
                }
                Item::Name(name) => {
                    let mut found = false;
                    for (table, flags) in model.tables.iter().zip(&mut selection.tables) {
                        for (s, flag) in table.syscalls.iter().zip(flags.iter_mut()) {
                            if &s.name == name {
                                *flag = *add;
                                found = true;
                            }
                        }
                    }
                    if !found {
                        let names = model
                            .tables
                            .iter()
                            .flat_map(|t| t.syscalls.iter().map(|s| s.name.as_str()));
                        let hint = closest(name, names)
                            .map(|c| format!(" (did you mean '{c}'?)"))
                            .unwrap_or_default();
                        return Err(format!("trace=: the model has no syscall '{name}'{hint}"));
                    }
                }
                Item::Class(class) => {
                    let declared = resolve_class(model, class)?;
                    for (table, flags) in model.tables.iter().zip(&mut selection.tables) {
                        for (s, flag) in table.syscalls.iter().zip(flags.iter_mut()) {
                            if s.classes.iter().any(|c| c == declared) {
                                *flag = *add;
                            }
                        }
                    }
                }
            }
        }
        Ok(selection)
    }
}

/// A class as written (`net`) to the model's class (`network`): an exact
/// name, or the only class it is a prefix of.
fn resolve_class<'m>(model: &'m Model, class: &str) -> Result<&'m str, String> {
    if let Some(c) = model.classes.iter().find(|c| *c == class) {
        return Ok(c);
    }
    let prefixed: Vec<&String> = model
        .classes
        .iter()
        .filter(|c| c.starts_with(class))
        .collect();
    match prefixed.as_slice() {
        [one] => Ok(one),
        _ => Err(format!(
            "trace=: the model declares no class '%{class}' (classes: {})",
            model
                .classes
                .iter()
                .map(|c| format!("%{c}"))
                .collect::<Vec<_>>()
                .join(" ")
        )),
    }
}

/// The nearest of `candidates` to `word`, when it is a likely typo.
fn closest<'w>(word: &str, candidates: impl Iterator<Item = &'w str>) -> Option<&'w str> {
    let limit = (word.len() / 3).max(1);
    candidates
        .map(|c| (strsim::osa_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

pub fn usage() -> String {
    let keys: Vec<String> = KEYS.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("filters: {}", keys.join(", "))
}

/// `follow=`: the processes traced, by pid, which grows as followed ones
/// start others. Shared by vCPUs (and by `trace-view`'s reading of a
/// recording, which sees the same calls in the same order).
#[derive(Debug)]
pub struct FollowSet {
    patterns: Vec<glob::Pattern>,
    pids: RwLock<HashSet<i64>>,
}

impl FollowSet {
    pub fn new(patterns: Vec<glob::Pattern>) -> Self {
        FollowSet {
            patterns,
            pids: RwLock::new(HashSet::new()),
        }
    }

    fn has(&self, pid: i64) -> bool {
        self.pids
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&pid)
    }

    fn set(&self, pid: i64, followed: bool) {
        let mut pids = self.pids.write().unwrap_or_else(|e| e.into_inner());
        if followed {
            pids.insert(pid);
        } else {
            pids.remove(&pid);
        }
    }

    /// Whether a task with these names is followed: its process is, or
    /// its parent's, or its command name matches.
    pub fn matches(&self, n: &TaskNames) -> bool {
        self.has(n.pid)
            || n.ppid.is_some_and(|p| self.has(p))
            || n.comm
                .is_some_and(|c| self.patterns.iter().any(|p| p.matches(&c.text())))
    }

    /// Whether a call of a task with these names is traced; a task with no
    /// names is not. A followed process's main thread entering a call that
    /// does not return (its exit) ends its following, so that a pid used
    /// again later is not taken for it.
    pub fn call(&self, names: Option<&TaskNames>, noreturn: bool) -> bool {
        let Some(n) = names else {
            return false;
        };
        if !self.matches(n) {
            return false;
        }
        let leaving = noreturn && n.tid == n.pid;
        if leaving || !self.has(n.pid) {
            self.set(n.pid, !leaving);
        }
        true
    }

    /// A followed process's fork or clone returned `child` in the parent:
    /// the child is followed from its first call, even if the parent exits
    /// before it makes one.
    pub fn forked(&self, parent: &TaskNames, child: i64) {
        if child > 0 && self.has(parent.pid) {
            self.set(child, true);
        }
    }
}

/// `trace=` resolved against a model: for each table, whether each
/// syscall (by index, as `Entry::syscall` gives it) is traced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    pub tables: Vec<Vec<bool>>,
    /// Numbers the model does not know.
    pub unknown: bool,
}

impl Selection {
    #[inline]
    pub fn selected(&self, table: u32, syscall: Option<usize>) -> bool {
        match syscall {
            Some(i) => self
                .tables
                .get(table as usize)
                .and_then(|t| t.get(i))
                .copied()
                .unwrap_or(false),
            None => self.unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::model;

    fn spec(text: &str) -> FilterSpec {
        FilterSpec::parse(text).unwrap()
    }

    fn classes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_classes_and_exclusions() {
        let s = spec("trace=openat:%net");
        assert!(s.matches_call("openat", &[]));
        assert!(s.matches_call("socket", &classes(&["desc", "network"])));
        assert!(!s.matches_call("read", &classes(&["desc"])));
        let s = spec("trace=!read:!%memory");
        assert!(s.matches_call("openat", &[]));
        assert!(!s.matches_call("read", &[]));
        assert!(!s.matches_call("mmap", &classes(&["memory"])));
        // Left to right: a class minus one of its calls.
        let s = spec("trace=%file:!openat");
        assert!(s.matches_call("stat", &classes(&["file"])));
        assert!(!s.matches_call("openat", &classes(&["file", "desc"])));
        assert!(spec("trace=all").matches_call("x", &[]));
        assert!(!spec("trace=!all").matches_call("x", &[]));
        assert!(FilterSpec::default().matches_call("anything", &[]));
        assert!(FilterSpec::default().is_empty());
    }

    #[test]
    fn status_lists() {
        let s = spec("status=failed:unfinished");
        assert!(!s.status_ok(Status::Successful));
        assert!(s.status_ok(Status::Failed) && s.status_ok(Status::Unfinished));
        let s = spec("status=!successful");
        assert_eq!(s.status, Some(vec![Status::Failed, Status::Unfinished]));
        assert!(FilterSpec::default().status_ok(Status::Successful));
        let e = FilterSpec::parse("status=detached").unwrap_err();
        assert!(
            e.contains("'detached'") && e.contains("successful, failed, unfinished"),
            "{e}"
        );
    }

    #[test]
    fn identities() {
        let s = spec("process=0x1000:4096,thread=7");
        assert_eq!(s.processes, Some(vec![0x1000, 4096]));
        assert!(s.identity_ok(7, 0x1000));
        assert!(!s.identity_ok(8, 0x1000));
        assert!(!s.identity_ok(7, 0x2000));
        let e = FilterSpec::parse("thread=fs").unwrap_err();
        assert!(e.contains("'fs'"), "{e}");
    }

    #[test]
    fn parse_errors_say_what_is_valid() {
        for (text, wanted) in [
            ("trace", "not key=value"),
            ("verbose=1", "unknown filter 'verbose'"),
            ("trace=a,trace=b", "twice"),
            ("trace=a::b", "empty item"),
            ("trace=%", "class name"),
        ] {
            let e = FilterSpec::parse(text).unwrap_err();
            assert!(e.contains(wanted), "{text}: {e}");
        }
    }

    #[test]
    fn resolution_against_a_model() {
        let mut m = model();
        m.classes = classes(&["desc", "file", "network"]);
        m.tables[0].syscalls[0].classes = classes(&["desc"]); // read
        m.tables[0].syscalls[2].classes = classes(&["desc", "file"]); // openat
        let sel = spec("trace=%file:write").resolve(&m).unwrap();
        assert_eq!(sel.tables, vec![vec![false, true, true]]);
        assert!(!sel.unknown);
        assert!(sel.selected(0, Some(2)) && !sel.selected(0, Some(0)));
        assert!(!sel.selected(0, None) && !sel.selected(9, Some(0)));
        let sel = spec("trace=!%desc").resolve(&m).unwrap();
        assert_eq!(sel.tables, vec![vec![false, true, false]]);
        assert!(sel.unknown);
        // A unique prefix names a class, as strace's %net does.
        let sel = spec("trace=%net").resolve(&m).unwrap();
        assert_eq!(sel.tables, vec![vec![false, false, false]]);
        let e = spec("trace=opnat").resolve(&m).unwrap_err();
        assert!(
            e.contains("'opnat'") && e.contains("did you mean 'openat'"),
            "{e}"
        );
        let e = spec("trace=%memory").resolve(&m).unwrap_err();
        assert!(e.contains("%desc %file %network"), "{e}");
        assert_eq!(
            FilterSpec::default().resolve(&m).unwrap().tables,
            vec![vec![true; 3]]
        );
    }
}
