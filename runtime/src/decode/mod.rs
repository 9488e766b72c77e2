//! Raw values to text, driven by the model's types, the way strace prints
//! them: integers, pointers, quoted and escaped strings and buffers, flag
//! sets, enums, errno returns, and the structures, unions and arrays the
//! model declares (`{tv_sec=0, tv_nsec=1000000}`, `[3, 4]`,
//! `{sa_family=AF_UNIX, sun_path="sock"}`).
//!
//! Nothing here knows a C type: layouts, field names and how each field is
//! shown come from the checked model. Nothing here trusts guest data
//! either: lengths are capped, pointers are followed to a bounded depth,
//! unreadable memory is shown as the pointer value (as strace does) and
//! counted, and out-of-range indices in a model fall back to hexadecimal
//! rather than panicking.

mod call;
mod cmsgs;
#[cfg(test)]
mod fixtures;
mod scalar;
mod signals;
pub(crate) use signals::write_signal_name;
mod strings;
mod walk;

pub use call::{
    Arg, ErrorInfo, Return, UNREADABLE_ARG, call_name, call_return, capture_entry_args_into,
    capture_exit_args, decode_entry_args, decode_entry_args_into, decode_exit_args, decode_return,
    decode_return_into, errno_info, error_number, explain_return, mechanism_error, unknown_args,
    written_back,
};
pub use scalar::{
    format_enum, format_flags, format_int, format_ptr, format_scalar, from_network, push_decimal,
    push_decimal_padded, push_hex, push_hex_byte,
};
pub use strings::{CString, quote, quote_into, read_cstr};
pub use walk::{CallValues, decode_value, struct_fields};

/// strace's default `-s`.
pub const DEFAULT_STRING_LIMIT: usize = 32;

/// However the limit is configured, a single string or buffer never makes
/// the tracer read more than this.
pub const MAX_STRING_LIMIT: usize = 1 << 16;

/// Structures larger than this are shown as their address: no real one is,
/// and a corrupt model must not make the tracer read megabytes per call.
pub const MAX_STRUCT_READ: u64 = 1 << 16;

/// How many pointers decoding follows from one argument (argument ->
/// array of structures -> buffer is two). Guest data can make pointers
/// loop; the depth bounds the work.
pub const MAX_DEPTH: u32 = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Characters of a string or bytes of a buffer shown before `...`; also
    /// the number of array elements shown (strace's `-s`).
    pub string_limit: usize,
    /// Show structure fields the model marks `verbose` (strace's `-v`).
    pub verbose: bool,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            string_limit: DEFAULT_STRING_LIMIT,
            verbose: false,
        }
    }
}

impl DecodeOptions {
    fn limit(&self) -> usize {
        self.string_limit.min(MAX_STRING_LIMIT)
    }
}
