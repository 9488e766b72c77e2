//! Evaluation of model expressions against a [`Cpu`].
//!
//! This is the interpreter the generic plugin and model tests use; generated
//! code must give the same results, so the semantics are spelled out here:
//! values are 64-bit unsigned and wrap, `>>` is logical, a shift by 64 or
//! more gives 0, comparisons are unsigned and give 0 or 1, loads read in the
//! model's byte order and signed loads sign-extend. Any unreadable register
//! or memory, and division or remainder by zero, make the result `None`.

use crate::cpu::Cpu;
use osm_model::arch::Endian;
use osm_model::{ArgLocation, BinOp, Expr, Mechanism, UnOp};

/// What an expression may refer to besides the CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Env {
    pub endian: Endian,
    /// The value of `Expr::ArgIndex`, inside a mechanism's `args[i]`.
    pub arg_index: Option<u64>,
    /// The value of `Expr::Insn`, the entry instruction, inside a
    /// mechanism's `number` (or a probe's, in the `task` block).
    pub insn: Option<u64>,
    /// The value of the `task` block's `current`, in its other expressions.
    pub current: Option<u64>,
    /// The address of the probe instruction, in the `task` block.
    pub insn_addr: Option<u64>,
}

impl Env {
    pub fn new(endian: Endian) -> Self {
        Env {
            endian,
            arg_index: None,
            insn: None,
            current: None,
            insn_addr: None,
        }
    }

    pub fn with_arg_index(self, index: u64) -> Self {
        Env {
            arg_index: Some(index),
            ..self
        }
    }

    pub fn with_insn(self, insn: u64) -> Self {
        Env {
            insn: Some(insn),
            ..self
        }
    }
}

pub fn eval<C: Cpu + ?Sized>(expr: &Expr, cpu: &C, env: &Env) -> Option<u64> {
    Some(match expr {
        Expr::Const(v) => *v,
        Expr::Reg(id) => cpu.reg(id.0)?,
        Expr::ArgIndex => env.arg_index?,
        Expr::Load {
            bytes,
            signed,
            addr,
        } => {
            let addr = eval(addr, cpu, env)?;
            load(cpu, addr, *bytes, *signed, env.endian)?
        }
        Expr::Unary(op, e) => {
            let v = eval(e, cpu, env)?;
            match op {
                UnOp::Neg => v.wrapping_neg(),
                UnOp::Not => !v,
            }
        }
        Expr::Binary(op, a, b) => {
            let a = eval(a, cpu, env)?;
            let b = eval(b, cpu, env)?;
            binary(*op, a, b)?
        }
        Expr::Insn => env.insn?,
        Expr::Current => env.current?,
        Expr::InsnAddr => env.insn_addr?,
        // Replaced by their values when the plugin loads
        // (`crate::kernel::resolve`); left over, they read as unknown.
        Expr::Kernel(_) => return None,
        Expr::Fallback(a, b) => eval(a, cpu, env).or_else(|| eval(b, cpu, env))?,
        // Only the branch taken is read: the other may name a register or
        // memory that means nothing in this case.
        Expr::Cond(c, a, b) => {
            if eval(c, cpu, env)? != 0 {
                eval(a, cpu, env)?
            } else {
                eval(b, cpu, env)?
            }
        }
    })
}

fn binary(op: BinOp, a: u64, b: u64) -> Option<u64> {
    // Shift counts are not masked (unlike the CPU instructions): a model
    // writing `x >> 64` means "nothing left", not "x".
    let shift = |b: u64| u32::try_from(b).ok().filter(|&s| s < 64);
    Some(match op {
        BinOp::Add => a.wrapping_add(b),
        BinOp::Sub => a.wrapping_sub(b),
        BinOp::Mul => a.wrapping_mul(b),
        BinOp::Div => a.checked_div(b)?,
        BinOp::Rem => a.checked_rem(b)?,
        BinOp::And => a & b,
        BinOp::Or => a | b,
        BinOp::Xor => a ^ b,
        BinOp::Shl => shift(b).map_or(0, |s| a << s),
        BinOp::Shr => shift(b).map_or(0, |s| a >> s),
        BinOp::Eq => u64::from(a == b),
        BinOp::Ne => u64::from(a != b),
        BinOp::Lt => u64::from(a < b),
        BinOp::Le => u64::from(a <= b),
        BinOp::Gt => u64::from(a > b),
        BinOp::Ge => u64::from(a >= b),
    })
}

/// Reads a `size`-byte integer (1..=8) at `addr`; `None` if any byte is
/// unreadable or the size is out of range.
pub fn load<C: Cpu + ?Sized>(
    cpu: &C,
    addr: u64,
    size: u8,
    signed: bool,
    endian: Endian,
) -> Option<u64> {
    let n = usize::from(size);
    if !(1..=8).contains(&n) {
        return None;
    }
    let mut buf = [0u8; 8];
    if cpu.read_mem(addr, &mut buf[..n]) < n {
        return None;
    }
    let raw = crate::cpu::value_from_target_bytes(&buf[..n], endian);
    Some(if signed { sign_extend(raw, size) } else { raw })
}

/// Sign-extends the low `size` bytes of `v`.
pub fn sign_extend(v: u64, size: u8) -> u64 {
    let bits = u32::from(size.clamp(1, 8)) * 8;
    let shift = 64 - bits;
    (((v << shift) as i64) >> shift) as u64
}

/// Keeps the low `size` bytes of `v`.
pub fn truncate(v: u64, size: u8) -> u64 {
    match size {
        1..=7 => v & ((1u64 << (u32::from(size) * 8)) - 1),
        _ => v,
    }
}

/// The raw value of argument `index` of a call entering through `mech`;
/// `None` when the mechanism has no such argument or it is unreadable.
pub fn arg_value<C: Cpu + ?Sized>(
    mech: &Mechanism,
    index: usize,
    cpu: &C,
    endian: Endian,
) -> Option<u64> {
    let env = Env::new(endian);
    match mech.arg_location(index)? {
        ArgLocation::Fixed(e) => eval(e, cpu, &env),
        ArgLocation::Indexed(e, i) => eval(e, cpu, &env.with_arg_index(i)),
    }
}

/// The raw values of the first `count` arguments.
pub fn arg_values<C: Cpu + ?Sized>(
    mech: &Mechanism,
    count: usize,
    cpu: &C,
    endian: Endian,
) -> Vec<Option<u64>> {
    (0..count)
        .map(|i| arg_value(mech, i, cpu, endian))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::SnapshotCpu;
    use crate::testutil::mechanism;
    use osm_model::RegId;

    fn c(v: u64) -> Box<Expr> {
        Box::new(Expr::Const(v))
    }
    fn bin(op: BinOp, a: u64, b: u64) -> Option<u64> {
        eval(
            &Expr::Binary(op, c(a), c(b)),
            &SnapshotCpu::new(),
            &Env::new(Endian::Little),
        )
    }

    #[test]
    fn arithmetic_wraps_and_compares_unsigned() {
        assert_eq!(bin(BinOp::Add, u64::MAX, 2), Some(1));
        assert_eq!(bin(BinOp::Sub, 0, 1), Some(u64::MAX));
        assert_eq!(bin(BinOp::Mul, 1 << 63, 2), Some(0));
        assert_eq!(bin(BinOp::Div, 7, 2), Some(3));
        assert_eq!(bin(BinOp::Rem, 7, 2), Some(1));
        assert_eq!(bin(BinOp::Div, 7, 0), None);
        assert_eq!(bin(BinOp::Rem, 7, 0), None);
        assert_eq!(bin(BinOp::And, 0b1100, 0b1010), Some(0b1000));
        assert_eq!(bin(BinOp::Or, 0b1100, 0b1010), Some(0b1110));
        assert_eq!(bin(BinOp::Xor, 0b1100, 0b1010), Some(0b0110));
        assert_eq!(bin(BinOp::Shr, u64::MAX, 60), Some(0xf)); // logical
        assert_eq!(bin(BinOp::Shl, 1, 63), Some(1 << 63));
        assert_eq!(bin(BinOp::Shl, 1, 64), Some(0));
        assert_eq!(bin(BinOp::Shr, 1, u64::MAX), Some(0));
        assert_eq!(bin(BinOp::Lt, u64::MAX, 1), Some(0)); // unsigned
        assert_eq!(bin(BinOp::Gt, u64::MAX, 1), Some(1));
        assert_eq!(bin(BinOp::Le, 3, 3), Some(1));
        assert_eq!(bin(BinOp::Ge, 2, 3), Some(0));
        assert_eq!(bin(BinOp::Eq, 3, 3), Some(1));
        assert_eq!(bin(BinOp::Ne, 3, 3), Some(0));
    }

    #[test]
    fn unary_ops() {
        let cpu = SnapshotCpu::new();
        let env = Env::new(Endian::Little);
        assert_eq!(
            eval(&Expr::Unary(UnOp::Neg, c(1)), &cpu, &env),
            Some(u64::MAX)
        );
        assert_eq!(
            eval(&Expr::Unary(UnOp::Not, c(0)), &cpu, &env),
            Some(u64::MAX)
        );
    }

    #[test]
    fn registers_and_arg_index() {
        let mut cpu = SnapshotCpu::with_names(["a", "b"]);
        cpu.set_reg(1, 40);
        let env = Env::new(Endian::Little);
        let e = Expr::Binary(
            BinOp::Add,
            Box::new(Expr::Reg(RegId(1))),
            Box::new(Expr::ArgIndex),
        );
        assert_eq!(eval(&e, &cpu, &env), None);
        assert_eq!(eval(&e, &cpu, &env.with_arg_index(2)), Some(42));
        assert_eq!(eval(&Expr::Reg(RegId(0)), &cpu, &env), None);
        assert_eq!(eval(&Expr::Reg(RegId(7)), &cpu, &env), None);
    }

    #[test]
    fn conditional_reads_only_the_branch_taken_and_insn_needs_an_entry() {
        // s390x: `insn & 0xff != 0 ? insn & 0xff : r1`, r1 unreadable.
        let cpu = SnapshotCpu::with_names(["r1"]);
        let imm = Expr::Binary(BinOp::And, Box::new(Expr::Insn), c(0xff));
        let e = Expr::Cond(
            Box::new(Expr::Binary(BinOp::Ne, Box::new(imm.clone()), c(0))),
            Box::new(imm),
            Box::new(Expr::Reg(RegId(0))),
        );
        let env = Env::new(Endian::Big);
        assert_eq!(eval(&e, &cpu, &env.with_insn(0x0a04)), Some(4));
        assert_eq!(eval(&e, &cpu, &env.with_insn(0x0a00)), None);
        assert_eq!(eval(&e, &cpu, &env), None);
        let mut cpu = cpu;
        cpu.set_reg(0, 281);
        assert_eq!(eval(&e, &cpu, &env.with_insn(0x0a00)), Some(281));
    }

    #[test]
    fn loads_in_model_byte_order() {
        let mut cpu = SnapshotCpu::new();
        cpu.map(0x100, vec![0xfe, 0xff, 0xff, 0xff, 0x01, 0x02, 0x03, 0x04]);
        let ld = |bytes, signed, addr, endian| {
            eval(
                &Expr::Load {
                    bytes,
                    signed,
                    addr: c(addr),
                },
                &cpu,
                &Env::new(endian),
            )
        };
        assert_eq!(ld(4, false, 0x100, Endian::Little), Some(0xffff_fffe));
        assert_eq!(ld(4, true, 0x100, Endian::Little), Some(-2i64 as u64));
        assert_eq!(ld(1, true, 0x100, Endian::Little), Some(-2i64 as u64));
        assert_eq!(ld(2, false, 0x104, Endian::Big), Some(0x0102));
        assert_eq!(ld(4, false, 0x104, Endian::Little), Some(0x0403_0201));
        assert_eq!(
            ld(8, false, 0x100, Endian::Big),
            Some(0xfeff_ffff_0102_0304)
        );
        // Partly unreadable, and sizes no model can mean.
        assert_eq!(ld(4, false, 0x106, Endian::Little), None);
        assert_eq!(ld(0, false, 0x100, Endian::Little), None);
        assert_eq!(ld(9, false, 0x100, Endian::Little), None);
    }

    #[test]
    fn nested_loads_like_windows_stack_arguments() {
        // u32[edx + 8 + 4*i]
        let mut cpu = SnapshotCpu::with_names(["edx"]);
        cpu.set_reg(0, 0x1000);
        cpu.map(0x1008, vec![1, 0, 0, 0, 2, 0, 0, 0]);
        let e = Expr::Load {
            bytes: 4,
            signed: false,
            addr: Box::new(Expr::Binary(
                BinOp::Add,
                Box::new(Expr::Binary(
                    BinOp::Add,
                    Box::new(Expr::Reg(RegId(0))),
                    c(8),
                )),
                Box::new(Expr::Binary(BinOp::Mul, c(4), Box::new(Expr::ArgIndex))),
            )),
        };
        let mut mech = mechanism();
        mech.args = vec![Expr::Const(99)];
        mech.args_rest = Some(e);
        assert_eq!(
            arg_values(&mech, 4, &cpu, Endian::Little),
            vec![Some(99), Some(2), None, None]
        );
        mech.args_rest = None;
        assert_eq!(arg_value(&mech, 1, &cpu, Endian::Little), None);
    }

    #[test]
    fn extension_helpers() {
        assert_eq!(sign_extend(0x80, 1), 0xffff_ffff_ffff_ff80);
        assert_eq!(sign_extend(0x7f, 1), 0x7f);
        assert_eq!(sign_extend(0x1234_8000_0000, 4), 0xffff_ffff_8000_0000);
        assert_eq!(sign_extend(5, 8), 5);
        assert_eq!(truncate(0x1234_5678, 2), 0x5678);
        assert_eq!(truncate(u64::MAX, 8), u64::MAX);
        assert_eq!(truncate(u64::MAX, 0), u64::MAX);
    }
}
