//! The QEMU side of a generated plugin: installation, plugin arguments,
//! translation-time matching and the execution callbacks. Everything that
//! decides what a call is lives in [`crate::tracer`]; this module only
//! connects it to QEMU's C API.
//!
//! Hot path: only instructions that match an entry or exit pattern get a
//! callback, decided once per translation. The callbacks take no global
//! lock unless a call is printed (the output itself is one stream).
//!
//! On targets QEMU translates position-independently (`CF_PCREL`:
//! `ArchInfo::shared_translations`) an entry's address is read when it
//! runs, not taken from the translation: QEMU runs one translation wherever
//! the same physical page is mapped (the vDSO, shared libraries), so the
//! address it gives at translation may be another process's.

use crate::args::parse_plugin_args;
use crate::cpu::Cpu;
use crate::format::Formatter;
use crate::logwriter::LogWriter;
use crate::os::{Backend, Compiled, EntryInsn, Os, Pattern};
use crate::qemu::{QemuCpu, args_from_argv, outs};
use crate::task::ReadAt;
use crate::tracer::{Sink, Tracer};
use qemu_plugin_sys::{
    QEMU_PLUGIN_VERSION, qemu_info_t, qemu_plugin_cb_flags, qemu_plugin_cond, qemu_plugin_id_t,
    qemu_plugin_insn_data, qemu_plugin_insn_vaddr, qemu_plugin_op, qemu_plugin_register_atexit_cb,
    qemu_plugin_register_vcpu_idle_cb, qemu_plugin_register_vcpu_init_cb,
    qemu_plugin_register_vcpu_insn_exec_cb, qemu_plugin_register_vcpu_insn_exec_cond_cb,
    qemu_plugin_register_vcpu_tb_exec_cb, qemu_plugin_register_vcpu_tb_exec_cond_cb,
    qemu_plugin_register_vcpu_tb_exec_inline_per_vcpu, qemu_plugin_register_vcpu_tb_trans_cb,
    qemu_plugin_scoreboard_new, qemu_plugin_tb, qemu_plugin_tb_get_insn, qemu_plugin_tb_n_insns,
    qemu_plugin_tb_vaddr, qemu_plugin_u64, qemu_plugin_u64_set, qemu_plugin_u64_sum,
};
use std::collections::HashSet;
use std::ffi::{CStr, c_char, c_int, c_uint, c_void};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// The plugin API version the plugin is built for; QEMU ≥ 9.2 accepts it.
pub const PLUGIN_API_VERSION: c_int = QEMU_PLUGIN_VERSION as c_int;

pub use qemu_plugin_sys::qemu_info_t as QemuInfo;

/// What an instrumented instruction is. Sites are interned: each distinct
/// site is allocated once and lives as long as QEMU, so callbacks get a
/// stable pointer without a per-translation leak.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Site {
    Entry {
        mechanism: usize,
        /// From the start of the translation block.
        offset: u64,
        /// With the virtual clock: the block's instructions from this one
        /// to its end, which the block's count already holds.
        rest: u32,
        /// Its `pc` is the translation's, replaced by the address the
        /// block runs at.
        insn: EntryInsn,
    },
    Exit {
        exits: Box<[usize]>,
        rest: u32,
    },
    /// A kernel instruction of the model's `task` block: a probe, or a
    /// return probe (`returning`).
    Probe {
        at: ReadAt,
        returning: bool,
    },
}

/// The plugin's state, type-erased so one static serves any model.
struct State {
    tracer: *const (),
    cpus: Vec<OnceLock<QemuCpu>>,
    /// Per vCPU: where the translation block that holds an entry started
    /// when it last began to run.
    block_starts: Vec<AtomicU64>,
    /// The index of the program counter in `registers`.
    pc: u32,
    /// [`osm_model::arch::ArchInfo::shared_translations`]: entries take
    /// their address from the program counter at their block's start.
    shared_translations: bool,
    sites: Mutex<HashSet<&'static Site>>,
    registers: Vec<&'static str>,
    arch: osm_model::arch::Arch,
    endian: osm_model::arch::Endian,
    entries: &'static [Pattern],
    exits: &'static [(usize, Pattern)],
    /// Empty when the calls' tasks are not named, or are named at entry.
    probes: Vec<osm_model::Pattern>,
    /// The `task` block's return probes.
    return_probes: Vec<osm_model::Pattern>,
    /// Per vCPU, non-zero while a call waits there for a probe: probes run
    /// only then, so a task calling again (named from the cache at its
    /// entry) costs no probe callback.
    awaiting: Option<qemu_plugin_u64>,
    /// What each vCPU's entry of `awaiting` was last set to, so that it is
    /// set only when it changes (by the vCPU's own thread, or by another
    /// to arm its return probes).
    awaiting_set: Vec<AtomicBool>,
    /// Per vCPU, non-zero while the tracer waits for the next block the
    /// vCPU starts: the instruction an exit returned to, where a returned
    /// call's outputs are read (`outputs_at_resume`) or the exit itself
    /// (`read_at_resume`). None when the model has no such exit, and
    /// blocks get no callback for it.
    returning: Option<qemu_plugin_u64>,
    /// What each vCPU's entry of `returning` was last set to.
    returning_set: Vec<AtomicBool>,
    /// `timestamps=virtual`: per vCPU, the instructions of the blocks it
    /// started, added inline at each block's start (no callback); their
    /// sum is the guest's clock. None otherwise, and nothing is counted.
    clock: Option<qemu_plugin_u64>,
    awaits_probe: fn(*const (), u32) -> bool,
    awaits_return_probes: fn(*const ()) -> bool,
    awaits_resume: fn(*const (), u32) -> bool,
    on_resume: fn(*const (), u32, u64, &QemuCpu),
    finish: fn(*const ()) -> String,
    on_idle: fn(*const ()),
    on_entry: fn(*const (), u32, usize, &EntryInsn, &QemuCpu),
    on_exit: fn(*const (), u32, &[usize], &QemuCpu),
    on_probe: fn(*const (), u32, ReadAt, &QemuCpu),
    on_return_probe: fn(*const (), u32, ReadAt, &QemuCpu),
}

// The tracer behind the pointer is `Sync` (its own locks); the rest is
// read-only after installation.
unsafe impl Send for State {}
unsafe impl Sync for State {}

static STATE: OnceLock<State> = OnceLock::new();

/// Says why the plugin cannot run, where the user looks.
pub fn report(message: &str) {
    // QEMU shows stderr even without `-d plugin`: a refused plugin must say
    // why where the user looks.
    eprintln!("{message}");
    outs(&format!("{message}\n"));
}

/// Called from `qemu_plugin_install` in the generated crate.
///
/// # Safety
/// `info` and `argv` are what QEMU passed to `qemu_plugin_install`.
pub unsafe fn install<O: Os>(
    id: qemu_plugin_id_t,
    info: *const qemu_info_t,
    argc: c_int,
    argv: *mut *mut c_char,
) -> c_int {
    let args = unsafe { args_from_argv(argc, argv as *const *const c_char) };
    unsafe { install_backend(Compiled::<O>::new(), O::model(), &args, id, info) }
}

/// Installs a tracer with any backend: the generated one, or the
/// interpreter of the generic plugin. `args` are the plugin arguments left
/// for the runtime.
///
/// # Safety
/// `info` is what QEMU passed to `qemu_plugin_install`.
pub unsafe fn install_backend<B: Backend>(
    backend: B,
    model: osm_model::Model,
    args: &[String],
    id: qemu_plugin_id_t,
    info: *const qemu_info_t,
) -> c_int {
    let parsed = match parse_plugin_args(args) {
        Ok(parsed) => parsed,
        Err(message) => {
            report(&message);
            return -1;
        }
    };
    let (target, system, vcpus) = if info.is_null() {
        (String::new(), true, 1)
    } else {
        let info = unsafe { &*info };
        let target = if info.target_name.is_null() {
            String::new()
        } else {
            unsafe { CStr::from_ptr(info.target_name) }
                .to_string_lossy()
                .into_owned()
        };
        let vcpus = if info.system_emulation {
            unsafe { info.__bindgen_anon_1.system.max_vcpus }
        } else {
            1
        };
        (target, info.system_emulation, vcpus.max(1) as usize)
    };
    if !system {
        report(
            "osmtrace: this plugin traces whole systems; run it with qemu-system-*, not user-mode QEMU",
        );
        return -1;
    }
    if !target.is_empty() && target != model.arch.name() {
        report(&format!(
            "osmtrace: model {} is for {}, but this QEMU emulates {target}",
            backend.spec(),
            model.arch.name()
        ));
        return -1;
    }
    // The log is written through large buffers, by a thread of its own: a
    // write(2) per event would cost more than everything else the tracer
    // does. Buffers are written when full and at QEMU's exit (also on
    // SIGTERM and SIGINT, which QEMU turns into an orderly exit); only a
    // QEMU that is killed outright loses the tail. The tracer's output lock
    // covers the writer, so it needs no lock of its own. With
    // decode=writer the writer thread also decodes and formats the calls
    // the vCPUs capture.
    let decoding = parsed
        .decodes_in_writer()
        .then(|| crate::raw::Decoding::new(model.clone(), Formatter::new(parsed.format.clone())));
    let sink: Sink = match &parsed.log {
        Some(path) => match if parsed.format.format == crate::format::Format::Parquet {
            let clock = match parsed.format.timestamps {
                crate::format::Timestamps::Virtual => "virtual",
                _ => "wall",
            };
            LogWriter::parquet(
                path,
                parsed
                    .row_group
                    .unwrap_or(crate::parquet_trace::DEFAULT_ROW_GROUP),
                &[
                    ("osmtrace.model", backend.spec()),
                    ("osmtrace.arch", model.arch.name()),
                    ("osmtrace.clock", clock),
                ],
                decoding,
            )
        } else if let Some(decoding) = decoding {
            LogWriter::decoding(path, decoding)
        } else {
            LogWriter::create(path)
        } {
            Ok(log) => Box::new(log),
            Err(e) => {
                report(&format!(
                    "osmtrace: cannot write log {}: {e}",
                    path.display()
                ));
                return -1;
            }
        },
        None => Box::new(|text: &str| outs(text)),
    };
    let (arch, endian) = (model.arch, model.endian);
    // A filter naming a call or class the model does not have is a
    // mistake: QEMU refuses the plugin rather than trace nothing.
    // The guest's names for tasks: refused here, before the guest boots,
    // when the kernel given does not have what the model reads.
    let (reader, note) = match crate::kernel::task_reader(&model, parsed.kernel.as_ref()) {
        Ok(found) => found,
        Err(message) => {
            report(&format!("osmtrace: {message}"));
            return -1;
        }
    };
    if let Some(note) = note {
        report(&note);
    }
    if reader.is_none() && parsed.format.filter.by_names() {
        report(&format!(
            "osmtrace: pid=, tid=, comm= and follow= need the guest's names for tasks: {}",
            if model.task.is_none() {
                "the model has no `task` block"
            } else {
                "give kernel=PATH (kernel=none turns them off)"
            }
        ));
        return -1;
    }
    let virtual_clock = parsed.format.timestamps == crate::format::Timestamps::Virtual;
    let tracer = match Tracer::try_new(backend, model, vcpus, Formatter::new(parsed.format), sink) {
        Ok(tracer) => match reader {
            Some(reader) => tracer.with_task(reader).queue_per_vcpu(),
            None => tracer.queue_per_vcpu(),
        },
        Err(message) => {
            report(&message);
            return -1;
        }
    };
    let tracer: &'static Tracer<B> = Box::leak(Box::new(tracer));
    let backend = tracer.backend();
    // The model's registers, and the program counter if the model does not
    // read it.
    let mut registers = backend.registers();
    let pc_name = tracer.model().arch.info().pc;
    let pc = match registers.iter().position(|r| *r == pc_name) {
        Some(i) => i,
        None => {
            registers.push(pc_name);
            registers.len() - 1
        }
    } as u32;
    let state = State {
        tracer: tracer as *const Tracer<B> as *const (),
        cpus: (0..vcpus).map(|_| OnceLock::new()).collect(),
        block_starts: (0..vcpus).map(|_| AtomicU64::new(0)).collect(),
        pc,
        shared_translations: tracer.model().arch.info().shared_translations,
        sites: Mutex::new(HashSet::new()),
        registers,
        arch,
        endian,
        entries: backend.entries(),
        exits: backend.exits(),
        probes: tracer.probes().into_iter().cloned().collect(),
        return_probes: tracer.return_probes().into_iter().cloned().collect(),
        awaiting: (!tracer.probes().is_empty() || !tracer.return_probes().is_empty()).then(|| {
            qemu_plugin_u64 {
                score: unsafe { qemu_plugin_scoreboard_new(std::mem::size_of::<u64>()) },
                offset: 0,
            }
        }),
        awaiting_set: (0..vcpus).map(|_| AtomicBool::new(false)).collect(),
        returning: tracer.watches_resume().then(|| qemu_plugin_u64 {
            score: unsafe { qemu_plugin_scoreboard_new(std::mem::size_of::<u64>()) },
            offset: 0,
        }),
        returning_set: (0..vcpus).map(|_| AtomicBool::new(false)).collect(),
        clock: virtual_clock.then(|| qemu_plugin_u64 {
            score: unsafe { qemu_plugin_scoreboard_new(std::mem::size_of::<u64>()) },
            offset: 0,
        }),
        awaits_probe: |t, vcpu| unsafe { &*(t as *const Tracer<B>) }.awaits_probe(vcpu),
        awaits_return_probes: |t| unsafe { &*(t as *const Tracer<B>) }.awaits_return_probes(),
        awaits_resume: |t, vcpu| unsafe { &*(t as *const Tracer<B>) }.awaits_resume(vcpu),
        on_resume: |t, vcpu, pc, cpu| unsafe { &*(t as *const Tracer<B>) }.on_resume(vcpu, pc, cpu),
        finish: |t| unsafe { &*(t as *const Tracer<B>) }.finish_trace(),
        on_idle: |t| unsafe { &*(t as *const Tracer<B>) }.on_idle(),
        on_entry: |t, vcpu, mechanism, insn, cpu| {
            unsafe { &*(t as *const Tracer<B>) }.on_entry(vcpu, mechanism, insn, cpu)
        },
        on_exit: |t, vcpu, exits, cpu| {
            unsafe { &*(t as *const Tracer<B>) }.on_exit(vcpu, exits, cpu)
        },
        on_probe: |t, vcpu, at, cpu| unsafe { &*(t as *const Tracer<B>) }.on_probe(vcpu, at, cpu),
        on_return_probe: |t, vcpu, at, cpu| {
            unsafe { &*(t as *const Tracer<B>) }.on_return_probe(vcpu, at, cpu)
        },
    };
    if STATE.set(state).is_err() {
        report("osmtrace: the plugin is already installed");
        return -1;
    }
    unsafe {
        qemu_plugin_register_vcpu_init_cb(id, Some(vcpu_init));
        qemu_plugin_register_vcpu_tb_trans_cb(id, Some(tb_trans));
        qemu_plugin_register_atexit_cb(id, Some(at_exit), std::ptr::null_mut());
        if vcpus > 1 {
            qemu_plugin_register_vcpu_idle_cb(id, Some(vcpu_idle));
        }
    }
    0
}

/// A vCPU has nothing to run (the guest waits): what the vCPUs queued goes
/// out now rather than at the next drain, which an idle guest may not
/// bring for a long time.
unsafe extern "C" fn vcpu_idle(_id: qemu_plugin_id_t, _vcpu: c_uint) {
    if let Some(state) = STATE.get() {
        (state.on_idle)(state.tracer);
    }
}

unsafe extern "C" fn vcpu_init(_id: qemu_plugin_id_t, vcpu: c_uint) {
    let Some(state) = STATE.get() else { return };
    let Some(slot) = state.cpus.get(vcpu as usize) else {
        return;
    };
    match QemuCpu::new(&state.registers, state.arch, state.endian) {
        Ok(cpu) => {
            let _ = slot.set(cpu);
        }
        // Without its registers the model cannot be read: say so once per
        // vCPU and trace nothing on it rather than guess.
        Err(missing) => report(&format!("osmtrace: vCPU {vcpu}: {missing}")),
    }
}

unsafe extern "C" fn tb_trans(_id: qemu_plugin_id_t, tb: *mut qemu_plugin_tb) {
    let Some(state) = STATE.get() else { return };
    let count = unsafe { qemu_plugin_tb_n_insns(tb) };
    let block = unsafe { qemu_plugin_tb_vaddr(tb) };
    if let Some(clock) = state.clock {
        unsafe {
            qemu_plugin_register_vcpu_tb_exec_inline_per_vcpu(
                tb,
                qemu_plugin_op::QEMU_PLUGIN_INLINE_ADD_U64,
                clock,
                count as u64,
            );
        }
    }
    // Instructions of the block from the i-th to its end, for the clock.
    let rest = |i: usize| {
        if state.clock.is_some() {
            u32::try_from(count - i).unwrap_or(u32::MAX)
        } else {
            0
        }
    };
    let mut has_entry = false;
    for i in 0..count {
        let insn = unsafe { qemu_plugin_tb_get_insn(tb, i) };
        let mut bytes = [0u8; 16];
        let len =
            unsafe { qemu_plugin_insn_data(insn, bytes.as_mut_ptr() as *mut c_void, bytes.len()) };
        let bytes = &bytes[..len.min(16)];
        let pc = unsafe { qemu_plugin_insn_vaddr(insn) };
        let site = if let Some(mechanism) = state.entries.iter().position(|p| p.matches(pc, bytes))
        {
            has_entry = true;
            // The instruction's value (the model's `insn`) is computed here,
            // once per translation.
            Site::Entry {
                mechanism,
                offset: pc.wrapping_sub(block),
                rest: rest(i),
                insn: EntryInsn::new(pc, bytes, state.endian),
            }
        } else {
            let exits: Box<[usize]> = state
                .exits
                .iter()
                .enumerate()
                .filter(|(_, (_, p))| p.matches(pc, bytes))
                .map(|(i, _)| i)
                .collect();
            if !exits.is_empty() {
                Site::Exit {
                    exits,
                    rest: rest(i),
                }
            } else if let Some(returning) = [&state.probes, &state.return_probes]
                .iter()
                .position(|probes| probes.iter().any(|p| p.matches(pc, bytes)))
            {
                // Kernel code is mapped at one address, so the translation's
                // is where it runs (`insn_addr`).
                let value = EntryInsn::new(pc, bytes, state.endian).value;
                Site::Probe {
                    at: ReadAt {
                        insn: value,
                        addr: pc,
                    },
                    returning: returning == 1,
                }
            } else {
                continue;
            }
        };
        let probe = matches!(site, Site::Probe { .. });
        let site = intern(state, site) as *const Site as *mut c_void;
        let flags = qemu_plugin_cb_flags::QEMU_PLUGIN_CB_R_REGS;
        match state.awaiting {
            Some(awaiting) if probe => unsafe {
                qemu_plugin_register_vcpu_insn_exec_cond_cb(
                    insn,
                    Some(on_insn),
                    flags,
                    qemu_plugin_cond::QEMU_PLUGIN_COND_NE,
                    awaiting,
                    0,
                    site,
                );
            },
            _ => unsafe {
                qemu_plugin_register_vcpu_insn_exec_cb(insn, Some(on_insn), flags, site)
            },
        }
    }
    if let Some(returning) = state.returning {
        // Inline, the condition costs each block a load and a compare;
        // the callback runs only on the block after an armed exit.
        unsafe {
            qemu_plugin_register_vcpu_tb_exec_cond_cb(
                tb,
                Some(on_resume_block),
                qemu_plugin_cb_flags::QEMU_PLUGIN_CB_R_REGS,
                qemu_plugin_cond::QEMU_PLUGIN_COND_NE,
                returning,
                0,
                std::ptr::null_mut(),
            );
        }
    }
    if has_entry && state.shared_translations {
        // Runs before the block's first instruction, where QEMU's program
        // counter is exact (in the middle of a block it is not kept up to
        // date). The translation's own address goes along as the fallback.
        unsafe {
            qemu_plugin_register_vcpu_tb_exec_cb(
                tb,
                Some(on_block),
                qemu_plugin_cb_flags::QEMU_PLUGIN_CB_R_REGS,
                block as usize as *mut c_void,
            );
        }
    }
}

unsafe extern "C" fn on_block(vcpu: c_uint, userdata: *mut c_void) {
    let Some(state) = STATE.get() else { return };
    let (Some(cpu), Some(start)) = (
        state.cpus.get(vcpu as usize).and_then(OnceLock::get),
        state.block_starts.get(vcpu as usize),
    ) else {
        return;
    };
    cpu.begin_callback();
    let pc = cpu.reg(state.pc).unwrap_or(userdata as usize as u64);
    // Only this vCPU's thread reads and writes its slot.
    start.store(pc, Ordering::Relaxed);
}

/// The first block a vCPU runs after an exit that left something to read
/// at the instruction it returned to.
unsafe extern "C" fn on_resume_block(vcpu: c_uint, _userdata: *mut c_void) {
    let Some(state) = STATE.get() else { return };
    let Some(cpu) = state.cpus.get(vcpu as usize).and_then(OnceLock::get) else {
        return;
    };
    cpu.begin_callback();
    if let Some(pc) = cpu.reg(state.pc) {
        (state.on_resume)(state.tracer, vcpu, pc, cpu);
    }
    sync_returning(state, vcpu);
}

/// Sets the vCPU's entry of `returning` to whether the tracer awaits its
/// next block, when that changed.
fn sync_returning(state: &State, vcpu: c_uint) {
    if let (Some(returning), Some(set)) = (state.returning, state.returning_set.get(vcpu as usize))
    {
        let waits = (state.awaits_resume)(state.tracer, vcpu);
        if set.load(Ordering::Relaxed) != waits {
            set.store(waits, Ordering::Relaxed);
            unsafe { qemu_plugin_u64_set(returning, vcpu, u64::from(waits)) };
        }
    }
}

fn intern(state: &State, site: Site) -> &'static Site {
    let mut sites = state.sites.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(existing) = sites.get(&site) {
        return existing;
    }
    let leaked: &'static Site = Box::leak(Box::new(site));
    sites.insert(leaked);
    leaked
}

unsafe extern "C" fn on_insn(vcpu: c_uint, userdata: *mut c_void) {
    let Some(state) = STATE.get() else { return };
    let Some(cpu) = state.cpus.get(vcpu as usize).and_then(OnceLock::get) else {
        return;
    };
    let site = unsafe { &*(userdata as *const Site) };
    cpu.begin_callback();
    if let Some(clock) = state.clock
        && let Site::Entry { rest, .. } | Site::Exit { rest, .. } = site
    {
        // Exact, and the same on every replay, whenever the vCPUs run in
        // one thread (record/replay, which has one vCPU); with several
        // threads the other vCPUs' counts are only as fresh as a racy read,
        // but this vCPU's own count never goes back.
        let all = unsafe { qemu_plugin_u64_sum(clock) };
        cpu.set_instructions(Some(all.saturating_sub(u64::from(*rest))));
    }
    on_site(state, vcpu, site, cpu);
    if matches!(site, Site::Exit { .. }) {
        sync_returning(state, vcpu);
    }
    if let (Some(awaiting), Some(set)) = (state.awaiting, state.awaiting_set.get(vcpu as usize)) {
        let waits = (state.awaits_probe)(state.tracer, vcpu);
        if set.load(Ordering::Relaxed) != waits {
            set.store(waits, Ordering::Relaxed);
            unsafe { qemu_plugin_u64_set(awaiting, vcpu, u64::from(waits)) };
        }
        // The task returning may be switched to on another vCPU, which
        // then runs no site before its return probe: arm them all. Each
        // clears its own at its next site once nothing waits.
        if waits && (state.awaits_return_probes)(state.tracer) {
            for (other, set) in state.awaiting_set.iter().enumerate() {
                if !set.load(Ordering::Relaxed) {
                    set.store(true, Ordering::Relaxed);
                    unsafe { qemu_plugin_u64_set(awaiting, other as c_uint, 1) };
                }
            }
        }
    }
}

fn on_site(state: &State, vcpu: c_uint, site: &Site, cpu: &QemuCpu) {
    match site {
        Site::Entry {
            mechanism,
            offset,
            insn,
            ..
        } => {
            if !state.shared_translations {
                return (state.on_entry)(state.tracer, vcpu, *mechanism, insn, cpu);
            }
            let start = state
                .block_starts
                .get(vcpu as usize)
                .map_or(0, |s| s.load(Ordering::Relaxed));
            let insn = EntryInsn {
                pc: start.wrapping_add(*offset),
                ..*insn
            };
            (state.on_entry)(state.tracer, vcpu, *mechanism, &insn, cpu)
        }
        Site::Exit { exits, .. } => (state.on_exit)(state.tracer, vcpu, exits, cpu),
        Site::Probe {
            at,
            returning: false,
        } => (state.on_probe)(state.tracer, vcpu, *at, cpu),
        Site::Probe {
            at,
            returning: true,
        } => (state.on_return_probe)(state.tracer, vcpu, *at, cpu),
    }
}

unsafe extern "C" fn at_exit(_id: qemu_plugin_id_t, _userdata: *mut c_void) {
    if let Some(state) = STATE.get() {
        // Writes what is held back and flushes the log.
        let summary = (state.finish)(state.tracer);
        eprint!("{summary}");
    }
}

/// Exports the two symbols QEMU looks for, for the model type `$os`.
#[macro_export]
macro_rules! export_plugin {
    ($os:ty) => {
        #[unsafe(no_mangle)]
        pub static qemu_plugin_version: ::std::ffi::c_int = $crate::plugin::PLUGIN_API_VERSION;

        /// # Safety
        /// Called by QEMU with its own arguments.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn qemu_plugin_install(
            id: u64,
            info: *const $crate::plugin::QemuInfo,
            argc: ::std::ffi::c_int,
            argv: *mut *mut ::std::ffi::c_char,
        ) -> ::std::ffi::c_int {
            unsafe { $crate::plugin::install::<$os>(id, info, argc, argv) }
        }
    };
}
