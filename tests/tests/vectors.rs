//! Model test vectors beyond the generated crates' own tests: the same
//! vectors through the interpreted backend (the generic plugin's), a wrong
//! vector's report, and the imported tables being current.

use osm_runtime::interp::Interpreted;
use osm_runtime::vectors::run_file;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn models_with_vectors() -> Vec<(PathBuf, PathBuf)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root().join("specs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "tests") {
            found.push((path.with_extension("osm"), path));
        }
    }
    found.sort();
    found
}

#[test]
fn every_model_ships_vectors() {
    let out = Command::new(env!("CARGO"))
        .args(["xtask", "build", "--all", "--check"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(out.status.success());
    let generated: Vec<String> = std::fs::read_dir(root().join("generated"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for name in generated {
        assert!(
            root().join("specs").join(format!("{name}.tests")).exists(),
            "specs/{name}.osm has no test vectors"
        );
    }
}

/// The interpreted backend reads the same values as the generated code:
/// every model's vectors pass through it too.
#[test]
fn vectors_pass_through_the_interpreted_backend() {
    let pairs = models_with_vectors();
    assert!(
        pairs.len() >= 5,
        "vectors for the Linux, Windows and FreeBSD models"
    );
    for (spec, vectors) in pairs {
        let compilation = osm_compiler::compile_path(&spec);
        let errors = compilation.render_errors();
        let model = compilation.result.unwrap_or_else(|_| panic!("{errors}"));
        let text = std::fs::read_to_string(&vectors).unwrap();
        let name = vectors.file_name().unwrap().to_string_lossy().into_owned();
        let (report, ok) = run_file(
            || Interpreted::new(model.clone(), &name),
            &model,
            &text,
            &name,
        );
        assert!(ok, "{report}");
    }
}

/// A vector that is wrong fails, and the report says where and how: the
/// test's line, `-` for what was expected, `+` for what the model produced.
#[test]
fn a_wrong_vector_fails_with_a_readable_diff() {
    let spec = root().join("specs/windows-xp-i386.osm");
    let model = osm_compiler::compile_path(&spec).result.ok().unwrap();
    let text = std::fs::read_to_string(spec.with_extension("tests")).unwrap();
    let wrong = text.replacen(
        "arg 6: 0xbc (ULONG Length )",
        "arg 6: 0xbd (ULONG Length )",
        1,
    );
    assert_ne!(text, wrong);
    let (report, ok) = run_file(
        || Interpreted::new(model.clone(), "x"),
        &model,
        &wrong,
        "windows-xp-i386.tests",
    );
    assert!(!ok);
    assert!(
        report.contains("FAILED: windows-xp-i386.tests:13: the paper's Figure 1"),
        "{report}"
    );
    assert!(
        report.contains(" - arg 6: 0xbd (ULONG Length )\n"),
        "{report}"
    );
    assert!(
        report.contains(" + arg 6: 0xbc (ULONG Length )\n"),
        "{report}"
    );
    assert!(
        report.contains("   arg 5: 0x9059f8 (PVOID Buffer )\n"),
        "context lines are kept: {report}"
    );
    assert!(report.contains(" passed, 1 failed"), "{report}");
}

/// An entry's `bytes` are the instruction the model's `insn` reads: bytes
/// that are not the mechanism's instruction are refused, not traced.
#[test]
fn entry_bytes_must_match_the_mechanism() {
    let spec = root().join("specs/linux-s390x.osm");
    let model = osm_compiler::compile_path(&spec).result.ok().unwrap();
    let text = std::fs::read_to_string(spec.with_extension("tests")).unwrap();
    let wrong = text.replacen(
        "entry svc at 0x1000400 bytes 0a 04",
        "entry svc at 0x1000400 bytes 0b 04",
        1,
    );
    assert_ne!(text, wrong);
    let (report, ok) = run_file(
        || Interpreted::new(model.clone(), "x"),
        &model,
        &wrong,
        "linux-s390x.tests",
    );
    assert!(!ok);
    assert!(
        report.contains("bytes 0b 04 at 0x1000400 do not match the entry pattern of `svc`"),
        "{report}"
    );
}

/// The Windows and FreeBSD tables are exactly what the importer writes
/// from the shared prototype lists.
#[test]
fn imported_tables_are_current() {
    let out = Command::new(env!("CARGO"))
        .args(["xtask", "import-panda", "--check"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
