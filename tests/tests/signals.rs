//! End to end, signal delivery as strace shows it: tests/guest/signals.c
//! sends itself SIGUSR1 with kill() and is interrupted by SIGALRM in a
//! blocked read(), both to SA_SIGINFO handlers, and sends itself SIGUSR2
//! to a plain handler (a non-rt frame where the architecture has them),
//! and a SIGWINCH that waits for a SIGPIPE handler's rt_sigreturn and is
//! delivered on its way out, and a timer's SIGALRM that interrupts a loop
//! in user code, and prints what the handlers received; the jsonl trace
//! must show each call's real return (0, -EINTR: the value the kernel
//! saved in the signal frame) and then a `signal` event naming the signal
//! and its sender, as the program saw them, and the timer's signal alone
//! (every model says how to see it: `entered`), into a SA_SIGINFO handler
//! and a plain one; a child killed by SIGTERM shows in wait4's status and,
//! with the guest's names, as a `killed` event before it. One guest boot per architecture, and the
//! armhf program on the aarch64 kernel.

mod common;

use common::{
    AARCH64, ARM, ARM_ON_AARCH64, Guest, I386, I386_ON_X86_64, MIPS64EL, MIPSEL, PPC64EL, RISCV64,
    S390X, X86_64, arg_text, is_exit, name, run_jsonl, siginfo,
};
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

/// The task an event is of: the guest's tid and pid where the model names
/// tasks (MIPS's register identity, the stack pointer, changes from call
/// to call), else the model's thread and process.
fn task(e: &Value) -> (u64, u64) {
    match (e["tid"].as_u64(), e["pid"].as_u64()) {
        (Some(tid), Some(pid)) => (tid, pid),
        _ => common::key(e),
    }
}

/// `siginfo_shown`: whether the signal events carry the siginfo's fields
/// (not for an AArch32 program on the 64-bit kernel, whose compat siginfo
/// the aarch64 model does not decode); `mask_shown`: whether rt_sigreturn
/// shows the mask its frame restores (the models that say where it is);
/// `chained_shown`: whether a sigreturn that returns into the next handler
/// shows that handler's signal (where the frame reads at the kernel's
/// exit).
/// What a guest's model shows: the siginfo, the mask a sigreturn restores,
/// a sigreturn's return into the next handler.
struct Shown {
    siginfo: bool,
    mask: bool,
    chained: bool,
}

const ALL: Shown = Shown {
    siginfo: true,
    mask: true,
    chained: true,
};

/// A 32-bit program's handler in a 64-bit guest: the compat siginfo is
/// not the model's signal block's type, and the compat table's sigreturn
/// shows no frame.
const COMPAT: Shown = Shown {
    siginfo: false,
    mask: false,
    ..ALL
};

fn run(guest: &Guest, shown: Shown) {
    let Shown {
        siginfo: siginfo_shown,
        mask: mask_shown,
        chained: chained_shown,
    } = shown;
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
    let main = task(
        events
            .iter()
            .find(|e| is_exit(e) && name(e) == "kill")
            .expect("kill's exit"),
    );
    let mine: Vec<&Value> = events.iter().filter(|e| task(e) == main).collect();

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
    assert_eq!(printed(&console, "kill", "code"), 0);
    if siginfo_shown {
        assert_eq!(siginfo(sig, "si_signo"), "SIGUSR1");
        assert_eq!(siginfo(sig, "si_code"), "SI_USER");
        assert_eq!(
            siginfo(sig, "si_pid").parse::<i64>().unwrap(),
            printed(&console, "kill", "pid")
        );
        assert_eq!(
            siginfo(sig, "si_uid").parse::<i64>().unwrap(),
            printed(&console, "kill", "uid")
        );
    }
    assert_eq!(name(mine[kill + 2]), "rt_sigreturn");
    if mask_shown {
        // The program blocked SIGHUP before the signal came.
        assert_eq!(
            arg_text(mine[kill + 2], 0),
            "{mask=[HUP]}",
            "{}",
            mine[kill + 2]
        );
    }
    assert_eq!(name(mine[kill + 3]), "rt_sigreturn");
    assert_eq!(mine[kill + 3]["ret"], 0);

    // The same to a handler without SA_SIGINFO: the frame has the saved
    // return, whatever it says of the sender.
    let plain = mine
        .iter()
        .position(|e| is_exit(e) && name(e) == "kill" && arg_text(e, 1) == "SIGUSR2")
        .expect("the second kill's exit");
    assert_eq!(printed(&console, "plain", "ret"), 0);
    assert_eq!(mine[plain]["ret"], 0, "{}", mine[plain]);
    assert_eq!(mine[plain + 1]["event"], "signal", "{}", mine[plain + 1]);
    assert_eq!(name(mine[plain + 1]), "SIGUSR2");
    // Its sigreturn (the old one where the frame is a non-rt one: i386,
    // arm, s390x, MIPS o32) shows the mask the frame restores.
    let back = mine[plain + 2];
    assert!(
        !is_exit(back) && ["sigreturn", "rt_sigreturn"].contains(&name(back)),
        "{back}"
    );
    if mask_shown {
        assert_eq!(arg_text(back, 0), "{mask=[HUP]}", "{back}");
    }

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
    if siginfo_shown {
        assert_eq!(siginfo(sig, "si_code"), "SI_KERNEL");
    }
    assert_eq!(printed(&console, "read", "code"), 0x80);
    // (The restored register: ppc64el's signal trampoline returns through
    // `sc`, whose errors are flagged in CR0.SO, which the interrupted
    // `scv` call left clear; MIPS restores v0 = EINTR with a3 set.)
    let back = mine[read + 3];
    assert!(
        back["ret"] == -4 || (back["error"] == "EINTR" && back["errno"] == 4),
        "{back}"
    );

    // write() to a broken pipe returns -1 EPIPE into the SIGPIPE handler,
    // whose rt_sigreturn restores -EPIPE and returns into the SIGWINCH
    // handler the first one's kill() left waiting: strace's
    // `rt_sigreturn(...) = -1 EPIPE`, `--- SIGWINCH ... ---`, and the
    // second rt_sigreturn restoring -EPIPE again.
    assert_eq!(printed(&console, "chained", "ret"), -1);
    assert_eq!(printed(&console, "chained", "errno"), 32);
    // (Both handlers ran; SIGWINCH is 20 on MIPS, 28 elsewhere.)
    let (pipe, next) = (
        printed(&console, "chained", "pipe"),
        printed(&console, "chained", "next"),
    );
    assert!(pipe == 13 && next > 0, "{console}");
    if chained_shown {
        let epipe = |e: &Value| e["ret"] == -32 || e["error"] == "EPIPE";
        let write = mine
            .iter()
            .position(|e| is_exit(e) && name(e) == "write" && epipe(e))
            .expect("write's exit with EPIPE");
        let steps: Vec<String> = mine[write + 1..write + 8]
            .iter()
            .map(|e| format!("{} {}", e["event"].as_str().unwrap_or("?"), name(e)))
            .collect();
        assert_eq!(
            steps,
            [
                "signal SIGPIPE",
                "entry kill",
                "exit kill",
                "entry rt_sigreturn",
                "exit rt_sigreturn",
                "signal SIGWINCH",
                "entry rt_sigreturn",
            ],
            "{:?}",
            &mine[write..write + 9]
        );
        assert_eq!(mine[write + 1]["nr"], pipe, "{}", mine[write + 1]);
        assert_eq!(mine[write + 6]["nr"], next, "{}", mine[write + 6]);
        let first = mine[write + 5];
        assert!(epipe(first), "{first}");
        let back = mine[write + 8];
        assert!(
            is_exit(back) && name(back) == "rt_sigreturn" && epipe(back),
            "{back}"
        );
    }

    // A timer's SIGALRM in a loop of user code: the handler's entry from an
    // interrupt's return, the signal's line and no call before it.
    assert_eq!(printed(&console, "busy", "signo"), 14);
    assert_eq!(printed(&console, "busy", "code"), 0x80);
    // The busy steps' setitimer calls are the program's last two (alarm()
    // is one too where there is no alarm call).
    let timers: Vec<usize> = (0..mine.len())
        .filter(|&i| is_exit(mine[i]) && name(mine[i]) == "setitimer")
        .collect();
    assert!(timers.len() >= 2, "the busy steps' setitimer calls");
    let timer = timers[timers.len() - 2];
    let sig = mine[timer + 1];
    assert_eq!(sig["event"], "signal", "{sig}");
    assert_eq!(name(sig), "SIGALRM", "{sig}");
    if siginfo_shown {
        assert_eq!(siginfo(sig, "si_code"), "SI_KERNEL", "{sig}");
    }
    let back = mine[timer + 2];
    assert!(!is_exit(back) && name(back) == "rt_sigreturn", "{back}");

    // The same into a handler without SA_SIGINFO: no siginfo to show, and
    // its sigreturn the plain kill's.
    assert_eq!(printed(&console, "busy-plain", "signo"), 14);
    let timer = timers[timers.len() - 1];
    let sig = mine[timer + 1];
    assert_eq!(sig["event"], "signal", "{sig}");
    assert_eq!(name(sig), "SIGALRM", "{sig}");
    let back = mine[timer + 2];
    assert!(
        !is_exit(back) && name(back) == name(mine[plain + 2]),
        "{back}"
    );

    // wait4 of a child SIGTERM killed: its status as strace shows it.
    let wait = mine
        .iter()
        .find(|e| is_exit(e) && name(e) == "wait4")
        .expect("wait4's exit");
    assert_eq!(printed(&console, "wait", "status"), 15);
    assert_eq!(wait["ret"], printed(&console, "wait", "ret"), "{wait}");
    assert_eq!(
        arg_text(wait, 1),
        "[{WIFSIGNALED(s) && WTERMSIG(s) == SIGTERM}]",
        "{wait}"
    );
    // With the guest's names, the child's `+++ killed by SIGTERM +++`
    // (jsonl `killed`) comes before that return, named by its pid.
    if wait.get("pid").is_some() {
        let at = events
            .iter()
            .position(|e| std::ptr::eq(e, *wait))
            .expect("wait4's exit among the events");
        let killed = events[..at]
            .iter()
            .rev()
            .find(|e| e["event"] == "killed")
            .unwrap_or_else(|| panic!("no killed event before {wait}"));
        assert_eq!(name(killed), "SIGTERM", "{killed}");
        assert_eq!(killed["nr"], 15, "{killed}");
        assert_eq!(killed["pid"], wait["ret"], "{killed}");
        assert_eq!(killed["ppid"], wait["pid"], "{killed}");
        assert_eq!(killed["core_dumped"], false, "{killed}");
        // The child's own kill, which never returned, ends before that
        // line without a return (strace's `kill(85, SIGTERM) = ?`).
        let killed_at = events[..at]
            .iter()
            .rposition(|e| e["event"] == "killed")
            .unwrap();
        let last = events[..killed_at]
            .iter()
            .rev()
            .find(|e| e["pid"] == killed["pid"])
            .unwrap_or_else(|| panic!("no call of the killed child before {killed}"));
        assert!(
            is_exit(last) && name(last) == "kill" && last["ret"].is_null(),
            "{last}"
        );
    }

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
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn x86_64_signals() {
    run(&X86_64, ALL);
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn i386_signals() {
    run(&I386, ALL);
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn aarch64_signals() {
    run(&AARCH64, ALL);
}

/// The armhf program on the 64-bit ARM kernel: ARM's frames, built by the
/// kernel's compat code, read by the aarch64 model.
#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn arm_on_aarch64_signals() {
    run(&ARM_ON_AARCH64, COMPAT);
}

/// The i386 program on the 64-bit x86 kernel: i386's frames, built by the
/// kernel's compat code, read by the x86_64 model.
#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn i386_program_on_x86_64_signals() {
    run(&I386_ON_X86_64, COMPAT);
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn arm_signals() {
    run(&ARM, ALL);
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn ppc64el_signals() {
    run(&PPC64EL, ALL);
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn s390x_signals() {
    run(&S390X, ALL);
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn riscv64_signals() {
    run(&RISCV64, ALL);
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn mipsel_signals() {
    run(&MIPSEL, ALL);
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn mips64el_signals() {
    run(&MIPS64EL, ALL);
}
