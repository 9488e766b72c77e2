//! Conditions (`if NAME & MASK`, `if NAME == VALUE`, `if NAME & MASK ==
//! VALUE`, several joined by `&&`) on syscall arguments and structure
//! fields: NAME is a sibling integer, flags or enum, the mask and value its
//! members or numbers.

use super::Checker;
use super::did_you_mean::suggest;
use super::resolve::BaseTy;
use super::types::Types;
use crate::diag::{Diagnostic, ErrorCode};
use crate::model::{self, Ty};
use crate::syntax::ast;

impl<'a> Checker<'a> {
    /// `if NAME & MASK && ...`, each NAME one of `siblings` (another
    /// argument of the call, another field of the structure) but `own`: an
    /// integer, flags or enum whose set names the mask's members. `what`
    /// says what the siblings are and of what, for the diagnostics.
    pub(super) fn cond_on(
        &mut self,
        cond: &ast::ArgCond,
        siblings: &[(&str, &ast::TypeRef)],
        own: &str,
        what: (&str, &str),
        types: &Types<'a>,
    ) -> Option<model::ArgCond> {
        let mut tests = Vec::new();
        let mut ok = true;
        for test in cond.tests() {
            match self.cond_test(test, siblings, own, what, types) {
                Some(t) => tests.push(t),
                None => ok = false,
            }
        }
        if !ok {
            return None;
        }
        tests.into_iter().rev().reduce(|and, mut test| {
            test.and = Some(Box::new(and));
            test
        })
    }

    /// One test of a condition. A register shown several ways (`|`) is
    /// tested as the first of its ways that is an integer, flags or enum
    /// naming every member the test names: the register holds one value.
    fn cond_test(
        &mut self,
        cond: &ast::ArgCond,
        siblings: &[(&str, &ast::TypeRef)],
        own: &str,
        (kind, owner): (&str, &str),
        types: &Types<'a>,
    ) -> Option<model::ArgCond> {
        // A register shown several ways may test its own value (strace
        // shows personality's query, 0xffffffff, as a number).
        let named: Vec<usize> = siblings
            .iter()
            .enumerate()
            .filter(|(_, (name, _))| *name == cond.arg.node)
            .map(|(i, _)| i)
            .collect();
        let named = match named.as_slice() {
            [one] if siblings[*one].0 == own => Vec::new(),
            _ => named,
        };
        let index = match named.as_slice() {
            [] => None,
            [one] => Some(*one),
            ways => {
                let fits = ways
                    .iter()
                    .copied()
                    .find(|&i| self.names_every_term(siblings[i].1, cond, types));
                if fits.is_none() {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::BadCondition,
                            format!(
                                "`{}` is shown in several ways (`|`), none of them an integer, \
                                 flags or enum naming every value tested",
                                cond.arg.node
                            ),
                        )
                        .label(cond.arg.span, "tested here")
                        .note(
                            "a register shown several ways is tested as the first of them \
                             whose type names the test's members",
                        ),
                    );
                    return None;
                }
                fits
            }
        };
        let Some(index) = index else {
            let names: Vec<&str> = siblings
                .iter()
                .map(|(name, _)| *name)
                .filter(|n| *n != own)
                .collect();
            let mut diag = Diagnostic::new(
                ErrorCode::BadCondition,
                format!("`{}` is not another {kind} of {owner}", cond.arg.node),
            )
            .label(cond.arg.span, format!("no such {kind}"));
            diag = suggest(diag, &cond.arg.node, names.iter().copied());
            self.err(diag.note(format!(
                "a condition tests another {kind}: `if flags & O_CREAT`"
            )));
            return None;
        };
        let target = siblings[index].1;
        let (members, bytes): (&[model::Member], u8) = match self.resolve_quiet(target, types) {
            Some(BaseTy::Ty(Ty::Flags { set, bytes, .. })) if target.len.is_none() => (
                types
                    .flag_sets
                    .get(set as usize)
                    .map_or(&[], |s| s.members.as_slice()),
                bytes,
            ),
            Some(BaseTy::Ty(Ty::Enum { set, bytes, .. })) if target.len.is_none() => (
                types
                    .enums
                    .get(set as usize)
                    .map_or(&[], |s| s.members.as_slice()),
                bytes,
            ),
            Some(BaseTy::Ty(Ty::Int { bytes, .. })) if target.len.is_none() => (&[], bytes),
            _ => {
                self.err(
                    Diagnostic::new(
                        ErrorCode::BadCondition,
                        format!(
                            "`{}` is not an integer, flags or enum {kind}",
                            cond.arg.node
                        ),
                    )
                    .label(cond.arg.span, "tested here")
                    .label(target.span, "declared with this type"),
                );
                return None;
            }
        };
        // The tested value's own bits: a register holds more.
        let width = match bytes {
            8.. => u64::MAX,
            b => (1u64 << (u32::from(b) * 8)) - 1,
        };
        let mut ok = true;
        let mut value_of = |this: &mut Self, term: &ast::MaskTerm| -> u64 {
            match term {
                ast::MaskTerm::Int(v) => v.node,
                ast::MaskTerm::Name(name) => match members.iter().find(|m| m.name == name.node) {
                    Some(m) => m.value as u64 & width,
                    None => {
                        let mut diag = Diagnostic::new(
                            ErrorCode::BadCondition,
                            format!(
                                "`{}` is not a member of the type of `{}`",
                                name.node, cond.arg.node
                            ),
                        )
                        .label(name.span, "unknown member");
                        diag = suggest(diag, &name.node, members.iter().map(|m| m.name.as_str()));
                        this.err(diag.note(format!(
                            "`{}` is declared as `{}`",
                            cond.arg.node, target.name.node
                        )));
                        ok = false;
                        0
                    }
                },
            }
        };
        let mut mask = match cond.mask.is_empty() {
            // `if ARG == VALUE`: the whole value.
            true => width,
            false => 0,
        };
        for term in &cond.mask {
            mask |= value_of(self, term);
        }
        let values: Vec<u64> = cond
            .values
            .iter()
            .map(|term| value_of(self, term))
            .collect();
        if ok && mask == 0 {
            self.err(
                Diagnostic::new(ErrorCode::BadCondition, "the condition's mask is zero")
                    .label(cond.span, "never true")
                    .note(format!(
                        "name the bits that make the {kind} matter: `if flags & O_CREAT`"
                    )),
            );
            return None;
        }
        if ok && let Some(value) = values.iter().find(|&&v| v & !mask != 0) {
            self.err(
                Diagnostic::new(
                    ErrorCode::BadCondition,
                    format!("{value:#x} has bits outside the mask {mask:#x}"),
                )
                .label(cond.span, "never true"),
            );
            return None;
        }
        ok.then_some(model::ArgCond {
            arg: index as u32,
            mask,
            values: values.into(),
            and: None,
        })
    }

    /// Whether `target` is an integer, flags or enum type whose members
    /// include every name `cond` tests.
    fn names_every_term(
        &mut self,
        target: &ast::TypeRef,
        cond: &ast::ArgCond,
        types: &Types<'a>,
    ) -> bool {
        if target.len.is_some() {
            return false;
        }
        let members: &[model::Member] = match self.resolve_quiet(target, types) {
            Some(BaseTy::Ty(Ty::Flags { set, .. })) => types
                .flag_sets
                .get(set as usize)
                .map_or(&[], |s| s.members.as_slice()),
            Some(BaseTy::Ty(Ty::Enum { set, .. })) => types
                .enums
                .get(set as usize)
                .map_or(&[], |s| s.members.as_slice()),
            Some(BaseTy::Ty(Ty::Int { .. })) => &[],
            _ => return false,
        };
        cond.mask.iter().chain(&cond.values).all(|term| match term {
            ast::MaskTerm::Int(_) => true,
            ast::MaskTerm::Name(name) => members.iter().any(|m| m.name == name.node),
        })
    }
}
