//! Guest systems for end-to-end tracing: a Debian kernel and busybox fetched
//! with a private apt configuration, an initramfs that runs one shell command
//! and powers off, and QEMU boots with an optional TCG plugin.
//!
//! Every guest comes from Debian 12 (bookworm) except riscv64, which Debian 12
//! has no kernel for: its kernel and busybox come from Debian 13 (trixie).
//!
//! Cache layout (one directory per architecture, see [`cache_dir`]):
//!
//! ```text
//! <cache_dir>/vmlinuz   the kernel image (from linux-image-<release>-<flavour>);
//!                       named vmlinux where QEMU boots the ELF or flat
//!                       image that Debian ships as /boot/vmlinux-*
//! <cache_dir>/config    its build configuration, for reference
//! <cache_dir>/busybox   busybox-static's /bin/busybox (/usr/bin/busybox
//!                       in Debian 13)
//! <cache_dir>/stamp     what was downloaded; written last, so its presence
//!                       means the three files above are complete
//! <cache_dir>/disk-modules-<package>_<version>/
//!                       the kernel's virtio disk modules, taken when a
//!                       guest first gets a disk ([`disk_modules`])
//! ```
//!
//! The apt state and the downloaded .deb files live in a temporary
//! directory inside `<cache_dir>` and are deleted once the files are in
//! place. Delete `stamp` (or the directory) to fetch the newest kernel again.

// Not every function is used by every command.

use crate::cpio::CpioWriter;
use std::fmt;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Printed by the guest's init after the command, followed by its exit code.
pub const EXIT_MARKER: &str = "OSMTRACE-EXIT ";
/// Printed by the guest's init on a line of its own just before the command.
pub const START_MARKER: &str = "OSMTRACE-START";
/// The command name of the shell that runs the guest command
/// (`follow=osmtrace-sh` traces the command and what it starts).
pub const COMMAND_NAME: &str = "osmtrace-sh";

pub const MIRROR: &str = "http://deb.debian.org/debian";
pub const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";
const STAMP_HEADER: &str = "osmtrace-guest 1";

/// The Debian release a guest's kernel and busybox come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Release {
    /// Debian 12, the release the project runs on.
    Bookworm,
    /// Debian 13, only for architectures Debian 12 has no kernel for.
    Trixie,
}

impl Release {
    /// By Debian's version number, as `cargo xtask trace --debian` takes it.
    pub fn from_version(version: &str) -> Option<Release> {
        match version {
            "12" | "bookworm" => Some(Release::Bookworm),
            "13" | "trixie" => Some(Release::Trixie),
            _ => None,
        }
    }

    pub fn version(self) -> &'static str {
        match self {
            Release::Bookworm => "12",
            Release::Trixie => "13",
        }
    }

    fn suites(self) -> [&'static str; 2] {
        match self {
            Release::Bookworm => ["bookworm", "bookworm-updates"],
            Release::Trixie => ["trixie", "trixie-updates"],
        }
    }

    /// Where busybox-static puts busybox (Debian 13 has merged /usr).
    fn busybox_member(self) -> &'static str {
        match self {
            Release::Bookworm => "bin/busybox",
            Release::Trixie => "usr/bin/busybox",
        }
    }
}

/// A guest architecture, named like QEMU's system emulator target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GuestArch {
    X86_64,
    I386,
    /// 32-bit ARM, hard float (Debian armhf).
    Arm,
    Aarch64,
    Mipsel,
    Mips64el,
    /// 64-bit PowerPC, little-endian (Debian ppc64el).
    Ppc64,
    S390x,
    Riscv64,
}

/// What it takes to boot one architecture: its QEMU, its Debian packages,
/// its console.
struct ArchGuest {
    /// As in `qemu-system-<target>` and the compiler's architecture names.
    qemu_target: &'static str,
    deb_arch: &'static str,
    release: Release,
    /// The kernel metapackage; it depends on the current concrete kernel.
    kernel_metapackage: &'static str,
    /// The end of the concrete kernel's name, `linux-image-<release>-<flavour>`.
    kernel_flavour: &'static str,
    /// `vmlinuz` or `vmlinux`: the file in the package's /boot that QEMU's
    /// `-kernel` takes.
    kernel_image: &'static str,
    console: &'static str,
    machine_args: &'static [&'static str],
    /// Whether the machine and the kernel run more than one vCPU.
    smp: bool,
    /// The Debian 12 cross compiler for static guest programs.
    cross_compiler: &'static str,
}

impl GuestArch {
    pub const ALL: [GuestArch; 9] = [
        GuestArch::X86_64,
        GuestArch::I386,
        GuestArch::Arm,
        GuestArch::Aarch64,
        GuestArch::Mipsel,
        GuestArch::Mips64el,
        GuestArch::Ppc64,
        GuestArch::S390x,
        GuestArch::Riscv64,
    ];

    /// The architecture of a QEMU target name as the compiler uses it
    /// (`x86_64`, `i386`, `arm`, `aarch64`, `mipsel`, `mips64el`, `ppc64`,
    /// `s390x`, `riscv64`).
    pub fn from_qemu_target(target: &str) -> Option<Self> {
        GuestArch::ALL
            .into_iter()
            .find(|arch| arch.guest().qemu_target == target)
    }

    fn guest(self) -> &'static ArchGuest {
        match self {
            GuestArch::X86_64 => &ArchGuest {
                qemu_target: "x86_64",
                deb_arch: "amd64",
                release: Release::Bookworm,
                kernel_metapackage: "linux-image-amd64",
                kernel_flavour: "amd64",
                kernel_image: "vmlinuz",
                console: "ttyS0",
                machine_args: &[],
                smp: true,
                cross_compiler: "gcc",
            },
            GuestArch::I386 => &ArchGuest {
                qemu_target: "i386",
                deb_arch: "i386",
                release: Release::Bookworm,
                kernel_metapackage: "linux-image-686",
                kernel_flavour: "686",
                kernel_image: "vmlinuz",
                console: "ttyS0",
                machine_args: &[],
                smp: true,
                cross_compiler: "i686-linux-gnu-gcc",
            },
            GuestArch::Arm => &ArchGuest {
                qemu_target: "arm",
                deb_arch: "armhf",
                release: Release::Bookworm,
                kernel_metapackage: "linux-image-armmp",
                kernel_flavour: "armmp",
                kernel_image: "vmlinuz",
                console: "ttyAMA0",
                machine_args: &["-M", "virt,highmem=off", "-cpu", "cortex-a15"],
                smp: true,
                cross_compiler: "arm-linux-gnueabihf-gcc",
            },
            GuestArch::Aarch64 => &ArchGuest {
                qemu_target: "aarch64",
                deb_arch: "arm64",
                release: Release::Bookworm,
                kernel_metapackage: "linux-image-arm64",
                kernel_flavour: "arm64",
                kernel_image: "vmlinuz",
                console: "ttyAMA0",
                machine_args: &["-M", "virt", "-cpu", "cortex-a57"],
                smp: true,
                cross_compiler: "aarch64-linux-gnu-gcc",
            },
            GuestArch::Mipsel => &ArchGuest {
                qemu_target: "mipsel",
                deb_arch: "mipsel",
                release: Release::Bookworm,
                kernel_metapackage: "linux-image-4kc-malta",
                kernel_flavour: "4kc-malta",
                kernel_image: "vmlinuz",
                console: "ttyS0",
                machine_args: &["-M", "malta"],
                smp: false,
                cross_compiler: "mipsel-linux-gnu-gcc",
            },
            GuestArch::Mips64el => &ArchGuest {
                qemu_target: "mips64el",
                deb_arch: "mips64el",
                release: Release::Bookworm,
                kernel_metapackage: "linux-image-5kc-malta",
                kernel_flavour: "5kc-malta",
                kernel_image: "vmlinuz",
                console: "ttyS0",
                machine_args: &["-M", "malta", "-cpu", "5KEc"],
                smp: false,
                cross_compiler: "mips64el-linux-gnuabi64-gcc",
            },
            GuestArch::Ppc64 => &ArchGuest {
                qemu_target: "ppc64",
                deb_arch: "ppc64el",
                release: Release::Bookworm,
                kernel_metapackage: "linux-image-powerpc64le",
                kernel_flavour: "powerpc64le",
                kernel_image: "vmlinux",
                console: "hvc0",
                // TCG cannot do the Spectre mitigations that pseries asks
                // for by default; saying so keeps QEMU from warning.
                machine_args: &[
                    "-M",
                    "pseries,cap-cfpc=broken,cap-sbbc=broken,cap-ibs=broken,cap-ccf-assist=off",
                ],
                smp: true,
                cross_compiler: "powerpc64le-linux-gnu-gcc",
            },
            GuestArch::S390x => &ArchGuest {
                qemu_target: "s390x",
                deb_arch: "s390x",
                release: Release::Bookworm,
                kernel_metapackage: "linux-image-s390x",
                kernel_flavour: "s390x",
                kernel_image: "vmlinuz",
                console: "ttysclp0",
                machine_args: &[],
                smp: true,
                cross_compiler: "s390x-linux-gnu-gcc",
            },
            GuestArch::Riscv64 => &ArchGuest {
                qemu_target: "riscv64",
                deb_arch: "riscv64",
                release: Release::Trixie,
                kernel_metapackage: "linux-image-riscv64",
                kernel_flavour: "riscv64",
                kernel_image: "vmlinux",
                console: "ttyS0",
                machine_args: &["-M", "virt"],
                smp: true,
                cross_compiler: "riscv64-linux-gnu-gcc",
            },
        }
    }

    /// The QEMU target name, as in `qemu-system-<target>`: "x86_64", "arm",
    /// "ppc64", ...
    pub fn qemu_target(self) -> &'static str {
        self.guest().qemu_target
    }

    /// The Debian architecture the guest's packages come from.
    pub fn deb_arch(self) -> &'static str {
        self.guest().deb_arch
    }

    pub fn qemu_binary(self) -> &'static str {
        match self {
            GuestArch::X86_64 => "qemu-system-x86_64",
            GuestArch::I386 => "qemu-system-i386",
            GuestArch::Arm => "qemu-system-arm",
            GuestArch::Aarch64 => "qemu-system-aarch64",
            GuestArch::Mipsel => "qemu-system-mipsel",
            GuestArch::Mips64el => "qemu-system-mips64el",
            GuestArch::Ppc64 => "qemu-system-ppc64",
            GuestArch::S390x => "qemu-system-s390x",
            GuestArch::Riscv64 => "qemu-system-riscv64",
        }
    }

    /// The Debian 12 C compiler that builds static programs for this guest
    /// (`gcc` itself on an x86_64 host); see scripts/setup.sh.
    pub fn cross_compiler(self) -> &'static str {
        self.guest().cross_compiler
    }

    /// Whether the guest runs more than one vCPU. Not on MIPS Malta: Debian's
    /// 4kc-malta and 5kc-malta kernels have SMP only through the MT ASE
    /// (CONFIG_MIPS_MT_SMP, VPEs of one core); with the default CPUs and
    /// `-smp 2` they hang before the console, and with `-cpu 34Kf -smp 2`
    /// (mipsel) they boot but stall (RCU: the idle VPE's timer never fires).
    pub fn supports_smp(self) -> bool {
        self.guest().smp
    }

    /// The Debian release its guest comes from unless another is asked for.
    pub fn release(self) -> Release {
        self.guest().release
    }

    fn kernel_metapackage(self) -> &'static str {
        self.guest().kernel_metapackage
    }

    fn kernel_flavour(self) -> &'static str {
        self.guest().kernel_flavour
    }

    /// The virtio disk device of the guest's machine.
    pub fn disk_device(self) -> &'static str {
        match self {
            GuestArch::S390x => "virtio-blk-ccw",
            _ => "virtio-blk-pci",
        }
    }

    /// The kernel driver of [`Self::disk_device`]'s bus: its module name
    /// and the configuration symbol that builds it.
    fn disk_transport(self) -> (&'static str, &'static str) {
        match self {
            GuestArch::S390x => ("virtio_ccw", "S390_GUEST"),
            _ => ("virtio_pci", "VIRTIO_PCI"),
        }
    }

    pub fn kernel_image(self) -> &'static str {
        self.guest().kernel_image
    }

    fn console(self) -> &'static str {
        self.guest().console
    }

    fn machine_args(self) -> &'static [&'static str] {
        self.guest().machine_args
    }
}

impl fmt::Display for GuestArch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.qemu_target())
    }
}

/// The conventional cache directory of `arch` under a cargo target directory:
/// `<target>/osmtrace/guest/<qemu target>`.
pub fn cache_dir(target_dir: &Path, arch: GuestArch) -> PathBuf {
    target_dir
        .join("osmtrace")
        .join("guest")
        .join(arch.qemu_target())
}

/// [`cache_dir`] for a guest of another Debian release than its own:
/// `<target>/osmtrace/guest/<qemu target>-debian<version>`.
pub fn release_cache_dir(target_dir: &Path, arch: GuestArch, release: Release) -> PathBuf {
    if release == arch.release() {
        return cache_dir(target_dir, arch);
    }
    target_dir.join("osmtrace").join("guest").join(format!(
        "{}-debian{}",
        arch.qemu_target(),
        release.version()
    ))
}

/// A downloaded guest kernel and the busybox that its initramfs runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestKernel {
    pub arch: GuestArch,
    /// The Debian release its packages come from.
    pub release: Release,
    pub dir: PathBuf,
    /// The kernel image QEMU boots (`<dir>/vmlinuz`, or `<dir>/vmlinux`).
    pub vmlinuz: PathBuf,
    pub config: PathBuf,
    pub busybox: PathBuf,
    /// The concrete kernel package, e.g. "linux-image-6.1.0-50-amd64".
    pub kernel_package: String,
    /// Its Debian version, e.g. "6.1.176-1".
    pub kernel_version: String,
    /// busybox-static's Debian version.
    pub busybox_version: String,
}

impl GuestKernel {
    /// The cached guest in `dir`, if its stamp says it is complete.
    fn load(arch: GuestArch, wanted: Release, dir: &Path) -> Option<GuestKernel> {
        let stamp = fs::read_to_string(dir.join("stamp")).ok()?;
        let mut lines = stamp.lines();
        if lines.next()? != STAMP_HEADER {
            return None;
        }
        let mut fields = std::collections::HashMap::new();
        for line in lines {
            if let Some((key, value)) = line.split_once('=') {
                fields.insert(key, value);
            }
        }
        if fields.get("arch").copied() != Some(arch.deb_arch()) {
            return None;
        }
        let release = match fields.get("release") {
            Some(version) => Release::from_version(version)?,
            None => arch.release(),
        };
        if release != wanted {
            return None;
        }
        let kernel = GuestKernel {
            arch,
            release,
            dir: dir.to_path_buf(),
            vmlinuz: dir.join(arch.kernel_image()),
            config: dir.join("config"),
            busybox: dir.join("busybox"),
            kernel_package: fields.get("kernel-package")?.to_string(),
            kernel_version: fields.get("kernel-version")?.to_string(),
            busybox_version: fields.get("busybox-version")?.to_string(),
        };
        let present = |p: &Path| fs::metadata(p).is_ok_and(|m| m.is_file() && m.len() > 0);
        (present(&kernel.vmlinuz) && present(&kernel.busybox)).then_some(kernel)
    }

    fn stamp(&self, metapackage: &str) -> String {
        format!(
            "{STAMP_HEADER}\narch={}\nrelease={}\nmetapackage={metapackage}\nkernel-package={}\n\
             kernel-version={}\nbusybox-version={}\n",
            self.arch.deb_arch(),
            self.release.version(),
            self.kernel_package,
            self.kernel_version,
            self.busybox_version
        )
    }
}

/// Makes sure the kernel and busybox of `arch` are in `cache_dir` (see the
/// module documentation), downloading them if not, and returns them. With a
/// complete cache this reads one small file and touches no network.
/// Progress goes to `log`.
pub fn prepare(
    arch: GuestArch,
    cache_dir: &Path,
    log: &mut dyn Write,
) -> Result<GuestKernel, String> {
    prepare_release(arch, arch.release(), cache_dir, log)
}

/// [`prepare_release`] for `--debian VERSION` (the architecture's own
/// release when not given), cached under `target`.
pub fn prepare_debian(
    arch: GuestArch,
    debian: Option<&str>,
    target: &Path,
    log: &mut dyn Write,
) -> Result<GuestKernel, String> {
    let release = match debian {
        Some(version) => Release::from_version(version)
            .ok_or_else(|| format!("--debian {version}: guests come from Debian 12 or 13"))?,
        None => arch.release(),
    };
    prepare_release(
        arch,
        release,
        &release_cache_dir(target, arch, release),
        log,
    )
}

/// [`prepare`] for a guest of `release` (its kernel and busybox from that
/// Debian release), cached in `cache_dir` ([`release_cache_dir`]).
pub fn prepare_release(
    arch: GuestArch,
    release: Release,
    cache_dir: &Path,
    log: &mut dyn Write,
) -> Result<GuestKernel, String> {
    if let Some(kernel) = GuestKernel::load(arch, release, cache_dir) {
        let _ = writeln!(
            log,
            "guest {arch}: {} {} and busybox {} (cached in {})",
            kernel.kernel_package,
            kernel.kernel_version,
            kernel.busybox_version,
            cache_dir.display()
        );
        return Ok(kernel);
    }
    let started = Instant::now();
    fs::create_dir_all(cache_dir)
        .map_err(|e| format!("cannot create {}: {e}", cache_dir.display()))?;
    let work = TempDir::new(cache_dir, "download")?;
    let kernel = download(arch, release, cache_dir, work.path(), log)?;
    let _ = writeln!(
        log,
        "guest {arch}: ready in {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        cache_dir.display()
    );
    Ok(kernel)
}

/// A package downloaded by [`fetch_debs`].
pub struct Deb {
    pub path: PathBuf,
    pub package: String,
    pub version: String,
}

/// Downloads Debian packages (`name` or `name=version`) of `arch`'s
/// release and architecture into `work` with a private apt configuration
/// (the system's is not touched), after the concrete kernel package that
/// `kernel_meta` depends on, when given (returned too). Says what it
/// downloads and how big to `log`.
pub fn fetch_debs(
    arch: GuestArch,
    release: Release,
    packages: &[String],
    kernel_meta: Option<&str>,
    work: &Path,
    log: &mut dyn Write,
) -> Result<(Vec<Deb>, Option<String>), String> {
    let apt_dir = work.join("apt");
    let debs = work.join("debs");
    for dir in [
        apt_dir.join("lists/partial"),
        apt_dir.join("archives/partial"),
        apt_dir.join("cache"),
        debs.clone(),
    ] {
        fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let suites = release.suites();
    let sources: String = suites
        .iter()
        .map(|suite| format!("deb [signed-by={KEYRING}] {MIRROR} {suite} main\n"))
        .collect();
    write_file(&apt_dir.join("sources.list"), sources.as_bytes())?;

    let apt = |program: &str| private_apt(program, &apt_dir, arch.deb_arch());

    let _ = writeln!(
        log,
        "guest {arch}: apt-get update ({MIRROR} {}, {})",
        suites.join(" "),
        arch.deb_arch()
    );
    // A suite whose index fails to download (a mirror caught mid-sync) is
    // not fatal by itself: apt keeps the lists it got, and a package
    // missing from them is reported below with this warning.
    let update_warning = run(apt("apt-get").args(["-q", "update"])).err();
    if let Some(warning) = &update_warning {
        let _ = writeln!(
            log,
            "guest {arch}: warning: continuing with the lists apt got: {warning}"
        );
    }
    let with_update_warning = |message: String| match &update_warning {
        Some(warning) => format!("{message}\n(apt-get update had failed: {warning})"),
        None => message,
    };

    let mut wanted: Vec<String> = packages.to_vec();
    let mut resolved = None;
    if let Some(meta) = kernel_meta {
        let depends = run(apt("apt-cache").args(["depends", meta])).map_err(with_update_warning)?;
        let kernel_package = resolve_kernel(&depends, arch.kernel_flavour()).ok_or_else(|| {
            with_update_warning(format!(
                "cannot resolve {meta} to a kernel package; apt-cache depends said:\n{depends}"
            ))
        })?;
        let _ = writeln!(log, "guest {arch}: {meta} resolves to {kernel_package}");
        wanted.insert(0, kernel_package.clone());
        resolved = Some(kernel_package);
    }
    let _ = writeln!(
        log,
        "guest {arch}: downloading {} ({})",
        wanted.join(" and "),
        arch.deb_arch()
    );
    run(apt("apt-get")
        .args(["-q", "download"])
        .args(&wanted)
        .current_dir(&debs))
    .map_err(with_update_warning)?;

    let mut found = Vec::new();
    let entries =
        fs::read_dir(&debs).map_err(|e| format!("cannot list {}: {e}", debs.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_none_or(|x| x != "deb") {
            continue;
        }
        let fields = run(Command::new("dpkg-deb")
            .arg("-f")
            .arg(&path)
            .args(["Package", "Version"]))?;
        let field = |name: &str| {
            fields
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let (package, version) = (field("Package"), field("Version"));
        let _ = writeln!(
            log,
            "guest {arch}: got {package} {version} ({:.1} MB)",
            size as f64 / 1e6
        );
        found.push(Deb {
            path,
            package,
            version,
        });
    }
    for package in &wanted {
        let name = package.split('=').next().unwrap_or(package);
        if !found.iter().any(|d| d.package == name) {
            return Err(format!("apt-get download left no {name} .deb"));
        }
    }
    Ok((found, resolved))
}

fn download(
    arch: GuestArch,
    release: Release,
    cache_dir: &Path,
    work: &Path,
    log: &mut dyn Write,
) -> Result<GuestKernel, String> {
    let root = work.join("root");
    fs::create_dir_all(&root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    let meta = arch.kernel_metapackage();
    let (debs, kernel_package) = fetch_debs(
        arch,
        release,
        &["busybox-static".to_string()],
        Some(meta),
        work,
        log,
    )?;
    let kernel_package = kernel_package.ok_or("no kernel package was resolved")?;
    // fetch_debs checked that both are there.
    let deb = |name: &str| {
        debs.iter()
            .find(|d| d.package == name)
            .map(|d| (d.path.clone(), d.version.clone()))
            .unwrap_or_default()
    };
    let (kernel_deb, kernel_version) = deb(&kernel_package);
    let (busybox_deb, busybox_version) = deb("busybox-static");

    // Only the few files we need, not the kernel's ~400 MB of modules.
    let kernel_release = kernel_package
        .strip_prefix("linux-image-")
        .unwrap_or(&kernel_package);
    let image = arch.kernel_image();
    extract(
        &kernel_deb,
        &root,
        &[
            &format!("./boot/{image}-{kernel_release}"),
            &format!("./boot/config-{kernel_release}"),
        ],
        false,
    )?;
    let busybox_member = release.busybox_member();
    extract(
        &busybox_deb,
        &root,
        &[&format!("./{busybox_member}")],
        false,
    )?;
    let vmlinuz = root.join("boot").join(format!("{image}-{kernel_release}"));
    let config = root.join("boot").join(format!("config-{kernel_release}"));
    let busybox = root.join(busybox_member);

    // The stamp goes first and comes back last, so a half-updated cache is
    // never taken for a complete one.
    let stamp = cache_dir.join("stamp");
    match fs::remove_file(&stamp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(format!("cannot remove {}: {e}", stamp.display()));
        }
        _ => {}
    }
    for (from, name) in [
        (&vmlinuz, image),
        (&config, "config"),
        (&busybox, "busybox"),
    ] {
        let to = cache_dir.join(name);
        fs::rename(from, &to)
            .map_err(|e| format!("cannot move {} to {}: {e}", from.display(), to.display()))?;
    }
    let kernel = GuestKernel {
        arch,
        release,
        dir: cache_dir.to_path_buf(),
        vmlinuz: cache_dir.join(image),
        config: cache_dir.join("config"),
        busybox: cache_dir.join("busybox"),
        kernel_package,
        kernel_version,
        busybox_version,
    };
    let tmp = work.join("stamp");
    write_file(&tmp, kernel.stamp(meta).as_bytes())?;
    fs::rename(&tmp, &stamp).map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
    Ok(kernel)
}

/// The concrete kernel package in `apt-cache depends <metapackage>` output:
/// `  Depends: linux-image-6.1.0-50-amd64` (maybe with an `:arch` suffix).
fn resolve_kernel(depends: &str, flavour: &str) -> Option<String> {
    depends.lines().find_map(|line| {
        let package = line.trim().strip_prefix("Depends:")?.trim();
        let package = package.split(':').next()?.trim();
        let release = package.strip_prefix("linux-image-")?;
        let flavoured = release.strip_suffix(flavour)?.ends_with('-');
        (flavoured && release.starts_with(|c: char| c.is_ascii_digit()))
            .then(|| package.to_string())
    })
}

/// Extracts the members of `deb` matching the tar wildcards into `dest`;
/// with `first_only`, tar stops after the first match of each, so a large
/// package is not decompressed to its end (dpkg-deb, its feeder, then
/// dies of the closed pipe, which is not an error).
pub fn extract(deb: &Path, dest: &Path, patterns: &[&str], first_only: bool) -> Result<(), String> {
    let mut dpkg = Command::new("dpkg-deb")
        .arg("--fsys-tarfile")
        .arg(deb)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| spawn_error("dpkg-deb", &e))?;
    let tarball = dpkg.stdout.take().expect("piped stdout");
    let tar = Command::new("tar")
        .arg("-x")
        .arg("--no-same-owner")
        .arg("-C")
        .arg(dest)
        .arg("--wildcards")
        .args(first_only.then_some("--occurrence=1"))
        .args(patterns)
        .stdin(tarball)
        .output()
        .map_err(|e| spawn_error("tar", &e));
    let dpkg = dpkg.wait_with_output().map_err(|e| e.to_string())?;
    let tar = tar?;
    if !tar.status.success() {
        return Err(format!(
            "extracting {patterns:?} from {} failed ({}): {}",
            deb.display(),
            tar.status,
            String::from_utf8_lossy(&tar.stderr).trim()
        ));
    }
    if !dpkg.status.success() && !first_only {
        return Err(format!(
            "dpkg-deb --fsys-tarfile {} failed ({}): {}",
            deb.display(),
            dpkg.status,
            String::from_utf8_lossy(&dpkg.stderr).trim()
        ));
    }
    Ok(())
}

/// The loadable modules `kernel` needs to read the virtio disk QEMU gives
/// it ([`GuestArch::disk_device`]), in the order to load them: none when
/// the drivers are built in. Debian builds them as modules, which the
/// cache does not hold (the kernel package's modules are ~400 MB): the
/// few needed are taken from the same kernel package once and kept in
/// `<cache_dir>/disk-modules-<package>_<version>/`, whose `order` file,
/// written last, lists them.
pub fn disk_modules(kernel: &GuestKernel, log: &mut dyn Write) -> Result<Vec<PathBuf>, String> {
    let config = fs::read_to_string(&kernel.config)
        .map_err(|e| format!("cannot read {}: {e}", kernel.config.display()))?;
    let mut wanted = Vec::new();
    for (module, symbol) in [kernel.arch.disk_transport(), ("virtio_blk", "VIRTIO_BLK")] {
        match config_value(&config, symbol) {
            Some("y") => {}
            Some("m") => wanted.push(module),
            _ => {
                return Err(format!(
                    "the {} guest's kernel {} has no {module} driver (CONFIG_{symbol}): it cannot read a disk",
                    kernel.arch, kernel.kernel_package
                ));
            }
        }
    }
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let safe = |s: &str| {
        s.replace(
            |c: char| !c.is_ascii_alphanumeric() && c != '.' && c != '-',
            "_",
        )
    };
    let cache = kernel.dir.join(format!(
        "disk-modules-{}_{}",
        safe(&kernel.kernel_package),
        safe(&kernel.kernel_version)
    ));
    let listed = |dir: &Path| -> Option<Vec<PathBuf>> {
        let order = fs::read_to_string(dir.join("order")).ok()?;
        Some(order.lines().map(|name| dir.join(name)).collect())
    };
    if let Some(modules) = listed(&cache) {
        return Ok(modules);
    }

    let work = TempDir::new(&kernel.dir, "disk-modules")?;
    let package = format!("{}={}", kernel.kernel_package, kernel.kernel_version);
    let _ = writeln!(
        log,
        "guest {}: the disk drivers {} are modules: taking them from {package}",
        kernel.arch,
        wanted.join(", ")
    );
    let (debs, _) = fetch_debs(
        kernel.arch,
        kernel.release,
        &[package],
        None,
        work.path(),
        log,
    )?;
    let deb = &debs[0].path;
    let release = kernel
        .kernel_package
        .strip_prefix("linux-image-")
        .unwrap_or(&kernel.kernel_package);
    let prefix = match kernel.release {
        Release::Bookworm => format!("./lib/modules/{release}"),
        Release::Trixie => format!("./usr/lib/modules/{release}"),
    };
    let root = work.path().join("root");
    fs::create_dir_all(&root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    // The package has no modules.dep (depmod makes it on installation):
    // the modules' own `depends=` say what else to load. Those of the
    // disk drivers are virtio's own, in the same directory, or built in.
    extract(
        deb,
        &root,
        &[
            &format!("{prefix}/kernel/drivers/virtio/*"),
            &format!("{prefix}/kernel/drivers/block/virtio_blk.ko*"),
            &format!("{prefix}/modules.builtin"),
        ],
        false,
    )?;
    let modules_dir = root.join(&prefix);
    let builtin = fs::read_to_string(modules_dir.join("modules.builtin"))
        .map_err(|e| format!("{}: no modules.builtin: {e}", deb.display()))?;
    let mut available = Vec::new();
    for dir in ["kernel/drivers/virtio", "kernel/drivers/block"] {
        let entries = fs::read_dir(modules_dir.join(dir))
            .map_err(|e| format!("{}: {e}", modules_dir.join(dir).display()))?;
        for entry in entries {
            let name = entry.map_err(|e| e.to_string())?.file_name();
            let file = format!("{dir}/{}", name.to_string_lossy());
            let info = read_file(&modules_dir.join(&file))?;
            let depends = module_depends(&info, &file)?;
            available.push((file, depends));
        }
    }
    let files = load_order(&available, &builtin, &wanted)?;
    let out = work.path().join("modules");
    fs::create_dir(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let mut order = String::new();
    for (i, file) in files.iter().enumerate() {
        let from = modules_dir.join(file);
        let base = Path::new(file)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(file);
        // busybox's insmod may not read compressed modules: they go in
        // plain, numbered in load order.
        let (stem, decompress) = match base.rsplit_once(".ko") {
            Some((stem, ".xz")) => (stem, Some("xz")),
            Some((stem, ".zst")) => (stem, Some("zstd")),
            Some((stem, "")) => (stem, None),
            _ => return Err(format!("{file}: not a kernel module")),
        };
        let name = format!("{i:02}-{stem}.ko");
        let bytes = match decompress {
            None => read_file(&from)?,
            Some(tool) => {
                let out = Command::new(tool)
                    .arg("-dc")
                    .arg(&from)
                    .output()
                    .map_err(|e| spawn_error(tool, &e))?;
                if !out.status.success() {
                    return Err(format!("{tool} -dc {} failed", from.display()));
                }
                out.stdout
            }
        };
        write_file(&out.join(&name), &bytes)?;
        order.push_str(&name);
        order.push('\n');
    }
    write_file(&out.join("order"), order.as_bytes())?;
    // Another run may have made it meanwhile; either copy is the same.
    if fs::rename(&out, &cache).is_err() && listed(&cache).is_none() {
        return Err(format!(
            "cannot move the disk modules to {}",
            cache.display()
        ));
    }
    listed(&cache).ok_or_else(|| format!("{}: no order file", cache.display()))
}

/// `CONFIG_<symbol>`'s value in a kernel configuration (`y`, `m`, ...).
fn config_value<'a>(config: &'a str, symbol: &str) -> Option<&'a str> {
    config.lines().find_map(|line| {
        line.strip_prefix("CONFIG_")?
            .strip_prefix(symbol)?
            .strip_prefix('=')
    })
}

/// A module's name as `depends=` and modules.builtin give it, from its
/// file name (`virtio-pci.ko.xz` is `virtio_pci`).
fn module_name(file: &str) -> String {
    let base = file.rsplit('/').next().unwrap_or(file);
    base.split(".ko").next().unwrap_or(base).replace('-', "_")
}

/// The modules a module file needs loaded first: the `depends=` string of
/// its .modinfo section (decompressed first when it is compressed).
fn module_depends(data: &[u8], file: &str) -> Result<Vec<String>, String> {
    let tool = match file.rsplit_once(".ko") {
        Some((_, ".xz")) => Some("xz"),
        Some((_, ".zst")) => Some("zstd"),
        _ => None,
    };
    let plain;
    let data = match tool {
        None => data,
        Some(tool) => {
            let mut child = Command::new(tool)
                .arg("-dc")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .map_err(|e| spawn_error(tool, &e))?;
            let mut stdin = child.stdin.take().expect("piped stdin");
            let input = data.to_vec();
            let writer = thread::spawn(move || stdin.write_all(&input));
            let out = child.wait_with_output().map_err(|e| e.to_string())?;
            let _ = writer.join();
            plain = out.stdout;
            &plain
        }
    };
    let key = b"\0depends=";
    let at = data
        .windows(key.len())
        .position(|w| w == key)
        .ok_or_else(|| format!("{file}: no depends= in its .modinfo"))?;
    let value = &data[at + key.len()..];
    let value = &value[..value.iter().position(|&b| b == 0).unwrap_or(value.len())];
    Ok(String::from_utf8_lossy(value)
        .split(',')
        .filter(|d| !d.is_empty())
        .map(str::to_string)
        .collect())
}

/// The module files of `available` (file, its dependencies) that load
/// `modules`, each after every module it depends on; dependencies that
/// modules.builtin lists are in the kernel already.
fn load_order(
    available: &[(String, Vec<String>)],
    builtin: &str,
    modules: &[&str],
) -> Result<Vec<String>, String> {
    let builtin: Vec<String> = builtin.lines().map(module_name).collect();
    // Depth first; the depth bound keeps a dependency cycle, which depmod
    // would refuse, from looping.
    fn visit(
        module: &str,
        available: &[(String, Vec<String>)],
        builtin: &[String],
        order: &mut Vec<String>,
        depth: usize,
    ) -> Result<(), String> {
        if builtin.iter().any(|b| b == module) {
            return Ok(());
        }
        let (file, deps) = available
            .iter()
            .find(|(file, _)| module_name(file) == module)
            .ok_or_else(|| format!("no module {module} among the disk drivers"))?;
        if order.contains(file) {
            return Ok(());
        }
        if depth > available.len() {
            return Err(format!("module {module} depends on itself"));
        }
        for d in deps {
            visit(d, available, builtin, order, depth + 1)?;
        }
        order.push(file.clone());
        Ok(())
    }
    let mut order = Vec::new();
    for module in modules {
        visit(module, available, &builtin, &mut order, 0)?;
    }
    Ok(order)
}

/// The guest's /init: set up the usual mounts, run /osmtrace-cmd with
/// `sh -c` as root in /, report its exit code, power off. The command's
/// shell is busybox run as `osmtrace-sh` (a link, with `exec -a sh` so
/// that busybox still runs its shell): the kernel names a process after
/// the file it executes, so `follow=osmtrace-sh` picks out the command
/// and what it starts ([`COMMAND_NAME`]).
const INIT_SCRIPT: &str = r#"#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
{modules}ln -s /bin/busybox /bin/osmtrace-sh
cd /
echo OSMTRACE-START
(exec -a sh /bin/osmtrace-sh -c "$(cat /osmtrace-cmd)")
rc=$?
echo "OSMTRACE-EXIT $rc"
sync
poweroff -f
"#;

/// Names the initramfs itself uses at its root.
const RESERVED: [&str; 13] = [
    "bin",
    "lib",
    "sbin",
    "usr",
    "proc",
    "sys",
    "dev",
    "tmp",
    "root",
    "etc",
    "init",
    "osmtrace-cmd",
    "TRAILER!!!",
];

/// Writes a gzip-compressed initramfs to `out`: busybox, an /init that runs
/// `cmd` with `sh -c` as root in `/` and then prints `OSMTRACE-EXIT <rc>`
/// and powers off, and each of `files` as `/<basename>` with mode 0755.
/// `cmd` travels in a file, so it may contain any characters. The kernel
/// `modules` ([`disk_modules`]) are loaded in their order before the
/// command; without them /init is the same as ever.
pub fn build_initramfs(
    kernel: &GuestKernel,
    files: &[PathBuf],
    modules: &[PathBuf],
    cmd: &str,
    out: &Path,
) -> Result<(), String> {
    let io = |e: std::io::Error| format!("writing initramfs {}: {e}", out.display());
    let mut cpio = CpioWriter::new(Vec::new());
    for dir in [
        "bin", "sbin", "usr", "usr/bin", "usr/sbin", "proc", "sys", "dev", "etc",
    ] {
        cpio.dir(dir, 0o755).map_err(io)?;
    }
    cpio.dir("tmp", 0o1777).map_err(io)?;
    cpio.dir("root", 0o700).map_err(io)?;
    cpio.char_dev("dev/console", 0o600, 5, 1).map_err(io)?;
    cpio.file("bin/busybox", 0o755, &read_file(&kernel.busybox)?)
        .map_err(io)?;
    let mut insmod = String::new();
    if !modules.is_empty() {
        cpio.dir("lib", 0o755).map_err(io)?;
        cpio.dir("lib/modules", 0o755).map_err(io)?;
    }
    for module in modules {
        let name = module
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("{}: no usable file name", module.display()))?;
        cpio.file(&format!("lib/modules/{name}"), 0o644, &read_file(module)?)
            .map_err(io)?;
        insmod.push_str(&format!("insmod /lib/modules/{name}\n"));
    }
    let init = INIT_SCRIPT.replace("{modules}", &insmod);
    cpio.file("init", 0o755, init.as_bytes()).map_err(io)?;
    cpio.file("osmtrace-cmd", 0o644, cmd.as_bytes())
        .map_err(io)?;
    add_files(&mut cpio, files, |name| RESERVED.contains(&name), out)?;
    let archive = cpio.finish().map_err(io)?;

    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let tmp = out.with_extension(format!("tmp{}", unique_suffix()));
    // gzip -9n: no name and no time in the header, so the image is the
    // same bytes for the same files.
    let result = fs::File::create(&tmp)
        .and_then(|file| {
            let mut gzip = flate2::write::GzEncoder::new(file, flate2::Compression::best());
            gzip.write_all(&archive)?;
            gzip.finish()?.sync_all()
        })
        .map_err(io)
        .and_then(|()| fs::rename(&tmp, out).map_err(io));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Puts each of `files` in `cpio` as `/<basename>`, mode 0755, refusing a
/// name that `taken` says the initramfs has, or that two files share.
pub fn add_files(
    cpio: &mut CpioWriter<Vec<u8>>,
    files: &[PathBuf],
    taken: impl Fn(&str) -> bool,
    out: &Path,
) -> Result<(), String> {
    let mut names = Vec::new();
    for file in files {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("{}: no usable file name", file.display()))?;
        if taken(name) || names.contains(&name) {
            return Err(format!(
                "{}: /{name} is already in the initramfs",
                file.display()
            ));
        }
        names.push(name);
        cpio.file(name, 0o755, &read_file(file)?)
            .map_err(|e| format!("writing initramfs {}: {e}", out.display()))?;
    }
    Ok(())
}

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
) -> Result<Command, String> {
    if opts.smp > 1 && !arch.supports_smp() {
        return Err(format!(
            "the {arch} guest runs one vCPU only (--smp {} asked): Debian's Malta kernels \
             do SMP only across MT ASE VPEs, which the Malta CPUs used here do not have",
            opts.smp
        ));
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
        .arg(&kernel.vmlinuz)
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
            return Err("a disk is attached only when recording or replaying".to_string());
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
pub fn plugin_option(plugin: &Path, args: &str) -> Result<String, String> {
    let path =
        std::path::absolute(plugin).map_err(|e| format!("plugin {}: {e}", plugin.display()))?;
    let path = path
        .to_str()
        .ok_or_else(|| format!("plugin path {} is not UTF-8", path.display()))?;
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
) -> Result<BootOutcome, String> {
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
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                break (child.wait().map_err(|e| e.to_string())?, true);
            }
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("waiting for {}: {e}", arch.qemu_binary()));
            }
        }
    };
    let wall_time = started.elapsed();
    let console = strip_escapes(&String::from_utf8_lossy(&stdout.join().unwrap_or_default()));
    let qemu_stderr = String::from_utf8_lossy(&stderr.join().unwrap_or_default()).into_owned();
    if !status.success() && !timed_out && console.trim().is_empty() {
        return Err(format!(
            "{} failed ({status}) before the guest started:\n{}",
            arch.qemu_binary(),
            qemu_stderr.trim_end()
        ));
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

fn read_vm_hwm(status_file: &str) -> Option<u64> {
    let text = std::fs::read_to_string(status_file).ok()?;
    let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A short demonstration workload for the guest's shell.
pub fn default_workload() -> &'static str {
    "echo hello > /tmp/f; cat /tmp/f; ls /; cat /nonexistent"
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

/// A fresh directory, removed with its contents when dropped.
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    /// A new directory `.what-XXXX` in `parent`, removed when dropped.
    pub fn new(parent: &Path, what: &str) -> Result<TempDir, String> {
        tempfile::Builder::new()
            .prefix(&format!(".{what}-"))
            .tempdir_in(parent)
            .map(TempDir)
            .map_err(|e| format!("cannot create a directory in {}: {e}", parent.display()))
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

/// Unique within this machine for a while: process id, counter, clock.
fn unique_suffix() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}-{}-{nanos:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Runs `cmd` quietly; returns its stdout, or an error with the tail of its
/// output.
/// An apt command with a private configuration under `apt_dir` (its own
/// lists, caches and `sources.list`, no dpkg status, one architecture):
/// the host's apt state is neither read nor changed.
pub fn private_apt(program: &str, apt_dir: &Path, deb_arch: &str) -> Command {
    let d = |sub: &str| apt_dir.join(sub).display().to_string();
    let options = [
        format!("Dir::State::Lists={}", d("lists")),
        format!("Dir::Etc::SourceList={}", d("sources.list")),
        "Dir::Etc::SourceParts=/nonexistent".to_string(),
        "Dir::State::Status=/dev/null".to_string(),
        format!("Dir::Cache={}", d("cache")),
        format!("Dir::Cache::Archives={}", d("archives")),
        format!("APT::Architecture={deb_arch}"),
        format!("APT::Architectures={deb_arch}"),
        "APT::Sandbox::User=root".to_string(),
        "Acquire::Languages=none".to_string(),
    ];
    let mut cmd = Command::new(program);
    for option in &options {
        cmd.arg("-o").arg(option);
    }
    cmd
}

/// Runs a command to completion; its stdout, or an error with its stderr.
pub fn run(cmd: &mut Command) -> Result<String, String> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| spawn_error(&program, &e))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        return Ok(stdout);
    }
    // The apt commands' -o options would drown the interesting arguments.
    let mut args = Vec::new();
    let mut skip = false;
    for arg in cmd.get_args() {
        let arg = arg.to_string_lossy();
        if std::mem::take(&mut skip) {
            continue;
        }
        if arg == "-o" {
            skip = true;
            continue;
        }
        args.push(arg.into_owned());
    }
    Err(format!(
        "{program} {} failed ({}):\n{}{}",
        args.join(" "),
        out.status,
        tail(&stdout),
        tail(&String::from_utf8_lossy(&out.stderr))
    ))
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = lines[lines.len().saturating_sub(20)..].join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

fn spawn_error(program: &str, e: &std::io::Error) -> String {
    let hint = match program {
        "apt-get" | "apt-cache" => {
            " (a Debian or Ubuntu host is needed to fetch guest kernels)".to_string()
        }
        "dpkg-deb" => " (install dpkg)".to_string(),
        _ => match qemu_package(program) {
            Some(package) => {
                format!(" (install {package} from bookworm-backports: scripts/setup.sh)")
            }
            None if program.ends_with("-gcc") => {
                format!(
                    " (install gcc-{}: scripts/setup.sh)",
                    program.trim_end_matches("-gcc")
                )
            }
            None => String::new(),
        },
    };
    format!("cannot run {program}: {e}{hint}")
}

/// The Debian package of a `qemu-system-*` binary.
pub fn qemu_package(program: &str) -> Option<&'static str> {
    Some(match program.strip_prefix("qemu-system-")? {
        "x86_64" | "i386" => "qemu-system-x86",
        "arm" | "aarch64" => "qemu-system-arm",
        "mipsel" | "mips64el" => "qemu-system-mips",
        "ppc64" => "qemu-system-ppc",
        "s390x" => "qemu-system-s390x",
        "riscv64" => "qemu-system-riscv",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arch_names() {
        for arch in GuestArch::ALL {
            assert_eq!(GuestArch::from_qemu_target(arch.qemu_target()), Some(arch));
            assert_eq!(arch.to_string(), arch.qemu_target());
            assert!(arch.qemu_binary().ends_with(arch.qemu_target()));
            assert!(qemu_package(arch.qemu_binary()).is_some(), "{arch}");
        }
        // Every architecture the compiler knows has a guest, except
        // big-endian MIPS, which Debian 12 no longer builds.
        for info in osm_compiler::arch::ARCHES {
            let guest = GuestArch::from_qemu_target(info.name);
            assert_eq!(
                guest.is_some(),
                !matches!(info.name, "mips" | "mips64"),
                "{}",
                info.name
            );
        }
        assert_eq!(GuestArch::from_qemu_target("ppc64"), Some(GuestArch::Ppc64));
        assert_eq!(GuestArch::Ppc64.deb_arch(), "ppc64el");
        assert_eq!(GuestArch::from_qemu_target("ppc64el"), None);
        assert_eq!(GuestArch::from_qemu_target("armhf"), None);
    }

    #[test]
    fn debian_packages_per_arch() {
        for arch in GuestArch::ALL {
            assert!(arch.kernel_metapackage().starts_with("linux-image-"));
            assert!(arch.kernel_metapackage().ends_with(arch.kernel_flavour()));
            assert!(matches!(arch.kernel_image(), "vmlinuz" | "vmlinux"));
        }
        // Debian 12 has no riscv64 kernel: it and its busybox come from 13.
        for arch in GuestArch::ALL {
            let trixie = arch == GuestArch::Riscv64;
            assert_eq!(arch.release() == Release::Trixie, trixie, "{arch}");
        }
        assert_eq!(Release::Bookworm.busybox_member(), "bin/busybox");
        assert_eq!(Release::Trixie.busybox_member(), "usr/bin/busybox");
        assert_eq!(Release::Trixie.suites(), ["trixie", "trixie-updates"]);
        assert_eq!(GuestArch::Ppc64.kernel_image(), "vmlinux");
        assert_eq!(GuestArch::Riscv64.kernel_image(), "vmlinux");
        assert_eq!(GuestArch::Mipsel.kernel_image(), "vmlinuz");
        assert_eq!(GuestArch::I386.cross_compiler(), "i686-linux-gnu-gcc");
        assert_eq!(
            GuestArch::Mips64el.cross_compiler(),
            "mips64el-linux-gnuabi64-gcc"
        );
    }

    #[test]
    fn resolves_kernel_metapackage() {
        let amd64 = "linux-image-amd64\n  Depends: linux-image-6.1.0-50-amd64\n";
        assert_eq!(
            resolve_kernel(amd64, "amd64").as_deref(),
            Some("linux-image-6.1.0-50-amd64")
        );
        let armhf = "linux-image-armmp:armhf\n  Depends: linux-image-6.1.0-50-armmp:armhf\n";
        assert_eq!(
            resolve_kernel(armhf, "armmp").as_deref(),
            Some("linux-image-6.1.0-50-armmp")
        );
        assert_eq!(
            resolve_kernel("  Depends: linux-image-amd64-signed\n", "amd64"),
            None
        );
        let malta = "linux-image-4kc-malta\n  Depends: linux-image-6.1.0-50-4kc-malta\n";
        assert_eq!(
            resolve_kernel(malta, "4kc-malta").as_deref(),
            Some("linux-image-6.1.0-50-4kc-malta")
        );
        assert_eq!(resolve_kernel(malta, "5kc-malta"), None);
        let trixie = "linux-image-riscv64\n  Depends: linux-image-6.12.117+deb13-riscv64\n";
        assert_eq!(
            resolve_kernel(trixie, "riscv64").as_deref(),
            Some("linux-image-6.12.117+deb13-riscv64")
        );
    }

    fn kernel_in(dir: &str, arch: GuestArch) -> GuestKernel {
        let dir = PathBuf::from(dir);
        GuestKernel {
            arch,
            release: arch.release(),
            vmlinuz: dir.join(arch.kernel_image()),
            config: dir.join("config"),
            busybox: dir.join("busybox"),
            dir,
            kernel_package: "k".into(),
            kernel_version: "1".into(),
            busybox_version: "1".into(),
        }
    }

    fn command_line(arch: GuestArch, opts: &BootOptions) -> Result<String, String> {
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
        let e = command_line(GuestArch::Arm, &disk).unwrap_err();
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
                Err(e) => assert!(malta && e.contains("one vCPU only"), "{arch}: {e}"),
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
            vmlinuz: "/c/vmlinuz".into(),
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

    #[test]
    fn disk_drivers_load_after_their_dependencies() {
        let config = "CONFIG_VIRTIO=y\nCONFIG_VIRTIO_PCI=m\n# CONFIG_VIRTIO_MMIO is not set\n";
        assert_eq!(config_value(config, "VIRTIO"), Some("y"));
        assert_eq!(config_value(config, "VIRTIO_PCI"), Some("m"));
        assert_eq!(config_value(config, "VIRTIO_MMIO"), None);
        // As the .modinfo section holds them: NUL-separated key=value.
        let info = b"\0license=GPL\0depends=virtio_ring,virtio\0intree=Y\0";
        assert_eq!(
            module_depends(info, "virtio_blk.ko").unwrap(),
            ["virtio_ring", "virtio"]
        );
        assert_eq!(
            module_depends(b"\0depends=\0", "virtio.ko").unwrap(),
            Vec::<String>::new()
        );
        let m = |file: &str, deps: &[&str]| {
            (
                file.to_string(),
                deps.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
            )
        };
        let available = [
            m("d/virtio_blk.ko", &["virtio_ring", "virtio"]),
            m(
                "d/virtio_pci.ko",
                &["virtio_pci_legacy_dev", "virtio_ring", "virtio"],
            ),
            m("d/virtio_pci_legacy_dev.ko", &[]),
            m("d/virtio_ring.ko", &[]),
            m("d/virtio.ko", &["virtio_ring"]),
        ];
        assert_eq!(
            load_order(&available, "", &["virtio_pci", "virtio_blk"]).unwrap(),
            [
                "d/virtio_pci_legacy_dev.ko",
                "d/virtio_ring.ko",
                "d/virtio.ko",
                "d/virtio_pci.ko",
                "d/virtio_blk.ko"
            ]
        );
        // Built in: nothing to load for it.
        let builtin = "kernel/drivers/virtio/virtio.ko\nkernel/drivers/virtio/virtio_ring.ko\n";
        assert_eq!(
            load_order(&available, builtin, &["virtio_blk"]).unwrap(),
            ["d/virtio_blk.ko"]
        );
        let e = load_order(&available[..1], "", &["virtio_blk"]).unwrap_err();
        assert!(e.contains("no module virtio_ring"), "{e}");
    }

    #[test]
    fn initramfs_lists_files() {
        let dir = TempDir::new(&std::env::temp_dir(), "osmtrace-guest-test").unwrap();
        let busybox = dir.path().join("busybox");
        let prog = dir.path().join("prog");
        fs::write(&busybox, b"bb").unwrap();
        fs::write(&prog, b"pp").unwrap();
        let kernel = GuestKernel {
            arch: GuestArch::X86_64,
            release: Release::Bookworm,
            dir: dir.path().to_path_buf(),
            vmlinuz: dir.path().join("vmlinuz"),
            config: dir.path().join("config"),
            busybox,
            kernel_package: "k".into(),
            kernel_version: "1".into(),
            busybox_version: "1".into(),
        };
        let out = dir.path().join("initrd.gz");
        if build_initramfs(
            &kernel,
            std::slice::from_ref(&prog),
            &[],
            "echo 'a \"b\"'",
            &out,
        )
        .is_err()
        {
            return; // no gzip here
        }
        let gz = fs::read(&out).unwrap();
        assert_eq!(&gz[..2], b"\x1f\x8b");
        let clash = build_initramfs(&kernel, &[prog.clone(), prog], &[], "true", &out);
        assert!(clash.unwrap_err().contains("already in the initramfs"));
    }
}
