//! Values shown from their bits alone, with no guest memory read: integers,
//! pointers, flag sets and enums as strace prints them.

use super::strings::quote_body;
use crate::eval::{sign_extend, truncate};
use osm_model::arch::Endian;
use osm_model::{IntFormat, Member, MemberSet, Model, Ty};
use std::fmt::Write;

/// A width in bytes as the decoders use it: anything outside 1..=8 means 8.
pub(super) fn width(bytes: u8) -> u8 {
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

/// Linux's USER_HZ: the clock ticks of times(), rusage and siginfo.
const CLOCK_TICKS: u64 = 100;

pub(super) fn write_int(out: &mut String, raw: u64, bytes: u8, signed: bool, format: IntFormat) {
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
        IntFormat::Hex | IntFormat::Pages if unsigned == 0 => {
            out.push('0');
            Ok(())
        }
        IntFormat::Hex => {
            push_hex(out, unsigned);
            Ok(())
        }
        IntFormat::Oct => {
            push_octal_mode(out, unsigned);
            Ok(())
        }
        IntFormat::Char | IntFormat::UnixPath => {
            let byte = [unsigned as u8];
            out.push('\'');
            quote_body(out, &byte);
            out.push('\'');
            Ok(())
        }
        IntFormat::Port => write!(out, "htons({})", unsigned & 0xffff),
        IntFormat::NetLong => write!(out, "htonl({})", unsigned & 0xffff_ffff),
        IntFormat::Hex8Digits => write!(out, "{:08x}", unsigned & 0xffff_ffff),
        IntFormat::Epoch => {
            let seconds = sign_extend(raw, bytes) as i64;
            if seconds < 0 {
                out.push('-');
            }
            push_decimal(out, seconds.unsigned_abs());
            write_date_comment(out, seconds, 0);
            Ok(())
        }
        IntFormat::ClockTicks if unsigned == 0 => write!(out, "0"),
        IntFormat::ClockTicks => write!(
            out,
            "{unsigned} /* {}.{:02} s */",
            unsigned / CLOCK_TICKS,
            unsigned % CLOCK_TICKS
        ),
        IntFormat::Ipv6 => write!(out, "{}", unsigned & 0xff),
        IntFormat::Ipv4 => {
            let [a, b, c, d] = (unsigned as u32).to_be_bytes();
            write!(out, "inet_addr(\"{a}.{b}.{c}.{d}\")")
        }
        IntFormat::Pages => {
            push_hex(out, unsigned << 12);
            Ok(())
        }
        IntFormat::KernelVersion => write!(
            out,
            "KERNEL_VERSION({}, {}, {})",
            unsigned >> 16,
            (unsigned >> 8) & 0xff,
            unsigned & 0xff
        ),
        IntFormat::Dev => {
            // glibc's major() and minor(): the kernel's encoding keeps the
            // low 8 bits of the minor below the major's 12 and the rest
            // above them, and a 64-bit dev_t adds more of each higher up.
            let major = ((unsigned >> 8) & 0xfff) | ((unsigned >> 32) & !0xfff);
            let minor = (unsigned & 0xff) | ((unsigned >> 12) & 0xffff_ff00);
            out.push_str("makedev(");
            push_hex_or_zero(out, major);
            out.push_str(", ");
            push_hex_or_zero(out, minor);
            out.push(')');
            Ok(())
        }
        IntFormat::Rlimit if unsigned > 1024 && unsigned.is_multiple_of(1024) => {
            push_decimal(out, unsigned / 1024);
            out.push_str("*1024");
            Ok(())
        }
        IntFormat::Rlimit => {
            push_decimal(out, unsigned);
            Ok(())
        }
    };
}

/// C's `%#x`, as strace prints numbers: `0` for zero, else `0x` and the
/// digits.
fn push_hex_or_zero(out: &mut String, value: u64) {
    if value == 0 {
        out.push('0');
    } else {
        push_hex(out, value);
    }
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

pub(super) fn write_ptr(out: &mut String, raw: u64) {
    if raw == 0 {
        out.push_str("NULL");
    } else {
        push_hex(out, raw);
    }
}

/// Appends `value` in decimal. Numbers are most of a trace's text, and
/// `write!` goes through `core::fmt`'s padding machinery for each one.
pub fn push_decimal(out: &mut String, value: u64) {
    out.push_str(itoa::Buffer::new().format(value));
}

/// Appends `value` as strace shows a file mode, C's `%#03o`: a leading
/// 0 and at least three digits (`000`, `022`, `0644`).
pub(super) fn push_octal_mode(out: &mut String, value: u64) {
    let _ = if value < 8 {
        write!(out, "00{value}")
    } else {
        write!(out, "0{value:o}")
    };
}

/// Appends `value` in decimal, right-aligned in `width` characters, as
/// C's `%5d` does.
pub fn push_decimal_padded(out: &mut String, value: i64, width: usize) {
    let mut buffer = itoa::Buffer::new();
    let digits = buffer.format(value);
    for _ in digits.len()..width {
        out.push(' ');
    }
    out.push_str(digits);
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Appends `byte` as two lower-case hexadecimal digits (for escapes:
/// strace's `\x0a`, JSON's `\u000a`).
pub fn push_hex_byte(out: &mut String, byte: u8) {
    out.push(char::from(HEX_DIGITS[usize::from(byte >> 4)]));
    out.push(char::from(HEX_DIGITS[usize::from(byte & 0xf)]));
}

/// Appends `value` as `0x` and lower-case hexadecimal digits, as Rust's
/// `{:#x}` does (0 is `0x0`; C's `%#x`, which prints `0`, is for callers
/// to special-case).
pub fn push_hex(out: &mut String, mut value: u64) {
    let mut digits = [0u8; 16];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = HEX_DIGITS[(value & 0xf) as usize];
        value >>= 4;
        if value == 0 {
            break;
        }
    }
    out.push_str("0x");
    // ASCII digits, pushed as chars: nothing to check as UTF-8.
    out.extend(digits[at..].iter().map(|&d| char::from(d)));
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

pub(super) fn write_flags(out: &mut String, raw: u64, set: &MemberSet, bytes: u8) {
    let bytes = width(bytes);
    let value = truncate(raw, bytes);
    let member_bits = |v: i128| truncate(v as u64, bytes);
    let start = out.len();
    let sep = |out: &mut String| {
        if out.len() > start {
            out.push('|');
        }
    };
    // Fields first: bits a matched field claims are not read again as
    // flags (`MS_MGC_VAL` in the high half of mount flags). Each field's
    // name (the member its masked bits equal) prints where the field's
    // first member is declared, as bits print in declaration order.
    let mut covered = 0u64;
    let mut has_fields = false;
    let mut field_names: [Option<usize>; 8] = [None; 8];
    let mut fields = 0;
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
            .position(|o| o.mask == Some(mask) && member_bits(o.value) == field)
            && fields < field_names.len()
        {
            field_names[fields] = Some(named);
            fields += 1;
            covered |= mask;
        }
    }
    let field_names = &field_names[..fields];
    let bits_left = value & !covered;
    let is_set = |m: u64| m != 0 && bits_left & m == m;
    for (i, m) in set.members.iter().enumerate() {
        if let Some(mask) = m.mask {
            if set.members[..i].iter().any(|o| o.mask == Some(mask)) {
                continue;
            }
            if let Some(named) = field_names
                .iter()
                .flatten()
                .find(|&&n| set.members[n].mask == Some(mask))
            {
                sep(out);
                out.push_str(&set.members[*named].name);
            }
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
            push_octal_mode(out, rest);
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

pub(super) fn write_enum(out: &mut String, raw: u64, set: &MemberSet, bytes: u8, signed: bool) {
    let value = enum_value(raw, bytes, signed);
    let member = set.members.iter().find(|m| m.value == value);
    if set.verbose {
        write_verbose(out, raw, value, member, set, bytes);
        return;
    }
    match member {
        Some(m) => out.push_str(&m.name),
        None if set.unknown.is_some() => {
            let unknown = set.unknown.as_deref().unwrap_or_default();
            push_hex_or_zero(out, truncate(raw, width(bytes)));
            let _ = write!(out, " /* {unknown} */");
        }
        None if set.rest == IntFormat::Hex => {
            let _ = write!(out, "{:#x}", truncate(raw, width(bytes)));
        }
        None if set.rest == IntFormat::Rlimit => write_int(out, raw, bytes, false, set.rest),
        None => {
            let _ = write!(out, "{value}");
        }
    }
}

/// A `verbose` enum's value: the number as its base shows numbers, then
/// the member's name (or the set's unknown text) in a comment, as strace's
/// verbose style does (`10 /* SYSLOG_ACTION_SIZE_BUFFER */`).
fn write_verbose(
    out: &mut String,
    raw: u64,
    value: i128,
    member: Option<&Member>,
    set: &MemberSet,
    bytes: u8,
) {
    let name = match member {
        Some(m) => m.name.as_str(),
        None => set.unknown.as_deref().unwrap_or_default(),
    };
    if set.rest == IntFormat::Hex {
        push_hex_or_zero(out, truncate(raw, width(bytes)));
    } else {
        let _ = write!(out, "{value}");
    }
    if !name.is_empty() {
        let _ = write!(out, " /* {name} */");
    }
}

pub(super) fn enum_value(raw: u64, bytes: u8, signed: bool) -> i128 {
    let bytes = width(bytes);
    if signed {
        i128::from(sign_extend(raw, bytes) as i64)
    } else {
        i128::from(truncate(raw, bytes))
    }
}

/// A value whose type needs no guest memory; strings, buffers, arrays and
/// structures show their address. Used for returns, for output arguments
/// at entry and by [`decode_value`](super::decode_value).
pub fn format_scalar(model: &Model, ty: &Ty, raw: u64) -> String {
    let mut out = String::new();
    write_scalar(&mut out, model, ty, raw);
    out
}

pub(super) fn write_scalar(out: &mut String, model: &Model, ty: &Ty, raw: u64) {
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
        | Ty::Path
        | Ty::Buf { .. }
        | Ty::HexBuf { .. }
        | Ty::FdSet { .. }
        | Ty::CpuSet { .. }
        | Ty::Dirents { .. }
        | Ty::MsgBuf { .. }
        | Ty::WStr { .. }
        | Ty::Array { .. }
        | Ty::Sized { .. }
        | Ty::Cmsgs { .. }
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

/// ` /* 2001-09-09T01:46:41.000000500+0000 */`: a time in seconds since the
/// epoch as a UTC date, with its nanoseconds unless 0, as strace shows
/// them; nothing for nanoseconds out of range or for the epoch itself
/// (`{tv_sec=0, tv_nsec=0}`).
pub(super) fn write_date_comment(out: &mut String, seconds: i64, nanos: i64) {
    if seconds == 0 && nanos == 0 {
        return;
    }
    let start = out.len();
    out.push_str(" /* ");
    if write_utc_date(out, seconds, nanos) {
        out.push_str(" */");
    } else {
        out.truncate(start);
    }
}

/// `2001-09-09T01:46:41.000000500+0000`: seconds since the epoch as a UTC
/// date, with nanoseconds unless 0, as strace writes times; false (and
/// nothing written) when they are out of range.
pub(super) fn write_utc_date(out: &mut String, seconds: i64, nanos: i64) -> bool {
    use chrono::{Datelike, Timelike};
    let Some(date) = u32::try_from(nanos)
        .ok()
        .filter(|&n| n < 1_000_000_000)
        .and_then(|n| chrono::DateTime::from_timestamp(seconds, n))
    else {
        return false;
    };
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        date.year(),
        date.month(),
        date.day(),
        date.hour(),
        date.minute(),
        date.second()
    );
    if nanos != 0 {
        let _ = write!(out, ".{nanos:09}");
    }
    out.push_str("+0000");
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::fixtures::TYPES;
    use crate::testutil::{compile, model};

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
        assert_eq!(format_int(0, 4, false, IntFormat::Oct), "000");
        assert_eq!(format_int(0o22, 4, false, IntFormat::Oct), "022");
        assert_eq!(format_int(0o7, 4, false, IntFormat::Oct), "007");
        assert_eq!(format_int(0o4755, 4, false, IntFormat::Oct), "04755");
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
        // `unknown "..."`: strace's hex and comment, a negative value too.
        let m = compile(
            "x86_64",
            "enum clockid : i32 unknown \"CLOCK_???\" { CLOCK_REALTIME = 0 }\n\
             table t { 0 f(clockid c) -> i32; }",
        );
        let clockid = &m.enums[0];
        assert_eq!(format_enum(0, clockid, 4, true), "CLOCK_REALTIME");
        assert_eq!(format_enum(99, clockid, 4, true), "0x63 /* CLOCK_??? */");
        assert_eq!(
            format_enum(-2i64 as u64, clockid, 4, true),
            "0xfffffffe /* CLOCK_??? */"
        );
        // Zero as C's `%#x` prints it.
        let m = compile(
            "x86_64",
            "enum prop : u64 unknown \"MS_???\" { MS_PRIVATE = 0x40000 }\n\
             table t { 0 f(prop p) -> i32; }",
        );
        assert_eq!(format_enum(0, &m.enums[0], 8, false), "0 /* MS_??? */");
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
        // A field prints where it is declared: clone's exit signal last.
        let m = compile(
            "x86_64",
            "flags cf : ulong { CLONE_VM = 0x100, CLONE_SETTLS = 0x80000, SIGCHLD = 17 mask 0xff }\n\
             table t { 0 f(cf f) -> i32; }",
        );
        let clone = &m.flag_sets[0];
        assert_eq!(
            format_flags(0x80111, clone, 8),
            "CLONE_VM|CLONE_SETTLS|SIGCHLD"
        );
        assert_eq!(format_flags(0x11, clone, 8), "SIGCHLD");
        assert_eq!(format_flags(0x105, clone, 8), "CLONE_VM|0x5");
    }

    #[test]
    fn network_order_registers() {
        assert_eq!(from_network(0x0900, 2, Endian::Little), 9);
        assert_eq!(from_network(0x0009, 2, Endian::Big), 9);
        assert_eq!(from_network(0x0100_007f, 4, Endian::Little), 0x7f00_0001);
        assert_eq!(format_int(9, 2, false, IntFormat::Port), "htons(9)");
        assert_eq!(format_int(0, 8, false, IntFormat::ClockTicks), "0");
        assert_eq!(
            format_int(160, 8, false, IntFormat::ClockTicks),
            "160 /* 1.60 s */"
        );
        assert_eq!(
            format_int(5, 4, false, IntFormat::ClockTicks),
            "5 /* 0.05 s */"
        );
        assert_eq!(
            format_int(0x0006_0110, 4, false, IntFormat::KernelVersion),
            "KERNEL_VERSION(6, 1, 16)"
        );
        assert_eq!(format_int(2, 4, false, IntFormat::Pages), "0x2000");
        // /dev/null, /dev/console, a disk's partition 17, and glibc's
        // 64-bit encoding of major 0x1234, minor 0x56789.
        assert_eq!(
            format_int(0x103, 8, false, IntFormat::Dev),
            "makedev(0x1, 0x3)"
        );
        assert_eq!(
            format_int(0x501, 8, false, IntFormat::Dev),
            "makedev(0x5, 0x1)"
        );
        assert_eq!(
            format_int(0x10_0811, 4, false, IntFormat::Dev),
            "makedev(0x8, 0x111)"
        );
        assert_eq!(
            format_int(0x8800, 8, false, IntFormat::Dev),
            "makedev(0x88, 0)"
        );
        assert_eq!(
            format_int(0x0000_1000_5672_3489, 8, false, IntFormat::Dev),
            "makedev(0x1234, 0x56789)"
        );
        assert_eq!(
            format_int(8 << 20, 8, false, IntFormat::Rlimit),
            "8192*1024"
        );
        assert_eq!(format_int(1024, 8, false, IntFormat::Rlimit), "1024");
        assert_eq!(format_int(4096, 4, false, IntFormat::Rlimit), "4*1024");
        assert_eq!(format_int(1000, 8, false, IntFormat::Rlimit), "1000");
        assert_eq!(format_int(0, 8, false, IntFormat::Rlimit), "0");
        assert_eq!(format_int(0, 4, false, IntFormat::Pages), "0");
        assert_eq!(
            format_int(0x7f00_0001, 4, false, IntFormat::Ipv4),
            "inet_addr(\"127.0.0.1\")"
        );
        assert_eq!(format_int(u64::from(b'a'), 1, true, IntFormat::Char), "'a'");
        assert_eq!(format_int(0, 1, true, IntFormat::Char), "'\\0'");
    }
}
