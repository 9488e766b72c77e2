//! Expressions: registers, constants, memory reads and operators, checked
//! against the target and given the width in bits of their value.

use super::Checker;
use super::did_you_mean::suggest;
use super::report::{compact_list, quoted_list};
use super::task;
use crate::diag::{Diagnostic, ErrorCode};
use crate::model::{Expr, RegId};
use crate::syntax::ast::{self, BinOp, ExprKind, UnOp};

const LOAD_WIDTHS: &[&str] = &["u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64"];

/// What an expression may name besides registers.
#[derive(Clone, Copy, Default)]
pub(super) struct Scope<'s> {
    /// The argument-index variable, inside `args[i] = ...`.
    pub(super) index_var: Option<&'s str>,
    pub(super) insn: InsnScope,
    /// Inside the `task` block: what its expressions may name.
    pub(super) task: Option<task::TaskScope>,
}

/// Whether `insn` (the entry instruction) is defined where an expression is.
#[derive(Clone, Copy, Default)]
pub(super) enum InsnScope {
    /// Outside a mechanism's `number`.
    #[default]
    Outside,
    /// In `number`, with an entry pattern of this many bytes.
    Bytes(usize),
    /// In `number` of a mechanism whose entry pattern failed its own check.
    Unknown,
}

impl<'s> Scope<'s> {
    pub(super) fn args(index_var: &'s str) -> Self {
        Scope {
            index_var: Some(index_var),
            ..Scope::default()
        }
    }
}

/// The widest entry instruction `insn` can hold: its value is a 64-bit
/// integer.
const MAX_INSN_BYTES: usize = 8;

impl Checker<'_> {
    /// An expression whose value must fit the model's word: a syscall
    /// number, an argument, a return value or an address.
    pub(super) fn word_expr(
        &mut self,
        expr: &ast::Expr,
        scope: Scope<'_>,
        what: &str,
    ) -> Option<Expr> {
        let (checked, width) = self.expr(expr, scope)?;
        if width > self.bits {
            self.err(
                Diagnostic::new(
                    ErrorCode::Width,
                    format!(
                        "{what} is {width} bits wide, but the model is {}-bit",
                        self.bits
                    ),
                )
                .label(expr.span, format!("{width}-bit expression")),
            );
            return None;
        }
        Some(checked)
    }

    /// Checks an expression; returns it with its width in bits.
    pub(super) fn expr(&mut self, expr: &ast::Expr, scope: Scope<'_>) -> Option<(Expr, u32)> {
        let index_var = scope.index_var;
        match &expr.kind {
            ExprKind::Int(value) => {
                if self.bits < 64 && *value >> self.bits != 0 {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::Width,
                            format!(
                                "integer {value:#x} does not fit in the model's {} bits",
                                self.bits
                            ),
                        )
                        .label(expr.span, "too wide"),
                    );
                    return None;
                }
                Some((Expr::Const(*value), self.bits))
            }
            ExprKind::Name(name) => {
                if Some(name.as_str()) == index_var {
                    return Some((Expr::ArgIndex, self.bits));
                }
                if let Some(found) = self.task_name(name, expr.span, scope) {
                    return found;
                }
                let arch = self.arch?;
                let registers = (arch.registers)();
                if let Some((reg, bits)) = registers.iter().find(|(r, _)| r == name) {
                    return Some((Expr::Reg(self.use_register(reg, *bits)), *bits));
                }
                if name == "i" && index_var.is_none() {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::IndexOutsideArgs,
                            "the argument index `i` is only defined in `args[i] = ...`",
                        )
                        .label(expr.span, "not an argument location"),
                    );
                    return None;
                }
                let mut diag = Diagnostic::new(
                    ErrorCode::UnknownRegister,
                    format!("unknown register `{name}` for architecture `{}`", arch.name),
                )
                .label(expr.span, "not a register QEMU exposes for this target");
                diag = suggest(diag, name, registers.iter().map(|(r, _)| r.as_str()));
                if !self.listed_registers {
                    self.listed_registers = true;
                    let names: Vec<&str> = registers.iter().map(|(r, _)| r.as_str()).collect();
                    diag = diag.note(format!("{} registers: {}", arch.name, compact_list(&names)));
                }
                self.err(diag);
                None
            }
            ExprKind::Load { width, addr } => {
                let addr = self.expr(addr, scope);
                let Some(pos) = LOAD_WIDTHS.iter().position(|w| *w == width.node) else {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::UnknownWidth,
                            format!("`{}` is not a memory read width", width.node),
                        )
                        .label(width.span, "unknown width")
                        .note(format!("expected one of {}", quoted_list(LOAD_WIDTHS))),
                    );
                    return None;
                };
                let (addr, addr_width) = addr?;
                if addr_width > self.bits {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::Width,
                            format!("address is {addr_width} bits wide, but the model's addresses are {} bits", self.bits),
                        )
                        .label(width.span, "this read's address is too wide"),
                    );
                    return None;
                }
                let bytes = [1u8, 2, 4, 8][pos % 4];
                let signed = pos >= 4;
                Some((
                    Expr::Load {
                        bytes,
                        signed,
                        addr: Box::new(addr),
                    },
                    if signed { 64 } else { u32::from(bytes) * 8 },
                ))
            }
            ExprKind::Unary(op, inner) => {
                let (inner, width) = self.expr(inner, scope)?;
                let width = if *op == UnOp::Neg {
                    width.max(self.bits)
                } else {
                    width
                };
                Some((Expr::Unary(*op, Box::new(inner)), width))
            }
            ExprKind::Binary(op, a, b) => {
                let lhs = self.expr(a, scope);
                let rhs = self.expr(b, scope);
                let ((lhs, lw), (rhs, rw)) = (lhs?, rhs?);
                // A right shift by the operand's width or more leaves
                // nothing; a left shift widens its operand (`acr0 << 32`)
                // and leaves nothing only from 64 on.
                let limit = if *op == BinOp::Shl { 64 } else { lw };
                if matches!(op, BinOp::Shl | BinOp::Shr)
                    && let Expr::Const(amount) = rhs
                    && amount >= u64::from(limit)
                {
                    let mut diag = Diagnostic::new(
                        ErrorCode::Width,
                        if *op == BinOp::Shl {
                            format!("shift left by {amount} leaves nothing of a 64-bit value")
                        } else {
                            format!("shift by {amount} is not less than the {lw}-bit width of its operand")
                        },
                    )
                    .label(b.span, format!("expected less than {limit}"));
                    if *op == BinOp::Shr {
                        diag = diag.label(a.span, format!("{lw}-bit operand"));
                    }
                    self.err(diag);
                    return None;
                }
                if *op == BinOp::Shl
                    && let Expr::Const(amount) = rhs
                {
                    let width = (u64::from(lw) + amount).min(64) as u32;
                    return Some((Expr::Binary(*op, Box::new(lhs), Box::new(rhs)), width));
                }
                if matches!(op, BinOp::Div | BinOp::Rem) && rhs == Expr::Const(0) {
                    self.err(
                        Diagnostic::new(ErrorCode::BadValue, "division by zero")
                            .label(b.span, "this is zero"),
                    );
                    return None;
                }
                let width = if op.is_comparison() { 1 } else { lw.max(rw) };
                Some((Expr::Binary(*op, Box::new(lhs), Box::new(rhs)), width))
            }
            ExprKind::Insn => match scope.insn {
                InsnScope::Bytes(len) if len <= MAX_INSN_BYTES => {
                    Some((Expr::Insn, len as u32 * 8))
                }
                InsnScope::Bytes(len) => {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::Width,
                            format!("the entry instruction is {len} bytes long, but `insn` holds at most {MAX_INSN_BYTES}"),
                        )
                        .label(expr.span, format!("{} bits", len * 8)),
                    );
                    None
                }
                InsnScope::Unknown => None,
                InsnScope::Outside => {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::InsnOutsideNumber,
                            "`insn`, the entry instruction, is only defined in a mechanism's `number` and `when`",
                        )
                        .label(expr.span, "no entry instruction here")
                        .note("`number = insn & 0xff != 0 ? insn & 0xff : r1;` takes the number from the instruction's immediate"),
                    );
                    None
                }
            },
            ExprKind::Field { .. } | ExprKind::Symbol(_) | ExprKind::Fallback(..) => {
                self.kernel_expr(expr, scope)
            }
            ExprKind::Cond(cond, then, other) => {
                let cond = self.expr(cond, scope);
                let then = self.expr(then, scope);
                let other = self.expr(other, scope);
                let ((cond, _), (then, tw), (other, ow)) = (cond?, then?, other?);
                Some((
                    Expr::Cond(Box::new(cond), Box::new(then), Box::new(other)),
                    tw.max(ow),
                ))
            }
        }
    }

    fn use_register(&mut self, name: &str, bits: u32) -> RegId {
        if let Some(pos) = self.used_regs.iter().position(|(r, _)| r == name) {
            return RegId(pos as u32);
        }
        self.used_regs.push((name.to_string(), bits));
        RegId(self.used_regs.len() as u32 - 1)
    }
}
