//! Guest systems for end-to-end tracing: a Debian kernel and busybox fetched
//! with a private apt configuration, an initramfs that runs one shell command
//! and powers off, and QEMU boots with an optional TCG plugin.
//!
//! Every guest comes from Debian 12 (bookworm) except riscv64, which Debian 12
//! has no kernel for: its kernel and busybox come from Debian 13 (trixie).
//!
//! One module a phase: [`arch`] says what each architecture needs,
//! [`debian`] fetches and extracts packages, [`kernel`] keeps the kernel,
//! busybox and disk modules taken from them, [`initramfs`] packs the
//! guest's root ([`strace`](mod@strace) adds Debian's strace to it),
//! [`boot`](mod@boot) runs QEMU; [`host`] has the helpers
//! they share.

mod arch;
mod boot;
mod debian;
mod host;
mod initramfs;
mod kernel;
mod strace;

pub use arch::{GuestArch, Release, qemu_package};
pub use boot::{BootOptions, BootOutcome, RecordReplay, boot, plugin_option, qemu_command};
pub use debian::{KEYRING, MIRROR, extract, fetch_debs};
pub use host::{TempDir, run};
pub use initramfs::{
    COMMAND_NAME, EXIT_MARKER, START_MARKER, add_files, build_initramfs, default_workload,
};
pub use kernel::{GuestKernel, cache_dir, disk_modules, prepare, prepare_debian};
pub use strace::strace;
