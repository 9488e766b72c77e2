//! Builds the busybox initramfs whose /init runs one shell command, reports
//! its exit code and powers off.

use super::GuestKernel;
use super::host::read_file;
use crate::cpio::CpioWriter;
use anyhow::{Context as _, Result, bail};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// Printed by the guest's init after the command, followed by its exit code.
pub const EXIT_MARKER: &str = "OSMTRACE-EXIT ";
/// Printed by the guest's init on a line of its own just before the command.
pub const START_MARKER: &str = "OSMTRACE-START";
/// The command name of the shell that runs the guest command
/// (`follow=osmtrace-sh` traces the command and what it starts).
pub const COMMAND_NAME: &str = "osmtrace-sh";

/// A short demonstration workload for the guest's shell.
pub fn default_workload() -> &'static str {
    "echo hello > /tmp/f; cat /tmp/f; ls /; cat /nonexistent"
}

/// The guest's /init: set up the usual mounts, run /osmtrace-cmd with
/// `sh -c` as root in /, report its exit code, power off. The command's
/// shell is busybox run as `osmtrace-sh` (a link, with `exec -a sh` so
/// that busybox still runs its shell): the kernel names a process after
/// the file it executes, so `follow=osmtrace-sh` picks out the command
/// and what it starts ([`COMMAND_NAME`]).
pub(super) const INIT_SCRIPT: &str = r#"#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
{modules}ln -s /bin/busybox /bin/osmtrace-sh
cd /
echo OSMTRACE-START
(exec -a sh /bin/osmtrace-sh -c "$(cat /osmtrace-cmd)")
rc=$?
echo "OSMTRACE-EXIT $rc"
sync
poweroff -f
"#;

/// Names the initramfs itself uses at its root.
const RESERVED: [&str; 13] = [
    "bin",
    "lib",
    "sbin",
    "usr",
    "proc",
    "sys",
    "dev",
    "tmp",
    "root",
    "etc",
    "init",
    "osmtrace-cmd",
    "TRAILER!!!",
];

/// Writes a gzip-compressed initramfs to `out`: busybox, an /init that runs
/// `cmd` with `sh -c` as root in `/` and then prints `OSMTRACE-EXIT <rc>`
/// and powers off, and each of `files` as `/<basename>` with mode 0755.
/// `cmd` travels in a file, so it may contain any characters. The kernel
/// `modules` ([`disk_modules`](super::disk_modules)) are loaded in their
/// order before the command; without them /init is the same as ever.
pub fn build_initramfs(
    kernel: &GuestKernel,
    files: &[PathBuf],
    modules: &[PathBuf],
    cmd: &str,
    out: &Path,
) -> Result<()> {
    let writing = || format!("writing initramfs {}", out.display());
    let mut cpio = CpioWriter::new(Vec::new());
    for dir in [
        "bin", "sbin", "usr", "usr/bin", "usr/sbin", "proc", "sys", "dev", "etc",
    ] {
        cpio.dir(dir, 0o755).with_context(writing)?;
    }
    cpio.dir("tmp", 0o1777).with_context(writing)?;
    cpio.dir("root", 0o700).with_context(writing)?;
    cpio.char_dev("dev/console", 0o600, 5, 1)
        .with_context(writing)?;
    cpio.file("bin/busybox", 0o755, &read_file(&kernel.busybox)?)
        .with_context(writing)?;
    let mut insmod = String::new();
    if !modules.is_empty() {
        cpio.dir("lib", 0o755).with_context(writing)?;
        cpio.dir("lib/modules", 0o755).with_context(writing)?;
    }
    for module in modules {
        let name = module
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| format!("{}: no usable file name", module.display()))?;
        cpio.file(&format!("lib/modules/{name}"), 0o644, &read_file(module)?)
            .with_context(writing)?;
        insmod.push_str(&format!("insmod /lib/modules/{name}\n"));
    }
    let init = INIT_SCRIPT.replace("{modules}", &insmod);
    cpio.file("init", 0o755, init.as_bytes())
        .with_context(writing)?;
    cpio.file("osmtrace-cmd", 0o644, cmd.as_bytes())
        .with_context(writing)?;
    add_files(&mut cpio, files, |name| RESERVED.contains(&name), out)?;
    let archive = cpio.finish().with_context(writing)?;

    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let tmp = out.with_extension(format!("tmp{}", unique_suffix()));
    // gzip -9n: no name and no time in the header, so the image is the
    // same bytes for the same files.
    let result = fs::File::create(&tmp)
        .and_then(|file| {
            let mut gzip = flate2::write::GzEncoder::new(file, flate2::Compression::best());
            gzip.write_all(&archive)?;
            gzip.finish()?.sync_all()
        })
        .with_context(writing)
        .and_then(|()| fs::rename(&tmp, out).with_context(writing));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Puts each of `files` in `cpio` as `/<basename>`, mode 0755, refusing a
/// name that `taken` says the initramfs has, or that two files share.
pub fn add_files(
    cpio: &mut CpioWriter<Vec<u8>>,
    files: &[PathBuf],
    taken: impl Fn(&str) -> bool,
    out: &Path,
) -> Result<()> {
    let mut names = Vec::new();
    for file in files {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| format!("{}: no usable file name", file.display()))?;
        if taken(name) || names.contains(&name) {
            bail!("{}: /{name} is already in the initramfs", file.display());
        }
        names.push(name);
        cpio.file(name, 0o755, &read_file(file)?)
            .with_context(|| format!("writing initramfs {}", out.display()))?;
    }
    Ok(())
}

/// Unique within this machine for a while: process id, counter, clock.
fn unique_suffix() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}-{}-{nanos:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest::{GuestArch, Release, TempDir};

    #[test]
    fn initramfs_lists_files() {
        let dir = TempDir::new(&std::env::temp_dir(), "osmtrace-guest-test").unwrap();
        let busybox = dir.path().join("busybox");
        let prog = dir.path().join("prog");
        fs::write(&busybox, b"bb").unwrap();
        fs::write(&prog, b"pp").unwrap();
        let kernel = GuestKernel {
            arch: GuestArch::X86_64,
            release: Release::Bookworm,
            dir: dir.path().to_path_buf(),
            image: dir.path().join("vmlinuz"),
            config: dir.path().join("config"),
            busybox,
            kernel_package: "k".into(),
            kernel_version: "1".into(),
            busybox_version: "1".into(),
        };
        let out = dir.path().join("initrd.gz");
        build_initramfs(
            &kernel,
            std::slice::from_ref(&prog),
            &[],
            "echo 'a \"b\"'",
            &out,
        )
        .expect("the initramfs builds");
        let gz = fs::read(&out).unwrap();
        assert_eq!(&gz[..2], b"\x1f\x8b");
        let clash = build_initramfs(&kernel, &[prog.clone(), prog], &[], "true", &out);
        let e = format!("{:#}", clash.unwrap_err());
        assert!(e.contains("already in the initramfs"), "{e}");
    }
}
