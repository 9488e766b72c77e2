//! `cargo xtask <command>`: the project's commands, in Rust so they run the
//! same everywhere cargo does.

mod bench;
mod codegen;
mod cpio;
mod debian_system;
mod debuginfo;
mod dist;
mod guest;
mod import;
mod import_linux;
mod isf;
mod own_qemu;
mod record;
mod runs;
mod trace;
mod view;

use anyhow::{Result, anyhow, bail};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "osmtrace developer and user commands")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check an OS model and print "ok: N syscalls, M mechanisms" or its errors.
    Check {
        /// The model file (.osm).
        #[arg(long)]
        spec: PathBuf,
        /// Also print the checked model.
        #[arg(long)]
        dump: bool,
    },
    /// Regenerate the plugin crates in generated/ from the models in specs/.
    Generate {
        /// Only report whether generated/ is stale; change nothing.
        #[arg(long)]
        check: bool,
    },
    /// Build a model's QEMU plugin in release mode; prints the .so path last.
    Build {
        /// The model file (.osm), in specs/ or anywhere else.
        #[arg(long, conflicts_with = "all")]
        spec: Option<PathBuf>,
        /// Every model in specs/.
        #[arg(long)]
        all: bool,
        /// With --all: only check that generated/ matches specs/.
        #[arg(long, requires = "all")]
        check: bool,
        /// The generic plugin, libosmtrace.so, which loads a model at run
        /// time: `-plugin libosmtrace.so,spec=MODEL.osm,...`.
        #[arg(long, conflicts_with_all = ["spec", "all"])]
        generic: bool,
    },
    /// Build a model's plugin, boot a Debian guest of its architecture with
    /// it, run a command and print or save the trace.
    Trace(trace::TraceOptions),
    /// Run a guest once under QEMU's record mode (no plugin) into a
    /// recording directory, for `cargo xtask trace --replay`.
    Record(record::RecordOptions),
    /// View a recorded jsonl trace: filtered, as strace text, the summary
    /// table, a Perfetto timeline or a Parquet table.
    TraceView(view::ViewOptions),
    /// Run a model's test vectors (MODEL.tests beside it) through its
    /// generated decoders, without QEMU.
    TestSpec {
        /// The model file (.osm).
        #[arg(long)]
        spec: PathBuf,
    },
    /// Write the Windows and FreeBSD syscall tables from PANDA's prototype
    /// lists in data/ (or, with --check, say whether they differ).
    ImportPanda {
        #[arg(long)]
        check: bool,
    },
    /// Write the Linux models' syscall tables from the kernel's headers in
    /// Debian packages and specs/linux-annotations.txt (or, with --check,
    /// say whether they differ).
    ImportLinux {
        #[arg(long)]
        check: bool,
    },
    /// Build the release: every model's plugin and the generic plugin, with
    /// the models, documentation and a manifest, as
    /// target/dist/osmtrace-VERSION-x86_64-linux.tar.gz and a Debian package
    /// target/dist/osmtrace_VERSION_amd64.deb.
    Dist(dist::DistOptions),
    /// Measure what tracing costs (writes BENCHMARKS.md).
    Bench(bench::BenchOptions),
    /// Write an ISF profile (Volatility 3's JSON) of a kernel's layout from
    /// its debug information, for kernels built without BTF
    /// (`-plugin ...,kernel=PROFILE.json`).
    Isf(debuginfo::IsfOptions),
    /// Fetch the guest kernel of an architecture and print what to give
    /// the plugin as kernel= (the image when it has BTF, else its ISF
    /// profile).
    Kernel(debuginfo::KernelOptions),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check { spec, dump } => return check(&spec, dump),
        Command::Generate { check } => generate(check),
        Command::Build {
            spec,
            all,
            check,
            generic,
        } => {
            if generic {
                codegen::build_generic(&codegen::repo_root(), false)
                    .map(|library| println!("{}", library.display()))
            } else {
                build(spec, all, check)
            }
        }
        Command::Trace(options) => trace::run(&options),
        Command::Record(options) => record::run(&options),
        Command::TraceView(options) => view::run(&options),
        Command::ImportPanda { check } => import_panda(check),
        Command::ImportLinux { check } => import_linux(check),
        Command::TestSpec { spec } => codegen::test_spec(&codegen::repo_root(), &spec),
        Command::Dist(options) => dist::run(&options),
        Command::Bench(options) => bench::run(&options),
        Command::Isf(options) => debuginfo::run(&options),
        Command::Kernel(options) => debuginfo::kernel(&options),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}`: each context with its cause, `cannot read FILE: why`.
            eprintln!("{}", format!("{error:#}").trim_end());
            ExitCode::FAILURE
        }
    }
}

fn import_panda(check: bool) -> Result<()> {
    let root = codegen::repo_root();
    let stale = import::import(&root, check)?;
    let names: Vec<String> = stale
        .iter()
        .map(|p| p.strip_prefix(&root).unwrap_or(p).display().to_string())
        .collect();
    match (check, names.is_empty()) {
        (_, true) => println!("imported tables are up to date"),
        (true, false) => {
            bail!(
                "imported tables differ: {}; run `{}`",
                names.join(", "),
                import::IMPORT_COMMAND
            );
        }
        (false, false) => println!("imported: {}", names.join(", ")),
    }
    Ok(())
}

fn import_linux(check: bool) -> Result<()> {
    let root = codegen::repo_root();
    let stale = import_linux::import(&root, check)?;
    let names: Vec<String> = stale
        .iter()
        .map(|p| p.strip_prefix(&root).unwrap_or(p).display().to_string())
        .collect();
    match (check, names.is_empty()) {
        (_, true) => println!("imported Linux tables are up to date"),
        (true, false) => {
            bail!(
                "imported Linux tables differ: {}; run `{}`",
                names.join(", "),
                import_linux::IMPORT_COMMAND
            );
        }
        (false, false) => println!("imported: {}", names.join(", ")),
    }
    Ok(())
}

fn generate(check: bool) -> Result<()> {
    let root = codegen::repo_root();
    let stale = codegen::generate_all(&root, check).map_err(anyhow::Error::msg)?;
    report_stale(&root, &stale, check)
}

fn report_stale(root: &std::path::Path, stale: &[PathBuf], check: bool) -> Result<()> {
    let names: Vec<String> = stale
        .iter()
        .map(|p| p.strip_prefix(root).unwrap_or(p).display().to_string())
        .collect();
    match (check, names.is_empty()) {
        (_, true) => {
            println!("generated/ is up to date");
            Ok(())
        }
        (true, false) => Err(anyhow!(
            "generated/ is stale: {}\nrun `{}` and review the change",
            names.join(", "),
            codegen::GENERATE_COMMAND
        )),
        (false, false) => {
            println!("regenerated: {}", names.join(", "));
            Ok(())
        }
    }
}

fn build(spec: Option<PathBuf>, all: bool, check: bool) -> Result<()> {
    let root = codegen::repo_root();
    match (spec, all) {
        (Some(spec), false) if !check => {
            let library = codegen::build_plugin(&root, &spec, false)?;
            println!("{}", library.display());
            Ok(())
        }
        (None, true) if check => {
            let stale = codegen::generate_all(&root, true).map_err(anyhow::Error::msg)?;
            report_stale(&root, &stale, true)
        }
        (None, true) => {
            for spec in codegen::shipped_models(&root).map_err(anyhow::Error::msg)? {
                let library = codegen::build_plugin(&root, &spec, false)?;
                println!("{}", library.display());
            }
            Ok(())
        }
        _ => bail!("usage: cargo xtask build --spec MODEL.osm | --all [--check] | --generic"),
    }
}

fn check(spec: &std::path::Path, dump: bool) -> ExitCode {
    let compilation = osm_compiler::compile_path(spec);
    match &compilation.result {
        Ok(model) => {
            if dump {
                print!("{}", model.pretty());
            }
            let mechanisms = model.mechanisms.len();
            println!(
                "ok: {} syscalls, {mechanisms} mechanism{}",
                model.syscall_count(),
                if mechanisms == 1 { "" } else { "s" }
            );
            ExitCode::SUCCESS
        }
        Err(_) => {
            eprint!("{}", compilation.render_errors());
            ExitCode::FAILURE
        }
    }
}
