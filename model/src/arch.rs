//! What the compiler knows about each QEMU target: bit width, byte order and
//! the registers QEMU exposes to plugins (names as QEMU's gdbstub XML gives
//! them, which is what `qemu_plugin_get_registers` returns). The runtime
//! checks the names again against the running QEMU when a vCPU starts.
//!
//! The register lists below are subsets, in QEMU's order, of what QEMU 10.0.2
//! listed for each target when booting the guests of `cargo xtask trace`:
//! every general-purpose register, the program counter and flags, and the
//! system registers that name a thread or an address space or take part in
//! syscall and exception return. docs/registers.md has the complete lists
//! with each register's width; every name and width here must appear there.

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
    /// The register holding the address of the next instruction (for x86,
    /// the offset from the code segment's base, which is 0 in user mode).
    pub pc: &'static str,
    /// Whether QEMU translates this target's code position-independently
    /// in system mode (`CF_PCREL`) and runs one translation wherever its
    /// physical page is mapped: an instruction's address is then known only
    /// when it runs (the program counter at the start of its block), not
    /// from the translation. Elsewhere the translation's address is exact,
    /// and the program counter at a block's start may be stale (ppc64
    /// chains blocks without updating it). Seen on these machines: x86
    /// (vDSO `sysenter` keyed with another process's address), and the
    /// block-start reading checked correct on Arm, AArch64 and RISC-V.
    pub shared_translations: bool,
}

pub const ARCHES: &[ArchInfo] = &[
    ArchInfo {
        arch: Arch::X86_64,
        name: "x86_64",
        bits: 64,
        endian: Some(Endian::Little),
        registers: x86_64_registers,
        pc: "rip",
        shared_translations: true,
    },
    ArchInfo {
        arch: Arch::I386,
        name: "i386",
        bits: 32,
        endian: Some(Endian::Little),
        registers: i386_registers,
        pc: "eip",
        shared_translations: true,
    },
    ArchInfo {
        arch: Arch::Arm,
        name: "arm",
        bits: 32,
        endian: Some(Endian::Little),
        registers: arm_registers,
        pc: "pc",
        shared_translations: true,
    },
    ArchInfo {
        arch: Arch::Aarch64,
        name: "aarch64",
        bits: 64,
        endian: Some(Endian::Little),
        registers: aarch64_registers,
        pc: "pc",
        shared_translations: true,
    },
    ArchInfo {
        arch: Arch::Mips,
        name: "mips",
        bits: 32,
        endian: Some(Endian::Big),
        registers: mips_registers,
        pc: "pc",
        shared_translations: false,
    },
    ArchInfo {
        arch: Arch::Mipsel,
        name: "mipsel",
        bits: 32,
        endian: Some(Endian::Little),
        registers: mips_registers,
        pc: "pc",
        shared_translations: false,
    },
    ArchInfo {
        arch: Arch::Mips64,
        name: "mips64",
        bits: 64,
        endian: Some(Endian::Big),
        registers: mips64_registers,
        pc: "pc",
        shared_translations: false,
    },
    ArchInfo {
        arch: Arch::Mips64el,
        name: "mips64el",
        bits: 64,
        endian: Some(Endian::Little),
        registers: mips64_registers,
        pc: "pc",
        shared_translations: false,
    },
    ArchInfo {
        arch: Arch::Ppc64,
        name: "ppc64",
        bits: 64,
        endian: None,
        registers: ppc64_registers,
        pc: "pc",
        shared_translations: false,
    },
    ArchInfo {
        arch: Arch::S390x,
        name: "s390x",
        bits: 64,
        endian: Some(Endian::Big),
        registers: s390x_registers,
        pc: "pswa",
        shared_translations: false,
    },
    ArchInfo {
        arch: Arch::Riscv64,
        name: "riscv64",
        bits: 64,
        endian: Some(Endian::Little),
        registers: riscv64_registers,
        pc: "pc",
        shared_translations: true,
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

/// All 66 registers QEMU lists for x86_64 (feature `org.gnu.gdb.i386.core`).
fn x86_64_registers() -> Vec<(String, u32)> {
    named(
        &["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp"],
        64,
    )
    .chain(numbered("r", 8..16, 64))
    .chain(named(&["rip"], 64))
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
    .chain(numbered("st", 0..8, 80))
    .chain(named(X87_CONTROL, 32))
    .chain(numbered("xmm", 0..16, 128))
    .chain(named(&["mxcsr"], 32))
    .collect()
}

const X87_CONTROL: &[&str] = &[
    "fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop",
];

/// All 50 registers QEMU lists for i386; the system registers are 32 bits
/// wide here, `fs_base`, `efer` and `k_gs_base` too.
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
            "cr8",
            "efer",
        ],
        32,
    )
    .chain(numbered("st", 0..8, 80))
    .chain(named(X87_CONTROL, 32))
    .chain(numbered("xmm", 0..8, 128))
    .chain(named(&["mxcsr"], 32))
    .collect()
}

/// 32-bit ARM (`-cpu cortex-a15`): the core and VFP registers, and from the
/// system registers the ones for thread and address-space identity (TLS
/// registers, TTBRs, CONTEXTIDR), faults and the vector base.
fn arm_registers() -> Vec<(String, u32)> {
    numbered("r", 0..13, 32)
        .chain(named(&["sp", "lr", "pc", "cpsr"], 32))
        .chain(numbered("d", 0..32, 64))
        .chain(numbered("q", 0..16, 128))
        .chain(named(&["fpscr", "fpexc"], 32))
        .chain(named(&["VBAR"], 32))
        .chain(named(&["PAR"], 64))
        .chain(named(&["DACR"], 32))
        .chain(named(&["TTBR0", "TTBR1"], 64))
        .chain(named(
            &[
                "TTBR0_EL1",
                "TTBR1_EL1",
                "DFAR",
                "TTBCR",
                "IFAR",
                "SCTLR",
                "DFSR",
                "IFSR",
                "CONTEXTIDR_EL1",
                "TPIDRURW",
                "TPIDRURO",
                "TPIDRPRW",
            ],
            32,
        ))
        .collect()
}

/// AArch64 (`-cpu cortex-a57`): core and FP/SIMD registers, and the EL0/EL1
/// system registers for syscall and exception return, thread and
/// address-space identity, faults and translation. QEMU names the vector
/// base and system control registers `VBAR` and `SCTLR` (not `_EL1`).
fn aarch64_registers() -> Vec<(String, u32)> {
    numbered("x", 0..31, 64)
        .chain(named(&["sp", "pc"], 64))
        .chain(named(&["cpsr"], 32))
        .chain(numbered("v", 0..32, 128))
        .chain(named(&["fpsr", "fpcr"], 32))
        .chain(named(
            &[
                "SCTLR",
                "SPSR_EL1",
                "ELR_EL1",
                "VBAR",
                "SP_EL0",
                "TTBR0_EL1",
                "TCR_EL1",
                "TTBR1_EL1",
                "SP_EL1",
                "CONTEXTIDR_EL1",
                "MAIR_EL1",
                "TPIDR_EL1",
                "PAR_EL1",
                "ESR_EL1",
                "TPIDR_EL0",
                "TPIDRRO_EL0",
                "FAR_EL1",
            ],
            64,
        ))
        .collect()
}

/// QEMU 10.0.2 lists no registers at all for MIPS: the target has no gdb
/// XML description, so `qemu_plugin_get_registers` returns an empty list.
/// These are the names GDB gives to QEMU's MIPS gdb register numbers 0..37
/// (`sr` is CP0 Status); handles made as "number + 1" read them (see
/// docs/registers.md), but the runtime has to make them itself
/// ([`unlisted_gdb_registers`]).
const MIPS_CONTROL: &[&str] = &["sr", "lo", "hi", "badvaddr", "cause", "pc"];

/// Registers QEMU serves to plugins by gdb register number without listing
/// them, as (name, gdb register number): MIPS's general-purpose registers
/// are 0..31 and `sr`, `lo`, `hi`, `badvaddr`, `cause`, `pc` are 32..37
/// (QEMU's `mips_cpu_gdb_read_register`). Empty for targets QEMU lists.
pub fn unlisted_gdb_registers(arch: Arch) -> Vec<(String, u32)> {
    match arch {
        Arch::Mips | Arch::Mipsel | Arch::Mips64 | Arch::Mips64el => (0..32)
            .map(|i| (format!("r{i}"), i))
            .chain(
                MIPS_CONTROL
                    .iter()
                    .zip(32..)
                    .map(|(name, i)| (name.to_string(), i)),
            )
            .collect(),
        _ => Vec::new(),
    }
}

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

/// ppc64 (`-M pseries`): the core registers and the SPRs for exception and
/// syscall return (`srr0`/`srr1`, hypervisor `hsrr0`/`hsrr1`), faults
/// (`dar`, `dsisr`), address-space identity (`pidr`, `lpidr`, `ptcr`) and
/// the kernel's per-CPU scratch registers (`sprg0`..`sprg3`, `hsprg0`/1).
/// QEMU lists `xer`, `lr` and `ctr` twice (core, then SPR feature); a name
/// resolves to the first. `dec` is left out: reading it from the vCPU init
/// callback crashes QEMU 10.0.2.
fn ppc64_registers() -> Vec<(String, u32)> {
    numbered("r", 0..32, 64)
        .chain(named(&["pc", "msr"], 64))
        .chain(named(&["cr"], 32))
        .chain(named(&["lr", "ctr"], 64))
        .chain(named(&["xer"], 32))
        .chain(named(
            &[
                "dscr", "dsisr", "dar", "srr0", "srr1", "cfar", "amr", "pidr", "sprg0", "sprg1",
                "sprg2", "sprg3", "pvr", "hsprg0", "hsprg1", "hsrr0", "hsrr1", "lpcr", "lpidr",
                "ptcr", "tar", "ppr", "pir",
            ],
            64,
        ))
        .collect()
}

/// All 107 registers QEMU lists for s390x: PSW, general, access, floating
/// point, vector, guarded-storage and control registers, and the virtual
/// ones (`ckc`, `cputm`, `last_break`, `prefix`).
fn s390x_registers() -> Vec<(String, u32)> {
    named(&["pswm", "pswa"], 64)
        .chain(numbered("r", 0..16, 64))
        .chain(numbered("acr", 0..16, 32))
        .chain(named(&["fpc"], 32))
        .chain(numbered("f", 0..16, 64))
        .chain((0..16).map(|i| (format!("v{i}l"), 64)))
        .chain(numbered("v", 16..32, 128))
        .chain(named(&["gs_reserved", "gsd", "gssm", "gsepla"], 64))
        .chain(numbered("cr", 0..16, 64))
        .chain(named(&["ckc", "cputm", "last_break", "prefix"], 64))
        .collect()
}

/// riscv64 (`-M virt`): the integer registers by ABI name, `pc`, the
/// virtual `priv` (current privilege level) and the supervisor CSRs, plus
/// the few machine-mode ones the old list had.
fn riscv64_registers() -> Vec<(String, u32)> {
    named(
        &[
            "zero",
            "ra",
            "sp",
            "gp",
            "tp",
            "t0",
            "t1",
            "t2",
            "fp",
            "s1",
            "a0",
            "a1",
            "a2",
            "a3",
            "a4",
            "a5",
            "a6",
            "a7",
            "s2",
            "s3",
            "s4",
            "s5",
            "s6",
            "s7",
            "s8",
            "s9",
            "s10",
            "s11",
            "t3",
            "t4",
            "t5",
            "t6",
            "pc",
            "priv",
            "sstatus",
            "sie",
            "stvec",
            "scounteren",
            "senvcfg",
            "sscratch",
            "sepc",
            "scause",
            "stval",
            "sip",
            "satp",
            "mstatus",
            "mepc",
            "mcause",
            "mtval",
            "mhartid",
        ],
        64,
    )
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_arch_lists_its_program_counter_with_its_width() {
        for info in ARCHES {
            let registers = (info.registers)();
            let pc = registers.iter().find(|(name, _)| name == info.pc);
            assert_eq!(pc.map(|(_, bits)| *bits), Some(info.bits), "{}", info.name);
        }
    }

    #[test]
    fn mips_registers_have_gdb_numbers_and_others_are_listed() {
        let numbers = unlisted_gdb_registers(Arch::Mipsel);
        let number = |name: &str| numbers.iter().find(|(n, _)| n == name).map(|(_, i)| *i);
        assert_eq!(
            (
                number("r0"),
                number("r29"),
                number("sr"),
                number("cause"),
                number("pc")
            ),
            (Some(0), Some(29), Some(32), Some(36), Some(37))
        );
        // Every name the compiler accepts for MIPS has a number.
        for (name, _) in mips64_registers() {
            assert!(number(&name).is_some(), "{name}");
        }
        assert!(unlisted_gdb_registers(Arch::S390x).is_empty());
    }
}
