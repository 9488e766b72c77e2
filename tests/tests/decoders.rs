//! The generated decoders of the shipped models, driven from register and
//! memory snapshots without QEMU, through the same tracer the plugin uses.

use osm_runtime::cpu::SnapshotCpu;
use osm_runtime::format::{Format, Formatter};
use osm_runtime::os::{Compiled, Os};
use osm_runtime::tracer::Tracer;
use osmtrace_linux_arm::LinuxArm;
use osmtrace_linux_x86_64::LinuxX8664;
use std::sync::{Arc, Mutex};

fn tracer<O: Os>(format: Format) -> (Tracer<Compiled<O>>, Arc<Mutex<String>>) {
    let out = Arc::new(Mutex::new(String::new()));
    let sink_out = Arc::clone(&out);
    let model = O::model().expect("embedded model reads back");
    let tracer = Tracer::new(
        Compiled::<O>::new(),
        model,
        2,
        Formatter::new(format),
        Box::new(move |text: &str| sink_out.lock().unwrap().push_str(text)),
    );
    (tracer, out)
}

fn cpu<O: Os>(regs: &[(&str, u64)]) -> SnapshotCpu {
    let mut cpu = SnapshotCpu::with_names(O::REGISTERS.iter().copied());
    for (name, value) in regs {
        cpu.set_reg_named(name, *value).unwrap();
    }
    cpu
}

const FS: u64 = 0x4d5000;
const CR3: u64 = 0x1234000;
const SYSCALL_PC: u64 = 0x401000;
const SYSRETQ: usize = 0; // index in LinuxX8664::EXITS

/// openat(AT_FDCWD, "/etc/hostname", O_CLOEXEC) entering the kernel.
fn enter_openat(tracer: &Tracer<Compiled<LinuxX8664>>) {
    let mut entry = cpu::<LinuxX8664>(&[
        ("rax", 257),
        ("rdi", (-100i64) as u64),
        ("rsi", 0x7000),
        ("rdx", 0x80000),
        ("r10", 0),
        ("fs_base", FS),
        ("cr3", CR3),
    ]);
    entry.map(0x7000, b"/etc/hostname\0".to_vec());
    tracer.on_entry(0, 0, SYSCALL_PC, 2, &entry);
}

/// openat(AT_FDCWD, "/etc/hostname", O_RDONLY|O_CLOEXEC) failing with ENOENT, then
/// write(1, "hi\n", 3) returning 3, in the paper's layout.
#[test]
fn x86_64_paper_output_from_snapshots() {
    let (tracer, out) = tracer::<LinuxX8664>(Format::Paper);
    enter_openat(&tracer);
    let exit = cpu::<LinuxX8664>(&[
        ("rax", (-2i64) as u64),
        ("rcx", SYSCALL_PC + 2),
        ("fs_base", FS),
        ("cr3", CR3),
    ]);
    tracer.on_exit(0, &[SYSRETQ], &exit);

    let mut entry = cpu::<LinuxX8664>(&[
        ("rax", 1),
        ("rdi", 1),
        ("rsi", 0x7100),
        ("rdx", 3),
        ("fs_base", FS),
        ("cr3", CR3),
    ]);
    entry.map(0x7100, b"hi\n".to_vec());
    tracer.on_entry(0, 0, SYSCALL_PC + 0x40, 2, &entry);
    let exit = cpu::<LinuxX8664>(&[
        ("rax", 3),
        ("rcx", SYSCALL_PC + 0x42),
        ("fs_base", FS),
        ("cr3", CR3),
    ]);
    tracer.on_exit(0, &[SYSRETQ], &exit);

    let expected = "\
0x4d5000 entr: 0x101: openat
arg 0: 0xffffffffffffff9c (dirfd dfd )
arg 1: 0x7000 (cstr filename )
arg 2: 0x80000 (open_flags flags )
arg 3: 0x0 (mode mode )
0x4d5000 exit: 0x101: openat
return: 0xfffffffffffffffe
0x4d5000 entr: 0x1: write
arg 0: 0x1 (fd fd )
arg 1: 0x7100 (buf buf )
arg 2: 0x3 (size count )
0x4d5000 exit: 0x1: write
return: 0x3
";
    let got = out.lock().unwrap().clone();
    for (i, (g, e)) in got.lines().zip(expected.lines()).enumerate() {
        assert_eq!(g, e, "line {}", i + 1);
    }
    assert_eq!(got.lines().count(), expected.lines().count(), "{got}");
}

#[test]
fn x86_64_strace_output_decodes_strings_flags_and_errors() {
    let (tracer, out) = tracer::<LinuxX8664>(Format::Strace);
    enter_openat(&tracer);
    // An interrupt return to somewhere else is not this call's exit.
    let interrupt = cpu::<LinuxX8664>(&[("rax", 0), ("rcx", 0x999), ("fs_base", FS), ("cr3", CR3)]);
    tracer.on_exit(0, &[SYSRETQ], &interrupt);
    let exit = cpu::<LinuxX8664>(&[
        ("rax", (-2i64) as u64),
        ("rcx", SYSCALL_PC + 2),
        ("fs_base", FS),
        ("cr3", CR3),
    ]);
    tracer.on_exit(0, &[SYSRETQ], &exit);
    // exit_group never returns and is shown so at once.
    let entry = cpu::<LinuxX8664>(&[("rax", 231), ("rdi", 7), ("fs_base", FS), ("cr3", CR3)]);
    tracer.on_entry(0, 0, SYSCALL_PC + 0x80, 2, &entry);
    assert_eq!(
        out.lock().unwrap().as_str(),
        "[0x4d5000] openat(AT_FDCWD, \"/etc/hostname\", O_CLOEXEC, 0) = -1 ENOENT (No such file or directory)\n\
         [0x4d5000] exit_group(7) = ?\n"
    );
}

/// Thumb `svc` on ARM: number in r7, exit by `movs pc, lr` shared by both
/// mechanisms.
#[test]
fn arm_thumb_call_pairs_with_movs_pc_lr() {
    let (tracer, out) = tracer::<LinuxArm>(Format::Jsonl);
    let thumb = LinuxArm::ENTRIES
        .iter()
        .position(|p| p.bytes.len() == 2)
        .expect("a 16-bit entry");
    let exits: Vec<usize> = (0..LinuxArm::EXITS.len()).collect();
    let entry = cpu::<LinuxArm>(&[("r7", 20), ("TPIDRURO", 0xb6f00000), ("TTBR0", 0x4000_0000)]);
    tracer.on_entry(1, thumb, 0x10000, 2, &entry);
    let exit = cpu::<LinuxArm>(&[
        ("r0", 42),
        ("lr", 0x10002),
        ("TPIDRURO", 0xb6f00000),
        ("TTBR0", 0x4000_0000),
    ]);
    tracer.on_exit(1, &exits, &exit);
    let text = out.lock().unwrap().clone();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with(r#"{"event":"entry","vcpu":1,"thread":3069181952,"process":1073741824,"nr":20,"name":"getpid""#), "{text}");
    assert!(
        lines[1].contains(r#""ret":42"#) && lines[1].contains(r#""error":null"#),
        "{text}"
    );
}

/// A signal handler runs while wait4 blocks; its rt_sigreturn returns to
/// where wait4 would have returned. wait4's own return went to the handler,
/// unseen: it is shown as `?`, and the exit pairs with rt_sigreturn.
#[test]
fn signal_during_blocking_call_pairs_exit_with_sigreturn() {
    let (tracer, out) = tracer::<LinuxX8664>(Format::Strace);
    let wait4 = cpu::<LinuxX8664>(&[
        ("rax", 61),
        ("rdi", u64::MAX),
        ("rsi", 0),
        ("rdx", 0),
        ("r10", 0),
        ("fs_base", FS),
        ("cr3", CR3),
    ]);
    tracer.on_entry(0, 0, SYSCALL_PC, 2, &wait4);
    let sigreturn = cpu::<LinuxX8664>(&[("rax", 15), ("fs_base", FS), ("cr3", CR3)]);
    tracer.on_entry(0, 0, 0x7f0000, 2, &sigreturn);
    let exit = cpu::<LinuxX8664>(&[
        ("rax", 90),
        ("rcx", SYSCALL_PC + 2),
        ("fs_base", FS),
        ("cr3", CR3),
    ]);
    tracer.on_exit(0, &[SYSRETQ], &exit);
    assert_eq!(
        out.lock().unwrap().as_str(),
        "[0x4d5000] wait4(-1, NULL, 0, NULL) = ?\n[0x4d5000] rt_sigreturn() = 90\n"
    );
}
