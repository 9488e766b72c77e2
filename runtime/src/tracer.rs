//! The tracer: what happens at an entry or exit instruction, for any model.
//! It is independent of QEMU (the plugin glue in `plugin` calls it with a
//! `QemuCpu`; tests call it with a `SnapshotCpu`).
//!
//! Pairing an exit with its call: kernel return instructions also end
//! interrupts and faults, so an exit counts only when its (thread, process,
//! resume address) matches a pending call. Then, in order:
//! - a call marked `returns_twice` also matches a return at the same resume
//!   address with 0 in another thread or process: the child's return;
//! - a call whose thread identity changed during the call (`arch_prctl`,
//!   `set_tls` set the very register that names the thread) matches on
//!   (process, resume) alone when that is unambiguous on this vCPU;
//! - a successful `exec` returns into a new image: it matches the first
//!   exit on its vCPU that returns 0 into another address space;
//! - `sigreturn` returns into the context the signal interrupted: it
//!   matches the next exit of its thread on its vCPU. A call of that thread
//!   still pending when the handler calls `sigreturn` was interrupted by the
//!   signal: its return went to the handler, unseen, and it is shown as
//!   returning `?`. (If the kernel restarts it, it is entered again.)

use crate::decode::{self, Arg, DecodeOptions};
use crate::format::{Event, EventKind, Formatter};
use crate::os::{Backend, Cpu, Entry};
use crate::pending::{PendingKey, PendingTable};
use osm_compiler::model::{IntFormat, Model, Syscall, Ty};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Calls that may wait in the kernel at once per vCPU table; the oldest is
/// dropped (and counted) beyond this.
pub const PENDING_PER_VCPU: usize = 1024;
/// Returns-twice calls whose parent has returned, kept for the child.
const RECENT_TWICE: usize = 64;

/// Where formatted trace text goes.
pub type Sink = Box<dyn FnMut(&str) + Send>;

#[derive(Clone, Debug)]
struct Pending {
    mechanism: usize,
    entry: Entry,
    args: Vec<Arg>,
}

#[derive(Default)]
struct VcpuState {
    /// The last exec call entered on this vCPU, waiting for its return into
    /// a new image.
    exec: Option<PendingKey>,
    /// The last sigreturn call entered on this vCPU.
    sigreturn: Option<PendingKey>,
    /// Returns-twice calls whose first return has been seen.
    recent_twice: Vec<(PendingKey, Pending)>,
}

struct Output {
    formatter: Formatter,
    sink: Sink,
}

/// Counts for the end-of-run report.
#[derive(Debug, Default)]
pub struct Stats {
    pub entries: AtomicU64,
    pub exits: AtomicU64,
    pub unreadable_entries: AtomicU64,
    pub child_returns: AtomicU64,
    pub exec_returns: AtomicU64,
    pub rekeyed_returns: AtomicU64,
    pub interrupted: AtomicU64,
    pub dropped_pending: AtomicU64,
}

pub struct Tracer<B: Backend> {
    backend: B,
    model: Model,
    options: DecodeOptions,
    pending: Vec<Mutex<(PendingTable<Pending>, VcpuState)>>,
    /// Total pending calls: lets an exit with nothing pending (an interrupt
    /// return while no call waits) return at once.
    pending_count: AtomicUsize,
    /// Returns-twice calls whose parent returned and whose child has not.
    children_awaited: AtomicUsize,
    output: Mutex<Output>,
    pub stats: Stats,
}

impl<B: Backend> Tracer<B> {
    pub fn new(backend: B, model: Model, vcpus: usize, formatter: Formatter, sink: Sink) -> Self {
        let pending = (0..vcpus.max(1))
            .map(|_| Mutex::new((PendingTable::new(PENDING_PER_VCPU), VcpuState::default())))
            .collect();
        Tracer {
            backend,
            model,
            options: DecodeOptions::default(),
            pending,
            pending_count: AtomicUsize::new(0),
            children_awaited: AtomicUsize::new(0),
            output: Mutex::new(Output { formatter, sink }),
            stats: Stats::default(),
        }
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    fn slot(&self, vcpu: u32) -> usize {
        vcpu as usize % self.pending.len()
    }

    fn syscall(&self, entry: &Entry) -> Option<&Syscall> {
        let table = self.model.tables.get(entry.table as usize)?;
        table.syscalls.get(entry.syscall?)
    }

    fn name(&self, entry: &Entry) -> String {
        match self.syscall(entry) {
            Some(s) => s.name.clone(),
            None => format!("syscall_{:#x}", entry.number),
        }
    }

    fn emit(&self, event: &Event) {
        let mut out = self.output.lock().unwrap_or_else(|e| e.into_inner());
        let mut text = String::new();
        out.formatter.event(event, &mut text);
        if !text.is_empty() {
            (out.sink)(&text);
        }
    }

    /// At an entry instruction of `mechanism`, at `pc`, `insn_len` bytes long.
    pub fn on_entry<C: Cpu + ?Sized>(
        &self,
        vcpu: u32,
        mechanism: usize,
        pc: u64,
        insn_len: u64,
        cpu: &C,
    ) {
        let mut entry = Entry::default();
        if self.backend.entry(mechanism, cpu, &mut entry).is_none() {
            self.stats
                .unreadable_entries
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.stats.entries.fetch_add(1, Ordering::Relaxed);
        let raw: Vec<Option<u64>> = (0..entry.args.len()).map(|i| entry.args.get(i)).collect();
        let syscall = self.syscall(&entry);
        let args = match syscall {
            Some(s) => decode::decode_entry_args(&self.model, s, &raw, cpu, &self.options),
            None => unknown_args(&raw),
        };
        let event = Event {
            kind: EventKind::Entry,
            vcpu,
            thread: entry.thread,
            process: entry.process,
            nr: entry.number,
            name: self.name(&entry),
            args: args.clone(),
            ret: None,
        };
        let sigreturn = syscall.is_some_and(|s| s.sigreturn);
        if sigreturn {
            // Before the sigreturn line: the interrupted call ended first.
            self.finish_interrupted(vcpu, entry.thread, entry.process);
        }
        self.emit(&event);
        if syscall.is_some_and(|s| s.noreturn) {
            // Shown at once as not returning: nothing will pair with it.
            self.emit(&Event {
                kind: EventKind::Exit,
                ..event
            });
            return;
        }
        let key = PendingKey {
            thread: entry.thread,
            process: entry.process,
            resume: pc.wrapping_add(insn_len),
        };
        let exec = syscall.is_some_and(|s| s.exec);
        let slot = self.slot(vcpu);
        let mut guard = self.pending[slot].lock().unwrap_or_else(|e| e.into_inner());
        let (table, state) = &mut *guard;
        state.exec = if exec { Some(key) } else { None };
        state.sigreturn = if sigreturn { Some(key) } else { None };
        match table.insert(
            key,
            Pending {
                mechanism,
                entry,
                args,
            },
        ) {
            None => {
                self.pending_count.fetch_add(1, Ordering::Relaxed);
            }
            Some(_) => {
                self.stats.dropped_pending.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// At an exit instruction matching `exits` (indices into the backend's exits).
    pub fn on_exit<C: Cpu + ?Sized>(&self, vcpu: u32, exits: &[usize], cpu: &C) {
        if self.pending_count.load(Ordering::Relaxed) == 0
            && self.children_awaited.load(Ordering::Relaxed) == 0
        {
            return;
        }
        for &exit in exits {
            let Some(values) = self.backend.exit(exit, cpu) else {
                continue;
            };
            let mechanism = self.backend.exits().get(exit).map_or(0, |(m, _)| *m);
            let key = PendingKey {
                thread: values.thread,
                process: values.process,
                resume: values.resume,
            };
            let ret = values.ret;
            if let Some(pending) = self.take_exact(vcpu, &key) {
                self.finish(vcpu, pending, &key, ret, values.error_flag, cpu);
                return;
            }
            if ret == Some(0)
                && let Some(pending) = self.child_of(&key)
            {
                self.stats.child_returns.fetch_add(1, Ordering::Relaxed);
                self.report_exit(vcpu, &pending, &key, ret, values.error_flag, cpu);
                return;
            }
            if let Some(pending) = self.take_sigreturn(vcpu, &key) {
                self.finish(vcpu, pending, &key, ret, values.error_flag, cpu);
                return;
            }
            if let Some(pending) = self.take_rekeyed(vcpu, &key, mechanism) {
                self.stats.rekeyed_returns.fetch_add(1, Ordering::Relaxed);
                self.finish(vcpu, pending, &key, ret, values.error_flag, cpu);
                return;
            }
            if ret == Some(0)
                && let Some(pending) = self.take_exec(vcpu, &key)
            {
                self.stats.exec_returns.fetch_add(1, Ordering::Relaxed);
                self.finish(vcpu, pending, &key, ret, values.error_flag, cpu);
                return;
            }
        }
    }

    fn take_exact(&self, vcpu: u32, key: &PendingKey) -> Option<Pending> {
        // The caller's own vCPU first; a thread that blocked may resume on
        // another one.
        let own = self.slot(vcpu);
        let order = std::iter::once(own).chain((0..self.pending.len()).filter(move |&s| s != own));
        for slot in order {
            let mut guard = self.pending[slot].lock().unwrap_or_else(|e| e.into_inner());
            if let Some(p) = guard.0.take(key) {
                if guard.1.exec == Some(*key) {
                    guard.1.exec = None;
                }
                if guard.1.sigreturn == Some(*key) {
                    guard.1.sigreturn = None;
                }
                self.pending_count.fetch_sub(1, Ordering::Relaxed);
                return Some(p);
            }
        }
        None
    }

    /// A child's first return from fork/clone: same resume address, another
    /// thread or process, its parent's call pending or recently returned.
    fn child_of(&self, key: &PendingKey) -> Option<Pending> {
        for slot in 0..self.pending.len() {
            let mut guard = self.pending[slot].lock().unwrap_or_else(|e| e.into_inner());
            let (table, state) = &mut *guard;
            if let Some(i) = state.recent_twice.iter().position(|(k, _)| {
                k.resume == key.resume && (k.thread != key.thread || k.process != key.process)
            }) {
                self.children_awaited.fetch_sub(1, Ordering::Relaxed);
                return Some(state.recent_twice.swap_remove(i).1);
            }
            let found = table.iter().find(|(k, p)| {
                k.resume == key.resume
                    && (k.thread != key.thread || k.process != key.process)
                    && self.syscall(&p.entry).is_some_and(|s| s.returns_twice)
            });
            if let Some((_, p)) = found {
                return Some(p.clone());
            }
        }
        None
    }

    fn take_rekeyed(&self, vcpu: u32, key: &PendingKey, mechanism: usize) -> Option<Pending> {
        let mut guard = self.pending[self.slot(vcpu)]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let table = &mut guard.0;
        let mut candidates = table
            .iter()
            .filter(|(k, p)| {
                k.process == key.process && k.resume == key.resume && p.mechanism == mechanism
            })
            .map(|(k, _)| *k);
        let (Some(found), None) = (candidates.next(), candidates.next()) else {
            return None;
        };
        drop(candidates);
        let taken = table.take(&found);
        if taken.is_some() {
            self.pending_count.fetch_sub(1, Ordering::Relaxed);
        }
        taken
    }

    /// Calls of the thread still pending when it enters sigreturn: the
    /// signal interrupted them.
    fn finish_interrupted(&self, vcpu: u32, thread: u64, process: u64) {
        let mut interrupted = Vec::new();
        for slot in 0..self.pending.len() {
            let mut guard = self.pending[slot].lock().unwrap_or_else(|e| e.into_inner());
            let keys: Vec<PendingKey> = guard
                .0
                .iter()
                .filter(|(k, _)| k.thread == thread && k.process == process)
                .map(|(k, _)| *k)
                .collect();
            for k in keys {
                if let Some(p) = guard.0.take(&k) {
                    self.pending_count.fetch_sub(1, Ordering::Relaxed);
                    interrupted.push((k, p));
                }
            }
        }
        for (k, p) in interrupted {
            self.stats.interrupted.fetch_add(1, Ordering::Relaxed);
            self.report_exit(vcpu, &p, &k, None, None, &crate::cpu::SnapshotCpu::new());
        }
    }

    fn take_sigreturn(&self, vcpu: u32, key: &PendingKey) -> Option<Pending> {
        let mut guard = self.pending[self.slot(vcpu)]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let sigreturn_key = guard.1.sigreturn?;
        if sigreturn_key.thread != key.thread || sigreturn_key.process != key.process {
            return None;
        }
        guard.1.sigreturn = None;
        let taken = guard.0.take(&sigreturn_key);
        if taken.is_some() {
            self.pending_count.fetch_sub(1, Ordering::Relaxed);
        }
        taken
    }

    fn take_exec(&self, vcpu: u32, key: &PendingKey) -> Option<Pending> {
        let mut guard = self.pending[self.slot(vcpu)]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let exec_key = guard.1.exec?;
        if exec_key.process == key.process {
            return None;
        }
        guard.1.exec = None;
        let taken = guard.0.take(&exec_key);
        if taken.is_some() {
            self.pending_count.fetch_sub(1, Ordering::Relaxed);
        }
        taken
    }

    fn finish<C: Cpu + ?Sized>(
        &self,
        vcpu: u32,
        pending: Pending,
        key: &PendingKey,
        ret: Option<u64>,
        flag: Option<u64>,
        cpu: &C,
    ) {
        self.report_exit(vcpu, &pending, key, ret, flag, cpu);
        if self
            .syscall(&pending.entry)
            .is_some_and(|s| s.returns_twice)
            && ret != Some(0)
        {
            let slot = self.slot(vcpu);
            let mut guard = self.pending[slot].lock().unwrap_or_else(|e| e.into_inner());
            let recent = &mut guard.1.recent_twice;
            if recent.len() >= RECENT_TWICE {
                recent.remove(0);
            } else {
                self.children_awaited.fetch_add(1, Ordering::Relaxed);
            }
            let parent_key = PendingKey {
                thread: pending.entry.thread,
                process: pending.entry.process,
                resume: key.resume,
            };
            recent.push((parent_key, pending));
        }
    }

    fn report_exit<C: Cpu + ?Sized>(
        &self,
        vcpu: u32,
        pending: &Pending,
        key: &PendingKey,
        ret: Option<u64>,
        flag: Option<u64>,
        cpu: &C,
    ) {
        self.stats.exits.fetch_add(1, Ordering::Relaxed);
        let mechanism =
            &self.model.mechanisms[pending.mechanism.min(self.model.mechanisms.len() - 1)];
        let syscall = self.syscall(&pending.entry);
        let mut args = pending.args.clone();
        let ret = ret.map(|raw| {
            let errno = decode::error_number(&self.model, &mechanism.error, raw, flag);
            if let Some(s) = syscall {
                let written = if errno.is_none() { Some(raw) } else { None };
                decode::decode_exit_args(&self.model, s, &mut args, written, cpu, &self.options);
            }
            // A call the model does not know returns a plain number.
            let unknown = Ty::Int {
                bytes: (self.model.bits / 8) as u8,
                signed: true,
                format: IntFormat::Dec,
            };
            let ty = syscall.map_or(&unknown, |s| &s.ret);
            decode::decode_return(&self.model, ty, raw, errno)
        });
        self.emit(&Event {
            kind: EventKind::Exit,
            vcpu,
            thread: key.thread,
            process: key.process,
            nr: pending.entry.number,
            name: self.name(&pending.entry),
            args,
            ret,
        });
    }

    /// At the end of the run: what is still held back, and the counts.
    pub fn finish_trace(&self) -> String {
        let mut out = self.output.lock().unwrap_or_else(|e| e.into_inner());
        let mut text = String::new();
        out.formatter.finish(&mut text);
        if !text.is_empty() {
            (out.sink)(&text);
        }
        let s = &self.stats;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        format!(
            "osmtrace: {} entries, {} exits paired ({} child returns, {} exec returns, {} after an identity change, {} interrupted by signals), {} still pending, {} unreadable entries, {} pending calls dropped\n",
            load(&s.entries),
            load(&s.exits),
            load(&s.child_returns),
            load(&s.exec_returns),
            load(&s.rekeyed_returns),
            load(&s.interrupted),
            self.pending_count.load(Ordering::Relaxed),
            load(&s.unreadable_entries),
            load(&s.dropped_pending),
        )
    }
}

/// Arguments of a call the model does not know: raw values in hex.
fn unknown_args(raw: &[Option<u64>]) -> Vec<Arg> {
    raw.iter()
        .enumerate()
        .map(|(i, v)| Arg {
            name: format!("arg{i}"),
            type_name: "hex".to_string(),
            dir: osm_compiler::model::Direction::In,
            raw: *v,
            text: v.map_or_else(|| "?".to_string(), |v| format!("{v:#x}")),
        })
        .collect()
}
