//! The mechanisms pass: how each kind of system call enters and leaves
//! the kernel and where its number, arguments and result are, and that no
//! two enter alike.

use super::Checker;
use super::did_you_mean::suggest;
use super::expr::{InsnScope, Scope};
use super::identity::Identity;
use super::props::missing_note;
use super::report::quoted_list;
use super::tables::{Tables, arg_registers};
use crate::diag::{Diagnostic, ErrorCode};
use crate::files::Span;
use crate::model::{self, ErrorConvention, Expr, TableId};
use crate::syntax::ast::{self, ExprKind, Item, MechStmt, Value};
use std::collections::BTreeMap;

const MECH_KEYS: &[&str] = &[
    "entry",
    "when",
    "table",
    "number",
    "args",
    "return",
    "error",
    "thread",
    "process",
    "called_from",
    "returns_to",
];

/// Attributes an exit may have after its resume expression.
const EXIT_ATTRIBUTES: &[&str] = &["kernel_space", "outputs_at_resume", "read_at_resume"];

impl Checker<'_> {
    pub(super) fn check_mechanisms(
        &mut self,
        items: &[&Item],
        tables: &Tables<'_>,
        identity: &Identity,
        os_span: Option<Span>,
    ) -> Vec<Option<model::Mechanism>> {
        let mut mech_blocks: Vec<&ast::MechanismBlock> = items
            .iter()
            .filter_map(|i| {
                if let Item::Mechanism(m) = i {
                    Some(m)
                } else {
                    None
                }
            })
            .collect();
        mech_blocks.sort_by(|a, b| a.name.node.cmp(&b.name.node));
        for pair in mech_blocks.windows(2) {
            if pair[0].name.node == pair[1].name.node {
                self.duplicate("mechanism", &pair[1].name, pair[0].name.span);
            }
        }
        if mech_blocks.is_empty() {
            let mut diag =
                Diagnostic::new(ErrorCode::MissingKey, "the model declares no `mechanism`")
                    .note("a mechanism says how system calls enter and leave the kernel");
            if let Some(span) = os_span {
                diag = diag.label(span, "this OS has no way to make a system call");
            }
            self.err(diag);
        }
        let mechanisms: Vec<Option<model::Mechanism>> = mech_blocks
            .iter()
            .map(|m| {
                self.check_mechanism(
                    m,
                    &tables.blocks,
                    &tables.checked,
                    identity.thread.as_ref(),
                    identity.process.as_ref(),
                )
            })
            .collect();
        self.check_entry_overlap(&mech_blocks, &mechanisms);
        mechanisms
    }

    fn check_mechanism(
        &mut self,
        block: &ast::MechanismBlock,
        table_blocks: &[&ast::TableBlock],
        tables: &[model::Table],
        thread: Option<&Expr>,
        process: Option<&Expr>,
    ) -> Option<model::Mechanism> {
        let errors_before = self.diags.list.len();
        let props: Vec<&ast::Prop> = block
            .stmts
            .iter()
            .filter_map(|s| {
                if let MechStmt::Prop(p) = s {
                    Some(p)
                } else {
                    None
                }
            })
            .collect();
        let map = self.props_by_key(
            &props,
            MECH_KEYS,
            &format!("in mechanism `{}`", block.name.node),
        );
        let owner = format!("mechanism `{}`", block.name.node);
        let at = Some(block.name.span);

        let entry = match map.get("entry") {
            Some(prop) => match &prop.value {
                Value::Pattern(p) => self.pattern(p),
                other => {
                    self.bad_value(other.span(), "`entry` takes an instruction pattern: `bytes \"0f 05\"`, `insn16 0xdf00 mask 0xff00` or `insn32 ...`");
                    None
                }
            },
            None => {
                self.missing(block, "entry");
                None
            }
        };

        // `insn`, the entry instruction, reads in `number` and `when`.
        let number_scope = Scope {
            insn: entry
                .as_ref()
                .map_or(InsnScope::Unknown, |p| InsnScope::Bytes(p.bytes.len())),
            ..Scope::default()
        };
        let when = map
            .get("when")
            .and_then(|prop| self.single_expr(prop, number_scope));
        let table = self.mechanism_table(block, map.get("table").copied(), table_blocks);
        let number = match map.get("number") {
            Some(prop) => self.single_word_expr(prop, number_scope, "the syscall number"),
            None => {
                self.missing(block, "number");
                None
            }
        };
        let ret = match map.get("return") {
            Some(prop) => self.single_word_expr(prop, Scope::default(), "the return value"),
            None => {
                self.missing(block, "return");
                None
            }
        };
        let mut args = Vec::new();
        let mut listed_args = 0;
        if let Some(prop) = map.get("args") {
            match &prop.value {
                Value::Exprs(list) => {
                    listed_args = list.len();
                    for e in list {
                        if let Some(e) = self.word_expr(e, Scope::default(), "an argument location")
                        {
                            args.push(e);
                        }
                    }
                }
                other => self.bad_value(
                    other.span(),
                    "`args` takes a comma-separated list of expressions",
                ),
            }
        }
        let mut args_rest = None;
        let mut rest_span = None;
        for stmt in &block.stmts {
            let MechStmt::Indexed {
                key,
                var,
                value,
                span,
            } = stmt
            else {
                continue;
            };
            if key.node != "args" {
                self.err(
                    Diagnostic::new(
                        ErrorCode::UnknownKey,
                        format!("`{}[{}]` is not a mechanism property", key.node, var.node),
                    )
                    .label(key.span, "only `args` takes an index")
                    .note("write `args[i] = EXPR;` for the location of argument i"),
                );
                continue;
            }
            if let Some(first) = rest_span {
                self.err(
                    Diagnostic::new(ErrorCode::Duplicate, "`args[...]` is given twice")
                        .label(key.span, "given again here")
                        .label(first, "first given here"),
                );
                continue;
            }
            rest_span = Some(*span);
            args_rest = self.word_expr(value, Scope::args(&var.node), "an argument location");
        }
        let error = match map.get("error") {
            None => Some(ErrorConvention::None),
            Some(prop) => self.error_convention(prop),
        };
        let thread_expr = match map.get("thread") {
            Some(prop) => self.single_expr(prop, Scope::default()),
            None => thread.cloned(),
        };
        let process_expr = match map.get("process") {
            Some(prop) => self.single_expr(prop, Scope::default()),
            None => process.cloned(),
        };
        let called_from = map.get("called_from").and_then(|prop| {
            self.single_word_expr(prop, Scope::default(), "the calling instruction's address")
        });
        let returns_to = map.get("returns_to").and_then(|prop| {
            self.single_word_expr(prop, Scope::default(), "the address the call returns to")
        });

        let mut exits = Vec::new();
        let mut exit_names: BTreeMap<&str, Span> = BTreeMap::new();
        for stmt in &block.stmts {
            let MechStmt::Exit(exit) = stmt else { continue };
            if let Some(first) = exit_names.get(exit.name.node.as_str()) {
                let first = *first;
                self.duplicate("exit", &exit.name, first);
                continue;
            }
            exit_names.insert(&exit.name.node, exit.name.span);
            let pattern = self.pattern(&exit.pattern);
            let resume = match &exit.resume {
                Some(e) => self.word_expr(e, Scope::default(), "the resume address"),
                None => {
                    self.err(
                        Diagnostic::new(ErrorCode::MissingKey, format!("exit `{}` does not say where it returns to", exit.name.node))
                            .label(exit.span, "expected `resume EXPR` before `;`")
                            .note("the resume address pairs an exit with the call it ends, e.g. `resume rcx` for sysretq"),
                    );
                    None
                }
            };
            let (mut kernel_space, mut outputs_at_resume, mut read_at_resume) =
                (false, false, false);
            for attr in &exit.attrs {
                match attr.node.as_str() {
                    "kernel_space" => {
                        kernel_space = true;
                        continue;
                    }
                    "outputs_at_resume" => {
                        outputs_at_resume = true;
                        continue;
                    }
                    "read_at_resume" => {
                        read_at_resume = true;
                        continue;
                    }
                    _ => {}
                }
                let mut diag = Diagnostic::new(
                    ErrorCode::BadAttribute,
                    format!("unknown exit attribute `{}`", attr.node),
                )
                .label(attr.span, "unknown attribute");
                diag = suggest(diag, &attr.node, EXIT_ATTRIBUTES.iter().copied());
                self.err(diag.note(format!("expected {}", quoted_list(EXIT_ATTRIBUTES))));
            }
            if let (Some(pattern), Some(resume)) = (pattern, resume) {
                exits.push(model::Exit {
                    name: exit.name.node.clone(),
                    pattern,
                    resume,
                    kernel_space,
                    outputs_at_resume,
                    read_at_resume,
                });
            }
        }
        if exit_names.is_empty() {
            self.err(
                Diagnostic::new(ErrorCode::MissingKey, format!("{owner} has no `exit`"))
                    .label(block.name.span, "no way to see calls return")
                    .note(
                        "add `exit NAME = PATTERN resume EXPR;` for each kernel return instruction",
                    ),
            );
        }

        // Every syscall of the table must have a location for each argument.
        if let Some(table) = table {
            // Counted from the syntax: a location that failed its own check
            // must not also be reported as missing.
            let max = if rest_span.is_some() || listed_args == usize::MAX {
                None
            } else {
                Some(listed_args)
            };
            let args_span = map.get("args").map(|p| p.value.span());
            if let Some(max) = max
                && let Some(block_table) = table_blocks.get(table.0 as usize)
            {
                for decl in &block_table.syscalls {
                    // Alternatives (`|`) share their register; `at N`
                    // places one.
                    // `at (EXPR)` needs no location of the mechanism's.
                    let registers: Vec<usize> = arg_registers(decl)
                        .into_iter()
                        .zip(&decl.args)
                        .map(|(r, a)| if a.location.is_some() { 0 } else { r })
                        .collect();
                    let count = registers.iter().max().map_or(0, |r| r.saturating_add(1));
                    if count > max {
                        let beyond = registers.iter().position(|&r| r >= max).unwrap_or(0);
                        let mut diag = Diagnostic::new(
                            ErrorCode::TooManyArgs,
                            format!(
                                "`{}` takes {count} arguments, but mechanism `{}` has locations for {max}",
                                decl.name.node,
                                block.name.node
                            ),
                        )
                        .label(decl.args[beyond].span, "no location for this argument");
                        diag = match args_span {
                            Some(span) => diag.label(span, format!("{max} locations given here")),
                            None => diag.label(block.name.span, "this mechanism gives no `args`"),
                        };
                        self.err(
                            diag.note("add locations to `args`, or `args[i] = EXPR;` for the rest"),
                        );
                    }
                }
            }
            let _ = tables;
        }
        let _ = owner;
        let _ = at;
        if self.diags.list.len() > errors_before {
            return None;
        }
        Some(model::Mechanism {
            name: block.name.node.clone(),
            entry: entry?,
            when,
            table: table?,
            number: number?,
            args,
            args_rest,
            ret: ret?,
            error: error?,
            exits,
            thread: thread_expr?,
            process: process_expr?,
            called_from,
            returns_to,
            source: self.line_of(block.span),
        })
    }

    fn missing(&mut self, block: &ast::MechanismBlock, key: &str) {
        self.err(
            Diagnostic::new(
                ErrorCode::MissingKey,
                format!("mechanism `{}` does not say `{key}`", block.name.node),
            )
            .label(block.name.span, format!("`{key} = ...;` is missing"))
            .note(missing_note(key)),
        );
    }

    fn mechanism_table(
        &mut self,
        block: &ast::MechanismBlock,
        prop: Option<&ast::Prop>,
        table_blocks: &[&ast::TableBlock],
    ) -> Option<TableId> {
        let names: Vec<&str> = table_blocks.iter().map(|t| t.name.node.as_str()).collect();
        match prop {
            Some(prop) => {
                let word = self.word_value(prop)?;
                match names.iter().position(|n| *n == word.node) {
                    Some(i) => Some(TableId(i as u32)),
                    None => {
                        let mut diag = Diagnostic::new(
                            ErrorCode::UnknownTable,
                            format!("unknown table `{}`", word.node),
                        )
                        .label(word.span, "no table of this name");
                        diag = suggest(diag, &word.node, names.iter().copied());
                        if names.is_empty() {
                            diag = diag.note("the model declares no `table`");
                        } else {
                            diag =
                                diag.note(format!("tables in this model: {}", quoted_list(&names)));
                        }
                        self.err(diag);
                        None
                    }
                }
            }
            None => match names.len() {
                1 => Some(TableId(0)),
                0 => {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::UnknownTable,
                            "the model declares no syscall `table`",
                        )
                        .label(
                            block.name.span,
                            "this mechanism has no table to look numbers up in",
                        )
                        .note("declare `table NAME { NUMBER name(ARGS) -> TYPE; ... }`"),
                    );
                    None
                }
                _ => {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::UnknownTable,
                            format!(
                                "mechanism `{}` does not say which table it uses",
                                block.name.node
                            ),
                        )
                        .label(block.name.span, "`table = NAME;` is missing")
                        .note(format!(
                            "the model has several tables: {}",
                            quoted_list(&names)
                        )),
                    );
                    None
                }
            },
        }
    }

    fn error_convention(&mut self, prop: &ast::Prop) -> Option<ErrorConvention> {
        match &prop.value {
            Value::Qualified(word, operand) if word.node == "negative" => match operand.kind {
                ExprKind::Int(max) if max > 0 => Some(ErrorConvention::Negative { max }),
                _ => {
                    self.bad_value(
                        operand.span,
                        "`negative` takes the largest errno, e.g. `negative 4095`",
                    );
                    None
                }
            },
            Value::Qualified(word, operand) if word.node == "flag" => self
                .expr(operand, Scope::default())
                .map(|(e, _)| ErrorConvention::Flag(e)),
            Value::Exprs(list) if matches!(list.as_slice(), [e] if e.kind == ExprKind::Name("none".into())) => {
                Some(ErrorConvention::None)
            }
            other => {
                self.err(
                    Diagnostic::new(ErrorCode::BadValue, "unknown error convention")
                        .label(other.span(), "expected `negative(N)`, `flag(EXPR)` or `none`")
                        .note("`negative(4095)`: returns from -4095 to -1 are errors (Linux); `flag(r7)`: a non-zero a3 (r7) marks an error (MIPS)"),
                );
                None
            }
        }
    }

    fn check_entry_overlap(
        &mut self,
        blocks: &[&ast::MechanismBlock],
        mechanisms: &[Option<model::Mechanism>],
    ) {
        for (i, a) in mechanisms.iter().enumerate() {
            for (j, b) in mechanisms.iter().enumerate().skip(i + 1) {
                // Mechanisms that share an entry are told apart by `when`;
                // one of them may go without, taking what the others do not.
                if let (Some(a), Some(b)) = (a, b)
                    && a.entry == b.entry
                    && a.when.is_none()
                    && b.when.is_none()
                {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::PatternOverlap,
                            format!(
                                "mechanisms `{}` and `{}` have the same entry pattern",
                                a.name, b.name
                            ),
                        )
                        .label(blocks[j].name.span, "this mechanism")
                        .label(
                            blocks[i].name.span,
                            "matches the same instructions as this one",
                        )
                        .note("one instruction can start only one kind of call: give all but one of them a `when` that tells them apart, e.g. `when = cs == 0x23;`"),
                    );
                }
            }
        }
    }
}
