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
    read_jsonl(out)
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
    for file in std::fs::read_dir(&recording).unwrap() {
        let name = file.unwrap().file_name();
        if name != "vmlinuz" && name != "recording.json" {
            std::fs::hard_link(recording.join(&name), broken.join(&name)).unwrap();
        }
    }
    let out = xtask(&["trace", "--spec", guest.spec, "--replay"], &[&broken]);
    let err = stderr(&out);
    assert!(err.contains("incomplete recording: vmlinuz"), "{err}");
    std::fs::hard_link(recording.join("vmlinuz"), broken.join("vmlinuz")).unwrap();
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
    // A process's end shows whatever calls are selected, as strace's. A
    // signal shows after the exit of the call it interrupted (the tracer
    // sees a delivery only as a traced call's return into a handler), so
    // the selection keeps those of the selected calls.
    let selected = |i: usize| {
        let e = &all[i];
        if e["event"] == "exited" {
            return true;
        }
        if e["event"] != "signal" {
            return has_class(e, &["file", "desc"]);
        }
        let same = |o: &&Value| o["thread"] == e["thread"] && o["process"] == e["process"];
        all[..i]
            .iter()
            .rfind(same)
            .is_some_and(|call| is_exit(call) && has_class(call, &["file", "desc"]))
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
fn record_once_replay_twice_x86_64() {
    record_and_replay(&common::X86_64, "x86_64");
}

#[test]
fn record_once_replay_twice_arm() {
    record_and_replay(&common::ARM, "arm");
}

/// A guest with a disk: recorded and replayed through a qcow2 overlay and
/// QEMU's blkreplay driver, the image itself never written; a changed
/// image is refused. (The busybox guest loads no disk driver, so it does
/// not read the disk: this checks the wiring, not the guest's reads.)
#[test]
fn disk_image_is_never_written_arm() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = root().join("target/osmtrace/replay/disk");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let image = dir.join("disk.raw");
    let bytes: Vec<u8> = (0..1u32 << 20).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&image, &bytes).unwrap();
    let modified = std::fs::metadata(&image).unwrap().modified().unwrap();
    let recording = dir.join("recording");
    let out = xtask(
        &[
            "record",
            "--spec",
            "specs/linux-arm.osm",
            "--cmd",
            "echo disk-ok",
            "--disk",
        ],
        &[&image, Path::new("--out"), &recording],
    );
    let err = stderr(&out);
    assert!(out.status.success(), "record failed:\n{err}");
    let manifest = std::fs::read_to_string(recording.join("recording.json")).unwrap();
    assert!(
        manifest.contains("driver=blkreplay") && manifest.contains("\"format\": \"raw\""),
        "{manifest}"
    );
    let trace = dir.join("trace.txt");
    let out = xtask(
        &[
            "trace",
            "--spec",
            "specs/linux-arm.osm",
            "--plugin-args",
            "trace=write",
            "--replay",
        ],
        &[&recording, Path::new("--out"), &trace],
    );
    let err = stderr(&out);
    assert!(out.status.success(), "replay failed:\n{err}");
    let text = std::fs::read_to_string(&trace).unwrap();
    assert!(text.contains("write(1, \"disk-ok\\n\", 8) = 8"), "{text}");
    assert_eq!(
        std::fs::read(&image).unwrap(),
        bytes,
        "the image was written"
    );
    assert_eq!(
        std::fs::metadata(&image).unwrap().modified().unwrap(),
        modified
    );

    let mut changed = bytes;
    changed[0] ^= 1;
    std::fs::write(&image, &changed).unwrap();
    let out = xtask(
        &["trace", "--spec", "specs/linux-arm.osm", "--replay"],
        &[&recording],
    );
    let err = stderr(&out);
    assert!(
        !out.status.success() && err.contains("not the image that was recorded"),
        "{err}"
    );
}
