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

use crate::cpu::{Cpu, PAGE_SIZE};
use crate::eval::{self, Env, sign_extend, truncate};
use osm_model::arch::Endian;
use osm_model::{
    BufLen, Direction, ErrorConvention, IntFormat, Mechanism, MemberSet, Model, Name, Param,
    StructDef, Syscall, Ty, UnionDef,
};
use std::fmt::Write;

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

/// The values a decoder may need besides its own: buffer lengths come from
/// another argument or from the return value.
#[derive(Clone, Copy, Debug, Default)]
pub struct CallValues<'a> {
    /// Raw argument values; `None` where the location was unreadable.
    pub args: &'a [Option<u64>],
    /// The return value, only once the call has returned successfully:
    /// a failed call wrote nothing to its output buffers.
    pub ret: Option<u64>,
}

/// One decoded argument.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Arg {
    /// The model's parameter's: copying it costs a pointer.
    pub name: Name,
    /// The type as the model writes it (`fd`, `HANDLE`).
    pub type_name: Name,
    pub dir: Direction,
    /// `None` when the argument's location could not be read.
    pub raw: Option<u64>,
    pub text: String,
    /// Not shown: its condition (`mode ... if flags & O_CREAT`) is false.
    pub hidden: bool,
    /// Memory the argument points to could not be read (the text is then
    /// the address).
    pub unreadable: bool,
}

impl Arg {
    /// Whether the argument counts as unreadable: its location or the
    /// memory it points to.
    pub fn is_unreadable(&self) -> bool {
        self.raw.is_none() || self.unreadable
    }
}

/// A decoded return.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Return {
    pub raw: u64,
    /// The value as a signed number, when it reads as one: the declared
    /// return type is signed, or the call failed (the kernel's `-errno`
    /// in a word). None when `raw` is the value (unsigned types,
    /// addresses, flags).
    pub signed: Option<i64>,
    /// The value, or for a failed call `-1 ENOENT (No such file or directory)`.
    pub text: String,
    pub error: Option<ErrorInfo>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorInfo {
    pub value: u64,
    /// The errno's name, or its number when the model has no name for it
    /// (as strace prints it).
    pub name: String,
    pub message: String,
}

/// A width in bytes as the decoders use it: anything outside 1..=8 means 8.
fn width(bytes: u8) -> u8 {
    if (1..=8).contains(&bytes) { bytes } else { 8 }
}

/// An integer of `bytes` bytes. Decimal is signed or unsigned; hexadecimal
/// and octal show the unsigned bit pattern with a C prefix (`0x1f`, `0644`)
/// and zero as `0`, like C's `%#x`/`%#o` that strace uses. Characters,
/// ports and IPv4 addresses take the value as it is (already in host
/// order; see [`from_network`]).
pub fn format_int(raw: u64, bytes: u8, signed: bool, format: IntFormat) -> String {
    let mut out = String::new();
    write_int(&mut out, raw, bytes, signed, format);
    out
}

fn write_int(out: &mut String, raw: u64, bytes: u8, signed: bool, format: IntFormat) {
    let bytes = width(bytes);
    let unsigned = truncate(raw, bytes);
    let _ = match format {
        IntFormat::Dec if signed => {
            let value = sign_extend(raw, bytes) as i64;
            if value < 0 {
                out.push('-');
            }
            push_decimal(out, value.unsigned_abs());
            Ok(())
        }
        IntFormat::Dec => {
            push_decimal(out, unsigned);
            Ok(())
        }
        IntFormat::Hex | IntFormat::Oct if unsigned == 0 => {
            out.push('0');
            Ok(())
        }
        IntFormat::Hex => {
            push_hex(out, unsigned);
            Ok(())
        }
        IntFormat::Oct => write!(out, "0{unsigned:o}"),
        IntFormat::Char => {
            let byte = [unsigned as u8];
            out.push('\'');
            quote_body(out, &byte);
            out.push('\'');
            Ok(())
        }
        IntFormat::Port => write!(out, "htons({})", unsigned & 0xffff),
        IntFormat::Ipv4 => {
            let [a, b, c, d] = (unsigned as u32).to_be_bytes();
            write!(out, "inet_addr(\"{a}.{b}.{c}.{d}\")")
        }
    };
}

/// A network-order value of `bytes` bytes as the guest would have stored
/// it from a register holding `raw`: the bytes in guest order, read
/// big-endian.
pub fn from_network(raw: u64, bytes: u8, endian: Endian) -> u64 {
    let bytes = width(bytes);
    let v = truncate(raw, bytes);
    match endian {
        Endian::Big => v,
        Endian::Little => v.swap_bytes() >> (64 - u32::from(bytes) * 8),
    }
}

pub fn format_ptr(raw: u64) -> String {
    let mut out = String::new();
    write_ptr(&mut out, raw);
    out
}

fn write_ptr(out: &mut String, raw: u64) {
    if raw == 0 {
        out.push_str("NULL");
    } else {
        push_hex(out, raw);
    }
}

/// Appends `value` in decimal. Numbers are most of a trace's text, and
/// `write!` goes through `core::fmt`'s padding machinery for each one.
pub fn push_decimal(out: &mut String, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    // The digits are ASCII.
    out.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
}

/// Appends `value` in decimal, right-aligned in `width` characters, as
/// C's `%5d` does.
pub fn push_decimal_padded(out: &mut String, value: i64, width: usize) {
    let mut digits = [b' '; 21];
    let mut at = digits.len();
    let mut rest = value.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if value < 0 {
        at -= 1;
        digits[at] = b'-';
    }
    let start = at.min(digits.len().saturating_sub(width));
    // Spaces, a sign and digits: ASCII.
    out.push_str(std::str::from_utf8(&digits[start..]).unwrap_or_default());
}

/// Appends `value` as `0x` and lower-case hexadecimal digits, as Rust's
/// `{:#x}` does (0 is `0x0`; C's `%#x`, which prints `0`, is for callers
/// to special-case).
pub fn push_hex(out: &mut String, mut value: u64) {
    let mut digits = [0u8; 18];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b"0123456789abcdef"[(value & 0xf) as usize];
        value >>= 4;
        if value == 0 {
            break;
        }
    }
    at -= 2;
    digits[at] = b'0';
    digits[at + 1] = b'x';
    out.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
}

/// A flag set, by this rule:
/// - members with a mask are fields of several bits (`O_ACCMODE`,
///   `S_IFMT`): for each distinct mask, in declaration order, the member
///   whose value equals the masked bits prints, even when that value is 0
///   (`O_RDONLY`);
/// - other members are bits: those whose bits are all set print in
///   declaration order, except one whose bits are a strict subset of
///   another printed member (`O_SYNC` includes `O_DSYNC`) and one with the
///   same value as an earlier one (aliases: the first wins);
/// - bits nothing covers follow as one number: hexadecimal, or octal with
///   at least three digits for sets over `oct`, which always show it when
///   they have fields (`S_IFREG|0644`, `S_IFDIR|000`);
/// - a value that prints nothing else prints its zero-valued bit member if
///   the set has one (`PROT_NONE`), else `0`.
pub fn format_flags(raw: u64, set: &MemberSet, bytes: u8) -> String {
    let mut out = String::new();
    write_flags(&mut out, raw, set, bytes);
    out
}

fn write_flags(out: &mut String, raw: u64, set: &MemberSet, bytes: u8) {
    let bytes = width(bytes);
    let value = truncate(raw, bytes);
    let member_bits = |v: i128| truncate(v as u64, bytes);
    let start = out.len();
    let sep = |out: &mut String| {
        if out.len() > start {
            out.push('|');
        }
    };
    let mut covered = 0u64;
    let mut has_fields = false;
    for (i, m) in set.members.iter().enumerate() {
        let Some(mask) = m.mask else { continue };
        has_fields = true;
        // One name per field: the first member with this mask decides.
        if set.members[..i].iter().any(|o| o.mask == Some(mask)) {
            continue;
        }
        let field = value & mask;
        if let Some(named) = set
            .members
            .iter()
            .find(|o| o.mask == Some(mask) && member_bits(o.value) == field)
        {
            sep(out);
            out.push_str(&named.name);
            covered |= mask;
        }
    }
    // Bits a matched field claims are not read again as flags
    // (`MS_MGC_VAL` in the high half of mount flags).
    let bits_left = value & !covered;
    let is_set = |m: u64| m != 0 && bits_left & m == m;
    for (i, m) in set.members.iter().enumerate() {
        if m.mask.is_some() {
            continue;
        }
        let bits = member_bits(m.value);
        if !is_set(bits) {
            continue;
        }
        let subsumed = set.members.iter().any(|o| {
            let o_bits = member_bits(o.value);
            o.mask.is_none() && is_set(o_bits) && o_bits != bits && o_bits & bits == bits
        });
        let alias = set.members[..i]
            .iter()
            .any(|o| o.mask.is_none() && member_bits(o.value) == bits);
        if subsumed || alias {
            continue;
        }
        sep(out);
        out.push_str(&m.name);
        covered |= bits;
    }
    let rest = value & !covered;
    let octal = set.rest == IntFormat::Oct;
    if rest != 0 || (octal && has_fields) {
        sep(out);
        if octal {
            // C's `%#03o`: a leading 0, at least three digits.
            let digits = format!("{rest:o}");
            let digits = if digits.starts_with('0') {
                digits
            } else {
                format!("0{digits}")
            };
            let _ = write!(out, "{digits:0>3}");
        } else {
            let _ = write!(out, "{rest:#x}");
        }
    }
    if out.len() == start {
        match set
            .members
            .iter()
            .find(|m| m.mask.is_none() && member_bits(m.value) == 0)
        {
            Some(m) => out.push_str(&m.name),
            None => out.push('0'),
        }
    }
}

/// An enum: the member's name, or the number (decimal, signed if the type
/// is) when no member has the value.
pub fn format_enum(raw: u64, set: &MemberSet, bytes: u8, signed: bool) -> String {
    let mut out = String::new();
    write_enum(&mut out, raw, set, bytes, signed);
    out
}

fn write_enum(out: &mut String, raw: u64, set: &MemberSet, bytes: u8, signed: bool) {
    let value = enum_value(raw, bytes, signed);
    match set.members.iter().find(|m| m.value == value) {
        Some(m) => out.push_str(&m.name),
        None if set.rest == IntFormat::Hex => {
            let _ = write!(out, "{:#x}", truncate(raw, width(bytes)));
        }
        None => {
            let _ = write!(out, "{value}");
        }
    }
}

fn enum_value(raw: u64, bytes: u8, signed: bool) -> i128 {
    let bytes = width(bytes);
    if signed {
        i128::from(sign_extend(raw, bytes) as i64)
    } else {
        i128::from(truncate(raw, bytes))
    }
}

/// Appends `bytes` quoted as strace quotes them: printable ASCII as is,
/// `\" \\ \n \t \r \f \v`, and other bytes in octal, as short as possible
/// unless the next byte is an octal digit (then three digits, so the escape
/// cannot absorb it: `\0` but `\0001`).
pub fn quote_into(out: &mut String, bytes: &[u8]) {
    out.reserve(bytes.len() + 2);
    out.push('"');
    quote_body(out, bytes);
    out.push('"');
}

fn quote_body(out: &mut String, bytes: &[u8]) {
    out.reserve(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        // Runs of printable characters other than `"` and `\\` are copied
        // as they are, at once.
        let run = bytes[i..]
            .iter()
            .take_while(|&&b| matches!(b, 0x20..=0x7e) && b != b'"' && b != b'\\')
            .count();
        if run > 0 {
            out.push_str(std::str::from_utf8(&bytes[i..i + run]).unwrap_or_default());
            i += run;
            continue;
        }
        let b = bytes[i];
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\r' => out.push_str("\\r"),
            0x0c => out.push_str("\\f"),
            0x0b => out.push_str("\\v"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let next_is_digit = matches!(bytes.get(i + 1), Some(b'0'..=b'7'));
                out.push('\\');
                if next_is_digit || b >= 0o100 {
                    out.push(char::from(b'0' + (b >> 6)));
                }
                if next_is_digit || b >= 0o10 {
                    out.push(char::from(b'0' + ((b >> 3) & 7)));
                }
                out.push(char::from(b'0' + (b & 7)));
            }
        }
        i += 1;
    }
}

/// `bytes` quoted, followed by `...` when `cut`.
pub fn quote(bytes: &[u8], cut: bool) -> String {
    let mut out = String::with_capacity(bytes.len() + 5);
    quote_into(&mut out, bytes);
    if cut {
        out.push_str("...");
    }
    out
}

/// What reading a C string found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CString {
    /// The whole string, without its NUL.
    Complete(Vec<u8>),
    /// The first `limit` bytes of a longer string.
    Cut(Vec<u8>),
    /// Memory ran out before the NUL or the limit.
    Unreadable,
}

/// Reads a NUL-terminated string of at most `limit` characters. One byte
/// more is read so a string of exactly `limit` characters is not marked
/// cut. Reads go a page at a time and stop at the NUL, so memory after the
/// string is neither needed nor touched beyond its page.
pub fn read_cstr<C: Cpu + ?Sized>(cpu: &C, addr: u64, limit: usize) -> CString {
    let limit = limit.min(MAX_STRING_LIMIT);
    let want = limit + 1;
    let mut out = Vec::new();
    let mut chunk = [0u8; 256];
    let mut at = addr;
    while out.len() < want {
        let to_page_end = usize::try_from(PAGE_SIZE - at % PAGE_SIZE).unwrap_or(usize::MAX);
        let n = to_page_end.min(want - out.len()).min(chunk.len());
        let got = cpu.read_mem(at, &mut chunk[..n]).min(n);
        if let Some(z) = chunk[..got].iter().position(|&b| b == 0) {
            out.extend_from_slice(&chunk[..z]);
            return CString::Complete(out);
        }
        out.extend_from_slice(&chunk[..got]);
        if got < n {
            return CString::Unreadable;
        }
        match at.checked_add(n as u64) {
            Some(next) => at = next,
            None if out.len() < want => return CString::Unreadable,
            None => break,
        }
    }
    out.truncate(limit);
    CString::Cut(out)
}

/// A value whose type needs no guest memory; strings, buffers, arrays and
/// structures show their address. Used for returns, for output arguments
/// at entry and by [`decode_value`].
pub fn format_scalar(model: &Model, ty: &Ty, raw: u64) -> String {
    let mut out = String::new();
    write_scalar(&mut out, model, ty, raw);
    out
}

fn write_scalar(out: &mut String, model: &Model, ty: &Ty, raw: u64) {
    match ty {
        Ty::Int {
            bytes,
            signed,
            format,
        } => {
            let raw = if format.network_order() {
                from_network(raw, *bytes, model.endian)
            } else {
                raw
            };
            write_int(out, raw, *bytes, *signed, *format);
        }
        Ty::Ptr
        | Ty::CStr
        | Ty::Buf { .. }
        | Ty::WStr { .. }
        | Ty::Array { .. }
        | Ty::Struct { .. }
        | Ty::Union { .. }
        | Ty::SigSet { .. }
        | Ty::WaitStatus { .. } => write_ptr(out, raw),
        Ty::Flags { set, bytes } => match model.flag_sets.get(*set as usize) {
            Some(s) => write_flags(out, raw, s, *bytes),
            None => {
                let _ = write!(out, "{raw:#x}");
            }
        },
        Ty::Enum { set, bytes, signed } => match model.enums.get(*set as usize) {
            Some(s) => write_enum(out, raw, s, *bytes, *signed),
            None => {
                let _ = write!(out, "{raw}");
            }
        },
        // A void value has no meaning of its own; show the bits.
        Ty::Void => {
            let _ = write!(out, "{raw:#x}");
        }
    }
}

/// State of decoding one argument.
struct Ctx<'a, C: Cpu + ?Sized> {
    model: &'a Model,
    cpu: &'a C,
    opts: &'a DecodeOptions,
    call: &'a CallValues<'a>,
    /// Pointers followed so far on the current path.
    depth: u32,
    /// For an output argument of a call that succeeded: bytes the return
    /// value says the kernel wrote into buffers that structures point to
    /// (`readv`'s iovecs), shared out in order.
    budget: Option<u64>,
    /// Some memory could not be read.
    unreadable: bool,
}

/// A value of any type, reading guest memory for strings, buffers, arrays
/// and structures.
pub fn decode_value<C: Cpu + ?Sized>(
    model: &Model,
    ty: &Ty,
    raw: u64,
    call: &CallValues<'_>,
    cpu: &C,
    opts: &DecodeOptions,
) -> String {
    let mut out = String::new();
    let mut ctx = Ctx::new(model, cpu, opts, call, None);
    write_value(&mut out, &mut ctx, ty, raw, None);
    out
}

/// Sibling fields of a structure being decoded, for lengths that name
/// another field.
#[derive(Clone, Copy)]
struct Siblings<'b> {
    def: &'b StructDef,
    bytes: &'b [u8],
}

/// Bytes of a buffer read into the stack rather than the heap.
const SMALL_READ: usize = 256;

/// Appends a value held in a register (an argument) or read from memory as
/// a pointer-sized or integer value.
fn write_value<C: Cpu + ?Sized>(
    out: &mut String,
    ctx: &mut Ctx<'_, C>,
    ty: &Ty,
    raw: u64,
    siblings: Option<Siblings<'_>>,
) {
    if raw == 0 || ctx.depth >= MAX_DEPTH {
        return write_scalar(out, ctx.model, ty, raw);
    }
    match ty {
        Ty::CStr => match read_cstr(ctx.cpu, raw, ctx.opts.limit()) {
            CString::Complete(s) => quote_into(out, &s),
            CString::Cut(s) => {
                quote_into(out, &s);
                out.push_str("...");
            }
            CString::Unreadable => unreadable(out, ctx, raw),
        },
        Ty::Buf { len: source } => {
            let Some(mut len) = length(ctx, *source, siblings) else {
                return write_ptr(out, raw);
            };
            // Buffers structures point to share what the return value says
            // was written (`readv`); a buffer argument has its own length.
            if let BufLen::Field(_) = source
                && let Some(budget) = ctx.budget.as_mut()
            {
                len = len.min(*budget);
                *budget -= len;
            }
            let shown = usize::try_from(len)
                .unwrap_or(usize::MAX)
                .min(ctx.opts.limit());
            // Buffers are mostly shown at the default strsize (32): read
            // those into the stack, not a new allocation per call.
            let mut small = [0u8; SMALL_READ];
            let mut large = Vec::new();
            let buf = if shown <= SMALL_READ {
                &mut small[..shown]
            } else {
                large.resize(shown, 0);
                &mut large[..]
            };
            if ctx.cpu.read_mem(raw, buf) < shown {
                return unreadable(out, ctx, raw);
            }
            quote_into(out, buf);
            if len > shown as u64 {
                out.push_str("...");
            }
        }
        Ty::WStr { len: source } => {
            let Some(len) = length(ctx, *source, siblings) else {
                return write_ptr(out, raw);
            };
            // `len` counts bytes; strsize counts characters, as for C strings.
            let units = usize::try_from(len / 2).unwrap_or(usize::MAX);
            let shown = units.min(ctx.opts.limit());
            let mut buf = vec![0u8; shown * 2];
            if ctx.cpu.read_mem(raw, &mut buf) < buf.len() {
                return unreadable(out, ctx, raw);
            }
            let big = ctx.model.endian == osm_model::arch::Endian::Big;
            let code_units: Vec<u16> = buf
                .chunks_exact(2)
                .map(|c| {
                    if big {
                        u16::from_be_bytes([c[0], c[1]])
                    } else {
                        u16::from_le_bytes([c[0], c[1]])
                    }
                })
                .collect();
            // Shown as UTF-8 with the C-string escapes; a lone surrogate
            // becomes U+FFFD rather than hiding the rest.
            let text: String = char::decode_utf16(code_units)
                .map(|c| c.unwrap_or('\u{fffd}'))
                .collect();
            out.push('L');
            quote_into(out, text.as_bytes());
            if units > shown {
                out.push_str("...");
            }
        }
        Ty::Array {
            elem,
            len: BufLen::Nul,
        } => write_terminated_at(out, ctx, elem, raw),
        Ty::Array { elem, len } => {
            let Some(count) = length(ctx, *len, siblings) else {
                return write_ptr(out, raw);
            };
            write_array_at(out, ctx, elem, raw, count);
        }
        Ty::Struct { id } => match ctx.model.structs.get(*id as usize) {
            Some(def) => match read_aggregate(ctx, raw, def.size) {
                Some(bytes) => {
                    ctx.depth += 1;
                    write_struct(out, ctx, def, &bytes);
                    ctx.depth -= 1;
                }
                None => unreadable(out, ctx, raw),
            },
            None => write_ptr(out, raw),
        },
        Ty::SigSet { .. } | Ty::WaitStatus { .. } => {
            match read_aggregate(ctx, raw, ctx.model.type_size(ty)) {
                Some(bytes) => write_in_memory(out, ctx, ty, &bytes, None),
                None => unreadable(out, ctx, raw),
            }
        }
        Ty::Union { id } => match ctx.model.unions.get(*id as usize) {
            // Only the case the tag picks is read: a short structure (a
            // sockaddr_in at the end of a page) must not fail because a
            // longer case would not fit.
            Some(def) => match read_aggregate(ctx, raw, union_size(ctx, def, raw)) {
                Some(bytes) => {
                    ctx.depth += 1;
                    write_union(out, ctx, def, &bytes);
                    ctx.depth -= 1;
                }
                None => unreadable(out, ctx, raw),
            },
            None => write_ptr(out, raw),
        },
        _ => write_scalar(out, ctx.model, ty, raw),
    }
}

/// A signal's name as the model's enum `names` has it, else strace's
/// `SIGRTMIN`, `SIGRT_1`, ... from 32, else its number.
fn write_signal_name(out: &mut String, model: &Model, names: u32, signal: u64, prefix: &str) {
    const RTMIN: u64 = 32;
    let named = model.enums.get(names as usize).and_then(|n| {
        n.members
            .iter()
            .find(|m| m.value == i128::from(signal))
            .map(|m| m.name.as_str())
    });
    match named {
        Some(name) if prefix.is_empty() => out.push_str(name.strip_prefix("SIG").unwrap_or(name)),
        Some(name) => out.push_str(name),
        None if signal == RTMIN => {
            out.push_str(prefix);
            out.push_str("RTMIN");
        }
        None if signal > RTMIN => {
            let _ = write!(out, "{prefix}RT_{}", signal - RTMIN);
        }
        None => {
            let _ = write!(out, "{signal}");
        }
    }
}

/// A wait status as strace prints it: `[{WIFEXITED(s) && WEXITSTATUS(s)
/// == 0}]`, `[{WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL}]`, stops and
/// continues likewise, bits left over after ` | `.
fn write_wait_status(out: &mut String, model: &Model, names: u32, status: u32) {
    let low = status & 0x7f;
    let mut rest = status;
    if status & 0xff == 0x7f {
        let signal = status >> 8 & 0xff;
        out.push_str("[{WIFSTOPPED(s) && WSTOPSIG(s) == ");
        write_signal_name(out, model, names, u64::from(signal & 0x7f), "SIG");
        if signal & 0x80 != 0 {
            out.push_str(" | 0x80");
        }
        rest &= !(signal << 8 | 0x7f);
    } else if low != 0 && low != 0x7f {
        out.push_str("[{WIFSIGNALED(s) && WTERMSIG(s) == ");
        write_signal_name(out, model, names, u64::from(low), "SIG");
        if status & 0x80 != 0 {
            out.push_str(" && WCOREDUMP(s)");
        }
        rest &= !(low | 0x80);
    } else if low == 0 {
        let _ = write!(
            out,
            "[{{WIFEXITED(s) && WEXITSTATUS(s) == {}",
            status >> 8 & 0xff
        );
        rest &= !0xff00;
    } else if status == 0xffff {
        out.push_str("[{WIFCONTINUED(s)");
        rest = 0;
    } else {
        let _ = write!(out, "[{status:#x}]");
        return;
    }
    out.push('}');
    if rest >> 16 != 0 {
        let _ = write!(out, " | {:#x} << 16", rest >> 16);
        rest &= 0xffff;
    }
    if rest != 0 {
        let _ = write!(out, " | {rest:#x}");
    }
    out.push(']');
}

/// A signal set as strace prints it: the signals' names without `SIG`,
/// the kernel's real-time ones from 32 as `RTMIN`, `RT_1`, ...; a set of
/// more than half the signals as `~` and the ones it leaves out
/// (`~[RTMIN RT_1]`).
fn write_sigset(out: &mut String, model: &Model, names: u32, set: u64) {
    let set = if set.count_ones() > u64::BITS / 2 {
        out.push('~');
        !set
    } else {
        set
    };
    out.push('[');
    let mut first = true;
    for bit in 0..u64::BITS {
        if set >> bit & 1 == 0 {
            continue;
        }
        if !first {
            out.push(' ');
        }
        first = false;
        write_signal_name(out, model, names, u64::from(bit) + 1, "");
    }
    out.push(']');
}

fn unreadable<C: Cpu + ?Sized>(out: &mut String, ctx: &mut Ctx<'_, C>, raw: u64) {
    ctx.unreadable = true;
    write_ptr(out, raw);
}

/// Bytes to read for a union at `addr`: the size of the case its tag
/// selects, or just past the tag when no case matches (or it is
/// unreadable, which the read then reports).
fn union_size<C: Cpu + ?Sized>(ctx: &Ctx<'_, C>, def: &UnionDef, addr: u64) -> u64 {
    let tag_end = def.tag_offset + ctx.model.type_size(&def.tag_ty);
    let mut tag = [0u8; 8];
    let n = usize::try_from(ctx.model.type_size(&def.tag_ty))
        .unwrap_or(8)
        .min(8);
    let Some(tag_addr) = addr.checked_add(def.tag_offset) else {
        return tag_end;
    };
    if ctx.cpu.read_mem(tag_addr, &mut tag[..n]) < n {
        return tag_end;
    }
    let Some(raw) = read_int(ctx.model, &def.tag_ty, &tag[..n]) else {
        return tag_end;
    };
    let value = match def.tag_ty {
        Ty::Enum { bytes, signed, .. } => enum_value(raw, bytes, signed),
        _ => i128::from(raw),
    };
    def.cases
        .iter()
        .find(|c| c.value == value)
        .and_then(|c| ctx.model.structs.get(c.target as usize))
        .map_or(tag_end, |s| s.size)
}

/// Reads `size` bytes for a structure or union; `None` if any is
/// unreadable or the size is implausible.
fn read_aggregate<C: Cpu + ?Sized>(ctx: &Ctx<'_, C>, addr: u64, size: u64) -> Option<Vec<u8>> {
    if size > MAX_STRUCT_READ {
        return None;
    }
    let mut bytes = vec![0u8; size as usize];
    (ctx.cpu.read_mem(addr, &mut bytes) == bytes.len()).then_some(bytes)
}

/// The length a buffer or array takes from an argument, the return value,
/// a sibling field or a constant. `None` when it is not known (an
/// unreadable argument, a failed call).
fn length<C: Cpu + ?Sized>(
    ctx: &Ctx<'_, C>,
    len: BufLen,
    siblings: Option<Siblings<'_>>,
) -> Option<u64> {
    match len {
        BufLen::Arg(i) => ctx.call.args.get(i as usize).copied().flatten(),
        BufLen::Ret => ctx.call.ret,
        BufLen::Const(n) => Some(n),
        // Only arrays end at a zero element, and they are read that way.
        BufLen::Nul => None,
        BufLen::Field(i) => {
            let s = siblings?;
            let field = s.def.fields.get(i as usize)?;
            let bytes = s.bytes.get(field.offset as usize..)?;
            let v = read_int(ctx.model, &field.ty, bytes)?;
            // A negative length (a signed field) is no length.
            match field.ty {
                Ty::Int { bytes, signed, .. } if signed => {
                    let v = sign_extend(v, bytes) as i64;
                    u64::try_from(v).ok()
                }
                _ => Some(v),
            }
        }
    }
}

/// `[e0, e1, ...]` for `count` elements at `addr`; at most the string limit
/// are shown, then `...`. Characters make a string instead.
fn write_array_at<C: Cpu + ?Sized>(
    out: &mut String,
    ctx: &mut Ctx<'_, C>,
    elem: &Ty,
    addr: u64,
    count: u64,
) {
    let size = ctx.model.type_size(elem).max(1);
    let shown = count.min(ctx.opts.limit() as u64);
    let Some(total) = shown.checked_mul(size).filter(|&t| t <= MAX_STRUCT_READ) else {
        return unreadable(out, ctx, addr);
    };
    let mut bytes = vec![0u8; total as usize];
    if ctx.cpu.read_mem(addr, &mut bytes) < bytes.len() {
        return unreadable(out, ctx, addr);
    }
    ctx.depth += 1;
    write_elements(out, ctx, elem, &bytes, size as usize, count);
    ctx.depth -= 1;
}

/// `[e0, e1, ...]` up to the first element that is all zero bytes (not
/// shown), at most the string limit of them, then `...`.
fn write_terminated_at<C: Cpu + ?Sized>(
    out: &mut String,
    ctx: &mut Ctx<'_, C>,
    elem: &Ty,
    addr: u64,
) {
    let size = usize::try_from(ctx.model.type_size(elem).clamp(1, 64)).unwrap_or(8);
    let limit = ctx.opts.limit();
    let mut elements: Vec<u8> = Vec::new();
    let mut complete = false;
    let mut element = [0u8; 64];
    for i in 0..limit {
        let at = (i as u64)
            .checked_mul(size as u64)
            .and_then(|off| addr.checked_add(off));
        let Some(at) = at else { break };
        if ctx.cpu.read_mem(at, &mut element[..size]) < size {
            if i == 0 {
                return unreadable(out, ctx, addr);
            }
            ctx.unreadable = true;
            break;
        }
        if element[..size].iter().all(|&b| b == 0) {
            complete = true;
            break;
        }
        elements.extend_from_slice(&element[..size]);
    }
    let count = elements.len() / size;
    ctx.depth += 1;
    // One more than shown when the end was not reached: `...` follows.
    let total = if complete { count } else { count + 1 };
    write_elements(out, ctx, elem, &elements, size, total as u64);
    ctx.depth -= 1;
}

/// Elements held in `bytes` (`count` in all, maybe more than `bytes`
/// holds, which adds `...`).
fn write_elements<C: Cpu + ?Sized>(
    out: &mut String,
    ctx: &mut Ctx<'_, C>,
    elem: &Ty,
    bytes: &[u8],
    size: usize,
    count: u64,
) {
    if let Ty::Int {
        bytes: 1,
        format: IntFormat::Char,
        ..
    } = elem
    {
        // A character array is a string up to its first NUL.
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        let limit = ctx.opts.limit();
        quote_into(out, &bytes[..end.min(limit)]);
        if end > limit || (end == bytes.len() && (bytes.len() as u64) < count) {
            out.push_str("...");
        }
        return;
    }
    out.push('[');
    let mut shown = 0u64;
    for (i, chunk) in bytes.chunks_exact(size).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_in_memory(out, ctx, elem, chunk, None);
        shown += 1;
    }
    if shown < count {
        if shown > 0 {
            out.push_str(", ");
        }
        out.push_str("...");
    }
    out.push(']');
}

/// An integer of type `ty` stored at the start of `bytes`, zero-extended;
/// `None` if `bytes` is too short or `ty` is not integer-like.
fn read_int(model: &Model, ty: &Ty, bytes: &[u8]) -> Option<u64> {
    let (n, network) = match ty {
        Ty::Int { bytes, format, .. } => (*bytes, format.network_order()),
        Ty::Flags { bytes, .. } | Ty::Enum { bytes, .. } => (*bytes, false),
        Ty::Ptr | Ty::CStr | Ty::Buf { .. } | Ty::WStr { .. } | Ty::Array { .. } => {
            ((model.bits / 8) as u8, false)
        }
        _ => return None,
    };
    let n = usize::from(width(n));
    let raw = bytes.get(..n)?;
    let endian = if network { Endian::Big } else { model.endian };
    Some(crate::cpu::value_from_target_bytes(raw, endian))
}

/// A value stored in memory (a field or an array element) at the start of
/// `bytes`: integers and pointers are read from the bytes, structures and
/// unions are the bytes.
fn write_in_memory<C: Cpu + ?Sized>(
    out: &mut String,
    ctx: &mut Ctx<'_, C>,
    ty: &Ty,
    bytes: &[u8],
    siblings: Option<Siblings<'_>>,
) {
    match ty {
        Ty::Struct { id } => match ctx.model.structs.get(*id as usize) {
            Some(def) if bytes.len() as u64 >= def.size => write_struct(out, ctx, def, bytes),
            _ => out.push('?'),
        },
        Ty::Union { id } => match ctx.model.unions.get(*id as usize) {
            Some(def) => write_union(out, ctx, def, bytes),
            None => out.push('?'),
        },
        Ty::SigSet { names } | Ty::WaitStatus { names } => {
            let size = usize::try_from(ctx.model.type_size(ty)).unwrap_or(usize::MAX);
            match bytes.get(..size) {
                Some(value) => {
                    let value = crate::cpu::value_from_target_bytes(value, ctx.model.endian);
                    if matches!(ty, Ty::SigSet { .. }) {
                        write_sigset(out, ctx.model, *names, value);
                    } else {
                        write_wait_status(out, ctx.model, *names, value as u32);
                    }
                }
                None => out.push('?'),
            }
        }
        Ty::Int { format, .. } if format.network_order() => match read_int(ctx.model, ty, bytes) {
            // Already in host order: show it without converting again.
            Some(v) => {
                if let Ty::Int { bytes, signed, .. } = ty {
                    write_int(out, v, *bytes, *signed, *format);
                }
            }
            None => out.push('?'),
        },
        _ => match read_int(ctx.model, ty, bytes) {
            Some(v) => write_value(out, ctx, ty, v, siblings),
            None => out.push('?'),
        },
    }
}

/// Whether `field` of a structure read as `bytes` is shown: unless its
/// condition's field lacks every bit of the mask (`sa_restorer` without
/// `SA_RESTORER`); an unreadable tested field shows it.
fn field_shown(model: &Model, def: &StructDef, field: &osm_model::Field, bytes: &[u8]) -> bool {
    let Some(cond) = field.cond else {
        return true;
    };
    let tested = def.fields.get(cond.arg as usize);
    let value = tested.and_then(|t| {
        let at = usize::try_from(t.offset).ok()?;
        read_int(model, &t.ty, bytes.get(at..)?)
    });
    value.is_none_or(|v| v & cond.mask != 0)
}

/// `{name=value, ...}`: every field but padding, in order; fields marked
/// `verbose` only when asked, with a final `...` when some were left out.
fn write_struct<C: Cpu + ?Sized>(
    out: &mut String,
    ctx: &mut Ctx<'_, C>,
    def: &StructDef,
    bytes: &[u8],
) {
    out.push('{');
    let mut first = true;
    let mut left_out = false;
    let siblings = Siblings { def, bytes };
    for field in &def.fields {
        if field.is_padding() || !field_shown(ctx.model, def, field, bytes) {
            continue;
        }
        if field.verbose && !ctx.opts.verbose {
            left_out = true;
            continue;
        }
        if !first {
            out.push_str(", ");
        }
        first = false;
        out.push_str(&field.name);
        out.push('=');
        let start = usize::try_from(field.offset).unwrap_or(usize::MAX);
        let Some(field_bytes) = bytes.get(start..) else {
            out.push('?');
            continue;
        };
        match field.count {
            Some(count) => {
                let size = ctx.model.type_size(&field.ty).max(1) as usize;
                let total = usize::try_from(count)
                    .unwrap_or(usize::MAX)
                    .saturating_mul(size)
                    .min(field_bytes.len());
                // Only what is shown is converted; a long inline array shows
                // as many elements as the string limit allows.
                let shown = (ctx.opts.limit() * size).min(total);
                let elems = if matches!(
                    field.ty,
                    Ty::Int {
                        format: IntFormat::Char,
                        ..
                    }
                ) {
                    total
                } else {
                    shown - shown % size
                };
                write_elements(out, ctx, &field.ty, &field_bytes[..elems], size, count);
            }
            None => write_in_memory(out, ctx, &field.ty, field_bytes, Some(siblings)),
        }
    }
    if left_out {
        if !first {
            out.push_str(", ");
        }
        out.push_str("...");
    }
    out.push('}');
}

/// The case the tag selects, or `{tag=VALUE, ...}` for a tag no case names.
fn write_union<C: Cpu + ?Sized>(
    out: &mut String,
    ctx: &mut Ctx<'_, C>,
    def: &UnionDef,
    bytes: &[u8],
) {
    let tag_bytes = usize::try_from(def.tag_offset)
        .ok()
        .and_then(|at| bytes.get(at..));
    let Some(raw) = tag_bytes.and_then(|b| read_int(ctx.model, &def.tag_ty, b)) else {
        out.push('?');
        return;
    };
    let value = match def.tag_ty {
        Ty::Enum { bytes, signed, .. } => enum_value(raw, bytes, signed),
        _ => i128::from(raw),
    };
    let case = def.cases.iter().find(|c| c.value == value);
    match case.and_then(|c| ctx.model.structs.get(c.target as usize)) {
        Some(target) if bytes.len() as u64 >= target.size => write_struct(out, ctx, target, bytes),
        _ => {
            out.push('{');
            out.push_str(&def.tag);
            out.push('=');
            write_scalar(out, ctx.model, &def.tag_ty, raw);
            out.push_str(", ...}");
        }
    }
}

/// The shown fields of the structure (or the union's case) of type `ty`
/// at `addr`, one [`Arg`] each, for a record whose fields are the event
/// (a signal's siginfo): strace prints them as one structure, jsonl lists
/// them. A union tag no case names gives the tag alone. `None` when the
/// memory cannot be read.
pub fn struct_fields<C: Cpu + ?Sized>(
    model: &Model,
    ty: &Ty,
    addr: u64,
    cpu: &C,
    opts: &DecodeOptions,
) -> Option<Vec<Arg>> {
    let call = CallValues::default();
    let mut ctx = Ctx::new(model, cpu, opts, &call, None);
    let (def, bytes) = match ty {
        Ty::Struct { id } => {
            let def = model.structs.get(*id as usize)?;
            (def, read_aggregate(&ctx, addr, def.size)?)
        }
        Ty::Union { id } => {
            let union = model.unions.get(*id as usize)?;
            let bytes = read_aggregate(&ctx, addr, union_size(&ctx, union, addr))?;
            let raw = read_int(
                model,
                &union.tag_ty,
                bytes.get(union.tag_offset as usize..)?,
            )?;
            let value = match union.tag_ty {
                Ty::Enum { bytes, signed, .. } => enum_value(raw, bytes, signed),
                _ => i128::from(raw),
            };
            let case = union.cases.iter().find(|c| c.value == value);
            match case.and_then(|c| model.structs.get(c.target as usize)) {
                Some(def) if bytes.len() as u64 >= def.size => (def, bytes),
                _ => {
                    return Some(vec![Arg {
                        name: union.tag.as_str().into(),
                        type_name: "int".into(),
                        raw: Some(raw),
                        text: format_scalar(model, &union.tag_ty, raw),
                        ..Arg::default()
                    }]);
                }
            }
        }
        _ => return None,
    };
    let siblings = Siblings { def, bytes: &bytes };
    let mut fields = Vec::new();
    for field in def
        .fields
        .iter()
        .filter(|f| !f.is_padding() && f.count.is_none() && field_shown(model, def, f, &bytes))
    {
        let at = bytes.get(usize::try_from(field.offset).ok()?..)?;
        let mut text = String::new();
        write_in_memory(&mut text, &mut ctx, &field.ty, at, Some(siblings));
        fields.push(Arg {
            name: field.name.as_str().into(),
            type_name: field.type_name.as_str().into(),
            raw: read_int(model, &field.ty, at),
            text,
            ..Arg::default()
        });
    }
    Some(fields)
}

/// Text for an argument whose location could not be read.
pub const UNREADABLE_ARG: &str = "?";

/// Decodes one argument into its text, noting unreadable memory.
fn decode_arg<C: Cpu + ?Sized>(arg: &mut Arg, ty: &Ty, raw: u64, mut ctx: Ctx<'_, C>) {
    arg.text.clear();
    write_value(&mut arg.text, &mut ctx, ty, raw, None);
    arg.unreadable = ctx.unreadable;
}

impl<'a, C: Cpu + ?Sized> Ctx<'a, C> {
    fn new(
        model: &'a Model,
        cpu: &'a C,
        opts: &'a DecodeOptions,
        call: &'a CallValues<'a>,
        budget: Option<u64>,
    ) -> Self {
        Ctx {
            model,
            cpu,
            opts,
            call,
            depth: 0,
            budget,
            unreadable: false,
        }
    }
}

/// Decodes a call's arguments at entry. Output arguments show only their
/// address: the kernel has not written them yet. An argument whose
/// condition is false is marked hidden.
pub fn decode_entry_args<C: Cpu + ?Sized>(
    model: &Model,
    syscall: &Syscall,
    raw: &[Option<u64>],
    cpu: &C,
    opts: &DecodeOptions,
) -> Vec<Arg> {
    let mut args = Vec::new();
    decode_entry_args_into(&mut args, model, syscall, raw, cpu, opts);
    args
}

/// Text bytes a new argument starts with: most arguments (numbers, flags,
/// short strings) fit, so their text is allocated once.
const ARG_TEXT: usize = 32;

/// [`decode_entry_args`] into `args`, reusing its arguments' text buffers:
/// the tracer hands back the arguments of calls it has reported, so that a
/// call's arguments cost no allocation.
pub fn decode_entry_args_into<C: Cpu + ?Sized>(
    args: &mut Vec<Arg>,
    model: &Model,
    syscall: &Syscall,
    raw: &[Option<u64>],
    cpu: &C,
    opts: &DecodeOptions,
) {
    let call = CallValues {
        args: raw,
        ret: None,
    };
    args.truncate(syscall.args.len());
    for (i, p) in syscall.args.iter().enumerate() {
        if i == args.len() {
            args.push(Arg {
                text: String::with_capacity(ARG_TEXT),
                ..Arg::default()
            });
        }
        let arg = &mut args[i];
        let value = raw.get(i).copied().flatten();
        arg.name = p.name;
        arg.type_name = p.type_name;
        arg.dir = p.dir;
        arg.raw = value;
        arg.text.clear();
        arg.hidden = false;
        arg.unreadable = false;
        match value {
            None => arg.text.push_str(UNREADABLE_ARG),
            Some(v) if p.dir == Direction::Out => write_scalar(&mut arg.text, model, &p.ty, v),
            Some(v) => decode_arg(arg, &p.ty, v, Ctx::new(model, cpu, opts, &call, None)),
        }
        if let Some(cond) = p.cond
            && let Some(Some(tested)) = raw.get(cond.arg as usize)
        {
            arg.hidden = tested & cond.mask == 0;
        }
        // `_` is a register the ABI skips, not an argument.
        if &*p.name == "_" {
            arg.hidden = true;
        }
    }
}

/// Re-decodes, at exit, the arguments the kernel may have written (`out`
/// and `inout`), from the raw values saved at entry: argument registers
/// may be overwritten by now. `ret` is the return value of a successful
/// call, `None` for a failed one, whose outputs stay addresses (the kernel
/// wrote nothing), as strace shows them.
///
/// An input that was unreadable at entry is read again: it was on a page
/// the program had not touched yet, which the kernel has mapped by reading
/// it (a path in a binary's read-only data, say).
pub fn decode_exit_args<C: Cpu + ?Sized>(
    model: &Model,
    syscall: &Syscall,
    args: &mut [Arg],
    ret: Option<u64>,
    cpu: &C,
    opts: &DecodeOptions,
) {
    let again = |arg: &Arg, p: &Param| match p.dir {
        Direction::In => arg.unreadable,
        _ => ret.is_some(),
    };
    if !args.iter().zip(&syscall.args).any(|(a, p)| again(a, p)) {
        return;
    }
    // A call has at most MAX_ARGS arguments; this is not worth an
    // allocation per call.
    let mut raw = [None; crate::os::MAX_ARGS];
    for (slot, arg) in raw.iter_mut().zip(args.iter()) {
        *slot = arg.raw;
    }
    let call = CallValues {
        args: &raw[..args.len().min(raw.len())],
        ret,
    };
    for (arg, p) in args.iter_mut().zip(&syscall.args) {
        if !again(arg, p) {
            continue;
        }
        // An input is read as at entry; an output may be as long as the
        // return value says.
        let budget = if p.dir == Direction::In { None } else { ret };
        if let Some(v) = arg.raw {
            decode_arg(arg, &p.ty, v, Ctx::new(model, cpu, opts, &call, budget));
        }
    }
}

/// The errno of a failed call, or `None` if it succeeded. `flag` is the
/// value of the mechanism's error flag read at exit (only used by
/// `ErrorConvention::Flag`; an unreadable flag counts as success).
pub fn error_number(
    model: &Model,
    conv: &ErrorConvention,
    raw: u64,
    flag: Option<u64>,
) -> Option<u64> {
    match conv {
        ErrorConvention::None => None,
        ErrorConvention::Negative { max } => {
            // Negative as a signed value of the model's width: on a 32-bit
            // guest 0xfffffffe is -2 even though it reads as a positive u64.
            let bytes = u8::try_from(model.bits / 8).unwrap_or(8);
            let signed = sign_extend(raw, width(bytes)) as i64;
            let errno = signed.unsigned_abs();
            (signed < 0 && errno <= *max).then_some(errno)
        }
        ErrorConvention::Flag(_) => (flag? != 0).then_some(raw),
    }
}

/// [`error_number`] for a call through `mech`, reading the error flag if
/// the mechanism has one.
pub fn mechanism_error<C: Cpu + ?Sized>(
    model: &Model,
    mech: &Mechanism,
    raw: u64,
    cpu: &C,
) -> Option<u64> {
    let flag = match &mech.error {
        ErrorConvention::Flag(e) => eval::eval(e, cpu, &Env::new(model.endian)),
        _ => None,
    };
    error_number(model, &mech.error, raw, flag)
}

/// The errno's name and message from the model. Several names may share a
/// value; the first (the model keeps them sorted by value) wins.
pub fn errno_info(model: &Model, value: u64) -> ErrorInfo {
    let i = model.errnos.partition_point(|e| e.value < value);
    match model.errnos.get(i).filter(|e| e.value == value) {
        Some(e) => ErrorInfo {
            value,
            name: e.name.clone(),
            message: e.message.clone(),
        },
        None => ErrorInfo {
            value,
            name: value.to_string(),
            message: format!("Unknown error {value}"),
        },
    }
}

/// The return of a call: its value by the return type, or for a failed
/// call (`errno` from [`error_number`]) strace's `-1 NAME (message)`.
pub fn decode_return(model: &Model, ty: &Ty, raw: u64, errno: Option<u64>) -> Return {
    decode_return_into(String::new(), model, ty, raw, errno)
}

/// [`decode_return`] with `text` (cleared) for the text: the tracer hands
/// back the text of a reported return, so that a return costs no
/// allocation.
pub fn decode_return_into(
    mut text: String,
    model: &Model,
    ty: &Ty,
    raw: u64,
    errno: Option<u64>,
) -> Return {
    text.clear();
    let error = errno.map(|value| {
        let info = errno_info(model, value);
        text.push_str("-1 ");
        text.push_str(&info.name);
        text.push_str(" (");
        text.push_str(&info.message);
        text.push(')');
        info
    });
    if error.is_none() {
        write_scalar(&mut text, model, ty, raw);
    }
    let signed = signed_return(model, ty, raw, error.is_some());
    Return {
        raw,
        signed,
        text,
        error,
    }
}

/// [`Return::signed`].
fn signed_return(model: &Model, ty: &Ty, raw: u64, failed: bool) -> Option<i64> {
    match ty {
        Ty::Int {
            bytes,
            signed: true,
            ..
        }
        | Ty::Enum {
            bytes,
            signed: true,
            ..
        } => Some(sign_extend(raw, width(*bytes)) as i64),
        _ if failed => Some(sign_extend(raw, width((model.bits / 8) as u8)) as i64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::SnapshotCpu;
    use crate::testutil::{compile, mechanism, model};
    use osm_model::{Expr, RegId};

    #[test]
    fn padded_decimals_align_like_printf() {
        let padded = |v: i64| {
            let mut s = String::new();
            push_decimal_padded(&mut s, v, 5);
            s
        };
        assert_eq!(padded(83), "   83");
        assert_eq!(padded(-5), "   -5");
        assert_eq!(padded(1_234_567), "1234567");
        assert_eq!(padded(i64::MIN), "-9223372036854775808");
    }

    #[test]
    fn integers() {
        assert_eq!(format_int(u64::MAX, 4, true, IntFormat::Dec), "-1");
        assert_eq!(format_int(u64::MAX, 4, false, IntFormat::Dec), "4294967295");
        assert_eq!(format_int(0x1_0000_0005, 4, true, IntFormat::Dec), "5");
        assert_eq!(format_int(u64::MAX, 8, true, IntFormat::Dec), "-1");
        assert_eq!(format_int(0x80, 1, true, IntFormat::Dec), "-128");
        assert_eq!(format_int(0x2a4, 8, false, IntFormat::Hex), "0x2a4");
        assert_eq!(format_int(u64::MAX, 2, true, IntFormat::Hex), "0xffff");
        assert_eq!(format_int(0o644, 4, false, IntFormat::Oct), "0644");
        assert_eq!(format_int(0, 4, false, IntFormat::Oct), "0");
        assert_eq!(format_int(0, 4, false, IntFormat::Hex), "0");
        // The extremes of the hand-written digit loops.
        assert_eq!(
            format_int(1 << 63, 8, true, IntFormat::Dec),
            "-9223372036854775808"
        );
        assert_eq!(
            format_int(u64::MAX, 8, false, IntFormat::Dec),
            "18446744073709551615"
        );
        assert_eq!(
            format_int(u64::MAX, 8, false, IntFormat::Hex),
            "0xffffffffffffffff"
        );
        assert_eq!(format_ptr(1), "0x1");
        // A nonsense width from a bad model means 64 bits, not a panic.
        assert_eq!(format_int(u64::MAX, 0, true, IntFormat::Dec), "-1");
        assert_eq!(
            format_int(u64::MAX, 200, false, IntFormat::Dec),
            u64::MAX.to_string()
        );
    }

    #[test]
    fn pointers() {
        assert_eq!(format_ptr(0), "NULL");
        assert_eq!(format_ptr(0x7ffd_1000), "0x7ffd1000");
    }

    #[test]
    fn flags() {
        let m = model();
        let open = &m.flag_sets[0];
        let prot = &m.flag_sets[1];
        assert_eq!(format_flags(0, open, 4), "O_RDONLY");
        assert_eq!(format_flags(0, prot, 4), "0");
        assert_eq!(format_flags(3, prot, 4), "PROT_READ|PROT_WRITE");
        assert_eq!(format_flags(0o2000000, open, 4), "O_CLOEXEC");
        assert_eq!(
            format_flags(0o2000101, open, 4),
            "O_WRONLY|O_CREAT|O_CLOEXEC"
        );
        // O_SYNC includes O_DSYNC's bit: only the larger member prints.
        assert_eq!(format_flags(0o4010000, open, 4), "O_SYNC");
        assert_eq!(format_flags(0o10000, open, 4), "O_DSYNC");
        assert_eq!(format_flags(0x81, prot, 4), "PROT_READ|0x80");
        assert_eq!(format_flags(0x80, prot, 4), "0x80");
        // Bits beyond the type's width are not the argument's.
        assert_eq!(format_flags(0x1_0000_0001, prot, 4), "PROT_READ");
        let mut aliased = prot.clone();
        aliased.members.push(osm_model::Member::new("PROT_R", 1));
        assert_eq!(format_flags(1, &aliased, 4), "PROT_READ");
    }

    #[test]
    fn enums() {
        let m = model();
        let whence = &m.enums[0];
        assert_eq!(format_enum(1, whence, 4, true), "SEEK_CUR");
        assert_eq!(format_enum(-100i64 as u64, whence, 4, true), "AT_FDCWD");
        assert_eq!(format_enum(0xffff_ff9c, whence, 4, true), "AT_FDCWD");
        assert_eq!(format_enum(7, whence, 4, true), "7");
        assert_eq!(format_enum(-7i64 as u64, whence, 4, true), "-7");
        assert_eq!(format_enum(0xffff_ff9c, whence, 4, false), "4294967196");
        // Over a hex base, as a signal handler: unnamed values in hex.
        let m = compile(
            "x86_64",
            "enum sighandler : hex64 { SIG_DFL = 0, SIG_IGN = 1 }\n\
             table t { 0 f(sighandler h) -> i32; }",
        );
        let handler = &m.enums[0];
        assert_eq!(format_enum(1, handler, 8, false), "SIG_IGN");
        assert_eq!(format_enum(0x401b2c, handler, 8, false), "0x401b2c");
    }

    #[test]
    fn quoting_like_strace() {
        assert_eq!(quote(b"hello\n", false), r#""hello\n""#);
        assert_eq!(quote(b"a\"b\\c\td\re", false), r#""a\"b\\c\td\re""#);
        assert_eq!(quote(b"\x0b\x0c", false), r#""\v\f""#);
        assert_eq!(
            quote(b"\x7fELF\x02\x01\x01\0\0", false),
            r#""\177ELF\2\1\1\0\0""#
        );
        // An escape followed by a digit takes three digits.
        assert_eq!(quote(b"\x001", false), r#""\0001""#);
        assert_eq!(quote(b"\x018", false), r#""\18""#);
        assert_eq!(quote(b"\xff\xe9", false), r#""\377\351""#);
        assert_eq!(quote(b"abc", true), r#""abc"..."#);
        assert_eq!(quote(b"", false), r#""""#);
    }

    #[test]
    fn c_strings() {
        let mut cpu = SnapshotCpu::new();
        cpu.map(0x1000, b"/etc/passwd\0".to_vec());
        assert_eq!(
            read_cstr(&cpu, 0x1000, 32),
            CString::Complete(b"/etc/passwd".to_vec())
        );
        assert_eq!(
            read_cstr(&cpu, 0x1000, 11),
            CString::Complete(b"/etc/passwd".to_vec())
        );
        assert_eq!(read_cstr(&cpu, 0x1000, 4), CString::Cut(b"/etc".to_vec()));
        assert_eq!(read_cstr(&cpu, 0x1000, 0), CString::Cut(Vec::new()));
        assert_eq!(read_cstr(&cpu, 0x2000, 32), CString::Unreadable);
        // No NUL before memory ends.
        cpu.map(0x3000, b"abc".to_vec());
        assert_eq!(read_cstr(&cpu, 0x3000, 32), CString::Unreadable);
        assert_eq!(read_cstr(&cpu, 0x3000, 2), CString::Cut(b"ab".to_vec()));
    }

    #[test]
    fn c_string_ending_just_before_an_unmapped_page() {
        let mut cpu = SnapshotCpu::new();
        cpu.map(0x1ffa, b"hello\0".to_vec());
        assert_eq!(
            read_cstr(&cpu, 0x1ffa, 4096),
            CString::Complete(b"hello".to_vec())
        );
        // A long string spanning pages.
        let long: Vec<u8> = std::iter::repeat_n(b'x', 5000).chain([0]).collect();
        cpu.map(0x10000 - 100, long);
        assert_eq!(
            read_cstr(&cpu, 0x10000 - 100, 10000),
            CString::Complete(vec![b'x'; 5000])
        );
        // The top of the address space.
        cpu.map(u64::MAX - 1, b"ab".to_vec());
        assert_eq!(read_cstr(&cpu, u64::MAX - 1, 8), CString::Unreadable);
        assert_eq!(
            read_cstr(&cpu, u64::MAX - 1, 1),
            CString::Cut(b"a".to_vec())
        );
    }

    #[test]
    fn huge_limits_are_capped() {
        let mut cpu = SnapshotCpu::new();
        cpu.map(0x10_0000, vec![b'y'; MAX_STRING_LIMIT + 10]);
        assert_eq!(
            read_cstr(&cpu, 0x10_0000, usize::MAX),
            CString::Cut(vec![b'y'; MAX_STRING_LIMIT])
        );
        assert_eq!(read_cstr(&cpu, 0x1000, usize::MAX), CString::Unreadable);
        let opts = DecodeOptions {
            string_limit: usize::MAX,
            ..DecodeOptions::default()
        };
        let m = model();
        let raw = [Some(u64::MAX)];
        let call = CallValues {
            args: &raw,
            ret: None,
        };
        let ty = Ty::Buf {
            len: BufLen::Arg(0),
        };
        assert_eq!(decode_value(&m, &ty, 0x1000, &call, &cpu, &opts), "0x1000");
    }

    #[test]
    fn values_that_read_memory() {
        let m = model();
        let mut cpu = SnapshotCpu::new();
        cpu.map(0x1000, b"hello world\0".to_vec());
        let opts = DecodeOptions {
            string_limit: 5,
            ..DecodeOptions::default()
        };
        let raw = [Some(11), Some(3), Some(0)];
        let call = CallValues {
            args: &raw,
            ret: Some(4),
        };
        let d = |ty: &Ty, v: u64| decode_value(&m, ty, v, &call, &cpu, &opts);
        assert_eq!(d(&Ty::CStr, 0x1000), r#""hello"..."#);
        assert_eq!(d(&Ty::CStr, 0x1006), r#""world""#);
        assert_eq!(d(&Ty::CStr, 0), "NULL");
        assert_eq!(d(&Ty::CStr, 0x5000), "0x5000");
        let by_arg = |i| Ty::Buf {
            len: BufLen::Arg(i),
        };
        assert_eq!(d(&by_arg(0), 0x1000), r#""hello"..."#);
        assert_eq!(d(&by_arg(1), 0x1000), r#""hel""#);
        assert_eq!(d(&by_arg(2), 0x1000), r#""""#);
        assert_eq!(d(&by_arg(9), 0x1000), "0x1000");
        assert_eq!(d(&by_arg(0), 0), "NULL");
        assert_eq!(d(&Ty::Buf { len: BufLen::Ret }, 0x1000), r#""hell""#);
        // Buffer partly unreadable: the address, as strace shows it.
        assert_eq!(d(&by_arg(1), 0x100a), "0x100a");
        assert_eq!(d(&Ty::Ptr, 0x1000), "0x1000");
        assert_eq!(d(&Ty::Flags { set: 9, bytes: 4 }, 3), "0x3");
        assert_eq!(
            d(
                &Ty::Enum {
                    set: 9,
                    bytes: 4,
                    signed: false
                },
                3
            ),
            "3"
        );
        assert_eq!(d(&Ty::Void, 3), "0x3");
    }

    #[test]
    fn entry_and_exit_args() {
        let m = model();
        let read = m.tables[0].find(0).unwrap();
        let mut cpu = SnapshotCpu::new();
        let raw = [Some(3), Some(0x2000), Some(100)];
        let opts = DecodeOptions::default();
        let mut args = decode_entry_args(&m, read, &raw, &cpu, &opts);
        let texts: Vec<&str> = args.iter().map(|a| a.text.as_str()).collect();
        assert_eq!(texts, ["3", "0x2000", "100"]);
        assert_eq!(&*args[1].type_name, "buf");
        assert_eq!(args[1].dir, Direction::Out);
        // The kernel filled the buffer; the argument register may be gone.
        cpu.map(0x2000, b"root:x:0:0\n".to_vec());
        decode_exit_args(&m, read, &mut args, Some(11), &cpu, &opts);
        assert_eq!(args[1].text, r#""root:x:0:0\n""#);
        assert_eq!(args[0].text, "3");
        let mut failed = decode_entry_args(&m, read, &raw, &cpu, &opts);
        decode_exit_args(&m, read, &mut failed, None, &cpu, &opts);
        assert_eq!(failed[1].text, "0x2000");
    }

    #[test]
    fn openat_like_strace() {
        let m = model();
        let openat = m.tables[0].find(257).unwrap();
        let mut cpu = SnapshotCpu::new();
        cpu.map(0x1000, b"/etc/ld.so.cache\0".to_vec());
        let raw = [Some(-100i64 as u64), Some(0x1000), Some(0o2000000), None];
        let args = decode_entry_args(&m, openat, &raw, &cpu, &DecodeOptions::default());
        let texts: Vec<&str> = args.iter().map(|a| a.text.as_str()).collect();
        assert_eq!(texts, ["-100", r#""/etc/ld.so.cache""#, "O_CLOEXEC", "?"]);
        assert_eq!(args[3].raw, None);
    }

    #[test]
    fn reused_arguments_decode_as_new_ones() {
        let m = model();
        let openat = m.tables[0].find(257).unwrap();
        let read = m.tables[0].find(0).unwrap();
        let mut cpu = SnapshotCpu::new();
        cpu.map(0x1000, b"/etc/passwd\0".to_vec());
        let opts = DecodeOptions::default();
        // A list left by openat, with an unreadable path and an unreadable
        // fourth argument, then used for read (fewer arguments, other
        // types) and for openat again.
        let mut reused = Vec::new();
        let unreadable = [Some(-100i64 as u64), Some(0x5000), Some(0), None];
        decode_entry_args_into(&mut reused, &m, openat, &unreadable, &cpu, &opts);
        assert!(reused[1].unreadable && reused[3].raw.is_none());
        for (syscall, raw) in [
            (read, &[Some(3), Some(0x2000), Some(100)][..]),
            (
                openat,
                &[Some(-100i64 as u64), Some(0x1000), Some(0), Some(0)][..],
            ),
        ] {
            decode_entry_args_into(&mut reused, &m, syscall, raw, &cpu, &opts);
            assert_eq!(reused, decode_entry_args(&m, syscall, raw, &cpu, &opts));
        }
    }

    #[test]
    fn input_unreadable_at_entry_is_read_at_exit() {
        let m = model();
        let openat = m.tables[0].find(257).unwrap();
        let mut cpu = SnapshotCpu::new();
        let raw = [Some(-100i64 as u64), Some(0x1000), Some(0), None];
        let opts = DecodeOptions::default();
        let mut args = decode_entry_args(&m, openat, &raw, &cpu, &opts);
        assert_eq!(
            (args[1].text.as_str(), args[1].unreadable),
            ("0x1000", true)
        );
        // The kernel read the path, which mapped its page; the call failed.
        cpu.map(0x1000, b"/missing\0".to_vec());
        decode_exit_args(&m, openat, &mut args, None, &cpu, &opts);
        assert_eq!(
            (args[1].text.as_str(), args[1].unreadable),
            (r#""/missing""#, false)
        );
    }

    #[test]
    fn negative_error_convention() {
        let mut m = model();
        let neg = ErrorConvention::Negative { max: 4095 };
        assert_eq!(error_number(&m, &neg, -2i64 as u64, None), Some(2));
        assert_eq!(error_number(&m, &neg, -4095i64 as u64, None), Some(4095));
        assert_eq!(error_number(&m, &neg, -4096i64 as u64, None), None);
        assert_eq!(error_number(&m, &neg, 3, None), None);
        assert_eq!(error_number(&m, &neg, 0, None), None);
        // 0xfffffffe is -2 only on a 32-bit guest.
        assert_eq!(error_number(&m, &neg, 0xffff_fffe, None), None);
        m.bits = 32;
        assert_eq!(error_number(&m, &neg, 0xffff_fffe, None), Some(2));
        assert_eq!(
            error_number(&m, &ErrorConvention::None, u64::MAX, None),
            None
        );
    }

    #[test]
    fn flag_error_convention() {
        let m = model();
        let mut mech = mechanism();
        mech.error = ErrorConvention::Flag(Expr::Binary(
            osm_model::BinOp::And,
            Box::new(Expr::Reg(RegId(1))),
            Box::new(Expr::Const(1)),
        ));
        let mut cpu = SnapshotCpu::new();
        assert_eq!(mechanism_error(&m, &mech, 2, &cpu), None);
        cpu.set_reg(1, 0x203);
        assert_eq!(mechanism_error(&m, &mech, 2, &cpu), Some(2));
        cpu.set_reg(1, 0x202);
        assert_eq!(mechanism_error(&m, &mech, 2, &cpu), None);
        assert_eq!(
            mechanism_error(&m, &mechanism(), -2i64 as u64, &cpu),
            Some(2)
        );
    }

    #[test]
    fn returns() {
        let m = model();
        let ssize = &m.tables[0].syscalls[0].ret;
        let r = decode_return(&m, ssize, -2i64 as u64, Some(2));
        assert_eq!(r.text, "-1 ENOENT (No such file or directory)");
        assert_eq!(r.error.as_ref().unwrap().name, "ENOENT");
        // Shared values: the first name wins.
        assert_eq!(
            decode_return(&m, ssize, 0, Some(11)).text,
            "-1 EAGAIN (Resource temporarily unavailable)"
        );
        assert_eq!(
            decode_return(&m, ssize, 0, Some(999)).text,
            "-1 999 (Unknown error 999)"
        );
        let ok = decode_return(&m, ssize, 11, None);
        assert_eq!(
            (ok.text.as_str(), ok.error, ok.signed),
            ("11", None, Some(11))
        );
        let ptr = decode_return(&m, &Ty::Ptr, 0x7f00, None);
        assert_eq!((ptr.text.as_str(), ptr.signed), ("0x7f00", None));
        // A failed call of an unsigned type (mmap's address) is -errno.
        assert_eq!(
            decode_return(&m, &Ty::Ptr, -12i64 as u64, Some(12)).signed,
            Some(-12)
        );
        assert_eq!(
            decode_return(&m, ssize, -2i64 as u64, Some(2)).signed,
            Some(-2)
        );
        assert_eq!(errno_info(&m, 1).message, "Operation not permitted");
    }

    /// A model written in the language, so these tests decode types as a
    /// model declares them.
    const TYPES: &str = r#"
        type fd = i32;
        type size = ulong;
        flags open_flags : u32 {
            O_RDONLY = 0 mask 3, O_WRONLY = 1 mask 3, O_RDWR = 2 mask 3,
            O_CREAT = 0x40, O_CLOEXEC = 0x80000,
        }
        flags mode_bits : oct {
            S_IFREG = 0o100000 mask 0o170000, S_IFDIR = 0o040000 mask 0o170000,
            S_ISUID = 0o4000,
        }
        flags mnt : ulong { MS_MGC_VAL = 0xc0ed0000 mask 0xffff0000, MS_RDONLY = 1, MS_POSIXACL = 0x10000 }
        enum af16 : u16 { AF_UNIX = 1, AF_INET = 2, AF_NETLINK = 16 }
        struct timespec { long tv_sec; long tv_nsec; }
        struct st { u64 st_dev verbose; mode_bits st_mode; u32 _; i64 st_size; }
        struct iovec { buf[iov_len] iov_base; size iov_len; }
        struct sockaddr_un { af16 sa_family; char sun_path[108]; }
        struct sockaddr_in { af16 sa_family; inet_port sin_port; inet_addr sin_addr; u8 _[8]; }
        union sockaddr(sa_family) { AF_UNIX = sockaddr_un, AF_INET = sockaddr_in }
        struct node { i32 value; node[count] next; u32 count; }
        struct names { char name[8]; u8 raw[4]; hex16 words[40]; }
        table t {
            0 read(fd fd, out buf[ret] buf, size count) -> long;
            1 writev(fd fd, in iovec[vlen] vec, ulong vlen) -> long;
            2 readv(fd fd, out iovec[vlen] vec, ulong vlen) -> long;
            3 openat(fd dfd, cstr path, open_flags flags, mode_bits mode if flags & (O_CREAT | 0x400000)) -> fd;
            4 nanosleep(in timespec req, out timespec rem) -> long;
            5 fstat(fd fd, out st buf) -> long;
            6 pipe(out fd[2] fds) -> long;
            7 connect(fd fd, in sockaddr addr, u32 len) -> long;
            8 walk(in node root) -> long;
            9 names(in names n, in u32[count] list, u32 count) -> long;
            10 mount(mnt flags) -> long;
            11 pad(u32 a, u32 _, u32 b, u32 _) -> long;
            12 execve(cstr path, in cstr[nul] argv, in ptr envp) -> long;
        }
    "#;

    fn call(m: &Model, nr: u64) -> &Syscall {
        m.tables[0].find(nr).unwrap()
    }

    /// Entry texts of `nr` with `raw` arguments (hidden ones left out).
    fn entry_texts(m: &Model, nr: u64, raw: &[u64], cpu: &SnapshotCpu) -> Vec<String> {
        let raw: Vec<Option<u64>> = raw.iter().map(|v| Some(*v)).collect();
        decode_entry_args(m, call(m, nr), &raw, cpu, &DecodeOptions::default())
            .into_iter()
            .filter(|a| !a.hidden)
            .map(|a| a.text)
            .collect()
    }

    fn exit_texts(
        m: &Model,
        nr: u64,
        raw: &[u64],
        ret: Option<u64>,
        cpu: &SnapshotCpu,
    ) -> Vec<String> {
        let raw: Vec<Option<u64>> = raw.iter().map(|v| Some(*v)).collect();
        let opts = DecodeOptions::default();
        let mut args = decode_entry_args(m, call(m, nr), &raw, cpu, &opts);
        decode_exit_args(m, call(m, nr), &mut args, ret, cpu, &opts);
        args.into_iter()
            .filter(|a| !a.hidden)
            .map(|a| a.text)
            .collect()
    }

    fn le(v: u64, n: usize) -> Vec<u8> {
        v.to_le_bytes()[..n].to_vec()
    }

    #[test]
    fn masked_flags_like_strace() {
        let m = compile("x86_64", TYPES);
        let open = &m.flag_sets[m
            .flag_sets
            .iter()
            .position(|s| s.name == "open_flags")
            .unwrap()];
        let mode = &m.flag_sets[m
            .flag_sets
            .iter()
            .position(|s| s.name == "mode_bits")
            .unwrap()];
        let mnt = &m.flag_sets[m.flag_sets.iter().position(|s| s.name == "mnt").unwrap()];
        // The access mode shows even when it is 0.
        assert_eq!(format_flags(0, open, 4), "O_RDONLY");
        assert_eq!(format_flags(0x80000, open, 4), "O_RDONLY|O_CLOEXEC");
        assert_eq!(format_flags(0x80041, open, 4), "O_WRONLY|O_CREAT|O_CLOEXEC");
        // Unknown bits as hex; a field value no member names too.
        assert_eq!(format_flags(0x4000_0002, open, 4), "O_RDWR|0x40000000");
        assert_eq!(format_flags(3, open, 4), "0x3");
        // Octal sets show the rest as C's %#03o, always.
        assert_eq!(format_flags(0o100644, mode, 4), "S_IFREG|0644");
        assert_eq!(format_flags(0o104755, mode, 4), "S_IFREG|S_ISUID|0755");
        assert_eq!(format_flags(0o040000, mode, 4), "S_IFDIR|000");
        assert_eq!(format_flags(0o7, mode, 4), "007");
        assert_eq!(format_flags(0o170000, mode, 4), "0170000");
        // Bits a matched field claims are not also read as flags.
        assert_eq!(format_flags(0xc0ed_0001, mnt, 8), "MS_MGC_VAL|MS_RDONLY");
        assert_eq!(format_flags(0x10001, mnt, 8), "MS_RDONLY|MS_POSIXACL");
    }

    #[test]
    fn signal_sets_like_strace() {
        let m = compile(
            "x86_64",
            "enum signal : i32 { SIGHUP = 1, SIGUSR1 = 10, SIGALRM = 14, SIGSYS = 31 }\n\
             struct act { ptr handler; sigset mask; }\n\
             table t { 0 f(in act a, in sigset s) -> i32; }",
        );
        let mut cpu = SnapshotCpu::new();
        let sets: [(u64, &str); 6] = [
            (0, "[]"),
            (1 << 9 | 1 << 13, "[USR1 ALRM]"),
            // Unnamed below the real-time ones: the number.
            (1 | 1 << 1, "[HUP 2]"),
            (1 << 31 | 1 << 40, "[RTMIN RT_9]"),
            // More than half: the complement.
            (!(1u64 << 31 | 1 << 32), "~[RTMIN RT_1]"),
            (u64::MAX, "~[]"),
        ];
        for (i, (set, _)) in sets.iter().enumerate() {
            cpu.map(0x1000 + 0x100 * i as u64, set.to_le_bytes().to_vec());
        }
        let names = m.enums.iter().position(|e| e.name == "signal").unwrap();
        let sigset = Ty::SigSet {
            names: names as u32,
        };
        let call = CallValues::default();
        let opts = DecodeOptions::default();
        for (i, (_, shown)) in sets.iter().enumerate() {
            let addr = 0x1000 + 0x100 * i as u64;
            assert_eq!(decode_value(&m, &sigset, addr, &call, &cpu, &opts), *shown);
        }
        assert_eq!(decode_value(&m, &sigset, 0, &call, &cpu, &opts), "NULL");
        assert_eq!(
            decode_value(&m, &sigset, 0x9000, &call, &cpu, &opts),
            "0x9000"
        );
        // Embedded in a structure.
        let mut act = 0x4000u64.to_le_bytes().to_vec();
        act.extend_from_slice(&(1u64 << 9).to_le_bytes());
        cpu.map(0x8000, act);
        let id = m.structs.iter().position(|s| s.name == "act").unwrap();
        let act = Ty::Struct { id: id as u32 };
        assert_eq!(
            decode_value(&m, &act, 0x8000, &call, &cpu, &opts),
            "{handler=0x4000, mask=[USR1]}"
        );
    }

    #[test]
    fn fields_shown_by_another_fields_bits() {
        let m = compile(
            "x86_64",
            "flags act_flags : u64 { SA_RESTART = 0x10000000, SA_RESTORER = 0x4000000 }\n\
             struct act { ptr handler; act_flags flags; ptr restorer if flags & SA_RESTORER; }\n\
             table t { 0 f(in act a) -> i32; }",
        );
        let mut cpu = SnapshotCpu::new();
        let act = |flags: u64| {
            [0x4000u64, flags, 0x5000]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<u8>>()
        };
        cpu.map(0x1000, act(0x1400_0000));
        cpu.map(0x2000, act(0x1000_0000));
        let id = m.structs.iter().position(|s| s.name == "act").unwrap();
        let ty = Ty::Struct { id: id as u32 };
        let call = CallValues::default();
        let opts = DecodeOptions::default();
        assert_eq!(
            decode_value(&m, &ty, 0x1000, &call, &cpu, &opts),
            "{handler=0x4000, flags=SA_RESTART|SA_RESTORER, restorer=0x5000}"
        );
        assert_eq!(
            decode_value(&m, &ty, 0x2000, &call, &cpu, &opts),
            "{handler=0x4000, flags=SA_RESTART}"
        );
    }

    #[test]
    fn wait_statuses_like_strace() {
        let m = compile(
            "x86_64",
            "enum signal : i32 { SIGKILL = 9, SIGSEGV = 11, SIGSTOP = 19, SIGCONT = 18 }\n\
             table t { 0 f(out wait_status s) -> i32; }",
        );
        let names = m.enums.iter().position(|e| e.name == "signal").unwrap() as u32;
        let w = |status: u32| {
            let mut out = String::new();
            write_wait_status(&mut out, &m, names, status);
            out
        };
        assert_eq!(w(0), "[{WIFEXITED(s) && WEXITSTATUS(s) == 0}]");
        assert_eq!(w(7 << 8), "[{WIFEXITED(s) && WEXITSTATUS(s) == 7}]");
        assert_eq!(w(9), "[{WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL}]");
        assert_eq!(
            w(0x8b),
            "[{WIFSIGNALED(s) && WTERMSIG(s) == SIGSEGV && WCOREDUMP(s)}]"
        );
        assert_eq!(w(34), "[{WIFSIGNALED(s) && WTERMSIG(s) == SIGRT_2}]");
        assert_eq!(
            w(19 << 8 | 0x7f),
            "[{WIFSTOPPED(s) && WSTOPSIG(s) == SIGSTOP}]"
        );
        assert_eq!(w(0xffff), "[{WIFCONTINUED(s)}]");
        // A ptrace event above the stop.
        assert_eq!(
            w(3 << 16 | 5 << 8 | 0x7f),
            "[{WIFSTOPPED(s) && WSTOPSIG(s) == 5} | 0x3 << 16]"
        );
        let mut cpu = SnapshotCpu::new();
        cpu.map(0x1000, (9u32 << 8).to_le_bytes().to_vec());
        let ty = Ty::WaitStatus { names };
        let opts = DecodeOptions::default();
        let call = CallValues::default();
        assert_eq!(
            decode_value(&m, &ty, 0x1000, &call, &cpu, &opts),
            "[{WIFEXITED(s) && WEXITSTATUS(s) == 9}]"
        );
        assert_eq!(decode_value(&m, &ty, 0, &call, &cpu, &opts), "NULL");
    }

    #[test]
    fn conditional_and_padding_arguments_are_hidden() {
        let m = compile("x86_64", TYPES);
        let mut cpu = SnapshotCpu::new();
        cpu.map(0x1000, b"f\0".to_vec());
        assert_eq!(
            entry_texts(&m, 3, &[3, 0x1000, 0, 0o644], &cpu),
            ["3", "\"f\"", "O_RDONLY"]
        );
        assert_eq!(
            entry_texts(&m, 3, &[3, 0x1000, 0x41, 0o644], &cpu),
            ["3", "\"f\"", "O_WRONLY|O_CREAT", "0644"]
        );
        assert_eq!(entry_texts(&m, 11, &[1, 2, 3, 4], &cpu), ["1", "3"]);
    }

    #[test]
    fn structures_from_memory() {
        let m = compile("x86_64", TYPES);
        let mut cpu = SnapshotCpu::new();
        let mut ts = le(0, 8);
        ts.extend(le(1_000_000, 8));
        cpu.map(0x1000, ts);
        assert_eq!(
            entry_texts(&m, 4, &[0x1000, 0], &cpu),
            ["{tv_sec=0, tv_nsec=1000000}", "NULL"]
        );
        // Unreadable, and partly readable (the last byte is missing).
        cpu.map(0x3000, vec![0; 15]);
        let raw = [Some(0x2000), Some(0x3000)];
        let args = decode_entry_args(&m, call(&m, 4), &raw, &cpu, &DecodeOptions::default());
        assert_eq!(
            (args[0].text.as_str(), args[0].unreadable),
            ("0x2000", true)
        );
        let mut args = decode_entry_args(
            &m,
            call(&m, 4),
            &[Some(0x1000), Some(0x3000)],
            &cpu,
            &DecodeOptions::default(),
        );
        assert_eq!(
            (args[1].text.as_str(), args[1].unreadable),
            ("0x3000", false)
        );
        decode_exit_args(
            &m,
            call(&m, 4),
            &mut args,
            Some(0),
            &cpu,
            &DecodeOptions::default(),
        );
        assert_eq!(
            (args[1].text.as_str(), args[1].unreadable),
            ("0x3000", true)
        );
        assert!(args[1].is_unreadable() && !args[0].is_unreadable());
    }

    #[test]
    fn verbose_fields_and_failed_outputs() {
        let m = compile("x86_64", TYPES);
        let mut cpu = SnapshotCpu::new();
        let mut st = le(0x19, 8);
        st.extend(le(0o100644, 4));
        st.extend(le(0, 4));
        st.extend(le(19, 8));
        cpu.map(0x1000, st);
        assert_eq!(
            exit_texts(&m, 5, &[3, 0x1000], Some(0), &cpu),
            ["3", "{st_mode=S_IFREG|0644, st_size=19, ...}"]
        );
        // A failed call wrote nothing: the address, as strace shows it.
        assert_eq!(exit_texts(&m, 5, &[3, 0x1000], None, &cpu), ["3", "0x1000"]);
        let verbose = DecodeOptions {
            verbose: true,
            ..DecodeOptions::default()
        };
        let ty = &call(&m, 5).args[1].ty;
        let call_values = CallValues::default();
        assert_eq!(
            decode_value(&m, ty, 0x1000, &call_values, &cpu, &verbose),
            "{st_dev=25, st_mode=S_IFREG|0644, st_size=19}"
        );
    }

    #[test]
    fn iovec_arrays_in_and_out() {
        let m = compile("x86_64", TYPES);
        let mut cpu = SnapshotCpu::new();
        let mut vec = le(0x2000, 8);
        vec.extend(le(2, 8));
        vec.extend(le(0x3000, 8));
        vec.extend(le(4, 8));
        cpu.map(0x1000, vec);
        cpu.map(0x2000, b"ab".to_vec());
        cpu.map(0x3000, b"cde\nrest of the buffer".to_vec());
        assert_eq!(
            entry_texts(&m, 1, &[3, 0x1000, 2], &cpu),
            [
                "3",
                "[{iov_base=\"ab\", iov_len=2}, {iov_base=\"cde\\n\", iov_len=4}]",
                "2"
            ]
        );
        // readv: at entry an address; at exit the buffers hold what the
        // return value says was read, in order.
        assert_eq!(entry_texts(&m, 2, &[3, 0x1000, 2], &cpu)[1], "0x1000");
        assert_eq!(
            exit_texts(&m, 2, &[3, 0x1000, 2], Some(3), &cpu)[1],
            "[{iov_base=\"ab\", iov_len=2}, {iov_base=\"c\", iov_len=4}]"
        );
        // A huge count shows the string limit's worth of elements.
        let mut many = Vec::new();
        for _ in 0..40 {
            many.extend(le(0, 8));
            many.extend(le(0, 8));
        }
        cpu.map(0x8000, many);
        let text = &entry_texts(&m, 1, &[3, 0x8000, u64::MAX], &cpu)[1];
        assert_eq!(text.matches("iov_base=NULL").count(), DEFAULT_STRING_LIMIT);
        assert!(text.ends_with(", ...]"), "{text}");
        // Elements that are not all readable: the address.
        let args = decode_entry_args(
            &m,
            call(&m, 1),
            &[Some(3), Some(0x1000), Some(3)],
            &cpu,
            &DecodeOptions::default(),
        );
        assert_eq!(
            (args[1].text.as_str(), args[1].unreadable),
            ("0x1000", true)
        );
        assert_eq!(entry_texts(&m, 1, &[3, 0x1000, 0], &cpu)[1], "[]");
    }

    #[test]
    fn integer_arrays() {
        let m = compile("x86_64", TYPES);
        let mut cpu = SnapshotCpu::new();
        cpu.map(0x1000, [le(4, 4), le(5, 4)].concat());
        assert_eq!(exit_texts(&m, 6, &[0x1000], Some(0), &cpu), ["[4, 5]"]);
        assert_eq!(entry_texts(&m, 6, &[0x1000], &cpu), ["0x1000"]);
        // Inline arrays: characters are a string up to the NUL (or the end
        // of the array), other elements a list.
        let mut names = b"abc\0zzzz".to_vec();
        names.truncate(8);
        names.extend([1, 2, 3, 4]);
        names.extend(vec![0; 80]);
        cpu.map(0x2000, names);
        cpu.map(0x3000, [le(7, 4), le(8, 4)].concat());
        let texts = entry_texts(&m, 9, &[0x2000, 0x3000, 2], &cpu);
        assert!(
            texts[0].starts_with("{name=\"abc\", raw=[1, 2, 3, 4], words=[0, 0,"),
            "{}",
            texts[0]
        );
        assert!(texts[0].ends_with(", ...]}"), "{}", texts[0]);
        assert_eq!(texts[1], "[7, 8]");
        cpu.map(0x2000, b"12345678".to_vec());
        assert!(
            entry_texts(&m, 9, &[0x2000, 0x3000, 0], &cpu)[0].starts_with("{name=\"12345678\", ")
        );
    }

    #[test]
    fn socket_addresses_by_family() {
        let m = compile("x86_64", TYPES);
        let mut cpu = SnapshotCpu::new();
        let mut un = le(1, 2);
        un.extend(b"sock\0");
        un.resize(110, 0);
        cpu.map(0x1000, un);
        assert_eq!(
            entry_texts(&m, 7, &[3, 0x1000, 110], &cpu)[1],
            "{sa_family=AF_UNIX, sun_path=\"sock\"}"
        );
        // Network byte order, whatever the guest's.
        let mut inet = le(2, 2);
        inet.extend([0, 9, 127, 0, 0, 1]);
        inet.extend([0; 8]);
        cpu.map(0x2000, inet);
        assert_eq!(
            entry_texts(&m, 7, &[3, 0x2000, 16], &cpu)[1],
            "{sa_family=AF_INET, sin_port=htons(9), sin_addr=inet_addr(\"127.0.0.1\")}"
        );
        // Only the chosen case is read: a short address at the end of
        // memory still decodes.
        cpu.map(
            0x2ff0,
            [le(2, 2), vec![0, 80, 10, 0, 0, 1], vec![0; 8]].concat(),
        );
        assert_eq!(
            entry_texts(&m, 7, &[3, 0x2ff0, 16], &cpu)[1],
            "{sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr(\"10.0.0.1\")}"
        );
        // A family no case names: the tag and `...`.
        cpu.map(0x4000, [le(16, 2), vec![0; 14]].concat());
        assert_eq!(
            entry_texts(&m, 7, &[3, 0x4000, 16], &cpu)[1],
            "{sa_family=AF_NETLINK, ...}"
        );
        cpu.map(0x5000, [le(99, 2), vec![0; 14]].concat());
        assert_eq!(
            entry_texts(&m, 7, &[3, 0x5000, 16], &cpu)[1],
            "{sa_family=99, ...}"
        );
        assert_eq!(entry_texts(&m, 7, &[3, 0x6000, 16], &cpu)[1], "0x6000");
    }

    #[test]
    fn pointer_cycles_stop_at_the_depth_limit() {
        let m = compile("x86_64", TYPES);
        let mut cpu = SnapshotCpu::new();
        // A node whose `next` array is itself.
        cpu.map(
            0x1000,
            [le(7, 4), le(0, 4), le(0x1000, 8), le(1, 4), le(0, 4)].concat(),
        );
        let text = &entry_texts(&m, 8, &[0x1000], &cpu)[0];
        // Each level is one pointer to an array: the depth limit counts them.
        assert_eq!(text.matches("value=7").count() as u32, MAX_DEPTH, "{text}");
        assert!(text.contains("next=0x1000"), "{text}");
    }

    #[test]
    fn thirty_two_bit_layouts() {
        let m = compile("arm", TYPES);
        let ts = &m.structs[m.structs.iter().position(|s| s.name == "timespec").unwrap()];
        assert_eq!((ts.size, ts.fields[1].offset), (8, 4));
        let st = &m.structs[m.structs.iter().position(|s| s.name == "st").unwrap()];
        // An i64 is 8-aligned on ARM EABI.
        assert_eq!((st.size, st.fields[3].offset), (24, 16));
        let mut cpu = SnapshotCpu::new();
        cpu.map(0x1000, [le(3, 4), le(500, 4)].concat());
        assert_eq!(
            entry_texts(&m, 4, &[0x1000, 0], &cpu)[0],
            "{tv_sec=3, tv_nsec=500}"
        );
        // Registers are 32 bits: a negative 32-bit length is huge, not -1.
        cpu.map(0x2000, b"xyz".to_vec());
        assert_eq!(
            decode_value(
                &m,
                &Ty::Buf {
                    len: BufLen::Arg(0)
                },
                0x2000,
                &CallValues {
                    args: &[Some(2)],
                    ret: None
                },
                &cpu,
                &DecodeOptions::default()
            ),
            "\"xy\""
        );
    }

    #[test]
    fn network_order_registers() {
        assert_eq!(from_network(0x0900, 2, Endian::Little), 9);
        assert_eq!(from_network(0x0009, 2, Endian::Big), 9);
        assert_eq!(from_network(0x0100_007f, 4, Endian::Little), 0x7f00_0001);
        assert_eq!(format_int(9, 2, false, IntFormat::Port), "htons(9)");
        assert_eq!(
            format_int(0x7f00_0001, 4, false, IntFormat::Ipv4),
            "inet_addr(\"127.0.0.1\")"
        );
        assert_eq!(format_int(u64::from(b'a'), 1, true, IntFormat::Char), "'a'");
        assert_eq!(format_int(0, 1, true, IntFormat::Char), "'\\0'");
    }

    #[test]
    fn arrays_that_end_at_zero() {
        let m = compile("x86_64", TYPES);
        let mut cpu = SnapshotCpu::new();
        cpu.map(0x1000, [le(0x2000, 8), le(0x2003, 8), le(0, 8)].concat());
        cpu.map(0x2000, b"sh\0-c\0".to_vec());
        assert_eq!(
            entry_texts(&m, 12, &[0x2000, 0x1000, 0x7ff0], &cpu),
            ["\"sh\"", "[\"sh\", \"-c\"]", "0x7ff0"]
        );
        // No terminator within the string limit: `...`.
        let many: Vec<u8> = (0..40).flat_map(|_| le(0x2000, 8)).collect();
        cpu.map(0x3000, many);
        let text = &entry_texts(&m, 12, &[0x2000, 0x3000, 0], &cpu)[1];
        assert_eq!(text.matches("\"sh\"").count(), DEFAULT_STRING_LIMIT);
        assert!(text.ends_with(", ...]"), "{text}");
        // Memory ends before the terminator; an empty array; unreadable.
        cpu.map(0x5000, le(0x2003, 8));
        let args = decode_entry_args(
            &m,
            call(&m, 12),
            &[Some(0), Some(0x5000), Some(0)],
            &cpu,
            &DecodeOptions::default(),
        );
        assert_eq!(
            (args[1].text.as_str(), args[1].unreadable),
            ("[\"-c\", ...]", true)
        );
        cpu.map(0x6000, le(0, 8));
        assert_eq!(entry_texts(&m, 12, &[0, 0x6000, 0], &cpu)[1], "[]");
        assert_eq!(entry_texts(&m, 12, &[0, 0x9000, 0], &cpu)[1], "0x9000");
    }
}
