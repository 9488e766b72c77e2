//! The guest's own names for the task that makes a call (thread and
//! process ids, parent, command name), read as the model's `task` block
//! says, and kept per vCPU so that a call costs no guest-memory read while
//! the same task keeps calling.

use crate::cpu::Cpu;
use crate::eval::{Env, eval};
use osm_model::arch::Endian;
use osm_model::{Pattern, Task};
use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Bytes of a command name kept: more than Linux's 16, FreeBSD's 20 and
/// Windows' 15.
pub const COMM_BYTES: usize = 31;

/// A command name: up to [`COMM_BYTES`] bytes, inline so that names move
/// with the calls they label without an allocation.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Comm {
    len: u8,
    bytes: [u8; COMM_BYTES],
}

impl Comm {
    pub const EMPTY: Comm = Comm {
        len: 0,
        bytes: [0; COMM_BYTES],
    };

    /// The bytes up to the first NUL (a kernel's fixed-size name is padded
    /// with them), at most [`COMM_BYTES`].
    pub fn new(raw: &[u8]) -> Self {
        let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        let len = end.min(COMM_BYTES);
        let mut bytes = [0; COMM_BYTES];
        bytes[..len].copy_from_slice(&raw[..len]);
        Comm {
            len: len as u8,
            bytes,
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(self.as_bytes())
    }
}

impl std::fmt::Debug for Comm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.text())
    }
}

/// How the guest names a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskNames {
    /// The thread's id (Linux's `pid`, what `gettid()` returns).
    pub tid: i64,
    /// The process's id (Linux's `tgid`, what `getpid()` returns).
    pub pid: i64,
    pub ppid: Option<i64>,
    pub comm: Option<Comm>,
}

/// Reads a model's `task` block, with the traced kernel's numbers already
/// in its expressions ([`crate::kernel::resolve_task`]).
#[derive(Clone, Debug)]
pub struct TaskReader {
    task: Task,
    endian: Endian,
}

/// Where the task is read: the instruction, known when QEMU translated it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ReadAt {
    /// The instruction's bytes as one integer (the model's `insn`).
    pub insn: u64,
    /// Its address (the model's `insn_addr`).
    pub addr: u64,
}

impl TaskReader {
    pub fn new(task: Task, endian: Endian) -> Self {
        TaskReader { task, endian }
    }

    /// The kernel instructions the names are read at; none means at the
    /// entry instruction.
    pub fn probes(&self) -> impl Iterator<Item = &Pattern> {
        self.task.probes.iter().map(|p| &p.pattern)
    }

    pub fn at_probes(&self) -> bool {
        !self.task.probes.is_empty()
    }

    /// The kernel instructions that read which task returns to user mode.
    pub fn return_probes(&self) -> impl Iterator<Item = &Pattern> {
        self.task.return_probes.iter().map(|p| &p.pattern)
    }

    pub fn has_return_probes(&self) -> bool {
        !self.task.return_probes.is_empty()
    }

    fn env(&self, at: ReadAt, current: Option<u64>) -> Env {
        let mut env = Env::new(self.endian).with_insn(at.insn);
        env.insn_addr = Some(at.addr);
        env.current = current;
        env
    }

    /// The kernel's pointer to the task (`current`), which keys the cache:
    /// `Some(0)` for a model that has none, which then reads every field
    /// each time it is asked. `None` when it cannot be read.
    pub fn current<C: Cpu + ?Sized>(&self, cpu: &C, at: ReadAt) -> Option<u64> {
        match &self.task.current {
            Some(expr) => eval(expr, cpu, &self.env(at, None)).filter(|&c| c != 0),
            None => Some(0),
        }
    }

    /// Every name, for the task `current` points at.
    pub fn names<C: Cpu + ?Sized>(&self, cpu: &C, at: ReadAt, current: u64) -> Option<TaskNames> {
        let env = self.env(at, self.task.current.as_ref().map(|_| current));
        let tid = eval(&self.task.tid, cpu, &env)? as i64;
        let pid = eval(&self.task.pid, cpu, &env)? as i64;
        let ppid = self
            .task
            .ppid
            .as_ref()
            .and_then(|e| eval(e, cpu, &env))
            .map(|v| v as i64);
        let comm = self.task.comm.as_ref().and_then(|c| {
            let addr = eval(&c.addr, cpu, &env)?;
            let mut buf = [0u8; 256];
            let want = (c.len as usize).min(buf.len());
            let got = cpu.read_mem(addr, &mut buf[..want]);
            (got > 0).then(|| Comm::new(&buf[..got]))
        });
        Some(TaskNames {
            tid,
            pid,
            ppid,
            comm,
        })
    }
}

/// Register identities kept at most as shared; past it they are
/// forgotten and found again.
const MAX_SHARED: usize = 4096;

/// The register identities (thread, process) that several live tasks were
/// seen calling with: threads started without a TLS of their own (Go's,
/// on most architectures) have their parent's. A call with one is never
/// named on trust: its task is read at a probe.
#[derive(Debug, Default)]
pub struct SharedIdentities {
    any: AtomicBool,
    keys: Mutex<HashSet<(u64, u64)>>,
}

impl SharedIdentities {
    pub fn contains(&self, key: (u64, u64)) -> bool {
        self.any.load(Ordering::Relaxed)
            && self
                .keys
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&key)
    }

    /// Whether `key` was not known shared before.
    pub fn insert(&self, key: (u64, u64)) -> bool {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if keys.len() >= MAX_SHARED {
            keys.clear();
        }
        self.any.store(true, Ordering::Relaxed);
        keys.insert(key)
    }
}

/// Probe hits taken from the last task's names without reading the guest
/// before one is checked by reading `current` again.
const VERIFY_EVERY: u32 = 16;
/// Uses of a cached task's names before they are read again: a command
/// name written through `/proc`, or a parent that exited, changes them
/// without a call of the task's own to say so.
const REFRESH_EVERY: u32 = 1024;
/// Tasks a vCPU keeps names for.
const CACHED_TASKS: usize = 16;

#[derive(Clone, Copy, Debug)]
struct Cached {
    current: u64,
    names: TaskNames,
    /// The register identity (thread, process) the task called with.
    key: (u64, u64),
    /// [`TaskCache::epoch`] when the names were read.
    epoch: u64,
    uses: u32,
    /// Whether other tasks call with `key` too ([`SharedIdentities`]).
    shared: bool,
}

/// One vCPU's tasks, by their kernel pointer. An entry is good while the
/// tracer's epoch is unchanged (it moves whenever a call may have created,
/// ended, renamed or replaced a task anywhere: fork, exit, exec, prctl)
/// and the task calls with the register identity it had.
#[derive(Debug, Default)]
pub struct TaskCache {
    /// Whether a call with the last call's register identity may be taken
    /// to come from the same task without reading `current`.
    trust_identity: bool,
    entries: Vec<Cached>,
    /// The entry the vCPU's last call used, and how many probes used it
    /// without reading `current` since it was checked.
    last: Option<(usize, u32)>,
}

impl TaskCache {
    /// `trust_identity`: the model's register identity tells tasks apart,
    /// which it cannot without an address space in it (a fork child calls
    /// with its parent's stack pointer and thread pointer); then `current`
    /// is read for every call.
    pub fn new(trust_identity: bool) -> Self {
        TaskCache {
            trust_identity,
            ..TaskCache::default()
        }
    }

    /// The names of the task calling with register identity `key`, read
    /// only where the cache cannot vouch for them, and whether they were
    /// read from the guest now. A call that may change which task calls
    /// with `key` next (`changes`: fork, exit, exec, prctl) leaves nothing
    /// for the next call to take on trust.
    #[allow(clippy::too_many_arguments)]
    pub fn names<C: Cpu + ?Sized>(
        &mut self,
        reader: &TaskReader,
        cpu: &C,
        at: ReadAt,
        key: (u64, u64),
        epoch: u64,
        changes: bool,
        shared: &SharedIdentities,
    ) -> Option<(TaskNames, bool)> {
        let names = self.lookup(reader, cpu, at, key, epoch, shared);
        if changes {
            self.distrust_last();
        }
        names
    }

    /// The last task's names, taken on trust without reading the guest,
    /// when it calls again with the same register identity and the cache
    /// may still vouch for it (it is checked every `VERIFY_EVERY` calls).
    pub fn trusted(&mut self, key: (u64, u64), epoch: u64) -> Option<TaskNames> {
        if !self.trust_identity {
            return None;
        }
        let (i, unchecked) = self.last?;
        let e = self.entries.get_mut(i)?;
        if e.key != key
            || e.epoch != epoch
            || e.shared
            || unchecked >= VERIFY_EVERY
            || e.uses >= REFRESH_EVERY
        {
            return None;
        }
        e.uses += 1;
        self.last = Some((i, unchecked + 1));
        Some(e.names)
    }

    /// After a call that may change which task calls with the last key
    /// (fork, exit, exec, prctl), nothing is left for the next call to take
    /// on trust.
    pub fn distrust_last(&mut self) {
        if let Some((i, _)) = self.last.take()
            && let Some(e) = self.entries.get_mut(i)
        {
            e.epoch = u64::MAX;
        }
    }

    fn lookup<C: Cpu + ?Sized>(
        &mut self,
        reader: &TaskReader,
        cpu: &C,
        at: ReadAt,
        key: (u64, u64),
        epoch: u64,
        shared: &SharedIdentities,
    ) -> Option<(TaskNames, bool)> {
        if let Some(names) = self.trusted(key, epoch) {
            return Some((names, false));
        }
        let current = reader.current(cpu, at)?;
        // Without `current` (0), the register identity alone tells tasks
        // apart.
        let same = |e: &Cached| e.current == current && (current != 0 || e.key == key);
        if let Some(i) = self.entries.iter().position(same) {
            let e = &mut self.entries[i];
            if e.key == key && e.epoch == epoch && e.uses < REFRESH_EVERY {
                e.uses += 1;
                self.last = Some((i, 0));
                return Some((e.names, false));
            }
        }
        let names = reader.names(cpu, at, current)?;
        let fresh = Cached {
            current,
            names,
            key,
            epoch,
            uses: 0,
            shared: shared.contains(key),
        };
        let i = match self.entries.iter().position(same) {
            Some(i) => i,
            None if self.entries.len() < CACHED_TASKS => {
                self.entries.push(fresh);
                self.entries.len() - 1
            }
            // The least used goes: the busiest tasks stay.
            None => (0..self.entries.len())
                .min_by_key(|&i| self.entries[i].uses)
                .unwrap_or(0),
        };
        self.entries[i] = fresh;
        self.last = Some((i, 0));
        Some((names, true))
    }

    /// The names of the task `current` points at, if they were read since
    /// the tracer's epoch last moved.
    pub fn names_of(&self, current: u64, epoch: u64) -> Option<TaskNames> {
        self.entries
            .iter()
            .find(|e| current != 0 && e.current == current && e.epoch == epoch)
            .map(|e| e.names)
    }

    /// The names the vCPU's next call will most likely have, if it calls
    /// with register identity `key`: for deciding, before decoding a call,
    /// whether a `pid=`, `comm=` or `follow=` filter drops it.
    pub fn predict(&self, key: (u64, u64), epoch: u64) -> Option<TaskNames> {
        let (i, _) = self.last?;
        let e = self.entries.get(i)?;
        (e.key == key && e.epoch == epoch).then_some(e.names)
    }
}
