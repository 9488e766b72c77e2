//! The tracer's own work per call, without QEMU: the compiled x86_64 model
//! and the same model interpreted, driven with register and memory
//! snapshots through the tracer the plugin uses, writing strace text to
//! /dev/null through the plugin's log writer. `cargo xtask bench` runs it
//! beside the QEMU runs; it is also the harness to profile the tracer under
//! `perf` or callgrind.
//!
//! Each is run with hot caches, and with 512 KiB of other memory read
//! before every callback, as the guest's work between callbacks does in
//! QEMU: the tracer's cost there is mostly cache misses.
//!
//! Usage: inprocess [CALLS], or `inprocess profile strace|jsonl|lean|raw|none
//! getppid|pipe [CALLS] [cold] [names]` to run one of them alone, caches
//! hot (or cold), with the guest's names read (`names`), for a profiler.

use osm_compiler::arch::Endian;
use osm_runtime::cpu::SnapshotCpu;
use osm_runtime::format::{Format, Formatter, OutputConfig};
use osm_runtime::interp::Interpreted;
use osm_runtime::kernel::resolve_task;
use osm_runtime::logwriter::LogWriter;
use osm_runtime::os::{Backend, Compiled, EntryInsn, Os};
use osm_runtime::task::{ReadAt, TaskReader};
use osm_runtime::tracer::Tracer;
use osm_tests::{SmallKernel, small_kernel_task};
use osmtrace_linux_x86_64::LinuxX8664;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The system allocator, counting allocations: the table shows how many a
/// traced call makes (the runtime reuses argument lists and text buffers,
/// so that a call in the steady state makes almost none).
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const PC: u64 = 0x40_1000;
const BUF: u64 = 0x7f00_0000;
const FS: u64 = 0x4c_0000;
const CR3: u64 = 0x1234_5000;

fn tracer<B: Backend>(backend: B) -> Tracer<B> {
    tracer_as(backend, Format::Strace)
}

fn tracer_as<B: Backend>(backend: B, format: impl Into<OutputConfig>) -> Tracer<B> {
    let model = LinuxX8664::model();
    let log = LogWriter::create(std::path::Path::new("/dev/null")).expect("/dev/null");
    Tracer::new(backend, model, 1, Formatter::new(format), Box::new(log))
}

/// `format=jsonl,jsonl=lean`.
fn lean_jsonl() -> OutputConfig {
    OutputConfig {
        jsonl_lean: true,
        ..OutputConfig::from(Format::Jsonl)
    }
}

fn cpu(regs: &[(&str, u64)]) -> SnapshotCpu {
    let mut cpu = SnapshotCpu::with_names(LinuxX8664::REGISTERS.iter().copied());
    for (name, value) in regs {
        cpu.set_reg_named(name, *value)
            .expect("a register of the model");
    }
    cpu.map(BUF, b"osmtrace-bench-payload-012345678".to_vec());
    cpu
}

/// One call: its entry and its exit snapshots.
struct Call {
    entry: SnapshotCpu,
    exit: SnapshotCpu,
    /// The kernel at the model's probe, for a tracer that reads the guest's
    /// names for tasks.
    probe: SnapshotCpu,
}

/// The x86_64 model's tracer reading the guest's names, in a made-up
/// kernel ([`SmallKernel`]).
fn with_names(tracer: Tracer<Compiled<LinuxX8664>>) -> Tracer<Compiled<LinuxX8664>> {
    let model = LinuxX8664::model();
    let task =
        resolve_task(&model, &SmallKernel).expect("the small kernel has what the model reads");
    tracer.with_task(TaskReader::new(task, Endian::Little))
}

/// Where the probe instruction is, in the kernel.
const PROBE: ReadAt = ReadAt {
    insn: 0,
    addr: 0xffff_ffff_81c0_00a0,
};

fn call(nr: u64, args: &[u64], ret: u64) -> Call {
    let mut regs = vec![("rax", nr), ("fs_base", FS), ("cr3", CR3), ("cs", 0x33)];
    for (name, value) in ["rdi", "rsi", "rdx"].iter().zip(args) {
        regs.push((name, *value));
    }
    let entry = cpu(&regs);
    regs[0] = ("rax", ret);
    regs.push(("rcx", PC + 2));
    let mut probe = cpu(&[("gs_base", 0x9000)]);
    probe.map(0x9100, 0xa000u64.to_le_bytes().to_vec());
    small_kernel_task(&mut probe, 0xa000, 83, 83, 0xb000, "bench");
    small_kernel_task(&mut probe, 0xb000, 1, 1, 0xb000, "init");
    Call {
        entry,
        exit: cpu(&regs),
        probe,
    }
}

/// What a run measured per call.
struct PerCall {
    ns: f64,
    /// Allocations and reallocations.
    allocations: f64,
}

/// Bytes read before each callback in the cold-cache runs. In QEMU the
/// guest's own work between two callbacks (its kernel's call path, QEMU's
/// translated code and TLB) evicts most of the tracer's data and code from
/// the core's caches; reading this much other memory does the same here.
const COLD_BYTES: usize = 512 * 1024;

/// Memory read before each callback in the cold-cache runs.
struct Evict(Vec<u8>);

impl Evict {
    fn new(bytes: usize) -> Self {
        Evict((0..bytes).map(|i| i as u8).collect())
    }

    /// Reads a byte of every cache line.
    fn run(&self) {
        let sum = self
            .0
            .iter()
            .step_by(64)
            .fold(0u64, |sum, &b| sum.wrapping_add(u64::from(b)));
        std::hint::black_box(sum);
    }
}

/// Per call of `calls`, run in turn `rounds` times. With caches hot the
/// loop is timed as a whole; with `evict`, each callback is timed alone
/// (after the eviction), less what timing an empty stretch costs.
fn run<B: Backend>(
    tracer: &Tracer<B>,
    calls: &[Call],
    rounds: usize,
    sysretq: usize,
    evict: Option<&Evict>,
) -> PerCall {
    // QEMU calls the probe only while a call waits for it (a conditional
    // callback); the check stands for the condition QEMU tests.
    let awaits = || tracer.awaits_probe(0);
    let insn = EntryInsn::new(PC, &[0x0f, 0x05], Endian::Little);
    let allocations = ALLOCATIONS.load(Ordering::Relaxed);
    let n = (rounds * calls.len()) as f64;
    let ns = match evict {
        None => {
            let start = Instant::now();
            for _ in 0..rounds {
                for c in calls {
                    tracer.on_entry(0, 0, &insn, &c.entry);
                    if awaits() {
                        tracer.on_probe(0, PROBE, &c.probe);
                    }
                    tracer.on_exit(0, &[sysretq], &c.exit);
                }
            }
            start.elapsed().as_nanos() as f64 / n
        }
        Some(evict) => {
            let timed = |f: &dyn Fn()| {
                evict.run();
                let start = Instant::now();
                f();
                start.elapsed()
            };
            let mut spent = Duration::ZERO;
            let mut timing = Duration::ZERO;
            for _ in 0..rounds {
                for c in calls {
                    spent += timed(&|| tracer.on_entry(0, 0, &insn, &c.entry));
                    if awaits() {
                        spent += timed(&|| tracer.on_probe(0, PROBE, &c.probe));
                        timing += timed(&|| ());
                    }
                    spent += timed(&|| tracer.on_exit(0, &[sysretq], &c.exit));
                    timing += timed(&|| ());
                    timing += timed(&|| ());
                }
            }
            spent.saturating_sub(timing).as_nanos() as f64 / n
        }
    };
    PerCall {
        ns,
        allocations: (ALLOCATIONS.load(Ordering::Relaxed) - allocations) as f64 / n,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let getppid = [call(110, &[], 1)];
    let pipe = [call(1, &[4, BUF, 32], 32), call(0, &[3, BUF, 32], 32)];
    // The sysretq exit of mechanism `syscall`.
    let sysretq = Compiled::<LinuxX8664>::new()
        .exits()
        .iter()
        .position(|(m, p)| *m == 0 && p.bytes == [0x48, 0x0f, 0x07])
        .expect("linux-x86_64 has sysretq");
    if args.first().map(String::as_str) == Some("profile") {
        let format = match args.get(1).map(String::as_str) {
            Some("jsonl") => OutputConfig::from(Format::Jsonl),
            Some("lean") => lean_jsonl(),
            Some("raw") => OutputConfig::from(Format::Raw),
            Some("none") => OutputConfig::from(Format::Nothing),
            _ => OutputConfig::from(Format::Strace),
        };
        let calls: &[Call] = match args.get(2).map(String::as_str) {
            Some("pipe") => &pipe,
            _ => &getppid,
        };
        let total: usize = args
            .get(3)
            .and_then(|n| n.parse().ok())
            .unwrap_or(10_000_000);
        let cold =
            (args.get(4).map(String::as_str) == Some("cold")).then(|| Evict::new(COLD_BYTES));
        let mut tracer = tracer_as(Compiled::<LinuxX8664>::new(), format);
        if args.iter().any(|a| a == "names") {
            tracer = with_names(tracer);
        }
        let per_call = run(&tracer, calls, total / calls.len(), sysretq, cold.as_ref());
        println!("{:.0} ns per call", per_call.ns);
        return;
    }
    let total: usize = args
        .first()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let model = LinuxX8664::model();
    let compiled = tracer(Compiled::<LinuxX8664>::new());
    let named = with_names(tracer(Compiled::<LinuxX8664>::new()));
    let jsonl = tracer_as(Compiled::<LinuxX8664>::new(), Format::Jsonl);
    let lean = tracer_as(Compiled::<LinuxX8664>::new(), lean_jsonl());
    let interpreted = tracer(Interpreted::new(model, "specs/linux-x86_64.osm"));
    let cold = Evict::new(COLD_BYTES);
    println!(
        "| workload | compiled (ns per call) | interpreted (ns per call) | ratio | compiled, caches cold | interpreted, caches cold | ratio | allocations per call (compiled, interpreted) | compiled with the guest's names (ns per call, hot, cold) | compiled, jsonl (ns per call, hot, cold) | compiled, lean jsonl (ns per call, hot, cold) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let workloads = [
        ("getppid", &getppid[..]),
        ("write/read 32 bytes", &pipe[..]),
    ];
    for (name, calls) in workloads {
        let rounds = total / calls.len();
        // Once each to warm up, then measured. Cold runs are slower, and
        // eviction dominates their time: fewer calls.
        run(&compiled, calls, rounds / 10, sysretq, None);
        run(&named, calls, rounds / 10, sysretq, None);
        run(&interpreted, calls, rounds / 10, sysretq, None);
        run(&jsonl, calls, rounds / 10, sysretq, None);
        run(&lean, calls, rounds / 10, sysretq, None);
        let c = run(&compiled, calls, rounds, sysretq, None);
        let j = run(&jsonl, calls, rounds, sysretq, None);
        let l = run(&lean, calls, rounds, sysretq, None);
        let n = run(&named, calls, rounds, sysretq, None);
        let i = run(&interpreted, calls, rounds, sysretq, None);
        let cold_rounds = (rounds / 20).max(1);
        let cc = run(&compiled, calls, cold_rounds, sysretq, Some(&cold));
        let nc = run(&named, calls, cold_rounds, sysretq, Some(&cold));
        let ic = run(&interpreted, calls, cold_rounds, sysretq, Some(&cold));
        let jc = run(&jsonl, calls, cold_rounds, sysretq, Some(&cold));
        let lc = run(&lean, calls, cold_rounds, sysretq, Some(&cold));
        println!(
            "| {name} | {:.0} | {:.0} | {:.2} | {:.0} | {:.0} | {:.2} | {:.2}, {:.2} | {:.0}, {:.0} | {:.0}, {:.0} | {:.0}, {:.0} |",
            c.ns,
            i.ns,
            i.ns / c.ns,
            cc.ns,
            ic.ns,
            ic.ns / cc.ns,
            c.allocations,
            i.allocations,
            n.ns,
            nc.ns,
            j.ns,
            jc.ns,
            l.ns,
            lc.ns
        );
    }
    println!();
    where_decoded(&workloads, total, sysretq);
    println!();
    capture_only(&workloads, total, sysretq);
    println!();
    load_times();
}

/// The vCPU's share of a call: strace text decoded and formatted on the
/// vCPU (the plugin's default), captured on it and decoded by the log's
/// writer thread (`decode=writer`; the writer's work runs beside it on
/// another core), and captured for a raw file.
fn where_decoded(workloads: &[(&str, &[Call])], total: usize, sysretq: usize) {
    let model = LinuxX8664::model();
    let null = std::path::Path::new("/dev/null");
    let backend = Compiled::<LinuxX8664>::new;
    let on_vcpu = tracer(backend());
    let decoding = osm_runtime::raw::Decoding::new(model.clone(), Formatter::new(Format::Strace));
    let writer = Tracer::new(
        backend(),
        model.clone(),
        1,
        Formatter::new(Format::Strace),
        Box::new(LogWriter::decoding(null, decoding).expect("/dev/null")),
    );
    let raw = Tracer::new(
        backend(),
        model,
        1,
        Formatter::new(Format::Raw),
        Box::new(LogWriter::create(null).expect("/dev/null")),
    );
    let cold = Evict::new(COLD_BYTES);
    println!(
        "| the vCPU's share (ns per call, hot, cold) | strace text decoded on the vCPU (default) | captured, decoded by the writer thread (decode=writer) | captured for format=raw |"
    );
    println!("|---|---|---|---|");
    for &(name, calls) in workloads {
        let rounds = total / calls.len();
        let cold_rounds = (rounds / 20).max(1);
        let mut cells = Vec::new();
        for tracer in [&on_vcpu, &writer, &raw] {
            run(tracer, calls, rounds / 10, sysretq, None);
            let hot = run(tracer, calls, rounds, sysretq, None);
            let cold = run(tracer, calls, cold_rounds, sysretq, Some(&cold));
            cells.push(format!("{:.0}, {:.0}", hot.ns, cold.ns));
        }
        println!("| {name} | {} |", cells.join(" | "));
    }
}

/// `format=none`: a call's registers read at its entry and exit and
/// nothing decoded, paired or written: the capture, the part of a call's
/// work that compiling the model replaces outright.
fn capture_only(workloads: &[(&str, &[Call])], total: usize, sysretq: usize) {
    let model = LinuxX8664::model();
    let compiled = tracer_as(Compiled::<LinuxX8664>::new(), Format::Nothing);
    let interpreted = tracer_as(
        Interpreted::new(model, "specs/linux-x86_64.osm"),
        Format::Nothing,
    );
    let cold = Evict::new(COLD_BYTES);
    println!(
        "| capture only (format=none) | compiled (ns per call) | interpreted (ns per call) | ratio | compiled, caches cold | interpreted, caches cold | ratio |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut least = f64::INFINITY;
    for &(name, calls) in workloads {
        let rounds = total / calls.len();
        run(&compiled, calls, rounds / 10, sysretq, None);
        run(&interpreted, calls, rounds / 10, sysretq, None);
        let c = run(&compiled, calls, rounds, sysretq, None);
        let i = run(&interpreted, calls, rounds, sysretq, None);
        let cold_rounds = (rounds / 20).max(1);
        let cc = run(&compiled, calls, cold_rounds, sysretq, Some(&cold));
        let ic = run(&interpreted, calls, cold_rounds, sysretq, Some(&cold));
        println!(
            "| {name} | {:.0} | {:.0} | {:.2} | {:.0} | {:.0} | {:.2} |",
            c.ns,
            i.ns,
            i.ns / c.ns,
            cc.ns,
            ic.ns,
            ic.ns / cc.ns
        );
        least = least.min(i.ns / c.ns).min(ic.ns / cc.ns);
    }
    println!(
        "\nTarget: the compiled capture ≥ 2× cheaper per call than the interpreted one: at least {least:.2}×, {}",
        if least >= 2.0 { "met" } else { "not met" }
    );
}

/// What a plugin does with its model when QEMU loads it: a compiled
/// plugin expands its static tables; before them it parsed the same model
/// from JSON; the generic plugin compiles the `.osm` text. Medians of a
/// few runs each, in microseconds.
fn load_times() {
    let median = |f: &dyn Fn()| {
        let mut times: Vec<f64> = (0..15)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed().as_secs_f64() * 1e6
            })
            .collect();
        times.sort_by(f64::total_cmp);
        times[times.len() / 2]
    };
    let json = serde_json::to_string_pretty(&LinuxX8664::model()).expect("the model serialises");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let spec = root.join("specs/linux-x86_64.osm");
    let tables = median(&|| {
        std::hint::black_box(LinuxX8664::model());
    });
    let parsed = median(&|| {
        let model: osm_compiler::model::Model = serde_json::from_str(&json).expect("it reads back");
        std::hint::black_box(model);
    });
    let compiled = median(&|| {
        let model = osm_compiler::repo::check(&root, &spec).expect("the model checks");
        std::hint::black_box(model);
    });
    println!(
        "| the x86_64 model at load (µs, median of 15) | static tables, expanded (compiled plugin) | the same model parsed from JSON ({} KiB) | the .osm compiled (generic plugin) |",
        json.len() / 1024
    );
    println!("|---|---|---|---|");
    println!("| linux-x86_64 | {tables:.0} | {parsed:.0} | {compiled:.0} |");
}
