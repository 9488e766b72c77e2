//! The checked model: everything resolved, sorted and independent of the
//! syntax. Code generation and the runtime loader consume only this.

use crate::arch::{Arch, Endian};
pub use crate::syntax::ast::{BinOp, Direction, UnOp};
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
}

impl Expr {
    /// Whether `pred` holds for the expression or any part of it.
    pub fn any(&self, pred: &impl Fn(&Expr) -> bool) -> bool {
        pred(self)
            || match self {
                Expr::Const(_) | Expr::Reg(_) | Expr::ArgIndex | Expr::Insn => false,
                Expr::Load { addr, .. } => addr.any(pred),
                Expr::Unary(_, e) => e.any(pred),
                Expr::Binary(_, a, b) => a.any(pred) || b.any(pred),
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
}

impl Pattern {
    pub fn matches(&self, insn: &[u8]) -> bool {
        pattern_matches(&self.bytes, &self.mask, insn)
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
    /// Where the mechanism is declared, for comments in generated code.
    pub source: String,
}

impl Mechanism {
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
    pub noreturn: bool,
    pub returns_twice: bool,
    /// A successful call replaces the process image (`execve`).
    pub exec: bool,
    /// Restores a signal frame: returns to where the signal interrupted.
    pub sigreturn: bool,
    pub classes: Vec<String>,
    pub source: String,
}

/// A name every decoded argument carries (a parameter's name, its type's
/// name). Interned once per process, so copying one into each call's
/// arguments costs neither an allocation nor a reference count (an atomic
/// operation per argument, on the tracer's hot path, when it was an
/// `Arc<str>`). The set of names is that of the models loaded, so what is
/// interned stays small.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(&'static str);

impl Name {
    pub fn new(text: &str) -> Self {
        static INTERNED: std::sync::Mutex<Option<std::collections::HashSet<&'static str>>> =
            std::sync::Mutex::new(None);
        let mut guard = INTERNED.lock().unwrap_or_else(|e| e.into_inner());
        let set = guard.get_or_insert_with(Default::default);
        if let Some(existing) = set.get(text) {
            return Name(existing);
        }
        let leaked: &'static str = Box::leak(text.to_string().into_boxed_str());
        set.insert(leaked);
        Name(leaked)
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        self.0
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
        self.0 == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0, f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Serialize for Name {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
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
    /// Shown only when another argument has one of the mask's bits set
    /// (`openat`'s mode only matters with `O_CREAT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cond: Option<ArgCond>,
}

/// `if ARG & MASK`, resolved: argument index and mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArgCond {
    pub arg: u32,
    pub mask: u64,
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
}

impl IntFormat {
    /// Whether values of this format are stored big-endian in memory.
    pub fn network_order(self) -> bool {
        matches!(self, IntFormat::Port | IntFormat::Ipv4)
    }
}

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
    Buf {
        len: BufLen,
    },
    /// A counted UTF-16 string in the guest's byte order (Windows'
    /// UNICODE_STRING buffer): `len` is in bytes.
    WStr {
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
}

/// Where the length of a buffer or an array comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BufLen {
    /// The value of another argument, by index.
    Arg(u32),
    /// The call's return value (for output buffers).
    Ret,
    /// Another field of the same structure, by index.
    Field(u32),
    /// A fixed number.
    Const(u64),
    /// Up to the first element that is zero (`cstr[nul] argv`).
    Nul,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberSet {
    pub name: String,
    pub bytes: u8,
    pub signed: bool,
    /// In declaration order, which is the order they are printed in.
    pub members: Vec<Member>,
    /// How bits no member names are shown: hex, or octal for a set based
    /// on `oct` (file modes: `S_IFREG|0644`).
    #[serde(default)]
    pub rest: IntFormat,
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
}

impl Field {
    pub fn is_padding(&self) -> bool {
        self.name == "_"
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
            for exit in &m.exits {
                writeln!(
                    out,
                    "  exit {} {} resume {}{}",
                    exit.name,
                    pattern(&exit.pattern),
                    self.expr(&exit.resume),
                    if exit.kernel_space {
                        " kernel_space"
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
                "struct {} size {} align {}",
                st.name, st.size, st.align
            )?;
            for f in &st.fields {
                writeln!(
                    out,
                    "  @{} {}: {} {}{}{}",
                    f.offset,
                    f.name,
                    f.type_name,
                    self.ty(&f.ty),
                    f.count.map_or(String::new(), |n| format!(" [{n}]")),
                    if f.verbose { " verbose" } else { "" }
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
                        let cond = p.cond.map_or(String::new(), |c| {
                            format!(" if arg{} & {:#x}", c.arg, c.mask)
                        });
                        format!(
                            "{:?} {}: {} {}{cond}",
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
                    (s.returns_twice, "returns_twice"),
                    (s.exec, "exec"),
                    (s.sigreturn, "sigreturn"),
                ] {
                    if on {
                        attrs.push(word.to_string());
                    }
                }
                attrs.extend(s.classes.iter().map(|c| format!("%{c}")));
                writeln!(
                    out,
                    "  {} {}({}) -> {} {}{}",
                    s.number,
                    s.name,
                    args.join(", "),
                    s.ret_name,
                    self.ty(&s.ret),
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
            Ty::Buf { len } => format!("<buf len={}>", len_text(len)),
            Ty::WStr { len } => format!("<wstr len={}>", len_text(len)),
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
            Ty::Ptr | Ty::CStr | Ty::Buf { .. } | Ty::WStr { .. } | Ty::Array { .. } => word,
            Ty::Struct { id } => self.structs.get(*id as usize).map_or(word, |s| s.size),
            Ty::Union { id } => self.unions.get(*id as usize).map_or(word, |u| u.size),
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
    format!("bytes \"{}\" mask \"{}\"", hex(&p.bytes), hex(&p.mask))
}

fn len_text(len: &BufLen) -> String {
    match len {
        BufLen::Arg(i) => format!("arg{i}"),
        BufLen::Ret => "ret".into(),
        BufLen::Field(i) => format!("field{i}"),
        BufLen::Const(n) => n.to_string(),
        BufLen::Nul => "nul".into(),
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
