//! C layout of structures and unions on the model's architecture: sizes,
//! alignments and field offsets, and the embedding cycles that have none.

use super::Checker;
use super::aggregates::{MAX_AGGREGATE_BYTES, is_trailing};
use super::did_you_mean::suggest;
use crate::arch;
use crate::diag::{Diagnostic, ErrorCode};
use crate::files::Span;
use crate::model::{self, Ty};
use crate::syntax::ast;

/// A structure or union, for layout and cycle detection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Aggregate {
    Struct(u32),
    Union(u32),
}

/// Field types of a structure before layout.
pub(super) struct ResolvedStruct<'a> {
    pub(super) decl: &'a ast::StructDecl,
    /// Per field: its type and inline count, or `None` if it failed.
    pub(super) fields: Vec<Option<(Ty, Option<u64>)>>,
}

/// What laying out structures needs besides the checker.
pub(super) struct Layouts<'a> {
    pub(super) structs: Vec<ResolvedStruct<'a>>,
    pub(super) unions: Vec<(&'a ast::UnionDecl, Option<Vec<u32>>)>,
    /// Memoised (size, align); `None` inside while being computed.
    pub(super) struct_layout: Vec<Option<Option<(u64, u64)>>>,
    pub(super) union_layout: Vec<Option<Option<(u64, u64)>>>,
    /// Field offsets computed with each struct's layout.
    pub(super) offsets: Vec<Vec<u64>>,
    pub(super) visiting: Vec<Aggregate>,
}

impl<'a> Checker<'a> {
    pub(super) fn aggregate_layout(
        &mut self,
        node: Aggregate,
        l: &mut Layouts<'a>,
    ) -> Option<(u64, u64)> {
        let memo = match node {
            Aggregate::Struct(i) => l.struct_layout[i as usize],
            Aggregate::Union(i) => l.union_layout[i as usize],
        };
        if let Some(done) = memo {
            return done;
        }
        if let Some(pos) = l.visiting.iter().position(|n| *n == node) {
            let name_of = |n: &Aggregate| match n {
                Aggregate::Struct(i) => l.structs[*i as usize].decl.name.node.clone(),
                Aggregate::Union(i) => l.unions[*i as usize].0.name.node.clone(),
            };
            let mut chain: Vec<String> = l.visiting[pos..].iter().map(name_of).collect();
            chain.push(name_of(&node));
            let span = match node {
                Aggregate::Struct(i) => l.structs[i as usize].decl.name.span,
                Aggregate::Union(i) => l.unions[i as usize].0.name.span,
            };
            self.err(
                Diagnostic::new(
                    ErrorCode::TypeCycle,
                    format!("`{}` contains itself", chain[0]),
                )
                .label(span, "embedded in itself, so it would be infinitely large")
                .note(format!("cycle: {}", chain.join(" -> ")))
                .note("point to it instead: a `ptr` field"),
            );
            return None;
        }
        l.visiting.push(node);
        let result = match node {
            Aggregate::Struct(i) => self.struct_layout(i as usize, l),
            Aggregate::Union(i) => {
                let targets = l.unions[i as usize].1.clone();
                targets.and_then(|targets| {
                    let mut size = 0;
                    let mut align = 1;
                    let mut ok = true;
                    for id in targets {
                        match self.aggregate_layout(Aggregate::Struct(id), l) {
                            Some((s, a)) => {
                                size = size.max(s);
                                align = align.max(a);
                            }
                            None => ok = false,
                        }
                    }
                    ok.then_some((size, align))
                })
            }
        };
        l.visiting.pop();
        match node {
            Aggregate::Struct(i) => l.struct_layout[i as usize] = Some(result),
            Aggregate::Union(i) => l.union_layout[i as usize] = Some(result),
        }
        result
    }

    /// C layout: each field at the next multiple of its alignment after the
    /// field declared before it, or where `at` puts it; the size is the
    /// furthest end rounded up to the largest alignment. Fields may not
    /// overlap. A `packed` structure aligns nothing (x86_64's
    /// epoll_event); an `overlaid` one puts every field at 0, as a C union
    /// whose members are all shown (epoll_data).
    fn struct_layout(&mut self, i: usize, l: &mut Layouts<'a>) -> Option<(u64, u64)> {
        let fields = l.structs[i].fields.clone();
        let decl = l.structs[i].decl;
        let (mut packed, mut overlaid) = (false, false);
        for attr in &decl.attrs {
            match attr.node.as_str() {
                "packed" => packed = true,
                "overlaid" => overlaid = true,
                // Not a layout's: how it prints (aggregates.rs).
                "dated" => {}
                other => {
                    let diag = Diagnostic::new(
                        ErrorCode::BadAttribute,
                        format!("unknown structure attribute `{other}`"),
                    )
                    .label(attr.span, "unknown attribute");
                    self.err(
                        suggest(diag, other, ["packed", "overlaid", "dated"].into_iter())
                            .note("expected `packed`, `overlaid` or `dated`"),
                    );
                    return None;
                }
            }
        }
        let mut end = 0u64;
        let mut furthest = 0u64;
        // Each field's bytes, and whether it is `input`.
        let mut taken: Vec<(u64, u64, Span, bool)> = Vec::new();
        let mut align = 1u64;
        let mut offsets = Vec::with_capacity(fields.len());
        let mut ok = !decl.fields.is_empty();
        for (field, decl_field) in fields.iter().zip(&decl.fields) {
            let Some((ty, count)) = field else {
                ok = false;
                offsets.push(0);
                continue;
            };
            let Some((size, field_align)) = self.type_layout(ty, l) else {
                ok = false;
                offsets.push(0);
                continue;
            };
            let field_align = if packed { 1 } else { field_align };
            if is_trailing(decl_field) {
                // Bytes after the structure's end: they take no room in it.
                let last = std::ptr::eq(decl_field, decl.fields.last().unwrap_or(decl_field));
                let buffer = matches!(ty, Ty::Buf { .. } | Ty::HexBuf { .. });
                if !last || !buffer || count.is_some() || decl_field.at.is_some() || overlaid {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::BadAttribute,
                            format!(
                                "`trailing` field `{}` is not a buffer after all the others",
                                decl_field.name.node
                            ),
                        )
                        .label(decl_field.span, "this field")
                        .note(
                            "a `trailing` field is a `buf[LEN]` or `hexbuf[LEN]` declared \
                             last, with no `at`, in a structure that is not `overlaid`",
                        ),
                    );
                    ok = false;
                }
                offsets.push(end);
                continue;
            }
            if decl_field.high.is_some() {
                match self.split_field(ty, (*count, size, packed), decl_field, &mut taken) {
                    Some((offset, stop, half)) => {
                        offsets.push(offset);
                        furthest = furthest.max(stop);
                        align = align.max(if packed { 1 } else { half });
                    }
                    None => {
                        ok = false;
                        offsets.push(0);
                    }
                }
                continue;
            }
            let offset = match &decl_field.at {
                Some(at) if at.node % field_align != 0 => {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::BadStruct,
                            format!(
                                "field `{}` at {} is not aligned to {field_align}",
                                decl_field.name.node, at.node
                            ),
                        )
                        .label(at.span, "misaligned"),
                    );
                    ok = false;
                    at.node
                }
                Some(at) => at.node,
                None if overlaid => 0,
                None => align_up(end, field_align),
            };
            offsets.push(offset);
            end = offset.saturating_add(size.saturating_mul(count.unwrap_or(1)));
            // A `hidden` field is another view of bytes, which may be
            // shown as well (a value read to test whether to show it).
            let hidden = decl_field.attrs.iter().any(|a| a.node == "hidden");
            // An `output` field may be the bytes of an `input` one before
            // it, as the kernel writes them back.
            let io = decl_field.io();
            if let Some(&(_, _, other, _)) = taken
                .iter()
                .find(|&&(start, stop, _, input)| {
                    offset < stop && start < end && !(input && io == Some("output"))
                })
                .filter(|_| !overlaid && !hidden)
            {
                self.err(
                    Diagnostic::new(
                        ErrorCode::BadStruct,
                        format!("field `{}` overlaps another", decl_field.name.node),
                    )
                    .label(decl_field.span, "this field")
                    .label(other, "overlaps this one"),
                );
                ok = false;
            }
            if !hidden {
                taken.push((offset, end, decl_field.span, io == Some("input")));
            }
            furthest = furthest.max(end);
            align = align.max(field_align);
            if end > MAX_AGGREGATE_BYTES {
                self.err(
                    Diagnostic::new(
                        ErrorCode::BadStruct,
                        format!(
                            "struct `{}` is larger than {MAX_AGGREGATE_BYTES} bytes",
                            decl.name.node
                        ),
                    )
                    .label(decl_field.span, "reaches past the limit here"),
                );
                ok = false;
                break;
            }
        }
        l.offsets[i] = offsets;
        ok.then(|| (align_up(furthest, align), align))
    }

    /// `at (LOW, HIGH)`: an integer, flags, enum or sigset of 2, 4 or 8 bytes whose
    /// halves are at LOW and HIGH (aligned unless `packed`), neither
    /// overlapping another field. The low half's offset, where the
    /// furthest half ends, and a half's size.
    fn split_field(
        &mut self,
        ty: &Ty,
        (count, size, packed): (Option<u64>, u64, bool),
        decl: &ast::FieldDecl,
        taken: &mut Vec<(u64, u64, Span, bool)>,
    ) -> Option<(u64, u64, u64)> {
        let (low, high) = (decl.at.as_ref()?, decl.high.as_ref()?);
        let scalar = matches!(
            ty,
            Ty::Int { .. } | Ty::Flags { .. } | Ty::Enum { .. } | Ty::SigSet { .. }
        );
        if !scalar || count.is_some() || !matches!(size, 2 | 4 | 8) {
            self.err(
                Diagnostic::new(
                    ErrorCode::BadStruct,
                    format!(
                        "field `{}` is split in two halves, but is not one integer, flags, \
                         enum or sigset of 2, 4 or 8 bytes",
                        decl.name.node
                    ),
                )
                .label(decl.ty.span, "this type"),
            );
            return None;
        }
        let half = size / 2;
        let mut stop = 0;
        for at in [low, high] {
            if !packed && at.node % half != 0 {
                self.err(
                    Diagnostic::new(
                        ErrorCode::BadStruct,
                        format!(
                            "half of field `{}` at {} is not aligned to {half}",
                            decl.name.node, at.node
                        ),
                    )
                    .label(at.span, "misaligned"),
                );
                return None;
            }
            let end = at.node.saturating_add(half);
            if let Some(&(_, _, other, _)) =
                taken.iter().find(|&&(s, e, _, _)| at.node < e && s < end)
            {
                self.err(
                    Diagnostic::new(
                        ErrorCode::BadStruct,
                        format!("field `{}` overlaps another", decl.name.node),
                    )
                    .label(at.span, "this half")
                    .label(other, "overlaps this one"),
                );
                return None;
            }
            taken.push((at.node, end, at.span, false));
            stop = stop.max(end);
        }
        Some((low.node, stop, half))
    }

    /// Size and alignment of a field of type `ty` on this architecture.
    fn type_layout(&mut self, ty: &Ty, l: &mut Layouts<'a>) -> Option<(u64, u64)> {
        let word = u64::from(self.bits / 8);
        match ty {
            Ty::Int { bytes, .. } | Ty::Flags { bytes, .. } | Ty::Enum { bytes, .. } => {
                let bytes = u64::from(*bytes);
                // The i386 SysV ABI aligns 8-byte integers in structures
                // to 4; every other supported ABI aligns them naturally.
                let align = match self.arch.map(|a| a.arch) {
                    Some(arch::Arch::I386) => bytes.min(4),
                    _ => bytes,
                };
                Some((bytes, align))
            }
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
            | Ty::Cmsgs { .. } => Some((word, word)),
            Ty::Struct { id } => self.aggregate_layout(Aggregate::Struct(*id), l),
            Ty::Union { id } => self.aggregate_layout(Aggregate::Union(*id), l),
            // An array of unsigned longs.
            Ty::SigSet { .. } => Some((model::SIGSET_BYTES, word)),
            Ty::WaitStatus { .. } => Some((4, 4)),
            Ty::Void => None,
        }
    }
}

fn align_up(value: u64, align: u64) -> u64 {
    value.div_ceil(align.max(1)) * align.max(1)
}
