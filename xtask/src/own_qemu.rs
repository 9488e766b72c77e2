//! `cargo xtask trace --spec MODEL -- qemu-system-TARGET ...`: the user's
//! own VM (their disk image, devices, network) run as they wrote it, with
//! the plugin added.

use crate::trace::TraceOptions;
use anyhow::{Context as _, Result, anyhow, bail};
use osm_compiler::model::Model;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

pub fn run(
    options: &TraceOptions,
    model: &Model,
    plugin: &Path,
    mut plugin_args: Vec<String>,
) -> Result<()> {
    let (binary, qemu_args) = options
        .qemu
        .split_first()
        .context("after --: a qemu-system-TARGET command line")?;
    if osm_runtime::kernel::needs_layout(model)
        && !plugin_args.iter().any(|a| a.starts_with("kernel="))
        && let Some(kernel) = btf_kernel(qemu_args)
    {
        plugin_args.push(format!("kernel={}", kernel.display()));
    }
    if let Some(out) = &options.out {
        let out = std::path::absolute(out).with_context(|| format!("--out {}", out.display()))?;
        plugin_args.push(format!("log={}", out.display()));
    }
    let mut cmd = Command::new(binary);
    cmd.args(with_plugin(qemu_args, plugin, &plugin_args)?);
    if options.print_qemu {
        println!("{}", shell_line(&cmd)?);
        return Ok(());
    }
    eprintln!(
        "osmtrace: running {binary} with the plugin; the trace goes to {}",
        options
            .out
            .as_ref()
            .map_or_else(|| "QEMU's stderr".to_string(), |o| o.display().to_string())
    );
    // QEMU takes this process's place: Ctrl-C, SIGTERM and the monitor's
    // `quit` reach it as if it had been started by hand, and its exit
    // status is the command's.
    let error = cmd.exec();
    Err(anyhow!("cannot run {binary}: {error}"))
}

/// `cmd` as a line to paste into a shell (`--print-qemu`).
pub fn shell_line(cmd: &Command) -> Result<String> {
    let words: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    shlex::try_join(words.iter().map(String::as_str)).context("cannot quote the command line")
}

/// The plugin traces whole systems of the model's architecture, which the
/// QEMU binary's name says (`qemu-system-aarch64`); refused before it boots.
pub fn check_target(binary: &str, model: &Model, spec: &Path) -> Result<()> {
    let name = Path::new(binary)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(binary);
    let Some(target) = name.strip_prefix("qemu-system-") else {
        bail!(
            "after --: the command must start with a qemu-system-TARGET binary (got `{binary}`): the plugin traces whole systems"
        );
    };
    let arch = model.arch.name();
    if target != arch {
        bail!(
            "after --: {name} emulates {target}, but {} is a model for {arch} (use qemu-system-{arch})",
            spec.display()
        );
    }
    Ok(())
}

/// The `-kernel` the command boots, when it carries BTF: the plugin reads
/// the guest's names with it (`kernel=`). Otherwise the plugin says what
/// to give instead.
fn btf_kernel(qemu_args: &[String]) -> Option<std::path::PathBuf> {
    let path = qemu_args
        .windows(2)
        .rev()
        .find(|w| w[0] == "-kernel" || w[0] == "--kernel")
        .map(|w| Path::new(&w[1]))?;
    let data = std::fs::read(path).ok()?;
    osm_runtime::kernel::find_btf(&data).ok()?;
    std::path::absolute(path).ok()
}

/// The user's arguments with `-plugin` added and `plugin` added to the
/// `-d` log items (QEMU takes the last `-d`), so the plugin's messages
/// reach stderr.
fn with_plugin(qemu_args: &[String], plugin: &Path, plugin_args: &[String]) -> Result<Vec<String>> {
    let spec = crate::guest::plugin_option(plugin, &plugin_args.join(","))?;
    let mut args = qemu_args.to_vec();
    match args.iter().rposition(|a| a == "-d") {
        Some(i) if i + 1 < args.len() => {
            if !args[i + 1].split(',').any(|item| item == "plugin") {
                args[i + 1].push_str(",plugin");
            }
        }
        _ => args.extend(["-d".to_string(), "plugin".to_string()]),
    }
    args.extend(["-plugin".to_string(), spec]);
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn the_plugin_is_added_and_its_log_items_joined_to_the_users() {
        let plugin = Path::new("/p/libosm.so");
        let args = with_plugin(&strings(&["-m", "1G"]), plugin, &strings(&["format=jsonl"]));
        assert_eq!(
            args.unwrap(),
            strings(&[
                "-m",
                "1G",
                "-d",
                "plugin",
                "-plugin",
                "/p/libosm.so,format=jsonl"
            ])
        );
        let args = with_plugin(&strings(&["-d", "guest_errors"]), plugin, &[]).unwrap();
        assert_eq!(
            args,
            strings(&["-d", "guest_errors,plugin", "-plugin", "/p/libosm.so"])
        );
    }

    #[test]
    fn a_qemu_of_another_architecture_is_refused() {
        let model = osm_compiler::compile_path(
            &crate::codegen::repo_root().join("specs/linux-aarch64.osm"),
        )
        .result
        .expect("the aarch64 model checks");
        let spec = Path::new("specs/linux-aarch64.osm");
        assert!(check_target("/usr/bin/qemu-system-aarch64", &model, spec).is_ok());
        let err = format!(
            "{:#}",
            check_target("qemu-system-x86_64", &model, spec).unwrap_err()
        );
        assert!(
            err.contains("qemu-system-x86_64 emulates x86_64, but specs/linux-aarch64.osm is a model for aarch64"),
            "{err}"
        );
        let err = format!(
            "{:#}",
            check_target("qemu-aarch64", &model, spec).unwrap_err()
        );
        assert!(
            err.contains("must start with a qemu-system-TARGET binary"),
            "{err}"
        );
    }
}
