//! The classes and errnos passes: the `class` names a syscall may carry,
//! and the errors failed calls return, by value.

use super::Checker;
use crate::diag::{Diagnostic, ErrorCode};
use crate::files::Span;
use crate::model;
use crate::syntax::ast::Item;
use std::collections::{BTreeMap, BTreeSet};

impl Checker<'_> {
    pub(super) fn collect_classes(&mut self, items: &[&Item]) -> BTreeSet<String> {
        let mut seen: BTreeMap<String, Span> = BTreeMap::new();
        for item in items {
            if let Item::Class(names) = item {
                for name in names {
                    if let Some(first) = seen.get(&name.node) {
                        let first = *first;
                        self.duplicate("class", name, first);
                    } else {
                        seen.insert(name.node.clone(), name.span);
                    }
                }
            }
        }
        seen.into_keys().collect()
    }

    pub(super) fn collect_errnos(&mut self, items: &[&Item]) -> Vec<model::Errno> {
        let mut seen: BTreeMap<String, Span> = BTreeMap::new();
        let mut errnos = Vec::new();
        for item in items {
            let Item::Errno(block) = item else { continue };
            for member in &block.members {
                if let Some(first) = seen.get(&member.name.node) {
                    let first = *first;
                    self.duplicate("errno", &member.name, first);
                    continue;
                }
                seen.insert(member.name.node.clone(), member.name.span);
                if member.value.node <= 0 || member.value.node > i128::from(u32::MAX) {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::MemberValue,
                            format!("errno `{}` must be a positive number", member.name.node),
                        )
                        .label(member.value.span, "out of range"),
                    );
                    continue;
                }
                errnos.push(model::Errno {
                    name: member.name.node.clone(),
                    value: member.value.node as u64,
                    message: member
                        .message
                        .as_ref()
                        .map(|m| m.node.clone())
                        .unwrap_or_default(),
                });
            }
        }
        errnos.sort_by_key(|e| e.value);
        errnos
    }
}
