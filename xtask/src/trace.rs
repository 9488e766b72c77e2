//! `cargo xtask trace`: build the plugin, boot a real guest with it, run a
//! command in the guest, and leave the trace.

use crate::codegen;
use crate::debian_system;
use crate::guest::{self, BootOptions, GuestArch};
use crate::own_qemu;
use crate::record::{self, Recording};
use crate::runs;
use anyhow::{Context as _, Result, bail};
use osm_compiler::model::Model;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What the guest runs on the Debian kernel.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GuestSystem {
    /// busybox in an initramfs: /init runs the command and powers off.
    #[default]
    Busybox,
    /// A Debian 12 system with systemd (built once with mmdebstrap): the
    /// command runs as a service once the system is up.
    Debian,
}

#[derive(clap::Args, Debug)]
pub struct TraceOptions {
    /// The model file (.osm); its architecture picks the guest.
    #[arg(long)]
    pub spec: PathBuf,
    /// A host file to put in the guest at /BASENAME, executable (repeatable).
    #[arg(long = "add", value_name = "HOSTFILE", conflicts_with = "replay")]
    pub add: Vec<PathBuf>,
    /// Shell command to run as root in the guest (default: a short demo).
    /// Given several times, each runs in a guest of its own, in parallel
    /// (see --runs).
    #[arg(long, conflicts_with = "replay")]
    pub cmd: Vec<String>,
    /// A file of commands, one per line (blank lines and lines starting
    /// with # left out): each runs in a guest of its own, several at once
    /// (--jobs), each run's trace in DIR/run=N/ of --out DIR.
    #[arg(long, value_name = "FILE", conflicts_with = "replay")]
    pub runs: Option<PathBuf>,
    /// With several runs: how many guests run at once (default: the
    /// host's cores).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Where the run's files (initramfs, QEMU's log) go instead of
    /// target/osmtrace/run: each of several runs has its own.
    #[arg(long, hide = true)]
    pub work_dir: Option<PathBuf>,
    /// Replay a recording (`cargo xtask record`) with the tracer instead of
    /// booting a guest: the guest, its command and its vCPUs are the
    /// recording's.
    #[arg(long, value_name = "RECORDING")]
    pub replay: Option<PathBuf>,
    /// Plugin arguments, QEMU style: 'format=jsonl' (log= is set by --out).
    #[arg(long, default_value = "")]
    pub plugin_args: String,
    /// Where to write the trace; without it the trace is printed.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Number of vCPUs.
    #[arg(long, default_value_t = 1, conflicts_with = "replay")]
    pub smp: u32,
    /// Use this plugin file, already built (e.g. installed by the Debian
    /// package), instead of building the model's.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["generic", "also_generic"])]
    pub plugin: Option<PathBuf>,
    /// Use the generic plugin (the model loaded at run time) instead of the
    /// model's compiled plugin.
    #[arg(long)]
    pub generic: bool,
    /// Also load the generic plugin, with the same arguments, writing its
    /// trace to this file: both plugins see the very same execution.
    #[arg(long, value_name = "FILE", conflicts_with = "generic")]
    pub also_generic: Option<PathBuf>,
    /// QEMU's CPU model (`-cpu`) instead of the guest's default, e.g.
    /// 'qemu64,vendor=GenuineIntel'.
    #[arg(long, conflicts_with = "replay")]
    pub cpu: Option<String>,
    /// The Debian release whose kernel and busybox the guest boots (12 or
    /// 13; default: 12, 13 for riscv64, which 12 has no kernel for).
    #[arg(long, value_name = "VERSION", conflicts_with = "replay")]
    pub debian: Option<String>,
    /// The system the guest boots: busybox, or a whole Debian 12 system
    /// with systemd (x86_64 and aarch64).
    #[arg(long, value_enum, default_value_t, conflicts_with = "replay")]
    pub guest: GuestSystem,
    /// Trace only the command given with --cmd and what it starts (the
    /// plugin's follow=, on the shell that runs the command).
    #[arg(long)]
    pub follow: bool,
    /// Put Debian's strace and its libraries in the busybox guest, so that
    /// the command can run `strace ...` there: an oracle in the same guest.
    #[arg(long, conflicts_with_all = ["replay", "runs"])]
    pub with_strace: bool,
    /// Give up on the guest after this many seconds.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    /// Print the QEMU command line that would boot the guest with the
    /// plugin, and do not run it.
    #[arg(long)]
    pub print_qemu: bool,
    /// Your own VM instead of the busybox guest: after `--`, a whole
    /// `qemu-system-TARGET ...` command line, run as it is with the plugin
    /// added (the trace goes to --out, else to QEMU's stderr).
    #[arg(
        last = true,
        value_name = "QEMU COMMAND",
        conflicts_with_all = ["add", "cmd", "replay", "smp", "cpu", "debian", "follow", "also_generic", "guest", "with_strace"]
    )]
    pub qemu: Vec<String>,
}

pub fn run(options: &TraceOptions) -> Result<()> {
    let root = codegen::repo_root();
    if options
        .plugin_args
        .split(',')
        .any(|a| a.trim_start().starts_with("log="))
    {
        bail!("set the trace file with --out, not log= in --plugin-args");
    }
    for binary in ["parquet", "raw"] {
        if options.out.is_none()
            && options
                .plugin_args
                .split(',')
                .any(|a| a.trim() == format!("format={binary}"))
        {
            bail!("format={binary} writes a binary file: give it with --out FILE");
        }
    }
    if options.cmd.len() > 1 || options.runs.is_some() {
        return runs::run(options);
    }
    let compilation = osm_compiler::compile_path(&options.spec);
    let model = match &compilation.result {
        Ok(model) => model,
        Err(_) => bail!(compilation.render_errors()),
    };
    let arch = GuestArch::from_qemu_target(model.arch.name()).with_context(|| {
        let known: Vec<String> = GuestArch::ALL.iter().map(|a| a.to_string()).collect();
        format!(
            "no guest for architecture `{}` yet (guests: {})",
            model.arch.name(),
            known.join(", ")
        )
    })?;
    if let Some(binary) = options.qemu.first() {
        own_qemu::check_target(binary, model, &options.spec)?;
    }
    for file in &options.add {
        if !file.is_file() {
            bail!("--add {}: no such file", file.display());
        }
    }
    if let Some(plugin) = &options.plugin
        && !plugin.is_file()
    {
        bail!(
            "--plugin {}: no such file (a plugin built by `cargo xtask build` or installed by the release)",
            plugin.display()
        );
    }
    if options.smp == 0 {
        bail!("--smp must be at least 1");
    }
    // Refused before any build or download, and computed once.
    let plugin_args = plugin_args(options, model)?;
    if options.guest == GuestSystem::Debian {
        debian_system::check(arch, options.debian.as_deref())?;
    }
    // A recording that cannot be replayed is refused before any build.
    let recording = match &options.replay {
        Some(dir) => {
            let recording = Recording::load(dir)?;
            if recording.arch != arch {
                bail!(
                    "--replay {}: the recording is of a {} guest, but {} is a model for {arch}",
                    dir.display(),
                    recording.arch,
                    options.spec.display()
                );
            }
            recording.check_qemu(&record::qemu_version(arch.qemu_binary())?)?;
            Some(recording)
        }
        None => None,
    };

    let spec_arg = format!(
        "spec={}",
        std::path::absolute(&options.spec)
            .context("--spec")?
            .display()
    );
    let generic = if options.generic || options.also_generic.is_some() {
        eprintln!("osmtrace: building the generic plugin");
        Some(codegen::build_generic(&root, true)?)
    } else {
        None
    };
    let plugin = match (&generic, options.generic, &options.plugin) {
        (Some(generic), true, _) => generic.clone(),
        // Taken whatever its name: QEMU refuses a library that is no
        // plugin, and the plugin a guest of another architecture.
        (_, _, Some(file)) => file.clone(),
        _ => {
            eprintln!(
                "osmtrace: building the plugin for {}",
                options.spec.display()
            );
            codegen::build_plugin(&root, &options.spec, true)?
        }
    };

    if !options.qemu.is_empty() {
        let mut args = plugin_args.clone();
        if options.generic {
            args.insert(0, spec_arg);
        }
        return own_qemu::run(options, model, &plugin, args);
    }
    let target = root.join("target");
    let mut log = std::io::stderr();
    let run_dir = match &options.work_dir {
        Some(dir) => dir.clone(),
        None => target.join("osmtrace/run"),
    };
    std::fs::create_dir_all(&run_dir)
        .with_context(|| format!("cannot create {}", run_dir.display()))?;
    let (kernel, initramfs, cmd) = match &recording {
        Some(r) => {
            let (kernel, initramfs) = r.boot_files();
            (kernel, initramfs, r.cmd.clone())
        }
        None => {
            let cmd = options
                .cmd
                .first()
                .map_or(guest::default_workload(), String::as_str);
            let kernel = guest::prepare_debian(arch, options.debian.as_deref(), &target, &mut log)?;
            let initramfs = match options.guest {
                GuestSystem::Busybox if options.with_strace => {
                    let initramfs = run_dir.join(format!("initrd-{arch}-strace.gz"));
                    with_strace(&kernel, &options.add, cmd, &initramfs, &mut log)?;
                    initramfs
                }
                GuestSystem::Busybox => {
                    let initramfs = run_dir.join(format!("initrd-{arch}.gz"));
                    guest::build_initramfs(&kernel, &options.add, &[], cmd, &initramfs)?;
                    initramfs
                }
                GuestSystem::Debian if options.with_strace => {
                    bail!(
                        "--with-strace is for the busybox guest (install strace in the Debian system instead)"
                    )
                }
                GuestSystem::Debian => {
                    let system = debian_system::prepare(arch, &target, &mut log)?;
                    let initramfs = run_dir.join(format!("initrd-debian-{arch}.cpio"));
                    debian_system::build_initramfs(&system, &options.add, cmd, &initramfs)?;
                    initramfs
                }
            };
            (kernel, initramfs, cmd.to_string())
        }
    };

    let trace_file = match &options.out {
        Some(out) => {
            std::path::absolute(out).with_context(|| format!("--out {}", out.display()))?
        }
        None => run_dir.join(format!("trace-{arch}.txt")),
    };
    let mut plugin_args = plugin_args;
    if osm_runtime::kernel::needs_layout(model)
        && !plugin_args.iter().any(|a| a.starts_with("kernel="))
    {
        let layout = match &recording {
            Some(recording) => recording.layout()?,
            None => crate::debuginfo::guest_layout(&kernel, &mut log)?,
        };
        plugin_args.push(format!("kernel={}", layout.display()));
    }
    let mut plugins = Vec::new();
    let with_log = |log: &std::path::Path, generic: bool| {
        let mut args = plugin_args.clone();
        if generic {
            args.insert(0, spec_arg.clone());
        }
        args.push(format!("log={}", log.display()));
        args.join(",")
    };
    plugins.push((plugin, with_log(&trace_file, options.generic)));
    if let (Some(generic), Some(log)) = (&generic, &options.also_generic) {
        let log = std::path::absolute(log)
            .with_context(|| format!("--also-generic {}", log.display()))?;
        plugins.push((generic.clone(), with_log(&log, true)));
    }
    // A fresh overlay of the recorded guest's disk per replay, removed
    // after it.
    let overlay = match recording.as_ref().and_then(|r| r.disk.as_ref()) {
        Some(disk) => {
            let dir = guest::TempDir::new(&run_dir, "replay-disk")?;
            disk.overlay(&dir.path().join("disk.qcow2"))?;
            Some(dir)
        }
        None => None,
    };
    let timeout = Duration::from_secs(options.timeout);
    // Printed for a shell, the plugin's messages go to its stderr.
    let plugin_log = (!options.print_qemu).then(|| run_dir.join(format!("qemu-{arch}.log")));
    let boot = match &recording {
        Some(recording) => {
            let boot = BootOptions {
                plugins,
                plugin_log,
                disk: overlay.as_ref().map(|d| d.path().join("disk.qcow2")),
                ..recording.boot_options(timeout)
            };
            recording.check_command(&boot)?;
            eprintln!(
                "osmtrace: replaying {} ({arch}, {} {}, {} vCPU(s)): {cmd}",
                recording.dir.display(),
                kernel.kernel_package,
                kernel.kernel_version,
                boot.smp
            );
            boot
        }
        None => {
            let system = match options.guest {
                GuestSystem::Busybox => "",
                GuestSystem::Debian => "the Debian system on ",
            };
            if !options.print_qemu {
                eprintln!(
                    "osmtrace: booting {system}{} ({} {}) with {} vCPU(s): {cmd}",
                    arch, kernel.kernel_package, kernel.kernel_version, options.smp
                );
            }
            let mut boot = BootOptions {
                smp: options.smp,
                plugins,
                plugin_log,
                timeout,
                cpu: options.cpu.clone(),
                ..BootOptions::default()
            };
            if options.guest == GuestSystem::Debian {
                boot.memory_mb = debian_system::MEMORY_MB;
                boot.kernel_args = debian_system::KERNEL_ARGS.map(String::from).to_vec();
            }
            boot
        }
    };
    if options.print_qemu {
        let cmd = guest::qemu_command(arch, &kernel, &initramfs, &boot)?;
        println!("{}", own_qemu::shell_line(&cmd)?);
        return Ok(());
    }
    let outcome = guest::boot(arch, &kernel, &initramfs, &boot)?;
    if let Some(output) = outcome.command_output() {
        eprint!("{output}");
        if !output.is_empty() && !output.ends_with('\n') {
            eprintln!();
        }
    }
    let summary = outcome
        .qemu_stderr
        .lines()
        .filter(|l| l.starts_with("osmtrace:"))
        .collect::<Vec<_>>()
        .join("\n");
    if !summary.is_empty() {
        eprintln!("{summary}");
    }
    if outcome.timed_out {
        let diverged = if recording.is_some() {
            " (a replay that diverged from its recording waits forever)"
        } else {
            ""
        };
        // What QEMU said (e.g. "replay file is over", after which it
        // pauses the guest for good).
        let said: Vec<&str> = outcome
            .qemu_stderr
            .lines()
            .filter(|l| !l.starts_with("osmtrace:") && !l.contains("terminating on signal"))
            .collect();
        // QEMU was stopped with SIGTERM, so the plugin wrote out what it
        // had: the trace so far goes where a whole one would.
        let so_far = match &options.out {
            Some(_) => format!("trace so far in {}", trace_file.display()),
            None => {
                if let Ok(text) = std::fs::read_to_string(&trace_file) {
                    print!("{text}");
                }
                "the trace so far is on stdout".to_string()
            }
        };
        bail!(
            "the guest did not power off within {} s{diverged}; {so_far}{}",
            options.timeout,
            if said.is_empty() {
                String::new()
            } else {
                format!("; QEMU said:\n{}", said.join("\n"))
            }
        );
    }
    if recording.is_some() && !outcome.qemu_status.success() {
        bail!(record::replay_failure(
            &outcome.qemu_status.to_string(),
            &outcome.qemu_stderr,
        ));
    }
    if !outcome.qemu_status.success() {
        bail!(
            "QEMU failed ({}):\n{}",
            outcome.qemu_status,
            outcome.qemu_stderr
        );
    }
    match outcome.exit_code {
        Some(code) => eprintln!(
            "osmtrace: guest command exited with {code}; guest ran {:.1} s",
            outcome.wall_time.as_secs_f64()
        ),
        None => eprintln!(
            "osmtrace: the guest command did not finish (no exit marker); console:\n{}",
            outcome.console
        ),
    }
    match &options.out {
        Some(_) => eprintln!("osmtrace: trace written to {}", trace_file.display()),
        None => {
            let text = std::fs::read_to_string(&trace_file)
                .with_context(|| format!("cannot read the trace {}", trace_file.display()))?;
            print!("{text}");
        }
    }
    Ok(())
}

/// The plugin's arguments from --plugin-args and --follow (not log=, which
/// --out gives, nor kernel=, which depends on the guest).
fn plugin_args(options: &TraceOptions, model: &Model) -> Result<Vec<String>> {
    let mut plugin_args: Vec<String> = options
        .plugin_args
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect();
    if options.follow {
        if plugin_args.iter().any(|a| a.starts_with("follow=")) {
            bail!("--follow and follow= in --plugin-args: give one of them");
        }
        if model.task.is_none() {
            bail!(
                "--follow needs the guest's names for processes, and {} has no `task` block",
                options.spec.display()
            );
        }
        plugin_args.push(format!("follow={}", guest::COMMAND_NAME));
    }
    Ok(plugin_args)
}

/// The busybox guest's initramfs with Debian's strace appended (the kernel
/// unpacks concatenated archives in order), and `strace` a shell function
/// that runs it with its libraries.
fn with_strace(
    kernel: &guest::GuestKernel,
    files: &[PathBuf],
    cmd: &str,
    initramfs: &Path,
    log: &mut dyn std::io::Write,
) -> Result<()> {
    let strace = guest::strace(kernel, log)?;
    let cmd = format!("strace() {{ {} \"$@\"; }}\n{cmd}", strace.command);
    guest::build_initramfs(kernel, files, &[], &cmd, initramfs)?;
    strace.append_to(initramfs)
}
