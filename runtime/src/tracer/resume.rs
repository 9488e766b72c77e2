//! Exits whose call is seen at the instruction they return to.
//!
//! At an exit marked `outputs_at_resume` user pages are not readable in the
//! kernel (s390x's home space, RISC-V without SUM, POWER): a successful
//! call with output arguments is paired as usual but parked, and its exit
//! is shown once its thread runs its first user instruction, at the
//! address the exit returns to. The exit arms its vCPU: the first block the
//! vCPU then starts is that instruction, unless an interrupt came first.
//! Then the call stays parked unarmed, and the next exit of its thread
//! (thread and process identity, on any vCPU: the interrupt may let other
//! threads run, and the thread resume elsewhere) arms that exit's vCPU for
//! that exit's resume address. A thread that enters a call while one of
//! its own is parked, and the end of the trace, show parked calls with
//! their outputs as addresses.
//!
//! At an exit marked `read_at_resume` nothing is read (MIPS's `eret`, whose
//! target QEMU does not serve): it arms its vCPU, and the exit is read, and
//! paired, at the vCPU's next block, where the user's registers and memory
//! are the call's. An interrupt taken first makes that block the kernel's,
//! whose address no call returns to; the interrupt's own return to the
//! thread is an exit again, read in turn where it returns.
//!
//! A signal frame is read where user memory is: an `outputs_at_resume`
//! exit of a thread with a pending call that nothing else ended arms its
//! vCPU, and the model's `signal` block is read at the next block if that
//! is the exit's resume address, the handler's first instruction. So is
//! `entered` at an exit that ended no call, when its registers alone do
//! not say no.

use super::{Pending, Returned, Tracer};
use crate::decode::{self, Arg};
use crate::os::{Backend, Cpu};
use crate::pending::PendingKey;
use osm_model::Direction;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Calls parked at once; beyond, the oldest is shown without its outputs.
const MAX_PARKED: usize = 64;

/// A call that returned and waits for its thread's next user instruction.
struct Parked {
    pending: Pending,
    args: Vec<Arg>,
    /// The exit's reading: the thread, process and resume address.
    key: PendingKey,
    ret: Option<u64>,
    flag: Option<u64>,
    returned: Returned,
    ts: u64,
    /// The vCPU whose next block is expected at `target`.
    armed: Option<u32>,
    target: u64,
}

/// The tracer's parked calls and exits read at their resume address.
pub(super) struct Resumes {
    /// Per exit (the backend's order): whether it is `outputs_at_resume`.
    exits: Vec<bool>,
    /// Per exit: whether it is `read_at_resume`.
    read_later: Vec<bool>,
    /// Per vCPU slot: the `read_at_resume` exits its next block reads.
    deferred: Vec<Mutex<Vec<usize>>>,
    /// Per vCPU slot: the exit (its reading and mechanism) whose return
    /// may enter a signal handler, read at its next block.
    signals: Vec<Mutex<Option<DeferredSignal>>>,
    parked: Mutex<Vec<Parked>>,
    /// `parked.len()`, read without the lock on every exit and entry.
    count: AtomicUsize,
    /// Per vCPU slot: a parked call waits for its next block.
    armed: Vec<AtomicBool>,
}

/// An exit that may have returned into a signal handler, for the vCPU's
/// next block to read the frame.
struct DeferredSignal {
    key: PendingKey,
    mechanism: usize,
    /// Whether a pending call of the thread may have returned into a
    /// handler ([`Tracer::signal_delivered`]).
    call: bool,
    /// Whether the exit, if no call returned into a handler, may enter one
    /// by the model's `entered` ([`Tracer::signal_outside_calls`]).
    outside_calls: bool,
    /// A sigreturn's return value and flag, read at the exit: the
    /// sigreturn ends there with them if no handler was entered.
    sigreturn: Option<(Option<u64>, Option<u64>)>,
}

/// A CPU with nothing to read: outputs shown as their address.
struct Nothing;

impl Cpu for Nothing {
    fn reg(&self, _index: u32) -> Option<u64> {
        None
    }

    fn read_mem(&self, _addr: u64, _buf: &mut [u8]) -> usize {
        0
    }
}

impl Resumes {
    /// None when no exit of the model is `outputs_at_resume` or
    /// `read_at_resume`.
    pub(super) fn new(exits: Vec<bool>, read_later: Vec<bool>, slots: usize) -> Option<Self> {
        exits
            .iter()
            .chain(&read_later)
            .any(|&e| e)
            .then(|| Resumes {
                exits,
                deferred: (0..slots).map(|_| Mutex::new(Vec::new())).collect(),
                signals: (0..slots).map(|_| Mutex::new(None)).collect(),
                read_later,
                parked: Mutex::new(Vec::new()),
                count: AtomicUsize::new(0),
                armed: (0..slots).map(|_| AtomicBool::new(false)).collect(),
            })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Parked>> {
        self.parked.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn is_empty(&self) -> bool {
        self.count.load(Ordering::Relaxed) == 0
    }

    /// Whether `exit` is read at the instruction it returns to.
    pub(super) fn reads_later(&self, exit: usize) -> bool {
        self.read_later.get(exit) == Some(&true)
    }
}

impl<B: Backend> Tracer<B> {
    /// Whether `exit` is `outputs_at_resume`: user memory does not read
    /// there.
    pub(super) fn outputs_at_resume(&self, exit: usize) -> bool {
        self.resumes
            .as_ref()
            .is_some_and(|r| r.exits.get(exit) == Some(&true) && !r.reads_later(exit))
    }

    /// An `outputs_at_resume` exit that ended no call, of a thread with a
    /// pending one of its mechanism: the vCPU's next block reads the signal
    /// frame, if the kernel returned into a handler. Mechanisms that share
    /// an exit instruction each see it: only the call's own defers.
    /// With `sigreturn`, the exit's return value and flag: the exit of a
    /// thread whose pending sigreturn may return into the next handler
    /// ([`Tracer::may_enter_next_handler`]), which ends the sigreturn at
    /// the next block either way.
    #[cold]
    #[inline(never)]
    pub(super) fn defer_signal(
        &self,
        vcpu: u32,
        key: &PendingKey,
        mechanism: usize,
        sigreturn: Option<(Option<u64>, Option<u64>)>,
    ) -> bool {
        let Some(resumes) = &self.resumes else {
            return false;
        };
        let holds = |s: usize| {
            self.pending[s].may_hold(key.thread, key.process)
                && self.pending[s].lock().0.iter().any(|(k, p)| {
                    k.thread == key.thread
                        && k.process == key.process
                        && p.mechanism == mechanism
                        && (sigreturn.is_none() || self.is_sigreturn(p))
                })
        };
        if !(0..self.pending.len()).any(holds) {
            return false;
        }
        let slot = self.slot(vcpu);
        *resumes.signals[slot]
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(DeferredSignal {
            key: *key,
            mechanism,
            call: true,
            outside_calls: false,
            sigreturn,
        });
        resumes.armed[slot].store(true, Ordering::Relaxed);
        true
    }

    /// An exit that ended no call, where user memory does not read, whose
    /// registers may enter a handler: `entered` is read again at the
    /// vCPU's next block, if that is the exit's resume address.
    #[cold]
    #[inline(never)]
    pub(super) fn defer_outside_calls(&self, vcpu: u32, key: &PendingKey) {
        let Some(resumes) = &self.resumes else {
            return;
        };
        let slot = self.slot(vcpu);
        let mut signal = resumes.signals[slot]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // This exit's own pending call may have been deferred already.
        match &mut *signal {
            Some(deferred) if deferred.key == *key => deferred.outside_calls = true,
            _ => {
                *signal = Some(DeferredSignal {
                    key: *key,
                    mechanism: 0,
                    call: false,
                    outside_calls: true,
                    sigreturn: None,
                })
            }
        }
        resumes.armed[slot].store(true, Ordering::Relaxed);
    }

    /// Whether `exit` ending `pending` with `ret` leaves its arguments to
    /// be decoded at the resume address: a call with outputs, which are
    /// decoded only when it succeeded, or with an input to read again.
    #[inline(never)]
    pub(super) fn decodes_at_resume(
        &self,
        exit: usize,
        pending: &Pending,
        ret: Option<u64>,
        flag: Option<u64>,
    ) -> bool {
        let (Some(raw), Some(syscall), true) = (
            ret,
            self.syscall(&pending.entry),
            self.outputs_at_resume(exit) && self.decode,
        ) else {
            return false;
        };
        // An input unreadable at entry (a page the program had not touched
        // yet, a new child's) is read again, whether the call failed or not.
        let rereads = (pending.args.iter().zip(&syscall.args))
            .any(|(a, p)| p.dir == Direction::In && a.unreadable);
        let mechanism =
            &self.model.mechanisms[pending.mechanism.min(self.model.mechanisms.len() - 1)];
        rereads
            || syscall
                .args
                .iter()
                .any(|p| p.dir != Direction::In || p.updated)
                && decode::error_number(&self.model, &mechanism.error, raw, flag).is_none()
    }

    /// Parks a call that returned at an `outputs_at_resume` exit on
    /// `vcpu` (see [`Tracer::decodes_at_resume`]).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn park<C: Cpu + ?Sized>(
        &self,
        vcpu: u32,
        mut pending: Pending,
        key: &PendingKey,
        ret: Option<u64>,
        flag: Option<u64>,
        cpu: &C,
    ) {
        let Some(resumes) = &self.resumes else {
            return;
        };
        let args = std::mem::take(&mut pending.args);
        let returned = self.returned_itself(&pending, ret);
        let ts = self.clock.now(cpu);
        let evicted = {
            let mut parked = resumes.lock();
            let evicted = (parked.len() >= MAX_PARKED).then(|| parked.remove(0));
            // Left from an interrupted return of this vCPU's last thread.
            for p in parked.iter_mut().filter(|p| p.armed == Some(vcpu)) {
                p.armed = None;
            }
            parked.push(Parked {
                pending,
                args,
                key: *key,
                ret,
                flag,
                returned,
                ts,
                armed: Some(vcpu),
                target: key.resume,
            });
            resumes.count.store(parked.len(), Ordering::Relaxed);
            evicted
        };
        resumes.armed[self.slot(vcpu)].store(true, Ordering::Relaxed);
        if let Some(p) = evicted {
            self.show_parked(vcpu, p, &Nothing);
        }
    }

    /// At an exit of a thread with a parked call: its next user
    /// instruction is the exit's resume address, on this vCPU.
    pub(super) fn rearm(&self, vcpu: u32, thread: u64, process: u64, resume: u64) {
        let Some(resumes) = &self.resumes else {
            return;
        };
        if resumes.is_empty() {
            return;
        }
        let mut parked = resumes.lock();
        let mut armed = false;
        for p in parked.iter_mut() {
            if p.key.thread == thread && p.key.process == process {
                p.armed = Some(vcpu);
                p.target = resume;
                armed = true;
            } else if p.armed == Some(vcpu) {
                p.armed = None;
            }
        }
        drop(parked);
        if armed {
            resumes.armed[self.slot(vcpu)].store(true, Ordering::Relaxed);
        }
    }

    /// At `read_at_resume` exits (`later`): the vCPU's next block reads
    /// them. Not while no call is pending anywhere: no reading could end
    /// one.
    pub(super) fn defer_exits(&self, vcpu: u32, later: &[usize]) {
        let Some(resumes) = &self.resumes else {
            return;
        };
        if self.pending.iter().all(super::Slot::is_empty)
            && self.children_awaited.load(Ordering::SeqCst) == 0
        {
            return;
        }
        let slot = self.slot(vcpu);
        let mut deferred = resumes.deferred[slot]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        deferred.clear();
        deferred.extend_from_slice(later);
        resumes.armed[slot].store(true, Ordering::Relaxed);
    }

    /// Whether `vcpu`'s next block is awaited by a parked call.
    pub fn awaits_resume(&self, vcpu: u32) -> bool {
        self.resumes
            .as_ref()
            .is_some_and(|r| r.armed[self.slot(vcpu)].load(Ordering::Relaxed))
    }

    /// At the start of the first block `vcpu` runs after it was armed,
    /// at `pc`: the `read_at_resume` exits it ran are read here, and the
    /// parked call returning here is shown, its outputs decoded from the
    /// caller's memory. Elsewhere (an interrupt came first) a parked call
    /// waits for its thread's next exit.
    pub fn on_resume<C: Cpu + ?Sized>(&self, vcpu: u32, pc: u64, cpu: &C) {
        let Some(resumes) = &self.resumes else {
            return;
        };
        let slot = self.slot(vcpu);
        if !resumes.armed[slot].swap(false, Ordering::Relaxed) {
            return;
        }
        let deferred = std::mem::take(
            &mut *resumes.deferred[slot]
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        if !deferred.is_empty() {
            self.exit_now(vcpu, &deferred, cpu);
        }
        let signal = resumes.signals[slot]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(DeferredSignal {
            key,
            mechanism,
            call,
            outside_calls,
            sigreturn,
        }) = signal
            && key.resume == pc
        {
            if call && self.signal_delivered(vcpu, &key, mechanism, cpu) {
                self.exit_ended_a_call(vcpu, &key);
            } else if call
                && let Some((ret, flag)) = sigreturn
                && let Some(pending) = self.take_sigreturn(vcpu, &key, mechanism)
            {
                self.finish(vcpu, pending, &key, ret, flag, cpu);
                self.exit_ended_a_call(vcpu, &key);
            } else if outside_calls {
                self.entered_outside_calls(vcpu, &key, cpu);
            }
        }
        if resumes.is_empty() {
            return;
        }
        let found = {
            let mut parked = resumes.lock();
            let i = parked.iter().position(|p| p.armed == Some(vcpu));
            let found = match i {
                Some(i) if parked[i].target == pc => Some(parked.remove(i)),
                Some(i) => {
                    parked[i].armed = None;
                    None
                }
                None => None,
            };
            resumes.count.store(parked.len(), Ordering::Relaxed);
            found
        };
        if let Some(p) = found {
            self.show_parked(vcpu, p, cpu);
        }
    }

    /// At an entry of `thread` in `process`: a parked call of the thread
    /// missed its return (the thread runs user code again), and is shown
    /// now, before the new call, with its outputs as addresses.
    #[inline(never)]
    pub(super) fn entered_with_parked(&self, vcpu: u32, thread: u64, process: u64) {
        let Some(resumes) = &self.resumes else {
            return;
        };
        if resumes.is_empty() {
            return;
        }
        let missed: Vec<Parked> = {
            let mut parked = resumes.lock();
            let (missed, kept) = std::mem::take(&mut *parked)
                .into_iter()
                .partition(|p| p.key.thread == thread && p.key.process == process);
            *parked = kept;
            resumes.count.store(parked.len(), Ordering::Relaxed);
            missed
        };
        for p in missed {
            self.show_parked(vcpu, p, &Nothing);
        }
    }

    /// At the end of the trace: parked calls whose thread never ran again.
    pub(super) fn finish_parked(&self) {
        let Some(resumes) = &self.resumes else {
            return;
        };
        let parked = std::mem::take(&mut *resumes.lock());
        resumes.count.store(0, Ordering::Relaxed);
        for p in parked {
            let vcpu = p.armed.unwrap_or(0);
            self.show_parked(vcpu, p, &Nothing);
        }
    }

    fn show_parked<C: Cpu + ?Sized>(&self, vcpu: u32, p: Parked, cpu: &C) {
        self.emit_exit(
            vcpu, &p.pending, p.args, &p.key, p.ret, p.flag, cpu, p.returned, p.ts,
        );
    }
}
