//! The types pass: declares every type name (builtins, aliases, flag
//! sets, enums, structures, unions) before any is resolved, so that a
//! type may be used before its declaration.

use super::Checker;
use super::resolve::BUILTIN_TYPES;
use crate::diag::{Diagnostic, ErrorCode};
use crate::files::Span;
use crate::model;
use crate::syntax::ast::{self, Item};
use std::collections::HashMap;

/// A name in the type namespace.
#[derive(Clone, Copy)]
pub(super) enum TypeDef<'a> {
    Builtin(&'static str),
    Alias(&'a ast::TypeAlias),
    Flags(u32),
    Enum(u32),
    Struct(u32),
    Union(u32),
}

/// The type namespace, and the member sets and aggregates checked so far.
pub(super) struct Types<'a> {
    pub(super) defs: HashMap<&'a str, (TypeDef<'a>, Option<Span>)>,
    pub(super) flag_sets: Vec<model::MemberSet>,
    pub(super) enums: Vec<model::MemberSet>,
    /// Structures and unions, sorted by name; `None` where one failed its
    /// checks (its users are not reported again).
    pub(super) structs: Vec<Option<model::StructDef>>,
    pub(super) unions: Vec<Option<model::UnionDef>>,
}

/// The declarations behind the ids of `TypeDef`: each kind sorted by
/// name, for the passes that check them.
pub(super) struct TypeDecls<'a> {
    pub(super) flags: Vec<&'a ast::MemberSet>,
    pub(super) enums: Vec<&'a ast::MemberSet>,
    pub(super) structs: Vec<&'a ast::StructDecl>,
    pub(super) unions: Vec<&'a ast::UnionDecl>,
}

impl<'a> Checker<'a> {
    /// Builds the type namespace: builtins, aliases, flag sets, enums,
    /// structures and unions, the last four by id in name order.
    pub(super) fn declare_types(&mut self, items: &[&'a Item]) -> (Types<'a>, TypeDecls<'a>) {
        let mut types = Types {
            defs: HashMap::new(),
            flag_sets: Vec::new(),
            enums: Vec::new(),
            structs: Vec::new(),
            unions: Vec::new(),
        };
        for name in BUILTIN_TYPES {
            types.defs.insert(name, (TypeDef::Builtin(name), None));
        }
        let mut flag_blocks: Vec<&'a ast::MemberSet> = Vec::new();
        let mut enum_blocks: Vec<&'a ast::MemberSet> = Vec::new();
        let mut struct_blocks: Vec<&'a ast::StructDecl> = Vec::new();
        let mut union_blocks: Vec<&'a ast::UnionDecl> = Vec::new();
        for item in items {
            match item {
                Item::Flags(set) => flag_blocks.push(set),
                Item::Enum(set) => enum_blocks.push(set),
                Item::Struct(decl) => struct_blocks.push(decl),
                Item::Union(decl) => union_blocks.push(decl),
                _ => {}
            }
        }
        flag_blocks.sort_by(|a, b| a.name.node.cmp(&b.name.node));
        enum_blocks.sort_by(|a, b| a.name.node.cmp(&b.name.node));
        struct_blocks.sort_by(|a, b| a.name.node.cmp(&b.name.node));
        union_blocks.sort_by(|a, b| a.name.node.cmp(&b.name.node));
        let mut declare = |checker: &mut Self, name: &'a ast::Name, def: TypeDef<'a>| match types
            .defs
            .get(name.node.as_str())
        {
            Some((TypeDef::Builtin(_), _)) => checker.err(
                Diagnostic::new(
                    ErrorCode::Duplicate,
                    format!("`{}` is a built-in type and cannot be redefined", name.node),
                )
                .label(name.span, "redefined here"),
            ),
            Some((_, Some(first))) => checker.duplicate("type", name, *first),
            _ => {
                types
                    .defs
                    .insert(name.node.as_str(), (def, Some(name.span)));
            }
        };
        for item in items {
            if let Item::TypeAlias(alias) = item {
                declare(self, &alias.name, TypeDef::Alias(alias));
            }
        }
        for (i, set) in flag_blocks.iter().enumerate() {
            declare(self, &set.name, TypeDef::Flags(i as u32));
        }
        for (i, set) in enum_blocks.iter().enumerate() {
            declare(self, &set.name, TypeDef::Enum(i as u32));
        }
        for (i, decl) in struct_blocks.iter().enumerate() {
            declare(self, &decl.name, TypeDef::Struct(i as u32));
        }
        for (i, decl) in union_blocks.iter().enumerate() {
            declare(self, &decl.name, TypeDef::Union(i as u32));
        }
        let decls = TypeDecls {
            flags: flag_blocks,
            enums: enum_blocks,
            structs: struct_blocks,
            unions: union_blocks,
        };
        (types, decls)
    }
}
