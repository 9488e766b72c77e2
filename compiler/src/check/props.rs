//! Properties (`key = value;`): grouped by key, and their values read as
//! a name or an expression.

use super::Checker;
use super::expr::Scope;
use crate::diag::{Diagnostic, ErrorCode};
use crate::files::Span;
use crate::model::Expr;
use crate::syntax::ast::{self, ExprKind, Value};
use std::collections::BTreeMap;

impl Checker<'_> {
    /// Groups properties by key, reporting unknown and repeated keys.
    pub(super) fn props_by_key<'p>(
        &mut self,
        props: &[&'p ast::Prop],
        known: &[&str],
        place: &str,
    ) -> BTreeMap<&'p str, &'p ast::Prop> {
        let mut map: BTreeMap<&str, &ast::Prop> = BTreeMap::new();
        for prop in props {
            let key = prop.key.node.as_str();
            if !known.contains(&key) {
                self.unknown_key(&prop.key, known, place);
                continue;
            }
            if let Some(first) = map.get(key) {
                self.duplicate("key", &prop.key, first.key.span);
                continue;
            }
            map.insert(key, prop);
        }
        map
    }

    /// A property whose value is a single bare word, like `arch = arm;`.
    pub(super) fn word_value(&mut self, prop: &ast::Prop) -> Option<ast::Name> {
        if let Value::Exprs(list) = &prop.value
            && let [expr] = list.as_slice()
            && let ExprKind::Name(word) = &expr.kind
        {
            return Some(ast::Spanned {
                node: word.clone(),
                span: expr.span,
            });
        }
        self.bad_value(
            prop.value.span(),
            &format!("`{}` takes a single name", prop.key.node),
        );
        None
    }

    pub(super) fn required_expr(
        &mut self,
        props: &BTreeMap<&str, &ast::Prop>,
        key: &str,
        at: Option<Span>,
        owner: &str,
    ) -> Option<Expr> {
        match props.get(key) {
            Some(prop) => self.single_expr(prop, Scope::default()),
            None => {
                if let Some(span) = at {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::MissingKey,
                            format!("{owner} does not say `{key}`"),
                        )
                        .label(span, format!("`{key} = ...;` is missing"))
                        .note(missing_note(key)),
                    );
                }
                None
            }
        }
    }

    pub(super) fn single_expr(&mut self, prop: &ast::Prop, scope: Scope<'_>) -> Option<Expr> {
        match &prop.value {
            Value::Exprs(list) if list.len() == 1 => self.expr(&list[0], scope).map(|(e, _)| e),
            other => {
                self.bad_value(
                    other.span(),
                    &format!("`{}` takes one expression", prop.key.node),
                );
                None
            }
        }
    }

    pub(super) fn single_word_expr(
        &mut self,
        prop: &ast::Prop,
        scope: Scope<'_>,
        what: &str,
    ) -> Option<Expr> {
        match &prop.value {
            Value::Exprs(list) if list.len() == 1 => self.word_expr(&list[0], scope, what),
            other => {
                self.bad_value(
                    other.span(),
                    &format!("`{}` takes one expression", prop.key.node),
                );
                None
            }
        }
    }
}

pub(super) fn missing_note(key: &str) -> String {
    match key {
        "thread" => "`thread` identifies the calling thread, e.g. `thread = fs_base;` (x86_64) or `thread = TPIDRURO;` (arm)".into(),
        "process" => "`process` identifies the address space, e.g. `process = cr3;` (x86_64) or `process = TTBR0;` (arm)".into(),
        "entry" => "`entry` is the instruction that enters the kernel, e.g. `entry = bytes \"0f 05\";`".into(),
        "number" => "`number` is where the syscall number is, e.g. `number = rax;`".into(),
        "return" => "`return` is where the return value is at the exit, e.g. `return = rax;`".into(),
        _ => format!("add `{key} = ...;`"),
    }
}
