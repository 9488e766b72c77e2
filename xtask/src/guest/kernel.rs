//! The cached guest kernel, its busybox and its disk modules, fetched from
//! Debian once per architecture and release.
//!
//! Cache layout (one directory per architecture, see [`cache_dir`]):
//!
//! ```text
//! <cache_dir>/vmlinuz   the kernel image (from linux-image-<release>-<flavour>);
//!                       named vmlinux where QEMU boots the ELF or flat
//!                       image that Debian ships as /boot/vmlinux-*
//! <cache_dir>/vmlinux   x86 kernels built with PVH: the ELF unpacked from
//!                       vmlinuz, which QEMU boots ([`boot_image`])
//! <cache_dir>/config    its build configuration, for reference
//! <cache_dir>/busybox   busybox-static's /bin/busybox (/usr/bin/busybox
//!                       in Debian 13)
//! <cache_dir>/stamp     what was downloaded; written last, so its presence
//!                       means the three files above are complete
//! <cache_dir>/disk-modules-<package>_<version>/
//!                       the kernel's virtio disk modules, taken when a
//!                       guest first gets a disk ([`disk_modules`])
//! ```
//!
//! The apt state and the downloaded .deb files live in a temporary
//! directory inside `<cache_dir>` and are deleted once the files are in
//! place. Delete `stamp` (or the directory) to fetch the newest kernel again.

use super::host::{TempDir, failed, read_file, spawn_error, write_file};
use super::{GuestArch, Release, extract, fetch_debs};
use anyhow::{Context as _, Result, bail};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const STAMP_HEADER: &str = "osmtrace-guest 1";

/// The conventional cache directory of `arch` under a cargo target directory:
/// `<target>/osmtrace/guest/<qemu target>`.
pub fn cache_dir(target_dir: &Path, arch: GuestArch) -> PathBuf {
    target_dir
        .join("osmtrace")
        .join("guest")
        .join(arch.qemu_target())
}

/// [`cache_dir`] for a guest of another Debian release than its own:
/// `<target>/osmtrace/guest/<qemu target>-debian<version>`.
pub fn release_cache_dir(target_dir: &Path, arch: GuestArch, release: Release) -> PathBuf {
    if release == arch.release() {
        return cache_dir(target_dir, arch);
    }
    target_dir.join("osmtrace").join("guest").join(format!(
        "{}-debian{}",
        arch.qemu_target(),
        release.version()
    ))
}

/// A downloaded guest kernel and the busybox that its initramfs runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestKernel {
    pub arch: GuestArch,
    /// The Debian release its packages come from.
    pub release: Release,
    pub dir: PathBuf,
    /// The kernel image QEMU boots: `<dir>/vmlinuz` as Debian ships it,
    /// or `<dir>/vmlinux` (see [`boot_image`]).
    pub image: PathBuf,
    pub config: PathBuf,
    pub busybox: PathBuf,
    /// The concrete kernel package, e.g. "linux-image-6.1.0-50-amd64".
    pub kernel_package: String,
    /// Its Debian version, e.g. "6.1.176-1".
    pub kernel_version: String,
    /// busybox-static's Debian version.
    pub busybox_version: String,
}

impl GuestKernel {
    /// The cached guest in `dir`, if its stamp says it is complete.
    fn load(arch: GuestArch, wanted: Release, dir: &Path) -> Option<GuestKernel> {
        let stamp = fs::read_to_string(dir.join("stamp")).ok()?;
        let mut lines = stamp.lines();
        if lines.next()? != STAMP_HEADER {
            return None;
        }
        let mut fields = std::collections::HashMap::new();
        for line in lines {
            if let Some((key, value)) = line.split_once('=') {
                fields.insert(key, value);
            }
        }
        if fields.get("arch").copied() != Some(arch.deb_arch()) {
            return None;
        }
        let release = match fields.get("release") {
            Some(version) => Release::from_version(version)?,
            None => arch.release(),
        };
        if release != wanted {
            return None;
        }
        let kernel = GuestKernel {
            arch,
            release,
            dir: dir.to_path_buf(),
            image: dir.join(arch.kernel_image()),
            config: dir.join("config"),
            busybox: dir.join("busybox"),
            kernel_package: fields.get("kernel-package")?.to_string(),
            kernel_version: fields.get("kernel-version")?.to_string(),
            busybox_version: fields.get("busybox-version")?.to_string(),
        };
        let present = |p: &Path| fs::metadata(p).is_ok_and(|m| m.is_file() && m.len() > 0);
        (present(&kernel.image) && present(&kernel.busybox)).then_some(kernel)
    }

    /// Whether the kernel's build configuration sets `CONFIG_<symbol>=y`;
    /// `None` when the configuration cannot be read.
    pub fn built_with(&self, symbol: &str) -> Option<bool> {
        let config = fs::read(&self.config).ok()?;
        Some(config_value(&String::from_utf8_lossy(&config), symbol) == Some("y"))
    }

    fn stamp(&self, metapackage: &str) -> String {
        format!(
            "{STAMP_HEADER}\narch={}\nrelease={}\nmetapackage={metapackage}\nkernel-package={}\n\
             kernel-version={}\nbusybox-version={}\n",
            self.arch.deb_arch(),
            self.release.version(),
            self.kernel_package,
            self.kernel_version,
            self.busybox_version
        )
    }
}

/// Makes sure the kernel and busybox of `arch` are in `cache_dir` (see the
/// module documentation), downloading them if not, and returns them. With a
/// complete cache this reads one small file and touches no network.
/// Progress goes to `log`.
pub fn prepare(arch: GuestArch, cache_dir: &Path, log: &mut dyn Write) -> Result<GuestKernel> {
    prepare_release(arch, arch.release(), cache_dir, log)
}

/// [`prepare_release`] for `--debian VERSION` (the architecture's own
/// release when not given), cached under `target`.
pub fn prepare_debian(
    arch: GuestArch,
    debian: Option<&str>,
    target: &Path,
    log: &mut dyn Write,
) -> Result<GuestKernel> {
    let release = match debian {
        Some(version) => Release::from_version(version)
            .with_context(|| format!("--debian {version}: guests come from Debian 12 or 13"))?,
        None => arch.release(),
    };
    prepare_release(
        arch,
        release,
        &release_cache_dir(target, arch, release),
        log,
    )
}

/// [`prepare`] for a guest of `release` (its kernel and busybox from that
/// Debian release), cached in `cache_dir` ([`release_cache_dir`]).
pub fn prepare_release(
    arch: GuestArch,
    release: Release,
    cache_dir: &Path,
    log: &mut dyn Write,
) -> Result<GuestKernel> {
    if let Some(kernel) = GuestKernel::load(arch, release, cache_dir) {
        let kernel = boot_image(kernel)?;
        let _ = writeln!(
            log,
            "guest {arch}: {} {} and busybox {} (cached in {})",
            kernel.kernel_package,
            kernel.kernel_version,
            kernel.busybox_version,
            cache_dir.display()
        );
        return Ok(kernel);
    }
    let started = Instant::now();
    fs::create_dir_all(cache_dir)
        .with_context(|| format!("cannot create {}", cache_dir.display()))?;
    let work = TempDir::new(cache_dir, "download")?;
    let kernel = boot_image(download(arch, release, cache_dir, work.path(), log)?)?;
    let _ = writeln!(
        log,
        "guest {arch}: ready in {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        cache_dir.display()
    );
    Ok(kernel)
}

/// `kernel` booting from the fastest image: an x86 kernel built with PVH
/// boots from the ELF inside its bzImage (unpacked once into
/// `<dir>/vmlinux`), through its PVH entry, which skips the decompressor
/// that takes TCG about 5 s at every boot. Other kernels boot as shipped.
fn boot_image(mut kernel: GuestKernel) -> Result<GuestKernel> {
    if !matches!(kernel.arch, GuestArch::X86_64 | GuestArch::I386)
        || kernel.image.file_name().is_some_and(|n| n == "vmlinux")
    {
        return Ok(kernel);
    }
    let unpacked = kernel.dir.join("vmlinux");
    if !fs::metadata(&unpacked).is_ok_and(|m| m.is_file() && m.len() > 0) {
        if kernel.built_with("PVH") != Some(true) {
            return Ok(kernel);
        }
        let data = read_file(&kernel.image)?;
        let elf = osm_runtime::kernel::unpack_elf(&data).with_context(|| {
            format!(
                "{} has no compressed ELF payload to boot through PVH",
                kernel.image.display()
            )
        })?;
        let tmp = kernel.dir.join("vmlinux.tmp");
        write_file(&tmp, &elf)?;
        fs::rename(&tmp, &unpacked)
            .with_context(|| format!("cannot write {}", unpacked.display()))?;
    }
    kernel.image = unpacked;
    Ok(kernel)
}

fn download(
    arch: GuestArch,
    release: Release,
    cache_dir: &Path,
    work: &Path,
    log: &mut dyn Write,
) -> Result<GuestKernel> {
    let root = work.join("root");
    fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
    let meta = arch.kernel_metapackage();
    let (debs, kernel_package) = fetch_debs(
        arch,
        release,
        &["busybox-static".to_string()],
        Some(meta),
        work,
        log,
    )?;
    let kernel_package = kernel_package.context("no kernel package was resolved")?;
    // fetch_debs checked that both are there.
    let deb = |name: &str| {
        debs.iter()
            .find(|d| d.package == name)
            .map(|d| (d.path.clone(), d.version.clone()))
            .unwrap_or_default()
    };
    let (kernel_deb, kernel_version) = deb(&kernel_package);
    let (busybox_deb, busybox_version) = deb("busybox-static");

    // Only the few files we need, not the kernel's ~400 MB of modules.
    let kernel_release = kernel_package
        .strip_prefix("linux-image-")
        .unwrap_or(&kernel_package);
    let image = arch.kernel_image();
    extract(
        &kernel_deb,
        &root,
        &[
            &format!("./boot/{image}-{kernel_release}"),
            &format!("./boot/config-{kernel_release}"),
        ],
        false,
    )?;
    let busybox_member = release.busybox_member();
    extract(
        &busybox_deb,
        &root,
        &[&format!("./{busybox_member}")],
        false,
    )?;
    let vmlinuz = root.join("boot").join(format!("{image}-{kernel_release}"));
    let config = root.join("boot").join(format!("config-{kernel_release}"));
    let busybox = root.join(busybox_member);

    // The stamp goes first and comes back last, so a half-updated cache is
    // never taken for a complete one.
    let stamp = cache_dir.join("stamp");
    match fs::remove_file(&stamp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            bail!("cannot remove {}: {e}", stamp.display());
        }
        _ => {}
    }
    for (from, name) in [
        (&vmlinuz, image),
        (&config, "config"),
        (&busybox, "busybox"),
    ] {
        let to = cache_dir.join(name);
        fs::rename(from, &to)
            .with_context(|| format!("cannot move {} to {}", from.display(), to.display()))?;
    }
    let kernel = GuestKernel {
        arch,
        release,
        dir: cache_dir.to_path_buf(),
        image: cache_dir.join(image),
        config: cache_dir.join("config"),
        busybox: cache_dir.join("busybox"),
        kernel_package,
        kernel_version,
        busybox_version,
    };
    let tmp = work.join("stamp");
    write_file(&tmp, kernel.stamp(meta).as_bytes())?;
    fs::rename(&tmp, &stamp).with_context(|| format!("cannot write {}", stamp.display()))?;
    Ok(kernel)
}

/// The loadable modules `kernel` needs to read the virtio disk QEMU gives
/// it ([`GuestArch::disk_device`]), in the order to load them: none when
/// the drivers are built in. Debian builds them as modules, which the
/// cache does not hold (the kernel package's modules are ~400 MB): the
/// few needed are taken from the same kernel package once and kept in
/// `<cache_dir>/disk-modules-<package>_<version>/`, whose `order` file,
/// written last, lists them.
pub fn disk_modules(kernel: &GuestKernel, log: &mut dyn Write) -> Result<Vec<PathBuf>> {
    let config = fs::read_to_string(&kernel.config)
        .with_context(|| format!("cannot read {}", kernel.config.display()))?;
    let mut wanted = Vec::new();
    for (module, symbol) in [kernel.arch.disk_transport(), ("virtio_blk", "VIRTIO_BLK")] {
        match config_value(&config, symbol) {
            Some("y") => {}
            Some("m") => wanted.push(module),
            _ => {
                bail!(
                    "the {} guest's kernel {} has no {module} driver (CONFIG_{symbol}): it cannot read a disk",
                    kernel.arch,
                    kernel.kernel_package
                );
            }
        }
    }
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let safe = |s: &str| {
        s.replace(
            |c: char| !c.is_ascii_alphanumeric() && c != '.' && c != '-',
            "_",
        )
    };
    let cache = kernel.dir.join(format!(
        "disk-modules-{}_{}",
        safe(&kernel.kernel_package),
        safe(&kernel.kernel_version)
    ));
    let listed = |dir: &Path| -> Option<Vec<PathBuf>> {
        let order = fs::read_to_string(dir.join("order")).ok()?;
        Some(order.lines().map(|name| dir.join(name)).collect())
    };
    if let Some(modules) = listed(&cache) {
        return Ok(modules);
    }

    let work = TempDir::new(&kernel.dir, "disk-modules")?;
    let package = format!("{}={}", kernel.kernel_package, kernel.kernel_version);
    let _ = writeln!(
        log,
        "guest {}: the disk drivers {} are modules: taking them from {package}",
        kernel.arch,
        wanted.join(", ")
    );
    let (debs, _) = fetch_debs(
        kernel.arch,
        kernel.release,
        &[package],
        None,
        work.path(),
        log,
    )?;
    let deb = &debs[0].path;
    let release = kernel
        .kernel_package
        .strip_prefix("linux-image-")
        .unwrap_or(&kernel.kernel_package);
    let prefix = match kernel.release {
        Release::Bookworm => format!("./lib/modules/{release}"),
        Release::Trixie => format!("./usr/lib/modules/{release}"),
    };
    let root = work.path().join("root");
    fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
    // The package has no modules.dep (depmod makes it on installation):
    // the modules' own `depends=` say what else to load. Those of the
    // disk drivers are virtio's own, in the same directory, or built in.
    extract(
        deb,
        &root,
        &[
            &format!("{prefix}/kernel/drivers/virtio/*"),
            &format!("{prefix}/kernel/drivers/block/virtio_blk.ko*"),
            &format!("{prefix}/modules.builtin"),
        ],
        false,
    )?;
    let modules_dir = root.join(&prefix);
    let builtin = fs::read_to_string(modules_dir.join("modules.builtin"))
        .with_context(|| format!("{}: no modules.builtin", deb.display()))?;
    let mut available = Vec::new();
    for dir in ["kernel/drivers/virtio", "kernel/drivers/block"] {
        let entries = fs::read_dir(modules_dir.join(dir))
            .with_context(|| modules_dir.join(dir).display().to_string())?;
        for entry in entries {
            let name = entry?.file_name();
            let file = format!("{dir}/{}", name.to_string_lossy());
            let (_, plain) = read_module(&modules_dir, &file)?;
            let depends = module_depends(&plain, &file)?;
            available.push((file, depends));
        }
    }
    let files = load_order(&available, &builtin, &wanted)?;
    let out = work.path().join("modules");
    fs::create_dir(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut order = String::new();
    for (i, file) in files.iter().enumerate() {
        // busybox's insmod may not read compressed modules: they go in
        // plain, numbered in load order.
        let (stem, bytes) = read_module(&modules_dir, file)?;
        let name = format!("{i:02}-{stem}.ko");
        write_file(&out.join(&name), &bytes)?;
        order.push_str(&name);
        order.push('\n');
    }
    write_file(&out.join("order"), order.as_bytes())?;
    // Another run may have made it meanwhile; either copy is the same.
    if fs::rename(&out, &cache).is_err() && listed(&cache).is_none() {
        bail!("cannot move the disk modules to {}", cache.display());
    }
    listed(&cache).with_context(|| format!("{}: no order file", cache.display()))
}

/// `CONFIG_<symbol>`'s value in a kernel configuration (`y`, `m`, ...).
fn config_value<'a>(config: &'a str, symbol: &str) -> Option<&'a str> {
    config.lines().find_map(|line| {
        line.strip_prefix("CONFIG_")?
            .strip_prefix(symbol)?
            .strip_prefix('=')
    })
}

/// A module's name as `depends=` and modules.builtin give it, from its
/// file name (`virtio-pci.ko.xz` is `virtio_pci`).
fn module_name(file: &str) -> String {
    let base = file.rsplit('/').next().unwrap_or(file);
    base.split(".ko").next().unwrap_or(base).replace('-', "_")
}

/// The module `file` of `dir`: its name without the `.ko` ending, and its
/// bytes, decompressed when it is `.ko.xz` or `.ko.zst`. A decompressor
/// that fails is an error, not a module cut short.
fn read_module<'a>(dir: &Path, file: &'a str) -> Result<(&'a str, Vec<u8>)> {
    let path = dir.join(file);
    let base = Path::new(file)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(file);
    let (stem, tool) = match base.rsplit_once(".ko") {
        Some((stem, "")) => return Ok((stem, read_file(&path)?)),
        Some((stem, ".xz")) => (stem, "xz"),
        Some((stem, ".zst")) => (stem, "zstd"),
        _ => bail!("{file}: not a kernel module"),
    };
    let out = Command::new(tool)
        .arg("-dc")
        .arg(&path)
        .output()
        .map_err(|e| spawn_error(tool, &e))?;
    if !out.status.success() {
        return Err(failed(&format!("{tool} -dc {}", path.display()), &out));
    }
    Ok((stem, out.stdout))
}

/// The modules a module needs loaded first: the `depends=` string of its
/// .modinfo section, in its plain bytes ([`read_module`]).
fn module_depends(data: &[u8], file: &str) -> Result<Vec<String>> {
    let key = b"\0depends=";
    let at = data
        .windows(key.len())
        .position(|w| w == key)
        .with_context(|| format!("{file}: no depends= in its .modinfo"))?;
    let value = &data[at + key.len()..];
    let value = &value[..value.iter().position(|&b| b == 0).unwrap_or(value.len())];
    Ok(String::from_utf8_lossy(value)
        .split(',')
        .filter(|d| !d.is_empty())
        .map(str::to_string)
        .collect())
}

/// The module files of `available` (file, its dependencies) that load
/// `modules`, each after every module it depends on; dependencies that
/// modules.builtin lists are in the kernel already.
fn load_order(
    available: &[(String, Vec<String>)],
    builtin: &str,
    modules: &[&str],
) -> Result<Vec<String>> {
    let builtin: Vec<String> = builtin.lines().map(module_name).collect();
    // Depth first; the depth bound keeps a dependency cycle, which depmod
    // would refuse, from looping.
    fn visit(
        module: &str,
        available: &[(String, Vec<String>)],
        builtin: &[String],
        order: &mut Vec<String>,
        depth: usize,
    ) -> Result<()> {
        if builtin.iter().any(|b| b == module) {
            return Ok(());
        }
        let (file, deps) = available
            .iter()
            .find(|(file, _)| module_name(file) == module)
            .with_context(|| format!("no module {module} among the disk drivers"))?;
        if order.contains(file) {
            return Ok(());
        }
        if depth > available.len() {
            bail!("module {module} depends on itself");
        }
        for d in deps {
            visit(d, available, builtin, order, depth + 1)?;
        }
        order.push(file.clone());
        Ok(())
    }
    let mut order = Vec::new();
    for module in modules {
        visit(module, available, &builtin, &mut order, 0)?;
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_drivers_load_after_their_dependencies() {
        let config = "CONFIG_VIRTIO=y\nCONFIG_VIRTIO_PCI=m\n# CONFIG_VIRTIO_MMIO is not set\n";
        assert_eq!(config_value(config, "VIRTIO"), Some("y"));
        assert_eq!(config_value(config, "VIRTIO_PCI"), Some("m"));
        assert_eq!(config_value(config, "VIRTIO_MMIO"), None);
        // As the .modinfo section holds them: NUL-separated key=value.
        let info = b"\0license=GPL\0depends=virtio_ring,virtio\0intree=Y\0";
        assert_eq!(
            module_depends(info, "virtio_blk.ko").unwrap(),
            ["virtio_ring", "virtio"]
        );
        assert_eq!(
            module_depends(b"\0depends=\0", "virtio.ko").unwrap(),
            Vec::<String>::new()
        );
        let m = |file: &str, deps: &[&str]| {
            (
                file.to_string(),
                deps.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
            )
        };
        let available = [
            m("d/virtio_blk.ko", &["virtio_ring", "virtio"]),
            m(
                "d/virtio_pci.ko",
                &["virtio_pci_legacy_dev", "virtio_ring", "virtio"],
            ),
            m("d/virtio_pci_legacy_dev.ko", &[]),
            m("d/virtio_ring.ko", &[]),
            m("d/virtio.ko", &["virtio_ring"]),
        ];
        assert_eq!(
            load_order(&available, "", &["virtio_pci", "virtio_blk"]).unwrap(),
            [
                "d/virtio_pci_legacy_dev.ko",
                "d/virtio_ring.ko",
                "d/virtio.ko",
                "d/virtio_pci.ko",
                "d/virtio_blk.ko"
            ]
        );
        // Built in: nothing to load for it.
        let builtin = "kernel/drivers/virtio/virtio.ko\nkernel/drivers/virtio/virtio_ring.ko\n";
        assert_eq!(
            load_order(&available, builtin, &["virtio_blk"]).unwrap(),
            ["d/virtio_blk.ko"]
        );
        let e = format!(
            "{:#}",
            load_order(&available[..1], "", &["virtio_blk"]).unwrap_err()
        );
        assert!(e.contains("no module virtio_ring"), "{e}");
    }
}
