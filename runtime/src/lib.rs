//! The part of every osmtrace plugin that does not depend on the OS model:
//! guest state access, expression evaluation, argument decoding,
//! pending-call bookkeeping, filters, output formats (strace, paper, jsonl,
//! Perfetto timeline, Parquet table, summary), plugin arguments, and
//! reading recorded traces back (shared with `cargo xtask trace-view`).
//!
//! Everything here works on the checked model (`osm_model`) and a
//! [`cpu::Cpu`], so generated plugins, the generic model-loading plugin and
//! model tests without a guest all share it. Code that calls into QEMU lives
//! in `qemu`, behind the `qemu` feature: its symbols exist only inside a
//! QEMU process, so ordinary test binaries must never reference them.

// Guest data is untrusted and QEMU must never crash because of it; keeping
// `unsafe` to the one module that talks to C makes that reviewable.
#![deny(unsafe_code)]

/// The checked model's types, for generated crates, which depend on the
/// runtime alone.
pub use osm_model as model;

pub mod args;
pub mod cpu;
pub mod decode;
pub mod eval;
pub mod filter;
pub mod format;
pub mod health;
pub mod interp;
pub mod kernel;
pub mod logwriter;
pub mod ordered;
pub mod os;
pub mod parquet_trace;
pub mod pending;
pub mod perfetto;
#[cfg(feature = "qemu")]
#[allow(unsafe_code)]
pub mod plugin;
#[cfg(feature = "qemu")]
#[allow(unsafe_code)]
pub mod qemu;
pub mod raw;
pub mod record;
pub mod summary;
pub mod task;
pub mod tracer;
pub mod vcpu_lock;
pub mod vectors;

#[cfg(test)]
mod testutil;
