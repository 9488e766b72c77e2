//! A message's control data (sendmsg's and recvmsg's `msg_control`) as
//! strace shows it: each `cmsghdr` record with its level, its type and the
//! data the types of level `SOL_SOCKET` carry.

use super::MAX_STRUCT_READ;
use super::scalar::{enum_value, push_decimal, write_enum, write_int, write_ptr};
use super::strings::quote_into;
use super::walk::{Ctx, Out, unreadable};
use crate::cpu::{Cpu, value_from_target_bytes};
use osm_model::{IntFormat, MemberSet, Model};

/// `[{cmsg_len=24, cmsg_level=SOL_SOCKET, cmsg_type=SCM_RIGHTS,
/// cmsg_data=[5, 6]}, ...]` for the `len` bytes at `addr`: records each as
/// long as its `cmsg_len` (a word), rounded up to a word; levels named by
/// the enum `levels`, the types of `SOL_SOCKET` by the enum `types`.
pub(super) fn write_cmsgs<C: Cpu + ?Sized, O: Out>(
    out: &mut O,
    ctx: &mut Ctx<'_, C>,
    addr: u64,
    len: u64,
    levels: u32,
    types: u32,
) {
    let model = ctx.model;
    let word = (model.bits / 8) as usize;
    let header = word + 8;
    let read = len.min(MAX_STRUCT_READ) as usize;
    if read < header {
        return out.leaf(|out| write_ptr(out, addr));
    }
    let mut bytes = vec![0u8; read];
    if ctx.cpu.read_mem(addr, &mut bytes) < read {
        return unreadable(out, ctx, addr);
    }
    let (Some(levels), Some(types)) = (
        model.enums.get(levels as usize),
        model.enums.get(types as usize),
    ) else {
        return out.leaf(|out| write_ptr(out, addr));
    };
    let sol_socket = member(levels, "SOL_SOCKET");
    let int = |at: usize| value_from_target_bytes(&bytes[at..at + 4], model.endian);
    out.push('[');
    let mut at = 0;
    while read - at >= header {
        let record_len = value_from_target_bytes(&bytes[at..at + word], model.endian);
        let (level, kind) = (int(at + word), int(at + word + 4));
        if at > 0 {
            out.push_str(", ");
        }
        out.push_str("{cmsg_len=");
        out.leaf(|out| push_decimal(out, record_len));
        out.push_str(", cmsg_level=");
        out.leaf(|out| write_enum(out, level, levels, 4, true));
        out.push_str(", cmsg_type=");
        let end = at
            + usize::try_from(record_len)
                .unwrap_or(usize::MAX)
                .min(read - at);
        let data = bytes.get(at + header..end).unwrap_or(&[]);
        if Some(enum_value(level, 4, true)) == sol_socket {
            out.leaf(|out| write_enum(out, kind, types, 4, true));
            let kind = enum_value(kind, 4, true);
            let name = types.members.iter().find(|m| m.value == kind);
            write_data(out, model, name.map(|m| m.name.as_str()), data);
        } else {
            out.leaf(|out| write_int(out, kind, 4, false, IntFormat::Hex));
            write_data(out, model, None, data);
        }
        out.push('}');
        if record_len < header as u64 {
            at += header;
            break;
        }
        let next = usize::try_from(record_len.next_multiple_of(word as u64)).unwrap_or(usize::MAX);
        if next >= read - at {
            at = read;
            break;
        }
        at += next;
    }
    if at < read {
        out.push_str(", ...");
        out.leaf(|out| {
            out.push_str(" /* ");
            write_ptr(out, addr + at as u64);
            out.push_str(" */");
        });
    } else if (read as u64) < len {
        out.push_str(", ...");
    }
    out.push(']');
}

/// The value of the member of `set` called `name`.
fn member(set: &MemberSet, name: &str) -> Option<i128> {
    set.members.iter().find(|m| m.name == name).map(|m| m.value)
}

/// `, cmsg_data=...`: the data of a record of level `SOL_SOCKET` whose type
/// is `kind` as strace decodes it (descriptors, credentials, a security
/// label, a time), any other in hex; nothing when there is none.
fn write_data<O: Out>(out: &mut O, model: &Model, kind: Option<&str>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    out.push_str(", cmsg_data=");
    let word = (model.bits / 8) as usize;
    // The i-th element of `size` bytes, as a signed decimal.
    let signed = |out: &mut String, i: usize, size: usize| {
        let raw = value_from_target_bytes(&data[i * size..(i + 1) * size], model.endian);
        write_int(out, raw, size as u8, true, IntFormat::Dec);
    };
    let id = |out: &mut String, i: usize| {
        let raw = value_from_target_bytes(&data[i * 4..(i + 1) * 4], model.endian);
        push_id(out, raw);
    };
    out.leaf(|out| match kind {
        Some("SCM_RIGHTS" | "SCM_PIDFD") if data.len() >= 4 => {
            let n = data.len() / 4;
            out.push('[');
            for i in 0..n {
                if i > 0 {
                    out.push_str(", ");
                }
                signed(out, i, 4);
            }
            out.push(']');
        }
        Some("SCM_CREDENTIALS") if data.len() >= 12 => {
            out.push_str("{pid=");
            signed(out, 0, 4);
            out.push_str(", uid=");
            id(out, 1);
            out.push_str(", gid=");
            id(out, 2);
            out.push('}');
        }
        Some("SCM_SECURITY") => quote_into(out, data),
        Some(time @ ("SO_TIMESTAMP_OLD" | "SO_TIMESTAMPNS_OLD")) if data.len() == 2 * word => {
            out.push_str("{tv_sec=");
            signed(out, 0, word);
            out.push_str(if time == "SO_TIMESTAMP_OLD" {
                ", tv_usec="
            } else {
                ", tv_nsec="
            });
            signed(out, 1, word);
            out.push('}');
        }
        _ => {
            out.push('"');
            for b in data {
                let _ = std::fmt::Write::write_fmt(out, format_args!("\\x{b:02x}"));
            }
            out.push('"');
        }
    });
}

/// A 32-bit user or group id as strace shows one: unsigned, except -1.
fn push_id(out: &mut String, raw: u64) {
    if raw == 0xffff_ffff {
        out.push_str("-1");
    } else {
        push_decimal(out, raw);
    }
}

#[cfg(test)]
mod tests {
    use crate::cpu::SnapshotCpu;
    use crate::decode::fixtures::{entry_texts, le};
    use crate::decode::{DecodeOptions, decode_entry_args, decode_exit_args};
    use crate::testutil::compile;

    const MSGHDR: &str = r#"
        type size = ulong;
        enum af16 : u16 { AF_UNIX = 1, AF_INET = 2, AF_NETLINK = 16 }
        enum sockopt_level : i32 unknown "SOL_??" { SOL_IP = 0, SOL_SOCKET = 1 }
        enum scm_type : i32 unknown "SCM_???" { SCM_RIGHTS = 1, SCM_CREDENTIALS = 2 }
        struct sockaddr_un { af16 sa_family; char sun_path[108]; }
        struct sockaddr_nl { af16 sa_family; u16 _; u32 nl_pid; hex32 nl_groups; }
        union sockaddr(sa_family) { AF_UNIX = sockaddr_un, AF_NETLINK = sockaddr_nl }
        struct msghdr {
            sockaddr(msg_namelen) msg_name;
            u32 msg_namelen updated;
            cmsgs[msg_controllen] msg_control;
            size msg_controllen;
        }
        table t { 0 recvmsg(inout msghdr msg) -> long; }
    "#;

    /// A control buffer of records, each `(len, level, type, data)`, laid
    /// out with a header of `word + 8` bytes and records rounded up to
    /// words, little-endian.
    fn records(word: usize, list: &[(u64, u32, u32, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for &(len, level, kind, data) in list {
            out.extend(le(len, word));
            out.extend(le(level.into(), 4));
            out.extend(le(kind.into(), 4));
            out.extend(data);
            out.resize(out.len().next_multiple_of(word), 0);
        }
        out
    }

    /// `(name, namelen, control, controllen)` as a msghdr of `word` bytes
    /// per pointer, little-endian.
    fn msghdr(word: usize, fields: [u64; 4]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend(le(fields[0], word));
        out.extend(le(fields[1], 4));
        out.resize(word * 2, 0);
        out.extend(le(fields[2], word));
        out.extend(le(fields[3], word));
        out
    }

    /// Records as strace shows them, on 64-bit (16-byte headers) and 32-bit
    /// (12-byte headers) models: descriptors, credentials, another level's
    /// type in hex with its data, and a cut last record.
    #[test]
    fn control_messages_as_strace_shows_them() {
        for (arch, word) in [("x86_64", 8), ("arm", 4)] {
            let m = compile(arch, MSGHDR);
            let header = word as u64 + 8;
            let creds = [le(83, 4), le(0, 4), le(0xffff_ffff, 4)].concat();
            let control = records(
                word,
                &[
                    (header + 8, 1, 1, &[5, 0, 0, 0, 6, 0, 0, 0]),
                    (header + 12, 1, 2, &creds),
                    (header + 2, 0, 8, &[0xab, 0x01]),
                ],
            );
            let mut cpu = SnapshotCpu::new();
            cpu.map(0x2000, control.clone());
            cpu.map(0x1000, msghdr(word, [0, 0, 0x2000, control.len() as u64]));
            assert_eq!(
                entry_texts(&m, 0, &[0x1000], &cpu)[0],
                format!(
                    "{{msg_name=NULL, msg_namelen=0, msg_control=[\
                     {{cmsg_len={}, cmsg_level=SOL_SOCKET, cmsg_type=SCM_RIGHTS, cmsg_data=[5, 6]}}, \
                     {{cmsg_len={}, cmsg_level=SOL_SOCKET, cmsg_type=SCM_CREDENTIALS, cmsg_data={{pid=83, uid=0, gid=-1}}}}, \
                     {{cmsg_len={}, cmsg_level=SOL_IP, cmsg_type=0x8, cmsg_data=\"\\xab\\x01\"}}], \
                     msg_controllen={}}}",
                    header + 8,
                    header + 12,
                    header + 2,
                    control.len()
                ),
                "{arch}"
            );
        }
    }

    /// A name as long as its length says, as an address when too short
    /// for its family; a length the kernel changed shows both values.
    #[test]
    fn names_of_a_length_and_their_rewritten_length() {
        let m = compile("x86_64", MSGHDR);
        let opts = DecodeOptions::default();
        let call = m.tables[0].find(0).unwrap();
        let mut entry = SnapshotCpu::new();
        entry.map(0x2000, [0u8; 16]);
        entry.map(0x1000, msghdr(8, [0x2000, 128, 0, 0]));
        let mut exit = SnapshotCpu::new();
        exit.map(0x2000, [le(16, 2), le(0, 2), le(0, 4), le(0, 4)].concat());
        exit.map(0x1000, msghdr(8, [0x2000, 12, 0, 0]));
        let mut args = decode_entry_args(&m, call, &[Some(0x1000)], &entry, &opts);
        decode_exit_args(&m, call, &mut args, Some(0), &exit, &opts);
        assert_eq!(
            args[0].text,
            "{msg_name={sa_family=AF_NETLINK, nl_pid=0, nl_groups=0}, msg_namelen=128 => 12, \
             msg_control=NULL, msg_controllen=0}"
        );
        // sun_path is cut at the length: two bytes of it.
        let mut cpu = SnapshotCpu::new();
        cpu.map(0x3000, [le(1, 2), b"sock\0".to_vec()].concat());
        cpu.map(0x1000, msghdr(8, [0x3000, 4, 0, 0]));
        assert_eq!(
            entry_texts(&m, 0, &[0x1000], &cpu)[0],
            "{msg_name={sa_family=AF_UNIX, sun_path=\"so\"}, msg_namelen=4, msg_control=NULL, msg_controllen=0}"
        );
        cpu.map(0x1000, msghdr(8, [0x3000, 1, 0, 0]));
        assert_eq!(
            entry_texts(&m, 0, &[0x1000], &cpu)[0],
            "{msg_name=0x3000, msg_namelen=1, msg_control=NULL, msg_controllen=0}"
        );
    }
}
