//! The checked model: everything resolved, sorted and independent of the
//! syntax, and the facts of each target architecture. The compiler
//! produces it; code generation and the runtime consume only this, so that
//! a plugin never depends on the compiler.

pub mod arch;
pub mod embedded;
mod ops;

use crate::arch::{Arch, Endian};
pub use ops::{BinOp, Direction, UnOp};
use serde::{Deserialize, Serialize};
use std::fmt::{self, Write};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub name: String,
    pub arch: Arch,
    pub bits: u32,
    pub endian: Endian,
    /// Registers the model reads, sorted by name; `Expr::Reg` indexes this.
    pub registers: Vec<Register>,
    pub thread: Expr,
    pub process: Expr,
    pub mechanisms: Vec<Mechanism>,
    pub tables: Vec<Table>,
    pub flag_sets: Vec<MemberSet>,
    pub enums: Vec<MemberSet>,
    /// Sorted by value; several names may share one value (the first wins).
    pub errnos: Vec<Errno>,
    pub classes: Vec<String>,
    /// Structures in guest memory, sorted by name; `Ty::Struct` indexes this.
    #[serde(default)]
    pub structs: Vec<StructDef>,
    /// Tagged unions of structures, sorted by name; `Ty::Union` indexes this.
    #[serde(default)]
    pub unions: Vec<UnionDef>,
    /// Kernel structures and symbols the `task` block names; `Expr::Kernel`
    /// indexes their references.
    #[serde(default, skip_serializing_if = "Kernel::is_empty")]
    pub kernel: Kernel,
    /// How to find the calling task and read its names (pid, tid, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<Task>,
    /// How a signal handler is entered: where the signal frame keeps what
    /// the handler interrupted, and the signal's information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<Signal>,
}

/// The `signal` block. Its expressions are read at a kernel exit that
/// returns a thread with a pending call somewhere else than the call's
/// return address: into a signal handler, with the frame the kernel built
/// on the user stack (registers are the handler's first ones then).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// The signal number.
    pub number: Expr,
    /// The enum that names signal numbers.
    pub names: Option<Ty>,
    /// The user address the interrupted code resumes at when the handler
    /// returns, saved in the frame: the call's return address when the
    /// call returned into the handler, its entry instruction when the
    /// kernel restarts it after the handler.
    pub pc: Expr,
    /// The interrupted call's return register, saved in the frame.
    pub ret: Expr,
    /// The interrupted call's error flag, saved in the frame, for
    /// mechanisms whose errors are `flag(...)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag: Option<Expr>,
    /// The interrupted thread's identity, saved in the frame, where the
    /// model's `thread` reads differently in the handler (MIPS's sp).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<Expr>,
    /// Read at a `sigreturn` call's entry: the identity of the thread it
    /// returns to, saved in the frame, where it differs from the handler's
    /// (MIPS's sp); the call's return is then paired on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigreturn_thread: Option<Expr>,
    /// The address of the signal's information (`siginfo_t`), when the
    /// frame has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<Expr>,
    /// Its type: a structure or union.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub siginfo: Option<Ty>,
    /// Nonzero at a kernel exit that enters a handler without a call to
    /// return from (the signal interrupted user code): the frame's mark
    /// in the registers the kernel set for the handler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entered: Option<Expr>,
}

impl Signal {
    /// Every expression of the block, for walks over all of them.
    pub fn exprs_mut(&mut self) -> impl Iterator<Item = &mut Expr> {
        [&mut self.number, &mut self.pc, &mut self.ret]
            .into_iter()
            .chain(self.flag.as_mut())
            .chain(self.thread.as_mut())
            .chain(self.sigreturn_thread.as_mut())
            .chain(self.info.as_mut())
            .chain(self.entered.as_mut())
    }
}

/// What a model names of the traced kernel. Offsets and addresses come
/// from the kernel itself when the plugin loads (its BTF or an ISF
/// profile); the values written in the model (`at`) serve kernels that
/// describe neither.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Kernel {
    /// Sorted by name; `KernelTy::Struct` indexes this.
    pub structs: Vec<KernelStruct>,
    /// Sorted by name.
    pub symbols: Vec<KernelSymbol>,
    /// Every field offset and symbol address the model's expressions use,
    /// in order of first use; `Expr::Kernel` indexes this.
    pub refs: Vec<KernelRef>,
}

impl Kernel {
    pub fn is_empty(&self) -> bool {
        self.structs.is_empty() && self.symbols.is_empty() && self.refs.is_empty()
    }

    /// How a reference reads in the model: `task_struct.pid`, `&current_task`.
    pub fn ref_name(&self, r: &KernelRef) -> String {
        match r {
            KernelRef::Symbol(i) => format!("&{}", self.symbols[*i as usize].name),
            KernelRef::Field { strukt, path } => {
                let mut text = self.structs[*strukt as usize].name.clone();
                let mut at = *strukt;
                for &f in path {
                    let field = &self.structs[at as usize].fields[f as usize];
                    text.push('.');
                    text.push_str(&field.name);
                    if let KernelTy::Struct(inner) = field.ty {
                        at = inner;
                    }
                }
                text
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelStruct {
    pub name: String,
    pub fields: Vec<KernelField>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelField {
    pub name: String,
    pub ty: KernelTy,
    /// An inline array of this many elements (`char comm[16]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// The offset written in the model, for kernels that describe none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

impl KernelField {
    /// Bytes one element takes, where the model can tell (`None` for an
    /// embedded kernel structure, whose size only the kernel knows).
    pub fn elem_bytes(&self, bits: u32) -> Option<u64> {
        match self.ty {
            KernelTy::Int { bytes, .. } => Some(u64::from(bytes)),
            KernelTy::Ptr => Some(u64::from(bits / 8)),
            KernelTy::Char => Some(1),
            KernelTy::Struct(_) => None,
        }
    }
}

/// The type a model gives a kernel field: checked against the kernel's own
/// when the plugin loads, so that a model reading `i32 pid` is refused for
/// a kernel whose `pid` is something else.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KernelTy {
    Int {
        bytes: u8,
        signed: bool,
    },
    Ptr,
    Char,
    /// An embedded kernel structure: index into `Kernel::structs`.
    Struct(u32),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelSymbol {
    pub name: String,
    /// The address written in the model, for kernels that describe none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<u64>,
}

/// A number only the traced kernel knows.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KernelRef {
    /// The offset of a field in a structure, through embedded structures:
    /// indices into `Kernel::structs` and each structure's fields.
    Field { strukt: u32, path: Vec<u32> },
    /// The address of a symbol as the kernel is linked (for a per-CPU
    /// variable, its offset in the per-CPU area): index into
    /// `Kernel::symbols`.
    Symbol(u32),
}

/// How the tracer names the task that makes a call. Without `probes` the
/// expressions are read at the entry instruction; with them, at the first
/// of those kernel instructions that runs on the vCPU after the entry,
/// where the kernel's own memory and registers are at hand.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// Sorted by name.
    pub probes: Vec<Probe>,
    /// Kernel instructions on the way back to user mode, the last to read
    /// the returning task before the exit instruction: they tell apart
    /// tasks whose calls have the same identity. Sorted by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub return_probes: Vec<Probe>,
    /// The kernel's pointer to the task (`Expr::Current` in the others).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<Expr>,
    pub tid: Expr,
    pub pid: Expr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ppid: Option<Expr>,
    /// The command name: a NUL-terminated string of at most `len` bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comm: Option<CommRead>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    pub name: String,
    pub pattern: Pattern,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommRead {
    pub addr: Expr,
    pub len: u32,
}

impl Task {
    /// Every expression of the block, for walks over all of them.
    pub fn exprs_mut(&mut self) -> impl Iterator<Item = &mut Expr> {
        self.current
            .iter_mut()
            .chain([&mut self.tid, &mut self.pid])
            .chain(self.ppid.iter_mut())
            .chain(self.comm.iter_mut().map(|c| &mut c.addr))
    }

    pub fn exprs(&self) -> impl Iterator<Item = &Expr> {
        self.current
            .iter()
            .chain([&self.tid, &self.pid])
            .chain(self.ppid.iter())
            .chain(self.comm.iter().map(|c| &c.addr))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Register {
    pub name: String,
    pub bits: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RegId(pub u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TableId(pub u32);

/// An expression over guest state. Values are 64-bit unsigned and wrap;
/// `>>` is logical; comparisons are unsigned and give 0 or 1. Signed loads
/// sign-extend to 64 bits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Expr {
    Const(u64),
    Reg(RegId),
    /// The argument index, inside a mechanism's `args[i]`.
    ArgIndex,
    Load {
        bytes: u8,
        signed: bool,
        addr: Box<Expr>,
    },
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// The entry instruction, inside a mechanism's `number`: its bytes (at
    /// most 8, the entry pattern's length) as one unsigned integer in the
    /// model's byte order. Known when QEMU translates the instruction.
    Insn,
    /// The second operand when the first is non-zero, otherwise the third;
    /// only the one chosen is evaluated.
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    /// A number only the traced kernel knows (`task_struct.pid`,
    /// `&current_task`): index into `Kernel::refs`. Replaced by its value
    /// when the plugin loads; only the `task` block has them.
    Kernel(u32),
    /// The first operand, unless it names something the traced kernel
    /// does not have; then the second. Chosen when the plugin loads.
    Fallback(Box<Expr>, Box<Expr>),
    /// The value of the `task` block's `current`, in its other expressions.
    Current,
    /// The address of the instruction the expression is read at: a
    /// `task` probe's.
    InsnAddr,
}

impl Expr {
    /// Whether `pred` holds for the expression or any part of it.
    pub fn any(&self, pred: &impl Fn(&Expr) -> bool) -> bool {
        pred(self)
            || match self {
                Expr::Const(_)
                | Expr::Reg(_)
                | Expr::ArgIndex
                | Expr::Insn
                | Expr::Kernel(_)
                | Expr::Current
                | Expr::InsnAddr => false,
                Expr::Load { addr, .. } => addr.any(pred),
                Expr::Unary(_, e) => e.any(pred),
                Expr::Binary(_, a, b) | Expr::Fallback(a, b) => a.any(pred) || b.any(pred),
                Expr::Cond(c, a, b) => c.any(pred) || a.any(pred) || b.any(pred),
            }
    }

    /// Whether the expression reads the entry instruction (`insn`).
    pub fn uses_insn(&self) -> bool {
        self.any(&|e| matches!(e, Expr::Insn))
    }

    /// Whether the expression reads a register or guest memory (a constant
    /// identity such as MIPS's `process = 0` does not).
    pub fn reads_cpu(&self) -> bool {
        self.any(&|e| matches!(e, Expr::Reg(_) | Expr::Load { .. }))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pattern {
    /// Bytes in memory order; an instruction matches when its length equals
    /// `bytes.len()` and `insn[k] & mask[k] == bytes[k]` for every k.
    pub bytes: Vec<u8>,
    pub mask: Vec<u8>,
    /// Where the instruction must be, when that is what tells it apart
    /// (one slot of an exception vector table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<At>,
}

impl Pattern {
    /// Whether the instruction `insn`, at address `addr`, is this pattern's.
    pub fn matches(&self, addr: u64, insn: &[u8]) -> bool {
        At::holds(self.at, addr) && pattern_matches(&self.bytes, &self.mask, insn)
    }
}

/// `at VALUE mask MASK`: an instruction's address, masked, must be `value`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct At {
    pub value: u64,
    pub mask: u64,
}

impl At {
    /// Whether an instruction at `addr` may match a pattern placed `at`
    /// (every address may when the pattern says nothing).
    pub fn holds(at: Option<At>, addr: u64) -> bool {
        at.is_none_or(|at| addr & at.mask == at.value)
    }
}

/// Whether instruction bytes `insn` match a pattern's `bytes` and `mask`:
/// the same length, and every masked byte equal.
pub fn pattern_matches(bytes: &[u8], mask: &[u8], insn: &[u8]) -> bool {
    insn.len() == bytes.len()
        && insn
            .iter()
            .zip(bytes)
            .zip(mask)
            .all(|((byte, want), mask)| byte & mask == *want)
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mechanism {
    pub name: String,
    pub entry: Pattern,
    /// The mechanism takes an entry instruction only when this, read there,
    /// is non-zero (a 32-bit `syscall` on x86_64 by its code segment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Expr>,
    pub table: TableId,
    pub number: Expr,
    /// Locations of the first arguments, in order.
    pub args: Vec<Expr>,
    /// Location of every later argument, as a function of `ArgIndex`.
    pub args_rest: Option<Expr>,
    pub ret: Expr,
    pub error: ErrorConvention,
    pub exits: Vec<Exit>,
    pub thread: Expr,
    pub process: Expr,
    /// Read at the entry: the address of the instruction that made the
    /// call, when the entry is elsewhere (a kernel's exception vector);
    /// otherwise the entry instruction's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub called_from: Option<Expr>,
    /// Read at the entry: where the call returns to, when the entry is
    /// elsewhere; otherwise the instruction after the entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub returns_to: Option<Expr>,
    /// Where the mechanism is declared, for comments in generated code.
    pub source: String,
}

impl Mechanism {
    /// Every expression of the mechanism and its exits, for walks over
    /// all of them.
    pub fn exprs(&self) -> impl Iterator<Item = &Expr> {
        let flag = match &self.error {
            ErrorConvention::Flag(e) => Some(e),
            _ => None,
        };
        [&self.number, &self.ret, &self.thread, &self.process]
            .into_iter()
            .chain(self.when.iter())
            .chain(self.args.iter())
            .chain(self.args_rest.iter())
            .chain(flag)
            .chain(self.called_from.iter())
            .chain(self.returns_to.iter())
            .chain(self.exits.iter().map(|e| &e.resume))
    }

    pub fn exprs_mut(&mut self) -> impl Iterator<Item = &mut Expr> {
        let flag = match &mut self.error {
            ErrorConvention::Flag(e) => Some(e),
            _ => None,
        };
        [
            &mut self.number,
            &mut self.ret,
            &mut self.thread,
            &mut self.process,
        ]
        .into_iter()
        .chain(self.when.iter_mut())
        .chain(self.args.iter_mut())
        .chain(self.args_rest.iter_mut())
        .chain(flag)
        .chain(self.called_from.iter_mut())
        .chain(self.returns_to.iter_mut())
        .chain(self.exits.iter_mut().map(|e| &mut e.resume))
    }

    /// The location of argument `index`, if the mechanism has one.
    pub fn arg_location(&self, index: usize) -> Option<ArgLocation<'_>> {
        match self.args.get(index) {
            Some(expr) => Some(ArgLocation::Fixed(expr)),
            None => self
                .args_rest
                .as_ref()
                .map(|expr| ArgLocation::Indexed(expr, index as u64)),
        }
    }

    pub fn max_args(&self) -> Option<usize> {
        if self.args_rest.is_some() {
            None
        } else {
            Some(self.args.len())
        }
    }
}

pub enum ArgLocation<'m> {
    Fixed(&'m Expr),
    Indexed(&'m Expr, u64),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorConvention {
    /// No errors are recognised (the return value is shown as is).
    None,
    /// A return value in `-max..=-1` (as a signed value of the model's
    /// width) is an error; its errno is the negated value.
    Negative { max: u64 },
    /// The call failed when the expression, read at exit, is non-zero; the
    /// return value is then the errno.
    Flag(Expr),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Exit {
    pub name: String,
    pub pattern: Pattern,
    /// Read at the exit instruction: the user address it returns to.
    pub resume: Expr,
    /// Guest memory read at this exit is the kernel's address space, not
    /// the caller's (s390x's `lpswe` runs in the kernel's home space): no
    /// user pointer is followed here, so outputs show as their address.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub kernel_space: bool,
    /// User memory is not readable at this exit (another address space, or
    /// the kernel's protection of user pages): a call's outputs are decoded
    /// at the first instruction its thread runs at the resume address.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub outputs_at_resume: bool,
    /// Nothing the call needs is readable at this exit (MIPS's `eret`:
    /// EPC is not served): its resume, identity, return value and outputs
    /// are read at the first instruction the vCPU runs after it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_at_resume: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub name: String,
    pub offset: u64,
    /// Sorted by number; numbers include the offset.
    pub syscalls: Vec<Syscall>,
}

impl Table {
    pub fn find(&self, number: u64) -> Option<&Syscall> {
        self.syscalls
            .binary_search_by_key(&number, |s| s.number)
            .ok()
            .map(|i| &self.syscalls[i])
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Syscall {
    pub number: u64,
    pub name: String,
    pub args: Vec<Param>,
    pub ret: Ty,
    /// The return type as written, for output that names types.
    pub ret_name: String,
    /// What names a successful return (an enum or flag set), the first
    /// whose condition holds: strace's `= 0 (SCHED_OTHER)`, `= 0x1 (flags
    /// FD_CLOEXEC)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub explain: Vec<RetExplain>,
    pub noreturn: bool,
    /// Ends the caller's whole process (`exit_group`), with the status in
    /// its first argument's low 8 bits: strace's `+++ exited with N +++`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ends_process: bool,
    pub returns_twice: bool,
    /// A successful call replaces the process image (`execve`).
    pub exec: bool,
    /// Restores a signal frame: returns to where the signal interrupted.
    pub sigreturn: bool,
    /// May change the caller's names (`prctl(PR_SET_NAME)`): the tracer
    /// reads them again afterwards.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub renames: bool,
    /// Arguments show as `NAME=VALUE`, as strace shows clone's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub named: bool,
    /// Ends the calling thread (`exit`), with the status in its first
    /// argument's low 8 bits: strace's `[pid 85] +++ exited with 0 +++`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ends_thread: bool,
    pub classes: Vec<String>,
    pub source: String,
}

/// One way to name a successful return ([`Syscall::explain`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RetExplain {
    /// An enum or a flag set, or the type of `arg`.
    pub ty: Ty,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cond: Option<ArgCond>,
    /// `inout` arguments shown as the kernel left them after the return,
    /// each after its label if it has one: strace's `= 1 ([{fd=3,
    /// revents=POLLIN}])`, `= 2 (in [3], out [4])`; the arguments' places
    /// show them as at entry. Empty for an enum or a flag set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<ExplainArg>,
    /// The word before an enum's or a flag set's names, when not the
    /// default (`flags` for a flag set, none for an enum); empty for none:
    /// strace's `= 0x40000 (PER_LINUX|ADDR_NO_RANDOMIZE)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// An argument in a return's explanation ([`RetExplain::args`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExplainArg {
    /// An index into [`Syscall::args`].
    pub arg: u32,
    /// Written before it (`in`), or empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub label: String,
}

impl Syscall {
    /// Whether a return's explanation shows argument `index`.
    pub fn explains_with(&self, index: usize) -> bool {
        self.explain
            .iter()
            .any(|e| e.args.iter().any(|a| a.arg as usize == index))
    }
}

/// Registers a call's arguments may take (`at N` is below it).
pub const MAX_REGISTERS: u64 = 20;

impl Syscall {
    /// The registers its arguments take: as many as the highest one used.
    pub fn registers(&self) -> usize {
        self.param_registers().max().map_or(0, |r| r + 1)
    }

    /// The register of each parameter, in order: its `slot`, else the
    /// previous one's for an alternative (`|`), else the next.
    pub fn param_registers(&self) -> impl Iterator<Item = usize> + '_ {
        let mut previous: Option<usize> = None;
        self.args.iter().map(move |p| {
            let register = match (p.slot, p.alt, previous) {
                (Some(slot), _, _) => usize::from(slot),
                (None, true, Some(r)) => r,
                (None, _, Some(r)) => r + 1,
                (None, _, None) => 0,
            };
            previous = Some(register);
            register
        })
    }
}

/// A name every decoded argument carries (a parameter's name, its type's
/// name). Interned once per process, so copying one into each call's
/// arguments costs neither an allocation nor a reference count (an atomic
/// operation per argument, on the tracer's hot path, when it was an
/// `Arc<str>`). The set of names is that of the models loaded, so what is
/// interned stays small.
#[derive(Clone, Copy)]
pub struct Name(&'static Interned);

/// A name's text and its JSON string literal, made once rather than on
/// every event: jsonl writes the names with every argument.
struct Interned {
    text: &'static str,
    json: &'static str,
}

static EMPTY: Interned = Interned {
    text: "",
    json: "\"\"",
};

impl Name {
    pub fn new(text: &str) -> Self {
        type Names = std::collections::HashMap<&'static str, &'static Interned>;
        static INTERNED: std::sync::Mutex<Option<Names>> = std::sync::Mutex::new(None);
        let mut guard = INTERNED.lock().unwrap_or_else(|e| e.into_inner());
        let names = guard.get_or_insert_with(Default::default);
        if let Some(existing) = names.get(text) {
            return Name(existing);
        }
        let json = serde_json::to_string(text).expect("a string serializes");
        let interned: &'static Interned = Box::leak(Box::new(Interned {
            text: Box::leak(text.to_string().into_boxed_str()),
            json: Box::leak(json.into_boxed_str()),
        }));
        names.insert(interned.text, interned);
        Name(interned)
    }

    pub fn as_str(self) -> &'static str {
        self.0.text
    }

    /// The name as a JSON string literal, quotes included.
    pub fn json(self) -> &'static str {
        self.0.json
    }
}

impl Default for Name {
    fn default() -> Self {
        Name(&EMPTY)
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.0.text == other.0.text
    }
}

impl Eq for Name {}

impl std::hash::Hash for Name {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.text.hash(state);
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Name) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Name) -> std::cmp::Ordering {
        self.0.text.cmp(other.0.text)
    }
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        self.0.text
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        self.0.text
    }
}

impl From<&str> for Name {
    fn from(text: &str) -> Self {
        Name::new(text)
    }
}

impl From<String> for Name {
    fn from(text: String) -> Self {
        Name::new(&text)
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.0.text == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.0.text == *other
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0.text, f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.text)
    }
}

impl Serialize for Name {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.text)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(Name::new(&text))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Param {
    /// Shared with every decoded argument (`Arg::name`): a call copies a
    /// pointer.
    pub name: Name,
    pub dir: Direction,
    pub ty: Ty,
    /// The type as written (an alias such as `fd` or `HANDLE`).
    pub type_name: Name,
    /// Shown only when its condition on another argument holds
    /// (`openat`'s mode only matters with `O_CREAT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cond: Option<ArgCond>,
    /// Another way to show the previous parameter's register (`|` in the
    /// language): of a register's parameters, the first whose condition
    /// holds is shown.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub alt: bool,
    /// The register it is in, counted from 0, where the arguments are
    /// written in the order they show (`at N`); otherwise the one after
    /// the previous argument's (an alternative shares it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<u8>,
    /// Shown whole only with `verbose=on` (strace's `-v`): otherwise a
    /// NUL-terminated array shows as its address and how many elements it
    /// has, as strace shows execve's environment (`0x7ffd... /* 3 vars */`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub verbose: bool,
    /// An `inout` value the kernel changed shows as its value at entry,
    /// ` => ` and its value at exit, as strace shows sendfile's offset:
    /// `[0] => [4]` (without it, `[128 => 16]`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub updated: bool,
    /// An output the kernel writes only when the call returns a value
    /// other than 0 (`nonzero`): after a 0 it shows as its address, as
    /// strace shows wait4's status when WNOHANG found no child.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub nonzero: bool,
    /// Where a value no register holds is (`at (EXPR)`), read at the
    /// call's entry into the parameter's register slot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Expr>,
}

/// `if ARG & MASK`, `if ARG == VALUE`, `if ARG in (VALUE, ...)` or the
/// latter two after `& MASK`, resolved: the index of the argument (or
/// field) tested, the mask (the tested type's bits for the whole value),
/// and the values the masked bits must be one of (none: any of the mask's
/// bits will do).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArgCond {
    pub arg: u32,
    pub mask: u64,
    #[serde(default, skip_serializing_if = "<[u64]>::is_empty")]
    pub values: std::borrow::Cow<'static, [u64]>,
    /// `&& TEST`: another test that must hold too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub and: Option<Box<ArgCond>>,
}

impl ArgCond {
    /// Whether this one test holds for the tested value.
    pub fn test(&self, tested: u64) -> bool {
        match &*self.values {
            [] => tested & self.mask != 0,
            values => values.contains(&(tested & self.mask)),
        }
    }

    /// Whether every test holds, `value` giving each tested argument's (or
    /// field's) value; a test whose value is unknown counts as `unknown`.
    pub fn holds(&self, value: impl Fn(u32) -> Option<u64>, unknown: bool) -> bool {
        self.tests()
            .all(|c| value(c.arg).map_or(unknown, |v| c.test(v)))
    }

    /// This test and those after it (`&&`).
    pub fn tests(&self) -> impl Iterator<Item = &ArgCond> {
        std::iter::successors(Some(self), |c| c.and.as_deref())
    }

    /// How the model dump writes it, `name` naming each tested value.
    fn describe(&self, name: impl Fn(u32) -> String) -> String {
        let tests: Vec<String> = self
            .tests()
            .map(|c| {
                let tested = name(c.arg);
                let values: Vec<String> = c.values.iter().map(|v| format!("{v:#x}")).collect();
                match values.as_slice() {
                    [] => format!("{tested} & {:#x}", c.mask),
                    values => format!("{tested} & {:#x} in ({})", c.mask, values.join(", ")),
                }
            })
            .collect();
        format!(" if {}", tests.join(" && "))
    }
}

/// How an integer is shown. `Port` and `Ipv4` are stored in network byte
/// order (big-endian) whatever the guest's order is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum IntFormat {
    Dec,
    #[default]
    Hex,
    Oct,
    /// A character: `'a'`; arrays of them are strings.
    Char,
    /// A 16-bit port number in network order: `htons(80)`.
    Port,
    /// An IPv4 address in network order: `inet_addr("127.0.0.1")`.
    Ipv4,
    /// A Linux version number as the kernel encodes it (major << 16 |
    /// minor << 8 | patch): `KERNEL_VERSION(6, 1, 0)`.
    KernelVersion,
    /// An offset in 4096-byte units (mmap2's), shown as bytes in hex.
    Pages,
    /// A 32-bit number in network order: `htonl(0)`.
    NetLong,
    /// Eight hex digits, no `0x`: netlink's groups, `nl_groups=00000000`.
    Hex8Digits,
    /// Seconds since the epoch (time's `time_t`), with their UTC date when
    /// not 0: `1796591733 /* 2026-12-06T21:15:33+0000 */`; as a return,
    /// `1796591733 (2026-12-06T21:15:33+0000)`.
    Epoch,
    /// Clock ticks (100 a second), with the seconds they make when not 0:
    /// `si_utime=160 /* 1.60 s */`.
    ClockTicks,
    /// A character of a Unix socket's path: an inline array of them is a
    /// string, or, when it starts with a NUL, an abstract name shown as
    /// strace shows one, `@"name"`.
    UnixPath,
    /// A byte of an IPv6 address: a structure's inline array of 16 shows
    /// as strace shows one, `inet_pton(AF_INET6, "::1", &sin6_addr)`.
    Ipv6,
    /// A device number as the C library's `major()` and `minor()` split
    /// it, as strace shows one: `makedev(0x88, 0)`.
    Dev,
    /// A resource limit as strace shows one: a multiple of 1024 above it
    /// as `8192*1024`, any other value in decimal.
    Rlimit,
}

impl IntFormat {
    /// Whether values of this format are stored big-endian in memory.
    pub fn network_order(self) -> bool {
        matches!(self, IntFormat::Port | IntFormat::Ipv4 | IntFormat::NetLong)
    }
}

/// Bytes of a `sigset`: Linux's sigset_t for its 64 signals (MIPS's
/// kernel has 128, of which a `sigset` shows the first 64).
pub const SIGSET_BYTES: u64 = 8;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ty {
    Void,
    Int {
        bytes: u8,
        signed: bool,
        format: IntFormat,
    },
    Ptr,
    CStr,
    /// A NUL-terminated path: shown whole up to `PATH_MAX` bytes whatever
    /// `strsize` says, as strace shows paths.
    Path,
    Buf {
        len: BufLen,
    },
    /// A buffer of `len` bytes shown with every byte escaped in hex, as
    /// strace shows random bytes and opaque handles: `"\x5c\x3b"`.
    HexBuf {
        len: BufLen,
    },
    /// A counted UTF-16 string in the guest's byte order (Windows'
    /// UNICODE_STRING buffer): `len` is in bytes.
    WStr {
        len: BufLen,
    },
    /// A descriptor set (select's `fd_set`) of `len` descriptors, in
    /// words of the model's width: shown as strace shows it, `[4 5]`.
    FdSet {
        len: BufLen,
    },
    /// A CPU set (sched_getaffinity's mask) of `len` bytes, in words of
    /// the model's width: shown as strace shows it, `[0 1]`.
    CpuSet {
        len: BufLen,
    },
    /// A directory's entries as getdents64 writes them, `len` bytes of
    /// records each as long as the 16-bit number at its offset 16
    /// (`d_reclen`): shown as strace shows them, `0x7ffd... /* 28 entries
    /// */`.
    Dirents {
        len: BufLen,
    },
    /// A System V message (`struct msgbuf`): the C `long` mtype, then
    /// `len` bytes of text, shown as strace shows them, `{mtype=1,
    /// mtext="message\0"}`.
    MsgBuf {
        len: BufLen,
    },
    Flags {
        set: u32,
        bytes: u8,
    },
    Enum {
        set: u32,
        bytes: u8,
        signed: bool,
    },
    /// A structure: an argument of this type points to one; a field of
    /// this type is embedded.
    Struct {
        id: u32,
    },
    /// A tagged union of structures, pointed to or embedded like a struct.
    Union {
        id: u32,
    },
    /// A pointer to `len` elements (`iovec[vlen]`, `fd[2]`).
    Array {
        elem: Box<Ty>,
        len: BufLen,
    },
    /// A pointer to one structure or union of `len` bytes (a socket
    /// address and its length): fields past them do not show, and one
    /// too short for its first field (a union's tag) shows as its address.
    Sized {
        target: Box<Ty>,
        len: BufLen,
    },
    /// A message's control data (`msg_control`): `len` bytes of `cmsghdr`
    /// records, their levels named by the enum `levels`, the types of
    /// level `SOL_SOCKET` by the enum `types`.
    Cmsgs {
        len: BufLen,
        levels: u32,
        types: u32,
    },
    /// A signal set (`sigset_t`, 64 bits: bit N-1 is signal N), named by
    /// the enum `names`; pointed to or embedded like a structure.
    SigSet {
        names: u32,
    },
    /// A wait status (`int *wstatus`: exit status or the signal that ended
    /// or stopped a child), signals named by the enum `names`; pointed to
    /// or embedded like a structure.
    WaitStatus {
        names: u32,
    },
}

/// Where the length of a buffer or an array comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BufLen {
    /// The value of another argument, by index.
    Arg(u32),
    /// The call's return value (for output buffers).
    Ret,
    /// The call's return value, at most argument `arg` (a receive with
    /// MSG_TRUNC returns more than its buffer holds).
    RetUpTo(u32),
    /// The 32-bit integer that argument `arg` points to, read when the
    /// value is shown (at an exit, what the kernel wrote there).
    At(u32),
    /// Another field of the same structure, by index.
    Field(u32),
    /// A fixed number.
    Const(u64),
    /// Up to the first element that is zero (`cstr[nul] argv`).
    Nul,
    /// The pages that the byte count in argument `arg` spans, of `size`
    /// bytes each (`u8[pages(len)] vec`, mincore's vector).
    Pages { arg: u32, size: u32 },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberSet {
    pub name: String,
    pub bytes: u8,
    pub signed: bool,
    /// In declaration order, which is the order they are printed in.
    pub members: Vec<Member>,
    /// How bits (for flags) or a value (for enums) no member names are
    /// shown: flags in hex, or octal for a set based on `oct` (file modes:
    /// `S_IFREG|0644`); enums as their base type shows numbers.
    #[serde(default)]
    pub rest: IntFormat,
    /// An enum's value no member names shows in hex with this comment, as
    /// strace shows most: `0x63 /* CLOCK_??? */`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown: Option<String>,
    /// An enum declared `verbose "TEXT"`: every value shows as its number
    /// with the member's name in a comment (`10 /* SYSLOG_ACTION_SIZE_BUFFER
    /// */`), a value no member names with `unknown`'s text in it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub verbose: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub name: String,
    pub value: i128,
    /// For flags: the member is this value of the bits under the mask (an
    /// access mode, a file type) rather than a set of bits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<u64>,
}

impl Member {
    pub fn new(name: &str, value: i128) -> Self {
        Member {
            name: name.to_string(),
            value,
            mask: None,
        }
    }
}

/// A structure laid out for the model's architecture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StructDef {
    pub name: String,
    /// Bytes, including padding at the end.
    pub size: u64,
    pub align: u64,
    pub fields: Vec<Field>,
    /// Its first field counts seconds since the epoch, its second
    /// nanoseconds: the UTC date follows it in a comment, as strace shows
    /// utimensat's times (`dated`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dated: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Field {
    /// `_` for padding, which is never shown.
    pub name: String,
    pub offset: u64,
    /// The type of one element; `Ptr`, `CStr`, `Buf` and `Array` fields are
    /// pointers, structures and unions are embedded.
    pub ty: Ty,
    pub type_name: String,
    /// An inline array of this many elements (`char sun_path[108]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Shown only in verbose output; the structure then ends with `...`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub verbose: bool,
    /// Shown only when another field (`arg` is its index) has one of the
    /// mask's bits set (`sa_restorer` only with `SA_RESTORER`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cond: Option<ArgCond>,
    /// Which way the value goes: a field only the kernel writes is not
    /// shown at a call's entry, one only it reads not after the return.
    #[serde(default, skip_serializing_if = "FieldIo::is_both")]
    pub io: FieldIo,
    /// An enum field whose named values stand for the whole structure
    /// (`alone`): utimensat's `UTIME_NOW` in place of `{tv_sec=0, ...}`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub alone: bool,
    /// A value in two halves apart (`at (LOW, HIGH)`): the offset of its
    /// high half, its low half being at `offset`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high: Option<u64>,
    /// The kernel may rewrite it (recvmsg's `msg_namelen`): a value it
    /// changed shows as `ENTRY => EXIT`, as strace shows it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub updated: bool,
    /// A buffer held in the structure's own memory after its other fields
    /// (a C flexible array member, `file_handle`'s `f_handle`), not
    /// pointed to; it adds nothing to the structure's size.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub trailing: bool,
    /// An embedded structure whose fields show in place of its own,
    /// without `NAME={...}`, as strace shows siginfo's value union:
    /// `si_int=42, si_ptr=0x2a`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub flat: bool,
    /// An integer: how many bytes the kernel wrote into the buffers its
    /// structure points to (recvmmsg's `msg_len`); they show no more.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub written: bool,
}

impl Field {
    pub fn is_padding(&self) -> bool {
        self.name == "_"
    }
}

/// A structure field's direction (`input`, `output` or neither), as
/// strace shows poll's `events` at entry and `revents` after the return.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldIo {
    #[default]
    Both,
    Input,
    Output,
}

impl FieldIo {
    pub fn is_both(&self) -> bool {
        *self == FieldIo::Both
    }
}

/// Structures sharing a tag field at the same offset; the tag's value
/// selects the one to decode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnionDef {
    pub name: String,
    pub tag: String,
    pub tag_offset: u64,
    /// The tag's type, an enum.
    pub tag_ty: Ty,
    pub size: u64,
    pub align: u64,
    pub cases: Vec<UnionCase>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnionCase {
    pub member: String,
    pub value: i128,
    /// Index into `Model::structs`.
    pub target: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Errno {
    pub name: String,
    pub value: u64,
    pub message: String,
}

impl Model {
    pub fn syscall_count(&self) -> usize {
        self.tables.iter().map(|t| t.syscalls.len()).sum()
    }

    pub fn register(&self, id: RegId) -> &Register {
        &self.registers[id.0 as usize]
    }

    /// A stable, human-readable dump used by snapshot tests and `--dump`.
    pub fn pretty(&self) -> String {
        let mut out = String::new();
        self.write_pretty(&mut out)
            .expect("writing to a String cannot fail");
        out
    }

    fn write_pretty(&self, out: &mut String) -> fmt::Result {
        writeln!(
            out,
            "model {}: {} {}-bit {:?}",
            self.name,
            self.arch.name(),
            self.bits,
            self.endian
        )?;
        let regs: Vec<String> = self
            .registers
            .iter()
            .map(|r| format!("{}:{}", r.name, r.bits))
            .collect();
        writeln!(out, "registers: {}", regs.join(" "))?;
        writeln!(out, "thread = {}", self.expr(&self.thread))?;
        writeln!(out, "process = {}", self.expr(&self.process))?;
        for m in &self.mechanisms {
            writeln!(out, "mechanism {} ({})", m.name, m.source)?;
            writeln!(out, "  entry {}", pattern(&m.entry))?;
            if let Some(when) = &m.when {
                writeln!(out, "  when {}", self.expr(when))?;
            }
            writeln!(out, "  table {}", self.tables[m.table.0 as usize].name)?;
            writeln!(out, "  number = {}", self.expr(&m.number))?;
            for (i, arg) in m.args.iter().enumerate() {
                writeln!(out, "  arg {i} = {}", self.expr(arg))?;
            }
            if let Some(rest) = &m.args_rest {
                writeln!(out, "  arg {}.. = {}", m.args.len(), self.expr(rest))?;
            }
            writeln!(out, "  return = {}", self.expr(&m.ret))?;
            match &m.error {
                ErrorConvention::None => writeln!(out, "  error none")?,
                ErrorConvention::Negative { max } => writeln!(out, "  error negative {max}")?,
                ErrorConvention::Flag(e) => writeln!(out, "  error flag {}", self.expr(e))?,
            }
            writeln!(out, "  thread = {}", self.expr(&m.thread))?;
            writeln!(out, "  process = {}", self.expr(&m.process))?;
            if let Some(e) = &m.called_from {
                writeln!(out, "  called_from = {}", self.expr(e))?;
            }
            if let Some(e) = &m.returns_to {
                writeln!(out, "  returns_to = {}", self.expr(e))?;
            }
            for exit in &m.exits {
                writeln!(
                    out,
                    "  exit {} {} resume {}{}{}{}",
                    exit.name,
                    pattern(&exit.pattern),
                    self.expr(&exit.resume),
                    if exit.kernel_space {
                        " kernel_space"
                    } else {
                        ""
                    },
                    if exit.outputs_at_resume {
                        " outputs_at_resume"
                    } else {
                        ""
                    },
                    if exit.read_at_resume {
                        " read_at_resume"
                    } else {
                        ""
                    }
                )?;
            }
        }
        for set in &self.flag_sets {
            write_members(out, "flags", set)?;
        }
        for set in &self.enums {
            write_members(out, "enum", set)?;
        }
        for st in &self.structs {
            writeln!(
                out,
                "struct {} size {} align {}{}",
                st.name,
                st.size,
                st.align,
                if st.dated { " dated" } else { "" }
            )?;
            for f in &st.fields {
                writeln!(
                    out,
                    "  @{}{} {}: {} {}{}{}{}{}{}{}",
                    f.offset,
                    f.high.map_or(String::new(), |h| format!(",{h}")),
                    f.name,
                    f.type_name,
                    self.ty(&f.ty),
                    f.count.map_or(String::new(), |n| format!(" [{n}]")),
                    if f.verbose { " verbose" } else { "" },
                    match f.io {
                        FieldIo::Both => "",
                        FieldIo::Input => " input",
                        FieldIo::Output => " output",
                    },
                    if f.alone { " alone" } else { "" },
                    if f.updated { " updated" } else { "" },
                    f.cond.as_ref().map_or(String::new(), |c| c.describe(|i| st
                        .fields
                        .get(i as usize)
                        .map_or("?".into(), |t| t.name.clone())))
                )?;
            }
        }
        for un in &self.unions {
            let cases: Vec<String> = un
                .cases
                .iter()
                .map(|c| {
                    format!(
                        "{}={} -> {}",
                        c.member, c.value, self.structs[c.target as usize].name
                    )
                })
                .collect();
            writeln!(
                out,
                "union {}({}@{} {}) size {} align {}: {}",
                un.name,
                un.tag,
                un.tag_offset,
                self.ty(&un.tag_ty),
                un.size,
                un.align,
                cases.join(", ")
            )?;
        }
        self.write_kernel(out)?;
        if !self.errnos.is_empty() {
            let names: Vec<String> = self
                .errnos
                .iter()
                .map(|e| format!("{}={}", e.name, e.value))
                .collect();
            writeln!(out, "errno: {}", names.join(" "))?;
        }
        if !self.classes.is_empty() {
            writeln!(out, "classes: {}", self.classes.join(" "))?;
        }
        for table in &self.tables {
            writeln!(
                out,
                "table {} offset {} ({} syscalls)",
                table.name,
                table.offset,
                table.syscalls.len()
            )?;
            for s in &table.syscalls {
                let args: Vec<String> = s
                    .args
                    .iter()
                    .map(|p| {
                        let cond = cond_text(&p.cond);
                        let slot = p.slot.map_or(String::new(), |r| format!(" at {r}"));
                        format!(
                            "{}{:?} {}: {} {}{slot}{cond}",
                            if p.alt { "| " } else { "" },
                            p.dir,
                            p.name,
                            p.type_name,
                            self.ty(&p.ty)
                        )
                    })
                    .collect();
                let mut attrs = Vec::new();
                for (on, word) in [
                    (s.noreturn, "noreturn"),
                    (s.ends_process, "ends_process"),
                    (s.returns_twice, "returns_twice"),
                    (s.exec, "exec"),
                    (s.sigreturn, "sigreturn"),
                    (s.renames, "renames"),
                    (s.named, "named"),
                    (s.ends_thread, "ends_thread"),
                ] {
                    if on {
                        attrs.push(word.to_string());
                    }
                }
                attrs.extend(s.classes.iter().map(|c| format!("%{c}")));
                let explain: Vec<String> = s
                    .explain
                    .iter()
                    .map(|e| {
                        let way = if e.args.is_empty() {
                            match &e.label {
                                Some(label) => format!("{label:?} {}", self.ty(&e.ty)),
                                None => self.ty(&e.ty),
                            }
                        } else {
                            let args: Vec<String> = e
                                .args
                                .iter()
                                .map(|a| {
                                    let name = s.args.get(a.arg as usize).map_or("?", |p| &p.name);
                                    match a.label.as_str() {
                                        "" => format!("arg {name}"),
                                        label => format!("{label:?} arg {name}"),
                                    }
                                })
                                .collect();
                            args.join(", ")
                        };
                        format!("{way}{}", cond_text(&e.cond))
                    })
                    .collect();
                writeln!(
                    out,
                    "  {} {}({}) -> {} {}{}{}",
                    s.number,
                    s.name,
                    args.join(", "),
                    s.ret_name,
                    self.ty(&s.ret),
                    if explain.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", explain.join(" | "))
                    },
                    if attrs.is_empty() {
                        String::new()
                    } else {
                        format!(" [{}]", attrs.join(" "))
                    }
                )?;
            }
        }
        Ok(())
    }

    fn write_kernel(&self, out: &mut String) -> fmt::Result {
        for st in &self.kernel.structs {
            writeln!(out, "kernel struct {}", st.name)?;
            for f in &st.fields {
                let ty = match f.ty {
                    KernelTy::Int { bytes, signed } => {
                        format!("{}{}", if signed { "i" } else { "u" }, bytes * 8)
                    }
                    KernelTy::Ptr => "ptr".into(),
                    KernelTy::Char => "char".into(),
                    KernelTy::Struct(i) => self.kernel.structs[i as usize].name.clone(),
                };
                writeln!(
                    out,
                    "  {} {}{}{}",
                    ty,
                    f.name,
                    f.count.map_or(String::new(), |n| format!("[{n}]")),
                    f.offset.map_or(String::new(), |o| format!(" at {o:#x}"))
                )?;
            }
        }
        for sym in &self.kernel.symbols {
            writeln!(
                out,
                "kernel symbol {}{}",
                sym.name,
                sym.address.map_or(String::new(), |a| format!(" at {a:#x}"))
            )?;
        }
        if let Some(signal) = &self.signal {
            writeln!(out, "signal")?;
            writeln!(out, "  number = {}", self.expr(&signal.number))?;
            if let Some(names) = &signal.names {
                writeln!(out, "  names = {}", self.ty(names))?;
            }
            writeln!(out, "  pc = {}", self.expr(&signal.pc))?;
            writeln!(out, "  return = {}", self.expr(&signal.ret))?;
            if let Some(flag) = &signal.flag {
                writeln!(out, "  flag = {}", self.expr(flag))?;
            }
            if let Some(thread) = &signal.thread {
                writeln!(out, "  thread = {}", self.expr(thread))?;
            }
            if let Some(thread) = &signal.sigreturn_thread {
                writeln!(out, "  sigreturn_thread = {}", self.expr(thread))?;
            }
            if let Some(info) = &signal.info {
                writeln!(out, "  info = {}", self.expr(info))?;
            }
            if let Some(siginfo) = &signal.siginfo {
                writeln!(out, "  siginfo = {}", self.ty(siginfo))?;
            }
            if let Some(entered) = &signal.entered {
                writeln!(out, "  entered = {}", self.expr(entered))?;
            }
        }
        let Some(task) = &self.task else {
            return Ok(());
        };
        writeln!(out, "task")?;
        for probe in &task.probes {
            writeln!(out, "  probe {} {}", probe.name, pattern(&probe.pattern))?;
        }
        for probe in &task.return_probes {
            writeln!(
                out,
                "  return_probe {} {}",
                probe.name,
                pattern(&probe.pattern)
            )?;
        }
        if let Some(current) = &task.current {
            writeln!(out, "  current = {}", self.expr(current))?;
        }
        writeln!(out, "  tid = {}", self.expr(&task.tid))?;
        writeln!(out, "  pid = {}", self.expr(&task.pid))?;
        if let Some(ppid) = &task.ppid {
            writeln!(out, "  ppid = {}", self.expr(ppid))?;
        }
        if let Some(comm) = &task.comm {
            writeln!(out, "  comm = str{}[{}]", comm.len, self.expr(&comm.addr))?;
        }
        Ok(())
    }

    fn ty(&self, ty: &Ty) -> String {
        match ty {
            Ty::Void => "void".into(),
            Ty::Int {
                bytes,
                signed,
                format,
            } => {
                format!(
                    "<{}{} {:?}>",
                    if *signed { "i" } else { "u" },
                    bytes * 8,
                    format
                )
            }
            Ty::Ptr => "<ptr>".into(),
            Ty::CStr => "<cstr>".into(),
            Ty::Path => "<path>".into(),
            Ty::Buf { len } => format!("<buf len={}>", len_text(len)),
            Ty::HexBuf { len } => format!("<hexbuf len={}>", len_text(len)),
            Ty::WStr { len } => format!("<wstr len={}>", len_text(len)),
            Ty::FdSet { len } => format!("<fd_set len={}>", len_text(len)),
            Ty::CpuSet { len } => format!("<cpu_set len={}>", len_text(len)),
            Ty::Dirents { len } => format!("<dirents len={}>", len_text(len)),
            Ty::MsgBuf { len } => format!("<msgbuf len={}>", len_text(len)),
            Ty::Flags { set, bytes } => format!(
                "<flags {} u{}>",
                self.flag_sets[*set as usize].name,
                bytes * 8
            ),
            Ty::Enum { set, bytes, signed } => format!(
                "<enum {} {}{}>",
                self.enums[*set as usize].name,
                if *signed { "i" } else { "u" },
                bytes * 8
            ),
            Ty::Struct { id } => format!("<struct {}>", self.structs[*id as usize].name),
            Ty::Union { id } => format!("<union {}>", self.unions[*id as usize].name),
            Ty::Array { elem, len } => format!("<array {} len={}>", self.ty(elem), len_text(len)),
            Ty::Sized { target, len } => {
                format!("<sized {} len={}>", self.ty(target), len_text(len))
            }
            Ty::Cmsgs { len, levels, types } => format!(
                "<cmsgs {} {} len={}>",
                self.enums[*levels as usize].name,
                self.enums[*types as usize].name,
                len_text(len)
            ),
            Ty::SigSet { names } => format!("<sigset {}>", self.enums[*names as usize].name),
            Ty::WaitStatus { names } => {
                format!("<wait_status {}>", self.enums[*names as usize].name)
            }
        }
    }

    /// Bytes a value of `ty` takes in guest memory: a pointer for strings,
    /// buffers and arrays, the whole structure for structures.
    pub fn type_size(&self, ty: &Ty) -> u64 {
        let word = u64::from(self.bits / 8);
        match ty {
            Ty::Int { bytes, .. } | Ty::Flags { bytes, .. } | Ty::Enum { bytes, .. } => {
                u64::from(*bytes)
            }
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
            | Ty::Cmsgs { .. } => word,
            Ty::Struct { id } => self.structs.get(*id as usize).map_or(word, |s| s.size),
            Ty::Union { id } => self.unions.get(*id as usize).map_or(word, |u| u.size),
            Ty::SigSet { .. } => SIGSET_BYTES,
            Ty::WaitStatus { .. } => 4,
            Ty::Void => 0,
        }
    }

    /// An expression in the language's own syntax, fully parenthesised.
    pub fn expr(&self, expr: &Expr) -> String {
        match expr {
            Expr::Const(v) if *v > 9 => format!("{v:#x}"),
            Expr::Const(v) => v.to_string(),
            Expr::Reg(id) => self.register(*id).name.clone(),
            Expr::ArgIndex => "i".into(),
            Expr::Load {
                bytes,
                signed,
                addr,
            } => {
                format!(
                    "{}{}[{}]",
                    if *signed { "i" } else { "u" },
                    bytes * 8,
                    self.expr(addr)
                )
            }
            Expr::Unary(UnOp::Neg, e) => format!("-{}", self.expr(e)),
            Expr::Unary(UnOp::Not, e) => format!("~{}", self.expr(e)),
            Expr::Binary(op, a, b) => {
                format!("({} {} {})", self.expr(a), op.symbol(), self.expr(b))
            }
            Expr::Insn => "insn".into(),
            Expr::Cond(c, a, b) => {
                format!("({} ? {} : {})", self.expr(c), self.expr(a), self.expr(b))
            }
            Expr::Kernel(i) => self
                .kernel
                .refs
                .get(*i as usize)
                .map_or_else(|| format!("kernel#{i}"), |r| self.kernel.ref_name(r)),
            Expr::Fallback(a, b) => format!("({} ?? {})", self.expr(a), self.expr(b)),
            Expr::Current => "current".into(),
            Expr::InsnAddr => "insn_addr".into(),
        }
    }
}

fn pattern(p: &Pattern) -> String {
    let hex = |bytes: &[u8]| {
        bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let at = p.at.map_or_else(String::new, |at| {
        format!(" at {:#x} mask {:#x}", at.value, at.mask)
    });
    format!("bytes \"{}\" mask \"{}\"{at}", hex(&p.bytes), hex(&p.mask))
}

/// A syscall's condition on argument N, as `arg<N>` names it.
fn cond_text(cond: &Option<ArgCond>) -> String {
    cond.as_ref()
        .map_or(String::new(), |c| c.describe(|i| format!("arg{i}")))
}

fn len_text(len: &BufLen) -> String {
    match len {
        BufLen::Arg(i) => format!("arg{i}"),
        BufLen::Ret => "ret".into(),
        BufLen::RetUpTo(arg) => format!("ret_upto(arg{arg})"),
        BufLen::At(arg) => format!("at(arg{arg})"),
        BufLen::Field(i) => format!("field{i}"),
        BufLen::Const(n) => n.to_string(),
        BufLen::Nul => "nul".into(),
        BufLen::Pages { arg, size } => format!("pages(arg{arg}, {size})"),
    }
}

fn write_members(out: &mut String, kind: &str, set: &MemberSet) -> fmt::Result {
    let members: Vec<String> = set
        .members
        .iter()
        .map(|m| match m.mask {
            Some(mask) => format!("{}={}/{mask:#x}", m.name, m.value),
            None => format!("{}={}", m.name, m.value),
        })
        .collect();
    writeln!(
        out,
        "{kind} {}: {}{}{}: {}",
        set.name,
        if set.signed { "i" } else { "u" },
        set.bytes * 8,
        if set.rest == IntFormat::Oct {
            " oct"
        } else {
            ""
        },
        members.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::Name;

    /// A name's JSON literal reads back as the name, whatever it holds;
    /// one text is interned once.
    #[test]
    fn names_carry_their_json_literal() {
        for text in ["fd", "", "struct \"x\"", "a\\b", "tab\there", "\u{1}é日"] {
            let name = Name::new(text);
            let back: String = serde_json::from_str(name.json()).expect("valid JSON");
            assert_eq!(back, text);
            assert_eq!(name.as_str(), text);
            assert!(std::ptr::eq(Name::new(text).json(), name.json()));
        }
        assert_eq!(Name::default().json(), "\"\"");
        assert_eq!(Name::default(), Name::new(""));
    }
}
