//! What the compiler knows about each QEMU target: bit width, byte order and
//! the registers QEMU exposes to plugins (names as QEMU's gdbstub XML gives
//! them, which is what `qemu_plugin_get_registers` returns). The runtime
//! checks the names again against the running QEMU when a vCPU starts.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Endian {
    Little,
    Big,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    X86_64,
    I386,
    Arm,
    Aarch64,
    Mips,
    Mipsel,
    Mips64,
    Mips64el,
    Ppc64,
    S390x,
    Riscv64,
}

pub struct ArchInfo {
    pub arch: Arch,
    /// The QEMU target name, as in `qemu-system-<name>`.
    pub name: &'static str,
    pub bits: u32,
    /// `None` where the target runs either way (ppc64 is big or little).
    pub endian: Option<Endian>,
    pub registers: fn() -> Vec<(String, u32)>,
}

pub const ARCHES: &[ArchInfo] = &[
    ArchInfo {
        arch: Arch::X86_64,
        name: "x86_64",
        bits: 64,
        endian: Some(Endian::Little),
        registers: x86_64_registers,
    },
    ArchInfo {
        arch: Arch::I386,
        name: "i386",
        bits: 32,
        endian: Some(Endian::Little),
        registers: i386_registers,
    },
    ArchInfo {
        arch: Arch::Arm,
        name: "arm",
        bits: 32,
        endian: Some(Endian::Little),
        registers: arm_registers,
    },
    ArchInfo {
        arch: Arch::Aarch64,
        name: "aarch64",
        bits: 64,
        endian: Some(Endian::Little),
        registers: aarch64_registers,
    },
    ArchInfo {
        arch: Arch::Mips,
        name: "mips",
        bits: 32,
        endian: Some(Endian::Big),
        registers: mips_registers,
    },
    ArchInfo {
        arch: Arch::Mipsel,
        name: "mipsel",
        bits: 32,
        endian: Some(Endian::Little),
        registers: mips_registers,
    },
    ArchInfo {
        arch: Arch::Mips64,
        name: "mips64",
        bits: 64,
        endian: Some(Endian::Big),
        registers: mips64_registers,
    },
    ArchInfo {
        arch: Arch::Mips64el,
        name: "mips64el",
        bits: 64,
        endian: Some(Endian::Little),
        registers: mips64_registers,
    },
    ArchInfo {
        arch: Arch::Ppc64,
        name: "ppc64",
        bits: 64,
        endian: None,
        registers: ppc64_registers,
    },
    ArchInfo {
        arch: Arch::S390x,
        name: "s390x",
        bits: 64,
        endian: Some(Endian::Big),
        registers: s390x_registers,
    },
    ArchInfo {
        arch: Arch::Riscv64,
        name: "riscv64",
        bits: 64,
        endian: Some(Endian::Little),
        registers: riscv64_registers,
    },
];

pub fn lookup(name: &str) -> Option<&'static ArchInfo> {
    ARCHES.iter().find(|a| a.name == name)
}

impl Arch {
    pub fn info(self) -> &'static ArchInfo {
        ARCHES
            .iter()
            .find(|a| a.arch == self)
            .expect("every Arch has an entry in ARCHES")
    }

    pub fn name(self) -> &'static str {
        self.info().name
    }
}

fn numbered(
    prefix: &str,
    range: std::ops::Range<u32>,
    bits: u32,
) -> impl Iterator<Item = (String, u32)> + '_ {
    range.map(move |i| (format!("{prefix}{i}"), bits))
}

fn named(names: &[&str], bits: u32) -> impl Iterator<Item = (String, u32)> {
    names
        .iter()
        .map(move |n| (n.to_string(), bits))
        .collect::<Vec<_>>()
        .into_iter()
}

fn x86_64_registers() -> Vec<(String, u32)> {
    let mut regs: Vec<_> = named(
        &[
            "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "rip",
        ],
        64,
    )
    .chain(numbered("r", 8..16, 64))
    .chain(named(&["eflags", "cs", "ss", "ds", "es", "fs", "gs"], 32))
    .chain(named(
        &[
            "fs_base",
            "gs_base",
            "k_gs_base",
            "cr0",
            "cr2",
            "cr3",
            "cr4",
            "cr8",
            "efer",
        ],
        64,
    ))
    .collect();
    regs.extend(numbered("xmm", 0..16, 128));
    regs.push(("mxcsr".into(), 32));
    regs
}

fn i386_registers() -> Vec<(String, u32)> {
    named(
        &[
            "eax",
            "ecx",
            "edx",
            "ebx",
            "esp",
            "ebp",
            "esi",
            "edi",
            "eip",
            "eflags",
            "cs",
            "ss",
            "ds",
            "es",
            "fs",
            "gs",
            "fs_base",
            "gs_base",
            "k_gs_base",
            "cr0",
            "cr2",
            "cr3",
            "cr4",
            "efer",
            "mxcsr",
        ],
        32,
    )
    .chain(numbered("xmm", 0..8, 128))
    .collect()
}

fn arm_registers() -> Vec<(String, u32)> {
    numbered("r", 0..13, 32)
        .chain(named(&["sp", "lr", "pc", "cpsr", "fpscr"], 32))
        .chain(named(
            &[
                "TPIDRURW",
                "TPIDRURO",
                "TPIDRPRW",
                "CONTEXTIDR_EL1",
                "CONTEXTIDR",
                "SCTLR",
                "DACR",
                "DFSR",
                "IFSR",
                "DFAR",
                "IFAR",
                "VBAR",
            ],
            32,
        ))
        .chain(named(&["TTBR0", "TTBR1"], 64))
        .chain(numbered("d", 0..32, 64))
        .collect()
}

fn aarch64_registers() -> Vec<(String, u32)> {
    numbered("x", 0..31, 64)
        .chain(named(&["sp", "pc"], 64))
        .chain(named(&["cpsr", "fpsr", "fpcr"], 32))
        .chain(named(
            &[
                "SPSR_EL1",
                "ELR_EL1",
                "SP_EL0",
                "SP_EL1",
                "TTBR0_EL1",
                "TTBR1_EL1",
                "TPIDR_EL0",
                "TPIDRRO_EL0",
                "TPIDR_EL1",
                "CONTEXTIDR_EL1",
                "ESR_EL1",
                "FAR_EL1",
                "VBAR_EL1",
                "SCTLR_EL1",
                "TCR_EL1",
                "MAIR_EL1",
            ],
            64,
        ))
        .chain(numbered("v", 0..32, 128))
        .collect()
}

const MIPS_CONTROL: &[&str] = &["sr", "lo", "hi", "badvaddr", "cause", "pc"];

fn mips_registers() -> Vec<(String, u32)> {
    numbered("r", 0..32, 32)
        .chain(named(MIPS_CONTROL, 32))
        .collect()
}

fn mips64_registers() -> Vec<(String, u32)> {
    numbered("r", 0..32, 64)
        .chain(named(MIPS_CONTROL, 64))
        .collect()
}

fn ppc64_registers() -> Vec<(String, u32)> {
    numbered("r", 0..32, 64)
        .chain(named(&["pc", "msr", "lr", "ctr"], 64))
        .chain(named(&["cr", "xer"], 32))
        .collect()
}

fn s390x_registers() -> Vec<(String, u32)> {
    named(&["pswm", "pswa"], 64)
        .chain(numbered("r", 0..16, 64))
        .chain(numbered("acr", 0..16, 32))
        .chain(numbered("cr", 0..16, 64))
        .chain(named(&["prefix", "ckc", "cputm", "last_break"], 64))
        .collect()
}

fn riscv64_registers() -> Vec<(String, u32)> {
    named(
        &[
            "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "fp", "s1", "a0", "a1", "a2", "a3",
            "a4", "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11",
            "t3", "t4", "t5", "t6", "pc", "sstatus", "sepc", "scause", "stval", "satp", "sscratch",
            "mstatus", "mepc", "mhartid", "priv",
        ],
        64,
    )
    .collect()
}
