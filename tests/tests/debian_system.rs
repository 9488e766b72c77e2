//! A whole Debian 12 system with systemd (`cargo xtask trace --guest
//! debian`, built once with mmdebstrap and cached in target/) boots under
//! the compiled plugin, runs a workload as a systemd service once it is up
//! and powers off with `systemctl poweroff`. The trace must hold up over
//! the whole boot: QEMU exits 0, every jsonl line parses, systemd and the
//! workload are in it by name, and fewer than 0.1% of the calls that
//! returned are left unpaired (calls still pending at power-off are counted
//! apart).
//!
//! x86_64 runs with 1 and 4 vCPUs; aarch64, whose boot takes minutes under
//! TCG, in the full tier (`bash scripts/test.sh --full`).
//!
//! Needs QEMU ≥ 9.2, mmdebstrap and cpio (`scripts/setup.sh`) and, on the
//! first run, Debian's archive.

mod common;

use common::{read_jsonl, root};
use serde_json::Value;
use std::sync::Mutex;
use std::time::Instant;

/// One guest at a time: each boot uses both cores, and the first builds
/// the system that the others reuse.
static SERIAL: Mutex<()> = Mutex::new(());

const WORKLOAD: &str = "echo osmtrace-debian-workload-ran; grep PRETTY_NAME /etc/os-release; \
                        systemctl --version | head -1; ls /usr/bin | wc -l";

/// The trace's closing `summary` event (the health figures), which must
/// be its last line.
fn summary(out: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(out).unwrap();
    let last = text.lines().last().expect("a trace");
    let summary: Value = serde_json::from_str(last).unwrap();
    assert_eq!(summary["event"], "summary", "{last}");
    summary
}

fn boot_debian(name: &str, spec: &str, smp: u32, timeout_s: u32) {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = root().join("target/osmtrace/debian-system-test");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(format!("{name}-smp{smp}.jsonl"));
    let _ = std::fs::remove_file(&out);
    let started = Instant::now();
    let result = std::process::Command::new(env!("CARGO"))
        .args(["xtask", "trace", "--guest", "debian", "--spec", spec])
        .args(["--cmd", WORKLOAD, "--plugin-args", "format=jsonl"])
        .args([
            "--smp",
            &smp.to_string(),
            "--timeout",
            &timeout_s.to_string(),
        ])
        .arg("--out")
        .arg(&out)
        .current_dir(root())
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&result.stderr);
    // The guest's console, QEMU's status and the timeout are checked by
    // `cargo xtask trace`, which fails when QEMU does not exit 0.
    assert!(
        result.status.success(),
        "cargo xtask trace --guest debian failed:\n{stderr}"
    );
    eprintln!(
        "{name} with {smp} vCPU(s): {:.1} s in all (plugin build and system build when not \
         cached)\n{}",
        started.elapsed().as_secs_f64(),
        stderr
            .lines()
            .filter(|l| l.starts_with("osmtrace: ") || l.contains("Debian system"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        stderr.contains("osmtrace-debian-workload-ran\n")
            && stderr.contains("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\""),
        "the workload's output is missing:\n{stderr}"
    );
    assert!(
        stderr.contains("osmtrace: guest command exited with 0;"),
        "{stderr}"
    );

    let events: Vec<Value> = read_jsonl(&out);
    let figures = summary(&out);
    let figure = |name: &str| figures[name].as_u64().unwrap_or_else(|| panic!("{name}"));
    // The figures are the trace's: an event per entry, and an exit event
    // with a value per return paired (children's first returns among
    // them). The exits without one (`= ?`: exit_group, a call its process
    // was killed in) are no returns, and a child that ends some other way
    // than by a call (killed, still running at power-off) leaves their
    // count short of the children's: the two are not compared.
    let count = |event: &str| events.iter().filter(|e| e["event"] == event).count() as u64;
    assert_eq!(count("entry"), figure("entries"), "{figures}");
    let returned = events
        .iter()
        .filter(|e| e["event"] == "exit" && !e["ret"].is_null())
        .count() as u64;
    assert_eq!(returned, figure("exits"), "{figures}");
    assert!(figure("child_returns") <= figure("exits"), "{figures}");
    // A system boot, not a shell: over a hundred thousand calls.
    assert!(figure("entries") > 20_000, "{figures}");
    let unpaired = figure("unpaired_superseded") + figure("unpaired_dropped");
    let returned = figure("exits") + unpaired;
    assert!(
        unpaired * 1000 < returned,
        "{unpaired} of {returned} returned calls unpaired: {figures}"
    );
    assert_eq!(figure("bytes_lost"), 0, "{figures}");
    // The guest's names: systemd as PID 1, the workload's shell, and the
    // workload's programs started from it.
    let comm = |name: &str| events.iter().any(|e| e["comm"] == name);
    let pid1 = events
        .iter()
        .any(|e| e["pid"] == 1 && e["comm"] == "systemd");
    assert!(pid1, "no call of systemd as PID 1");
    for name in ["systemd-journal", "systemd-udevd", "osmtrace-sh", "grep"] {
        assert!(comm(name), "no call made by {name}");
    }
    decoded_wherever_they_returned(&events);
    execs_return_into_their_own_image(&events);
    eprintln!(
        "{name} with {smp} vCPU(s): {} entries, {returned} returned, {unpaired} unpaired, {} pending at power-off",
        figure("entries"),
        figure("pending_at_end"),
    );
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn x86_64_debian_one_vcpu() {
    boot_debian("x86_64", "specs/linux-x86_64.osm", 1, 600);
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn x86_64_debian_four_vcpus() {
    boot_debian("x86_64", "specs/linux-x86_64.osm", 4, 600);
}

/// The aarch64 system boots in minutes under TCG.
#[test]
#[ignore = "full tier: bash scripts/test.sh --full"]
fn aarch64_debian_one_vcpu() {
    boot_debian("aarch64", "specs/linux-aarch64.osm", 1, 1800);
}

#[test]
#[ignore = "full tier: bash scripts/test.sh --full"]
fn aarch64_debian_four_vcpus() {
    boot_debian("aarch64", "specs/linux-aarch64.osm", 4, 1800);
}

/// `record --guest debian` and a traced replay of it: the replayed
/// console has the workload's output, and the replayed trace holds the
/// whole boot with its names, as a live run's does.
#[test]
#[ignore = "full tier: bash scripts/test.sh --full"]
fn x86_64_debian_recorded_and_replayed() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = root().join("target/osmtrace/debian-system-test/recorded");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let recording = dir.join("rec");
    let spec = "specs/linux-x86_64.osm";
    common::cargo_xtask(
        [
            "record",
            "--spec",
            spec,
            "--guest",
            "debian",
            "--cmd",
            WORKLOAD,
            "--timeout",
            "1200",
        ]
        .into_iter()
        .map(String::from)
        .chain(["--out".to_string(), recording.display().to_string()]),
    );
    let out = dir.join("replay.jsonl");
    let replayed = common::cargo_xtask(
        [
            "trace",
            "--spec",
            spec,
            "--plugin-args",
            "format=jsonl",
            "--timeout",
            "1200",
        ]
        .into_iter()
        .map(String::from)
        .chain([
            "--replay".to_string(),
            recording.display().to_string(),
            "--out".to_string(),
            out.display().to_string(),
        ]),
    );
    let stderr = String::from_utf8_lossy(&replayed.stderr);
    assert!(
        stderr.contains("osmtrace-debian-workload-ran\n"),
        "the replay did not show the workload's output:\n{stderr}"
    );
    let figures = summary(&out);
    assert!(figures["entries"].as_u64().unwrap() > 20_000, "{figures}");
    assert_eq!(figures["unpaired_superseded"], 0, "{figures}");
    assert_eq!(figures["unpaired_dropped"], 0, "{figures}");
    let events = read_jsonl(&out);
    assert!(
        events
            .iter()
            .any(|e| e["pid"] == 1 && e["comm"] == "systemd")
    );
    execs_return_into_their_own_image(&events);
    assert!(events.iter().any(|e| e["comm"] == "osmtrace-sh"));
}

/// Each successful exec's return is its own: the new image's first call
/// (the next entry with the return's thread and process identity) is made
/// by the exec's process, as the guest's names read there say. systemd
/// starts its generators and services in parallel, and a return paired
/// with another task's exec shows that task's pid.
fn execs_return_into_their_own_image(events: &[Value]) {
    let mut checked = 0;
    for (i, exit) in events.iter().enumerate() {
        if exit["event"] != "exit" || exit["name"] != "execve" || exit["ret"] != 0 {
            continue;
        }
        let first = events[i + 1..].iter().find(|e| {
            e["event"] == "entry"
                && e["thread"] == exit["thread"]
                && e["process"] == exit["process"]
        });
        if let Some(first) = first {
            assert_eq!(
                first["pid"], exit["pid"],
                "an execve's return shown for pid {} ({}), its new image's first call by pid {} ({})",
                exit["pid"], exit["args"][0]["text"], first["pid"], first["comm"]
            );
            checked += 1;
        }
    }
    assert!(checked > 10, "only {checked} execs returned");
}

/// Every call the boot made, however rare, shows what the model types
/// (structures, buffers, strings, sets) decoded once it returned without
/// an error, as strace would: a typed argument shown as a bare address
/// means its memory did not read or its decoder gave up. Arguments that
/// are addresses by type (`ptr`) or shown in hex by design (`hex`,
/// `hex32`, ...) are left out; so are failed calls, whose buffers strace
/// shows as addresses too, and a child's first return from a fork.
fn decoded_wherever_they_returned(events: &[Value]) {
    let is_address = |text: &str| {
        text.strip_prefix("0x")
            .is_some_and(|hex| hex.len() >= 5 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    let mut calls = std::collections::BTreeSet::new();
    let mut undecoded = std::collections::BTreeMap::new();
    for exit in events.iter().filter(|e| e["event"] == "exit") {
        calls.insert(exit["name"].as_str().unwrap_or("?"));
        if exit["ret"].is_null() || !exit["error"].is_null() {
            continue;
        }
        // A child's first return (0) shows the call as it entered: its
        // outputs are the parent's (strace shows only the parent's).
        let forks = ["clone", "clone3", "fork", "vfork"];
        if exit["ret"] == 0 && forks.contains(&exit["name"].as_str().unwrap_or("")) {
            continue;
        }
        for arg in exit["args"].as_array().into_iter().flatten() {
            let ty = arg["type"].as_str().unwrap_or("");
            let text = arg["text"].as_str().unwrap_or("");
            if ty != "ptr" && !ty.starts_with("hex") && is_address(text) {
                let key = (
                    exit["name"].as_str().unwrap_or("?"),
                    arg["name"].as_str().unwrap_or("?"),
                    ty,
                );
                *undecoded.entry(key).or_insert(0usize) += 1;
            }
        }
    }
    assert!(calls.len() > 100, "only {} distinct calls", calls.len());
    assert!(
        undecoded.is_empty(),
        "typed arguments shown as addresses after a successful return (call, argument, type: count): {undecoded:?}"
    );
    eprintln!(
        "{} distinct calls, every typed argument decoded where they returned",
        calls.len()
    );
}
