//! Signal handlers: a call that returns into one, the `--- SIGNAME ---`
//! line, and the sigreturn that leaves it.
//!
//! A handler's frame keeps the context it interrupted; its sigreturn
//! restores that context and returns there, unless another signal is
//! delivered on the way out: then the kernel builds a new frame on the
//! restored context and the sigreturn returns into the next handler, whose
//! frame holds the sigreturn's return (strace's `rt_sigreturn(...) = N`
//! then `--- SIGNAME ---`). The contexts handlers were seen interrupting
//! (`Handlers::contexts`) tell such a return from a plain one.

use super::{ClockOnly, KernelSpace, Pending, Tracer};
use crate::decode;
use crate::eval::{Env, eval};
use crate::format::{Event, EventKind, OwnedEvent};
use crate::os::{Backend, Cpu};
use crate::pending::PendingKey;
use crate::task::TaskNames;
use osm_model::Expr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Handlers' contexts kept at once, over all threads; the oldest goes.
const CONTEXTS_KEPT: usize = 64;

/// What the tracer keeps of the handlers it saw entered.
#[derive(Default)]
pub(super) struct Handlers {
    /// Where the model reads a sigreturn's thread from the signal frame
    /// (`sigreturn_thread`): the handlers entered lately, as (process, the
    /// handler's thread, the interrupted thread), newest last, for a
    /// sigreturn whose frame does not read at its entry.
    entered: Mutex<Vec<(u64, u64, u64)>>,
    /// The contexts seen interrupted by a handler and not yet returned to,
    /// as (process, thread, the pc its frame saved), newest last: a
    /// thread's handlers nest.
    contexts: Mutex<Vec<(u64, u64, u64)>>,
    /// `contexts`' length, read without its lock by every exit that ended
    /// no call (filtered calls' among them).
    contexts_kept: AtomicUsize,
}

/// What the model's `entered` says of an exit that ended no call.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Entered {
    No,
    Yes,
    /// Not known from the registers: read at the instruction the exit
    /// returns to, where user memory reads.
    AtResume,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Handlers {
    /// A handler was entered on `thread`, interrupting it at `pc`.
    fn interrupting(&self, process: u64, thread: u64, pc: u64) {
        let mut contexts = lock(&self.contexts);
        if contexts.len() >= CONTEXTS_KEPT {
            contexts.remove(0);
        }
        contexts.push((process, thread, pc));
        self.contexts_kept.store(contexts.len(), Ordering::Relaxed);
    }

    /// The pc the newest handler seen on `thread` returns to.
    fn context(&self, process: u64, thread: u64) -> Option<u64> {
        lock(&self.contexts)
            .iter()
            .rev()
            .find(|&&(p, t, _)| (p, t) == (process, thread))
            .map(|&(_, _, pc)| pc)
    }

    /// Whether no handler's context is kept.
    fn is_empty(&self) -> bool {
        self.contexts_kept.load(Ordering::Relaxed) == 0
    }

    /// A sigreturn of `thread` returned to `pc`: the context handlers
    /// interrupted there is left. (A handler not seen entered, one that
    /// interrupted user code, returns to a pc none was kept for.)
    fn returned(&self, process: u64, thread: u64, pc: u64) {
        let mut contexts = lock(&self.contexts);
        if let Some(i) = contexts.iter().rposition(|&c| c == (process, thread, pc)) {
            contexts.remove(i);
            self.contexts_kept.store(contexts.len(), Ordering::Relaxed);
        }
    }
}

impl<B: Backend> Tracer<B> {
    /// Calls of the thread still pending when it enters sigreturn: the
    /// signal interrupted them. Out of line: rare, and inlined it made
    /// every entry's stack frame larger (more cache lines to write).
    #[cold]
    #[inline(never)]
    pub(super) fn finish_interrupted<C: Cpu + ?Sized>(
        &self,
        vcpu: u32,
        thread: u64,
        process: u64,
        cpu: &C,
    ) {
        // Not where other tasks call with the same identity: the caller
        // is not known yet.
        if self
            .names
            .as_ref()
            .is_some_and(|n| n.identity_shared((thread, process)))
        {
            return;
        }
        let interrupted = self.take_pending(
            |slot| slot.may_hold(thread, process),
            |k, p| k.thread == thread && k.process == process && p.shared.is_none(),
        );
        for (k, p) in interrupted {
            self.stats.interrupted.fetch_add(1, Ordering::Relaxed);
            self.report_exit(vcpu, &p, &k, None, None, &ClockOnly(cpu));
        }
    }

    /// A return of a thread with a pending call into a signal handler:
    /// the model's `signal` block reads the frame the kernel built, whose
    /// saved pc is the call's return address (the call returned into the
    /// handler, with the return value the frame keeps) or its entry
    /// instruction (the kernel restarts it once the handler returns: it
    /// shows `?` and is entered again). The call ends here, followed by
    /// the signal's line. Without a match nothing is read beyond the pc,
    /// and the call ends when the handler calls sigreturn, as `?`
    /// ([`Tracer::finish_interrupted`]). Out of line: rare.
    #[cold]
    #[inline(never)]
    pub(super) fn signal_delivered<C: Cpu + ?Sized>(
        &self,
        vcpu: u32,
        key: &PendingKey,
        mechanism: usize,
        cpu: &C,
    ) -> bool {
        let Some(signal) = &self.model.signal else {
            return false;
        };
        let env = Env::new(self.model.endian);
        let handler = key.thread;
        let key = &match &signal.thread {
            Some(thread) => match eval(thread, cpu, &env) {
                Some(thread) => PendingKey { thread, ..*key },
                None => return false,
            },
            None => *key,
        };
        if !(0..self.pending.len()).any(|s| self.pending[s].may_hold(key.thread, key.process)) {
            return false;
        }
        let Some(saved_pc) = eval(&signal.pc, cpu, &env) else {
            return false;
        };
        // A sigreturn's return into another handler: the frame keeps the
        // context the sigreturn restored, never at the handler's own
        // address.
        let context = (saved_pc != key.resume)
            .then(|| self.handlers.context(key.process, key.thread))
            .flatten();
        let returned_by = self.returned_by(vcpu);
        let mut found = None;
        for slot in self.slots_from(vcpu) {
            if !self.pending[slot].may_hold(key.thread, key.process) {
                continue;
            }
            let mut guard = self.pending[slot].lock();
            let taken = guard.0.take_newest_keyed(|k, p| {
                k.thread == key.thread
                    && k.process == key.process
                    && p.mechanism == mechanism
                    && !p.superseded
                    && returned_by.is_none_or(|tid| Self::made_by(p, tid))
                    && (k.resume == saved_pc
                        || p.pc == saved_pc
                        || context == Some(saved_pc) && self.is_sigreturn(p))
            });
            if let Some(taken) = taken {
                self.pending[slot].sync(&mut guard);
                found = Some(taken);
                break;
            }
        }
        let Some((call_key, pending)) = found else {
            return false;
        };
        let names = pending.names;
        let sigreturn = self.is_sigreturn(&pending);
        if !sigreturn {
            self.handlers
                .interrupting(key.process, key.thread, saved_pc);
        }
        if call_key.resume == saved_pc || sigreturn {
            let ret = eval(&signal.ret, cpu, &env);
            let flag = signal.flag.as_ref().and_then(|f| eval(f, cpu, &env));
            self.finish(vcpu, pending, &call_key, ret, flag, cpu);
        } else {
            self.stats.interrupted.fetch_add(1, Ordering::Relaxed);
            self.report_exit(vcpu, &pending, &call_key, None, None, &ClockOnly(cpu));
        }
        // Only once a call it interrupted is found: the frame's reads at
        // any other exit into user mode are no handler's.
        self.handler_entered(key.process, handler, key.thread);
        self.report_signal(vcpu, key, names, cpu);
        true
    }

    /// A handler entered with `handler` as its thread, interrupting
    /// `interrupted`: kept for [`Tracer::handler_left`], when the model
    /// reads a sigreturn's thread from the frame.
    fn handler_entered(&self, process: u64, handler: u64, interrupted: u64) {
        const KEPT: usize = 16;
        let reads_frame = self
            .model
            .signal
            .as_ref()
            .is_some_and(|s| s.sigreturn_thread.is_some());
        if !reads_frame {
            return;
        }
        let mut handlers = lock(&self.handlers.entered);
        handlers.retain(|&(p, h, _)| (p, h) != (process, handler));
        if handlers.len() >= KEPT {
            handlers.remove(0);
        }
        handlers.push((process, handler, interrupted));
    }

    /// The thread a handler interrupted, for its sigreturn entered with the
    /// handler's thread when the frame did not read there (on MIPS the
    /// frame's page may be out of the TLB that QEMU reads through): the
    /// handler's stack pointer at its sigreturn is the one it started with.
    pub(super) fn handler_left(&self, process: u64, handler: u64) -> Option<u64> {
        let mut handlers = lock(&self.handlers.entered);
        let i = handlers
            .iter()
            .rposition(|&(p, h, _)| (p, h) == (process, handler))?;
        Some(handlers.remove(i).2)
    }

    /// An exit that ended no call, into a handler by the model's
    /// `entered`: a signal that interrupted user code, whose line is all
    /// there is to show (strace's `--- SIGURG {...} ---` of Go's
    /// preemption). Its names are the thread's next call's: nothing at an
    /// exit says which task it is. Where user memory does not read at the
    /// exit, the registers alone decide nearly every exit (the models
    /// compare them first), and the rest are read at the instruction the
    /// exit returns to. Out of line: every interrupt's return comes here,
    /// and nearly all fail the model's first comparison.
    #[inline(never)]
    pub(super) fn signal_outside_calls<C: Cpu + ?Sized>(
        &self,
        vcpu: u32,
        exits: &[usize],
        cpu: &C,
    ) {
        let Some(entered) = self.entered() else {
            return;
        };
        let later = exits.iter().all(|&exit| self.outputs_at_resume(exit));
        // Where user memory does not read, only the registers' "no" is
        // final: anything else is read again where the exit returns.
        let reading = if later {
            match eval(entered, &KernelSpace(cpu), &Env::new(self.model.endian)) {
                Some(0) => Entered::No,
                _ => Entered::AtResume,
            }
        } else if self.enters(entered, cpu) {
            Entered::Yes
        } else {
            Entered::No
        };
        if reading == Entered::No && self.handlers.is_empty() {
            return;
        }
        let Some(values) = exits
            .iter()
            .filter(|&&exit| later || !self.outputs_at_resume(exit))
            .find_map(|&exit| self.backend.exit(exit, cpu))
        else {
            return;
        };
        let handler = Self::exit_key(&values);
        match reading {
            Entered::AtResume => self.defer_outside_calls(vcpu, &handler),
            Entered::Yes => self.show_entered(vcpu, &handler, cpu),
            Entered::No => self.left_outside_calls(&handler),
        }
    }

    /// [`Tracer::signal_outside_calls`] read again at the instruction a
    /// deferred exit returned to, the handler's first if it entered one.
    pub(super) fn entered_outside_calls<C: Cpu + ?Sized>(
        &self,
        vcpu: u32,
        handler: &PendingKey,
        cpu: &C,
    ) {
        let Some(entered) = self.entered() else {
            return;
        };
        if self.enters(entered, cpu) {
            self.show_entered(vcpu, handler, cpu);
        } else {
            self.left_outside_calls(handler);
        }
    }

    /// The model's `entered`, if it says how to tell a handler's entry.
    fn entered(&self) -> Option<&Expr> {
        self.model.signal.as_ref().and_then(|s| s.entered.as_ref())
    }

    /// Whether `entered`, read with `cpu`, says the exit enters a handler.
    fn enters<C: Cpu + ?Sized>(&self, entered: &Expr, cpu: &C) -> bool {
        eval(entered, cpu, &Env::new(self.model.endian)).is_some_and(|v| v != 0)
    }

    /// An exit outside calls that enters no handler: a sigreturn not
    /// traced (a filter left it out) returning to the context its handler
    /// interrupted leaves that context.
    fn left_outside_calls(&self, handler: &PendingKey) {
        self.handlers
            .returned(handler.process, handler.thread, handler.resume);
    }

    /// The signal line of a handler entered outside any call, unless the
    /// handler was seen entered already.
    fn show_entered<C: Cpu + ?Sized>(&self, vcpu: u32, handler: &PendingKey, cpu: &C) {
        let Some(signal) = &self.model.signal else {
            return;
        };
        let env = Env::new(self.model.endian);
        let key = match signal.thread.as_ref().and_then(|t| eval(t, cpu, &env)) {
            Some(thread) => PendingKey { thread, ..*handler },
            None => *handler,
        };
        if !self.filter.identity_ok(key.thread, key.process) {
            return;
        }
        if let Some(pc) = eval(&signal.pc, cpu, &env) {
            // An interrupt taken at the handler's first instruction returns
            // there again, with the same frame.
            if self.handlers.context(key.process, key.thread) == Some(pc) {
                return;
            }
            self.handlers.interrupting(key.process, key.thread, pc);
        }
        self.handler_entered(key.process, handler.thread, key.thread);
        self.report_signal_as(vcpu, &key, None, cpu, true);
    }

    /// The `--- SIGNAME {siginfo} ---` line of a handler's entry.
    fn report_signal<C: Cpu + ?Sized>(
        &self,
        vcpu: u32,
        key: &PendingKey,
        task: Option<TaskNames>,
        cpu: &C,
    ) {
        self.report_signal_as(vcpu, key, task, cpu, false);
    }

    /// [`Tracer::report_signal`], held for the names of the thread's next
    /// call when `named_later` and the guest's names are read.
    fn report_signal_as<C: Cpu + ?Sized>(
        &self,
        vcpu: u32,
        key: &PendingKey,
        task: Option<TaskNames>,
        cpu: &C,
        named_later: bool,
    ) {
        let Some(signal) = &self.model.signal else {
            return;
        };
        let env = Env::new(self.model.endian);
        let number = eval(&signal.number, cpu, &env).unwrap_or(0);
        let name = match &signal.names {
            Some(ty) => decode::format_scalar(&self.model, ty, number),
            None => number.to_string(),
        };
        let fields = match (&signal.info, &signal.siginfo) {
            (Some(info), Some(ty)) if self.decode => eval(info, cpu, &env)
                .filter(|&addr| addr != 0)
                .and_then(|addr| decode::struct_fields(&self.model, ty, addr, cpu, &self.options))
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let event = Event {
            nr: number,
            name: &name,
            args: &fields,
            ..self.notice(EventKind::Signal, vcpu, key, task, cpu)
        };
        match &self.names {
            Some(names) if named_later => {
                let held = OwnedEvent::from_event(&event);
                if let Some(evicted) = names.hold((key.thread, key.process), held) {
                    self.emit_counted(&evicted.as_event(), evicted.kind == EventKind::Exit);
                }
            }
            _ => self.emit(&event),
        }
    }

    /// The sigreturn call of the exit's thread: it returns wherever the
    /// signal frame says.
    pub(super) fn take_sigreturn(
        &self,
        vcpu: u32,
        key: &PendingKey,
        mechanism: usize,
    ) -> Option<Pending> {
        let returned_by = self.returned_by(vcpu);
        for slot in self.slots_from(vcpu) {
            if !self.pending[slot].may_hold(key.thread, key.process) {
                continue;
            }
            let mut guard = self.pending[slot].lock();
            let taken = guard.0.take_newest(|k, p| {
                k.thread == key.thread
                    && k.process == key.process
                    && p.mechanism == mechanism
                    && self.is_sigreturn(p)
                    && returned_by.is_none_or(|tid| Self::made_by(p, tid))
            });
            if taken.is_some() {
                self.pending[slot].sync(&mut guard);
                self.handlers.returned(key.process, key.thread, key.resume);
                return taken;
            }
        }
        None
    }

    /// Whether an exit of `key`'s thread may be its sigreturn's return
    /// into another handler: a handler was seen interrupting the thread
    /// elsewhere than where this exit returns. Where the frame reads only
    /// at the handler's first instruction, such an exit waits for it.
    pub(super) fn may_enter_next_handler(&self, key: &PendingKey) -> bool {
        // The slots' filters first: most exits that reach here are
        // interrupts' returns to threads with no call pending.
        self.pending
            .iter()
            .any(|s| s.may_hold(key.thread, key.process))
            && self
                .handlers
                .context(key.process, key.thread)
                .is_some_and(|pc| pc != key.resume)
    }

    pub(super) fn is_sigreturn(&self, pending: &Pending) -> bool {
        self.syscall(&pending.entry).is_some_and(|s| s.sigreturn)
    }
}
