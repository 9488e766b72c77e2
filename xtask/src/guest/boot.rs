//! Boots a guest in QEMU and collects what it printed, how it exited and
//! what it cost.

use super::host::spawn_error;
use super::{EXIT_MARKER, GuestArch, GuestKernel, START_MARKER};
use anyhow::{Context as _, Result, bail};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How to boot a guest.
#[derive(Clone, Debug)]
pub struct BootOptions {
    pub smp: u32,
    pub memory_mb: u32,
    /// TCG plugins and their arguments ("key=val,key2=val2", may be empty).
    /// Several plugins see the very same execution.
    pub plugins: Vec<(PathBuf, String)>,
    /// Where the plugin's output goes (`-d plugin -D file`). Without it but
    /// with a plugin, the plugin's output goes to QEMU's stderr, which
    /// [`BootOutcome::qemu_stderr`] holds.
    pub plugin_log: Option<PathBuf>,
    /// QEMU is killed after this long.
    pub timeout: Duration,
    /// A CPU model (`-cpu`) instead of the machine's: an x86 guest on a
    /// CPU that says Intel enters 32-bit calls with `sysenter`, on one that
    /// says AMD (QEMU's default) with `syscall`.
    pub cpu: Option<String>,
    /// Console lines that hold one of these have QEMU's CPU time (all its
    /// threads) recorded as they arrive, in
    /// [`BootOutcome::cpu_time_at_marks`]: the bench's workload window.
    pub cpu_time_marks: Vec<String>,
    /// QEMU's record/replay (`-icount shift=auto,rr=...,rrfile=...`).
    pub record_replay: Option<(RecordReplay, PathBuf)>,
    /// The directory QEMU runs in: relative paths in its command line (a
    /// recording's files) are relative to it.
    pub dir: Option<PathBuf>,
    /// A qcow2 overlay of the guest's disk, attached through QEMU's
    /// `blkreplay` driver (record/replay only): the guest's writes go to
    /// the overlay, never to the image under it.
    pub disk: Option<PathBuf>,
    /// More kernel command-line arguments, after the console and quiet
    /// ones (the Debian system's `rdinit=`).
    pub kernel_args: Vec<String>,
}

/// QEMU's `rr=` mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordReplay {
    Record,
    Replay,
}

impl RecordReplay {
    /// The `-icount` value: instruction counting is what replay keys its
    /// events to; `shift=auto` lets virtual time follow the host's.
    pub fn icount(self, rrfile: &Path) -> String {
        let mode = match self {
            RecordReplay::Record => "record",
            RecordReplay::Replay => "replay",
        };
        format!(
            "shift=auto,rr={mode},rrfile={}",
            rrfile.display().to_string().replace(',', ",,")
        )
    }
}

impl Default for BootOptions {
    fn default() -> Self {
        BootOptions {
            smp: 1,
            memory_mb: 512,
            plugins: Vec::new(),
            plugin_log: None,
            timeout: Duration::from_secs(300),
            cpu: None,
            cpu_time_marks: Vec::new(),
            record_replay: None,
            dir: None,
            disk: None,
            kernel_args: Vec::new(),
        }
    }
}

/// What happened when a guest ran.
#[derive(Debug)]
pub struct BootOutcome {
    /// The serial console (QEMU's stdout) with terminal escape sequences and
    /// carriage returns removed.
    pub console: String,
    /// The guest command's exit code, from the `OSMTRACE-EXIT` marker; None
    /// if the guest never printed it.
    pub exit_code: Option<i32>,
    pub qemu_status: ExitStatus,
    /// True if QEMU was killed because the timeout passed.
    pub timed_out: bool,
    pub qemu_stderr: String,
    /// From starting QEMU to its exit.
    pub wall_time: Duration,
    /// QEMU's peak resident memory, in KiB, where it could be read.
    pub peak_rss_kb: Option<u64>,
    /// Per console line holding one of [`BootOptions::cpu_time_marks`], in
    /// order: the mark and the CPU time QEMU's threads had used when the
    /// line arrived (where `/proc` could tell).
    pub cpu_time_at_marks: Vec<(String, Duration)>,
}

impl BootOutcome {
    /// The console text the command produced: what came between the init's
    /// start and exit markers (kernel messages may be interleaved).
    pub fn command_output(&self) -> Option<&str> {
        command_output(&self.console)
    }
}

/// The QEMU command line that [`boot`] runs.
pub fn qemu_command(
    arch: GuestArch,
    kernel: &GuestKernel,
    initramfs: &Path,
    opts: &BootOptions,
) -> Result<Command> {
    if opts.smp > 1 && !arch.supports_smp() {
        bail!(
            "the {arch} guest runs one vCPU only (--smp {} asked): Debian's Malta kernels \
             do SMP only across MT ASE VPEs, which the Malta CPUs used here do not have",
            opts.smp
        );
    }
    let mut cmd = Command::new(arch.qemu_binary());
    cmd.args(arch.machine_args());
    // QEMU takes the last `-cpu`, so this one replaces the machine's.
    if let Some(cpu) = &opts.cpu {
        cmd.arg("-cpu").arg(cpu);
    }
    cmd.args(["-accel", "tcg", "-nographic", "-no-reboot", "-nic", "none"])
        .arg("-m")
        .arg(opts.memory_mb.to_string())
        .arg("-smp")
        .arg(opts.smp.to_string())
        .arg("-kernel")
        .arg(&kernel.image)
        .arg("-initrd")
        .arg(initramfs)
        .arg("-append")
        .arg(
            [format!(
                "console={} quiet panic=-1 loglevel=1",
                arch.console()
            )]
            .into_iter()
            .chain(opts.kernel_args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" "),
        );
    if let Some((mode, rrfile)) = &opts.record_replay {
        cmd.arg("-icount").arg(mode.icount(rrfile));
    }
    if let Some(dir) = &opts.dir {
        cmd.current_dir(dir);
    }
    if let Some(disk) = &opts.disk {
        if opts.record_replay.is_none() {
            bail!("a disk is attached only when recording or replaying");
        }
        // blkreplay keys the disk's requests to the replay's events; the
        // overlay gets the guest's writes.
        let file = disk.display().to_string().replace(',', ",,");
        cmd.arg("-drive")
            .arg(format!("file={file},if=none,id=img-direct"))
            .arg("-drive")
            .arg("driver=blkreplay,if=none,image=img-direct,id=img-blkreplay")
            .arg("-device")
            .arg(format!("{},drive=img-blkreplay", arch.disk_device()));
    }
    for (plugin, args) in &opts.plugins {
        cmd.arg("-plugin").arg(plugin_option(plugin, args)?);
    }
    if !opts.plugins.is_empty() {
        cmd.args(["-d", "plugin"]);
        if let Some(log) = &opts.plugin_log {
            cmd.arg("-D").arg(log);
        }
    }
    Ok(cmd)
}

/// `-plugin`'s value: the plugin's absolute path, then its arguments
/// ("key=val,key2=val2", may be empty).
pub fn plugin_option(plugin: &Path, args: &str) -> Result<String> {
    let path =
        std::path::absolute(plugin).with_context(|| format!("plugin {}", plugin.display()))?;
    let path = path
        .to_str()
        .with_context(|| format!("plugin path {} is not UTF-8", path.display()))?;
    // QEMU's option syntax escapes a comma in a value by doubling it.
    let mut spec = path.replace(',', ",,");
    if !args.is_empty() {
        spec.push(',');
        spec.push_str(args);
    }
    Ok(spec)
}

/// Boots `kernel` with `initramfs` and waits for the guest to power off (or
/// for the timeout, then QEMU is killed). Fails if QEMU cannot start or exits
/// with an error before the guest printed anything, e.g. when it refuses the
/// plugin; the error then holds QEMU's stderr.
pub fn boot(
    arch: GuestArch,
    kernel: &GuestKernel,
    initramfs: &Path,
    opts: &BootOptions,
) -> Result<BootOutcome> {
    let mut cmd = qemu_command(arch, kernel, initramfs, opts)?;
    let started = Instant::now();
    let mut cpu_marks = None;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| spawn_error(arch.qemu_binary(), &e))?;
    let drain = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let console_pipe = child.stdout.take().expect("piped stdout");
    let stdout = if opts.cpu_time_marks.is_empty() {
        drain(Box::new(console_pipe))
    } else {
        let marks = opts.cpu_time_marks.clone();
        let pid = child.id();
        let (to_boot, marked) = std::sync::mpsc::channel();
        let pipe = MarkReader {
            inner: console_pipe,
            line: Vec::new(),
            on_mark: move |line: &[u8]| {
                let line = String::from_utf8_lossy(line);
                if let Some(mark) = marks.iter().find(|m| line.contains(m.as_str()))
                    && let Some(cpu) = process_cpu_time(pid)
                {
                    let _ = to_boot.send((mark.clone(), cpu));
                }
            },
        };
        let console = drain(Box::new(pipe));
        cpu_marks = Some(marked);
        console
    };
    let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let deadline = started + opts.timeout;
    // QEMU's peak memory, from the kernel's high-water mark while it runs
    // (monotonic, so the last reading before it exits is the peak).
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_rss_kb = None;
    let (status, timed_out) = loop {
        if let Some(kb) = read_vm_hwm(&status_file) {
            peak_rss_kb = Some(kb);
        }
        match child.try_wait() {
            Ok(Some(status)) => break (status, false),
            Ok(None) if Instant::now() >= deadline => break (stop(&mut child)?, true),
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("waiting for {}: {e}", arch.qemu_binary());
            }
        }
    };
    let wall_time = started.elapsed();
    let console = strip_escapes(&String::from_utf8_lossy(&stdout.join().unwrap_or_default()));
    let qemu_stderr = String::from_utf8_lossy(&stderr.join().unwrap_or_default()).into_owned();
    if !status.success() && !timed_out && console.trim().is_empty() {
        bail!(
            "{} failed ({status}) before the guest started:\n{}",
            arch.qemu_binary(),
            qemu_stderr.trim_end()
        );
    }
    Ok(BootOutcome {
        exit_code: exit_code(&console),
        console,
        qemu_status: status,
        timed_out,
        qemu_stderr,
        wall_time,
        peak_rss_kb,
        cpu_time_at_marks: cpu_marks.map_or_else(Vec::new, |m| m.try_iter().collect()),
    })
}

/// Passes a pipe's bytes through and calls `on_mark` with each whole line
/// as it arrives, so that what is measured at a line (the CPU time at a
/// console mark) is measured then, not when QEMU has exited.
struct MarkReader<R, F> {
    inner: R,
    line: Vec<u8>,
    on_mark: F,
}

impl<R: Read, F: FnMut(&[u8])> Read for MarkReader<R, F> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &byte in &buf[..n] {
            if byte == b'\n' {
                (self.on_mark)(&self.line);
                self.line.clear();
            } else {
                self.line.push(byte);
            }
        }
        Ok(n)
    }
}

/// The CPU time all of a process's threads have used so far, from each
/// thread's `schedstat` (nanoseconds, unlike `stat`'s clock ticks).
fn process_cpu_time(pid: u32) -> Option<Duration> {
    let mut total = 0u64;
    for task in fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let Ok(task) = task else { continue };
        // A thread that ended since the directory was read has no file.
        let Ok(text) = fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        total += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(total))
}

/// Ends a QEMU that outlived its timeout as its own shutdown would: on
/// SIGTERM QEMU leaves its main loop and runs the plugins' exit callbacks,
/// which write out what the trace still holds. SIGKILL only when it does
/// not exit within a few seconds of that.
fn stop(child: &mut std::process::Child) -> Result<std::process::ExitStatus> {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill(2) on our own child, which has not been waited for.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let grace = Instant::now() + Duration::from_secs(10);
        while Instant::now() < grace {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
    let _ = child.kill();
    Ok(child.wait()?)
}

fn read_vm_hwm(status_file: &str) -> Option<u64> {
    let text = std::fs::read_to_string(status_file).ok()?;
    let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Removes terminal escape sequences (SeaBIOS clears the screen with
/// `ESC c ESC [?7l ESC [2J`) and turns `\r\n` into `\n` and a lone `\r`
/// (SeaBIOS ends "Booting from ROM..." with one) into `\n`.
pub fn strip_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => match chars.next() {
                // CSI: parameters, then a final byte in @..~
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                // OSC: up to BEL or ESC \
                Some(']') => {
                    while let Some(c) = chars.next() {
                        if c == '\x07' {
                            break;
                        }
                        if c == '\x1b' {
                            chars.next();
                            break;
                        }
                    }
                }
                // Character set designation: one more byte
                Some('(' | ')' | '*' | '+') => {
                    chars.next();
                }
                // Two-byte sequences such as ESC c
                _ => {}
            },
            '\r' if chars.peek() == Some(&'\n') => {}
            '\r' => out.push('\n'),
            c => out.push(c),
        }
    }
    out
}

/// The exit code from the last `OSMTRACE-EXIT <rc>` marker in `console`.
pub fn exit_code(console: &str) -> Option<i32> {
    let at = console.rfind(EXIT_MARKER)?;
    let rest = &console[at + EXIT_MARKER.len()..];
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..digits].parse().ok()
}

/// What the command printed: between the start marker's line and the exit
/// marker.
pub fn command_output(console: &str) -> Option<&str> {
    let start_line = format!("{START_MARKER}\n");
    let start = console.find(&start_line)? + start_line.len();
    let end = console.rfind(EXIT_MARKER)?;
    console.get(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest::Release;
    use crate::guest::initramfs::INIT_SCRIPT;

    fn kernel_in(dir: &str, arch: GuestArch) -> GuestKernel {
        let dir = PathBuf::from(dir);
        GuestKernel {
            arch,
            release: arch.release(),
            image: dir.join(arch.kernel_image()),
            config: dir.join("config"),
            busybox: dir.join("busybox"),
            dir,
            kernel_package: "k".into(),
            kernel_version: "1".into(),
            busybox_version: "1".into(),
        }
    }

    fn command_line(arch: GuestArch, opts: &BootOptions) -> Result<String> {
        let kernel = kernel_in("/c", arch);
        let cmd = qemu_command(arch, &kernel, Path::new("/i.gz"), opts)?;
        assert_eq!(cmd.get_program(), arch.qemu_binary());
        let args: Vec<_> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        Ok(args.join(" "))
    }

    #[test]
    fn qemu_command_per_arch() {
        let opts = BootOptions::default();
        let expect = [
            (GuestArch::X86_64, "-accel tcg", "vmlinuz", "ttyS0"),
            (GuestArch::I386, "-accel tcg", "vmlinuz", "ttyS0"),
            (
                GuestArch::Arm,
                "-M virt,highmem=off -cpu cortex-a15",
                "vmlinuz",
                "ttyAMA0",
            ),
            (
                GuestArch::Aarch64,
                "-M virt -cpu cortex-a57",
                "vmlinuz",
                "ttyAMA0",
            ),
            (GuestArch::Mipsel, "-M malta -accel", "vmlinuz", "ttyS0"),
            (
                GuestArch::Mips64el,
                "-M malta -cpu 5KEc",
                "vmlinuz",
                "ttyS0",
            ),
            (GuestArch::Ppc64, "-M pseries,", "vmlinux", "hvc0"),
            (GuestArch::S390x, "-accel tcg", "vmlinuz", "ttysclp0"),
            (GuestArch::Riscv64, "-M virt -accel", "vmlinux", "ttyS0"),
        ];
        for (arch, machine, image, console) in expect {
            let line = command_line(arch, &opts).unwrap();
            assert!(line.starts_with(machine), "{arch}: {line}");
            assert!(
                line.contains(&format!("-kernel /c/{image} ")),
                "{arch}: {line}"
            );
            assert!(
                line.contains(&format!("console={console} ")),
                "{arch}: {line}"
            );
        }
    }

    #[test]
    fn disks_go_through_blkreplay() {
        let disk = BootOptions {
            disk: Some("/d/o.qcow2".into()),
            ..BootOptions::default()
        };
        let e = format!("{:#}", command_line(GuestArch::Arm, &disk).unwrap_err());
        assert!(e.contains("only when recording or replaying"), "{e}");
        let replay = BootOptions {
            record_replay: Some((RecordReplay::Replay, "/d/r,b".into())),
            ..disk
        };
        let line = command_line(GuestArch::S390x, &replay).unwrap();
        assert!(
            line.contains(
                "-icount shift=auto,rr=replay,rrfile=/d/r,,b -drive file=/d/o.qcow2,if=none,id=img-direct \
                 -drive driver=blkreplay,if=none,image=img-direct,id=img-blkreplay \
                 -device virtio-blk-ccw,drive=img-blkreplay"
            ),
            "{line}"
        );
    }

    #[test]
    fn malta_guests_refuse_smp() {
        let two = BootOptions {
            smp: 2,
            ..BootOptions::default()
        };
        for arch in GuestArch::ALL {
            let malta = matches!(arch, GuestArch::Mipsel | GuestArch::Mips64el);
            assert_eq!(arch.supports_smp(), !malta, "{arch}");
            match command_line(arch, &two) {
                Ok(line) => assert!(!malta && line.contains("-smp 2"), "{arch}: {line}"),
                Err(e) => assert!(
                    malta && e.to_string().contains("one vCPU only"),
                    "{arch}: {e}"
                ),
            }
        }
    }

    #[test]
    fn parses_seabios_console() {
        let raw = "\x1bc\x1b[?7l\x1b[2J\x1b[0mSeaBIOS (version 1.16.3)\r\nBooting from ROM..\
                   \x1bc\x1b[?7l\x1b[2J\x1b[0m.\rOSMTRACE-START\r\nhello\r\nOSMTRACE-EXIT 7\r\n\
                   [    2.1] reboot: Power down\r\n";
        let console = strip_escapes(raw);
        assert!(
            console.starts_with("SeaBIOS (version 1.16.3)\nBooting from ROM...\nOSMTRACE-START\n")
        );
        assert_eq!(exit_code(&console), Some(7));
        assert_eq!(command_output(&console), Some("hello\n"));
        // The init script prints the markers that these functions look for.
        assert!(INIT_SCRIPT.contains(&format!("\necho {START_MARKER}\n")));
        assert!(INIT_SCRIPT.contains(&format!("\necho \"{EXIT_MARKER}$rc\"\n")));
        assert_eq!(exit_code("OSMTRACE-START\nno marker\n"), None);
        // Output without a final newline leaves the marker mid-line.
        assert_eq!(
            exit_code("OSMTRACE-START\nabcOSMTRACE-EXIT 130\n"),
            Some(130)
        );
    }

    #[test]
    fn plugin_arguments() {
        let kernel = GuestKernel {
            arch: GuestArch::Arm,
            release: Release::Bookworm,
            dir: "/c".into(),
            image: "/c/vmlinuz".into(),
            config: "/c/config".into(),
            busybox: "/c/busybox".into(),
            kernel_package: "k".into(),
            kernel_version: "1".into(),
            busybox_version: "1".into(),
        };
        let opts = BootOptions {
            smp: 2,
            plugins: vec![("/p,q/libx.so".into(), "a=1,b=2".into())],
            plugin_log: Some("/tmp/log".into()),
            cpu: Some("max".into()),
            ..BootOptions::default()
        };
        let cmd = qemu_command(GuestArch::Arm, &kernel, Path::new("/i.gz"), &opts).unwrap();
        let args: Vec<_> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let line = args.join(" ");
        assert!(
            line.contains("-plugin /p,,q/libx.so,a=1,b=2 -d plugin -D /tmp/log"),
            "{line}"
        );
        assert!(line.contains("-smp 2"), "{line}");
        assert!(line.contains("console=ttyAMA0"), "{line}");
        // The CPU asked for comes after the machine's, which it replaces.
        assert!(
            line.starts_with("-M virt,highmem=off -cpu cortex-a15 -cpu max "),
            "{line}"
        );
    }
}
