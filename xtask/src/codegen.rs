//! `cargo xtask generate` and `cargo xtask build`: models to plugin crates,
//! crates to plugins.

use anyhow::{Context as _, Result, anyhow, bail};
use osm_compiler::codegen::{self, CrateKind};
pub use osm_compiler::repo::{
    GENERATE_COMMAND, generate_all, shipped_models, spec_file_name, sync,
};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("the repository exists")
}

/// A model's plugin crate, ready to build: its manifest and the target
/// directory to build it in. A model from `specs/` uses its crate in
/// `generated/`, which must be current; any other model is generated into a
/// scratch crate under `target/`, so it can live anywhere.
pub struct ModelCrate {
    pub spec_file_name: String,
    /// A model of `specs/`, whose crate is a workspace member.
    pub in_repo: bool,
    pub manifest: PathBuf,
    pub target_dir: PathBuf,
}

pub fn model_crate(root: &Path, spec: &Path) -> Result<ModelCrate> {
    let spec = spec
        .canonicalize()
        .with_context(|| format!("cannot read model file `{}`", spec.display()))?;
    let file_name = spec_file_name(&spec);
    let in_repo = spec.parent() == Some(root.join("specs").as_path())
        && shipped_models(root)
            .map_err(anyhow::Error::msg)?
            .contains(&spec);
    let (manifest, target_dir) = if in_repo {
        let generated = osm_compiler::repo::generate(root, &spec, &CrateKind::Member)
            .map_err(anyhow::Error::msg)?;
        let dir = root
            .join("generated")
            .join(codegen::crate_dir_name(&file_name));
        let stale = sync(&dir, &generated, true).map_err(anyhow::Error::msg)?;
        if !stale.is_empty() {
            bail!(
                "generated code for {file_name} is out of date ({}); run `{GENERATE_COMMAND}` and review the change",
                stale
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        (dir.join("Cargo.toml"), root.join("target"))
    } else {
        let runtime_path = root.join("runtime").display().to_string();
        let vectors_path = spec.with_extension("tests").display().to_string();
        let generated = osm_compiler::repo::generate(
            root,
            &spec,
            &CrateKind::Standalone {
                runtime_path,
                vectors_path,
            },
        )
        .map_err(anyhow::Error::msg)?;
        let dir = root
            .join("target/osmtrace/models")
            .join(codegen::crate_dir_name(&file_name));
        sync(&dir, &generated, false).map_err(anyhow::Error::msg)?;
        // The workspace's lock file and target directory, so that the
        // runtime and its dependencies built for the shipped plugins serve
        // this one too; a model named as a shipped one gets a directory of
        // its own, where its library cannot replace the shipped one's.
        let lock = dir.join("Cargo.lock");
        if !lock.exists() {
            fs::copy(root.join("Cargo.lock"), &lock)
                .with_context(|| format!("cannot write {}", lock.display()))?;
        }
        let shadows_shipped = shipped_models(root)
            .map_err(anyhow::Error::msg)?
            .iter()
            .any(|shipped| spec_file_name(shipped) == file_name);
        let target_dir = if shadows_shipped {
            root.join("target/osmtrace/models-target")
        } else {
            root.join("target")
        };
        (dir.join("Cargo.toml"), target_dir)
    };
    Ok(ModelCrate {
        spec_file_name: file_name,
        in_repo,
        manifest,
        target_dir,
    })
}

/// Runs a model's test vectors (`<model>.tests` beside it) through its
/// generated decoders, without QEMU; the report shows a diff for each
/// failing test.
pub fn test_spec(root: &Path, spec: &Path) -> Result<()> {
    let krate = model_crate(root, spec)?;
    let vectors = spec.with_extension("tests");
    if !vectors.exists() {
        bail!(
            "{} has no test vectors: write {} (format: docs/osm-language.md, \"Test vectors\")",
            spec.display(),
            vectors.display()
        );
    }
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["test", "--quiet", "--test", "vectors", "--manifest-path"])
        .arg(&krate.manifest)
        .args(["--", "--nocapture"])
        .env("CARGO_TARGET_DIR", &krate.target_dir)
        .env("RUST_BACKTRACE", "0")
        .status()
        .context("cannot run cargo")?;
    if status.success() {
        Ok(())
    } else {
        Err(anyhow!("test vectors of {} failed", krate.spec_file_name))
    }
}

/// Builds the plugin of one model in release mode; returns the `.so` path.
pub fn build_plugin(root: &Path, spec: &Path, quiet: bool) -> Result<PathBuf> {
    let ModelCrate {
        spec_file_name: file_name,
        manifest,
        target_dir,
        ..
    } = model_crate(root, spec)?;
    let package = codegen::package_name(&file_name);
    if !cargo_build_plugin(&manifest, &[], &target_dir, quiet)? {
        bail!("building the plugin for {file_name} failed");
    }
    let library = target_dir
        .join("release")
        .join(codegen::library_file_name(&file_name));
    if !library.exists() {
        bail!("cargo built {package} but {} is missing", library.display());
    }
    Ok(library)
}

/// Builds the plugins of models of `specs/` in one cargo run (which
/// builds them side by side); returns their `.so` paths, in order.
pub fn build_plugins(root: &Path, specs: &[PathBuf], quiet: bool) -> Result<Vec<PathBuf>> {
    let mut select = Vec::new();
    let mut features = Vec::new();
    let mut libraries = Vec::new();
    for spec in specs {
        let krate = model_crate(root, spec)?;
        if !krate.in_repo {
            bail!("{} is not a model of specs/", spec.display());
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
    let status = cargo.status().context("cannot run cargo")?;
    if !status.success() {
        bail!("building the plugins failed");
    }
    for library in &libraries {
        if !library.exists() {
            bail!(
                "cargo built the plugins but {} is missing",
                library.display()
            );
        }
    }
    Ok(libraries)
}

/// Builds the generic plugin (`libosmtrace.so`, the model given at run time
/// with `spec=`); returns its path.
pub fn build_generic(root: &Path, quiet: bool) -> Result<PathBuf> {
    let target_dir = root.join("target");
    if !cargo_build_plugin(
        &root.join("Cargo.toml"),
        &["--package", "osmtrace"],
        &target_dir,
        quiet,
    )? {
        bail!("building the generic plugin failed");
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
) -> Result<bool> {
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
    let status = cargo.status().context("cannot run cargo")?;
    Ok(status.success())
}
