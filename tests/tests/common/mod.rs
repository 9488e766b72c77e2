//! What the guest tests share: building a program of `tests/guest/` for a
//! guest, tracing it through `cargo xtask trace` as a user would, and
//! reading the jsonl trace.

// Each test binary includes this module and uses only part of it.
#![allow(dead_code)]

use serde_json::Value;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A guest architecture: its model and the gcc that builds its programs.
pub struct Guest {
    pub spec: &'static str,
    pub compiler: &'static str,
    pub bits: u32,
}

pub const X86_64: Guest = Guest {
    spec: "specs/linux-x86_64.osm",
    compiler: "gcc",
    bits: 64,
};

pub const ARM: Guest = Guest {
    spec: "specs/linux-arm.osm",
    compiler: "arm-linux-gnueabihf-gcc",
    bits: 32,
};

pub const AARCH64: Guest = Guest {
    spec: "specs/linux-aarch64.osm",
    compiler: "aarch64-linux-gnu-gcc",
    bits: 64,
};

pub const I386: Guest = Guest {
    spec: "specs/linux-i386.osm",
    compiler: "i686-linux-gnu-gcc",
    bits: 32,
};

pub const PPC64EL: Guest = Guest {
    spec: "specs/linux-ppc64el.osm",
    compiler: "powerpc64le-linux-gnu-gcc",
    bits: 64,
};

pub const S390X: Guest = Guest {
    spec: "specs/linux-s390x.osm",
    compiler: "s390x-linux-gnu-gcc",
    bits: 64,
};

pub const RISCV64: Guest = Guest {
    spec: "specs/linux-riscv64.osm",
    compiler: "riscv64-linux-gnu-gcc",
    bits: 64,
};

pub const MIPSEL: Guest = Guest {
    spec: "specs/linux-mipsel.osm",
    compiler: "mipsel-linux-gnu-gcc",
    bits: 32,
};

pub const MIPS64EL: Guest = Guest {
    spec: "specs/linux-mips64el.osm",
    compiler: "mips64el-linux-gnuabi64-gcc",
    bits: 64,
};

/// 32-bit programs in 64-bit guests, traced through the model's compat
/// table.
pub const I386_ON_X86_64: Guest = Guest {
    compiler: I386.compiler,
    bits: 32,
    ..X86_64
};

pub const ARM_ON_AARCH64: Guest = Guest {
    compiler: ARM.compiler,
    bits: 32,
    ..AARCH64
};

impl Guest {
    /// The bits of a register: return values are compared within them.
    pub fn mask(&self) -> u64 {
        if self.bits == 64 {
            u64::MAX
        } else {
            (1u64 << self.bits) - 1
        }
    }
}

/// Builds `tests/guest/<name>.c` statically with `compiler` (Debian's gcc
/// or a cross gcc) into `dir/<name>`.
pub fn build_guest_program(compiler: &str, name: &str, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let program = dir.join(name);
    let status = Command::new(compiler)
        .args(["-static", "-O1", "-pthread", "-o"])
        .arg(&program)
        .arg(root().join("tests/guest").join(format!("{name}.c")))
        .status()
        .unwrap_or_else(|e| panic!("{compiler} not found ({e}); run scripts/setup.sh"));
    assert!(
        status.success(),
        "compiling {name}.c with {compiler} failed"
    );
    program
}

/// `cargo xtask trace` with `program` added to the guest (as
/// `/<file name>`) and `cmd` run there, in jsonl, into `out`, with `extra`
/// arguments after the common ones.
pub fn trace_guest_program(
    spec: &str,
    program: &Path,
    cmd: &str,
    smp: u32,
    out: &Path,
    extra: &[&OsStr],
) -> Output {
    xtask_trace(spec, program, cmd, "format=jsonl", smp, out, extra)
}

/// `cargo xtask trace` of `program`, run in the guest as `/<its name>`,
/// with `plugin_args`, into `out`, with `extra` arguments after the common
/// ones.
pub fn trace_program(
    spec: &str,
    program: &Path,
    plugin_args: &str,
    smp: u32,
    out: &Path,
    extra: &[&OsStr],
) -> Output {
    let name = program
        .file_name()
        .expect("a program file")
        .to_string_lossy();
    xtask_trace(
        spec,
        program,
        &format!("/{name}"),
        plugin_args,
        smp,
        out,
        extra,
    )
}

/// `cargo xtask trace` with `program` added to the guest and `cmd` run
/// there, with `plugin_args`, into `out`, with `extra` arguments after the
/// common ones.
pub fn xtask_trace(
    spec: &str,
    program: &Path,
    cmd: &str,
    plugin_args: &str,
    smp: u32,
    out: &Path,
    extra: &[&OsStr],
) -> Output {
    Command::new(env!("CARGO"))
        .args(["xtask", "trace", "--spec", spec, "--add"])
        .arg(program)
        .args(["--cmd", cmd, "--plugin-args", plugin_args])
        .args(["--smp", &smp.to_string(), "--out"])
        .arg(out)
        .args(extra)
        .current_dir(root())
        .output()
        .expect("cargo runs")
}

/// Builds `tests/guest/<name>.c` for `guest` and traces it in jsonl with
/// `smp` vCPUs (in target/osmtrace/<name>/<compiler>-smp<smp>/); returns
/// what `cargo xtask trace` printed (the guest's console among it) and the
/// trace's events.
pub fn run_jsonl(name: &str, guest: &Guest, smp: u32) -> (String, Vec<Value>) {
    let model = Path::new(guest.spec)
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let dir = root()
        .join("target/osmtrace")
        .join(name)
        .join(format!("{model}-{}-smp{smp}", guest.compiler));
    let program = build_guest_program(guest.compiler, name, &dir);
    let out = dir.join("trace.jsonl");
    let _ = std::fs::remove_file(&out);
    let result = trace_program(guest.spec, &program, "format=jsonl", smp, &out, &[]);
    let stderr = String::from_utf8_lossy(&result.stderr).into_owned();
    assert!(
        result.status.success(),
        "cargo xtask trace failed:\n{stderr}"
    );
    (stderr, read_jsonl(&out))
}

/// The calls of a jsonl trace file, without its closing `summary`.
pub fn read_jsonl(path: &Path) -> Vec<Value> {
    jsonl_calls(&std::fs::read_to_string(path).expect("trace file"))
}

/// Every line of a jsonl trace parsed, but the closing `summary` event.
pub fn jsonl_calls(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad jsonl line {l}: {e}")))
        .filter(|e: &Value| e["event"] != "summary")
        .collect()
}

pub fn name(e: &Value) -> &str {
    e["name"].as_str().unwrap()
}

pub fn is_exit(e: &Value) -> bool {
    e["event"] == "exit"
}

pub fn arg_text(e: &Value, i: usize) -> &str {
    e["args"][i]["text"].as_str().unwrap_or("")
}

pub fn arg_value(e: &Value, i: usize) -> u64 {
    e["args"][i]["value"].as_u64().unwrap()
}

/// The text of the siginfo field `field` of a `signal` event.
pub fn siginfo<'e>(e: &'e Value, field: &str) -> &'e str {
    e["args"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["name"] == field))
        .and_then(|f| f["text"].as_str())
        .unwrap_or_else(|| panic!("no {field} in {e}"))
}

/// `cargo xtask ARGS...` in the repository, which must succeed: its output.
pub fn cargo_xtask<S: AsRef<OsStr>>(args: impl IntoIterator<Item = S>) -> Output {
    let out = Command::new(env!("CARGO"))
        .arg("xtask")
        .args(args)
        .current_dir(root())
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo xtask failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// An exit's return register: `ret_raw` where jsonl gives it beside a
/// signed `ret`.
pub fn ret_bits(e: &Value) -> Option<u64> {
    e["ret_raw"]
        .as_u64()
        .or_else(|| e["ret"].as_u64())
        .or_else(|| e["ret"].as_i64().map(|v| v as u64))
}

/// The caller's identity: (thread, process) as the model names them.
pub fn key(e: &Value) -> (u64, u64) {
    (
        e["thread"].as_u64().unwrap(),
        e["process"].as_u64().unwrap(),
    )
}

/// The DuckDB release the Parquet tests query with (from PyPI, into
/// target/osmtrace/duckdb on first use).
const DUCKDB: &str = "duckdb==1.4.4";

/// Runs DuckDB SQL statements, in order, in one connection; the rows of
/// the last one, each value as JSON (numbers, strings, null, lists).
pub fn duckdb(statements: &[String]) -> Vec<Vec<Value>> {
    let dir = root().join("target/osmtrace/duckdb");
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    {
        let _one = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
        if !dir.join("duckdb").is_dir() {
            let pip = Command::new("/usr/bin/python3")
                .args(["-m", "pip", "install", "--quiet", "--target"])
                .arg(&dir)
                .arg(DUCKDB)
                .status()
                .expect("python3 runs (scripts/setup.sh installs it)");
            assert!(pip.success(), "pip install {DUCKDB}");
        }
    }
    let script = "import sys, json, duckdb\n\
                  con = duckdb.connect()\n\
                  statements = json.load(sys.stdin)\n\
                  for s in statements[:-1]: con.execute(s)\n\
                  rows = con.execute(statements[-1]).fetchall()\n\
                  print(json.dumps([list(r) for r in rows], default=str))\n";
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", script])
        .env("PYTHONPATH", &dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(serde_json::to_string(statements).unwrap().as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "DuckDB failed on {statements:?}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("rows as JSON")
}
