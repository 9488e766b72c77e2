//! The release: `cargo xtask dist` builds every model's plugin and the
//! generic one into a tarball whose manifest holds the files' digests, and
//! a Debian package; the package, installed into a private root, traces a
//! guest with its own plugin and model, nothing built from the repository.
//!
//! Needs dpkg, tar, sha256sum and QEMU (`scripts/setup.sh`).

mod common;

use common::{arg_text, arg_value, is_exit, name, read_jsonl, root};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn run(command: &mut Command) -> Output {
    let out = command.output().expect("the command runs");
    assert!(
        out.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The plugin library of each model in specs/, as the build names it (one
/// crate in generated/ per shipped model, which the generated test keeps
/// so), or of the models `only` names.
fn shipped_plugins(only: &[&str]) -> Vec<(String, String)> {
    let mut models: Vec<(String, String)> = std::fs::read_dir(root().join("generated"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|model| only.is_empty() || only.contains(&model.as_str()))
        .map(|model| {
            let library = format!("libosmtrace_{}.so", model.replace('-', "_"));
            (format!("{model}.osm"), library)
        })
        .collect();
    models.sort();
    assert!(
        models.len() >= if only.is_empty() { 10 } else { only.len() },
        "{models:?}"
    );
    models
}

fn sha256sum(file: &Path) -> String {
    let out = run(Command::new("sha256sum").arg(file));
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

fn files_under(dir: &Path, base: &Path, into: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, base, into);
        } else {
            into.push(path.strip_prefix(base).unwrap().display().to_string());
        }
    }
}

/// Every model's plugin takes minutes to build in release: the default
/// tier builds the release of one model (and the generic plugin).
#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn release_of_one_model_installs_and_traces_with_the_installed_plugin() {
    release(&["linux-x86_64"]);
}

#[test]
#[ignore = "full tier: bash scripts/test.sh --full"]
fn release_of_every_model_installs_and_traces_with_the_installed_plugin() {
    release(&[]);
}

/// Both releases write target/dist.
static DIST: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// `cargo xtask dist` of the models `only` names (all when empty): the
/// tarball, its digests, the Debian package installed into a root of its
/// own, and a trace with the installed x86_64 plugin.
fn release(only: &[&str]) {
    let _one_at_a_time = DIST.lock().unwrap_or_else(|e| e.into_inner());
    let dist = root().join("target/dist");
    let base = format!("osmtrace-{VERSION}-x86_64-linux");
    let tarball = dist.join(format!("{base}.tar.gz"));
    let deb = dist.join(format!("osmtrace_{VERSION}_amd64.deb"));
    let mut args = vec!["dist".to_string()];
    for model in only {
        args.push("--spec".to_string());
        args.push(format!("specs/{model}.osm"));
    }
    let out = common::cargo_xtask(args);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains(&tarball.canonicalize().unwrap().display().to_string()));
    assert!(printed.contains(&deb.canonicalize().unwrap().display().to_string()));

    // The tarball: every plugin and model, and digests that match.
    let work = root().join("target/osmtrace/dist-test");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    run(Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(&work));
    let tree = work.join(&base);
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(tree.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["osmtrace_version"], VERSION);
    assert_eq!(manifest["qemu_plugin_api_version"], 4);
    let plugins = manifest["plugins"].as_array().unwrap();
    let by_file = |file: &str| {
        plugins
            .iter()
            .find(|p| p["file"] == file)
            .unwrap_or_else(|| panic!("{file} not in the manifest: {manifest:#}"))
    };
    for (model, library) in shipped_plugins(only) {
        assert!(tree.join("plugins").join(&library).is_file(), "{library}");
        assert!(tree.join("models").join(&model).is_file(), "{model}");
        let plugin = by_file(&format!("plugins/{library}"));
        assert_eq!(plugin["model"], format!("models/{model}"));
        assert!(plugin["arch"].is_string(), "{plugin}");
        assert_eq!(plugin["qemu_plugin_api_version"], 4);
        assert_eq!(plugin["osmtrace_version"], VERSION);
    }
    let generic = by_file("plugins/libosmtrace.so");
    assert_eq!(generic["generic"], true);
    assert!(tree.join("plugins/libosmtrace.so").is_file());
    // An included model ships with the models that include it.
    assert!(tree.join("models/linux-common.osm").is_file());
    assert!(tree.join("README.md").is_file() && tree.join("copyright").is_file());
    let digests = manifest["sha256"].as_object().unwrap();
    let mut files = Vec::new();
    files_under(&tree, &tree, &mut files);
    files.retain(|f| f != "manifest.json");
    files.sort();
    let mut listed: Vec<&String> = digests.keys().collect();
    listed.sort();
    assert_eq!(
        listed,
        files.iter().collect::<Vec<_>>(),
        "every file has a digest"
    );
    for (file, digest) in digests {
        assert_eq!(digest, &sha256sum(&tree.join(file)), "{file}");
    }

    // The Debian package, installed into a root of its own (QEMU is not in
    // that root's package database, hence --force-depends).
    let installed = work.join("root");
    let admin = installed.join("var/lib/dpkg");
    for dir in ["info", "updates"] {
        std::fs::create_dir_all(admin.join(dir)).unwrap();
    }
    std::fs::write(admin.join("status"), "").unwrap();
    run(Command::new("dpkg")
        .arg(format!("--root={}", installed.display()))
        .args([
            "--force-depends",
            "--force-not-root",
            "--log=/dev/null",
            "-i",
        ])
        .arg(&deb));
    let status = std::fs::read_to_string(admin.join("status")).unwrap();
    assert!(
        status.contains("Package: osmtrace\nStatus: install ok installed"),
        "{status}"
    );
    let copyright =
        std::fs::read_to_string(installed.join("usr/share/doc/osmtrace/copyright")).unwrap();
    assert!(copyright.contains("GPL-2.0-or-later") && copyright.contains("GPL-3.0-or-later"));
    for (model, library) in shipped_plugins(only) {
        assert!(
            installed
                .join("usr/lib/osmtrace/plugins")
                .join(library)
                .is_file()
        );
        assert!(
            installed
                .join("usr/share/osmtrace/models")
                .join(model)
                .is_file()
        );
    }
    assert!(
        installed
            .join("usr/lib/osmtrace/plugins/libosmtrace.so")
            .is_file()
    );

    // A trace with the installed plugin and model only.
    let spec: PathBuf = installed.join("usr/share/osmtrace/models/linux-x86_64.osm");
    let plugin = installed.join("usr/lib/osmtrace/plugins/libosmtrace_linux_x86_64.so");
    let trace = work.join("trace.jsonl");
    let out = Command::new(env!("CARGO"))
        .args(["xtask", "trace", "--spec"])
        .arg(&spec)
        .arg("--plugin")
        .arg(&plugin)
        .args([
            "--cmd",
            "cat /proc/version",
            "--plugin-args",
            "format=jsonl",
        ])
        .arg("--out")
        .arg(&trace)
        .current_dir(root())
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("building the plugin"), "{stderr}");
    assert!(
        stderr.contains("Linux version"),
        "the command's output: {stderr}"
    );
    let events = read_jsonl(&trace);
    let found = |what: &str, test: &dyn Fn(&Value) -> bool| {
        assert!(
            events.iter().any(|e| is_exit(e) && test(e)),
            "no {what} in {}",
            trace.display()
        );
    };
    found("execve of cat", &|e| {
        name(e) == "execve" && arg_text(e, 1) == r#"["cat", "/proc/version"]"#
    });
    let cat = |e: &Value| e["comm"] == "cat";
    found("openat of /proc/version", &|e| {
        cat(e)
            && name(e) == "openat"
            && arg_text(e, 1) == r#""/proc/version""#
            && e["ret"].as_i64().is_some_and(|fd| fd >= 0)
    });
    // busybox's cat copies with sendfile where it can.
    found("output of cat", &|e| {
        cat(e)
            && matches!(name(e), "write" | "sendfile")
            && arg_value(e, 0) == 1
            && e["ret"].as_i64().is_some_and(|n| n > 0)
    });
}

#[test]
fn trace_refuses_a_plugin_file_that_is_not_there() {
    let out = Command::new(env!("CARGO"))
        .args(["xtask", "trace", "--spec", "specs/linux-x86_64.osm"])
        .args(["--plugin", "/nonexistent/libosmtrace_linux_x86_64.so"])
        .current_dir(root())
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("--plugin /nonexistent/libosmtrace_linux_x86_64.so: no such file"),
        "{stderr}"
    );
    assert!(!stderr.contains("building"), "{stderr}");
}
