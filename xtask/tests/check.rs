//! `cargo xtask check` as a user runs it: the shipped models print "ok",
//! a broken copy outside the repository prints a located error and fails.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn xtask(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .expect("xtask runs")
}

#[test]
fn shipped_arm_model_checks() {
    let spec = repo().join("specs/linux-arm.osm");
    let out = xtask(&["check", "--spec", spec.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("ok: "), "stdout: {stdout}");
    assert!(
        stdout.trim_end().ends_with("2 mechanisms"),
        "stdout: {stdout}"
    );
}

#[test]
fn broken_copy_outside_the_repository_fails_with_a_located_error() {
    let dir = std::env::temp_dir().join(format!("osmtrace-check-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in [
        "linux-base.osm",
        "linux-common.osm",
        "linux-errno.osm",
        "linux-generic.osm",
        "linux-arm-syscalls.osm",
    ] {
        std::fs::copy(repo().join("specs").join(name), dir.join(name)).unwrap();
    }
    let original = std::fs::read_to_string(repo().join("specs/linux-arm.osm")).unwrap();
    let broken = original.replacen("number = r7;", "number = r77;", 1);
    assert_ne!(original, broken);
    let line = broken.lines().position(|l| l.contains("r77")).unwrap() + 1;
    let spec = dir.join("linux-arm.osm");
    std::fs::write(&spec, broken).unwrap();

    let out = xtask(&["check", "--spec", spec.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    std::fs::remove_dir_all(&dir).ok();
    assert!(!out.status.success());
    assert!(
        stderr.contains("error[E0301]: unknown register `r77` for architecture `arm`"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("linux-arm.osm:{line}:14")),
        "{stderr}"
    );
    assert!(stderr.contains("^^^"), "{stderr}");
}

#[test]
fn missing_file_is_an_error_not_a_panic() {
    let out = xtask(&["check", "--spec", "/nonexistent/model.osm"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("error[E0101]: cannot read model file"),
        "{stderr}"
    );
}

/// Plugin arguments that contradict each other are refused at once,
/// before the plugin is built or a guest kernel fetched: without a kernel
/// cache or network this would otherwise fail later, with another error.
#[test]
fn trace_refuses_conflicting_arguments_before_any_download() {
    let spec = repo().join("specs/linux-x86_64.osm");
    let work = std::env::temp_dir().join(format!("osmtrace-trace-args-{}", std::process::id()));
    let out = xtask(&[
        "trace",
        "--spec",
        spec.to_str().unwrap(),
        "--work-dir",
        work.to_str().unwrap(),
        "--follow",
        "--plugin-args",
        "follow=sh",
        "--cmd",
        "true",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    std::fs::remove_dir_all(&work).ok();
    assert!(!out.status.success());
    assert_eq!(
        stderr.trim_end(),
        "--follow and follow= in --plugin-args: give one of them"
    );
}
