//! The syntax tree of one `.osm` file, exactly as written. Every node carries
//! its span; nothing is resolved here (that is `check`'s job).

use crate::files::Span;
pub use osm_model::{BinOp, Direction, UnOp};

#[derive(Clone, Debug, PartialEq)]
pub struct Spanned<T> {
    pub node: T,
    pub span: Span,
}

pub type Name = Spanned<String>;

#[derive(Clone, Debug, PartialEq)]
pub struct File {
    pub items: Vec<Item>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Include(Spanned<String>),
    Os(OsBlock),
    /// A top-level property such as `thread = fs_base;`.
    Prop(Prop),
    Mechanism(MechanismBlock),
    Table(TableBlock),
    TypeAlias(TypeAlias),
    Flags(MemberSet),
    Enum(MemberSet),
    Errno(ErrnoBlock),
    Class(Vec<Name>),
    Struct(StructDecl),
    Union(UnionDecl),
    /// `kernel struct NAME { ... }`: a structure of the traced kernel.
    KernelStruct(KernelStructDecl),
    /// `kernel symbol NAME [at ADDRESS];`: a symbol of the traced kernel.
    KernelSymbol(KernelSymbolDecl),
    /// `task { ... }`: how to find the calling task and read its names.
    Task(TaskBlock),
    /// `NAME { KEY = VALUE; ... }`: a block of properties named by a word
    /// that is not a keyword (`signal`, which is also a syscall's and a
    /// type's name); the checker knows which words name blocks.
    Block(NamedBlock),
}

#[derive(Clone, Debug, PartialEq)]
pub struct OsBlock {
    pub name: Name,
    pub props: Vec<Prop>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Prop {
    pub key: Name,
    pub value: Value,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// One expression or a comma-separated list of them.
    Exprs(Vec<Expr>),
    Pattern(Pattern),
    Str(Spanned<String>),
    /// A word applied to an operand, such as `negative(4095)` or `flag(a3)`.
    Qualified(Name, Expr),
}

impl Value {
    pub fn span(&self) -> Span {
        match self {
            Value::Exprs(exprs) => exprs[0].span.to(exprs[exprs.len() - 1].span),
            Value::Pattern(p) => p.span,
            Value::Str(s) => s.span,
            Value::Qualified(word, operand) => word.span.to(operand.span),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct MechanismBlock {
    pub name: Name,
    pub stmts: Vec<MechStmt>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum MechStmt {
    Prop(Prop),
    /// `args[i] = EXPR;`: the location of every argument not listed in `args`.
    Indexed {
        key: Name,
        var: Name,
        value: Expr,
        span: Span,
    },
    Exit(ExitDecl),
}

#[derive(Clone, Debug, PartialEq)]
pub struct ExitDecl {
    pub name: Name,
    pub pattern: Pattern,
    pub resume: Option<Expr>,
    /// Words after the resume expression (`kernel_space`).
    pub attrs: Vec<Name>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum PatternKind {
    /// `bytes "0f 05"`: hex bytes in memory order.
    Bytes,
    /// `insn16 0xdf00`: one 16-bit instruction word in the target's byte order.
    Insn16,
    /// `insn32 0xef000000`.
    Insn32,
}

#[derive(Clone, Debug, PartialEq)]
pub enum PatternLit {
    Bytes(String),
    Word(u64),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Pattern {
    pub kind: Spanned<PatternKind>,
    pub value: Spanned<PatternLit>,
    pub mask: Option<Spanned<PatternLit>>,
    pub at: Option<PatternAt>,
    pub span: Span,
}

/// `at VALUE [mask MASK]`: where a pattern's instruction must be.
#[derive(Clone, Debug, PartialEq)]
pub struct PatternAt {
    pub value: Spanned<u64>,
    pub mask: Option<Spanned<u64>>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Int(u64),
    /// A register, or the argument-index variable inside `args[i]`.
    Name(String),
    /// `u32[addr]`: a sized read of guest memory.
    Load {
        width: Name,
        addr: Box<Expr>,
    },
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `insn`: the entry instruction that was matched, as one integer.
    Insn,
    /// `COND ? A : B`: A when COND is non-zero, otherwise B.
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `task_struct.pid`, `pcpu_hot.current_task`: the offset of a field
    /// (through embedded structures) of a kernel structure.
    Field {
        strukt: Name,
        path: Vec<Name>,
    },
    /// `&current_task`: the address of a kernel symbol.
    Symbol(Name),
    /// `A ?? B`: A, unless it names something the traced kernel lacks.
    Fallback(Box<Expr>, Box<Expr>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct TableBlock {
    pub name: Name,
    pub offset: Option<Spanned<u64>>,
    pub syscalls: Vec<SyscallDecl>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SyscallDecl {
    pub number: Spanned<u64>,
    pub name: Name,
    pub args: Vec<ArgDecl>,
    pub ret: Option<TypeRef>,
    /// `-> int (sched_policy)`: the enum or flag sets that name a
    /// successful return, the first whose condition holds.
    pub explain: Vec<RetExplain>,
    pub attrs: Vec<Attr>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RetExplain {
    /// An enum, a flag set or an argument, then for arguments maybe more
    /// (`"in" inp, "out" outp`): `ty` is the first.
    pub ty: TypeRef,
    /// The first item's label (`"in"`).
    pub label: Option<Spanned<String>>,
    pub more: Vec<(Option<Spanned<String>>, TypeRef)>,
    pub cond: Option<ArgCond>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ArgDecl {
    pub dir: Option<Spanned<Direction>>,
    pub ty: TypeRef,
    pub name: Name,
    /// `at N`: the call's Nth register (from 0), where the arguments are
    /// written in the order they show rather than the ABI's.
    pub slot: Option<Spanned<u64>>,
    /// `at (EXPR)`: an argument no register holds, at the address EXPR
    /// reads at the call's entry (rt_sigreturn's frame on the stack).
    pub location: Option<Expr>,
    /// `mode mode if flags & (O_CREAT | __O_TMPFILE)`: shown only when the
    /// condition holds.
    pub cond: Option<ArgCond>,
    /// Written after `|`: another way to show the previous argument's
    /// register (`open_flags arg if cmd == F_SETFL | hex arg`), the first
    /// whose condition holds being shown.
    pub alt: bool,
    /// Words after the argument (`verbose`).
    pub attrs: Vec<Name>,
    pub span: Span,
}

/// `if ARG & MASK`: another argument tested against a mask whose terms are
/// integers or members of that argument's flag set, or-ed together; maybe
/// followed by `&& TEST`.
#[derive(Clone, Debug, PartialEq)]
pub struct ArgCond {
    pub arg: Name,
    /// Empty for `if ARG == VALUE` and `if ARG in (...)` (the whole value).
    pub mask: Vec<MaskTerm>,
    /// `== VALUE` or `in (VALUE, ...)`: the masked value must be one of
    /// them; empty: it must have one of the mask's bits.
    pub values: Vec<MaskTerm>,
    /// `&& TEST`: another test that must hold too.
    pub and: Option<Box<ArgCond>>,
    pub span: Span,
}

impl ArgCond {
    /// This test and those after it (`&&`).
    pub fn tests(&self) -> impl Iterator<Item = &ArgCond> {
        std::iter::successors(Some(self), |c| c.and.as_deref())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum MaskTerm {
    Int(Spanned<u64>),
    Name(Name),
}

/// `fd`, `open_flags`, a buffer `buf[count]` / `buf[ret]`, an array
/// `iovec[vlen]` / `fd[2]`, or one structure of a length `sockaddr(addrlen)`.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeRef {
    pub name: Name,
    pub len: Option<LenRef>,
    /// The length is in parentheses: one structure or union of that many
    /// bytes, not that many elements.
    pub sized: bool,
    pub span: Span,
}

/// The length of a buffer or array: a name (an argument, a field, or
/// `ret`) or a constant.
#[derive(Clone, Debug, PartialEq)]
pub enum LenRef {
    Name(Name),
    Int(Spanned<u64>),
    /// A function of an argument: `pages(len)`.
    Of(Name, Name),
}

impl LenRef {
    pub fn span(&self) -> Span {
        match self {
            LenRef::Name(n) => n.span,
            LenRef::Int(i) => i.span,
            LenRef::Of(f, arg) => f.span.to(arg.span),
        }
    }
}

/// `struct NAME { FIELD; ... }`: a C structure in guest memory, laid out by
/// the architecture's alignment rules.
#[derive(Clone, Debug, PartialEq)]
pub struct StructDecl {
    pub name: Name,
    /// `packed` (no padding: x86_64's epoll_event), `overlaid` (every
    /// field at 0, all shown: a C union as strace shows epoll_data).
    pub attrs: Vec<Name>,
    pub fields: Vec<FieldDecl>,
    pub span: Span,
}

/// `TYPE NAME;`, `TYPE NAME[COUNT];` (an inline array) or with attributes
/// after the name (`verbose`).
#[derive(Clone, Debug, PartialEq)]
pub struct FieldDecl {
    pub ty: TypeRef,
    pub name: Name,
    pub count: Option<Spanned<u64>>,
    /// `at OFFSET`: the field's offset, for a structure shown in another
    /// order than its memory's.
    pub at: Option<Spanned<u64>>,
    /// `at (LOW, HIGH)`: a value whose two halves are apart, its high half
    /// at HIGH (capget's two 32-bit words of one 64-bit set).
    pub high: Option<Spanned<u64>>,
    /// `if FIELD & MASK`: shown only when another field has those bits.
    pub cond: Option<ArgCond>,
    pub attrs: Vec<Name>,
    pub span: Span,
}

impl FieldDecl {
    /// Its `input` or `output` attribute, if it has one.
    pub fn io(&self) -> Option<&str> {
        self.attrs
            .iter()
            .map(|a| a.node.as_str())
            .find(|a| matches!(*a, "input" | "output"))
    }
}

/// `union NAME(TAG) { MEMBER = STRUCT, ... }`: structures that share a
/// leading tag field; the tag's value picks the one to decode.
#[derive(Clone, Debug, PartialEq)]
pub struct UnionDecl {
    pub name: Name,
    pub tag: Name,
    pub cases: Vec<UnionCase>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct UnionCase {
    pub member: Name,
    pub target: Name,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Attr {
    pub name: Name,
    /// `%file`: membership in a declared class rather than a behaviour.
    pub is_class: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TypeAlias {
    pub name: Name,
    pub target: TypeRef,
    /// `type signal64 = signal : u64;`: a flag set or enum stored in an
    /// integer of another width.
    pub width: Option<Name>,
    pub span: Span,
}

/// A `flags` or `enum` declaration: named values over an integer type.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberSet {
    pub name: Name,
    pub base: Option<Name>,
    /// `unknown "CLOCK_???"` (enums): how a value no member names shows.
    pub unknown: Option<(Name, Spanned<String>)>,
    pub members: Vec<Member>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    pub name: Name,
    pub value: Spanned<i128>,
    /// `O_RDONLY = 0 mask 3`: the member is a value of the bits under the
    /// mask, not a set of bits (flags only).
    pub mask: Option<Spanned<u64>>,
    /// Only errno members carry a message.
    pub message: Option<Spanned<String>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ErrnoBlock {
    pub members: Vec<Member>,
    pub span: Span,
}

/// `kernel struct NAME { FIELD; ... }`: the fields of a kernel structure the
/// model reads. Their offsets come from the traced kernel; `at N` gives one
/// for kernels that describe none.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelStructDecl {
    pub name: Name,
    pub fields: Vec<KernelFieldDecl>,
    pub span: Span,
}

/// `TYPE NAME [COUNT] [at OFFSET];`
#[derive(Clone, Debug, PartialEq)]
pub struct KernelFieldDecl {
    pub ty: Name,
    pub name: Name,
    pub count: Option<Spanned<u64>>,
    pub at: Option<Spanned<u64>>,
    pub span: Span,
}

/// `kernel symbol NAME [at ADDRESS];` (the word after `kernel` is checked
/// to be `symbol`).
#[derive(Clone, Debug, PartialEq)]
pub struct KernelSymbolDecl {
    pub kind: Name,
    pub name: Name,
    pub at: Option<Spanned<u64>>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NamedBlock {
    pub kind: Name,
    pub props: Vec<Prop>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TaskBlock {
    pub stmts: Vec<TaskStmt>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TaskStmt {
    /// `current = ...;`, `tid = ...;`, ...
    Prop(Prop),
    /// `probe NAME = PATTERN;` (the first word is checked to be `probe`).
    Probe {
        keyword: Name,
        name: Name,
        pattern: Pattern,
        span: Span,
    },
}
