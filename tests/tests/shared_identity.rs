//! Returns that only the returning task tells, through the tracer the
//! plugin uses, from register and memory snapshots of the mips64el model,
//! whose identity is the user stack pointer: two forked processes blocked
//! in read() from the same code (the oldest call returning first must not
//! take the newest's entry), an exec returning into its new image on
//! another stack, and a fork's child returning with its parent's identity.
//! The model's return probe, on the kernel's way back to user mode, says
//! which task returns.

use osm_compiler::arch::Endian;
use osm_runtime::cpu::SnapshotCpu;
use osm_runtime::format::{Formatter, OutputConfig};
use osm_runtime::kernel::resolve_task;
use osm_runtime::os::{Compiled, EntryInsn, Os};
use osm_runtime::task::{ReadAt, TaskReader};
use osm_runtime::tracer::Tracer;
use osm_tests::{SmallKernel, small_kernel_task};
use osmtrace_linux_mips64el::LinuxMips64el;
use std::sync::{Arc, Mutex};

/// Where both processes call from: libc's `syscall`, on the same stack.
const SYSCALL_PC: u64 = 0x1_2000_0a00;
const USER_SP: u64 = 0xff_fbcd_a1f0;
/// The save_some probe (`ori gp, sp, 0x3fff`) and the return probe (`ld
/// sp, PT_R29(sp)`), where `current` is read from the kernel stack.
const SAVE_SOME: ReadAt = ReadAt {
    insn: 0x37bc_3fff,
    addr: 0xffff_ffff_8010_3c00,
};
const RESTORE_SP: ReadAt = ReadAt {
    insn: 0xdfbd_00e8,
    addr: 0xffff_ffff_8010_3e40,
};
const ERET: usize = 0;
const READ: u64 = 5000;
const EXECVE: u64 = 5057;

/// The two processes: their tasks, ids and kernel stacks.
const TASKS: [(u64, i32, u64); 2] = [(0xa000, 85, 0x10000), (0xc000, 86, 0x20000)];

fn tracer() -> (Tracer<Compiled<LinuxMips64el>>, Arc<Mutex<String>>) {
    let out = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&out);
    let model = LinuxMips64el::model();
    let task = resolve_task(&model, &SmallKernel).expect("the small kernel has what MIPS reads");
    let tracer = Tracer::try_new(
        Compiled::<LinuxMips64el>::new(),
        model,
        1,
        Formatter::new(OutputConfig::default()),
        Box::new(move |text: &str| sink.lock().unwrap().push_str(text)),
    )
    .expect("tracer")
    .with_task(TaskReader::new(task, Endian::Little));
    (tracer, out)
}

fn cpu(regs: &[(&str, u64)]) -> SnapshotCpu {
    let mut cpu = SnapshotCpu::with_names(LinuxMips64el::REGISTERS.iter().copied());
    for &(name, value) in regs {
        cpu.set_reg_named(name, value).unwrap();
    }
    cpu
}

/// The kernel on task `which`'s stack, at a probe.
fn kernel(which: usize) -> SnapshotCpu {
    let (current, _, stack) = TASKS[which];
    let mut cpu = cpu(&[("r29", stack + 0x3f00)]);
    cpu.map(stack, current.to_le_bytes().to_vec());
    small_kernel_task(&mut cpu, 0xa000, 85, 85, 0xb000, "sibling");
    small_kernel_task(&mut cpu, 0xb000, 79, 79, 0xb000, "parent");
    small_kernel_task(&mut cpu, 0xc000, 86, 86, 0xb000, "sibling");
    cpu
}

/// Task `which` enters call `nr` with arguments a0, a1 and a2.
fn enter(t: &Tracer<Compiled<LinuxMips64el>>, which: usize, nr: u64, args: [u64; 3]) {
    let user = cpu(&[
        ("pc", SYSCALL_PC),
        ("r2", nr),
        ("r4", args[0]),
        ("r5", args[1]),
        ("r6", args[2]),
        ("r29", USER_SP),
    ]);
    let insn = EntryInsn::new(SYSCALL_PC, &0x0000_000cu32.to_le_bytes(), Endian::Little);
    t.on_entry(0, 0, &insn, &user);
    t.on_probe(0, SAVE_SOME, &kernel(which));
}

/// Task `which` enters read(fd, buf, 16).
fn enter_read(t: &Tracer<Compiled<LinuxMips64el>>, which: usize, fd: u64) {
    enter(t, which, READ, [fd, USER_SP + 0x40, 16]);
}

/// Task `which` returns `ret` to `pc` with stack pointer `sp`: the
/// return probe, `eret`, then the exit read where it returned to.
fn return_to(t: &Tracer<Compiled<LinuxMips64el>>, which: usize, pc: u64, sp: u64, ret: u64) {
    t.on_return_probe(0, RESTORE_SP, &kernel(which));
    t.on_exit(0, &[ERET], &cpu(&[("r29", sp)]));
    let user = cpu(&[("pc", pc), ("r2", ret), ("r7", 0), ("r29", sp)]);
    t.on_resume(0, pc, &user);
}

/// Task `which` returns `ret` to the instruction after its `syscall`.
fn return_read(t: &Tracer<Compiled<LinuxMips64el>>, which: usize, ret: u64) {
    return_to(t, which, SYSCALL_PC + 4, USER_SP, ret);
}

#[test]
fn the_oldest_call_returning_first_keeps_its_own_entry() {
    let (t, out) = tracer();
    enter_read(&t, 0, 7);
    enter_read(&t, 1, 9);
    return_read(&t, 0, 3);
    return_read(&t, 1, 5);
    assert_eq!(
        *out.lock().unwrap(),
        "[pid    85] read(7,  <unfinished ...>\n\
         [pid    86] read(9,  <unfinished ...>\n\
         [pid    85] <... read resumed>0xfffbcda230, 16) = 3\n\
         [pid    86] <... read resumed>0xfffbcda230, 16) = 5\n"
    );
}

#[test]
fn the_newest_call_returning_first_keeps_its_own_entry() {
    let (t, out) = tracer();
    enter_read(&t, 0, 7);
    enter_read(&t, 1, 9);
    return_read(&t, 1, 5);
    return_read(&t, 0, 3);
    assert_eq!(
        *out.lock().unwrap(),
        "[pid    85] read(7,  <unfinished ...>\n\
         [pid    86] read(9, 0xfffbcda230, 16) = 5\n\
         [pid    85] <... read resumed>0xfffbcda230, 16) = 3\n"
    );
}

#[test]
fn an_exec_returns_into_its_new_image() {
    let (t, out) = tracer();
    enter(
        &t,
        0,
        EXECVE,
        [0x1_2000_4000, USER_SP + 0x80, USER_SP + 0x90],
    );
    // The new image's entry point, on a stack of its own.
    return_to(&t, 0, 0x1_2000_1000, 0xff_ff80_0000, 0);
    assert_eq!(
        *out.lock().unwrap(),
        "[pid    85] execve(0x120004000, 0xfffbcda270, 0xfffbcda280) = 0\n"
    );
}

const FORK: u64 = 5056;

/// A fork child returns with its parent's very identity (the same stack
/// pointer and address): the return probe says it is the child, named at
/// once, whether the parent returned first or not.
#[test]
fn a_fork_child_is_named_at_its_return() {
    let (t, out) = tracer();
    enter(&t, 0, FORK, [0, 0, 0]);
    return_read(&t, 0, 86);
    return_read(&t, 1, 0);
    assert_eq!(
        *out.lock().unwrap(),
        "[pid    85] fork() = 86\n\
         [pid    86] <... fork resumed>) = 0\n"
    );
    let (t, out) = tracer();
    enter(&t, 0, FORK, [0, 0, 0]);
    return_read(&t, 1, 0);
    return_read(&t, 0, 86);
    assert_eq!(
        *out.lock().unwrap(),
        "[pid    85] fork( <unfinished ...>\n\
         [pid    86] <... fork resumed>) = 0\n\
         [pid    85] <... fork resumed>) = 86\n"
    );
}
