//! The generated decoders of the shipped models, driven from register and
//! memory snapshots without QEMU, through the same tracer the plugin uses.

use osm_compiler::arch::Endian;
use osm_runtime::cpu::{Cpu, SnapshotCpu};
use osm_runtime::filter::FilterSpec;
use osm_runtime::format::{Format, Formatter, JsonlStyle, OutputConfig, jsonl_with};
use osm_runtime::logwriter::LogWriter;
use osm_runtime::os::{Compiled, EntryInsn, Os};
use osm_runtime::raw::{Decoding, RawReader};
use osm_runtime::record::JsonlReader;
use osm_runtime::tracer::Tracer;
use osmtrace_linux_arm::LinuxArm;
use osmtrace_linux_x86_64::LinuxX8664;
use std::cell::Cell;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

fn tracer<O: Os>(format: Format) -> (Tracer<Compiled<O>>, Arc<Mutex<String>>) {
    let out = Arc::new(Mutex::new(String::new()));
    let sink_out = Arc::clone(&out);
    let model = O::model();
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

/// The CPU at an x86_64 `sysretq` returning `rax` to `rcx`, on the thread
/// and address space the x86_64 tests use.
fn sysret(rax: u64, rcx: u64) -> SnapshotCpu {
    cpu::<LinuxX8664>(&[("rax", rax), ("rcx", rcx), ("fs_base", FS), ("cr3", CR3)])
}

/// The x86_64 `syscall` instruction at `pc`.
fn syscall_at(pc: u64) -> EntryInsn {
    EntryInsn::new(pc, &[0x0f, 0x05], Endian::Little)
}

/// ARM `svc #0` at `pc`.
fn arm_svc_at(pc: u64) -> EntryInsn {
    EntryInsn::new(pc, &[0x00, 0x00, 0x00, 0xef], Endian::Little)
}

/// Thumb `svc #0` at `pc`.
fn thumb_svc_at(pc: u64) -> EntryInsn {
    EntryInsn::new(pc, &[0x00, 0xdf], Endian::Little)
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
    tracer.on_entry(0, 0, &syscall_at(SYSCALL_PC), &entry);
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
    tracer.on_entry(0, 0, &syscall_at(SYSCALL_PC + 0x40), &entry);
    let exit = sysret(3, SYSCALL_PC + 0x42);
    tracer.on_exit(0, &[SYSRETQ], &exit);

    let expected = "\
0x4d5000 entr: 0x101: openat
arg 0: 0xffffffffffffff9c (dirfd dfd )
arg 1: 0x7000 (path filename )
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

/// With several vCPUs the plugin queues events per vCPU: nothing is written
/// until the queues are drained, and a vCPU going idle drains them, so an
/// idle guest's last calls do not wait for its next ones.
#[test]
fn queued_events_are_written_when_a_vcpu_goes_idle() {
    let (tracer, out) = tracer::<LinuxX8664>(Format::Strace);
    let tracer = tracer.queue_per_vcpu();
    enter_openat(&tracer);
    let exit = sysret(3, SYSCALL_PC + 2);
    tracer.on_exit(0, &[SYSRETQ], &exit);
    assert_eq!(*out.lock().unwrap(), "");
    tracer.on_idle();
    assert_eq!(
        *out.lock().unwrap(),
        "[0x4d5000] openat(AT_FDCWD, \"/etc/hostname\", O_RDONLY|O_CLOEXEC) = 3\n"
    );
    assert_eq!(tracer.exits(), 1);
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
    tracer.on_entry(0, 0, &syscall_at(SYSCALL_PC + 0x80), &entry);
    assert_eq!(
        out.lock().unwrap().as_str(),
        "[0x4d5000] openat(AT_FDCWD, \"/etc/hostname\", O_RDONLY|O_CLOEXEC) = -1 ENOENT (No such file or directory)\n\
         [0x4d5000] exit_group(7) = ?\n\
         [0x4d5000] +++ exited with 7 +++\n"
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
    tracer.on_entry(1, thumb, &thumb_svc_at(0x10000), &entry);
    let exit = cpu::<LinuxArm>(&[
        ("r0", 42),
        ("lr", 0x10002),
        ("cpsr", 0x13),
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
    tracer.on_entry(0, 0, &syscall_at(SYSCALL_PC), &wait4);
    let sigreturn = x86_sigreturn();
    tracer.on_entry(0, 0, &syscall_at(0x7f0000), &sigreturn);
    let exit = sysret(90, SYSCALL_PC + 2);
    tracer.on_exit(0, &[SYSRETQ], &exit);
    assert_eq!(
        out.lock().unwrap().as_str(),
        "[0x4d5000] wait4(-1, NULL, 0, NULL) = ?\n[0x4d5000] rt_sigreturn({mask=[]}) = 90\n"
    );
}

/// The x86_64 exits an `iretq` matches (one per mechanism that has it), as
/// the plugin passes them.
fn iretq() -> Vec<usize> {
    (0..LinuxX8664::EXITS.len())
        .filter(|&i| {
            LinuxX8664::EXITS[i]
                .1
                .matches(0xffff_ffff_8100_0000, &[0x48, 0xcf])
        })
        .collect()
}

/// An `iretq` to user mode at `resume` with `rax`, for thread FS of CR3:
/// rip, then cs (the 64-bit user code segment), on the stack.
fn iretq_cpu(resume: u64, rax: u64) -> SnapshotCpu {
    let mut cpu =
        cpu::<LinuxX8664>(&[("rax", rax), ("rsp", 0x9000), ("fs_base", FS), ("cr3", CR3)]);
    cpu.map(
        0x9000,
        [resume.to_le_bytes(), 0x33u64.to_le_bytes()].concat(),
    );
    cpu
}

/// A raw `syscall()` (libc's wrapper: one instruction for every call) of
/// thread FS: `rax` and the first arguments.
fn x86_entry(rax: u64, args: &[u64]) -> SnapshotCpu {
    let mut c = cpu::<LinuxX8664>(&[("rax", rax), ("fs_base", FS), ("cr3", CR3)]);
    for (name, value) in ["rdi", "rsi", "rdx"].iter().zip(args) {
        c.set_reg_named(name, *value).unwrap();
    }
    c
}

/// rt_sigreturn's entry on the handler's stack, whose frame restores an
/// empty signal mask (at rsp + 296).
fn x86_sigreturn() -> SnapshotCpu {
    let mut c = x86_entry(15, &[]);
    c.set_reg_named("rsp", 0x7ff000).unwrap();
    c.map(0x7ff000 + 296, 0u64.to_le_bytes());
    c
}

/// A handler interrupts read() and makes a call through the same
/// instruction (both through libc's `syscall()`): same thread, process and
/// resume address. The handler's call pairs with its own exit, and nothing
/// else that returns there ends the read: it stays pending until the
/// handler's rt_sigreturn ends it (`?`), and rt_sigreturn returns what read
/// would have: -EINTR.
#[test]
fn handler_call_through_the_interrupted_calls_instruction() {
    let (tracer, out) = tracer::<LinuxX8664>(Format::Strace);
    tracer.on_entry(0, 0, &syscall_at(SYSCALL_PC), &x86_entry(0, &[3, 0, 16]));
    // The return to the handler is no call's.
    tracer.on_exit(0, &iretq(), &iretq_cpu(0x401800, 0));
    let mut write = x86_entry(1, &[1, 0x7100, 8]);
    write.map(0x7100, b"handler\n".to_vec());
    x86_call(&tracer, SYSCALL_PC, write, 8);
    // Interrupts in the handler, right after its call and at the call's
    // instruction: neither is the read's return nor its restart.
    tracer.on_exit(0, &iretq(), &iretq_cpu(SYSCALL_PC + 2, 8));
    tracer.on_exit(0, &iretq(), &iretq_cpu(SYSCALL_PC, 8));
    tracer.on_entry(0, 0, &syscall_at(0x7f0000), &x86_sigreturn());
    tracer.on_exit(0, &iretq(), &iretq_cpu(SYSCALL_PC + 2, (-4i64) as u64));
    assert_eq!(
        out.lock().unwrap().as_str(),
        "[0x4d5000] read(3,  <unfinished ...>\n\
         [0x4d5000] write(1, \"handler\\n\", 8) = 8\n\
         [0x4d5000] <... read resumed>NULL, 16) = ?\n\
         [0x4d5000] rt_sigreturn({mask=[]}) = -1 EINTR (Interrupted system call)\n"
    );
    assert_eq!(tracer.stats.interrupted.load(Ordering::Relaxed), 1);
}

/// The kernel may switch away from a thread in rt_sigreturn: another
/// thread makes calls on that vCPU first, and the thread resumes on the
/// other vCPU. Its next exit is still rt_sigreturn's.
#[test]
fn sigreturn_returns_after_other_threads_calls_and_elsewhere() {
    let (tracer, out) = tracer::<LinuxX8664>(Format::Strace);
    tracer.on_entry(0, 0, &syscall_at(SYSCALL_PC), &x86_entry(0, &[9, 0, 16]));
    tracer.on_entry(0, 0, &syscall_at(0x7f0000), &x86_sigreturn());
    let other = |c: SnapshotCpu| {
        c.tap(|c| {
            c.set_reg_named("fs_base", 0x5000).unwrap();
        })
    };
    tracer.on_entry(0, 0, &syscall_at(0x405000), &other(x86_entry(110, &[])));
    tracer.on_exit(0, &iretq(), &other(iretq_cpu(0x405002, 1)));
    tracer.on_exit(1, &iretq(), &iretq_cpu(SYSCALL_PC, 9));
    tracer.on_entry(1, 0, &syscall_at(SYSCALL_PC), &x86_entry(0, &[9, 0, 16]));
    assert_eq!(
        out.lock().unwrap().as_str(),
        "[0x4d5000] read(9, NULL, 16) = ?\n\
         [0x4d5000] rt_sigreturn({mask=[]} <unfinished ...>\n\
         [0x5000] getppid() = 1\n\
         [0x4d5000] <... rt_sigreturn resumed>) = 9\n"
    );
}

/// A thread's identity changes during arch_prctl(ARCH_SET_FS): its exit
/// pairs on process and resume address, as the last call entered on the
/// vCPU, and shows on the line its entry began, as strace shows it. An interrupt just after another thread's call through the same
/// instruction as a blocked call is not the blocked call's exit.
#[test]
fn identity_change_and_an_interrupt_after_another_threads_call() {
    let (tracer, out) = tracer::<LinuxX8664>(Format::Strace);
    let b = |c: SnapshotCpu| {
        c.tap(|c| {
            c.set_reg_named("fs_base", 0x5000).unwrap();
        })
    };
    tracer.on_entry(0, 0, &syscall_at(SYSCALL_PC), &x86_entry(0, &[3, 0, 16]));
    x86_call(&tracer, SYSCALL_PC, b(x86_entry(110, &[])), 1);
    tracer.on_exit(0, &iretq(), &b(iretq_cpu(SYSCALL_PC + 2, 1)));
    tracer.on_entry(
        0,
        0,
        &syscall_at(0x406000),
        &b(x86_entry(158, &[0x1002, 0x6000])),
    );
    let new_tls = iretq_cpu(0x406002, 0).tap(|c| {
        c.set_reg_named("fs_base", 0x6000).unwrap();
    });
    tracer.on_exit(0, &iretq(), &new_tls);
    tracer.on_exit(0, &iretq(), &iretq_cpu(SYSCALL_PC + 2, 5));
    assert_eq!(
        out.lock().unwrap().as_str(),
        "[0x4d5000] read(3,  <unfinished ...>\n\
         [0x5000] getppid() = 1\n\
         [0x5000] arch_prctl(ARCH_SET_FS, 0x6000) = 0\n\
         [0x4d5000] <... read resumed>NULL, 16) = 5\n"
    );
    assert_eq!(tracer.stats.rekeyed_returns.load(Ordering::Relaxed), 1);
}

/// Under a tracer in the guest (strace, ptrace): the traced task stops at
/// its arch_prctl(ARCH_SET_FS)'s exit while the tracer's calls enter and
/// return on the vCPU; the call then returns with its new identity. It is
/// no longer the vCPU's last entry, but the one set aside when the other
/// process's first call entered.
#[test]
fn identity_change_after_a_tracer_processes_calls() {
    let (tracer, out) = tracer::<LinuxX8664>(Format::Strace);
    let straced = |c: SnapshotCpu| {
        c.tap(|c| {
            c.set_reg_named("fs_base", 0x5000).unwrap();
        })
    };
    let strace = |c: SnapshotCpu| {
        c.tap(|c| {
            c.set_reg_named("fs_base", 0x7000).unwrap();
            c.set_reg_named("cr3", 0x2000000).unwrap();
        })
    };
    tracer.on_entry(
        0,
        0,
        &syscall_at(0x406000),
        &straced(x86_entry(158, &[0x1002, 0x6000])),
    );
    x86_call(&tracer, 0x402000, strace(x86_entry(39, &[])), 85);
    x86_call(&tracer, 0x402000, strace(x86_entry(110, &[])), 1);
    // The tracer waits again, its wait4 the last call entered.
    tracer.on_entry(
        0,
        0,
        &syscall_at(0x402000),
        &strace(x86_entry(61, &[0xffffffffffffffff, 0, 0x40000000])),
    );
    let new_tls = iretq_cpu(0x406002, 0).tap(|c| {
        c.set_reg_named("fs_base", 0x6000).unwrap();
    });
    tracer.on_exit(0, &iretq(), &new_tls);
    assert_eq!(
        out.lock().unwrap().as_str(),
        "[0x5000] arch_prctl(ARCH_SET_FS, 0x6000 <unfinished ...>\n\
         [0x7000] getpid() = 85\n\
         [0x7000] getppid() = 1\n\
         [0x7000] wait4(-1,  <unfinished ...>\n\
         [0x6000] <... arch_prctl resumed>) = 0\n"
    );
    assert_eq!(tracer.stats.rekeyed_returns.load(Ordering::Relaxed), 1);
}

/// Seen on an AArch64 guest under load: a signal handler's call returns
/// (its blocked read stays pending, superseded), another thread enters
/// nanosleep through the same instruction, then an interrupt returns to the
/// handler's thread there. That thread has a call pending: it did not just
/// change its identity, so the interrupt ends no call.
#[test]
fn an_interrupt_to_a_thread_with_a_pending_call_is_no_identity_change() {
    let (tracer, out) = tracer::<LinuxX8664>(Format::Strace);
    let main = |c: SnapshotCpu| {
        c.tap(|c| {
            c.set_reg_named("fs_base", 0x5000).unwrap();
        })
    };
    tracer.on_entry(0, 0, &syscall_at(SYSCALL_PC), &x86_entry(0, &[3, 0, 16]));
    x86_call(&tracer, SYSCALL_PC, x86_entry(110, &[]), 19);
    tracer.on_entry(0, 0, &syscall_at(SYSCALL_PC), &main(x86_entry(35, &[0, 0])));
    tracer.on_exit(0, &iretq(), &iretq_cpu(SYSCALL_PC + 2, 19));
    tracer.on_exit(0, &iretq(), &main(iretq_cpu(SYSCALL_PC + 2, 0)));
    assert_eq!(
        out.lock().unwrap().as_str(),
        "[0x4d5000] read(3,  <unfinished ...>\n\
         [0x4d5000] getppid() = 19\n\
         [0x5000] nanosleep(NULL, NULL) = 0\n"
    );
    assert_eq!(tracer.stats.rekeyed_returns.load(Ordering::Relaxed), 0);
}

/// Seen on an AArch64 guest under load: the main thread's nanosleep
/// returns, a reader enters read() through the same instruction and
/// blocks, then an interrupt returns to the main thread there. The main
/// thread returned from a call lately: it did not just change its
/// identity, so the interrupt does not end the read.
#[test]
fn an_interrupt_to_a_thread_that_returned_lately_is_no_identity_change() {
    let (tracer, out) = tracer::<LinuxX8664>(Format::Strace);
    let main = |c: SnapshotCpu| {
        c.tap(|c| {
            c.set_reg_named("fs_base", 0x5000).unwrap();
        })
    };
    x86_call(&tracer, SYSCALL_PC, main(x86_entry(35, &[0, 0])), 0);
    tracer.on_entry(0, 0, &syscall_at(SYSCALL_PC), &x86_entry(0, &[3, 0, 16]));
    tracer.on_exit(0, &iretq(), &main(iretq_cpu(SYSCALL_PC + 2, 0)));
    tracer.on_exit(0, &iretq(), &iretq_cpu(SYSCALL_PC + 2, 5));
    assert_eq!(
        out.lock().unwrap().as_str(),
        "[0x5000] nanosleep(NULL, NULL) = 0\n\
         [0x4d5000] read(3, NULL, 16) = 5\n"
    );
    assert_eq!(tracer.stats.rekeyed_returns.load(Ordering::Relaxed), 0);
}

/// Seen on x86_64 with two vCPUs: a fork child's execve is pending on vCPU
/// 1 (it shares its parent's TLS, so its thread identity) while its parent
/// returns from a call on vCPU 0 and an interrupt then returns to the
/// parent with rax 0. That is not the exec's return; the new image's is.
#[test]
fn an_interrupt_to_the_task_that_just_returned_is_no_exec_return() {
    let (tracer, out) = tracer::<LinuxX8664>(Format::Strace);
    let mut exec = x86_entry(59, &[0x7000, 0, 0]).tap(|c| {
        c.set_reg_named("cr3", 0x2000000).unwrap();
    });
    exec.map(0x7000, b"/hard\0".to_vec());
    tracer.on_entry(1, 0, &syscall_at(SYSCALL_PC), &exec);
    x86_call(&tracer, 0x402000, x86_entry(110, &[]), 1);
    tracer.on_exit(0, &iretq(), &iretq_cpu(0x402345, 0));
    assert_eq!(tracer.stats.exec_returns.load(Ordering::Relaxed), 0);
    let image = cpu::<LinuxX8664>(&[
        ("rax", 0),
        ("rcx", 0x400100),
        ("fs_base", 0),
        ("cr3", 0x3000000),
    ]);
    tracer.on_exit(1, &[SYSRETQ], &image);
    assert_eq!(tracer.stats.exec_returns.load(Ordering::Relaxed), 1);
    assert!(
        out.lock().unwrap().contains("<... execve resumed>) = 0\n"),
        "{}",
        out.lock().unwrap()
    );
}

/// Seen on an AArch64 guest under load: a fork child's execve blocks, its
/// parent enters wait4 on the same vCPU meanwhile, then the exec returns
/// into the new image (no TLS yet, another address space). It is still the
/// exec's return, although the exec is no longer the vCPU's last entry.
#[test]
fn an_exec_returns_after_another_task_entered_a_call() {
    let (tracer, out) = tracer::<LinuxX8664>(Format::Strace);
    let mut exec = x86_entry(59, &[0x7000, 0, 0]).tap(|c| {
        c.set_reg_named("cr3", 0x2000000).unwrap();
    });
    exec.map(0x7000, b"/hard\0".to_vec());
    tracer.on_entry(0, 0, &syscall_at(SYSCALL_PC), &exec);
    tracer.on_entry(0, 0, &syscall_at(0x402000), &x86_entry(61, &[89, 0, 0]));
    let image = cpu::<LinuxX8664>(&[
        ("rax", 0),
        ("rcx", 0x400100),
        ("fs_base", 0),
        ("cr3", 0x3000000),
    ]);
    tracer.on_exit(0, &[SYSRETQ], &image);
    assert_eq!(tracer.stats.exec_returns.load(Ordering::Relaxed), 1);
    assert!(
        out.lock().unwrap().contains("<... execve resumed>) = 0\n"),
        "{}",
        out.lock().unwrap()
    );
}

/// Seen on ARM and AArch64 guests: a reader blocks in read() just after
/// the main thread entered a call through the same instruction; the main
/// thread's call returns, then an interrupt returns to the main thread at
/// that instruction. The read was the last call entered on the vCPU, but a
/// call has returned there since: the interrupt is not the read's return
/// with a new identity.
#[test]
fn an_interrupt_after_a_return_is_not_a_blocked_calls_identity_change() {
    let (tracer, out) = tracer::<LinuxX8664>(Format::Strace);
    let main = |c: SnapshotCpu| {
        c.tap(|c| {
            c.set_reg_named("fs_base", 0x5000).unwrap();
        })
    };
    tracer.on_entry(0, 0, &syscall_at(SYSCALL_PC), &main(x86_entry(110, &[])));
    tracer.on_entry(0, 0, &syscall_at(SYSCALL_PC), &x86_entry(0, &[3, 0, 16]));
    tracer.on_exit(0, &iretq(), &main(iretq_cpu(SYSCALL_PC + 2, 1)));
    tracer.on_exit(0, &iretq(), &main(iretq_cpu(SYSCALL_PC + 2, 0)));
    tracer.on_exit(0, &iretq(), &iretq_cpu(SYSCALL_PC + 2, 5));
    let text = out.lock().unwrap().clone();
    assert!(
        text.contains("[0x5000] <... getppid resumed>) = 1\n"),
        "{text}"
    );
    assert!(
        text.ends_with("[0x4d5000] <... read resumed>NULL, 16) = 5\n"),
        "{text}"
    );
    assert_eq!(tracer.stats.rekeyed_returns.load(Ordering::Relaxed), 0);
}

/// A stopped and continued thread: the kernel restarts read() by
/// returning to its `syscall` instruction (rax back to the number), and
/// nanosleep() the same way as restart_syscall. Each restarted call shows
/// `?` and is entered again.
#[test]
fn kernel_restart_shows_the_call_unfinished_and_entered_again() {
    let (tracer, out) = tracer::<LinuxX8664>(Format::Strace);
    tracer.on_entry(0, 0, &syscall_at(SYSCALL_PC), &x86_entry(0, &[3, 0, 16]));
    tracer.on_exit(0, &iretq(), &iretq_cpu(SYSCALL_PC, 0));
    // The thread may resume on the other vCPU.
    tracer.on_entry(1, 0, &syscall_at(SYSCALL_PC), &x86_entry(0, &[3, 0, 16]));
    tracer.on_exit(1, &iretq(), &iretq_cpu(SYSCALL_PC + 2, 2));

    tracer.on_entry(1, 0, &syscall_at(SYSCALL_PC), &x86_entry(35, &[0, 0]));
    tracer.on_exit(0, &iretq(), &iretq_cpu(SYSCALL_PC, 219));
    tracer.on_entry(0, 0, &syscall_at(SYSCALL_PC), &x86_entry(219, &[]));
    tracer.on_exit(0, &iretq(), &iretq_cpu(SYSCALL_PC + 2, 0));
    assert_eq!(
        out.lock().unwrap().as_str(),
        "[0x4d5000] read(3, NULL, 16) = ?\n\
         [0x4d5000] read(3, NULL, 16) = 2\n\
         [0x4d5000] nanosleep(NULL, NULL) = ?\n\
         [0x4d5000] restart_syscall() = 0\n"
    );
    assert_eq!(tracer.stats.restarted.load(Ordering::Relaxed), 2);
}

/// vfork: the child shares the parent's memory and TLS, so its return (0)
/// has the parent's very key; the parent's return (the child's pid) comes
/// after the child has exited, and both are shown.
#[test]
fn vfork_child_with_the_parents_identity_and_the_parents_return() {
    let (tracer, out) = tracer::<LinuxX8664>(Format::Strace);
    let vfork_pc = 0x402000;
    tracer.on_entry(0, 0, &syscall_at(vfork_pc), &x86_entry(58, &[]));
    tracer.on_exit(0, &iretq(), &iretq_cpu(vfork_pc + 2, 0));
    x86_call(&tracer, SYSCALL_PC, x86_entry(39, &[]), 88);
    tracer.on_entry(0, 0, &syscall_at(SYSCALL_PC), &x86_entry(231, &[6]));
    tracer.on_exit(0, &iretq(), &iretq_cpu(vfork_pc + 2, 88));
    // The call is over: a later 0 at the same place is no child of it.
    tracer.on_exit(0, &iretq(), &iretq_cpu(vfork_pc + 2, 0));
    assert_eq!(
        out.lock().unwrap().as_str(),
        "[0x4d5000] vfork() = 0\n\
         [0x4d5000] getpid() = 88\n\
         [0x4d5000] exit_group(6) = ?\n\
         [0x4d5000] +++ exited with 6 +++\n\
         [0x4d5000] <... vfork resumed>) = 88\n"
    );
    assert_eq!(tracer.stats.child_returns.load(Ordering::Relaxed), 1);
}

/// A vfork child that calls through the very instruction its parent's
/// vfork did (both through libc's `syscall()`), on the parent's stack: its
/// calls have the parent's call's key, and are the child's, not a handler
/// of the parent's superseding the vfork (the parent waits in the kernel
/// until the child exits). The parent's return still pairs.
#[test]
fn a_vfork_childs_call_through_the_same_instruction_leaves_the_parents_call() {
    let (tracer, out) = tracer::<LinuxX8664>(Format::Strace);
    tracer.on_entry(0, 0, &syscall_at(SYSCALL_PC), &x86_entry(58, &[]));
    tracer.on_exit(0, &iretq(), &iretq_cpu(SYSCALL_PC + 2, 0));
    x86_call(&tracer, SYSCALL_PC, x86_entry(39, &[]), 88);
    tracer.on_entry(0, 0, &syscall_at(SYSCALL_PC), &x86_entry(231, &[3]));
    tracer.on_exit(0, &iretq(), &iretq_cpu(SYSCALL_PC + 2, 88));
    assert_eq!(
        out.lock().unwrap().as_str(),
        "[0x4d5000] vfork() = 0\n\
         [0x4d5000] getpid() = 88\n\
         [0x4d5000] exit_group(3) = ?\n\
         [0x4d5000] +++ exited with 3 +++\n\
         [0x4d5000] <... vfork resumed>) = 88\n"
    );
}

/// Seen on an AArch64 guest: an interrupt returns to the vfork child right
/// after its 0, at the same instruction, with the same identity and the 0
/// still in the return register. Until a call enters on the vCPU, an exit
/// with the key of the call that just returned there is no return: the
/// parent's call stays pending for the parent's pid.
#[test]
fn an_interrupt_right_after_a_vfork_childs_return_is_not_the_parents() {
    let (tracer, out) = tracer::<LinuxX8664>(Format::Strace);
    let vfork_pc = 0x402000;
    tracer.on_entry(0, 0, &syscall_at(vfork_pc), &x86_entry(58, &[]));
    tracer.on_exit(0, &iretq(), &iretq_cpu(vfork_pc + 2, 0));
    tracer.on_exit(0, &iretq(), &iretq_cpu(vfork_pc + 2, 0));
    tracer.on_entry(0, 0, &syscall_at(SYSCALL_PC), &x86_entry(231, &[6]));
    tracer.on_exit(0, &iretq(), &iretq_cpu(vfork_pc + 2, 88));
    assert_eq!(
        out.lock().unwrap().as_str(),
        "[0x4d5000] vfork() = 0\n\
         [0x4d5000] exit_group(6) = ?\n\
         [0x4d5000] +++ exited with 6 +++\n\
         [0x4d5000] <... vfork resumed>) = 88\n"
    );
}

/// The kernel's return into a signal handler (x86_64's rt frame): `rdi`
/// the signal, `rsi` &frame->info holding `siginfo` (a `siginfo_t`'s
/// first 24 bytes), `rdx` &frame->uc whose mcontext saved the interrupted
/// call's rax (`saved_rax`) and rip (`saved_rip`).
fn handler_entry(signal: u64, siginfo: [i32; 6], saved_rax: u64, saved_rip: u64) -> SnapshotCpu {
    const HANDLER: u64 = 0x405000;
    const INFO: u64 = 0x8000;
    const UC: u64 = 0x8100;
    let mut cpu = iretq_cpu(HANDLER, 0);
    for (name, value) in [("rdi", signal), ("rsi", INFO), ("rdx", UC)] {
        cpu.set_reg_named(name, value).unwrap();
    }
    cpu.map(
        INFO,
        siginfo
            .iter()
            .flat_map(|f| f.to_le_bytes())
            .collect::<Vec<u8>>(),
    );
    let mut uc = vec![0u8; 176];
    uc[144..152].copy_from_slice(&saved_rax.to_le_bytes());
    uc[168..176].copy_from_slice(&saved_rip.to_le_bytes());
    cpu.map(UC, uc);
    cpu
}

/// Signal delivery as strace shows it: kill() returning 0 into a
/// SA_SIGINFO handler shows its saved return at once, then the signal's
/// line with the siginfo's fields; the handler's rt_sigreturn returns the
/// restored 0. A read the kernel rewinds to restart (saved rip at its
/// syscall instruction) shows `?`, and a siginfo the kernel did not fill
/// (another signal's number in it: a handler without SA_SIGINFO) shows
/// the signal alone. Each process's exit_group is followed by its end.
#[test]
fn x86_64_signal_delivery_lines() {
    let (tracer, out) = tracer::<LinuxX8664>(Format::Strace);
    let restorer = 0x406000;
    // kill(83, SIGUSR1): SI_USER (0) from pid 83, uid 0.
    tracer.on_entry(0, 0, &syscall_at(SYSCALL_PC), &x86_entry(62, &[83, 10]));
    let info = [10, 0, 0, 0, 83, 0];
    tracer.on_exit(0, &iretq(), &handler_entry(10, info, 0, SYSCALL_PC + 2));
    tracer.on_entry(0, 0, &syscall_at(restorer), &x86_sigreturn());
    tracer.on_exit(0, &iretq(), &iretq_cpu(SYSCALL_PC + 2, 0));
    // read(3, ...) rewound for SIGUSR2 (12); the frame's info is stale.
    tracer.on_entry(0, 0, &syscall_at(SYSCALL_PC), &x86_entry(0, &[3, 0, 16]));
    let stale = [17, 0, 1, 0, 5, 0];
    tracer.on_exit(0, &iretq(), &handler_entry(12, stale, 3, SYSCALL_PC));
    tracer.on_entry(
        0,
        0,
        &syscall_at(SYSCALL_PC + 0x80),
        &x86_entry(231, &[0x107]),
    );
    assert_eq!(
        out.lock().unwrap().as_str(),
        "[0x4d5000] kill(83, SIGUSR1) = 0\n\
         [0x4d5000] --- SIGUSR1 {si_signo=SIGUSR1, si_code=SI_USER, si_pid=83, si_uid=0} ---\n\
         [0x4d5000] rt_sigreturn({mask=[]}) = 0\n\
         [0x4d5000] read(3, NULL, 16) = ?\n\
         [0x4d5000] --- SIGUSR2 {si_signo=SIGUSR2, ...} ---\n\
         [0x4d5000] exit_group(263) = ?\n\
         [0x4d5000] +++ exited with 7 +++\n"
    );
}

/// A signal that waits for a handler's rt_sigreturn (blocked by the
/// handler's mask) is delivered on its way out: the kernel builds the next
/// frame on the restored context, and rt_sigreturn returns into the next
/// handler. It shows the restored return that frame keeps (strace's `= -1
/// EPIPE`, where the handler's rax is 0), then the signal's line; the
/// second handler's rt_sigreturn returns to the write's caller.
#[test]
fn a_sigreturn_into_the_next_handler_shows_both() {
    let (tracer, out) = tracer::<LinuxX8664>(Format::Strace);
    let restorer = 0x406000;
    let in_handler = 0x405100;
    let epipe = (-32i64) as u64;
    tracer.on_entry(0, 0, &syscall_at(SYSCALL_PC), &x86_entry(1, &[4, 0, 1]));
    let info = [13, 0, 0, 0, 83, 0];
    tracer.on_exit(0, &iretq(), &handler_entry(13, info, epipe, SYSCALL_PC + 2));
    tracer.on_entry(0, 0, &syscall_at(in_handler), &x86_entry(62, &[83, 28]));
    tracer.on_exit(0, &iretq(), &iretq_cpu(in_handler + 2, 0));
    tracer.on_entry(0, 0, &syscall_at(restorer), &x86_sigreturn());
    let info = [28, 0, 0, 0, 83, 0];
    tracer.on_exit(0, &iretq(), &handler_entry(28, info, epipe, SYSCALL_PC + 2));
    tracer.on_entry(0, 0, &syscall_at(restorer), &x86_sigreturn());
    tracer.on_exit(0, &iretq(), &iretq_cpu(SYSCALL_PC + 2, epipe));
    // An interrupt's return into the caller is no handler's.
    tracer.on_entry(0, 0, &syscall_at(SYSCALL_PC), &x86_entry(39, &[]));
    tracer.on_exit(0, &iretq(), &iretq_cpu(SYSCALL_PC + 2, 83));
    assert_eq!(
        out.lock().unwrap().as_str(),
        "[0x4d5000] write(4, NULL, 1) = -1 EPIPE (Broken pipe)\n\
         [0x4d5000] --- SIGPIPE {si_signo=SIGPIPE, si_code=SI_USER, si_pid=83, si_uid=0} ---\n\
         [0x4d5000] kill(83, SIGWINCH) = 0\n\
         [0x4d5000] rt_sigreturn({mask=[]}) = -1 EPIPE (Broken pipe)\n\
         [0x4d5000] --- SIGWINCH {si_signo=SIGWINCH, si_code=SI_USER, si_pid=83, si_uid=0} ---\n\
         [0x4d5000] rt_sigreturn({mask=[]}) = -1 EPIPE (Broken pipe)\n\
         [0x4d5000] getpid() = 83\n"
    );
}

/// Where the clone3 calls of the next tests enter.
const CLONE_PC: u64 = 0x403000;

/// An `iretq` from clone3 into the thread named by `fs`, returning `rax`.
fn clone_return(fs: u64, rax: u64) -> SnapshotCpu {
    iretq_cpu(CLONE_PC + 2, rax).tap(|c| {
        c.set_reg_named("fs_base", fs).unwrap();
    })
}

/// A child's first return is not the call its parent entered, though it
/// ends it in the table: strace's writer does not join it onto the
/// parent's line (which would read as the parent's clone returning 0).
#[test]
fn a_childs_return_is_not_joined_onto_its_parents_entry() {
    let (tracer, out) = tracer::<LinuxX8664>(Format::Strace);
    tracer.on_entry(0, 0, &syscall_at(CLONE_PC), &x86_entry(435, &[0x7000, 88]));
    tracer.on_exit(1, &iretq(), &clone_return(0x5000, 0));
    tracer.on_exit(0, &iretq(), &clone_return(FS, 100));
    let text = out.lock().unwrap().clone();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].ends_with(" <unfinished ...>"), "{text}");
    assert!(
        lines[1].starts_with("[0x5000] <... clone3 resumed>") && lines[1].ends_with(" = 0"),
        "{text}"
    );
    assert!(lines[2].ends_with(" = 100"), "{text}");
}

/// A new thread may return from clone3 before its parent does. The
/// parent's return then ends the call: a later thread's return belongs to
/// the later clone3 (its own arguments), not to the finished one.
#[test]
fn child_returning_before_its_parent_leaves_nothing_behind() {
    let (tracer, out) = tracer::<LinuxX8664>(Format::Jsonl);
    tracer.on_entry(0, 0, &syscall_at(CLONE_PC), &x86_entry(435, &[0x7000, 88]));
    tracer.on_exit(1, &iretq(), &clone_return(0x5000, 0)); // child first
    tracer.on_exit(0, &iretq(), &clone_return(FS, 100));
    tracer.on_entry(0, 0, &syscall_at(CLONE_PC), &x86_entry(435, &[0x7100, 88]));
    tracer.on_exit(0, &iretq(), &clone_return(FS, 101)); // parent first
    tracer.on_exit(1, &iretq(), &clone_return(0x6000, 0));
    let text = out.lock().unwrap().clone();
    let exits: Vec<(u64, u64, u64)> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["event"] == "exit")
        .map(|e| {
            (
                e["thread"].as_u64().unwrap(),
                e["args"][0]["value"].as_u64().unwrap(),
                e["ret"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        exits,
        [
            (0x5000, 0x7000, 0),
            (FS, 0x7000, 100),
            (FS, 0x7100, 101),
            (0x6000, 0x7100, 0)
        ],
        "{text}"
    );
}

fn tracer_with<O: Os>(config: OutputConfig) -> (Tracer<Compiled<O>>, Arc<Mutex<String>>) {
    let out = Arc::new(Mutex::new(String::new()));
    let sink_out = Arc::clone(&out);
    let model = O::model();
    let tracer = Tracer::try_new(
        Compiled::<O>::new(),
        model,
        2,
        Formatter::new(config),
        Box::new(move |text: &str| sink_out.lock().unwrap().push_str(text)),
    )
    .expect("the filter names calls of the model");
    (tracer, out)
}

fn x86_call(tracer: &Tracer<Compiled<LinuxX8664>>, pc: u64, entry: SnapshotCpu, ret: u64) {
    tracer.on_entry(0, 0, &syscall_at(pc), &entry);
    // The exit sees the same memory, with what the kernel wrote.
    let exit = entry.tap(|c| {
        c.set_reg_named("rax", ret).unwrap();
        c.set_reg_named("rcx", pc + 2).unwrap();
    });
    tracer.on_exit(0, &[SYSRETQ], &exit);
}

trait Tap: Sized {
    fn tap(self, f: impl FnOnce(&mut Self)) -> Self;
}

impl Tap for SnapshotCpu {
    fn tap(mut self, f: impl FnOnce(&mut Self)) -> Self {
        f(&mut self);
        self
    }
}

fn le(v: u64, n: usize) -> Vec<u8> {
    v.to_le_bytes()[..n].to_vec()
}

/// Structures as the Linux models declare them: `struct stat` of x86_64,
/// `timespec`, `iovec` arrays, socket addresses, fd pairs.
#[test]
fn x86_64_structures_from_the_model() {
    let (tracer, out) = tracer::<LinuxX8664>(Format::Strace);
    let regs = |nr: u64, args: &[u64]| {
        let mut list = vec![("rax", nr), ("fs_base", FS), ("cr3", CR3)];
        for (name, v) in ["rdi", "rsi", "rdx", "r10", "r8", "r9"].iter().zip(args) {
            list.push((name, *v));
        }
        cpu::<LinuxX8664>(&list)
    };
    // fstat(3, buf): struct stat, st_mode at 24 and st_size at 48.
    let mut stat = vec![0u8; 144];
    stat[24..28].copy_from_slice(&le(0o100644, 4));
    stat[48..56].copy_from_slice(&le(19, 8));
    x86_call(
        &tracer,
        0x1000,
        regs(5, &[3, 0x7000]).tap(|c| {
            c.map(0x7000, stat);
        }),
        0,
    );
    // nanosleep({0, 1ms}, NULL)
    x86_call(
        &tracer,
        0x1100,
        regs(35, &[0x7200, 0]).tap(|c| {
            c.map(0x7200, [le(0, 8), le(1_000_000, 8)].concat());
        }),
        0,
    );
    // writev(3, [{"ab", 2}, {"cde\n", 4}], 2)
    let iov = [le(0x7400, 8), le(2, 8), le(0x7500, 8), le(4, 8)].concat();
    x86_call(
        &tracer,
        0x1200,
        regs(20, &[3, 0x7300, 2]).tap(|c| {
            c.map(0x7300, iov)
                .map(0x7400, b"ab".to_vec())
                .map(0x7500, b"cde\n".to_vec());
        }),
        6,
    );
    // connect(6, {AF_INET, 9, 127.0.0.1}, 16)
    let sin = [le(2, 2), vec![0, 9, 127, 0, 0, 1], vec![0; 8]].concat();
    x86_call(
        &tracer,
        0x1300,
        regs(42, &[6, 0x7600, 16]).tap(|c| {
            c.map(0x7600, sin);
        }),
        -22i64 as u64,
    );
    // pipe2([4, 5], O_CLOEXEC)
    x86_call(
        &tracer,
        0x1400,
        regs(293, &[0x7700, 0x80000]).tap(|c| {
            c.map(0x7700, [le(4, 4), le(5, 4)].concat());
        }),
        0,
    );
    assert_eq!(
        out.lock().unwrap().as_str(),
        "[0x4d5000] fstat(3, {st_mode=S_IFREG|0644, st_size=19, ...}) = 0\n\
         [0x4d5000] nanosleep({tv_sec=0, tv_nsec=1000000}, NULL) = 0\n\
         [0x4d5000] writev(3, [{iov_base=\"ab\", iov_len=2}, {iov_base=\"cde\\n\", iov_len=4}], 2) = 6\n\
         [0x4d5000] connect(6, {sa_family=AF_INET, sin_port=htons(9), sin_addr=inet_addr(\"127.0.0.1\")}, 16) = -1 EINVAL (Invalid argument)\n\
         [0x4d5000] pipe2([4, 5], O_CLOEXEC) = 0\n"
    );
}

/// ARM's classic calls take 32-bit `long`s; the *_time64 ones 64-bit
/// times; `struct stat64` puts st_size at 48.
#[test]
fn arm_layouts_follow_the_architecture() {
    let (tracer, out) = tracer::<LinuxArm>(Format::Strace);
    let arm_svc = LinuxArm::ENTRIES
        .iter()
        .position(|p| p.bytes.len() == 4)
        .expect("a 32-bit entry");
    let exits: Vec<usize> = (0..LinuxArm::EXITS.len()).collect();
    let call = |pc: u64, nr: u64, args: &[u64], mem: &[(u64, Vec<u8>)], ret: u64| {
        let mut regs = vec![
            ("r7", nr),
            ("TPIDRURO", 0xb6f0_0000),
            ("TTBR0", 0x4000_0000),
        ];
        for (name, v) in ["r0", "r1", "r2", "r3"].iter().zip(args) {
            regs.push((name, *v));
        }
        let mut c = cpu::<LinuxArm>(&regs);
        for (addr, bytes) in mem {
            c.map(*addr, bytes.clone());
        }
        tracer.on_entry(0, arm_svc, &arm_svc_at(pc), &c);
        c.set_reg_named("r0", ret).unwrap();
        c.set_reg_named("lr", pc + 4).unwrap();
        c.set_reg_named("cpsr", 0x13).unwrap(); // SVC mode: a return to user mode
        tracer.on_exit(0, &exits, &c);
    };
    // clock_nanosleep(CLOCK_MONOTONIC, 0, {1, 2}, NULL): two 32-bit longs.
    call(
        0x1000,
        265,
        &[1, 0, 0x8000, 0],
        &[(0x8000, [le(1, 4), le(2, 4)].concat())],
        0,
    );
    // clock_nanosleep_time64: two 64-bit values.
    call(
        0x1100,
        407,
        &[1, 0, 0x8100, 0],
        &[(0x8100, [le(1, 8), le(2, 8)].concat())],
        0,
    );
    let mut stat = vec![0u8; 104];
    stat[16..20].copy_from_slice(&le(0o040755, 4));
    stat[48..56].copy_from_slice(&le(4096, 8));
    // fstat64(3, buf)
    call(0x1200, 197, &[3, 0x8200], &[(0x8200, stat)], 0);
    assert_eq!(
        out.lock().unwrap().as_str(),
        "[0xb6f00000] clock_nanosleep(CLOCK_MONOTONIC, 0, {tv_sec=1, tv_nsec=2}, NULL) = 0\n\
         [0xb6f00000] clock_nanosleep_time64(CLOCK_MONOTONIC, 0, {tv_sec=1, tv_nsec=2}, NULL) = 0\n\
         [0xb6f00000] fstat64(3, {st_mode=S_IFDIR|0755, st_size=4096, ...}) = 0\n"
    );
}

/// A CPU that counts memory reads, to see what a filtered call costs.
struct CountingCpu {
    inner: SnapshotCpu,
    reads: Cell<usize>,
}

impl Cpu for CountingCpu {
    fn reg(&self, index: u32) -> Option<u64> {
        self.inner.reg(index)
    }
    fn read_mem(&self, addr: u64, buf: &mut [u8]) -> usize {
        self.reads.set(self.reads.get() + 1);
        self.inner.read_mem(addr, buf)
    }
}

/// `trace=` decides from the syscall number: a call filtered out reads no
/// memory, prints nothing and is not made pending.
#[test]
fn filtered_calls_are_not_decoded() {
    let config = OutputConfig {
        filter: FilterSpec::parse("trace=%network:openat").unwrap(),
        ..OutputConfig::default()
    };
    let (tracer, out) = tracer_with::<LinuxX8664>(config);
    let write = CountingCpu {
        inner: cpu::<LinuxX8664>(&[
            ("rax", 1),
            ("rdi", 1),
            ("rsi", 0x7100),
            ("rdx", 3),
            ("fs_base", FS),
            ("cr3", CR3),
        ])
        .tap(|c| {
            c.map(0x7100, b"hi\n".to_vec());
        }),
        reads: Cell::new(0),
    };
    tracer.on_entry(0, 0, &syscall_at(SYSCALL_PC), &write);
    assert_eq!(write.reads.get(), 0, "a filtered call must not read memory");
    assert_eq!(tracer.stats.filtered.load(Ordering::Relaxed), 1);
    // Its exit finds nothing pending.
    let exit = sysret(3, SYSCALL_PC + 2);
    tracer.on_exit(0, &[SYSRETQ], &exit);
    assert_eq!(tracer.exits(), 0);
    // A selected call is decoded as usual.
    enter_openat(&tracer);
    assert!(
        out.lock().unwrap().is_empty(),
        "the strace line waits for the exit"
    );
    let exit = sysret(3, SYSCALL_PC + 2);
    tracer.on_exit(0, &[SYSRETQ], &exit);
    assert_eq!(
        out.lock().unwrap().as_str(),
        "[0x4d5000] openat(AT_FDCWD, \"/etc/hostname\", O_RDONLY|O_CLOEXEC) = 3\n"
    );
    // A name the model does not have is an error, not an empty trace.
    let model = LinuxX8664::model();
    let bad = OutputConfig {
        filter: FilterSpec::parse("trace=opnat").unwrap(),
        ..OutputConfig::default()
    };
    let err = Tracer::try_new(
        Compiled::<LinuxX8664>::new(),
        model,
        1,
        Formatter::new(bad),
        Box::new(|_: &str| {}),
    )
    .err()
    .expect("unknown syscall refused");
    assert!(err.contains("'opnat'") && err.contains("openat"), "{err}");
}

/// `process=` and `thread=` by identity, `status=` by how calls end.
#[test]
fn identity_and_status_filters() {
    let config = OutputConfig {
        filter: FilterSpec::parse(&format!("thread={FS:#x},status=failed")).unwrap(),
        ..OutputConfig::default()
    };
    let (tracer, out) = tracer_with::<LinuxX8664>(config);
    // Another thread's call is dropped before decoding.
    let other = cpu::<LinuxX8664>(&[("rax", 39), ("fs_base", 0x999), ("cr3", CR3)]);
    tracer.on_entry(0, 0, &syscall_at(0x5000), &other);
    assert_eq!(tracer.stats.filtered.load(Ordering::Relaxed), 1);
    // This thread: a successful getpid is dropped at its exit, a failed
    // openat is shown.
    let getpid = cpu::<LinuxX8664>(&[("rax", 39), ("fs_base", FS), ("cr3", CR3)]);
    tracer.on_entry(0, 0, &syscall_at(0x6000), &getpid);
    let exit = cpu::<LinuxX8664>(&[("rax", 42), ("rcx", 0x6002), ("fs_base", FS), ("cr3", CR3)]);
    tracer.on_exit(0, &[SYSRETQ], &exit);
    enter_openat(&tracer);
    let exit = sysret(-13i64 as u64, SYSCALL_PC + 2);
    tracer.on_exit(0, &[SYSRETQ], &exit);
    assert_eq!(
        out.lock().unwrap().as_str(),
        "[0x4d5000] openat(AT_FDCWD, \"/etc/hostname\", O_RDONLY|O_CLOEXEC) = -1 EACCES (Permission denied)\n"
    );
}

/// `format=summary` counts without decoding and prints the table at the
/// end.
#[test]
fn summary_from_the_tracer() {
    let (tracer, out) = tracer::<LinuxX8664>(Format::Summary);
    enter_openat(&tracer);
    let exit = sysret(-2i64 as u64, SYSCALL_PC + 2);
    tracer.on_exit(0, &[SYSRETQ], &exit);
    let exit_group = cpu::<LinuxX8664>(&[("rax", 231), ("rdi", 0), ("fs_base", FS), ("cr3", CR3)]);
    tracer.on_entry(0, 0, &syscall_at(0x9000), &exit_group);
    assert!(out.lock().unwrap().is_empty());
    let report = tracer.finish_trace();
    let table = out.lock().unwrap().clone();
    assert!(table.contains("         1         1 openat\n"), "{table}");
    assert!(table.contains("         2         1 total\n"), "{table}");
    assert!(
        table.ends_with("unfinished calls: 1, unpaired exits: 0, unreadable arguments: 0\n"),
        "{table}"
    );
    assert!(
        report.starts_with(
            "osmtrace: 2 calls traced (0 filtered out, 0 entries unreadable), 1 returns paired"
        ),
        "{report}"
    );
}

/// The health figures end a jsonl trace as its `summary` event: a call
/// whose thread called again before its return was seen is unpaired, one
/// still in the kernel is pending, and the bytes are those before it.
#[test]
fn jsonl_ends_with_the_health_figures() {
    let (tracer, out) = tracer::<LinuxX8664>(Format::Jsonl);
    enter_openat(&tracer);
    enter_openat(&tracer);
    tracer.on_exit(0, &[SYSRETQ], &sysret(3, SYSCALL_PC + 2));
    enter_openat(&tracer);
    let report = tracer.finish_trace();
    let text = out.lock().unwrap().clone();
    let (calls, last) = text.trim_end().rsplit_once('\n').unwrap();
    let summary: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(summary["event"], "summary", "{text}");
    assert_eq!(summary["entries"], 3);
    assert_eq!(summary["exits"], 1);
    assert_eq!(summary["unpaired_superseded"], 1);
    assert_eq!(summary["pending_at_end"], 1);
    assert_eq!(summary["bytes_written"], calls.len() as u64 + 1);
    assert!(
        report.contains("1 calls still pending at the end; 1 returns not paired (1 whose thread made another call first"),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "{} bytes of trace written, nothing lost",
            text.len()
        )),
        "{report}"
    );
}

/// `format=perfetto` writes a timeline that parses as JSON.
#[test]
fn perfetto_timeline_from_the_tracer() {
    let (tracer, out) = tracer::<LinuxX8664>(Format::Perfetto);
    enter_openat(&tracer);
    let exit = sysret(3, SYSCALL_PC + 2);
    tracer.on_exit(0, &[SYSRETQ], &exit);
    tracer.finish_trace();
    let text = out.lock().unwrap().clone();
    let events: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let slice = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["ph"] == "X")
        .expect("a slice");
    assert_eq!(slice["name"], "openat");
    assert_eq!(slice["args"]["args"]["filename"], "\"/etc/hostname\"");
    assert_eq!(slice["args"]["return"], "3");
    assert!(slice["dur"].as_f64().unwrap() >= 0.0);
}

/// `Tracer::new` (what the plugin glue calls) cannot refuse a filter: it
/// says why in the trace and on stderr, and traces nothing, rather than
/// silently tracing what was not asked for.
#[test]
fn a_filter_the_model_cannot_satisfy_traces_nothing_and_says_why() {
    let config = OutputConfig {
        filter: FilterSpec::parse("trace=%netwrk").unwrap(),
        ..OutputConfig::default()
    };
    let out = Arc::new(Mutex::new(String::new()));
    let sink_out = Arc::clone(&out);
    let tracer = Tracer::new(
        Compiled::<LinuxX8664>::new(),
        LinuxX8664::model(),
        1,
        Formatter::new(config),
        Box::new(move |text: &str| sink_out.lock().unwrap().push_str(text)),
    );
    let message = out.lock().unwrap().clone();
    assert!(
        message.starts_with("osmtrace: trace=: the model declares no class '%netwrk'")
            && message.ends_with("; tracing nothing\n"),
        "{message}"
    );
    enter_openat(&tracer);
    assert_eq!(tracer.stats.filtered.load(Ordering::Relaxed), 1);
    assert_eq!(out.lock().unwrap().as_str(), message);
}

/// `format=none`, the bench's floor: entries and exits are read and
/// nothing is kept, paired or written.
#[test]
fn format_none_reads_and_keeps_nothing() {
    let (tracer, out) = tracer::<LinuxX8664>(Format::Nothing);
    enter_openat(&tracer);
    tracer.on_exit(0, &[SYSRETQ], &sysret(3, SYSCALL_PC + 2));
    let report = tracer.finish_trace();
    assert_eq!(out.lock().unwrap().as_str(), "");
    assert!(report.starts_with("osmtrace: 0 calls traced"), "{report}");
    assert!(report.contains("0 calls still pending"), "{report}");
}

/// Structures, a failed call, a hidden argument, a signal and a process's
/// end, as the tests above make them.
fn varied_calls(tracer: &Tracer<Compiled<LinuxX8664>>) {
    let regs = |nr: u64, args: &[u64]| {
        let mut list = vec![("rax", nr), ("fs_base", FS), ("cr3", CR3)];
        for (name, v) in ["rdi", "rsi", "rdx", "r10", "r8", "r9"].iter().zip(args) {
            list.push((name, *v));
        }
        cpu::<LinuxX8664>(&list)
    };
    enter_openat(tracer);
    tracer.on_exit(0, &[SYSRETQ], &sysret(-2i64 as u64, SYSCALL_PC + 2));
    let mut stat = vec![0u8; 144];
    stat[24..28].copy_from_slice(&le(0o100644, 4));
    x86_call(
        tracer,
        0x1000,
        regs(5, &[3, 0x7000]).tap(|c| {
            c.map(0x7000, stat);
        }),
        0,
    );
    let iov = [le(0x7400, 8), le(2, 8), le(0x7500, 8), le(4, 8)].concat();
    x86_call(
        tracer,
        0x1200,
        regs(20, &[3, 0x7300, 2]).tap(|c| {
            c.map(0x7300, iov)
                .map(0x7400, b"a\"\n".to_vec())
                .map(0x7500, b"cde\n".to_vec());
        }),
        6,
    );
    // read(3, <unmapped>, 16) = 16: an output that does not read.
    x86_call(tracer, 0x1300, regs(0, &[3, 0x9000, 16]), 16);
    tracer.on_entry(0, 0, &syscall_at(SYSCALL_PC), &x86_entry(62, &[83, 10]));
    let info = [10, 0, 0, 0, 83, 0];
    tracer.on_exit(0, &iretq(), &handler_entry(10, info, 0, SYSCALL_PC + 2));
    tracer.on_entry(0, 0, &syscall_at(0x406000), &x86_sigreturn());
    tracer.on_exit(0, &iretq(), &iretq_cpu(SYSCALL_PC + 2, 0));
    tracer.on_entry(0, 0, &syscall_at(SYSCALL_PC + 0x80), &x86_entry(231, &[7]));
}

/// `jsonl=lean` declares the model's calls in its first line and leaves
/// out of each call's event what the declaration says; read back, every
/// event is the full trace's, field for field.
#[test]
fn lean_jsonl_reads_back_as_the_full_trace() {
    let config = |lean: bool| OutputConfig {
        jsonl_lean: lean,
        ..OutputConfig::from(Format::Jsonl)
    };
    let (full, full_out) = tracer_with::<LinuxX8664>(config(false));
    let (lean, lean_out) = tracer_with::<LinuxX8664>(config(true));
    varied_calls(&full);
    varied_calls(&lean);
    full.finish_trace();
    lean.finish_trace();
    let (full, lean) = (
        full_out.lock().unwrap().clone(),
        lean_out.lock().unwrap().clone(),
    );
    // The declarations count among the bytes written.
    let (before_summary, summary) = lean.trim_end().rsplit_once('\n').unwrap();
    let summary: serde_json::Value = serde_json::from_str(summary).unwrap();
    assert_eq!(summary["bytes_written"], before_summary.len() as u64 + 1);
    // The health figures differ by the bytes written.
    let events = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.starts_with("{\"event\":\"summary\""))
            .map(str::to_string)
            .collect()
    };
    let (full, lean) = (events(&full), events(&lean));
    assert!(lean[0].starts_with("{\"event\":\"declarations\",\"version\":1,"));
    assert_eq!(lean.len(), full.len() + 1);
    let mut reader = JsonlReader::default();
    assert_eq!(reader.parse_line(&lean[0]), Ok(None));
    for (full_line, lean_line) in full.iter().zip(&lean[1..]) {
        let event = reader.parse_line(lean_line).unwrap().unwrap();
        let mut again = String::new();
        jsonl_with(&event.as_event(), &mut again, JsonlStyle::default());
        assert_eq!(again.trim_end(), full_line, "read back from\n{lean_line}");
        if lean_line.contains("\"decl\":") {
            assert!(lean_line.len() < full_line.len(), "{lean_line}");
        } else {
            // A signal's or a process's end: no call to declare.
            assert_eq!(lean_line, full_line);
        }
    }
    let calls = lean[1..].iter().filter(|l| l.contains("\"decl\":")).count();
    assert_eq!(
        calls,
        14,
        "every call entry and exit names its declaration:\n{}",
        lean[1..].join("\n")
    );
    assert!(full.iter().any(|l| l.contains("\"hidden\":true")));
    assert!(full.iter().any(|l| l.contains("\"unreadable\":true")));
}

/// A lean event without the declarations before it, or naming another
/// call than its declaration, is refused with the reason.
#[test]
fn lean_jsonl_needs_its_declarations() {
    let (lean, out) = tracer_with::<LinuxX8664>(OutputConfig {
        jsonl_lean: true,
        ..OutputConfig::from(Format::Jsonl)
    });
    enter_openat(&lean);
    let text = out.lock().unwrap().clone();
    let lines: Vec<&str> = text.lines().collect();
    let e = JsonlReader::default().parse_line(lines[1]).unwrap_err();
    assert!(e.contains("is not declared"), "{e}");
    let mut reader = JsonlReader::default();
    reader.parse_line(lines[0]).unwrap();
    let renamed = lines[1].replace("\"name\":\"openat\"", "\"name\":\"open\"");
    let e = reader.parse_line(&renamed).unwrap_err();
    assert!(e.contains("names openat, not open"), "{e}");
    let newer = lines[0].replace("\"version\":1", "\"version\":2");
    let e = JsonlReader::default().parse_line(&newer).unwrap_err();
    assert!(e.contains("version 2"), "{e}");
}

/// strace text, paper, jsonl and lean jsonl.
fn text_formats() -> [OutputConfig; 4] {
    [
        OutputConfig::from(Format::Strace),
        OutputConfig::from(Format::Paper),
        OutputConfig::from(Format::Jsonl),
        OutputConfig {
            jsonl_lean: true,
            ..OutputConfig::from(Format::Jsonl)
        },
    ]
}

/// `format=raw` keeps each call's registers and the memory its decoding
/// reads; decoded later from the file, with the model it carries, every
/// format is the one a tracer writing it directly wrote, byte for byte.
#[test]
fn raw_trace_decodes_as_every_direct_format() {
    let dir = std::env::temp_dir().join(format!("osmtrace-raw-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.raw");
    let raw = Tracer::try_new(
        Compiled::<LinuxX8664>::new(),
        LinuxX8664::model(),
        2,
        Formatter::new(Format::Raw),
        Box::new(LogWriter::create(&path).unwrap()),
    )
    .unwrap();
    varied_calls(&raw);
    raw.finish_trace();
    drop(raw);
    for config in text_formats() {
        let (direct, direct_out) = tracer_with::<LinuxX8664>(config.clone());
        varied_calls(&direct);
        direct.finish_trace();
        let direct = direct_out.lock().unwrap().clone();
        let mut reader = RawReader::open(&path).unwrap();
        assert!(!reader.cut_short);
        let decl_base = reader.decl_base_for(&config);
        let mut formatter = Formatter::new(config.clone());
        let mut view = String::new();
        if config.jsonl_lean {
            osm_runtime::format::declarations(&reader.model, &mut view);
        }
        let events = reader
            .events(&decl_base, |event| {
                formatter.event(&event.as_event(), &mut view);
                Ok(())
            })
            .unwrap();
        let report = formatter.finish(&mut view);
        assert_eq!(reader.misses, 0);
        assert!(events >= 14, "{events} events");
        // jsonl ends with the health figures, which the view does not have.
        let direct = match direct.rsplit_once("{\"event\":\"summary\"") {
            Some((events, _)) => events.to_string(),
            None => direct,
        };
        assert_eq!(view, direct, "{config:?}");
        assert_eq!(report, None);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// With `decode=writer` the log's writer thread decodes and formats the
/// calls the vCPUs capture: the log is the one the vCPUs would have
/// written, byte for byte, health figures included.
#[test]
fn writer_thread_decodes_as_the_vcpus_would() {
    let dir = std::env::temp_dir().join(format!("osmtrace-writer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.log");
    let mut configs = text_formats().to_vec();
    configs.extend([
        OutputConfig::from(Format::Perfetto),
        OutputConfig {
            filter: FilterSpec::parse("status=failed:unfinished").unwrap(),
            summary: true,
            ..OutputConfig::from(Format::Strace)
        },
    ]);
    for config in configs {
        let decoding = Decoding::new(LinuxX8664::model(), Formatter::new(config.clone()));
        let writer = Tracer::try_new(
            Compiled::<LinuxX8664>::new(),
            LinuxX8664::model(),
            2,
            Formatter::new(config.clone()),
            Box::new(LogWriter::decoding(&path, decoding).unwrap()),
        )
        .unwrap();
        varied_calls(&writer);
        let writer_report = writer.finish_trace();
        drop(writer);
        let (direct, direct_out) = tracer_with::<LinuxX8664>(config.clone());
        varied_calls(&direct);
        let direct_report = direct.finish_trace();
        let direct = direct_out.lock().unwrap().clone();
        let written = std::fs::read_to_string(&path).unwrap();
        assert!(written.lines().count() > 5, "{written}");
        if config.format == Format::Perfetto {
            // Durations are the host's: compare the calls' names.
            let names = |t: &str| -> Vec<String> {
                t.split("\"name\":")
                    .skip(1)
                    .map(|s| s[..12.min(s.len())].to_string())
                    .collect()
            };
            assert_eq!(names(&written), names(&direct));
            continue;
        }
        // The summary's times are the host's: its calls, errors and names.
        let timeless = |t: &str| -> Vec<String> {
            t.lines()
                .map(|l| match l.split_whitespace().collect::<Vec<_>>() {
                    w if w.len() >= 5 && w[0].ends_with(|c: char| c.is_ascii_digit()) => {
                        w[3..].join(" ")
                    }
                    _ => l.to_string(),
                })
                .collect()
        };
        assert_eq!(timeless(&written), timeless(&direct), "{config:?}");
        if !config.summary {
            assert_eq!(written, direct, "{config:?}");
        }
        assert_eq!(writer_report, direct_report, "{config:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An interrupt's return into a SA_SIGINFO handler of signal `signal`
/// (SI_KERNEL) that interrupted user code at `saved_rip`: the registers
/// and rt_sigframe the kernel builds, the user rsp in iretq's frame
/// `moved` bytes below the frame's start (a prologue's push).
fn interrupted_into_handler(signal: u64, saved_rip: u64, moved: u64) -> SnapshotCpu {
    const HANDLER: u64 = 0x405000;
    const FRAME: u64 = 0x8000;
    let (uc, info) = (FRAME + 8, FRAME + 8 + 304);
    let mut cpu = cpu::<LinuxX8664>(&[
        ("rax", 0),
        ("rdi", signal),
        ("rsi", info),
        ("rdx", uc),
        ("rsp", 0x9000),
        ("fs_base", FS),
        ("cr3", CR3),
    ]);
    let iret = [HANDLER, 0x33, 0x246, FRAME - moved, 0x2b];
    cpu.map(
        0x9000,
        iret.iter()
            .flat_map(|w| w.to_le_bytes())
            .collect::<Vec<u8>>(),
    );
    let mut frame = vec![0u8; 8 + 304 + 16];
    frame[8..16].copy_from_slice(&7u64.to_le_bytes());
    frame[8 + 168..8 + 176].copy_from_slice(&saved_rip.to_le_bytes());
    frame[8 + 304..8 + 308].copy_from_slice(&(signal as i32).to_le_bytes());
    frame[8 + 312..8 + 316].copy_from_slice(&0x80i32.to_le_bytes());
    cpu.map(FRAME, frame);
    cpu
}

/// A signal that interrupts user code enters its handler from an
/// interrupt's return, which ends no call: its line shows there, once.
/// An interrupt taken at the handler's first instruction returns there
/// with the same registers and frame, and one after a prologue's push
/// with rsp moved: neither is a delivery. After the handler's
/// rt_sigreturn the same signal interrupting the same code shows again.
#[test]
fn a_signal_outside_calls_shows_once_per_delivery() {
    let (tracer, out) = tracer::<LinuxX8664>(Format::Strace);
    let (restorer, busy) = (0x406000, 0x401800);
    tracer.on_entry(0, 0, &syscall_at(SYSCALL_PC), &x86_entry(39, &[]));
    tracer.on_exit(0, &iretq(), &iretq_cpu(SYSCALL_PC + 2, 83));
    for _ in 0..2 {
        tracer.on_exit(0, &iretq(), &interrupted_into_handler(14, busy, 0));
        tracer.on_exit(0, &iretq(), &interrupted_into_handler(14, busy, 0));
        tracer.on_exit(0, &iretq(), &interrupted_into_handler(14, busy, 8));
        tracer.on_entry(0, 0, &syscall_at(restorer), &x86_sigreturn());
        tracer.on_exit(0, &iretq(), &iretq_cpu(busy, 5));
    }
    // A kill that returns into its handler, then an interrupt at the
    // handler's first instruction.
    tracer.on_entry(0, 0, &syscall_at(SYSCALL_PC), &x86_entry(62, &[83, 14]));
    tracer.on_exit(
        0,
        &iretq(),
        &interrupted_into_handler(14, SYSCALL_PC + 2, 0),
    );
    tracer.on_exit(
        0,
        &iretq(),
        &interrupted_into_handler(14, SYSCALL_PC + 2, 0),
    );
    let text = out.lock().unwrap().clone();
    let signals = text
        .matches("--- SIGALRM {si_signo=SIGALRM, si_code=SI_KERNEL} ---")
        .count();
    assert_eq!(signals, 3, "{text}");
    assert_eq!(
        text.matches("rt_sigreturn({mask=[]}) = 5").count(),
        2,
        "{text}"
    );
    assert!(text.contains("kill(83, SIGALRM) = 0\n"), "{text}");
}

/// With a filter that leaves out the handler's sigreturn (strace's
/// `-e trace=` shows every signal still), the return to the context the
/// handler interrupted leaves it: the next delivery there shows too.
#[test]
fn a_signal_outside_calls_shows_again_after_a_sigreturn_not_traced() {
    let config = OutputConfig {
        filter: FilterSpec::parse("trace=getppid").unwrap(),
        ..OutputConfig::default()
    };
    let (tracer, out) = tracer_with::<LinuxX8664>(config);
    let (restorer, busy) = (0x406000, 0x401800);
    for _ in 0..2 {
        tracer.on_exit(0, &iretq(), &interrupted_into_handler(14, busy, 0));
        tracer.on_exit(0, &iretq(), &interrupted_into_handler(14, busy, 0));
        tracer.on_entry(0, 0, &syscall_at(restorer), &x86_sigreturn());
        tracer.on_exit(0, &iretq(), &iretq_cpu(busy, 5));
    }
    let text = out.lock().unwrap().clone();
    let signals = text
        .matches("--- SIGALRM {si_signo=SIGALRM, si_code=SI_KERNEL} ---")
        .count();
    assert_eq!(signals, 2, "{text}");
    assert!(!text.contains("rt_sigreturn"), "{text}");
}
