//! Threads that call with one register identity, in real guests:
//! tests/guest/shared-tls.c starts threads as Go's runtime does on most
//! architectures (clone without CLONE_SETTLS), so that every thread has
//! its parent's TLS pointer. Each thread's calls must carry its own names
//! (what gettid told it, which it prints) and its blocking calls their own
//! returns, told apart by the models' return probes, with no call ended
//! as unfinished.

mod common;

use common::{
    AARCH64, ARM, Guest, I386, I386_ON_X86_64, PPC64EL, RISCV64, S390X, X86_64, is_exit, name,
    run_jsonl,
};
use serde_json::Value;

const PROGRAM: &str = "shared-tls";

fn threads_named_and_paired(guest: &Guest) {
    let (console, events) = run_jsonl(PROGRAM, guest, 2);
    // "shared-tls: thread I tid N rounds R", from the program.
    let threads: Vec<(i64, usize)> = console
        .lines()
        .filter_map(|l| l.trim().strip_prefix("shared-tls: thread "))
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            (words[2].parse().unwrap(), words[4].parse().unwrap())
        })
        .collect();
    assert_eq!(threads.len(), 3, "the program's report:\n{console}");
    let tid = |e: &Value| e["tid"].as_i64();
    for e in events.iter().filter(|e| is_exit(e) && name(e) == "gettid") {
        assert_eq!(
            e["ret"].as_i64(),
            tid(e),
            "gettid named as another task: {e}"
        );
    }
    let main = events
        .iter()
        .find(|e| {
            name(e) == "clone"
                && e["args"][1]["text"]
                    .as_str()
                    .is_some_and(|f| f.contains("CLONE_THREAD"))
        })
        .and_then(tid)
        .expect("the threads' clone");
    for &(thread, rounds) in &threads {
        let calls = |call: &str, exit: bool| {
            events
                .iter()
                .filter(|e| tid(e) == Some(thread) && name(e) == call && is_exit(e) == exit)
                .collect::<Vec<_>>()
        };
        assert_eq!(calls("gettid", true).len(), 1, "thread {thread}'s gettid");
        assert_eq!(
            calls("getppid", false).len(),
            rounds,
            "thread {thread}'s getppid"
        );
        assert_eq!(
            calls("nanosleep", false).len(),
            rounds,
            "thread {thread}'s nanosleep"
        );
        let returns = calls("nanosleep", true);
        assert_eq!(returns.len(), rounds, "thread {thread}'s nanosleep returns");
        for r in returns {
            assert_eq!(r["ret"].as_i64(), Some(0), "thread {thread}: {r}");
        }
        // The child's own return from clone, named as the child.
        assert!(
            calls("clone", true)
                .iter()
                .any(|e| e["ret"].as_i64() == Some(0)),
            "thread {thread}'s return from clone"
        );
        assert!(
            events
                .iter()
                .any(|e| e["event"] == "exited" && tid(e) == Some(thread)),
            "thread {thread}'s end"
        );
    }
    // The main thread's pauses while the others run: each its own return.
    let pid_of_main = |e: &&Value| e["pid"].as_i64() == Some(main);
    for e in events
        .iter()
        .filter(pid_of_main)
        .filter(|e| is_exit(e) && name(e) == "nanosleep")
    {
        assert_eq!(e["ret"].as_i64(), Some(0), "a pause ended unfinished: {e}");
    }
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn x86_64_threads_with_one_tls_are_told_apart() {
    threads_named_and_paired(&X86_64);
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn aarch64_threads_with_one_tls_are_told_apart() {
    threads_named_and_paired(&AARCH64);
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn riscv64_threads_with_one_tls_are_told_apart() {
    threads_named_and_paired(&RISCV64);
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn arm_threads_with_one_tls_are_told_apart() {
    threads_named_and_paired(&ARM);
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn i386_threads_with_one_tls_are_told_apart() {
    threads_named_and_paired(&I386);
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn ppc64el_threads_with_one_tls_are_told_apart() {
    threads_named_and_paired(&PPC64EL);
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn s390x_threads_with_one_tls_are_told_apart() {
    threads_named_and_paired(&S390X);
}

/// i386 programs on the x86_64 kernel return from compat calls with
/// `sysretl` or `iretq`.
#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn i386_program_on_x86_64_threads_with_one_tls_are_told_apart() {
    threads_named_and_paired(&I386_ON_X86_64);
}
