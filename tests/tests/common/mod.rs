//! What the guest tests share: building a test program of `tests/guest/`
//! for a guest and tracing it through `cargo xtask trace`, as a user would.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
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
    Command::new(env!("CARGO"))
        .args(["xtask", "trace", "--spec", spec, "--add"])
        .arg(program)
        .args([
            "--cmd",
            cmd,
            "--plugin-args",
            "format=jsonl",
            "--smp",
            &smp.to_string(),
            "--out",
        ])
        .arg(out)
        .args(extra)
        .current_dir(root())
        .output()
        .expect("cargo runs")
}
