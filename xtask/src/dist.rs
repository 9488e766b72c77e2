//! `cargo xtask dist`: the release. Every shipped model's plugin and the
//! generic plugin, built for the host, with the models, the documentation
//! and a manifest, as a tarball and as a Debian package.

use crate::codegen;
use crate::guest::{self, GuestArch};
use anyhow::{Context as _, Result, anyhow, bail};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The version of the workspace (xtask inherits it).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Where Debian's package installs what.
pub const DEB_PLUGINS: &str = "usr/lib/osmtrace/plugins";
pub const DEB_MODELS: &str = "usr/share/osmtrace/models";
pub const DEB_DOCS: &str = "usr/share/doc/osmtrace";

#[derive(clap::Args, Debug)]
pub struct DistOptions {
    /// Only this model of specs/ (repeatable; default: every one). The
    /// generic plugin is always included.
    #[arg(long, value_name = "MODEL")]
    pub spec: Vec<PathBuf>,
}

/// One plugin of the release and the model it was built from.
struct Plugin {
    library: PathBuf,
    /// The model's file name; None for the generic plugin.
    model: Option<String>,
    arch: Option<String>,
}

pub fn run(options: &DistOptions) -> Result<()> {
    let root = codegen::repo_root();
    let shipped = codegen::shipped_models(&root).map_err(anyhow::Error::msg)?;
    let models = if options.spec.is_empty() {
        shipped.clone()
    } else {
        let mut chosen = Vec::new();
        for spec in &options.spec {
            let spec = spec
                .canonicalize()
                .with_context(|| format!("--spec {}", spec.display()))?;
            if !shipped.contains(&spec) {
                bail!(
                    "--spec {}: not one of the models the release ships ({})",
                    spec.display(),
                    shipped
                        .iter()
                        .map(|s| codegen::spec_file_name(s))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            if !chosen.contains(&spec) {
                chosen.push(spec);
            }
        }
        chosen
    };

    let mut plugins = Vec::new();
    let mut model_files = BTreeSet::new();
    for spec in &models {
        let (arch, sources) = model_sources(&root, spec)?;
        model_files.extend(sources);
        let name = codegen::spec_file_name(spec);
        plugins.push(Plugin {
            library: PathBuf::new(),
            model: Some(name),
            arch: Some(arch),
        });
    }
    let libraries = codegen::build_plugins(&root, &models, false)?;
    for (plugin, library) in plugins.iter_mut().zip(libraries) {
        plugin.library = library;
    }
    eprintln!("osmtrace: building the generic plugin");
    plugins.push(Plugin {
        library: codegen::build_generic(&root, false)?,
        model: None,
        arch: None,
    });
    let api_version = plugin_api_versions(&plugins)?;

    let dist = root.join("target/dist");
    let stage = dist.join("stage");
    if stage.exists() {
        std::fs::remove_dir_all(&stage)
            .with_context(|| format!("cannot remove {}", stage.display()))?;
    }
    let docs = doc_files(&root)?;
    let copyright = copyright(&root, &models)?;
    let mtime = source_date_epoch(&root);

    // The tarball: one directory with the layout of the repository's
    // release files, so README's links to docs/ work.
    let base = format!("osmtrace-{VERSION}-x86_64-linux");
    let tree = stage.join(&base);
    for plugin in &plugins {
        copy(&plugin.library, &tree.join("plugins"))?;
    }
    for model in &model_files {
        copy(model, &tree.join("models"))?;
    }
    for (relative, file) in &docs {
        copy(file, &tree.join(relative).with_file_name(""))?;
    }
    write(&tree.join("copyright"), &copyright)?;
    let manifest = manifest(&tree, &plugins, api_version)?;
    write(&tree.join("manifest.json"), &manifest)?;
    let tarball = dist.join(format!("{base}.tar.gz"));
    write_tarball(&tree, &base, mtime, &tarball)?;

    // The Debian package, from a staging root.
    let deb_root = stage.join("deb");
    for plugin in &plugins {
        copy(&plugin.library, &deb_root.join(DEB_PLUGINS))?;
    }
    for model in &model_files {
        copy(model, &deb_root.join(DEB_MODELS))?;
    }
    for (relative, file) in &docs {
        copy(
            file,
            &deb_root.join(DEB_DOCS).join(relative).with_file_name(""),
        )?;
    }
    write(&deb_root.join(DEB_DOCS).join("copyright"), &copyright)?;
    let installed_kib = tree_size(&deb_root)?.div_ceil(1024);
    write(
        &deb_root.join("DEBIAN/control"),
        &deb_control(&plugins, installed_kib),
    )?;
    let deb = dist.join(format!("osmtrace_{VERSION}_amd64.deb"));
    build_deb(&deb_root, mtime, &deb)?;

    println!("{}", tarball.display());
    println!("{}", deb.display());
    Ok(())
}

/// A model's architecture and every file it is read from (itself and what
/// it includes), found by compiling it with a loader that notes them.
fn model_sources(root: &Path, spec: &Path) -> Result<(String, Vec<PathBuf>)> {
    struct Noting<'a> {
        base: &'a Path,
        read: std::cell::RefCell<Vec<PathBuf>>,
    }
    impl osm_compiler::load::SourceLoader for Noting<'_> {
        fn load(&self, path: &Path) -> std::io::Result<String> {
            let path = self.base.join(path);
            let text = std::fs::read_to_string(&path)?;
            self.read.borrow_mut().push(path);
            Ok(text)
        }
    }
    let loader = Noting {
        base: root,
        read: Default::default(),
    };
    let relative = spec.strip_prefix(root).unwrap_or(spec);
    let compilation = osm_compiler::compile_with(relative, &loader);
    let model = match &compilation.result {
        Ok(model) => model,
        Err(_) => bail!(compilation.render_errors()),
    };
    let mut read = loader.read.into_inner();
    for file in &read {
        if file.parent() != spec.parent() {
            // The release flattens models into one directory, where an
            // include that leaves it would not resolve.
            bail!(
                "{} includes {}, outside {}",
                spec.display(),
                file.display(),
                root.join("specs").display()
            );
        }
    }
    read.sort();
    read.dedup();
    Ok((model.arch.name().to_string(), read))
}

/// The documentation shipped: README.md, BENCHMARKS.md and docs/*.md, by
/// their paths relative to the repository.
fn doc_files(root: &Path) -> Result<Vec<(PathBuf, PathBuf)>> {
    let mut docs: Vec<(PathBuf, PathBuf)> = ["README.md", "BENCHMARKS.md"]
        .iter()
        .map(|name| (PathBuf::from(name), root.join(name)))
        .collect();
    let dir = root.join("docs");
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    for page in pages {
        let relative = page.strip_prefix(root).unwrap_or(&page).to_path_buf();
        docs.push((relative, page));
    }
    Ok(docs)
}

/// Each plugin's `qemu_plugin_version`, read from the library itself, so
/// the manifest states what QEMU will check; all must agree.
fn plugin_api_versions(plugins: &[Plugin]) -> Result<u32> {
    let mut versions = BTreeSet::new();
    for plugin in plugins {
        versions.insert(plugin_api_version(&plugin.library)?);
    }
    match versions.into_iter().collect::<Vec<_>>().as_slice() {
        [version] => Ok(*version),
        several => Err(anyhow!(
            "the plugins were built for different QEMU plugin API versions: {several:?}"
        )),
    }
}

pub fn plugin_api_version(library: &Path) -> Result<u32> {
    use object::{Object, ObjectSection, ObjectSymbol};
    let shown = library.display();
    let data = std::fs::read(library).with_context(|| shown.to_string())?;
    let file = object::File::parse(&*data).with_context(|| shown.to_string())?;
    let symbol = file
        .dynamic_symbols()
        .find(|s| s.name() == Ok("qemu_plugin_version"))
        .with_context(|| format!("{shown}: no qemu_plugin_version: not a QEMU plugin"))?;
    let bytes = symbol
        .section_index()
        .and_then(|index| file.section_by_index(index).ok())
        .and_then(|section| section.data_range(symbol.address(), 4).ok().flatten())
        .with_context(|| format!("{shown}: cannot read qemu_plugin_version"))?;
    let bytes: [u8; 4] = bytes.try_into().expect("4 bytes");
    Ok(if file.is_little_endian() {
        u32::from_le_bytes(bytes)
    } else {
        u32::from_be_bytes(bytes)
    })
}

/// `manifest.json`: what each plugin is, and the sha256 of every file of
/// the release directory `tree` (but the manifest).
fn manifest(tree: &Path, plugins: &[Plugin], api_version: u32) -> Result<String> {
    let plugins: Vec<serde_json::Value> = plugins
        .iter()
        .map(|p| {
            let file = format!("plugins/{}", file_name(&p.library));
            serde_json::json!({
                "file": file,
                "model": p.model.as_ref().map(|m| format!("models/{m}")),
                "arch": p.arch,
                "generic": p.model.is_none(),
                "qemu_plugin_api_version": api_version,
                "osmtrace_version": VERSION,
            })
        })
        .collect();
    let mut sha256 = BTreeMap::new();
    for file in files_under(tree)? {
        let relative = relative_name(tree, &file);
        sha256.insert(relative, sha256_file(&file)?);
    }
    let manifest = serde_json::json!({
        "osmtrace_version": VERSION,
        "host": "x86_64-linux",
        "qemu_plugin_api_version": api_version,
        "plugins": plugins,
        "sha256": sha256,
    });
    Ok(serde_json::to_string_pretty(&manifest).expect("JSON") + "\n")
}

pub fn sha256_file(path: &Path) -> Result<String> {
    let data = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Sha256::digest(&data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The `copyright` file (Debian's machine-readable format), with the
/// licences of the crates linked into the plugins.
fn copyright(root: &Path, models: &[PathBuf]) -> Result<String> {
    let mut text = String::from(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
         Upstream-Name: osmtrace\n\
         \n\
         Files: *\n\
         Copyright: the osmtrace authors\n\
         License: GPL-2.0-or-later\n\
         Comment: The plugins are linked statically with the Rust crates listed\n \
         below, under their own licences. Some are under Apache-2.0 alone,\n \
         which is not compatible with version 2 of the GPL, so the plugins as built are\n \
         distributable under the GNU General Public License version 3 or later\n \
         (GPL-3.0-or-later); osmtrace's own code stays GPL-2.0-or-later.\n \
         .\n \
         Crates in the plugins, as cargo resolves them:\n",
    );
    for (name, version, license) in linked_crates(root, models)? {
        text.push_str(&format!(" {name} {version}: {license}\n"));
    }
    text.push_str(
        "\n\
         License: GPL-2.0-or-later\n \
         This program is free software; you can redistribute it and/or modify\n \
         it under the terms of the GNU General Public License as published by\n \
         the Free Software Foundation; either version 2 of the License, or\n \
         (at your option) any later version.\n \
         .\n \
         This program is distributed in the hope that it will be useful,\n \
         but WITHOUT ANY WARRANTY; without even the implied warranty of\n \
         MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the\n \
         GNU General Public License for more details.\n \
         .\n \
         On Debian systems, the complete text of the GNU General Public\n \
         License version 2 can be found in `/usr/share/common-licenses/GPL-2',\n \
         and version 3 in `/usr/share/common-licenses/GPL-3'.\n",
    );
    Ok(text)
}

/// The third-party crates the plugins link (normal dependencies of the
/// plugin crates, with the `qemu` feature): name, version, licence.
fn linked_crates(root: &Path, models: &[PathBuf]) -> Result<Vec<(String, String, String)>> {
    let mut packages = vec!["osmtrace".to_string()];
    packages.extend(
        models
            .iter()
            .map(|m| osm_compiler::codegen::package_name(&codegen::spec_file_name(m))),
    );
    let features: Vec<String> = packages.iter().map(|p| format!("{p}/qemu")).collect();
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["metadata", "--format-version", "1", "--locked"])
        .args(["--filter-platform", "x86_64-unknown-linux-gnu"])
        .args(["--features", &features.join(",")])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .output()
        .context("cannot run cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("cargo metadata printed no JSON")?;
    let by_id: BTreeMap<&str, &serde_json::Value> = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p["id"].as_str()?, p)))
        .collect();
    let nodes: BTreeMap<&str, &serde_json::Value> = metadata["resolve"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| Some((n["id"].as_str()?, n)))
        .collect();
    let mut todo: Vec<&str> = by_id
        .iter()
        .filter(|(_, p)| packages.iter().any(|name| p["name"] == name.as_str()))
        .map(|(id, _)| *id)
        .collect();
    let mut seen = BTreeSet::new();
    while let Some(id) = todo.pop() {
        // A procedural macro runs in the compiler and is not linked.
        let proc_macro = by_id.get(id).is_some_and(|p| {
            p["targets"].as_array().into_iter().flatten().all(|t| {
                t["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().all(|k| k == "proc-macro"))
            })
        });
        if proc_macro || !seen.insert(id) {
            continue;
        }
        for dep in nodes
            .get(id)
            .and_then(|n| n["deps"].as_array())
            .into_iter()
            .flatten()
        {
            let normal = dep["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k["kind"].is_null());
            if normal && let Some(pkg) = dep["pkg"].as_str() {
                todo.push(pkg);
            }
        }
    }
    let mut crates: Vec<(String, String, String)> = seen
        .into_iter()
        .filter_map(|id| by_id.get(id))
        .filter(|p| !p["source"].is_null())
        .map(|p| {
            let field = |f: &str| p[f].as_str().unwrap_or("unknown").to_string();
            (field("name"), field("version"), field("license"))
        })
        .collect();
    crates.sort();
    Ok(crates)
}

/// DEBIAN/control. QEMU is a dependency: the plugins are of no use
/// without it, and any one of the system emulators the models need will do.
fn deb_control(plugins: &[Plugin], installed_kib: u64) -> String {
    let mut qemu: Vec<&str> = plugins
        .iter()
        .filter_map(|p| p.arch.as_deref())
        .filter_map(GuestArch::from_qemu_target)
        .filter_map(|arch| guest::qemu_package(arch.qemu_binary()))
        .collect();
    qemu.sort();
    qemu.dedup();
    let depends = qemu
        .iter()
        .map(|p| format!("{p} (>= 1:9.2)"))
        .collect::<Vec<_>>()
        .join(" | ");
    let maintainer = match (std::env::var("DEBFULLNAME"), std::env::var("DEBEMAIL")) {
        (Ok(name), Ok(email)) => format!("{name} <{email}>"),
        _ => "osmtrace maintainers <root@localhost>".to_string(),
    };
    let mut control = format!(
        "Package: osmtrace\n\
         Version: {VERSION}\n\
         Architecture: amd64\n\
         Maintainer: {maintainer}\n\
         Installed-Size: {installed_kib}\n"
    );
    if !depends.is_empty() {
        control.push_str(&format!("Depends: {depends}\n"));
    }
    control.push_str(
        "Section: devel\n\
         Priority: optional\n\
         Description: system-call tracer for whole guest operating systems in QEMU\n \
         QEMU TCG plugins that trace the system calls of a whole guest OS from\n \
         outside it: one plugin per OS model (Linux, FreeBSD, Windows), and a\n \
         generic plugin that loads a model at start-up.\n \
         Plugins in /usr/lib/osmtrace/plugins, models in /usr/share/osmtrace/models:\n \
         qemu-system-x86_64 ... -plugin /usr/lib/osmtrace/plugins/PLUGIN.so,format=jsonl\n",
    );
    control
}

/// The tarball, entries sorted, owned by root, dated `mtime`.
fn write_tarball(tree: &Path, base: &str, mtime: u64, out: &Path) -> Result<()> {
    let file =
        std::fs::File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(file, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let writing = || format!("cannot write {}", out.display());
    let mut entries = vec![tree.to_path_buf()];
    entries.extend(dirs_under(tree)?);
    entries.extend(files_under(tree)?);
    entries.sort();
    for path in entries {
        let name = match path.strip_prefix(tree) {
            Ok(r) if r.as_os_str().is_empty() => format!("{base}/"),
            Ok(r) if path.is_dir() => format!("{base}/{}/", r.display()),
            Ok(r) => format!("{base}/{}", r.display()),
            Err(_) => unreachable!("under the tree"),
        };
        let mut header = tar::Header::new_gnu();
        header.set_mtime(mtime);
        header.set_uid(0);
        header.set_gid(0);
        header.set_username("root").with_context(writing)?;
        header.set_groupname("root").with_context(writing)?;
        if path.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_size(0);
            tar.append_data(&mut header, &name, std::io::empty())
                .with_context(writing)?;
        } else {
            let data =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(mode(&path));
            header.set_size(data.len() as u64);
            tar.append_data(&mut header, &name, data.as_slice())
                .with_context(writing)?;
        }
    }
    tar.into_inner()
        .and_then(|gz| gz.finish())
        .with_context(writing)?;
    Ok(())
}

/// `dpkg-deb --build` of the staging root, with fixed owners, modes and
/// dates so that the same files make the same package.
fn build_deb(deb_root: &Path, mtime: u64, out: &Path) -> Result<()> {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime);
    let mut paths = files_under(deb_root)?;
    // Directories last and deepest first: dating a file changes nothing
    // else, but would a directory's date if done before its files.
    let mut dirs = dirs_under(deb_root)?;
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    paths.extend(dirs);
    paths.push(deb_root.to_path_buf());
    for path in &paths {
        use std::os::unix::fs::PermissionsExt;
        let mode = if path.is_dir() { 0o755 } else { mode(path) };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot set the mode of {}", path.display()))?;
        std::fs::File::open(path)
            .and_then(|f| f.set_modified(time))
            .with_context(|| format!("cannot date {}", path.display()))?;
    }
    let output = Command::new("dpkg-deb")
        .args(["--build", "--root-owner-group", "-Zxz"])
        .arg(deb_root)
        .arg(out)
        .env("SOURCE_DATE_EPOCH", mtime.to_string())
        .output()
        .context("cannot run dpkg-deb (Debian's dpkg package)")?;
    if !output.status.success() {
        bail!(
            "dpkg-deb failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// The date of the release's files: SOURCE_DATE_EPOCH, else the last
/// commit's, else 1970.
fn source_date_epoch(root: &Path) -> u64 {
    if let Some(epoch) = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse().ok())
    {
        return epoch;
    }
    Command::new("git")
        .args(["log", "-1", "--format=%ct"])
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(0)
}

/// Executable for libraries, read-only for the rest.
fn mode(path: &Path) -> u32 {
    if path.extension().is_some_and(|e| e == "so") {
        0o755
    } else {
        0o644
    }
}

fn copy(file: &Path, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let to = dir.join(file_name(file));
    std::fs::copy(file, &to)
        .map(drop)
        .with_context(|| format!("cannot copy {} to {}", file.display(), to.display()))
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn relative_name(base: &Path, path: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

/// Every file under `dir`, sorted.
fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let (mut files, _) = walk(dir)?;
    files.sort();
    Ok(files)
}

/// Every directory under `dir` (not itself), sorted.
fn dirs_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let (_, mut dirs) = walk(dir)?;
    dirs.sort();
    Ok(dirs)
}

fn walk(dir: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let (mut files, mut dirs) = (Vec::new(), Vec::new());
    let mut todo = vec![dir.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?
        {
            let path = entry
                .with_context(|| format!("cannot list {}", dir.display()))?
                .path();
            if path.is_dir() {
                dirs.push(path.clone());
                todo.push(path);
            } else {
                files.push(path);
            }
        }
    }
    Ok((files, dirs))
}

fn tree_size(dir: &Path) -> Result<u64> {
    let mut size = 0;
    for file in files_under(dir)? {
        size += std::fs::metadata(&file)
            .with_context(|| format!("cannot read {}", file.display()))?
            .len();
    }
    Ok(size)
}
