//! The Linux models' tables are what `cargo xtask import-linux` writes from
//! the pinned kernel headers and specs/linux-annotations.txt, byte for byte.
//! (The first run fetches the Debian packages; later runs use the cache in
//! target/osmtrace/linux-headers/.)

use std::path::Path;
use std::process::Command;

#[test]
#[ignore = "needs scripts/setup.sh and Debian's archive; bash scripts/test.sh runs it"]
fn imported_linux_tables_are_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new(env!("CARGO"))
        .args(["xtask", "import-linux", "--check"])
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
