//! `cargo xtask record`: run a guest once under QEMU's record mode, with no
//! plugin, into a recording directory; `cargo xtask trace --replay` replays
//! it with the tracer (see trace.rs).
//!
//! A recording holds everything a replay needs, under relative names, so
//! the directory can be moved: the rr file, the kernel image, the
//! initramfs, the kernel layout the plugin reads task names with (when it
//! is not the kernel itself), and `recording.json` with QEMU's command
//! line and version. The manifest is written last and the directory is
//! renamed into place only when the guest finished, so a directory with a
//! manifest is complete.

use crate::debian_system;
use crate::guest::{self, BootOptions, GuestArch, GuestKernel, RecordReplay};
use crate::trace::GuestSystem;
use anyhow::{Context as _, Result, anyhow, bail};
use serde_json::{Value, json};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The manifest's name in a recording.
pub const MANIFEST: &str = "recording.json";
/// The rr file's name in a recording.
const RR_FILE: &str = "replay.bin";
const INITRD: &str = "initrd.gz";
/// The disk overlay's name, in the recorded command line.
const OVERLAY: &str = "disk.qcow2";
/// The manifest's layout version: a later layout is refused, not misread.
const FORMAT: u64 = 1;

#[derive(clap::Args, Debug)]
pub struct RecordOptions {
    /// A model (.osm): its architecture picks the guest, and the kernel
    /// layout its `task` block needs is stored with the recording.
    #[arg(long, conflicts_with = "arch", required_unless_present = "arch")]
    pub spec: Option<PathBuf>,
    /// Instead of --spec: the guest architecture (x86_64, i386, arm,
    /// aarch64, mipsel, mips64el, ppc64, s390x, riscv64).
    #[arg(long)]
    pub arch: Option<String>,
    /// A host file to put in the guest at /BASENAME, executable (repeatable).
    #[arg(long = "add", value_name = "HOSTFILE")]
    pub add: Vec<PathBuf>,
    /// Shell command to run as root in the guest (default: a short demo).
    #[arg(long)]
    pub cmd: Option<String>,
    /// Number of vCPUs: QEMU records and replays one only (more are
    /// refused).
    #[arg(long, default_value_t = 1)]
    pub smp: u32,
    /// QEMU's CPU model (`-cpu`) instead of the guest's default.
    #[arg(long)]
    pub cpu: Option<String>,
    /// The Debian release of the guest's kernel and busybox (12 or 13).
    #[arg(long, value_name = "VERSION")]
    pub debian: Option<String>,
    /// What the guest runs: busybox, or the Debian system with systemd
    /// (as `trace --guest`).
    #[arg(long, value_enum, default_value_t)]
    pub guest: GuestSystem,
    /// A disk image for the guest (raw, qcow2, ...), attached as a virtio
    /// disk through a qcow2 overlay and QEMU's blkreplay driver: the image
    /// is never written. It is not copied: a replay needs it where it was,
    /// unchanged.
    #[arg(long, value_name = "IMAGE")]
    pub disk: Option<PathBuf>,
    /// The recording directory to create (it must not exist).
    #[arg(long)]
    pub out: PathBuf,
    /// Give up on the guest after this many seconds.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
}

/// A recording directory, checked to be complete.
#[derive(Debug)]
pub struct Recording {
    pub dir: PathBuf,
    pub arch: GuestArch,
    /// `qemu-system-* --version`'s first line at recording time.
    pub qemu_version: String,
    /// QEMU's arguments when recording, relative to `dir`.
    pub args: Vec<String>,
    pub smp: u32,
    pub cpu: Option<String>,
    pub memory_mb: u32,
    /// Added to the kernel's command line (the Debian system's init).
    pub kernel_args: Vec<String>,
    /// The kernel, initramfs and rr file, relative to `dir`.
    pub kernel: GuestKernel,
    pub initrd: PathBuf,
    pub rrfile: PathBuf,
    /// The kernel layout for `kernel=`, relative to `dir`, when stored.
    pub layout: Option<PathBuf>,
    pub cmd: String,
    pub disk: Option<Disk>,
}

/// The disk image a recording's guest had.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disk {
    /// Absolute.
    pub image: PathBuf,
    /// As `qemu-img info` names it: the overlay's backing format.
    pub format: String,
    /// [`sample_checksum`] of the image when recorded.
    pub checksum: String,
    /// Its modification time then, in seconds since the epoch: a change
    /// past the sampled head shows only here.
    pub modified: Option<u64>,
}

impl Disk {
    fn of(image: &Path) -> Result<Disk> {
        if !image.is_file() {
            bail!("--disk {}: no such file", image.display());
        }
        let image = std::path::absolute(image).context("--disk")?;
        let info = guest::run(
            Command::new("qemu-img")
                .args(["info", "-U", "--output=json"])
                .arg(&image),
        )?;
        let info: Value = serde_json::from_str(&info).context("qemu-img info")?;
        let format = info["format"]
            .as_str()
            .with_context(|| format!("qemu-img info {}: no format", image.display()))?
            .to_string();
        Ok(Disk {
            checksum: sample_checksum(&image)?,
            modified: modified_seconds(&image),
            image,
            format,
        })
    }

    /// Why the image is not the one recorded, if it is not.
    fn changed(&self) -> Option<String> {
        let shown = self.image.display();
        if sample_checksum(&self.image).ok().as_ref() != Some(&self.checksum) {
            return Some(format!(
                "the guest's disk {shown} is missing or not the image that was recorded"
            ));
        }
        let recorded = self.modified?;
        (modified_seconds(&self.image) != Some(recorded)).then(|| {
            format!(
                "the guest's disk {shown} was modified after it was recorded (its modification time is not the recorded one; only its size and first 16 MiB are compared) and a replay of a changed disk diverges; if it is an unchanged copy, give it the recorded time: touch -d @{recorded} {shown}"
            )
        })
    }

    /// Makes a fresh qcow2 overlay of the image at `path`.
    pub fn overlay(&self, path: &Path) -> Result<()> {
        guest::run(
            Command::new("qemu-img")
                .args(["create", "-q", "-f", "qcow2", "-F", &self.format, "-b"])
                .arg(&self.image)
                .arg(path),
        )
        .map(|_| ())
    }
}

/// A file's modification time in whole seconds since the epoch.
fn modified_seconds(path: &Path) -> Option<u64> {
    let time = fs::metadata(path).ok()?.modified().ok()?;
    Some(time.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs())
}

/// The first network device of a QEMU command line, if it has one.
fn network_device(args: &[String]) -> Option<String> {
    const NICS: [&str; 6] = ["virtio-net", "e1000", "rtl8139", "ne2k", "pcnet", "usb-net"];
    args.windows(2).find_map(|pair| {
        let (option, value) = (pair[0].as_str(), pair[1].as_str());
        let network = match option {
            "-nic" | "-net" => value != "none",
            "-netdev" => true,
            "-device" => NICS.iter().any(|n| value.starts_with(n)),
            _ => false,
        };
        network.then(|| format!("{option} {value}"))
    })
}

/// A disk image's size and the FNV-1a hash of its first 16 MiB: enough to
/// tell another image or a rewritten one without reading gigabytes.
fn sample_checksum(path: &Path) -> Result<String> {
    use std::io::Read;
    let reading = || format!("cannot read {}", path.display());
    let file = fs::File::open(path).with_context(reading)?;
    let len = file.metadata().with_context(reading)?.len();
    let mut head = Vec::new();
    file.take(16 << 20)
        .read_to_end(&mut head)
        .with_context(reading)?;
    Ok(format!("{len}:{:016x}", fnv1a(&head)))
}

/// The first line of `binary --version`, which names QEMU's release (and
/// the distribution's build), e.g. "QEMU emulator version 10.0.2 (Debian
/// 1:10.0.2+ds-2+deb13u1~bpo12+1)".
pub fn qemu_version(binary: &str) -> Result<String> {
    let out = Command::new(binary)
        .arg("--version")
        .output()
        .with_context(|| format!("cannot run {binary} --version"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .with_context(|| format!("{binary} --version printed nothing"))
}

pub fn run(options: &RecordOptions) -> Result<()> {
    let (arch, model) = match (&options.spec, &options.arch) {
        (Some(spec), _) => {
            let compilation = osm_compiler::compile_path(spec);
            let model = match compilation.result {
                Ok(model) => model,
                Err(_) => bail!(compilation.render_errors()),
            };
            let arch = GuestArch::from_qemu_target(model.arch.name())
                .with_context(|| format!("no guest for architecture `{}`", model.arch.name()))?;
            (arch, Some(model))
        }
        (None, Some(arch)) => (
            GuestArch::from_qemu_target(arch).with_context(|| {
                let known: Vec<String> = GuestArch::ALL.iter().map(|a| a.to_string()).collect();
                format!(
                    "--arch {arch}: no such guest (guests: {})",
                    known.join(", ")
                )
            })?,
            None,
        ),
        (None, None) => bail!("give --spec or --arch"),
    };
    if options.smp == 0 {
        bail!("--smp must be at least 1");
    }
    if options.smp > 1 {
        // Checked here so that the user is not sent to QEMU's message
        // after the guest's files are prepared.
        bail!(
            "--smp {}: QEMU's record/replay runs one vCPU only (QEMU 10.0 refuses more: \"Record/replay is not supported with multiple CPUs\"); record with --smp 1",
            options.smp
        );
    }
    for file in &options.add {
        if !file.is_file() {
            bail!("--add {}: no such file", file.display());
        }
    }
    let out = std::path::absolute(&options.out)
        .with_context(|| format!("--out {}", options.out.display()))?;
    if out.exists() {
        bail!(
            "--out {}: already exists; a recording goes into a new directory",
            out.display()
        );
    }
    let parent = out
        .parent()
        .with_context(|| format!("--out {}: no parent directory", out.display()))?;
    fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;

    let root = crate::codegen::repo_root();
    let target = root.join("target");
    let mut log = std::io::stderr();
    let kernel = guest::prepare_debian(arch, options.debian.as_deref(), &target, &mut log)?;
    let qemu_version = qemu_version(arch.qemu_binary())?;
    let disk = options.disk.as_deref().map(Disk::of).transpose()?;

    // Built beside its final place and renamed into it when complete.
    let work = guest::TempDir::new(parent, "recording")?;
    let dir = work.path();
    let image = kernel
        .image
        .file_name()
        .and_then(|n| n.to_str())
        .context("the guest kernel's image has no UTF-8 file name")?;
    fs::copy(&kernel.image, dir.join(image))
        .with_context(|| format!("cannot copy {}", kernel.image.display()))?;
    let cmd = options.cmd.as_deref().unwrap_or(guest::default_workload());
    // The guest loads the disk drivers before the command, so that the
    // command finds the disk at /dev/vda.
    let modules = match &disk {
        Some(_) => guest::disk_modules(&kernel, &mut log)?,
        None => Vec::new(),
    };
    let (memory_mb, kernel_args) = match options.guest {
        GuestSystem::Busybox => {
            guest::build_initramfs(&kernel, &options.add, &modules, cmd, &dir.join(INITRD))?;
            (BootOptions::default().memory_mb, Vec::new())
        }
        GuestSystem::Debian => {
            if disk.is_some() {
                bail!(
                    "--disk with --guest debian: the Debian system does not load disk drivers yet; record the busybox guest with the disk"
                );
            }
            let system = debian_system::prepare(arch, &target, &mut log)?;
            debian_system::build_initramfs(&system, &options.add, cmd, &dir.join(INITRD))?;
            (
                debian_system::MEMORY_MB,
                debian_system::KERNEL_ARGS.map(String::from).to_vec(),
            )
        }
    };
    // What kernel= a replay gives: the kernel itself (its BTF) needs no
    // copy; an ISF profile is stored. Without a model, only a kernel with
    // BTF is cheap to check, so nothing else is made.
    let layout = match &model {
        Some(model) if osm_runtime::kernel::needs_layout(model) => {
            let found = crate::debuginfo::guest_layout(&kernel, &mut log)?;
            if found == kernel.image {
                None
            } else {
                let name = format!(
                    "kernel-layout.{}",
                    if found.to_string_lossy().ends_with(".xz") {
                        "json.xz"
                    } else {
                        "json"
                    }
                );
                fs::copy(&found, dir.join(&name))
                    .with_context(|| format!("cannot copy {}", found.display()))?;
                Some(name)
            }
        }
        _ => None,
    };

    if let Some(disk) = &disk {
        disk.overlay(&dir.join(OVERLAY))?;
    }
    let local = GuestKernel {
        dir: PathBuf::from("."),
        image: PathBuf::from(image),
        ..kernel.clone()
    };
    let boot = BootOptions {
        smp: options.smp,
        cpu: options.cpu.clone(),
        memory_mb,
        kernel_args: kernel_args.clone(),
        timeout: Duration::from_secs(options.timeout),
        record_replay: Some((RecordReplay::Record, PathBuf::from(RR_FILE))),
        dir: Some(dir.to_path_buf()),
        disk: disk.as_ref().map(|_| PathBuf::from(OVERLAY)),
        ..BootOptions::default()
    };
    let args: Vec<String> = guest::qemu_command(arch, &local, Path::new(INITRD), &boot)?
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    eprintln!(
        "osmtrace: recording {arch} ({} {}) with {} vCPU(s): {cmd}",
        kernel.kernel_package, kernel.kernel_version, options.smp
    );
    let outcome = guest::boot(arch, &local, Path::new(INITRD), &boot)?;
    if let Some(output) = outcome.command_output() {
        eprint!("{output}");
        if !output.is_empty() && !output.ends_with('\n') {
            eprintln!();
        }
    }
    if outcome.timed_out {
        bail!(
            "the guest did not power off within {} s; nothing recorded",
            options.timeout
        );
    }
    if !outcome.qemu_status.success() {
        bail!(
            "QEMU failed ({}) while recording:\n{}",
            outcome.qemu_status,
            outcome.qemu_stderr.trim_end()
        );
    }
    // The guest's writes: a replay starts again from the image.
    let _ = fs::remove_file(dir.join(OVERLAY));
    if let Some(disk) = &disk
        && disk.changed().is_some()
    {
        bail!(
            "--disk {}: the image changed while recording",
            disk.image.display()
        );
    }
    let rr_bytes = fs::metadata(dir.join(RR_FILE)).map_or(0, |m| m.len());
    let mut sums = serde_json::Map::new();
    for name in [Some(image), Some(INITRD), Some(RR_FILE), layout.as_deref()]
        .into_iter()
        .flatten()
    {
        sums.insert(name.to_string(), json!(checksum(&dir.join(name))?));
    }
    let manifest = json!({
        "format": FORMAT,
        "arch": arch.qemu_target(),
        "qemu": arch.qemu_binary(),
        "qemu_version": qemu_version,
        "args": args,
        "smp": options.smp,
        "cpu": options.cpu,
        "memory_mb": boot.memory_mb,
        "kernel_args": kernel_args,
        "kernel": image,
        "initrd": INITRD,
        "rrfile": RR_FILE,
        "layout": layout,
        "cmd": cmd,
        "release": kernel.release.version(),
        "kernel_package": kernel.kernel_package,
        "kernel_version": kernel.kernel_version,
        "busybox_version": kernel.busybox_version,
        "guest_exit": outcome.exit_code,
        "record_seconds": outcome.wall_time.as_secs_f64(),
        "checksums": sums,
        "disk": disk.as_ref().map(|d| json!({
            "image": d.image.display().to_string(),
            "format": d.format,
            "checksum": d.checksum,
            "modified": d.modified,
        })),
    });
    let text = serde_json::to_string_pretty(&manifest)? + "\n";
    fs::write(dir.join(MANIFEST), text).context("cannot write the manifest")?;
    fs::rename(dir, &out)
        .with_context(|| format!("cannot move the recording to {}", out.display()))?;
    match outcome.exit_code {
        Some(code) => eprintln!("osmtrace: guest command exited with {code}"),
        None => eprintln!("osmtrace: the guest command did not finish (no exit marker)"),
    }
    eprintln!(
        "osmtrace: recorded in {:.1} s, rr file {} bytes: {}",
        outcome.wall_time.as_secs_f64(),
        rr_bytes,
        out.display()
    );
    Ok(())
}

impl Recording {
    /// Reads and checks the recording in `dir`: its manifest, and that
    /// every file it names is there.
    pub fn load(dir: &Path) -> Result<Recording> {
        let shown = dir.display();
        if !dir.is_dir() {
            bail!("--replay {shown}: no such directory");
        }
        // Absolute, so that the paths given to QEMU and the plugin do not
        // depend on where they run.
        let dir = &std::path::absolute(dir).with_context(|| format!("--replay {shown}"))?;
        let manifest = dir.join(MANIFEST);
        let text = fs::read_to_string(&manifest).map_err(|_| {
            anyhow!(
                "--replay {shown}: not a recording (no {MANIFEST}; an interrupted `cargo xtask record` leaves none): record one with `cargo xtask record`"
            )
        })?;
        let value: Value = serde_json::from_str(&text)
            .with_context(|| format!("--replay {shown}: {MANIFEST} is not valid JSON"))?;
        Recording::from_manifest(dir, &value).with_context(|| format!("--replay {shown}"))
    }

    fn from_manifest(dir: &Path, m: &Value) -> Result<Recording> {
        let text = |key: &str| {
            m[key]
                .as_str()
                .map(str::to_string)
                .with_context(|| format!("{MANIFEST} has no `{key}`"))
        };
        let number = |key: &str| {
            m[key]
                .as_u64()
                .with_context(|| format!("{MANIFEST} has no number `{key}`"))
        };
        let format = number("format")?;
        if format != FORMAT {
            bail!("recording format {format}; this osmtrace reads format {FORMAT}");
        }
        let arch_name = text("arch")?;
        let arch = GuestArch::from_qemu_target(&arch_name)
            .with_context(|| format!("unknown guest architecture `{arch_name}`"))?;
        let args: Vec<String> = m["args"]
            .as_array()
            .and_then(|a| a.iter().map(|v| v.as_str().map(str::to_string)).collect())
            .with_context(|| format!("{MANIFEST} has no `args`"))?;
        // QEMU replays network traffic only through a filter-replay object
        // per network backend, which osmtrace does not set up.
        if let Some(device) = network_device(&args) {
            bail!(
                "the recording has a network device (`{device}`): osmtrace records and replays guests without network (`-nic none`)"
            );
        }
        let release = guest::Release::from_version(&text("release")?)
            .with_context(|| format!("{MANIFEST}: unknown Debian release"))?;
        let sums = m["checksums"]
            .as_object()
            .with_context(|| format!("{MANIFEST} has no `checksums`"))?;
        let file = |key: &str| -> Result<PathBuf> {
            let name = text(key)?;
            // Names inside the recording only: a manifest cannot point QEMU elsewhere.
            if name.contains('/') || name.starts_with('.') {
                bail!("{MANIFEST}: `{key}` is not a file name: {name}");
            }
            let path = dir.join(&name);
            match fs::metadata(&path) {
                Ok(meta) if meta.is_file() && meta.len() > 0 => {}
                _ => bail!("incomplete recording: {name} is missing or empty"),
            }
            // A changed kernel or initramfs replays as another machine,
            // which QEMU does not notice: the replay just hangs.
            if sums.get(&name).and_then(Value::as_str) != Some(checksum(&path)?.as_str()) {
                bail!(
                    "{name} is not the file that was recorded (its checksum differs); a replay of changed files diverges"
                );
            }
            Ok(PathBuf::from(name))
        };
        let kernel_name = file("kernel")?;
        let kernel = GuestKernel {
            arch,
            release,
            dir: dir.to_path_buf(),
            image: kernel_name,
            config: PathBuf::new(),
            busybox: PathBuf::new(),
            kernel_package: text("kernel_package")?,
            kernel_version: text("kernel_version")?,
            busybox_version: text("busybox_version")?,
        };
        Ok(Recording {
            dir: dir.to_path_buf(),
            arch,
            qemu_version: text("qemu_version")?,
            args,
            smp: u32::try_from(number("smp")?)?,
            cpu: m["cpu"].as_str().map(str::to_string),
            memory_mb: u32::try_from(number("memory_mb")?)?,
            // Recordings of the busybox guest made before it have none.
            kernel_args: match &m["kernel_args"] {
                Value::Null => Vec::new(),
                Value::Array(args) => args
                    .iter()
                    .map(|a| a.as_str().map(str::to_string))
                    .collect::<Option<_>>()
                    .with_context(|| format!("{MANIFEST}: `kernel_args` holds a non-string"))?,
                _ => bail!("{MANIFEST}: `kernel_args` is not a list"),
            },
            initrd: file("initrd")?,
            rrfile: file("rrfile")?,
            layout: if m["layout"].is_null() {
                None
            } else {
                Some(file("layout")?)
            },
            kernel,
            cmd: text("cmd")?,
            disk: match &m["disk"] {
                Value::Null => None,
                d => {
                    let field = |key: &str| {
                        d[key]
                            .as_str()
                            .map(str::to_string)
                            .with_context(|| format!("{MANIFEST}: the disk has no `{key}`"))
                    };
                    let disk = Disk {
                        image: PathBuf::from(field("image")?),
                        format: field("format")?,
                        checksum: field("checksum")?,
                        modified: d["modified"].as_u64(),
                    };
                    // Checked here: QEMU would replay another image's
                    // reads without noticing.
                    if let Some(why) = disk.changed() {
                        return Err(anyhow!(why));
                    }
                    Some(disk)
                }
            },
        })
    }

    /// Refuses a QEMU other than the one that recorded: replay follows
    /// the recorded instruction counts, which another QEMU's translation
    /// need not reproduce (it may then diverge silently or hang).
    pub fn check_qemu(&self, installed: &str) -> Result<()> {
        if installed != self.qemu_version {
            bail!(
                "--replay {}: recorded with {}, but {} is {installed}; replay needs the QEMU that recorded",
                self.dir.display(),
                self.qemu_version,
                self.arch.qemu_binary()
            );
        }
        Ok(())
    }

    /// The boot options that replay the recording (add the plugins).
    /// QEMU is given the recording's files by absolute paths, so that
    /// relative paths in plugin arguments mean what they mean to the user.
    pub fn boot_options(&self, timeout: Duration) -> BootOptions {
        BootOptions {
            smp: self.smp,
            cpu: self.cpu.clone(),
            memory_mb: self.memory_mb,
            kernel_args: self.kernel_args.clone(),
            timeout,
            record_replay: Some((RecordReplay::Replay, self.dir.join(&self.rrfile))),
            ..BootOptions::default()
        }
    }

    /// The kernel and initramfs to boot, by absolute paths.
    pub fn boot_files(&self) -> (GuestKernel, PathBuf) {
        let kernel = GuestKernel {
            image: self.dir.join(&self.kernel.image),
            ..self.kernel.clone()
        };
        (kernel, self.dir.join(&self.initrd))
    }

    /// Checks that replaying with `boot` gives QEMU the recorded command
    /// line (but for rr=replay, plugins and where the files are): another
    /// command line is another machine, whose replay diverges.
    pub fn check_command(&self, boot: &BootOptions) -> Result<()> {
        let without_plugins = BootOptions {
            plugins: Vec::new(),
            record_replay: Some((RecordReplay::Record, self.rrfile.clone())),
            disk: self.disk.as_ref().map(|_| PathBuf::from(OVERLAY)),
            ..boot.clone()
        };
        let now: Vec<String> =
            guest::qemu_command(self.arch, &self.kernel, &self.initrd, &without_plugins)?
                .get_args()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
        if now != self.args {
            bail!(
                "--replay {}: this osmtrace would run QEMU as `{}`, not as recorded (`{}`); replay it with the osmtrace that recorded it",
                self.dir.display(),
                now.join(" "),
                self.args.join(" ")
            );
        }
        Ok(())
    }

    /// The kernel layout for `kernel=`, as an absolute path: the stored
    /// profile, or the kernel image when it carries BTF.
    pub fn layout(&self) -> Result<PathBuf> {
        if let Some(layout) = &self.layout {
            return Ok(self.dir.join(layout));
        }
        let image = self.dir.join(&self.kernel.image);
        let data = fs::read(&image).with_context(|| format!("cannot read {}", image.display()))?;
        if osm_runtime::kernel::find_btf(&data).is_ok() {
            return Ok(image);
        }
        Err(anyhow!(
            "--replay {}: the model reads task names from the kernel, and this recording has no layout for it (recorded with --arch); record with --spec, or give --plugin-args kernel=PATH or kernel=none",
            self.dir.display()
        ))
    }
}

/// A file's size and 64-bit FNV-1a hash, to tell a changed file from the
/// recorded one (not against tampering).
fn checksum(path: &Path) -> Result<String> {
    let data = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(format!("{}:{:016x}", data.len(), fnv1a(&data)))
}

fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// What QEMU said when a replay failed, with a reason when it is one a
/// user can act on.
pub fn replay_failure(status: &str, stderr: &str) -> String {
    let stderr = stderr.trim_end();
    let diverged = stderr.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.contains("replay") || l.contains("icount")
    });
    if diverged {
        format!(
            "the replay diverged from the recording (QEMU {status}); the recording does not match this machine or QEMU:\n{stderr}"
        )
    } else {
        format!("QEMU failed ({status}) while replaying:\n{stderr}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Value {
        // The test's files all hold "x".
        let x = "1:af63f54c86021707";
        json!({
            "checksums": {"vmlinuz": x, "initrd.gz": x, "replay.bin": x},
            "format": 1, "arch": "x86_64", "qemu": "qemu-system-x86_64",
            "qemu_version": "QEMU emulator version 10.0.2", "args": ["-smp", "1"],
            "smp": 1, "cpu": null, "memory_mb": 512, "kernel": "vmlinuz",
            "initrd": "initrd.gz", "rrfile": "replay.bin", "layout": null, "cmd": "true",
            "release": "12", "kernel_package": "linux-image-6.1.0-50-amd64",
            "kernel_version": "6.1.176-1", "busybox_version": "1:1.35.0-4+b3",
        })
    }

    fn recording_dir(name: &str) -> guest::TempDir {
        let dir = guest::TempDir::new(&std::env::temp_dir(), name).unwrap();
        for file in ["vmlinuz", "initrd.gz", "replay.bin"] {
            fs::write(dir.path().join(file), b"x").unwrap();
        }
        dir
    }

    #[test]
    fn loads_a_complete_recording() {
        let dir = recording_dir("rec-ok");
        fs::write(dir.path().join(MANIFEST), manifest().to_string()).unwrap();
        let r = Recording::load(dir.path()).unwrap();
        assert_eq!(r.arch, GuestArch::X86_64);
        assert_eq!(r.smp, 1);
        assert_eq!(r.rrfile, PathBuf::from("replay.bin"));
        assert!(r.layout.is_none());
        assert!(r.check_qemu("QEMU emulator version 10.0.2").is_ok());
        let e = format!(
            "{:#}",
            r.check_qemu("QEMU emulator version 9.2.0").unwrap_err()
        );
        assert!(
            e.contains("recorded with QEMU emulator version 10.0.2"),
            "{e}"
        );
        assert!(e.contains("9.2.0"), "{e}");
    }

    #[test]
    fn refuses_incomplete_or_foreign_directories() {
        let dir = recording_dir("rec-bad");
        let e = format!("{:#}", Recording::load(dir.path()).unwrap_err());
        assert!(e.contains("not a recording"), "{e}");
        let e = format!(
            "{:#}",
            Recording::load(&dir.path().join("nope")).unwrap_err()
        );
        assert!(e.contains("no such directory"), "{e}");
        fs::write(dir.path().join(MANIFEST), manifest().to_string()).unwrap();
        fs::remove_file(dir.path().join("replay.bin")).unwrap();
        let e = format!("{:#}", Recording::load(dir.path()).unwrap_err());
        assert!(e.contains("incomplete recording: replay.bin"), "{e}");
        fs::write(dir.path().join("replay.bin"), b"y").unwrap();
        let e = format!("{:#}", Recording::load(dir.path()).unwrap_err());
        assert!(
            e.contains("replay.bin is not the file that was recorded"),
            "{e}"
        );
        fs::write(dir.path().join("replay.bin"), b"x").unwrap();
        let mut m = manifest();
        m["kernel"] = json!("../../etc/passwd");
        fs::write(dir.path().join(MANIFEST), m.to_string()).unwrap();
        let e = format!("{:#}", Recording::load(dir.path()).unwrap_err());
        assert!(e.contains("not a file name"), "{e}");
        let mut m = manifest();
        m["format"] = json!(2);
        fs::write(dir.path().join(MANIFEST), m.to_string()).unwrap();
        let e = format!("{:#}", Recording::load(dir.path()).unwrap_err());
        assert!(e.contains("format 2"), "{e}");
        fs::write(dir.path().join(MANIFEST), "{").unwrap();
        let e = format!("{:#}", Recording::load(dir.path()).unwrap_err());
        assert!(e.contains("not valid JSON"), "{e}");
    }

    #[test]
    fn command_line_must_match_the_recorded_one() {
        let dir = recording_dir("rec-cmd");
        fs::write(dir.path().join(MANIFEST), manifest().to_string()).unwrap();
        let mut r = Recording::load(dir.path()).unwrap();
        let boot = r.boot_options(Duration::from_secs(1));
        let args: Vec<String> = guest::qemu_command(
            r.arch,
            &r.kernel,
            &r.initrd,
            &BootOptions {
                record_replay: Some((RecordReplay::Record, r.rrfile.clone())),
                ..boot.clone()
            },
        )
        .unwrap()
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
        assert!(
            args.join(" ")
                .contains("-icount shift=auto,rr=record,rrfile=replay.bin")
        );
        r.args = args;
        assert!(r.check_command(&boot).is_ok());
        r.args.push("-S".to_string());
        let e = format!("{:#}", r.check_command(&boot).unwrap_err());
        assert!(e.contains("not as recorded"), "{e}");
    }

    #[test]
    fn network_devices_are_refused() {
        let dir = recording_dir("rec-net");
        let mut m = manifest();
        m["args"] = json!(["-smp", "1", "-nic", "user,model=virtio-net-pci"]);
        fs::write(dir.path().join(MANIFEST), m.to_string()).unwrap();
        let e = format!("{:#}", Recording::load(dir.path()).unwrap_err());
        assert!(
            e.contains("has a network device (`-nic user,model=virtio-net-pci`)"),
            "{e}"
        );
        let none =
            |args: &[&str]| network_device(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>());
        assert_eq!(
            none(&["-nic", "none", "-device", "virtio-blk-pci,drive=d"]),
            None
        );
        assert!(none(&["-netdev", "user,id=n", "-device", "e1000,netdev=n"]).is_some());
    }

    #[test]
    fn divergence_is_named() {
        let e = replay_failure(
            "exit status: 1",
            "qemu-system-x86_64: Missing character write event in the replay log\n",
        );
        assert!(e.starts_with("the replay diverged"), "{e}");
        let e = replay_failure(
            "exit status: 1",
            "qemu-system-x86_64: -plugin x: no such file",
        );
        assert!(e.starts_with("QEMU failed"), "{e}");
    }
}
