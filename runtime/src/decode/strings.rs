//! Bytes quoted as strace quotes strings and buffers, and C strings read
//! from guest memory up to their NUL.

use super::MAX_STRING_LIMIT;
use super::push_hex_byte;
use crate::cpu::{Cpu, PAGE_SIZE};
use osm_model::arch::Endian;

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

/// Appends `bytes` quoted with every byte in hex, as strace quotes bytes
/// that mean nothing as text (getrandom's, a file handle's): `"\x0a\xff"`.
pub fn quote_hex_into(out: &mut String, bytes: &[u8]) {
    out.reserve(bytes.len() * 4 + 2);
    out.push('"');
    for &b in bytes {
        out.push_str("\\x");
        push_hex_byte(out, b);
    }
    out.push('"');
}

pub(super) fn quote_body(out: &mut String, bytes: &[u8]) {
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

/// UTF-16 code units stored in `bytes` in `endian` order, quoted as
/// `L"..."`: shown as UTF-8 with the C-string escapes, and a lone surrogate
/// as U+FFFD rather than hiding the rest.
pub(super) fn quote_utf16_into(out: &mut String, bytes: &[u8], endian: Endian) {
    let big = endian == Endian::Big;
    let code_units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| {
            if big {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from_le_bytes([c[0], c[1]])
            }
        })
        .collect();
    let text: String = char::decode_utf16(code_units)
        .map(|c| c.unwrap_or('\u{fffd}'))
        .collect();
    out.push('L');
    quote_into(out, text.as_bytes());
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
    // Most strings, paths too, end in the first 64 bytes: a longer first
    // read would copy (and a raw capture record) bytes past the NUL.
    let mut size = 64;
    let mut at = addr;
    while out.len() < want {
        let to_page_end = usize::try_from(PAGE_SIZE - at % PAGE_SIZE).unwrap_or(usize::MAX);
        let n = to_page_end.min(want - out.len()).min(size);
        size = chunk.len();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::SnapshotCpu;
    use crate::decode::{CallValues, DecodeOptions, decode_value};
    use crate::testutil::model;
    use osm_model::{BufLen, Ty};

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
    fn quoting_every_byte_in_hex() {
        let mut out = String::new();
        quote_hex_into(&mut out, b"a\x00\xff\n");
        assert_eq!(out, r#""\x61\x00\xff\x0a""#);
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
}
