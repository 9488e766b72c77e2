//! End to end, the calls whose exit is hard to pair with its entry:
//! tests/guest/hard.c (built with gcc, arm-linux-gnueabihf-gcc and
//! aarch64-linux-gnu-gcc) does them one after the other in a real Debian
//! guest, under the compiled plugin, and prints what the kernel gave it;
//! the jsonl trace must show each call paired with its own entry and
//! attributed to the right thread and process:
//!
//! - threads blocked in read() while other threads make calls;
//! - fork, clone and vfork returning in the parent and in the child (a
//!   fork child has its parent's TLS, so only the process tells them
//!   apart; a vfork child has both identities of its parent);
//! - execve failing and execve succeeding (its return is in the new image);
//! - a signal handler interrupting a blocked read (without SA_RESTART:
//!   read returns -EINTR into the handler, then the signal is shown, and
//!   the handler's sigreturn returns -EINTR too; with SA_RESTART: read is
//!   shown unfinished, `?`, then the signal, and read is entered again
//!   after sigreturn);
//! - a stop and continue restarting a read and a sleep (as restart_syscall)
//!   without a handler;
//! - exit of a thread and exit_group of a process, never returning.
//!
//! One guest boot per architecture and vCPU count. Needs QEMU and the cross
//! compilers (`scripts/setup.sh`) and, on the first run, Debian's archive
//! for the guest kernels (cached in target/).

mod common;

use common::{
    AARCH64, ARM, Guest, X86_64, arg_text, arg_value, is_exit, key, name, run_jsonl, siginfo,
};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Mutex;

/// One guest at a time: each boot uses both cores.
static SERIAL: Mutex<()> = Mutex::new(());

/// Where the architectures differ in what the program does or in what the
/// kernel shows.
struct Arch {
    guest: Guest,
    /// libc's vfork(): the vfork call, or clone with CLONE_VFORK where the
    /// ABI has no vfork (aarch64).
    vfork: &'static str,
    /// Whether the ABI has a fork call (the program then makes it raw).
    raw_fork: bool,
    /// The call a handler installed without SA_SIGINFO returns through:
    /// glibc's ARM restorer for such handlers uses sigreturn.
    plain_sigreturn: &'static str,
    /// Where the kernel restarts a call a stop interrupted: in user mode, by
    /// returning to the call's instruction (x86_64, aarch64), or inside the
    /// kernel (ARM's ret_slow_syscall), unseen.
    restarts_in_user_mode: bool,
    /// What the rewound register holds when rt_sigreturn returns into a
    /// restarted read(fd): x86_64 puts the call's number back in rax (read
    /// is 0), ARM and aarch64 the first argument back in r0/x0.
    restart_holds_number: bool,
}

const X86_64_HARD: Arch = Arch {
    guest: X86_64,
    vfork: "vfork",
    raw_fork: true,
    plain_sigreturn: "rt_sigreturn",
    restarts_in_user_mode: true,
    restart_holds_number: true,
};

const ARM_HARD: Arch = Arch {
    guest: ARM,
    vfork: "vfork",
    raw_fork: true,
    plain_sigreturn: "sigreturn",
    restarts_in_user_mode: false,
    restart_holds_number: false,
};

const AARCH64_HARD: Arch = Arch {
    guest: AARCH64,
    vfork: "clone",
    raw_fork: false,
    plain_sigreturn: "rt_sigreturn",
    restarts_in_user_mode: true,
    restart_holds_number: false,
};

/// What the program printed: its "hard: " lines, without the prefix.
struct Printed(Vec<String>);

impl Printed {
    fn from_console(console: &str) -> Self {
        Printed(
            console
                .lines()
                .filter_map(|l| l.strip_prefix("hard: "))
                .map(str::to_string)
                .collect(),
        )
    }

    /// The number of the one line `what=N`.
    fn value(&self, what: &str) -> i64 {
        let prefix = format!("{what}=");
        let values: Vec<i64> = self
            .0
            .iter()
            .filter_map(|l| l.strip_prefix(&prefix))
            .map(|v| v.parse().unwrap())
            .collect();
        assert_eq!(values.len(), 1, "one line {what}=N in {:?}", self.0);
        values[0]
    }

    /// (fd, ret) of each "reader fd=F ret=N" line, in order.
    fn readers(&self) -> Vec<(u64, i64)> {
        self.0
            .iter()
            .filter_map(|l| l.strip_prefix("reader fd="))
            .map(|rest| {
                let (fd, ret) = rest.split_once(" ret=").unwrap();
                (fd.parse().unwrap(), ret.parse().unwrap())
            })
            .collect()
    }
}

/// One line per event, for comparing a thread's sequence of events:
/// `> name` for an entry, `< name = ret` for an exit, `ret` being `?` for
/// a call shown as never returning, `-ERRNO` for an error, else the value;
/// `--- SIGNAME` for a signal delivered to a handler, `+++ exited with N`
/// and `+++ killed by SIGNAME` for the end of a process.
fn render(e: &Value) -> String {
    match e["event"].as_str() {
        Some("signal") => return format!("--- {}", name(e)),
        Some("exited") => return format!("+++ exited with {}", e["status"]),
        Some("killed") => return format!("+++ killed by {}", name(e)),
        _ => {}
    }
    if !is_exit(e) {
        return format!("> {}", name(e));
    }
    let ret = match (&e["ret"], e["error"].as_str()) {
        (Value::Null, _) => "?".to_string(),
        (_, Some(error)) => format!("-{error}"),
        (ret, None) => ret.to_string(),
    };
    format!("< {} = {ret}", name(e))
}

/// The trace from the guest's exec of /hard on.
struct Trace<'a> {
    events: &'a [Value],
    mask: u64,
}

impl Trace<'_> {
    /// Indices of the events of `key`, from `from` on.
    fn of(&self, key: (u64, u64), from: usize) -> Vec<usize> {
        (from..self.events.len())
            .filter(|&i| self::key(&self.events[i]) == key)
            .collect()
    }

    /// The first event from `from` on that `pred` accepts.
    fn find(&self, from: usize, pred: impl Fn(&Value) -> bool) -> usize {
        (from..self.events.len())
            .find(|&i| pred(&self.events[i]))
            .unwrap_or_else(|| panic!("no such event after {from}"))
    }

    /// The only event that `pred` accepts.
    fn only(&self, pred: impl Fn(&Value) -> bool) -> usize {
        let found: Vec<usize> = (0..self.events.len())
            .filter(|&i| pred(&self.events[i]))
            .collect();
        assert_eq!(found.len(), 1, "events {found:?}");
        found[0]
    }

    fn ret(&self, i: usize) -> Option<u64> {
        common::ret_bits(&self.events[i]).map(|r| r & self.mask)
    }

    /// The rendered events of `key` from `from` on, `count` of them.
    fn sequence(&self, key: (u64, u64), from: usize, count: usize) -> Vec<String> {
        self.of(key, from)
            .into_iter()
            .take(count)
            .map(|i| render(&self.events[i]))
            .collect()
    }

    /// The child's first return from the returns-twice call whose parent
    /// entered at `entry`: the same call returning 0 in another process
    /// (a fork child keeps its parent's TLS) or, with `same_process`, in
    /// another thread of the same process.
    fn child_return(&self, entry: usize, same_process: bool) -> usize {
        let parent = key(&self.events[entry]);
        let call = name(&self.events[entry]).to_string();
        self.find(entry + 1, |e| {
            is_exit(e)
                && name(e) == call
                && e["ret"] == 0
                && if same_process {
                    key(e).1 == parent.1 && key(e).0 != parent.0
                } else {
                    key(e).1 != parent.1 && key(e).0 == parent.0
                }
        })
    }
}

/// A line about a task (a signal, a process's end), not a call's half.
fn is_notice(e: &Value) -> bool {
    !is_exit(e) && e["event"] != "entry"
}

fn write_of(e: &Value, text: &str) -> bool {
    name(e) == "write" && arg_text(e, 1) == format!("{text:?}")
}

fn check(arch: &Arch, console: &str, events: &[Value]) {
    assert!(console.contains("guest command exited with 9"), "{console}");
    let printed = Printed::from_console(console);
    assert!(printed.0.iter().any(|l| l == "done"), "{:?}", printed.0);
    let readers = printed.readers();
    assert_eq!(
        readers.iter().map(|r| r.1).collect::<Vec<_>>(),
        [5, 3, -4, 2],
        "the readers' results, in the order they returned"
    );
    let begin = events
        .iter()
        .position(|e| !is_exit(e) && name(e) == "execve" && arg_text(e, 1) == r#"["/hard"]"#)
        .expect("the shell's execve of /hard");
    let t = Trace {
        events: &events[begin..],
        mask: arch.guest.mask(),
    };
    let ev = |i: usize| &t.events[i];

    // execve failing: main's own call, paired at once with its -ENOENT.
    let missing =
        t.only(|e| is_exit(e) && name(e) == "execve" && arg_text(e, 0) == r#""/hard-missing""#);
    let main = key(ev(missing));
    assert_eq!(ev(missing)["error"], "ENOENT");
    assert_eq!(t.ret(missing), Some((-2i64 as u64) & t.mask));
    assert_eq!(printed.value("execve-missing"), -2);
    let before = *t.of(main, 0).iter().rfind(|&&i| i < missing).unwrap();
    assert_eq!(
        (render(ev(before)), arg_text(ev(before), 0)),
        ("> execve".to_string(), r#""/hard-missing""#)
    );
    let getpid = t.find(0, |e| key(e) == main && is_exit(e) && name(e) == "getpid");
    assert_eq!(t.ret(getpid), Some(printed.value("pid") as u64));

    blocking_readers(&t, main, &readers);
    forks(arch, &t, main, &printed);
    exec_success(&t, main, &printed);
    signals(arch, &t, main, &readers, &printed);
    stop_and_continue(arch, &t, main, &printed);

    // exit_group ends main, shown as not returning, then the process's
    // end with the status the guest command exited with; nothing of main
    // after.
    let main_events = t.of(main, 0);
    let last: Vec<String> = main_events[main_events.len() - 3..]
        .iter()
        .map(|&i| render(ev(i)))
        .collect();
    assert_eq!(
        last,
        ["> exit_group", "< exit_group = ?", "+++ exited with 9"]
    );
    let end = main_events[main_events.len() - 2];
    assert_eq!(arg_value(ev(end), 0), 9);

    every_call_paired(&t, end);
}

/// Case 1: two threads blocked in read() on their own pipes while main
/// makes calls; the second is released first. Each read's exit pairs with
/// its own entry: its thread, fd, data and count.
fn blocking_readers(t: &Trace, main: (u64, u64), readers: &[(u64, i64)]) {
    let ev = |i: usize| &t.events[i];
    let (second_fd, first_fd) = (readers[0].0, readers[1].0);
    let read_entry = |fd: u64| {
        t.only(|e| {
            !is_exit(e) && name(e) == "read" && arg_value(e, 0) == fd && arg_value(e, 2) == 16
        })
    };
    let (first, second) = (read_entry(first_fd), read_entry(second_fd));
    let (r1, r2) = (key(ev(first)), key(ev(second)));
    assert!(r1 != r2 && r1 != main && r2 != main, "three threads");
    assert!(
        r1.1 == main.1 && r2.1 == main.1,
        "threads share the process"
    );
    // Each reader's next event is its read's exit, with what was written.
    let exit_of = |entry: usize, key: (u64, u64)| t.of(key, entry + 1)[0];
    let (first_exit, second_exit) = (exit_of(first, r1), exit_of(second, r2));
    for (exit, fd, data, count) in [
        (first_exit, first_fd, r#""aaa""#, 3),
        (second_exit, second_fd, r#""bbbbb""#, 5),
    ] {
        assert_eq!(
            (
                render(ev(exit)),
                arg_value(ev(exit), 0),
                arg_text(ev(exit), 1)
            ),
            (format!("< read = {count}"), fd, data)
        );
    }
    let main_at = |pred: &dyn Fn(&Value) -> bool| t.find(0, |e| key(e) == main && pred(e));
    let uname = main_at(&|e| is_exit(e) && name(e) == "uname");
    let release_second = main_at(&|e| !is_exit(e) && write_of(e, "bbbbb"));
    let release_first = main_at(&|e| !is_exit(e) && write_of(e, "aaa"));
    assert!(
        first < second
            && second < uname
            && uname < release_second
            && release_second < second_exit
            && second_exit < release_first
            && release_first < first_exit,
        "reads {first}..{first_exit} and {second}..{second_exit}, main's uname {uname}, \
         releases {release_second} and {release_first}"
    );
    // Each reader ends with exit, shown as not returning, and its own end
    // (strace's `+++ exited with 0 +++`); its TLS is only seen again when
    // a later thread gets the same one.
    for (reader, read_exit) in [(r1, first_exit), (r2, second_exit)] {
        let after = t.of(reader, read_exit);
        let exit = after
            .iter()
            .position(|&i| name(ev(i)) == "exit")
            .expect("the thread's exit");
        let rest: Vec<String> = after[exit..].iter().map(|&i| render(ev(i))).collect();
        assert_eq!(rest[..3], ["> exit", "< exit = ?", "+++ exited with 0"]);
        assert_eq!(arg_value(ev(after[exit]), 0), 0);
        if let Some(next) = rest.get(3) {
            assert!(
                next.starts_with("< clone") && next.ends_with("= 0"),
                "{next}"
            );
        }
    }
}

/// Case 2: fork (libc: clone), a raw fork, and vfork. Parent and child
/// each see their return; the child's calls are attributed to it.
fn forks(arch: &Arch, t: &Trace, main: (u64, u64), printed: &Printed) {
    let ev = |i: usize| &t.events[i];
    let mut calls = vec![("clone", "fork", 4)];
    if arch.raw_fork {
        calls.push(("fork", "rawfork", 5));
    }
    for (call, label, status) in calls {
        let pid = printed.value(label) as u64;
        assert_eq!(printed.value(&format!("{label}-status")), status);
        let parent_exit =
            t.only(|e| key(e) == main && is_exit(e) && name(e) == call && e["ret"] == pid);
        let entry = *t.of(main, 0).iter().rfind(|&&i| i < parent_exit).unwrap();
        assert_eq!(render(ev(entry)), format!("> {call}"));
        let child_return = t.child_return(entry, false);
        let child = key(ev(child_return));
        let child_events: Vec<String> = t
            .of(child, child_return)
            .into_iter()
            .map(|i| render(ev(i)))
            .skip_while(|r| !r.contains("getpid"))
            .collect();
        assert_eq!(
            child_events[..2],
            ["> getpid".to_string(), format!("< getpid = {pid}")]
        );
        let exit_group = t.find(child_return, |e| {
            key(e) == child && is_exit(e) && name(e) == "exit_group"
        });
        assert_eq!(
            (render(ev(exit_group)), arg_value(ev(exit_group), 0)),
            ("< exit_group = ?".to_string(), status as u64)
        );
        let exited = t.of(child, exit_group + 1)[0];
        assert_eq!(render(ev(exited)), format!("+++ exited with {status}"));
        let wait = t.find(entry, |e| {
            key(e) == main && is_exit(e) && name(e) == "wait4" && arg_value(e, 0) == pid
        });
        assert_eq!(t.ret(wait), Some(pid));
    }

    // vfork: the child has its parent's TLS and memory, so every event of
    // the child has main's identity, between the call and its return in
    // the parent (suspended until the child exits).
    let pid = printed.value("vfork") as u64;
    assert_eq!(printed.value("vfork-status"), 6);
    let parent_exit =
        t.only(|e| key(e) == main && is_exit(e) && name(e) == arch.vfork && e["ret"] == pid);
    let entry = *t
        .of(main, 0)
        .iter()
        .rfind(|&&i| i < parent_exit && !is_exit(ev(i)) && name(ev(i)) == arch.vfork)
        .unwrap();
    if arch.vfork == "clone" {
        let flags = ev(entry)["args"]
            .as_array()
            .and_then(|args| args.iter().find(|a| a["name"] == "flags"))
            .and_then(|a| a["text"].as_str())
            .unwrap_or_default();
        assert!(flags.contains("CLONE_VFORK"), "{}", ev(entry));
    }
    let call = arch.vfork;
    assert_eq!(
        t.sequence(main, entry, 8),
        [
            format!("> {call}"),
            format!("< {call} = 0"),
            "> getpid".to_string(),
            format!("< getpid = {pid}"),
            "> exit_group".to_string(),
            "< exit_group = ?".to_string(),
            "+++ exited with 6".to_string(),
            format!("< {call} = {pid}"),
        ]
    );
}

/// Case 3: a fork child execve()s /hard exec. The exit of the execve is in
/// the new image (another address space) and carries the call's
/// arguments; the new image's calls follow in that process.
fn exec_success(t: &Trace, main: (u64, u64), printed: &Printed) {
    let ev = |i: usize| &t.events[i];
    let pid = printed.value("exec-child") as u64;
    assert_eq!(printed.value("exec-status"), 3);
    let parent_exit =
        t.only(|e| key(e) == main && is_exit(e) && name(e) == "clone" && e["ret"] == pid);
    let fork = *t.of(main, 0).iter().rfind(|&&i| i < parent_exit).unwrap();
    let child = key(ev(t.child_return(fork, false)));
    let argv = r#"["/hard", "exec"]"#;
    let entry = t.find(fork, |e| {
        key(e) == child && !is_exit(e) && name(e) == "execve" && arg_text(e, 1) == argv
    });
    assert_eq!(arg_text(ev(entry), 0), r#""/hard""#);
    let exit = t.find(entry + 1, |e| is_exit(e) && name(e) == "execve");
    let image = key(ev(exit)).1;
    assert_eq!(
        (render(ev(exit)), arg_text(ev(exit), 1)),
        ("< execve = 0".to_string(), argv)
    );
    assert!(image != child.1 && image != main.1, "a new address space");
    let in_image = |pred: &dyn Fn(&Value) -> bool| {
        t.find(exit, |e| key(e).1 == image && is_exit(e) && pred(e))
    };
    let getpid = in_image(&|e| name(e) == "getpid");
    assert_eq!(t.ret(getpid), Some(pid));
    in_image(&|e| write_of(e, &format!("hard: exec-image pid={pid}\n")));
    let exit_group = in_image(&|e| name(e) == "exit_group");
    assert_eq!(
        (render(ev(exit_group)), arg_value(ev(exit_group), 0)),
        ("< exit_group = ?".to_string(), 3)
    );
    let exited = t.of(key(ev(exit_group)), exit_group + 1)[0];
    assert_eq!(render(ev(exited)), "+++ exited with 3");
}

/// Cases 4 and 5: a handler interrupts a reader blocked in read(). The
/// handler's own call (through the same libc instruction as the read)
/// pairs with its own exit. Without SA_RESTART, read returns -EINTR (as
/// the reader printed) into the handler: its exit, then the signal, and
/// sigreturn restores -EINTR (ARM's plain frame included: its model reads
/// it at the handler's first instruction). With SA_RESTART the kernel
/// rewinds read to be entered again: it shows `?` at the delivery, then
/// the signal (SI_TKILL from main, as the handler's siginfo says), then
/// sigreturn with the restarted read's register, and read is entered again
/// and returns the data.
fn signals(arch: &Arch, t: &Trace, main: (u64, u64), readers: &[(u64, i64)], printed: &Printed) {
    let ev = |i: usize| &t.events[i];
    let read_entry = |fd: u64| {
        t.find(0, |e| {
            !is_exit(e)
                && name(e) == "read"
                && arg_value(e, 0) == fd
                && arg_value(e, 2) == 16
                && key(e) != main
        })
    };

    let eintr_fd = readers[2].0;
    let entry = read_entry(eintr_fd);
    let reader = key(ev(entry));
    let sigreturn = arch.plain_sigreturn;
    assert_eq!(readers[2].1, -4, "the reader saw EINTR");
    let expected = [
        "> read",
        "< read = -EINTR",
        "--- SIGUSR1",
        "> write",
        "< write = 19",
        &format!("> {sigreturn}"),
        &format!("< {sigreturn} = -EINTR"),
        "> write",
        "< write = 25",
    ]
    .map(str::to_string);
    assert_eq!(t.sequence(reader, entry, expected.len()), expected);
    let events = t.of(reader, entry);
    assert!(write_of(ev(events[3]), "hard: usr1 handler\n"));
    assert_eq!(arg_value(ev(events[1]), 0), eintr_fd, "the read's own exit");
    let tgkill = t.find(0, |e| key(e) == main && !is_exit(e) && name(e) == "tgkill");
    assert_eq!(arg_text(ev(tgkill), 2), "SIGUSR1");
    assert!(tgkill < events[1]);

    let restart_fd = readers[3].0;
    let entry = read_entry(restart_fd);
    let reader = key(ev(entry));
    let rewound = if arch.restart_holds_number {
        0 // read's number on x86_64
    } else {
        restart_fd
    };
    assert_eq!(
        t.sequence(reader, entry, 9),
        [
            "> read".to_string(),
            "< read = ?".to_string(),
            "--- SIGUSR2".to_string(),
            "> write".to_string(),
            "< write = 19".to_string(),
            "> rt_sigreturn".to_string(),
            format!("< rt_sigreturn = {rewound}"),
            "> read".to_string(),
            "< read = 2".to_string(),
        ]
    );
    let events = t.of(reader, entry);
    let signal = ev(events[2]);
    assert_eq!(
        (siginfo(signal, "si_signo"), siginfo(signal, "si_code")),
        ("SIGUSR2", "SI_TKILL")
    );
    assert_eq!(siginfo(signal, "si_pid"), printed.value("pid").to_string());
    assert!(write_of(ev(events[3]), "hard: usr2 handler\n"));
    for i in [0, 1, 7, 8] {
        assert_eq!(arg_value(ev(events[i]), 0), restart_fd);
    }
    assert_eq!(arg_text(ev(events[8]), 1), r#""cc""#);
    let release = t.find(0, |e| key(e) == main && !is_exit(e) && write_of(e, "cc"));
    assert!(events[7] < release && release < events[8]);
}

/// Case 5 without a handler: a stopped child's read() and nanosleep() are
/// restarted when it continues. Where the kernel does that by returning
/// to the call's instruction, the call shows `?` and is entered again
/// (the sleep as restart_syscall); ARM restarts inside the kernel, so the
/// first entry returns. SIGUSR1 then ends the sleep through the handler:
/// -EINTR, as the child printed, at the delivery.
fn stop_and_continue(arch: &Arch, t: &Trace, main: (u64, u64), printed: &Printed) {
    let ev = |i: usize| &t.events[i];
    let pid = printed.value("stop-child") as u64;
    assert_eq!(
        (
            printed.value("stopped-read"),
            printed.value("stopped-sleep"),
            printed.value("stop-status")
        ),
        (2, -4, 8)
    );
    let parent_exit =
        t.only(|e| key(e) == main && is_exit(e) && name(e) == "clone" && e["ret"] == pid);
    let fork = *t.of(main, 0).iter().rfind(|&&i| i < parent_exit).unwrap();
    let child_return = t.child_return(fork, false);
    let child = key(ev(child_return));
    let entry = t.find(child_return, |e| key(e) == child && name(e) == "read");
    let mut expected: Vec<&str> = vec!["> read"];
    if arch.restarts_in_user_mode {
        expected.extend(["< read = ?", "> read"]);
    }
    expected.extend(["< read = 2", "> write", "< write = 21", "> nanosleep"]);
    let sleeping = if arch.restarts_in_user_mode {
        expected.extend(["< nanosleep = ?", "> restart_syscall"]);
        "restart_syscall"
    } else {
        "nanosleep"
    };
    let interrupted = format!("< {sleeping} = -EINTR");
    let sigreturn = format!("> {}", arch.plain_sigreturn);
    let eintr = format!("< {} = -EINTR", arch.plain_sigreturn);
    expected.extend([
        interrupted.as_str(),
        "--- SIGUSR1",
        "> write",
        "< write = 19",
    ]);
    expected.extend([
        &sigreturn,
        &eintr,
        "> write",
        "< write = 23",
        "> exit_group",
        "< exit_group = ?",
        "+++ exited with 8",
    ]);
    assert_eq!(t.sequence(child, entry, expected.len()), expected);
    let events = t.of(child, entry);
    let read_exit = events[expected.iter().position(|r| *r == "< read = 2").unwrap()];
    assert_eq!(arg_text(ev(read_exit), 1), r#""dd""#);
    let release = t.find(0, |e| key(e) == main && !is_exit(e) && write_of(e, "dd"));
    assert!(release < read_exit);
    let sleep = events[expected.iter().position(|r| *r == "> nanosleep").unwrap()];
    assert_eq!(arg_text(ev(sleep), 0), "{tv_sec=1000, tv_nsec=0}");
}

/// No call of the program is left without an exit, and no exit is without
/// its entry: exits carry their entry's arguments, so an exit pairs with
/// the newest open entry of the same call and arguments, of the same
/// thread and process if there is one (a successful execve's and a
/// rekeyed arch_prctl's or set_tls's exit have another identity). Exits
/// without an entry are returns-twice calls: children's returns, and the
/// parent's return after a vfork child's.
fn every_call_paired(t: &Trace, end: usize) {
    /// An entry not yet paired.
    struct Open {
        index: usize,
        key: (u64, u64),
        name: String,
        args: Vec<Value>,
    }
    let args = |e: &Value| -> Vec<Value> {
        e["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["value"].clone())
            .collect()
    };
    let program_start = t.find(0, |e| is_exit(e) && name(e) == "execve");
    let mut processes = BTreeSet::from([key(&t.events[program_start]).1]);
    let mut open: Vec<Open> = Vec::new();
    for (i, e) in t
        .events
        .iter()
        .enumerate()
        .take(end + 1)
        .skip(program_start + 1)
    {
        let returns_twice = ["clone", "clone3", "fork", "vfork"].contains(&name(e));
        if is_exit(e) && e["ret"] == 0 && (returns_twice || name(e) == "execve") {
            processes.insert(key(e).1);
        }
        // Signals are no call's halves.
        if !processes.contains(&key(e).1) || is_notice(e) {
            continue;
        }
        if !is_exit(e) {
            open.push(Open {
                index: i,
                key: key(e),
                name: name(e).to_string(),
                args: args(e),
            });
            continue;
        }
        let same_call = |o: &Open| o.name == name(e) && o.args == args(e);
        let found = open
            .iter()
            .rposition(|o| same_call(o) && o.key == key(e))
            .or_else(|| open.iter().rposition(same_call));
        match found {
            Some(j) => {
                open.remove(j);
            }
            None => assert!(returns_twice, "exit {i} without its entry: {e}"),
        }
    }
    assert!(
        open.is_empty(),
        "entries never paired: {:?}",
        open.iter()
            .map(|o| format!("{} {}", o.index, o.name))
            .collect::<Vec<_>>()
    );
}

fn run(arch: &Arch, smp: u32) {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (console, events) = run_jsonl("hard", &arch.guest, smp);
    // On failure, the tracer's own counts (paired, pending, dropped) say
    // where a lost return went.
    if std::panic::catch_unwind(|| check(arch, &console, &events)).is_err() {
        let counts: Vec<&str> = console
            .lines()
            .filter(|l| l.starts_with("osmtrace:"))
            .collect();
        panic!("hard cases failed (see above); tracer: {counts:#?}");
    }
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn x86_64_hard_cases() {
    run(&X86_64_HARD, 1);
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn x86_64_hard_cases_with_two_vcpus() {
    run(&X86_64_HARD, 2);
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn arm_hard_cases() {
    run(&ARM_HARD, 1);
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn arm_hard_cases_with_two_vcpus() {
    run(&ARM_HARD, 2);
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn aarch64_hard_cases() {
    run(&AARCH64_HARD, 1);
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn aarch64_hard_cases_with_two_vcpus() {
    run(&AARCH64_HARD, 2);
}
