//! The signal pass: how the tracer sees a signal handler entered, and what
//! the frame the kernel built for it says (the interrupted call's return,
//! the signal's information), read at a kernel exit instruction like a
//! mechanism's `resume`.

use super::Checker;
use super::did_you_mean::suggest;
use super::expr::Scope;
use super::resolve::BaseTy;
use super::types::Types;
use crate::diag::{Diagnostic, ErrorCode};
use crate::model::{self, Ty};
use crate::syntax::ast::{self, Item};

const SIGNAL_KEYS: &[&str] = &[
    "number",
    "names",
    "pc",
    "return",
    "flag",
    "thread",
    "sigreturn_thread",
    "info",
    "siginfo",
    "entered",
];

impl<'a> Checker<'a> {
    pub(super) fn check_signal(
        &mut self,
        items: &[&'a Item],
        types: &Types<'a>,
    ) -> Option<model::Signal> {
        let mut blocks = Vec::new();
        for item in items {
            let Item::Block(block) = item else { continue };
            if block.kind.node == "signal" {
                blocks.push(block);
                continue;
            }
            let mut diag = Diagnostic::new(
                ErrorCode::UnknownKey,
                format!("unknown block `{}`", block.kind.node),
            )
            .label(block.kind.span, "not a block of the language");
            diag = suggest(diag, &block.kind.node, ["signal", "task"].into_iter());
            self.err(diag.note("blocks are `os`, `mechanism`, `table`, `task` and `signal`"));
        }
        let (block, rest) = blocks.split_first()?;
        for other in rest {
            self.err(
                Diagnostic::new(ErrorCode::Duplicate, "a second `signal` block")
                    .label(other.span, "second `signal` block here")
                    .label(block.span, "first `signal` block here"),
            );
        }
        let props: Vec<&ast::Prop> = block.props.iter().collect();
        let map = self.props_by_key(&props, SIGNAL_KEYS, "in the `signal` block");
        let required = |key: &str, checker: &mut Self| match map.get(key) {
            Some(prop) => checker.signal_word(prop),
            None => {
                checker.err(
                    Diagnostic::new(
                        ErrorCode::MissingKey,
                        format!("the `signal` block does not say `{key}`"),
                    )
                    .label(block.span, format!("`{key} = ...;` is missing"))
                    .note("`number`, `pc` and `return` say which signal a handler runs for and what the call it interrupted returned"),
                );
                None
            }
        };
        let number = required("number", self);
        let pc = required("pc", self);
        let ret = required("return", self);
        let flag = map.get("flag").and_then(|p| self.signal_word(p));
        let thread = map.get("thread").and_then(|p| self.signal_word(p));
        let sigreturn_thread = map
            .get("sigreturn_thread")
            .and_then(|p| self.signal_word(p));
        let info = map.get("info").and_then(|p| self.signal_word(p));
        let entered = map.get("entered").and_then(|p| self.signal_word(p));
        let names = map
            .get("names")
            .and_then(|p| self.signal_type(p, types, "names"));
        if let Some(ty) = &names
            && !matches!(ty, Ty::Enum { .. })
        {
            self.bad_value(
                map["names"].value.span(),
                "`names` takes an enum: the signals' names",
            );
        }
        let siginfo = map
            .get("siginfo")
            .and_then(|p| self.signal_type(p, types, "siginfo"));
        if let Some(ty) = &siginfo
            && !matches!(ty, Ty::Struct { .. } | Ty::Union { .. })
        {
            self.bad_value(
                map["siginfo"].value.span(),
                "`siginfo` takes a structure or union: the layout of siginfo_t",
            );
        }
        // By the keys written, so that a `siginfo` naming a wrong type is
        // not reported missing as well.
        let lone = match (map.get("info"), map.get("siginfo")) {
            (Some(info), None) => Some((info, "siginfo")),
            (None, Some(siginfo)) => Some((siginfo, "info")),
            _ => None,
        };
        if let Some((prop, missing)) = lone {
            self.err(
                Diagnostic::new(
                    ErrorCode::MissingKey,
                    format!(
                        "`{}` without `{missing}` in the `signal` block",
                        prop.key.node
                    ),
                )
                .label(prop.span, format!("`{missing} = ...;` must come with it"))
                .note("`info` says where the signal's information is, `siginfo` its layout"),
            );
        }
        Some(model::Signal {
            number: number?,
            names,
            pc: pc?,
            ret: ret?,
            flag,
            thread,
            sigreturn_thread,
            info,
            siginfo,
            entered,
        })
    }

    /// One expression that fits the model's word.
    fn signal_word(&mut self, prop: &ast::Prop) -> Option<model::Expr> {
        match &prop.value {
            ast::Value::Exprs(list) if list.len() == 1 => {
                self.word_expr(&list[0], Scope::default(), &format!("`{}`", prop.key.node))
            }
            other => {
                self.bad_value(
                    other.span(),
                    &format!("`{}` takes one expression", prop.key.node),
                );
                None
            }
        }
    }

    /// A type named by a single word.
    fn signal_type(&mut self, prop: &ast::Prop, types: &Types<'a>, key: &str) -> Option<Ty> {
        let word = self.word_value(prop)?;
        let tref = ast::TypeRef {
            span: word.span,
            name: word,
            len: None,
            sized: false,
        };
        match self.resolve_base(&tref, types, &mut Vec::new())? {
            BaseTy::Ty(ty) => Some(ty),
            BaseTy::Buf(_) => {
                self.bad_value(tref.span, &format!("`{key}` takes a named type"));
                None
            }
        }
    }
}
