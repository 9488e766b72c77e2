//! `generated/` must be exactly what the compiler produces from `specs/`.
//! When this fails, run `cargo xtask generate` and review the diff.

use std::process::Command;

#[test]
fn generated_crates_are_current() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new(env!("CARGO"))
        .args(["xtask", "build", "--all", "--check"])
        .current_dir(&root)
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
