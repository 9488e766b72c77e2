//! Type name resolution: a name, through aliases, to the type it means
//! before a length is applied.

use super::Checker;
use super::did_you_mean::suggest;
use super::types::{TypeDef, Types};
use crate::diag::{Diagnostic, ErrorCode};
use crate::model::{BufLen, IntFormat, Ty};
use crate::syntax::ast;

/// What a type name resolves to before a buffer length is applied.
#[derive(Clone, Debug)]
pub(super) enum BaseTy {
    Ty(Ty),
    /// `buf`, `hexbuf`, `wstr`, `fd_set`, ...: each needs a length to be a type.
    Buf(BufKind),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum BufKind {
    Bytes,
    HexBytes,
    Utf16,
    FdSet,
    CpuSet,
    Dirents,
    MsgBuf,
    /// Control messages, named by the model's enums `sockopt_level` and
    /// `scm_type`.
    Cmsgs {
        levels: u32,
        types: u32,
    },
}

impl BaseTy {
    /// The type written `NAME[LEN]`: a buffer or UTF-16 string of LEN
    /// bytes, or a pointer to LEN elements.
    pub(super) fn with_length(self, len: BufLen) -> Ty {
        match self {
            BaseTy::Buf(BufKind::Bytes) => Ty::Buf { len },
            BaseTy::Buf(BufKind::HexBytes) => Ty::HexBuf { len },
            BaseTy::Buf(BufKind::Utf16) => Ty::WStr { len },
            BaseTy::Buf(BufKind::FdSet) => Ty::FdSet { len },
            BaseTy::Buf(BufKind::CpuSet) => Ty::CpuSet { len },
            BaseTy::Buf(BufKind::Dirents) => Ty::Dirents { len },
            BaseTy::Buf(BufKind::MsgBuf) => Ty::MsgBuf { len },
            BaseTy::Buf(BufKind::Cmsgs { levels, types }) => Ty::Cmsgs { len, levels, types },
            BaseTy::Ty(elem) => Ty::Array {
                elem: Box::new(elem),
                len,
            },
        }
    }
}

pub(super) const BUILTIN_TYPES: &[&str] = &[
    "i8",
    "i16",
    "i32",
    "i64",
    "u8",
    "u16",
    "u32",
    "u64",
    "long",
    "ulong",
    "hex",
    "hex8",
    "hex16",
    "hex32",
    "hex64",
    "oct",
    "oct16",
    "char",
    "inet_port",
    "inet_addr",
    "inet_long",
    "hex32z",
    "clock_ticks",
    "epoch",
    "unix_path",
    "inet6",
    "kernel_version",
    "dev",
    "rlim_value",
    "pgoff",
    "ptr",
    "cstr",
    "path",
    "sigset",
    "wait_status",
    "buf",
    "hexbuf",
    "wstr",
    "fd_set",
    "cpu_set",
    "dirents",
    "msgbuf",
    "cmsgs",
    "void",
];

impl<'a> Checker<'a> {
    /// Resolves a type name, following aliases; `visiting` finds cycles.
    pub(super) fn resolve_base(
        &mut self,
        tref: &ast::TypeRef,
        types: &Types<'a>,
        visiting: &mut Vec<&'a str>,
    ) -> Option<BaseTy> {
        let name = tref.name.node.as_str();
        let Some(&(def, _)) = types.defs.get(name) else {
            let mut diag =
                Diagnostic::new(ErrorCode::UnknownType, format!("unknown type `{name}`"))
                    .label(tref.name.span, "not defined");
            diag = suggest(diag, name, types.defs.keys().copied());
            self.err(diag.note("types are built in (u32, cstr, buf, ...) or declared with `type`, `flags` or `enum`"));
            return None;
        };
        match def {
            TypeDef::Builtin(name @ ("sigset" | "wait_status")) => {
                self.named_by_signals(name, tref, types)
            }
            TypeDef::Builtin("cmsgs") => self.control_messages(tref, types),
            TypeDef::Builtin(builtin) => Some(self.builtin(builtin)),
            TypeDef::Flags(set) => Some(BaseTy::Ty(Ty::Flags {
                set,
                bytes: types
                    .flag_sets
                    .get(set as usize)
                    .map_or((self.bits / 8) as u8, |s| s.bytes),
            })),
            TypeDef::Enum(set) => {
                let (bytes, signed) = types
                    .enums
                    .get(set as usize)
                    .map_or(((self.bits / 8) as u8, true), |s| (s.bytes, s.signed));
                Some(BaseTy::Ty(Ty::Enum { set, bytes, signed }))
            }
            TypeDef::Struct(id) => Some(BaseTy::Ty(Ty::Struct { id })),
            TypeDef::Union(id) => Some(BaseTy::Ty(Ty::Union { id })),
            TypeDef::Alias(alias) => {
                let alias_name = alias.name.node.as_str();
                if visiting.contains(&alias_name) {
                    let mut chain: Vec<&str> = visiting.clone();
                    chain.push(alias_name);
                    self.err(
                        Diagnostic::new(
                            ErrorCode::TypeCycle,
                            format!("type alias `{alias_name}` refers to itself"),
                        )
                        .label(alias.name.span, "defined in terms of itself")
                        .note(format!("cycle: {}", chain.join(" -> "))),
                    );
                    return None;
                }
                if let Some(len) = &alias.target.len {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::BadLength,
                            "a type alias cannot fix a buffer length",
                        )
                        .label(
                            len.span(),
                            "lengths belong on the argument: `buf[count] name`",
                        ),
                    );
                }
                visiting.push(alias_name);
                let result = self.resolve_base(&alias.target, types, visiting);
                visiting.pop();
                match &alias.width {
                    Some(width) => self.stored_in(alias, width, result?),
                    None => result,
                }
            }
        }
    }

    /// `type NAME = TYPE : INT;`: the integer type, flag set or enum TYPE
    /// stored in the integer type INT (`u64`), read at that width.
    fn stored_in(
        &mut self,
        alias: &ast::TypeAlias,
        width: &ast::Name,
        base: BaseTy,
    ) -> Option<BaseTy> {
        let int = match self.builtin_int(&width.node) {
            Some(int) => int,
            None => {
                self.err(
                    Diagnostic::new(
                        ErrorCode::BadValue,
                        format!(
                            "`{}` is not an integer type to store a value in",
                            width.node
                        ),
                    )
                    .label(
                        width.span,
                        "expected u8, u16, u32, u64, i8, i16, i32, i64, long or ulong",
                    ),
                );
                return None;
            }
        };
        match (base, int) {
            (BaseTy::Ty(Ty::Flags { set, .. }), (bytes, _)) => {
                Some(BaseTy::Ty(Ty::Flags { set, bytes }))
            }
            (BaseTy::Ty(Ty::Enum { set, .. }), (bytes, signed)) => {
                Some(BaseTy::Ty(Ty::Enum { set, bytes, signed }))
            }
            (BaseTy::Ty(Ty::Int { format, .. }), (bytes, signed)) => Some(BaseTy::Ty(Ty::Int {
                bytes,
                signed,
                format,
            })),
            _ => {
                self.err(
                    Diagnostic::new(
                        ErrorCode::BadValue,
                        format!(
                            "`{}` stores only an integer, a flag set or an enum in another width",
                            alias.name.node
                        ),
                    )
                    .label(alias.target.span, "not an integer, flag set or enum")
                    .label(width.span, "the width given"),
                );
                None
            }
        }
    }

    /// The size and signedness of a plain integer type's name (`u64`,
    /// `long`): the built-in integers shown in decimal.
    fn builtin_int(&self, name: &str) -> Option<(u8, bool)> {
        if !BUILTIN_TYPES.contains(&name) {
            return None;
        }
        match self.builtin(name) {
            BaseTy::Ty(Ty::Int {
                bytes,
                signed,
                format: IntFormat::Dec,
            }) => Some((bytes, signed)),
            _ => None,
        }
    }

    /// `sigset` (a signal set) and `wait_status` (a child's end or stop):
    /// built-in types whose signals the model's enum `signal` names.
    fn named_by_signals(
        &mut self,
        name: &str,
        tref: &ast::TypeRef,
        types: &Types<'a>,
    ) -> Option<BaseTy> {
        match types.defs.get("signal") {
            Some(&(TypeDef::Enum(names), _)) => Some(BaseTy::Ty(if name == "sigset" {
                Ty::SigSet { names }
            } else {
                Ty::WaitStatus { names }
            })),
            _ => {
                self.err(
                    Diagnostic::new(
                        ErrorCode::UnknownType,
                        format!("`{name}` needs the enum `signal` that names its signals"),
                    )
                    .label(tref.name.span, "needs `enum signal`")
                    .note("declare `enum signal { SIGHUP = 1, ... }`"),
                );
                None
            }
        }
    }

    /// `cmsgs` (sendmsg's control messages): a built-in type whose levels
    /// the model's enum `sockopt_level` names, and the types of level
    /// `SOL_SOCKET` its enum `scm_type`.
    fn control_messages(&mut self, tref: &ast::TypeRef, types: &Types<'a>) -> Option<BaseTy> {
        let names = ["sockopt_level", "scm_type"].map(|name| match types.defs.get(name) {
            Some(&(TypeDef::Enum(set), _)) => Some(set),
            _ => None,
        });
        match names {
            [Some(levels), Some(types)] => Some(BaseTy::Buf(BufKind::Cmsgs { levels, types })),
            _ => {
                self.err(
                    Diagnostic::new(
                        ErrorCode::UnknownType,
                        "`cmsgs` needs the enums `sockopt_level` and `scm_type` that name its records",
                    )
                    .label(tref.name.span, "needs `enum sockopt_level` and `enum scm_type`")
                    .note("declare `enum sockopt_level { SOL_SOCKET = 1, ... }` and `enum scm_type { SCM_RIGHTS = 1, ... }`"),
                );
                None
            }
        }
    }

    /// The type `tref` writes with its length: `NAME[LEN]` as
    /// [`BaseTy::with_length`] says, `NAME(LEN)` one structure or union of
    /// LEN bytes.
    pub(super) fn with_length(
        &mut self,
        base: BaseTy,
        tref: &ast::TypeRef,
        len: BufLen,
    ) -> Option<Ty> {
        if !tref.sized {
            return Some(base.with_length(len));
        }
        match (base, len) {
            (BaseTy::Ty(target @ (Ty::Struct { .. } | Ty::Union { .. })), len)
                if len != BufLen::Nul =>
            {
                Some(Ty::Sized {
                    target: Box::new(target),
                    len,
                })
            }
            _ => {
                self.err(
                    Diagnostic::new(
                        ErrorCode::BadLength,
                        format!("`{}` cannot have a length in bytes", tref.name.node),
                    )
                    .label(tref.span, "expected a structure or union and a length")
                    .note("`TYPE(LEN)` is one structure or union of LEN bytes: `sockaddr(addrlen)`; `TYPE[LEN]` is LEN elements"),
                );
                None
            }
        }
    }

    fn builtin(&self, name: &str) -> BaseTy {
        let native = (self.bits / 8) as u8;
        let int = |bytes: u8, signed: bool, format: IntFormat| {
            BaseTy::Ty(Ty::Int {
                bytes,
                signed,
                format,
            })
        };
        match name {
            "i8" => int(1, true, IntFormat::Dec),
            "i16" => int(2, true, IntFormat::Dec),
            "i32" => int(4, true, IntFormat::Dec),
            "i64" => int(8, true, IntFormat::Dec),
            "u8" => int(1, false, IntFormat::Dec),
            "u16" => int(2, false, IntFormat::Dec),
            "u32" => int(4, false, IntFormat::Dec),
            "u64" => int(8, false, IntFormat::Dec),
            "long" => int(native, true, IntFormat::Dec),
            "ulong" => int(native, false, IntFormat::Dec),
            "hex" => int(native, false, IntFormat::Hex),
            "hex8" => int(1, false, IntFormat::Hex),
            "hex16" => int(2, false, IntFormat::Hex),
            "hex32" => int(4, false, IntFormat::Hex),
            "hex64" => int(8, false, IntFormat::Hex),
            "oct" => int(4, false, IntFormat::Oct),
            "oct16" => int(2, false, IntFormat::Oct),
            "char" => int(1, true, IntFormat::Char),
            "unix_path" => int(1, true, IntFormat::UnixPath),
            "inet_port" => int(2, false, IntFormat::Port),
            "inet_addr" => int(4, false, IntFormat::Ipv4),
            "inet_long" => int(4, false, IntFormat::NetLong),
            "hex32z" => int(4, false, IntFormat::Hex8Digits),
            "clock_ticks" => int(native, false, IntFormat::ClockTicks),
            "epoch" => int(native, true, IntFormat::Epoch),
            "inet6" => int(1, false, IntFormat::Ipv6),
            "kernel_version" => int(4, false, IntFormat::KernelVersion),
            "dev" => int(native, false, IntFormat::Dev),
            "rlim_value" => int(native, true, IntFormat::Rlimit),
            "pgoff" => int(native, false, IntFormat::Pages),
            "ptr" => BaseTy::Ty(Ty::Ptr),
            "cstr" => BaseTy::Ty(Ty::CStr),
            "path" => BaseTy::Ty(Ty::Path),
            "void" => BaseTy::Ty(Ty::Void),
            "buf" => BaseTy::Buf(BufKind::Bytes),
            "hexbuf" => BaseTy::Buf(BufKind::HexBytes),
            "wstr" => BaseTy::Buf(BufKind::Utf16),
            "fd_set" => BaseTy::Buf(BufKind::FdSet),
            "cpu_set" => BaseTy::Buf(BufKind::CpuSet),
            "dirents" => BaseTy::Buf(BufKind::Dirents),
            "msgbuf" => BaseTy::Buf(BufKind::MsgBuf),
            other => unreachable!("`{other}` is listed in BUILTIN_TYPES but has no meaning"),
        }
    }

    /// Resolves without reporting: the type's own errors are reported where
    /// it is declared.
    pub(super) fn resolve_quiet(
        &mut self,
        tref: &ast::TypeRef,
        types: &Types<'a>,
    ) -> Option<BaseTy> {
        let before = self.diags.list.len();
        let result = self.resolve_base(tref, types, &mut Vec::new());
        self.diags.list.truncate(before);
        result
    }
}
