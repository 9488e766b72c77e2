//! The structures and unions pass: field types, lengths and conditions,
//! layout on the model's architecture, and the tags that choose a union's
//! case.

use super::Checker;
use super::did_you_mean::suggest;
use super::layout::{Aggregate, Layouts, ResolvedStruct};
use super::report::quoted_list;
use super::resolve::BaseTy;
use super::types::{TypeDef, Types};
use crate::diag::{Diagnostic, ErrorCode};
use crate::files::Span;
use crate::model::{self, BufLen, Ty};
use crate::syntax::ast;
use std::collections::BTreeMap;

/// Attributes a structure field may have.
const FIELD_ATTRIBUTES: &[&str] = &[
    "verbose", "input", "output", "alone", "updated", "trailing", "flat", "hidden", "written",
];

/// An inline array or a structure beyond this size is certainly a mistake,
/// and keeps layout arithmetic far from overflow.
pub(super) const MAX_AGGREGATE_BYTES: u64 = 1 << 20;

impl<'a> Checker<'a> {
    /// Checks structures and unions: field types and lengths, layout for
    /// the model's architecture, embedding cycles, union tags.
    pub(super) fn check_aggregates(
        &mut self,
        struct_blocks: &[&'a ast::StructDecl],
        union_blocks: &[&'a ast::UnionDecl],
        types: &mut Types<'a>,
    ) {
        let mut layouts = Layouts {
            structs: Vec::new(),
            unions: Vec::new(),
            struct_layout: vec![None; struct_blocks.len()],
            union_layout: vec![None; union_blocks.len()],
            offsets: vec![Vec::new(); struct_blocks.len()],
            visiting: Vec::new(),
        };
        for decl in struct_blocks {
            let fields = self.resolve_fields(decl, types);
            layouts.structs.push(ResolvedStruct { decl, fields });
        }
        for decl in union_blocks {
            let targets = self.resolve_union_targets(decl, types);
            layouts.unions.push((decl, targets));
        }
        for i in 0..struct_blocks.len() {
            self.aggregate_layout(Aggregate::Struct(i as u32), &mut layouts);
        }
        for i in 0..union_blocks.len() {
            self.aggregate_layout(Aggregate::Union(i as u32), &mut layouts);
        }
        // `if FIELD & MASK`: shown only when another field has those bits.
        let conds: Vec<Vec<Option<model::ArgCond>>> = struct_blocks
            .iter()
            .map(|decl| {
                let siblings: Vec<(&str, &ast::TypeRef)> = decl
                    .fields
                    .iter()
                    .map(|f| (f.name.node.as_str(), &f.ty))
                    .collect();
                let owner = format!("struct `{}`", decl.name.node);
                decl.fields
                    .iter()
                    .map(|f| {
                        f.cond.as_ref().and_then(|cond| {
                            self.cond_on(cond, &siblings, &f.name.node, ("field", &owner), types)
                        })
                    })
                    .collect()
            })
            .collect();
        types.structs = layouts
            .structs
            .iter()
            .enumerate()
            .map(|(i, resolved)| {
                let (size, align) = layouts.struct_layout[i].flatten()?;
                let fields = resolved
                    .decl
                    .fields
                    .iter()
                    .zip(&resolved.fields)
                    .zip(&layouts.offsets[i])
                    .zip(&conds[i])
                    .map(|(((decl, field), offset), cond)| {
                        let (ty, count) = field.clone()?;
                        Some(model::Field {
                            name: decl.name.node.clone(),
                            offset: *offset,
                            ty,
                            type_name: decl.ty.name.node.clone(),
                            count,
                            verbose: decl.attrs.iter().any(|a| a.node == "verbose"),
                            cond: cond.clone(),
                            io: field_io(decl),
                            alone: decl.attrs.iter().any(|a| a.node == "alone"),
                            high: decl.high.as_ref().map(|h| h.node),
                            updated: decl.attrs.iter().any(|a| a.node == "updated"),
                            trailing: is_trailing(decl),
                            flat: decl.attrs.iter().any(|a| a.node == "flat"),
                            written: decl.attrs.iter().any(|a| a.node == "written"),
                        })
                    })
                    .collect::<Option<Vec<_>>>()?;
                Some(model::StructDef {
                    name: resolved.decl.name.node.clone(),
                    size,
                    align,
                    fields,
                    dated: resolved.decl.attrs.iter().any(|a| a.node == "dated"),
                })
            })
            .collect();
        for (decl, def) in struct_blocks.iter().zip(&types.structs) {
            if let Some(def) = def {
                self.check_printing(decl, def);
            }
        }
        let unions: Vec<Option<model::UnionDef>> = layouts
            .unions
            .iter()
            .enumerate()
            .map(|(i, (decl, targets))| {
                let layout = layouts.union_layout[i].flatten()?;
                self.check_union(decl, targets.as_deref()?, layout, types)
            })
            .collect();
        types.unions = unions;
        // A `hidden` field is read (a union's tag, another field's
        // condition, both resolved by now) but never shown, as `_` is not.
        for (decl, def) in struct_blocks.iter().zip(types.structs.iter_mut()) {
            let Some(def) = def else { continue };
            for (field_decl, field) in decl.fields.iter().zip(def.fields.iter_mut()) {
                if field_decl.attrs.iter().any(|a| a.node == "hidden") {
                    field.name = "_".to_string();
                }
            }
        }
    }

    /// `alone` is for enum fields, `dated` for a structure that starts with
    /// seconds and nanoseconds.
    fn check_printing(&mut self, decl: &ast::StructDecl, def: &model::StructDef) {
        for (field, ast_field) in def.fields.iter().zip(&decl.fields) {
            if field.alone && !matches!(field.ty, Ty::Enum { .. }) {
                let span = ast_field
                    .attrs
                    .iter()
                    .find(|a| a.node == "alone")
                    .map_or(ast_field.span, |a| a.span);
                self.err(
                    Diagnostic::new(ErrorCode::BadAttribute, format!("field `{}` cannot be `alone`", field.name))
                        .label(span, "not an enum")
                        .note("an `alone` field's named values stand for the whole structure: `UTIME_NOW`"),
                );
            }
        }
        let integer = |f: Option<&model::Field>| {
            f.is_some_and(|f| f.count.is_none() && matches!(f.ty, Ty::Int { .. } | Ty::Enum { .. }))
        };
        if def.dated && !(integer(def.fields.first()) && integer(def.fields.get(1))) {
            let span = decl
                .attrs
                .iter()
                .find(|a| a.node == "dated")
                .map_or(decl.span, |a| a.span);
            self.err(
                Diagnostic::new(
                    ErrorCode::BadAttribute,
                    format!("struct `{}` cannot be `dated`", def.name),
                )
                .label(span, "its first two fields are not integers")
                .note("a `dated` structure starts with seconds since the epoch and nanoseconds"),
            );
        }
    }

    fn resolve_fields(
        &mut self,
        decl: &'a ast::StructDecl,
        types: &Types<'a>,
    ) -> Vec<Option<(Ty, Option<u64>)>> {
        let mut seen: BTreeMap<&str, (Span, Option<&str>)> = BTreeMap::new();
        for field in &decl.fields {
            // Padding may repeat: every `_` is its own unnamed field.
            if field.name.node == "_" {
                continue;
            }
            match seen.get(field.name.node.as_str()) {
                // One field as the kernel reads it and as it writes it back.
                Some(&(_, Some("input"))) if field.io() == Some("output") => {}
                Some(&(first, _)) => self.duplicate("field", &field.name, first),
                None => {
                    seen.insert(&field.name.node, (field.name.span, field.io()));
                }
            }
        }
        if decl.fields.is_empty() {
            self.err(
                Diagnostic::new(
                    ErrorCode::BadStruct,
                    format!("struct `{}` has no fields", decl.name.node),
                )
                .label(decl.name.span, "empty structure")
                .note("declare the fields as `TYPE NAME;`, padding as `u8 _[N];`"),
            );
        }
        for field in &decl.fields {
            for attr in &field.attrs {
                if !FIELD_ATTRIBUTES.contains(&attr.node.as_str()) {
                    let mut diag = Diagnostic::new(
                        ErrorCode::BadAttribute,
                        format!("unknown field attribute `{}`", attr.node),
                    )
                    .label(attr.span, "unknown attribute");
                    diag = suggest(diag, &attr.node, FIELD_ATTRIBUTES.iter().copied());
                    self.err(diag.note(format!("expected {}", quoted_list(FIELD_ATTRIBUTES))));
                }
            }
            let has = |word: &str| field.attrs.iter().find(|a| a.node == word);
            if let Some(flat) = has("flat")
                && (field.ty.len.is_some()
                    || field.count.is_some()
                    || !matches!(
                        types.defs.get(field.ty.name.node.as_str()),
                        Some((TypeDef::Struct(_), _))
                    ))
            {
                self.err(
                    Diagnostic::new(
                        ErrorCode::BadAttribute,
                        format!("field `{}` cannot be `flat`", field.name.node),
                    )
                    .label(flat.span, "only an embedded structure")
                    .note("a `flat` structure's fields show in place of its own: `si_int=42, si_ptr=0x2a`"),
                );
            }
            if let Some(written) = has("written")
                && (field.ty.len.is_some()
                    || field.count.is_some()
                    || !matches!(
                        self.resolve_quiet(&field.ty, types),
                        Some(BaseTy::Ty(Ty::Int { .. }))
                    ))
            {
                self.err(
                    Diagnostic::new(
                        ErrorCode::BadAttribute,
                        format!("field `{}` cannot be `written`", field.name.node),
                    )
                    .label(written.span, "only an integer")
                    .note("a `written` field counts the bytes the kernel wrote into its structure's buffers: `uint msg_len output written`"),
                );
            }
            if let (Some(_), Some(output)) = (has("input"), has("output")) {
                self.err(
                    Diagnostic::new(
                        ErrorCode::BadAttribute,
                        format!("field `{}` is both `input` and `output`", field.name.node),
                    )
                    .label(output.span, "a field with neither goes both ways"),
                );
            }
        }
        let bases: Vec<Option<BaseTy>> = decl
            .fields
            .iter()
            .map(|f| self.resolve_base(&f.ty, types, &mut Vec::new()))
            .collect();
        decl.fields
            .iter()
            .zip(&bases)
            .map(|(field, base)| {
                let ty = match (base.clone()?, &field.ty.len) {
                    (BaseTy::Buf(_), None) => {
                        self.err(
                            Diagnostic::new(
                                ErrorCode::BadLength,
                                format!("buffer field `{}` has no length", field.name.node),
                            )
                            .label(field.ty.span, "expected `buf[FIELD]` or `buf[N]`"),
                        );
                        return None;
                    }
                    (BaseTy::Ty(Ty::Void), _) => {
                        self.err(
                            Diagnostic::new(
                                ErrorCode::BadStruct,
                                format!("field `{}` cannot have type `void`", field.name.node),
                            )
                            .label(field.ty.span, "`void` is only a return type"),
                        );
                        return None;
                    }
                    (base, Some(len)) => {
                        let len = self.field_len(decl, field, len, &bases)?;
                        self.with_length(base, &field.ty, len)?
                    }
                    (BaseTy::Ty(ty), None) => ty,
                };
                let count = match &field.count {
                    None => None,
                    Some(count) => {
                        if count.node == 0 || count.node > MAX_AGGREGATE_BYTES {
                            self.err(
                                Diagnostic::new(
                                    ErrorCode::BadStruct,
                                    format!(
                                        "inline array `{}` has {} elements",
                                        field.name.node, count.node
                                    ),
                                )
                                .label(count.span, format!("expected 1..={MAX_AGGREGATE_BYTES}")),
                            );
                            return None;
                        }
                        if !matches!(
                            ty,
                            Ty::Int { .. }
                                | Ty::Flags { .. }
                                | Ty::Enum { .. }
                                | Ty::Ptr
                                | Ty::Struct { .. }
                                | Ty::Union { .. }
                        ) {
                            self.err(
                                Diagnostic::new(
                                    ErrorCode::BadStruct,
                                    format!(
                                        "inline array `{}` cannot hold `{}`",
                                        field.name.node, field.ty.name.node
                                    ),
                                )
                                .label(field.ty.span, "not an integer, pointer or structure")
                                .note("an inline array holds values; `cstr`, `buf` and arrays are pointers to memory elsewhere"),
                            );
                            return None;
                        }
                        Some(count.node)
                    }
                };
                Some((ty, count))
            })
            .collect()
    }

    /// The length of a buffer or array field: another integer field of the
    /// same structure, or a constant.
    fn field_len(
        &mut self,
        decl: &ast::StructDecl,
        field: &ast::FieldDecl,
        len: &ast::LenRef,
        bases: &[Option<BaseTy>],
    ) -> Option<BufLen> {
        let name = match len {
            ast::LenRef::Int(n) => return Some(BufLen::Const(n.node)),
            ast::LenRef::Name(name) => name,
            ast::LenRef::Of(f, _) => {
                self.err(
                    Diagnostic::new(
                        ErrorCode::BadLength,
                        format!("field `{}` cannot take a length function", field.name.node),
                    )
                    .label(f.span, "only arguments may use `pages(...)`")
                    .note("name another field of the structure, or give a number"),
                );
                return None;
            }
        };
        if name.node == "nul" {
            return self.nul_len_for_field(field, name);
        }
        if name.node == "ret" {
            self.err(
                Diagnostic::new(
                    ErrorCode::BadLength,
                    format!(
                        "field `{}` cannot take its length from the return value",
                        field.name.node
                    ),
                )
                .label(name.span, "only arguments may use `ret`")
                .note("name another field of the structure, or give a number"),
            );
            return None;
        }
        let index = decl
            .fields
            .iter()
            .position(|f| f.name.node == name.node && f.name.node != "_");
        let Some(index) = index else {
            let names: Vec<&str> = decl
                .fields
                .iter()
                .map(|f| f.name.node.as_str())
                .filter(|n| *n != "_")
                .collect();
            let mut diag = Diagnostic::new(
                ErrorCode::BadLength,
                format!(
                    "length `{}` is not a field of struct `{}`",
                    name.node, decl.name.node
                ),
            )
            .label(name.span, "no such field");
            diag = suggest(diag, &name.node, names.iter().copied());
            self.err(diag.note(format!(
                "a field's length is another field ({}) or a number",
                quoted_list(&names)
            )));
            return None;
        };
        let target = &decl.fields[index];
        let is_int = matches!(bases[index], Some(BaseTy::Ty(Ty::Int { .. })))
            && target.ty.len.is_none()
            && target.count.is_none();
        if index
            == decl
                .fields
                .iter()
                .position(|f| std::ptr::eq(f, field))
                .unwrap_or(usize::MAX)
            || !is_int
        {
            self.err(
                Diagnostic::new(
                    ErrorCode::BadLength,
                    format!("length `{}` is not an integer field", name.node),
                )
                .label(name.span, "used as a length here")
                .label(target.ty.span, "declared with this type"),
            );
            return None;
        }
        Some(BufLen::Field(index as u32))
    }

    fn nul_len_for_field(&mut self, field: &ast::FieldDecl, len: &ast::Name) -> Option<BufLen> {
        if field.ty.name.node == "buf" {
            self.err(
                Diagnostic::new(ErrorCode::BadLength, "a buffer cannot end at a NUL")
                    .label(len.span, "only arrays take `nul`")
                    .note(
                        "a NUL-terminated string is a `cstr`; an array of strings is `cstr[nul]`",
                    ),
            );
            return None;
        }
        Some(BufLen::Nul)
    }

    fn resolve_union_targets(
        &mut self,
        decl: &ast::UnionDecl,
        types: &Types<'a>,
    ) -> Option<Vec<u32>> {
        if decl.cases.is_empty() {
            self.err(
                Diagnostic::new(
                    ErrorCode::BadUnion,
                    format!("union `{}` has no cases", decl.name.node),
                )
                .label(decl.name.span, "nothing to choose from")
                .note("list the structures by tag value: `union sockaddr(sa_family) { AF_UNIX = sockaddr_un }`"),
            );
            return None;
        }
        let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
        let mut targets = Vec::new();
        let mut ok = true;
        for case in &decl.cases {
            if let Some(first) = seen.get(case.member.node.as_str()) {
                let first = *first;
                self.duplicate("union case", &case.member, first);
                ok = false;
            } else {
                seen.insert(&case.member.node, case.member.span);
            }
            match types.defs.get(case.target.node.as_str()) {
                Some((TypeDef::Struct(id), _)) => targets.push(*id),
                Some(_) => {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::BadUnion,
                            format!("union case `{}` is not a structure", case.target.node),
                        )
                        .label(case.target.span, "expected a `struct`"),
                    );
                    ok = false;
                }
                None => {
                    let mut diag = Diagnostic::new(
                        ErrorCode::UnknownType,
                        format!("unknown type `{}`", case.target.node),
                    )
                    .label(case.target.span, "not defined");
                    diag = suggest(diag, &case.target.node, types.defs.keys().copied());
                    self.err(diag);
                    ok = false;
                }
            }
        }
        ok.then_some(targets)
    }

    /// Every case has the tag field at the same offset with the same enum
    /// type; case names are members of that enum.
    fn check_union(
        &mut self,
        decl: &ast::UnionDecl,
        targets: &[u32],
        (size, align): (u64, u64),
        types: &Types<'a>,
    ) -> Option<model::UnionDef> {
        let mut tag: Option<(u64, Ty, &str)> = None;
        let mut ok = true;
        for (case, id) in decl.cases.iter().zip(targets) {
            let st = types.structs.get(*id as usize)?.as_ref()?;
            let Some(field) = st.fields.iter().find(|f| f.name == decl.tag.node) else {
                self.err(
                    Diagnostic::new(
                        ErrorCode::BadUnion,
                        format!("struct `{}` has no tag field `{}`", st.name, decl.tag.node),
                    )
                    .label(case.target.span, "this case")
                    .label(decl.tag.span, "the tag every case must have")
                    .note("the tag is a field at the same offset in every case, like `sa_family`"),
                );
                ok = false;
                continue;
            };
            match &tag {
                None => tag = Some((field.offset, field.ty.clone(), st.name.as_str())),
                Some((offset, ty, first)) if *offset != field.offset || *ty != field.ty => {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::BadUnion,
                            format!(
                                "the tag `{}` of `{}` differs from that of `{first}`",
                                decl.tag.node, st.name
                            ),
                        )
                        .label(
                            case.target.span,
                            format!("tag at offset {} here", field.offset),
                        )
                        .note(format!(
                            "`{first}` has it at offset {offset}; offset and type must be the same"
                        )),
                    );
                    ok = false;
                }
                Some(_) => {}
            }
        }
        let (tag_offset, tag_ty, _) = tag?;
        let Ty::Enum { set, .. } = tag_ty else {
            self.err(
                Diagnostic::new(
                    ErrorCode::BadUnion,
                    format!(
                        "the tag `{}` of union `{}` is not an enum",
                        decl.tag.node, decl.name.node
                    ),
                )
                .label(decl.tag.span, "expected a field whose type is an `enum`")
                .note("the cases are named by the tag's enum members"),
            );
            return None;
        };
        let members = &types.enums.get(set as usize)?.members;
        let mut cases = Vec::new();
        for (case, id) in decl.cases.iter().zip(targets) {
            let number = case.member.node.parse::<u64>().ok();
            match members.iter().find(|m| m.name == case.member.node) {
                Some(m) => cases.push(model::UnionCase {
                    member: m.name.clone(),
                    value: m.value,
                    target: *id,
                }),
                None if let Some(value) = number => cases.push(model::UnionCase {
                    member: case.member.node.clone(),
                    value: i128::from(value),
                    target: *id,
                }),
                None => {
                    let mut diag = Diagnostic::new(
                        ErrorCode::BadUnion,
                        format!(
                            "`{}` is not a value of the tag `{}`",
                            case.member.node, decl.tag.node
                        ),
                    )
                    .label(case.member.span, "not a member of the tag's enum");
                    diag = suggest(
                        diag,
                        &case.member.node,
                        members.iter().map(|m| m.name.as_str()),
                    );
                    self.err(diag);
                    ok = false;
                }
            }
        }
        ok.then(|| model::UnionDef {
            name: decl.name.node.clone(),
            tag: decl.tag.node.clone(),
            tag_offset,
            tag_ty,
            size,
            align,
            cases,
        })
    }
}

/// `input` (read by the kernel: not shown after the return) or `output`
/// (written by it: not shown at entry), as the field's attributes say.
fn field_io(decl: &ast::FieldDecl) -> model::FieldIo {
    let has = |word: &str| decl.attrs.iter().any(|a| a.node == word);
    if has("input") {
        model::FieldIo::Input
    } else if has("output") {
        model::FieldIo::Output
    } else {
        model::FieldIo::Both
    }
}

/// A `trailing` field: bytes after the structure's others, not pointed to.
pub(super) fn is_trailing(decl: &ast::FieldDecl) -> bool {
    decl.attrs.iter().any(|a| a.node == "trailing")
}
