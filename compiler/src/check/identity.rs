//! The identity pass: the top-level `thread` and `process`, which tell
//! calls' threads and address spaces apart where a mechanism does not say
//! its own.

use super::Checker;
use crate::files::Span;
use crate::model::Expr;
use crate::syntax::ast::{self, Item};

const TOP_KEYS: &[&str] = &["thread", "process"];

/// The model's `thread` and `process`, `None` where one failed.
pub(super) struct Identity {
    pub(super) thread: Option<Expr>,
    pub(super) process: Option<Expr>,
}

impl Checker<'_> {
    pub(super) fn check_identity(&mut self, items: &[&Item], os_span: Option<Span>) -> Identity {
        let top_props: Vec<&ast::Prop> = items
            .iter()
            .filter_map(|i| if let Item::Prop(p) = i { Some(p) } else { None })
            .collect();
        let top = self.props_by_key(&top_props, TOP_KEYS, "at the top level of a model");
        let thread = self.required_expr(&top, "thread", os_span, "the model");
        let process = self.required_expr(&top, "process", os_span, "the model");
        Identity { thread, process }
    }
}
