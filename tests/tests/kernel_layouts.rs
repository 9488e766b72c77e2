//! The kernel layout readers against real Debian kernels (downloaded into
//! target/ by `cargo xtask isf`, which the guest tests share): the BTF in
//! the amd64, arm64 and riscv64 kernel images, ISF profiles made from the
//! -dbg packages' DWARF, which must agree with the BTF of the same build
//! and pass Volatility 3's own schema, and what a kernel without BTF says.

mod common;

use common::{cargo_xtask, root};
use osm_runtime::kernel::{Layout, MemberTy, load, resolve_refs};
use std::path::{Path, PathBuf};
use std::process::Command;

/// `cargo xtask COMMAND --arch ARCH`, which prints a path.
fn xtask_path(command: &str, arch: &str) -> PathBuf {
    let out = cargo_xtask([command, "--arch", arch]);
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// The guest kernel's image, and its ISF profile, made from its -dbg
/// package (once, cached).
fn guest(arch: &str) -> (PathBuf, PathBuf) {
    let profile = xtask_path("isf", arch);
    (image_beside(&profile), profile)
}

fn image_beside(file: &Path) -> PathBuf {
    let dir = file.parent().unwrap();
    ["vmlinuz", "vmlinux"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .expect("the guest's kernel image")
}

fn model(arch: &str) -> osm_compiler::model::Model {
    let spec = root().join(format!("specs/linux-{arch}.osm"));
    osm_compiler::compile_path(&spec)
        .result
        .unwrap_or_else(|_| panic!("{} checks", spec.display()))
}

/// Fields of `task_struct` beyond the models' own, as a check of the
/// readers rather than of one model.
const FIELDS: &[&str] = &[
    "pid",
    "tgid",
    "real_parent",
    "comm",
    "mm",
    "cred",
    "flags",
    "stack",
];

fn fields(layout: &dyn Layout) -> Vec<(String, u64, String)> {
    FIELDS
        .iter()
        .map(|f| {
            let m = layout
                .member("task_struct", f)
                .unwrap_or_else(|| panic!("{}: no task_struct.{f}", layout.describe()));
            (f.to_string(), m.offset, m.ty.to_string())
        })
        .collect()
}

/// The same kernel build described twice, by its BTF and by an ISF
/// profile of its DWARF: the same offsets and types, and the model
/// resolves to the same numbers through either.
fn btf_and_isf_agree(arch: &str, model_arch: &str) {
    let (image, profile) = guest(arch);
    let btf = load(&image).unwrap_or_else(|e| panic!("{e}"));
    let isf = load(&profile).unwrap_or_else(|e| panic!("{e}"));
    assert!(btf.describe().starts_with("BTF"), "{}", btf.describe());
    assert!(isf.describe().starts_with("ISF"), "{}", isf.describe());
    assert_eq!(fields(btf.as_ref()), fields(isf.as_ref()));
    // `char` is signed on x86, unsigned on arm64.
    let comm = btf.member("task_struct", "comm").unwrap().ty;
    assert!(
        matches!(&comm, MemberTy::Array { elem, count: 16 } if matches!(**elem, MemberTy::Int { bytes: 1, .. })),
        "{comm:?}"
    );
    let model = model(model_arch);
    let from_btf = resolve_refs(&model, btf.as_ref()).unwrap();
    let from_isf = resolve_refs(&model, isf.as_ref()).unwrap();
    assert_eq!(from_btf, from_isf);
    assert!(from_btf.iter().filter(|v| v.is_some()).count() >= 4);
}

#[test]
#[ignore = "needs scripts/setup.sh and Debian's archive; bash scripts/test.sh runs it"]
fn x86_64_btf_and_isf_agree() {
    btf_and_isf_agree("x86_64", "x86_64");
    // A per-CPU symbol: BTF's .data..percpu offset is the symbol's value.
    let (image, profile) = guest("x86_64");
    let (btf, isf) = (load(&image).unwrap(), load(&profile).unwrap());
    assert_eq!(btf.symbol("current_task"), isf.symbol("current_task"));
    assert!(btf.symbol("current_task").is_some_and(|a| a < 0x10_0000));
    assert_eq!(btf.symbol("pcpu_hot"), None, "a 6.1 kernel");
}

#[test]
#[ignore = "needs scripts/setup.sh and Debian's archive; bash scripts/test.sh runs it"]
fn aarch64_btf_and_isf_agree() {
    btf_and_isf_agree("aarch64", "aarch64");
}

#[test]
#[ignore = "needs scripts/setup.sh and Debian's archive; bash scripts/test.sh runs it"]
fn riscv64_btf_reads_from_the_efi_image() {
    // What `cargo xtask trace` gives kernel=: the image itself.
    let image = xtask_path("kernel", "riscv64");
    assert_eq!(image, image_beside(&image));
    let btf = load(&image).unwrap_or_else(|e| panic!("{e}"));
    assert!(btf.describe().contains("BTF blob"), "{}", btf.describe());
    let values = resolve_refs(&model("riscv64"), btf.as_ref()).unwrap();
    assert!(values.iter().all(Option::is_some), "{values:?}");
}

/// Debian's armmp kernel has no BTF: the plugin says what it tried and
/// what to give instead; its ISF profile has the layout, and is what
/// `cargo xtask trace` gives kernel=.
#[test]
#[ignore = "needs scripts/setup.sh and Debian's archive; bash scripts/test.sh runs it"]
fn arm_without_btf_is_refused_with_what_was_tried() {
    let (image, profile) = guest("arm");
    assert_eq!(xtask_path("kernel", "arm"), profile);
    let err = load(&image).err().expect("armmp has no BTF");
    for part in [
        "not ISF JSON",
        "no BTF blob",
        "xz payload",
        "CONFIG_DEBUG_INFO_BTF",
        "cargo xtask isf",
    ] {
        assert!(err.contains(part), "{part} missing from: {err}");
    }
    let isf = load(&profile).unwrap();
    let values = resolve_refs(&model("arm"), isf.as_ref()).unwrap();
    assert!(values.iter().all(Option::is_some), "{values:?}");
}

/// Debian's own Python, with python3-jsonschema and python3-pip
/// (scripts/setup.sh).
const PYTHON: &str = "/usr/bin/python3";

/// The profile is ISF as Volatility 3 defines it: its own JSON schema,
/// from the volatility3 package on PyPI, accepts it.
#[test]
#[ignore = "needs scripts/setup.sh and Debian's archive; bash scripts/test.sh runs it"]
fn isf_profiles_pass_volatility3s_schema() {
    let (_, profile) = guest("arm");
    let dir = root().join("target/osmtrace/volatility3");
    std::fs::create_dir_all(&dir).unwrap();
    let schema = dir.join("schema-6.2.0.json");
    if !schema.is_file() {
        let pip = Command::new(PYTHON)
            .args([
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "volatility3==2.28.2",
                "-d",
            ])
            .arg(&dir)
            .status()
            .expect("python3 runs");
        assert!(pip.success(), "pip download volatility3");
        let unzip = Command::new(PYTHON)
            .args([
                "-c",
                "import sys, zipfile, glob; z = zipfile.ZipFile(glob.glob(sys.argv[1] + '/volatility3-*.whl')[0]); open(sys.argv[2], 'wb').write(z.read('volatility3/schemas/schema-6.2.0.json'))",
            ])
            .arg(&dir)
            .arg(&schema)
            .status()
            .unwrap();
        assert!(unzip.success());
    }
    let check = Command::new(PYTHON)
        .args([
            "-c",
            "import sys, json, jsonschema; jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1]))); print('valid')",
        ])
        .arg(&schema)
        .arg(&profile)
        .output()
        .expect("python3 runs");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}
