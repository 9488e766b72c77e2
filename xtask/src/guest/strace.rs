//! Debian's strace inside the busybox guest, to measure it beside the
//! tracer: the strace package and every library it needs, as a cpio
//! archive the guest kernel unpacks after the guest's own initramfs.

use super::debian::{extract, fetch_with_depends};
use super::host::{TempDir, read_file, write_file};
use super::kernel::GuestKernel;
use crate::cpio::CpioWriter;
use anyhow::{Context as _, Result, bail};
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

/// strace, ready to run in a guest of [`GuestKernel`]'s architecture.
pub struct GuestStrace {
    /// A gzip-compressed cpio archive, to append to an initramfs (the
    /// kernel unpacks concatenated archives in order).
    pub archive: PathBuf,
    /// The shell words that run strace there: its library path, then the
    /// binary (the guest has no ld.so cache).
    pub command: String,
    /// The strace package's version.
    pub version: String,
}

impl GuestStrace {
    /// Appends the archive to the initramfs at `initramfs`, which the kernel
    /// then unpacks after the image's own files.
    pub fn append_to(&self, initramfs: &Path) -> Result<()> {
        let mut archive = fs::File::open(&self.archive)
            .with_context(|| format!("cannot open {}", self.archive.display()))?;
        let mut image = fs::OpenOptions::new()
            .append(true)
            .open(initramfs)
            .with_context(|| format!("cannot open {}", initramfs.display()))?;
        std::io::copy(&mut archive, &mut image)
            .with_context(|| format!("cannot append strace to {}", initramfs.display()))?;
        Ok(())
    }
}

/// The guest's strace, made once per kernel cache directory from Debian's
/// packages of the guest's release and kept in `<cache_dir>/strace/`,
/// whose `strace.txt` (version, then command), written last, says it is
/// whole.
pub fn strace(kernel: &GuestKernel, log: &mut dyn Write) -> Result<GuestStrace> {
    // v2: with the merged /usr's links (/lib -> usr/lib), for releases
    // whose packages install under /usr only.
    let cache = kernel.dir.join("strace-v2");
    let archive = cache.join("strace.cpio.gz");
    let stamp = cache.join("strace.txt");
    if let Ok(text) = fs::read_to_string(&stamp)
        && let Some((version, command)) = text.trim_end().split_once('\n')
    {
        return Ok(GuestStrace {
            archive,
            command: command.to_string(),
            version: version.to_string(),
        });
    }
    let work = TempDir::new(&kernel.dir, "strace")?;
    let _ = writeln!(
        log,
        "guest {}: fetching strace and its libraries for the guest",
        kernel.arch
    );
    let debs = fetch_with_depends(
        kernel.arch,
        kernel.release,
        &["strace".to_string()],
        work.path(),
        log,
    )?;
    let root = work.path().join("root");
    fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
    for deb in &debs {
        extract(&deb.path, &root, &["*"], false)?;
    }
    // Documentation, manuals and locales: nothing strace needs to run.
    let share = root.join("usr/share");
    if share.exists() {
        fs::remove_dir_all(&share).with_context(|| format!("cannot remove {}", share.display()))?;
    }
    let binary = "usr/bin/strace";
    if !root.join(binary).is_file() {
        bail!("the strace package has no /{binary}");
    }
    // Debian 13's packages install under /usr only, the loader included
    // (/lib/ld-linux-riscv64-lp64d.so.1 is /usr/lib/...): the merged /usr's
    // links, which the busybox guest does not have.
    for dir in ["lib", "lib32", "lib64"] {
        if root.join("usr").join(dir).is_dir() && !root.join(dir).exists() {
            std::os::unix::fs::symlink(format!("usr/{dir}"), root.join(dir))
                .with_context(|| format!("cannot link /{dir} in {}", root.display()))?;
        }
    }
    let mut entries = Vec::new();
    walk(&root, Path::new(""), &mut entries)?;
    let mut library_dirs: Vec<String> = Vec::new();
    let mut cpio = CpioWriter::new(Vec::new());
    let writing = || format!("writing {}", archive.display());
    for entry in &entries {
        let path = root.join(entry);
        let name = entry.to_str().context("a non-UTF-8 name in a package")?;
        let meta = fs::symlink_metadata(&path).with_context(|| path.display().to_string())?;
        let perm = meta.permissions().mode() & 0o7777;
        if meta.is_dir() {
            cpio.dir(name, perm).with_context(writing)?;
            continue;
        }
        if entry.to_string_lossy().contains(".so") {
            let dir = format!("/{}", entry.parent().unwrap_or(Path::new("")).display());
            if !library_dirs.contains(&dir) {
                library_dirs.push(dir);
            }
        }
        if meta.is_symlink() {
            let target = fs::read_link(&path).with_context(|| path.display().to_string())?;
            let target = target.to_str().context("a non-UTF-8 link in a package")?;
            cpio.symlink(name, target).with_context(writing)?;
        } else {
            cpio.file(name, perm, &read_file(&path)?)
                .with_context(writing)?;
        }
    }
    let bytes = cpio.finish().with_context(writing)?;
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(&bytes).with_context(writing)?;
    let compressed = gzip.finish().with_context(writing)?;
    fs::create_dir_all(&cache).with_context(|| format!("cannot create {}", cache.display()))?;
    write_file(&archive, &compressed)?;
    let version = debs
        .iter()
        .find(|d| d.package == "strace")
        .map(|d| d.version.clone())
        .unwrap_or_default();
    let command = format!("LD_LIBRARY_PATH={} /{binary}", library_dirs.join(":"));
    write_file(&stamp, format!("{version}\n{command}\n").as_bytes())?;
    let _ = writeln!(
        log,
        "guest {}: strace {version} for the guest: {} packages, {:.1} MB archive",
        kernel.arch,
        debs.len(),
        compressed.len() as f64 / 1e6
    );
    Ok(GuestStrace {
        archive,
        command,
        version,
    })
}

/// Every path under `root/rel`, parents before children, in name order.
fn walk(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let dir = root.join(rel);
    let mut names: Vec<_> = fs::read_dir(&dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    names.sort();
    for name in names {
        let path = rel.join(&name);
        out.push(path.clone());
        if fs::symlink_metadata(root.join(&path))?.is_dir() {
            walk(root, &path, out)?;
        }
    }
    Ok(())
}
