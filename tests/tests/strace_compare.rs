//! End to end against strace: a static program of our own
//! (tests/guest/strace-cmp.c) is traced by osmtrace in a real x86_64
//! Debian guest and by the host's `strace -f`; the calls between its two
//! markers must print the same, line by line, once addresses and the
//! program's pid are normalised. The same run, recorded as jsonl, must
//! convert (`cargo xtask trace-view`) to the same strace text, to a summary
//! table, and to a Perfetto timeline whose event structure is checked.
//!
//! Needs QEMU, gcc and strace (scripts/setup.sh) and, on the first run,
//! Debian's archive for the guest kernel (cached in target/).

mod common;

use common::{X86_64, build_guest_program, cargo_xtask, root, trace_program};
use serde_json::Value;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// One guest at a time: each boot uses both cores.
static SERIAL: Mutex<()> = Mutex::new(());

const BEGIN: &str = "openat(AT_FDCWD, \"/osmtrace-cmp-begin\", O_RDONLY)";
const END: &str = "openat(AT_FDCWD, \"/osmtrace-cmp-end\", O_RDONLY)";

fn work_dir(name: &str) -> PathBuf {
    let dir = root().join("target/osmtrace/strace-compare").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The host's strace of the program, run in a fresh directory (the program
/// works in a directory it creates there).
fn host_strace(program: &Path, dir: &Path) -> String {
    let cwd = dir.join("cwd");
    std::fs::create_dir_all(&cwd).unwrap();
    let log = dir.join("host-strace.txt");
    let out = Command::new("strace")
        .arg("-f")
        .arg("-o")
        .arg(&log)
        .arg(program)
        .current_dir(&cwd)
        .output()
        .unwrap_or_else(|e| panic!("strace not found ({e}); run scripts/setup.sh"));
    assert!(
        out.status.success(),
        "strace failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(&log).expect("strace log")
}

/// Traces the program in the guest; returns the trace and QEMU's stderr
/// lines from osmtrace.
fn guest_trace(program: &Path, dir: &Path, plugin_args: &str, out_name: &str) -> (String, String) {
    guest_trace_smp(program, dir, plugin_args, out_name, 1)
}

fn guest_trace_smp(
    program: &Path,
    dir: &Path,
    plugin_args: &str,
    out_name: &str,
    smp: u32,
) -> (String, String) {
    let out = dir.join(out_name);
    let result = trace_program(X86_64.spec, program, plugin_args, smp, &out, &[]);
    let stderr = String::from_utf8_lossy(&result.stderr).into_owned();
    assert!(
        result.status.success(),
        "cargo xtask trace failed:\n{stderr}"
    );
    assert!(stderr.contains("guest command exited with 0"), "{stderr}");
    (std::fs::read_to_string(&out).expect("trace file"), stderr)
}

fn trace_view(file: &Path, args: &[&str]) -> String {
    let result = cargo_xtask(
        [OsStr::new("trace-view"), file.as_os_str()]
            .into_iter()
            .chain(args.iter().map(OsStr::new)),
    );
    String::from_utf8(result.stdout).expect("UTF-8 view")
}

/// Replaces every `0x...` number by `0xADDR`.
fn normalise_addresses(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find("0x") {
        out.push_str(&rest[..i]);
        let digits = rest[i + 2..]
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(rest.len() - i - 2);
        if digits == 0 {
            out.push_str("0x");
        } else {
            out.push_str("0xADDR");
        }
        rest = &rest[i + 2 + digits..];
    }
    out.push_str(rest);
    out
}

/// Replaces `pid` as a whole decimal number by `PID`.
fn normalise_pid(line: &str, pid: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(i) = rest.find(pid) {
        let before = rest[..i].chars().last();
        let after = rest[i + pid.len()..].chars().next();
        let whole = !before.is_some_and(|c| c.is_ascii_alphanumeric())
            && !after.is_some_and(|c| c.is_ascii_alphanumeric());
        out.push_str(&rest[..i]);
        out.push_str(if whole { "PID" } else { pid });
        rest = &rest[i + pid.len()..];
    }
    out.push_str(rest);
    out
}

/// strace pads the ` = ` of short lines to a column; osmtrace does not.
fn collapse_padding(line: &str) -> String {
    let mut out = line.to_string();
    while let Some(i) = out.find("  = ") {
        out.replace_range(i..i + 2, " ");
    }
    out
}

/// The program's calls from the begin marker to the end marker, without
/// line prefixes (`1234 `, `[0x4d5000] `), normalised.
fn program_calls(lines: &[&str], prefix_of: impl Fn(&str) -> usize) -> Vec<String> {
    let begin = lines
        .iter()
        .position(|l| l.contains(BEGIN))
        .expect("the begin marker is traced");
    let prefix = &lines[begin][..prefix_of(lines[begin])];
    let mut calls = Vec::new();
    for line in &lines[begin..] {
        if !line.starts_with(prefix) {
            continue;
        }
        let call = &line[prefix.len()..];
        calls.push(call.to_string());
        if call.contains(END) {
            let pid = calls
                .iter()
                .find_map(|c| c.strip_prefix("getpid() = "))
                .or_else(|| {
                    calls
                        .iter()
                        .find(|c| c.starts_with("getpid()"))
                        .and_then(|c| c.rsplit("= ").next())
                })
                .map(|p| p.trim().to_string())
                .expect("getpid is traced");
            return calls
                .iter()
                .map(|c| collapse_padding(&normalise_pid(&normalise_addresses(c), &pid)))
                .collect();
        }
    }
    panic!("the end marker is not traced after the begin marker");
}

/// Host strace lines start with the pid and spaces.
fn strace_prefix(line: &str) -> usize {
    let digits = line.find(|c: char| !c.is_ascii_digit()).unwrap_or(0);
    digits + line[digits..].len() - line[digits..].trim_start().len()
}

/// osmtrace lines start with `[thread] `.
fn osmtrace_prefix(line: &str) -> usize {
    line.find("] ").map_or(0, |i| i + 2)
}

fn assert_same_calls(what: &str, ours: &[String], strace: &[String]) {
    let mut diff = String::new();
    for i in 0..ours.len().max(strace.len()) {
        let (a, b) = (ours.get(i), strace.get(i));
        if a != b {
            diff.push_str(&format!(
                "line {}:\n  osmtrace: {}\n  strace:   {}\n",
                i + 1,
                a.map_or("(none)", String::as_str),
                b.map_or("(none)", String::as_str)
            ));
        }
    }
    assert!(
        diff.is_empty(),
        "{what}: the traces differ\n{diff}\nosmtrace:\n{}\nstrace:\n{}",
        ours.join("\n"),
        strace.join("\n")
    );
}

fn host_calls(program: &Path, dir: &Path) -> Vec<String> {
    let host = host_strace(program, dir);
    let lines: Vec<&str> = host.lines().collect();
    let calls = program_calls(&lines, strace_prefix);
    // The program makes 48 calls from marker to marker.
    assert_eq!(calls.len(), 48, "{}", calls.join("\n"));
    calls
}

/// Traces the program on the host with strace and in the guest with
/// `plugin_args` on `smp` vCPUs, checks the program's lines are the same,
/// and returns the guest's trace.
fn traced_like_host(name: &str, plugin_args: &str, smp: u32) -> String {
    let dir = work_dir(name);
    let program = build_guest_program(X86_64.compiler, "strace-cmp", &dir);
    let expected = host_calls(&program, &dir);
    let (trace, _) = guest_trace_smp(&program, &dir, plugin_args, "trace.txt", smp);
    let lines: Vec<&str> = trace.lines().collect();
    let ours = program_calls(&lines, osmtrace_prefix);
    assert_same_calls(
        &format!("plugin, {plugin_args}, -smp {smp}"),
        &ours,
        &expected,
    );
    trace
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn x86_64_strace_format_matches_host_strace() {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let trace = traced_like_host("strace", "format=strace,summary=on", 1);
    // summary=on: the strace -c table follows the trace.
    let table = trace
        .find("% time     seconds  usecs/call     calls    errors syscall\n")
        .map(|i| &trace[i..])
        .expect("the summary follows the trace");
    let openat = table
        .lines()
        .find(|l| l.ends_with(" openat"))
        .expect("an openat row");
    let columns: Vec<&str> = openat.split_whitespace().collect();
    let calls: u64 = columns[3].parse().unwrap();
    let errors: u64 = columns[4].parse().unwrap();
    assert!(calls >= 4 && errors >= 2, "{openat}");
    assert!(table.contains(" total\n"), "{table}");
    assert!(table.contains("unfinished calls: "), "{table}");
}

/// With two vCPUs the plugin queues each vCPU's events and puts them in
/// order a batch at a time: the program's lines are still strace's.
#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn x86_64_strace_format_matches_host_strace_on_two_vcpus() {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    traced_like_host("strace-smp2", "format=strace", 2);
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn x86_64_recording_converts_to_strace_summary_and_timeline() {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = work_dir("recording");
    let program = build_guest_program(X86_64.compiler, "strace-cmp", &dir);
    let expected = host_calls(&program, &dir);
    let (recording, _) = guest_trace(
        &program,
        &dir,
        "format=jsonl,timestamps=wall",
        "trace.jsonl",
    );
    let events = common::jsonl_calls(&recording);
    let begin = events
        .iter()
        .find(|e| e["name"] == "openat" && e["args"][1]["text"] == "\"/osmtrace-cmp-begin\"")
        .expect("the begin marker is recorded");
    assert!(
        begin["ts"].as_u64().is_some(),
        "timestamps=wall records times"
    );
    let identity = format!(
        "thread={:#x},process={:#x}",
        begin["thread"].as_u64().unwrap(),
        begin["process"].as_u64().unwrap()
    );
    let file = dir.join("trace.jsonl");

    // The recording, viewed as strace text, is the plugin's strace text.
    let text = trace_view(&file, &["--filter", &identity]);
    let lines: Vec<&str> = text.lines().collect();
    assert_same_calls(
        "trace-view --format strace",
        &program_calls(&lines, osmtrace_prefix),
        &expected,
    );

    // The summary of the program's file calls.
    let summary = trace_view(
        &file,
        &[
            "--format",
            "summary",
            "--filter",
            &format!("{identity},trace=%file"),
        ],
    );
    let row = |name: &str| {
        summary
            .lines()
            .find(|l| l.ends_with(&format!(" {name}")))
            .unwrap_or_else(|| panic!("no {name} row in\n{summary}"))
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(row("newfstatat")[3..], ["2", "1", "newfstatat"]);
    assert_eq!(row("mkdir")[3..], ["1", "mkdir"]);
    assert!(
        !summary.contains(" write\n"),
        "%file has no write:\n{summary}"
    );

    // The timeline: a JSON array of metadata and complete events.
    let timeline_file = dir.join("timeline.json");
    trace_view(
        &file,
        &[
            "--format",
            "perfetto",
            "--out",
            timeline_file.to_str().unwrap(),
        ],
    );
    let timeline: Value =
        serde_json::from_str(&std::fs::read_to_string(&timeline_file).unwrap()).expect("JSON");
    check_timeline(&timeline, begin);
}

/// `jsonl=lean` records the same trace with each call's classes and
/// arguments' names, types and directions declared once, in its first
/// line: viewed as strace text it is still the host's strace.
#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn x86_64_lean_recording_views_as_host_strace() {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = work_dir("recording-lean");
    let program = build_guest_program(X86_64.compiler, "strace-cmp", &dir);
    let expected = host_calls(&program, &dir);
    let (recording, _) = guest_trace(&program, &dir, "format=jsonl,jsonl=lean", "trace.jsonl");
    let events = common::jsonl_calls(&recording);
    assert_eq!(events[0]["event"], "declarations");
    let begin = events
        .iter()
        .find(|e| e["name"] == "openat" && e["args"][1][1] == "\"/osmtrace-cmp-begin\"")
        .expect("the begin marker is recorded, its path as [value, text]");
    assert!(begin["decl"].as_u64().is_some() && begin.get("classes").is_none());
    let identity = format!(
        "thread={:#x},process={:#x}",
        begin["thread"].as_u64().unwrap(),
        begin["process"].as_u64().unwrap()
    );
    let text = trace_view(&dir.join("trace.jsonl"), &["--filter", &identity]);
    let lines: Vec<&str> = text.lines().collect();
    assert_same_calls(
        "trace-view of a lean recording",
        &program_calls(&lines, osmtrace_prefix),
        &expected,
    );
}

/// A slice's start and duration in µs, and its name.
type Slice = (f64, f64, String);

/// The structure Perfetto and chrome://tracing read: metadata naming every
/// process and thread (again when an exec renames it), one complete slice
/// per call on its thread's track, slices of one track in time order
/// without overlap; tracks are the guest's own pids and tids.
fn check_timeline(timeline: &Value, begin: &Value) {
    let events = timeline.as_array().expect("the JSON array format");
    let mut process_names = std::collections::HashMap::new();
    let mut thread_names = std::collections::HashMap::new();
    let mut slices: std::collections::HashMap<(u64, u64), Vec<Slice>> =
        std::collections::HashMap::new();
    for e in events {
        match e["ph"].as_str() {
            Some("M") => {
                let name = e["args"]["name"].as_str().expect("a name").to_string();
                let pid = e["pid"].as_u64().expect("pid");
                match e["name"].as_str() {
                    Some("process_name") => {
                        assert_ne!(process_names.insert(pid, name.clone()), Some(name), "{e}");
                    }
                    Some("thread_name") => {
                        let tid = e["tid"].as_u64().expect("tid");
                        assert_ne!(
                            thread_names.insert((pid, tid), name.clone()),
                            Some(name),
                            "{e}"
                        );
                    }
                    other => panic!("unexpected metadata {other:?}"),
                }
            }
            Some("X") => {
                let key = (
                    e["pid"].as_u64().expect("pid"),
                    e["tid"].as_u64().expect("tid"),
                );
                assert!(
                    thread_names.contains_key(&key),
                    "a track without a name: {e}"
                );
                assert!(
                    process_names.contains_key(&key.0),
                    "a process without a name: {e}"
                );
                assert_eq!(e["cat"], "syscall");
                assert!(
                    e["args"]["nr"].as_u64().is_some() && e["args"]["return"].is_string(),
                    "{e}"
                );
                let ts = e["ts"].as_f64().expect("ts");
                let dur = e["dur"].as_f64().expect("dur");
                assert!(ts >= 0.0 && dur >= 0.0, "{e}");
                slices.entry(key).or_default().push((
                    ts,
                    dur,
                    e["name"].as_str().unwrap().to_string(),
                ));
            }
            other => panic!("unexpected event phase {other:?} in {e}"),
        }
    }
    assert!(
        process_names.len() >= 2,
        "the guest's shell and the program"
    );
    // The program's track, the guest's pid and tid, named after the
    // program, holds its calls in order.
    let key = (
        begin["pid"].as_u64().expect("the guest's pid"),
        begin["tid"].as_u64().expect("the guest's tid"),
    );
    let comm = begin["comm"].as_str().expect("the command name");
    assert_eq!(process_names[&key.0], format!("{comm} ({})", key.0));
    assert_eq!(thread_names[&key], format!("{comm} ({})", key.1));
    let track = &slices[&key];
    let names: Vec<&str> = track.iter().map(|(_, _, n)| n.as_str()).collect();
    for call in [
        "close_range",
        "writev",
        "readv",
        "fstat",
        "pipe2",
        "connect",
        "rmdir",
    ] {
        assert!(names.contains(&call), "{call} missing from {names:?}");
    }
    let mut sorted = track.clone();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    for pair in sorted.windows(2) {
        assert!(
            pair[0].0 + pair[0].1 <= pair[1].0 + 1e-3,
            "overlapping slices on one thread: {pair:?}"
        );
    }
    let nanosleep = events
        .iter()
        .find(|e| e["name"] == "nanosleep" && e["pid"] == key.0)
        .expect("nanosleep slice");
    assert_eq!(
        nanosleep["args"]["args"]["rqtp"],
        "{tv_sec=0, tv_nsec=1000000}"
    );
    // It slept 1 ms.
    assert!(nanosleep["dur"].as_f64().unwrap() >= 1000.0, "{nanosleep}");
}

#[test]
fn normalisation() {
    assert_eq!(
        normalise_addresses("mmap(NULL, 8192) = 0x7f00ab, 0x, x0x1"),
        "mmap(NULL, 8192) = 0xADDR, 0x, x0xADDR"
    );
    assert_eq!(
        normalise_pid("kill(4242, 0) = 0 14242", "4242"),
        "kill(PID, 0) = 0 14242"
    );
    assert_eq!(collapse_padding("close(3)      = 0"), "close(3) = 0");
    assert_eq!(strace_prefix("21458 close(3)"), 6);
    assert_eq!(osmtrace_prefix("[0x4d5000] close(3)"), 11);
}
