//! A message's control data (sendmsg's and recvmsg's `msg_control`) as
//! strace shows it: each `cmsghdr` record with its level, its type and the
//! data the types of level `SOL_SOCKET` carry.

use super::MAX_STRUCT_READ;
use super::scalar::{push_decimal, write_enum, write_ptr};
use super::strings::quote_into;
use super::walk::{Ctx, Out, unreadable};
use crate::cpu::{Cpu, value_from_target_bytes};
use crate::eval::sign_extend;
use osm_model::{MemberSet, Model};

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
    let int = |at: usize| {
        sign_extend(value_from_target_bytes(&bytes[at..at + 4], model.endian), 4) as i32
    };
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
        out.leaf(|out| write_enum(out, level as u32 as u64, levels, 4, true));
        out.push_str(", cmsg_type=");
        let end = at
            + usize::try_from(record_len)
                .unwrap_or(usize::MAX)
                .min(read - at);
        let data = bytes.get(at + header..end).unwrap_or(&[]);
        if Some(i128::from(level)) == sol_socket {
            out.leaf(|out| write_enum(out, kind as u32 as u64, types, 4, true));
            let name = types.members.iter().find(|m| m.value == i128::from(kind));
            write_data(out, model, name.map(|m| m.name.as_str()), data);
        } else {
            out.leaf(|out| super::scalar::push_hex(out, kind as u32 as u64));
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
    let int = |i: usize| {
        let at = i * 4;
        sign_extend(value_from_target_bytes(&data[at..at + 4], model.endian), 4) as i64
    };
    let long = |i: usize| {
        let at = i * word;
        sign_extend(
            value_from_target_bytes(&data[at..at + word], model.endian),
            word as u8,
        ) as i64
    };
    out.leaf(|out| match kind {
        Some("SCM_RIGHTS" | "SCM_PIDFD") if data.len() >= 4 => {
            let n = data.len() / 4;
            out.push('[');
            for i in 0..n {
                if i > 0 {
                    out.push_str(", ");
                }
                push_signed(out, int(i));
            }
            out.push(']');
        }
        Some("SCM_CREDENTIALS") if data.len() >= 12 => {
            out.push_str("{pid=");
            push_signed(out, int(0));
            out.push_str(", uid=");
            push_id(out, int(1));
            out.push_str(", gid=");
            push_id(out, int(2));
            out.push('}');
        }
        Some("SCM_SECURITY") => quote_into(out, data),
        Some(time @ ("SO_TIMESTAMP_OLD" | "SO_TIMESTAMPNS_OLD")) if data.len() == 2 * word => {
            out.push_str("{tv_sec=");
            push_signed(out, long(0));
            out.push_str(if time == "SO_TIMESTAMP_OLD" {
                ", tv_usec="
            } else {
                ", tv_nsec="
            });
            push_signed(out, long(1));
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

fn push_signed(out: &mut String, v: i64) {
    if v < 0 {
        out.push('-');
    }
    push_decimal(out, v.unsigned_abs());
}

/// A user or group id as strace shows one: unsigned, except -1.
fn push_id(out: &mut String, v: i64) {
    if v == -1 {
        out.push_str("-1");
    } else {
        push_decimal(out, v as u32 as u64);
    }
}
