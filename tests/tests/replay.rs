//! Record once, trace many times: `cargo xtask record` runs the e2e program
//! (tests/guest/e2e.c) once under QEMU's record mode; two replays with
//! different plugins and filters must agree on every call they both show,
//! to the virtual clock, and show the program's own calls. Also the errors
//! a recording that cannot be replayed gets, before anything is built.
//!
//! Needs QEMU ≥ 9.2 and the cross compilers (`scripts/setup.sh`). Slow:
//! recording and replaying run under icount (about 20 s and 45 s per run
//! here on x86_64).

mod common;

use common::{Guest, build_guest_program, is_exit, name, read_jsonl, root, trace_program};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

/// One guest at a time: each run uses both cores.
static SERIAL: Mutex<()> = Mutex::new(());

fn xtask(args: &[&str], paths: &[&Path]) -> Output {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.arg("xtask").args(args);
    for path in paths {
        cmd.arg(path);
    }
    cmd.current_dir(root()).output().expect("cargo runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Records `/e2e` in `dir/recording` (made anew).
fn record(guest: &Guest, dir: &Path) -> PathBuf {
    let program = build_guest_program(guest.compiler, "e2e", dir);
    let recording = dir.join("recording");
    let _ = std::fs::remove_dir_all(&recording);
    let out = Command::new(env!("CARGO"))
        .args(["xtask", "record", "--spec", guest.spec, "--cmd", "/e2e"])
        .arg("--add")
        .arg(&program)
        .arg("--out")
        .arg(&recording)
        .current_dir(root())
        .output()
        .expect("cargo runs");
    let err = stderr(&out);
    assert!(out.status.success(), "cargo xtask record failed:\n{err}");
    assert!(err.contains("guest command exited with 7"), "{err}");
    recording
}

fn replay(
    guest: &Guest,
    recording: &Path,
    plugin_args: &str,
    generic: bool,
    out: &Path,
) -> Vec<Value> {
    replay_to(guest, recording, plugin_args, generic, out);
    read_jsonl(out)
}

/// Replays `recording` with the plugin's `plugin_args`, the trace in `out`.
fn replay_to(guest: &Guest, recording: &Path, plugin_args: &str, generic: bool, out: &Path) {
    let _ = std::fs::remove_file(out);
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args([
        "xtask",
        "trace",
        "--spec",
        guest.spec,
        "--plugin-args",
        plugin_args,
    ])
    .arg("--replay")
    .arg(recording)
    .arg("--out")
    .arg(out);
    if generic {
        cmd.arg("--generic");
    }
    let result = cmd.current_dir(root()).output().expect("cargo runs");
    let err = stderr(&result);
    assert!(result.status.success(), "replay failed:\n{err}");
    // The console is replayed too: the program's output and exit status.
    assert!(err.contains("osmtrace-e2e-write"), "{err}");
    assert!(err.contains("guest command exited with 7"), "{err}");
}

/// `cargo xtask trace-view` of `file` with `args`.
fn view(file: &Path, args: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["xtask", "trace-view"]).arg(file).args(args);
    let out = cmd.current_dir(root()).output().expect("cargo runs");
    assert!(out.status.success(), "trace-view failed:\n{}", stderr(&out));
    String::from_utf8(out.stdout).expect("the view is text")
}

/// The same replay recorded raw and decoded by trace-view is, byte for
/// byte, what the plugin wrote directly as jsonl (decoded on the vCPU)
/// and as strace text (decoded by the log's writer, `decode=writer`).
fn raw_decodes_as_direct(guest: &Guest, recording: &Path, dir: &Path) {
    let raw = dir.join("all.raw");
    replay_to(
        guest,
        recording,
        "format=raw,timestamps=virtual",
        false,
        &raw,
    );
    let strace = dir.join("all.txt");
    replay_to(
        guest,
        recording,
        "format=strace,timestamps=virtual,decode=writer",
        false,
        &strace,
    );
    let direct = std::fs::read_to_string(&strace).unwrap();
    assert!(direct.lines().count() > 400, "{direct}");
    let decoded = view(&raw, &["--format", "strace"]);
    assert!(
        decoded == direct,
        "raw decoded as strace differs:\n{}",
        first_difference(&decoded, &direct)
    );
    // jsonl ends with the health figures, which are the run's, not a call's.
    let direct = std::fs::read_to_string(dir.join("all.jsonl")).unwrap();
    let (direct, _) = direct.rsplit_once("{\"event\":\"summary\"").unwrap();
    let decoded = view(&raw, &["--format", "jsonl"]);
    assert!(
        decoded == direct,
        "raw decoded as jsonl differs:\n{}",
        first_difference(&decoded, direct)
    );
}

fn first_difference(a: &str, b: &str) -> String {
    let at = a.lines().zip(b.lines()).position(|(x, y)| x != y);
    match at {
        Some(i) => format!(
            "line {}:\n{}\n{}",
            i + 1,
            a.lines().nth(i).unwrap(),
            b.lines().nth(i).unwrap()
        ),
        None => format!("{} lines against {}", a.lines().count(), b.lines().count()),
    }
}

fn has_class(e: &Value, classes: &[&str]) -> bool {
    e["classes"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| classes.contains(&c.as_str().unwrap_or("")))
    })
}

fn ts(e: &Value) -> u64 {
    e["ts"]
        .as_u64()
        .unwrap_or_else(|| panic!("no virtual timestamp: {e}"))
}

/// Per thread of the e2e program, in order of their first call, the names
/// of the calls that returned (or never return), without the polling
/// rounds whose number depends on timing (nanosleep, and the openat of
/// /proc/self/task/... with the read and close of its descriptor) and
/// pthread_join's futex, which depends on whether the thread was done.
fn program_calls(events: &[Value]) -> Vec<Vec<String>> {
    let mut threads: Vec<(u64, Vec<String>)> = Vec::new();
    let mut polled = None;
    for e in events.iter().filter(|e| e["comm"] == "e2e" && is_exit(e)) {
        let n = name(e);
        let fd = e["args"][0]["value"].as_u64();
        if n == "nanosleep" || n == "futex" {
            continue;
        }
        if n == "openat"
            && e["args"][1]["text"]
                .as_str()
                .is_some_and(|p| p.starts_with("\"/proc/self/task/"))
        {
            polled = e["ret"].as_u64();
            continue;
        }
        if (n == "read" || n == "close") && polled.is_some() && fd == polled {
            if n == "close" {
                polled = None;
            }
            continue;
        }
        let tid = e["tid"].as_u64().unwrap();
        match threads.iter_mut().find(|(t, _)| *t == tid) {
            Some((_, calls)) => calls.push(n.to_string()),
            None => threads.push((tid, vec![n.to_string()])),
        }
    }
    threads.into_iter().map(|(_, calls)| calls).collect()
}

fn record_and_replay(guest: &Guest, arch: &str) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = root().join("target/osmtrace/replay").join(arch);
    let recording = record(guest, &dir);

    // Errors met before anything is built or booted.
    let other = if arch == "arm" {
        "specs/linux-x86_64.osm"
    } else {
        "specs/linux-arm.osm"
    };
    let out = xtask(&["trace", "--spec", other, "--replay"], &[&recording]);
    let err = stderr(&out);
    assert!(
        !out.status.success() && err.contains(&format!("the recording is of a {arch} guest")),
        "{err}"
    );
    let broken = dir.join("broken");
    let _ = std::fs::remove_dir_all(&broken);
    std::fs::create_dir_all(&broken).unwrap();
    let manifest = std::fs::read_to_string(recording.join("recording.json")).unwrap();
    let mut m: Value = serde_json::from_str(&manifest).unwrap();
    m["qemu_version"] = "QEMU emulator version 9.2.0".into();
    std::fs::write(broken.join("recording.json"), m.to_string()).unwrap();
    let kernel = m["kernel"].as_str().unwrap();
    for file in std::fs::read_dir(&recording).unwrap() {
        let name = file.unwrap().file_name();
        if name != kernel && name != "recording.json" {
            std::fs::hard_link(recording.join(&name), broken.join(&name)).unwrap();
        }
    }
    let out = xtask(&["trace", "--spec", guest.spec, "--replay"], &[&broken]);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("incomplete recording: {kernel}")),
        "{err}"
    );
    std::fs::hard_link(recording.join(kernel), broken.join(kernel)).unwrap();
    let out = xtask(&["trace", "--spec", guest.spec, "--replay"], &[&broken]);
    let err = stderr(&out);
    assert!(
        !out.status.success() && err.contains("recorded with QEMU emulator version 9.2.0"),
        "{err}"
    );

    // Compiled plugin, every call; generic plugin, files and descriptors.
    let all = replay(
        guest,
        &recording,
        "format=jsonl,timestamps=virtual",
        false,
        &dir.join("all.jsonl"),
    );
    let files = replay(
        guest,
        &recording,
        "format=jsonl,timestamps=virtual,trace=%file:%desc",
        true,
        &dir.join("files.jsonl"),
    );
    // A process's end shows whatever calls are selected, as strace's, and
    // so does every signal: both models say `entered`, so the exit of a
    // call not traced, which ends no call, is seen entering the handler.
    let selected = |i: usize| {
        let e = &all[i];
        e["event"] == "exited" || e["event"] == "signal" || has_class(e, &["file", "desc"])
    };
    let overlap: Vec<&Value> = (0..all.len())
        .filter(|&i| selected(i))
        .map(|i| &all[i])
        .collect();
    let files: Vec<&Value> = files.iter().collect();
    assert!(files.len() > 100, "{} events", files.len());
    if overlap != files {
        let at = overlap
            .iter()
            .zip(&files)
            .position(|(a, b)| a != b)
            .unwrap_or(overlap.len().min(files.len()));
        panic!(
            "the replays differ at event {at} of {} and {}:\n{:?}\n{:?}",
            overlap.len(),
            files.len(),
            overlap.get(at),
            files.get(at)
        );
    }

    // The program's own calls, in the replay.
    let e2e: Vec<&Value> = all.iter().filter(|e| e["comm"] == "e2e").collect();
    let exits = |n: &str| {
        e2e.iter()
            .filter(|e| is_exit(e) && name(e) == n)
            .collect::<Vec<_>>()
    };
    assert!(
        exits("openat")
            .iter()
            .any(|e| e["args"][1]["text"] == "\"/osmtrace-e2e-missing\"" && e["error"] == "ENOENT"),
        "no failed openat of /osmtrace-e2e-missing"
    );
    let writes: Vec<&str> = exits("write")
        .iter()
        .map(|e| e["args"][1]["text"].as_str().unwrap_or(""))
        .collect();
    assert!(writes.contains(&"\"osmtrace-e2e-write\\n\""), "{writes:?}");
    assert!(writes.contains(&"\"osmtrace-e2e-thread\\n\""), "{writes:?}");
    for call in ["getppid", "uname", "pipe2"] {
        assert!(!exits(call).is_empty(), "no {call} of e2e");
    }
    assert!(
        e2e.iter()
            .any(|e| name(e) == "exit_group" && e["args"][0]["value"] == 7),
        "no exit_group(7)"
    );

    // The same calls as a live traced run of the program.
    let program = dir.join("e2e");
    let live_out = dir.join("live.jsonl");
    let live = trace_program(guest.spec, &program, "format=jsonl", 1, &live_out, &[]);
    assert!(live.status.success(), "{}", stderr(&live));
    let live = program_calls(&read_jsonl(&live_out));
    let replayed = program_calls(&all);
    assert_eq!(replayed.len(), 2, "{replayed:?}");
    assert_eq!(replayed, live, "replayed against live, per thread");

    raw_decodes_as_direct(guest, &recording, &dir);

    // The virtual clock: non-decreasing per vCPU, exits after their entries.
    let mut last: BTreeMap<u64, u64> = BTreeMap::new();
    for e in &all {
        let vcpu = e["vcpu"].as_u64().unwrap();
        let t = ts(e);
        let before = last.insert(vcpu, t).unwrap_or(0);
        assert!(t >= before, "vCPU {vcpu}: {t} after {before}: {e}");
        if let Some(dur) = e["dur"].as_u64() {
            assert!(dur <= t, "{e}");
        }
    }
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn record_once_replay_twice_x86_64() {
    record_and_replay(&common::X86_64, "x86_64");
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn record_once_replay_twice_arm() {
    record_and_replay(&common::ARM, "arm");
}

/// A guest that reads and writes a disk, recorded and replayed through a
/// qcow2 overlay and QEMU's blkreplay driver: both replays (compiled and
/// generic plugin) show `dd` reading the image's block and then the block
/// it wrote itself, with the recording's bytes and returns; the image is
/// never written, and a changed image is refused.
fn disk_is_read_never_written(guest: &Guest, arch: &str) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = root().join("target/osmtrace/replay/disk").join(arch);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let image = dir.join("disk.raw");
    let mut bytes: Vec<u8> = (0..1u32 << 20).map(|i| (i * 7 % 251) as u8).collect();
    let marker = b"osmtrace-disk-block\n";
    bytes[4096..4096 + marker.len()].copy_from_slice(marker);
    std::fs::write(&image, &bytes).unwrap();
    let modified = std::fs::metadata(&image).unwrap().modified().unwrap();
    let unchanged = |when: &str| {
        assert!(
            std::fs::read(&image).unwrap() == bytes,
            "the image was written ({when})"
        );
        assert_eq!(
            std::fs::metadata(&image).unwrap().modified().unwrap(),
            modified,
            "{when}"
        );
    };
    // Block 8 holds the marker; block 100 gets "written" through the
    // overlay and is read back.
    let cmd = "dd if=/dev/vda bs=512 skip=8 count=1 2>/dev/null | head -c 20; \
               printf written | dd of=/dev/vda bs=512 seek=100 conv=notrunc 2>/dev/null; sync; \
               dd if=/dev/vda bs=512 skip=100 count=1 2>/dev/null | head -c 7; echo";
    let recording = dir.join("recording");
    let out = xtask(
        &["record", "--spec", guest.spec, "--cmd", cmd, "--disk"],
        &[&image, Path::new("--out"), &recording],
    );
    let err = stderr(&out);
    assert!(out.status.success(), "record failed:\n{err}");
    assert!(
        err.contains("osmtrace-disk-block\nwritten\n"),
        "the guest did not read the disk:\n{err}"
    );
    unchanged("after recording");
    let manifest = std::fs::read_to_string(recording.join("recording.json")).unwrap();
    assert!(
        manifest.contains("driver=blkreplay") && manifest.contains("\"format\": \"raw\""),
        "{manifest}"
    );

    // dd's reads that returned a whole block: from the disk, not the pipe.
    let disk_reads = |generic: bool, file: &str| -> Vec<Value> {
        let trace = dir.join(file);
        let mut args = vec!["trace", "--spec", guest.spec, "--plugin-args"];
        args.push("format=jsonl,trace=read");
        if generic {
            args.push("--generic");
        }
        args.push("--replay");
        let out = xtask(&args, &[&recording, Path::new("--out"), &trace]);
        let err = stderr(&out);
        assert!(out.status.success(), "replay failed:\n{err}");
        assert!(err.contains("osmtrace-disk-block\nwritten\n"), "{err}");
        read_jsonl(&trace)
            .into_iter()
            .filter(|e| e["comm"] == "dd" && is_exit(e) && name(e) == "read" && e["ret"] == 512)
            .collect()
    };
    let compiled = disk_reads(false, "compiled.jsonl");
    unchanged("after a replay");
    let text = |e: &Value| e["args"][1]["text"].as_str().unwrap_or("").to_string();
    let texts: Vec<String> = compiled.iter().map(text).collect();
    assert_eq!(texts.len(), 2, "{compiled:?}");
    assert!(
        texts[0].starts_with("\"osmtrace-disk-block\\n"),
        "{texts:?}"
    );
    assert!(texts[1].starts_with("\"written"), "{texts:?}");
    let generic = disk_reads(true, "generic.jsonl");
    assert_eq!(compiled, generic, "the two replays' reads differ");
    unchanged("after two replays");

    // Refused before QEMU runs: another image, or the same bytes written
    // since (a change past the bytes compared would replay another disk).
    let refused = |why: &str| {
        let out = xtask(&["trace", "--spec", guest.spec, "--replay"], &[&recording]);
        let err = stderr(&out);
        assert!(!out.status.success() && err.contains(why), "{err}");
    };
    let mut changed = bytes.clone();
    changed[0] ^= 1;
    std::fs::write(&image, &changed).unwrap();
    refused("not the image that was recorded");
    std::fs::write(&image, &bytes).unwrap();
    refused("was modified after it was recorded");
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn disk_is_read_never_written_x86_64() {
    disk_is_read_never_written(&common::X86_64, "x86_64");
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn disk_is_read_never_written_arm() {
    disk_is_read_never_written(&common::ARM, "arm");
}
