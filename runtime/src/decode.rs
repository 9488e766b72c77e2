//! Raw values to text, driven by the model's types, the way strace prints
//! them: integers, pointers, quoted and escaped strings and buffers, flag
//! sets, enums and errno returns.
//!
//! Nothing here trusts guest data: lengths are capped, unreadable memory is
//! shown as the pointer value (as strace does), and out-of-range indices in
//! a model fall back to hexadecimal rather than panicking.

use crate::cpu::{Cpu, PAGE_SIZE};
use crate::eval::{self, Env, sign_extend, truncate};
use osm_compiler::model::{
    BufLen, Direction, ErrorConvention, IntFormat, Mechanism, MemberSet, Model, Syscall, Ty,
};
use std::fmt::Write;

/// strace's default `-s`.
pub const DEFAULT_STRING_LIMIT: usize = 32;

/// However the limit is configured, a single string or buffer never makes
/// the tracer read more than this.
pub const MAX_STRING_LIMIT: usize = 1 << 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Characters of a string or bytes of a buffer shown before `...`.
    pub string_limit: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            string_limit: DEFAULT_STRING_LIMIT,
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arg {
    pub name: String,
    /// The type as the model writes it (`fd`, `HANDLE`).
    pub type_name: String,
    pub dir: Direction,
    /// `None` when the argument's location could not be read.
    pub raw: Option<u64>,
    pub text: String,
}

/// A decoded return.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Return {
    pub raw: u64,
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
/// and zero as `0`, like C's `%#x`/`%#o` that strace uses.
pub fn format_int(raw: u64, bytes: u8, signed: bool, format: IntFormat) -> String {
    let bytes = width(bytes);
    let unsigned = truncate(raw, bytes);
    match format {
        IntFormat::Dec if signed => (sign_extend(raw, bytes) as i64).to_string(),
        IntFormat::Dec => unsigned.to_string(),
        _ if unsigned == 0 => "0".to_string(),
        IntFormat::Hex => format!("{unsigned:#x}"),
        IntFormat::Oct => format!("0{unsigned:o}"),
    }
}

pub fn format_ptr(raw: u64) -> String {
    if raw == 0 {
        "NULL".to_string()
    } else {
        format!("{raw:#x}")
    }
}

/// A flag set, by this rule:
/// - zero prints the set's zero-valued member if it has one, else `0`;
/// - otherwise members whose bits are all set in the value print in
///   declaration order, except a member whose bits are a strict subset of
///   another printed member (`O_SYNC` includes `O_DSYNC`) and a member with
///   the same value as an earlier one (aliases: the first wins);
/// - bits no printed member covers follow as one hexadecimal number.
///
/// Zero-valued members never print for a non-zero value, so `O_RDONLY|
/// O_CLOEXEC` prints as `O_CLOEXEC`.
pub fn format_flags(raw: u64, set: &MemberSet, bytes: u8) -> String {
    let bytes = width(bytes);
    let value = truncate(raw, bytes);
    let member_bits = |v: i128| truncate(v as u64, bytes);
    if value == 0 {
        return match set.members.iter().find(|(_, v)| member_bits(*v) == 0) {
            Some((name, _)) => name.clone(),
            None => "0".to_string(),
        };
    }
    let is_set = |m: u64| m != 0 && value & m == m;
    let mut out = String::new();
    let mut covered = 0u64;
    for (i, (name, v)) in set.members.iter().enumerate() {
        let m = member_bits(*v);
        if !is_set(m) {
            continue;
        }
        let subsumed = set.members.iter().any(|(_, o)| {
            let o = member_bits(*o);
            is_set(o) && o != m && o & m == m
        });
        let alias = set.members[..i].iter().any(|(_, o)| member_bits(*o) == m);
        if subsumed || alias {
            continue;
        }
        if !out.is_empty() {
            out.push('|');
        }
        out.push_str(name);
        covered |= m;
    }
    let rest = value & !covered;
    if rest != 0 {
        if !out.is_empty() {
            out.push('|');
        }
        let _ = write!(out, "{rest:#x}");
    }
    out
}

/// An enum: the member's name, or the number (decimal, signed if the type
/// is) when no member has the value.
pub fn format_enum(raw: u64, set: &MemberSet, bytes: u8, signed: bool) -> String {
    let bytes = width(bytes);
    let value: i128 = if signed {
        i128::from(sign_extend(raw, bytes) as i64)
    } else {
        i128::from(truncate(raw, bytes))
    };
    match set.members.iter().find(|(_, v)| *v == value) {
        Some((name, _)) => name.clone(),
        None => value.to_string(),
    }
}

/// Appends `bytes` quoted as strace quotes them: printable ASCII as is,
/// `\" \\ \n \t \r \f \v`, and other bytes in octal, as short as possible
/// unless the next byte is an octal digit (then three digits, so the escape
/// cannot absorb it: `\0` but `\0001`).
pub fn quote_into(out: &mut String, bytes: &[u8]) {
    out.push('"');
    for (i, &b) in bytes.iter().enumerate() {
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
    }
    out.push('"');
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

/// A value whose type needs no guest memory; strings and buffers show their
/// address. Used for returns, and by [`decode_value`].
pub fn format_scalar(model: &Model, ty: &Ty, raw: u64) -> String {
    match ty {
        Ty::Int {
            bytes,
            signed,
            format,
        } => format_int(raw, *bytes, *signed, *format),
        Ty::Ptr | Ty::CStr | Ty::Buf { .. } => format_ptr(raw),
        Ty::Flags { set, bytes } => match model.flag_sets.get(*set as usize) {
            Some(s) => format_flags(raw, s, *bytes),
            None => format!("{raw:#x}"),
        },
        Ty::Enum { set, bytes, signed } => match model.enums.get(*set as usize) {
            Some(s) => format_enum(raw, s, *bytes, *signed),
            None => raw.to_string(),
        },
        // A void value has no meaning of its own; show the bits.
        Ty::Void => format!("{raw:#x}"),
    }
}

/// A value of any type, reading guest memory for strings and buffers.
pub fn decode_value<C: Cpu + ?Sized>(
    model: &Model,
    ty: &Ty,
    raw: u64,
    call: &CallValues<'_>,
    cpu: &C,
    opts: &DecodeOptions,
) -> String {
    match ty {
        Ty::CStr if raw != 0 => match read_cstr(cpu, raw, opts.limit()) {
            CString::Complete(s) => quote(&s, false),
            CString::Cut(s) => quote(&s, true),
            CString::Unreadable => format_ptr(raw),
        },
        Ty::Buf { len } if raw != 0 => {
            let len = match len {
                BufLen::Arg(i) => call.args.get(*i as usize).copied().flatten(),
                BufLen::Ret => call.ret,
            };
            let Some(len) = len else {
                return format_ptr(raw);
            };
            let limit = opts.limit();
            let shown = usize::try_from(len).unwrap_or(usize::MAX).min(limit);
            let mut buf = vec![0u8; shown];
            if cpu.read_mem(raw, &mut buf) < shown {
                return format_ptr(raw);
            }
            quote(&buf, len > shown as u64)
        }
        _ => format_scalar(model, ty, raw),
    }
}

/// Text for an argument whose location could not be read.
pub const UNREADABLE_ARG: &str = "?";

/// Decodes a call's arguments at entry. Output arguments show only their
/// address: the kernel has not written them yet.
pub fn decode_entry_args<C: Cpu + ?Sized>(
    model: &Model,
    syscall: &Syscall,
    raw: &[Option<u64>],
    cpu: &C,
    opts: &DecodeOptions,
) -> Vec<Arg> {
    let call = CallValues {
        args: raw,
        ret: None,
    };
    syscall
        .args
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let value = raw.get(i).copied().flatten();
            let text = match value {
                None => UNREADABLE_ARG.to_string(),
                Some(v) if p.dir == Direction::Out => format_scalar(model, &p.ty, v),
                Some(v) => decode_value(model, &p.ty, v, &call, cpu, opts),
            };
            Arg {
                name: p.name.clone(),
                type_name: p.type_name.clone(),
                dir: p.dir,
                raw: value,
                text,
            }
        })
        .collect()
}

/// Re-decodes, at exit, the arguments the kernel may have written (`out`
/// and `inout`), from the raw values saved at entry: argument registers
/// may be overwritten by now. `ret` is the return value of a successful
/// call, `None` for a failed one.
pub fn decode_exit_args<C: Cpu + ?Sized>(
    model: &Model,
    syscall: &Syscall,
    args: &mut [Arg],
    ret: Option<u64>,
    cpu: &C,
    opts: &DecodeOptions,
) {
    let raw: Vec<Option<u64>> = args.iter().map(|a| a.raw).collect();
    let call = CallValues { args: &raw, ret };
    for (arg, p) in args.iter_mut().zip(&syscall.args) {
        if p.dir == Direction::In {
            continue;
        }
        if let Some(v) = arg.raw {
            arg.text = decode_value(model, &p.ty, v, &call, cpu, opts);
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
    match errno {
        Some(value) => {
            let info = errno_info(model, value);
            Return {
                raw,
                text: format!("-1 {} ({})", info.name, info.message),
                error: Some(info),
            }
        }
        None => Return {
            raw,
            text: format_scalar(model, ty, raw),
            error: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::SnapshotCpu;
    use crate::testutil::{mechanism, model};
    use osm_compiler::model::{Expr, RegId};

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
        aliased.members.push(("PROT_R".into(), 1));
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
        let opts = DecodeOptions { string_limit: 5 };
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
        assert_eq!(args[1].type_name, "buf");
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
            osm_compiler::model::BinOp::And,
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
        assert_eq!((ok.text.as_str(), ok.error), ("11", None));
        assert_eq!(decode_return(&m, &Ty::Ptr, 0x7f00, None).text, "0x7f00");
        assert_eq!(errno_info(&m, 1).message, "Operation not permitted");
    }
}
