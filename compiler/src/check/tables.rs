//! The syscall tables pass: each call's number, name, attributes and
//! return type, and its parameters with their lengths, directions and
//! conditions.

use super::Checker;
use super::did_you_mean::{closest, suggest};
use super::expr::Scope;
use super::report::quoted_list;
use super::resolve::BaseTy;
use super::types::{TypeDef, Types};
use crate::diag::{Diagnostic, ErrorCode};
use crate::files::Span;
use crate::model::{self, BufLen, Ty};
use crate::syntax::ast::{self, Direction, Item};
use std::collections::{BTreeMap, BTreeSet};

const BEHAVIOURS: &[&str] = &[
    "noreturn",
    "ends_process",
    "ends_thread",
    "returns_twice",
    "exec",
    "sigreturn",
    "renames",
    "named",
];

/// The tables, sorted by name so that TableIds do not depend on order.
pub(super) struct Tables<'a> {
    /// As written: mechanisms check their arguments against the syntax.
    pub(super) blocks: Vec<&'a ast::TableBlock>,
    pub(super) checked: Vec<model::Table>,
}

impl<'a> Checker<'a> {
    pub(super) fn check_tables(
        &mut self,
        items: &[&'a Item],
        types: &Types<'a>,
        classes: &BTreeSet<String>,
    ) -> Tables<'a> {
        let mut table_blocks: Vec<&ast::TableBlock> = items
            .iter()
            .filter_map(|i| {
                if let Item::Table(t) = i {
                    Some(t)
                } else {
                    None
                }
            })
            .collect();
        table_blocks.sort_by(|a, b| a.name.node.cmp(&b.name.node));
        for pair in table_blocks.windows(2) {
            if pair[0].name.node == pair[1].name.node {
                self.duplicate("table", &pair[1].name, pair[0].name.span);
            }
        }
        let tables: Vec<model::Table> = table_blocks
            .iter()
            .map(|t| self.check_table(t, types, classes))
            .collect();
        Tables {
            blocks: table_blocks,
            checked: tables,
        }
    }

    fn check_table(
        &mut self,
        block: &ast::TableBlock,
        types: &Types<'a>,
        classes: &BTreeSet<String>,
    ) -> model::Table {
        let offset = block.offset.as_ref().map_or(0, |o| o.node);
        let mut by_number: BTreeMap<u64, &ast::SyscallDecl> = BTreeMap::new();
        let mut by_name: BTreeMap<&str, &ast::SyscallDecl> = BTreeMap::new();
        let mut syscalls = Vec::new();
        for decl in &block.syscalls {
            let Some(number) = decl.number.node.checked_add(offset) else {
                self.err(
                    Diagnostic::new(
                        ErrorCode::BadLiteral,
                        "syscall number overflows with the table offset",
                    )
                    .label(decl.number.span, "too large"),
                );
                continue;
            };
            let mut ok = true;
            if let Some(first) = by_number.get(&number) {
                self.err(
                    Diagnostic::new(
                        ErrorCode::DuplicateNumber,
                        format!(
                            "syscall number {} is used twice in table `{}`",
                            decl.number.node, block.name.node
                        ),
                    )
                    .label(
                        decl.number.span,
                        format!("`{}` has this number", decl.name.node),
                    )
                    .label(
                        first.number.span,
                        format!("`{}` has it already", first.name.node),
                    ),
                );
                ok = false;
            }
            if let Some(first) = by_name.get(decl.name.node.as_str()) {
                self.err(
                    Diagnostic::new(
                        ErrorCode::DuplicateName,
                        format!(
                            "syscall `{}` is declared twice in table `{}`",
                            decl.name.node, block.name.node
                        ),
                    )
                    .label(decl.name.span, "declared again here")
                    .label(first.name.span, "first declared here"),
                );
                ok = false;
            }
            by_number.entry(number).or_insert(decl);
            by_name.entry(&decl.name.node).or_insert(decl);
            if let Some(syscall) = self.check_syscall(decl, number, types, classes)
                && ok
            {
                syscalls.push(syscall);
            }
        }
        syscalls.sort_by_key(|s| s.number);
        model::Table {
            name: block.name.node.clone(),
            offset,
            syscalls,
        }
    }

    fn check_syscall(
        &mut self,
        decl: &ast::SyscallDecl,
        number: u64,
        types: &Types<'a>,
        classes: &BTreeSet<String>,
    ) -> Option<model::Syscall> {
        let mut ok = true;
        let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
        // The names of the current register's alternatives, which may
        // repeat among themselves.
        let mut register: Vec<&str> = Vec::new();
        for arg in &decl.args {
            if !arg.alt {
                register.clear();
            }
            // `_` names a register that is skipped (padding before a
            // 64-bit pair): it may repeat and is never shown.
            if arg.name.node == "_" {
                if in_alternatives(decl, arg) {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::BadValue,
                            "a skipped register (`_`) has no other way to be shown",
                        )
                        .label(arg.name.span, "skipped, yet given other ways to be shown"),
                    );
                    ok = false;
                }
                continue;
            }
            if let Some(first) = seen.get(arg.name.node.as_str())
                && !register.contains(&arg.name.node.as_str())
            {
                let first = *first;
                self.duplicate("argument", &arg.name, first);
                ok = false;
            }
            seen.insert(&arg.name.node, arg.name.span);
            register.push(&arg.name.node);
        }
        ok &= self.check_slots(decl);
        let mut params = Vec::new();
        for arg in &decl.args {
            match self.check_arg(arg, decl, types) {
                Some(param) => params.push(param),
                None => ok = false,
            }
        }
        let (ret, ret_name) = match &decl.ret {
            None => (Ty::Void, "void".to_string()),
            Some(tref) => {
                let ty = match self.resolve_base(tref, types, &mut Vec::new()) {
                    Some(BaseTy::Ty(ty))
                        if tref.len.is_none()
                            && !matches!(
                                ty,
                                Ty::Struct { .. }
                                    | Ty::Union { .. }
                                    | Ty::SigSet { .. }
                                    | Ty::WaitStatus { .. }
                            ) =>
                    {
                        Some(ty)
                    }
                    Some(_) => {
                        self.err(
                            Diagnostic::new(
                                ErrorCode::BadValue,
                                "a syscall cannot return a buffer, array or structure",
                            )
                            .label(tref.span, "these are arguments; return `ssize` or `ptr`"),
                        );
                        None
                    }
                    None => None,
                };
                match ty {
                    Some(ty) => (ty, tref.name.node.clone()),
                    None => {
                        ok = false;
                        (Ty::Void, String::new())
                    }
                }
            }
        };
        let explain = self.ret_explain(decl, &params, types);
        ok &= explain.is_some();
        let mut syscall = model::Syscall {
            number,
            name: decl.name.node.clone(),
            args: params,
            ret,
            ret_name,
            explain: explain.unwrap_or_default(),
            noreturn: false,
            ends_process: false,
            returns_twice: false,
            exec: false,
            sigreturn: false,
            renames: false,
            named: false,
            ends_thread: false,
            classes: Vec::new(),
            source: self.line_of(decl.span),
        };
        for attr in &decl.attrs {
            let word = attr.name.node.as_str();
            if attr.is_class {
                if classes.contains(word) {
                    syscall.classes.push(word.to_string());
                } else {
                    let mut diag = Diagnostic::new(
                        ErrorCode::BadAttribute,
                        format!("undeclared class `%{word}`"),
                    )
                    .label(attr.name.span, "not declared with `class`");
                    if let Some(close) = closest(word, classes.iter().map(String::as_str)) {
                        diag = diag.note(format!("did you mean `%{close}`?"));
                    }
                    self.err(diag);
                    ok = false;
                }
                continue;
            }
            match word {
                "noreturn" => syscall.noreturn = true,
                "ends_process" => syscall.ends_process = true,
                "returns_twice" => syscall.returns_twice = true,
                "exec" => syscall.exec = true,
                "sigreturn" => syscall.sigreturn = true,
                "renames" => syscall.renames = true,
                "named" => syscall.named = true,
                "ends_thread" => syscall.ends_thread = true,
                _ => {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::BadAttribute,
                            format!("unknown syscall attribute `{word}`"),
                        )
                        .label(attr.name.span, "unknown attribute")
                        .note(format!(
                            "expected one of {}, or a class written `%name`",
                            quoted_list(BEHAVIOURS)
                        )),
                    );
                    ok = false;
                }
            }
        }
        syscall.classes.sort();
        syscall.classes.dedup();
        ok.then_some(syscall)
    }

    fn check_arg(
        &mut self,
        arg: &ast::ArgDecl,
        decl: &ast::SyscallDecl,
        types: &Types<'a>,
    ) -> Option<model::Param> {
        let base = self.resolve_base(&arg.ty, types, &mut Vec::new())?;
        let dir = arg.dir.as_ref().map_or(Direction::In, |d| d.node);
        let ty = match (base, &arg.ty.len) {
            (BaseTy::Buf(_), None) => {
                self.err(
                    Diagnostic::new(
                        ErrorCode::BadLength,
                        format!("buffer `{}` has no length", arg.name.node),
                    )
                    .label(arg.ty.span, "expected `buf[ARG]` or `buf[ret]`"),
                );
                return None;
            }
            // One of a register's ways to be shown: nothing, for the
            // values its condition names (`void arg if cmd == F_GETFD`).
            (BaseTy::Ty(Ty::Void), None) if in_alternatives(decl, arg) => Ty::Void,
            (BaseTy::Ty(Ty::Void), _) => {
                self.err(
                    Diagnostic::new(
                        ErrorCode::BadValue,
                        format!("argument `{}` cannot have type `void`", arg.name.node),
                    )
                    .label(arg.ty.span, "`void` is only a return type")
                    .note("among alternatives (`|`), `void` shows nothing"),
                );
                return None;
            }
            // `buf[count] buf`, `iovec[vlen] vec`, `int[2] fds`.
            (base, Some(len)) => {
                let len = self.arg_len(arg, len, decl, types, dir)?;
                self.with_length(base, &arg.ty, len)?
            }
            (BaseTy::Ty(ty), None) => ty,
        };
        if let Some(d) = &arg.dir
            && !points_at_memory(&ty)
        {
            self.err(
                Diagnostic::new(
                    ErrorCode::BadDirection,
                    format!(
                        "argument `{}` is passed by value and has no direction",
                        arg.name.node
                    ),
                )
                .label(
                    d.span,
                    "only pointers (`ptr`, `cstr`, `buf`, arrays, structures) point at memory",
                )
                .note("remove the direction, or give the argument a pointer type"),
            );
            return None;
        }
        let cond = match &arg.cond {
            None => None,
            Some(cond) => Some(self.arg_cond(arg, cond, decl, types)?),
        };
        let (verbose, updated, nonzero) = self.arg_attrs(arg, &ty, dir)?;
        let location = match &arg.location {
            None => None,
            Some(_) if arg.alt => {
                self.err(
                    Diagnostic::new(
                        ErrorCode::BadValue,
                        format!("argument `{}` cannot say where it is", arg.name.node),
                    )
                    .label(arg.name.span, "another way to show the previous argument")
                    .note("alternatives (`|`) show the previous argument's value"),
                );
                return None;
            }
            Some(e) => Some(self.word_expr(e, Scope::default(), "an argument's location")?),
        };
        Some(model::Param {
            name: arg.name.node.as_str().into(),
            dir,
            ty,
            type_name: arg.ty.name.node.as_str().into(),
            cond,
            alt: arg.alt,
            verbose,
            updated,
            nonzero,
            slot: arg.slot.as_ref().map(|s| s.node as u8),
            location,
        })
    }

    /// `at N`: a register each, none taken twice; alternatives (`|`) share
    /// the previous argument's and say none.
    fn check_slots(&mut self, decl: &ast::SyscallDecl) -> bool {
        let mut taken: BTreeMap<usize, &ast::ArgDecl> = BTreeMap::new();
        let mut ok = true;
        for (arg, register) in decl.args.iter().zip(arg_registers(decl)) {
            if let Some(slot) = &arg.slot {
                let message = if arg.alt {
                    Some("another way to show the previous argument is in its register")
                } else if slot.node >= model::MAX_REGISTERS {
                    Some("a call has at most 20 registers (0 to 19)")
                } else {
                    None
                };
                if let Some(note) = message {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::BadValue,
                            format!("argument `{}` cannot be `at {}`", arg.name.node, slot.node),
                        )
                        .label(slot.span, "here")
                        .note(note),
                    );
                    ok = false;
                    continue;
                }
            }
            if arg.alt {
                continue;
            }
            if let Some(first) = taken.insert(register, arg) {
                self.err(
                    Diagnostic::new(
                        ErrorCode::Duplicate,
                        format!("register {register} is given to two arguments"),
                    )
                    .label(arg.name.span, "given again here")
                    .label(first.name.span, "first given here")
                    .note("`at N` puts an argument in register N; the next without `at` takes the one after"),
                );
                ok = false;
            }
        }
        ok
    }

    /// `-> int (fd_flags if cmd == F_GETFD | ...)`: enums, flag sets or
    /// `inout` arguments, each with the condition on the call's arguments
    /// that picks it.
    fn ret_explain(
        &mut self,
        decl: &ast::SyscallDecl,
        params: &[model::Param],
        types: &Types<'a>,
    ) -> Option<Vec<model::RetExplain>> {
        let mut ways = Vec::new();
        let mut ok = true;
        for way in &decl.explain {
            let param = |ty: &ast::TypeRef| {
                params
                    .iter()
                    .position(|p| *p.name == *ty.name.node && ty.len.is_none())
            };
            let items =
                std::iter::once((&way.label, &way.ty)).chain(way.more.iter().map(|(l, t)| (l, t)));
            let named_by_type = way.more.is_empty() && param(&way.ty).is_none();
            let (ty, args) = if named_by_type {
                (self.explain_type(way, types), Some(Vec::new()))
            } else {
                let mut args = Vec::new();
                for (label, ty) in items {
                    match param(ty).map(|i| (i, &params[i])) {
                        Some((i, p)) if p.dir == model::Direction::InOut => {
                            args.push(model::ExplainArg {
                                arg: i as u32,
                                label: label.as_ref().map_or(String::new(), |l| l.node.clone()),
                            })
                        }
                        found => {
                            let label = if found.is_some() {
                                "not an `inout` argument"
                            } else {
                                "no such argument"
                            };
                            self.err(
                                Diagnostic::new(
                                    ErrorCode::BadValue,
                                    format!("`{}` cannot follow the return", ty.name.node),
                                )
                                .label(ty.span, label)
                                .note("`-> int (ufds)` shows an `inout` argument as the kernel left it after the return: `= 1 ([{fd=3, revents=POLLIN}])`; several, labelled, as `(\"in\" inp, \"out\" outp)`"),
                            );
                        }
                    }
                }
                let first = args.first().map(|a| params[a.arg as usize].ty.clone());
                let complete = args.len() == way.more.len() + 1;
                (first.filter(|_| complete), complete.then_some(args))
            };
            let cond = match &way.cond {
                None => Some(None),
                Some(cond) => self.call_cond("", cond, decl, types).map(Some),
            };
            match (ty, args, cond) {
                (Some(ty), Some(args), Some(cond)) => ways.push(model::RetExplain {
                    ty,
                    cond,
                    args,
                    label: way
                        .label
                        .as_ref()
                        .filter(|_| named_by_type)
                        .map(|l| l.node.clone()),
                }),
                _ => ok = false,
            }
        }
        ok.then_some(ways)
    }

    /// An explanation's enum or flag set.
    fn explain_type(&mut self, way: &ast::RetExplain, types: &Types<'a>) -> Option<Ty> {
        match self.resolve_base(&way.ty, types, &mut Vec::new()) {
            Some(BaseTy::Ty(ty @ (Ty::Enum { .. } | Ty::Flags { .. }))) if way.ty.len.is_none() => {
                Some(ty)
            }
            Some(_) => {
                self.err(
                    Diagnostic::new(
                        ErrorCode::BadValue,
                        format!("`{}` cannot name a return value", way.ty.name.node),
                    )
                    .label(
                        way.ty.span,
                        "not an enum, a flag set or an `inout` argument",
                    )
                    .note("`-> int (sched_policy)` shows 0 as `0 (SCHED_OTHER)`"),
                );
                None
            }
            None => None,
        }
    }

    /// The words after an argument: `verbose`, on a NUL-terminated array
    /// (execve's environment), which strace shows whole only with `-v`;
    /// `updated`, on an `inout` array of integers, which shows its value at
    /// entry and at exit whole (sendfile's `[0] => [4]`); `nonzero`, on an
    /// `out` argument the kernel writes only when the call returns a value
    /// other than 0 (wait4's status after WNOHANG found no child).
    fn arg_attrs(
        &mut self,
        arg: &ast::ArgDecl,
        ty: &Ty,
        dir: Direction,
    ) -> Option<(bool, bool, bool)> {
        const ATTRS: [&str; 3] = ["verbose", "updated", "nonzero"];
        let mut set = [false; 3];
        for attr in &arg.attrs {
            let Some(which) = ATTRS.iter().position(|a| *a == attr.node) else {
                let diag = Diagnostic::new(
                    ErrorCode::BadAttribute,
                    format!("unknown argument attribute `{}`", attr.node),
                )
                .label(attr.span, "unknown attribute");
                self.err(
                    suggest(diag, &attr.node, ATTRS.into_iter())
                        .note("expected `verbose`, `updated` or `nonzero`"),
                );
                return None;
            };
            let (fits, only, note) = match which {
                0 => (
                    matches!(
                        ty,
                        Ty::Array {
                            len: BufLen::Nul,
                            ..
                        }
                    ),
                    "only a `TYPE[nul]` array",
                    "without verbose=on a `verbose` array shows as its address and its length: `0x7ffd... /* 3 vars */`",
                ),
                1 => (
                    (dir == Direction::InOut
                        && matches!(ty, Ty::Array { elem, .. }
                            if matches!(**elem, Ty::Int { .. } | Ty::Flags { .. } | Ty::Enum { .. })))
                        || (dir == Direction::In && matches!(ty, Ty::Struct { .. })),
                    "only an `inout` array of integers, flags or enums, or an `in` structure",
                    "an `updated` value the kernel changed shows as `[0] => [4]`; an `updated` \
                     structure adds at exit ` => ` and its `output` fields: `{...} => {parent_tid=[98]}`",
                ),
                _ => (
                    dir == Direction::Out,
                    "only an `out` argument",
                    "a `nonzero` output shows as its address when the call returns 0",
                ),
            };
            if !fits {
                self.err(
                    Diagnostic::new(
                        ErrorCode::BadAttribute,
                        format!("argument `{}` cannot be `{}`", arg.name.node, attr.node),
                    )
                    .label(attr.span, only)
                    .note(note),
                );
                return None;
            }
            set[which] = true;
        }
        let [verbose, updated, nonzero] = set;
        Some((verbose, updated, nonzero))
    }

    /// The length of a buffer or array argument: another integer argument,
    /// `ret` (outputs only) or a constant.
    fn arg_len(
        &mut self,
        arg: &ast::ArgDecl,
        len: &ast::LenRef,
        decl: &ast::SyscallDecl,
        types: &Types<'a>,
        dir: Direction,
    ) -> Option<BufLen> {
        let len = match len {
            ast::LenRef::Int(n) => return Some(BufLen::Const(n.node)),
            ast::LenRef::Name(name) => name,
            ast::LenRef::Of(f, of) if f.node == "at" => {
                return self.pointee_len(of, decl, types);
            }
            ast::LenRef::Of(f, of) => {
                if f.node != "pages" && f.node != "ret_upto" {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::BadLength,
                            format!("unknown length function `{}`", f.node),
                        )
                        .label(f.span, "not a length function")
                        .note(
                            "`pages(ARG)` is the number of pages ARG bytes span, \
                             `ret_upto(ARG)` the return value, at most ARG, \
                             `at(ARG)` the 32-bit integer ARG points to",
                        ),
                    );
                    return None;
                }
                if f.node == "ret_upto" && dir == Direction::In {
                    self.err(ret_len_on_input(arg, f.span));
                    return None;
                }
                return match self.arg_len(arg, &ast::LenRef::Name(of.clone()), decl, types, dir)? {
                    BufLen::Arg(arg) if f.node == "pages" => Some(BufLen::Pages {
                        arg,
                        size: self.page_size,
                    }),
                    BufLen::Arg(arg) => Some(BufLen::RetUpTo(arg)),
                    _ => {
                        self.err(
                            Diagnostic::new(
                                ErrorCode::BadLength,
                                format!("`{}({})` needs an argument", f.node, of.node),
                            )
                            .label(of.span, "not an argument")
                            .note(format!("`{}(ARG)` takes an argument of the call", f.node)),
                        );
                        None
                    }
                };
            }
        };
        if len.node == "nul" {
            return self.nul_len(arg.ty.name.node.as_str(), len, types);
        }
        if len.node == "ret" {
            if dir == Direction::In {
                self.err(ret_len_on_input(arg, len.span));
                return None;
            }
            return Some(BufLen::Ret);
        }
        let Some(index) = decl.args.iter().position(|a| a.name.node == len.node) else {
            let names: Vec<&str> = decl.args.iter().map(|a| a.name.node.as_str()).collect();
            let mut diag = Diagnostic::new(
                ErrorCode::BadLength,
                format!(
                    "buffer length `{}` is not an argument of `{}`",
                    len.node, decl.name.node
                ),
            )
            .label(len.span, "no such argument");
            diag = suggest(diag, &len.node, names.iter().copied());
            self.err(diag.note(format!(
                "a length is another argument ({}), `ret` or a number",
                quoted_list(&names)
            )));
            return None;
        };
        let target = &decl.args[index];
        if target.name.node == arg.name.node {
            self.err(
                Diagnostic::new(
                    ErrorCode::BadLength,
                    format!("buffer `{}` cannot be its own length", arg.name.node),
                )
                .label(len.span, "names the buffer itself"),
            );
            return None;
        }
        if !matches!(
            self.resolve_quiet(&target.ty, types),
            Some(BaseTy::Ty(Ty::Int { .. }))
        ) || target.ty.len.is_some()
        {
            self.err(
                Diagnostic::new(
                    ErrorCode::BadLength,
                    format!("buffer length `{}` is not an integer argument", len.node),
                )
                .label(len.span, "used as a length here")
                .label(target.ty.span, "declared with this type"),
            );
            return None;
        }
        Some(BufLen::Arg(index as u32))
    }

    /// `at(ARG)`: the 32-bit integer that argument ARG (`i32[1]` or
    /// `u32[1]`) points to, read when the value is shown: a socket
    /// address's length the kernel wrote back (`accept`'s `upeer_addrlen`).
    fn pointee_len(
        &mut self,
        of: &ast::Name,
        decl: &ast::SyscallDecl,
        types: &Types<'a>,
    ) -> Option<BufLen> {
        let index = decl.args.iter().position(|a| a.name.node == of.node);
        let one_word = index.is_some_and(|i| {
            let target = &decl.args[i];
            matches!(
                self.resolve_quiet(&target.ty, types),
                Some(BaseTy::Ty(Ty::Int { bytes: 4, .. }))
            ) && matches!(&target.ty.len, Some(ast::LenRef::Int(n)) if n.node == 1)
        });
        match index {
            Some(i) if one_word => Some(BufLen::At(i as u32)),
            _ => {
                self.err(
                    Diagnostic::new(
                        ErrorCode::BadLength,
                        format!(
                            "`at({})` needs an argument pointing to one 32-bit integer",
                            of.node
                        ),
                    )
                    .label(of.span, "not an `i32[1]` or `u32[1]` argument")
                    .note("`at(ARG)` is the integer ARG points to: `inout i32[1] addrlen`"),
                );
                None
            }
        }
    }

    /// `TYPE[nul]`: an array ending at a zero element. A byte buffer that
    /// ends at a NUL is a `cstr`.
    fn nul_len(&mut self, type_name: &str, len: &ast::Name, types: &Types<'a>) -> Option<BufLen> {
        if let Some((TypeDef::Builtin("buf"), _)) = types.defs.get(type_name) {
            self.err(
                Diagnostic::new(ErrorCode::BadLength, "a buffer cannot end at a NUL")
                    .label(len.span, "only arrays take `nul`")
                    .note(
                        "a NUL-terminated string is a `cstr`; an array of strings is `cstr[nul]`",
                    ),
            );
            return None;
        }
        Some(BufLen::Nul)
    }

    /// `if ARG & MASK` on an argument: ARG is another integer, flags or enum
    /// argument; the mask's names are members of its set.
    fn arg_cond(
        &mut self,
        arg: &ast::ArgDecl,
        cond: &ast::ArgCond,
        decl: &ast::SyscallDecl,
        types: &Types<'a>,
    ) -> Option<model::ArgCond> {
        self.call_cond(&arg.name.node, cond, decl, types)
    }

    /// A condition on one of the call's arguments, of the argument `own`
    /// (which it cannot test) or of the return (`own` empty).
    fn call_cond(
        &mut self,
        own: &str,
        cond: &ast::ArgCond,
        decl: &ast::SyscallDecl,
        types: &Types<'a>,
    ) -> Option<model::ArgCond> {
        let siblings: Vec<(&str, &ast::TypeRef)> = decl
            .args
            .iter()
            .map(|a| (a.name.node.as_str(), &a.ty))
            .collect();
        let owner = format!("`{}`", decl.name.node);
        self.cond_on(cond, &siblings, own, ("argument", &owner), types)
    }
}

/// The register of each argument as written, as
/// [`model::Syscall::param_registers`] numbers a checked call's.
pub(super) fn arg_registers(decl: &ast::SyscallDecl) -> Vec<usize> {
    let mut previous: Option<usize> = None;
    decl.args
        .iter()
        .map(|a| {
            let register = match (&a.slot, a.alt, previous) {
                (Some(slot), false, _) => usize::try_from(slot.node).unwrap_or(usize::MAX),
                (_, true, Some(r)) => r,
                (_, _, Some(r)) => r + 1,
                (_, _, None) => 0,
            };
            previous = Some(register);
            register
        })
        .collect()
}

/// Whether `arg` is one of several ways to show a register (`|`).
fn in_alternatives(decl: &ast::SyscallDecl, arg: &ast::ArgDecl) -> bool {
    let Some(i) = decl.args.iter().position(|a| std::ptr::eq(a, arg)) else {
        return false;
    };
    arg.alt || decl.args.get(i + 1).is_some_and(|next| next.alt)
}

/// Whether an argument of this type is an address, so that it can have a
/// direction.
fn points_at_memory(ty: &Ty) -> bool {
    matches!(
        ty,
        Ty::Ptr
            | Ty::CStr
            | Ty::Path
            | Ty::Buf { .. }
            | Ty::HexBuf { .. }
            | Ty::WStr { .. }
            | Ty::FdSet { .. }
            | Ty::CpuSet { .. }
            | Ty::Dirents { .. }
            | Ty::MsgBuf { .. }
            | Ty::Array { .. }
            | Ty::Sized { .. }
            | Ty::Cmsgs { .. }
            | Ty::Struct { .. }
            | Ty::Union { .. }
            | Ty::SigSet { .. }
            | Ty::WaitStatus { .. }
    )
}

/// An input buffer whose length would be the return value (`ret`,
/// `ret_upto(ARG)`), which is not known when the call starts.
fn ret_len_on_input(arg: &ast::ArgDecl, at: Span) -> Diagnostic {
    Diagnostic::new(
        ErrorCode::BadLength,
        format!(
            "input buffer `{}` cannot take its length from the return value",
            arg.name.node
        ),
    )
    .label(at, "the return value is not known when the call starts")
    .note("make it `out buf[ret]`, or name the argument that holds the length")
}
