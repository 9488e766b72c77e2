//! Small hand-built models for unit tests: the runtime must not depend on
//! the specs, which change independently.

use osm_compiler::arch::{Arch, Endian};
use osm_compiler::model::{
    BufLen, Direction, Errno, ErrorConvention, Expr, IntFormat, Mechanism, MemberSet, Model, Param,
    Pattern, RegId, Register, Syscall, Table, TableId, Ty,
};

pub fn mechanism() -> Mechanism {
    Mechanism {
        name: "syscall".into(),
        entry: Pattern {
            bytes: vec![0x0f, 0x05],
            mask: vec![0xff, 0xff],
        },
        table: TableId(0),
        number: Expr::Reg(RegId(0)),
        args: vec![
            Expr::Reg(RegId(1)),
            Expr::Reg(RegId(2)),
            Expr::Reg(RegId(3)),
        ],
        args_rest: None,
        ret: Expr::Reg(RegId(0)),
        error: ErrorConvention::Negative { max: 4095 },
        exits: Vec::new(),
        thread: Expr::Const(0),
        process: Expr::Const(0),
        source: "test".into(),
    }
}

pub fn param(name: &str, dir: Direction, ty: Ty, type_name: &str) -> Param {
    Param {
        name: name.into(),
        dir,
        ty,
        type_name: type_name.into(),
    }
}

pub fn int(bytes: u8, signed: bool, format: IntFormat) -> Ty {
    Ty::Int {
        bytes,
        signed,
        format,
    }
}

pub fn syscall(number: u64, name: &str, args: Vec<Param>, ret: Ty) -> Syscall {
    Syscall {
        number,
        name: name.into(),
        args,
        ret,
        ret_name: "long".into(),
        noreturn: false,
        returns_twice: false,
        exec: false,
        sigreturn: false,
        classes: Vec::new(),
        source: "test".into(),
    }
}

/// A little x86_64-like Linux with read, write and openat.
pub fn model() -> Model {
    let fd = int(4, true, IntFormat::Dec);
    let size = int(8, false, IntFormat::Dec);
    let ssize = int(8, true, IntFormat::Dec);
    Model {
        name: "testlinux".into(),
        arch: Arch::X86_64,
        bits: 64,
        endian: Endian::Little,
        registers: ["rax", "rdi", "rsi", "rdx"]
            .iter()
            .map(|n| Register {
                name: (*n).into(),
                bits: 64,
            })
            .collect(),
        thread: Expr::Const(0),
        process: Expr::Const(0),
        mechanisms: vec![mechanism()],
        tables: vec![Table {
            name: "linux".into(),
            offset: 0,
            syscalls: vec![
                syscall(
                    0,
                    "read",
                    vec![
                        param("fd", Direction::In, fd.clone(), "fd"),
                        param("buf", Direction::Out, Ty::Buf { len: BufLen::Ret }, "buf"),
                        param("count", Direction::In, size.clone(), "size"),
                    ],
                    ssize.clone(),
                ),
                syscall(
                    1,
                    "write",
                    vec![
                        param("fd", Direction::In, fd.clone(), "fd"),
                        param(
                            "buf",
                            Direction::In,
                            Ty::Buf {
                                len: BufLen::Arg(2),
                            },
                            "buf",
                        ),
                        param("count", Direction::In, size, "size"),
                    ],
                    ssize,
                ),
                syscall(
                    257,
                    "openat",
                    vec![
                        param("dirfd", Direction::In, fd.clone(), "fd"),
                        param("path", Direction::In, Ty::CStr, "cstr"),
                        param(
                            "flags",
                            Direction::In,
                            Ty::Flags { set: 0, bytes: 4 },
                            "open_flags",
                        ),
                        param("mode", Direction::In, int(4, false, IntFormat::Oct), "mode"),
                    ],
                    fd,
                ),
            ],
        }],
        flag_sets: vec![
            MemberSet {
                name: "open_flags".into(),
                bytes: 4,
                signed: false,
                members: vec![
                    ("O_RDONLY".into(), 0),
                    ("O_WRONLY".into(), 1),
                    ("O_RDWR".into(), 2),
                    ("O_CREAT".into(), 0o100),
                    ("O_DSYNC".into(), 0o10000),
                    ("O_CLOEXEC".into(), 0o2000000),
                    ("O_SYNC".into(), 0o4010000),
                ],
            },
            MemberSet {
                name: "prot".into(),
                bytes: 4,
                signed: false,
                members: vec![
                    ("PROT_READ".into(), 1),
                    ("PROT_WRITE".into(), 2),
                    ("PROT_EXEC".into(), 4),
                ],
            },
        ],
        enums: vec![MemberSet {
            name: "whence".into(),
            bytes: 4,
            signed: true,
            members: vec![
                ("SEEK_SET".into(), 0),
                ("SEEK_CUR".into(), 1),
                ("SEEK_END".into(), 2),
                ("AT_FDCWD".into(), -100),
            ],
        }],
        errnos: vec![
            Errno {
                name: "EPERM".into(),
                value: 1,
                message: "Operation not permitted".into(),
            },
            Errno {
                name: "ENOENT".into(),
                value: 2,
                message: "No such file or directory".into(),
            },
            Errno {
                name: "EAGAIN".into(),
                value: 11,
                message: "Resource temporarily unavailable".into(),
            },
            Errno {
                name: "EWOULDBLOCK".into(),
                value: 11,
                message: "Resource temporarily unavailable".into(),
            },
        ],
        classes: Vec::new(),
    }
}
