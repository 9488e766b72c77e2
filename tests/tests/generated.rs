//! `generated/` must be exactly what the compiler produces from `specs/`,
//! checked in process. When this fails, run `cargo xtask generate` and
//! review the diff.

use osm_runtime::os::Os;
use std::path::PathBuf;

fn root() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("the repository")
}

#[test]
fn generated_crates_are_current() {
    let root = root();
    let stale = osm_compiler::repo::generate_all(&root, true).expect("every model checks");
    assert!(
        stale.is_empty(),
        "generated/ is out of date: {stale:?}; run `{}` and review the change",
        osm_compiler::repo::GENERATE_COMMAND
    );
}

/// What a generated crate holds as static tables expands to exactly the
/// model the compiler checks, for every shipped model.
#[test]
fn embedded_models_are_the_checked_models() {
    let root = root();
    let embedded = [
        (
            "freebsd-amd64.osm",
            osmtrace_freebsd_amd64::FreebsdAmd64::model(),
        ),
        (
            "linux-aarch64.osm",
            osmtrace_linux_aarch64::LinuxAarch64::model(),
        ),
        ("linux-arm.osm", osmtrace_linux_arm::LinuxArm::model()),
        ("linux-i386.osm", osmtrace_linux_i386::LinuxI386::model()),
        (
            "linux-mips64el.osm",
            osmtrace_linux_mips64el::LinuxMips64el::model(),
        ),
        (
            "linux-mipsel.osm",
            osmtrace_linux_mipsel::LinuxMipsel::model(),
        ),
        (
            "linux-ppc64el.osm",
            osmtrace_linux_ppc64el::LinuxPpc64el::model(),
        ),
        (
            "linux-riscv64.osm",
            osmtrace_linux_riscv64::LinuxRiscv64::model(),
        ),
        ("linux-s390x.osm", osmtrace_linux_s390x::LinuxS390x::model()),
        (
            "linux-x86_64.osm",
            osmtrace_linux_x86_64::LinuxX8664::model(),
        ),
        (
            "windows-7-x64.osm",
            osmtrace_windows_7_x64::Windows7X64::model(),
        ),
        (
            "windows-xp-i386.osm",
            osmtrace_windows_xp_i386::WindowsXpI386::model(),
        ),
    ];
    let shipped = osm_compiler::repo::shipped_models(&root).expect("specs/");
    assert_eq!(
        shipped.len(),
        embedded.len(),
        "a shipped model is missing here (and from this crate's dev-dependencies)"
    );
    for (file, model) in embedded {
        let checked = osm_compiler::repo::check(&root, &root.join("specs").join(file))
            .unwrap_or_else(|e| panic!("{file} does not check:\n{e}"));
        assert!(
            model == checked,
            "{file}: the embedded model differs from the checked one"
        );
    }
}
