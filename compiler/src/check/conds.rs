//! Conditions (`if NAME & MASK`, `if NAME == VALUE`, `if NAME & MASK ==
//! VALUE`) on syscall arguments and structure fields: NAME is a sibling
//! integer, flags or enum, the mask and value its members or numbers.

use super::Checker;
use super::did_you_mean::suggest;
use super::resolve::BaseTy;
use super::types::Types;
use crate::diag::{Diagnostic, ErrorCode};
use crate::model::{self, Ty};
use crate::syntax::ast;

impl<'a> Checker<'a> {
    /// `if NAME & MASK`, NAME one of `siblings` (another argument of the
    /// call, another field of the structure) but `own`: an integer, flags
    /// or enum whose set names the mask's members. `what` says what the
    /// siblings are and of what, for the diagnostics.
    pub(super) fn cond_on(
        &mut self,
        cond: &ast::ArgCond,
        siblings: &[(&str, &ast::TypeRef)],
        own: &str,
        (kind, owner): (&str, &str),
        types: &Types<'a>,
    ) -> Option<model::ArgCond> {
        let Some(index) = siblings
            .iter()
            .position(|(name, _)| *name == cond.arg.node)
            .filter(|&i| siblings[i].0 != own)
        else {
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
        })
    }
}
