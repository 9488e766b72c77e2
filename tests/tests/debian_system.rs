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
//! TCG, only with OSMTRACE_SLOW_TESTS=1.
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

/// The tracer's end-of-run figures.
#[derive(Debug, Default)]
struct Health {
    entries: u64,
    paired: u64,
    child_returns: u64,
    pending: u64,
    dropped: u64,
}

impl Health {
    /// Calls that returned (or ended) before the guest stopped.
    fn returned(&self) -> u64 {
        self.entries - self.pending
    }

    /// Of those, calls whose exit was never paired with them. (A child's
    /// return from fork or clone is an exit event beyond the paired ones.)
    fn unpaired(&self) -> u64 {
        self.returned().saturating_sub(self.paired)
    }
}

/// Reads the figures from the tracer's end-of-run line on stderr,
/// `osmtrace: N entries (F filtered out), P exits paired (C child returns,
/// ...), S still pending, U unreadable entries, D pending calls dropped`.
/// The one place that knows its form (a jsonl `summary` event is to carry
/// the same figures).
fn health(stderr: &str) -> Health {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("osmtrace: ") && l.contains(" entries ("))
        .unwrap_or_else(|| panic!("no end-of-run counts on stderr:\n{stderr}"));
    // Each figure is the number before its words.
    let figure = |words: &str| -> u64 {
        let at = line
            .find(words)
            .unwrap_or_else(|| panic!("no `{words}` in {line}"));
        let number = line[..at]
            .trim_end()
            .rsplit([' ', '(', ','])
            .next()
            .unwrap_or("");
        number
            .parse()
            .unwrap_or_else(|_| panic!("no number before `{words}` in {line}"))
    };
    Health {
        entries: figure(" entries"),
        paired: figure(" exits paired"),
        child_returns: figure(" child returns"),
        pending: figure(" still pending"),
        dropped: figure(" pending calls dropped"),
    }
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
    let figures = health(&stderr);
    // The figures are the trace's: an event per entry, and per paired exit
    // and child's return.
    let count = |event: &str| events.iter().filter(|e| e["event"] == event).count() as u64;
    assert_eq!(count("entry"), figures.entries, "{figures:?}");
    assert_eq!(
        count("exit"),
        figures.paired + figures.child_returns,
        "{figures:?}"
    );
    // A system boot, not a shell: hundreds of thousands of calls.
    assert!(figures.entries > 20_000, "{figures:?}");
    assert!(
        figures.unpaired() * 1000 < figures.returned(),
        "{} of {} returned calls unpaired ({} dropped), {figures:?}",
        figures.unpaired(),
        figures.returned(),
        figures.dropped
    );
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
    eprintln!(
        "{name} with {smp} vCPU(s): {} entries, {} returned, {} unpaired, {} pending at power-off",
        figures.entries,
        figures.returned(),
        figures.unpaired(),
        figures.pending
    );
}

#[test]
fn reads_the_end_of_run_counts() {
    let stderr = "osmtrace: booting\nosmtrace: 1000 entries (0 filtered out), 998 exits paired \
                  (10 child returns, 3 exec returns, 0 after an identity change, 2 interrupted \
                  by signals, 0 restarted by the kernel), 11 still pending, 0 unreadable \
                  entries, 1 pending calls dropped, 0 calls without task names\n";
    let h = health(stderr);
    assert_eq!(
        (h.entries, h.paired, h.child_returns, h.pending, h.dropped),
        (1000, 998, 10, 11, 1)
    );
    assert_eq!(h.returned(), 989);
    assert_eq!(h.unpaired(), 0);
    let lost = Health { paired: 980, ..h };
    assert_eq!(lost.unpaired(), 9);
}

#[test]
fn x86_64_debian_one_vcpu() {
    boot_debian("x86_64", "specs/linux-x86_64.osm", 1, 600);
}

#[test]
fn x86_64_debian_four_vcpus() {
    boot_debian("x86_64", "specs/linux-x86_64.osm", 4, 600);
}

/// The slow tier: the aarch64 system boots in minutes under TCG.
#[test]
fn aarch64_debian_slow() {
    if std::env::var_os("OSMTRACE_SLOW_TESTS").is_none_or(|v| v != "1") {
        eprintln!("skipped: set OSMTRACE_SLOW_TESTS=1 to boot the aarch64 Debian system");
        return;
    }
    for smp in [1, 4] {
        boot_debian("aarch64", "specs/linux-aarch64.osm", smp, 1800);
    }
}
