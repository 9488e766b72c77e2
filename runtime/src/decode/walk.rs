//! Values in guest memory, walked by their type: strings, buffers, arrays,
//! structures and unions, following pointers to a bounded depth.

use super::call::Arg;
use super::scalar::{
    enum_value, format_scalar, width, write_date_comment, write_int, write_ptr, write_scalar,
};
use super::signals::{write_sigset, write_wait_status};
use super::strings::{CString, quote_hex_into, quote_into, quote_utf16_into, read_cstr};
use super::{DecodeOptions, MAX_DEPTH, MAX_STRUCT_READ};
use crate::cpu::Cpu;
use crate::eval::sign_extend;
use osm_model::arch::Endian;
use osm_model::{BufLen, FieldIo, IntFormat, Model, Param, StructDef, Ty, UnionDef};

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

/// Where a walk's text goes: a string, or nowhere ([`Skip`]) when the walk
/// only follows the memory a later decoding reads (a capture), taking the
/// same reads in the same order because it is the same walk.
pub(super) trait Out {
    /// The text, when there is one.
    fn text(&mut self) -> Option<&mut String>;

    /// Text that costs formatting: only written when there is text.
    #[inline(always)]
    fn leaf(&mut self, write: impl FnOnce(&mut String)) {
        if let Some(text) = self.text() {
            write(text);
        }
    }

    #[inline(always)]
    fn push(&mut self, c: char) {
        self.leaf(|t| t.push(c));
    }

    #[inline(always)]
    fn push_str(&mut self, s: &str) {
        self.leaf(|t| t.push_str(s));
    }
}

impl Out for String {
    #[inline(always)]
    fn text(&mut self) -> Option<&mut String> {
        Some(self)
    }
}

/// No text: a capture's walk.
pub(super) struct Skip;

impl Out for Skip {
    #[inline(always)]
    fn text(&mut self) -> Option<&mut String> {
        None
    }
}

/// State of decoding one argument.
pub(super) struct Ctx<'a, C: Cpu + ?Sized> {
    pub(super) model: &'a Model,
    pub(super) cpu: &'a C,
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
    /// Bytes of the next structure that may show (one of a given length,
    /// `sockaddr(addrlen)`): its fields past them do not.
    cut: Option<usize>,
    /// Which of a structure's fields show, by their direction.
    pub(super) view: View,
    /// Where the next structure to show lies in guest memory, for its
    /// `trailing` buffer.
    base: Option<u64>,
}

/// When a value is decoded: a structure's `output` fields do not show at
/// a call's entry, its `input` fields not after the return, where an
/// array shows only the elements the kernel wrote something into (poll's
/// `[{fd=3, revents=POLLIN}]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum View {
    Entry,
    Exit,
    Returned,
}

impl View {
    fn shows(self, io: FieldIo) -> bool {
        !matches!(
            (self, io),
            (View::Entry, FieldIo::Output) | (View::Returned, FieldIo::Input)
        )
    }
}

impl<'a, C: Cpu + ?Sized> Ctx<'a, C> {
    pub(super) fn new(
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
            cut: None,
            view: View::Entry,
            base: None,
        }
    }

    pub(super) fn in_view(mut self, view: View) -> Self {
        self.view = view;
        self
    }
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

/// Decodes one argument into `out`; true when memory it points to could
/// not be read.
fn decode_arg<C: Cpu + ?Sized, O: Out>(
    out: &mut O,
    ty: &Ty,
    raw: u64,
    mut ctx: Ctx<'_, C>,
) -> bool {
    write_value(out, &mut ctx, ty, raw, None);
    ctx.unreadable
}

/// Decodes an argument as its parameter says: a `verbose` one without
/// `verbose=on` (a NUL-terminated array) as its address and its number of
/// elements, as strace shows execve's environment: `0x7ffd1000 /* 3 vars
/// */`; any other whole. True when memory it points to could not be read.
pub(super) fn decode_param<C: Cpu + ?Sized, O: Out>(
    out: &mut O,
    p: &Param,
    raw: u64,
    mut ctx: Ctx<'_, C>,
) -> bool {
    let elem = match &p.ty {
        Ty::Array {
            elem,
            len: BufLen::Nul,
        } if p.verbose && !ctx.opts.verbose => elem,
        ty => return decode_arg(out, ty, raw, ctx),
    };
    if raw == 0 {
        out.leaf(|out| write_ptr(out, raw));
        return false;
    }
    match count_terminated(&mut ctx, elem, raw) {
        Some(n) => out.leaf(|out| {
            let _ = std::fmt::Write::write_fmt(
                out,
                format_args!("{raw:#x} /* {n} var{} */", if n == 1 { "" } else { "s" }),
            );
        }),
        None => unreadable(out, &mut ctx, raw),
    }
    ctx.unreadable
}

/// A directory's entries (getdents64's), as strace shows them without
/// `-v`: the address and how many records the `bytes` hold, each as long
/// as its `d_reclen` (16 bits at offset 16).
fn write_dirents<C: Cpu + ?Sized, O: Out>(
    out: &mut O,
    ctx: &mut Ctx<'_, C>,
    addr: u64,
    bytes: u64,
) {
    let Some(len) = usize::try_from(bytes)
        .ok()
        .filter(|&n| n as u64 <= MAX_STRUCT_READ)
    else {
        return unreadable(out, ctx, addr);
    };
    let mut records = vec![0u8; len];
    if ctx.cpu.read_mem(addr, &mut records) < len {
        return unreadable(out, ctx, addr);
    }
    let (mut at, mut count) = (0usize, 0u64);
    while let Some(reclen) = records.get(at + 16..at + 18) {
        let reclen = crate::cpu::value_from_target_bytes(reclen, ctx.model.endian) as usize;
        if reclen == 0 || at + reclen > len {
            break;
        }
        at += reclen;
        count += 1;
    }
    out.leaf(|out| {
        write_ptr(out, addr);
        let _ = std::fmt::Write::write_fmt(out, format_args!(" /* {count} entries */"));
    });
}

/// The descriptors of a set of `count` (select's `nfds`), as strace shows
/// them: `[4 5]`. The kernel reads whole words of the model's width, bit
/// N of the set being bit N % width of word N / width.
fn write_fd_set<C: Cpu + ?Sized, O: Out>(out: &mut O, ctx: &mut Ctx<'_, C>, addr: u64, count: u64) {
    let word = u64::from(ctx.model.bits / 8);
    let bits = word * 8;
    let Some(total) = count
        .div_ceil(bits)
        .checked_mul(word)
        .filter(|&t| t <= MAX_STRUCT_READ)
    else {
        return unreadable(out, ctx, addr);
    };
    let mut bytes = vec![0u8; total as usize];
    if ctx.cpu.read_mem(addr, &mut bytes) < bytes.len() {
        return unreadable(out, ctx, addr);
    }
    out.push('[');
    let mut first = true;
    for (w, chunk) in bytes.chunks(word as usize).enumerate() {
        let value = crate::cpu::value_from_target_bytes(chunk, ctx.model.endian);
        for bit in 0..bits {
            let fd = w as u64 * bits + bit;
            if fd >= count {
                break;
            }
            if value >> bit & 1 == 1 {
                if !first {
                    out.push(' ');
                }
                first = false;
                out.leaf(|out| super::scalar::push_decimal(out, fd));
            }
        }
    }
    out.push(']');
}

/// How many elements come before the first all-zero one; `None` when
/// memory does not read before it, or after `MAX_COUNTED` of them.
fn count_terminated<C: Cpu + ?Sized>(ctx: &mut Ctx<'_, C>, elem: &Ty, addr: u64) -> Option<u64> {
    /// More elements than any environment has; guest data cannot make
    /// the count loop longer.
    const MAX_COUNTED: u64 = 1 << 16;
    let size = usize::try_from(ctx.model.type_size(elem).clamp(1, 64)).unwrap_or(8);
    let mut element = [0u8; 64];
    for i in 0..MAX_COUNTED {
        let at = i
            .checked_mul(size as u64)
            .and_then(|off| addr.checked_add(off))?;
        if ctx.cpu.read_mem(at, &mut element[..size]) < size {
            return None;
        }
        if element[..size].iter().all(|&b| b == 0) {
            return Some(i);
        }
    }
    None
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

/// How many bytes of a string `ty` shows: `strsize`, or for a path
/// `PATH_MAX` less its NUL, as strace shows paths whatever `-s` says.
fn string_limit<C: Cpu + ?Sized>(ctx: &Ctx<'_, C>, ty: &Ty) -> usize {
    const PATH_MAX: usize = 4096;
    match ty {
        Ty::Path => PATH_MAX - 1,
        _ => ctx.opts.limit(),
    }
}

/// Appends a value held in a register (an argument) or read from memory as
/// a pointer-sized or integer value.
fn write_value<C: Cpu + ?Sized, O: Out>(
    out: &mut O,
    ctx: &mut Ctx<'_, C>,
    ty: &Ty,
    raw: u64,
    siblings: Option<Siblings<'_>>,
) {
    if raw == 0 || ctx.depth >= MAX_DEPTH {
        return out.leaf(|out| write_scalar(out, ctx.model, ty, raw));
    }
    match ty {
        Ty::CStr | Ty::Path => match read_cstr(ctx.cpu, raw, string_limit(ctx, ty)) {
            CString::Complete(s) => out.leaf(|out| quote_into(out, &s)),
            CString::Cut(s) => {
                out.leaf(|out| quote_into(out, &s));
                out.push_str("...");
            }
            CString::Unreadable => unreadable(out, ctx, raw),
        },
        Ty::Buf { len: source } | Ty::HexBuf { len: source } => {
            let Some(mut len) = length(ctx, *source, siblings) else {
                return out.leaf(|out| write_ptr(out, raw));
            };
            // Buffers structures point to share what the return value says
            // was written (`readv`); a buffer argument has its own length.
            if let BufLen::Field(_) = source
                && let Some(budget) = ctx.budget.as_mut()
            {
                len = len.min(*budget);
                *budget -= len;
            }
            write_bytes(out, ctx, raw, len, matches!(ty, Ty::HexBuf { .. }));
        }
        Ty::MsgBuf { len: source } => match length(ctx, *source, siblings) {
            Some(len) => write_msgbuf(out, ctx, raw, len),
            None => out.leaf(|out| write_ptr(out, raw)),
        },
        Ty::WStr { len: source } => {
            let Some(len) = length(ctx, *source, siblings) else {
                return out.leaf(|out| write_ptr(out, raw));
            };
            // `len` counts bytes; strsize counts characters, as for C strings.
            let units = usize::try_from(len / 2).unwrap_or(usize::MAX);
            let shown = units.min(ctx.opts.limit());
            let mut buf = vec![0u8; shown * 2];
            if ctx.cpu.read_mem(raw, &mut buf) < buf.len() {
                return unreadable(out, ctx, raw);
            }
            out.leaf(|out| quote_utf16_into(out, &buf, ctx.model.endian));
            if units > shown {
                out.push_str("...");
            }
        }
        Ty::FdSet { len: source } => match length(ctx, *source, siblings) {
            Some(count) => write_fd_set(out, ctx, raw, count),
            None => out.leaf(|out| write_ptr(out, raw)),
        },
        // Bits of `len` bytes: whole words, as the kernel copies them.
        Ty::CpuSet { len: source } => match length(ctx, *source, siblings) {
            Some(bytes) => write_fd_set(out, ctx, raw, bytes.saturating_mul(8)),
            None => out.leaf(|out| write_ptr(out, raw)),
        },
        Ty::Dirents { len: source } => match length(ctx, *source, siblings) {
            Some(bytes) => write_dirents(out, ctx, raw, bytes),
            None => out.leaf(|out| write_ptr(out, raw)),
        },
        Ty::Cmsgs {
            len: source,
            levels,
            types,
        } => match length(ctx, *source, siblings) {
            Some(bytes) => super::cmsgs::write_cmsgs(out, ctx, raw, bytes, *levels, *types),
            None => out.leaf(|out| write_ptr(out, raw)),
        },
        Ty::Sized { target, len } => match length(ctx, *len, siblings) {
            Some(bytes) => write_sized(out, ctx, target, raw, bytes),
            None => out.leaf(|out| write_ptr(out, raw)),
        },
        Ty::Array {
            elem,
            len: BufLen::Nul,
        } => write_terminated_at(out, ctx, elem, raw),
        Ty::Array { elem, len } => {
            let Some(count) = length(ctx, *len, siblings) else {
                return out.leaf(|out| write_ptr(out, raw));
            };
            write_array_at(out, ctx, elem, raw, count);
        }
        Ty::Struct { id } => match ctx.model.structs.get(*id as usize) {
            Some(def) => match read_aggregate(ctx, raw, def.size) {
                Some(bytes) => {
                    ctx.depth += 1;
                    ctx.base = Some(raw);
                    write_struct(out, ctx, def, &bytes);
                    ctx.depth -= 1;
                }
                None => unreadable(out, ctx, raw),
            },
            None => out.leaf(|out| write_ptr(out, raw)),
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
            None => out.leaf(|out| write_ptr(out, raw)),
        },
        _ => out.leaf(|out| write_scalar(out, ctx.model, ty, raw)),
    }
}

/// One structure or union of `len` bytes at `addr`, its fields past them
/// left out, as strace shows a socket address of a length: as its address
/// when too short for its first field (a union's tag).
fn write_sized<C: Cpu + ?Sized, O: Out>(
    out: &mut O,
    ctx: &mut Ctx<'_, C>,
    target: &Ty,
    addr: u64,
    len: u64,
) {
    let (least, size) = match target {
        Ty::Struct { id } => match ctx.model.structs.get(*id as usize) {
            Some(def) => {
                let first = def.fields.iter().find(|f| !f.is_padding());
                let least = first.map_or(0, |f| f.offset + ctx.model.type_size(&f.ty));
                (least, def.size)
            }
            None => return out.leaf(|out| write_ptr(out, addr)),
        },
        Ty::Union { id } => match ctx.model.unions.get(*id as usize) {
            Some(def) => {
                let tag_end = def.tag_offset + ctx.model.type_size(&def.tag_ty);
                let size = if len < tag_end {
                    0
                } else {
                    union_size(ctx, def, addr)
                };
                (tag_end, size)
            }
            None => return out.leaf(|out| write_ptr(out, addr)),
        },
        _ => return out.leaf(|out| write_ptr(out, addr)),
    };
    if len < least.max(1) {
        return out.leaf(|out| write_ptr(out, addr));
    }
    let shown = len.min(size);
    let Some(mut bytes) = read_aggregate(ctx, addr, shown) else {
        return unreadable(out, ctx, addr);
    };
    // Whole for the decoder, which shows no more than `cut` of it.
    bytes.resize(size as usize, 0);
    ctx.depth += 1;
    ctx.cut = Some(shown as usize);
    write_in_memory(out, ctx, target, &bytes, None);
    ctx.cut = None;
    ctx.depth -= 1;
}

pub(super) fn unreadable<C: Cpu + ?Sized, O: Out>(out: &mut O, ctx: &mut Ctx<'_, C>, raw: u64) {
    ctx.unreadable = true;
    out.leaf(|out| write_ptr(out, raw));
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

/// A field of 16 `inet6` bytes: the IPv6 address they hold.
fn ipv6_address(field: &osm_model::Field, bytes: &[u8]) -> Option<std::net::Ipv6Addr> {
    if field.count != Some(16)
        || !matches!(
            field.ty,
            Ty::Int {
                format: IntFormat::Ipv6,
                ..
            }
        )
    {
        return None;
    }
    let start = usize::try_from(field.offset).ok()?;
    let octets: [u8; 16] = bytes.get(start..start + 16)?.try_into().ok()?;
    Some(std::net::Ipv6Addr::from(octets))
}

/// `len` bytes at `addr` as a quoted string, at most strsize of them
/// (`hex`: every byte as `\xNN`).
fn write_bytes<C: Cpu + ?Sized, O: Out>(
    out: &mut O,
    ctx: &mut Ctx<'_, C>,
    addr: u64,
    len: u64,
    hex: bool,
) {
    let shown = usize::try_from(len)
        .unwrap_or(usize::MAX)
        .min(ctx.opts.limit());
    // Buffers are mostly shown at the default strsize (32): read those
    // into the stack, not a new allocation per call.
    let mut small = [0u8; SMALL_READ];
    let mut large = Vec::new();
    let buf = if shown <= SMALL_READ {
        &mut small[..shown]
    } else {
        large.resize(shown, 0);
        &mut large[..]
    };
    if ctx.cpu.read_mem(addr, buf) < shown {
        return unreadable(out, ctx, addr);
    }
    if hex {
        out.leaf(|out| quote_hex_into(out, buf));
    } else {
        out.leaf(|out| quote_into(out, buf));
    }
    if len > shown as u64 {
        out.push_str("...");
    }
}

/// A System V message: the C `long` mtype, then `len` bytes of text.
fn write_msgbuf<C: Cpu + ?Sized, O: Out>(out: &mut O, ctx: &mut Ctx<'_, C>, addr: u64, len: u64) {
    let word = usize::try_from(ctx.model.bits / 8).unwrap_or(8);
    let mut mtype = [0u8; 8];
    if ctx.cpu.read_mem(addr, &mut mtype[..word]) < word {
        return unreadable(out, ctx, addr);
    }
    let mtype = crate::cpu::value_from_target_bytes(&mtype[..word], ctx.model.endian);
    out.leaf(|out| {
        out.push_str("{mtype=");
        write_int(out, mtype, word as u8, true, IntFormat::Dec);
        out.push_str(", mtext=");
    });
    write_bytes(out, ctx, addr + word as u64, len, false);
    out.push('}');
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
        BufLen::RetUpTo(i) => Some(ctx.call.ret?.min(length(ctx, BufLen::Arg(i), siblings)?)),
        BufLen::Const(n) => Some(n),
        BufLen::At(i) => {
            let addr = ctx.call.args.get(i as usize).copied().flatten()?;
            let mut word = [0u8; 4];
            if ctx.cpu.read_mem(addr, &mut word) < word.len() {
                return None;
            }
            Some(crate::cpu::value_from_target_bytes(&word, ctx.model.endian))
        }
        BufLen::Pages { arg, size } => {
            let bytes = ctx.call.args.get(arg as usize).copied().flatten()?;
            Some(bytes.div_ceil(u64::from(size)))
        }
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
fn write_array_at<C: Cpu + ?Sized, O: Out>(
    out: &mut O,
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
fn write_terminated_at<C: Cpu + ?Sized, O: Out>(
    out: &mut O,
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
fn write_elements<C: Cpu + ?Sized, O: Out>(
    out: &mut O,
    ctx: &mut Ctx<'_, C>,
    elem: &Ty,
    bytes: &[u8],
    size: usize,
    count: u64,
) {
    if let Ty::Int {
        bytes: 1,
        format: format @ (IntFormat::Char | IntFormat::UnixPath),
        ..
    } = elem
    {
        // A string up to its first NUL, or an abstract socket name (a NUL,
        // then the name) as `@` and the name, as long as the address's
        // length says.
        let (text, complete) = match bytes {
            [0, name @ ..] if *format == IntFormat::UnixPath && !name.is_empty() => {
                out.push('@');
                (name, true)
            }
            _ => {
                let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
                (
                    &bytes[..end],
                    end < bytes.len() || bytes.len() as u64 >= count,
                )
            }
        };
        let limit = ctx.opts.limit();
        out.leaf(|out| quote_into(out, &text[..text.len().min(limit)]));
        if text.len() > limit || !complete {
            out.push_str("...");
        }
        return;
    }
    out.push('[');
    let mut shown = 0u64;
    let mut read = 0u64;
    for chunk in bytes.chunks_exact(size) {
        read += 1;
        if ctx.view == View::Returned && nothing_returned(ctx.model, elem, chunk) {
            continue;
        }
        if shown > 0 {
            out.push_str(", ");
        }
        write_in_memory(out, ctx, elem, chunk, None);
        shown += 1;
    }
    if read < count {
        if shown > 0 {
            out.push_str(", ");
        }
        out.push_str("...");
    }
    out.push(']');
}

/// Whether an element read after the return holds nothing the kernel
/// wrote: a structure with `output` fields, all zero (poll's `revents`).
fn nothing_returned(model: &Model, elem: &Ty, bytes: &[u8]) -> bool {
    let Ty::Struct { id } = elem else {
        return false;
    };
    let Some(def) = model.structs.get(*id as usize) else {
        return false;
    };
    let mut outputs = def.fields.iter().filter(|f| f.io == FieldIo::Output);
    outputs.clone().next().is_some()
        && outputs.all(|f| {
            usize::try_from(f.offset)
                .ok()
                .and_then(|at| read_int(model, &f.ty, bytes.get(at..)?))
                == Some(0)
        })
}

/// An integer of type `ty` stored at the start of `bytes`, zero-extended;
/// `None` if `bytes` is too short or `ty` is not integer-like.
fn read_int(model: &Model, ty: &Ty, bytes: &[u8]) -> Option<u64> {
    let (n, network) = match ty {
        Ty::Int { bytes, format, .. } => (*bytes, format.network_order()),
        Ty::Flags { bytes, .. } | Ty::Enum { bytes, .. } => (*bytes, false),
        Ty::Ptr
        | Ty::CStr
        | Ty::Path
        | Ty::Buf { .. }
        | Ty::HexBuf { .. }
        | Ty::WStr { .. }
        | Ty::FdSet { .. }
        | Ty::CpuSet { .. }
        | Ty::Dirents { .. }
        | Ty::MsgBuf { .. }
        | Ty::Array { .. }
        | Ty::Sized { .. }
        | Ty::Cmsgs { .. } => ((model.bits / 8) as u8, false),
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
fn write_in_memory<C: Cpu + ?Sized, O: Out>(
    out: &mut O,
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
                        out.leaf(|out| write_sigset(out, ctx.model, *names, value));
                    } else {
                        out.leaf(|out| write_wait_status(out, ctx.model, *names, value as u32));
                    }
                }
                None => out.push('?'),
            }
        }
        Ty::Int { format, .. } if format.network_order() => match read_int(ctx.model, ty, bytes) {
            // Already in host order: show it without converting again.
            Some(v) => {
                if let Ty::Int { bytes, signed, .. } = ty {
                    out.leaf(|out| write_int(out, v, *bytes, *signed, *format));
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
    let Some(cond) = &field.cond else {
        return true;
    };
    let value = |arg: u32| {
        let tested = def.fields.get(arg as usize)?;
        let at = usize::try_from(tested.offset).ok()?;
        read_int(model, &tested.ty, bytes.get(at..)?)
    };
    cond.holds(value, true)
}

/// `{name=value, ...}`: every field but padding, in order; fields marked
/// `verbose` only when asked, with a final `...` when some were left out.
fn write_struct<C: Cpu + ?Sized, O: Out>(
    out: &mut O,
    ctx: &mut Ctx<'_, C>,
    def: &StructDef,
    bytes: &[u8],
) {
    if let Some(name) = standing_alone(ctx.model, def, bytes) {
        return out.push_str(name);
    }
    out.push('{');
    let mut first = true;
    let mut left_out = false;
    let siblings = Siblings { def, bytes };
    let cut = ctx.cut.take().unwrap_or(bytes.len()).min(bytes.len());
    let base = ctx.base.take();
    // A structure that says how many bytes the kernel wrote into the
    // buffers it points to (recvmmsg's msg_len) shares out those, not the
    // return value's; only once the call has returned.
    let outer = def
        .fields
        .iter()
        .find(|f| f.written)
        .filter(|_| ctx.view != View::Entry)
        .and_then(|f| {
            read_int(
                ctx.model,
                &f.ty,
                bytes.get(usize::try_from(f.offset).ok()?..)?,
            )
        })
        .map(|written| ctx.budget.replace(written));
    for field in &def.fields {
        if field.is_padding()
            || !ctx.view.shows(field.io)
            || !field_shown(ctx.model, def, field, bytes)
            || !within(ctx.model, field, cut)
        {
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
        if field.flat
            && let Ty::Struct { id } = field.ty
            && let Some(inner) = ctx.model.structs.get(id as usize)
            && let Some(at) = usize::try_from(field.offset)
                .ok()
                .and_then(|o| bytes.get(o..))
        {
            // The embedded structure's fields, in place of its own.
            let mut text = String::new();
            write_struct(&mut text, ctx, inner, at);
            let fields = text.strip_prefix('{').and_then(|t| t.strip_suffix('}'));
            out.push_str(fields.unwrap_or(&text));
            continue;
        }
        if let Some(addr) = ipv6_address(field, bytes) {
            out.leaf(|out| {
                let _ = std::fmt::Write::write_fmt(
                    out,
                    format_args!("inet_pton(AF_INET6, \"{addr}\", &{})", field.name),
                );
            });
            continue;
        }
        out.push_str(&field.name);
        out.push('=');
        // A field the kernel only reads is as the call gave it: the return
        // value's bytes are not shared out to its buffers (sendmmsg's
        // messages, whose return is a count).
        let held = (field.io == FieldIo::Input).then(|| ctx.budget.take());
        write_field_value(out, ctx, field, bytes, cut, base, siblings);
        if let Some(budget) = held {
            ctx.budget = budget;
        }
    }
    if let Some(budget) = outer {
        ctx.budget = budget;
    }
    if left_out {
        if !first {
            out.push_str(", ");
        }
        out.push_str("...");
    }
    out.push('}');
    if def.dated {
        let field = |i: usize| {
            let f = def.fields.get(i)?;
            let raw = read_int(
                ctx.model,
                &f.ty,
                bytes.get(usize::try_from(f.offset).ok()?..)?,
            )?;
            Some(sign_extend(raw, width(ctx.model.type_size(&f.ty) as u8)) as i64)
        };
        if let (Some(seconds), Some(nanos)) = (field(0), field(1)) {
            out.leaf(|out| write_date_comment(out, seconds, nanos));
        }
    }
}

/// Whether `field` lies in a structure's first `cut` bytes: all of it, or
/// for an inline array its first element.
fn within(model: &Model, field: &osm_model::Field, cut: usize) -> bool {
    let size = if field.trailing {
        0
    } else {
        model.type_size(&field.ty)
    };
    // A value in two halves ends where its later half does.
    let end = match field.high {
        Some(high) => high.max(field.offset) + size / 2,
        None => field.offset + size,
    };
    match field.count {
        Some(_) => field.offset + size <= cut as u64,
        None => end <= cut as u64,
    }
}

/// A field's value, after its `name=`: from `bytes` (its structure's,
/// shown up to `cut`), or for a trailing field from memory after the
/// structure at `base`.
fn write_field_value<C: Cpu + ?Sized, O: Out>(
    out: &mut O,
    ctx: &mut Ctx<'_, C>,
    field: &osm_model::Field,
    bytes: &[u8],
    cut: usize,
    base: Option<u64>,
    siblings: Siblings<'_>,
) {
    if field.trailing {
        write_trailing(out, ctx, field, base, siblings);
        return;
    }
    let mut joined = [0u8; 8];
    let field_bytes = match field.high {
        Some(high) => join_halves(ctx.model, field, high, bytes, &mut joined),
        None => usize::try_from(field.offset)
            .ok()
            .and_then(|start| bytes.get(start..)),
    };
    let Some(field_bytes) = field_bytes else {
        out.push('?');
        return;
    };
    match field.count {
        Some(count) => {
            let size = ctx.model.type_size(&field.ty).max(1) as usize;
            // An inline array past the structure's cut has the
            // elements before it.
            let field_bytes = &field_bytes[..cut.saturating_sub(field.offset as usize)];
            let count = count.min((field_bytes.len() / size) as u64);
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
                    format: IntFormat::Char | IntFormat::UnixPath,
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

/// A `trailing` buffer: the bytes at its offset from the structure's start
/// in guest memory, whatever the return value says of pointed-to buffers.
fn write_trailing<C: Cpu + ?Sized, O: Out>(
    out: &mut O,
    ctx: &mut Ctx<'_, C>,
    field: &osm_model::Field,
    base: Option<u64>,
    siblings: Siblings<'_>,
) {
    let Some(addr) = base.and_then(|b| b.checked_add(field.offset)) else {
        return out.push('?');
    };
    let budget = ctx.budget.take();
    write_value(out, ctx, &field.ty, addr, Some(siblings));
    ctx.budget = budget;
}

/// A value split in two halves (`at (LOW, HIGH)`) joined in `joined` in the
/// guest's byte order, its low half at the field's offset.
fn join_halves<'j>(
    model: &Model,
    field: &osm_model::Field,
    high: u64,
    bytes: &[u8],
    joined: &'j mut [u8; 8],
) -> Option<&'j [u8]> {
    let size = usize::try_from(model.type_size(&field.ty))
        .ok()
        .filter(|&s| s <= joined.len())?;
    let half = size / 2;
    let part = |at: u64| {
        let at = usize::try_from(at).ok()?;
        bytes.get(at..at.checked_add(half)?)
    };
    let (low, high) = (part(field.offset)?, part(high)?);
    let (first, second) = match model.endian {
        Endian::Little => (low, high),
        Endian::Big => (high, low),
    };
    joined[..half].copy_from_slice(first);
    joined[half..size].copy_from_slice(second);
    Some(&joined[..size])
}

/// The name of an `alone` field's value, which stands for the whole
/// structure (utimensat's `UTIME_NOW`).
fn standing_alone<'m>(model: &'m Model, def: &StructDef, bytes: &[u8]) -> Option<&'m str> {
    def.fields.iter().filter(|f| f.alone).find_map(|f| {
        let Ty::Enum {
            set,
            bytes: n,
            signed,
        } = f.ty
        else {
            return None;
        };
        let raw = read_int(model, &f.ty, bytes.get(usize::try_from(f.offset).ok()?..)?)?;
        let value = enum_value(raw, n, signed);
        let members = &model.enums.get(set as usize)?.members;
        members
            .iter()
            .find(|m| m.value == value)
            .map(|m| m.name.as_str())
    })
}

/// The case the tag selects, or `{tag=VALUE, ...}` for a tag no case names.
fn write_union<C: Cpu + ?Sized, O: Out>(
    out: &mut O,
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
            out.leaf(|out| write_scalar(out, ctx.model, &def.tag_ty, raw));
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
        // A `flat` structure's fields, each on its own.
        if field.flat
            && let Ty::Struct { id } = field.ty
            && let Some(inner) = model.structs.get(id as usize)
        {
            let base = bytes.get(usize::try_from(field.offset).ok()?..)?;
            for f in inner
                .fields
                .iter()
                .filter(|f| !f.is_padding() && f.count.is_none())
            {
                let at = base.get(usize::try_from(f.offset).ok()?..)?;
                let mut text = String::new();
                write_in_memory(&mut text, &mut ctx, &f.ty, at, None);
                fields.push(Arg {
                    name: f.name.as_str().into(),
                    type_name: f.type_name.as_str().into(),
                    raw: read_int(model, &f.ty, at),
                    text,
                    ..Arg::default()
                });
            }
            continue;
        }
        let mut joined = [0u8; 8];
        let at = match field.high {
            Some(high) => join_halves(model, field, high, &bytes, &mut joined)?,
            None => bytes.get(usize::try_from(field.offset).ok()?..)?,
        };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::SnapshotCpu;
    use crate::decode::fixtures::{TYPES, call, entry_texts, exit_texts, le};
    use crate::decode::{DEFAULT_STRING_LIMIT, decode_entry_args, decode_exit_args};
    use crate::testutil::{compile, model};

    /// select's sets: bit N of word N / 64, as many descriptors as the
    /// length says, read in whole words.
    #[test]
    fn descriptor_sets() {
        let m = model();
        let mut cpu = SnapshotCpu::new();
        let words: Vec<u8> = [0x30u64, 1 << 6]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        cpu.map(0x1000, words);
        let opts = DecodeOptions::default();
        let set = |n: u64| -> String {
            let raw = [Some(n)];
            let call = CallValues {
                args: &raw,
                ret: None,
            };
            let ty = Ty::FdSet {
                len: BufLen::Arg(0),
            };
            decode_value(&m, &ty, 0x1000, &call, &cpu, &opts)
        };
        assert_eq!(set(5), "[4]");
        assert_eq!(set(6), "[4 5]");
        assert_eq!(set(71), "[4 5 70]");
        assert_eq!(set(0), "[]");
        // Past what the guest mapped: the address.
        assert_eq!(set(200), "0x1000");
        // A CPU set's length counts bytes.
        let cpus = |n: u64| -> String {
            let raw = [Some(n)];
            let call = CallValues {
                args: &raw,
                ret: None,
            };
            let ty = Ty::CpuSet {
                len: BufLen::Arg(0),
            };
            decode_value(&m, &ty, 0x1000, &call, &cpu, &opts)
        };
        assert_eq!(cpus(8), "[4 5]");
        assert_eq!(cpus(16), "[4 5 70]");
        assert_eq!(cpus(32), "0x1000");
    }

    /// utimensat's times as strace shows them: dates in comments (before
    /// the epoch too, nanoseconds only when not 0, none when out of range)
    /// and the special values alone.
    #[test]
    fn dated_structures_and_values_that_stand_alone() {
        let m = compile("x86_64", TYPES);
        let time = |sec: i64, nsec: i64| [sec.to_le_bytes(), nsec.to_le_bytes()].concat();
        let mut cpu = SnapshotCpu::new();
        cpu.map(0x1000, [time(1000000001, 500), time(-1, 0)].concat());
        cpu.map(
            0x2000,
            [time(0, 0x3fffffff), time(1, 1_000_000_000)].concat(),
        );
        let texts = |addr| entry_texts(&m, 15, &[0, 0, addr, 0], &cpu)[2].clone();
        assert_eq!(
            texts(0x1000),
            "[{tv_sec=1000000001, tv_nsec=500} /* 2001-09-09T01:46:41.000000500+0000 */, \
             {tv_sec=-1, tv_nsec=0} /* 1969-12-31T23:59:59+0000 */]"
        );
        assert_eq!(texts(0x2000), "[UTIME_NOW, {tv_sec=1, tv_nsec=1000000000}]");
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
        // The return value (4), at most argument 1 (3) or 0 (11).
        let upto = |i| Ty::Buf {
            len: BufLen::RetUpTo(i),
        };
        assert_eq!(d(&upto(1), 0x1000), r#""hel""#);
        assert_eq!(d(&upto(0), 0x1000), r#""hell""#);
        let hex = |len| Ty::HexBuf { len };
        assert_eq!(d(&hex(BufLen::Ret), 0x1000), r#""\x68\x65\x6c\x6c""#);
        assert_eq!(
            d(&hex(BufLen::Arg(0)), 0x1000),
            r#""\x68\x65\x6c\x6c\x6f"..."#
        );
        assert_eq!(d(&hex(BufLen::Arg(1)), 0x100a), "0x100a");
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

    /// IPv6 socket addresses, abstract Unix names and netlink groups as
    /// strace shows them.
    #[test]
    fn socket_addresses_of_other_families() {
        let m = compile(
            "x86_64",
            "enum af16 : u16 { AF_UNIX = 1, AF_INET6 = 10, AF_NETLINK = 16 }\n\
             struct un { af16 sa_family; unix_path sun_path[108]; }\n\
             struct in6 { af16 sa_family; inet_port sin6_port; inet_long sin6_flowinfo; \
             inet6 sin6_addr[16]; u32 sin6_scope_id; }\n\
             struct nl { af16 sa_family; u16 _; u32 nl_pid; hex32z nl_groups; }\n\
             union sa(sa_family) { AF_UNIX = un, AF_INET6 = in6, AF_NETLINK = nl }\n\
             table t { 0 bind(i32 fd, in sa(len) addr, u32 len) -> i64; }",
        );
        let mut cpu = SnapshotCpu::new();
        let mut six = vec![10, 0, 0x1f, 0x90, 0, 0, 0, 0];
        six.extend(std::net::Ipv6Addr::LOCALHOST.octets());
        six.extend([0; 4]);
        cpu.map(0x1000, six);
        cpu.map(0x2000, [&[1u8, 0, 0][..], b"name\0\0"].concat());
        cpu.map(0x3000, vec![16, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
        let addr = |at, len| entry_texts(&m, 0, &[3, at, len], &cpu)[1].clone();
        assert_eq!(
            addr(0x1000, 28),
            "{sa_family=AF_INET6, sin6_port=htons(8080), sin6_flowinfo=htonl(0), \
             inet_pton(AF_INET6, \"::1\", &sin6_addr), sin6_scope_id=0}"
        );
        assert_eq!(addr(0x2000, 7), r#"{sa_family=AF_UNIX, sun_path=@"name"}"#);
        assert_eq!(
            addr(0x2000, 9),
            r#"{sa_family=AF_UNIX, sun_path=@"name\0\0"}"#
        );
        assert_eq!(
            addr(0x3000, 12),
            "{sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000001}"
        );
    }

    #[test]
    fn messages_and_page_vectors() {
        let m = model();
        let mut cpu = SnapshotCpu::new();
        cpu.map(0x1000, [&5i64.to_le_bytes()[..], b"message\0"].concat());
        cpu.map(0x2000, vec![1, 0, 1, 0, 1]);
        let opts = DecodeOptions::default();
        let raw = [Some(8), Some(16384), Some(16385), Some(0)];
        let call = CallValues {
            args: &raw,
            ret: Some(3),
        };
        let d = |ty: &Ty, v: u64| decode_value(&m, ty, v, &call, &cpu, &opts);
        let msg = |len| Ty::MsgBuf { len };
        assert_eq!(
            d(&msg(BufLen::Arg(0)), 0x1000),
            r#"{mtype=5, mtext="message\0"}"#
        );
        assert_eq!(d(&msg(BufLen::Ret), 0x1000), r#"{mtype=5, mtext="mes"}"#);
        // The text unreadable: its address, inside the message.
        assert_eq!(d(&msg(BufLen::Arg(1)), 0x1000), "{mtype=5, mtext=0x1008}");
        assert_eq!(d(&msg(BufLen::Arg(0)), 0x5000), "0x5000");
        let pages = |arg| Ty::Array {
            elem: Box::new(Ty::Int {
                bytes: 1,
                signed: false,
                format: IntFormat::Dec,
            }),
            len: BufLen::Pages { arg, size: 4096 },
        };
        assert_eq!(d(&pages(1), 0x2000), "[1, 0, 1, 0]");
        assert_eq!(d(&pages(2), 0x2000), "[1, 0, 1, 0, 1]");
        assert_eq!(d(&pages(3), 0x2000), "[]");
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

    /// sendmmsg: the kernel only reads each message (an `input` field) and
    /// writes the length it sent; the return is a count of messages, not
    /// of bytes, and does not cut what the messages held.
    #[test]
    fn an_input_fields_buffers_are_not_cut_by_the_return() {
        let m = compile("x86_64", TYPES);
        let mut cpu = SnapshotCpu::new();
        let mut msgs = le(0x2000, 8);
        msgs.extend(le(3, 8));
        msgs.extend(le(3, 4));
        msgs.extend(le(0, 4));
        cpu.map(0x1000, msgs);
        cpu.map(0x2000, b"one".to_vec());
        let entry = "[{vec={iov_base=\"one\", iov_len=3}}]";
        assert_eq!(entry_texts(&m, 16, &[4, 0x1000, 1], &cpu)[1], entry);
        assert_eq!(
            exit_texts(&m, 16, &[4, 0x1000, 1], Some(1), &cpu)[1],
            "[{vec={iov_base=\"one\", iov_len=3}, sent_len=3}]"
        );
    }

    /// recvmmsg: each message's buffers hold as many bytes as its own
    /// length field says the kernel wrote, not the return value (a count).
    #[test]
    fn a_written_field_shares_out_its_own_structures_bytes() {
        let m = compile("x86_64", TYPES);
        let mut cpu = SnapshotCpu::new();
        let mut msgs = Vec::new();
        for (base, got) in [(0x2000u64, 3u64), (0x3000, 2)] {
            msgs.extend(le(base, 8));
            msgs.extend(le(16, 8));
            msgs.extend(le(got, 4));
            msgs.extend(le(0, 4));
        }
        cpu.map(0x1000, msgs);
        cpu.map(0x2000, b"one and more".to_vec());
        cpu.map(0x3000, b"two and more".to_vec());
        assert_eq!(
            exit_texts(&m, 17, &[4, 0x1000, 2], Some(2), &cpu)[1],
            "[{vec={iov_base=\"one\", iov_len=16}, got_len=3}, \
             {vec={iov_base=\"tw\", iov_len=16}, got_len=2}]"
        );
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
