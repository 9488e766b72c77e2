//! `cargo xtask bench`: what tracing costs, measured side by side in one
//! run. Each workload boots a real guest under no plugin, the floor (the
//! compiled plugin's callbacks and register reads alone), the compiled
//! plugin, the generic (run-time loaded) plugin, the compiled plugin
//! writing to /dev/null, and the generic plugin with a model that matches
//! no instruction (what QEMU's translation hook costs by itself); runs are
//! interleaved (A B C D E, B C D E A, ...) so that drift in the machine's
//! speed hits every variant alike. The record/replay table does the same
//! with a plain run, a recording, and two replays of that recording.

use crate::codegen;
use crate::debian_system;
use crate::guest::{self, BootOptions, GuestArch};
use anyhow::{Context as _, Result, anyhow, bail};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct BenchOptions {
    /// Runs of each variant (medians are reported; at least 5 for the record).
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    /// Architectures to measure (x86_64, arm, aarch64...); default every
    /// one with a guest and a Linux model (`specs/linux-ARCH.osm`).
    #[arg(long = "arch")]
    pub arches: Vec<String>,
    /// Divide every workload's call count by this (for a quick look; the
    /// table says so).
    #[arg(long, default_value_t = 1)]
    pub scale_down: u64,
    /// Workloads to run (boot, getppid, pipe, long, pipe-smp4); default all.
    /// `debian-boot` (the Debian system with systemd, boot to power-off;
    /// x86_64 and aarch64) runs only when named.
    #[arg(long = "workload")]
    pub workloads: Vec<String>,
    /// Tables to write (tracing, record-replay); default both.
    /// record-replay: a plain run against QEMU's recording of the same
    /// guest and workload, and a replay of that recording without a plugin
    /// against one with the tracer.
    #[arg(long = "table")]
    pub tables: Vec<String>,
    /// Where to write the table.
    #[arg(long, default_value = "BENCHMARKS.md")]
    pub out: PathBuf,
}

struct Workload {
    name: &'static str,
    describe: &'static str,
    /// The command, with `{n}` for the call count.
    cmd: &'static str,
    calls: u64,
    smp: u32,
    /// Whether the workload also runs under strace inside the guest (on
    /// 1/[`STRACE_SHARE`] of its calls).
    strace: bool,
}

/// strace in the guest costs some 500 times what the tracer does: it runs
/// this share of a workload's calls, so a round takes seconds, not minutes.
const STRACE_SHARE: u64 = 25;

const WORKLOADS: &[Workload] = &[
    Workload {
        name: "boot",
        describe: "boot to poweroff",
        cmd: "true",
        calls: 0,
        smp: 1,
        strace: false,
    },
    Workload {
        name: "getppid",
        describe: "{n} getppid",
        cmd: "/bench getppid {n}",
        calls: 500_000,
        smp: 1,
        strace: true,
    },
    Workload {
        name: "pipe",
        describe: "{n} write/read pairs on a pipe",
        cmd: "/bench pipe {n}",
        calls: 200_000,
        smp: 1,
        strace: true,
    },
    Workload {
        name: "long",
        describe: "{n} getppid, a long run (peak memory)",
        cmd: "/bench getppid {n}",
        calls: 10_000_000,
        smp: 1,
        strace: false,
    },
    Workload {
        name: "pipe-smp4",
        describe: "{n} write/read pairs in 4 threads, -smp 4",
        cmd: "/bench pipe-threads {n} 4",
        calls: 200_000,
        smp: 4,
        strace: true,
    },
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    None,
    /// Without the guest's names for tasks (kernel=none).
    Compiled,
    /// The same, each call captured on the vCPU and decoded and formatted
    /// by the log's writer thread (`decode=writer`).
    CompiledInWriter,
    /// `format=raw`: captured, not decoded at all.
    Raw,
    /// With the guest's names: the model's `task` block read at its probes.
    CompiledNames,
    Generic,
    CompiledNull,
    /// The generic plugin with a model whose patterns match no instruction:
    /// what QEMU's translation hook costs a plugin that traces nothing.
    HookOnly,
    /// The compiled plugin with `format=none`: the same callbacks and
    /// register reads, nothing decoded, paired or written. What any tracer
    /// of these calls pays: the floor the others are measured against.
    Floor,
    /// The compiled plugin writing jsonl, and Parquet (jsonl formatted on
    /// the vCPU, the rows encoded on the log's writer thread).
    Jsonl,
    /// `format=jsonl,jsonl=lean`: the calls declared once.
    JsonlLean,
    Parquet,
    /// No plugin: Debian's `strace -f -o FILE` runs the workload inside
    /// the guest, on 1/[`STRACE_SHARE`] of its calls.
    StraceInGuest,
}

const VARIANTS: [Variant; 13] = [
    Variant::None,
    Variant::Floor,
    Variant::Compiled,
    Variant::CompiledInWriter,
    Variant::Raw,
    Variant::Jsonl,
    Variant::JsonlLean,
    Variant::Parquet,
    Variant::CompiledNames,
    Variant::Generic,
    Variant::CompiledNull,
    Variant::HookOnly,
    Variant::StraceInGuest,
];

impl Variant {
    fn label(self) -> &'static str {
        match self {
            Variant::None => "no plugin",
            Variant::Compiled => "compiled",
            Variant::CompiledInWriter => "compiled, decoded by the log's writer (decode=writer)",
            Variant::Raw => "compiled, format=raw",
            Variant::CompiledNames => "compiled, with the guest's names (pid, tid, comm)",
            Variant::Generic => "generic (run-time model)",
            Variant::CompiledNull => "compiled, log=/dev/null",
            Variant::HookOnly => "translation hook only (model matching nothing)",
            Variant::Floor => "floor: callbacks and registers only (format=none)",
            Variant::Jsonl => "compiled, format=jsonl",
            Variant::JsonlLean => "compiled, format=jsonl,jsonl=lean",
            Variant::Parquet => "compiled, format=parquet",
            Variant::StraceInGuest => "strace -f -o FILE in the guest, 1/25 of the calls",
        }
    }

    /// The share of the workload's calls the variant's runs make.
    fn share(self) -> f64 {
        if self == Variant::StraceInGuest {
            1.0 / STRACE_SHARE as f64
        } else {
            1.0
        }
    }

    fn runs(self, w: &Workload) -> bool {
        self != Variant::StraceInGuest || w.strace
    }
}

#[derive(Default, Clone)]
struct Samples {
    seconds: Vec<f64>,
    /// The workload's own time, as the guest measured it.
    workload_seconds: Vec<f64>,
    /// CPU time QEMU's threads used over the workload, seen from the host.
    workload_cpu_seconds: Vec<f64>,
    rss_kb: Vec<u64>,
    traced: Vec<u64>,
}

impl Samples {
    fn median_traced(&self) -> f64 {
        median(&self.traced.iter().map(|&c| c as f64).collect::<Vec<_>>())
    }
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The count of traced calls from the tracer's health figures.
fn traced_entries(stderr: &str) -> Option<u64> {
    stderr
        .lines()
        .find(|l| l.starts_with("osmtrace: ") && l.contains(" calls traced ("))
        .and_then(|l| l["osmtrace: ".len()..].split(' ').next()?.parse().ok())
}

/// The lines strace wrote in the guest, as the workload's command counted
/// them.
fn strace_lines(console: &str) -> Option<u64> {
    console
        .lines()
        .find_map(|l| l.trim().strip_prefix(STRACE_LINES_MARK))
        .and_then(|n| n.trim().parse().ok())
}

const STRACE_LINES_MARK: &str = "OSMTRACE-STRACE-LINES ";

/// The workload's time the guest program printed (`OSMTRACE-BENCH-NS`).
fn workload_time(console: &str) -> Option<f64> {
    console
        .lines()
        .find_map(|l| l.trim().strip_prefix(END_MARK))
        .and_then(|n| n.trim().parse::<u64>().ok())
        .map(|ns| ns as f64 / 1e9)
}

/// The guest program's console lines around its loop.
const START_MARK: &str = "OSMTRACE-BENCH-START";
const END_MARK: &str = "OSMTRACE-BENCH-NS ";

/// The console marks to read QEMU's CPU time at, for a run with a loop.
fn loop_marks(has_loop: bool) -> Vec<String> {
    if has_loop {
        vec![START_MARK.to_string(), END_MARK.to_string()]
    } else {
        Vec::new()
    }
}

/// Indices `0..len` starting at `round % len`: each round of a bench
/// starts one run later, so that what the first run after another
/// workload pays falls on each in turn.
fn rotated(round: usize, len: usize) -> impl Iterator<Item = usize> {
    (0..len).map(move |k| (k + round) % len)
}

/// The CPU time QEMU used between the workload's start and end marks.
fn workload_cpu_time(marks: &[(String, Duration)]) -> Option<f64> {
    let at = |mark: &str| marks.iter().find(|(m, _)| m == mark).map(|(_, t)| *t);
    let (start, end) = (at(START_MARK)?, at(END_MARK)?);
    Some(end.checked_sub(start)?.as_secs_f64())
}

/// A model for `arch` whose entry and exit patterns no instruction has
/// (longer than any instruction of the architecture), reading only the
/// program counter: the generic plugin loads it, instruments nothing, and
/// shows what QEMU's translation hook costs by itself.
fn hook_only_model(arch: GuestArch) -> Result<String> {
    let info = osm_compiler::arch::lookup(arch.qemu_target())
        .with_context(|| format!("no architecture description for {arch}"))?;
    let never = ["0f 0b"; 8].join(" ");
    Ok(format!(
        "// Written by `cargo xtask bench`: patterns that match no instruction.\n\
         os linux {{\n    arch = {name};\n}}\n\
         thread = {pc};\nprocess = {pc};\n\
         mechanism none {{\n    entry = bytes \"{never}\";\n    number = {pc};\n    args = {pc};\n    \
         return = {pc};\n    exit never = bytes \"{never} 0f 0b\" resume {pc};\n}}\n\
         table calls {{\n    0 nothing(u64 a) -> u64;\n}}\n",
        name = info.name,
        pc = info.pc,
    ))
}

fn host_cpu() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

fn qemu_version(arch: GuestArch) -> String {
    Command::new(arch.qemu_binary())
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|t| t.lines().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".to_string())
}

fn compile_bench(arch: GuestArch, root: &Path, out: &Path) -> Result<()> {
    let compiler = arch.cross_compiler();
    let status = Command::new(compiler)
        .args(["-static", "-O1", "-pthread", "-o"])
        .arg(out)
        .arg(root.join("tests/guest/bench.c"))
        .status()
        .map_err(|e| anyhow!("{compiler}: {e} (run scripts/setup.sh)"))?;
    if !status.success() {
        bail!("compiling tests/guest/bench.c failed");
    }
    Ok(())
}

pub fn run(options: &BenchOptions) -> Result<()> {
    if options.rounds == 0 || options.scale_down == 0 {
        bail!("--rounds and --scale-down must be at least 1");
    }
    let root = codegen::repo_root();
    let spec_of = |arch: GuestArch| root.join(format!("specs/linux-{}.osm", arch.qemu_target()));
    // By default every architecture that has both a guest and a Linux model.
    let benchable: Vec<GuestArch> = GuestArch::ALL
        .into_iter()
        .filter(|&arch| spec_of(arch).is_file())
        .collect();
    let arches = select(
        &options.arches,
        &benchable,
        |a| a.qemu_target(),
        "architecture",
    )?;
    // The Debian system's boot takes minutes per run under TCG: only when
    // asked for by name, never in the default set.
    let debian_boot = options.workloads.iter().any(|w| w == DEBIAN_BOOT);
    let named: Vec<String> = options
        .workloads
        .iter()
        .filter(|w| *w != DEBIAN_BOOT)
        .cloned()
        .collect();
    let workloads: Vec<&Workload> = WORKLOADS.iter().collect();
    let workloads = if debian_boot && named.is_empty() {
        Vec::new()
    } else {
        select(&named, &workloads, |w| w.name, "workload")?
    };
    let tables = select(
        &options.tables,
        &["tracing", "record-replay"],
        |t| t,
        "table",
    )?;
    let tracing = tables.contains(&"tracing");
    let generic = if tracing {
        codegen::build_generic(&root, true)?
    } else {
        PathBuf::new()
    };
    let work = root.join("target/osmtrace/bench");
    std::fs::create_dir_all(&work).with_context(|| work.display().to_string())?;
    let mut report = String::new();
    let _ = writeln!(report, "# Benchmarks\n");
    let _ = writeln!(
        report,
        "Written by `cargo xtask bench --rounds {}{}{}` on {}. Host CPU: {}, {} cores. Medians of {} interleaved runs, min–max in brackets.{}",
        options.rounds,
        if options.scale_down > 1 {
            format!(" --scale-down {}", options.scale_down)
        } else {
            String::new()
        },
        [
            ("--arch", &options.arches),
            ("--workload", &options.workloads),
            ("--table", &options.tables)
        ]
        .iter()
        .flat_map(|(flag, values)| values.iter().map(move |v| format!(" {flag} {v}")))
        .collect::<String>(),
        date(),
        host_cpu(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        options.rounds,
        if tracing { TRACING_COLUMNS } else { "\n" }
    );
    for arch in arches {
        if debian_boot && debian_system::ARCHES.contains(&arch) {
            report.push_str(&debian_boot_row(arch, &root, options.rounds)?);
        }
        if workloads.is_empty() {
            continue;
        }
        let spec = root.join(format!("specs/linux-{}.osm", arch.qemu_target()));
        eprintln!("bench: {arch}: building plugins and the guest");
        let compiled = codegen::build_plugin(&root, &spec, true)?;
        let kernel = guest::prepare(
            arch,
            &guest::cache_dir(&root.join("target"), arch),
            &mut std::io::stderr(),
        )?;
        let program = work.join(format!("bench-{arch}"));
        compile_bench(arch, &root, &program)?;
        let bench_file = work.join("bench");
        std::fs::copy(&program, &bench_file)?;
        let mut initramfs = Vec::new();
        for w in &workloads {
            let path = work.join(format!("initrd-{arch}-{}.gz", w.name));
            let cmd = w
                .cmd
                .replace("{n}", &(w.calls / options.scale_down).to_string());
            guest::build_initramfs(&kernel, std::slice::from_ref(&bench_file), &[], &cmd, &path)?;
            initramfs.push(path);
        }
        let (with_strace, strace_version) = if tracing {
            strace_initramfs(&kernel, &workloads, options.scale_down, &bench_file, &work)?
        } else {
            (vec![None; workloads.len()], None)
        };
        if tables.contains(&"record-replay") {
            let table = record_replay_table(
                arch, &kernel, &compiled, &workloads, &initramfs, options, &work,
            )?;
            report.push_str(&table);
        }
        if !tracing {
            continue;
        }
        let layout = crate::debuginfo::guest_layout(&kernel, &mut std::io::stderr())?;
        let hook_only = work.join(format!("hook-only-{arch}.osm"));
        std::fs::write(&hook_only, hook_only_model(arch)?)
            .with_context(|| hook_only.display().to_string())?;
        let mut samples = vec![vec![Samples::default(); VARIANTS.len()]; workloads.len()];
        // Not counted: a bench's first boot is slower than the same boot
        // later (the host's caches are cold).
        if let (Some(w), Some(image)) = (workloads.first(), initramfs.first()) {
            run_guest(arch, &kernel, image, &boot_options(w), w, "warm-up")?;
        }
        for round in 0..options.rounds {
            for (wi, w) in workloads.iter().enumerate() {
                for vi in rotated(round, VARIANTS.len()) {
                    let variant = &VARIANTS[vi];
                    if !variant.runs(w) {
                        continue;
                    }
                    let log = work.join(format!("trace-{arch}.txt"));
                    let log_arg = if *variant == Variant::CompiledNull {
                        "/dev/null".to_string()
                    } else {
                        log.display().to_string()
                    };
                    let plugins = match variant {
                        Variant::None | Variant::StraceInGuest => Vec::new(),
                        Variant::Compiled | Variant::CompiledNull => {
                            vec![(compiled.clone(), format!("log={log_arg},kernel=none"))]
                        }
                        Variant::CompiledInWriter => vec![(
                            compiled.clone(),
                            format!("log={log_arg},kernel=none,decode=writer"),
                        )],
                        Variant::Raw => vec![(
                            compiled.clone(),
                            format!("format=raw,log={log_arg}.raw,kernel=none"),
                        )],
                        Variant::CompiledNames => vec![(
                            compiled.clone(),
                            format!("log={log_arg},kernel={}", layout.display()),
                        )],
                        Variant::Generic => vec![(
                            generic.clone(),
                            format!("spec={},log={log_arg},kernel=none", spec.display()),
                        )],
                        Variant::Floor => vec![(
                            compiled.clone(),
                            "format=none,log=/dev/null,kernel=none".to_string(),
                        )],
                        Variant::Jsonl => vec![(
                            compiled.clone(),
                            format!("format=jsonl,log={log_arg},kernel=none"),
                        )],
                        Variant::JsonlLean => vec![(
                            compiled.clone(),
                            format!("format=jsonl,jsonl=lean,log={log_arg},kernel=none"),
                        )],
                        Variant::Parquet => vec![(
                            compiled.clone(),
                            format!("format=parquet,log={log_arg}.parquet,kernel=none"),
                        )],
                        Variant::HookOnly => vec![(
                            generic.clone(),
                            format!("spec={},log={log_arg}", hook_only.display()),
                        )],
                    };
                    let opts = BootOptions {
                        plugins,
                        ..boot_options(w)
                    };
                    let image = match (variant, &with_strace[wi]) {
                        (Variant::StraceInGuest, Some(image)) => image,
                        _ => &initramfs[wi],
                    };
                    let outcome = run_guest(arch, &kernel, image, &opts, w, variant.label())?;
                    let s = &mut samples[wi][vi];
                    s.seconds.push(outcome.wall_time.as_secs_f64());
                    let workload = workload_time(&outcome.console);
                    s.workload_seconds.extend(workload);
                    let workload_cpu = workload_cpu_time(&outcome.cpu_time_at_marks);
                    s.workload_cpu_seconds.extend(workload_cpu);
                    s.rss_kb.extend(outcome.peak_rss_kb);
                    s.traced.extend(if *variant == Variant::StraceInGuest {
                        strace_lines(&outcome.console)
                    } else {
                        traced_entries(&outcome.qemu_stderr)
                    });
                    eprintln!(
                        "bench: {arch} round {}/{} {:<10} {:<26} {:>7.2} s{}{}",
                        round + 1,
                        options.rounds,
                        w.name,
                        variant.label(),
                        outcome.wall_time.as_secs_f64(),
                        workload.map_or(String::new(), |t| format!(" (workload {t:.3} s)")),
                        workload_cpu.map_or(String::new(), |t| format!(" (CPU {t:.3} s)"))
                    );
                }
            }
        }
        let _ = writeln!(
            report,
            "## {arch} ({}, {})\n",
            kernel.kernel_package,
            qemu_version(arch)
        );
        if let Some(version) = &strace_version {
            let _ = writeln!(
                report,
                "strace in the guest: Debian's strace {version}, run as `strace -f -o /tmp/strace.out` on 1/{STRACE_SHARE} of the workload's calls; its calls are the lines it wrote, its cost per call is against 1/{STRACE_SHARE} of the untraced loop's time.\n"
            );
        }
        table_head(
            &mut report,
            &[
                "workload",
                "variant",
                "time (s)",
                "ratio",
                "workload (s)",
                "ratio",
                "calls traced",
                "ns per call",
                "workload CPU (s)",
                "CPU ns per call",
                "peak RSS (MiB)",
            ],
        );
        for (wi, w) in workloads.iter().enumerate() {
            let none = median(&samples[wi][0].seconds);
            let none_workload = median(&samples[wi][0].workload_seconds);
            let none_cpu = median(&samples[wi][0].workload_cpu_seconds);
            let compiled_traced = samples[wi][variant_index(Variant::Compiled)].median_traced();
            for (vi, variant) in VARIANTS.iter().enumerate() {
                if !variant.runs(w) {
                    continue;
                }
                // A variant on a share of the calls is compared with the
                // same share of the untraced loop's time.
                let (none_workload, none_cpu) =
                    (none_workload * variant.share(), none_cpu * variant.share());
                let s = &samples[wi][vi];
                let t = median(&s.seconds);
                let workload = median(&s.workload_seconds);
                let cpu = median(&s.workload_cpu_seconds);
                // The floor sees the compiled plugin's calls and counts none.
                let traced = if *variant == Variant::Floor {
                    compiled_traced
                } else {
                    s.median_traced()
                };
                // Boot makes too few calls for a per-call figure to mean
                // anything; its ratio is the number that counts.
                let per_call = |seconds: f64, none_seconds: f64| {
                    if matches!(*variant, Variant::None | Variant::HookOnly)
                        || w.calls == 0
                        || traced.is_nan()
                        || traced <= 0.0
                        || seconds.is_nan()
                        || none_seconds.is_nan()
                    {
                        String::new()
                    } else {
                        format!("{:.0}", (seconds - none_seconds) * 1e9 / traced)
                    }
                };
                let cpu_cells = if cpu.is_nan() {
                    " | ".to_string()
                } else {
                    format!(
                        "{} | {}",
                        median_range(&s.workload_cpu_seconds, 3),
                        per_call(cpu, none_cpu)
                    )
                };
                let per_call = per_call(workload, none_workload);
                let workload_cells = if workload.is_nan() {
                    " | ".to_string()
                } else {
                    format!(
                        "{} | {:.3}",
                        median_range(&s.workload_seconds, 3),
                        workload / none_workload
                    )
                };
                let rss = median(&s.rss_kb.iter().map(|&k| k as f64).collect::<Vec<_>>()) / 1024.0;
                let _ = writeln!(
                    report,
                    "| {} | {} | {} | {:.3} | {workload_cells} | {} | {per_call} | {cpu_cells} | {rss:.0} |",
                    w.describe
                        .replace("{n}", &group_thousands(w.calls / options.scale_down)),
                    variant.label(),
                    median_range(&s.seconds, 2),
                    t / none,
                    if traced.is_nan() {
                        String::new()
                    } else {
                        format!("{traced:.0}")
                    },
                );
            }
        }
        let _ = writeln!(report);
        report.push_str(&targets(&workloads, &samples));
    }
    if tracing && !workloads.is_empty() {
        eprintln!("bench: the tracer alone, in process");
        let _ = writeln!(report, "{}", in_process(&root)?);
    }
    std::fs::write(&options.out, &report).with_context(|| options.out.display().to_string())?;
    print!("{report}");
    Ok(())
}

fn variant_index(v: Variant) -> usize {
    VARIANTS.iter().position(|&x| x == v).unwrap_or(0)
}

/// What the plugin may add to QEMU's peak memory however long it runs: its
/// tables of pending calls and caches are bounded, and the log goes
/// through a few buffers of [`osm_runtime::logwriter::LOG_BUFFER`] bytes.
const EXTRA_MEMORY_BOUND_MIB: f64 = 64.0;

const DEBIAN_BOOT: &str = "debian-boot";

/// Calls of the per-call workload in the Debian system.
const DEBIAN_CALLS: u64 = 2_000_000;

/// One run of the Debian system: its image, and the plugin's arguments
/// (none without a plugin).
struct DebianRun<'a> {
    label: &'static str,
    image: &'a Path,
    plugin: Option<String>,
    /// Runs the per-call workload (else the boot to power-off).
    workload: bool,
}

/// The Debian system with systemd (`trace --guest debian`) booted to
/// power-off with no plugin and with the compiled plugin (the guest's
/// names read, every call written as strace text to a file), and the same
/// system running [`DEBIAN_CALLS`] getppid under no plugin, the floor and
/// the compiled plugin: the per-call cost in a whole system, where systemd
/// and its services share the vCPU. Interleaved, each round starting one
/// run later.
fn debian_boot_row(arch: GuestArch, root: &Path, rounds: usize) -> Result<String> {
    let spec = root.join(format!("specs/linux-{}.osm", arch.qemu_target()));
    let target = root.join("target");
    let work = target.join("osmtrace/bench");
    let log = &mut std::io::stderr();
    eprintln!("bench: {arch}: building the plugin and the Debian system");
    let compiled = codegen::build_plugin(root, &spec, true)?;
    let kernel = guest::prepare(arch, &guest::cache_dir(&target, arch), log)?;
    let system = debian_system::prepare(arch, &target, log)?;
    let initramfs = work.join(format!("initrd-debian-{arch}.cpio"));
    debian_system::build_initramfs(&system, &[], "true", &initramfs)?;
    let program_dir = work.join(format!("debian-{arch}"));
    std::fs::create_dir_all(&program_dir)?;
    let program = program_dir.join("bench");
    compile_bench(arch, root, &program)?;
    let with_workload = work.join(format!("initrd-debian-{arch}-getppid.cpio"));
    let cmd = format!("/bench getppid {DEBIAN_CALLS}");
    debian_system::build_initramfs(&system, &[program], &cmd, &with_workload)?;
    let layout = crate::debuginfo::guest_layout(&kernel, log)?;
    let trace = work.join(format!("trace-debian-{arch}.txt"));
    let names = format!("log={},kernel={}", trace.display(), layout.display());
    let floor = "format=none,log=/dev/null,kernel=none".to_string();
    let runs = [
        DebianRun {
            label: Variant::None.label(),
            image: &initramfs,
            plugin: None,
            workload: false,
        },
        DebianRun {
            label: Variant::CompiledNames.label(),
            image: &initramfs,
            plugin: Some(names.clone()),
            workload: false,
        },
        DebianRun {
            label: Variant::None.label(),
            image: &with_workload,
            plugin: None,
            workload: true,
        },
        DebianRun {
            label: Variant::Floor.label(),
            image: &with_workload,
            plugin: Some(floor),
            workload: true,
        },
        DebianRun {
            label: Variant::CompiledNames.label(),
            image: &with_workload,
            plugin: Some(names),
            workload: true,
        },
    ];
    let mut samples = vec![Samples::default(); runs.len()];
    for round in 0..rounds {
        for ri in rotated(round, runs.len()) {
            let run = &runs[ri];
            let opts = BootOptions {
                memory_mb: debian_system::MEMORY_MB,
                kernel_args: debian_system::KERNEL_ARGS.map(String::from).to_vec(),
                plugins: run
                    .plugin
                    .iter()
                    .map(|args| (compiled.clone(), args.clone()))
                    .collect(),
                timeout: Duration::from_secs(1800),
                cpu_time_marks: loop_marks(run.workload),
                ..BootOptions::default()
            };
            let outcome = guest::boot(arch, &kernel, run.image, &opts)?;
            if outcome.timed_out || outcome.exit_code != Some(0) || !outcome.qemu_status.success() {
                bail!(
                    "{arch} {DEBIAN_BOOT} under {} did not power off cleanly (QEMU {}, \
                     command exit {:?}):\n{}",
                    run.label,
                    outcome.qemu_status,
                    outcome.exit_code,
                    outcome.console
                );
            }
            let s = &mut samples[ri];
            s.seconds.push(outcome.wall_time.as_secs_f64());
            s.rss_kb.extend(outcome.peak_rss_kb);
            s.traced.extend(traced_entries(&outcome.qemu_stderr));
            let workload = workload_time(&outcome.console);
            if run.workload && workload.is_none() {
                bail!(
                    "{arch} {DEBIAN_BOOT}: the workload printed no time:\n{}",
                    outcome.console
                );
            }
            s.workload_seconds.extend(workload);
            s.workload_cpu_seconds
                .extend(workload_cpu_time(&outcome.cpu_time_at_marks));
            eprintln!(
                "bench: {arch} round {}/{rounds} {DEBIAN_BOOT}{} {:<26} {:>7.2} s{}",
                round + 1,
                if run.workload { " getppid" } else { "" },
                run.label,
                outcome.wall_time.as_secs_f64(),
                workload.map_or(String::new(), |t| format!(" (workload {t:.3} s)")),
            );
        }
    }
    let [boot_none, boot_traced, loop_none, loop_floor, loop_traced] = samples.as_slice() else {
        bail!("one sample set per Debian run");
    };
    let none = median(&boot_none.seconds);
    let mut text = format!(
        "## {arch}: the Debian 12 system with systemd {} ({}, {})\n\n\
         Boot to power-off (`cargo xtask trace --guest debian`: systemd, udev, D-Bus; \
         the command `true` as a service, then `systemctl poweroff`), {rounds} runs \
         of each, interleaved.\n\n\
         | variant | time (s) | ratio | calls traced | peak RSS (MiB) |\n|---|---|---|---|---|\n",
        system.systemd_version,
        kernel.kernel_package,
        qemu_version(arch)
    );
    let rss =
        |s: &Samples| median(&s.rss_kb.iter().map(|&k| k as f64).collect::<Vec<_>>()) / 1024.0;
    let traced = |s: &Samples| {
        let traced = s.median_traced();
        if traced.is_nan() {
            String::new()
        } else {
            format!("{traced:.0}")
        }
    };
    for (run, s) in runs.iter().zip(&samples).filter(|(r, _)| !r.workload) {
        let _ = writeln!(
            text,
            "| {} | {} | {:.3} | {} | {:.0} |",
            run.label,
            median_range(&s.seconds, 1),
            median(&s.seconds) / none,
            traced(s),
            rss(s),
        );
    }
    let _ = writeln!(
        text,
        "\nThe same system with `{cmd}` as its command: the loop's time as the \
         program measured it, and the added cost per call of the loop's \
         {} calls (the boot's calls are traced too, outside the loop; \
         calls traced counts them all).\n\n\
         | variant | workload (s) | ratio | ns per call | workload CPU (s) | CPU ns per call | calls traced |\n\
         |---|---|---|---|---|---|---|",
        group_thousands(DEBIAN_CALLS)
    );
    let loop_of = |s: &Samples| (median(&s.workload_seconds), median(&s.workload_cpu_seconds));
    let (w_none, cpu_none) = loop_of(loop_none);
    let per_call = |t: f64, base: f64| (t - base) / DEBIAN_CALLS as f64 * 1e9;
    for (run, s) in runs.iter().zip(&samples).filter(|(r, _)| r.workload) {
        let (w, cpu) = loop_of(s);
        let added = |v: f64, base: f64| {
            if run.plugin.is_none() {
                String::new()
            } else {
                format!("{:.0}", per_call(v, base))
            }
        };
        let _ = writeln!(
            text,
            "| {} | {} | {:.3} | {} | {} | {} | {} |",
            run.label,
            median_range(&s.workload_seconds, 3),
            w / w_none,
            added(w, w_none),
            median_range(&s.workload_cpu_seconds, 3),
            added(cpu, cpu_none),
            traced(s),
        );
    }
    let boot = median(&boot_traced.seconds) / none;
    let (floor, traced_loop) = (loop_of(loop_floor).0, loop_of(loop_traced).0);
    let times = (traced_loop - w_none) / (floor - w_none);
    let verdict = |met: bool| if met { "met" } else { "not met" };
    let _ = writeln!(
        text,
        "\nTargets:\n\n\
         - boot to power-off ≤ 1.03× no plugin (the Debian system): {boot:.3}, {}\n\
         - strace text, with the guest's names, ≤ 1.5× the floor (getppid in the Debian system): \
         {:.0} against {:.0} ns per call, {times:.2}× the floor's added time, {}\n",
        verdict(boot <= 1.03),
        per_call(traced_loop, w_none),
        per_call(floor, w_none),
        verdict(times <= 1.5),
    );
    Ok(text)
}

/// What the tracing table's columns mean.
const TRACING_COLUMNS: &str = " Time: wall time of a whole QEMU run (boot, workload, poweroff). Workload: the time the guest program measured around its loop (CLOCK_MONOTONIC, which follows the host's clock under TCG), free of the boot's variation. Ratios to no plugin. Cost per traced call = (W − W_none) / calls traced, from the workload times (none for boot, which has no loop and too few calls). Workload CPU: the CPU time all of QEMU's threads used over the workload (from the host's /proc, read as the guest's marks before and after its loop reach the console), so CPU ns per call counts the tracer's work wherever it ran (the vCPU threads and the log writer's thread) and however many host cores were idle. Traced variants decode every call and write it (format=strace) to a file.\n";

/// How a record/replay row runs the guest.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RrVariant {
    /// No icount, no plugin: the guest as `trace` runs it, untraced.
    Plain,
    Record,
    Replay,
    /// The compiled plugin, every call decoded and written (format=strace).
    ReplayTraced,
}

const RR_VARIANTS: [RrVariant; 4] = [
    RrVariant::Plain,
    RrVariant::Record,
    RrVariant::Replay,
    RrVariant::ReplayTraced,
];

impl RrVariant {
    fn label(self) -> &'static str {
        match self {
            RrVariant::Plain => "plain run, no plugin",
            RrVariant::Record => "recording, no plugin",
            RrVariant::Replay => "replay, no plugin",
            RrVariant::ReplayTraced => "replay with the tracer (compiled)",
        }
    }

    /// The row each one's ratio is to: recording against the plain run,
    /// the traced replay against the untraced one.
    fn baseline(self) -> RrVariant {
        match self {
            RrVariant::ReplayTraced => RrVariant::Replay,
            _ => RrVariant::Plain,
        }
    }
}

/// What recording costs against a plain run of the same guest and
/// workload, and what the tracer costs a replay: per round a plain run, a
/// recording, and two replays of that very recording (without and with
/// the tracer), interleaved like the tracing table's variants. The guest's
/// own clock follows the recording under replay, so the workload is timed
/// from the host (QEMU's CPU time between the guest's marks).
fn record_replay_table(
    arch: GuestArch,
    kernel: &guest::GuestKernel,
    compiled: &Path,
    workloads: &[&Workload],
    initramfs: &[PathBuf],
    options: &BenchOptions,
    work: &Path,
) -> Result<String> {
    let mut samples = vec![vec![Samples::default(); RR_VARIANTS.len()]; workloads.len()];
    let mut rr_bytes = vec![Vec::new(); workloads.len()];
    let rrfile = work.join(format!("replay-{arch}.bin"));
    let log = work.join(format!("trace-{arch}.txt"));
    for round in 0..options.rounds {
        for (wi, w) in workloads.iter().enumerate() {
            if w.smp > 1 {
                continue;
            }
            for (vi, variant) in RR_VARIANTS.iter().enumerate() {
                let record_replay = match variant {
                    RrVariant::Plain => None,
                    RrVariant::Record => Some(guest::RecordReplay::Record),
                    _ => Some(guest::RecordReplay::Replay),
                };
                let opts = BootOptions {
                    plugins: if *variant == RrVariant::ReplayTraced {
                        vec![(
                            compiled.to_path_buf(),
                            format!("log={},kernel=none", log.display()),
                        )]
                    } else {
                        Vec::new()
                    },
                    record_replay: record_replay.map(|mode| (mode, rrfile.clone())),
                    ..boot_options(w)
                };
                let outcome = run_guest(arch, kernel, &initramfs[wi], &opts, w, variant.label())?;
                if *variant == RrVariant::Record {
                    rr_bytes[wi].push(std::fs::metadata(&rrfile).map_or(0, |m| m.len()) as f64);
                }
                let s = &mut samples[wi][vi];
                s.seconds.push(outcome.wall_time.as_secs_f64());
                let cpu = workload_cpu_time(&outcome.cpu_time_at_marks);
                s.workload_cpu_seconds.extend(cpu);
                s.rss_kb.extend(outcome.peak_rss_kb);
                s.traced.extend(traced_entries(&outcome.qemu_stderr));
                eprintln!(
                    "bench: {arch} round {}/{} {:<10} {:<34} {:>7.2} s{}",
                    round + 1,
                    options.rounds,
                    w.name,
                    variant.label(),
                    outcome.wall_time.as_secs_f64(),
                    cpu.map_or(String::new(), |t| format!(" (CPU {t:.3} s)"))
                );
            }
        }
    }
    let _ = std::fs::remove_file(&rrfile);
    let mut report = String::new();
    let _ = writeln!(
        report,
        "## {arch}: record and replay ({}, {})\n\n\
         QEMU's record/replay (`-icount shift=auto,rr=record|replay`, one vCPU). Per round: a plain run (no icount, no plugin), a recording of the same guest and workload, and two replays of that recording, without and with the tracer (compiled, every call decoded and written as strace text to a file). Ratios: the recording's and the untraced replay's to the plain run, the traced replay's to the untraced replay. Workload CPU: QEMU's CPU time between the guest's marks around its loop (under replay the guest's own clock repeats the recording's, so it is timed from the host).\n",
        kernel.kernel_package,
        qemu_version(arch)
    );
    table_head(
        &mut report,
        &[
            "workload",
            "variant",
            "time (s)",
            "ratio",
            "workload CPU (s)",
            "ratio",
            "calls traced",
            "rr file (MB)",
        ],
    );
    for (wi, w) in workloads.iter().enumerate() {
        let describe = w
            .describe
            .replace("{n}", &group_thousands(w.calls / options.scale_down));
        if w.smp > 1 {
            let _ = writeln!(
                report,
                "| {describe} | not measured: QEMU records and replays one vCPU only | | | | | | |"
            );
            continue;
        }
        for (vi, variant) in RR_VARIANTS.iter().enumerate() {
            let s = &samples[wi][vi];
            let base = &samples[wi][RR_VARIANTS
                .iter()
                .position(|v| *v == variant.baseline())
                .unwrap_or(0)];
            let ratio = |of: &[f64], to: &[f64]| {
                if of.is_empty() || to.is_empty() {
                    String::new()
                } else {
                    format!("{:.3}", median(of) / median(to))
                }
            };
            let cpu = if s.workload_cpu_seconds.is_empty() {
                String::new()
            } else {
                median_range(&s.workload_cpu_seconds, 3)
            };
            let traced = s.median_traced();
            let _ = writeln!(
                report,
                "| {describe} | {} | {} | {} | {cpu} | {} | {} | {} |",
                variant.label(),
                median_range(&s.seconds, 2),
                ratio(&s.seconds, &base.seconds),
                ratio(&s.workload_cpu_seconds, &base.workload_cpu_seconds),
                if traced.is_nan() {
                    String::new()
                } else {
                    format!("{traced:.0}")
                },
                if *variant == RrVariant::Record {
                    format!("{:.1}", median(&rr_bytes[wi]) / 1e6)
                } else {
                    String::new()
                },
            );
        }
    }
    let _ = writeln!(report);
    Ok(report)
}

/// Per workload that runs under strace in the guest, an initramfs whose
/// command runs 1/[`STRACE_SHARE`] of its calls under `strace -f -o FILE`
/// and prints the lines strace wrote: the workload's own image with
/// Debian's strace appended.
fn strace_initramfs(
    kernel: &guest::GuestKernel,
    workloads: &[&Workload],
    scale_down: u64,
    bench_file: &Path,
    work: &Path,
) -> Result<(Vec<Option<PathBuf>>, Option<String>)> {
    if !workloads.iter().any(|w| w.strace) {
        return Ok((vec![None; workloads.len()], None));
    }
    let strace = guest::strace(kernel, &mut std::io::stderr())?;
    let mut images = Vec::new();
    for w in workloads {
        if !w.strace {
            images.push(None);
            continue;
        }
        let calls = (w.calls / scale_down / STRACE_SHARE).max(1);
        let cmd = format!(
            "{} -f -o /tmp/strace.out {}; rc=$?; echo {STRACE_LINES_MARK}$(wc -l < /tmp/strace.out); exit $rc",
            strace.command,
            w.cmd.replace("{n}", &calls.to_string())
        );
        let path = work.join(format!("initrd-{}-{}-strace.gz", kernel.arch, w.name));
        guest::build_initramfs(kernel, &[bench_file.to_path_buf()], &[], &cmd, &path)?;
        strace.append_to(&path)?;
        images.push(Some(path));
    }
    Ok((images, Some(strace.version)))
}

/// The boot options every run of workload `w` shares.
fn boot_options(w: &Workload) -> BootOptions {
    BootOptions {
        smp: w.smp,
        timeout: Duration::from_secs(900),
        cpu_time_marks: loop_marks(w.calls > 0),
        ..BootOptions::default()
    }
}

/// Boots the guest and checks that the workload ran to its end.
fn run_guest(
    arch: GuestArch,
    kernel: &guest::GuestKernel,
    initramfs: &Path,
    opts: &BootOptions,
    w: &Workload,
    label: &str,
) -> Result<guest::BootOutcome> {
    let mut outcome = guest::boot(arch, kernel, initramfs, opts)?;
    if outcome.qemu_status.code().is_none() && !outcome.timed_out {
        // QEMU killed by a signal (its own rare assertions with several
        // vCPUs, iotlb_to_section): said on stderr and run again, once; a
        // second one ends the bench.
        eprintln!(
            "bench: {arch} {} under {label}: QEMU was killed by a signal; running it again:\n{}",
            w.name, outcome.qemu_stderr
        );
        outcome = guest::boot(arch, kernel, initramfs, opts)?;
    }
    if outcome.timed_out || outcome.exit_code != Some(0) {
        bail!(
            "{arch} {} under {label} did not finish cleanly (exit {:?}):\n{}{}",
            w.name,
            outcome.exit_code,
            outcome.console,
            outcome.qemu_stderr
        );
    }
    if w.calls > 0 && workload_time(&outcome.console).is_none() {
        bail!(
            "{arch} {} under {label}: the guest printed no OSMTRACE-BENCH-NS line:\n{}",
            w.name,
            outcome.console
        );
    }
    Ok(outcome)
}

/// The speed targets against this run's medians (for the variants
/// that decode every call and write it to a file): what was met and by
/// how much. Only for the workloads that were run.
fn targets(workloads: &[&Workload], samples: &[Vec<Samples>]) -> String {
    let index = |name: &str| workloads.iter().position(|w| w.name == name);
    let variant = variant_index;
    let (none, compiled, generic, names) = (
        variant(Variant::None),
        variant(Variant::Compiled),
        variant(Variant::Generic),
        variant(Variant::CompiledNames),
    );
    let med = |wi: usize, vi: usize, f: fn(&Samples) -> &Vec<f64>| median(f(&samples[wi][vi]));
    fn wall(s: &Samples) -> &Vec<f64> {
        &s.seconds
    }
    fn work(s: &Samples) -> &Vec<f64> {
        &s.workload_seconds
    }
    fn cpu_time(s: &Samples) -> &Vec<f64> {
        &s.workload_cpu_seconds
    }
    let per_call = |wi: usize, vi: usize| {
        let traced = samples[wi][vi].median_traced();
        (med(wi, vi, work) - med(wi, none, work)) * 1e9 / traced
    };
    let verdict = |met: bool| if met { "met" } else { "not met" };
    // No plugin's own spread between runs, per traced call: a ratio to a
    // cost no larger than that (an ARM guest's slow calls dwarf the
    // plugin's) says nothing either way.
    let noise = |wi: usize| {
        let runs = work(&samples[wi][none]);
        let spread = runs.iter().copied().fold(f64::NAN, f64::max)
            - runs.iter().copied().fold(f64::NAN, f64::min);
        spread * 1e9 / samples[wi][compiled].median_traced()
    };
    let verdict_over = |wi: usize, base_ns: f64, met: bool| {
        if base_ns > noise(wi) {
            verdict(met).to_string()
        } else {
            format!(
                "not measured: {base_ns:.0} ns a call is within no plugin's spread between runs ({:.0} ns a call)",
                noise(wi)
            )
        }
    };
    let mut lines = Vec::new();
    if let Some(boot) = index("boot") {
        let ratio = med(boot, compiled, wall) / med(boot, none, wall);
        lines.push(format!(
            "boot to poweroff ≤ 1.03× no plugin: {ratio:.3}, {}",
            verdict(ratio <= 1.03)
        ));
    }
    let calls: Vec<(&str, usize)> = ["getppid", "pipe"]
        .into_iter()
        .filter_map(|n| Some((n, index(n)?)))
        .collect();
    for &(name, wi) in &calls {
        let ns = per_call(wi, compiled);
        lines.push(format!(
            "added cost ≤ 1 µs per call ({name}): {ns:.0} ns, {}",
            verdict(ns <= 1000.0)
        ));
    }
    let floor = variant(Variant::Floor);
    // The bounds on a call's added cost, as multiples of the floor's.
    let against_floor = [
        (variant(Variant::Raw), "raw", 1.2),
        (compiled, "strace text", 1.5),
        (
            variant(Variant::CompiledInWriter),
            "strace text decoded by the writer",
            1.5,
        ),
        (variant(Variant::Jsonl), "jsonl", 2.0),
        (variant(Variant::JsonlLean), "lean jsonl", 2.0),
    ];
    let floor_calls: Vec<(&str, usize)> = ["getppid", "pipe", "pipe-smp4"]
        .into_iter()
        .filter_map(|n| Some((n, index(n)?)))
        .collect();
    for &(name, wi) in &floor_calls {
        // The floor counts no calls: the compiled plugin's count is theirs.
        let traced = samples[wi][compiled].median_traced();
        let added = |vi: usize, f: fn(&Samples) -> &Vec<f64>| med(wi, vi, f) - med(wi, none, f);
        let floor_ns = added(floor, work) * 1e9 / traced;
        for (vi, what, bound) in against_floor {
            let ns = added(vi, work) * 1e9 / traced;
            let ratio = ns / floor_ns;
            lines.push(format!(
                "{what} ≤ {bound}× the floor ({name}): {ns:.0} against {floor_ns:.0} ns per call, {ratio:.2}× the floor's added wall time, {:.2}× its added CPU time, {}",
                added(vi, cpu_time) / added(floor, cpu_time),
                verdict_over(wi, floor_ns, ratio <= bound)
            ));
        }
    }
    let (jsonl, parquet) = (variant(Variant::Jsonl), variant(Variant::Parquet));
    for &(name, wi) in &calls {
        let added = |vi: usize| med(wi, vi, cpu_time) - med(wi, none, cpu_time);
        let lean = variant(Variant::JsonlLean);
        let ratio = per_call(wi, lean) / per_call(wi, compiled);
        lines.push(format!(
            "lean jsonl at the cost of strace text ({name}): {:.0} against {:.0} ns per call, {ratio:.2}× (full jsonl {:.2}×), {:.2}× strace text's added CPU time, {}",
            per_call(wi, lean),
            per_call(wi, compiled),
            per_call(wi, jsonl) / per_call(wi, compiled),
            added(lean) / added(compiled),
            verdict_over(wi, per_call(wi, compiled), ratio <= 1.1)
        ));
    }
    for &(name, wi) in &calls {
        let added = |vi: usize| med(wi, vi, cpu_time) - med(wi, none, cpu_time);
        lines.push(format!(
            "Parquet next to jsonl ({name}): {:.0} against {:.0} ns per call of wall time, {:.2}× jsonl's added CPU time (the rows are encoded on the writer thread)",
            per_call(wi, parquet),
            per_call(wi, jsonl),
            added(parquet) / added(jsonl)
        ));
    }
    let strace = variant(Variant::StraceInGuest);
    for &(name, wi) in &calls {
        let s = &samples[wi][strace];
        if s.workload_seconds.is_empty() {
            continue;
        }
        let share = Variant::StraceInGuest.share();
        let strace_ns =
            (med(wi, strace, work) - med(wi, none, work) * share) * 1e9 / s.median_traced();
        let ns = per_call(wi, compiled);
        let ratio = strace_ns / ns;
        lines.push(format!(
            "compiled ≥ 300× cheaper per call than strace in the guest ({name}): {:.0} µs against {ns:.0} ns, {ratio:.0}×, {}",
            strace_ns / 1000.0,
            verdict_over(wi, ns, ratio >= 300.0)
        ));
    }
    for &(name, wi) in &calls {
        let ratio = per_call(wi, generic) / per_call(wi, compiled);
        lines.push(format!(
            "compiled ≥ 3× cheaper per call than generic ({name}): {ratio:.2}×, {}",
            verdict_over(wi, per_call(wi, compiled), ratio >= 3.0)
        ));
    }
    for &(name, wi) in &calls {
        let (with, without) = (per_call(wi, names), per_call(wi, compiled));
        let more = (with / without - 1.0) * 100.0;
        lines.push(format!(
            "the guest's names ≤ +10% per call over the same build without ({name}): {with:.0} against {without:.0} ns, {more:+.1}%, {}",
            verdict_over(wi, without, more <= 10.0)
        ));
    }
    if let (Some(one), Some(four)) = (index("pipe"), index("pipe-smp4")) {
        let ratio = |wi: usize| med(wi, compiled, work) / med(wi, none, work);
        let (r1, r4) = (ratio(one), ratio(four));
        lines.push(format!(
            "-smp 4 ratio no worse than -smp 1 (pipe workload): {r4:.3} against {r1:.3}, {}",
            verdict(r4 <= r1)
        ));
    }
    if let Some(long) = index("long") {
        let rss = |vi: usize| {
            median(
                &samples[long][vi]
                    .rss_kb
                    .iter()
                    .map(|&k| k as f64)
                    .collect::<Vec<_>>(),
            ) / 1024.0
        };
        let extra = rss(compiled) - rss(none);
        lines.push(format!(
            "the plugin's extra peak memory over a long run ≤ {EXTRA_MEMORY_BOUND_MIB} MiB: {extra:.0} MiB ({:.0} against {:.0} MiB peak RSS), {}",
            rss(compiled),
            rss(none),
            verdict(extra <= EXTRA_MEMORY_BOUND_MIB)
        ));
    }
    if lines.is_empty() {
        return String::new();
    }
    let mut text =
        "Targets (compiled plugin, every call decoded and written to a file):\n\n".to_string();
    for line in lines {
        let _ = writeln!(text, "- {line}");
    }
    text.push('\n');
    text
}

/// The tracer's own work per call without QEMU (`tests/examples/
/// inprocess.rs`): the compiled and the interpreted x86_64 model on the same
/// register and memory snapshots.
fn in_process(root: &Path) -> Result<String> {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "run",
            "--release",
            "--quiet",
            "-p",
            "osm-tests",
            "--example",
            "inprocess",
        ])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .args(["--", "2000000"])
        .output()
        .context("cargo")?;
    if !output.status.success() {
        bail!(
            "the in-process benchmark failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(format!(
        "## The tracer alone (x86_64 model, no QEMU)\n\n\
         `tests/examples/inprocess.rs`: 2,000,000 calls through the tracer the plugin uses, \
         from register and memory snapshots instead of QEMU's register and memory reads, \
         decoded and written as strace text to /dev/null, with the allocations a call \
         makes (counted by the example's allocator; argument lists and text buffers are \
         reused). This is the part of a call's cost that compiling the model can change; \
         the rest of the QEMU runs' cost per call is QEMU's callbacks and register and \
         memory reads, the same for both. With caches hot the tracer's data and code stay \
         in the core's caches from one call to the next; in QEMU the guest's own work \
         between two callbacks evicts them, which the cold-cache columns imitate by \
         reading 512 KiB of other memory before each callback (each callback timed \
         alone). The vCPU's-share table sets the plugin's default (decoded and \
         formatted on the vCPU) beside `decode=writer` (the call captured, decoded and \
         formatted by the log's writer thread, whose work runs on another core) and \
         beside `format=raw` (captured only). The capture table runs the same \
         calls with `format=none`: registers read at entry and exit, nothing decoded, paired or written, the work that \
         compiling the model replaces outright (decoding and formatting are the same \
         code for both plugins).\n\n{}",
        String::from_utf8_lossy(&output.stdout)
    ))
}

/// The items of `all` that `names` name, in that order; all of them when
/// no name is given. An unknown name is an error listing the known ones.
fn select<T: Copy>(
    names: &[String],
    all: &[T],
    name_of: impl Fn(&T) -> &str,
    what: &str,
) -> Result<Vec<T>> {
    if names.is_empty() {
        return Ok(all.to_vec());
    }
    names
        .iter()
        .map(|name| {
            all.iter()
                .find(|item| name_of(item) == name)
                .copied()
                .with_context(|| {
                    let known: Vec<&str> = all.iter().map(&name_of).collect();
                    format!("unknown {what} {name} ({})", known.join(", "))
                })
        })
        .collect()
}

/// A Markdown table's header row and the row under it.
fn table_head(report: &mut String, columns: &[&str]) {
    let _ = writeln!(report, "| {} |", columns.join(" | "));
    let _ = writeln!(report, "|{}", "---|".repeat(columns.len()));
}

/// "median [min–max]" with `digits` decimals.
fn median_range(values: &[f64], digits: usize) -> String {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(0.0, f64::max);
    format!(
        "{:.digits$} [{min:.digits$}–{max:.digits$}]",
        median(values)
    )
}

fn date() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_traced_entries() {
        let stderr = "osmtrace: booting\nosmtrace: 104716 calls traced (0 filtered out, 0 entries \
                      unreadable), 104715 returns paired (77 child returns)\n";
        assert_eq!(traced_entries(stderr), Some(104716));
        assert_eq!(traced_entries("osmtrace: 12 calls\n"), None);
    }

    /// A ratio to the floor's cost is judged only when that cost stands
    /// above no plugin's spread between runs; below it, the line says so.
    #[test]
    fn targets_under_no_plugins_spread_are_not_judged() {
        let getppid = WORKLOADS.iter().find(|w| w.name == "getppid").unwrap();
        let judged = |none: [f64; 3]| {
            let mut samples = vec![Samples::default(); VARIANTS.len()];
            for (i, v) in VARIANTS.iter().enumerate() {
                let added = match v {
                    Variant::None => 0.0,
                    Variant::Floor => 0.1,
                    _ => 0.2,
                };
                samples[i].workload_seconds = none.iter().map(|t| t + added).collect();
                samples[i].workload_cpu_seconds = samples[i].workload_seconds.clone();
                samples[i].traced = vec![1_000_000; 3];
            }
            let text = targets(&[getppid], &[samples]);
            text.lines()
                .find(|l| l.starts_with("- strace text ≤ 1.5× the floor (getppid)"))
                .unwrap_or_else(|| panic!("{text}"))
                .to_string()
        };
        // The floor adds 100 ns a call; no plugin's runs spread 10, then 300.
        assert!(judged([1.0, 1.005, 1.01]).ends_with(", not met"));
        let hidden = judged([1.0, 1.1, 1.3]);
        assert!(
            hidden.ends_with("not measured: 100 ns a call is within no plugin's spread between runs (300 ns a call)"),
            "{hidden}"
        );
    }
}
