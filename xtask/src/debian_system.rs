//! `cargo xtask trace --guest debian`: a whole Debian 12 system with
//! systemd, udev and D-Bus, booted from an initramfs with the guest's
//! Debian kernel; the command runs as a systemd service once the system is
//! up, and the service powers the system off.
//!
//! The system is built once per architecture with Debian's `mmdebstrap`
//! from Debian's archive and cached as an uncompressed cpio archive:
//!
//! ```text
//! <cache_dir>/debian-system/rootfs.cpio   the root file system
//! <cache_dir>/debian-system/stamp         what was built; written last
//! ```
//!
//! Delete the directory to build it again. Each run appends a small cpio
//! archive of its own (the command, the service, the `--add` files) to a
//! copy of it: the kernel unpacks concatenated archives one after another.
//!
//! The packages are only unpacked (`--variant=extract`), not configured: a
//! foreign architecture's maintainer scripts would need binfmt_misc and
//! qemu-user-static on the host, which containers often lack. The few
//! things their scripts do that booting needs are done here
//! ([`configure`]); systemd creates its own users at boot
//! (systemd-sysusers, since /etc has never been updated).

use crate::cpio::CpioWriter;
use crate::guest::{self, GuestArch, KEYRING, MIRROR};
use anyhow::{Context as _, Result, anyhow, bail};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The packages beyond Debian's essential set. D-Bus is there because
/// `systemctl poweroff` asks logind over it first (and logind needs it);
/// usr-is-merged stands for usrmerge, which would bring perl (18 MB).
pub const PACKAGES: [&str; 5] = ["systemd", "systemd-sysv", "udev", "dbus", "usr-is-merged"];

/// The architectures whose system has been booted and checked.
pub const ARCHES: [GuestArch; 2] = [GuestArch::X86_64, GuestArch::Aarch64];

/// Guest memory: the kernel holds the 150 MB archive and its unpacked
/// copy at once while it unpacks it.
pub const MEMORY_MB: u32 = 1024;

/// Its kernel arguments: the archive has no /init, systemd is the init.
pub const KERNEL_ARGS: [&str; 1] = ["rdinit=/sbin/init"];

const STAMP_HEADER: &str = "osmtrace-debian-system 1";
const SUITES: [&str; 2] = ["bookworm", "bookworm-updates"];

/// Documentation and translations: about 45 MB that every boot would
/// otherwise unpack for nothing.
const PRUNED: [&str; 4] = [
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
];

/// A built Debian system.
#[derive(Clone, Debug)]
pub struct DebianSystem {
    pub arch: GuestArch,
    pub rootfs: PathBuf,
    /// How many packages it was built from.
    pub packages: usize,
    /// systemd's Debian version.
    pub systemd_version: String,
    /// The names at its root, which `--add` files must not take.
    pub top_level: Vec<String>,
}

impl DebianSystem {
    fn load(arch: GuestArch, dir: &Path) -> Option<DebianSystem> {
        let stamp = fs::read_to_string(dir.join("stamp")).ok()?;
        let mut lines = stamp.lines();
        if lines.next()? != STAMP_HEADER {
            return None;
        }
        let field = |key: &str| {
            stamp
                .lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .map(str::to_string)
        };
        // A changed package list is a different system.
        if field("arch")? != arch.deb_arch() || field("include")? != PACKAGES.join(",") {
            return None;
        }
        let rootfs = dir.join("rootfs.cpio");
        fs::metadata(&rootfs).ok().filter(|m| m.len() > 0)?;
        Some(DebianSystem {
            arch,
            rootfs,
            packages: field("packages")?.parse().ok()?,
            systemd_version: field("systemd")?,
            top_level: field("top")?.split(',').map(str::to_string).collect(),
        })
    }

    fn stamp(&self) -> String {
        format!(
            "{STAMP_HEADER}\narch={}\nsuites={}\ninclude={}\npackages={}\nsystemd={}\ntop={}\n",
            self.arch.deb_arch(),
            SUITES.join(" "),
            PACKAGES.join(","),
            self.packages,
            self.systemd_version,
            self.top_level.join(",")
        )
    }
}

/// Refuses, before anything is built, a system this module cannot build:
/// another architecture, or another Debian release than 12 (`--debian`).
pub fn check(arch: GuestArch, debian: Option<&str>) -> Result<()> {
    if !ARCHES.contains(&arch) {
        let names: Vec<String> = ARCHES.iter().map(|a| a.to_string()).collect();
        bail!(
            "--guest debian: no Debian system for {arch} yet (only {})",
            names.join(", ")
        );
    }
    match debian.map(guest::Release::from_version) {
        None | Some(Some(guest::Release::Bookworm)) => Ok(()),
        Some(_) => Err(anyhow!(
            "--guest debian: the Debian system is Debian 12 (--debian 12)"
        )),
    }
}

/// Where the system of `arch` is cached under a cargo target directory.
pub fn cache_dir(target: &Path, arch: GuestArch) -> PathBuf {
    guest::cache_dir(target, arch).join("debian-system")
}

/// The Debian system of `arch`, built into its cache under `target` if it
/// is not there yet. Progress, and what is downloaded and how big, go to
/// `log`.
pub fn prepare(arch: GuestArch, target: &Path, log: &mut dyn Write) -> Result<DebianSystem> {
    check(arch, None)?;
    let dir = cache_dir(target, arch);
    if let Some(system) = DebianSystem::load(arch, &dir) {
        let _ = writeln!(
            log,
            "guest {arch}: Debian 12 system with systemd {} ({} packages, cached in {})",
            system.systemd_version,
            system.packages,
            dir.display()
        );
        return Ok(system);
    }
    let started = Instant::now();
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let work = guest::TempDir::new(&dir, "build")?;
    let root = work.path().join("root");
    let _ = writeln!(
        log,
        "guest {arch}: building a Debian 12 system with mmdebstrap ({MIRROR} {}, {}): \
         the essential set and {} (once; cached in {})",
        SUITES.join(" "),
        arch.deb_arch(),
        PACKAGES.join(", "),
        dir.display()
    );
    mmdebstrap(arch, &root, log)?;
    let (packages, systemd_version) = downloaded(arch, &root, log)?;
    for pruned in PRUNED {
        let path = root.join(pruned);
        if path.exists() {
            fs::remove_dir_all(&path)
                .with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    configure(&root)?;
    let mut top_level: Vec<String> = fs::read_dir(&root)
        .with_context(|| format!("cannot list {}", root.display()))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    top_level.sort();

    let _ = writeln!(log, "guest {arch}: packing the root file system");
    let tmp = work.path().join("rootfs.cpio");
    pack(&root, &tmp)?;
    let size = fs::metadata(&tmp).map(|m| m.len()).unwrap_or(0);
    let system = DebianSystem {
        arch,
        rootfs: dir.join("rootfs.cpio"),
        packages,
        systemd_version,
        top_level,
    };
    // The stamp goes first and comes back last, so that a half-built cache
    // is never taken for a complete one.
    let stamp = dir.join("stamp");
    let _ = fs::remove_file(&stamp);
    fs::rename(&tmp, &system.rootfs)
        .with_context(|| format!("cannot move {}", system.rootfs.display()))?;
    let stamp_tmp = work.path().join("stamp");
    fs::write(&stamp_tmp, system.stamp())
        .with_context(|| format!("cannot write {}", stamp_tmp.display()))?;
    fs::rename(&stamp_tmp, &stamp).with_context(|| format!("cannot write {}", stamp.display()))?;
    let _ = writeln!(
        log,
        "guest {arch}: Debian system ready in {:.1} s: {} ({:.0} MB)",
        started.elapsed().as_secs_f64(),
        system.rootfs.display(),
        size as f64 / 1e6
    );
    Ok(system)
}

/// Runs mmdebstrap into `root`, passing its progress lines on to `log`.
fn mmdebstrap(arch: GuestArch, root: &Path, log: &mut dyn Write) -> Result<()> {
    let mut cmd = Command::new("mmdebstrap");
    cmd.args(["--variant=extract", "--include=?essential"])
        .arg(format!("--include={}", PACKAGES.join(",")))
        .arg(format!("--arch={}", arch.deb_arch()))
        // The .debs stay, to be counted and weighed (then removed here).
        .arg("--skip=cleanup/apt/cache")
        .arg(SUITES[0])
        .arg(root);
    for suite in SUITES {
        cmd.arg(format!("deb [signed-by={KEYRING}] {MIRROR} {suite} main"));
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            anyhow!("cannot run mmdebstrap: {e} (install Debian's mmdebstrap: scripts/setup.sh)")
        })?;
    let mut last = Vec::new();
    for line in BufReader::new(child.stderr.take().expect("piped stderr")).lines() {
        let Ok(line) = line else { break };
        let _ = writeln!(log, "guest {arch}: mmdebstrap: {line}");
        last.push(line);
    }
    let status = child.wait()?;
    if !status.success() {
        bail!(
            "mmdebstrap failed ({status}):\n{}",
            last[last.len().saturating_sub(20)..].join("\n")
        );
    }
    Ok(())
}

/// Says what was downloaded and how big, removes the .debs; returns how
/// many packages and systemd's version.
fn downloaded(arch: GuestArch, root: &Path, log: &mut dyn Write) -> Result<(usize, String)> {
    let archives = root.join("var/cache/apt/archives");
    let mut debs = Vec::new();
    for entry in
        fs::read_dir(&archives).with_context(|| format!("cannot list {}", archives.display()))?
    {
        let path = entry?.path();
        if path.extension().is_some_and(|x| x == "deb") {
            let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            debs.push((path, size));
        }
    }
    let total: u64 = debs.iter().map(|(_, size)| size).sum();
    // apt names them <package>_<version>_<arch>.deb, the version's ':'
    // written as %3a.
    let systemd_version = debs
        .iter()
        .find_map(|(path, _)| {
            let name = path.file_name()?.to_str()?;
            let mut parts = name.split('_');
            (parts.next()? == "systemd").then(|| parts.next().map(|v| v.replace("%3a", ":")))?
        })
        .context("mmdebstrap downloaded no systemd package")?;
    let mut largest = debs.clone();
    largest.sort_by_key(|(_, size)| std::cmp::Reverse(*size));
    let names: Vec<String> = largest
        .iter()
        .take(5)
        .filter_map(|(path, size)| {
            let name = path.file_name()?.to_str()?.split('_').next()?;
            Some(format!("{name} {:.1} MB", *size as f64 / 1e6))
        })
        .collect();
    let _ = writeln!(
        log,
        "guest {arch}: downloaded {} packages from Debian's archive, {:.1} MB (largest: {}); \
         systemd {systemd_version}",
        debs.len(),
        total as f64 / 1e6,
        names.join(", ")
    );
    for (path, _) in &debs {
        fs::remove_file(path).with_context(|| format!("cannot remove {}", path.display()))?;
    }
    Ok((debs.len(), systemd_version))
}

/// What the unrun maintainer scripts would have done that the boot needs.
fn configure(root: &Path) -> Result<()> {
    let write = |path: &str, text: &str| {
        let path = root.join(path);
        fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
    };
    let copy = |from: &str, to: &str| {
        fs::copy(root.join(from), root.join(to))
            .map(|_| ())
            .with_context(|| format!("cannot copy {from} to {to} in the Debian system"))
    };
    let link = |path: &str, target: &str| {
        let path = root.join(path);
        let _ = fs::remove_file(&path);
        std::os::unix::fs::symlink(target, &path)
            .with_context(|| format!("cannot link {}", path.display()))
    };
    // base-passwd's postinst installs these; systemd-sysusers adds its own
    // users and D-Bus's at boot.
    copy("usr/share/base-passwd/passwd.master", "etc/passwd")?;
    copy("usr/share/base-passwd/group.master", "etc/group")?;
    // A machine id makes this boot not the first one, which would run
    // systemd-firstboot's prompts and enable every unit's preset.
    write("etc/machine-id", "6f736d74726163652d64656269616e31\n")?;
    write("etc/hostname", "osmtrace\n")?;
    link(
        "etc/systemd/system/default.target",
        "/lib/systemd/system/multi-user.target",
    )?;
    // No login prompt on the console the command's output goes to; no
    // automount of binfmt_misc, whose autofs module is not in the image.
    link("etc/systemd/system/getty.target", "/dev/null")?;
    link(
        "etc/systemd/system/proc-sys-fs-binfmt_misc.automount",
        "/dev/null",
    )?;
    // The command's shell, dash under the name follow= looks for (the
    // kernel names a process after the file it executes).
    link(&format!("bin/{}", guest::COMMAND_NAME), "dash")?;
    Ok(())
}

/// Writes the tree at `root` as a newc cpio archive: owners, modes,
/// links and device nodes as they are (mmdebstrap ran as root).
fn pack(root: &Path, out: &Path) -> Result<()> {
    let file = fs::File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    guest::run(
        Command::new("sh")
            .arg("-c")
            .arg("find . -mount -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet --reproducible")
            .current_dir(root)
            .stdout(file),
    )
    .map_err(|e| anyhow!("{e:#} (cpio: scripts/setup.sh installs it)"))?;
    Ok(())
}

/// The service that runs the command once the system is up, prints the
/// markers the busybox guest's init prints ([`guest::START_MARKER`],
/// [`guest::EXIT_MARKER`]) on the console, and powers the system off.
const SERVICE: &str = "[Unit]
Description=osmtrace workload
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/osmtrace-run
StandardOutput=tty
StandardError=inherit
TTYPath=/dev/console
# Should the script itself fail, the system still powers off.
FailureAction=poweroff
";

const RUN_SCRIPT: &str = r#"#!/bin/sh
cd /
echo OSMTRACE-START
/bin/osmtrace-sh -c "$(cat /osmtrace-cmd)"
rc=$?
echo "OSMTRACE-EXIT $rc"
systemctl poweroff
"#;

/// Names this module's own archive puts at the root.
const RESERVED: [&str; 3] = ["osmtrace-run", "osmtrace-cmd", "TRAILER!!!"];

/// Writes the initramfs of one run to `out`: the system's root file system
/// followed by an archive with `cmd`, the service that runs it and each of
/// `files` as `/<basename>`, mode 0755.
pub fn build_initramfs(
    system: &DebianSystem,
    files: &[PathBuf],
    cmd: &str,
    out: &Path,
) -> Result<()> {
    let writing = || format!("writing initramfs {}", out.display());
    let mut cpio = CpioWriter::new(Vec::new());
    cpio.file("osmtrace-cmd", 0o644, cmd.as_bytes())
        .with_context(writing)?;
    cpio.file("osmtrace-run", 0o755, RUN_SCRIPT.as_bytes())
        .with_context(writing)?;
    cpio.file(
        "etc/systemd/system/osmtrace.service",
        0o644,
        SERVICE.as_bytes(),
    )
    .with_context(writing)?;
    // The kernel's unpacker makes no missing parent directories.
    cpio.dir("etc/systemd/system/multi-user.target.wants", 0o755)
        .with_context(writing)?;
    cpio.symlink(
        "etc/systemd/system/multi-user.target.wants/osmtrace.service",
        "../osmtrace.service",
    )
    .with_context(writing)?;
    let taken = |name: &str| RESERVED.contains(&name) || system.top_level.iter().any(|t| t == name);
    guest::add_files(&mut cpio, files, taken, out)?;
    let run_archive = cpio.finish().with_context(writing)?;

    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    // Uncompressed: under TCG the guest kernel took longer to inflate a
    // gzip or zstd archive than to boot the system (x86_64: 34 s
    // uncompressed, 79 s zstd).
    let tmp = out.with_extension(format!("tmp{}", std::process::id()));
    let result = fs::copy(&system.rootfs, &tmp)
        .with_context(|| format!("cannot copy {}", system.rootfs.display()))
        .and_then(|_| {
            let mut file = fs::OpenOptions::new()
                .append(true)
                .open(&tmp)
                .with_context(writing)?;
            file.write_all(&run_archive).with_context(writing)
        })
        .and_then(|()| fs::rename(&tmp, out).with_context(writing));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_round_trip() {
        let dir = guest::TempDir::new(&std::env::temp_dir(), "osmtrace-debian-test").unwrap();
        let system = DebianSystem {
            arch: GuestArch::Aarch64,
            rootfs: dir.path().join("rootfs.cpio"),
            packages: 120,
            systemd_version: "252.39-1~deb12u1".into(),
            top_level: vec!["bin".into(), "etc".into()],
        };
        fs::write(dir.path().join("stamp"), system.stamp()).unwrap();
        // No archive yet: not a complete cache.
        assert!(DebianSystem::load(GuestArch::Aarch64, dir.path()).is_none());
        fs::write(&system.rootfs, b"070701").unwrap();
        let loaded = DebianSystem::load(GuestArch::Aarch64, dir.path()).unwrap();
        assert_eq!(loaded.packages, 120);
        assert_eq!(loaded.systemd_version, "252.39-1~deb12u1");
        assert_eq!(loaded.top_level, ["bin", "etc"]);
        assert!(DebianSystem::load(GuestArch::X86_64, dir.path()).is_none());

        // The run's archive follows the system's; names at its root are refused.
        let out = dir.path().join("initrd.cpio");
        build_initramfs(&loaded, &[], "true", &out).unwrap();
        let bytes = fs::read(&out).unwrap();
        assert!(bytes.starts_with(b"070701070701"));
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("multi-user.target.wants/osmtrace.service"));
        let etc = dir.path().join("etc");
        fs::write(&etc, b"x").unwrap();
        let e = format!(
            "{:#}",
            build_initramfs(&loaded, &[etc], "true", &out).unwrap_err()
        );
        assert!(e.contains("/etc is already in the initramfs"), "{e}");
    }

    #[test]
    fn service_prints_the_guest_markers() {
        assert!(RUN_SCRIPT.contains(&format!("\necho {}\n", guest::START_MARKER)));
        assert!(RUN_SCRIPT.contains(&format!("\necho \"{}$rc\"\n", guest::EXIT_MARKER)));
        assert!(RUN_SCRIPT.contains(&format!("/bin/{} -c", guest::COMMAND_NAME)));
        assert!(RUN_SCRIPT.ends_with("systemctl poweroff\n"));
        assert!(SERVICE.contains("ExecStart=/osmtrace-run\n"));
    }
}
