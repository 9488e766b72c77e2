//! `cargo xtask trace` with several commands (`--cmd` given more than once,
//! or `--runs FILE`): each runs in a guest of its own, several guests at
//! once, each trace in `DIR/run=N/` of `--out DIR`. The `run=N` directory
//! names are Hive partitions: DuckDB or Spark read `DIR/*/trace.parquet` as
//! one table with a `run` column.
//!
//! Each run is this same command with one `--cmd`, in a process of its
//! own, so runs share nothing but the plugin and guest files prepared
//! before they start.

use crate::codegen;
use crate::debian_system;
use crate::guest::{self, GuestArch};
use crate::trace::{GuestSystem, TraceOptions};
use anyhow::{Context as _, Result, bail};
use clap::ValueEnum;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// The commands of `--runs FILE` and the `--cmd`s, in order.
fn commands(options: &TraceOptions) -> Result<Vec<String>> {
    let mut commands = options.cmd.clone();
    if let Some(file) = &options.runs {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("--runs {}", file.display()))?;
        commands.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string),
        );
    }
    if commands.is_empty() {
        bail!("--runs: the file has no commands");
    }
    Ok(commands)
}

/// The trace file's name in a run's directory, by the plugin's format.
fn trace_name(plugin_args: &str) -> &'static str {
    let format = plugin_args
        .split(',')
        .filter_map(|a| a.trim().strip_prefix("format="))
        .next_back();
    match format {
        Some("parquet") => "trace.parquet",
        Some("jsonl") => "trace.jsonl",
        Some("perfetto") => "trace.json",
        _ => "trace.txt",
    }
}

/// How one run ended.
struct Finished {
    seconds: f64,
    /// The guest command's exit code, as the run reported it.
    exit_code: Option<i32>,
    /// Why the run failed (QEMU, a timeout), if it did.
    error: Option<String>,
}

pub fn run(options: &TraceOptions) -> Result<()> {
    let commands = commands(options)?;
    let Some(out) = &options.out else {
        bail!("several runs write a directory of traces: give it with --out DIR");
    };
    if options.print_qemu || !options.qemu.is_empty() || options.also_generic.is_some() {
        bail!(
            "several runs go with neither --print-qemu, --also-generic nor your own QEMU command"
        );
    }
    if out.is_file() {
        bail!(
            "--out {}: a file; several runs write a directory",
            out.display()
        );
    }
    let out = std::path::absolute(out).with_context(|| format!("--out {}", out.display()))?;
    let jobs = options
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, commands.len());
    prepare(options)?;
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    eprintln!(
        "osmtrace: {} runs, {jobs} at a time, into {}",
        commands.len(),
        out.display()
    );
    let trace = trace_name(&options.plugin_args);
    let next = AtomicUsize::new(0);
    let finished: Mutex<Vec<Option<Finished>>> =
        Mutex::new((0..commands.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(cmd) = commands.get(i) else { break };
                    let done = run_one(options, cmd, &out.join(format!("run={i}")), trace);
                    let state = match (&done.error, done.exit_code) {
                        (Some(e), _) => format!("failed: {}", e.lines().next().unwrap_or("")),
                        (None, Some(code)) => format!("exited with {code}"),
                        (None, None) => "did not finish".to_string(),
                    };
                    eprintln!(
                        "osmtrace: run {i} ({cmd}): {state} after {:.1} s; run={i}/{trace}",
                        done.seconds
                    );
                    finished.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(done);
                }
            });
        }
    });
    let finished = finished.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut manifest = String::new();
    let mut failed = 0;
    for (i, (cmd, done)) in commands.iter().zip(&finished).enumerate() {
        let done = done.as_ref().expect("every run finished");
        failed += usize::from(done.error.is_some());
        let line = serde_json::json!({
            "run": i,
            "cmd": cmd,
            "trace": format!("run={i}/{trace}"),
            "log": format!("run={i}/console.txt"),
            "exit_code": done.exit_code,
            "error": done.error,
            "seconds": (done.seconds * 10.0).round() / 10.0,
        });
        manifest.push_str(&line.to_string());
        manifest.push('\n');
    }
    let manifest_path = out.join("runs.jsonl");
    std::fs::write(&manifest_path, manifest)
        .with_context(|| format!("cannot write {}", manifest_path.display()))?;
    eprintln!(
        "osmtrace: {} of {} runs traced; the list is {}",
        commands.len() - failed,
        commands.len(),
        manifest_path.display()
    );
    if failed > 0 {
        bail!("{failed} runs failed (their console.txt says why)");
    }
    Ok(())
}

/// Builds the plugin and fetches the guest's files once, before the runs
/// that share them start.
fn prepare(options: &TraceOptions) -> Result<()> {
    let root = codegen::repo_root();
    let compilation = osm_compiler::compile_path(&options.spec);
    let model = match &compilation.result {
        Ok(model) => model,
        Err(_) => bail!(compilation.render_errors()),
    };
    let arch = GuestArch::from_qemu_target(model.arch.name())
        .with_context(|| format!("no guest for architecture `{}` yet", model.arch.name()))?;
    if options.guest == GuestSystem::Debian {
        debian_system::check(arch, options.debian.as_deref())?;
    }
    for file in &options.add {
        if !file.is_file() {
            bail!("--add {}: no such file", file.display());
        }
    }
    if options.plugin.is_none() {
        eprintln!(
            "osmtrace: building the plugin for {}",
            options.spec.display()
        );
    }
    match &options.plugin {
        Some(plugin) if !plugin.is_file() => {
            bail!("--plugin {}: no such file", plugin.display());
        }
        Some(_) => {}
        None if options.generic => {
            codegen::build_generic(&root, true)?;
        }
        None => {
            codegen::build_plugin(&root, &options.spec, true)?;
        }
    }
    let target = root.join("target");
    let mut log = std::io::stderr();
    guest::prepare_debian(arch, options.debian.as_deref(), &target, &mut log)?;
    if options.guest == GuestSystem::Debian {
        debian_system::prepare(arch, &target, &mut log)?;
    }
    Ok(())
}

/// One run: this command with one `--cmd`, its output in the run's
/// `console.txt`.
fn run_one(options: &TraceOptions, cmd: &str, dir: &Path, trace: &str) -> Finished {
    let started = Instant::now();
    let failed = |error: String| Finished {
        seconds: started.elapsed().as_secs_f64(),
        exit_code: None,
        error: Some(error),
    };
    if let Err(e) = std::fs::create_dir_all(dir.join("work")) {
        return failed(format!("cannot create {}: {e}", dir.display()));
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return failed(format!("cannot find the xtask binary: {e}")),
    };
    let mut command = Command::new(exe);
    command.args(["trace", "--spec"]).arg(&options.spec);
    for file in &options.add {
        command.arg("--add").arg(file);
    }
    command
        .args(["--cmd", cmd, "--plugin-args", &options.plugin_args])
        .arg("--out")
        .arg(dir.join(trace))
        .arg("--work-dir")
        .arg(dir.join("work"))
        .args(["--smp", &options.smp.to_string()])
        .args(["--timeout", &options.timeout.to_string()]);
    if let Some(guest) = options.guest.to_possible_value() {
        command.args(["--guest", guest.get_name()]);
    }
    if let Some(cpu) = &options.cpu {
        command.args(["--cpu", cpu]);
    }
    if let Some(debian) = &options.debian {
        command.args(["--debian", debian]);
    }
    if options.follow {
        command.arg("--follow");
    }
    if options.generic {
        command.arg("--generic");
    }
    if let Some(plugin) = &options.plugin {
        command
            .arg("--plugin")
            .arg(std::path::absolute(plugin).unwrap_or_else(|_| plugin.clone()));
    }
    let output = match command.output() {
        Ok(output) => output,
        Err(e) => {
            return failed(format!(
                "cannot run {}: {e}",
                command.get_program().display()
            ));
        }
    };
    let log: PathBuf = dir.join("console.txt");
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    let _ = std::fs::write(&log, &text);
    let _ = std::fs::remove_dir_all(dir.join("work"));
    let exit_code = text.lines().find_map(|l| {
        l.strip_prefix("osmtrace: guest command exited with ")?
            .split(';')
            .next()?
            .trim()
            .parse()
            .ok()
    });
    // The message a failed run ends with starts after its last
    // `osmtrace:` line.
    let error = (!output.status.success()).then(|| {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        let start = lines
            .iter()
            .rposition(|l| l.starts_with("osmtrace:"))
            .map_or(0, |i| i + 1);
        lines[start..]
            .iter()
            .find(|l| !l.trim().is_empty())
            .map_or("the run failed", |l| l)
            .to_string()
    });
    Finished {
        seconds: started.elapsed().as_secs_f64(),
        exit_code,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_file_named_by_format() {
        assert_eq!(trace_name("format=parquet,summary=on"), "trace.parquet");
        assert_eq!(trace_name("trace=read, format=jsonl"), "trace.jsonl");
        assert_eq!(trace_name("format=perfetto"), "trace.json");
        assert_eq!(trace_name(""), "trace.txt");
    }
}
