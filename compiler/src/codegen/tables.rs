//! Writes a checked model as the static tables of a generated crate
//! (`osm_model::embedded`), one syscall, member or field per line, so that
//! a plugin carries its model as data it need not parse and a reviewer
//! reads a model change as a one-line diff.

use crate::model::{
    ArgCond, BufLen, Direction, ErrorConvention, Expr, IntFormat, KernelRef, KernelTy, MemberSet,
    Model, Pattern, Syscall, Ty,
};
use std::fmt::Write;

/// The Rust source of `tables.rs`: a `MODEL` static equal, once expanded,
/// to `model`.
pub fn gen_tables(model: &Model, header: &str) -> Result<String, String> {
    let mut w = TableWriter::new(model)?;
    let body = w.model()?;
    let mut out = format!(
        "//! {header}\n//!\n//! The model as static tables: `MODEL.expand()` is the checked model.\n\n\
#[allow(unused_imports)]\nuse osm_runtime::model::arch::{{Arch, Endian}};\n\
#[allow(unused_imports)]\nuse osm_runtime::model::embedded::{{Expr as E, *}};\n\
#[allow(unused_imports)]\nuse osm_runtime::model::{{BinOp, BufLen, Direction::*, FieldIo, IntFormat, KernelTy, UnOp}};\n\n"
    );
    out.push_str("/// Every type the model uses and the name it was written as; the other\n/// tables name them by index.\n");
    out.push_str("#[rustfmt::skip]\nconst TYPES: &[Type] = &[\n");
    for (i, (ty, name)) in w.types.iter().enumerate() {
        let _ = writeln!(out, "    /* {i} */ Type({ty}, {name:?}),");
    }
    out.push_str("];\n\n#[rustfmt::skip]\npub static MODEL: Model = ");
    out.push_str(&body);
    out.push_str(";\n");
    Ok(out)
}

struct TableWriter<'m> {
    model: &'m Model,
    /// Interned types in first-use order: the rendered type and its name.
    types: Vec<(String, String)>,
    files: Vec<String>,
}

impl<'m> TableWriter<'m> {
    fn new(model: &'m Model) -> Result<Self, String> {
        if model.classes.len() > usize::from(u8::MAX) {
            return Err(format!(
                "{} classes; at most 255 are supported",
                model.classes.len()
            ));
        }
        Ok(TableWriter {
            model,
            types: Vec::new(),
            files: Vec::new(),
        })
    }

    /// The index of `ty` written as `name` in the type table.
    fn ty(&mut self, ty: &Ty, name: &str) -> usize {
        let text = match ty {
            Ty::Void => "Ty::Void".to_string(),
            Ty::Int {
                bytes,
                signed,
                format,
            } => format!(
                "Ty::Int({bytes}, {signed}, IntFormat::{})",
                int_format(*format)
            ),
            Ty::Ptr => "Ty::Ptr".to_string(),
            Ty::CStr => "Ty::CStr".to_string(),
            Ty::Path => "Ty::Path".to_string(),
            Ty::Buf { len } => format!("Ty::Buf({})", buf_len(len)),
            Ty::HexBuf { len } => format!("Ty::HexBuf({})", buf_len(len)),
            Ty::WStr { len } => format!("Ty::WStr({})", buf_len(len)),
            Ty::FdSet { len } => format!("Ty::FdSet({})", buf_len(len)),
            Ty::CpuSet { len } => format!("Ty::CpuSet({})", buf_len(len)),
            Ty::Dirents { len } => format!("Ty::Dirents({})", buf_len(len)),
            Ty::MsgBuf { len } => format!("Ty::MsgBuf({})", buf_len(len)),
            Ty::Flags { set, bytes } => format!("Ty::Flags({set}, {bytes})"),
            Ty::Enum { set, bytes, signed } => format!("Ty::Enum({set}, {bytes}, {signed})"),
            Ty::Struct { id } => format!("Ty::Struct({id})"),
            Ty::Union { id } => format!("Ty::Union({id})"),
            Ty::Array { elem, len } => {
                let elem = self.ty(elem, "");
                format!("Ty::Array({elem}, {})", buf_len(len))
            }
            Ty::Sized { target, len } => {
                let target = self.ty(target, "");
                format!("Ty::Sized({target}, {})", buf_len(len))
            }
            Ty::Cmsgs { len, levels, types } => {
                format!("Ty::Cmsgs({}, {levels}, {types})", buf_len(len))
            }
            Ty::SigSet { names } => format!("Ty::SigSet({names})"),
            Ty::WaitStatus { names } => format!("Ty::WaitStatus({names})"),
        };
        let entry = (text, name.to_string());
        match self.types.iter().position(|t| *t == entry) {
            Some(i) => i,
            None => {
                self.types.push(entry);
                self.types.len() - 1
            }
        }
    }

    fn model(&mut self) -> Result<String, String> {
        let m = self.model;
        let mut o = String::from("Model {\n");
        let _ = writeln!(o, "    name: {:?},", m.name);
        let _ = writeln!(o, "    arch: Arch::{:?},", m.arch);
        let _ = writeln!(o, "    bits: {},", m.bits);
        let _ = writeln!(o, "    endian: Endian::{:?},", m.endian);
        o.push_str("    registers: &[");
        o.push_str(&join(
            m.registers
                .iter()
                .map(|r| format!("({:?}, {})", r.name, r.bits)),
        ));
        o.push_str("],\n");
        let _ = writeln!(o, "    thread: {},", expr(&m.thread));
        let _ = writeln!(o, "    process: {},", expr(&m.process));
        o.push_str("    mechanisms: &[\n");
        for mech in &m.mechanisms {
            let _ = writeln!(o, "        Mechanism {{");
            let _ = writeln!(o, "            name: {:?},", mech.name);
            let _ = writeln!(o, "            entry: {},", pattern(&mech.entry));
            let _ = writeln!(
                o,
                "            when: {},",
                option(mech.when.as_ref().map(expr))
            );
            let _ = writeln!(o, "            table: {},", mech.table.0);
            let _ = writeln!(o, "            number: {},", expr(&mech.number));
            let _ = writeln!(
                o,
                "            args: &[{}],",
                join(mech.args.iter().map(expr))
            );
            let _ = writeln!(
                o,
                "            args_rest: {},",
                option(mech.args_rest.as_ref().map(expr))
            );
            let _ = writeln!(o, "            ret: {},", expr(&mech.ret));
            let error = match &mech.error {
                ErrorConvention::None => "ErrorConvention::None".to_string(),
                ErrorConvention::Negative { max } => format!("ErrorConvention::Negative({max})"),
                ErrorConvention::Flag(e) => format!("ErrorConvention::Flag({})", expr(e)),
            };
            let _ = writeln!(o, "            error: {error},");
            o.push_str("            exits: &[\n");
            for exit in &mech.exits {
                let _ = writeln!(
                    o,
                    "                Exit {{ name: {:?}, pattern: {}, resume: {}, kernel_space: {}, outputs_at_resume: {}, read_at_resume: {} }},",
                    exit.name,
                    pattern(&exit.pattern),
                    expr(&exit.resume),
                    exit.kernel_space,
                    exit.outputs_at_resume,
                    exit.read_at_resume
                );
            }
            o.push_str("            ],\n");
            let _ = writeln!(o, "            thread: {},", expr(&mech.thread));
            let _ = writeln!(o, "            process: {},", expr(&mech.process));
            let _ = writeln!(
                o,
                "            called_from: {},",
                option(mech.called_from.as_ref().map(expr))
            );
            let _ = writeln!(
                o,
                "            returns_to: {},",
                option(mech.returns_to.as_ref().map(expr))
            );
            let _ = writeln!(o, "            source: {:?},", mech.source);
            o.push_str("        },\n");
        }
        o.push_str("    ],\n    types: TYPES,\n");
        // Tables before structures, so that a model's types are numbered
        // in the order its syscalls first use them.
        let mut tables = String::new();
        for table in &m.tables {
            let _ = writeln!(
                tables,
                "        Table {{ name: {:?}, offset: {}, syscalls: &[",
                table.name, table.offset
            );
            for syscall in &table.syscalls {
                let line = self.syscall(syscall)?;
                let _ = writeln!(tables, "            {line},");
            }
            tables.push_str("        ] },\n");
        }
        let structs = self.structs();
        let unions = self.unions();
        let signal = self.signal();
        o.push_str("    files: &[");
        o.push_str(&join(self.files.iter().map(|f| format!("{f:?}"))));
        o.push_str("],\n    tables: &[\n");
        o.push_str(&tables);
        o.push_str("    ],\n");
        let _ = write!(
            o,
            "    flag_sets: {},\n    enums: {},\n",
            member_sets(&m.flag_sets, true),
            member_sets(&m.enums, false)
        );
        o.push_str("    errnos: &[\n");
        for e in &m.errnos {
            let _ = writeln!(o, "        ({}, {:?}, {:?}),", e.value, e.name, e.message);
        }
        o.push_str("    ],\n    classes: &[");
        o.push_str(&join(m.classes.iter().map(|c| format!("{c:?}"))));
        o.push_str("],\n");
        o.push_str(&structs);
        o.push_str(&unions);
        o.push_str(&kernel(&m.kernel));
        o.push_str(&task(m.task.as_ref()));
        o.push_str(&signal);
        o.push('}');
        Ok(o)
    }

    fn syscall(&mut self, s: &Syscall) -> Result<String, String> {
        let (file, line) = s
            .source
            .rsplit_once(':')
            .and_then(|(file, line)| Some((file, line.parse::<u32>().ok()?)))
            .ok_or_else(|| format!("`{}`: source `{}` is not FILE:LINE", s.name, s.source))?;
        let file = match self.files.iter().position(|f| f == file) {
            Some(i) => i,
            None => {
                self.files.push(file.to_string());
                self.files.len() - 1
            }
        };
        let args = join(s.args.iter().map(|a| {
            let ty = self.ty(&a.ty, &a.type_name);
            // Written whole unless plain, as fields are.
            if a.cond.is_none()
                && !a.alt
                && !a.verbose
                && !a.updated
                && !a.nonzero
                && a.slot.is_none()
                && a.location.is_none()
            {
                format!("p({:?}, {}, {ty})", a.name.as_str(), direction(a.dir))
            } else {
                format!(
                    "Param {{ name: {:?}, dir: {}, ty: {ty}, cond: {}, alt: {}, verbose: {}, updated: {}, nonzero: {}, slot: {}, location: {} }}",
                    a.name.as_str(),
                    direction(a.dir),
                    a.cond.as_ref().map_or("None".to_string(), arg_cond),
                    a.alt,
                    a.verbose,
                    a.updated,
                    a.nonzero,
                    option(a.slot.map(|s| s.to_string())),
                    option(a.location.as_ref().map(expr))
                )
            }
        }));
        let ret = self.ty(&s.ret, &s.ret_name);
        let classes = s
            .classes
            .iter()
            .map(|c| {
                self.model
                    .classes
                    .iter()
                    .position(|k| k == c)
                    .map(|i| i.to_string())
                    .ok_or_else(|| format!("`{}`: class `{c}` is not the model's", s.name))
            })
            .collect::<Result<Vec<_>, _>>()?
            .join(", ");
        let plain = format!(
            "s({}, {:?}, &[{args}], {ret}, &[{classes}], {file}, {line})",
            s.number, s.name
        );
        let flags: Vec<&str> = [
            (s.noreturn, "NORETURN"),
            (s.ends_process, "ENDS_PROCESS"),
            (s.returns_twice, "RETURNS_TWICE"),
            (s.exec, "EXEC"),
            (s.sigreturn, "SIGRETURN"),
            (s.renames, "RENAMES"),
            (s.named, "NAMED"),
            (s.ends_thread, "ENDS_THREAD"),
        ]
        .into_iter()
        .filter(|(set, _)| *set)
        .map(|(_, name)| name)
        .collect();
        let mut fields = Vec::new();
        if !flags.is_empty() {
            fields.push(format!("flags: {}", flags.join(" | ")));
        }
        if !s.explain.is_empty() {
            let ways = join(s.explain.iter().map(|e| {
                let ty = self.ty(&e.ty, "");
                let cond = e.cond.as_ref().map_or("None".to_string(), arg_cond);
                let args = join(e.args.iter().map(|a| format!("({}, {:?})", a.arg, a.label)));
                let label = option(e.label.as_ref().map(|l| format!("{l:?}")));
                format!("RetExplain {{ ty: {ty}, cond: {cond}, args: &[{args}], label: {label} }}")
            }));
            fields.push(format!("explain: &[{ways}]"));
        }
        Ok(if fields.is_empty() {
            plain
        } else {
            format!("Syscall {{ {}, ..{plain} }}", fields.join(", "))
        })
    }

    fn structs(&mut self) -> String {
        let mut o = String::from("    structs: &[\n");
        for s in &self.model.structs {
            let _ = writeln!(
                o,
                "        StructDef {{ name: {:?}, size: {}, align: {}, dated: {}, fields: &[",
                s.name, s.size, s.align, s.dated
            );
            for field in &s.fields {
                let ty = self.ty(&field.ty, &field.type_name);
                // Written whole unless plain: a condition owns its values
                // (a `Cow`), and a static cannot drop the fields that
                // `..f(...)` would replace.
                if field.count.is_none()
                    && !field.verbose
                    && field.cond.is_none()
                    && field.io.is_both()
                    && !field.alone
                    && field.high.is_none()
                    && !field.updated
                    && !field.trailing
                    && !field.flat
                    && !field.written
                {
                    let _ = writeln!(
                        o,
                        "            f({:?}, {}, {ty}),",
                        field.name, field.offset
                    );
                } else {
                    let _ = writeln!(
                        o,
                        "            Field {{ name: {:?}, offset: {}, ty: {ty}, count: {}, verbose: {}, cond: {}, io: FieldIo::{:?}, alone: {}, high: {}, updated: {}, trailing: {}, flat: {}, written: {} }},",
                        field.name,
                        field.offset,
                        option(field.count.map(|n| n.to_string())),
                        field.verbose,
                        field.cond.as_ref().map_or("None".to_string(), arg_cond),
                        field.io,
                        field.alone,
                        option(field.high.map(|n| n.to_string())),
                        field.updated,
                        field.trailing,
                        field.flat,
                        field.written
                    );
                }
            }
            o.push_str("        ] },\n");
        }
        o.push_str("    ],\n");
        o
    }

    fn unions(&mut self) -> String {
        let mut o = String::from("    unions: &[\n");
        for u in &self.model.unions {
            let tag_ty = self.ty(&u.tag_ty, "");
            let cases = join(
                u.cases
                    .iter()
                    .map(|c| format!("({:?}, {}, {})", c.member, c.value, c.target)),
            );
            let _ = writeln!(
                o,
                "        UnionDef {{ name: {:?}, tag: {:?}, tag_offset: {}, tag_ty: {tag_ty}, size: {}, align: {}, cases: &[{cases}] }},",
                u.name, u.tag, u.tag_offset, u.size, u.align
            );
        }
        o.push_str("    ],\n");
        o
    }

    fn signal(&mut self) -> String {
        let Some(s) = &self.model.signal else {
            return "    signal: None,\n".to_string();
        };
        let names = option(s.names.as_ref().map(|t| self.ty(t, "").to_string()));
        let siginfo = option(s.siginfo.as_ref().map(|t| self.ty(t, "").to_string()));
        format!(
            "    signal: Some(Signal {{\n        number: {},\n        names: {names},\n        pc: {},\n        ret: {},\n        flag: {},\n        thread: {},\n        sigreturn_thread: {},\n        info: {},\n        siginfo: {siginfo},\n        entered: {},\n    }}),\n",
            expr(&s.number),
            expr(&s.pc),
            expr(&s.ret),
            option(s.flag.as_ref().map(expr)),
            option(s.thread.as_ref().map(expr)),
            option(s.sigreturn_thread.as_ref().map(expr)),
            option(s.info.as_ref().map(expr)),
            option(s.entered.as_ref().map(expr)),
        )
    }
}

fn member_sets(sets: &[MemberSet], flags: bool) -> String {
    let mut o = String::from("&[\n");
    for set in sets {
        let _ = writeln!(
            o,
            "        MemberSet {{ name: {:?}, bytes: {}, signed: {}, rest: IntFormat::{}, unknown: {}, verbose: {}, members: &[",
            set.name,
            set.bytes,
            set.signed,
            int_format(set.rest),
            option(set.unknown.as_ref().map(|u| format!("{u:?}"))),
            set.verbose
        );
        for member in &set.members {
            let value = if flags && member.value > 9 {
                format!("0x{:x}", member.value)
            } else {
                member.value.to_string()
            };
            let plain = format!("m({:?}, {value})", member.name);
            match member.mask {
                None => {
                    let _ = writeln!(o, "            {plain},");
                }
                Some(mask) => {
                    let _ = writeln!(
                        o,
                        "            Member {{ mask: Some(0x{mask:x}), ..{plain} }},"
                    );
                }
            }
        }
        o.push_str("        ] },\n");
    }
    o.push_str("    ]");
    o
}

fn kernel(k: &crate::model::Kernel) -> String {
    let mut o = String::from("    kernel: Kernel {\n        structs: &[\n");
    for s in &k.structs {
        let fields = join(s.fields.iter().map(|f| {
            let ty = match f.ty {
                KernelTy::Int { bytes, signed } => {
                    format!("KernelTy::Int {{ bytes: {bytes}, signed: {signed} }}")
                }
                KernelTy::Ptr => "KernelTy::Ptr".to_string(),
                KernelTy::Char => "KernelTy::Char".to_string(),
                KernelTy::Struct(i) => format!("KernelTy::Struct({i})"),
            };
            format!(
                "KernelField {{ name: {:?}, ty: {ty}, count: {}, offset: {} }}",
                f.name,
                option(f.count.map(|c| c.to_string())),
                option(f.offset.map(|c| format!("0x{c:x}")))
            )
        }));
        let _ = writeln!(
            o,
            "            KernelStruct {{ name: {:?}, fields: &[{fields}] }},",
            s.name
        );
    }
    o.push_str("        ],\n        symbols: &[");
    o.push_str(&join(k.symbols.iter().map(|s| {
        format!(
            "({:?}, {})",
            s.name,
            option(s.address.map(|a| format!("0x{a:x}")))
        )
    })));
    o.push_str("],\n        refs: &[");
    o.push_str(&join(k.refs.iter().map(|r| match r {
        KernelRef::Field { strukt, path } => format!(
            "KernelRef::Field {{ strukt: {strukt}, path: &[{}] }}",
            join(path.iter().map(u32::to_string))
        ),
        KernelRef::Symbol(i) => format!("KernelRef::Symbol({i})"),
    })));
    o.push_str("],\n    },\n");
    o
}

fn task(t: Option<&crate::model::Task>) -> String {
    let Some(t) = t else {
        return "    task: None,\n".to_string();
    };
    let probes = |probes: &[crate::model::Probe]| {
        join(
            probes
                .iter()
                .map(|p| format!("({:?}, {})", p.name, pattern(&p.pattern))),
        )
    };
    let (probes, return_probes) = (probes(&t.probes), probes(&t.return_probes));
    format!(
        "    task: Some(Task {{\n        probes: &[{probes}],\n        return_probes: &[{return_probes}],\n        current: {},\n        tid: {},\n        pid: {},\n        ppid: {},\n        comm: {},\n    }}),\n",
        option(t.current.as_ref().map(expr)),
        expr(&t.tid),
        expr(&t.pid),
        option(t.ppid.as_ref().map(expr)),
        option(
            t.comm
                .as_ref()
                .map(|c| format!("({}, {})", expr(&c.addr), c.len))
        ),
    )
}

fn expr(e: &Expr) -> String {
    match e {
        Expr::Const(v) if *v > 9 => format!("E::Const(0x{v:x})"),
        Expr::Const(v) => format!("E::Const({v})"),
        Expr::Reg(r) => format!("E::Reg({})", r.0),
        Expr::ArgIndex => "E::ArgIndex".to_string(),
        Expr::Load {
            bytes,
            signed,
            addr,
        } => format!("E::Load({bytes}, {signed}, &{})", expr(addr)),
        Expr::Unary(op, a) => format!("E::Unary(UnOp::{op:?}, &{})", expr(a)),
        Expr::Binary(op, a, b) => format!("E::Binary(BinOp::{op:?}, &{}, &{})", expr(a), expr(b)),
        Expr::Insn => "E::Insn".to_string(),
        Expr::Cond(c, a, b) => format!("E::Cond(&{}, &{}, &{})", expr(c), expr(a), expr(b)),
        Expr::Kernel(i) => format!("E::Kernel({i})"),
        Expr::Fallback(a, b) => format!("E::Fallback(&{}, &{})", expr(a), expr(b)),
        Expr::Current => "E::Current".to_string(),
        Expr::InsnAddr => "E::InsnAddr".to_string(),
    }
}

fn pattern(p: &Pattern) -> String {
    let hex = |bytes: &[u8]| join(bytes.iter().map(|b| format!("0x{b:02x}")));
    let at =
        p.at.map(|at| format!("At {{ value: 0x{:x}, mask: 0x{:x} }}", at.value, at.mask));
    format!(
        "Pattern(&[{}], &[{}], {})",
        hex(&p.bytes),
        hex(&p.mask),
        option(at)
    )
}

fn buf_len(len: &BufLen) -> String {
    match len {
        BufLen::Arg(i) => format!("BufLen::Arg({i})"),
        BufLen::Ret => "BufLen::Ret".to_string(),
        BufLen::RetUpTo(arg) => format!("BufLen::RetUpTo({arg})"),
        BufLen::At(arg) => format!("BufLen::At({arg})"),
        BufLen::Field(i) => format!("BufLen::Field({i})"),
        BufLen::Const(n) => format!("BufLen::Const({n})"),
        BufLen::Nul => "BufLen::Nul".to_string(),
        BufLen::Pages { arg, size } => format!("BufLen::Pages {{ arg: {arg}, size: {size} }}"),
    }
}

fn int_format(format: IntFormat) -> String {
    format!("{format:?}")
}

fn direction(dir: Direction) -> &'static str {
    match dir {
        Direction::In => "In",
        Direction::Out => "Out",
        Direction::InOut => "InOut",
    }
}

fn arg_cond(cond: &ArgCond) -> String {
    let values = join(cond.values.iter().map(|v| format!("0x{v:x}")));
    match &cond.and {
        None => format!("c({}, 0x{:x}, &[{values}])", cond.arg, cond.mask),
        Some(_) => format!("Some({})", cond_literal(cond)),
    }
}

/// A condition with `&&` tests, as a constant the tables can borrow.
fn cond_literal(cond: &ArgCond) -> String {
    let values = join(cond.values.iter().map(|v| format!("0x{v:x}")));
    let and = option(cond.and.as_deref().map(|c| format!("&{}", cond_literal(c))));
    format!(
        "Cond {{ arg: {}, mask: 0x{:x}, values: &[{values}], and: {and} }}",
        cond.arg, cond.mask
    )
}

fn option(value: Option<String>) -> String {
    value.map_or_else(|| "None".to_string(), |v| format!("Some({v})"))
}

fn join(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}
