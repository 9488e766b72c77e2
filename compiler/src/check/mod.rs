//! Semantic checks: from the syntax trees of a model's files to the checked
//! model. `Checker::run` lists the passes in the order they run; every
//! pass collects all of its errors instead of stopping at the first one.

use crate::arch::{ArchInfo, Endian};
use crate::diag::Diagnostics;
use crate::files::Files;
use crate::model::{self, Model};
use crate::syntax::ast::{self, Item};

// The passes.
mod aggregates;
mod errnos;
mod finish;
mod identity;
mod mechanisms;
mod members;
mod signal;
mod tables;
mod target;
mod task;
mod types;

// What the passes use besides their own code.
mod conds;
mod did_you_mean;
mod expr;
mod layout;
mod pattern;
mod props;
mod report;
mod resolve;

/// Checks a loaded model. Returns the model only when there is no error.
pub fn check_model(
    files: &Files,
    asts: &[(crate::files::FileId, ast::File)],
    diags: &mut Diagnostics,
) -> Option<Model> {
    let items: Vec<&Item> = asts.iter().flat_map(|(_, f)| f.items.iter()).collect();
    let mut checker = Checker {
        files,
        diags,
        arch: None,
        bits: 64,
        endian: Endian::Little,
        page_size: 4096,
        used_regs: Vec::new(),
        listed_registers: false,
        kernel: model::Kernel::default(),
    };
    checker.run(&items)
}

/// What every pass reads or adds to: the target's facts, the errors, and
/// what expressions have used so far.
struct Checker<'a> {
    files: &'a Files,
    diags: &'a mut Diagnostics,
    arch: Option<&'static ArchInfo>,
    bits: u32,
    endian: Endian,
    /// The guest kernel's page size (`page_size` in the `os` block).
    page_size: u32,
    /// Registers in order of first use; renumbered by name at the end.
    used_regs: Vec<(String, u32)>,
    /// The full register list is printed with the first unknown register
    /// only; repeating it under every error would bury the errors.
    listed_registers: bool,
    /// Kernel declarations, and the references the `task` block makes.
    kernel: model::Kernel,
}

impl<'a> Checker<'a> {
    /// The passes, in an order that lets each use what those before it
    /// built; it is also the order of their diagnostics.
    fn run(&mut self, items: &[&'a Item]) -> Option<Model> {
        let errors_before = self.diags.list.len();
        let os = self.check_target(items);
        let classes = self.collect_classes(items);
        let (mut types, decls) = self.declare_types(items);
        // Member sets need their base types, which may be aliases.
        self.check_member_sets(&decls.flags, &decls.enums, &mut types);
        // Structures need member sets (for field types) and each other.
        self.check_aggregates(&decls.structs, &decls.unions, &mut types);
        let errnos = self.collect_errnos(items);
        let identity = self.check_identity(items, os.span);
        let tables = self.check_tables(items, &types, &classes);
        let mechanisms = self.check_mechanisms(items, &tables, &identity, os.span);
        self.collect_kernel(items);
        let task = self.check_task(items);
        let signal = self.check_signal(items, &types);
        let checked = finish::Checked {
            name: os.name,
            classes,
            types,
            errnos,
            identity,
            tables: tables.checked,
            mechanisms,
            task,
            signal,
        };
        self.finish(errors_before, checked)
    }
}
