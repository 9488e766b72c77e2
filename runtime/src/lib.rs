//! The part of every osmtrace plugin that does not depend on the OS model:
//! QEMU glue, guest state access, pending-call bookkeeping and output.
//! (Filled in by the end-to-end tracer work; the model compiler does not
//! depend on it.)
