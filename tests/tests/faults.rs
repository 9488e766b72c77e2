//! Faults around a traced guest, as users meet them: the trace's disk
//! fills, its pipe's reader goes away, QEMU is stopped by SIGINT, SIGTERM
//! or the monitor's `quit`, the guest reboots. Each must leave a clear
//! message, the health figures and a trace that ends on a whole line, and
//! QEMU must exit normally. QEMU runs from the command line that
//! `cargo xtask trace --print-qemu` gives, as a user would run it by hand.

mod common;

use common::{X86_64, cargo_xtask, jsonl_calls};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `--print-qemu` writes the initramfs at one place per architecture:
/// each test takes its own copy before the next test writes another.
static PRINT_QEMU: Mutex<()> = Mutex::new(());

const GUEST_TIMEOUT: Duration = Duration::from_secs(300);

fn test_dir(name: &str) -> PathBuf {
    let dir = common::root().join("target/osmtrace/faults").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The QEMU command line booting the x86_64 guest with `cmd` and the
/// plugin writing jsonl to `out`, with its own copy of the initramfs.
fn qemu_line(dir: &Path, out: &Path, cmd: &str) -> String {
    qemu_line_adding(dir, out, cmd, &[])
}

/// [`qemu_line`] with host files put in the guest (`--add`).
fn qemu_line_adding(dir: &Path, out: &Path, cmd: &str, add: &[&Path]) -> String {
    qemu_line_with(dir, out, cmd, add, "format=jsonl")
}

/// [`qemu_line_adding`] with other plugin arguments.
fn qemu_line_with(dir: &Path, out: &Path, cmd: &str, add: &[&Path], plugin_args: &str) -> String {
    let _one_at_a_time = PRINT_QEMU.lock().unwrap_or_else(|e| e.into_inner());
    let mut args: Vec<String> = [
        "trace",
        "--spec",
        X86_64.spec,
        "--print-qemu",
        "--plugin-args",
        plugin_args,
        "--out",
        out.to_str().unwrap(),
        "--cmd",
        cmd,
    ]
    .map(String::from)
    .to_vec();
    for file in add {
        args.push("--add".to_string());
        args.push(file.display().to_string());
    }
    let printed = cargo_xtask(args);
    let line = String::from_utf8(printed.stdout)
        .unwrap()
        .trim()
        .to_string();
    let initrd = line
        .split_whitespace()
        .skip_while(|w| *w != "-initrd")
        .nth(1)
        .expect("the line boots an initramfs")
        .to_string();
    let own = dir.join("initrd.gz");
    std::fs::copy(&initrd, &own).unwrap();
    line.replace(&initrd, own.to_str().unwrap())
}

/// QEMU started from `line` plus `extra`, its console and stderr read as
/// they come.
struct Qemu {
    child: Child,
    console: std::sync::mpsc::Receiver<String>,
    stderr: std::thread::JoinHandle<String>,
    seen: String,
}

impl Qemu {
    fn start(line: &str, extra: &str) -> Qemu {
        let mut child = Command::new("bash")
            .arg("-c")
            .arg(format!("exec {line} {extra}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("bash runs");
        let (to_test, console) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).split(b'\n') {
                let Ok(line) = line else { break };
                if to_test
                    .send(String::from_utf8_lossy(&line).into_owned())
                    .is_err()
                {
                    break;
                }
            }
        });
        let mut stderr = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Qemu {
            child,
            console,
            stderr,
            seen: String::new(),
        }
    }

    /// Waits until the console has shown `text` `times` times.
    fn wait_for(&mut self, text: &str, times: usize) {
        let deadline = Instant::now() + GUEST_TIMEOUT;
        while self.seen.matches(text).count() < times {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.console.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push_str(&line);
                    self.seen.push('\n');
                }
                Err(_) => {
                    let _ = self.child.kill();
                    panic!("`{text}` never came {times} times; console:\n{}", self.seen);
                }
            }
        }
    }

    /// Waits for QEMU to exit: its status and stderr.
    fn wait(mut self) -> (ExitStatus, String) {
        let deadline = Instant::now() + GUEST_TIMEOUT;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("QEMU did not exit; console:\n{}", self.seen);
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        (status, self.stderr.join().unwrap())
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }
}

/// The trace file ends on a whole line and every line is JSON.
fn whole_jsonl(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(!text.is_empty(), "nothing was written");
    assert!(text.ends_with('\n'), "the trace ends mid-line");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad jsonl line {l}: {e}")))
        .collect()
}

/// The trace's closing `summary` event, which must be its last line.
fn summary(events: &[Value]) -> &Value {
    let last = events.last().unwrap();
    assert_eq!(last["event"], "summary", "the trace ends with its summary");
    last
}

/// Waits until `path` holds more than `bytes`.
fn wait_for_size(path: &Path, bytes: u64) {
    let deadline = Instant::now() + GUEST_TIMEOUT;
    while std::fs::metadata(path).map_or(0, |m| m.len()) <= bytes {
        assert!(Instant::now() < deadline, "{} stayed small", path.display());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A tmpfs of `size` mounted at `dir`, unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(dir: PathBuf, size: &str) -> SmallDisk {
        std::fs::create_dir_all(&dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mounting a small tmpfs needs root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk(dir)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

const BUSY: &str = "while true; do cat /proc/version > /dev/null; done";

/// A guest traced into `file` on a 64 KiB tmpfs that fills: the disk, the
/// trace's path, QEMU's stderr (QEMU must exit 0) and its health line.
fn trace_onto_a_small_disk(
    name: &str,
    file: &str,
    plugin_args: &str,
) -> (SmallDisk, PathBuf, String, String) {
    let dir = test_dir(name);
    let disk = SmallDisk::mount(dir.join("disk"), "64k");
    let out = disk.0.join(file);
    let line = qemu_line_with(&dir, &out, "ls /; cat /proc/version", &[], plugin_args);
    let mut qemu = Qemu::start(&line, "");
    qemu.wait_for("OSMTRACE-EXIT 0", 1);
    let (status, stderr) = qemu.wait();
    assert!(status.success(), "QEMU failed ({status}):\n{stderr}");
    let health = stderr
        .lines()
        .find(|l| l.contains("bytes of trace written"))
        .expect("the health figures")
        .to_string();
    (disk, out, stderr, health)
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn a_full_disk_cuts_the_trace_at_a_whole_line_and_counts_what_was_lost() {
    let (disk, out, stderr, lost) =
        trace_onto_a_small_disk("disk-full", "trace.jsonl", "format=jsonl");
    assert!(
        stderr.contains(&format!(
            "osmtrace: writing the log {} failed: No space left on device",
            out.display()
        )) && stderr.contains("the trace ends at its last whole line"),
        "{stderr}"
    );
    assert!(
        lost.contains("lines) lost: No space left on device"),
        "{lost}"
    );
    // What did fit is whole lines of calls; the summary did not fit.
    let events = whole_jsonl(&out);
    assert!(events.len() > 10, "{} lines", events.len());
    assert!(events.iter().all(|e| e["event"] != "summary"));
    drop(disk);
}

/// The Parquet file keeps its whole row groups and a footer for them,
/// read back by DuckDB.
#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn a_full_disk_leaves_a_readable_parquet_file_of_whole_row_groups() {
    let (disk, out, stderr, health) = trace_onto_a_small_disk(
        "disk-full-parquet",
        "trace.parquet",
        "format=parquet,row_group=20",
    );
    assert!(
        stderr.contains(&format!(
            "osmtrace: writing the Parquet file {} failed: No space left on device",
            out.display()
        )) && stderr.contains("stays readable"),
        "{stderr}"
    );
    assert!(health.contains("lost: No space left on device"), "{health}");
    let path = out.display();
    let rows = common::duckdb(&[format!(
        "SELECT count(*), count(*) FILTER (WHERE name = 'execve') FROM read_parquet('{path}')"
    )]);
    let written = rows[0][0].as_u64().unwrap();
    assert!(
        written >= 20 && written.is_multiple_of(20),
        "{written} rows"
    );
    assert!(rows[0][1].as_u64().unwrap() >= 1, "{rows:?}");
    let lost = common::duckdb(&[format!(
        "SELECT decode(value) FROM parquet_kv_metadata('{path}') WHERE decode(key) = 'osmtrace.lost'"
    )]);
    assert!(
        lost[0][0]
            .as_str()
            .unwrap()
            .contains("rows lost: No space left"),
        "{lost:?}"
    );
    drop(disk);
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn a_pipe_whose_reader_goes_away_neither_stops_nor_kills_the_guest() {
    let dir = test_dir("pipe");
    let fifo = dir.join("trace.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let line = qemu_line(&dir, &fifo, "ls /; cat /proc/version");
    let reader_fifo = fifo.clone();
    // Like `... | head -n 5`: reads five lines and goes.
    let reader = std::thread::spawn(move || {
        let pipe = std::fs::File::open(reader_fifo).unwrap();
        BufReader::new(pipe)
            .lines()
            .take(5)
            .map(Result::unwrap)
            .collect::<Vec<String>>()
    });
    let mut qemu = Qemu::start(&line, "");
    let head = reader.join().unwrap();
    assert_eq!(head.len(), 5);
    assert!(
        head.iter()
            .all(|l| serde_json::from_str::<Value>(l).is_ok())
    );
    qemu.wait_for("OSMTRACE-EXIT 0", 1);
    let (status, stderr) = qemu.wait();
    assert!(status.success(), "QEMU failed ({status}):\n{stderr}");
    assert!(
        stderr.contains("failed: Broken pipe") && stderr.contains("lines) lost: Broken pipe"),
        "{stderr}"
    );
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn sigint_and_sigterm_end_qemu_with_a_whole_trace_and_its_summary() {
    for signal in ["INT", "TERM"] {
        let dir = test_dir(&format!("sig{signal}"));
        let out = dir.join("trace.jsonl");
        let line = qemu_line(&dir, &out, BUSY);
        let mut qemu = Qemu::start(&line, "");
        qemu.wait_for("OSMTRACE-START", 1);
        // The busy loop is well under way.
        wait_for_size(&out, 2 << 20);
        qemu.signal(signal);
        let (status, stderr) = qemu.wait();
        assert!(status.success(), "QEMU failed ({status}):\n{stderr}");
        assert!(stderr.contains("terminating on signal"), "{stderr}");
        assert!(stderr.contains("nothing lost"), "{stderr}");
        let events = whole_jsonl(&out);
        let summary = summary(&events);
        let entries = events.iter().filter(|e| e["event"] == "entry").count();
        assert_eq!(
            summary["entries"], entries,
            "every traced entry is in the file"
        );
        assert_eq!(summary["unpaired_dropped"], 0);
    }
}

/// The guest reboots (no `-no-reboot`) and runs its init again; the
/// monitor's `quit` then ends QEMU. Calls of both boots are traced, with
/// their names, and the reboot call itself stays pending.
#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn a_rebooting_guest_then_the_monitors_quit() {
    let dir = test_dir("reboot");
    let out = dir.join("trace.jsonl");
    let line = qemu_line(&dir, &out, "echo booted; reboot -f").replace(" -no-reboot", "");
    let monitor = dir.join("monitor.sock");
    let mut qemu = Qemu::start(
        &line,
        &format!("-monitor unix:{},server=on,wait=off", monitor.display()),
    );
    qemu.wait_for("OSMTRACE-START", 2);
    qemu.wait_for("booted", 2);
    let mut socket = std::os::unix::net::UnixStream::connect(&monitor).unwrap();
    socket.write_all(b"quit\n").unwrap();
    let (status, stderr) = qemu.wait();
    assert!(status.success(), "QEMU failed ({status}):\n{stderr}");
    let events = whole_jsonl(&out);
    let summary = summary(&events);
    assert!(summary["pending_at_end"].as_u64().unwrap() >= 1);
    let calls = jsonl_calls(&std::fs::read_to_string(&out).unwrap());
    let reboots = calls
        .iter()
        .filter(|e| e["event"] == "entry" && e["name"] == "reboot")
        .count();
    assert!(reboots >= 1, "the guest's reboot call is traced");
    // The second boot's init is traced with its names like the first's.
    let first_reboot = calls.iter().position(|e| e["name"] == "reboot").unwrap();
    assert!(
        calls[first_reboot..].iter().any(|e| e["pid"] == 1),
        "the second boot's calls are traced with the guest's names"
    );
}

/// `cargo xtask trace -- QEMU COMMAND`: a command line of the user's own
/// (here the busybox guest's, without the plugin) runs as it is with the
/// plugin added; `kernel=` comes from its `-kernel`. A QEMU of another
/// architecture is refused before anything is built or booted.
#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn your_own_qemu_command_line_is_traced_as_it_is() {
    let dir = test_dir("own");
    let out = dir.join("trace.jsonl");
    let line = qemu_line(&dir, &out, "cat /proc/version");
    let mut words = shlex::split(&line).unwrap();
    let plugin = words.iter().position(|w| w == "-plugin").unwrap();
    words.drain(plugin..plugin + 2);
    let log = words.iter().position(|w| w == "-d").unwrap();
    words.drain(log..log + 2);
    assert!(!words.iter().any(|w| w.contains(".so")), "{words:?}");

    let refused = Command::new(env!("CARGO"))
        .args(["xtask", "trace", "--spec", "specs/linux-aarch64.osm", "--"])
        .args(&words)
        .current_dir(common::root())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        stderr.contains(
            "qemu-system-x86_64 emulates x86_64, but specs/linux-aarch64.osm is a model for aarch64"
        ) && !stderr.contains("building the plugin"),
        "{stderr}"
    );

    let traced = cargo_xtask(
        [
            "trace",
            "--spec",
            X86_64.spec,
            "--plugin-args",
            "format=jsonl",
            "--out",
        ]
        .into_iter()
        .map(String::from)
        .chain([out.to_str().unwrap().to_string(), "--".to_string()])
        .chain(words),
    );
    let stderr = String::from_utf8_lossy(&traced.stderr);
    assert!(stderr.contains("0 calls without task names"), "{stderr}");
    let events = whole_jsonl(&out);
    summary(&events);
    assert!(
        events.iter().any(|e| e["name"] == "openat"
            && e["comm"] == "cat"
            && e["args"][1]["text"] == "\"/proc/version\""),
        "cat's openat of /proc/version is traced with its names"
    );
}

/// The guest replaces its kernel (kexec_file_load, then reboot with
/// LINUX_REBOOT_CMD_KEXEC): the second kernel boots another busybox
/// initramfs and powers off. Both kernels' calls are traced, the second's
/// with the names its own tasks have.
#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn a_guest_that_kexecs_another_kernel() {
    let dir = test_dir("kexec");
    let second = dir.join("second");
    std::fs::create_dir_all(&second).unwrap();
    let second_line = qemu_line(&second, &second.join("unused.jsonl"), "ls /proc/self/");
    let booted = second_line
        .split_whitespace()
        .skip_while(|w| *w != "-kernel")
        .nth(1)
        .unwrap()
        .to_string();
    // kexec_file_load takes the bzImage as Debian ships it, beside the
    // unpacked ELF QEMU boots.
    let kernel = Path::new(&booted).with_file_name("vmlinuz");
    std::fs::copy(&kernel, dir.join("vmlinuz")).unwrap();
    std::fs::copy(second.join("initrd.gz"), dir.join("second.gz")).unwrap();
    let program = common::build_guest_program(X86_64.compiler, "kexec", &dir);
    let out = dir.join("trace.jsonl");
    let line = qemu_line_adding(
        &dir,
        &out,
        "/kexec /vmlinuz /second.gz 'console=ttyS0 quiet panic=-1 loglevel=1'",
        &[&program, &dir.join("vmlinuz"), &dir.join("second.gz")],
    );
    let mut qemu = Qemu::start(&line, "");
    qemu.wait_for("kexec: loaded, booting it", 1);
    qemu.wait_for("OSMTRACE-EXIT 0", 1);
    let (status, stderr) = qemu.wait();
    assert!(status.success(), "QEMU failed ({status}):\n{stderr}");
    let events = whole_jsonl(&out);
    summary(&events);
    let loaded = events
        .iter()
        .position(|e| e["event"] == "exit" && e["name"] == "kexec_file_load")
        .expect("kexec_file_load's return is traced");
    assert_eq!(events[loaded]["ret"], 0, "{}", events[loaded]);
    let after = &events[loaded..];
    assert!(
        after
            .iter()
            .any(|e| e["name"] == "reboot" && e["args"][2]["text"] == "LINUX_REBOOT_CMD_KEXEC"),
        "the reboot into the new kernel is traced"
    );
    assert!(
        after
            .iter()
            .any(|e| e["comm"] == "ls" && e["name"] == "getdents64"),
        "the second kernel's ls is traced with its names"
    );
}
