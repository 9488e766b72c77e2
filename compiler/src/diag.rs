//! Diagnostics: what went wrong, where, rendered like rustc's.

use crate::files::{Files, Span};
use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label, LabelStyle};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::{self, Chars, Config};

/// Every error the compiler reports has a stable code, listed with an
/// explanation in docs/osm-language.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorCode {
    Syntax,
    BadToken,
    BadLiteral,
    IncludeNotFound,
    IncludeCycle,
    MissingOs,
    Duplicate,
    UnknownKey,
    MissingKey,
    BadValue,
    ArchMismatch,
    UnknownRegister,
    IndexOutsideArgs,
    UnknownWidth,
    Width,
    InsnOutsideNumber,
    PatternWidth,
    PatternBits,
    PatternSyntax,
    PatternOverlap,
    DuplicateNumber,
    DuplicateName,
    TooManyArgs,
    UnknownTable,
    UnknownType,
    BadLength,
    TypeCycle,
    BadAttribute,
    MemberValue,
    BadDirection,
    BadStruct,
    BadUnion,
    BadCondition,
    UnknownKernelName,
    KernelOutsideTask,
    BadTask,
    BadKernelDecl,
}

impl ErrorCode {
    pub fn code(self) -> &'static str {
        match self {
            ErrorCode::Syntax => "E0001",
            ErrorCode::BadToken => "E0002",
            ErrorCode::BadLiteral => "E0003",
            ErrorCode::IncludeNotFound => "E0101",
            ErrorCode::IncludeCycle => "E0102",
            ErrorCode::MissingOs => "E0201",
            ErrorCode::Duplicate => "E0202",
            ErrorCode::UnknownKey => "E0203",
            ErrorCode::MissingKey => "E0204",
            ErrorCode::BadValue => "E0205",
            ErrorCode::ArchMismatch => "E0206",
            ErrorCode::UnknownRegister => "E0301",
            ErrorCode::IndexOutsideArgs => "E0302",
            ErrorCode::UnknownWidth => "E0303",
            ErrorCode::Width => "E0304",
            ErrorCode::InsnOutsideNumber => "E0305",
            ErrorCode::PatternWidth => "E0401",
            ErrorCode::PatternBits => "E0402",
            ErrorCode::PatternSyntax => "E0403",
            ErrorCode::PatternOverlap => "E0404",
            ErrorCode::DuplicateNumber => "E0501",
            ErrorCode::DuplicateName => "E0502",
            ErrorCode::TooManyArgs => "E0503",
            ErrorCode::UnknownTable => "E0504",
            ErrorCode::UnknownType => "E0601",
            ErrorCode::BadLength => "E0602",
            ErrorCode::TypeCycle => "E0603",
            ErrorCode::BadAttribute => "E0604",
            ErrorCode::MemberValue => "E0605",
            ErrorCode::BadDirection => "E0606",
            ErrorCode::BadStruct => "E0607",
            ErrorCode::BadUnion => "E0608",
            ErrorCode::BadCondition => "E0609",
            ErrorCode::UnknownKernelName => "E0701",
            ErrorCode::KernelOutsideTask => "E0702",
            ErrorCode::BadTask => "E0703",
            ErrorCode::BadKernelDecl => "E0704",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: ErrorCode,
    pub message: String,
    /// The first label is the primary one: the caret goes under it.
    pub labels: Vec<(Span, String)>,
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            message: message.into(),
            labels: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn label(mut self, span: Span, text: impl Into<String>) -> Self {
        self.labels.push((span, text.into()));
        self
    }

    pub fn note(mut self, text: impl Into<String>) -> Self {
        self.notes.push(text.into());
        self
    }

    pub fn primary_span(&self) -> Option<Span> {
        self.labels.first().map(|(span, _)| *span)
    }
}

/// Collects the errors of a pass so that all of them are reported at once.
#[derive(Default)]
pub struct Diagnostics {
    pub list: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.list.push(diagnostic);
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// Renders diagnostics as plain text (no colour), like rustc:
/// `error[E0301]: ...`, `--> file:line:col`, the line and a caret.
pub fn render(files: &Files, diagnostics: &[Diagnostic]) -> String {
    let mut simple = SimpleFiles::new();
    for (_, file) in files.iter() {
        simple.add(file.name.clone(), file.text.clone());
    }
    let config = Config {
        chars: Chars::ascii(),
        ..Config::default()
    };
    let mut out = term::termcolor::NoColor::new(Vec::new());
    for diagnostic in sorted(diagnostics) {
        let labels = diagnostic
            .labels
            .iter()
            .enumerate()
            .map(|(i, (span, text))| {
                let style = if i == 0 {
                    LabelStyle::Primary
                } else {
                    LabelStyle::Secondary
                };
                Label::new(style, span.file.0 as usize, span.range()).with_message(text.clone())
            })
            .collect();
        let rendered = CsDiagnostic::error()
            .with_code(diagnostic.code.code())
            .with_message(diagnostic.message.clone())
            .with_labels(labels)
            .with_notes(diagnostic.notes.clone());
        if term::emit_to_write_style(&mut out, &config, &simple, &rendered).is_err() {
            // A span that no longer fits its file is a compiler bug; still
            // say what went wrong rather than lose the error.
            let text = format!(
                "error[{}]: {}\n",
                diagnostic.code.code(),
                diagnostic.message
            );
            out.get_mut().extend_from_slice(text.as_bytes());
        }
    }
    let count = diagnostics.len();
    let mut text = String::from_utf8_lossy(&out.into_inner()).into_owned();
    if count > 0 {
        let plural = if count == 1 { "" } else { "s" };
        text.push_str(&format!(
            "error: could not check the model: {count} error{plural}\n"
        ));
    }
    text
}

/// Source order, so the output reads top to bottom.
fn sorted(diagnostics: &[Diagnostic]) -> Vec<&Diagnostic> {
    let mut list: Vec<&Diagnostic> = diagnostics.iter().collect();
    list.sort_by_key(|d| d.primary_span().map(|s| (s.file.0, s.start, s.end)));
    list
}
