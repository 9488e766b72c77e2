//! `cargo xtask generate` and `cargo xtask build`: models to plugin crates,
//! crates to plugins.

use osm_compiler::codegen::{self, CrateKind, GeneratedCrate};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const GENERATE_COMMAND: &str = "cargo xtask generate";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("the repository exists")
}

/// The models in `specs/`: every `.osm` file that no other spec includes
/// (the rest are shared definitions such as `linux-common.osm`).
pub fn shipped_models(root: &Path) -> Result<Vec<PathBuf>, String> {
    let specs = root.join("specs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&specs)
        .map_err(|e| format!("cannot list {}: {e}", specs.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "osm"))
        .collect();
    files.sort();
    let mut included = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        for line in text.lines() {
            if let Some(rest) = line.trim().strip_prefix("include \"")
                && let Some(name) = rest.split('"').next()
            {
                included.push(specs.join(name));
            }
        }
    }
    Ok(files
        .into_iter()
        .filter(|f| !included.contains(f))
        .collect())
}

pub fn spec_file_name(spec: &Path) -> String {
    spec.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Reads files relative to a base directory, so that models in the
/// repository are named `specs/x.osm` in generated code, never by a path
/// of the machine that generated it.
struct RootedLoader<'a>(&'a Path);

impl osm_compiler::load::SourceLoader for RootedLoader<'_> {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(self.0.join(path))
    }
}

/// Compiles a model and generates its crate, or returns rendered errors.
pub fn generate(spec: &Path, kind: &CrateKind) -> Result<GeneratedCrate, String> {
    let root = repo_root();
    let compilation = match spec.strip_prefix(&root) {
        Ok(relative) => osm_compiler::compile_with(relative, &RootedLoader(&root)),
        Err(_) => osm_compiler::compile_path(spec),
    };
    let model = match &compilation.result {
        Ok(model) => model,
        Err(_) => return Err(compilation.render_errors()),
    };
    codegen::gen_crate(model, &spec_file_name(spec), GENERATE_COMMAND, kind)
}

/// Writes the files that differ (so cargo's change detection stays quiet),
/// or in check mode lists them. Returns the paths that were or are stale.
pub fn sync(dir: &Path, generated: &GeneratedCrate, check: bool) -> Result<Vec<PathBuf>, String> {
    let mut stale = Vec::new();
    for (relative, contents) in &generated.files {
        let path = dir.join(relative);
        if std::fs::read_to_string(&path).ok().as_deref() == Some(contents.as_str()) {
            continue;
        }
        stale.push(path.clone());
        if !check {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
            }
            std::fs::write(&path, contents)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
    }
    Ok(stale)
}

/// Brings `generated/` in line with `specs/` (or, in check mode, lists what
/// differs, including crates whose model is gone).
pub fn generate_all(root: &Path, check: bool) -> Result<Vec<PathBuf>, String> {
    let mut stale = Vec::new();
    let mut expected_dirs = Vec::new();
    let mut errors = String::new();
    for spec in shipped_models(root)? {
        let name = codegen::crate_dir_name(&spec_file_name(&spec));
        let dir = root.join("generated").join(&name);
        expected_dirs.push(dir.clone());
        match generate(&spec, &CrateKind::Member) {
            Ok(generated) => stale.extend(sync(&dir, &generated, check)?),
            Err(e) => errors.push_str(&e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if let Ok(entries) = std::fs::read_dir(root.join("generated")) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() && !expected_dirs.contains(&path) {
                stale.push(path.clone());
                if !check {
                    std::fs::remove_dir_all(&path)
                        .map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
                }
            }
        }
    }
    Ok(stale)
}

/// Builds the plugin of one model in release mode; returns the `.so` path.
/// A model from `specs/` builds from its crate in `generated/`, which must be
/// current; any other model is generated into a scratch crate under
/// `target/`, so it can live anywhere.
/// A model's plugin crate, ready to build: its manifest and the target
/// directory to build it in. A model from `specs/` uses its crate in
/// `generated/`, which must be current; any other model is generated into a
/// scratch crate under `target/`, so it can live anywhere.
pub struct ModelCrate {
    pub spec_file_name: String,
    pub manifest: PathBuf,
    pub target_dir: PathBuf,
}

pub fn model_crate(root: &Path, spec: &Path) -> Result<ModelCrate, String> {
    let spec = spec
        .canonicalize()
        .map_err(|e| format!("cannot read model file `{}`: {e}", spec.display()))?;
    let file_name = spec_file_name(&spec);
    let in_repo = spec.parent() == Some(root.join("specs").as_path())
        && shipped_models(root)?.contains(&spec);
    let (manifest, target_dir) = if in_repo {
        let generated = generate(&spec, &CrateKind::Member)?;
        let dir = root
            .join("generated")
            .join(codegen::crate_dir_name(&file_name));
        let stale = sync(&dir, &generated, true)?;
        if !stale.is_empty() {
            return Err(format!(
                "generated code for {file_name} is out of date ({}); run `{GENERATE_COMMAND}` and review the change",
                stale
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        (dir.join("Cargo.toml"), root.join("target"))
    } else {
        let runtime_path = root.join("runtime").display().to_string();
        let vectors_path = spec.with_extension("tests").display().to_string();
        let generated = generate(
            &spec,
            &CrateKind::Standalone {
                runtime_path,
                vectors_path,
            },
        )?;
        let dir = root
            .join("target/osmtrace/models")
            .join(codegen::crate_dir_name(&file_name));
        sync(&dir, &generated, false)?;
        (
            dir.join("Cargo.toml"),
            root.join("target/osmtrace/models-target"),
        )
    };
    Ok(ModelCrate {
        spec_file_name: file_name,
        manifest,
        target_dir,
    })
}

/// Runs a model's test vectors (`<model>.tests` beside it) through its
/// generated decoders, without QEMU; the report shows a diff for each
/// failing test.
pub fn test_spec(root: &Path, spec: &Path) -> Result<(), String> {
    let krate = model_crate(root, spec)?;
    let vectors = spec.with_extension("tests");
    if !vectors.exists() {
        return Err(format!(
            "{} has no test vectors: write {} (format: docs/osm-language.md, \"Test vectors\")",
            spec.display(),
            vectors.display()
        ));
    }
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["test", "--quiet", "--test", "vectors", "--manifest-path"])
        .arg(&krate.manifest)
        .args(["--", "--nocapture"])
        .env("CARGO_TARGET_DIR", &krate.target_dir)
        .env("RUST_BACKTRACE", "0")
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("test vectors of {} failed", krate.spec_file_name))
    }
}

/// Builds the plugin of one model in release mode; returns the `.so` path.
pub fn build_plugin(root: &Path, spec: &Path, quiet: bool) -> Result<PathBuf, String> {
    let ModelCrate {
        spec_file_name: file_name,
        manifest,
        target_dir,
    } = model_crate(root, spec)?;
    let package = codegen::package_name(&file_name);
    if !cargo_build_plugin(&manifest, &[], &target_dir, quiet)? {
        return Err(format!("building the plugin for {file_name} failed"));
    }
    let library = target_dir
        .join("release")
        .join(codegen::library_file_name(&file_name));
    if !library.exists() {
        return Err(format!(
            "cargo built {package} but {} is missing",
            library.display()
        ));
    }
    Ok(library)
}

/// Builds the plugins of models of `specs/` in one cargo run (which
/// builds them side by side); returns their `.so` paths, in order.
pub fn build_plugins(root: &Path, specs: &[PathBuf], quiet: bool) -> Result<Vec<PathBuf>, String> {
    let mut select = Vec::new();
    let mut features = Vec::new();
    let mut libraries = Vec::new();
    for spec in specs {
        let krate = model_crate(root, spec)?;
        if krate.target_dir != root.join("target") {
            return Err(format!("{} is not a model of specs/", spec.display()));
        }
        let package = codegen::package_name(&krate.spec_file_name);
        features.push(format!("{package}/qemu"));
        select.push("--package".to_string());
        select.push(package);
        libraries.push(
            krate
                .target_dir
                .join("release")
                .join(codegen::library_file_name(&krate.spec_file_name)),
        );
    }
    if specs.is_empty() {
        return Ok(libraries);
    }
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo
        .args(["build", "--release", "--features", &features.join(",")])
        .args(&select)
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", root.join("target"));
    if quiet {
        cargo.arg("--quiet");
    }
    let status = cargo
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("building the plugins failed".to_string());
    }
    for library in &libraries {
        if !library.exists() {
            return Err(format!(
                "cargo built the plugins but {} is missing",
                library.display()
            ));
        }
    }
    Ok(libraries)
}

/// Builds the generic plugin (`libosmtrace.so`, the model given at run time
/// with `spec=`); returns its path.
pub fn build_generic(root: &Path, quiet: bool) -> Result<PathBuf, String> {
    let target_dir = root.join("target");
    if !cargo_build_plugin(
        &root.join("Cargo.toml"),
        &["--package", "osmtrace"],
        &target_dir,
        quiet,
    )? {
        return Err("building the generic plugin failed".to_string());
    }
    Ok(target_dir.join("release/libosmtrace.so"))
}

/// `cargo build --release --features qemu` of a plugin crate; whether it
/// succeeded.
fn cargo_build_plugin(
    manifest: &Path,
    select: &[&str],
    target_dir: &Path,
    quiet: bool,
) -> Result<bool, String> {
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo
        .args(["build", "--release", "--features", "qemu"])
        .args(select)
        .arg("--manifest-path")
        .arg(manifest)
        .env("CARGO_TARGET_DIR", target_dir);
    if quiet {
        cargo.arg("--quiet");
    }
    let status = cargo
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    Ok(status.success())
}
