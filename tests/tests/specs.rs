//! Snapshot tests of the model compiler: every `tests/specs/pass/*.osm`
//! snapshots its checked model, every `tests/specs/fail/*.osm` its rendered
//! diagnostics. Paths are relative to the `tests` crate so the snapshots do
//! not depend on where the checkout lives.

use osm_compiler::compile_path;
use std::path::{Path, PathBuf};

fn relative(path: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    path.strip_prefix(root)
        .expect("inputs are inside the tests crate")
        .to_path_buf()
}

fn in_crate_dir() {
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).expect("tests crate directory exists");
}

#[test]
fn passing_specs_snapshot_their_checked_model() {
    in_crate_dir();
    insta::glob!("../specs/pass", "*.osm", |path| {
        let compilation = compile_path(&relative(path));
        match &compilation.result {
            Ok(model) => insta::assert_snapshot!(model.pretty()),
            Err(_) => panic!(
                "{} should check:\n{}",
                path.display(),
                compilation.render_errors()
            ),
        }
    });
}

#[test]
fn failing_specs_snapshot_their_diagnostics() {
    in_crate_dir();
    insta::glob!("../specs/fail", "*.osm", |path| {
        let compilation = compile_path(&relative(path));
        assert!(
            compilation.result.is_err(),
            "{} should fail to check",
            path.display()
        );
        insta::assert_snapshot!(compilation.render_errors());
    });
}

/// Every fail case is a different mistake: each must produce at least one
/// diagnostic with a source location, and the suite must hold at least 25.
#[test]
fn fail_cases_are_many_and_located() {
    in_crate_dir();
    let dir = Path::new("specs/fail");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).expect("fail directory") {
        let path = entry.expect("directory entry").path();
        if path.extension().is_some_and(|e| e == "osm") {
            count += 1;
            let compilation = compile_path(&path);
            let diags = compilation.result.expect_err("fail case must fail");
            assert!(
                diags.iter().all(|d| d.primary_span().is_some()),
                "{}: every diagnostic points into the source",
                path.display()
            );
        }
    }
    assert!(count >= 25, "only {count} fail cases");
}

/// The models shipped in `specs/` check, except files that exist only to be
/// included by others.
#[test]
fn shipped_models_check() {
    let specs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&specs)
        .expect("specs directory")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "osm"))
        .collect();
    files.sort();
    let included: Vec<String> = files
        .iter()
        .flat_map(|p| {
            let text = std::fs::read_to_string(p).expect("readable spec");
            text.lines()
                .filter_map(|l| {
                    l.trim()
                        .strip_prefix("include \"")
                        .map(|r| r.trim_end_matches("\";").to_string())
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let mut models = 0;
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        if included.contains(&name) {
            continue;
        }
        let compilation = compile_path(file);
        if compilation.result.is_err() {
            panic!("{name} does not check:\n{}", compilation.render_errors());
        }
        models += 1;
    }
    assert!(models >= 2, "expected the x86_64 and arm models at least");
}

/// A snapshot whose input was renamed or deleted would otherwise linger
/// unreviewed; every snapshot must belong to an existing input.
#[test]
fn no_orphaned_snapshots() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(root.join("tests/snapshots")).expect("snapshot directory") {
        let name = entry
            .expect("directory entry")
            .file_name()
            .to_string_lossy()
            .to_string();
        let Some((test, input)) = name.strip_suffix(".snap").and_then(|n| n.split_once('@')) else {
            continue;
        };
        let dir = match test {
            "specs__passing_specs_snapshot_their_checked_model" => "pass",
            "specs__failing_specs_snapshot_their_diagnostics" => "fail",
            _ => continue,
        };
        assert!(
            root.join("specs").join(dir).join(input).exists(),
            "orphaned snapshot {name}"
        );
    }
}

/// The generated crate of a small model, as `cargo xtask generate` would
/// write it: reviewed like any other snapshot.
#[test]
fn generated_crate_snapshot() {
    in_crate_dir();
    let compilation = compile_path(Path::new("specs/pass/x86_64-minimal.osm"));
    let model = compilation.result.expect("the minimal model checks");
    let generated = osm_compiler::codegen::gen_crate(
        &model,
        "x86_64-minimal.osm",
        "cargo xtask generate",
        &osm_compiler::codegen::CrateKind::Member,
    )
    .expect("code generation succeeds");
    for (path, text) in &generated.files {
        if path.ends_with(".rs") || path.ends_with(".toml") {
            insta::assert_snapshot!(format!("generated-{}", path.replace('/', "-")), text);
        }
    }
}
