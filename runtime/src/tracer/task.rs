//! The tracer's side of the guest's names for tasks: a call is named at
//! its entry when its vCPU's last task calls again, and otherwise waits on
//! its vCPU until its task is read (at a kernel probe, right after the
//! entry),
//! a child's first return waits for the child's first call (only then is
//! it known who the child is) unless a return probe read the child
//! returning, and `follow=` grows its set of processes as followed ones
//! start others.

use super::shared::SharedCalls;
use super::threads::{LiveThreads, Thread};
use super::{PendingKey, Prepared, Tracer};
use crate::cpu::Cpu;
use crate::filter::FollowSet;
use crate::format::{EventKind, OwnedEvent};
use crate::os::{Backend, EntryInsn};
use crate::task::{ReadAt, SharedIdentities, TaskCache, TaskNames, TaskReader};
use crate::vcpu_lock::{VcpuGuard, VcpuLock};
use osm_model::Syscall;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};

/// Children's first returns held at once; beyond this the oldest is shown
/// without names.
const HELD_LIMIT: usize = 256;
/// Children not named yet kept at most; beyond this the oldest is
/// forgotten (its parent's calls are named on trust again).
const UNSEEN_LIMIT: usize = 256;

/// What one vCPU alone touches: its call waiting for a probe, and its
/// cache of tasks.
struct Local {
    parked: Option<Prepared>,
    cache: TaskCache,
    /// The names of the task a return probe last read.
    returning: Option<TaskNames>,
}

/// A vCPU's [`Local`], on cache lines of its own, and whether a call is
/// parked there: a probe or an exit with none to name (every other kernel
/// entry also runs the probe) looks no further.
#[repr(align(128))]
struct LocalSlot {
    local: VcpuLock<Local>,
    parked: AtomicBool,
    /// The task a return probe read since the vCPU's last exit
    /// instruction, or [`NO_TASK`].
    returning: AtomicI64,
    /// The task whose return the vCPU's last exit instruction was, as a
    /// return probe read it, or [`NO_TASK`].
    returned_by: AtomicI64,
}

/// No task read (a thread id is never negative).
const NO_TASK: i64 = i64::MIN;

impl LocalSlot {
    fn new(trust_identity: bool) -> Self {
        LocalSlot {
            local: VcpuLock::new(Local {
                parked: None,
                cache: TaskCache::new(trust_identity),
                returning: None,
            }),
            parked: AtomicBool::new(false),
            returning: AtomicI64::new(NO_TASK),
            returned_by: AtomicI64::new(NO_TASK),
        }
    }

    fn lock(&self) -> VcpuGuard<'_, Local> {
        self.local.lock()
    }

    /// The parked call, if any (only the vCPU's own thread parks one).
    fn take(&self) -> Option<Prepared> {
        if !self.parked.load(Ordering::Relaxed) {
            return None;
        }
        self.parked.store(false, Ordering::Relaxed);
        self.lock().parked.take()
    }
}

pub(super) struct Names {
    reader: TaskReader,
    locals: Vec<LocalSlot>,
    /// Moves whenever a call may create, end, rename or replace a task
    /// (fork, exit, exec, prctl): cached names older than it are read
    /// again.
    epoch: AtomicU64,
    /// Children's first returns, by the child's (thread, process), until
    /// the child's first call names it.
    held: Mutex<Vec<((u64, u64), OwnedEvent)>>,
    held_count: AtomicUsize,
    follow: Option<FollowSet>,
    live: LiveThreads,
    /// The register identities several live tasks call with.
    shared_identities: SharedIdentities,
    /// Children not named yet, by the identity their parent called with.
    unseen: Mutex<Vec<((u64, u64), i64)>>,
    unseen_count: AtomicUsize,
    /// With return probes: the pending calls whose return only the
    /// returning task tells (see [`SharedCalls`]).
    shared: Option<SharedCalls>,
}

impl Names {
    pub(super) fn new(
        reader: TaskReader,
        vcpus: usize,
        trust_identity: bool,
        follow: Option<Vec<glob::Pattern>>,
    ) -> Self {
        Names {
            locals: (0..vcpus.max(1))
                .map(|_| LocalSlot::new(trust_identity))
                .collect(),
            epoch: AtomicU64::new(0),
            held: Mutex::new(Vec::new()),
            held_count: AtomicUsize::new(0),
            follow: follow.map(FollowSet::new),
            live: LiveThreads::default(),
            shared_identities: SharedIdentities::default(),
            unseen: Mutex::new(Vec::new()),
            unseen_count: AtomicUsize::new(0),
            shared: reader.has_return_probes().then(SharedCalls::default),
            reader,
        }
    }

    pub(super) fn reader(&self) -> &TaskReader {
        &self.reader
    }

    fn local(&self, vcpu: u32) -> &LocalSlot {
        &self.locals[vcpu as usize % self.locals.len()]
    }

    /// A call of any task entered: one that may change which tasks exist
    /// or what they are called makes every cached name suspect. Returns
    /// whether it is such a call.
    pub(super) fn entered(&self, syscall: Option<&Syscall>) -> bool {
        let changes = syscall.is_some_and(|s| s.noreturn || s.returns_twice || s.exec || s.renames);
        if changes {
            self.epoch.fetch_add(1, Ordering::Relaxed);
        }
        changes
    }

    /// Whether a names filter drops the call about to be read, judging by
    /// the vCPU's last task, which most likely makes it.
    pub(super) fn predicted_out<B: Backend>(
        &self,
        tracer: &Tracer<B>,
        vcpu: u32,
        key: &PendingKey,
    ) -> bool {
        if !tracer.filter.by_names() {
            return false;
        }
        let epoch = self.epoch.load(Ordering::Relaxed);
        let Some(n) = self
            .local(vcpu)
            .lock()
            .cache
            .predict((key.thread, key.process), epoch)
        else {
            return false;
        };
        !tracer.filter.names_ok(Some(&n)) || self.follow.as_ref().is_some_and(|f| !f.matches(&n))
    }

    /// A call read at its entry instruction: named there, or parked until
    /// the vCPU reaches a probe.
    pub(super) fn arrived<B: Backend, C: Cpu + ?Sized>(
        &self,
        tracer: &Tracer<B>,
        vcpu: u32,
        call: Prepared,
        insn: &EntryInsn,
        cpu: &C,
    ) {
        if !self.reader.at_probes() {
            let at = ReadAt {
                insn: insn.value,
                addr: insn.pc,
            };
            let names = self.read(vcpu, at, &call, cpu);
            return self.named(tracer, vcpu, call, names, cpu);
        }
        let slot = self.local(vcpu);
        let mut local = slot.lock();
        // The same task calling again: named now, without waiting for a
        // probe.
        let key = (call.key.thread, call.key.process);
        let epoch = self.epoch.load(Ordering::Relaxed);
        if self.child_unseen(key) {
            local.cache.distrust_last();
        }
        if let Some(names) = local.cache.trusted(key, epoch) {
            if call.changes_tasks {
                local.cache.distrust_last();
            }
            drop(local);
            return self.named(tracer, vcpu, call, Some(names), cpu);
        }
        let earlier = local.parked.replace(call);
        drop(local);
        slot.parked.store(true, Ordering::Relaxed);
        // The previous call never reached a probe (a kernel path the
        // model's probes miss): it goes on without names.
        if let Some(earlier) = earlier {
            self.named(tracer, vcpu, earlier, None, cpu);
        }
    }

    /// Whether a call waits on `vcpu` for a probe, or return probes are
    /// to read which task returns.
    pub(super) fn awaits_probe(&self, vcpu: u32) -> bool {
        self.local(vcpu).parked.load(Ordering::Relaxed) || self.awaits_return_probes()
    }

    /// Whether return probes are to read which task returns.
    pub(super) fn awaits_return_probes(&self) -> bool {
        self.shared.as_ref().is_some_and(SharedCalls::any)
    }

    /// With return probes: the count of pending calls whose return only
    /// the returning task tells.
    pub(super) fn shared(&self) -> Option<&SharedCalls> {
        self.shared.as_ref()
    }

    /// At a return probe: while calls of different tasks have one
    /// identity, which task is returning on `vcpu`.
    pub(super) fn return_probe<C: Cpu + ?Sized>(&self, vcpu: u32, at: ReadAt, cpu: &C) {
        if !self.shared.as_ref().is_some_and(SharedCalls::any) {
            return;
        }
        let Some(current) = self.reader.current(cpu, at) else {
            return;
        };
        let slot = self.local(vcpu);
        let epoch = self.epoch.load(Ordering::Relaxed);
        let mut local = slot.lock();
        let names = local.cache.names_of(current, epoch);
        if let Some(names) = names.or_else(|| self.reader.names(cpu, at, current)) {
            local.returning = Some(names);
            slot.returning.store(names.tid, Ordering::Relaxed);
        }
    }

    /// At an exit instruction: the task a return probe read since the
    /// previous one is the one returning. An exit with none before it (a
    /// TLB refill's `eret`) returns to the task already running, so the
    /// last one read stands (while any call is counted).
    pub(super) fn exiting(&self, vcpu: u32) {
        let Some(shared) = &self.shared else {
            return;
        };
        // Only the vCPU's own thread writes its slot: plain loads and
        // stores, no locked instruction on every exit.
        let slot = self.local(vcpu);
        let tid = slot.returning.load(Ordering::Relaxed);
        if tid != NO_TASK {
            slot.returning.store(NO_TASK, Ordering::Relaxed);
        }
        if (tid != NO_TASK || !shared.any()) && slot.returned_by.load(Ordering::Relaxed) != tid {
            slot.returned_by.store(tid, Ordering::Relaxed);
        }
    }

    /// The task the vCPU's last exit instruction returned to, while calls
    /// of different tasks have one identity and a return probe read it.
    pub(super) fn returned_by(&self, vcpu: u32) -> Option<i64> {
        if !self.shared.as_ref()?.any() {
            return None;
        }
        let tid = self.local(vcpu).returned_by.load(Ordering::Relaxed);
        (tid != NO_TASK).then_some(tid)
    }

    /// The names of the task the vCPU's last exit instruction returned to,
    /// where [`Names::returned_by`] knows it.
    pub(super) fn returned_names(&self, vcpu: u32) -> Option<TaskNames> {
        let tid = self.returned_by(vcpu)?;
        self.local(vcpu).lock().returning.filter(|n| n.tid == tid)
    }

    /// At a probe: the vCPU's parked call, if any, gets its task's names.
    pub(super) fn probe<B: Backend, C: Cpu + ?Sized>(
        &self,
        tracer: &Tracer<B>,
        vcpu: u32,
        at: ReadAt,
        cpu: &C,
    ) {
        let slot = self.local(vcpu);
        if !slot.parked.load(Ordering::Relaxed) {
            return;
        }
        slot.parked.store(false, Ordering::Relaxed);
        let epoch = self.epoch.load(Ordering::Relaxed);
        let mut local = slot.lock();
        let Some(call) = local.parked.take() else {
            return;
        };
        let names = self.cached_names(&mut local, cpu, at, &call, epoch);
        drop(local);
        let names = self.noted((call.key.thread, call.key.process), names);
        self.named(tracer, vcpu, call, names, cpu);
    }

    /// The vCPU's parked call goes on without names: an exit came before
    /// any probe.
    pub(super) fn unpark<B: Backend, C: Cpu + ?Sized>(
        &self,
        tracer: &Tracer<B>,
        vcpu: u32,
        cpu: &C,
    ) {
        if let Some(call) = self.local(vcpu).take() {
            self.named(tracer, vcpu, call, None, cpu);
        }
    }

    fn read<C: Cpu + ?Sized>(
        &self,
        vcpu: u32,
        at: ReadAt,
        call: &Prepared,
        cpu: &C,
    ) -> Option<TaskNames> {
        let epoch = self.epoch.load(Ordering::Relaxed);
        let mut local = self.local(vcpu).lock();
        let names = self.cached_names(&mut local, cpu, at, call, epoch);
        drop(local);
        self.noted((call.key.thread, call.key.process), names)
    }

    /// The names of `call`'s task from the vCPU's cache, read from the
    /// guest where the cache cannot vouch for them (and whether they were).
    fn cached_names<C: Cpu + ?Sized>(
        &self,
        local: &mut Local,
        cpu: &C,
        at: ReadAt,
        call: &Prepared,
        epoch: u64,
    ) -> Option<(TaskNames, bool)> {
        let key = (call.key.thread, call.key.process);
        if self.child_unseen(key) {
            local.cache.distrust_last();
        }
        local.cache.names(
            &self.reader,
            cpu,
            at,
            key,
            epoch,
            call.changes_tasks,
            &self.shared_identities,
        )
    }

    /// Names read from the guest just now are a thread's known alive. An
    /// identity found shared moves the epoch, so that no vCPU names a
    /// call with it on trust again.
    fn noted(&self, key: (u64, u64), names: Option<(TaskNames, bool)>) -> Option<TaskNames> {
        let (names, read_now) = names?;
        if read_now {
            self.seen(names.tid);
            if self.live.noted(key, names) && self.shared_identities.insert(key) {
                self.epoch.fetch_add(1, Ordering::Relaxed);
            }
        }
        Some(names)
    }

    /// A successful exec of the task with `names`, entered in address
    /// space `process`, replaced its process's threads there: those known
    /// alive (the caller among them), which are forgotten.
    pub(super) fn exec_replaced(&self, names: &TaskNames, process: u64) -> Vec<Thread> {
        self.live.image_replaced(names.pid, process)
    }

    /// A call of the task with `names` ends its thread (`whole_process`:
    /// its process): those known alive (the caller among them), which
    /// are forgotten.
    pub(super) fn ending(&self, names: &TaskNames, whole_process: bool) -> Vec<Thread> {
        if whole_process {
            return self.live.process_ended(names.pid);
        }
        self.live.thread_ended(names.tid);
        Vec::new()
    }

    /// A process ended by a signal: its threads known alive, forgotten.
    pub(super) fn killed(&self, pid: i64) -> Vec<Thread> {
        self.live.process_ended(pid)
    }

    fn named<B: Backend, C: Cpu + ?Sized>(
        &self,
        tracer: &Tracer<B>,
        vcpu: u32,
        mut call: Prepared,
        names: Option<TaskNames>,
        cpu: &C,
    ) {
        if names.is_none() {
            tracer.stats.unnamed.fetch_add(1, Ordering::Relaxed);
        }
        tracer.complete_entry(vcpu, &mut call, names, cpu);
    }

    /// `follow=` for a call of a task with these names: whether it is
    /// traced ([`FollowSet::call`]).
    pub(super) fn follows(&self, names: Option<&TaskNames>, syscall: Option<&Syscall>) -> bool {
        self.follow
            .as_ref()
            .is_none_or(|f| f.call(names, syscall.is_some_and(|s| s.noreturn)))
    }

    /// A fork or clone of a task with names `parent`, calling as `key`,
    /// returned `child`. Until the child is named, a call as `key` is not
    /// named on trust: the child may call with it (a thread made without
    /// a TLS of its own).
    pub(super) fn forked(&self, key: (u64, u64), parent: Option<&TaskNames>, child: i64) {
        if let (Some(follow), Some(parent)) = (&self.follow, parent) {
            follow.forked(parent, child);
        }
        let mut unseen = self.unseen.lock().unwrap_or_else(|e| e.into_inner());
        if unseen.len() >= UNSEEN_LIMIT {
            unseen.remove(0);
        }
        unseen.push((key, child));
        self.unseen_count.store(unseen.len(), Ordering::Relaxed);
    }

    /// Whether several live tasks were seen calling as `key`.
    pub(super) fn identity_shared(&self, key: (u64, u64)) -> bool {
        self.shared_identities.contains(key)
    }

    /// Whether a child forked by a task calling as `key` is not named yet.
    fn child_unseen(&self, key: (u64, u64)) -> bool {
        self.unseen_count.load(Ordering::Relaxed) != 0
            && self
                .unseen
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .any(|(k, _)| *k == key)
    }

    /// Task `tid` was named: no longer a child not seen.
    fn seen(&self, tid: i64) {
        if self.unseen_count.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut unseen = self.unseen.lock().unwrap_or_else(|e| e.into_inner());
        unseen.retain(|(_, child)| *child != tid);
        self.unseen_count.store(unseen.len(), Ordering::Relaxed);
    }

    /// An event of the thread with identity `key` whose names show at its
    /// next call: a child's first return, a signal that interrupted user
    /// code.
    pub(super) fn hold(&self, key: (u64, u64), event: OwnedEvent) -> Option<OwnedEvent> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let evicted = (held.len() >= HELD_LIMIT).then(|| held.remove(0).1);
        held.push((key, event));
        self.held_count.store(held.len(), Ordering::Release);
        evicted
    }

    /// A call of `key` got its names: a child's first return held for it
    /// comes first, with the same names.
    pub(super) fn release_children<B: Backend>(
        &self,
        tracer: &Tracer<B>,
        key: &PendingKey,
        names: Option<&TaskNames>,
    ) {
        if self.held_count.load(Ordering::Acquire) == 0 {
            return;
        }
        let released: Vec<OwnedEvent> = {
            let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
            let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut *held)
                .into_iter()
                .partition(|(k, _)| *k == (key.thread, key.process));
            *held = rest;
            self.held_count.store(held.len(), Ordering::Release);
            mine.into_iter().map(|(_, e)| e).collect()
        };
        for mut event in released {
            event.task = names.copied();
            if tracer.filter.names_ok(names) && self.follows(names, None) {
                tracer.emit_counted(&event.as_event(), event.kind == EventKind::Exit);
            }
        }
    }

    /// At the end of the trace: parked calls and held returns go out
    /// without names.
    pub(super) fn finish<B: Backend>(&self, tracer: &Tracer<B>) {
        let none = crate::cpu::SnapshotCpu::new();
        for vcpu in 0..self.locals.len() {
            self.unpark(tracer, vcpu as u32, &none);
        }
        let held = std::mem::take(&mut *self.held.lock().unwrap_or_else(|e| e.into_inner()));
        self.held_count.store(0, Ordering::Release);
        for (_, event) in held {
            if tracer.filter.names_ok(None) && self.follow.is_none() {
                tracer.emit_counted(&event.as_event(), event.kind == EventKind::Exit);
            }
        }
    }
}
