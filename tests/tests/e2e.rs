//! End to end: a static test program of our own (tests/guest/e2e.c, built
//! with Debian's gcc, arm-linux-gnueabihf-gcc and aarch64-linux-gnu-gcc) runs in a real Debian
//! guest under the plugin, through `cargo xtask trace` as a user runs it;
//! the jsonl trace must show what the program really did.
//!
//! Needs QEMU ≥ 9.2 and the cross compiler (`scripts/setup.sh`) and, on the
//! first run, Debian's archive for the guest kernels (cached in target/).

mod common;

use common::{
    AARCH64, ARM, Guest, X86_64, arg_text, arg_value, is_exit, key, name, root, run_jsonl,
};
use serde_json::Value;
use std::process::Command;
use std::sync::Mutex;

/// One guest at a time: each boot uses both cores.
static SERIAL: Mutex<()> = Mutex::new(());

struct Arch {
    guest: Guest,
    openat: u64,
    write: u64,
    exit_group: u64,
}

const X86_64_E2E: Arch = Arch {
    guest: X86_64,
    openat: 257,
    write: 1,
    exit_group: 231,
};

const AARCH64_E2E: Arch = Arch {
    guest: AARCH64,
    openat: 56,
    write: 64,
    exit_group: 94,
};

const ARM_E2E: Arch = Arch {
    guest: ARM,
    openat: 322,
    write: 4,
    exit_group: 248,
};

/// Builds the test program and traces it; returns the trace events.
fn trace(arch: &Arch, smp: u32) -> Vec<Value> {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (stderr, events) = run_jsonl("e2e", &arch.guest, smp);
    assert!(
        stderr.contains("osmtrace-e2e-write") && stderr.contains("osmtrace-e2e-thread"),
        "{stderr}"
    );
    assert!(stderr.contains("guest command exited with 7"), "{stderr}");
    events
}

fn check(arch: &Arch, events: &[Value]) {
    let mask = arch.guest.mask();
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
    assert_eq!(open["ret"].as_u64().unwrap() & mask, (-2i64 as u64) & mask);

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
    assert_eq!(
        (
            arg_text(&events[read_exit], 1),
            events[read_exit]["ret"].as_u64()
        ),
        ("\"x\"", Some(1))
    );
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
fn x86_64_guest_trace_matches_the_program() {
    check(&X86_64_E2E, &trace(&X86_64_E2E, 1));
}

#[test]
fn x86_64_guest_trace_with_two_vcpus() {
    check(&X86_64_E2E, &trace(&X86_64_E2E, 2));
}

#[test]
fn arm_guest_trace_matches_the_program() {
    check(&ARM_E2E, &trace(&ARM_E2E, 1));
}

#[test]
fn arm_guest_trace_with_two_vcpus() {
    check(&ARM_E2E, &trace(&ARM_E2E, 2));
}

#[test]
fn aarch64_guest_trace_matches_the_program() {
    check(&AARCH64_E2E, &trace(&AARCH64_E2E, 1));
}

#[test]
fn aarch64_guest_trace_with_two_vcpus() {
    check(&AARCH64_E2E, &trace(&AARCH64_E2E, 2));
}

/// Bad plugin arguments make QEMU refuse the plugin, listing what is valid.
#[test]
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
            "unknown format 'xml' (valid formats: strace, paper, jsonl, perfetto, summary)"
        ),
        "{stderr}"
    );
}
