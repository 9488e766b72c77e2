//! The checked model as static tables, the way a generated crate holds it:
//! written by the code generator, expanded into a [`crate::Model`] when the
//! plugin loads, with nothing to parse. Types are interned once in
//! [`Model::types`] and named by index; everything else mirrors the
//! checked model with slices and `&'static` references in place of owned
//! vectors, strings and boxes.

pub use crate::At;
use crate::arch::{Arch, Endian};
use crate::{ArgCond, BinOp, BufLen, Direction, IntFormat, KernelTy, UnOp};

pub struct Model {
    pub name: &'static str,
    pub arch: Arch,
    pub bits: u32,
    pub endian: Endian,
    /// Name and width in bits.
    pub registers: &'static [(&'static str, u32)],
    pub thread: Expr,
    pub process: Expr,
    pub mechanisms: &'static [Mechanism],
    /// Every type the model uses, with the name it was written as.
    pub types: &'static [Type],
    /// The files syscalls are declared in; [`Syscall::file`] indexes this.
    pub files: &'static [&'static str],
    pub tables: &'static [Table],
    pub flag_sets: &'static [MemberSet],
    pub enums: &'static [MemberSet],
    /// Value, name and message.
    pub errnos: &'static [(u64, &'static str, &'static str)],
    pub classes: &'static [&'static str],
    pub structs: &'static [StructDef],
    pub unions: &'static [UnionDef],
    pub kernel: Kernel,
    pub task: Option<Task>,
    pub signal: Option<Signal>,
}

/// A type and the name it was written as (`fd` for a 32-bit signed int).
pub struct Type(pub Ty, pub &'static str);

/// [`crate::Ty`], with an array's element type an index into
/// [`Model::types`].
#[derive(Clone, Copy)]
pub enum Ty {
    Void,
    Int(u8, bool, IntFormat),
    Ptr,
    CStr,
    Path,
    Buf(BufLen),
    HexBuf(BufLen),
    WStr(BufLen),
    FdSet(BufLen),
    CpuSet(BufLen),
    Dirents(BufLen),
    MsgBuf(BufLen),
    Flags(u32, u8),
    Enum(u32, u8, bool),
    Struct(u32),
    Union(u32),
    Array(u32, BufLen),
    Sized(u32, BufLen),
    Cmsgs(BufLen, u32, u32),
    SigSet(u32),
    WaitStatus(u32),
}

pub enum Expr {
    Const(u64),
    Reg(u32),
    ArgIndex,
    Load(u8, bool, &'static Expr),
    Unary(UnOp, &'static Expr),
    Binary(BinOp, &'static Expr, &'static Expr),
    Insn,
    Cond(&'static Expr, &'static Expr, &'static Expr),
    Kernel(u32),
    Fallback(&'static Expr, &'static Expr),
    Current,
    InsnAddr,
}

pub struct Pattern(pub &'static [u8], pub &'static [u8], pub Option<At>);

pub struct Mechanism {
    pub name: &'static str,
    pub entry: Pattern,
    pub when: Option<Expr>,
    pub table: u32,
    pub number: Expr,
    pub args: &'static [Expr],
    pub args_rest: Option<Expr>,
    pub ret: Expr,
    pub error: ErrorConvention,
    pub exits: &'static [Exit],
    pub thread: Expr,
    pub process: Expr,
    pub called_from: Option<Expr>,
    pub returns_to: Option<Expr>,
    pub source: &'static str,
}

pub enum ErrorConvention {
    None,
    Negative(u64),
    Flag(Expr),
}

pub struct Exit {
    pub name: &'static str,
    pub pattern: Pattern,
    pub resume: Expr,
    pub kernel_space: bool,
    pub outputs_at_resume: bool,
    pub read_at_resume: bool,
}

pub struct Table {
    pub name: &'static str,
    pub offset: u64,
    pub syscalls: &'static [Syscall],
}

/// Bits of [`Syscall::flags`], one per boolean of [`crate::Syscall`].
pub const NORETURN: u8 = 1;
pub const ENDS_PROCESS: u8 = 2;
pub const RETURNS_TWICE: u8 = 4;
pub const EXEC: u8 = 8;
pub const SIGRETURN: u8 = 16;
pub const RENAMES: u8 = 32;
pub const NAMED: u8 = 64;
pub const ENDS_THREAD: u8 = 128;

pub struct Syscall {
    pub number: u64,
    pub name: &'static str,
    pub args: &'static [Param],
    /// The return type: an index into [`Model::types`].
    pub ret: u32,
    /// What names a successful return ([`crate::Syscall::explain`]).
    pub explain: &'static [RetExplain],
    /// Indices into [`Model::classes`].
    pub classes: &'static [u8],
    pub flags: u8,
    /// Where it is declared: an index into [`Model::files`], and the line.
    pub file: u16,
    pub line: u32,
}

/// [`crate::RetExplain`]: a type, an index into [`Model::types`].
pub struct RetExplain {
    pub ty: u32,
    pub cond: Option<Cond>,
    /// Argument and label.
    pub args: &'static [(u32, &'static str)],
    /// The word before an enum's or a flag set's names, if not the default.
    pub label: Option<&'static str>,
}

/// A syscall without flags; the others are written as
/// `Syscall { flags: EXEC, ..s(...) }`.
pub const fn s(
    number: u64,
    name: &'static str,
    args: &'static [Param],
    ret: u32,
    classes: &'static [u8],
    file: u16,
    line: u32,
) -> Syscall {
    Syscall {
        number,
        name,
        args,
        ret,
        explain: &[],
        classes,
        flags: 0,
        file,
        line,
    }
}

pub struct Param {
    pub name: &'static str,
    pub dir: Direction,
    /// An index into [`Model::types`].
    pub ty: u32,
    pub cond: Option<Cond>,
    /// Shares the previous parameter's register ([`crate::Param::alt`]).
    pub alt: bool,
    pub verbose: bool,
    pub updated: bool,
    pub nonzero: bool,
    pub slot: Option<u8>,
    pub location: Option<Expr>,
}

/// A condition, as [`ArgCond`] but borrowing its values, so that the
/// tables need no drop.
#[derive(Clone, Copy)]
pub struct Cond {
    pub arg: u32,
    pub mask: u64,
    pub values: &'static [u64],
    /// `&& TEST`.
    pub and: Option<&'static Cond>,
}

impl Cond {
    fn expand(self) -> ArgCond {
        ArgCond {
            arg: self.arg,
            mask: self.mask,
            values: std::borrow::Cow::Borrowed(self.values),
            and: self.and.map(|c| Box::new(c.expand())),
        }
    }
}

/// A condition on the argument or field `arg`: the mask, and the values
/// the masked bits must be one of (none: any bit).
pub const fn c(arg: u32, mask: u64, values: &'static [u64]) -> Option<Cond> {
    Some(Cond {
        arg,
        mask,
        values,
        and: None,
    })
}

/// An unconditional parameter.
pub const fn p(name: &'static str, dir: Direction, ty: u32) -> Param {
    Param {
        name,
        dir,
        ty,
        cond: None,
        alt: false,
        verbose: false,
        updated: false,
        nonzero: false,
        slot: None,
        location: None,
    }
}

pub struct MemberSet {
    pub name: &'static str,
    pub bytes: u8,
    pub signed: bool,
    pub rest: IntFormat,
    pub unknown: Option<&'static str>,
    pub verbose: bool,
    pub members: &'static [Member],
}

pub struct Member {
    pub name: &'static str,
    pub value: i128,
    pub mask: Option<u64>,
}

/// A member without a mask.
pub const fn m(name: &'static str, value: i128) -> Member {
    Member {
        name,
        value,
        mask: None,
    }
}

pub struct StructDef {
    pub name: &'static str,
    pub size: u64,
    pub align: u64,
    pub fields: &'static [Field],
    pub dated: bool,
}

pub struct Field {
    pub name: &'static str,
    pub offset: u64,
    /// An index into [`Model::types`].
    pub ty: u32,
    pub count: Option<u64>,
    pub verbose: bool,
    pub cond: Option<Cond>,
    pub io: crate::FieldIo,
    pub alone: bool,
    /// The offset of a split value's high half ([`crate::Field::high`]).
    pub high: Option<u64>,
    pub updated: bool,
    pub trailing: bool,
    pub flat: bool,
    pub written: bool,
}

/// A plain field: one element, always shown.
pub const fn f(name: &'static str, offset: u64, ty: u32) -> Field {
    Field {
        name,
        offset,
        ty,
        count: None,
        verbose: false,
        cond: None,
        io: crate::FieldIo::Both,
        alone: false,
        high: None,
        updated: false,
        trailing: false,
        flat: false,
        written: false,
    }
}

pub struct UnionDef {
    pub name: &'static str,
    pub tag: &'static str,
    pub tag_offset: u64,
    /// An index into [`Model::types`].
    pub tag_ty: u32,
    pub size: u64,
    pub align: u64,
    /// Member, tag value and structure.
    pub cases: &'static [(&'static str, i128, u32)],
}

pub struct Kernel {
    pub structs: &'static [KernelStruct],
    /// Name and the address written in the model.
    pub symbols: &'static [(&'static str, Option<u64>)],
    pub refs: &'static [KernelRef],
}

pub struct KernelStruct {
    pub name: &'static str,
    pub fields: &'static [KernelField],
}

pub struct KernelField {
    pub name: &'static str,
    pub ty: KernelTy,
    pub count: Option<u64>,
    pub offset: Option<u64>,
}

pub enum KernelRef {
    Field { strukt: u32, path: &'static [u32] },
    Symbol(u32),
}

pub struct Task {
    /// Name and pattern.
    pub probes: &'static [(&'static str, Pattern)],
    /// Name and pattern.
    pub return_probes: &'static [(&'static str, Pattern)],
    pub current: Option<Expr>,
    pub tid: Expr,
    pub pid: Expr,
    pub ppid: Option<Expr>,
    /// Address and length.
    pub comm: Option<(Expr, u32)>,
}

pub struct Signal {
    pub number: Expr,
    /// Types, as indices into [`Model::types`].
    pub names: Option<u32>,
    pub pc: Expr,
    pub ret: Expr,
    pub flag: Option<Expr>,
    pub thread: Option<Expr>,
    pub sigreturn_thread: Option<Expr>,
    pub info: Option<Expr>,
    pub siginfo: Option<u32>,
    pub entered: Option<Expr>,
}

impl Model {
    /// The checked model these tables were written from.
    pub fn expand(&self) -> crate::Model {
        let ty = |index: u32| self.ty(index);
        let text = |t: &str| t.to_string();
        crate::Model {
            name: text(self.name),
            arch: self.arch,
            bits: self.bits,
            endian: self.endian,
            registers: self
                .registers
                .iter()
                .map(|&(name, bits)| crate::Register {
                    name: text(name),
                    bits,
                })
                .collect(),
            thread: self.thread.expand(),
            process: self.process.expand(),
            mechanisms: self.mechanisms.iter().map(Mechanism::expand).collect(),
            tables: self.tables.iter().map(|t| self.table(t)).collect(),
            flag_sets: self.flag_sets.iter().map(MemberSet::expand).collect(),
            enums: self.enums.iter().map(MemberSet::expand).collect(),
            errnos: self
                .errnos
                .iter()
                .map(|&(value, name, message)| crate::Errno {
                    name: text(name),
                    value,
                    message: text(message),
                })
                .collect(),
            classes: self.classes.iter().map(|c| text(c)).collect(),
            structs: self
                .structs
                .iter()
                .map(|s| crate::StructDef {
                    name: text(s.name),
                    size: s.size,
                    align: s.align,
                    fields: s
                        .fields
                        .iter()
                        .map(|f| crate::Field {
                            name: text(f.name),
                            offset: f.offset,
                            ty: ty(f.ty),
                            type_name: text(self.type_name(f.ty)),
                            count: f.count,
                            verbose: f.verbose,
                            cond: f.cond.map(Cond::expand),
                            io: f.io,
                            alone: f.alone,
                            high: f.high,
                            updated: f.updated,
                            trailing: f.trailing,
                            flat: f.flat,
                            written: f.written,
                        })
                        .collect(),
                    dated: s.dated,
                })
                .collect(),
            unions: self
                .unions
                .iter()
                .map(|u| crate::UnionDef {
                    name: text(u.name),
                    tag: text(u.tag),
                    tag_offset: u.tag_offset,
                    tag_ty: ty(u.tag_ty),
                    size: u.size,
                    align: u.align,
                    cases: u
                        .cases
                        .iter()
                        .map(|&(member, value, target)| crate::UnionCase {
                            member: text(member),
                            value,
                            target,
                        })
                        .collect(),
                })
                .collect(),
            kernel: self.kernel.expand(),
            task: self.task.as_ref().map(Task::expand),
            signal: self.signal.as_ref().map(|s| crate::Signal {
                number: s.number.expand(),
                names: s.names.map(ty),
                pc: s.pc.expand(),
                ret: s.ret.expand(),
                flag: s.flag.as_ref().map(Expr::expand),
                thread: s.thread.as_ref().map(Expr::expand),
                sigreturn_thread: s.sigreturn_thread.as_ref().map(Expr::expand),
                info: s.info.as_ref().map(Expr::expand),
                siginfo: s.siginfo.map(ty),
                entered: s.entered.as_ref().map(Expr::expand),
            }),
        }
    }

    fn ty(&self, index: u32) -> crate::Ty {
        match self.types[index as usize].0 {
            Ty::Void => crate::Ty::Void,
            Ty::Int(bytes, signed, format) => crate::Ty::Int {
                bytes,
                signed,
                format,
            },
            Ty::Ptr => crate::Ty::Ptr,
            Ty::CStr => crate::Ty::CStr,
            Ty::Path => crate::Ty::Path,
            Ty::Buf(len) => crate::Ty::Buf { len },
            Ty::HexBuf(len) => crate::Ty::HexBuf { len },
            Ty::WStr(len) => crate::Ty::WStr { len },
            Ty::FdSet(len) => crate::Ty::FdSet { len },
            Ty::CpuSet(len) => crate::Ty::CpuSet { len },
            Ty::Dirents(len) => crate::Ty::Dirents { len },
            Ty::MsgBuf(len) => crate::Ty::MsgBuf { len },
            Ty::Flags(set, bytes) => crate::Ty::Flags { set, bytes },
            Ty::Enum(set, bytes, signed) => crate::Ty::Enum { set, bytes, signed },
            Ty::Struct(id) => crate::Ty::Struct { id },
            Ty::Union(id) => crate::Ty::Union { id },
            Ty::Array(elem, len) => crate::Ty::Array {
                elem: Box::new(self.ty(elem)),
                len,
            },
            Ty::Sized(target, len) => crate::Ty::Sized {
                target: Box::new(self.ty(target)),
                len,
            },
            Ty::Cmsgs(len, levels, types) => crate::Ty::Cmsgs { len, levels, types },
            Ty::SigSet(names) => crate::Ty::SigSet { names },
            Ty::WaitStatus(names) => crate::Ty::WaitStatus { names },
        }
    }

    fn type_name(&self, index: u32) -> &'static str {
        self.types[index as usize].1
    }

    fn table(&self, table: &Table) -> crate::Table {
        crate::Table {
            name: table.name.to_string(),
            offset: table.offset,
            syscalls: table
                .syscalls
                .iter()
                .map(|s| crate::Syscall {
                    number: s.number,
                    name: s.name.to_string(),
                    args: s
                        .args
                        .iter()
                        .map(|a| crate::Param {
                            name: a.name.into(),
                            dir: a.dir,
                            ty: self.ty(a.ty),
                            type_name: self.type_name(a.ty).into(),
                            cond: a.cond.map(Cond::expand),
                            alt: a.alt,
                            verbose: a.verbose,
                            updated: a.updated,
                            nonzero: a.nonzero,
                            slot: a.slot,
                            location: a.location.as_ref().map(Expr::expand),
                        })
                        .collect(),
                    ret: self.ty(s.ret),
                    ret_name: self.type_name(s.ret).to_string(),
                    explain: s
                        .explain
                        .iter()
                        .map(|e| crate::RetExplain {
                            ty: self.ty(e.ty),
                            cond: e.cond.map(Cond::expand),
                            args: e
                                .args
                                .iter()
                                .map(|&(arg, label)| crate::ExplainArg {
                                    arg,
                                    label: label.to_string(),
                                })
                                .collect(),
                            label: e.label.map(str::to_string),
                        })
                        .collect(),
                    noreturn: s.flags & NORETURN != 0,
                    ends_process: s.flags & ENDS_PROCESS != 0,
                    returns_twice: s.flags & RETURNS_TWICE != 0,
                    exec: s.flags & EXEC != 0,
                    sigreturn: s.flags & SIGRETURN != 0,
                    renames: s.flags & RENAMES != 0,
                    named: s.flags & NAMED != 0,
                    ends_thread: s.flags & ENDS_THREAD != 0,
                    classes: s
                        .classes
                        .iter()
                        .map(|&c| self.classes[c as usize].to_string())
                        .collect(),
                    source: format!("{}:{}", self.files[s.file as usize], s.line),
                })
                .collect(),
        }
    }
}

impl Expr {
    pub fn expand(&self) -> crate::Expr {
        let boxed = |e: &Expr| Box::new(e.expand());
        match *self {
            Expr::Const(v) => crate::Expr::Const(v),
            Expr::Reg(r) => crate::Expr::Reg(crate::RegId(r)),
            Expr::ArgIndex => crate::Expr::ArgIndex,
            Expr::Load(bytes, signed, addr) => crate::Expr::Load {
                bytes,
                signed,
                addr: boxed(addr),
            },
            Expr::Unary(op, e) => crate::Expr::Unary(op, boxed(e)),
            Expr::Binary(op, a, b) => crate::Expr::Binary(op, boxed(a), boxed(b)),
            Expr::Insn => crate::Expr::Insn,
            Expr::Cond(c, a, b) => crate::Expr::Cond(boxed(c), boxed(a), boxed(b)),
            Expr::Kernel(i) => crate::Expr::Kernel(i),
            Expr::Fallback(a, b) => crate::Expr::Fallback(boxed(a), boxed(b)),
            Expr::Current => crate::Expr::Current,
            Expr::InsnAddr => crate::Expr::InsnAddr,
        }
    }
}

impl Pattern {
    pub fn expand(&self) -> crate::Pattern {
        crate::Pattern {
            bytes: self.0.to_vec(),
            mask: self.1.to_vec(),
            at: self.2,
        }
    }
}

impl Mechanism {
    fn expand(&self) -> crate::Mechanism {
        crate::Mechanism {
            name: self.name.to_string(),
            entry: self.entry.expand(),
            when: self.when.as_ref().map(Expr::expand),
            table: crate::TableId(self.table),
            number: self.number.expand(),
            args: self.args.iter().map(Expr::expand).collect(),
            args_rest: self.args_rest.as_ref().map(Expr::expand),
            ret: self.ret.expand(),
            error: match &self.error {
                ErrorConvention::None => crate::ErrorConvention::None,
                ErrorConvention::Negative(max) => crate::ErrorConvention::Negative { max: *max },
                ErrorConvention::Flag(e) => crate::ErrorConvention::Flag(e.expand()),
            },
            exits: self
                .exits
                .iter()
                .map(|e| crate::Exit {
                    name: e.name.to_string(),
                    pattern: e.pattern.expand(),
                    resume: e.resume.expand(),
                    kernel_space: e.kernel_space,
                    outputs_at_resume: e.outputs_at_resume,
                    read_at_resume: e.read_at_resume,
                })
                .collect(),
            thread: self.thread.expand(),
            process: self.process.expand(),
            called_from: self.called_from.as_ref().map(Expr::expand),
            returns_to: self.returns_to.as_ref().map(Expr::expand),
            source: self.source.to_string(),
        }
    }
}

impl MemberSet {
    fn expand(&self) -> crate::MemberSet {
        crate::MemberSet {
            name: self.name.to_string(),
            bytes: self.bytes,
            signed: self.signed,
            members: self
                .members
                .iter()
                .map(|m| crate::Member {
                    name: m.name.to_string(),
                    value: m.value,
                    mask: m.mask,
                })
                .collect(),
            rest: self.rest,
            unknown: self.unknown.map(str::to_string),
            verbose: self.verbose,
        }
    }
}

impl Kernel {
    fn expand(&self) -> crate::Kernel {
        crate::Kernel {
            structs: self
                .structs
                .iter()
                .map(|s| crate::KernelStruct {
                    name: s.name.to_string(),
                    fields: s
                        .fields
                        .iter()
                        .map(|f| crate::KernelField {
                            name: f.name.to_string(),
                            ty: f.ty,
                            count: f.count,
                            offset: f.offset,
                        })
                        .collect(),
                })
                .collect(),
            symbols: self
                .symbols
                .iter()
                .map(|&(name, address)| crate::KernelSymbol {
                    name: name.to_string(),
                    address,
                })
                .collect(),
            refs: self
                .refs
                .iter()
                .map(|r| match r {
                    KernelRef::Field { strukt, path } => crate::KernelRef::Field {
                        strukt: *strukt,
                        path: path.to_vec(),
                    },
                    KernelRef::Symbol(i) => crate::KernelRef::Symbol(*i),
                })
                .collect(),
        }
    }
}

fn expand_probes(probes: &[(&str, Pattern)]) -> Vec<crate::Probe> {
    probes
        .iter()
        .map(|(name, pattern)| crate::Probe {
            name: name.to_string(),
            pattern: pattern.expand(),
        })
        .collect()
}

impl Task {
    fn expand(&self) -> crate::Task {
        crate::Task {
            probes: expand_probes(self.probes),
            return_probes: expand_probes(self.return_probes),
            current: self.current.as_ref().map(Expr::expand),
            tid: self.tid.expand(),
            pid: self.pid.expand(),
            ppid: self.ppid.as_ref().map(Expr::expand),
            comm: self.comm.as_ref().map(|(addr, len)| crate::CommRead {
                addr: addr.expand(),
                len: *len,
            }),
        }
    }
}
