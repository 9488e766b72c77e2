//! The osmtrace model compiler: parses an OS model (`.osm`), checks it and
//! produces the checked model that code generation and the runtime consume.
//!
//! The entry points are pure apart from the `SourceLoader` that reads files:
//! `compile_path` for the file system, `compile_with` for anything else.

pub mod check;
pub mod codegen;
pub mod diag;
pub mod files;
pub mod load;
pub mod repo;
pub mod syntax;

// The checked model and the target facts live in `osm-model`, which the
// runtime uses without the compiler.
pub use osm_model as model;
pub use osm_model::arch;

use diag::{Diagnostic, Diagnostics};
use files::Files;
use load::{FsLoader, SourceLoader};
use std::path::Path;

/// The result of checking a model: the files read (for rendering
/// diagnostics) and either the model or every error found.
pub struct Compilation {
    pub files: Files,
    pub result: Result<model::Model, Vec<Diagnostic>>,
}

impl Compilation {
    /// Diagnostics rendered like rustc's, or an empty string.
    pub fn render_errors(&self) -> String {
        match &self.result {
            Ok(_) => String::new(),
            Err(diags) => diag::render(&self.files, diags),
        }
    }
}

pub fn compile_with(root: &Path, loader: &dyn SourceLoader) -> Compilation {
    let mut diags = Diagnostics::default();
    let loaded = load::load_model(root, loader, &mut diags);
    // Checking files with syntax errors would only add noise.
    let model = if diags.is_empty() {
        check::check_model(&loaded.files, &loaded.asts, &mut diags)
    } else {
        None
    };
    let result = match model {
        Some(model) if diags.is_empty() => Ok(model),
        _ => Err(diags.list),
    };
    Compilation {
        files: loaded.files,
        result,
    }
}

pub fn compile_path(root: &Path) -> Compilation {
    compile_with(root, &FsLoader)
}
