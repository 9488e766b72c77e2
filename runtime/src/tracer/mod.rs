//! The tracer: what happens at an entry or exit instruction, for any model.
//! It is independent of QEMU (the plugin glue in `plugin` calls it with a
//! `QemuCpu`; tests call it with a `SnapshotCpu`).
//!
//! Pairing an exit with its call: kernel return instructions also end
//! interrupts and faults, so an exit counts only when its (thread, process,
//! resume address) matches a pending call of the exit's own mechanism
//! (where mechanisms share a return instruction, x86_64's `iretq`, each
//! reads it with its own identity and resume expressions, and only the
//! call's own reading means anything): the newest, when a signal
//! handler made a call through the same instruction as the call it
//! interrupted). A call marked `returns_twice` that matches so with 0 is
//! the return of a child with its parent's identity (`vfork`, or a thread
//! sharing memory without a TLS of its own): the parent's return is still
//! to come. Then, in order:
//! - a call marked `returns_twice` also matches a return at the same resume
//!   address with 0 in another thread or process: the child's return;
//! - a call whose thread identity changed during the call (`arch_prctl`,
//!   `set_tls` set the very register that names the thread) matches on
//!   (process, resume) alone when it is the last call entered on this
//!   vCPU;
//! - a successful `exec` returns into a new image: it matches the first
//!   exit on its vCPU that returns 0 into another address space;
//! - with the guest's names, an exit of either kind that did not match so
//!   waits for the first call with its identity, whose task says whose
//!   call returned (`new_identity`);
//! - `sigreturn` returns into the context the signal interrupted: it
//!   matches the next exit of its thread, on any vCPU (the kernel may
//!   switch to other threads, which make calls, before it returns, and
//!   resume the thread elsewhere), or, when a signal that waited for the
//!   handler is delivered on its way out, the exit into the next handler,
//!   whose frame keeps the restored return (`signal`). A call of that thread
//!   still pending when the handler calls `sigreturn` was interrupted by the
//!   signal: its return went to the handler, unseen, and it is shown as
//!   returning `?`. (If the kernel restarts it, it is entered again.)
//! - a return of a thread to the very instruction one of its pending calls
//!   entered by is the kernel restarting that call without a signal
//!   handler (after a stop, say): the call is shown as returning `?`, and
//!   it is entered again (as `restart_syscall` for a sleep). (ARM's kernel
//!   restarts such calls without returning to user mode: nothing shows.)
//!
//! Filtering happens before decoding: whether a call is traced is decided
//! from the number and identity the entry instruction gave (the raw
//! argument registers are read with them, which is cheap), so a call that
//! is filtered out costs no memory read, no decoding and no output, and is
//! never made pending.
//!
//! With the guest's names for tasks ([`Tracer::with_task`], `task`), a call
//! read at its entry is shown and made pending once its task is named
//! (its `task` module): pairing still goes by register identity, lines join by tid.

use crate::decode::{self, Arg, DecodeOptions};
use crate::eval::{Env, eval};
use crate::filter::{FilterSpec, Selection};
use crate::format::{
    Event, EventKind, Format, Formatter, OwnedEvent, Placed, Preparer, Timestamps,
};
use crate::health::{Health, Lost};
use crate::ordered::{Drained, Queues};
use crate::os::{Args, Backend, Cpu, Entry, EntryInsn, ExitValues, MAX_ARGS};
use crate::pending::{PendingKey, PendingTable};
use crate::raw::capture::Recording;
use crate::raw::{RawOut, record};
use crate::task::{ReadAt, TaskNames, TaskReader};
use crate::vcpu_lock::{VcpuGuard, VcpuLock};
use crossbeam_utils::CachePadded;
use osm_model::{Direction, Expr, Model, Syscall, Ty};
use shared::{SharedCalls, SharedMark};
use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
use threads::Thread;

mod exec;
mod new_identity;
mod resume;
mod shared;
mod signal;
mod task;
mod threads;

/// Calls that may wait in the kernel at once per vCPU table; the oldest is
/// dropped (and counted) beyond this.
pub const PENDING_PER_VCPU: usize = 1024;
/// Returns-twice calls whose parent has returned, kept for the child.
const RECENT_TWICE: usize = 64;

/// Exec calls a vCPU remembers waiting for their new image's return.
const MAX_EXECS: usize = 8;

/// Processes remembered as shown killed ([`Tracer::report_killed`]).
const MAX_KILLED_SHOWN: usize = 256;

/// Threads a vCPU remembers having returned from calls.
const RETURNED_AS: usize = 8;

/// Where formatted trace text goes: any `FnMut(&str)`, or a writer that
/// also has something to flush at the end of the trace.
pub trait TraceSink: Send {
    fn write(&mut self, text: &str);
    /// At the end of the trace, after the last text.
    fn flush(&mut self) {}
    /// A buffer of the sink's own that text may be formatted straight into
    /// (saving a copy per event), followed by [`TraceSink::appended`].
    fn buffer(&mut self) -> Option<&mut String> {
        None
    }
    /// After text went into [`TraceSink::buffer`].
    fn appended(&mut self) {}
    /// A binary trace's chunk (`format=raw`), written whole.
    fn write_bytes(&mut self, _bytes: Vec<u8>) {}
    /// Whether [`TraceSink::write_bytes`] writes anything: a file's
    /// writer does, text sinks do not.
    fn takes_bytes(&self) -> bool {
        false
    }
    /// Whether the sink takes the vCPUs' captured calls in rounds and
    /// decodes and formats them itself ([`crate::logwriter::LogWriter::decoding`]).
    fn decodes(&self) -> bool {
        false
    }
    /// For a sink that decodes: the end of its formatter's output; what
    /// `Formatter::finish` returned and the bytes of text written.
    fn finish_format(&mut self) -> Option<(Option<String>, u64)> {
        None
    }
    /// What could not be written, after [`TraceSink::flush`].
    fn lost(&self) -> Option<Lost> {
        None
    }
    /// A table's file and rows (not the text it was given), after
    /// [`TraceSink::flush`].
    fn table(&self) -> Option<TableWritten> {
        None
    }
}

impl<F: FnMut(&str) + Send> TraceSink for F {
    fn write(&mut self, text: &str) {
        self(text)
    }
}

pub type Sink = Box<dyn TraceSink>;

/// What a table (`format=parquet`) holds once closed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableWritten {
    pub bytes: u64,
    pub rows: u64,
}

/// The CPU at an exit whose memory reads go through the kernel's address
/// space: registers as they are, and no memory, so that a user pointer is
/// shown as its value instead of decoding whatever the kernel has at the
/// same address.
struct KernelSpace<'c, C: ?Sized>(&'c C);

impl<C: Cpu + ?Sized> Cpu for KernelSpace<'_, C> {
    fn reg(&self, index: u32) -> Option<u64> {
        self.0.reg(index)
    }

    fn read_mem(&self, _addr: u64, _buf: &mut [u8]) -> usize {
        0
    }

    fn instructions(&self) -> Option<u64> {
        self.0.instructions()
    }
}

/// A CPU whose registers and memory are not the call's (an interrupted or
/// restarted call ends at another call's instruction), but whose clock is
/// the time it ended.
struct ClockOnly<'c, C: ?Sized>(&'c C);

impl<C: Cpu + ?Sized> Cpu for ClockOnly<'_, C> {
    fn reg(&self, _index: u32) -> Option<u64> {
        None
    }

    fn read_mem(&self, _addr: u64, _buf: &mut [u8]) -> usize {
        0
    }

    fn instructions(&self) -> Option<u64> {
        self.0.instructions()
    }
}

/// No CPU at all: for a call that ends where nothing of it can be read
/// (its process was killed), at a time already known. One type, so that
/// ending such calls from a report does not instantiate reports without
/// end.
struct NoCpu;

impl Cpu for NoCpu {
    fn reg(&self, _index: u32) -> Option<u64> {
        None
    }

    fn read_mem(&self, _addr: u64, _buf: &mut [u8]) -> usize {
        0
    }

    fn instructions(&self) -> Option<u64> {
        None
    }
}

/// What a pending call keeps of its entry: not the raw argument slots,
/// which are decoded by then (a pending call is moved in and out of its
/// table on every call, so its size counts).
#[derive(Clone, Copy, Debug)]
struct Call {
    number: u64,
    syscall: Option<usize>,
    table: u32,
    /// Argument locations that could not be read at the entry.
    unreadable_raw: u32,
    /// Argument locations read at the entry.
    arg_count: u8,
    thread: u64,
    process: u64,
}

impl Call {
    fn of(entry: &Entry) -> Self {
        Call {
            number: entry.number,
            syscall: entry.syscall,
            table: entry.table,
            unreadable_raw: entry.args.unreadable(),
            arg_count: entry.args.len().min(MAX_ARGS) as u8,
            thread: entry.thread,
            process: entry.process,
        }
    }
}

/// A call read at its entry instruction, on its way to being shown: it
/// waits there for its task's names when the model reads them at a probe.
#[derive(Debug)]
struct Prepared {
    mechanism: usize,
    pc: u64,
    entry: Call,
    key: PendingKey,
    args: Vec<Arg>,
    /// When calls are captured (`format=raw`, or decoded by the log's
    /// writer): the call's registers and the memory its entry's decoding
    /// reads ([`crate::raw::record::begin_capture`]).
    capture: Vec<u8>,
    /// The argument locations' values of a call not decoded at its entry
    /// (a names filter was expected to drop it), for decoding later.
    undecoded: Option<Box<Args>>,
    /// `trace=`, `process=` and `thread=` let it through (it is still
    /// followed to its exit, for the vCPU's pairing state, if not).
    selected: bool,
    /// It may change which task calls next with its identity, or its
    /// names (fork, exit, exec, prctl).
    changes_tasks: bool,
    ts: u64,
    /// A call that ends its process (`exit_group`): the status it ends it
    /// with, for the `+++ exited with N +++` line.
    exit_status: Option<u64>,
}

/// A call in its table, boxed: it moves into the table at its entry and
/// out through the exit's functions, and a box moves 8 bytes where the
/// call itself is ~200 (each a call to memcpy).
type Pending = Box<PendingCall>;

#[derive(Clone, Debug)]
struct PendingCall {
    mechanism: usize,
    /// The address of the entry instruction: the kernel returns there to
    /// restart the call.
    pc: u64,
    entry: Call,
    args: Vec<Arg>,
    /// When calls are captured: the entry's capture.
    capture: Vec<u8>,
    /// When the call entered, on the trace clock.
    ts: u64,
    /// A returns-twice call whose child has returned: the parent's return
    /// ends it.
    child_returned: bool,
    /// The thread entered a call through the same instruction while this
    /// one was pending: a signal handler runs, and this call ends only when
    /// the handler returns through sigreturn. An exit to its resume address
    /// is the newer call's, or an interrupt's that came just after it.
    superseded: bool,
    /// The call is marked `returns_twice` (fork, clone, vfork).
    returns_twice: bool,
    /// The guest's names for the calling task, when the model says how to
    /// read them.
    names: Option<TaskNames>,
    /// With the model's return probes, a call whose return only the
    /// returning task tells: another task's call has its identity (a
    /// return takes the call of the task that returns), or an exec.
    shared: Option<SharedMark>,
}

/// The task of a call entering, where calls of different tasks may have
/// one identity and the model's return probes tell them apart.
#[derive(Clone, Copy)]
struct Caller<'a> {
    tid: i64,
    shared: &'a SharedCalls,
}

/// Where a traced call's time comes from.
enum Clock {
    /// No output shows time: reading a clock is a measurable part of a
    /// traced call, so it is skipped (time reads as 0), and the TSC is not
    /// calibrated.
    Off,
    /// `timestamps=virtual`: the guest's instruction count
    /// ([`Cpu::instructions`]).
    Guest,
    /// Nanoseconds since the epoch, from a monotonic clock anchored once,
    /// so durations never go backwards when the host's clock is adjusted:
    /// the CPU's time-stamp counter scaled to nanoseconds where it is
    /// invariant (`quanta`), else the system's.
    Wall {
        tsc: quanta::Clock,
        start: u64,
        epoch_ns: u64,
    },
}

impl Clock {
    fn new(enabled: bool, guest: bool) -> Self {
        match (enabled, guest) {
            (false, _) => Clock::Off,
            (true, true) => Clock::Guest,
            (true, false) => {
                let epoch_ns = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
                let tsc = quanta::Clock::new();
                Clock::Wall {
                    start: tsc.raw(),
                    tsc,
                    epoch_ns,
                }
            }
        }
    }

    #[inline]
    fn now<C: Cpu + ?Sized>(&self, cpu: &C) -> u64 {
        match self {
            Clock::Off => 0,
            Clock::Guest => cpu.instructions().unwrap_or(0),
            Clock::Wall {
                tsc,
                start,
                epoch_ns,
            } => epoch_ns.saturating_add(tsc.delta_as_nanos(*start, tsc.raw())),
        }
    }
}

#[derive(Default)]
struct VcpuState {
    /// Exec calls entered on this vCPU waiting for their return into a new
    /// image, newest last: an exec may block while other tasks enter calls
    /// here, so it is not only the last entry.
    execs: Vec<PendingKey>,
    /// The last call entered on this vCPU, traced or not, while no exit on
    /// this vCPU has ended a call since: the only one whose exit may come
    /// with a new thread identity (see `take_rekeyed`).
    last_entry: Option<PendingKey>,
    /// The last call entered on this vCPU when a call of another process
    /// entered or returned here, until a call of its own process enters or
    /// returns here: a task stopped in its call (ptrace's stop at a call's
    /// exit) while its tracer's calls ran, whose exit may still come with
    /// a new thread identity (see `take_rekeyed`).
    set_aside: Option<PendingKey>,
    /// The key of the last call that returned on this vCPU, until a call
    /// enters here: an exit with that very key before then is an interrupt
    /// returning to the instruction the call returned to, not a return.
    last_return: Option<PendingKey>,
    /// Returns-twice calls whose first return has been seen.
    recent_twice: Vec<(PendingKey, Pending)>,
    /// The threads (thread, process) of the last calls that returned on
    /// this vCPU, in a ring: an interrupt returning to one of them is not a
    /// call returning with an identity nobody had (see `take_rekeyed`).
    returned_as: [Option<(u64, u64)>; RETURNED_AS],
    returned_next: usize,
    /// Calls entered on this vCPU, traced or not: counted under the lock
    /// every entry takes anyway (an atomic counter cost as much as a lock
    /// on this path).
    entries: u64,
    /// Calls that left the table, for [`Slot::sync`].
    removals: u64,
}

/// One vCPU's pending calls, and which threads have calls there.
///
/// Each slot sits on cache lines of its own: the vCPU that owns it writes
/// it on every call, and other vCPUs only read its `threads` summary.
#[repr(align(128))]
struct Slot {
    table: VcpuLock<(PendingTable<Pending>, VcpuState)>,
    /// One bit per (thread, process) hash of the calls in `table` (see
    /// [`identity_bit`]), and [`TWICE_BIT`] for a returns-twice call: a
    /// superset of what the table holds, since bits are added under the
    /// lock as calls enter but cleared only when [`Slot::sync`] recomputes
    /// them. Another vCPU looking for a thread's calls locks this slot only
    /// when the thread's bit is set, and an exit returns at once when no
    /// slot has any.
    threads: CachePadded<AtomicU64>,
}

/// Argument lists and return texts of reported calls, kept for the next
/// calls on the same thread ([`decode::decode_entry_args_into`],
/// [`decode::decode_return_into`]): with their text buffers, a call costs
/// several allocations and frees otherwise. Per thread (a vCPU's calls run
/// on its thread) rather than per vCPU slot: a lock around them cost as
/// much as the allocations did. They are plain buffers, so any tracer on
/// the thread may use them.
struct Spare {
    args: Vec<Vec<Arg>>,
    texts: Vec<String>,
    /// Buffers for calls' captures.
    captures: Vec<Vec<u8>>,
    /// Boxes of reported calls: malloc and free touch more cache lines a
    /// call than taking one from here.
    calls: Vec<Pending>,
}

thread_local! {
    static SPARE: RefCell<Spare> = const {
        RefCell::new(Spare {
            args: Vec::new(),
            texts: Vec::new(),
            captures: Vec::new(),
            calls: Vec::new(),
        })
    };
}

/// A buffer for a call's capture.
fn take_capture() -> Vec<u8> {
    SPARE
        .try_with(|s| s.borrow_mut().captures.pop())
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// A reported call's capture, kept for another call unless it grew large.
#[inline]
fn give_back_capture(capture: Vec<u8>) {
    // Nothing to keep unless calls are captured.
    if capture.capacity() != 0 {
        keep_capture(capture);
    }
}

fn keep_capture(mut capture: Vec<u8>) {
    if capture.capacity() > SPARE_TEXT_LIMIT {
        return;
    }
    capture.clear();
    let _ = SPARE.try_with(|s| {
        let mut spare = s.borrow_mut();
        if spare.captures.len() < SPARE_ARGS {
            spare.captures.push(capture);
        }
    });
}

/// `call` in a box a reported call left, else a new one.
fn boxed(call: PendingCall) -> Pending {
    match SPARE
        .try_with(|s| s.borrow_mut().calls.pop())
        .ok()
        .flatten()
    {
        Some(mut spare) => {
            *spare = call;
            spare
        }
        None => Box::new(call),
    }
}

/// A reported call's box, kept for another call.
fn give_back_box(mut call: Pending) {
    if call.shared.is_some() {
        // Counted no longer.
        call.shared = None;
    }
    let _ = SPARE.try_with(|s| {
        let mut spare = s.borrow_mut();
        if spare.calls.len() < SPARE_ARGS {
            spare.calls.push(call);
        }
    });
}

/// Buffers of each kind (argument lists, return texts, captures, boxes) a
/// thread keeps for reuse.
const SPARE_ARGS: usize = 8;

/// An argument text longer than this (a large buffer shown in full) is not
/// kept for reuse: its memory would stay held for small calls.
const SPARE_TEXT_LIMIT: usize = 4096;

/// An argument list to decode a call's arguments into.
fn take_args() -> Vec<Arg> {
    SPARE
        .try_with(|s| s.borrow_mut().args.pop())
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// An argument list for `syscall`'s arguments (none for a call without).
fn args_for(syscall: &Syscall) -> Vec<Arg> {
    if syscall.args.is_empty() {
        Vec::new()
    } else {
        take_args()
    }
}

/// A text buffer for a return.
fn take_text() -> String {
    SPARE
        .try_with(|s| s.borrow_mut().texts.pop())
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// A reported call's arguments and return text, kept for other calls.
/// Buffers grown for a large argument are let go: their memory would stay
/// held for small calls.
fn give_back(args: Vec<Arg>, text: Option<String>) {
    let args = (args.capacity() > 0 && args.iter().all(|a| a.text.capacity() <= SPARE_TEXT_LIMIT))
        .then_some(args);
    let text = text.filter(|t| t.capacity() > 0 && t.capacity() <= SPARE_TEXT_LIMIT);
    if args.is_none() && text.is_none() {
        return;
    }
    // Fails only while the thread is torn down; the buffers are freed then.
    let _ = SPARE.try_with(|s| {
        let mut spare = s.borrow_mut();
        if let Some(args) = args
            && spare.args.len() < SPARE_ARGS
        {
            spare.args.push(args);
        }
        if let Some(text) = text
            && spare.texts.len() < SPARE_ARGS
        {
            spare.texts.push(text);
        }
    });
}

/// How often [`Slot::sync`] recomputes the slot's `threads`.
const RESYNC_EVERY: u64 = 64;

impl Slot {
    fn new() -> Self {
        Slot {
            table: VcpuLock::new((PendingTable::new(PENDING_PER_VCPU), VcpuState::default())),
            threads: CachePadded::new(AtomicU64::new(0)),
        }
    }

    fn lock(&self) -> VcpuGuard<'_, (PendingTable<Pending>, VcpuState)> {
        self.table.lock()
    }

    /// After calls left the table (under its lock): `threads` may keep bits
    /// of calls no longer there, which only costs a needless look, but it
    /// is recomputed only now and then. Writing it on every call would
    /// take its cache line from every other vCPU that reads it, on every
    /// call.
    fn sync(&self, locked: &mut (PendingTable<Pending>, VcpuState)) {
        let (table, state) = locked;
        let removals = state.removals;
        state.removals += 1;
        if !removals.is_multiple_of(RESYNC_EVERY) {
            return;
        }
        let bits = table
            .iter()
            .fold(0, |bits, (k, p)| bits | Self::bits_of(k, p));
        if self.threads.load(Ordering::Relaxed) != bits {
            self.threads.store(bits, Ordering::Release);
        }
    }

    /// A call entered the table (under its lock).
    fn add(&self, bits: u64) {
        // Only a new bit is written (see `sync`).
        if self.threads.load(Ordering::Relaxed) & bits != bits {
            self.threads.fetch_or(bits, Ordering::Release);
        }
    }

    /// What a pending call adds to `threads`.
    fn bits_of(key: &PendingKey, pending: &Pending) -> u64 {
        let twice = if pending.returns_twice { TWICE_BIT } else { 0 };
        identity_bit(key.thread, key.process) | twice
    }

    /// Whether a returns-twice call may be pending here (for a child's
    /// return, which has another identity than its parent's call).
    fn may_hold_twice(&self) -> bool {
        self.threads.load(Ordering::Acquire) & TWICE_BIT != 0
    }

    /// Whether a call of this thread may be pending here.
    fn may_hold(&self, thread: u64, process: u64) -> bool {
        self.threads.load(Ordering::Acquire) & identity_bit(thread, process) != 0
    }

    fn is_empty(&self) -> bool {
        self.threads.load(Ordering::Acquire) == 0
    }
}

/// A thread's bit in [`Slot::threads`]: one of the low 32.
fn identity_bit(thread: u64, process: u64) -> u64 {
    let mixed = (thread ^ process.rotate_left(29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    1 << (mixed >> 59)
}

/// The bit of [`Slot::threads`] that says a returns-twice call is there.
const TWICE_BIT: u64 = 1 << 63;

impl VcpuState {
    /// A call of `process` enters or returns here: the last entry, if
    /// another process's, is set aside, and one of `process` set aside is
    /// no longer waited for.
    #[inline(always)]
    fn call_of(&mut self, process: u64) {
        if let Some(last) = self.last_entry
            && last.process != process
        {
            self.set_aside = Some(last);
        } else if self.set_aside.is_some_and(|k| k.process == process) {
            self.set_aside = None;
        }
    }

    /// A call with `key` returned on this vCPU. The last call entered here
    /// is then no longer the one whose return comes next, so a later exit
    /// with another identity is not its return: on real guests an
    /// interrupt return of the thread that ran next, at the same
    /// instruction (both threads calling through libc's `syscall()`), took
    /// a blocked reader's `read` that way.
    ///
    /// The returned call's key is kept until the next entry on this vCPU
    /// (see [`VcpuState::last_return`]): a vfork child's interrupt return
    /// right after its 0, with its parent's identity and x0 still 0, took
    /// the parent's call.
    fn returned(&mut self, key: &PendingKey) {
        self.call_of(key.process);
        self.last_entry = None;
        self.last_return = Some(*key);
        self.returned_as[self.returned_next % RETURNED_AS] = Some((key.thread, key.process));
        self.returned_next = self.returned_next.wrapping_add(1);
    }
}

struct Output {
    formatter: Formatter,
    sink: Sink,
    /// Reused for every event's text, for a sink without a buffer.
    text: String,
    /// Exits reported: counted under the lock their output takes anyway.
    exits: u64,
    /// Bytes of text given to the sink.
    bytes: u64,
    /// Events taken from the vCPUs' queues and not placed yet.
    drained: Drained,
}

impl Output {
    /// Runs `format` with the formatter and where its text goes: straight
    /// into the sink's buffer when it has one (a copy less), else into
    /// `text`, then written.
    fn format<R>(&mut self, format: impl FnOnce(&mut Formatter, &mut String) -> R) -> R {
        if let Some(buffer) = self.sink.buffer() {
            let before = buffer.len();
            let result = format(&mut self.formatter, buffer);
            self.bytes += (buffer.len() - before) as u64;
            self.sink.appended();
            return result;
        }
        let result = format(&mut self.formatter, &mut self.text);
        if !self.text.is_empty() {
            self.bytes += self.text.len() as u64;
            self.sink.write(&self.text);
            self.text.clear();
        }
        result
    }
}

/// Counts for the end-of-run report.
#[derive(Debug, Default)]
pub struct Stats {
    pub unreadable_entries: AtomicU64,
    pub child_returns: AtomicU64,
    pub exec_returns: AtomicU64,
    pub rekeyed_returns: AtomicU64,
    pub interrupted: AtomicU64,
    /// Calls the kernel restarted by returning to their entry instruction.
    pub restarted: AtomicU64,
    pub dropped_pending: AtomicU64,
    /// Entries not traced because of `trace=`, `process=`, `thread=`,
    /// `pid=`, `tid=`, `comm=` or `follow=`.
    pub filtered: AtomicU64,
    /// Calls whose task's names could not be read, with a model that says
    /// how (a probe that did not run, memory that did not read).
    pub unnamed: AtomicU64,
    /// Arguments of traced events that could not be read.
    pub unreadable_args: AtomicU64,
}

pub struct Tracer<B: Backend> {
    backend: B,
    model: Model,
    /// Per mechanism: the mechanisms that share its entry pattern, those
    /// with a `when` first (see [`Tracer::on_entry`]).
    entry_choices: Vec<Box<[usize]>>,
    /// Per exit (the backend's order): whether it is `kernel_space`, so
    /// user memory is not read there.
    kernel_space_exits: Vec<bool>,
    /// Calls whose outputs wait for their thread's next user instruction
    /// (`outputs_at_resume` exits), if the model has such exits.
    resumes: Option<resume::Resumes>,
    options: DecodeOptions,
    pending: Vec<Slot>,
    /// Returns-twice calls whose parent returned and whose child has not.
    children_awaited: AtomicUsize,
    /// Processes whose end by a signal was shown: a second wait that finds
    /// one (its ptrace tracer's, then its parent's) shows nothing more. A
    /// process leaves when a new one takes its id (a fork's return).
    killed: Mutex<Vec<i64>>,
    /// The signal handlers seen entered.
    handlers: signal::Handlers,
    output: Mutex<Output>,
    /// With several vCPUs, where their events wait to be put in order
    /// ([`Tracer::queue_per_vcpu`]), and how their text is made there.
    queues: Option<(Preparer, Queues)>,
    /// `trace=` resolved against the model: traced syscalls by index.
    selection: Selection,
    /// For `process=` and `thread=`.
    filter: FilterSpec,
    /// Whether arguments are decoded: not for the summary alone, which
    /// needs only names, returns and times.
    decode: bool,
    /// `format=none`: registers read at entries and exits, nothing more.
    capture_only: bool,
    /// By table and syscall: the argument that receives a reaped child's
    /// wait status, and the enum naming its signals ([`Tracer::report_killed`]).
    wait_statuses: Vec<Vec<Option<(usize, u32)>>>,
    /// By table: the declaration number of its first call (lean jsonl's
    /// `decl` numbers the calls of every table in order); empty when the
    /// trace is not lean jsonl, so no call pays for the numbering.
    decl_base: Vec<u32>,
    /// When calls are captured (`format=raw`, or decoded by the log's
    /// writer): the vCPUs' records, instead of the output's text.
    raw: Option<RawOut>,
    clock: Clock,
    /// The guest's names for tasks, when the model's `task` block can be
    /// read ([`Tracer::with_task`]).
    names: Option<task::Names>,
    /// The names' return probes tell apart tasks whose calls have one
    /// identity ([`task::Names::shared`]): a test every call makes.
    tells_tasks_apart: bool,
    /// Returns waiting for their task's names (see [`new_identity`]).
    held_returns: new_identity::HeldReturns,
    pub stats: Stats,
}

impl<B: Backend> Tracer<B> {
    /// A tracer writing `formatter`'s output to `sink`. A filter that names
    /// a syscall or class the model does not have cannot trace what was
    /// asked for: the error goes to stderr and into the trace, and nothing
    /// is traced. [`Tracer::try_new`] returns it instead.
    pub fn new(backend: B, model: Model, vcpus: usize, formatter: Formatter, sink: Sink) -> Self {
        let selection = match Self::raw_needs_bytes(&formatter, &sink) {
            Ok(()) => formatter.config().filter.resolve(&model),
            Err(message) => Err(message),
        };
        let mut tracer = Self::build(backend, model, vcpus, formatter, sink);
        match selection {
            Ok(selection) => tracer.selection = selection,
            Err(message) => {
                let message = format!("osmtrace: {message}; tracing nothing\n");
                eprint!("{message}");
                let out = tracer.output.get_mut().unwrap_or_else(|e| e.into_inner());
                out.sink.write(&message);
            }
        }
        tracer
    }

    /// [`Tracer::new`], or the error of a filter the model cannot satisfy.
    pub fn try_new(
        backend: B,
        model: Model,
        vcpus: usize,
        formatter: Formatter,
        sink: Sink,
    ) -> Result<Self, String> {
        let selection = formatter
            .config()
            .filter
            .resolve(&model)
            .map_err(|e| format!("osmtrace: {e}"))?;
        Self::raw_needs_bytes(&formatter, &sink).map_err(|e| format!("osmtrace: {e}"))?;
        let mut tracer = Self::build(backend, model, vcpus, formatter, sink);
        tracer.selection = selection;
        Ok(tracer)
    }

    /// A raw trace is binary: it goes to a file's writer, not to text.
    fn raw_needs_bytes(formatter: &Formatter, sink: &Sink) -> Result<(), String> {
        if formatter.format() == Format::Raw && !sink.takes_bytes() {
            return Err("format=raw writes a binary file: give it with log=PATH".to_string());
        }
        Ok(())
    }

    /// A tracer that traces nothing until its selection is set.
    fn build(backend: B, model: Model, vcpus: usize, formatter: Formatter, mut sink: Sink) -> Self {
        let pending = (0..vcpus.max(1)).map(|_| Slot::new()).collect();
        let config = formatter.config().clone();
        let entry_choices = model
            .mechanisms
            .iter()
            .map(|m| {
                let mut same: Vec<usize> = (0..model.mechanisms.len())
                    .filter(|&o| model.mechanisms[o].entry == m.entry)
                    .collect();
                same.sort_by_key(|&o| model.mechanisms[o].when.is_none());
                same.into_boxed_slice()
            })
            .collect();
        let lean = config.format == Format::Jsonl && config.jsonl_lean;
        let decl_base = if lean {
            crate::format::decl_bases(&model)
        } else {
            Vec::new()
        };
        // A lean trace starts with the declarations its events refer to.
        let mut declared = String::new();
        if lean {
            crate::format::declarations(&model, &mut declared);
            sink.write(&declared);
        }
        let mut declared_bytes = declared.len() as u64;
        let options = DecodeOptions {
            string_limit: config.string_limit,
            verbose: config.verbose,
        };
        // Calls are captured on the vCPUs for a raw file, or for a sink
        // that decodes them on its own thread.
        let decodes = sink.decodes() && config.format != Format::Raw;
        let raw = (config.format == Format::Raw || decodes).then(|| {
            if !decodes {
                let header = crate::raw::header(&model, &options, config.timestamps);
                declared_bytes += header.len() as u64;
                sink.write_bytes(header);
            }
            RawOut::new(vcpus, decodes)
        });
        Tracer {
            backend,
            entry_choices,
            raw,
            decl_base,
            kernel_space_exits: model
                .mechanisms
                .iter()
                .flat_map(|m| m.exits.iter().map(|e| e.kernel_space))
                .collect(),
            resumes: resume::Resumes::new(
                model
                    .mechanisms
                    .iter()
                    .flat_map(|m| m.exits.iter().map(|e| e.outputs_at_resume))
                    .collect(),
                model
                    .mechanisms
                    .iter()
                    .flat_map(|m| m.exits.iter().map(|e| e.read_at_resume))
                    .collect(),
                vcpus.max(1),
            ),
            options,
            selection: Selection {
                tables: model
                    .tables
                    .iter()
                    .map(|t| vec![false; t.syscalls.len()])
                    .collect(),
                unknown: false,
            },
            filter: config.filter,
            wait_statuses: model
                .tables
                .iter()
                .map(|t| t.syscalls.iter().map(wait_status_arg).collect())
                .collect(),
            decode: config.format != Format::Summary,
            capture_only: config.format == Format::Nothing,
            clock: Clock::new(
                config.timestamps != Timestamps::None
                    || config.durations
                    || config.summary
                    || matches!(
                        config.format,
                        Format::Perfetto | Format::Parquet | Format::Summary | Format::Raw
                    ),
                config.timestamps == Timestamps::Virtual,
            ),
            model,
            pending,
            children_awaited: AtomicUsize::new(0),
            killed: Mutex::new(Vec::new()),
            handlers: signal::Handlers::default(),
            queues: None,
            names: None,
            tells_tasks_apart: false,
            held_returns: new_identity::HeldReturns::default(),
            output: Mutex::new(Output {
                formatter,
                sink,
                text: String::new(),
                exits: 0,
                bytes: declared_bytes,
                drained: Drained::default(),
            }),
            stats: Stats::default(),
        }
    }

    /// Each vCPU queues its events, and they are put in one order a batch
    /// at a time ([`crate::ordered`]) instead of each event taking the
    /// output's lock: with several vCPUs that lock made them wait for one
    /// another. The trace is the same; its text is written later, a batch
    /// at a time, and at the latest by [`Tracer::finish_trace`]. Nothing
    /// changes for one vCPU, or for output that needs whole events (a
    /// status filter, the summary, Perfetto).
    pub fn queue_per_vcpu(mut self) -> Self {
        let formatter = &self
            .output
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .formatter;
        if let Some(preparer) = formatter.preparer()
            && self.pending.len() > 1
        {
            self.queues = Some((preparer, Queues::new(self.pending.len())));
        }
        self
    }

    /// Reads the guest's names for tasks as `reader` says (the model's
    /// `task` block, resolved against the traced kernel).
    pub fn with_task(mut self, reader: TaskReader) -> Self {
        // A register identity without an address space in it (MIPS's
        // stack pointer alone) does not tell a fork child from its parent.
        let reads_guest = |e: &Expr| e.any(&|x| matches!(x, Expr::Reg(_) | Expr::Load { .. }));
        let trust_identity = reads_guest(&self.model.process)
            && self
                .model
                .mechanisms
                .iter()
                .all(|m| reads_guest(&m.process));
        let names = task::Names::new(
            reader,
            self.pending.len(),
            trust_identity,
            self.filter.follow.clone(),
        );
        self.tells_tasks_apart = names.shared().is_some();
        self.names = Some(names);
        self
    }

    /// The kernel instructions [`Tracer::on_probe`] wants to run at.
    pub fn probes(&self) -> Vec<&osm_model::Pattern> {
        self.names
            .as_ref()
            .map_or_else(Vec::new, |n| n.reader().probes().collect())
    }

    /// The kernel instructions [`Tracer::on_return_probe`] wants to run at.
    pub fn return_probes(&self) -> Vec<&osm_model::Pattern> {
        self.names
            .as_ref()
            .map_or_else(Vec::new, |n| n.reader().return_probes().collect())
    }

    /// At a return probe (see [`Tracer::return_probes`]): which task
    /// returns, while calls of different tasks have one identity.
    pub fn on_return_probe<C: Cpu + ?Sized>(&self, vcpu: u32, at: ReadAt, cpu: &C) {
        if let Some(names) = &self.names {
            names.return_probe(vcpu, at, cpu);
        }
    }

    /// Whether calls are labelled with the guest's names for their tasks.
    pub fn names_tasks(&self) -> bool {
        self.names.is_some()
    }

    /// At a probe instruction (see [`Tracer::probes`]): the vCPU's call
    /// waiting for its task gets the task's names.
    pub fn on_probe<C: Cpu + ?Sized>(&self, vcpu: u32, at: ReadAt, cpu: &C) {
        if let Some(names) = &self.names {
            names.probe(self, vcpu, at, cpu);
        }
    }

    /// Whether some exit is read, or decodes outputs, at the resume
    /// address: the plugin then watches the start of every block for
    /// [`Tracer::on_resume`], while [`Tracer::awaits_resume`].
    pub fn watches_resume(&self) -> bool {
        self.resumes.is_some()
    }

    /// Whether a call waits on `vcpu` for a probe: probes need not run
    /// while none does.
    pub fn awaits_probe(&self, vcpu: u32) -> bool {
        self.names.as_ref().is_some_and(|n| n.awaits_probe(vcpu))
    }

    /// Whether return probes are to read which task returns: a call whose
    /// return only the returning task tells may return on any vCPU.
    pub fn awaits_return_probes(&self) -> bool {
        self.names
            .as_ref()
            .is_some_and(|n| n.awaits_return_probes())
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// Calls entered (traced or not).
    pub fn entries(&self) -> u64 {
        self.pending.iter().map(|s| s.lock().1.entries).sum()
    }

    /// Exits reported (paired with their calls, or ending them otherwise).
    pub fn exits(&self) -> u64 {
        self.output.lock().unwrap_or_else(|e| e.into_inner()).exits
    }

    /// A vCPU's slot: its own, but for a vCPU beyond the count the tracer
    /// was made for (a hot-plugged one). A division costs tens of cycles,
    /// and this is asked several times a call.
    #[inline]
    fn slot(&self, vcpu: u32) -> usize {
        let vcpu = vcpu as usize;
        if vcpu < self.pending.len() {
            vcpu
        } else {
            vcpu % self.pending.len()
        }
    }

    fn syscall(&self, entry: &Call) -> Option<&Syscall> {
        let table = self.model.tables.get(entry.table as usize)?;
        table.syscalls.get(entry.syscall?)
    }

    /// The call's name, classes and (in a lean trace, when `args` are its
    /// parameters) declaration number, from its `syscall` looked up once:
    /// only a number the model does not know needs a name made up.
    fn described<'a>(
        &self,
        entry: &Call,
        syscall: Option<&'a Syscall>,
        args: &[Arg],
    ) -> (Cow<'a, str>, &'a [String], Option<u32>) {
        let decl = match (syscall, self.decl_base.get(entry.table as usize)) {
            (Some(s), Some(base)) if s.args.len() == args.len() => {
                entry.syscall.map(|index| base + index as u32)
            }
            _ => None,
        };
        (
            decode::call_name(syscall, entry.number),
            syscall.map_or(&[], |s| s.classes.as_slice()),
            decl,
        )
    }

    fn emit(&self, event: &Event<'_>) {
        self.emit_counted(event, false);
    }

    /// Writes `event`; `reported_exit` counts it as an exit reported.
    /// With queues, the event's own text goes into its vCPU's queue (see
    /// [`Preparer`]); without, the whole event is formatted under the
    /// output's lock, which one vCPU has to itself.
    fn emit_counted(&self, event: &Event<'_>, reported_exit: bool) {
        if let Some(raw) = &self.raw {
            raw.push(self.slot(event.vcpu), event, reported_exit, |chunk| {
                let mut out = self.output.lock().unwrap_or_else(|e| e.into_inner());
                out.sink.write_bytes(chunk);
            });
            return;
        }
        if let Some((preparer, queues)) = &self.queues {
            let slot = self.slot(event.vcpu);
            let full = queues.push(slot, &Placed::of(event), reported_exit, |text| {
                preparer.prepare(event, text)
            });
            if full {
                self.place_queued(false);
            }
            return;
        }
        let mut guard = self.output.lock().unwrap_or_else(|e| e.into_inner());
        let out = &mut *guard;
        out.exits += u64::from(reported_exit);
        out.format(|formatter, text| formatter.event(event, text));
    }

    /// When a vCPU goes idle: the queued events that are certainly next
    /// are written, so that a guest that stops making calls does not leave
    /// its last ones queued until it makes more. Not while another vCPU
    /// writes them anyway: an idle vCPU has nothing to wait for.
    pub fn on_idle(&self) {
        if let Some((_, queues)) = &self.queues
            && let Ok(guard) = self.output.try_lock()
        {
            Self::place_queued_in(queues, guard, false);
        }
    }

    /// Writes the queued events that are certainly next; with `all`, every
    /// queued event (when no vCPU queues any more).
    fn place_queued(&self, all: bool) {
        if let Some((_, queues)) = &self.queues {
            let guard = self.output.lock().unwrap_or_else(|e| e.into_inner());
            Self::place_queued_in(queues, guard, all);
        }
    }

    fn place_queued_in(queues: &Queues, mut guard: std::sync::MutexGuard<'_, Output>, all: bool) {
        let out = &mut *guard;
        let mut drained = std::mem::take(&mut out.drained);
        queues.drain(&mut drained, all, |event, prepared, reported_exit| {
            out.exits += u64::from(reported_exit);
            out.format(|formatter, text| formatter.place_prepared(event, prepared, text));
        });
        out.drained = drained;
    }

    /// Unreadable arguments of a call: decoded ones know; without decoding
    /// only unreadable locations are known.
    /// Counted for the health figures.
    fn unreadable(&self, args: &[Arg], entry: &Call) -> u32 {
        let n = if self.decode {
            args.iter().filter(|a| a.is_unreadable()).count() as u32
        } else {
            entry.unreadable_raw
        };
        if n > 0 {
            self.stats
                .unreadable_args
                .fetch_add(u64::from(n), Ordering::Relaxed);
        }
        n
    }

    /// At the entry instruction `insn` of `mechanism` (or of any mechanism
    /// with the same pattern: the first whose `when` holds takes it).
    pub fn on_entry<C: Cpu + ?Sized>(
        &self,
        vcpu: u32,
        mechanism: usize,
        insn: &EntryInsn,
        cpu: &C,
    ) {
        let choices = self.entry_choices.get(mechanism).map_or(&[][..], |c| c);
        let Some(mechanism) = choices
            .iter()
            .copied()
            .find(|&m| self.backend.applies(m, insn.value, cpu))
        else {
            return;
        };
        let mut entry = Entry::default();
        if self
            .backend
            .entry(mechanism, insn.value, cpu, &mut entry)
            .is_none()
        {
            self.stats
                .unreadable_entries
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
        if self.capture_only {
            std::hint::black_box(&entry);
            return;
        }
        // Before anything of this call shows: the thread's last return.
        if self.resumes.is_some() {
            self.entered_with_parked(vcpu, entry.thread, entry.process);
        }
        let call = Call::of(&entry);
        let syscall = self.syscall(&call);
        let sigreturn = syscall.is_some_and(|s| s.sigreturn);
        // The thread a sigreturn returns to, where the model reads it
        // otherwise in the handler (MIPS's sp).
        let thread = match &self.model.signal {
            Some(signal) if sigreturn => signal
                .sigreturn_thread
                .as_ref()
                .and_then(|e| {
                    let read = eval(e, cpu, &Env::new(self.model.endian));
                    let kept = self.handler_left(entry.process, entry.thread);
                    read.or(kept)
                })
                .unwrap_or(entry.thread),
            _ => entry.thread,
        };
        if sigreturn {
            // Before the sigreturn line, and whether or not sigreturn is
            // traced: the interrupted call ended first.
            self.finish_interrupted(vcpu, thread, entry.process, cpu);
        }
        let key = PendingKey {
            thread,
            process: entry.process,
            resume: entry.returns_to.unwrap_or_else(|| insn.next_pc()),
        };
        // Whether or not this call is traced; once its task is known where
        // return probes tell tasks with one identity apart.
        if !self.tells_tasks_apart {
            self.entered_elsewhere(vcpu, &key);
        }
        let changes_tasks = self.names.as_ref().is_some_and(|n| n.entered(syscall));
        let selected = self.selection.selected(entry.table, entry.syscall)
            && self.filter.identity_ok(entry.thread, entry.process);
        let mut call = Prepared {
            mechanism,
            pc: entry.called_from.unwrap_or(insn.pc),
            entry: call,
            key,
            args: Vec::new(),
            capture: Vec::new(),
            undecoded: None,
            selected,
            changes_tasks,
            ts: 0,
            exit_status: syscall
                .filter(|s| s.ends_process || s.ends_thread)
                .and_then(|_| entry.args.get(0))
                .map(|status| status & 0xff),
        };
        if selected {
            call.ts = self.clock.now(cpu);
            // A call that a names filter will drop costs no decoding when
            // the vCPU's last task, which most likely makes it, is dropped.
            if self
                .names
                .as_ref()
                .is_none_or(|n| !n.predicted_out(self, vcpu, &key))
            {
                self.decode_args(&mut call, &entry.args, cpu);
            } else {
                call.undecoded = Some(Box::new(entry.args));
            }
        }
        match &self.names {
            None => self.complete_entry(vcpu, &mut call, None, cpu),
            Some(names) => names.arrived(self, vcpu, call, insn, cpu),
        }
    }

    /// Decodes a call's arguments at its entry (or, for a call whose
    /// names were predicted wrongly, where its task was read).
    fn decode_args<C: Cpu + ?Sized>(&self, call: &mut Prepared, values: &Args, cpu: &C) {
        let syscall = self.syscall(&call.entry);
        if self.raw.is_none() && syscall.is_some_and(|s| s.args.is_empty()) {
            // getpid, sched_yield...: nothing to decode.
            return;
        }
        let mut raw = [None; MAX_ARGS];
        let count = usize::from(call.entry.arg_count);
        for (i, slot) in raw.iter_mut().enumerate().take(count) {
            *slot = values.get(i);
        }
        let raw = &raw[..count];
        if self.raw.is_some() {
            return self.capture_entry(call, syscall, raw, cpu);
        }
        call.args = match syscall {
            _ if !self.decode => Vec::new(),
            Some(s) => {
                let mut args = args_for(s);
                decode::decode_entry_args_into(&mut args, &self.model, s, raw, cpu, &self.options);
                args
            }
            None => decode::unknown_args(raw),
        };
    }

    /// A call's entry captured for decoding later: which call, its
    /// argument registers and the memory decoding its arguments reads;
    /// its arguments get the flags decoding would give them, no text.
    fn capture_entry<C: Cpu + ?Sized>(
        &self,
        call: &mut Prepared,
        syscall: Option<&Syscall>,
        raw: &[Option<u64>],
        cpu: &C,
    ) {
        let mut capture = std::mem::take(&mut call.capture);
        if capture.capacity() == 0 {
            capture = take_capture();
        }
        capture.clear();
        record::begin_capture(&mut capture, call.entry.table, call.entry.syscall, raw);
        let log = record::CaptureLog::begin(&mut capture);
        call.args = match syscall {
            Some(s) => {
                let mut args = args_for(s);
                let recording = Recording::new(cpu, &mut capture);
                let (model, options) = (&self.model, &self.options);
                decode::capture_entry_args_into(&mut args, model, s, raw, &recording, options);
                args
            }
            None => decode::unknown_args(raw),
        };
        log.end(&mut capture);
        call.capture = capture;
    }

    /// A call whose task is known (or cannot be): the filters that need
    /// its names, then it is shown and waits for its exit.
    fn complete_entry<C: Cpu + ?Sized>(
        &self,
        vcpu: u32,
        call: &mut Prepared,
        names: Option<TaskNames>,
        cpu: &C,
    ) {
        if let Some(n) = &self.names {
            n.release_children(self, &call.key, names.as_ref());
            self.release_held_returns(&call.key, names.as_ref(), cpu);
        }
        let (caller, shared_elsewhere) = if self.tells_tasks_apart {
            let caller = self.caller(names.as_ref());
            (caller, self.entered_elsewhere_as(vcpu, &call.key, caller))
        } else {
            (None, false)
        };
        let syscall = self.syscall(&call.entry);
        let ending = self.threads_ending(call, syscall, names.as_ref());
        // `follow=` sees every call whose task is known, traced or not: a
        // followed shell that makes no traced call still hands its
        // following on to what it starts.
        let followed = self
            .names
            .as_ref()
            .is_none_or(|n| n.follows(names.as_ref(), syscall));
        let shown = followed && self.filter.names_ok(names.as_ref());
        let traced = call.selected && shown;
        if !traced {
            // A process's end shows whatever calls are selected, as
            // strace's does with -e trace=.
            if let Some(status) = call.exit_status
                && shown
                && self
                    .filter
                    .identity_ok(call.entry.thread, call.entry.process)
            {
                self.report_exited(vcpu, call, status, names, ending, cpu);
            }
            self.entered_untraced(vcpu, &call.key, caller);
            self.stats.filtered.fetch_add(1, Ordering::Relaxed);
            give_back(std::mem::take(&mut call.args), None);
            return;
        }
        if let Some(values) = call.undecoded.take() {
            self.decode_args(call, &values, cpu);
        }
        let (name, classes, decl) = self.described(&call.entry, syscall, &call.args);
        let event = Event {
            kind: EventKind::Entry,
            vcpu,
            thread: call.entry.thread,
            process: call.entry.process,
            nr: call.entry.number,
            name: &name,
            args: &call.args,
            ret: None,
            classes,
            ts: Some(call.ts),
            entry_ts: None,
            unreadable: self.unreadable(&call.args, &call.entry),
            entered_as: None,
            task: names,
            decl,
            capture: self.raw.as_ref().map(|_| &call.capture[..]),
            process_ended: false,
        };
        self.emit(&event);
        let key = call.key;
        if syscall.is_some_and(|s| s.noreturn) {
            self.entered_noreturn(vcpu, &key, &event, caller);
            if let Some(status) = call.exit_status {
                self.report_exited(vcpu, call, status, names, ending, cpu);
            }
            give_back(std::mem::take(&mut call.args), None);
            return;
        }
        // Boxed before the lock is taken.
        let mut pending = boxed(PendingCall {
            mechanism: call.mechanism,
            pc: call.pc,
            entry: call.entry,
            args: std::mem::take(&mut call.args),
            capture: std::mem::take(&mut call.capture),
            ts: call.ts,
            child_returned: false,
            superseded: false,
            returns_twice: syscall.is_some_and(|s| s.returns_twice),
            names,
            shared: None,
        });
        let exec = syscall.is_some_and(|s| s.exec);
        let slot = self.slot(vcpu);
        let mut guard = self.pending[slot].lock();
        let (table, state) = &mut *guard;
        // An exec returns with none of its identity, a fork's child (on
        // MIPS) with all of its parent's: only the task returning says
        // whose return it is.
        let shared_here = Self::entered_here(table, state, &key, caller);
        if let Some(c) = caller
            && (shared_here || shared_elsewhere || exec || pending.returns_twice)
        {
            pending.shared = Some(c.shared.mark());
        }
        if exec {
            state.execs.retain(|k| *k != key);
            if state.execs.len() >= MAX_EXECS {
                state.execs.remove(0);
            }
            state.execs.push(key);
        }
        let bits = Slot::bits_of(&key, &pending);
        self.pending[slot].add(bits);
        if table.insert(key, pending).is_some() {
            self.stats.dropped_pending.fetch_add(1, Ordering::Relaxed);
            self.pending[slot].sync(&mut guard);
        }
    }

    /// At an exit instruction matching `exits` (indices into the backend's exits).
    pub fn on_exit<C: Cpu + ?Sized>(&self, vcpu: u32, exits: &[usize], cpu: &C) {
        if self.tells_tasks_apart
            && let Some(names) = &self.names
        {
            names.exiting(vcpu);
        }
        if let Some(resumes) = &self.resumes
            && exits.iter().any(|&e| resumes.reads_later(e))
        {
            return self.exit_later(vcpu, exits, cpu);
        }
        self.exit_now(vcpu, exits, cpu);
    }

    /// [`Tracer::on_exit`] with `read_at_resume` exits among `exits`.
    #[cold]
    #[inline(never)]
    fn exit_later<C: Cpu + ?Sized>(&self, vcpu: u32, exits: &[usize], cpu: &C) {
        let Some(resumes) = &self.resumes else {
            return;
        };
        let (later, now): (Vec<usize>, Vec<usize>) =
            exits.iter().partition(|&&e| resumes.reads_later(e));
        self.defer_exits(vcpu, &later);
        if !now.is_empty() {
            self.exit_now(vcpu, &now, cpu);
        }
    }

    /// Reads `exits` now, where their instruction runs or, for
    /// `read_at_resume` exits, where it returned to.
    #[inline(always)]
    fn exit_now<C: Cpu + ?Sized>(&self, vcpu: u32, exits: &[usize], cpu: &C) {
        if let Some(names) = &self.names {
            names.unpark(self, vcpu, cpu);
        }
        if self.capture_only {
            for &exit in exits {
                std::hint::black_box(self.backend.exit(exit, cpu));
            }
            return;
        }
        if self.resumes.as_ref().is_some_and(|r| !r.is_empty()) {
            for &exit in exits {
                if let Some(values) = self.backend.exit(exit, cpu) {
                    self.rearm(vcpu, values.thread, values.process, values.resume);
                }
            }
        }
        if self.pending.iter().all(Slot::is_empty)
            && self.children_awaited.load(Ordering::SeqCst) == 0
        {
            return self.signal_outside_calls(vcpu, exits, cpu);
        }
        // An instruction that ends several mechanisms' calls reads as each
        // of them: a pending call matched exactly by any reading comes
        // first, before guessing from one of them. The second pass reads
        // again: QEMU's CPU keeps what the first pass read for the rest of
        // the callback (`QemuCpu`), and an array of readings cost every exit
        // its stack lines. The readings themselves (a resume address
        // may be in kernel memory) see the CPU as it is; decoding outputs
        // at a `kernel_space` exit reads no memory.
        for &exit in exits {
            let Some(values) = self.backend.exit(exit, cpu) else {
                continue;
            };
            // A call found here has marked this vCPU (`ended_a_call`).
            let done = if self.kernel_space_exits.get(exit) == Some(&true) {
                self.pair_exact(vcpu, exit, &values, &KernelSpace(cpu))
            } else {
                self.pair_exact(vcpu, exit, &values, cpu)
            };
            if done {
                return;
            }
        }
        for &exit in exits {
            let Some(values) = self.backend.exit(exit, cpu) else {
                continue;
            };
            let done = if self.kernel_space_exits.get(exit) == Some(&true) {
                self.pair_otherwise(vcpu, exit, &values, &KernelSpace(cpu))
            } else {
                self.pair_otherwise(vcpu, exit, &values, cpu)
            };
            if done {
                self.exit_ended_a_call(vcpu, &Self::exit_key(&values));
                return;
            }
        }
        self.signal_outside_calls(vcpu, exits, cpu);
    }

    /// [`VcpuState::returned`] on `vcpu`.
    pub(super) fn exit_ended_a_call(&self, vcpu: u32, key: &PendingKey) {
        self.pending[self.slot(vcpu)].lock().1.returned(key);
    }

    /// [`VcpuState::returned`] for the vCPU whose slot is `own`, with
    /// `slot`'s lock in `guard`: under that lock when it is the vCPU's own
    /// (the common case, one lock per exit), else after letting it go (a
    /// vCPU never holds two slots' locks).
    #[inline(always)]
    fn ended_a_call(
        &self,
        own: usize,
        slot: usize,
        mut guard: VcpuGuard<'_, (PendingTable<Pending>, VcpuState)>,
        key: &PendingKey,
    ) {
        if slot == own {
            guard.1.returned(key);
        } else {
            drop(guard);
            self.pending[own].lock().1.returned(key);
        }
    }

    fn exit_key(values: &ExitValues) -> PendingKey {
        PendingKey {
            thread: values.thread,
            process: values.process,
            resume: values.resume,
        }
    }

    fn exit_mechanism(&self, exit: usize) -> usize {
        self.backend.exits().get(exit).map_or(0, |(m, _)| *m)
    }

    /// Ends the pending call of `exit`'s mechanism whose key the reading
    /// gives exactly, if there is one; `cpu` is what decoding outputs
    /// reads. Returns whether a call was found.
    fn pair_exact<C: Cpu + ?Sized>(
        &self,
        vcpu: u32,
        exit: usize,
        values: &ExitValues,
        cpu: &C,
    ) -> bool {
        let key = Self::exit_key(values);
        let ret = values.ret;
        match self.take_exact(vcpu, &key, ret, self.exit_mechanism(exit)) {
            Some(Exact::Call(mut pending)) => {
                if self.resumes.is_some()
                    && self.decodes_at_resume(exit, &pending, ret, values.error_flag)
                {
                    self.park(vcpu, pending, &key, ret, values.error_flag, cpu);
                } else {
                    let ts = self.clock.now(cpu);
                    self.report_done(vcpu, &mut pending, &key, ret, values.error_flag, cpu, ts);
                    give_back_box(pending);
                }
                true
            }
            Some(Exact::Child(pending)) => {
                self.stats.child_returns.fetch_add(1, Ordering::Relaxed);
                self.report_child(vcpu, &pending, &key, ret, values.error_flag, cpu);
                true
            }
            None => false,
        }
    }

    /// When no reading matched a call exactly: a child's first return,
    /// sigreturn, a restart, an identity change, an exec. Out of line (most
    /// exits pair exactly): inlined, its cases made every exit's stack
    /// frame larger.
    #[inline(never)]
    fn pair_otherwise<C: Cpu + ?Sized>(
        &self,
        vcpu: u32,
        exit: usize,
        values: &ExitValues,
        cpu: &C,
    ) -> bool {
        let mechanism = self.exit_mechanism(exit);
        let key = Self::exit_key(values);
        let ret = values.ret;
        if ret == Some(0)
            && let Some(pending) = self.child_of(vcpu, &key, mechanism)
        {
            self.stats.child_returns.fetch_add(1, Ordering::Relaxed);
            self.report_child(vcpu, &pending, &key, ret, values.error_flag, cpu);
            return true;
        }
        // Where user memory does not read at the exit, the frame is read
        // at the handler's first instruction, once nothing else matched.
        let signal_later = self.model.signal.is_some() && self.outputs_at_resume(exit);
        if self.model.signal.is_some()
            && !signal_later
            && self.signal_delivered(vcpu, &key, mechanism, cpu)
        {
            return true;
        }
        if signal_later
            && self.may_enter_next_handler(&key)
            && self.defer_signal(vcpu, &key, mechanism, Some((ret, values.error_flag)))
        {
            return false;
        }
        if let Some(pending) = self.take_sigreturn(vcpu, &key, mechanism) {
            self.finish(vcpu, pending, &key, ret, values.error_flag, cpu);
            return true;
        }
        if let Some(pending) = self.take_restarted(vcpu, &key, mechanism) {
            self.stats.restarted.fetch_add(1, Ordering::Relaxed);
            self.report_exit(vcpu, &pending, &key, None, None, &ClockOnly(cpu));
            return true;
        }
        if let Some(pending) = self.take_rekeyed(vcpu, &key, mechanism) {
            self.stats.rekeyed_returns.fetch_add(1, Ordering::Relaxed);
            self.finish(vcpu, pending, &key, ret, values.error_flag, cpu);
            return true;
        }
        if self.new_identity_returned(vcpu, &key, mechanism, ret, values.error_flag, cpu) {
            return true;
        }
        if signal_later {
            self.defer_signal(vcpu, &key, mechanism, None);
        }
        false
    }

    /// Table slots to search for a thread's call: the caller's own vCPU
    /// first; a thread that blocked may resume on another one.
    fn slots_from(&self, vcpu: u32) -> impl Iterator<Item = usize> {
        let own = self.slot(vcpu);
        std::iter::once(own).chain((0..self.pending.len()).filter(move |&s| s != own))
    }

    fn returns_twice(&self, entry: &Call) -> bool {
        self.syscall(entry).is_some_and(|s| s.returns_twice)
    }

    fn is_exec(&self, entry: &Call) -> bool {
        self.syscall(entry).is_some_and(|s| s.exec)
    }

    /// Forgets the exec entered as `key` once no exec with that key is
    /// pending: other tasks' calls with the same identity (a vfork child's
    /// parent and its threads, one TLS) pair meanwhile.
    fn forget_exec_if_done(
        &self,
        table: &PendingTable<Pending>,
        state: &mut VcpuState,
        key: &PendingKey,
    ) {
        if state.execs.contains(key)
            && !table
                .iter()
                .any(|(k, p)| k == key && self.is_exec(&p.entry))
        {
            state.execs.retain(|k| k != key);
        }
    }

    /// A call `key` enters on `vcpu`: it is the vCPU's last entry, and the
    /// pending calls with its key are superseded by it (they nest: a vfork
    /// child's calls have its parent's identity, but not the parent's
    /// resume address). This is the part in other vCPUs' slots; the
    /// vCPU's own is [`Tracer::entered_here`], done under the lock that
    /// records the call.
    fn entered_elsewhere(&self, vcpu: u32, key: &PendingKey) {
        let own = self.slot(vcpu);
        for slot in 0..self.pending.len() {
            if slot == own || !self.pending[slot].may_hold(key.thread, key.process) {
                continue;
            }
            Self::supersede(&mut self.pending[slot].lock().0, key);
        }
    }

    /// [`Tracer::entered_elsewhere`] once the call's task is known, where
    /// return probes tell tasks apart; returns whether another task's call
    /// there has the key.
    fn entered_elsewhere_as(&self, vcpu: u32, key: &PendingKey, caller: Option<Caller>) -> bool {
        let own = self.slot(vcpu);
        let mut shared = false;
        for slot in 0..self.pending.len() {
            if slot == own || !self.pending[slot].may_hold(key.thread, key.process) {
                continue;
            }
            shared |= Self::supersede_for(&mut self.pending[slot].lock().0, key, caller);
        }
        shared
    }

    /// The own slot's part of a call's entry (see
    /// [`Tracer::entered_elsewhere`]).
    #[inline(always)]
    fn entered_here(
        table: &mut PendingTable<Pending>,
        state: &mut VcpuState,
        key: &PendingKey,
        caller: Option<Caller>,
    ) -> bool {
        state.entries += 1;
        state.call_of(key.process);
        state.last_entry = Some(*key);
        state.last_return = None;
        Self::supersede_for(table, key, caller)
    }

    /// [`Tracer::supersede`], or with the caller's task known where return
    /// probes tell tasks apart [`Tracer::supersede_as`]; returns whether
    /// another task's call has the key.
    #[inline(always)]
    fn supersede_for(
        table: &mut PendingTable<Pending>,
        key: &PendingKey,
        caller: Option<Caller>,
    ) -> bool {
        match caller {
            None => {
                Self::supersede(table, key);
                false
            }
            Some(caller) => Self::supersede_as(table, key, caller),
        }
    }

    /// Marks the calls of `table` with `key` superseded by a new call
    /// through the same instruction. Not a fork whose child has returned:
    /// a call with its key is then the child's, where the model's identity
    /// cannot tell the two apart (a vfork child on its parent's stack, a
    /// MIPS fork child), while its parent is still in the call.
    fn supersede(table: &mut PendingTable<Pending>, key: &PendingKey) {
        for (_, p) in table
            .iter_mut()
            .filter(|(k, p)| *k == key && !p.child_returned)
        {
            p.superseded = true;
        }
    }

    /// [`Tracer::supersede`] where return probes tell tasks apart: not
    /// another task's call, which stays pending, marked as sharing its key
    /// with the caller's; returns whether there was one.
    fn supersede_as(table: &mut PendingTable<Pending>, key: &PendingKey, caller: Caller) -> bool {
        let mut shared = false;
        for (_, p) in table
            .iter_mut()
            .filter(|(k, p)| *k == key && !p.child_returned)
        {
            shared |= Self::supersede_one_as(p, caller);
        }
        shared
    }

    /// Out of line: a pending call with the entering call's key is rare.
    #[cold]
    #[inline(never)]
    fn supersede_one_as(p: &mut Pending, caller: Caller) -> bool {
        if p.names.is_some_and(|n| n.tid != caller.tid) {
            if p.shared.is_none() {
                p.shared = Some(caller.shared.mark());
            }
            return true;
        }
        p.superseded = true;
        false
    }

    /// The entering call's task, where return probes tell tasks apart.
    fn caller(&self, names: Option<&TaskNames>) -> Option<Caller<'_>> {
        Some(Caller {
            tid: names?.tid,
            shared: self.names.as_ref()?.shared()?,
        })
    }

    /// A call that does not return (`exit`) entered: shown at once as not
    /// returning, since nothing will pair with it. Out of line, like
    /// [`Tracer::finish_interrupted`].
    #[cold]
    #[inline(never)]
    fn entered_noreturn(
        &self,
        vcpu: u32,
        key: &PendingKey,
        entry: &Event<'_>,
        caller: Option<Caller>,
    ) {
        self.entered_untraced(vcpu, key, caller);
        self.emit(&Event {
            kind: EventKind::Exit,
            entry_ts: entry.ts,
            ..*entry
        });
    }

    /// With names, the threads known alive that a call ends (exit,
    /// exit_group), which are forgotten; a thread's end (exit) returns
    /// none, its line being the caller's. (An exec's are at its return,
    /// [`Tracer::exec_replaced`]: it may fail.)
    fn threads_ending(
        &self,
        call: &Prepared,
        syscall: Option<&Syscall>,
        names: Option<&TaskNames>,
    ) -> Vec<Thread> {
        match (&self.names, names) {
            (Some(n), Some(task)) if call.exit_status.is_some() => {
                n.ending(task, syscall.is_some_and(|s| s.ends_process))
            }
            _ => Vec::new(),
        }
    }

    /// The `+++ exited with N +++` line of a process that `call` ends;
    /// with `threads`, those known alive in it, each with its own line.
    #[cold]
    #[inline(never)]
    fn report_exited<C: Cpu + ?Sized>(
        &self,
        vcpu: u32,
        call: &Prepared,
        status: u64,
        task: Option<TaskNames>,
        threads: Vec<Thread>,
        cpu: &C,
    ) {
        let exited = Event {
            nr: status,
            ..self.notice(EventKind::Exited, vcpu, &call.key, task, cpu)
        };
        let whole_process = self.syscall(&call.entry).is_some_and(|s| s.ends_process);
        let (Some(task), Some(ts), true) = (task, exited.ts, whole_process) else {
            return self.emit(&exited);
        };
        // Its other threads' calls end with it (strace's `<... futex
        // resumed>) = ?`), then each of those threads (exit_group itself
        // is not pending), then the others known alive; the process's own
        // line, its leader's, last.
        let in_calls = self.finish_process(vcpu, task.pid, Some(task.tid), ts);
        let leader = self.notice_each_thread(in_calls, threads, task.tid, &exited);
        self.emit(&exited);
        if task.tid != task.pid {
            // Called by another thread: its leader ends the process.
            let names = TaskNames {
                tid: task.pid,
                ..task
            };
            self.emit(&Event {
                thread: leader.map_or(0, |((thread, _), _)| thread),
                task: Some(names),
                ..exited
            });
        }
    }

    /// `notice`, a thread's end line, for each thread of an ending process
    /// ([`Tracer::each_thread_once`]) but its leader, whose identity and
    /// names it returns.
    fn notice_each_thread(
        &self,
        in_calls: Vec<(PendingKey, TaskNames)>,
        known: Vec<Thread>,
        except: i64,
        notice: &Event<'_>,
    ) -> Option<((u64, u64), TaskNames)> {
        let mut leader = None;
        for (thread, names) in Self::each_thread_once(in_calls, known, except) {
            if names.tid == names.pid {
                leader = Some((thread, names));
                continue;
            }
            self.emit(&Event {
                thread: thread.0,
                process: thread.1,
                task: Some(names),
                ..*notice
            });
        }
        leader
    }

    /// The threads of an ending process: those ended in calls, then those
    /// only known alive, each once, `except` (the caller's) left out.
    fn each_thread_once(
        in_calls: Vec<(PendingKey, TaskNames)>,
        known: Vec<Thread>,
        except: i64,
    ) -> Vec<((u64, u64), TaskNames)> {
        let mut threads: Vec<((u64, u64), TaskNames)> = in_calls
            .into_iter()
            .filter(|(_, names)| names.tid != except)
            .map(|(key, names)| ((key.thread, key.process), names))
            .collect();
        for t in known {
            if t.names.tid != except && !threads.iter().any(|(_, n)| n.tid == t.names.tid) {
                threads.push((t.key, t.names));
            }
        }
        threads
    }

    /// strace's `+++ killed by SIGTERM +++` for a child that its parent's
    /// wait (`child`, the call's return) found killed by a signal: known
    /// only there, since no call of the child's ends it, and shown only
    /// with the guest's names, which say whose line it is (the child's
    /// thread and process identity are not known here: 0).
    #[cold]
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn report_killed<C: Cpu + ?Sized>(
        &self,
        vcpu: u32,
        (arg, names): (usize, u32),
        args: &[Arg],
        child: u64,
        parent: Option<TaskNames>,
        cpu: &C,
        ts: u64,
    ) {
        let child = self.process_id(child);
        let Some(addr) = args.get(arg).and_then(|a| a.raw).filter(|&a| a != 0) else {
            return;
        };
        if child <= 0 {
            return;
        }
        let Some(status) = crate::eval::load(cpu, addr, 4, false, self.model.endian) else {
            return;
        };
        let signal = status & 0x7f;
        if signal == 0 || signal == 0x7f {
            return;
        }
        {
            let mut killed = self.killed.lock().unwrap_or_else(|e| e.into_inner());
            if killed.contains(&child) {
                return;
            }
            // Bounded: a pid whose fork was not seen (before tracing began)
            // cannot stay forever.
            if killed.len() >= MAX_KILLED_SHOWN {
                killed.remove(0);
            }
            killed.push(child);
        }
        let threads = self.finish_process(vcpu, child, None, ts);
        let mut name = String::new();
        decode::write_signal_name(&mut name, &self.model, names, signal, "SIG");
        let killed = Event {
            kind: EventKind::Killed {
                core_dumped: status & 0x80 != 0,
            },
            vcpu,
            thread: 0,
            process: 0,
            nr: signal,
            name: &name,
            args: &[],
            ret: None,
            classes: &[],
            ts: Some(ts),
            entry_ts: None,
            unreadable: 0,
            entered_as: None,
            task: Some(TaskNames {
                tid: child,
                pid: child,
                ppid: parent.map(|p| p.pid),
                comm: None,
            }),
            decl: None,
            capture: None,
            process_ended: false,
        };
        // Each thread the kill ended in a call, then the others known
        // alive, then the process.
        let known = self.names.as_ref().map_or(Vec::new(), |n| n.killed(child));
        self.notice_each_thread(threads, known, child, &killed);
        self.emit(&killed);
    }

    /// A line about the task of `key` now, not about a call: a signal's,
    /// a process's end. Its number, name and fields are the caller's.
    fn notice<C: Cpu + ?Sized>(
        &self,
        kind: EventKind,
        vcpu: u32,
        key: &PendingKey,
        task: Option<TaskNames>,
        cpu: &C,
    ) -> Event<'static> {
        Event {
            kind,
            vcpu,
            thread: key.thread,
            process: key.process,
            nr: 0,
            name: "",
            args: &[],
            ret: None,
            classes: &[],
            ts: Some(self.clock.now(cpu)),
            entry_ts: None,
            unreadable: 0,
            entered_as: None,
            task,
            decl: None,
            capture: None,
            process_ended: false,
        }
    }

    /// [`Tracer::entered_here`] for a call that is not recorded.
    fn entered_untraced(&self, vcpu: u32, key: &PendingKey, caller: Option<Caller>) {
        let mut guard = self.pending[self.slot(vcpu)].lock();
        let (table, state) = &mut *guard;
        Self::entered_here(table, state, key, caller);
    }

    fn take_exact(
        &self,
        vcpu: u32,
        key: &PendingKey,
        ret: Option<u64>,
        mechanism: usize,
    ) -> Option<Exact> {
        let returned_by = self.returned_by(vcpu);
        let matches = |k: &PendingKey, p: &Pending| {
            k == key
                && !p.superseded
                && p.mechanism == mechanism
                && returned_by.is_none_or(|tid| Self::returns_as(p, tid, ret))
        };
        let own = self.slot(vcpu);
        for slot in self.slots_from(vcpu) {
            if slot != own && !self.pending[slot].may_hold(key.thread, key.process) {
                continue;
            }
            let mut guard = self.pending[slot].lock();
            if slot == own
                && guard.1.last_return == Some(*key)
                && !returned_by.is_some_and(|tid| {
                    guard
                        .0
                        .newest_position(|k, p| matches(k, p) && Self::shared_by(p, tid))
                        .is_some()
                })
            {
                return None;
            }
            let Some(at) = guard.0.newest_position(|k, p| matches(k, p)) else {
                continue;
            };
            // A parent's fork or clone returns the child's id or an error,
            // never 0: a 0 here is a child with the parent's identity.
            if ret == Some(0)
                && let Some(p) = guard.0.at_mut(at)
                && !p.child_returned
                && self.returns_twice(&p.entry)
            {
                p.child_returned = true;
                let child = p.clone();
                self.ended_a_call(own, slot, guard, key);
                return Some(Exact::Child(child));
            }
            if let Some(p) = guard.0.remove_at(at) {
                let (table, state) = &mut *guard;
                self.forget_exec_if_done(table, state, key);
                // Under the lock that took it from the table: a child
                // returning on another vCPU meanwhile finds the call in one
                // place or the other.
                if self.awaits_child(&p, ret) {
                    self.keep_for_child(state, &p, key, ret);
                }
                self.pending[slot].sync(&mut guard);
                self.ended_a_call(own, slot, guard, key);
                return Some(Exact::Call(p));
            }
        }
        None
    }

    /// Where calls of different tasks have one key: the task a return
    /// probe saw returning on `vcpu`.
    fn returned_by(&self, vcpu: u32) -> Option<i64> {
        self.names
            .as_ref()
            .filter(|_| self.tells_tasks_apart)
            .and_then(|n| n.returned_by(vcpu))
    }

    /// Whether `p` is task `tid`'s call, as far as its names tell.
    fn made_by(p: &Pending, tid: i64) -> bool {
        p.names.is_none_or(|n| n.tid == tid)
    }

    /// Whether `p` may be the call a return of task `tid` ends: a call
    /// that shares its key only if it is that task's, or a fork's whose
    /// child returns.
    fn returns_as(p: &Pending, tid: i64, ret: Option<u64>) -> bool {
        p.shared.is_none()
            || Self::made_by(p, tid)
            || (ret == Some(0) && p.returns_twice && !p.child_returned)
    }

    /// Whether `p` shares its key with another task's call and is task
    /// `tid`'s: its return, even right after the other's.
    fn shared_by(p: &Pending, tid: i64) -> bool {
        p.shared.is_some() && p.names.is_some_and(|n| n.tid == tid)
    }

    /// A call of the exit's thread that entered at the very address the
    /// exit returns to: the kernel rewound the thread to restart it.
    fn take_restarted(&self, vcpu: u32, key: &PendingKey, mechanism: usize) -> Option<Pending> {
        for slot in self.slots_from(vcpu) {
            if !self.pending[slot].may_hold(key.thread, key.process) {
                continue;
            }
            let mut guard = self.pending[slot].lock();
            let taken = guard.0.take_newest(|k, p| {
                k.thread == key.thread
                    && k.process == key.process
                    && p.pc == key.resume
                    && p.mechanism == mechanism
                    && !p.superseded
            });
            if taken.is_some() {
                self.pending[slot].sync(&mut guard);
                return taken;
            }
        }
        None
    }

    /// A child's first return from fork/clone: same resume address, another
    /// thread or process, its parent's call pending or recently returned.
    fn child_of(&self, vcpu: u32, key: &PendingKey, mechanism: usize) -> Option<Pending> {
        // Where a return probe read the task returning, it says whether
        // that is another task than the caller (a MIPS fork child returns
        // with its parent's very identity, the parent later with another
        // at the same address); else the identity does.
        let returned_by = self.returned_by(vcpu);
        let another = |k: &PendingKey, p: &Pending| match (returned_by, p.names) {
            (Some(tid), Some(caller)) => caller.tid != tid,
            _ => k.thread != key.thread || k.process != key.process,
        };
        for slot in 0..self.pending.len() {
            // The slot's bits first: a parent's return that takes its call
            // from the table (clearing the bit) has already counted the
            // child it awaits.
            if !self.pending[slot].may_hold_twice()
                && self.children_awaited.load(Ordering::SeqCst) == 0
            {
                continue;
            }
            let mut guard = self.pending[slot].lock();
            let (table, state) = &mut *guard;
            if let Some(i) = state.recent_twice.iter().position(|(k, p)| {
                k.resume == key.resume && another(k, p) && p.mechanism == mechanism
            }) {
                self.children_awaited.fetch_sub(1, Ordering::SeqCst);
                return Some(state.recent_twice.swap_remove(i).1);
            }
            // The child may return before its parent: the parent's return
            // then ends the call.
            let found = table.iter_mut().find(|(k, p)| {
                k.resume == key.resume
                    && another(k, p)
                    && !p.child_returned
                    && p.mechanism == mechanism
                    && self.returns_twice(&p.entry)
            });
            if let Some((_, p)) = found {
                p.child_returned = true;
                return Some(p.clone());
            }
        }
        None
    }

    /// The call that changed its own thread's identity: the last call
    /// entered on this vCPU (or, after another process's calls entered or
    /// returned here, the one set aside then), returning to its resume
    /// address in its process. (Any pending call of the process returning
    /// there would do for an interrupt that comes just after another
    /// thread's call through the same instruction, with that thread's
    /// identity.)
    fn take_rekeyed(&self, vcpu: u32, key: &PendingKey, mechanism: usize) -> Option<Pending> {
        if self.identity_pending_elsewhere(vcpu, key) {
            return None;
        }
        let mut guard = self.pending[self.slot(vcpu)].lock();
        let returns_here = |k: &PendingKey| k.process == key.process && k.resume == key.resume;
        let last = [guard.1.last_entry, guard.1.set_aside]
            .into_iter()
            .flatten()
            .find(returns_here)?;
        // A thread with calls of its own pending (a blocked call a handler
        // superseded, say) or that returned from one lately has not just
        // changed its identity: this is an interrupt returning to it after
        // another thread entered a call.
        let same_thread = |k: &PendingKey| k.thread == key.thread && k.process == key.process;
        if guard.0.iter().any(|(k, _)| same_thread(k))
            || guard
                .1
                .returned_as
                .contains(&Some((key.thread, key.process)))
        {
            return None;
        }
        let taken = guard
            .0
            .take_newest(|k, p| *k == last && p.mechanism == mechanism && !p.superseded);
        if taken.is_some() {
            guard.1.last_entry = None;
            guard.1.set_aside = None;
            self.pending[self.slot(vcpu)].sync(&mut guard);
        }
        taken
    }

    /// Whether another vCPU's table holds a call of `key`'s thread.
    fn identity_pending_elsewhere(&self, vcpu: u32, key: &PendingKey) -> bool {
        let own = self.slot(vcpu);
        (0..self.pending.len()).any(|slot| {
            slot != own
                && self.pending[slot].may_hold(key.thread, key.process)
                && self.pending[slot]
                    .lock()
                    .0
                    .iter()
                    .any(|(k, _)| k.thread == key.thread && k.process == key.process)
        })
    }

    /// Takes out of every slot that `slot_may` admits the pending calls
    /// `wanted` names.
    fn take_pending(
        &self,
        slot_may: impl Fn(&Slot) -> bool,
        wanted: impl Fn(&PendingKey, &Pending) -> bool,
    ) -> Vec<(PendingKey, Pending)> {
        let mut taken = Vec::new();
        for slot in self.pending.iter().filter(|s| slot_may(s)) {
            let mut guard = slot.lock();
            // Each call itself, not by its key: tasks with one identity
            // have calls with the same key.
            let before = taken.len();
            while let Some(call) = guard.0.take_newest_keyed(&wanted) {
                taken.push(call);
            }
            taken[before..].reverse();
            slot.sync(&mut guard);
        }
        taken
    }

    /// The calls an ended process had not returned from end without a
    /// return (`kill(84, SIGKILL) = ?`), before the line of its end: they
    /// never will. Known by the guest's names: a killed process's at its
    /// parent's wait, the other threads' of one calling exit_group then
    /// (not the caller's own: a call of its own still pending is one whose
    /// return was missed, an exec's on MIPS, not one that blocks). Returns
    /// the threads those calls were in, for their own end lines.
    fn finish_process(
        &self,
        vcpu: u32,
        pid: i64,
        except_tid: Option<i64>,
        ts: u64,
    ) -> Vec<(PendingKey, TaskNames)> {
        let ended = self.take_pending(
            |_| true,
            |_, p| {
                p.names
                    .is_some_and(|n| n.pid == pid && Some(n.tid) != except_tid)
            },
        );
        let mut threads: Vec<(PendingKey, TaskNames)> = Vec::new();
        for (k, p) in ended {
            if let Some(names) = p.names
                && !threads.iter().any(|(_, n)| n.tid == names.tid)
            {
                threads.push((k, names));
            }
            let args = p.args.clone();
            self.emit_exit(
                vcpu,
                &p,
                args,
                &k,
                None,
                None,
                &NoCpu,
                Returned::ProcessEnded,
                ts,
            );
        }
        threads
    }

    fn finish<C: Cpu + ?Sized>(
        &self,
        vcpu: u32,
        mut pending: Pending,
        key: &PendingKey,
        ret: Option<u64>,
        flag: Option<u64>,
        cpu: &C,
    ) {
        if self.awaits_child(&pending, ret) {
            let mut guard = self.pending[self.slot(vcpu)].lock();
            self.keep_for_child(&mut guard.1, &pending, key, ret);
        }
        self.report_done(vcpu, &mut pending, key, ret, flag, cpu, self.clock.now(cpu));
    }

    /// Whether this return of a returns-twice call is the parent's, with
    /// the child's still to come.
    fn awaits_child(&self, pending: &Pending, ret: Option<u64>) -> bool {
        self.returns_twice(&pending.entry) && ret != Some(0) && !pending.child_returned
    }

    /// A process id a call returned (a fork's, a wait's), as the guest's
    /// signed word.
    fn process_id(&self, ret: u64) -> i64 {
        crate::eval::sign_extend(ret, (self.model.bits / 8) as u8) as i64
    }

    /// Keeps a returns-twice call whose parent has returned for its child's
    /// return, in the vCPU state `state`; the child's id (`ret`) is a new
    /// process's, whose end has not been shown.
    fn keep_for_child(
        &self,
        state: &mut VcpuState,
        pending: &Pending,
        key: &PendingKey,
        ret: Option<u64>,
    ) {
        if let Some(child) = ret {
            let child = self.process_id(child);
            let mut killed = self.killed.lock().unwrap_or_else(|e| e.into_inner());
            killed.retain(|&pid| pid != child);
        }
        let recent = &mut state.recent_twice;
        if recent.len() >= RECENT_TWICE {
            recent.remove(0);
        } else {
            self.children_awaited.fetch_add(1, Ordering::SeqCst);
        }
        let parent_key = PendingKey {
            thread: pending.entry.thread,
            process: pending.entry.process,
            resume: key.resume,
        };
        recent.push((parent_key, pending.clone()));
    }

    /// Reports a call that is done, its return read at `ts`: its arguments
    /// move out.
    #[allow(clippy::too_many_arguments)]
    fn report_done<C: Cpu + ?Sized>(
        &self,
        vcpu: u32,
        pending: &mut Pending,
        key: &PendingKey,
        ret: Option<u64>,
        flag: Option<u64>,
        cpu: &C,
        ts: u64,
    ) {
        let args = std::mem::take(&mut pending.args);
        let returned = self.returned_itself(pending, ret);
        self.emit_exit(vcpu, pending, args, key, ret, flag, cpu, returned, ts);
        give_back_capture(std::mem::take(&mut pending.capture));
    }

    /// A call's own return, with `ret`: a fork's child is named now.
    fn returned_itself(&self, pending: &Pending, ret: Option<u64>) -> Returned {
        if pending.returns_twice
            && let (Some(names), Some(child)) = (&self.names, ret)
        {
            let key = (pending.entry.thread, pending.entry.process);
            names.forked(key, pending.names.as_ref(), child as i64);
        }
        Returned::Itself(Some((pending.entry.thread, pending.entry.process)))
    }

    /// Reports a return that is not the call's own: a child's first return
    /// from fork or clone (a new thread of execution, whatever identity the
    /// call entered with), or a call that ended unseen.
    fn report_exit<C: Cpu + ?Sized>(
        &self,
        vcpu: u32,
        pending: &Pending,
        key: &PendingKey,
        ret: Option<u64>,
        flag: Option<u64>,
        cpu: &C,
    ) {
        let args = pending.args.clone();
        self.report_exit_with(vcpu, pending, args, key, ret, flag, cpu, Returned::Ended);
    }

    /// Reports a child's first return from fork or clone: with names, it
    /// is shown with the child's, at the child's first call.
    fn report_child<C: Cpu + ?Sized>(
        &self,
        vcpu: u32,
        pending: &Pending,
        key: &PendingKey,
        ret: Option<u64>,
        flag: Option<u64>,
        cpu: &C,
    ) {
        let args = pending.args.clone();
        self.report_exit_with(vcpu, pending, args, key, ret, flag, cpu, Returned::Child);
    }

    /// Reports an exit with the call's arguments, which it decodes again
    /// where the kernel wrote them.
    #[allow(clippy::too_many_arguments)]
    fn report_exit_with<C: Cpu + ?Sized>(
        &self,
        vcpu: u32,
        pending: &Pending,
        args: Vec<Arg>,
        key: &PendingKey,
        ret: Option<u64>,
        flag: Option<u64>,
        cpu: &C,
        returned: Returned,
    ) {
        let ts = self.clock.now(cpu);
        self.emit_exit(vcpu, pending, args, key, ret, flag, cpu, returned, ts);
    }

    /// [`Tracer::report_exit_with`] at `ts`, with outputs read from `cpu`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn emit_exit<C: Cpu + ?Sized>(
        &self,
        vcpu: u32,
        pending: &Pending,
        mut args: Vec<Arg>,
        key: &PendingKey,
        ret: Option<u64>,
        flag: Option<u64>,
        cpu: &C,
        returned: Returned,
        ts: u64,
    ) {
        let entered_as = match returned {
            Returned::Itself(entered_as) => entered_as,
            Returned::Ended | Returned::ProcessEnded | Returned::Child => None,
        };
        let mechanism =
            &self.model.mechanisms[pending.mechanism.min(self.model.mechanisms.len() - 1)];
        let syscall = self.syscall(&pending.entry);
        let child = matches!(returned, Returned::Child);
        let value = ret.map(|raw| {
            (
                raw,
                decode::error_number(&self.model, &mechanism.error, raw, flag),
            )
        });
        let process_ended = matches!(returned, Returned::ProcessEnded);
        let mut capture = Vec::new();
        let ret = if self.raw.is_some() {
            let ends = (child, process_ended);
            capture = self.capture_exit(pending, syscall, &mut args, value, ends, cpu);
            // Decoded from the capture, later: the value and errno only.
            value.map(|(raw, errno)| decode::Return {
                raw,
                signed: None,
                text: String::new(),
                error: errno.map(|value| decode::ErrorInfo {
                    value,
                    name: String::new(),
                    message: String::new(),
                }),
            })
        } else {
            value.map(|(raw, errno)| {
                // A child's return shows the call as it entered: its outputs
                // are the parent's (clone's parent_tid), not the child's.
                if let Some(s) = syscall
                    && self.decode
                    && !child
                    && !s.args.is_empty()
                {
                    let written = if errno.is_none() { Some(raw) } else { None };
                    decode::decode_exit_args(
                        &self.model,
                        s,
                        &mut args,
                        written,
                        cpu,
                        &self.options,
                    );
                }
                decode::call_return(take_text(), &self.model, syscall, &args, raw, errno)
            })
        };
        if let Some(&Some(status)) = self
            .wait_statuses
            .get(pending.entry.table as usize)
            .and_then(|t| t.get(pending.entry.syscall?))
            && let Some(r) = &ret
            && r.error.is_none()
            && self.names.is_some()
        {
            self.report_killed(vcpu, status, &args, r.raw, pending.names, cpu, ts);
        }
        let (name, classes, decl) = self.described(&pending.entry, syscall, &args);
        let event = Event {
            kind: EventKind::Exit,
            vcpu,
            thread: key.thread,
            process: key.process,
            nr: pending.entry.number,
            name: &name,
            args: &args,
            ret: ret.as_ref(),
            classes,
            ts: Some(ts),
            entry_ts: Some(pending.ts),
            unreadable: self.unreadable(&args, &pending.entry),
            entered_as,
            task: pending.names,
            decl,
            capture: self.raw.as_ref().map(|_| &capture[..]),
            process_ended,
        };
        if let (Returned::Child, Some(names)) = (returned, &self.names) {
            self.report_child_named(vcpu, names, pending.names, &event);
        } else {
            self.emit_counted(&event, true);
        }
        give_back(args, ret.map(|r| r.text));
        give_back_capture(capture);
    }

    /// A child's first return with the guest's names: named at once where
    /// a return probe read the child returning, else held for the child's
    /// first call, whose task it is.
    #[cold]
    #[inline(never)]
    fn report_child_named(
        &self,
        vcpu: u32,
        names: &task::Names,
        parent: Option<TaskNames>,
        event: &Event<'_>,
    ) {
        let child = self
            .tells_tasks_apart
            .then(|| names.returned_names(vcpu))
            .flatten()
            .filter(|child| parent.is_none_or(|p| p.tid != child.tid));
        if let Some(child) = child {
            // Before the parent's return, which would say so too.
            names.forked((event.thread, event.process), parent.as_ref(), child.tid);
            if self.filter.names_ok(Some(&child)) && names.follows(Some(&child), None) {
                self.emit_counted(
                    &Event {
                        task: Some(child),
                        ..*event
                    },
                    true,
                );
            }
            return;
        }
        let held = OwnedEvent {
            task: None,
            ..OwnedEvent::from_event(event)
        };
        if let Some(evicted) = names.hold((event.thread, event.process), held) {
            self.emit_counted(&evicted.as_event(), evicted.kind == EventKind::Exit);
        }
    }

    /// A call's exit captured for decoding later: its entry's capture,
    /// the return value and errno (`value`), and the memory decoding its
    /// outputs reads (none for a child's return, which shows the entry's).
    fn capture_exit<C: Cpu + ?Sized>(
        &self,
        pending: &Pending,
        syscall: Option<&Syscall>,
        args: &mut [Arg],
        value: Option<(u64, Option<u64>)>,
        (child, process_ended): (bool, bool),
        cpu: &C,
    ) -> Vec<u8> {
        let mut capture = take_capture();
        capture.extend_from_slice(&pending.capture);
        record::exit_capture(&mut capture, value, child, process_ended);
        if let Some((raw, errno)) = value {
            let log = record::CaptureLog::begin(&mut capture);
            if let Some(s) = syscall
                && !child
            {
                let written = errno.is_none().then_some(raw);
                let recording = Recording::new(cpu, &mut capture);
                decode::capture_exit_args(&self.model, s, args, written, &recording, &self.options);
            }
            log.end(&mut capture);
        }
        capture
    }

    /// At the end of the run: what is still held back, then the health
    /// figures (in jsonl also as the trace's last event). The summary table
    /// goes into the trace for text formats; for jsonl and Perfetto files
    /// it comes back here with the figures, each line marked `osmtrace:`,
    /// for stderr.
    pub fn finish_trace(&self) -> String {
        self.finish_parked();
        if let Some(names) = &self.names {
            names.finish(self);
        }
        self.finish_held_returns();
        self.place_queued(true);
        // The records' locks come before the output's, as when a vCPU
        // writes a full buffer.
        if let Some(raw) = &self.raw {
            raw.finish(|chunk| {
                let mut out = self.output.lock().unwrap_or_else(|e| e.into_inner());
                out.sink.write_bytes(chunk);
            });
        }
        let mut guard = self.output.lock().unwrap_or_else(|e| e.into_inner());
        let out = &mut *guard;
        if let Some(raw) = &self.raw {
            out.exits = raw.exits();
            out.bytes += raw.bytes();
        }
        let report = match out.sink.finish_format() {
            Some((report, bytes)) => {
                out.bytes = bytes;
                report
            }
            None => out.format(|formatter, text| formatter.finish(text)),
        };
        let mut health = self.health(out);
        if matches!(out.formatter.format(), Format::Jsonl | Format::Parquet) {
            out.format(|_, text| health.jsonl(text));
        }
        out.sink.flush();
        health.bytes_written = out.bytes;
        if let Some(lost) = out.sink.lost() {
            health.bytes_written = out.bytes.saturating_sub(lost.bytes);
            health.bytes_lost = lost.bytes;
            health.lines_lost = lost.lines;
            health.write_error = Some(lost.error);
        }
        if let Some(table) = out.sink.table() {
            health.bytes_written = table.bytes;
            health.rows_written = Some(table.rows);
        }
        let mut text = health.text();
        for line in report.iter().flat_map(|r| r.lines()) {
            text.push_str("osmtrace: ");
            text.push_str(line);
            text.push('\n');
        }
        text
    }

    /// The figures so far, under the output's lock.
    fn health(&self, out: &Output) -> Health {
        let s = &self.stats;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let (mut pending_at_end, mut superseded) = (0, 0);
        for slot in &self.pending {
            for (_, p) in slot.lock().0.iter() {
                if p.superseded {
                    superseded += 1;
                } else {
                    pending_at_end += 1;
                }
            }
        }
        Health {
            entries: self.entries(),
            filtered: load(&s.filtered),
            unreadable_entries: load(&s.unreadable_entries),
            exits: out.exits,
            child_returns: load(&s.child_returns),
            exec_returns: load(&s.exec_returns),
            rekeyed_returns: load(&s.rekeyed_returns),
            interrupted: load(&s.interrupted),
            restarted: load(&s.restarted),
            pending_at_end,
            unpaired_superseded: superseded,
            unpaired_dropped: load(&s.dropped_pending),
            pending_limit: PENDING_PER_VCPU as u64,
            unreadable_args: load(&s.unreadable_args),
            unnamed: self.names.as_ref().map(|_| load(&s.unnamed)),
            bytes_written: out.bytes,
            ..Health::default()
        }
    }
}

/// Whose return an exit is.
#[derive(Clone, Copy)]
enum Returned {
    /// The call's own, entered with this thread and process identity (see
    /// [`Event::entered_as`]).
    Itself(Option<(u64, u64)>),
    /// A child's first return from fork or clone.
    Child,
    /// None seen: the call ended otherwise (a signal, a restart).
    Ended,
    /// None ever: the call's process ended (killed, or another thread's
    /// exit_group).
    ProcessEnded,
}

/// What an exit matching a pending call's key is.
enum Exact {
    /// The call's return.
    Call(Pending),
    /// The return of a child with its parent's identity; the call stays
    /// pending for the parent's return.
    Child(Pending),
}

/// Arguments of a call the model does not know: raw values in hex.
/// The argument of `syscall` that receives a wait status (`wait4`'s
/// `wstatus`), and the enum naming its signals.
fn wait_status_arg(syscall: &Syscall) -> Option<(usize, u32)> {
    syscall
        .args
        .iter()
        .enumerate()
        .find_map(|(i, p)| match p.ty {
            Ty::WaitStatus { names } if p.dir != Direction::In => Some((i, names)),
            _ => None,
        })
}
