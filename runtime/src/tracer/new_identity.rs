//! Returns with an identity no pending call entered with: a successful
//! exec's, into its new image (the first exit on its vCPU that returns 0
//! into another address space than the exec's), and a call's that set the
//! very register naming its thread (`arch_prctl(ARCH_SET_FS)`, `set_tls`),
//! into its process at the call's resume address.
//!
//! Without the guest's names an exec's return ends the vCPU's newest exec
//! at once, and an identity change pairs only with the vCPU's last entry
//! (`take_rekeyed`). Either may be another task's: an interrupt's return
//! to a task preempted with 0 in its return register, the exec of a task
//! whose identity is the exec's own (an exec frees its old address space
//! before it returns, and a task forked meanwhile with the same TLS pointer
//! may get the very page-table page), execs that systemd starts in
//! parallel and that return in another order, two processes changing
//! their identity while their ptrace tracer's calls run. With names the
//! return waits for the first call with its identity, whose task says
//! whose call returned: that thread's pending call in the same process
//! returning there, else an exec of that task's process (an exec keeps its
//! pid), else none (an interrupt's return). With the model's return probes
//! the returning task is known at the exit itself: a return of 0 ends its
//! exec at once, in whatever address space (MIPS's models have none).

use super::{Pending, Tracer, give_back_box};
use crate::os::{Backend, Cpu};
use crate::pending::PendingKey;
use crate::task::TaskNames;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Returns held at once; beyond, the oldest is let go, as an interrupt's
/// (a new image, or a thread that just set its TLS, calls right away).
const MAX_HELD: usize = 64;

/// An exit that may end a call whose identity changed, waiting for the
/// first call with its identity.
struct HeldReturn {
    /// The exit's reading: the new thread, process and resume address.
    key: PendingKey,
    /// A thread's call may have returned with a new identity: the first
    /// call with the exact identity (thread and process) decides. Else
    /// only an exec may have, and the first call in the new address space
    /// decides, whatever its thread reads as (a 32-bit image's calls read
    /// it from another register than the 64-bit exec's exit did).
    rekey: bool,
    mechanism: usize,
    vcpu: u32,
    ret: Option<u64>,
    flag: Option<u64>,
    ts: u64,
}

#[derive(Default)]
pub(super) struct HeldReturns {
    held: Mutex<Vec<HeldReturn>>,
    /// `held.len()`, read without the lock at every named call.
    count: AtomicUsize,
}

impl HeldReturns {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<HeldReturn>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<B: Backend> Tracer<B> {
    /// An exit read as `key` that nothing else matched: whether it ends a
    /// call whose identity changed (at once, or once its task is named).
    pub(super) fn new_identity_returned<C: Cpu + ?Sized>(
        &self,
        vcpu: u32,
        key: &PendingKey,
        mechanism: usize,
        ret: Option<u64>,
        flag: Option<u64>,
        cpu: &C,
    ) -> bool {
        // The task whose call last returned on this vCPU, no call entered
        // since, is still the one running here: an exit into it is an
        // interrupt's return (a fork child's exec pending on another vCPU
        // took its parent's that way), not an exec's into a new image.
        let exec = ret == Some(0);
        // The model's return probe read which task returned: its exec's
        // return, whatever the identities (MIPS's are one stack pointer).
        // After an exec the task's tid is its process's id.
        if exec
            && let Some(pid) = self.names.as_ref().and_then(|n| n.returned_by(vcpu))
            && let Some(mut pending) = self.take_exec(vcpu, key, mechanism, Some(pid), true)
        {
            self.stats.exec_returns.fetch_add(1, Ordering::Relaxed);
            self.exec_replaced(vcpu, &mut pending, self.clock.now(cpu), cpu);
            self.finish(vcpu, pending, key, ret, flag, cpu);
            return true;
        }
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
            let Some(pending) = exec
                .then(|| self.take_exec(vcpu, key, mechanism, None, false))
                .flatten()
            else {
                return false;
            };
            self.stats.exec_returns.fetch_add(1, Ordering::Relaxed);
            self.finish(vcpu, pending, key, ret, flag, cpu);
            return true;
        }
        let rekey = self.rekey_waits(key, mechanism);
        if !(rekey || (exec && self.exec_waits(key, mechanism))) {
            return false;
        }
        let held = HeldReturn {
            key: *key,
            rekey,
            mechanism,
            vcpu,
            ret,
            flag,
            ts: self.clock.now(cpu),
        };
        let mut all = self.held_returns.lock();
        if all.len() >= MAX_HELD {
            all.remove(0);
        }
        all.push(held);
        self.held_returns.count.store(all.len(), Ordering::Release);
        true
    }

    /// Whether a call of another thread of `key`'s process waits for its
    /// return to `key`'s resume address.
    fn rekey_waits(&self, key: &PendingKey, mechanism: usize) -> bool {
        self.pending.iter().any(|slot| {
            slot.lock()
                .0
                .iter()
                .any(|(k, p)| Self::rekeyed(k, p, key, mechanism))
        })
    }

    /// Whether the call `p` entered as `k` may return as `key`.
    fn rekeyed(k: &PendingKey, p: &Pending, key: &PendingKey, mechanism: usize) -> bool {
        k.process == key.process
            && k.resume == key.resume
            && k.thread != key.thread
            && p.mechanism == mechanism
            && !p.superseded
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
                        .any(|(k, p)| k == e && p.mechanism == mechanism && self.is_exec(&p.entry))
            })
        })
    }

    /// Takes the newest exec entered on `vcpu` (then on the others) that
    /// may return into `key`'s address space (`any_space`: whatever its
    /// own), of process `pid` if given.
    fn take_exec(
        &self,
        vcpu: u32,
        key: &PendingKey,
        mechanism: usize,
        pid: Option<i64>,
        any_space: bool,
    ) -> Option<Pending> {
        for slot in self.slots_from(vcpu) {
            let mut guard = self.pending[slot].lock();
            let (table, state) = &mut *guard;
            // Newest first; an exec whose call left the table otherwise
            // (superseded, interrupted) is forgotten on the way.
            for i in (0..state.execs.len()).rev() {
                let exec_key = state.execs[i];
                if exec_key.process == key.process && !any_space {
                    continue;
                }
                let taken = table.take_newest(|k, p| {
                    *k == exec_key
                        && p.mechanism == mechanism
                        && self.is_exec(&p.entry)
                        && pid.is_none_or(|pid| p.names.is_some_and(|n| n.pid == pid))
                });
                self.forget_exec_if_done(table, state, &exec_key);
                if taken.is_some() {
                    self.pending[slot].sync(&mut guard);
                    return taken;
                }
            }
        }
        None
    }

    /// Takes the call of thread `tid` that may return as `key`.
    fn take_rekeyed_of(&self, key: &PendingKey, mechanism: usize, tid: i64) -> Option<Pending> {
        self.pending.iter().find_map(|slot| {
            let mut guard = slot.lock();
            let taken = guard.0.take_newest(|k, p| {
                Self::rekeyed(k, p, key, mechanism) && p.names.is_some_and(|n| n.tid == tid)
            });
            if taken.is_some() {
                slot.sync(&mut guard);
            }
            taken
        })
    }

    /// A call of `key` got its names: a return held for its identity (or
    /// address space, see [`HeldReturn::rekey`]) ends its task's call
    /// first, if one waits.
    pub(super) fn release_held_returns<C: Cpu + ?Sized>(
        &self,
        key: &PendingKey,
        names: Option<&TaskNames>,
        cpu: &C,
    ) {
        if self.held_returns.count.load(Ordering::Acquire) == 0 {
            return;
        }
        // Returns left held (a task preempted with 0 in its register that
        // never calls again) cost other calls this lock, not a copy.
        let released_by = |h: &HeldReturn| {
            h.key.process == key.process && (h.key.thread == key.thread || !h.rekey)
        };
        let mine: Vec<HeldReturn> = {
            let mut all = self.held_returns.lock();
            if !all.iter().any(released_by) {
                return;
            }
            let mine = all.extract_if(.., |h| released_by(h)).collect();
            self.held_returns.count.store(all.len(), Ordering::Release);
            mine
        };
        for held in mine {
            self.end_held(held, names, cpu);
        }
    }

    /// At the end of the trace: returns whose identity never called are
    /// let go; their calls stay pending.
    pub(super) fn finish_held_returns(&self) {
        self.held_returns.lock().clear();
        self.held_returns.count.store(0, Ordering::Release);
    }

    /// Ends the call `held` returns from, as `names` tell; without them,
    /// the newest exec that may return there.
    fn end_held<C: Cpu + ?Sized>(&self, held: HeldReturn, names: Option<&TaskNames>, cpu: &C) {
        let (key, mechanism) = (&held.key, held.mechanism);
        let rekeyed = names.and_then(|n| self.take_rekeyed_of(key, mechanism, n.tid));
        let mut pending = match rekeyed {
            Some(p) => {
                self.stats.rekeyed_returns.fetch_add(1, Ordering::Relaxed);
                p
            }
            None if held.ret == Some(0) => {
                let pid = names.map(|n| n.pid);
                let Some(mut p) = self.take_exec(held.vcpu, key, mechanism, pid, false) else {
                    return;
                };
                self.stats.exec_returns.fetch_add(1, Ordering::Relaxed);
                self.exec_replaced(held.vcpu, &mut p, held.ts, cpu);
                p
            }
            None => return,
        };
        self.report_done(
            held.vcpu,
            &mut pending,
            key,
            held.ret,
            held.flag,
            cpu,
            held.ts,
        );
        give_back_box(pending);
    }
}
