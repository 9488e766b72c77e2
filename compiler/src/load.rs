//! Reading a model and the files it includes. The file system sits behind
//! `SourceLoader`, so tests and fuzzing load from memory.

use crate::diag::{Diagnostic, Diagnostics, ErrorCode};
use crate::files::{FileId, Files, Span};
use crate::syntax::{self, ast};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

pub trait SourceLoader {
    fn load(&self, path: &Path) -> std::io::Result<String>;
}

pub struct FsLoader;

impl SourceLoader for FsLoader {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// Files held in memory, keyed by path.
#[derive(Default)]
pub struct MemLoader {
    pub files: BTreeMap<PathBuf, String>,
}

impl MemLoader {
    pub fn with(mut self, path: &str, text: &str) -> Self {
        self.files
            .insert(normalize(Path::new(path)), text.to_string());
        self
    }
}

impl SourceLoader for MemLoader {
    fn load(&self, path: &Path) -> std::io::Result<String> {
        self.files.get(&normalize(path)).cloned().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory")
        })
    }
}

/// Lexical normalisation: `a/./b/../c` is `a/c`. The same file reached by two
/// spellings is then loaded once, and cycles are found without touching the
/// file system.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Every file of a model, parsed; included files come before the files that
/// include them.
pub struct Loaded {
    pub files: Files,
    pub asts: Vec<(FileId, ast::File)>,
}

pub fn load_model(root: &Path, loader: &dyn SourceLoader, diags: &mut Diagnostics) -> Loaded {
    let mut state = Loaded {
        files: Files::default(),
        asts: Vec::new(),
    };
    let mut stack = Vec::new();
    visit(
        &normalize(root),
        None,
        loader,
        &mut state,
        &mut stack,
        diags,
    );
    state
}

fn visit(
    path: &Path,
    included_at: Option<Span>,
    loader: &dyn SourceLoader,
    state: &mut Loaded,
    stack: &mut Vec<PathBuf>,
    diags: &mut Diagnostics,
) {
    if let Some(pos) = stack.iter().position(|p| p == path) {
        let chain: Vec<String> = stack[pos..]
            .iter()
            .chain(std::iter::once(&path.to_path_buf()))
            .map(|p| p.display().to_string())
            .collect();
        let mut diag = Diagnostic::new(
            ErrorCode::IncludeCycle,
            format!("include cycle: {}", chain.join(" -> ")),
        );
        if let Some(span) = included_at {
            diag = diag.label(span, "this include closes the cycle");
        }
        diags.push(diag.note("a file may not include itself, directly or through other files"));
        return;
    }
    if state.files.find(path).is_some() {
        return; // Already loaded through another include.
    }
    let text = match loader.load(path) {
        Ok(text) => text,
        Err(err) => {
            let mut diag = Diagnostic::new(
                ErrorCode::IncludeNotFound,
                format!("cannot read model file `{}`: {err}", path.display()),
            );
            if let Some(span) = included_at {
                diag = diag
                    .label(span, "included here")
                    .note("include paths are relative to the file that includes them");
            }
            diags.push(diag);
            return;
        }
    };
    let id = state.files.add(path, path.display().to_string(), text);
    let parsed = syntax::parse_file(id, &state.files.get(id).text);
    let file = match parsed {
        Ok(file) => file,
        Err(diag) => {
            diags.push(diag);
            return;
        }
    };
    stack.push(path.to_path_buf());
    let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
    for item in &file.items {
        if let ast::Item::Include(target) = item {
            let target_path = normalize(&dir.join(&target.node));
            visit(&target_path, Some(target.span), loader, state, stack, diags);
        }
    }
    stack.pop();
    state.asts.push((id, file));
}
