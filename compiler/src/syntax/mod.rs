//! Parsing: text to syntax tree, and parse errors to diagnostics.

pub mod ast;
pub mod lexer;

use crate::diag::{Diagnostic, ErrorCode};
use crate::files::{FileId, Span};
use ast::{BinOp, Expr, ExprKind};
use lalrpop_util::ParseError;
use lexer::{LexError, Lexer, Tok};

lalrpop_util::lalrpop_mod!(
    #[allow(clippy::all, clippy::pedantic, unused_parens, dead_code)]
    grammar,
    "/syntax/grammar.rs"
);

pub(crate) fn binary(file: FileId, l: usize, r: usize, op: BinOp, a: Expr, b: Expr) -> Expr {
    Expr {
        kind: ExprKind::Binary(op, Box::new(a), Box::new(b)),
        span: Span::new(file, l, r),
    }
}

/// Parses one file. The parser stops at the first syntax error, so at most
/// one diagnostic comes back.
pub fn parse_file(file: FileId, text: &str) -> Result<ast::File, Diagnostic> {
    grammar::FileParser::new()
        .parse(file, Lexer::new(text))
        .map_err(|err| lower_parse_error(file, text, err))
}

fn lower_parse_error(
    file: FileId,
    text: &str,
    err: ParseError<usize, Tok<'_>, LexError>,
) -> Diagnostic {
    match err {
        ParseError::User { error } => {
            let code = match error.kind {
                lexer::LexErrorKind::IntegerTooLarge | lexer::LexErrorKind::BadInteger(_) => {
                    ErrorCode::BadLiteral
                }
                _ => ErrorCode::BadToken,
            };
            Diagnostic::new(code, error.kind.to_string())
                .label(Span::new(file, error.start, error.end), "here")
        }
        ParseError::InvalidToken { location } => {
            Diagnostic::new(ErrorCode::BadToken, "invalid token")
                .label(Span::new(file, location, location + 1), "here")
        }
        ParseError::UnrecognizedEof { location, expected } => {
            // Point at the last character rather than past the end.
            let at = location.min(text.len().saturating_sub(1));
            Diagnostic::new(ErrorCode::Syntax, "unexpected end of file")
                .label(
                    Span::new(file, at, (at + 1).min(text.len())),
                    "file ends here",
                )
                .note(expected_note(&expected))
        }
        ParseError::UnrecognizedToken {
            token: (l, tok, r),
            expected,
        } => Diagnostic::new(ErrorCode::Syntax, format!("unexpected {tok}"))
            .label(Span::new(file, l, r), "unexpected here")
            .note(expected_note(&expected)),
        ParseError::ExtraToken { token: (l, tok, r) } => {
            Diagnostic::new(ErrorCode::Syntax, format!("unexpected {tok}"))
                .label(Span::new(file, l, r), "unexpected here")
        }
    }
}

fn expected_note(expected: &[String]) -> String {
    let mut words: Vec<String> = expected
        .iter()
        .map(|terminal| match terminal.as_str() {
            "Ident" => "identifier".to_string(),
            "Int" => "integer".to_string(),
            "Str" => "string".to_string(),
            quoted => format!("`{}`", quoted.trim_matches('"')),
        })
        .collect();
    words.sort();
    words.dedup();
    match words.len() {
        0 => "nothing more was expected here".to_string(),
        1 => format!("expected {}", words[0]),
        _ => format!("expected one of {}", words.join(", ")),
    }
}
