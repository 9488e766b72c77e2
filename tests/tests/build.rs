//! `cargo xtask build --spec` with a model outside the repository: it is
//! compiled into a scratch crate under target/ and the plugin's absolute
//! path is the last line of output.

use std::path::Path;
use std::process::Command;

#[test]
fn builds_a_plugin_from_a_model_outside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = std::env::temp_dir().join(format!("osmtrace-build-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in [
        "linux-base.osm",
        "linux-common.osm",
        "linux-errno.osm",
        "linux-generic.osm",
        "linux-arm-syscalls.osm",
    ] {
        std::fs::copy(root.join("specs").join(name), dir.join(name)).unwrap();
    }
    // A model of one's own: the ARM model under another name.
    std::fs::copy(root.join("specs/linux-arm.osm"), dir.join("my-arm.osm")).unwrap();
    let out = Command::new(env!("CARGO"))
        .args(["xtask", "build", "--spec"])
        .arg(dir.join("my-arm.osm"))
        .current_dir(&root)
        .output()
        .expect("cargo runs");
    std::fs::remove_dir_all(&dir).ok();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().expect("some output");
    let library = Path::new(last);
    assert!(library.is_absolute(), "{last}");
    assert!(last.ends_with("libosmtrace_my_arm.so"), "{last}");
    assert!(library.exists(), "{last}");
}
