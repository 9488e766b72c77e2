//! The oracle test (issue 4): a static program of our own
//! (tests/guest/oracle.c), built with Debian's gcc or cross gcc, runs in a
//! real guest under the compiled plugin (`cargo xtask trace`, jsonl) and on
//! the host under `qemu-<arch> -strace` (Debian's qemu-user), an
//! independent tracer; on x86_64 also under the host's `strace -ff`. Thread
//! by thread, the sequence of call names must be identical, and so must the
//! return values and the string arguments the oracle prints, except for the
//! differences listed, each with its reason, in
//! tests/oracle-known-differences.txt. Each difference the comparison
//! accepts is printed (`--nocapture`) and written to
//! target/osmtrace/oracle/<arch>/report.txt; anything else fails.
//!
//! One guest boot per architecture. Needs QEMU, qemu-user, strace and the
//! cross compilers (scripts/setup.sh) and, on the first run, Debian's
//! archive for the guest kernels (cached in target/).

mod common;

use common::{Guest, build_guest_program, root, trace_guest_program};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// One guest at a time: each boot uses both cores.
static SERIAL: Mutex<()> = Mutex::new(());

/// The guest waits until its kernel's random pool is ready (reading
/// /dev/random blocks until then), as the host's long is: otherwise glibc's
/// start-up `getrandom(GRND_NONBLOCK)` fails with EAGAIN in a guest this
/// soon after boot and glibc reads the clock instead, calls the host run
/// does not make.
const GUEST_CMD: &str = "head -c 1 /dev/random >/dev/null && /oracle";

/// What the program prints when every call returned what it expected.
const PROGRAM_OK: &str = "osmtrace-oracle: ok\n";

struct Arch {
    /// As in the known-differences file and the README.
    name: &'static str,
    guest: Guest,
    qemu_user: &'static str,
    /// The host is x86_64: its own `strace -ff` runs the program natively.
    host_strace: bool,
    /// Threads and the process are told apart by the guest's names (tid,
    /// pid): MIPS's `thread` is the stack pointer, which changes between
    /// calls, and its `process` is 0.
    by_names: bool,
}

const X86_64: Arch = Arch {
    name: "x86_64",
    guest: common::X86_64,
    qemu_user: "qemu-x86_64",
    host_strace: true,
    by_names: false,
};

const I386: Arch = Arch {
    name: "i386",
    guest: common::I386,
    qemu_user: "qemu-i386",
    host_strace: false,
    by_names: false,
};

const ARM: Arch = Arch {
    name: "arm",
    guest: common::ARM,
    qemu_user: "qemu-arm",
    host_strace: false,
    by_names: false,
};

const AARCH64: Arch = Arch {
    name: "aarch64",
    guest: common::AARCH64,
    qemu_user: "qemu-aarch64",
    host_strace: false,
    by_names: false,
};

/// The armhf program on the 64-bit ARM kernel (AArch32 EL0): the aarch64
/// model's compat mechanism, against the same `qemu-arm`.
const ARM_ON_AARCH64: Arch = Arch {
    name: "arm-on-aarch64",
    guest: Guest {
        compiler: common::ARM.compiler,
        bits: 32,
        ..common::AARCH64
    },
    qemu_user: "qemu-arm",
    host_strace: false,
    by_names: false,
};

const PPC64EL: Arch = Arch {
    name: "ppc64el",
    guest: common::PPC64EL,
    qemu_user: "qemu-ppc64le",
    host_strace: false,
    by_names: false,
};

const S390X: Arch = Arch {
    name: "s390x",
    guest: common::S390X,
    qemu_user: "qemu-s390x",
    host_strace: false,
    by_names: false,
};

const RISCV64: Arch = Arch {
    name: "riscv64",
    guest: common::RISCV64,
    qemu_user: "qemu-riscv64",
    host_strace: false,
    by_names: false,
};

const MIPSEL: Arch = Arch {
    name: "mipsel",
    guest: common::MIPSEL,
    qemu_user: "qemu-mipsel",
    host_strace: false,
    by_names: true,
};

const MIPS64EL: Arch = Arch {
    name: "mips64el",
    guest: common::MIPS64EL,
    qemu_user: "qemu-mips64el",
    host_strace: false,
    by_names: true,
};

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn x86_64_trace_matches_qemu_user_and_strace() {
    oracle_test(&X86_64);
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn i386_trace_matches_qemu_user() {
    oracle_test(&I386);
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn arm_trace_matches_qemu_user() {
    oracle_test(&ARM);
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn aarch64_trace_matches_qemu_user() {
    oracle_test(&AARCH64);
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn arm_on_aarch64_trace_matches_qemu_user() {
    oracle_test(&ARM_ON_AARCH64);
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn s390x_trace_matches_qemu_user() {
    oracle_test(&S390X);
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn ppc64el_trace_matches_qemu_user() {
    oracle_test(&PPC64EL);
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn riscv64_trace_matches_qemu_user() {
    oracle_test(&RISCV64);
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn mipsel_trace_matches_qemu_user() {
    oracle_test(&MIPSEL);
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn mips64el_trace_matches_qemu_user() {
    oracle_test(&MIPS64EL);
}

fn oracle_test(arch: &Arch) {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = root().join("target/osmtrace/oracle").join(arch.name);
    let _ = std::fs::remove_dir_all(&dir);
    let program = build_guest_program(arch.guest.compiler, "oracle", &dir);
    let known = KnownDifferences::load();

    let events = guest_trace(arch, &program, &dir);
    let program_events = program_events(&events, arch.by_names)
        .unwrap_or_else(|e| panic!("{}: osmtrace's trace: {e}", arch.name));
    let guest = guest_threads(&program_events, arch.guest.bits, arch.by_names)
        .unwrap_or_else(|e| panic!("{}: osmtrace's trace: {e}", arch.name));
    let outputs = check_outputs(&program_events)
        .unwrap_or_else(|e| panic!("{}: osmtrace's trace: {e}", arch.name));
    let (qemu_user, set_aside) = qemu_user_threads(arch, &program, &dir);
    let mut oracles = vec![(Oracle::QemuUser, qemu_user)];
    if arch.host_strace {
        oracles.push((Oracle::Strace, strace_threads(&program, &dir)));
    }

    let mut report = String::new();
    for log in &set_aside {
        report.push_str(&format!(
            "qemu-user log set aside, its threads' returns interleave ambiguously: {log}\n"
        ));
    }
    report.push_str(&outputs.report);
    let mut failures = outputs.failures;
    for (oracle, threads) in &oracles {
        let comparison = compare(arch, *oracle, &known, &guest, threads);
        report.push_str(&comparison.report);
        failures.extend(comparison.failures);
    }
    std::fs::write(dir.join("report.txt"), &report).unwrap();
    print!("{report}");
    assert!(
        failures.is_empty(),
        "{}: {} difference(s) not listed in tests/oracle-known-differences.txt:\n{}\n\n{report}",
        arch.name,
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------
// Calls as each tracer shows them

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Oracle {
    QemuUser,
    Strace,
}

impl Oracle {
    fn name(self) -> &'static str {
        match self {
            Oracle::QemuUser => "qemu-user",
            Oracle::Strace => "strace",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Ret {
    Value(i64),
    /// qemu-user prints errno numbers, strace names, osmtrace both.
    Error {
        number: Option<u64>,
        name: Option<String>,
    },
    /// `exit`, `exit_group`: never returns.
    NoReturn,
    /// The tracer printed no return for a call that has one.
    Missing,
}

#[derive(Clone, Debug)]
struct Arg {
    text: String,
    /// osmtrace: an output argument (shown at the exit).
    out: bool,
    /// osmtrace: guest memory it points to could not be read, at entry nor
    /// at exit (shown as the address).
    unreadable: bool,
}

#[derive(Clone, Debug)]
struct Call {
    /// Empty when the tracer knows only the number (qemu-user's "Unknown
    /// syscall N").
    name: String,
    nr: Option<u64>,
    args: Vec<Arg>,
    ret: Ret,
    /// osmtrace: the return of clone/clone3 into the new thread, shown on
    /// that thread without an entry.
    child_return: bool,
}

impl Call {
    /// A call as a text tracer (qemu-user, strace) prints it: arguments as
    /// text, all of them inputs.
    fn from_text(name: &str, args: Vec<String>, ret: Ret) -> Call {
        Call {
            name: name.to_string(),
            nr: None,
            args: args
                .into_iter()
                .map(|text| Arg {
                    text,
                    out: false,
                    unreadable: false,
                })
                .collect(),
            ret,
            child_return: false,
        }
    }

    fn show(&self) -> String {
        let name = if self.name.is_empty() {
            format!("syscall_{}", self.nr.unwrap_or(0))
        } else {
            self.name.clone()
        };
        let args: Vec<&str> = self.args.iter().map(|a| a.text.as_str()).collect();
        let ret = match &self.ret {
            Ret::Value(v) => v.to_string(),
            Ret::Error { number, name } => match (name, number) {
                (Some(name), Some(n)) => format!("-1 {name} (errno {n})"),
                (Some(name), None) => format!("-1 {name}"),
                (None, n) => format!("-1 errno {}", n.unwrap_or(0)),
            },
            Ret::NoReturn => "?".to_string(),
            Ret::Missing => "(no return shown)".to_string(),
        };
        let call = format!("{name}({}) = {ret}", args.join(", "));
        if self.child_return {
            format!("{call} [in the new thread]")
        } else {
            call
        }
    }
}

/// Threads in the order they were created, the main thread first.
type Threads = Vec<Vec<Call>>;

fn thread_name(index: usize) -> String {
    match index {
        0 => "main thread".to_string(),
        n => format!("thread {}", n + 1),
    }
}

/// Interprets the low `bits` of `raw` as a signed number.
fn signed(raw: u64, bits: u32) -> i64 {
    if bits >= 64 {
        raw as i64
    } else {
        let shift = 64 - bits;
        ((raw << shift) as i64) >> shift
    }
}

// ---------------------------------------------------------------------------
// osmtrace in the guest

fn guest_trace(arch: &Arch, program: &Path, dir: &Path) -> Vec<Value> {
    let out = dir.join("guest.jsonl");
    let result = trace_guest_program(arch.guest.spec, program, GUEST_CMD, 1, &out, &[]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        result.status.success(),
        "cargo xtask trace failed:\n{stderr}"
    );
    assert!(
        stderr.contains(PROGRAM_OK.trim_end()) && stderr.contains("guest command exited with 0"),
        "the program did not run as expected in the guest:\n{stderr}"
    );
    common::read_jsonl(&out)
}

/// An event of the program: its thread's identity and the event.
struct ProgramEvent<'a> {
    thread: u64,
    event: &'a Value,
}

/// The program's entries and exits, from the return of the shell's
/// `execve("/oracle", ...)` on, in trace order, each with its thread's
/// identity: the model's `thread`, or with `by_names` the guest's tid.
fn program_events(events: &[Value], by_names: bool) -> Result<Vec<ProgramEvent<'_>>, String> {
    let start = events
        .iter()
        .position(|e| {
            e["event"] == "exit" && e["name"] == "execve" && e["args"][0]["text"] == "\"/oracle\""
        })
        .ok_or("no execve of /oracle")?;
    let (process_key, thread_key) = if by_names {
        ("pid", "tid")
    } else {
        ("process", "thread")
    };
    let process = &events[start][process_key];
    if process.is_null() {
        return Err(format!("the execve of /oracle has no {process_key}"));
    }
    let mut program = vec![ProgramEvent {
        thread: events[start][thread_key].as_u64().unwrap_or(0),
        event: &events[start],
    }];
    // Signal deliveries and process ends are no call's halves; qemu-user's
    // log has none.
    program.extend(
        events[start + 1..]
            .iter()
            .filter(|e| {
                e[process_key] == *process && (e["event"] == "entry" || e["event"] == "exit")
            })
            .map(|e| ProgramEvent {
                thread: e[thread_key].as_u64().unwrap_or(0),
                event: e,
            }),
    );
    Ok(program)
}

/// The program's calls, per thread, after its execve (see
/// [`program_events`]) up to its `exit_group`.
///
/// Without names, the model names a thread by its user TLS register, which
/// the program sets during start-up (`arch_prctl`, `set_thread_area`,
/// `set_tls`, or a plain register write on aarch64, ppc64el and riscv64):
/// until the first thread is created, every identity in the process is the
/// main thread's. A later thread first shows up returning 0 from the
/// clone/clone3 that created it. With `by_names` every tid is a thread of
/// its own from its first event.
fn guest_threads(
    events: &[ProgramEvent<'_>],
    bits: u32,
    by_names: bool,
) -> Result<Threads, String> {
    let mut threads: Threads = vec![Vec::new()];
    let mut identities: BTreeMap<u64, usize> = BTreeMap::new();
    let (first, rest) = events.split_first().ok_or("no execve of /oracle")?;
    identities.insert(first.thread, 0);
    // The call each thread is in, as an index into its sequence.
    let mut open: BTreeMap<usize, usize> = BTreeMap::new();
    for &ProgramEvent {
        thread: identity,
        event: e,
    } in rest
    {
        let name = e["name"].as_str().unwrap().to_string();
        let is_exit = e["event"] == "exit";
        let child_return = is_exit
            && name.starts_with("clone")
            && e["ret"] == 0
            && !identities.contains_key(&identity);
        let thread = match identities.get(&identity) {
            Some(&t) => t,
            None if child_return || by_names => {
                threads.push(Vec::new());
                threads.len() - 1
            }
            None if threads.len() == 1 => 0,
            None => return Err(format!("an identity of no known thread: {e}")),
        };
        identities.insert(identity, thread);
        let args = e["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| Arg {
                text: a["text"].as_str().unwrap_or("").to_string(),
                out: a["dir"].as_str().is_some_and(|d| d.contains("out")),
                unreadable: a["unreadable"] == true,
            })
            .collect();
        let ret = if !is_exit {
            Ret::Missing
        } else if e["ret"].is_null() {
            Ret::NoReturn
        } else if let Some(error) = e["error"].as_str() {
            Ret::Error {
                number: e["errno"].as_u64(),
                name: Some(error.to_string()),
            }
        } else {
            Ret::Value(signed(common::ret_bits(e).unwrap(), bits))
        };
        let call = Call {
            name,
            nr: e["nr"].as_u64(),
            args,
            ret,
            child_return,
        };
        let calls = &mut threads[thread];
        if !is_exit {
            open.insert(thread, calls.len());
            calls.push(call);
            continue;
        }
        match open.remove(&thread) {
            Some(i) if calls[i].name == call.name => calls[i] = call,
            Some(i) => {
                return Err(format!(
                    "{} returns from {} while in {}",
                    thread_name(thread),
                    call.name,
                    calls[i].name
                ));
            }
            None => calls.push(call),
        }
        if e["name"] == "exit_group" {
            return Ok(threads);
        }
    }
    Err("the trace ends before the program's exit_group".to_string())
}

// ---------------------------------------------------------------------------
// Output buffers, against the program's own data

/// What the program's calls put in files, links and pipes, taken from the
/// trace's inputs (write's buffer, symlinkat's target: the comparison with
/// the oracles checks those), and where its descriptors point.
#[derive(Default)]
struct Written {
    files: BTreeMap<String, Vec<u8>>,
    links: BTreeMap<String, Vec<u8>>,
    pipes: Vec<VecDeque<u8>>,
    descriptors: BTreeMap<i64, Open>,
}

#[derive(Clone)]
enum Open {
    File { path: String, offset: usize },
    PipeRead(usize),
    PipeWrite(usize),
}

/// The trace's output buffers of the program's calls, on every
/// architecture: the bytes its reads, pread and readlinkat show must be
/// those its own writes and symlinkat put there (the program checks that it
/// read them back, tests/guest/oracle.c), a decoded `struct stat` must have
/// the size written, and no output of a call that succeeded may show as an
/// unreadable address. qemu-user prints no output buffers: this is the
/// check that outputs are read where the caller's memory is.
fn check_outputs(events: &[ProgramEvent<'_>]) -> Result<Comparison, String> {
    let mut written = Written::default();
    let mut failures = Vec::new();
    let (mut buffers, mut sizes, mut outputs) = (0, 0, 0);
    let text = |e: &Value, i: usize| e["args"][i]["text"].as_str().unwrap_or("").to_string();
    let number = |e: &Value, i: usize| {
        let v = &e["args"][i]["value"];
        v.as_i64().or_else(|| v.as_u64().map(|v| v as i64))
    };
    let string = |e: &Value, i: usize| quoted(&text(e, i), true).map(|(bytes, _)| bytes);
    let path = |e: &Value, i: usize| {
        String::from_utf8_lossy(&string(e, i).unwrap_or_default()).into_owned()
    };
    for e in events.iter().skip(1).map(|p| p.event) {
        let name = e["name"].as_str().unwrap_or("");
        if e["event"] == "entry" && name == "exit_group" {
            let report = format!(
                "output buffers: {buffers} checked against the program's own writes, {sizes} \
                 file sizes, {outputs} outputs of successful calls decoded\n"
            );
            if buffers == 0 {
                failures.push("no output buffer of the program was checked".to_string());
            }
            return Ok(Comparison { report, failures });
        }
        let Some(ret) = e["ret"]
            .as_i64()
            .filter(|_| e["event"] == "exit" && e["error"].is_null())
        else {
            continue;
        };
        for a in e["args"].as_array().into_iter().flatten() {
            if !a["dir"].as_str().is_some_and(|d| d.contains("out")) {
                continue;
            }
            if a["unreadable"] == true {
                failures.push(format!(
                    "{name}: output {} shows as an unreadable address: {}",
                    a["name"], a["text"]
                ));
            } else {
                outputs += 1;
            }
        }
        let n = usize::try_from(ret).unwrap_or(0);
        // Where a read-like call's bytes come from, and its buffer argument.
        let mut expect = |want: Option<Vec<u8>>, arg: usize, failures: &mut Vec<String>| {
            let Some(want) = want else { return };
            buffers += 1;
            match quoted(&text(e, arg), true) {
                Some((got, cut)) if same_string(&got, cut, &want, false) => {}
                _ => failures.push(format!(
                    "{name}: shows {} where the program's own calls put {:?}",
                    text(e, arg),
                    String::from_utf8_lossy(&want)
                )),
            }
        };
        match name {
            "openat" | "open" => {
                let at = usize::from(name == "openat");
                let file = path(e, at);
                let flags = text(e, at + 1);
                if flags.contains("O_TRUNC")
                    || (flags.contains("O_CREAT") && !written.files.contains_key(&file))
                {
                    written.files.insert(file.clone(), Vec::new());
                }
                if written.files.contains_key(&file) {
                    written.descriptors.insert(
                        ret,
                        Open::File {
                            path: file,
                            offset: 0,
                        },
                    );
                } else {
                    written.descriptors.remove(&ret);
                }
            }
            "write" => {
                let (Some(fd), Some((bytes, false))) = (number(e, 0), quoted(&text(e, 1), true))
                else {
                    continue;
                };
                let bytes = &bytes[..n.min(bytes.len())];
                match written.descriptors.get_mut(&fd) {
                    Some(Open::File { path, offset }) => {
                        let content = written.files.entry(path.clone()).or_default();
                        let end = *offset + bytes.len();
                        if content.len() < end {
                            content.resize(end, 0);
                        }
                        content[*offset..end].copy_from_slice(bytes);
                        *offset = end;
                    }
                    Some(Open::PipeWrite(p)) => written.pipes[*p].extend(bytes),
                    _ => {}
                }
            }
            "read" => {
                let Some(fd) = number(e, 0) else { continue };
                let want = match written.descriptors.get_mut(&fd) {
                    Some(Open::File { path, offset }) => {
                        let content = &written.files[path.as_str()];
                        let from = (*offset).min(content.len());
                        let to = (from + n).min(content.len());
                        *offset = from + n;
                        Some(content[from..to].to_vec())
                    }
                    Some(Open::PipeRead(p)) => {
                        let pipe = &mut written.pipes[*p];
                        Some(pipe.drain(..n.min(pipe.len())).collect())
                    }
                    _ => None,
                };
                expect(want, 1, &mut failures);
            }
            "pread64" => {
                // By name: 32-bit ABIs pad before the 64-bit offset.
                let pos = e["args"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|a| a["name"] == "pos")
                    .and_then(|a| a["value"].as_i64());
                let (Some(fd), Some(pos)) = (number(e, 0), pos) else {
                    continue;
                };
                let want = match written.descriptors.get(&fd) {
                    Some(Open::File { path, .. }) => {
                        let content = &written.files[path.as_str()];
                        let from = usize::try_from(pos).unwrap_or(0).min(content.len());
                        Some(content[from..(from + n).min(content.len())].to_vec())
                    }
                    _ => None,
                };
                expect(want, 1, &mut failures);
            }
            "lseek" => {
                if let Some(Open::File { offset, .. }) =
                    number(e, 0).and_then(|fd| written.descriptors.get_mut(&fd))
                {
                    *offset = n;
                }
            }
            "close" => {
                if let Some(fd) = number(e, 0) {
                    written.descriptors.remove(&fd);
                }
            }
            "dup2" | "dup3" => {
                if let Some(open) = number(e, 0).and_then(|fd| written.descriptors.get(&fd)) {
                    written.descriptors.insert(ret, open.clone());
                }
            }
            "pipe" | "pipe2" => {
                let fds: Vec<i64> = text(e, 0)
                    .trim_matches(['[', ']'])
                    .split(',')
                    .filter_map(|f| f.trim().parse().ok())
                    .collect();
                if let [r, w] = fds[..] {
                    written.pipes.push(VecDeque::new());
                    let p = written.pipes.len() - 1;
                    written.descriptors.insert(r, Open::PipeRead(p));
                    written.descriptors.insert(w, Open::PipeWrite(p));
                }
            }
            "symlinkat" => {
                if let Some(target) = string(e, 0) {
                    written.links.insert(path(e, 2), target);
                }
            }
            "renameat" | "renameat2" => {
                let (from, to) = (path(e, 1), path(e, 3));
                if let Some(target) = written.links.remove(&from) {
                    written.links.insert(to.clone(), target);
                }
                if let Some(content) = written.files.remove(&from) {
                    written.files.insert(to, content);
                }
            }
            "unlinkat" => {
                let file = path(e, 1);
                written.links.remove(&file);
                written.files.remove(&file);
            }
            "readlinkat" | "readlink" => {
                let at = usize::from(name == "readlinkat");
                let want = written
                    .links
                    .get(&path(e, at))
                    .map(|target| target[..n.min(target.len())].to_vec());
                expect(want, at + 1, &mut failures);
            }
            "fstat" | "fstat64" | "newfstatat" | "fstatat64" | "statx" => {
                let Some(Open::File { path, .. }) =
                    number(e, 0).and_then(|fd| written.descriptors.get(&fd))
                else {
                    continue;
                };
                let want = written.files[path.as_str()].len();
                let shown = e["args"].as_array().into_iter().flatten().find_map(|a| {
                    let text = a["text"].as_str()?;
                    let size = text.split(['{', ',', ' ']).find_map(|f| {
                        f.strip_prefix("st_size=")
                            .or_else(|| f.strip_prefix("stx_size="))
                    })?;
                    size.trim_end_matches('}').parse::<usize>().ok()
                });
                if let Some(size) = shown {
                    sizes += 1;
                    if size != want {
                        failures.push(format!(
                            "{name}: shows st_size={size} where the program wrote {want} bytes"
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    Err("the trace ends before the program's exit_group".to_string())
}

// ---------------------------------------------------------------------------
// qemu-user -strace

/// Runs of qemu-user tried for a log that reads one way only. The program
/// keeps its threads' own calls apart, but libc's start-up calls in the new
/// thread can still overlap the main thread's return from pthread_create
/// (measured: no such log in 150 runs on a loaded machine, 6 in 150 before
/// the program kept its own calls apart).
const QEMU_USER_RUNS: usize = 10;

/// The program's calls under qemu-user, and the ambiguous logs that were
/// set aside first (see [`unique_reading`]).
fn qemu_user_threads(arch: &Arch, program: &Path, dir: &Path) -> (Threads, Vec<String>) {
    let cwd = dir.join("qemu-user-cwd");
    let mut set_aside = Vec::new();
    for run in 1..=QEMU_USER_RUNS {
        let _ = std::fs::remove_dir_all(&cwd);
        std::fs::create_dir_all(&cwd).unwrap();
        let out = Command::new(arch.qemu_user)
            .arg("-strace")
            .arg(program)
            .current_dir(&cwd)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{} not found ({e}); run scripts/setup.sh", arch.qemu_user));
        let log = String::from_utf8_lossy(&out.stderr).into_owned();
        let file = dir.join(format!("qemu-user-strace-{run}.txt"));
        std::fs::write(&file, &log).unwrap();
        assert!(
            out.status.success() && out.stdout == PROGRAM_OK.as_bytes(),
            "the program did not run as expected under {}: {}\n{}",
            arch.qemu_user,
            String::from_utf8_lossy(&out.stdout),
            log
        );
        match parse_qemu_strace(&log, arch.guest.bits) {
            Ok(threads) => return (threads, set_aside),
            Err(LogError::Ambiguous(why)) => set_aside.push(format!(
                "{}: {why}",
                file.strip_prefix(root()).unwrap_or(&file).display()
            )),
            Err(LogError::Bad(why)) => panic!("{}: {why}\n{log}", file.display()),
        }
    }
    panic!(
        "{} runs of {} gave no log that reads one way only:\n{}",
        QEMU_USER_RUNS,
        arch.qemu_user,
        set_aside.join("\n")
    );
}

/// A piece of qemu-user's log: it prints a call's entry (`TID name(args)`)
/// and its return (` = value` up to the end of the line) as two separate
/// writes, so other threads' entries can come between them.
enum Fragment {
    Entry { tid: u64, call: Call },
    Return(String),
}

/// Calls that never return: qemu-user prints no return for them.
fn never_returns(name: &str) -> bool {
    matches!(name, "exit" | "exit_group")
}

fn parse_qemu_strace(log: &str, bits: u32) -> Result<Threads, LogError> {
    let mut fragments = Vec::new();
    let mut rest = log;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('\n') {
            rest = r;
        } else if let Some(r) = rest.strip_prefix(" = ") {
            let end = r.find('\n').unwrap_or(r.len());
            fragments.push(Fragment::Return(r[..end].to_string()));
            rest = &r[end..];
        } else {
            let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(0);
            let tid: u64 = rest[..digits]
                .parse()
                .map_err(|_| format!("unexpected text: {}", first_line(rest)))?;
            let r = rest[digits..]
                .strip_prefix(' ')
                .ok_or_else(|| format!("unexpected text: {}", first_line(rest)))?;
            if let Some(r) = r.strip_prefix("Unknown syscall ") {
                let end = r.find('\n').unwrap_or(r.len());
                let nr = r[..end]
                    .parse()
                    .map_err(|_| format!("unexpected text: {}", first_line(rest)))?;
                let call = Call {
                    name: String::new(),
                    nr: Some(nr),
                    args: Vec::new(),
                    // qemu-user answers ENOSYS and prints no return.
                    ret: Ret::Missing,
                    child_return: false,
                };
                fragments.push(Fragment::Entry { tid, call });
                rest = &r[end..];
            } else {
                let (name, args, r) = split_call(r)
                    .ok_or_else(|| format!("unexpected text: {}", first_line(rest)))?;
                let ret = if never_returns(name) {
                    Ret::NoReturn
                } else {
                    Ret::Missing
                };
                let call = Call::from_text(name, args, ret);
                fragments.push(Fragment::Entry { tid, call });
                rest = r;
            }
        }
    }

    // Which entry each return belongs to.
    let returns = unique_reading(&fragments, bits)?;
    let mut threads: BTreeMap<u64, (usize, Vec<Call>)> = BTreeMap::new();
    for (i, f) in fragments.iter().enumerate() {
        if let Fragment::Entry { tid, call } = f {
            let mut call = call.clone();
            if let Some(ret) = returns.get(&i) {
                call.ret = ret.clone();
            }
            let order = threads.len();
            threads
                .entry(*tid)
                .or_insert((order, Vec::new()))
                .1
                .push(call);
        }
    }
    let mut threads: Vec<(usize, Vec<Call>)> = threads.into_values().collect();
    threads.sort_by_key(|(order, _)| *order);
    Ok(threads.into_iter().map(|(_, calls)| calls).collect())
}

/// Why qemu-user's log cannot be used.
#[derive(Debug)]
enum LogError {
    /// Text that is not qemu-user's, or no way to give every return an entry.
    Bad(String),
    /// Several readings give a call different returns: threads returned
    /// from calls at the same time, and the log does not say whose return
    /// came first. Another run of the same program will do.
    Ambiguous(String),
}

impl From<String> for LogError {
    fn from(message: String) -> LogError {
        LogError::Bad(message)
    }
}

/// The return of each entry (by fragment index) in every reading of the
/// log: a return belongs to a call that is open then, and a thread returns
/// from a call before it enters the next. A clone returns the id of a
/// thread in the log (the program's one clone creates its worker). Every
/// reading is tried; if two give a call different returns, the log is
/// ambiguous.
fn unique_reading(fragments: &[Fragment], bits: u32) -> Result<BTreeMap<usize, Ret>, LogError> {
    struct Search<'a> {
        fragments: &'a [Fragment],
        tids: BTreeSet<u64>,
        bits: u32,
        first: Option<BTreeMap<usize, Ret>>,
        ambiguous: Option<String>,
    }

    impl Search<'_> {
        fn plausible(&self, call: &Call, ret: &Ret) -> bool {
            call.name != "clone" || matches!(ret, Ret::Value(v) if self.tids.contains(&(*v as u64)))
        }

        fn run(&mut self, i: usize, open: &mut Vec<usize>, assigned: &mut BTreeMap<usize, Ret>) {
            if self.ambiguous.is_some() {
                return;
            }
            let Some(fragment) = self.fragments.get(i) else {
                match &self.first {
                    None => self.first = Some(assigned.clone()),
                    Some(first) if first != assigned => {
                        let entry = first
                            .keys()
                            .chain(assigned.keys())
                            .find(|k| first.get(k) != assigned.get(k))
                            .unwrap();
                        self.ambiguous = Some(format!(
                            "{} returns {:?} or {:?}",
                            entry_call(&self.fragments[*entry]).show(),
                            first.get(entry),
                            assigned.get(entry)
                        ));
                    }
                    Some(_) => {}
                }
                return;
            };
            match fragment {
                Fragment::Entry { tid, call } => {
                    if open.iter().any(|&j| entry_tid(&self.fragments[j]) == *tid) {
                        return; // the thread entered a call before it returned
                    }
                    let opens = call.ret == Ret::Missing && !call.name.is_empty();
                    if opens {
                        open.push(i);
                    }
                    self.run(i + 1, open, assigned);
                    if opens {
                        open.pop();
                    }
                }
                Fragment::Return(text) => {
                    let ret = parse_return(text, self.bits);
                    for k in 0..open.len() {
                        let j = open[k];
                        if !self.plausible(entry_call(&self.fragments[j]), &ret) {
                            continue;
                        }
                        open.remove(k);
                        assigned.insert(j, ret.clone());
                        self.run(i + 1, open, assigned);
                        assigned.remove(&j);
                        open.insert(k, j);
                    }
                }
            }
        }
    }

    let tids = fragments
        .iter()
        .filter_map(|f| match f {
            Fragment::Entry { tid, .. } => Some(*tid),
            Fragment::Return(_) => None,
        })
        .collect();
    let mut search = Search {
        fragments,
        tids,
        bits,
        first: None,
        ambiguous: None,
    };
    search.run(0, &mut Vec::new(), &mut BTreeMap::new());
    if let Some(why) = search.ambiguous {
        return Err(LogError::Ambiguous(why));
    }
    search
        .first
        .ok_or_else(|| LogError::Bad("no reading gives every return a call".to_string()))
}

fn entry_tid(f: &Fragment) -> u64 {
    match f {
        Fragment::Entry { tid, .. } => *tid,
        Fragment::Return(_) => unreachable!("only entries are open"),
    }
}

fn entry_call(f: &Fragment) -> &Call {
    match f {
        Fragment::Entry { call, .. } => call,
        Fragment::Return(_) => unreachable!("only entries are open"),
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

/// A return as qemu-user (`-1 errno=2 (No such file...)`, `14`,
/// `0x00007f...`) or strace (`-1 ENOENT (No such file...)`, `0x1 (flags
/// FD_CLOEXEC)`, `?`) prints it; whatever follows the value is ignored.
fn parse_return(text: &str, bits: u32) -> Ret {
    let text = text.trim();
    if text == "?" {
        return Ret::NoReturn;
    }
    if let Some(error) = text.strip_prefix("-1 ") {
        let word = error.split_whitespace().next().unwrap_or("");
        return match word.strip_prefix("errno=") {
            Some(n) => Ret::Error {
                number: n.parse().ok(),
                name: None,
            },
            None => Ret::Error {
                number: None,
                name: Some(word.to_string()),
            },
        };
    }
    let word = text.split_whitespace().next().unwrap_or("");
    let raw = match word.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => word.parse::<i64>().ok().map(|v| v as u64),
    };
    raw.map_or(Ret::Missing, |raw| Ret::Value(signed(raw, bits)))
}

/// Splits `name(arg, arg, ...)rest` at its top-level commas; strings may
/// hold commas and brackets, structures and arrays nest.
fn split_call(text: &str) -> Option<(&str, Vec<String>, &str)> {
    let open = text.find('(')?;
    let name = &text[..open];
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let mut args = Vec::new();
    let mut depth = 0;
    let mut in_string = false;
    let mut escaped = false;
    let mut arg_start = open + 1;
    for (i, c) in text[open + 1..].char_indices() {
        let i = i + open + 1;
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '(' | '[' | '{' => depth += 1,
            ')' if depth == 0 => {
                let last = text[arg_start..i].trim();
                if !last.is_empty() || !args.is_empty() {
                    args.push(last.to_string());
                }
                return Some((name, args, &text[i + 1..]));
            }
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                args.push(text[arg_start..i].trim().to_string());
                arg_start = i + 1;
            }
            _ => {}
        }
    }
    None
}

// ---------------------------------------------------------------------------
// strace -ff on the host (x86_64)

fn strace_threads(program: &Path, dir: &Path) -> Threads {
    let cwd = dir.join("strace-cwd");
    let logs = dir.join("strace");
    std::fs::create_dir_all(&cwd).unwrap();
    std::fs::create_dir_all(&logs).unwrap();
    let out = Command::new("strace")
        .arg("-ff")
        .arg("-o")
        .arg(logs.join("trace"))
        .arg(program)
        .current_dir(&cwd)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("strace not found ({e}); run scripts/setup.sh"));
    assert!(
        out.status.success() && out.stdout == PROGRAM_OK.as_bytes(),
        "the program did not run as expected under strace: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // One file per thread, trace.<tid>. The main thread's starts with
    // strace's own execve of the program (the guest trace starts after the
    // shell's); the worker is the only other thread.
    let mut threads: Vec<(bool, Vec<Call>)> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let mut calls =
                parse_strace(&text).unwrap_or_else(|e| panic!("{}: {e}\n{text}", path.display()));
            let main = calls.first().is_some_and(|c| c.name == "execve");
            if main {
                calls.remove(0);
            }
            (main, calls)
        })
        .collect();
    // The main thread first.
    threads.sort_by_key(|(main, _)| !main);
    assert_eq!(
        threads.iter().filter(|(main, _)| *main).count(),
        1,
        "one strace file starts with execve"
    );
    threads.into_iter().map(|(_, calls)| calls).collect()
}

fn parse_strace(text: &str) -> Result<Vec<Call>, String> {
    let mut calls = Vec::new();
    for line in text.lines() {
        if line.starts_with("+++ ") || line.starts_with("--- ") {
            continue;
        }
        let (name, args, rest) =
            split_call(line).ok_or_else(|| format!("unexpected line: {line}"))?;
        let ret = rest
            .trim_start()
            .strip_prefix("= ")
            .ok_or_else(|| format!("no return in: {line}"))?;
        calls.push(Call::from_text(name, args, parse_return(ret, 64)));
    }
    Ok(calls)
}

// ---------------------------------------------------------------------------
// Strings

/// The bytes of a quoted string argument, and whether the tracer cut it
/// (`"..."...`). osmtrace and strace escape like C; qemu-user prints the
/// bytes as they are.
fn quoted(text: &str, escaped: bool) -> Option<(Vec<u8>, bool)> {
    let body = text.strip_prefix('"')?;
    let mut bytes = Vec::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((bytes, body[i + 1..].starts_with("..."))),
            '\\' if escaped => {
                let (_, e) = chars.next()?;
                match e {
                    'n' => bytes.push(b'\n'),
                    't' => bytes.push(b'\t'),
                    'r' => bytes.push(b'\r'),
                    'v' => bytes.push(0x0b),
                    'f' => bytes.push(0x0c),
                    'x' => {
                        let digits: String = chars.by_ref().take(2).map(|(_, d)| d).collect();
                        bytes.push(u8::from_str_radix(&digits, 16).ok()?);
                    }
                    '0'..='7' => {
                        let mut value = e.to_digit(8)?;
                        let mut lookahead = chars.clone();
                        for _ in 0..2 {
                            match lookahead.next() {
                                Some((_, d)) if d.is_digit(8) => {
                                    value = value * 8 + d.to_digit(8)?;
                                    chars.next();
                                }
                                _ => break,
                            }
                        }
                        bytes.push(u8::try_from(value).ok()?);
                    }
                    other => {
                        let mut buf = [0; 4];
                        bytes.extend_from_slice(other.encode_utf8(&mut buf).as_bytes());
                    }
                }
            }
            c => {
                let mut buf = [0; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    None
}

// ---------------------------------------------------------------------------
// Known differences

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// The return value and output arguments depend on the run.
    Varies,
    /// The output arguments depend on the run; the return is compared.
    VariesOut,
    /// The oracle answers the call differently; only the name is compared.
    Return,
    /// The oracle knows the number but not the name, and prints no return.
    Unknown,
    /// Only the guest run makes the call.
    GuestOnly,
    /// Only the oracle run makes the call.
    OracleOnly,
    /// osmtrace shows the return into the new thread.
    ChildReturn,
}

impl Kind {
    const ALL: [(Kind, &'static str); 7] = [
        (Kind::Varies, "varies"),
        (Kind::VariesOut, "varies-out"),
        (Kind::Return, "return"),
        (Kind::Unknown, "unknown"),
        (Kind::GuestOnly, "guest-only"),
        (Kind::OracleOnly, "oracle-only"),
        (Kind::ChildReturn, "child-return"),
    ];

    fn parse(word: &str) -> Option<Kind> {
        Kind::ALL.iter().find(|(_, w)| *w == word).map(|(k, _)| *k)
    }

    fn word(self) -> &'static str {
        Kind::ALL.iter().find(|(k, _)| *k == self).unwrap().1
    }
}

/// A call a difference applies to: a name, or `name("string")` for the
/// calls with that string argument.
#[derive(Clone, Debug)]
struct CallPattern {
    text: String,
    name: String,
    string: Option<Vec<u8>>,
}

impl CallPattern {
    fn parse(text: &str) -> Option<CallPattern> {
        let (name, string) = match text.split_once('(') {
            None => (text, None),
            Some((name, rest)) => (name, Some(quoted(rest.strip_suffix(')')?, true)?.0)),
        };
        Some(CallPattern {
            text: text.to_string(),
            name: name.to_string(),
            string,
        })
    }

    /// `escaped`: how the call's tracer prints strings.
    fn matches(&self, call: &Call, escaped: bool) -> bool {
        call.name == self.name
            && self.string.as_ref().is_none_or(|s| {
                call.args
                    .iter()
                    .any(|a| quoted(&a.text, escaped).is_some_and(|(b, _)| b == *s))
            })
    }
}

#[derive(Debug)]
struct Known {
    line: usize,
    /// None: every architecture.
    arches: Option<Vec<String>>,
    /// None: every oracle.
    oracle: Option<Oracle>,
    kind: Kind,
    calls: Vec<CallPattern>,
    reason: String,
}

struct KnownDifferences(Vec<Known>);

const KNOWN_FILE: &str = "tests/oracle-known-differences.txt";

impl KnownDifferences {
    fn load() -> KnownDifferences {
        let text = std::fs::read_to_string(root().join(KNOWN_FILE)).expect(KNOWN_FILE);
        KnownDifferences::parse(&text).unwrap_or_else(|e| panic!("{KNOWN_FILE}: {e}"))
    }

    /// `ARCHES ORACLE KIND CALLS REASON`, where lines that start with
    /// blanks continue the entry's reason; `#` starts a comment.
    fn parse(text: &str) -> Result<KnownDifferences, String> {
        let mut entries: Vec<Known> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            let content = line.split('#').next().unwrap_or("");
            if content.trim().is_empty() {
                continue;
            }
            if content.starts_with([' ', '\t']) {
                let last = entries
                    .last_mut()
                    .ok_or(format!("line {line_no}: a continuation without an entry"))?;
                if !last.reason.is_empty() {
                    last.reason.push(' ');
                }
                last.reason.push_str(content.trim());
                continue;
            }
            let mut words = content.split_whitespace();
            let mut field = |what: &str| {
                words
                    .next()
                    .ok_or(format!("line {line_no}: no {what}"))
                    .map(str::to_string)
            };
            let (arches, oracle, kind, calls) = (
                field("architectures")?,
                field("oracle")?,
                field("kind")?,
                field("calls")?,
            );
            let reason = words.collect::<Vec<_>>().join(" ");
            entries.push(Known {
                line: line_no,
                arches: (arches != "*").then(|| arches.split(',').map(str::to_string).collect()),
                oracle: match oracle.as_str() {
                    "*" => None,
                    "qemu-user" => Some(Oracle::QemuUser),
                    "strace" => Some(Oracle::Strace),
                    other => return Err(format!("line {line_no}: unknown oracle `{other}`")),
                },
                kind: Kind::parse(&kind).ok_or(format!("line {line_no}: unknown kind `{kind}`"))?,
                calls: calls
                    .split(',')
                    .map(|c| CallPattern::parse(c).ok_or(format!("line {line_no}: bad call `{c}`")))
                    .collect::<Result<_, _>>()?,
                reason,
            });
        }
        if let Some(k) = entries.iter().find(|k| k.reason.trim().is_empty()) {
            return Err(format!("line {}: no reason", k.line));
        }
        Ok(KnownDifferences(entries))
    }

    /// The entries for this architecture and oracle.
    fn applying(&self, arch: &str, oracle: Oracle) -> Vec<&Known> {
        self.0
            .iter()
            .filter(|k| {
                k.arches
                    .as_ref()
                    .is_none_or(|a| a.iter().any(|a| a == arch))
            })
            .filter(|k| k.oracle.is_none_or(|o| o == oracle))
            .collect()
    }
}

/// The first entry of `kind` for `call`.
fn find<'a>(known: &[&'a Known], kind: Kind, call: &Call, escaped: bool) -> Option<&'a Known> {
    known
        .iter()
        .copied()
        .find(|k| k.kind == kind && k.calls.iter().any(|p| p.matches(call, escaped)))
}

// ---------------------------------------------------------------------------
// The comparison

struct Comparison {
    report: String,
    failures: Vec<String>,
}

/// What an aligned pair of sequences holds at one step.
enum Step {
    Both(usize, usize),
    GuestOnly(usize),
    OracleOnly(usize),
}

fn compare(
    arch: &Arch,
    oracle: Oracle,
    known: &KnownDifferences,
    guest: &Threads,
    oracle_threads: &Threads,
) -> Comparison {
    let known = known.applying(arch.name, oracle);
    let escaped = oracle == Oracle::Strace;
    let mut failures = Vec::new();
    // Entry line -> (threads, count, example).
    let mut applied: BTreeMap<usize, (BTreeSet<String>, usize, String)> = BTreeMap::new();
    let mut apply = |k: &Known, thread: usize, example: String| {
        let entry = applied
            .entry(k.line)
            .or_insert_with(|| (BTreeSet::new(), 0, example));
        entry.0.insert(thread_name(thread));
        entry.1 += 1;
    };
    let (mut names, mut returns, mut strings, mut unreadable) = (0, 0, 0, 0);

    if guest.len() != oracle_threads.len() {
        failures.push(format!(
            "osmtrace shows {} thread(s), {} {}",
            guest.len(),
            oracle.name(),
            oracle_threads.len()
        ));
    }
    for (t, (g_all, o)) in guest.iter().zip(oracle_threads).enumerate() {
        let mut g = Vec::new();
        for call in g_all {
            if !call.child_return {
                g.push(call);
            } else if let Some(k) = find(&known, Kind::ChildReturn, call, true) {
                apply(k, t, call.show());
            } else {
                failures.push(format!(
                    "{}: osmtrace shows {} with no entry",
                    thread_name(t),
                    call.show()
                ));
            }
        }
        for step in align(&known, &g, o, escaped) {
            let (gi, oi) = match step {
                Step::Both(gi, oi) => (g[gi], &o[oi]),
                Step::GuestOnly(gi) => {
                    match find(&known, Kind::GuestOnly, g[gi], true) {
                        Some(k) => apply(k, t, g[gi].show()),
                        None => failures.push(format!(
                            "{}: only osmtrace shows {}",
                            thread_name(t),
                            g[gi].show()
                        )),
                    }
                    continue;
                }
                Step::OracleOnly(oi) => {
                    match find(&known, Kind::OracleOnly, &o[oi], escaped) {
                        Some(k) => apply(k, t, o[oi].show()),
                        None => failures.push(format!(
                            "{}: only {} shows {}",
                            thread_name(t),
                            oracle.name(),
                            o[oi].show()
                        )),
                    }
                    continue;
                }
            };
            names += 1;
            let pair = format!("osmtrace {} | {} {}", gi.show(), oracle.name(), oi.show());
            if oi.name.is_empty() {
                let k = find(&known, Kind::Unknown, gi, true).expect("aligned by the entry");
                apply(k, t, pair);
                continue;
            }
            // A string argument names the call on either side: osmtrace's
            // may be an address where the guest had not mapped it.
            let known_for =
                |kind| find(&known, kind, gi, true).or_else(|| find(&known, kind, oi, escaped));
            let skip_return = [Kind::Varies, Kind::Return].into_iter().find_map(known_for);
            match skip_return {
                Some(k) => apply(k, t, pair.clone()),
                None if same_return(&gi.ret, &oi.ret) => returns += 1,
                None => failures.push(format!("{}: different returns: {pair}", thread_name(t))),
            }
            let mut varies_out = [Kind::Varies, Kind::VariesOut]
                .into_iter()
                .find_map(known_for)
                .filter(|k| skip_return.is_none_or(|s| s.line != k.line));
            for (k, oracle_arg) in oi.args.iter().enumerate() {
                let Some((want, want_cut)) = quoted(&oracle_arg.text, escaped) else {
                    continue;
                };
                let ours = gi.args.get(k);
                if let Some(arg) = ours
                    && arg.out
                    && (varies_out.is_some() || skip_return.is_some_and(|k| k.kind == Kind::Varies))
                {
                    if let Some(entry) = varies_out.take() {
                        apply(entry, t, pair.clone());
                    }
                    continue;
                }
                // An input on a page the guest never let us read (MIPS
                // reads user memory through its TLB, which may have lost
                // the page by the exit): counted, not compared.
                if ours.is_some_and(|a| a.unreadable && !a.out) {
                    unreadable += 1;
                    continue;
                }
                match ours.and_then(|a| quoted(&a.text, true)) {
                    Some((got, got_cut)) if same_string(&got, got_cut, &want, want_cut) => {
                        strings += 1
                    }
                    _ => failures.push(format!(
                        "{}: argument {} differs: {pair}",
                        thread_name(t),
                        k + 1
                    )),
                }
            }
        }
    }

    let mut report = format!(
        "{} against {}: {} thread(s); {names} calls with the same names, {returns} returns and \
         {strings} strings identical ({unreadable} unreadable in guest memory)\n",
        arch.name,
        match oracle {
            Oracle::QemuUser => arch.qemu_user,
            Oracle::Strace => "strace -ff",
        },
        guest.len()
    );
    for k in &known {
        let what = match applied.get(&k.line) {
            Some((threads, count, example)) => format!(
                "applied {count} time(s) ({}), e.g. {example}",
                threads.iter().cloned().collect::<Vec<_>>().join(", ")
            ),
            None => "not seen in this run".to_string(),
        };
        report.push_str(&format!(
            "  {KNOWN_FILE}:{}: {} {}: {what}\n    reason: {}\n",
            k.line,
            k.kind.word(),
            k.calls
                .iter()
                .map(|c| c.text.as_str())
                .collect::<Vec<_>>()
                .join(","),
            k.reason
        ));
    }
    Comparison { report, failures }
}

fn same_return(guest: &Ret, oracle: &Ret) -> bool {
    match (guest, oracle) {
        (Ret::Value(a), Ret::Value(b)) => a == b,
        (
            Ret::Error { number, name },
            Ret::Error {
                number: oracle_number,
                name: oracle_name,
            },
        ) => {
            oracle_number.is_none_or(|n| Some(n) == *number)
                && oracle_name
                    .as_ref()
                    .is_none_or(|n| Some(n) == name.as_ref())
        }
        (Ret::NoReturn, Ret::NoReturn) => true,
        _ => false,
    }
}

/// Equal, or, where a tracer cut a string, equal as far as both show it.
fn same_string(a: &[u8], a_cut: bool, b: &[u8], b_cut: bool) -> bool {
    let n = a.len().min(b.len());
    match (a_cut, b_cut) {
        (false, false) => a == b,
        (true, false) => a.len() <= b.len() && a == &b[..n],
        (false, true) => b.len() <= a.len() && b == &a[..n],
        (true, true) => a[..n] == b[..n],
    }
}

/// Aligns the two sequences by name with the fewest unmatched calls,
/// preferring the ones the known differences allow on one side only.
fn align(known: &[&Known], g: &[&Call], o: &[Call], escaped: bool) -> Vec<Step> {
    let same = |a: &Call, b: &Call| {
        if b.name.is_empty() {
            a.nr == b.nr && find(known, Kind::Unknown, a, true).is_some()
        } else {
            a.name == b.name
        }
    };
    // A call on one side only costs 1 when listed, 1000 when not: an
    // unlisted one is reported, and the alignment still shows the rest.
    let guest_cost = |a: &Call| {
        if find(known, Kind::GuestOnly, a, true).is_some() {
            1
        } else {
            1000
        }
    };
    let oracle_cost = |b: &Call| {
        if find(known, Kind::OracleOnly, b, escaped).is_some() {
            1
        } else {
            1000
        }
    };
    let (n, m) = (g.len(), o.len());
    let mut cost = vec![vec![0u64; m + 1]; n + 1];
    for i in (0..=n).rev() {
        for j in (0..=m).rev() {
            cost[i][j] = if i == n && j == m {
                0
            } else {
                let mut best = u64::MAX;
                if i < n && j < m && same(g[i], &o[j]) {
                    best = cost[i + 1][j + 1];
                }
                if i < n {
                    best = best.min(cost[i + 1][j] + guest_cost(g[i]));
                }
                if j < m {
                    best = best.min(cost[i][j + 1] + oracle_cost(&o[j]));
                }
                best
            };
        }
    }
    let (mut i, mut j, mut steps) = (0, 0, Vec::new());
    while i < n || j < m {
        if i < n && j < m && same(g[i], &o[j]) && cost[i][j] == cost[i + 1][j + 1] {
            steps.push(Step::Both(i, j));
            i += 1;
            j += 1;
        } else if i < n && cost[i][j] == cost[i + 1][j] + guest_cost(g[i]) {
            steps.push(Step::GuestOnly(i));
            i += 1;
        } else {
            steps.push(Step::OracleOnly(j));
            j += 1;
        }
    }
    steps
}

// ---------------------------------------------------------------------------
// Tests of the parsers, without guests

#[test]
fn qemu_user_log_with_interleaved_threads() {
    // The main thread's clone returns after the new thread's first calls,
    // and the new thread's gettid returns its own id too.
    let log = "10 openat(-100,\"a, b\",O_RDONLY) = -1 errno=2 (No such file or directory)\n\
               10 Unknown syscall 435\n\
               10 clone(CLONE_VM|CLONE_THREAD,child_stack=0x1)11 set_robust_list(0x1,24) = -1 errno=38 (Function not implemented)\n\
               11 gettid() = 11\n = 11\n\
               11 exit(0)\n\
               10 brk(NULL) = 0x00000000004c3000\n\
               10 exit_group(0)";
    let threads = parse_qemu_strace(log, 64).unwrap();
    let shown: Vec<Vec<String>> = threads
        .iter()
        .map(|t| t.iter().map(Call::show).collect())
        .collect();
    assert_eq!(
        shown,
        [
            vec![
                "openat(-100, \"a, b\", O_RDONLY) = -1 errno 2",
                "syscall_435() = (no return shown)",
                "clone(CLONE_VM|CLONE_THREAD, child_stack=0x1) = 11",
                "brk(NULL) = 4993024",
                "exit_group(0) = ?",
            ],
            vec![
                "set_robust_list(0x1, 24) = -1 errno 38",
                "gettid() = 11",
                "exit(0) = ?",
            ],
        ]
    );
}

#[test]
fn qemu_user_log_read_two_ways_is_ambiguous() {
    // The main thread's rt_sigprocmask and the worker's read both return
    // before either thread enters another call: 0 and 4, in either order.
    let log = "10 rt_sigprocmask(SIG_SETMASK,[],NULL,8)11 read(4,0x1,16) = 0\n = 4\n\
               11 close(4) = 0\n\
               10 exit_group(0)";
    assert!(matches!(
        parse_qemu_strace(log, 64),
        Err(LogError::Ambiguous(_))
    ));
    // The same with both returning 0 reads one way.
    let log = log.replace(" = 4", " = 0");
    let threads = parse_qemu_strace(&log, 64).unwrap();
    assert_eq!(
        (&threads[0][0].ret, &threads[1][0].ret),
        (&Ret::Value(0), &Ret::Value(0))
    );
}

#[test]
fn strace_lines_and_strings() {
    let calls = parse_strace(
        "read(3, \"a\\\"b\\n\\0\\377\\x41\"..., 64) = 64\n\
         fcntl(10, F_GETFD)                      = 0x1 (flags FD_CLOEXEC)\n\
         openat(AT_FDCWD, \"missing\", O_RDONLY)   = -1 ENOENT (No such file or directory)\n\
         exit_group(0)                           = ?\n\
         +++ exited with 0 +++\n",
    )
    .unwrap();
    assert_eq!(
        quoted(&calls[0].args[1].text, true),
        Some((b"a\"b\n\0\xffA".to_vec(), true))
    );
    assert_eq!(calls[1].ret, Ret::Value(1));
    assert_eq!(
        calls[2].ret,
        Ret::Error {
            number: None,
            name: Some("ENOENT".to_string())
        }
    );
    assert_eq!(calls[3].ret, Ret::NoReturn);
    assert_eq!(parse_return("-1", 32), Ret::Value(-1));
    assert_eq!(parse_return("0xfffffffe", 32), Ret::Value(-2));
    assert!(same_string(b"abc", true, b"abcdef", false));
    assert!(!same_string(b"abd", true, b"abcdef", false));
}

#[test]
fn known_differences_file_parses() {
    let known = KnownDifferences::load();
    assert!(!known.0.is_empty());
    for k in &known.0 {
        for arch in k.arches.iter().flatten() {
            assert!(
                [
                    &X86_64,
                    &I386,
                    &ARM,
                    &ARM_ON_AARCH64,
                    &AARCH64,
                    &PPC64EL,
                    &RISCV64,
                    &S390X,
                    &MIPSEL,
                    &MIPS64EL
                ]
                .iter()
                .any(|a| a.name == arch),
                "{KNOWN_FILE}:{}: unknown architecture {arch}",
                k.line
            );
        }
    }
}

#[test]
fn outputs_are_checked_against_the_programs_writes() {
    let arg = |name: &str, value: u64, text: &str, out: bool| {
        let mut a = serde_json::json!({"name": name, "value": value, "text": text});
        if out {
            a["dir"] = "out".into();
        }
        a
    };
    let exit = |name: &str, args: Vec<Value>, ret: i64| {
        serde_json::json!({"event": "exit", "process": 1, "thread": 1, "name": name,
                           "args": args, "ret": ret, "error": null})
    };
    let events = |read: Value| {
        vec![
            exit("execve", vec![arg("filename", 0, "\"/oracle\"", false)], 0),
            exit(
                "openat",
                vec![
                    arg("dfd", 0, "AT_FDCWD", false),
                    arg("filename", 0, "\"data\"", false),
                    arg("flags", 0, "O_WRONLY|O_CREAT|O_TRUNC", false),
                ],
                3,
            ),
            exit(
                "write",
                vec![arg("fd", 3, "3", false), arg("buf", 0, "\"abc\"", false)],
                3,
            ),
            exit("lseek", vec![arg("fd", 3, "3", false)], 1),
            exit("read", vec![arg("fd", 3, "3", false), read], 2),
            serde_json::json!({"event": "entry", "process": 1, "thread": 1,
                               "name": "exit_group", "args": []}),
        ]
    };
    let check = |events: Vec<Value>| check_outputs(&program_events(&events, false).unwrap());
    let good = check(events(arg("buf", 0x1000, "\"bc\"", true))).unwrap();
    assert!(good.failures.is_empty(), "{:?}", good.failures);
    assert!(
        good.report.starts_with("output buffers: 1 checked"),
        "{}",
        good.report
    );
    let wrong = check(events(arg("buf", 0x1000, "\"ab\"", true))).unwrap();
    assert_eq!(wrong.failures.len(), 1, "{:?}", wrong.failures);
    let mut unreadable = arg("buf", 0x1000, "0x1000", true);
    unreadable["unreadable"] = true.into();
    let address = check(events(unreadable)).unwrap();
    assert_eq!(address.failures.len(), 2, "{:?}", address.failures);
}

/// An input osmtrace could not read (shown as its address) is not a
/// difference, and the string the oracle shows still names the call for
/// the known differences (readlink("/proc/self/exe"), whose answer
/// varies): mips64el's guest had let the page go from its TLB.
#[test]
fn unreadable_inputs_are_counted_not_compared() {
    let readlink = |path: &str, unreadable: bool, ret: i64| Call {
        name: "readlink".into(),
        nr: None,
        args: vec![
            Arg {
                text: path.into(),
                out: false,
                unreadable,
            },
            Arg {
                text: "\"/oracle\"".into(),
                out: true,
                unreadable: false,
            },
        ],
        ret: Ret::Value(ret),
        child_return: false,
    };
    let guest = vec![vec![readlink("0x120084300", true, 7)]];
    let mut oracle = readlink("\"/proc/self/exe\"", false, 48);
    oracle.args[1].out = false;
    oracle.args[1].text = "0x7f60151fe120".into();
    let known = KnownDifferences::load();
    let c = compare(
        &MIPS64EL,
        Oracle::QemuUser,
        &known,
        &guest,
        &vec![vec![oracle.clone()]],
    );
    assert!(c.failures.is_empty(), "{:?}", c.failures);
    assert!(
        c.report.contains("(1 unreadable in guest memory)"),
        "{}",
        c.report
    );
    // Read, but wrong: still a difference.
    let guest = vec![vec![readlink("\"/proc/self/cwd\"", false, 7)]];
    let c = compare(
        &MIPS64EL,
        Oracle::QemuUser,
        &known,
        &guest,
        &vec![vec![oracle]],
    );
    assert_eq!(c.failures.len(), 1, "{:?}", c.failures);
}
