//! Parity with strace on a corpus: static programs of ours, one per class
//! of calls (tests/guest/corpus-*.c: files, processes, signals, memory,
//! time, network over loopback, IPC, threads), run one after the other in
//! a real x86_64 guest traced by osmtrace, and each on the host under
//! `strace -f` (in fresh IPC and network namespaces, as the guest's are).
//! The lines between each program's markers are compared once normalised:
//! addresses, pids (numbered in order of appearance), calls split by
//! another process's line joined again and lines grouped by process, since
//! the interleaving is the scheduler's. Every line that differs must be
//! explained by tests/strace-corpus-known-differences.txt; the share of
//! identical lines is printed and written, with every difference and its
//! reason, to target/osmtrace/strace-corpus/report.txt.
//!
//! The same corpus runs on seven architectures under Debian's strace inside
//! the guest, traced by osmtrace in the same run (`*_the_guests_strace`):
//! both see the very same calls; the differences allowed are in
//! tests/strace-guest-known-differences.txt, the reports in
//! target/osmtrace/strace-corpus/ARCH/. MIPS is not among them: its guest's
//! memory reads only through the TLB, so the markers' paths often do not
//! read at all.
//!
//! Needs QEMU, gcc, the cross compilers, strace and unshare
//! (scripts/setup.sh), and root for the namespaces.

mod common;

use common::{
    AARCH64, ARM, ARM_ON_AARCH64, Guest, I386, I386_ON_X86_64, MIPS64EL, MIPSEL, PPC64EL, RISCV64,
    S390X, X86_64, build_guest_program, root,
};
use regex::Regex;
use similar::{Algorithm, DiffOp, capture_diff_slices};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const KNOWN_ON_THE_HOST: &str = "tests/strace-corpus-known-differences.txt";
const KNOWN_IN_THE_GUEST: &str = "tests/strace-guest-known-differences.txt";
const KNOWN_FOR_COMPAT: &str = "tests/strace-compat-known-differences.txt";
const KNOWN_FOR_ARM_ON_AARCH64: &str = "tests/strace-arm-on-aarch64-known-differences.txt";
const KNOWN_FOR_I386_ON_X86_64: &str = "tests/strace-i386-on-x86_64-known-differences.txt";

/// The corpus, in the order the guest runs it.
const PROGRAMS: &[&str] = &[
    "file", "process", "signal", "memory", "time", "net", "ipc", "desc", "system", "net6",
    "sigqueue", "vm", "path", "wait", "timer", "thread",
];

// Without the closing parenthesis: a marker may show unfinished, when
// another process's line comes before its return (strace's own, in the
// guest).
const BEGIN: &str = "openat(AT_FDCWD, \"/osmtrace-cmp-begin\", O_RDONLY";
const END: &str = "openat(AT_FDCWD, \"/osmtrace-cmp-end\", O_RDONLY";

/// The lines of one program from its begin marker to its end marker: the
/// process each comes from, and the rest of the line.
type Section = Vec<(String, String)>;

/// The sections of a trace, in order; `split` cuts a line into its process
/// and the rest, or says it is no line of a call. A marker is found in a
/// call's whole text, its start and its resumption joined: the path shows
/// in the resumption when it was read only at the return.
fn sections(text: &str, split: impl Fn(&str) -> Option<(String, String)>) -> Vec<Section> {
    let mut all = Vec::new();
    let mut current: Option<Section> = None;
    // Per process, its unfinished call's line.
    let mut started: Vec<(String, String)> = Vec::new();
    // The process whose end marker is unfinished: the section ends with
    // its next line, the marker's return.
    let mut ending: Option<String> = None;
    for (pid, rest) in text.lines().filter_map(&split) {
        let start = started
            .iter()
            .position(|(p, _)| *p == pid)
            .map(|i| started.swap_remove(i).1);
        let unfinished = rest.strip_suffix(" <unfinished ...>");
        let whole = match (&start, resumption(&rest)) {
            (Some(start), Some(end)) => {
                format!("{}{end}", start.trim_end_matches(" <unfinished ...>"))
            }
            _ => unfinished.unwrap_or(&rest).to_string(),
        };
        if whole.contains(BEGIN) && current.is_none() {
            let mut section = Vec::new();
            // Begun in the line that started the call.
            if let Some(start) = start.filter(|_| !rest.contains(BEGIN)) {
                section.push((pid.clone(), start));
            }
            current = Some(section);
        }
        let ended = if ending.as_ref() == Some(&pid) {
            ending = None;
            true
        } else if whole.contains(END) && unfinished.is_some() {
            ending = Some(pid.clone());
            false
        } else {
            whole.contains(END)
        };
        if unfinished.is_some() {
            started.push((pid.clone(), rest.clone()));
        }
        if let Some(section) = current.as_mut() {
            section.push((pid, rest));
        }
        if ended && let Some(section) = current.take() {
            all.push(section);
        }
    }
    all
}

/// `12345  call(...)` (strace -f -o).
fn strace_line(line: &str) -> Option<(String, String)> {
    let digits = line.find(|c: char| !c.is_ascii_digit())?;
    (digits > 0).then(|| {
        (
            line[..digits].to_string(),
            line[digits..].trim_start().to_string(),
        )
    })
}

/// `[pid    85] call(...)` (osmtrace with the guest's names).
fn osmtrace_line(line: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix("[pid")?;
    let end = rest.find("] ")?;
    Some((rest[..end].trim().to_string(), rest[end + 2..].to_string()))
}

/// Replaces every whole decimal number equal to `from` by `to`.
fn replace_number(line: &str, from: &str, to: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(i) = rest.find(from) {
        let before = rest[..i].chars().last();
        let after = rest[i + from.len()..].chars().next();
        // A number right after a structure is its size (clone3's 88), which
        // a small guest pid may equal.
        let size = rest[..i].ends_with("}, ");
        let whole = !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            && !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            && !size;
        out.push_str(&rest[..i]);
        out.push_str(if whole { to } else { from });
        rest = &rest[i + from.len()..];
    }
    out.push_str(rest);
    out
}

/// What follows `<... NAME resumed>` in the line that ends a call shown
/// unfinished, if it is one.
fn resumption(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("<... ")?;
    let (name, end) = rest.split_once(" resumed>")?;
    let named = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    named.then_some(end)
}

/// A section's lines, normalised (see the module comment), each prefixed
/// with its process's number: `P0 close(3) = 0`.
fn normalise(section: &Section) -> Vec<String> {
    let addresses = Regex::new("0x[0-9a-f]+").unwrap();
    let padding = Regex::new(r"\s+= ").unwrap();
    let mut pids: Vec<&str> = Vec::new();
    let mut lines: Vec<Vec<String>> = Vec::new();
    let mut held: Vec<Option<String>> = Vec::new();
    for (pid, rest) in section {
        let p = match pids.iter().position(|p| p == pid) {
            Some(p) => p,
            None => {
                pids.push(pid);
                lines.push(Vec::new());
                held.push(None);
                pids.len() - 1
            }
        };
        let rest = padding.replace_all(rest, " = ").into_owned();
        if let Some(start) = rest.strip_suffix(" <unfinished ...>") {
            held[p] = Some(start.to_string());
            continue;
        }
        let line = match (held[p].take(), resumption(&rest)) {
            (Some(start), Some(end)) => format!("{start}{end}"),
            (Some(start), None) => {
                lines[p].push(format!("{start} <unfinished ...>"));
                rest
            }
            (None, _) => rest,
        };
        lines[p].push(line);
    }
    for (p, start) in held.iter().enumerate() {
        if let Some(start) = start {
            lines[p].push(format!("{start} <unfinished ...>"));
        }
    }
    let mut out = Vec::new();
    for (p, process) in lines.iter().enumerate() {
        for line in process {
            let mut line = addresses.replace_all(line, "0xADDR").into_owned();
            for (q, pid) in pids.iter().enumerate() {
                line = replace_number(&line, pid, &format!("P{q}"));
            }
            out.push(format!("P{p} {line}"));
        }
    }
    out
}

/// An accepted difference: lines of one side that match `pattern`.
struct Known {
    osmtrace_side: bool,
    pattern: Regex,
    reason: String,
    used: usize,
}

/// tests/strace-corpus-known-differences.txt: entries `osmtrace: REGEX` or
/// `strace: REGEX`, followed by their reason on indented lines (entries
/// written one after the other share it).
fn known_differences(file: &str) -> Vec<Known> {
    let path = root().join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut known: Vec<Known> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with(char::is_whitespace) {
            let last = known
                .last_mut()
                .unwrap_or_else(|| panic!("line {}: a reason without an entry", n + 1));
            if !last.reason.is_empty() {
                last.reason.push(' ');
            }
            last.reason.push_str(line.trim());
            continue;
        }
        let (side, pattern) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("line {}: `osmtrace: REGEX` or `strace: REGEX`", n + 1));
        let osmtrace_side = match side {
            "osmtrace" => true,
            "strace" => false,
            other => panic!("line {}: unknown side {other:?}", n + 1),
        };
        let pattern = Regex::new(&format!("^(?:{pattern})$"))
            .unwrap_or_else(|e| panic!("line {}: {e}", n + 1));
        known.push(Known {
            osmtrace_side,
            pattern,
            reason: String::new(),
            used: 0,
        });
    }
    // Entries written one after the other share the reason that follows.
    let mut reason = String::new();
    for k in known.iter_mut().rev() {
        if k.reason.is_empty() {
            k.reason.clone_from(&reason);
        } else {
            reason.clone_from(&k.reason);
        }
        assert!(!k.reason.is_empty(), "{}: no reason given", k.pattern);
    }
    known
}

/// What one program's comparison found.
struct Compared {
    strace_lines: usize,
    identical: usize,
    /// Lines only one side has: whether osmtrace's, and the line.
    differences: Vec<(bool, String)>,
}

fn compare(ours: &[String], strace: &[String]) -> Compared {
    let mut identical = 0;
    let mut differences = Vec::new();
    for op in capture_diff_slices(Algorithm::Myers, ours, strace) {
        match op {
            DiffOp::Equal { len, .. } => identical += len,
            DiffOp::Delete {
                old_index, old_len, ..
            } => differences.extend(
                ours[old_index..old_index + old_len]
                    .iter()
                    .map(|l| (true, l.clone())),
            ),
            DiffOp::Insert {
                new_index, new_len, ..
            } => differences.extend(
                strace[new_index..new_index + new_len]
                    .iter()
                    .map(|l| (false, l.clone())),
            ),
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => {
                differences.extend(
                    ours[old_index..old_index + old_len]
                        .iter()
                        .map(|l| (true, l.clone())),
                );
                differences.extend(
                    strace[new_index..new_index + new_len]
                        .iter()
                        .map(|l| (false, l.clone())),
                );
            }
        }
    }
    Compared {
        strace_lines: strace.len(),
        identical,
        differences,
    }
}

/// Runs `program` on the host under `strace -f`, in fresh IPC and network
/// namespaces and a fresh directory; returns strace's log.
fn host_strace(program: &Path, dir: &Path) -> String {
    let cwd = dir.join(format!(
        "host-{}",
        program.file_name().unwrap().to_string_lossy()
    ));
    let _ = std::fs::remove_dir_all(&cwd);
    std::fs::create_dir_all(&cwd).unwrap();
    let log = cwd.with_extension("strace");
    let out = Command::new("unshare")
        .args(["--ipc", "--net", "strace", "-f", "-o"])
        .arg(&log)
        .arg(program)
        .current_dir(&cwd)
        .output()
        .unwrap_or_else(|e| panic!("unshare not found ({e}); run scripts/setup.sh"));
    assert!(
        out.status.success(),
        "unshare --ipc --net strace -f {} failed (root is needed):\n{}",
        program.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(&log).expect("strace log")
}

/// Traces the whole corpus in one guest boot; returns the strace text.
fn guest_trace(programs: &[PathBuf], dir: &Path) -> String {
    let out = dir.join("guest.txt");
    let _ = std::fs::remove_file(&out);
    let cmd = PROGRAMS
        .iter()
        .map(|p| format!("/corpus-{p}"))
        .collect::<Vec<_>>()
        .join("; ");
    let mut xtask = Command::new(env!("CARGO"));
    xtask.args(["xtask", "trace", "--spec", X86_64.spec, "--cmd", &cmd]);
    for program in programs {
        xtask.arg("--add").arg(program);
    }
    let result = xtask
        .arg("--out")
        .arg(&out)
        .current_dir(root())
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        result.status.success(),
        "cargo xtask trace failed:\n{stderr}"
    );
    assert!(stderr.contains("guest command exited with 0"), "{stderr}");
    std::fs::read_to_string(&out).expect("trace file")
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn x86_64_corpus_matches_host_strace() {
    let dir = root().join("target/osmtrace/strace-corpus");
    std::fs::create_dir_all(&dir).unwrap();
    let programs: Vec<PathBuf> = PROGRAMS
        .iter()
        .map(|p| build_guest_program(X86_64.compiler, &format!("corpus-{p}"), &dir))
        .collect();
    let guest = sections(&guest_trace(&programs, &dir), osmtrace_line);
    assert_eq!(
        guest.len(),
        PROGRAMS.len(),
        "a section per program in the guest's trace"
    );
    let pairs = programs
        .iter()
        .zip(guest)
        .map(|(program, ours)| {
            let mut host = sections(&host_strace(program, &dir), strace_line);
            assert_eq!(host.len(), 1, "one section in strace's log of {program:?}");
            (ours, host.remove(0))
        })
        .collect();
    let mut known = known_differences(KNOWN_ON_THE_HOST);
    let report = compare_corpus(pairs, &mut known, None, true, &dir.join("report.txt"));
    println!("{report}");
    assert_all_used(&known);
}

/// Compares each program's sections, osmtrace's and strace's, writes the
/// report to `report_file` and returns it; panics on a difference `known`
/// does not explain. Two runs `apart` (the host's and the guest's, MIPS's
/// two) differ in the seconds of the times a System V object's status
/// holds (`msg_stime=1796580284`), which are then left out (`msg_stime=T`).
fn compare_corpus(
    pairs: Vec<(Section, Section)>,
    known: &mut [Known],
    unread: Option<&str>,
    apart: bool,
    report_file: &Path,
) -> String {
    let mut report = String::new();
    let mut unexplained = Vec::new();
    let (mut total, mut same) = (0, 0);
    let dir = report_file.parent().unwrap();
    let times = Regex::new(r"\b((?:msg|sem|shm)_[a-z]time)=\d+").unwrap();
    for (name, (ours, theirs)) in PROGRAMS.iter().zip(&pairs) {
        let (mut ours, mut theirs) = (normalise(ours), normalise(theirs));
        if apart {
            for line in ours.iter_mut().chain(theirs.iter_mut()) {
                *line = times.replace_all(line, "${1}=T").into_owned();
            }
        }
        // Both sides as compared, for a look at what differs.
        std::fs::write(dir.join(format!("corpus-{name}.osmtrace")), ours.join("\n")).unwrap();
        std::fs::write(dir.join(format!("corpus-{name}.strace")), theirs.join("\n")).unwrap();
        let compared = compare(&ours, &theirs);
        total += compared.strace_lines;
        same += compared.identical;
        writeln!(
            report,
            "corpus-{name}: {} of {} strace lines identical, {} lines differ",
            compared.identical,
            compared.strace_lines,
            compared.differences.len()
        )
        .unwrap();
        // Each line's reason: a known difference's, or with `unread`, a
        // line of ours that shows an address for a value of a line of
        // strace's that no known difference explains (both are then).
        let differences = &compared.differences;
        let mut reasons: Vec<Option<String>> = differences
            .iter()
            .map(|(osmtrace_side, line)| {
                let k = known
                    .iter_mut()
                    .find(|k| k.osmtrace_side == *osmtrace_side && k.pattern.is_match(line))?;
                k.used += 1;
                Some(k.reason.clone())
            })
            .collect();
        if let Some(reason) = unread {
            for a in 0..differences.len() {
                let (ours_side, ours) = &differences[a];
                if !ours_side || reasons[a].is_some() {
                    continue;
                }
                let partner = (0..differences.len()).find(|&b| {
                    let (side, theirs) = &differences[b];
                    !side && reasons[b].is_none() && shows_addresses_for_values(ours, theirs)
                });
                if let Some(b) = partner {
                    reasons[a] = Some(reason.to_string());
                    reasons[b] = Some(reason.to_string());
                }
            }
        }
        for ((osmtrace_side, line), reason) in differences.iter().zip(reasons) {
            let side = if *osmtrace_side { "osmtrace" } else { "strace" };
            match reason {
                Some(reason) => writeln!(report, "  {side}: {line}\n    ({reason})").unwrap(),
                None => {
                    writeln!(report, "  {side}: {line}\n    (UNEXPLAINED)").unwrap();
                    unexplained.push(format!("corpus-{name}, {side}: {line}"));
                }
            }
        }
    }
    let share = same as f64 * 100.0 / total as f64;
    writeln!(
        report,
        "\ntotal: {same} of {total} strace lines identical ({share:.1}%)"
    )
    .unwrap();
    std::fs::write(report_file, &report).unwrap();
    assert!(
        unexplained.is_empty(),
        "differences that the known differences do not explain:\n{}\n\n{report}",
        unexplained.join("\n")
    );
    report
}

/// Every known difference occurred: one that no longer does is to be
/// removed.
fn assert_all_used(known: &[Known]) {
    let unused: Vec<String> = known
        .iter()
        .filter(|k| k.used == 0)
        .map(|k| k.pattern.to_string())
        .collect();
    assert!(
        unused.is_empty(),
        "known differences that no longer occur (remove them): {unused:?}"
    );
}

const GUEST_STRACE_BEGIN: &str = "OSMTRACE-STRACE-BEGIN";
const GUEST_STRACE_END: &str = "OSMTRACE-STRACE-END";

/// How osmtrace's side of the guest's comparison is traced.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Traced {
    /// The very run strace makes: the same calls, seen by both.
    UnderStrace,
    /// A second run of each program, without strace, in the same boot.
    /// On MIPS, QEMU reads guest memory only through the guest's TLB,
    /// which strace's switches between a call's stops empty of the
    /// program's pages; the programs do the same calls either way.
    Apart,
}

/// The corpus for `guest`, each program run under Debian's strace inside
/// the guest (`cargo xtask trace --with-strace`) and traced by osmtrace
/// as `traced` says: the same calls on the same kernel. osmtrace's section
/// of a program run under strace keeps the processes strace's has
/// (strace's own calls are in the trace too). Returns the report.
fn corpus_under_the_guests_strace(guest: &Guest, arch: &str, traced: Traced) -> String {
    let unread = (traced == Traced::Apart).then_some(UNREAD_ON_MIPS);
    corpus_with_addresses(guest, arch, traced, unread, &[])
}

/// [`corpus_under_the_guests_strace`], `addresses` saying why a line of
/// osmtrace's may show an address where strace shows what is there, and
/// the differences in the files `also_known` accepted too.
fn corpus_with_addresses(
    guest: &Guest,
    arch: &str,
    traced: Traced,
    addresses: Option<&str>,
    also_known: &[&str],
) -> String {
    let dir = root().join("target/osmtrace/strace-corpus").join(arch);
    std::fs::create_dir_all(&dir).unwrap();
    let programs: Vec<PathBuf> = PROGRAMS
        .iter()
        .map(|p| build_guest_program(guest.compiler, &format!("corpus-{p}"), &dir))
        .collect();
    let mut cmd = String::new();
    // The runs without strace first: their sections are the trace's first
    // (a marker strace's run leaves unreadable cannot shift them). Each
    // run has IPC and network namespaces of its own, so that both see the
    // same IPC ids, and its own scratch directories.
    let mut fresh = "";
    if traced == Traced::Apart {
        fresh = "unshare -i -n ";
        for p in PROGRAMS {
            write!(cmd, "{fresh}/corpus-{p}; ").unwrap();
        }
        cmd.push_str("rm -rf /corpus-*.d; ");
    }
    for p in PROGRAMS {
        write!(
            cmd,
            "{fresh}strace -f -o /tmp/corpus-{p}.strace /corpus-{p}; "
        )
        .unwrap();
    }
    for p in PROGRAMS {
        write!(
            cmd,
            "echo {GUEST_STRACE_BEGIN}; cat /tmp/corpus-{p}.strace; echo {GUEST_STRACE_END}; "
        )
        .unwrap();
    }
    let out = dir.join("guest.txt");
    let _ = std::fs::remove_file(&out);
    let mut xtask = Command::new(env!("CARGO"));
    // A run directory of its own: tests of one model run at once.
    xtask.args([
        "xtask",
        "trace",
        "--spec",
        guest.spec,
        "--with-strace",
        "--cmd",
        &cmd,
    ]);
    xtask.arg("--work-dir").arg(dir.join("run"));
    for program in &programs {
        xtask.arg("--add").arg(program);
    }
    let result = xtask
        .arg("--out")
        .arg(&out)
        .current_dir(root())
        .output()
        .expect("cargo runs");
    let console = String::from_utf8_lossy(&result.stderr).replace('\r', "");
    std::fs::write(dir.join("console.txt"), &console).unwrap();
    assert!(
        result.status.success() && console.contains("guest command exited with 0"),
        "cargo xtask trace failed:\n{console}"
    );
    let mut theirs = Vec::new();
    let mut log: Option<String> = None;
    for line in console.lines() {
        match (line.trim(), log.as_mut()) {
            (GUEST_STRACE_BEGIN, _) => log = Some(String::new()),
            (GUEST_STRACE_END, Some(_)) => theirs.extend(log.take()),
            (_, Some(text)) => {
                text.push_str(line);
                text.push('\n');
            }
            _ => {}
        }
    }
    assert_eq!(
        theirs.len(),
        PROGRAMS.len(),
        "a strace log per program:\n{console}"
    );
    let mut ours = sections(
        &std::fs::read_to_string(&out).expect("trace file"),
        osmtrace_line,
    );
    if traced == Traced::Apart {
        ours.truncate(PROGRAMS.len());
    }
    assert_eq!(
        ours.len(),
        PROGRAMS.len(),
        "a section per program in the trace"
    );
    let pairs = ours
        .into_iter()
        .zip(&theirs)
        .map(|(ours, log)| {
            let mut theirs = sections(log, strace_line);
            assert_eq!(theirs.len(), 1, "one section in strace's log:\n{log}");
            let theirs = theirs.remove(0);
            let pids: Vec<&String> = theirs.iter().map(|(pid, _)| pid).collect();
            let ours = ours
                .into_iter()
                .filter(|(pid, _)| traced == Traced::Apart || pids.contains(&pid))
                .collect();
            (ours, theirs)
        })
        .collect();
    let mut known = known_differences(KNOWN_IN_THE_GUEST);
    for file in also_known {
        known.extend(known_differences(file));
    }
    compare_corpus(
        pairs,
        &mut known,
        addresses,
        traced == Traced::Apart,
        &dir.join("report.txt"),
    )
}

/// Why a MIPS line may show an address where strace shows what is there.
const UNREAD_ON_MIPS: &str = "MIPS: QEMU reads a MIPS guest's memory only through the guest's \
     TLB, and this page was in it neither at the call nor at its return (a fork child's page \
     not touched since, a buffer the kernel never read): osmtrace shows the address where \
     strace shows the contents.";

/// Whether `ours` is `theirs` with some values (strings, structures,
/// arrays) shown as the address they are at, `0xADDR`, and nothing else
/// different.
fn shows_addresses_for_values(ours: &str, theirs: &str) -> bool {
    const ADDR: &[u8] = b"0xADDR";
    let (o, t) = (ours.as_bytes(), theirs.as_bytes());
    let (mut i, mut j, mut replaced) = (0, 0, false);
    while i < o.len() && j < t.len() {
        if o[i..].starts_with(ADDR) && !t[j..].starts_with(ADDR) {
            let Some(end) = value_end(t, j) else {
                return false;
            };
            (i, j, replaced) = (i + ADDR.len(), end, true);
        } else if o[i] == t[j] {
            (i, j) = (i + 1, j + 1);
        } else {
            return false;
        }
    }
    replaced && i == o.len() && j == t.len()
}

/// Where the string (with strace's `...`), structure or array that starts
/// at `start` ends.
fn value_end(text: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut k = start;
    while k < text.len() {
        match text[k] {
            b'"' => {
                k += 1;
                while *text.get(k)? != b'"' {
                    k += if text[k] == b'\\' { 2 } else { 1 };
                }
                k += 1;
                if text[k..].starts_with(b"...") {
                    k += 3;
                }
            }
            b'{' | b'[' => {
                depth += 1;
                k += 1;
            }
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                k += 1;
            }
            _ if depth == 0 => return None,
            _ => k += 1,
        }
        if depth == 0 {
            return Some(k);
        }
    }
    None
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn x86_64_corpus_matches_the_guests_strace() {
    println!(
        "{}",
        corpus_under_the_guests_strace(&X86_64, "x86_64", Traced::UnderStrace)
    );
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn i386_corpus_matches_the_guests_strace() {
    println!(
        "{}",
        corpus_under_the_guests_strace(&I386, "i386", Traced::UnderStrace)
    );
}

/// Why a 32-bit program's line on a 64-bit kernel may show an address
/// where strace shows what is there.
const COMPAT_POINTERS: &str = "A 32-bit program on a 64-bit kernel: the 64-bit model shows the \
     program's structures that hold pointers (laid out with 4-byte pointers in its compat table) \
     as their address; strace reads them.";

/// The corpus's 32-bit programs in a 64-bit guest, under its strace,
/// which decodes them as the 32-bit programs they are; `known` holds the
/// differences of that guest alone.
fn compat_corpus(guest: &Guest, arch: &str, known: &str) -> String {
    corpus_with_addresses(
        guest,
        arch,
        Traced::UnderStrace,
        Some(COMPAT_POINTERS),
        &[KNOWN_FOR_COMPAT, known],
    )
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn i386_program_on_x86_64_corpus_matches_the_guests_strace() {
    println!(
        "{}",
        compat_corpus(&I386_ON_X86_64, "i386-on-x86_64", KNOWN_FOR_I386_ON_X86_64)
    );
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn arm_program_on_aarch64_corpus_matches_the_guests_strace() {
    println!(
        "{}",
        compat_corpus(&ARM_ON_AARCH64, "arm-on-aarch64", KNOWN_FOR_ARM_ON_AARCH64)
    );
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn arm_corpus_matches_the_guests_strace() {
    println!(
        "{}",
        corpus_under_the_guests_strace(&ARM, "arm", Traced::UnderStrace)
    );
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn aarch64_corpus_matches_the_guests_strace() {
    println!(
        "{}",
        corpus_under_the_guests_strace(&AARCH64, "aarch64", Traced::UnderStrace)
    );
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn riscv64_corpus_matches_the_guests_strace() {
    println!(
        "{}",
        corpus_under_the_guests_strace(&RISCV64, "riscv64", Traced::UnderStrace)
    );
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn s390x_corpus_matches_the_guests_strace() {
    println!(
        "{}",
        corpus_under_the_guests_strace(&S390X, "s390x", Traced::UnderStrace)
    );
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn ppc64el_corpus_matches_the_guests_strace() {
    println!(
        "{}",
        corpus_under_the_guests_strace(&PPC64EL, "ppc64el", Traced::UnderStrace)
    );
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn mipsel_corpus_matches_the_guests_strace() {
    println!(
        "{}",
        corpus_under_the_guests_strace(&MIPSEL, "mipsel", Traced::Apart)
    );
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn mips64el_corpus_matches_the_guests_strace() {
    println!(
        "{}",
        corpus_under_the_guests_strace(&MIPS64EL, "mips64el", Traced::Apart)
    );
}

/// Each whole call named `name` in a trace or strace log, in order, its
/// unfinished start and resumption joined; `split` as for [`sections`].
fn whole_calls(
    text: &str,
    split: impl Fn(&str) -> Option<(String, String)>,
    name: &str,
) -> Vec<String> {
    let mut started: Vec<(String, String)> = Vec::new();
    let mut calls = Vec::new();
    let opening = format!("{name}(");
    for (pid, rest) in text.lines().filter_map(&split) {
        if let Some(end) = resumption(&rest).filter(|_| rest.starts_with(&format!("<... {name} ")))
        {
            if let Some(i) = started.iter().position(|(p, _)| *p == pid) {
                let start = started.swap_remove(i).1;
                calls.push(format!(
                    "{}{end}",
                    start.trim_end_matches(" <unfinished ...>")
                ));
            }
        } else if rest.starts_with(&opening) {
            match rest.strip_suffix(" <unfinished ...>") {
                Some(_) => started.push((pid, rest)),
                None => calls.push(rest),
            }
        }
    }
    calls
}

/// dmesg reads the kernel's log through syslog(2) (the buffer's size, then
/// the log, whole and with a smaller buffer): under Debian's strace in the
/// guest, osmtrace shows the same calls as strace in the same run
/// (strace's `10 /* SYSLOG_ACTION_SIZE_BUFFER */`, only the arguments an
/// action uses, the log read as a string of the length returned).
fn dmesg_under_the_guests_strace(guest: &Guest, arch: &str) {
    let dir = root()
        .join("target/osmtrace/strace-corpus")
        .join(arch)
        .join("dmesg");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("trace.txt");
    let _ = std::fs::remove_file(&out);
    let cmd = format!(
        "strace -f -o /tmp/dmesg.strace sh -c 'dmesg >/dev/null; dmesg -s 100 >/dev/null'; \
         echo {GUEST_STRACE_BEGIN}; cat /tmp/dmesg.strace; echo {GUEST_STRACE_END}"
    );
    let result = Command::new(env!("CARGO"))
        .args([
            "xtask",
            "trace",
            "--spec",
            guest.spec,
            "--with-strace",
            "--cmd",
            &cmd,
        ])
        .arg("--work-dir")
        .arg(dir.join("run"))
        .arg("--out")
        .arg(&out)
        .current_dir(root())
        .output()
        .expect("cargo runs");
    let console = String::from_utf8_lossy(&result.stderr).replace('\r', "");
    assert!(
        result.status.success() && console.contains("guest command exited with 0"),
        "cargo xtask trace failed:\n{console}"
    );
    // Between the markers' own lines (the command, echoed, names them too).
    let log: String = console
        .lines()
        .skip_while(|l| l.trim() != GUEST_STRACE_BEGIN)
        .skip(1)
        .take_while(|l| l.trim() != GUEST_STRACE_END)
        .map(|l| format!("{l}\n"))
        .collect();
    let theirs = whole_calls(&log, strace_line, "syslog");
    let trace = std::fs::read_to_string(&out).expect("trace file");
    let ours = whole_calls(&trace, osmtrace_line, "syslog");
    assert_eq!(theirs.len(), 3, "{log}");
    assert!(
        theirs[0].starts_with("syslog(10 /* SYSLOG_ACTION_SIZE_BUFFER */) = "),
        "{log}"
    );
    assert_eq!(ours, theirs);
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn x86_64_dmesg_matches_the_guests_strace() {
    dmesg_under_the_guests_strace(&X86_64, "x86_64");
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn arm_dmesg_matches_the_guests_strace() {
    dmesg_under_the_guests_strace(&ARM, "arm");
}

/// tests/guest/thread-exec.c under Debian's strace in the guest, traced by
/// osmtrace in the same run: an execve from a thread that is not its
/// process's leader, then one from the leader, each while other threads
/// are blocked. From its begin marker to its end marker (in the image the
/// second exec starts), osmtrace shows what strace shows: the other
/// threads' calls ending `= ?`, their `+++ exited with 0 +++`, the
/// leader's `+++ superseded by execve in pid N +++` and the exec's return
/// under the leader's pid.
fn thread_exec_under_the_guests_strace(guest: &Guest, arch: &str) {
    let dir = root()
        .join("target/osmtrace/strace-corpus")
        .join(arch)
        .join("thread-exec");
    let program = build_guest_program(guest.compiler, "thread-exec", &dir);
    let out = dir.join("trace.txt");
    let _ = std::fs::remove_file(&out);
    let cmd = format!(
        "strace -f -o /tmp/thread-exec.strace /thread-exec; \
         echo {GUEST_STRACE_BEGIN}; cat /tmp/thread-exec.strace; echo {GUEST_STRACE_END}"
    );
    let result = Command::new(env!("CARGO"))
        .args([
            "xtask",
            "trace",
            "--spec",
            guest.spec,
            "--with-strace",
            "--cmd",
            &cmd,
        ])
        .arg("--work-dir")
        .arg(dir.join("run"))
        .arg("--add")
        .arg(&program)
        .arg("--out")
        .arg(&out)
        .current_dir(root())
        .output()
        .expect("cargo runs");
    let console = String::from_utf8_lossy(&result.stderr).replace('\r', "");
    assert!(
        result.status.success() && console.contains("guest command exited with 0"),
        "cargo xtask trace failed:\n{console}"
    );
    let log: String = console
        .lines()
        .skip_while(|l| l.trim() != GUEST_STRACE_BEGIN)
        .skip(1)
        .take_while(|l| l.trim() != GUEST_STRACE_END)
        .map(|l| format!("{l}\n"))
        .collect();
    let mut theirs = sections(&log, strace_line);
    assert_eq!(theirs.len(), 1, "one section in strace's log:\n{log}");
    let theirs = theirs.remove(0);
    let trace = std::fs::read_to_string(&out).expect("trace file");
    let mut ours = sections(&trace, osmtrace_line);
    assert_eq!(ours.len(), 1, "one section in the trace:\n{trace}");
    let pids: Vec<&String> = theirs.iter().map(|(pid, _)| pid).collect();
    let ours: Section = ours
        .remove(0)
        .into_iter()
        .filter(|(pid, _)| pids.contains(&pid))
        .collect();
    let (ours, theirs) = (normalise(&ours), normalise(&theirs));
    std::fs::write(dir.join("osmtrace.txt"), ours.join("\n")).unwrap();
    std::fs::write(dir.join("strace.txt"), theirs.join("\n")).unwrap();
    for expected in [
        "P0 +++ superseded by execve in pid P2 +++",
        "P1 +++ exited with 0 +++",
        "P3 +++ exited with 0 +++",
    ] {
        assert!(theirs.iter().any(|l| l == expected), "{expected}:\n{log}");
    }
    // The differences the corpus accepts (a child's return from clone3,
    // which strace -f does not show), and no other.
    let known = known_differences(KNOWN_IN_THE_GUEST);
    let unexplained: Vec<String> = compare(&ours, &theirs)
        .differences
        .into_iter()
        .filter(|(side, line)| {
            !known
                .iter()
                .any(|k| k.osmtrace_side == *side && k.pattern.is_match(line))
        })
        .map(|(side, line)| format!("{}: {line}", if side { "osmtrace" } else { "strace" }))
        .collect();
    assert!(
        unexplained.is_empty(),
        "differences the known ones do not explain:\n{}",
        unexplained.join("\n")
    );
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn x86_64_thread_exec_matches_the_guests_strace() {
    thread_exec_under_the_guests_strace(&X86_64, "x86_64");
}

#[test]
#[ignore = "full tier: bash scripts/test.sh --full"]
fn aarch64_thread_exec_matches_the_guests_strace() {
    thread_exec_under_the_guests_strace(&AARCH64, "aarch64");
}

#[test]
#[ignore = "full tier: bash scripts/test.sh --full"]
fn arm_thread_exec_matches_the_guests_strace() {
    thread_exec_under_the_guests_strace(&ARM, "arm");
}

#[test]
#[ignore = "full tier: bash scripts/test.sh --full"]
fn i386_thread_exec_matches_the_guests_strace() {
    thread_exec_under_the_guests_strace(&I386, "i386");
}

#[test]
#[ignore = "full tier: bash scripts/test.sh --full"]
fn riscv64_thread_exec_matches_the_guests_strace() {
    thread_exec_under_the_guests_strace(&RISCV64, "riscv64");
}

#[test]
#[ignore = "full tier: bash scripts/test.sh --full"]
fn s390x_thread_exec_matches_the_guests_strace() {
    thread_exec_under_the_guests_strace(&S390X, "s390x");
}

#[test]
#[ignore = "full tier: bash scripts/test.sh --full"]
fn ppc64el_thread_exec_matches_the_guests_strace() {
    thread_exec_under_the_guests_strace(&PPC64EL, "ppc64el");
}

#[test]
fn an_address_for_a_value_is_told_from_other_differences() {
    let same = |ours, theirs| shows_addresses_for_values(ours, theirs);
    assert!(same(
        "P1 write(4, 0xADDR, 14) = 14",
        r#"P1 write(4, "from \"the\" child"..., 14) = 14"#
    ));
    assert!(same(
        "P0 writev(3, [{iov_base=0xADDR, iov_len=4}], 1) = 4",
        r#"P0 writev(3, [{iov_base="one ", iov_len=4}], 1) = 4"#
    ));
    assert!(same(
        "P0 fstat(3, 0xADDR) = 0",
        "P0 fstat(3, {st_mode=S_IFREG|0644, st_size=[1, 2], ...}) = 0"
    ));
    // Nothing replaced, another number, or an address for a number.
    assert!(!same("P0 close(3) = 0", "P0 close(3) = 0"));
    assert!(!same(
        "P1 write(4, 0xADDR, 14) = 13",
        r#"P1 write(4, "x", 14) = 14"#
    ));
    assert!(!same("P0 close(0xADDR) = 0", "P0 close(3) = 0"));
}

#[test]
fn normalisation_joins_calls_and_numbers_processes() {
    let section: Section = [
        ("40", "clone(child_stack=NULL, flags=SIGCHLD) = 41"),
        ("40", "wait4(41,  <unfinished ...>"),
        ("41", "write(1, \"x\", 1)    = 1"),
        (
            "40",
            "<... wait4 resumed>[{WIFEXITED(s) && WEXITSTATUS(s) == 0}], 0, NULL) = 41",
        ),
        ("40", "mmap(NULL, 4096) = 0x7f00"),
        ("40", "clone3({flags=CLONE_VFORK}, 41) = 41"),
    ]
    .iter()
    .map(|(p, l)| (p.to_string(), l.to_string()))
    .collect();
    assert_eq!(
        normalise(&section),
        [
            "P0 clone(child_stack=NULL, flags=SIGCHLD) = P1",
            "P0 wait4(P1, [{WIFEXITED(s) && WEXITSTATUS(s) == 0}], 0, NULL) = P1",
            "P0 mmap(NULL, 4096) = 0xADDR",
            "P0 clone3({flags=CLONE_VFORK}, 41) = P1",
            "P1 write(1, \"x\", 1) = 1",
        ]
    );
    // Markers whose path shows only in the call's resumption, with
    // another process's lines between.
    let trace = "[pid    7] openat(AT_FDCWD,  <unfinished ...>\n\
                 [pid    6] wait4(-1,  <unfinished ...>\n\
                 [pid    7] <... openat resumed>\"/osmtrace-cmp-begin\", O_RDONLY) = -1 ENOENT\n\
                 [pid    7] close(3) = 0\n\
                 [pid    7] openat(AT_FDCWD, \"/osmtrace-cmp-end\", O_RDONLY <unfinished ...>\n\
                 [pid    6] <... wait4 resumed>) = 7\n\
                 [pid    7] <... openat resumed>) = -1 ENOENT\n\
                 [pid    7] close(4) = 0\n";
    let found = sections(trace, osmtrace_line);
    assert_eq!(found.len(), 1);
    let lines: Vec<&str> = found[0].iter().map(|(_, l)| l.as_str()).collect();
    assert_eq!(lines.first(), Some(&"openat(AT_FDCWD,  <unfinished ...>"));
    assert_eq!(lines.last(), Some(&"<... openat resumed>) = -1 ENOENT"));
    assert_eq!(lines.len(), 6);
    assert_eq!(
        strace_line("123  close(3) = 0"),
        Some(("123".into(), "close(3) = 0".into()))
    );
    assert_eq!(
        osmtrace_line("[pid    85] close(3) = 0"),
        Some(("85".into(), "close(3) = 0".into()))
    );
    let c = compare(
        &["a".into(), "b".into(), "c".into()],
        &["a".into(), "x".into(), "c".into()],
    );
    assert_eq!((c.identical, c.strace_lines), (2, 3));
    assert_eq!(c.differences, [(true, "b".into()), (false, "x".into())]);
}

#[test]
fn known_differences_file_parses() {
    assert!(!known_differences(KNOWN_ON_THE_HOST).is_empty());
    assert!(!known_differences(KNOWN_IN_THE_GUEST).is_empty());
}
