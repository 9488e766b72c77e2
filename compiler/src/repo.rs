//! The repository's generated crates against its models: which models
//! `specs/` ships, their crates generated as `generated/` holds them, and
//! whether those are current. `cargo xtask generate` writes them; a test
//! checks them in process.

use crate::codegen::{self, CrateKind, GeneratedCrate};
use crate::model::Model;
use std::path::{Path, PathBuf};

pub const GENERATE_COMMAND: &str = "cargo xtask generate";

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

impl crate::load::SourceLoader for RootedLoader<'_> {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(self.0.join(path))
    }
}

/// Compiles a model, named relative to `root` when it lies there (as the
/// generated crate names it), or returns rendered errors.
pub fn check(root: &Path, spec: &Path) -> Result<Model, String> {
    let compilation = match spec.strip_prefix(root) {
        Ok(relative) => crate::compile_with(relative, &RootedLoader(root)),
        Err(_) => crate::compile_path(spec),
    };
    let rendered = compilation.render_errors();
    compilation.result.map_err(|_| rendered)
}

/// Compiles a model and generates its crate, or returns rendered errors.
pub fn generate(root: &Path, spec: &Path, kind: &CrateKind) -> Result<GeneratedCrate, String> {
    let model = check(root, spec)?;
    codegen::gen_crate(&model, &spec_file_name(spec), GENERATE_COMMAND, kind)
}

/// Writes the files that differ (so cargo's change detection stays quiet),
/// or in check mode lists them. Returns the paths that were or are stale.
pub fn sync(dir: &Path, generated: &GeneratedCrate, check: bool) -> Result<Vec<PathBuf>, String> {
    let mut stale = Vec::new();
    // Files the generator no longer writes (a crate's old model.json); only
    // where it writes sources, not cargo's Cargo.lock beside them.
    for path in ["src", "tests"]
        .iter()
        .flat_map(|d| files_under(&dir.join(d)))
    {
        let relative = path.strip_prefix(dir).unwrap_or(&path);
        let relative = relative.to_string_lossy().replace('\\', "/");
        if generated.files.iter().any(|(name, _)| *name == relative) {
            continue;
        }
        stale.push(path.clone());
        if !check {
            std::fs::remove_file(&path)
                .map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
        }
    }
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
        match generate(root, &spec, &CrateKind::Member) {
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

/// Every file under `dir`, recursively; none when it does not exist.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(at) = pending.pop() {
        for entry in std::fs::read_dir(&at).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}
