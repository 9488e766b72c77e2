//! Host-side helpers every phase shares: running programs with useful
//! errors, temporary directories, file reads and writes.

use super::qemu_package;
use anyhow::{Context as _, Result, anyhow};
use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// A fresh directory, removed with its contents when dropped.
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    /// A new directory `.what-XXXX` in `parent`, removed when dropped.
    pub fn new(parent: &Path, what: &str) -> Result<TempDir> {
        tempfile::Builder::new()
            .prefix(&format!(".{what}-"))
            .tempdir_in(parent)
            .map(TempDir)
            .with_context(|| format!("cannot create a directory in {}", parent.display()))
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

pub(super) fn read_file(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

pub(super) fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// Runs a command to completion; its stdout, or an error with its stderr.
pub fn run(cmd: &mut Command) -> Result<String> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| spawn_error(&program, &e))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        return Ok(stdout);
    }
    // The apt commands' -o options would drown the interesting arguments.
    let mut args = Vec::new();
    let mut skip = false;
    for arg in cmd.get_args() {
        let arg = arg.to_string_lossy();
        if std::mem::take(&mut skip) {
            continue;
        }
        if arg == "-o" {
            skip = true;
            continue;
        }
        args.push(arg.into_owned());
    }
    Err(anyhow!(
        "{program} {} failed ({}):\n{}{}",
        args.join(" "),
        out.status,
        tail(&stdout),
        tail(&String::from_utf8_lossy(&out.stderr))
    ))
}

/// `<what> failed (<exit status>): <stderr>`, for a program whose stdout
/// is data rather than messages.
pub(super) fn failed(what: &str, out: &Output) -> anyhow::Error {
    anyhow!(
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    )
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = lines[lines.len().saturating_sub(20)..].join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

/// `cannot run <program>`, with where to get it when that is known.
pub(super) fn spawn_error(program: &str, e: &std::io::Error) -> anyhow::Error {
    let hint = match program {
        "apt-get" | "apt-cache" => {
            " (a Debian or Ubuntu host is needed to fetch guest kernels)".to_string()
        }
        "dpkg-deb" => " (install dpkg)".to_string(),
        _ => match qemu_package(program) {
            Some(package) => {
                format!(" (install {package} from bookworm-backports: scripts/setup.sh)")
            }
            None if program.ends_with("-gcc") => {
                format!(
                    " (install gcc-{}: scripts/setup.sh)",
                    program.trim_end_matches("-gcc")
                )
            }
            None => String::new(),
        },
    };
    anyhow!("cannot run {program}: {e}{hint}")
}
