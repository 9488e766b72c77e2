//! The syntax tree of one `.osm` file, exactly as written. Every node carries
//! its span; nothing is resolved here (that is `check`'s job).

use crate::files::Span;

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
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum UnOp {
    Neg,
    Not,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    And,
    Or,
    Xor,
    Shl,
    Shr,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
            BinOp::And => "&",
            BinOp::Or => "|",
            BinOp::Xor => "^",
            BinOp::Shl => "<<",
            BinOp::Shr => ">>",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge
        )
    }
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
    pub attrs: Vec<Attr>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Direction {
    In,
    Out,
    InOut,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ArgDecl {
    pub dir: Option<Spanned<Direction>>,
    pub ty: TypeRef,
    pub name: Name,
    pub span: Span,
}

/// `fd`, `open_flags`, or a buffer `buf[count]` / `buf[ret]`.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeRef {
    pub name: Name,
    pub len: Option<Name>,
    pub span: Span,
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
    pub span: Span,
}

/// A `flags` or `enum` declaration: named values over an integer type.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberSet {
    pub name: Name,
    pub base: Option<Name>,
    pub members: Vec<Member>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    pub name: Name,
    pub value: Spanned<i128>,
    /// Only errno members carry a message.
    pub message: Option<Spanned<String>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ErrnoBlock {
    pub members: Vec<Member>,
    pub span: Span,
}
