//! What the guest tests share: building `tests/guest/e2e.c` for a guest and
//! tracing it through `cargo xtask trace`, as a user would.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Builds `tests/guest/e2e.c` statically with `compiler` (Debian's gcc or a
/// cross gcc) into `dir/e2e`.
pub fn build_e2e(compiler: &str, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let program = dir.join("e2e");
    let status = Command::new(compiler)
        .args(["-static", "-O1", "-pthread", "-o"])
        .arg(&program)
        .arg(root().join("tests/guest/e2e.c"))
        .status()
        .unwrap_or_else(|e| panic!("{compiler} not found ({e}); run scripts/setup.sh"));
    assert!(status.success(), "compiling the test program failed");
    program
}

/// `cargo xtask trace` of `program` run as `/e2e`, in jsonl, into `out`,
/// with `extra` arguments after the common ones.
pub fn trace_e2e(spec: &str, program: &Path, smp: u32, out: &Path, extra: &[&OsStr]) -> Output {
    Command::new(env!("CARGO"))
        .args(["xtask", "trace", "--spec", spec, "--add"])
        .arg(program)
        .args([
            "--cmd",
            "/e2e",
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
