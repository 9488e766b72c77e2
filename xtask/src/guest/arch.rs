//! What each guest architecture is: its QEMU machine and console, its
//! Debian release, kernel package and cross compiler.

use std::fmt;

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

    pub(super) fn suites(self) -> [&'static str; 2] {
        match self {
            Release::Bookworm => ["bookworm", "bookworm-updates"],
            Release::Trixie => ["trixie", "trixie-updates"],
        }
    }

    /// Where busybox-static puts busybox (Debian 13 has merged /usr).
    pub(super) fn busybox_member(self) -> &'static str {
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
                // x-vof: QEMU's own minimal firmware instead of SLOF, which
                // takes TCG about 8 s per boot.
                machine_args: &[
                    "-M",
                    "pseries,cap-cfpc=broken,cap-sbbc=broken,cap-ibs=broken,cap-ccf-assist=off,x-vof=on",
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

    pub(super) fn kernel_metapackage(self) -> &'static str {
        self.guest().kernel_metapackage
    }

    pub(super) fn kernel_flavour(self) -> &'static str {
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
    pub(super) fn disk_transport(self) -> (&'static str, &'static str) {
        match self {
            GuestArch::S390x => ("virtio_ccw", "S390_GUEST"),
            _ => ("virtio_pci", "VIRTIO_PCI"),
        }
    }

    pub fn kernel_image(self) -> &'static str {
        self.guest().kernel_image
    }

    pub(super) fn console(self) -> &'static str {
        self.guest().console
    }

    pub(super) fn machine_args(self) -> &'static [&'static str] {
        self.guest().machine_args
    }
}

impl fmt::Display for GuestArch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.qemu_target())
    }
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
}
