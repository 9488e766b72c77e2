//! The traced kernel's layout: what a model's `task` block names
//! (`task_struct.pid`, `&current_task`) turned into numbers when the plugin
//! loads, from the kernel's own BTF, an ISF profile, or the offsets written
//! in the model.

mod btf;
mod image;
mod isf;

pub use image::{blob_len, find_btf, unpack_elf};
use osm_model::{Expr, Kernel, KernelRef, KernelTy, Model, Task};
use std::path::Path;

/// A structure member as the kernel lays it out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Bytes from the start of the structure.
    pub offset: u64,
    pub ty: MemberTy,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberTy {
    /// An integer or enum of this many bytes.
    Int {
        bytes: u64,
        signed: bool,
    },
    Ptr,
    Array {
        elem: Box<MemberTy>,
        count: u64,
    },
    /// An embedded structure or union, by name (empty when anonymous).
    Struct(String),
    /// Anything else, by what it is (`float`, `a bit field of ...`).
    Other(String),
}

impl std::fmt::Display for MemberTy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MemberTy::Int { bytes, signed } => {
                write!(f, "{}{}", if *signed { "i" } else { "u" }, bytes * 8)
            }
            MemberTy::Ptr => f.write_str("a pointer"),
            MemberTy::Array { elem, count } => write!(f, "{elem}[{count}]"),
            MemberTy::Struct(name) => write!(f, "struct {name}"),
            MemberTy::Other(what) => f.write_str(what),
        }
    }
}

/// Where the numbers a model needs come from.
pub trait Layout: Send + Sync {
    /// What it is and where it was found, for messages.
    fn describe(&self) -> String;
    /// A member of a structure or union, also inside its anonymous members.
    fn member(&self, strukt: &str, field: &str) -> Option<Member>;
    fn has_struct(&self, strukt: &str) -> bool;
    /// A symbol's address as linked; a per-CPU variable's offset in the
    /// per-CPU area.
    fn symbol(&self, name: &str) -> Option<u64>;
}

/// The layout in the file `kernel=` names: an ISF profile (JSON, or
/// xz-compressed JSON as profiles are often shipped), raw BTF, an ELF
/// vmlinux with a `.BTF` section, or a boot image that holds BTF, plain
/// or in a compressed payload.
pub fn load(path: &Path) -> Result<Box<dyn Layout>, String> {
    let shown = path.display();
    let data = std::fs::read(path).map_err(|e| format!("kernel={shown}: cannot read it: {e}"))?;
    let data = if data.starts_with(b"\xfd7zXZ\x00") {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut liblzma::read::XzDecoder::new(&data[..]), &mut out)
            .map_err(|e| format!("kernel={shown}: an xz file that does not decompress: {e}"))?;
        out
    } else {
        data
    };
    if data.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        return isf::IsfLayout::parse(&data, shown.to_string())
            .map(|l| Box::new(l) as Box<dyn Layout>)
            .map_err(|e| format!("kernel={shown}: {e}"));
    }
    match find_btf(&data) {
        Ok(found) => btf::BtfLayout::parse(&found.btf, format!("{}, {shown}", found.place))
            .map(|l| Box::new(l) as Box<dyn Layout>)
            .map_err(|e| format!("kernel={shown}: {e}")),
        Err(tried) => Err(format!(
            "kernel={shown}: the kernel's layout is not in it; tried: not ISF JSON; {}. A kernel built without CONFIG_DEBUG_INFO_BTF needs an ISF profile made from its debug information (`cargo xtask isf`), or kernel=model for the offsets written in the model",
            tried.join("; ")
        )),
    }
}

/// The offsets and addresses written in the model (`at`): the last resort,
/// for a kernel that describes neither.
pub struct ModelOffsets<'m> {
    kernel: &'m Kernel,
}

impl<'m> ModelOffsets<'m> {
    pub fn new(model: &'m Model) -> Self {
        ModelOffsets {
            kernel: &model.kernel,
        }
    }
}

impl Layout for ModelOffsets<'_> {
    fn describe(&self) -> String {
        "the offsets written in the model".into()
    }

    fn member(&self, strukt: &str, field: &str) -> Option<Member> {
        let s = self.kernel.structs.iter().find(|s| s.name == strukt)?;
        let f = s.fields.iter().find(|f| f.name == field)?;
        let elem = match f.ty {
            KernelTy::Int { bytes, signed } => MemberTy::Int {
                bytes: u64::from(bytes),
                signed,
            },
            KernelTy::Ptr => MemberTy::Ptr,
            KernelTy::Char => MemberTy::Int {
                bytes: 1,
                signed: true,
            },
            KernelTy::Struct(i) => MemberTy::Struct(self.kernel.structs[i as usize].name.clone()),
        };
        Some(Member {
            offset: f.offset?,
            ty: match f.count {
                Some(count) => MemberTy::Array {
                    elem: Box::new(elem),
                    count,
                },
                None => elem,
            },
        })
    }

    fn has_struct(&self, strukt: &str) -> bool {
        self.kernel.structs.iter().any(|s| s.name == strukt)
    }

    fn symbol(&self, name: &str) -> Option<u64> {
        self.kernel.symbols.iter().find(|s| s.name == name)?.address
    }
}

/// Whether the model's type for a field fits the kernel's: the same size
/// of integer (signedness aside: `pid_t` may be read as `u32`), a pointer,
/// a `char` array of the same length, the same embedded structure.
fn fits(model: &Kernel, bits: u32, declared: &osm_model::KernelField, ty: &MemberTy) -> bool {
    let elem_fits = |elem: &MemberTy| match (declared.ty, elem) {
        (KernelTy::Int { bytes, .. }, MemberTy::Int { bytes: b, .. }) => u64::from(bytes) == *b,
        (KernelTy::Char, MemberTy::Int { bytes: 1, .. }) => true,
        (KernelTy::Ptr, MemberTy::Ptr) => true,
        // A pointer-sized integer holding an address (`unsigned long`).
        (KernelTy::Ptr, MemberTy::Int { bytes, .. }) => *bytes == u64::from(bits / 8),
        (KernelTy::Struct(i), MemberTy::Struct(name)) => model.structs[i as usize].name == *name,
        _ => false,
    };
    match (declared.count, ty) {
        (Some(count), MemberTy::Array { elem, count: c }) => count == *c && elem_fits(elem),
        (None, ty) => elem_fits(ty),
        _ => false,
    }
}

/// Every reference of the model's `kernel` section resolved against
/// `layout`: its value, or `None` where the kernel lacks the structure,
/// field or symbol (a `??` may then take another way). A field the kernel
/// has with another type than the model gives is an error.
pub fn resolve_refs(model: &Model, layout: &dyn Layout) -> Result<Vec<Option<u64>>, String> {
    let kernel = &model.kernel;
    let mut errors = Vec::new();
    let values = kernel
        .refs
        .iter()
        .map(|r| match r {
            KernelRef::Symbol(i) => layout.symbol(&kernel.symbols[*i as usize].name),
            KernelRef::Field { strukt, path } => {
                let mut at = *strukt;
                let mut offset = 0u64;
                for &f in path {
                    let s = &kernel.structs[at as usize];
                    let declared = &s.fields[f as usize];
                    let member = layout.member(&s.name, &declared.name)?;
                    if !fits(kernel, model.bits, declared, &member.ty) {
                        errors.push(format!(
                            "{}.{} is {} in this kernel, but the model reads it as {}",
                            s.name,
                            declared.name,
                            member.ty,
                            declared_text(kernel, declared)
                        ));
                        return None;
                    }
                    offset = offset.wrapping_add(member.offset);
                    if let KernelTy::Struct(inner) = declared.ty {
                        at = inner;
                    }
                }
                Some(offset)
            }
        })
        .collect();
    if errors.is_empty() {
        Ok(values)
    } else {
        Err(format!("{}: {}", layout.describe(), errors.join("; ")))
    }
}

fn declared_text(kernel: &Kernel, f: &osm_model::KernelField) -> String {
    let elem = match f.ty {
        KernelTy::Int { bytes, signed } => {
            format!("{}{}", if signed { "i" } else { "u" }, bytes * 8)
        }
        KernelTy::Ptr => "a pointer".into(),
        KernelTy::Char => "char".into(),
        KernelTy::Struct(i) => format!("struct {}", kernel.structs[i as usize].name),
    };
    match f.count {
        Some(n) => format!("{elem}[{n}]"),
        None => elem,
    }
}

/// `expr` with every kernel reference replaced by its value and every
/// `??` by the alternative the kernel has; or the names it lacks.
fn resolve_expr(expr: &Expr, values: &[Option<u64>], model: &Model) -> Result<Expr, Vec<String>> {
    let both = |a: &Expr, b: &Expr| -> Result<(Expr, Expr), Vec<String>> {
        let (a, b) = (
            resolve_expr(a, values, model),
            resolve_expr(b, values, model),
        );
        match (a, b) {
            (Ok(a), Ok(b)) => Ok((a, b)),
            (Err(mut x), Err(y)) => {
                x.extend(y);
                Err(x)
            }
            (Err(x), _) | (_, Err(x)) => Err(x),
        }
    };
    Ok(match expr {
        Expr::Kernel(i) => match values.get(*i as usize).copied().flatten() {
            Some(v) => Expr::Const(v),
            None => {
                let name = model
                    .kernel
                    .refs
                    .get(*i as usize)
                    .map_or_else(|| format!("kernel#{i}"), |r| model.kernel.ref_name(r));
                return Err(vec![name]);
            }
        },
        Expr::Fallback(a, b) => match resolve_expr(a, values, model) {
            Ok(a) => a,
            Err(mut missing) => match resolve_expr(b, values, model) {
                Ok(b) => b,
                Err(more) => {
                    missing.extend(more);
                    return Err(missing);
                }
            },
        },
        Expr::Load {
            bytes,
            signed,
            addr,
        } => Expr::Load {
            bytes: *bytes,
            signed: *signed,
            addr: Box::new(resolve_expr(addr, values, model)?),
        },
        Expr::Unary(op, e) => Expr::Unary(*op, Box::new(resolve_expr(e, values, model)?)),
        Expr::Binary(op, a, b) => {
            let (a, b) = both(a, b)?;
            Expr::Binary(*op, Box::new(a), Box::new(b))
        }
        Expr::Cond(c, a, b) => {
            let c = resolve_expr(c, values, model)?;
            let (a, b) = both(a, b)?;
            Expr::Cond(Box::new(c), Box::new(a), Box::new(b))
        }
        other => other.clone(),
    })
}

/// The model's `task` block with the kernel's numbers in place: what the
/// tracer evaluates. An error names what the kernel lacks.
pub fn resolve_task(model: &Model, layout: &dyn Layout) -> Result<Task, String> {
    let Some(task) = &model.task else {
        return Err("the model has no `task` block".into());
    };
    let values = resolve_refs(model, layout)?;
    let mut resolved = task.clone();
    let mut missing = Vec::new();
    for expr in resolved.exprs_mut() {
        match resolve_expr(expr, &values, model) {
            Ok(e) => *expr = e,
            Err(names) => missing.extend(names),
        }
    }
    if missing.is_empty() {
        return Ok(resolved);
    }
    missing.sort();
    missing.dedup();
    Err(format!(
        "{} lacks {}, which the model's `task` block reads",
        layout.describe(),
        missing.join(", ")
    ))
}

/// Whether the model's `task` block reads anything of the kernel's
/// layout (a Windows model reading the thread's TEB does not).
pub fn needs_layout(model: &Model) -> bool {
    model
        .task
        .as_ref()
        .is_some_and(|t| t.exprs().any(|e| e.any(&|e| matches!(e, Expr::Kernel(_)))))
}

/// What reads the guest's names for tasks, given the plugin's `kernel=`
/// (`None` when not given), with a note for the user when the choice was
/// not theirs. `Ok((None, _))` traces without names: a model without a
/// `task` block, `kernel=none`, or a model that needs a kernel's layout
/// when none was given.
pub fn task_reader(
    model: &Model,
    source: Option<&crate::args::KernelSource>,
) -> Result<(Option<crate::task::TaskReader>, Option<String>), String> {
    use crate::args::KernelSource;
    let reader = |task| Some(crate::task::TaskReader::new(task, model.endian));
    if model.task.is_none() {
        return match source {
            Some(KernelSource::File(_) | KernelSource::Model) => Err(
                "kernel= is given, but the model has no `task` block: it reads no kernel structures".into(),
            ),
            _ => Ok((None, None)),
        };
    }
    match source {
        Some(KernelSource::None) => Ok((None, None)),
        Some(KernelSource::File(path)) => {
            let layout = load(path)?;
            let task = resolve_task(model, layout.as_ref())?;
            Ok((reader(task), None))
        }
        Some(KernelSource::Model) => {
            let task = resolve_task(model, &ModelOffsets::new(model))
                .map_err(|e| format!("kernel=model: {e}"))?;
            Ok((reader(task), None))
        }
        None if !needs_layout(model) => {
            let task = resolve_task(model, &ModelOffsets::new(model))?;
            Ok((reader(task), None))
        }
        None => match resolve_task(model, &ModelOffsets::new(model)) {
            Ok(task) => Ok((
                reader(task),
                Some("osmtrace: no kernel= given: the task names use the offsets written in the model".into()),
            )),
            Err(_) => Ok((
                None,
                Some("osmtrace: no kernel= given: calls are labelled with register values, not the guest's pid and tid; give kernel=PATH (the kernel image the guest boots, a vmlinux, raw BTF or an ISF profile), or kernel=none".into()),
            )),
        },
    }
}
