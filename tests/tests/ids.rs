//! The guest's own names for tasks, end to end on every architecture's
//! Debian guest: tests/guest/ids.c renames itself, starts a thread, forks a
//! child that execs the program again, vforks one more, forks one that
//! takes turns with it (same registers, another task) and two that block
//! in read() at once from the same code, let go oldest first; each task
//! writes what getpid(), gettid(), getppid() and prctl(PR_GET_NAME) told
//! it. The jsonl trace, through `cargo xtask trace` (which gives the plugin
//! the guest's kernel, or an ISF profile made from its -dbg package), must
//! label every call with those values, and where returns are traced, show
//! getpid() and the others returning the pid and tid the calls carry, and
//! each blocked read returning what was written for its own process (on
//! MIPS, whose identity is the stack pointer, the two reads have one),
//! and the exec returning into its new image.
//! `follow=` must keep exactly one program's tree out of two.

mod common;

use common::{build_guest_program, cargo_xtask, is_exit, name, read_jsonl, root, xtask_trace};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::Path;
use std::sync::Mutex;

/// One guest at a time: each boot uses both cores.
static SERIAL: Mutex<()> = Mutex::new(());

struct Arch {
    name: &'static str,
    spec: &'static str,
    compiler: &'static str,
    /// Whether a child's first return from clone or fork is named: it is
    /// held until the child's first call, found by the model's thread
    /// identity, which on MIPS (the stack pointer) differs there.
    child_returns_named: bool,
}

const fn arch(name: &'static str, spec: &'static str, compiler: &'static str) -> Arch {
    Arch {
        name,
        spec,
        compiler,
        child_returns_named: true,
    }
}

const X86_64: Arch = arch("x86_64", "specs/linux-x86_64.osm", "gcc");
const I386: Arch = arch("i386", "specs/linux-i386.osm", "i686-linux-gnu-gcc");
/// A 32-bit program on the 64-bit kernel: its calls enter through the
/// vDSO (`syscall` or `sysenter`) or by `int $0x80` (glibc's clone).
const I386_ON_X86_64: Arch = arch(
    "i386-on-x86_64",
    "specs/linux-x86_64.osm",
    "i686-linux-gnu-gcc",
);
const ARM: Arch = arch("arm", "specs/linux-arm.osm", "arm-linux-gnueabihf-gcc");
const AARCH64: Arch = arch(
    "aarch64",
    "specs/linux-aarch64.osm",
    "aarch64-linux-gnu-gcc",
);
const PPC64EL: Arch = arch(
    "ppc64el",
    "specs/linux-ppc64el.osm",
    "powerpc64le-linux-gnu-gcc",
);
const S390X: Arch = arch("s390x", "specs/linux-s390x.osm", "s390x-linux-gnu-gcc");
const RISCV64: Arch = arch(
    "riscv64",
    "specs/linux-riscv64.osm",
    "riscv64-linux-gnu-gcc",
);
const MIPSEL: Arch = Arch {
    child_returns_named: false,
    ..arch("mipsel", "specs/linux-mipsel.osm", "mipsel-linux-gnu-gcc")
};
const MIPS64EL: Arch = Arch {
    child_returns_named: false,
    ..arch(
        "mips64el",
        "specs/linux-mips64el.osm",
        "mips64el-linux-gnuabi64-gcc",
    )
};

/// What a task of ids.c wrote about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Report {
    who: String,
    pid: i64,
    tid: i64,
    ppid: i64,
    comm: String,
}

/// `"ids main pid=83 tid=83 ppid=1 comm=ids\n"` as a write's buffer shows.
fn report(text: &str) -> Option<Report> {
    let line = text.trim_matches('"').strip_suffix("\\n")?;
    let mut words = line.strip_prefix("ids ")?.split(' ');
    let who = words.next()?.to_string();
    let mut field = |key: &str| words.next()?.strip_prefix(key).map(str::to_string);
    Some(Report {
        who,
        pid: field("pid=")?.parse().ok()?,
        tid: field("tid=")?.parse().ok()?,
        ppid: field("ppid=")?.parse().ok()?,
        comm: field("comm=")?,
    })
}

fn names_of(e: &Value) -> Option<(i64, i64, Option<i64>, Option<&str>)> {
    Some((
        e["pid"].as_i64()?,
        e["tid"].as_i64()?,
        e["ppid"].as_i64(),
        e["comm"].as_str(),
    ))
}

/// Traces `cmd` with ids.c in the guest (as `/ids`, and as `/<alias>` for
/// each alias); returns the console output and the events.
fn trace(
    arch: &Arch,
    smp: u32,
    cmd: &str,
    plugin_args: &str,
    extra: &[&str],
    tag: &str,
) -> (String, Vec<Value>) {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = root()
        .join("target/osmtrace/ids")
        .join(format!("{}-smp{smp}-{tag}", arch.name));
    let program = build_guest_program(arch.compiler, "ids", &dir);
    let out = dir.join("trace.jsonl");
    let _ = std::fs::remove_file(&out);
    let mut extra_args: Vec<&OsStr> = extra.iter().map(OsStr::new).collect();
    let aliases: Vec<std::path::PathBuf> = ["ida", "idb"]
        .iter()
        .map(|alias| {
            let path = dir.join(alias);
            std::fs::copy(&program, &path).unwrap();
            path
        })
        .collect();
    for alias in &aliases {
        extra_args.push(OsStr::new("--add"));
        extra_args.push(alias.as_os_str());
    }
    let result = xtask_trace(
        arch.spec,
        &program,
        cmd,
        plugin_args,
        smp,
        &out,
        &extra_args,
    );
    let stderr = String::from_utf8_lossy(&result.stderr).into_owned();
    assert!(
        result.status.success(),
        "cargo xtask trace failed:\n{stderr}"
    );
    (stderr, read_jsonl(&out))
}

/// Every write of a report, with the names the trace gave its call.
fn reports(events: &[Value]) -> Vec<(Report, &Value)> {
    events
        .iter()
        .filter(|e| !is_exit(e) && name(e) == "write")
        .filter_map(|e| Some((report(e["args"][1]["text"].as_str()?)?, e)))
        .collect()
}

/// What the calls named `call` of process `pid` returned.
fn returns_of(events: &[Value], call: &str, pid: i64) -> Vec<Option<i64>> {
    events
        .iter()
        .filter(|e| is_exit(e) && name(e) == call && names_of(e).is_some_and(|n| n.0 == pid))
        .map(|e| e["ret"].as_i64())
        .collect()
}

/// Who reports in tests/guest/ids.c.
const WHOS: [&str; 11] = [
    "main",
    "renamed",
    "thread",
    "fork-child",
    "exec-child",
    "vfork-child",
    "turn-parent",
    "turn-child",
    "blocked-first",
    "blocked-second",
    "end",
];

/// The reports ids.c writes: one of each, and `TURNS` of the two that take
/// turns.
const REPORTS: usize = WHOS.len() - 2 + 2 * 8;

fn check_ids(arch: &Arch, smp: u32, extra: &[&str], tag: &str) -> String {
    let (console, events) = trace(arch, smp, "/ids", "format=jsonl,strsize=128", extra, tag);
    let found = reports(&events);
    let by_who: BTreeMap<&str, &Report> = found.iter().map(|(r, _)| (r.who.as_str(), r)).collect();
    let whos: BTreeSet<&str> = by_who.keys().copied().collect();
    let expected: BTreeSet<&str> = WHOS.into();
    assert_eq!(
        whos, expected,
        "{}: reports in the trace\n{console}",
        arch.name
    );
    // The trace names every report's call as the task named itself.
    for (r, e) in &found {
        let (pid, tid, ppid, comm) = names_of(e)
            .unwrap_or_else(|| panic!("{}: a report's call has no names: {e}", arch.name));
        assert_eq!(
            (pid, tid, ppid, comm),
            (r.pid, r.tid, Some(r.ppid), Some(r.comm.as_str())),
            "{}: {} reported {r:?}, the trace says {e}",
            arch.name,
            r.who
        );
    }
    // The program did what the test needs, so that the checks above mean
    // something: a thread, a renaming, new processes, an exec.
    let main = by_who["main"];
    assert_eq!(main.comm, "ids");
    assert_eq!(by_who["renamed"].comm, "ids-renamed");
    assert_eq!(
        (by_who["thread"].pid, by_who["thread"].comm.as_str()),
        (main.pid, "ids-renamed")
    );
    assert_ne!(by_who["thread"].tid, main.tid);
    assert_eq!(
        found.len(),
        REPORTS,
        "{}: reports in the trace\n{console}",
        arch.name
    );
    assert_eq!(by_who["turn-parent"].pid, main.pid);
    for child in [
        "fork-child",
        "vfork-child",
        "turn-child",
        "blocked-first",
        "blocked-second",
    ] {
        assert_ne!(by_who[child].pid, main.pid, "{child}");
        assert_eq!(by_who[child].ppid, main.pid, "{child}");
    }
    assert_eq!(by_who["exec-child"].pid, by_who["fork-child"].pid);
    // The fork child's exec returns 0 into its new image, named as the
    // child (on MIPS, whose identity there is another stack pointer,
    // through the model's return probe).
    let child = by_who["fork-child"].pid;
    assert_eq!(
        returns_of(&events, "execve", child),
        [Some(0)],
        "{}: the fork child's execve returns",
        arch.name
    );
    assert_eq!(by_who["exec-child"].comm, "ids");
    // The blocked reads return what was written to each one's pipe.
    for (who, count) in [("blocked-first", 3), ("blocked-second", 5)] {
        assert_eq!(
            returns_of(&events, "read", by_who[who].pid),
            [Some(count)],
            "{}: {who}'s read returns",
            arch.name
        );
    }
    // Where returns pair, the calls' own returns agree with their names.
    let program: BTreeSet<i64> = found.iter().map(|(r, _)| r.pid).collect();
    let mut checked = 0;
    for e in events.iter().filter(|e| is_exit(e)) {
        let Some((pid, tid, ppid, _)) = names_of(e) else {
            continue;
        };
        if !program.contains(&pid) {
            continue;
        }
        let want = match name(e) {
            "getpid" => pid,
            "gettid" => tid,
            "getppid" => ppid.expect("ppid"),
            _ => continue,
        };
        assert_eq!(e["ret"].as_i64(), Some(want), "{}: {e}", arch.name);
        checked += 1;
    }
    assert!(
        checked >= 3 * WHOS.len(),
        "{}: only {checked} id calls returned",
        arch.name
    );
    // Every call made in the program's address spaces has names.
    let spaces: BTreeSet<u64> = found
        .iter()
        .filter_map(|(_, e)| e["process"].as_u64())
        .collect();
    let unnamed: Vec<&Value> = events
        .iter()
        .filter(|e| {
            e["pid"].is_null() && e["process"].as_u64().is_some_and(|p| spaces.contains(&p))
        })
        .filter(|e| {
            let child_return = is_exit(e) && e["ret"] == 0 && name(e).starts_with("clone");
            arch.child_returns_named || !child_return
        })
        .collect();
    assert!(
        unnamed.is_empty(),
        "{}: calls without names: {unnamed:?}",
        arch.name
    );
    console
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn x86_64_calls_carry_the_guests_names() {
    check_ids(&X86_64, 1, &[], "");
}

#[test]
#[ignore = "full tier: bash scripts/test.sh --full"]
fn x86_64_names_with_two_vcpus() {
    check_ids(&X86_64, 2, &[], "");
}

/// An Intel CPU model makes the kernel isolate its page tables: kernel
/// memory is not mapped in user mode, where the calls enter.
#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn x86_64_names_with_page_table_isolation() {
    let (console, events) = trace(
        &X86_64,
        2,
        "dmesg | grep -i 'page tables isolation'; /ids",
        "format=jsonl,strsize=128",
        &["--cpu", "qemu64,vendor=GenuineIntel"],
        "pti",
    );
    assert!(
        console.contains("Kernel/User page tables isolation: enabled"),
        "PTI is not on:\n{console}"
    );
    assert_eq!(reports(&events).len(), REPORTS);
    for (r, e) in reports(&events) {
        assert_eq!(names_of(e).map(|n| (n.0, n.1)), Some((r.pid, r.tid)), "{e}");
    }
}

/// A newer kernel: Debian 13's 6.12 keeps `current_task` in `pcpu_hot`
/// and addresses per-CPU variables relative to rip in its entry code; with
/// an Intel CPU, page-table isolation too.
#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn x86_64_names_on_debian_13s_kernel() {
    check_ids(
        &X86_64,
        2,
        &["--debian", "13", "--cpu", "qemu64,vendor=GenuineIntel"],
        "debian13",
    );
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn i386_program_on_x86_64_calls_carry_the_guests_names() {
    check_ids(&I386_ON_X86_64, 2, &[], "");
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn i386_calls_carry_the_guests_names() {
    check_ids(&I386, 1, &[], "");
}

#[test]
#[ignore = "full tier: bash scripts/test.sh --full"]
fn i386_names_with_two_vcpus() {
    check_ids(&I386, 2, &[], "");
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn arm_calls_carry_the_guests_names() {
    check_ids(&ARM, 1, &[], "");
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn arm_names_with_two_vcpus() {
    check_ids(&ARM, 2, &[], "");
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn aarch64_calls_carry_the_guests_names() {
    check_ids(&AARCH64, 1, &[], "");
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn aarch64_names_with_two_vcpus() {
    check_ids(&AARCH64, 2, &[], "");
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn ppc64el_calls_carry_the_guests_names() {
    check_ids(&PPC64EL, 1, &[], "");
}

#[test]
#[ignore = "full tier: bash scripts/test.sh --full"]
fn ppc64el_names_with_two_vcpus() {
    check_ids(&PPC64EL, 2, &[], "");
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn s390x_calls_carry_the_guests_names() {
    check_ids(&S390X, 1, &[], "");
}

#[test]
#[ignore = "full tier: bash scripts/test.sh --full"]
fn s390x_names_with_two_vcpus() {
    check_ids(&S390X, 2, &[], "");
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn riscv64_calls_carry_the_guests_names() {
    check_ids(&RISCV64, 1, &[], "");
}

#[test]
#[ignore = "full tier: bash scripts/test.sh --full"]
fn riscv64_names_with_two_vcpus() {
    check_ids(&RISCV64, 2, &[], "");
}

/// MIPS Malta guests run one vCPU (xtask/src/guest.rs says why).
#[test]
#[ignore = "full tier: bash scripts/test.sh --full"]
fn mipsel_calls_carry_the_guests_names() {
    check_ids(&MIPSEL, 1, &[], "");
}

#[test]
#[ignore = "full tier: bash scripts/test.sh --full"]
fn mips64el_calls_carry_the_guests_names() {
    check_ids(&MIPS64EL, 1, &[], "");
}

/// Two copies of the program under other names, and other programs
/// besides: `follow=ida` keeps exactly the tree of the one named ida, live
/// and when `trace-view` filters a recording of everything.
#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn follow_keeps_one_program_and_what_it_starts() {
    let cmd = "ls / >/dev/null; /ida & /idb & cat /proc/version >/dev/null; wait";
    let (console, events) = trace(
        &X86_64,
        2,
        cmd,
        "format=jsonl,strsize=128,follow=ida",
        &[],
        "follow",
    );
    check_followed(&console, &events);
    let (console, events) = trace(&X86_64, 2, cmd, "format=jsonl,strsize=128", &[], "all");
    let recording = root().join("target/osmtrace/ids/x86_64-smp2-all/trace.jsonl");
    let view = recording.with_file_name("followed.jsonl");
    cargo_xtask([
        OsStr::new("trace-view"),
        OsStr::new("--format"),
        OsStr::new("jsonl"),
        OsStr::new("--filter"),
        OsStr::new("follow=ida"),
        OsStr::new("--out"),
        view.as_os_str(),
        recording.as_os_str(),
    ]);
    let viewed = read_jsonl(&view);
    assert!(viewed.len() < events.len());
    check_followed(&console, &viewed);
}

/// The trace holds ida's reports and nothing of any other process
/// (the other copy's pid is on the console, where both reported).
fn check_followed(console: &str, events: &[Value]) {
    assert_eq!(console.matches("ids main pid=").count(), 2, "{console}");
    let found = reports(events);
    let whos: BTreeSet<&str> = found.iter().map(|(r, _)| r.who.as_str()).collect();
    assert_eq!(whos.len(), WHOS.len(), "{whos:?}");
    let tree: BTreeSet<i64> = found.iter().map(|(r, _)| r.pid).collect();
    let main = found
        .iter()
        .find(|(r, _)| r.who == "main")
        .unwrap()
        .0
        .clone();
    assert_eq!(main.comm, "ida");
    let other: Vec<i64> = console
        .lines()
        .filter_map(|l| l.strip_prefix("ids main pid="))
        .filter_map(|l| l.split(' ').next()?.parse().ok())
        .filter(|p| *p != main.pid)
        .collect();
    assert_eq!(other.len(), 1, "{console}");
    for e in events {
        let pid = e["pid"].as_i64().unwrap_or_else(|| panic!("no names: {e}"));
        assert!(
            tree.contains(&pid),
            "a call of pid {pid}, not of ida's tree: {e}"
        );
    }
    assert!(!tree.contains(&other[0]));
    // Everything of the tree is there: its first call after the exec on.
    assert!(
        events
            .iter()
            .any(|e| name(e) == "exit_group" && e["pid"].as_i64() == Some(main.pid))
    );
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn cargo_xtask_trace_follow_keeps_the_command_alone() {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = root().join("target/osmtrace/ids/follow-cmd");
    let program = build_guest_program(X86_64.compiler, "ids", &dir);
    let out = dir.join("trace.jsonl");
    let _ = std::fs::remove_file(&out);
    let result = xtask_trace(
        X86_64.spec,
        &program,
        "/ids",
        "format=jsonl,strsize=128",
        1,
        &out,
        &[OsStr::new("--follow")],
    );
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    let events = read_jsonl(Path::new(&out));
    let comms: BTreeSet<&str> = events.iter().filter_map(|e| e["comm"].as_str()).collect();
    // The command's shell, and the program it runs; not init or mount.
    assert!(
        comms.contains("osmtrace-sh") && comms.contains("ids"),
        "{comms:?}"
    );
    assert!(
        !comms.contains("init") && !comms.contains("mount"),
        "{comms:?}"
    );
    assert_eq!(reports(&events).len(), REPORTS);
}
