//! Hand-written lexer: it gives precise spans and messages for bad literals,
//! unterminated strings and stray characters, which lalrpop's built-in lexer
//! cannot.

use std::fmt;

/// A token of the OS-model language. Keywords are reserved only where the
/// grammar needs them; names of syscalls and arguments may still be keywords
/// (the grammar's `AnyName` accepts them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok<'src> {
    Ident(&'src str),
    Int(u64),
    Str(String),
    // Keywords.
    Include,
    Os,
    Mechanism,
    Table,
    Type,
    Flags,
    Enum,
    Errno,
    Class,
    Exit,
    Resume,
    Bytes,
    Insn,
    Insn16,
    Insn32,
    Mask,
    Offset,
    In,
    Out,
    InOut,
    Struct,
    Union,
    If,
    Kernel,
    Task,
    At,
    // Punctuation and operators.
    LBrace,
    RBrace,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Semi,
    Comma,
    Colon,
    Question,
    /// `??`: the first alternative whose kernel names the kernel has.
    Coalesce,
    Dot,
    Eq,
    Arrow,
    Percent,
    Plus,
    Minus,
    Star,
    Slash,
    Amp,
    AndAnd,
    Pipe,
    Caret,
    Tilde,
    Shl,
    Shr,
    EqEq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

const KEYWORDS: &[(&str, Tok<'static>)] = &[
    ("include", Tok::Include),
    ("os", Tok::Os),
    ("mechanism", Tok::Mechanism),
    ("table", Tok::Table),
    ("type", Tok::Type),
    ("flags", Tok::Flags),
    ("enum", Tok::Enum),
    ("errno", Tok::Errno),
    ("class", Tok::Class),
    ("exit", Tok::Exit),
    ("resume", Tok::Resume),
    ("bytes", Tok::Bytes),
    ("insn", Tok::Insn),
    ("insn16", Tok::Insn16),
    ("insn32", Tok::Insn32),
    ("mask", Tok::Mask),
    ("offset", Tok::Offset),
    ("in", Tok::In),
    ("out", Tok::Out),
    ("inout", Tok::InOut),
    ("struct", Tok::Struct),
    ("union", Tok::Union),
    ("if", Tok::If),
    ("kernel", Tok::Kernel),
    ("task", Tok::Task),
    ("at", Tok::At),
];

impl fmt::Display for Tok<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Ident(name) => write!(f, "identifier `{name}`"),
            Tok::Int(value) => write!(f, "integer `{value}`"),
            Tok::Str(text) => write!(f, "string {text:?}"),
            other => {
                let text = KEYWORDS
                    .iter()
                    .find(|(_, tok)| tok == other)
                    .map(|(word, _)| *word)
                    .unwrap_or_else(|| punct_text(other));
                write!(f, "`{text}`")
            }
        }
    }
}

fn punct_text(tok: &Tok<'_>) -> &'static str {
    match tok {
        Tok::LBrace => "{",
        Tok::RBrace => "}",
        Tok::LParen => "(",
        Tok::RParen => ")",
        Tok::LBracket => "[",
        Tok::RBracket => "]",
        Tok::Semi => ";",
        Tok::Comma => ",",
        Tok::Colon => ":",
        Tok::Question => "?",
        Tok::Coalesce => "??",
        Tok::Dot => ".",
        Tok::Eq => "=",
        Tok::Arrow => "->",
        Tok::Percent => "%",
        Tok::Plus => "+",
        Tok::Minus => "-",
        Tok::Star => "*",
        Tok::Slash => "/",
        Tok::Amp => "&",
        Tok::AndAnd => "&&",
        Tok::Pipe => "|",
        Tok::Caret => "^",
        Tok::Tilde => "~",
        Tok::Shl => "<<",
        Tok::Shr => ">>",
        Tok::EqEq => "==",
        Tok::Ne => "!=",
        Tok::Lt => "<",
        Tok::Le => "<=",
        Tok::Gt => ">",
        Tok::Ge => ">=",
        _ => "?",
    }
}

/// What went wrong while lexing, with the byte range it covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexError {
    pub start: usize,
    pub end: usize,
    pub kind: LexErrorKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LexErrorKind {
    UnexpectedChar(char),
    UnterminatedString,
    UnterminatedComment,
    BadEscape(char),
    BadInteger(String),
    IntegerTooLarge,
}

impl fmt::Display for LexErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LexErrorKind::UnexpectedChar(c) => write!(f, "unexpected character {c:?}"),
            LexErrorKind::UnterminatedString => write!(f, "unterminated string"),
            LexErrorKind::UnterminatedComment => write!(f, "unterminated block comment"),
            LexErrorKind::BadEscape(c) => write!(f, "unknown escape `\\{c}` in string"),
            LexErrorKind::BadInteger(text) => write!(f, "malformed integer literal `{text}`"),
            LexErrorKind::IntegerTooLarge => write!(f, "integer literal does not fit in 64 bits"),
        }
    }
}

pub type Spanned<'src> = Result<(usize, Tok<'src>, usize), LexError>;

pub struct Lexer<'src> {
    src: &'src str,
    pos: usize,
}

impl<'src> Lexer<'src> {
    pub fn new(src: &'src str) -> Self {
        Lexer { src, pos: 0 }
    }

    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn peek2(&self) -> Option<char> {
        let mut chars = self.src[self.pos..].chars();
        chars.next();
        chars.next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn error(&self, start: usize, kind: LexErrorKind) -> Option<Spanned<'src>> {
        Some(Err(LexError {
            start,
            end: self.pos.max(start + 1).min(self.src.len().max(start)),
            kind,
        }))
    }

    /// Skips whitespace and comments; reports an unterminated block comment.
    fn skip_trivia(&mut self) -> Result<(), LexError> {
        loop {
            match (self.peek(), self.peek2()) {
                (Some(c), _) if c.is_whitespace() => {
                    self.bump();
                }
                (Some('/'), Some('/')) => {
                    while let Some(c) = self.bump() {
                        if c == '\n' {
                            break;
                        }
                    }
                }
                (Some('/'), Some('*')) => {
                    let start = self.pos;
                    self.pos += 2;
                    let mut depth = 1;
                    while depth > 0 {
                        match (self.peek(), self.peek2()) {
                            (Some('*'), Some('/')) => {
                                self.pos += 2;
                                depth -= 1;
                            }
                            (Some('/'), Some('*')) => {
                                self.pos += 2;
                                depth += 1;
                            }
                            (Some(_), _) => {
                                self.bump();
                            }
                            (None, _) => {
                                return Err(LexError {
                                    start,
                                    end: start + 2,
                                    kind: LexErrorKind::UnterminatedComment,
                                });
                            }
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn lex_number(&mut self, start: usize) -> Option<Spanned<'src>> {
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                self.bump();
            } else {
                break;
            }
        }
        let text = &self.src[start..self.pos];
        let digits: String = text.chars().filter(|&c| c != '_').collect();
        let (radix, body) = match digits.get(..2) {
            Some("0x") | Some("0X") => (16, &digits[2..]),
            Some("0o") | Some("0O") => (8, &digits[2..]),
            Some("0b") | Some("0B") => (2, &digits[2..]),
            _ => (10, &digits[..]),
        };
        if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
            return self.error(start, LexErrorKind::BadInteger(text.to_string()));
        }
        match u64::from_str_radix(body, radix) {
            Ok(value) => Some(Ok((start, Tok::Int(value), self.pos))),
            Err(_) => self.error(start, LexErrorKind::IntegerTooLarge),
        }
    }

    fn lex_string(&mut self, start: usize) -> Option<Spanned<'src>> {
        let mut text = String::new();
        loop {
            match self.bump() {
                None | Some('\n') => {
                    self.pos = start + 1;
                    return self.error(start, LexErrorKind::UnterminatedString);
                }
                Some('"') => return Some(Ok((start, Tok::Str(text), self.pos))),
                Some('\\') => {
                    let escape_start = self.pos - 1;
                    match self.bump() {
                        Some('n') => text.push('\n'),
                        Some('t') => text.push('\t'),
                        Some('\\') => text.push('\\'),
                        Some('"') => text.push('"'),
                        Some('0') => text.push('\0'),
                        Some(other) => {
                            return self.error(escape_start, LexErrorKind::BadEscape(other));
                        }
                        None => {
                            self.pos = start + 1;
                            return self.error(start, LexErrorKind::UnterminatedString);
                        }
                    }
                }
                Some(c) => text.push(c),
            }
        }
    }
}

impl<'src> Iterator for Lexer<'src> {
    type Item = Spanned<'src>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Err(err) = self.skip_trivia() {
            // Stop after a fatal lexical error: nothing after it is reliable.
            self.pos = self.src.len();
            return Some(Err(err));
        }
        let start = self.pos;
        let c = self.bump()?;
        let single = |tok| Some(Ok((start, tok, start + 1)));
        let double = |lexer: &mut Self, tok| {
            lexer.bump();
            Some(Ok((start, tok, start + 2)))
        };
        match c {
            c if c.is_ascii_alphabetic() || c == '_' => {
                while let Some(c) = self.peek() {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        self.bump();
                    } else {
                        break;
                    }
                }
                let word = &self.src[start..self.pos];
                let tok = KEYWORDS
                    .iter()
                    .find(|(kw, _)| *kw == word)
                    .map(|(_, tok)| tok.clone())
                    .unwrap_or(Tok::Ident(word));
                Some(Ok((start, tok, self.pos)))
            }
            c if c.is_ascii_digit() => self.lex_number(start),
            '"' => self.lex_string(start),
            '{' => single(Tok::LBrace),
            '}' => single(Tok::RBrace),
            '(' => single(Tok::LParen),
            ')' => single(Tok::RParen),
            '[' => single(Tok::LBracket),
            ']' => single(Tok::RBracket),
            ';' => single(Tok::Semi),
            ',' => single(Tok::Comma),
            ':' => single(Tok::Colon),
            '?' if self.peek() == Some('?') => double(self, Tok::Coalesce),
            '?' => single(Tok::Question),
            '.' => single(Tok::Dot),
            '%' => single(Tok::Percent),
            '+' => single(Tok::Plus),
            '*' => single(Tok::Star),
            '/' => single(Tok::Slash),
            '&' if self.peek() == Some('&') => double(self, Tok::AndAnd),
            '&' => single(Tok::Amp),
            '|' => single(Tok::Pipe),
            '^' => single(Tok::Caret),
            '~' => single(Tok::Tilde),
            '-' if self.peek() == Some('>') => double(self, Tok::Arrow),
            '-' => single(Tok::Minus),
            '=' if self.peek() == Some('=') => double(self, Tok::EqEq),
            '=' => single(Tok::Eq),
            '!' if self.peek() == Some('=') => double(self, Tok::Ne),
            '<' if self.peek() == Some('<') => double(self, Tok::Shl),
            '<' if self.peek() == Some('=') => double(self, Tok::Le),
            '<' => single(Tok::Lt),
            '>' if self.peek() == Some('>') => double(self, Tok::Shr),
            '>' if self.peek() == Some('=') => double(self, Tok::Ge),
            '>' => single(Tok::Gt),
            other => {
                self.pos = self.src.len();
                Some(Err(LexError {
                    start,
                    end: start + other.len_utf8(),
                    kind: LexErrorKind::UnexpectedChar(other),
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok<'_>> {
        Lexer::new(src).map(|t| t.unwrap().1).collect()
    }

    #[test]
    fn lexes_literals_keywords_and_operators() {
        assert_eq!(
            toks("exit x = 0x1_0 >> 2; // c\n /* a /* nested */ b */ \"s\\n\""),
            vec![
                Tok::Exit,
                Tok::Ident("x"),
                Tok::Eq,
                Tok::Int(16),
                Tok::Shr,
                Tok::Int(2),
                Tok::Semi,
                Tok::Str("s\n".into()),
            ]
        );
    }

    #[test]
    fn reports_bad_literals_with_spans() {
        let err = Lexer::new("  0x12g").next().unwrap().unwrap_err();
        assert_eq!((err.start, err.end), (2, 7));
        assert!(matches!(err.kind, LexErrorKind::BadInteger(_)));
        let err = Lexer::new("99999999999999999999999")
            .next()
            .unwrap()
            .unwrap_err();
        assert_eq!(err.kind, LexErrorKind::IntegerTooLarge);
        let err = Lexer::new("x \"abc").nth(1).unwrap().unwrap_err();
        assert_eq!((err.start, err.kind), (2, LexErrorKind::UnterminatedString));
        let err = Lexer::new("a @").nth(1).unwrap().unwrap_err();
        assert_eq!(err.kind, LexErrorKind::UnexpectedChar('@'));
    }
}
