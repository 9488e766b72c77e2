//! A successful exec's return, into a new image: the first exit on its
//! vCPU that returns 0 into another address space than the exec's.
//!
//! Without the guest's names that exit ends the vCPU's newest exec at
//! once. It may be another's: an interrupt's return to a task preempted
//! with 0 in its return register, or the exec of a sibling whose identity
//! is the exec's own (an exec frees its old address space before it
//! returns, and a task forked meanwhile with the same TLS pointer may get
//! the very page-table page). With names the return waits for the first
//! call with its identity, the new image's, whose task says whose exec
//! returned (an exec keeps its process's pid): that task's exec ends, or
//! none when it has none waiting (an interrupt's return, then).

use super::{Pending, Tracer, give_back_box};
use crate::os::{Backend, Cpu};
use crate::pending::PendingKey;
use crate::task::TaskNames;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Returns held at once; beyond, the oldest is let go, as an interrupt's
/// (an exec's new image calls right away).
const MAX_HELD: usize = 64;

/// An exit that may be an exec's return, waiting for the first call with
/// its identity.
struct HeldReturn {
    /// The exit's reading: the new image's thread, process and resume
    /// address.
    key: PendingKey,
    mechanism: usize,
    vcpu: u32,
    ret: Option<u64>,
    flag: Option<u64>,
    ts: u64,
}

#[derive(Default)]
pub(super) struct HeldExecs {
    held: Mutex<Vec<HeldReturn>>,
    /// `held.len()`, read without the lock at every named call.
    count: AtomicUsize,
}

impl HeldExecs {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<HeldReturn>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<B: Backend> Tracer<B> {
    /// An exit read as `key` returned 0 where no call waits with its
    /// identity: whether it ends an exec (at once, or once its new image
    /// is named).
    pub(super) fn exec_returned<C: Cpu + ?Sized>(
        &self,
        vcpu: u32,
        key: &PendingKey,
        mechanism: usize,
        flag: Option<u64>,
        cpu: &C,
    ) -> bool {
        // The task whose call last returned on this vCPU, no call entered
        // since, is still the one running here: an exit into it is an
        // interrupt's return (a fork child's exec pending on another vCPU
        // took its parent's that way), not an exec's into a new image.
        let own = self.slot(vcpu);
        if self.pending[own]
            .lock()
            .1
            .last_return
            .is_some_and(|r| r.thread == key.thread && r.process == key.process)
        {
            return false;
        }
        if self.names.is_none() {
            let Some(pending) = self.take_exec(vcpu, key, mechanism, None) else {
                return false;
            };
            self.stats.exec_returns.fetch_add(1, Ordering::Relaxed);
            self.finish(vcpu, pending, key, Some(0), flag, cpu);
            return true;
        }
        if !self.exec_waits(key, mechanism) {
            return false;
        }
        let held = HeldReturn {
            key: *key,
            mechanism,
            vcpu,
            ret: Some(0),
            flag,
            ts: self.clock.now(cpu),
        };
        let mut all = self.held_execs.lock();
        if all.len() >= MAX_HELD {
            all.remove(0);
        }
        all.push(held);
        self.held_execs.count.store(all.len(), Ordering::Release);
        true
    }

    /// Whether an exec waits for its return into another address space
    /// than `key`'s.
    fn exec_waits(&self, key: &PendingKey, mechanism: usize) -> bool {
        self.pending.iter().any(|slot| {
            let guard = slot.lock();
            let (table, state) = &*guard;
            state.execs.iter().any(|e| {
                e.process != key.process
                    && table
                        .iter()
                        .any(|(k, p)| k == e && p.mechanism == mechanism)
            })
        })
    }

    /// Takes the newest exec entered on `vcpu` (then on the others) that
    /// may return into `key`'s address space, of process `pid` if given.
    fn take_exec(
        &self,
        vcpu: u32,
        key: &PendingKey,
        mechanism: usize,
        pid: Option<i64>,
    ) -> Option<Pending> {
        for slot in self.slots_from(vcpu) {
            let mut guard = self.pending[slot].lock();
            let (table, state) = &mut *guard;
            // Newest first; an exec whose call left the table otherwise
            // (superseded, interrupted) is forgotten on the way.
            for i in (0..state.execs.len()).rev() {
                let exec_key = state.execs[i];
                if exec_key.process == key.process {
                    continue;
                }
                let taken = table.take_newest(|k, p| {
                    *k == exec_key
                        && p.mechanism == mechanism
                        && pid.is_none_or(|pid| p.names.is_some_and(|n| n.pid == pid))
                });
                if table.iter().all(|(k, _)| *k != exec_key) {
                    state.execs.remove(i);
                }
                if taken.is_some() {
                    self.pending[slot].sync(&mut guard);
                    return taken;
                }
            }
        }
        None
    }

    /// A call of `key` got its names: a return held for its identity ends
    /// the exec of its task's process first, if one waits; without names,
    /// the newest exec.
    pub(super) fn release_exec_returns<C: Cpu + ?Sized>(
        &self,
        key: &PendingKey,
        names: Option<&TaskNames>,
        cpu: &C,
    ) {
        if self.held_execs.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let mine: Vec<HeldReturn> = {
            let mut all = self.held_execs.lock();
            let (mine, rest) = std::mem::take(&mut *all)
                .into_iter()
                .partition(|h| (h.key.thread, h.key.process) == (key.thread, key.process));
            *all = rest;
            self.held_execs.count.store(all.len(), Ordering::Release);
            mine
        };
        for held in mine {
            self.end_held_exec(held, names.map(|n| n.pid), cpu);
        }
    }

    /// At the end of the trace: returns whose image never called are let
    /// go; their execs stay pending.
    pub(super) fn finish_held_execs(&self) {
        self.held_execs.lock().clear();
        self.held_execs.count.store(0, Ordering::Release);
    }

    fn end_held_exec<C: Cpu + ?Sized>(&self, held: HeldReturn, pid: Option<i64>, cpu: &C) {
        let Some(mut pending) = self.take_exec(held.vcpu, &held.key, held.mechanism, pid) else {
            return;
        };
        self.stats.exec_returns.fetch_add(1, Ordering::Relaxed);
        self.report_done(
            held.vcpu,
            &mut pending,
            &held.key,
            held.ret,
            held.flag,
            cpu,
            held.ts,
        );
        give_back_box(pending);
    }
}
