//! Reporting: where the checker's errors go, and the diagnostics and
//! lists that several passes share.

use super::Checker;
use super::did_you_mean::suggest;
use crate::diag::{Diagnostic, ErrorCode};
use crate::files::Span;
use crate::syntax::ast;

impl Checker<'_> {
    pub(super) fn err(&mut self, diag: Diagnostic) {
        self.diags.push(diag);
    }

    /// `file:line` of a span, for the `source` of what the model reports.
    pub(super) fn line_of(&self, span: Span) -> String {
        let (line, _) = self.files.line_col(span.file, span.start);
        format!("{}:{}", self.files.get(span.file).name, line)
    }

    pub(super) fn duplicate(&mut self, what: &str, name: &ast::Name, first: Span) {
        self.err(
            Diagnostic::new(
                ErrorCode::Duplicate,
                format!("{what} `{}` is defined twice", name.node),
            )
            .label(name.span, "defined again here")
            .label(first, "first defined here"),
        );
    }

    pub(super) fn unknown_key(&mut self, key: &ast::Name, known: &[&str], place: &str) {
        let mut diag = Diagnostic::new(
            ErrorCode::UnknownKey,
            format!("unknown key `{}` {place}", key.node),
        )
        .label(key.span, "unknown key");
        diag = suggest(diag, &key.node, known.iter().copied());
        self.err(diag.note(format!("expected one of {}", quoted_list(known))));
    }

    pub(super) fn bad_value(&mut self, span: Span, message: &str) {
        self.err(
            Diagnostic::new(ErrorCode::BadValue, message.to_string())
                .label(span, "unexpected value"),
        );
    }
}

pub(super) fn quoted_list(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| format!("`{w}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Shortens runs like r0, r1, ..., r12 to `r0`..`r12`.
pub(super) fn compact_list(names: &[&str]) -> String {
    let split = |n: &str| -> Option<(String, u32)> {
        let digits = n.len() - n.chars().rev().take_while(|c| c.is_ascii_digit()).count();
        let (prefix, number) = n.split_at(digits);
        Some((prefix.to_string(), number.parse().ok()?))
    };
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < names.len() {
        let mut j = i;
        if let Some((prefix, start)) = split(names[i]) {
            while j + 1 < names.len()
                && split(names[j + 1]) == Some((prefix.clone(), start + (j + 1 - i) as u32))
            {
                j += 1;
            }
        }
        if j - i >= 2 {
            out.push(format!("`{}`..`{}`", names[i], names[j]));
        } else {
            for name in &names[i..=j] {
                out.push(format!("`{name}`"));
            }
        }
        i = j + 1;
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compacts_register_runs() {
        assert_eq!(
            compact_list(&["r0", "r1", "r2", "sp", "x9", "x10"]),
            "`r0`..`r2`, `sp`, `x9`, `x10`"
        );
    }
}
