//! End to end, signal delivery as strace shows it: tests/guest/signals.c
//! sends itself SIGUSR1 with kill() and is interrupted by SIGALRM in a
//! blocked read(), both to SA_SIGINFO handlers, and prints what the
//! handler received; the jsonl trace must show each call's real return
//! (0, -EINTR: the value the kernel saved in the signal frame) and then a
//! `signal` event naming the signal and its sender, as the program saw
//! them. One guest boot per architecture.

mod common;

use common::{AARCH64, ARM, Guest, X86_64, arg_text, is_exit, key, name, run_jsonl, siginfo};
use serde_json::Value;
use std::sync::Mutex;

/// One guest at a time: each boot uses both cores.
static SERIAL: Mutex<()> = Mutex::new(());

/// `name=value` of a signals: line the program printed for `what`.
fn printed(console: &str, what: &str, field: &str) -> i64 {
    let line = console
        .lines()
        .find_map(|l| {
            l.split_once(&format!("signals: {what} "))
                .map(|(_, rest)| rest)
        })
        .unwrap_or_else(|| panic!("no `signals: {what}` line in {console}"));
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(&format!("{field}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {field}= in {line}"))
}

fn run(guest: &Guest) {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (console, events) = run_jsonl("signals", guest, 1);
    assert!(console.contains("guest command exited with 7"), "{console}");
    let begin = events
        .iter()
        .position(|e| !is_exit(e) && name(e) == "execve" && arg_text(e, 1) == r#"["/signals"]"#)
        .expect("the shell's execve of /signals");
    let events = &events[begin..];
    // The program's own thread identity (the execve entry still has the
    // shell's): its kill's.
    let main = key(events
        .iter()
        .find(|e| is_exit(e) && name(e) == "kill")
        .expect("kill's exit"));
    let mine: Vec<&Value> = events.iter().filter(|e| key(e) == main).collect();

    // kill(getpid(), SIGUSR1) returns 0 into the handler: its exit, then
    // the signal with the sender the handler saw, then rt_sigreturn
    // returning the restored 0.
    let kill = mine
        .iter()
        .position(|e| is_exit(e) && name(e) == "kill")
        .expect("kill's exit");
    assert_eq!(mine[kill]["ret"], 0, "{}", mine[kill]);
    assert_eq!(printed(&console, "kill", "ret"), 0);
    let sig = mine[kill + 1];
    assert_eq!(sig["event"], "signal", "{sig}");
    assert_eq!(name(sig), "SIGUSR1");
    assert_eq!(siginfo(sig, "si_signo"), "SIGUSR1");
    assert_eq!(siginfo(sig, "si_code"), "SI_USER");
    assert_eq!(printed(&console, "kill", "code"), 0);
    assert_eq!(
        siginfo(sig, "si_pid").parse::<i64>().unwrap(),
        printed(&console, "kill", "pid")
    );
    assert_eq!(
        siginfo(sig, "si_uid").parse::<i64>().unwrap(),
        printed(&console, "kill", "uid")
    );
    assert_eq!(
        (name(mine[kill + 2]), name(mine[kill + 3])),
        ("rt_sigreturn", "rt_sigreturn")
    );
    assert_eq!(mine[kill + 3]["ret"], 0);

    // read() blocked on an empty pipe, interrupted by SIGALRM (SI_KERNEL):
    // -1 EINTR, as the program saw it, and so does rt_sigreturn.
    let read = mine
        .iter()
        .position(|e| is_exit(e) && name(e) == "read" && e["error"] == "EINTR")
        .expect("read's exit with EINTR");
    assert_eq!(printed(&console, "read", "ret"), -1);
    assert_eq!(printed(&console, "read", "errno"), 4);
    let sig = mine[read + 1];
    assert_eq!(name(sig), "SIGALRM", "{sig}");
    assert_eq!(siginfo(sig, "si_code"), "SI_KERNEL");
    assert_eq!(printed(&console, "read", "code"), 0x80);
    assert_eq!(mine[read + 3]["error"], "EINTR", "{}", mine[read + 3]);

    // exit_group with the program's status, then the process's end with
    // the status the shell saw (strace's `+++ exited with 7 +++`).
    let exit = mine.iter().rposition(|e| name(e) == "exit_group").unwrap();
    assert_eq!(common::arg_value(mine[exit], 0), 7);
    let end = mine[exit + 1];
    assert_eq!(
        (&end["event"], &end["status"]),
        (&"exited".into(), &7.into()),
        "{end}"
    );
}

#[test]
fn x86_64_signals() {
    run(&X86_64);
}

#[test]
fn aarch64_signals() {
    run(&AARCH64);
}

#[test]
fn arm_signals() {
    run(&ARM);
}
