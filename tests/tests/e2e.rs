//! End to end: a static test program of our own (tests/guest/e2e.c, built
//! with Debian's gcc, i686-linux-gnu-gcc, arm-linux-gnueabihf-gcc,
//! aarch64-linux-gnu-gcc and s390x-linux-gnu-gcc) runs in a real Debian
//! guest under the plugin, through `cargo xtask trace` as a user runs it;
//! the jsonl trace must show what the program really did. The i386 program
//! also runs on the x86_64 kernel, whose model traces it with the i386
//! table.
//!
//! Needs QEMU ≥ 9.2 and the cross compiler (`scripts/setup.sh`) and, on the
//! first run, Debian's archive for the guest kernels (cached in target/).

mod common;

use common::{
    arg_text, arg_value, build_guest_program, is_exit, key, name, read_jsonl, root,
    trace_guest_program,
};
use serde_json::Value;
use std::ffi::OsStr;
use std::process::Command;
use std::sync::Mutex;

/// One guest at a time: each boot uses both cores.
static SERIAL: Mutex<()> = Mutex::new(());

struct Arch {
    /// Names the test's directory under target/osmtrace/e2e.
    name: &'static str,
    spec: &'static str,
    compiler: &'static str,
    /// `cargo xtask trace --cpu`, when not the guest's default.
    cpu: Option<&'static str>,
    bits: u32,
    openat: u64,
    write: u64,
    exit_group: u64,
}

const X86_64: Arch = Arch {
    name: "x86_64",
    spec: "specs/linux-x86_64.osm",
    compiler: "gcc",
    cpu: None,
    bits: 64,
    openat: 257,
    write: 1,
    exit_group: 231,
};

const AARCH64: Arch = Arch {
    name: "aarch64",
    spec: "specs/linux-aarch64.osm",
    compiler: "aarch64-linux-gnu-gcc",
    cpu: None,
    bits: 64,
    openat: 56,
    write: 64,
    exit_group: 94,
};

const ARM: Arch = Arch {
    name: "arm",
    spec: "specs/linux-arm.osm",
    compiler: "arm-linux-gnueabihf-gcc",
    cpu: None,
    bits: 32,
    openat: 322,
    write: 4,
    exit_group: 248,
};

/// s390x: `svc 4` for write and exit_group (248), `svc 0` with the number
/// in r1 for openat (288).
const S390X: Arch = Arch {
    name: "s390x",
    spec: "specs/linux-s390x.osm",
    compiler: "s390x-linux-gnu-gcc",
    cpu: None,
    bits: 64,
    openat: 288,
    write: 4,
    exit_group: 248,
};

/// glibc's i386 calls go through the vDSO's __kernel_vsyscall, which the
/// 686 kernel makes enter with `sysenter` (returning with `sysexit`, or
/// `iret` when it must); start-up before the TLS is set and clone3 use
/// `int 0x80`.
const I386: Arch = Arch {
    name: "i386",
    spec: "specs/linux-i386.osm",
    compiler: "i686-linux-gnu-gcc",
    cpu: None,
    bits: 32,
    openat: 295,
    write: 4,
    exit_group: 252,
};

/// The same i386 program on the 64-bit kernel (IA32 emulation), traced by
/// the x86_64 model's compat mechanisms: QEMU's default CPU says AMD, so
/// the 32-bit vDSO enters with a 32-bit `syscall` (returning with `sysretl`).
const I386_ON_X86_64: Arch = Arch {
    name: "i386-on-x86_64",
    spec: "specs/linux-x86_64.osm",
    ..I386
};

/// On a CPU that says Intel, the 32-bit vDSO enters with `sysenter`.
const I386_ON_X86_64_INTEL: Arch = Arch {
    name: "i386-on-x86_64-intel",
    cpu: Some("qemu64,vendor=GenuineIntel"),
    ..I386_ON_X86_64
};

/// The same armhf program on the 64-bit ARM kernel (AArch32 EL0), traced by
/// the aarch64 model's compat mechanism at the kernel's exception vector.
const ARM_ON_AARCH64: Arch = Arch {
    name: "arm-on-aarch64",
    spec: "specs/linux-aarch64.osm",
    ..ARM
};

/// Builds the test program and traces it; returns the trace events.
fn trace(arch: &Arch, smp: u32) -> Vec<Value> {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = root()
        .join("target/osmtrace/e2e")
        .join(format!("{}-smp{smp}", arch.name));
    let program = build_guest_program(arch.compiler, "e2e", &dir);
    let out = dir.join("trace.jsonl");
    let _ = std::fs::remove_file(&out);
    let cpu: Vec<&OsStr> = match arch.cpu {
        Some(cpu) => vec!["--cpu".as_ref(), cpu.as_ref()],
        None => Vec::new(),
    };
    let result = trace_guest_program(arch.spec, &program, "/e2e", smp, &out, &cpu);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        result.status.success(),
        "cargo xtask trace failed:\n{stderr}"
    );
    assert!(
        stderr.contains("osmtrace-e2e-write") && stderr.contains("osmtrace-e2e-thread"),
        "{stderr}"
    );
    assert!(stderr.contains("guest command exited with 7"), "{stderr}");
    read_jsonl(&out)
}

fn check(arch: &Arch, events: &[Value]) {
    let mask = if arch.bits == 64 {
        u64::MAX
    } else {
        u32::MAX as u64
    };
    // The program's first call of its own: the failing openat.
    let first = events
        .iter()
        .position(|e| {
            is_exit(e) && name(e) == "openat" && arg_text(e, 1) == "\"/osmtrace-e2e-missing\""
        })
        .expect("the failing openat is traced");
    let main = key(&events[first]);
    let open = &events[first];
    assert_eq!(open["nr"], arch.openat);
    assert_eq!(arg_text(open, 0), "AT_FDCWD");
    assert_eq!(arg_text(open, 2), "O_RDONLY");
    assert_eq!(open["error"], "ENOENT");
    // Signed, with the register's bits beside it.
    assert_eq!(open["ret"].as_i64(), Some(-2), "{open}");
    assert_eq!(
        open["ret_raw"].as_u64().unwrap() & mask,
        (-2i64 as u64) & mask
    );

    let main_calls: Vec<&Value> = events[first..].iter().filter(|e| key(e) == main).collect();
    let main_exits: Vec<&Value> = main_calls.iter().copied().filter(|e| is_exit(e)).collect();
    // Every main-thread call, in order: the program's own calls, with only
    // libc's pthread start-up and the polling loop between them.
    let own = [
        "openat",
        "write",
        "getpid",
        "pipe2",
        "getppid",
        "uname",
        "write",
        "exit_group",
    ];
    let allowed_between = [
        "rt_sigaction",
        "rt_sigprocmask",
        "mmap",
        "mmap2",
        "mprotect",
        "clone",
        "clone3",
        "openat",
        "read",
        "close",
        "nanosleep",
        "clock_nanosleep",
        "clock_nanosleep_time64",
        "futex",
        "munmap",
        "madvise",
    ];
    let mut next = 0;
    for e in &main_exits {
        if next < own.len() && name(e) == own[next] {
            next += 1;
        } else {
            assert!(
                allowed_between.contains(&name(e)),
                "unexpected main-thread call {e}"
            );
        }
    }
    assert_eq!(
        next,
        own.len(),
        "main thread calls: {:?}",
        main_exits.iter().map(|e| name(e)).collect::<Vec<_>>()
    );

    let write = main_exits.iter().find(|e| name(e) == "write").unwrap();
    assert_eq!(
        (
            write["nr"].as_u64(),
            arg_value(write, 0),
            arg_text(write, 1),
            arg_value(write, 2)
        ),
        (Some(arch.write), 1, "\"osmtrace-e2e-write\\n\"", 19)
    );
    assert_eq!(write["ret"], 19);
    assert_eq!(write["error"], Value::Null);
    let uname = main_exits.iter().find(|e| name(e) == "uname").unwrap();
    assert_eq!(uname["ret"], 0);
    let release = main_exits
        .iter()
        .rev()
        .find(|e| name(e) == "write")
        .unwrap();
    assert_eq!(
        (arg_text(release, 1), release["ret"].as_u64()),
        ("\"x\"", Some(1))
    );

    // exit_group is shown as not returning: an exit event without a value.
    let exit_group = main_exits.last().unwrap();
    assert_eq!(
        (
            name(exit_group),
            exit_group["nr"].as_u64(),
            arg_value(exit_group, 0)
        ),
        ("exit_group", Some(arch.exit_group), 7)
    );
    assert_eq!(exit_group["ret"], Value::Null);

    // The reader thread: created by the main thread's clone, which returns
    // its id there and 0 in the child.
    let clone = main_exits
        .iter()
        .find(|e| name(e).starts_with("clone"))
        .expect("pthread_create's clone");
    let tid = clone["ret"].as_u64().unwrap();
    let child_return = events[first..]
        .iter()
        .find(|e| is_exit(e) && name(e) == name(clone) && e["ret"] == 0 && key(e) != main)
        .expect("the clone's return in the child");
    let reader = key(child_return);
    assert_eq!(reader.1, main.1, "a thread shares its process");
    let reader_exits: Vec<&Value> = events[first..]
        .iter()
        .filter(|e| key(e) == reader && is_exit(e))
        .collect();
    let gettid = reader_exits
        .iter()
        .find(|e| name(e) == "gettid")
        .expect("reader's gettid");
    assert_eq!(gettid["ret"].as_u64(), Some(tid));

    // The blocking read: entered before the main thread's getppid and uname,
    // returned after the main thread's write released it.
    let position = |pred: &dyn Fn(&Value) -> bool| events.iter().position(pred).unwrap();
    let read_entry = position(&|e| key(e) == reader && !is_exit(e) && name(e) == "read");
    let read_exit = position(&|e| key(e) == reader && is_exit(e) && name(e) == "read");
    let getppid = position(&|e| key(e) == main && is_exit(e) && name(e) == "getppid");
    let release_entry = position(&|e| {
        key(e) == main && !is_exit(e) && name(e) == "write" && arg_text(e, 1) == "\"x\""
    });
    assert!(
        read_entry < getppid && getppid < read_exit && release_entry < read_exit,
        "read {read_entry}..{read_exit}, getppid {getppid}, release {release_entry}"
    );
    // On s390x read where the exit returns to (`outputs_at_resume`).
    let read_buf = &events[read_exit]["args"][1];
    assert_eq!(read_buf["text"], "\"x\"", "{}", events[read_exit]);
    assert_eq!(events[read_exit]["ret"].as_u64(), Some(1));
    let thread_write = reader_exits
        .iter()
        .find(|e| name(e) == "write")
        .expect("reader's write");
    assert_eq!(
        (arg_text(thread_write, 1), thread_write["ret"].as_u64()),
        ("\"osmtrace-e2e-thread\\n\"", Some(20))
    );
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn x86_64_guest_trace_matches_the_program() {
    check(&X86_64, &trace(&X86_64, 1));
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn x86_64_guest_trace_with_two_vcpus() {
    check(&X86_64, &trace(&X86_64, 2));
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn i386_guest_trace_matches_the_program() {
    check(&I386, &trace(&I386, 1));
}

#[test]
#[ignore = "full tier: bash scripts/test.sh --full"]
fn i386_guest_trace_with_two_vcpus() {
    check(&I386, &trace(&I386, 2));
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn i386_program_on_the_x86_64_guest_is_traced_with_the_i386_table() {
    check(&I386_ON_X86_64, &trace(&I386_ON_X86_64, 1));
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn i386_program_on_the_x86_64_guest_with_an_intel_cpu() {
    check(&I386_ON_X86_64_INTEL, &trace(&I386_ON_X86_64_INTEL, 1));
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn arm_guest_trace_matches_the_program() {
    check(&ARM, &trace(&ARM, 1));
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn arm_guest_trace_with_two_vcpus() {
    check(&ARM, &trace(&ARM, 2));
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn arm_program_on_the_aarch64_guest_is_traced_with_the_arm_table() {
    check(&ARM_ON_AARCH64, &trace(&ARM_ON_AARCH64, 1));
}

#[test]
#[ignore = "full tier: bash scripts/test.sh --full"]
fn arm_program_on_the_aarch64_guest_with_two_vcpus() {
    check(&ARM_ON_AARCH64, &trace(&ARM_ON_AARCH64, 2));
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn aarch64_guest_trace_matches_the_program() {
    check(&AARCH64, &trace(&AARCH64, 1));
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn aarch64_guest_trace_with_two_vcpus() {
    check(&AARCH64, &trace(&AARCH64, 2));
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn s390x_guest_trace_matches_the_program() {
    check(&S390X, &trace(&S390X, 1));
}

#[test]
#[ignore = "full tier: bash scripts/test.sh --full"]
fn s390x_guest_trace_with_two_vcpus() {
    check(&S390X, &trace(&S390X, 2));
}

/// Bad plugin arguments make QEMU refuse the plugin, listing what is valid.
#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn bad_plugin_arguments_are_refused() {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let result = Command::new(env!("CARGO"))
        .args([
            "xtask",
            "trace",
            "--spec",
            X86_64.spec,
            "--cmd",
            "true",
            "--plugin-args",
            "format=xml",
        ])
        .current_dir(root())
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!result.status.success());
    assert!(
        stderr.contains(
            "unknown format 'xml' (valid formats: strace, paper, jsonl, perfetto, parquet, summary, raw, none)"
        ),
        "{stderr}"
    );
}
