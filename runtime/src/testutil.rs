//! Small hand-built models for unit tests: the runtime must not depend on
//! the specs, which change independently.

use osm_model::arch::{Arch, Endian};
use osm_model::{
    BufLen, Direction, Errno, ErrorConvention, Expr, IntFormat, Mechanism, Member, MemberSet,
    Model, Param, Pattern, RegId, Register, Syscall, Table, TableId, Ty,
};

pub fn mechanism() -> Mechanism {
    Mechanism {
        name: "syscall".into(),
        entry: Pattern {
            bytes: vec![0x0f, 0x05],
            mask: vec![0xff, 0xff],
            at: None,
        },
        when: None,
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
        called_from: None,
        returns_to: None,
        source: "test".into(),
    }
}

pub fn param(name: &str, dir: Direction, ty: Ty, type_name: &str) -> Param {
    Param {
        name: name.into(),
        dir,
        ty,
        type_name: type_name.into(),
        cond: None,
        alt: false,
        verbose: false,
        updated: false,
        nonzero: false,
        slot: None,
        location: None,
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
        explain: Vec::new(),
        noreturn: false,
        ends_process: false,
        returns_twice: false,
        exec: false,
        sigreturn: false,
        renames: false,
        named: false,
        ends_thread: false,
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
                    Member::new("O_RDONLY", 0),
                    Member::new("O_WRONLY", 1),
                    Member::new("O_RDWR", 2),
                    Member::new("O_CREAT", 0o100),
                    Member::new("O_DSYNC", 0o10000),
                    Member::new("O_CLOEXEC", 0o2000000),
                    Member::new("O_SYNC", 0o4010000),
                ],
                rest: IntFormat::Hex,
                unknown: None,
                verbose: false,
            },
            MemberSet {
                name: "prot".into(),
                bytes: 4,
                signed: false,
                members: vec![
                    Member::new("PROT_READ", 1),
                    Member::new("PROT_WRITE", 2),
                    Member::new("PROT_EXEC", 4),
                ],
                rest: IntFormat::Hex,
                unknown: None,
                verbose: false,
            },
        ],
        enums: vec![MemberSet {
            name: "whence".into(),
            bytes: 4,
            signed: true,
            members: vec![
                Member::new("SEEK_SET", 0),
                Member::new("SEEK_CUR", 1),
                Member::new("SEEK_END", 2),
                Member::new("AT_FDCWD", -100),
            ],
            rest: IntFormat::Dec,
            unknown: None,
            verbose: false,
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
        structs: Vec::new(),
        unions: Vec::new(),
        kernel: Default::default(),
        task: None,
        signal: None,
    }
}

/// A model compiled from `.osm` text: the decoders see types exactly as a
/// model declares them. `arch` picks the layout rules.
pub fn compile(arch: &str, body: &str) -> Model {
    let bits = if arch == "arm" { 32 } else { 64 };
    let (regs, number) = if arch == "arm" {
        ("r0, r1, r2, r3, r4, r5", "r7")
    } else {
        ("rdi, rsi, rdx, r10, r8, r9", "rax")
    };
    let (ret, thread, exit) = if arch == "arm" {
        ("r0", "TPIDRURO", "exit e = insn32 0xe1b0f00e resume lr;")
    } else {
        ("rax", "fs_base", "exit e = bytes \"48 0f 07\" resume rcx;")
    };
    let text = format!(
        "os t {{ arch = {arch}; bits = {bits}; }}\nthread = {thread};\nprocess = {thread};\n\
         mechanism m {{ entry = bytes \"0f 05\"; number = {number}; args = {regs}; return = {ret}; error = negative(4095); {exit} }}\n\
         {body}"
    );
    let loader = osm_compiler::load::MemLoader::default().with("t.osm", &text);
    let compilation = osm_compiler::compile_with(std::path::Path::new("t.osm"), &loader);
    match compilation.result {
        Ok(model) => model,
        Err(_) => panic!(
            "test model does not check:\n{}",
            compilation.render_errors()
        ),
    }
}
