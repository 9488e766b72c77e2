//! The kernel and task passes: `kernel struct` and `kernel symbol`
//! declarations, the `task` block, and the expressions only it may use
//! (`task_struct.pid`, `&current_task`, `A ?? B`, `current`, `insn_addr`).

use super::Checker;
use super::did_you_mean::suggest;
use super::expr::{InsnScope, Scope};
use super::report::quoted_list;
use crate::diag::{Diagnostic, ErrorCode};
use crate::files::Span;
use crate::model::{self, Expr, KernelRef, KernelTy};
use crate::syntax::ast::{self, ExprKind, Item, TaskStmt};
use std::collections::BTreeMap;

const TASK_KEYS: &[&str] = &["current", "tid", "pid", "ppid", "comm"];

/// Field types a kernel structure may declare besides other kernel
/// structures.
const FIELD_TYPES: &[&str] = &[
    "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "long", "ulong", "ptr", "char",
];

/// The longest command name `comm = strN[...]` reads: what the runtime
/// keeps of one (`osm_runtime::task::COMM_BYTES`), more than Linux's 16,
/// FreeBSD's 20 and Windows' 15.
const MAX_COMM: u64 = 31;

/// What an expression of the `task` block may name.
#[derive(Clone, Copy)]
pub(super) struct TaskScope {
    /// `current` is defined and this is not `current` itself.
    current: Option<u32>,
    /// The block has probes: `insn_addr` is the probe's address.
    probes: bool,
}

impl Checker<'_> {
    /// Collects `kernel struct` and `kernel symbol` declarations, sorted by
    /// name, into `self.kernel`.
    pub(super) fn collect_kernel(&mut self, items: &[&Item]) {
        let mut structs: Vec<&ast::KernelStructDecl> = items
            .iter()
            .filter_map(|i| match i {
                Item::KernelStruct(s) => Some(s),
                _ => None,
            })
            .collect();
        structs.sort_by(|a, b| a.name.node.cmp(&b.name.node));
        for pair in structs.windows(2) {
            if pair[0].name.node == pair[1].name.node {
                self.duplicate("kernel structure", &pair[1].name, pair[0].name.span);
            }
        }
        structs.dedup_by(|a, b| a.name.node == b.name.node);
        let index: BTreeMap<&str, u32> = structs
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.node.as_str(), i as u32))
            .collect();
        self.kernel.structs = structs
            .iter()
            .map(|decl| model::KernelStruct {
                name: decl.name.node.clone(),
                fields: self.kernel_fields(decl, &index),
            })
            .collect();
        self.check_kernel_embedding(&structs);

        let mut symbols: Vec<&ast::KernelSymbolDecl> = items
            .iter()
            .filter_map(|i| match i {
                Item::KernelSymbol(s) => Some(s),
                _ => None,
            })
            .collect();
        symbols.sort_by(|a, b| a.name.node.cmp(&b.name.node));
        for sym in &symbols {
            if sym.kind.node != "symbol" {
                self.err(
                    Diagnostic::new(
                        ErrorCode::BadKernelDecl,
                        format!("`kernel {}` declares nothing", sym.kind.node),
                    )
                    .label(sym.kind.span, "expected `struct` or `symbol`")
                    .note("`kernel struct NAME { ... }` declares a structure, `kernel symbol NAME;` a symbol"),
                );
            }
        }
        for pair in symbols.windows(2) {
            if pair[0].name.node == pair[1].name.node {
                self.duplicate("kernel symbol", &pair[1].name, pair[0].name.span);
            }
        }
        symbols.dedup_by(|a, b| a.name.node == b.name.node);
        self.kernel.symbols = symbols
            .iter()
            .map(|s| model::KernelSymbol {
                name: s.name.node.clone(),
                address: s.at.as_ref().map(|a| a.node),
            })
            .collect();
    }

    fn kernel_fields(
        &mut self,
        decl: &ast::KernelStructDecl,
        index: &BTreeMap<&str, u32>,
    ) -> Vec<model::KernelField> {
        let mut fields: Vec<model::KernelField> = Vec::new();
        if decl.fields.is_empty() {
            self.err(
                Diagnostic::new(
                    ErrorCode::BadKernelDecl,
                    format!("kernel structure `{}` has no fields", decl.name.node),
                )
                .label(decl.name.span, "declares nothing to read")
                .note("declare the fields the model reads, e.g. `i32 pid;`"),
            );
        }
        for (i, f) in decl.fields.iter().enumerate() {
            if let Some(first) = decl.fields[..i].iter().find(|o| o.name.node == f.name.node) {
                self.duplicate("field", &f.name, first.name.span);
                continue;
            }
            let bits = self.bits;
            let ty = match f.ty.node.as_str() {
                "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" => {
                    let bytes: u8 = f.ty.node[1..].parse::<u8>().unwrap_or(8) / 8;
                    KernelTy::Int {
                        bytes,
                        signed: f.ty.node.starts_with('i'),
                    }
                }
                "long" | "ulong" => KernelTy::Int {
                    bytes: (bits / 8) as u8,
                    signed: f.ty.node == "long",
                },
                "ptr" => KernelTy::Ptr,
                "char" => KernelTy::Char,
                other => match index.get(other) {
                    Some(&s) => KernelTy::Struct(s),
                    None => {
                        let mut diag = Diagnostic::new(
                            ErrorCode::BadKernelDecl,
                            format!("unknown kernel field type `{other}`"),
                        )
                        .label(
                            f.ty.span,
                            "not an integer, `ptr`, `char` or kernel structure",
                        );
                        let names = FIELD_TYPES.iter().copied().chain(index.keys().copied());
                        diag = suggest(diag, other, names);
                        self.err(diag.note(format!(
                            "expected one of {}, or a `kernel struct`",
                            quoted_list(FIELD_TYPES)
                        )));
                        continue;
                    }
                },
            };
            if let Some(count) = &f.count
                && count.node == 0
            {
                self.err(
                    Diagnostic::new(ErrorCode::BadKernelDecl, "an inline array of no elements")
                        .label(count.span, "expected at least 1"),
                );
                continue;
            }
            fields.push(model::KernelField {
                name: f.name.node.clone(),
                ty,
                count: f.count.as_ref().map(|c| c.node),
                offset: f.at.as_ref().map(|a| a.node),
            });
        }
        fields
    }

    /// A kernel structure cannot embed itself, directly or through others.
    fn check_kernel_embedding(&mut self, decls: &[&ast::KernelStructDecl]) {
        for (start, decl) in decls.iter().enumerate() {
            let mut stack = vec![start as u32];
            let mut seen = vec![false; self.kernel.structs.len()];
            while let Some(at) = stack.pop() {
                for f in &self.kernel.structs[at as usize].fields {
                    let KernelTy::Struct(inner) = f.ty else {
                        continue;
                    };
                    if inner as usize == start {
                        self.err(
                            Diagnostic::new(
                                ErrorCode::BadKernelDecl,
                                format!("kernel structure `{}` contains itself", decl.name.node),
                            )
                            .label(decl.name.span, "embedded in itself through its fields"),
                        );
                        return;
                    }
                    if !std::mem::replace(&mut seen[inner as usize], true) {
                        stack.push(inner);
                    }
                }
            }
        }
    }

    /// `current` and `insn_addr`: `None` when the name is neither (a
    /// register then), else what it means where it is used.
    pub(super) fn task_name(
        &mut self,
        name: &str,
        span: Span,
        scope: Scope<'_>,
    ) -> Option<Option<(Expr, u32)>> {
        let found = match (name, scope.task) {
            (
                "current",
                Some(TaskScope {
                    current: Some(w), ..
                }),
            ) => Some((Expr::Current, w)),
            ("insn_addr", Some(TaskScope { probes: true, .. })) => {
                Some((Expr::InsnAddr, self.bits))
            }
            ("current", Some(_)) => {
                self.err(
                    Diagnostic::new(ErrorCode::BadTask, "`current` is not defined here")
                        .label(span, "no value of `current` to read")
                        .note("`current = ...;` in the `task` block gives the kernel's pointer to the task; its own expression cannot use it"),
                );
                None
            }
            ("insn_addr", Some(_)) => {
                self.err(
                    Diagnostic::new(
                        ErrorCode::BadTask,
                        "`insn_addr` is the address of a probe, and this `task` block has none",
                    )
                    .label(span, "no probe instruction here")
                    .note("`probe NAME = PATTERN;` names a kernel instruction to read the task at"),
                );
                None
            }
            ("current" | "insn_addr", None) => {
                self.err(
                    Diagnostic::new(
                        ErrorCode::KernelOutsideTask,
                        format!("`{name}` is only defined in the `task` block"),
                    )
                    .label(span, "not in the `task` block"),
                );
                None
            }
            _ => return None,
        };
        Some(found)
    }

    /// `STRUCT.FIELD...`, `&SYMBOL` and `A ?? B`.
    pub(super) fn kernel_expr(
        &mut self,
        expr: &ast::Expr,
        scope: Scope<'_>,
    ) -> Option<(Expr, u32)> {
        if scope.task.is_none() {
            let what = match &expr.kind {
                ExprKind::Field { .. } => "a kernel structure's field",
                ExprKind::Symbol(_) => "a kernel symbol",
                _ => "`??`",
            };
            self.err(
                Diagnostic::new(
                    ErrorCode::KernelOutsideTask,
                    format!("{what} may only be used in the `task` block"),
                )
                .label(expr.span, "the traced kernel's layout is not known here")
                .note("mechanisms read the CPU as the call leaves it; only the `task` block reads the kernel's own structures"),
            );
            return None;
        }
        match &expr.kind {
            ExprKind::Field { strukt, path } => {
                let r = self.field_ref(strukt, path)?;
                Some((Expr::Kernel(self.kernel_ref(r)), self.bits))
            }
            ExprKind::Symbol(name) => {
                let Some(i) = self.kernel.symbols.iter().position(|s| s.name == name.node) else {
                    let mut diag = Diagnostic::new(
                        ErrorCode::UnknownKernelName,
                        format!("unknown kernel symbol `{}`", name.node),
                    )
                    .label(name.span, "not declared with `kernel symbol`");
                    diag = suggest(
                        diag,
                        &name.node,
                        self.kernel.symbols.iter().map(|s| s.name.as_str()),
                    );
                    self.err(diag);
                    return None;
                };
                Some((
                    Expr::Kernel(self.kernel_ref(KernelRef::Symbol(i as u32))),
                    self.bits,
                ))
            }
            ExprKind::Fallback(a, b) => {
                let first = self.expr(a, scope);
                let second = self.expr(b, scope);
                let ((first, fw), (second, sw)) = (first?, second?);
                Some((
                    Expr::Fallback(Box::new(first), Box::new(second)),
                    fw.max(sw),
                ))
            }
            _ => None,
        }
    }

    fn field_ref(&mut self, strukt: &ast::Name, path: &[ast::Name]) -> Option<KernelRef> {
        let Some(start) = self
            .kernel
            .structs
            .iter()
            .position(|s| s.name == strukt.node)
        else {
            let mut diag = Diagnostic::new(
                ErrorCode::UnknownKernelName,
                format!("unknown kernel structure `{}`", strukt.node),
            )
            .label(strukt.span, "not declared with `kernel struct`");
            diag = suggest(
                diag,
                &strukt.node,
                self.kernel.structs.iter().map(|s| s.name.as_str()),
            );
            self.err(diag);
            return None;
        };
        let mut at = start;
        let mut indices = Vec::new();
        for (depth, name) in path.iter().enumerate() {
            let decl = &self.kernel.structs[at];
            let Some(i) = decl.fields.iter().position(|f| f.name == name.node) else {
                let mut diag = Diagnostic::new(
                    ErrorCode::UnknownKernelName,
                    format!(
                        "kernel structure `{}` has no field `{}`",
                        decl.name, name.node
                    ),
                )
                .label(name.span, "not declared in the structure");
                diag = suggest(
                    diag,
                    &name.node,
                    decl.fields.iter().map(|f| f.name.as_str()),
                );
                self.err(diag.note(format!(
                    "declare it in `kernel struct {} {{ ... }}` to read it",
                    decl.name
                )));
                return None;
            };
            indices.push(i as u32);
            if depth + 1 < path.len() {
                match decl.fields[i].ty {
                    KernelTy::Struct(inner) => at = inner as usize,
                    _ => {
                        self.err(
                            Diagnostic::new(
                                ErrorCode::UnknownKernelName,
                                format!("`{}.{}` is not a structure", decl.name, name.node),
                            )
                            .label(path[depth + 1].span, "no fields to name")
                            .label(name.span, "declared as a plain value"),
                        );
                        return None;
                    }
                }
            }
        }
        Some(KernelRef::Field {
            strukt: start as u32,
            path: indices,
        })
    }

    fn kernel_ref(&mut self, r: KernelRef) -> u32 {
        match self.kernel.refs.iter().position(|known| *known == r) {
            Some(i) => i as u32,
            None => {
                self.kernel.refs.push(r);
                self.kernel.refs.len() as u32 - 1
            }
        }
    }

    /// The `task` block: at most one, with `tid` and `pid`.
    pub(super) fn check_task(&mut self, items: &[&Item]) -> Option<model::Task> {
        let blocks: Vec<&ast::TaskBlock> = items
            .iter()
            .filter_map(|i| match i {
                Item::Task(t) => Some(t),
                _ => None,
            })
            .collect();
        let (block, rest) = blocks.split_first()?;
        for other in rest {
            self.err(
                Diagnostic::new(ErrorCode::Duplicate, "a second `task` block")
                    .label(other.span, "second `task` block here")
                    .label(block.span, "first `task` block here"),
            );
        }
        // Entry probes, then return probes; names are unique across both.
        let mut probes: [Vec<(model::Probe, Span)>; 2] = [Vec::new(), Vec::new()];
        let mut props = Vec::new();
        for stmt in &block.stmts {
            match stmt {
                TaskStmt::Prop(p) => props.push(p),
                TaskStmt::Probe {
                    keyword,
                    name,
                    pattern,
                    ..
                } => {
                    let kind = match keyword.node.as_str() {
                        "probe" => 0,
                        "return_probe" => 1,
                        _ => {
                            self.err(
                                Diagnostic::new(
                                    ErrorCode::UnknownKey,
                                    format!(
                                        "unknown statement `{} {}` in the `task` block",
                                        keyword.node, name.node
                                    ),
                                )
                                .label(keyword.span, "expected `probe` or `return_probe`")
                                .note("`probe NAME = PATTERN;` names a kernel instruction to read the task at"),
                            );
                            continue;
                        }
                    };
                    if let Some((_, first)) =
                        probes.iter().flatten().find(|(p, _)| p.name == name.node)
                    {
                        let first = *first;
                        self.duplicate("probe", name, first);
                        continue;
                    }
                    if let Some(pattern) = self.pattern(pattern) {
                        probes[kind].push((
                            model::Probe {
                                name: name.node.clone(),
                                pattern,
                            },
                            name.span,
                        ));
                    }
                }
            }
        }
        for list in &mut probes {
            list.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        }
        let [probes, return_probes] = probes;
        let map = self.props_by_key(&props, TASK_KEYS, "in the `task` block");
        let has_probes = !probes.is_empty() || !return_probes.is_empty();
        let insn = match probes
            .iter()
            .chain(&return_probes)
            .map(|(p, _)| p.pattern.bytes.len())
            .max()
        {
            Some(len) => InsnScope::Bytes(len),
            None => InsnScope::Outside,
        };
        let scope = |current: Option<u32>| Scope {
            insn,
            task: Some(TaskScope {
                current,
                probes: has_probes,
            }),
            ..Scope::default()
        };
        // A `current` that failed its check still counts as defined, so
        // that its uses are not reported again.
        let current = map
            .get("current")
            .map(|prop| self.task_value(prop, scope(None)));
        let width = current
            .as_ref()
            .map(|c| c.as_ref().map_or(self.bits, |(_, w)| *w));
        let scope = scope(width);
        let value = |key: &str, required: bool, checker: &mut Self| match map.get(key) {
            Some(prop) => checker.task_value(prop, scope).map(|(e, _)| Some(e)),
            None if required => {
                checker.err(
                    Diagnostic::new(
                        ErrorCode::MissingKey,
                        format!("the `task` block does not say `{key}`"),
                    )
                    .label(block.span, format!("`{key} = ...;` is missing"))
                    .note("`tid` names the thread and `pid` the process it belongs to"),
                );
                None
            }
            None => Some(None),
        };
        let tid = value("tid", true, self);
        let pid = value("pid", true, self);
        let ppid = value("ppid", false, self);
        let comm = map.get("comm").map(|prop| self.comm(prop, scope));
        Some(model::Task {
            probes: probes.into_iter().map(|(p, _)| p).collect(),
            return_probes: return_probes.into_iter().map(|(p, _)| p).collect(),
            current: match current {
                Some(checked) => Some(checked?.0),
                None => None,
            },
            comm: match comm {
                Some(checked) => Some(checked?),
                None => None,
            },
            tid: tid??,
            pid: pid??,
            ppid: ppid?,
        })
    }

    fn task_value(&mut self, prop: &ast::Prop, scope: Scope<'_>) -> Option<(Expr, u32)> {
        match &prop.value {
            ast::Value::Exprs(list) if list.len() == 1 => self.expr(&list[0], scope),
            other => {
                self.bad_value(
                    other.span(),
                    &format!("`{}` takes one expression", prop.key.node),
                );
                None
            }
        }
    }

    /// `comm = strN[ADDRESS];`: a NUL-terminated string of at most N bytes.
    fn comm(&mut self, prop: &ast::Prop, scope: Scope<'_>) -> Option<model::CommRead> {
        let read = match &prop.value {
            ast::Value::Exprs(list) if list.len() == 1 => match &list[0].kind {
                ExprKind::Load { width, addr } => width
                    .node
                    .strip_prefix("str")
                    .and_then(|n| n.parse::<u64>().ok())
                    .map(|len| (len, width.span, addr)),
                _ => None,
            },
            _ => None,
        };
        let Some((len, span, addr)) = read else {
            self.err(
                Diagnostic::new(ErrorCode::BadTask, "`comm` is read as a string")
                    .label(prop.value.span(), "expected `strN[ADDRESS]`")
                    .note("`comm = str16[current + task_struct.comm];` reads at most 16 bytes up to a NUL"),
            );
            return None;
        };
        if len == 0 || len > MAX_COMM {
            self.err(
                Diagnostic::new(
                    ErrorCode::BadTask,
                    format!("`str{len}` reads no name or too long a one"),
                )
                .label(span, format!("expected 1 to {MAX_COMM} bytes")),
            );
            return None;
        }
        let (addr, _) = self.expr(addr, scope)?;
        Some(model::CommRead {
            addr,
            len: len as u32,
        })
    }
}
