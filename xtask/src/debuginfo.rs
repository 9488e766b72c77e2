//! `cargo xtask isf`, and the layout `cargo xtask trace` gives the plugin
//! (`kernel=`): the guest kernel's own BTF when it has some, else an ISF
//! profile made once from the vmlinux in the kernel's Debian `-dbg`
//! package and cached beside the kernel.

use crate::guest::{self, GuestArch, GuestKernel, TempDir};
use crate::isf;
use anyhow::{Context as _, Result, anyhow, bail};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct IsfOptions {
    /// A vmlinux with debug information (DWARF), e.g. a `-dbg` package's
    /// `/usr/lib/debug/boot/vmlinux-*`.
    #[arg(long, conflicts_with = "arch", required_unless_present = "arch")]
    pub vmlinux: Option<PathBuf>,
    /// Instead: the kernel `cargo xtask trace` boots for this architecture
    /// (x86_64, i386, arm, aarch64, mipsel, mips64el, ppc64, s390x,
    /// riscv64), whose `-dbg` package is downloaded.
    #[arg(long)]
    pub arch: Option<String>,
    /// Where to write the profile (default: printed path in the guest cache
    /// for --arch; required with --vmlinux).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct KernelOptions {
    /// The guest architecture (x86_64, i386, arm, aarch64, mipsel,
    /// mips64el, ppc64, s390x, riscv64).
    #[arg(long)]
    pub arch: String,
    /// The Debian release of the kernel (12 or 13), as `cargo xtask trace
    /// --debian` takes it.
    #[arg(long, value_name = "VERSION")]
    pub debian: Option<String>,
}

/// `cargo xtask kernel`: fetches the guest kernel of an architecture and
/// prints what to give the plugin as `kernel=`: the image when it carries
/// BTF, else its ISF profile (made now if need be).
pub fn kernel(options: &KernelOptions) -> Result<()> {
    let mut log = std::io::stderr();
    let kernel = prepare_guest(&options.arch, options.debian.as_deref(), &mut log)?;
    println!("{}", guest_layout(&kernel, &mut log)?.display());
    Ok(())
}

fn guest_arch(arch: &str) -> Result<GuestArch> {
    GuestArch::from_qemu_target(arch).with_context(|| {
        let known: Vec<String> = GuestArch::ALL.iter().map(|a| a.to_string()).collect();
        format!(
            "--arch {arch}: no such guest (guests: {})",
            known.join(", ")
        )
    })
}

fn prepare_guest(arch: &str, debian: Option<&str>, log: &mut dyn Write) -> Result<GuestKernel> {
    let target = crate::codegen::repo_root().join("target");
    guest::prepare_debian(guest_arch(arch)?, debian, &target, log)
}

pub fn run(options: &IsfOptions) -> Result<()> {
    let mut log = std::io::stderr();
    match (&options.vmlinux, &options.arch) {
        (Some(vmlinux), _) => {
            let out = options
                .out
                .as_ref()
                .context("--vmlinux needs --out FILE for the profile")?;
            write_profile(vmlinux, out, &mut log)?;
            println!("{}", out.display());
        }
        (None, Some(arch)) => {
            let arch = guest_arch(arch)?;
            let target = crate::codegen::repo_root().join("target");
            let kernel = guest::prepare(arch, &guest::cache_dir(&target, arch), &mut log)?;
            let profile = guest_profile(&kernel, &mut log)?;
            match &options.out {
                Some(out) => {
                    fs::copy(&profile, out)
                        .with_context(|| format!("cannot write {}", out.display()))?;
                    println!("{}", out.display());
                }
                None => println!("{}", profile.display()),
            }
        }
        (None, None) => bail!("give --vmlinux PATH or --arch ARCH"),
    }
    Ok(())
}

/// What `kernel=` should name for the guest kernel: the image itself when
/// it carries BTF, else its ISF profile (made now if need be). The image is
/// searched only when its configuration does not rule BTF out: searching
/// one without takes seconds of decompressing.
pub fn guest_layout(kernel: &GuestKernel, log: &mut dyn Write) -> Result<PathBuf> {
    if kernel.built_with("DEBUG_INFO_BTF") != Some(false) {
        let data = fs::read(&kernel.image)
            .with_context(|| format!("cannot read {}", kernel.image.display()))?;
        if osm_runtime::kernel::find_btf(&data).is_ok() {
            return Ok(kernel.image.clone());
        }
    }
    guest_profile(kernel, log)
}

/// The cached ISF profile of a guest kernel, made from its `-dbg`
/// package (about 600 to 900 MB, downloaded once and deleted after).
pub fn guest_profile(kernel: &GuestKernel, log: &mut dyn Write) -> Result<PathBuf> {
    let arch = kernel.arch;
    let out = kernel
        .dir
        .join(format!("{}.isf.json", kernel.kernel_package));
    if out.is_file() {
        return Ok(out);
    }
    let started = Instant::now();
    let _ = writeln!(
        log,
        "guest {arch}: {} has no BTF; making an ISF profile from its debug information",
        kernel.kernel_package
    );
    let work = TempDir::new(&kernel.dir, "dbg")?;
    let dbg = format!("{}-dbg", kernel.kernel_package);
    let (debs, _) = guest::fetch_debs(
        arch,
        kernel.release,
        &[format!("{dbg}={}", kernel.kernel_version)],
        None,
        work.path(),
        log,
    )
    .map_err(|e| {
        anyhow!(
            "{e:#}\n(the profile needs {dbg} {}, the debug information of the kernel the guest boots)",
            kernel.kernel_version
        )
    })?;
    let release = kernel
        .kernel_package
        .strip_prefix("linux-image-")
        .unwrap_or(&kernel.kernel_package);
    let member = format!("./usr/lib/debug/boot/vmlinux-{release}");
    let root = work.path().join("root");
    fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
    guest::extract(&debs[0].path, &root, &[&member], true)?;
    // The package is not needed any more; the profile is small.
    let _ = fs::remove_file(&debs[0].path);
    let vmlinux = root.join(&member);
    write_profile(&vmlinux, &out, log)?;
    let _ = writeln!(
        log,
        "guest {arch}: ISF profile ready in {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(out)
}

fn write_profile(vmlinux: &Path, out: &Path, log: &mut dyn Write) -> Result<()> {
    let size = fs::metadata(vmlinux)
        .with_context(|| format!("cannot read {}", vmlinux.display()))?
        .len();
    let _ = writeln!(
        log,
        "isf: reading the types and symbols of {} ({:.0} MB)",
        vmlinux.display(),
        size as f64 / 1e6
    );
    let json = isf::profile(vmlinux)?;
    let tmp = out.with_extension("json.part");
    fs::write(&tmp, json.as_bytes()).with_context(|| format!("cannot write {}", tmp.display()))?;
    fs::rename(&tmp, out).with_context(|| format!("cannot write {}", out.display()))?;
    let _ = writeln!(
        log,
        "isf: wrote {} ({:.1} MB)",
        out.display(),
        json.len() as f64 / 1e6
    );
    Ok(())
}
