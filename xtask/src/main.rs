//! `cargo xtask <command>`: the project's commands, in Rust so they run the
//! same everywhere cargo does.

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { spec, dump } => check(&spec, dump),
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
