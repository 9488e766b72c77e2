//! Fetches Debian packages with a private apt configuration and extracts
//! their files.

use super::host::{failed, run, spawn_error, write_file};
use super::{GuestArch, Release};
use anyhow::{Context as _, Result, anyhow, bail};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const MIRROR: &str = "http://deb.debian.org/debian";
pub const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// A package downloaded by [`fetch_debs`].
pub struct Deb {
    pub path: PathBuf,
    pub package: String,
    pub version: String,
}

/// Downloads Debian packages (`name` or `name=version`) of `arch`'s
/// release and architecture into `work` with a private apt configuration
/// (the system's is not touched), after the concrete kernel package that
/// `kernel_meta` depends on, when given (returned too). Says what it
/// downloads and how big to `log`.
pub fn fetch_debs(
    arch: GuestArch,
    release: Release,
    packages: &[String],
    kernel_meta: Option<&str>,
    work: &Path,
    log: &mut dyn Write,
) -> Result<(Vec<Deb>, Option<String>)> {
    fetch(arch, release, packages, kernel_meta, false, work, log)
}

/// [`fetch_debs`] of `packages` and every package they depend on,
/// recursively (Depends and Pre-Depends; an alternative's every choice):
/// what a program needs to run in a guest that has none of them.
pub fn fetch_with_depends(
    arch: GuestArch,
    release: Release,
    packages: &[String],
    work: &Path,
    log: &mut dyn Write,
) -> Result<Vec<Deb>> {
    Ok(fetch(arch, release, packages, None, true, work, log)?.0)
}

fn fetch(
    arch: GuestArch,
    release: Release,
    packages: &[String],
    kernel_meta: Option<&str>,
    with_depends: bool,
    work: &Path,
    log: &mut dyn Write,
) -> Result<(Vec<Deb>, Option<String>)> {
    let apt_dir = work.join("apt");
    let debs = work.join("debs");
    for dir in [
        apt_dir.join("lists/partial"),
        apt_dir.join("archives/partial"),
        apt_dir.join("cache"),
        debs.clone(),
    ] {
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let suites = release.suites();
    let sources: String = suites
        .iter()
        .map(|suite| format!("deb [signed-by={KEYRING}] {MIRROR} {suite} main\n"))
        .collect();
    write_file(&apt_dir.join("sources.list"), sources.as_bytes())?;

    let apt = |program: &str| private_apt(program, &apt_dir, arch.deb_arch());

    let _ = writeln!(
        log,
        "guest {arch}: apt-get update ({MIRROR} {}, {})",
        suites.join(" "),
        arch.deb_arch()
    );
    // A suite whose index fails to download (a mirror caught mid-sync) is
    // not fatal by itself: apt keeps the lists it got, and a package
    // missing from them is reported below with this warning.
    let update_warning = run(apt("apt-get").args(["-q", "update"])).err();
    if let Some(warning) = &update_warning {
        let _ = writeln!(
            log,
            "guest {arch}: warning: continuing with the lists apt got: {warning:#}"
        );
    }
    let with_update_warning = |message: anyhow::Error| match &update_warning {
        Some(warning) => anyhow!("{message:#}\n(apt-get update had failed: {warning:#})"),
        None => message,
    };

    let mut wanted: Vec<String> = packages.to_vec();
    let mut resolved = None;
    if let Some(meta) = kernel_meta {
        let depends = run(apt("apt-cache").args(["depends", meta])).map_err(with_update_warning)?;
        let kernel_package = resolve_kernel(&depends, arch.kernel_flavour()).ok_or_else(|| {
            with_update_warning(anyhow!(
                "cannot resolve {meta} to a kernel package; apt-cache depends said:\n{depends}"
            ))
        })?;
        let _ = writeln!(log, "guest {arch}: {meta} resolves to {kernel_package}");
        wanted.insert(0, kernel_package.clone());
        resolved = Some(kernel_package);
    }
    if with_depends {
        let tree = run(apt("apt-cache")
            .args(["depends", "--recurse", "--no-recommends", "--no-suggests"])
            .args([
                "--no-conflicts",
                "--no-breaks",
                "--no-replaces",
                "--no-enhances",
            ])
            .args(&wanted))
        .map_err(with_update_warning)?;
        wanted = depends_closure(&tree);
    }
    let _ = writeln!(
        log,
        "guest {arch}: downloading {} ({})",
        wanted.join(" and "),
        arch.deb_arch()
    );
    run(apt("apt-get")
        .args(["-q", "download"])
        .args(&wanted)
        .current_dir(&debs))
    .map_err(with_update_warning)?;

    let mut found = Vec::new();
    let entries = fs::read_dir(&debs).with_context(|| format!("cannot list {}", debs.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_none_or(|x| x != "deb") {
            continue;
        }
        let fields = run(Command::new("dpkg-deb")
            .arg("-f")
            .arg(&path)
            .args(["Package", "Version"]))?;
        let field = |name: &str| {
            fields
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let (package, version) = (field("Package"), field("Version"));
        let _ = writeln!(
            log,
            "guest {arch}: got {package} {version} ({:.1} MB)",
            size as f64 / 1e6
        );
        found.push(Deb {
            path,
            package,
            version,
        });
    }
    for package in &wanted {
        let name = package.split('=').next().unwrap_or(package);
        if !found.iter().any(|d| d.package == name) {
            bail!("apt-get download left no {name} .deb");
        }
    }
    Ok((found, resolved))
}

/// The packages `apt-cache depends --recurse` lists, in its order: the
/// lines that start without a blank, except virtual packages (`<name>`),
/// which some real package listed provides.
fn depends_closure(tree: &str) -> Vec<String> {
    let mut packages: Vec<String> = Vec::new();
    for line in tree.lines() {
        if line.starts_with(char::is_whitespace) || line.starts_with('<') || line.is_empty() {
            continue;
        }
        let name = line
            .trim()
            .split(':')
            .next()
            .unwrap_or_default()
            .to_string();
        if !packages.contains(&name) {
            packages.push(name);
        }
    }
    packages
}

/// The concrete kernel package in `apt-cache depends <metapackage>` output:
/// `  Depends: linux-image-6.1.0-50-amd64` (maybe with an `:arch` suffix).
fn resolve_kernel(depends: &str, flavour: &str) -> Option<String> {
    depends.lines().find_map(|line| {
        let package = line.trim().strip_prefix("Depends:")?.trim();
        let package = package.split(':').next()?.trim();
        let release = package.strip_prefix("linux-image-")?;
        let flavoured = release.strip_suffix(flavour)?.ends_with('-');
        (flavoured && release.starts_with(|c: char| c.is_ascii_digit()))
            .then(|| package.to_string())
    })
}

/// Extracts the members of `deb` matching the tar wildcards into `dest`;
/// with `first_only`, tar stops after the first match of each, so a large
/// package is not decompressed to its end (dpkg-deb, its feeder, then
/// dies of the closed pipe, which is not an error).
pub fn extract(deb: &Path, dest: &Path, patterns: &[&str], first_only: bool) -> Result<()> {
    let mut dpkg = Command::new("dpkg-deb")
        .arg("--fsys-tarfile")
        .arg(deb)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| spawn_error("dpkg-deb", &e))?;
    let tarball = dpkg.stdout.take().expect("piped stdout");
    let tar = Command::new("tar")
        .arg("-x")
        .arg("--no-same-owner")
        .arg("-C")
        .arg(dest)
        .arg("--wildcards")
        .args(first_only.then_some("--occurrence=1"))
        .args(patterns)
        .stdin(tarball)
        .output()
        .map_err(|e| spawn_error("tar", &e));
    let dpkg = dpkg.wait_with_output()?;
    let tar = tar?;
    if !tar.status.success() {
        return Err(failed(
            &format!("extracting {patterns:?} from {}", deb.display()),
            &tar,
        ));
    }
    if !dpkg.status.success() && !first_only {
        return Err(failed(
            &format!("dpkg-deb --fsys-tarfile {}", deb.display()),
            &dpkg,
        ));
    }
    Ok(())
}

/// An apt command with a private configuration under `apt_dir` (its own
/// lists, caches and `sources.list`, no dpkg status, one architecture):
/// the host's apt state is neither read nor changed.
pub fn private_apt(program: &str, apt_dir: &Path, deb_arch: &str) -> Command {
    let d = |sub: &str| apt_dir.join(sub).display().to_string();
    let options = [
        format!("Dir::State::Lists={}", d("lists")),
        format!("Dir::Etc::SourceList={}", d("sources.list")),
        "Dir::Etc::SourceParts=/nonexistent".to_string(),
        "Dir::State::Status=/dev/null".to_string(),
        format!("Dir::Cache={}", d("cache")),
        format!("Dir::Cache::Archives={}", d("archives")),
        format!("APT::Architecture={deb_arch}"),
        format!("APT::Architectures={deb_arch}"),
        "APT::Sandbox::User=root".to_string(),
        "Acquire::Languages=none".to_string(),
    ];
    let mut cmd = Command::new(program);
    for option in &options {
        cmd.arg("-o").arg(option);
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depends_closure_lists_real_packages_once() {
        let tree = "strace\n  Depends: libc6\n  Depends: libunwind8\nlibc6\n  Depends: libgcc-s1\n\
                    libunwind8:armhf\n  Depends: libc6\n<libc-dev>\nlibgcc-s1\nlibc6\n";
        assert_eq!(
            depends_closure(tree),
            ["strace", "libc6", "libunwind8", "libgcc-s1"]
        );
    }

    #[test]
    fn resolves_kernel_metapackage() {
        let amd64 = "linux-image-amd64\n  Depends: linux-image-6.1.0-50-amd64\n";
        assert_eq!(
            resolve_kernel(amd64, "amd64").as_deref(),
            Some("linux-image-6.1.0-50-amd64")
        );
        let armhf = "linux-image-armmp:armhf\n  Depends: linux-image-6.1.0-50-armmp:armhf\n";
        assert_eq!(
            resolve_kernel(armhf, "armmp").as_deref(),
            Some("linux-image-6.1.0-50-armmp")
        );
        assert_eq!(
            resolve_kernel("  Depends: linux-image-amd64-signed\n", "amd64"),
            None
        );
        let malta = "linux-image-4kc-malta\n  Depends: linux-image-6.1.0-50-4kc-malta\n";
        assert_eq!(
            resolve_kernel(malta, "4kc-malta").as_deref(),
            Some("linux-image-6.1.0-50-4kc-malta")
        );
        assert_eq!(resolve_kernel(malta, "5kc-malta"), None);
        let trixie = "linux-image-riscv64\n  Depends: linux-image-6.12.117+deb13-riscv64\n";
        assert_eq!(
            resolve_kernel(trixie, "riscv64").as_deref(),
            Some("linux-image-6.12.117+deb13-riscv64")
        );
    }
}
