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
            // Point at the last character of the text, not at trailing
            // whitespace or past the end.
            let end = text[..location.min(text.len())].trim_end().len();
            let start = text[..end].char_indices().last().map_or(0, |(i, _)| i);
            Diagnostic::new(ErrorCode::Syntax, "unexpected end of file")
                .label(Span::new(file, start, end), "the file ends after this")
                .note(expected_note(&expected))
        }
        ParseError::UnrecognizedToken {
            token: (l, tok, r),
            expected,
        } => {
            let previous_end = previous_token_end(text, l);
            let on_later_line = text[previous_end..l].contains('\n');
            if on_later_line && expected.iter().any(|e| e == "\";\"") {
                // The classic forgotten semicolon: the parser only notices on
                // the next line, but the mistake is at the end of this one.
                let at = text[..previous_end]
                    .char_indices()
                    .last()
                    .map_or(0, |(i, _)| i);
                Diagnostic::new(ErrorCode::Syntax, format!("expected `;`, found {tok}"))
                    .label(Span::new(file, at, previous_end), "expected `;` after this")
                    .label(Span::new(file, l, r), "unexpected here")
                    .note(expected_note(&expected))
            } else {
                Diagnostic::new(ErrorCode::Syntax, format!("unexpected {tok}"))
                    .label(Span::new(file, l, r), "unexpected here")
                    .note(expected_note(&expected))
            }
        }
        ParseError::ExtraToken { token: (l, tok, r) } => {
            Diagnostic::new(ErrorCode::Syntax, format!("unexpected {tok}"))
                .label(Span::new(file, l, r), "unexpected here")
        }
    }
}

/// End of the last token that ends at or before `offset`.
fn previous_token_end(text: &str, offset: usize) -> usize {
    Lexer::new(text)
        .map_while(Result::ok)
        .map(|(_, _, end)| end)
        .take_while(|end| *end <= offset)
        .last()
        .unwrap_or(0)
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
