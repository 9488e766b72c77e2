//! The guest's names for tasks through the tracer the plugin uses, from
//! register and memory snapshots: the x86_64 model's `task` block,
//! resolved against a small made-up kernel layout, read at its probe. A
//! call waits for its probe, a child's first return for the child's first
//! call, names are read once per task, and `pid=` and `follow=` choose by
//! them.

use osm_compiler::arch::Endian;
use osm_runtime::cpu::{Cpu, SnapshotCpu};
use osm_runtime::format::{Formatter, OutputConfig};
use osm_runtime::kernel::resolve_task;
use osm_runtime::os::{Compiled, EntryInsn, Os};
use osm_runtime::task::{ReadAt, TaskReader};
use osm_runtime::tracer::Tracer;
use osm_tests::{SmallKernel, small_kernel_task};
use osmtrace_linux_x86_64::LinuxX8664;
use std::cell::Cell;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

const GS: u64 = 0x9000;
const FS: u64 = 0x4d5000;
const CR3: u64 = 0x1234000;
const PROBE: ReadAt = ReadAt {
    insn: 0,
    addr: 0xffff_ffff_81c0_00a0,
};

/// The kernel at the probe, with `current` = `addr`: the calling task,
/// its parent (pid 1, "init") and another process's task.
fn kernel_cpu(current: u64) -> SnapshotCpu {
    let mut cpu = SnapshotCpu::with_names(LinuxX8664::REGISTERS.iter().copied());
    cpu.set_reg_named("gs_base", GS).unwrap();
    cpu.map(GS + 0x100, current.to_le_bytes().to_vec());
    small_kernel_task(&mut cpu, 0xa000, 83, 83, 0xb000, "ids");
    small_kernel_task(&mut cpu, 0xb000, 1, 1, 0xb000, "init");
    small_kernel_task(&mut cpu, 0xc000, 84, 84, 0xa000, "child");
    small_kernel_task(&mut cpu, 0xd000, 90, 90, 0xb000, "other");
    small_kernel_task(&mut cpu, 0xe000, 86, 84, 0xa000, "child");
    cpu
}

/// Counts the guest-memory reads made through it.
struct Counting<'c> {
    cpu: &'c SnapshotCpu,
    reads: &'c Cell<u32>,
}

impl Cpu for Counting<'_> {
    fn reg(&self, index: u32) -> Option<u64> {
        self.cpu.reg(index)
    }

    fn read_mem(&self, addr: u64, buf: &mut [u8]) -> usize {
        self.reads.set(self.reads.get() + 1);
        self.cpu.read_mem(addr, buf)
    }
}

fn tracer(args: &str) -> (Tracer<Compiled<LinuxX8664>>, Arc<Mutex<String>>) {
    let out = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&out);
    let model = LinuxX8664::model();
    let task =
        resolve_task(&model, &SmallKernel).expect("the small kernel has what the model reads");
    let parsed = osm_runtime::args::parse_plugin_args(
        &args
            .split(',')
            .filter(|a| !a.is_empty())
            .collect::<Vec<_>>(),
    )
    .expect("plugin arguments");
    let config: OutputConfig = parsed.format;
    let tracer = Tracer::try_new(
        Compiled::<LinuxX8664>::new(),
        model,
        2,
        Formatter::new(config),
        Box::new(move |text: &str| sink.lock().unwrap().push_str(text)),
    )
    .expect("tracer")
    .with_task(TaskReader::new(task, Endian::Little));
    (tracer, out)
}

/// The user-mode CPU at a `syscall` of number `nr` of the task whose TLS
/// is `fs` in address space `cr3`.
fn user(nr: u64, fs: u64, cr3: u64) -> SnapshotCpu {
    let mut cpu = SnapshotCpu::with_names(LinuxX8664::REGISTERS.iter().copied());
    for (name, value) in [("rax", nr), ("fs_base", fs), ("cr3", cr3), ("rdi", 0)] {
        cpu.set_reg_named(name, value).unwrap();
    }
    cpu
}

fn sysret(rax: u64, rcx: u64, fs: u64, cr3: u64) -> SnapshotCpu {
    let mut cpu = user(rax, fs, cr3);
    cpu.set_reg_named("rcx", rcx).unwrap();
    cpu
}

fn syscall_at(pc: u64) -> EntryInsn {
    EntryInsn::new(pc, &[0x0f, 0x05], Endian::Little)
}

const SYSRETQ: usize = 0;

/// Call `nr` at `pc` by the task at `current` (with the usual TLS and
/// address space), through entry, probe and an exit to `resume` with
/// `ret`.
fn call(t: &Tracer<Compiled<LinuxX8664>>, current: u64, nr: u64, pc: u64, resume: u64, ret: u64) {
    t.on_entry(0, 0, &syscall_at(pc), &user(nr, FS, CR3));
    t.on_probe(0, PROBE, &kernel_cpu(current));
    t.on_exit(0, &[SYSRETQ], &sysret(ret, resume, FS, CR3));
}

/// getpid() by the task at `current`, through entry, probe and exit.
fn getpid(t: &Tracer<Compiled<LinuxX8664>>, vcpu: u32, current: u64, fs: u64, cr3: u64, ret: u64) {
    t.on_entry(vcpu, 0, &syscall_at(0x401000), &user(39, fs, cr3));
    t.on_probe(vcpu, PROBE, &kernel_cpu(current));
    t.on_exit(vcpu, &[SYSRETQ], &sysret(ret, 0x401002, fs, cr3));
}

#[test]
fn calls_carry_the_names_read_at_the_probe() {
    let (t, out) = tracer("format=jsonl");
    getpid(&t, 0, 0xa000, FS, CR3, 83);
    let text = out.lock().unwrap().clone();
    for line in text.lines() {
        assert!(
            line.contains(r#""pid":83,"tid":83,"ppid":1,"comm":"ids""#),
            "{line}"
        );
    }
    assert_eq!(text.lines().count(), 2);
    let (t, out) = tracer("");
    getpid(&t, 0, 0xa000, FS, CR3, 83);
    assert_eq!(*out.lock().unwrap(), "[pid    83] getpid() = 83\n");
}

#[test]
fn a_call_that_reaches_no_probe_goes_on_without_names() {
    let (t, out) = tracer("");
    t.on_entry(0, 0, &syscall_at(0x401000), &user(39, FS, CR3));
    t.on_exit(0, &[SYSRETQ], &sysret(83, 0x401002, FS, CR3));
    assert_eq!(*out.lock().unwrap(), "[0x4d5000] getpid() = 83\n");
    assert_eq!(t.stats.unnamed.load(Ordering::Relaxed), 1);
}

#[test]
fn names_are_read_once_per_task() {
    let (t, _) = tracer("");
    let reads = Cell::new(0);
    let kernel = kernel_cpu(0xa000);
    let counted = Counting {
        cpu: &kernel,
        reads: &reads,
    };
    for round in 0..3 {
        t.on_entry(0, 0, &syscall_at(0x401000), &user(39, FS, CR3));
        t.on_probe(0, PROBE, &counted);
        t.on_exit(0, &[SYSRETQ], &sysret(83, 0x401002, FS, CR3));
        // current, pid, tgid, the parent's pointer and tgid, comm.
        let expected = if round == 0 { 6 } else { 0 };
        assert_eq!(reads.replace(0), expected, "round {round}");
    }
}

/// A vfork child calls with its parent's registers: the vfork makes the
/// cached names suspect, and the child's first return waits for its
/// first call to say who it is.
#[test]
fn a_vfork_child_is_told_from_its_parent() {
    let (t, out) = tracer("");
    getpid(&t, 0, 0xa000, FS, CR3, 83);
    // vfork (58) by pid 83; the child (task 0xc000, pid 84) returns 0 first.
    call(&t, 0xa000, 58, 0x402000, 0x402002, 0);
    getpid(&t, 0, 0xc000, FS, CR3, 84);
    // The child exits (its process ends, with its own pid); the parent
    // returns from vfork and calls again.
    call(&t, 0xc000, 231, 0x403000, 0x402002, 84);
    getpid(&t, 0, 0xa000, FS, CR3, 83);
    let text = out.lock().unwrap().clone();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "[pid    83] getpid() = 83",
            "[pid    83] vfork( <unfinished ...>",
            "[pid    84] <... vfork resumed>) = 0",
            "[pid    84] getpid() = 84",
            "[pid    84] exit_group(0) = ?",
            "[pid    84] +++ exited with 0 +++",
            "[pid    83] <... vfork resumed>) = 84",
            "[pid    83] getpid() = 83",
        ],
        "{text}"
    );
}

/// A thread made without a TLS of its own (clone without CLONE_SETTLS,
/// as Go's runtime does) calls with its parent's registers: after the
/// clone, a call with them is named from `current` until the child is
/// seen, and once both are seen, always.
#[test]
fn threads_with_one_tls_keep_their_own_names() {
    let (t, out) = tracer("");
    getpid(&t, 0, 0xa000, FS, CR3, 83);
    // clone (56) by 83, returning 84 in the parent; the parent calls
    // again before the child's first call.
    call(&t, 0xa000, 56, 0x402000, 0x402002, 84);
    for _ in 0..3 {
        getpid(&t, 0, 0xa000, FS, CR3, 83);
        getpid(&t, 0, 0xc000, FS, CR3, 84);
    }
    let text = out.lock().unwrap().clone();
    let getpids: Vec<&str> = text.lines().filter(|l| l.contains("getpid")).collect();
    assert_eq!(getpids.len(), 7, "{text}");
    for line in getpids {
        let pid = line.rsplit(' ').next().unwrap();
        assert!(line.starts_with(&format!("[pid    {pid}]")), "{text}");
    }
}

/// Seen with Go's os/exec on arm64: a vfork child calls with its parent's
/// registers, its threads' too (one TLS), and its execve enters at the
/// very instruction their calls do. Their calls pairing meanwhile leave
/// the execve waiting for its return into the new image, which the
/// return probe says is the child's; a thread of the new image ending
/// the process ends none of the parent's calls.
#[test]
fn a_vfork_childs_exec_among_its_parents_calls_with_one_identity() {
    const NEW: u64 = 0x2222000;
    const NEW_FS: u64 = 0x88000;
    let (t, out) = tracer("");
    // An entry at `pc` and its probe, which reads the task at `current`.
    let enter = |pc, cpu: &SnapshotCpu, current| {
        t.on_entry(0, 0, &syscall_at(pc), cpu);
        t.on_probe(0, PROBE, &kernel_cpu(current));
    };
    // An exit after the return probe read the task at `current`.
    let exit = |current, cpu: &SnapshotCpu| {
        t.on_return_probe(0, PROBE, &kernel_cpu(current));
        t.on_exit(0, &[SYSRETQ], cpu);
    };
    getpid(&t, 0, 0xa000, FS, CR3, 83);
    enter(0x402000, &user(58, FS, CR3), 0xa000);
    exit(0xc000, &sysret(0, 0x402002, FS, CR3));
    let mut execve = user(59, FS, CR3);
    execve.set_reg_named("rsi", 0).unwrap();
    execve.set_reg_named("rdx", 0).unwrap();
    enter(0x401000, &execve, 0xc000);
    exit(0xa000, &sysret(84, 0x402002, FS, CR3));
    enter(0x401000, &user(39, FS, CR3), 0xa000);
    exit(0xa000, &sysret(83, 0x401002, FS, CR3));
    // wait4(-1, ...) by the parent, at the same instruction.
    let mut wait4 = user(61, FS, CR3);
    for (reg, value) in [("rdi", u64::MAX), ("rsi", 0), ("rdx", 0), ("r10", 0)] {
        wait4.set_reg_named(reg, value).unwrap();
    }
    enter(0x401000, &wait4, 0xa000);
    // The exec returns into the new image; a thread of it ends the process.
    exit(0xc000, &sysret(0, 0x500000, 0, NEW));
    let mut exit_group = user(231, NEW_FS, NEW);
    exit_group.set_reg_named("rdi", 0).unwrap();
    enter(0x501000, &exit_group, 0xe000);
    exit(0xa000, &sysret(84, 0x401002, FS, CR3));
    let text = out.lock().unwrap().clone();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "[pid    83] getpid() = 83",
            "[pid    83] vfork( <unfinished ...>",
            "[pid    84] <... vfork resumed>) = 0",
            "[pid    84] execve(NULL, NULL, NULL <unfinished ...>",
            "[pid    83] <... vfork resumed>) = 84",
            "[pid    83] getpid() = 83",
            "[pid    83] wait4(-1,  <unfinished ...>",
            "[pid    84] <... execve resumed>) = 0",
            "[pid    86] exit_group(0) = ?",
            "[pid    86] +++ exited with 0 +++",
            "[pid    84] +++ exited with 0 +++",
            "[pid    83] <... wait4 resumed>NULL, 0, NULL) = 84",
        ],
        "{text}"
    );
}

/// Seen in a Debian guest's boot: pid 92's execve freed its address space,
/// and its sibling 93, forked meanwhile with the same TLS, got the freed
/// page-table page, so 93's calls and execve had the identity of 92's
/// execve, still under way. 92's execve returned first: each return pairs
/// with the execve of the task its new image's first call names, and
/// neither waits to the end. An interrupt's return with 0 to a task of
/// another process, preempted meanwhile, ends neither.
#[test]
fn two_tasks_execs_with_one_identity_are_told_apart() {
    const NEW_83: u64 = 0x2222000;
    const NEW_84: u64 = 0x3333000;
    let execve = |t: &Tracer<Compiled<LinuxX8664>>, current| {
        let mut cpu = user(59, FS, CR3);
        cpu.set_reg_named("rsi", 0).unwrap();
        cpu.set_reg_named("rdx", 0).unwrap();
        t.on_entry(0, 0, &syscall_at(0x401000), &cpu);
        t.on_probe(0, PROBE, &kernel_cpu(current));
    };
    let (t, out) = tracer("");
    execve(&t, 0xa000);
    getpid(&t, 0, 0xc000, FS, CR3, 84);
    execve(&t, 0xc000);
    t.on_exit(0, &[SYSRETQ], &sysret(0, 0x405002, 0x77000, 0x5678000));
    t.on_exit(0, &[SYSRETQ], &sysret(0, 0x401002, 0, NEW_83));
    getpid(&t, 0, 0xa000, 0, NEW_83, 83);
    t.on_exit(0, &[SYSRETQ], &sysret(0, 0x401002, 0, NEW_84));
    getpid(&t, 0, 0xc000, 0, NEW_84, 84);
    getpid(&t, 0, 0xd000, 0x77000, 0x5678000, 90);
    let text = out.lock().unwrap().clone();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "[pid    83] execve(NULL, NULL, NULL <unfinished ...>",
            "[pid    84] getpid() = 84",
            "[pid    84] execve(NULL, NULL, NULL <unfinished ...>",
            "[pid    83] <... execve resumed>) = 0",
            "[pid    83] getpid() = 83",
            "[pid    84] <... execve resumed>) = 0",
            "[pid    84] getpid() = 84",
            "[pid    90] getpid() = 90",
        ],
        "{text}"
    );
    assert_eq!(t.stats.exec_returns.load(Ordering::Relaxed), 2);
    let summary = t.finish_trace();
    assert!(
        summary.contains("0 calls still pending at the end; 0 returns not paired"),
        "{summary}"
    );
}

/// Seen under strace in the guest: two traced processes set their TLS
/// (`arch_prctl(ARCH_SET_FS)`, whose return comes with the new thread
/// identity) while their tracer's calls run on the vCPU. Each return pairs
/// with the call of the thread its next call names.
#[test]
fn identity_changes_of_two_processes_are_told_apart() {
    const CR3_84: u64 = 0x3333000;
    let set_fs = |t: &Tracer<Compiled<LinuxX8664>>, current, fs, cr3, tls| {
        let mut cpu = user(158, fs, cr3);
        cpu.set_reg_named("rdi", 0x1002).unwrap();
        cpu.set_reg_named("rsi", tls).unwrap();
        t.on_entry(0, 0, &syscall_at(0x406000), &cpu);
        t.on_probe(0, PROBE, &kernel_cpu(current));
    };
    let (t, out) = tracer("");
    set_fs(&t, 0xa000, FS, CR3, 0x6000);
    getpid(&t, 0, 0xd000, 0x77000, 0x5678000, 90);
    set_fs(&t, 0xc000, FS, CR3_84, 0x7000);
    getpid(&t, 0, 0xd000, 0x77000, 0x5678000, 90);
    t.on_exit(0, &[SYSRETQ], &sysret(0, 0x406002, 0x6000, CR3));
    getpid(&t, 0, 0xa000, 0x6000, CR3, 83);
    getpid(&t, 0, 0xd000, 0x77000, 0x5678000, 90);
    t.on_exit(0, &[SYSRETQ], &sysret(0, 0x406002, 0x7000, CR3_84));
    getpid(&t, 0, 0xc000, 0x7000, CR3_84, 84);
    let text = out.lock().unwrap().clone();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "[pid    83] arch_prctl(ARCH_SET_FS, 0x6000 <unfinished ...>",
            "[pid    90] getpid() = 90",
            "[pid    84] arch_prctl(ARCH_SET_FS, 0x7000 <unfinished ...>",
            "[pid    90] getpid() = 90",
            "[pid    83] <... arch_prctl resumed>) = 0",
            "[pid    83] getpid() = 83",
            "[pid    90] getpid() = 90",
            "[pid    84] <... arch_prctl resumed>) = 0",
            "[pid    84] getpid() = 84",
        ],
        "{text}"
    );
    assert_eq!(t.stats.rekeyed_returns.load(Ordering::Relaxed), 2);
}

#[test]
fn pid_filters_by_the_guests_ids() {
    let (t, out) = tracer("pid=90");
    getpid(&t, 0, 0xa000, FS, CR3, 83);
    getpid(&t, 1, 0xd000, 0x77000, 0x5678000, 90);
    assert_eq!(*out.lock().unwrap(), "[pid    90] getpid() = 90\n");
    assert_eq!(t.stats.filtered.load(Ordering::Relaxed), 1);
}

#[test]
fn follow_takes_a_matching_process_and_its_children() {
    let (t, out) = tracer("follow=ids");
    getpid(&t, 0, 0xd000, 0x77000, 0x5678000, 90);
    getpid(&t, 0, 0xa000, FS, CR3, 83);
    // 0xc000 (pid 84) is 83's child.
    getpid(&t, 1, 0xc000, 0x88000, 0x9999000, 84);
    getpid(&t, 0, 0xd000, 0x77000, 0x5678000, 90);
    assert_eq!(
        *out.lock().unwrap(),
        "[pid    83] getpid() = 83\n[pid    84] getpid() = 84\n"
    );
}

/// `follow=` with a `trace=` that leaves the followed process's own calls
/// out: its child, named otherwise, is still followed through it.
#[test]
fn follow_sees_the_calls_trace_leaves_out() {
    let (t, out) = tracer("follow=ids,trace=getppid");
    getpid(&t, 0, 0xa000, FS, CR3, 83);
    let getppid = |vcpu: u32, current: u64, fs: u64, cr3: u64, ret: u64| {
        t.on_entry(vcpu, 0, &syscall_at(0x401000), &user(110, fs, cr3));
        t.on_probe(vcpu, PROBE, &kernel_cpu(current));
        t.on_exit(vcpu, &[SYSRETQ], &sysret(ret, 0x401002, fs, cr3));
    };
    getppid(1, 0xc000, 0x88000, 0x9999000, 83);
    getppid(0, 0xd000, 0x77000, 0x5678000, 1);
    assert_eq!(*out.lock().unwrap(), "[pid    84] getppid() = 83\n");
}

/// A 6.2+ x86_64 kernel keeps `current_task` in `pcpu_hot` (here at
/// per-CPU offset 0x300, the member at 0x8): the model's `??` takes that
/// way, and its names are the same.
struct PcpuHotKernel;

impl osm_runtime::kernel::Layout for PcpuHotKernel {
    fn describe(&self) -> String {
        "a kernel with pcpu_hot".into()
    }

    fn member(&self, strukt: &str, field: &str) -> Option<osm_runtime::kernel::Member> {
        match (strukt, field) {
            ("pcpu_hot", "current_task") => Some(osm_runtime::kernel::Member {
                offset: 0x8,
                ty: osm_runtime::kernel::MemberTy::Ptr,
            }),
            _ => SmallKernel.member(strukt, field),
        }
    }

    fn has_struct(&self, strukt: &str) -> bool {
        strukt == "pcpu_hot" || SmallKernel.has_struct(strukt)
    }

    fn symbol(&self, name: &str) -> Option<u64> {
        (name == "pcpu_hot").then_some(0x300)
    }
}

#[test]
fn a_kernel_with_pcpu_hot_is_read_through_it() {
    let model = LinuxX8664::model();
    let task = resolve_task(&model, &PcpuHotKernel).expect("the fallback resolves");
    let current = model.expr(task.current.as_ref().unwrap());
    assert_eq!(current, "u64[(gs_base + (0x300 + 8))]");
    // Neither way: refused, naming what is missing.
    struct Neither;
    impl osm_runtime::kernel::Layout for Neither {
        fn describe(&self) -> String {
            "a kernel without either".into()
        }
        fn member(&self, s: &str, f: &str) -> Option<osm_runtime::kernel::Member> {
            SmallKernel.member(s, f)
        }
        fn has_struct(&self, s: &str) -> bool {
            SmallKernel.has_struct(s)
        }
        fn symbol(&self, _: &str) -> Option<u64> {
            None
        }
    }
    let err = resolve_task(&model, &Neither).unwrap_err();
    assert_eq!(
        err,
        "a kernel without either lacks &current_task, &pcpu_hot, pcpu_hot.current_task, which the model's `task` block reads"
    );
}

#[test]
fn comm_takes_names_and_patterns() {
    let (t, out) = tracer("comm=oth*:nosuch");
    getpid(&t, 0, 0xa000, FS, CR3, 83);
    getpid(&t, 1, 0xd000, 0x77000, 0x5678000, 90);
    assert_eq!(*out.lock().unwrap(), "[pid    90] getpid() = 90\n");
}

/// A call that a names filter drops costs no decoding once the vCPU knows
/// its task: its arguments' memory is not read.
#[test]
fn calls_a_names_filter_drops_are_not_decoded() {
    let (t, out) = tracer("pid=90");
    let reads = Cell::new(0);
    let mut entry = user(257, FS, CR3);
    entry.set_reg_named("rsi", 0x7000).unwrap();
    entry.set_reg_named("rdx", 0).unwrap();
    entry.set_reg_named("r10", 0).unwrap();
    entry.map(0x7000, b"/etc/hostname\0".to_vec());
    let counted = Counting {
        cpu: &entry,
        reads: &reads,
    };
    for round in 0..2 {
        t.on_entry(0, 0, &syscall_at(0x401000), &counted);
        t.on_probe(0, PROBE, &kernel_cpu(0xa000));
        t.on_exit(0, &[SYSRETQ], &sysret(3, 0x401002, FS, CR3));
        // The first call's task is not known at its entry: its path is read.
        let expected = if round == 0 { 1 } else { 0 };
        assert_eq!(reads.replace(0), expected, "round {round}");
    }
    assert_eq!(*out.lock().unwrap(), "");
    assert_eq!(t.stats.filtered.load(Ordering::Relaxed), 2);
}

#[test]
fn the_summary_splits_by_process() {
    let (t, out) = tracer("format=summary,summary=process");
    getpid(&t, 0, 0xa000, FS, CR3, 83);
    getpid(&t, 0, 0xa000, FS, CR3, 83);
    getpid(&t, 1, 0xd000, 0x77000, 0x5678000, 90);
    let report = t.finish_trace();
    let text = format!("{}{report}", out.lock().unwrap());
    let tables: Vec<&str> = text.split("\nprocess ").collect();
    assert_eq!(tables.len(), 3, "{text}");
    assert!(
        tables[0].contains("         3           getpid\n"),
        "{text}"
    );
    assert!(
        tables[1].starts_with("83 (ids):\n") && tables[1].contains("         2           getpid\n"),
        "{text}"
    );
    assert!(
        tables[2].starts_with("90 (other):\n")
            && tables[2].contains("         1           getpid\n"),
        "{text}"
    );
}

/// wait4 by pid 83 reaping child 84, whose status (at 0x7000 in the
/// exit's memory) is `status`.
fn wait4(t: &Tracer<Compiled<LinuxX8664>>, child: u64, status: u32) {
    wait4_by(t, (0xa000, FS, CR3), child, status);
}

/// wait4 on vCPU 0 by the task at `current` with TLS `fs` in address
/// space `cr3`, reaping `child` with `status`.
fn wait4_by(
    t: &Tracer<Compiled<LinuxX8664>>,
    (current, fs, cr3): (u64, u64, u64),
    child: u64,
    status: u32,
) {
    let mut entry = user(61, fs, cr3);
    entry.set_reg_named("rdi", -1i64 as u64).unwrap();
    entry.set_reg_named("rsi", 0x7000).unwrap();
    entry.set_reg_named("rdx", 0).unwrap();
    entry.set_reg_named("r10", 0).unwrap();
    t.on_entry(0, 0, &syscall_at(0x404000), &entry);
    t.on_probe(0, PROBE, &threads_cpu(current));
    let mut exit = sysret(child, 0x404002, fs, cr3);
    exit.map(0x7000, status.to_le_bytes().to_vec());
    t.on_exit(0, &[SYSRETQ], &exit);
}

/// A child killed by a signal makes no call that ends it: its parent's
/// wait4 says so, and the child's `+++ killed by` line comes before the
/// wait's return, as strace shows it; a child that exited has its own
/// `+++ exited` line, and none here.
#[test]
fn a_child_killed_by_a_signal_is_told_by_its_parents_wait() {
    let (t, out) = tracer("");
    wait4(&t, 84, 15);
    wait4(&t, 85, 0x8b);
    wait4(&t, 86, 7 << 8);
    let text = out.lock().unwrap().clone();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "[pid    83] wait4(-1,  <unfinished ...>",
            "[pid    84] +++ killed by SIGTERM +++",
            "[pid    83] <... wait4 resumed>[{WIFSIGNALED(s) && WTERMSIG(s) == SIGTERM}], 0, NULL) = 84",
            "[pid    83] wait4(-1,  <unfinished ...>",
            "[pid    85] +++ killed by SIGSEGV (core dumped) +++",
            "[pid    83] <... wait4 resumed>[{WIFSIGNALED(s) && WTERMSIG(s) == SIGSEGV && WCOREDUMP(s)}], 0, NULL) = 85",
            "[pid    83] wait4(-1, [{WIFEXITED(s) && WEXITSTATUS(s) == 7}], 0, NULL) = 86",
        ],
        "{text}"
    );
    // A second wait that finds the same child (a ptrace tracer's, then
    // the parent's) tells nothing more: one end per process.
    let (t, out) = tracer("");
    wait4(&t, 84, 9);
    wait4(&t, 84, 9);
    let text = out.lock().unwrap().clone();
    assert_eq!(
        text.matches("+++ killed by SIGKILL +++").count(),
        1,
        "{text}"
    );
    let (t, out) = tracer("format=jsonl");
    wait4(&t, 84, 15);
    let text = out.lock().unwrap().clone();
    let killed = text.lines().find(|l| l.contains(r#""event":"killed""#));
    assert!(
        killed.is_some_and(|l| l
            .contains(r#""nr":15,"name":"SIGTERM","pid":84,"tid":84,"ppid":83"#)
            && l.ends_with(r#""core_dumped":false}"#)),
        "{text}"
    );
}

/// The TLS of pid 83's second thread, 85 (task 0xe000).
const WORKER_FS: u64 = 0x4d6000;

/// [`kernel_cpu`] with pid 83's second thread, tid 85, beside it.
fn threads_cpu(current: u64) -> SnapshotCpu {
    let mut cpu = kernel_cpu(current);
    small_kernel_task(&mut cpu, 0xe000, 85, 83, 0xb000, "worker");
    cpu
}

/// Call `nr` with first argument `arg` by the thread at `current`, left
/// pending (no exit).
fn enter(t: &Tracer<Compiled<LinuxX8664>>, vcpu: u32, current: u64, fs: u64, nr: u64, arg: u64) {
    let mut entry = user(nr, fs, CR3);
    entry.set_reg_named("rdi", arg).unwrap();
    t.on_entry(vcpu, 0, &syscall_at(0x405000), &entry);
    t.on_probe(vcpu, PROBE, &threads_cpu(current));
}

/// exit ends its thread alone, with its own `+++ exited` line; exit_group
/// ends the process's other threads too: a thread blocked in a call shows
/// its end, then its own line, and the process's line, its leader's,
/// comes last whichever thread called exit_group, as strace shows them.
#[test]
fn threads_end_each_with_their_own_line() {
    // A thread: its vCPU, task and TLS.
    type Thread = (u32, u64, u64);
    const LEADER: Thread = (0, 0xa000, FS);
    const WORKER: Thread = (1, 0xe000, WORKER_FS);
    // Calls (thread, number, first argument), none returning, and the lines.
    type Case = (&'static [(Thread, u64, u64)], &'static [&'static str]);
    let cases: [Case; 3] = [
        (
            &[(WORKER, 60, 3), (LEADER, 231, 0)],
            &[
                "[pid    85] exit(3) = ?",
                "[pid    85] +++ exited with 3 +++",
                "[pid    83] exit_group(0) = ?",
                "[pid    83] +++ exited with 0 +++",
            ],
        ),
        // The leader calls exit_group while its thread waits in read.
        (
            &[(WORKER, 0, 4), (LEADER, 231, 5)],
            &[
                "[pid    85] read(4,  <unfinished ...>",
                "[pid    83] exit_group(5) = ?",
                "[pid    85] <... read resumed> <unfinished ...>) = ?",
                "[pid    85] +++ exited with 5 +++",
                "[pid    83] +++ exited with 5 +++",
            ],
        ),
        // The thread calls it while the leader waits in read.
        (
            &[(LEADER, 0, 4), (WORKER, 231, 6)],
            &[
                "[pid    83] read(4,  <unfinished ...>",
                "[pid    85] exit_group(6) = ?",
                "[pid    83] <... read resumed> <unfinished ...>) = ?",
                "[pid    85] +++ exited with 6 +++",
                "[pid    83] +++ exited with 6 +++",
            ],
        ),
    ];
    for (calls, expected) in cases {
        let (t, out) = tracer("");
        for &((vcpu, task, fs), nr, arg) in calls {
            enter(&t, vcpu, task, fs, nr, arg);
        }
        t.finish_trace();
        let text = out.lock().unwrap().clone();
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("[pid")).collect();
        assert_eq!(lines, expected, "{text}");
    }
}

/// An exec ends its process's other threads, as strace shows it: their
/// calls end `= ?`, each but the leader has its `+++ exited with 0 +++`,
/// and when a thread other than the leader called, the leader's line is
/// `+++ superseded by execve in pid 85 +++` and the exec returns as the
/// leader (its caller takes the process's id). A failed exec ends none.
#[test]
fn an_exec_ends_the_process_s_other_threads() {
    const LEADER: (u32, u64, u64) = (0, 0xa000, FS);
    const WORKER: (u32, u64, u64) = (1, 0xe000, WORKER_FS);
    const NEW_CR3: u64 = 0x2222000;
    let execve = |t: &Tracer<Compiled<LinuxX8664>>, (vcpu, current, fs): (u32, u64, u64)| {
        let mut cpu = user(59, fs, CR3);
        cpu.set_reg_named("rsi", 0).unwrap();
        cpu.set_reg_named("rdx", 0).unwrap();
        t.on_entry(vcpu, 0, &syscall_at(0x401000), &cpu);
        t.on_probe(vcpu, PROBE, &threads_cpu(current));
    };
    // The exec's return into the new image, whose first call names its
    // task: the caller's, now the process's only thread, tid 83.
    let returns = |t: &Tracer<Compiled<LinuxX8664>>, (vcpu, current, _): (u32, u64, u64)| {
        t.on_exit(vcpu, &[SYSRETQ], &sysret(0, 0x401002, 0, NEW_CR3));
        let mut kernel = kernel_cpu(current);
        small_kernel_task(&mut kernel, current, 83, 83, 0xb000, "new");
        t.on_entry(vcpu, 0, &syscall_at(0x402000), &user(39, 0, NEW_CR3));
        t.on_probe(vcpu, PROBE, &kernel);
        t.on_exit(vcpu, &[SYSRETQ], &sysret(83, 0x402002, 0, NEW_CR3));
    };
    let lines = |out: &Arc<Mutex<String>>| -> Vec<String> {
        let text = out.lock().unwrap().clone();
        text.lines()
            .filter(|l| l.starts_with("[pid"))
            .map(str::to_string)
            .collect()
    };
    // The thread execs while the leader waits in read.
    let (t, out) = tracer("");
    enter(&t, LEADER.0, LEADER.1, LEADER.2, 0, 3);
    execve(&t, WORKER);
    returns(&t, WORKER);
    assert_eq!(
        lines(&out),
        [
            "[pid    83] read(3,  <unfinished ...>",
            "[pid    85] execve(NULL, NULL, NULL <unfinished ...>",
            "[pid    83] <... read resumed> <unfinished ...>) = ?",
            "[pid    83] +++ superseded by execve in pid 85 +++",
            "[pid    83] <... execve resumed>) = 0",
            "[pid    83] getpid() = 83",
        ]
    );
    // The leader execs while the thread waits in read.
    let (t, out) = tracer("");
    enter(&t, WORKER.0, WORKER.1, WORKER.2, 0, 4);
    execve(&t, LEADER);
    returns(&t, LEADER);
    assert_eq!(
        lines(&out),
        [
            "[pid    85] read(4,  <unfinished ...>",
            "[pid    83] execve(NULL, NULL, NULL <unfinished ...>",
            "[pid    85] <... read resumed> <unfinished ...>) = ?",
            "[pid    85] +++ exited with 0 +++",
            "[pid    83] <... execve resumed>) = 0",
            "[pid    83] getpid() = 83",
        ]
    );
    // A failed exec: the thread, in no call, still ends with the process.
    let (t, out) = tracer("");
    getpid_of(&t, WORKER);
    execve(&t, LEADER);
    let enoent = (-2i64) as u64;
    t.on_exit(0, &[SYSRETQ], &sysret(enoent, 0x401002, FS, CR3));
    enter(&t, LEADER.0, LEADER.1, LEADER.2, 231, 1);
    assert_eq!(
        lines(&out)[1..],
        [
            "[pid    83] execve(NULL, NULL, NULL) = -1 ENOENT (No such file or directory)",
            "[pid    83] exit_group(1) = ?",
            "[pid    85] +++ exited with 1 +++",
            "[pid    83] +++ exited with 1 +++",
        ]
    );
}

/// getpid() by thread `thread` of pid 83, returning 83.
fn getpid_of(t: &Tracer<Compiled<LinuxX8664>>, (vcpu, current, fs): (u32, u64, u64)) {
    t.on_entry(vcpu, 0, &syscall_at(0x401000), &user(39, fs, CR3));
    t.on_probe(vcpu, PROBE, &threads_cpu(current));
    t.on_exit(vcpu, &[SYSRETQ], &sysret(83, 0x401002, fs, CR3));
}

/// A thread that is in no call when its process ends (it computes, or
/// its calls are not traced) has its own end line all the same, as strace
/// shows it: known alive since its first call, until it or its process
/// ends.
#[test]
fn threads_in_no_call_end_with_their_process() {
    const LEADER: (u32, u64, u64) = (0, 0xa000, FS);
    const WORKER: (u32, u64, u64) = (1, 0xe000, WORKER_FS);
    // The leader or the thread calls exit_group, the other computing.
    for (caller, other, tid) in [(LEADER, WORKER, 83), (WORKER, LEADER, 85)] {
        let (t, out) = tracer("");
        getpid_of(&t, other);
        getpid_of(&t, caller);
        enter(&t, caller.0, caller.1, caller.2, 231, 7);
        t.finish_trace();
        let text = out.lock().unwrap().clone();
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("[pid")).collect();
        let getpid = |tid| format!("[pid {tid:>5}] getpid() = 83");
        let exited = |tid| format!("[pid {tid:>5}] +++ exited with 7 +++");
        assert_eq!(
            lines,
            [
                getpid(if tid == 83 { 85 } else { 83 }),
                getpid(tid),
                format!("[pid {tid:>5}] exit_group(7) = ?"),
                exited(85),
                exited(83),
            ],
            "{text}"
        );
    }
    // A thread that ended before shows no second end; nor does a killed
    // process's thread, with its own killed line.
    let (t, out) = tracer("");
    getpid_of(&t, WORKER);
    enter(&t, WORKER.0, WORKER.1, WORKER.2, 60, 2);
    enter(&t, LEADER.0, LEADER.1, LEADER.2, 231, 7);
    t.finish_trace();
    let text = out.lock().unwrap().clone();
    assert_eq!(text.matches("[pid    85] +++ exited").count(), 1, "{text}");
    assert!(text.contains("[pid    83] +++ exited with 7 +++"), "{text}");
    let (t, out) = tracer("");
    getpid_of(&t, WORKER);
    getpid_of(&t, LEADER);
    wait4_by(&t, (0xb000, 0x4d7000, 0x2234000), 83, 9);
    let text = out.lock().unwrap().clone();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[2..],
        [
            "[pid     1] wait4(-1,  <unfinished ...>",
            "[pid    85] +++ killed by SIGKILL +++",
            "[pid    83] +++ killed by SIGKILL +++",
            "[pid     1] <... wait4 resumed>[{WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL}], 0, NULL) = 83",
        ],
        "{text}"
    );
}

/// A process killed with two threads in calls: each call ends, each
/// thread has its `+++ killed by` line, the process's (its leader's) last.
#[test]
fn a_killed_process_ends_each_of_its_threads() {
    let (t, out) = tracer("");
    enter(&t, 1, 0xe000, WORKER_FS, 0, 4);
    enter(&t, 0, 0xa000, FS, 0, 3);
    // init (pid 1) reaps 83, killed by SIGKILL.
    wait4_by(&t, (0xb000, 0x4d7000, 0x2234000), 83, 9);
    let text = out.lock().unwrap().clone();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "[pid    85] read(4,  <unfinished ...>",
            "[pid    83] read(3,  <unfinished ...>",
            "[pid     1] wait4(-1,  <unfinished ...>",
            "[pid    83] <... read resumed> <unfinished ...>) = ?",
            "[pid    85] <... read resumed> <unfinished ...>) = ?",
            "[pid    85] +++ killed by SIGKILL +++",
            "[pid    83] +++ killed by SIGKILL +++",
            "[pid     1] <... wait4 resumed>[{WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL}], 0, NULL) = 83",
        ],
        "{text}"
    );
}
