//! `cargo xtask bench`: what tracing costs, measured side by side in one
//! run. Each workload boots a real guest under no plugin, the compiled
//! plugin, the generic (run-time loaded) plugin, and the compiled plugin
//! writing to /dev/null; runs are interleaved (A B C D A B C D ...) so that
//! drift in the machine's speed hits every variant alike.

use crate::codegen;
use crate::guest::{self, BootOptions, GuestArch};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct BenchOptions {
    /// Runs of each variant (medians are reported; at least 5 for the record).
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    /// Architectures to measure (x86_64, arm); default both.
    #[arg(long = "arch")]
    pub arches: Vec<String>,
    /// Divide every workload's call count by this (for a quick look; the
    /// table says so).
    #[arg(long, default_value_t = 1)]
    pub scale_down: u64,
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
}

const WORKLOADS: &[Workload] = &[
    Workload {
        name: "boot",
        describe: "boot to poweroff",
        cmd: "true",
        calls: 0,
        smp: 1,
    },
    Workload {
        name: "getppid",
        describe: "{n} getppid",
        cmd: "/bench getppid {n}",
        calls: 500_000,
        smp: 1,
    },
    Workload {
        name: "pipe",
        describe: "{n} write/read pairs on a pipe",
        cmd: "/bench pipe {n}",
        calls: 200_000,
        smp: 1,
    },
    Workload {
        name: "pipe-smp4",
        describe: "{n} write/read pairs in 4 threads, -smp 4",
        cmd: "/bench pipe-threads {n} 4",
        calls: 200_000,
        smp: 4,
    },
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    None,
    Compiled,
    Generic,
    CompiledNull,
}

const VARIANTS: [Variant; 4] = [
    Variant::None,
    Variant::Compiled,
    Variant::Generic,
    Variant::CompiledNull,
];

impl Variant {
    fn label(self) -> &'static str {
        match self {
            Variant::None => "no plugin",
            Variant::Compiled => "compiled",
            Variant::Generic => "generic (run-time model)",
            Variant::CompiledNull => "compiled, log=/dev/null",
        }
    }
}

#[derive(Default, Clone)]
struct Samples {
    seconds: Vec<f64>,
    rss_kb: Vec<u64>,
    traced: Vec<u64>,
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

/// The count of traced entries from the tracer's end-of-run line.
fn traced_entries(stderr: &str) -> Option<u64> {
    stderr
        .lines()
        .find(|l| l.starts_with("osmtrace: ") && l.contains(" entries,"))
        .and_then(|l| l["osmtrace: ".len()..].split(' ').next()?.parse().ok())
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

fn compile_bench(arch: GuestArch, root: &Path, out: &Path) -> Result<(), String> {
    let compiler = arch.cross_compiler();
    let status = Command::new(compiler)
        .args(["-static", "-O1", "-pthread", "-o"])
        .arg(out)
        .arg(root.join("tests/guest/bench.c"))
        .status()
        .map_err(|e| format!("{compiler}: {e} (run scripts/setup.sh)"))?;
    if !status.success() {
        return Err("compiling tests/guest/bench.c failed".to_string());
    }
    Ok(())
}

pub fn run(options: &BenchOptions) -> Result<(), String> {
    if options.rounds == 0 || options.scale_down == 0 {
        return Err("--rounds and --scale-down must be at least 1".to_string());
    }
    let root = codegen::repo_root();
    let spec_of = |arch: GuestArch| root.join(format!("specs/linux-{}.osm", arch.qemu_target()));
    // By default every architecture that has both a guest and a Linux model.
    let benchable: Vec<GuestArch> = GuestArch::ALL
        .into_iter()
        .filter(|&arch| spec_of(arch).is_file())
        .collect();
    let arches: Vec<GuestArch> = if options.arches.is_empty() {
        benchable
    } else {
        let known: Vec<&str> = benchable.iter().map(|a| a.qemu_target()).collect();
        options
            .arches
            .iter()
            .map(|a| {
                GuestArch::from_qemu_target(a)
                    .filter(|arch| benchable.contains(arch))
                    .ok_or_else(|| format!("unknown architecture {a} ({})", known.join(", ")))
            })
            .collect::<Result<_, _>>()?
    };
    let generic = codegen::build_generic(&root, true)?;
    let work = root.join("target/osmtrace/bench");
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let mut report = String::new();
    let _ = writeln!(report, "# Benchmarks\n");
    let _ = writeln!(
        report,
        "Written by `cargo xtask bench --rounds {}{}` on {}. Host CPU: {}, {} cores. Wall time of a whole QEMU run (boot, workload, poweroff); median of {} interleaved runs, min–max in brackets; ratio to no plugin; cost per traced call = (T − T_none) / calls traced. Traced variants decode every call and write it (format=strace) to a file.\n",
        options.rounds,
        if options.scale_down > 1 {
            format!(" --scale-down {}", options.scale_down)
        } else {
            String::new()
        },
        date(),
        host_cpu(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        options.rounds
    );
    for arch in arches {
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
        std::fs::copy(&program, &bench_file).map_err(|e| e.to_string())?;
        let mut initramfs = Vec::new();
        for w in WORKLOADS {
            let path = work.join(format!("initrd-{arch}-{}.gz", w.name));
            let cmd = w
                .cmd
                .replace("{n}", &(w.calls / options.scale_down).to_string());
            guest::build_initramfs(&kernel, std::slice::from_ref(&bench_file), &cmd, &path)?;
            initramfs.push(path);
        }
        let mut samples = vec![vec![Samples::default(); VARIANTS.len()]; WORKLOADS.len()];
        for round in 0..options.rounds {
            for (wi, w) in WORKLOADS.iter().enumerate() {
                for (vi, variant) in VARIANTS.iter().enumerate() {
                    let log = work.join(format!("trace-{arch}.txt"));
                    let log_arg = if *variant == Variant::CompiledNull {
                        "/dev/null".to_string()
                    } else {
                        log.display().to_string()
                    };
                    let plugins = match variant {
                        Variant::None => Vec::new(),
                        Variant::Compiled | Variant::CompiledNull => {
                            vec![(compiled.clone(), format!("log={log_arg}"))]
                        }
                        Variant::Generic => vec![(
                            generic.clone(),
                            format!("spec={},log={log_arg}", spec.display()),
                        )],
                    };
                    let opts = BootOptions {
                        smp: w.smp,
                        plugins,
                        timeout: Duration::from_secs(900),
                        ..BootOptions::default()
                    };
                    let outcome = guest::boot(arch, &kernel, &initramfs[wi], &opts)?;
                    if outcome.timed_out || outcome.exit_code != Some(0) {
                        return Err(format!(
                            "{arch} {} under {} did not finish cleanly (exit {:?}):\n{}",
                            w.name,
                            variant.label(),
                            outcome.exit_code,
                            outcome.console
                        ));
                    }
                    let s = &mut samples[wi][vi];
                    s.seconds.push(outcome.wall_time.as_secs_f64());
                    s.rss_kb.extend(outcome.peak_rss_kb);
                    s.traced.extend(traced_entries(&outcome.qemu_stderr));
                    eprintln!(
                        "bench: {arch} round {}/{} {:<10} {:<26} {:>7.2} s",
                        round + 1,
                        options.rounds,
                        w.name,
                        variant.label(),
                        outcome.wall_time.as_secs_f64()
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
        let _ = writeln!(
            report,
            "| workload | variant | time (s) | ratio | calls traced | ns per call | peak RSS (MiB) |"
        );
        let _ = writeln!(report, "|---|---|---|---|---|---|---|");
        for (wi, w) in WORKLOADS.iter().enumerate() {
            let none = median(&samples[wi][0].seconds);
            for (vi, variant) in VARIANTS.iter().enumerate() {
                let s = &samples[wi][vi];
                let t = median(&s.seconds);
                let min = s.seconds.iter().copied().fold(f64::INFINITY, f64::min);
                let max = s.seconds.iter().copied().fold(0.0, f64::max);
                let traced = median(&s.traced.iter().map(|&c| c as f64).collect::<Vec<_>>());
                // Boot makes too few calls for a per-call figure to mean
                // anything; its ratio is the number that counts.
                let per_call = if *variant == Variant::None
                    || w.calls == 0
                    || traced.is_nan()
                    || traced <= 0.0
                {
                    "".to_string()
                } else {
                    format!("{:.0}", (t - none) * 1e9 / traced)
                };
                let rss = median(&s.rss_kb.iter().map(|&k| k as f64).collect::<Vec<_>>()) / 1024.0;
                let _ = writeln!(
                    report,
                    "| {} | {} | {t:.2} [{min:.2}–{max:.2}] | {:.3} | {} | {per_call} | {rss:.0} |",
                    w.describe
                        .replace("{n}", &group_thousands(w.calls / options.scale_down)),
                    variant.label(),
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
    }
    std::fs::write(&options.out, &report).map_err(|e| format!("{}: {e}", options.out.display()))?;
    print!("{report}");
    Ok(())
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
