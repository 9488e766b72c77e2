//! Semantic checks: from the syntax trees of a model's files to the checked
//! model. Every pass collects all of its errors instead of stopping at the
//! first one.

use crate::arch::{self, ArchInfo, Endian};
use crate::diag::{Diagnostic, Diagnostics, ErrorCode};
use crate::files::{Files, Span};
use crate::model::{self, BufLen, ErrorConvention, Expr, IntFormat, Model, RegId, TableId, Ty};
use crate::syntax::ast::{
    self, BinOp, Direction, ExprKind, Item, MechStmt, PatternKind, PatternLit, UnOp, Value,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};

mod signal;
mod task;

const OS_KEYS: &[&str] = &["arch", "bits", "endian", "version", "description"];
const TOP_KEYS: &[&str] = &["thread", "process"];
const MECH_KEYS: &[&str] = &[
    "entry", "when", "table", "number", "args", "return", "error", "thread", "process",
];
const BEHAVIOURS: &[&str] = &[
    "noreturn",
    "ends_process",
    "returns_twice",
    "exec",
    "sigreturn",
    "renames",
];
const LOAD_WIDTHS: &[&str] = &["u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64"];

/// What an expression may name besides registers.
#[derive(Clone, Copy, Default)]
struct Scope<'s> {
    /// The argument-index variable, inside `args[i] = ...`.
    index_var: Option<&'s str>,
    insn: InsnScope,
    /// Inside the `task` block: what its expressions may name.
    task: Option<task::TaskScope>,
}

/// Whether `insn` (the entry instruction) is defined where an expression is.
#[derive(Clone, Copy, Default)]
enum InsnScope {
    /// Outside a mechanism's `number`.
    #[default]
    Outside,
    /// In `number`, with an entry pattern of this many bytes.
    Bytes(usize),
    /// In `number` of a mechanism whose entry pattern failed its own check.
    Unknown,
}

impl<'s> Scope<'s> {
    fn args(index_var: &'s str) -> Self {
        Scope {
            index_var: Some(index_var),
            ..Scope::default()
        }
    }
}

/// The widest entry instruction `insn` can hold: its value is a 64-bit
/// integer.
const MAX_INSN_BYTES: usize = 8;

/// Checks a loaded model. Returns the model only when there is no error.
pub fn check_model(
    files: &Files,
    asts: &[(crate::files::FileId, ast::File)],
    diags: &mut Diagnostics,
) -> Option<Model> {
    let items: Vec<&Item> = asts.iter().flat_map(|(_, f)| f.items.iter()).collect();
    let mut checker = Checker {
        files,
        diags,
        arch: None,
        bits: 64,
        endian: Endian::Little,
        used_regs: Vec::new(),
        listed_registers: false,
        kernel: model::Kernel::default(),
    };
    checker.run(&items)
}

struct Checker<'a> {
    files: &'a Files,
    diags: &'a mut Diagnostics,
    arch: Option<&'static ArchInfo>,
    bits: u32,
    endian: Endian,
    /// Registers in order of first use; renumbered by name at the end.
    used_regs: Vec<(String, u32)>,
    /// The full register list is printed with the first unknown register
    /// only; repeating it under every error would bury the errors.
    listed_registers: bool,
    /// Kernel declarations, and the references the `task` block makes.
    kernel: model::Kernel,
}

/// A name in the type namespace.
#[derive(Clone, Copy)]
enum TypeDef<'a> {
    Builtin(&'static str),
    Alias(&'a ast::TypeAlias),
    Flags(u32),
    Enum(u32),
    Struct(u32),
    Union(u32),
}

/// What a type name resolves to before a buffer length is applied.
#[derive(Clone, Debug)]
enum BaseTy {
    Ty(Ty),
    /// `buf`, or `wstr` when `wide`: both need a length to be a type.
    Buf {
        wide: bool,
    },
}

impl BaseTy {
    /// The type written `NAME[LEN]`: a buffer or UTF-16 string of LEN
    /// bytes, or a pointer to LEN elements.
    fn with_length(self, len: BufLen) -> Ty {
        match self {
            BaseTy::Buf { wide: false } => Ty::Buf { len },
            BaseTy::Buf { wide: true } => Ty::WStr { len },
            BaseTy::Ty(elem) => Ty::Array {
                elem: Box::new(elem),
                len,
            },
        }
    }
}

struct Types<'a> {
    defs: HashMap<&'a str, (TypeDef<'a>, Option<Span>)>,
    flag_sets: Vec<model::MemberSet>,
    enums: Vec<model::MemberSet>,
    /// Structures and unions, sorted by name; `None` where one failed its
    /// checks (its users are not reported again).
    structs: Vec<Option<model::StructDef>>,
    unions: Vec<Option<model::UnionDef>>,
}

/// A structure or union, for layout and cycle detection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Aggregate {
    Struct(u32),
    Union(u32),
}

/// Field types of a structure before layout.
struct ResolvedStruct<'a> {
    decl: &'a ast::StructDecl,
    /// Per field: its type and inline count, or `None` if it failed.
    fields: Vec<Option<(Ty, Option<u64>)>>,
}

/// What laying out structures needs besides the checker.
struct Layouts<'a> {
    structs: Vec<ResolvedStruct<'a>>,
    unions: Vec<(&'a ast::UnionDecl, Option<Vec<u32>>)>,
    /// Memoised (size, align); `None` inside while being computed.
    struct_layout: Vec<Option<Option<(u64, u64)>>>,
    union_layout: Vec<Option<Option<(u64, u64)>>>,
    /// Field offsets computed with each struct's layout.
    offsets: Vec<Vec<u64>>,
    visiting: Vec<Aggregate>,
}

impl<'a> Checker<'a> {
    fn err(&mut self, diag: Diagnostic) {
        self.diags.push(diag);
    }

    fn line_of(&self, span: Span) -> String {
        let (line, _) = self.files.line_col(span.file, span.start);
        format!("{}:{}", self.files.get(span.file).name, line)
    }

    fn run(&mut self, items: &[&'a Item]) -> Option<Model> {
        let errors_before = self.diags.list.len();

        // The OS block: exactly one in the model and its includes.
        let os_blocks: Vec<&ast::OsBlock> = items
            .iter()
            .filter_map(|i| if let Item::Os(os) = i { Some(os) } else { None })
            .collect();
        let (name, os_span) = match os_blocks.as_slice() {
            [] => {
                let root_span = items.first().map(|i| item_span(i));
                let mut diag = Diagnostic::new(ErrorCode::MissingOs, "the model has no `os` block")
                    .note("every model says which OS and architecture it describes, e.g. `os linux { arch = arm; }`");
                if let Some(span) = root_span {
                    diag = diag.label(span, "expected an `os` block in this model");
                }
                self.err(diag);
                (String::from("?"), None)
            }
            [first, rest @ ..] => {
                for other in rest {
                    self.err(
                        Diagnostic::new(ErrorCode::Duplicate, "a second `os` block")
                            .label(other.name.span, "second `os` block here")
                            .label(first.name.span, "first `os` block here")
                            .note("a model describes one OS; shared definitions belong in an included file without an `os` block"),
                    );
                }
                self.check_os(first);
                (first.name.node.clone(), Some(first.name.span))
            }
        };

        let classes = self.collect_classes(items);
        let mut types = self.collect_types(items);
        let errnos = self.collect_errnos(items);

        // Top-level properties: thread and process identity.
        let top_props: Vec<&ast::Prop> = items
            .iter()
            .filter_map(|i| if let Item::Prop(p) = i { Some(p) } else { None })
            .collect();
        let top = self.props_by_key(&top_props, TOP_KEYS, "at the top level of a model");
        let thread = self.required_expr(&top, "thread", os_span, "the model");
        let process = self.required_expr(&top, "process", os_span, "the model");

        // Tables, sorted by name so that TableIds do not depend on order.
        let mut table_blocks: Vec<&ast::TableBlock> = items
            .iter()
            .filter_map(|i| {
                if let Item::Table(t) = i {
                    Some(t)
                } else {
                    None
                }
            })
            .collect();
        table_blocks.sort_by(|a, b| a.name.node.cmp(&b.name.node));
        for pair in table_blocks.windows(2) {
            if pair[0].name.node == pair[1].name.node {
                self.duplicate("table", &pair[1].name, pair[0].name.span);
            }
        }
        let tables: Vec<model::Table> = table_blocks
            .iter()
            .map(|t| self.check_table(t, &mut types, &classes))
            .collect();

        let mut mech_blocks: Vec<&ast::MechanismBlock> = items
            .iter()
            .filter_map(|i| {
                if let Item::Mechanism(m) = i {
                    Some(m)
                } else {
                    None
                }
            })
            .collect();
        mech_blocks.sort_by(|a, b| a.name.node.cmp(&b.name.node));
        for pair in mech_blocks.windows(2) {
            if pair[0].name.node == pair[1].name.node {
                self.duplicate("mechanism", &pair[1].name, pair[0].name.span);
            }
        }
        if mech_blocks.is_empty() {
            let mut diag =
                Diagnostic::new(ErrorCode::MissingKey, "the model declares no `mechanism`")
                    .note("a mechanism says how system calls enter and leave the kernel");
            if let Some(span) = os_span {
                diag = diag.label(span, "this OS has no way to make a system call");
            }
            self.err(diag);
        }
        let mechanisms: Vec<Option<model::Mechanism>> = mech_blocks
            .iter()
            .map(|m| {
                self.check_mechanism(m, &table_blocks, &tables, thread.as_ref(), process.as_ref())
            })
            .collect();
        self.check_entry_overlap(&mech_blocks, &mechanisms);
        self.collect_kernel(items);
        let task = self.check_task(items);
        let signal = self.check_signal(items, &types);

        if self.diags.list.len() > errors_before {
            return None;
        }
        let arch = self.arch?;
        let mut model = Model {
            name,
            arch: arch.arch,
            bits: self.bits,
            endian: self.endian,
            registers: Vec::new(),
            thread: thread?,
            process: process?,
            mechanisms: mechanisms.into_iter().collect::<Option<Vec<_>>>()?,
            tables,
            flag_sets: types.flag_sets,
            enums: types.enums,
            errnos,
            classes: classes.into_iter().collect(),
            // Without errors every structure and union checked.
            structs: types.structs.into_iter().flatten().collect(),
            unions: types.unions.into_iter().flatten().collect(),
            kernel: std::mem::take(&mut self.kernel),
            task,
            signal,
        };
        self.number_registers(&mut model);
        Some(model)
    }

    fn duplicate(&mut self, what: &str, name: &ast::Name, first: Span) {
        self.err(
            Diagnostic::new(
                ErrorCode::Duplicate,
                format!("{what} `{}` is defined twice", name.node),
            )
            .label(name.span, "defined again here")
            .label(first, "first defined here"),
        );
    }

    /// Groups properties by key, reporting unknown and repeated keys.
    fn props_by_key<'p>(
        &mut self,
        props: &[&'p ast::Prop],
        known: &[&str],
        place: &str,
    ) -> BTreeMap<&'p str, &'p ast::Prop> {
        let mut map: BTreeMap<&str, &ast::Prop> = BTreeMap::new();
        for prop in props {
            let key = prop.key.node.as_str();
            if !known.contains(&key) {
                self.unknown_key(&prop.key, known, place);
                continue;
            }
            if let Some(first) = map.get(key) {
                self.duplicate("key", &prop.key, first.key.span);
                continue;
            }
            map.insert(key, prop);
        }
        map
    }

    fn unknown_key(&mut self, key: &ast::Name, known: &[&str], place: &str) {
        let mut diag = Diagnostic::new(
            ErrorCode::UnknownKey,
            format!("unknown key `{}` {place}", key.node),
        )
        .label(key.span, "unknown key");
        diag = suggest(diag, &key.node, known.iter().copied());
        self.err(diag.note(format!("expected one of {}", quoted_list(known))));
    }

    fn check_os(&mut self, os: &ast::OsBlock) {
        let props: Vec<&ast::Prop> = os.props.iter().collect();
        let map = self.props_by_key(&props, OS_KEYS, "in the `os` block");
        let Some(arch_prop) = map.get("arch") else {
            self.err(
                Diagnostic::new(
                    ErrorCode::MissingKey,
                    format!("the `os` block of `{}` has no `arch`", os.name.node),
                )
                .label(os.name.span, "no architecture given")
                .note(format!(
                    "expected `arch = NAME;` with one of {}",
                    arch_names()
                )),
            );
            return;
        };
        let Some(arch_name) = self.word_value(arch_prop) else {
            return;
        };
        let Some(info) = arch::lookup(&arch_name.node) else {
            let mut diag = Diagnostic::new(
                ErrorCode::BadValue,
                format!("unknown architecture `{}`", arch_name.node),
            )
            .label(arch_name.span, "not a QEMU target this compiler knows");
            diag = suggest(diag, &arch_name.node, arch::ARCHES.iter().map(|a| a.name));
            self.err(diag.note(format!("expected one of {}", arch_names())));
            return;
        };
        self.arch = Some(info);
        self.bits = info.bits;
        if let Some(prop) = map.get("bits") {
            match &prop.value {
                Value::Exprs(list)
                    if list.len() == 1 && matches!(list[0].kind, ExprKind::Int(_)) =>
                {
                    let ExprKind::Int(bits) = list[0].kind else {
                        unreachable!()
                    };
                    if bits != u64::from(info.bits) {
                        self.err(
                            Diagnostic::new(
                                ErrorCode::ArchMismatch,
                                format!(
                                    "`{}` is a {}-bit architecture, not {bits}-bit",
                                    info.name, info.bits
                                ),
                            )
                            .label(list[0].span, format!("expected {}", info.bits)),
                        );
                    }
                }
                other => self.bad_value(other.span(), "`bits` takes an integer: 32 or 64"),
            }
        }
        let endian = match map.get("endian") {
            Some(prop) => match self.word_value(prop) {
                Some(word) if word.node == "little" => Some(Endian::Little),
                Some(word) if word.node == "big" => Some(Endian::Big),
                Some(word) => {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::BadValue,
                            format!("unknown byte order `{}`", word.node),
                        )
                        .label(word.span, "expected `little` or `big`"),
                    );
                    None
                }
                None => None,
            },
            None => None,
        };
        match (endian, info.endian) {
            (Some(given), Some(fixed)) if given != fixed => {
                let span = map["endian"].value.span();
                self.err(
                    Diagnostic::new(
                        ErrorCode::ArchMismatch,
                        format!("`{}` is {}-endian", info.name, endian_word(fixed)),
                    )
                    .label(span, format!("expected `{}`", endian_word(fixed)))
                    .note("the QEMU target name fixes the byte order: mips is big-endian, mipsel little-endian"),
                );
            }
            (Some(given), _) => self.endian = given,
            (None, Some(fixed)) => self.endian = fixed,
            (None, None) => self.err(
                Diagnostic::new(
                    ErrorCode::MissingKey,
                    format!("`{}` runs in either byte order; say which", info.name),
                )
                .label(arch_prop.span, "byte order not given")
                .note("add `endian = little;` or `endian = big;`"),
            ),
        }
        for key in ["version", "description"] {
            if let Some(prop) = map.get(key)
                && !matches!(prop.value, Value::Str(_))
            {
                self.bad_value(prop.value.span(), &format!("`{key}` takes a string"));
            }
        }
    }

    fn bad_value(&mut self, span: Span, message: &str) {
        self.err(
            Diagnostic::new(ErrorCode::BadValue, message.to_string())
                .label(span, "unexpected value"),
        );
    }

    /// A property whose value is a single bare word, like `arch = arm;`.
    fn word_value(&mut self, prop: &ast::Prop) -> Option<ast::Name> {
        if let Value::Exprs(list) = &prop.value
            && let [expr] = list.as_slice()
            && let ExprKind::Name(word) = &expr.kind
        {
            return Some(ast::Spanned {
                node: word.clone(),
                span: expr.span,
            });
        }
        self.bad_value(
            prop.value.span(),
            &format!("`{}` takes a single name", prop.key.node),
        );
        None
    }

    fn collect_classes(&mut self, items: &[&Item]) -> BTreeSet<String> {
        let mut seen: BTreeMap<String, Span> = BTreeMap::new();
        for item in items {
            if let Item::Class(names) = item {
                for name in names {
                    if let Some(first) = seen.get(&name.node) {
                        let first = *first;
                        self.duplicate("class", name, first);
                    } else {
                        seen.insert(name.node.clone(), name.span);
                    }
                }
            }
        }
        seen.into_keys().collect()
    }

    fn collect_errnos(&mut self, items: &[&Item]) -> Vec<model::Errno> {
        let mut seen: BTreeMap<String, Span> = BTreeMap::new();
        let mut errnos = Vec::new();
        for item in items {
            let Item::Errno(block) = item else { continue };
            for member in &block.members {
                if let Some(first) = seen.get(&member.name.node) {
                    let first = *first;
                    self.duplicate("errno", &member.name, first);
                    continue;
                }
                seen.insert(member.name.node.clone(), member.name.span);
                if member.value.node <= 0 || member.value.node > i128::from(u32::MAX) {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::MemberValue,
                            format!("errno `{}` must be a positive number", member.name.node),
                        )
                        .label(member.value.span, "out of range"),
                    );
                    continue;
                }
                errnos.push(model::Errno {
                    name: member.name.node.clone(),
                    value: member.value.node as u64,
                    message: member
                        .message
                        .as_ref()
                        .map(|m| m.node.clone())
                        .unwrap_or_default(),
                });
            }
        }
        errnos.sort_by_key(|e| e.value);
        errnos
    }

    /// Builds the type namespace (builtins, aliases, flag sets, enums) and
    /// checks flag and enum members.
    fn collect_types(&mut self, items: &[&'a Item]) -> Types<'a> {
        let mut types = Types {
            defs: HashMap::new(),
            flag_sets: Vec::new(),
            enums: Vec::new(),
            structs: Vec::new(),
            unions: Vec::new(),
        };
        for name in BUILTIN_TYPES {
            types.defs.insert(name, (TypeDef::Builtin(name), None));
        }
        let mut flag_blocks: Vec<&ast::MemberSet> = Vec::new();
        let mut enum_blocks: Vec<&ast::MemberSet> = Vec::new();
        let mut struct_blocks: Vec<&'a ast::StructDecl> = Vec::new();
        let mut union_blocks: Vec<&'a ast::UnionDecl> = Vec::new();
        for item in items {
            match item {
                Item::Flags(set) => flag_blocks.push(set),
                Item::Enum(set) => enum_blocks.push(set),
                Item::Struct(decl) => struct_blocks.push(decl),
                Item::Union(decl) => union_blocks.push(decl),
                _ => {}
            }
        }
        flag_blocks.sort_by(|a, b| a.name.node.cmp(&b.name.node));
        enum_blocks.sort_by(|a, b| a.name.node.cmp(&b.name.node));
        struct_blocks.sort_by(|a, b| a.name.node.cmp(&b.name.node));
        union_blocks.sort_by(|a, b| a.name.node.cmp(&b.name.node));
        let mut declare = |checker: &mut Self, name: &'a ast::Name, def: TypeDef<'a>| match types
            .defs
            .get(name.node.as_str())
        {
            Some((TypeDef::Builtin(_), _)) => checker.err(
                Diagnostic::new(
                    ErrorCode::Duplicate,
                    format!("`{}` is a built-in type and cannot be redefined", name.node),
                )
                .label(name.span, "redefined here"),
            ),
            Some((_, Some(first))) => checker.duplicate("type", name, *first),
            _ => {
                types
                    .defs
                    .insert(name.node.as_str(), (def, Some(name.span)));
            }
        };
        for item in items {
            if let Item::TypeAlias(alias) = item {
                declare(self, &alias.name, TypeDef::Alias(alias));
            }
        }
        for (i, set) in flag_blocks.iter().enumerate() {
            declare(self, &set.name, TypeDef::Flags(i as u32));
        }
        for (i, set) in enum_blocks.iter().enumerate() {
            declare(self, &set.name, TypeDef::Enum(i as u32));
        }
        for (i, decl) in struct_blocks.iter().enumerate() {
            declare(self, &decl.name, TypeDef::Struct(i as u32));
        }
        for (i, decl) in union_blocks.iter().enumerate() {
            declare(self, &decl.name, TypeDef::Union(i as u32));
        }
        // Member sets need their base types, which may be aliases.
        for set in &flag_blocks {
            let checked = self.check_member_set(set, &types, false);
            types.flag_sets.push(checked);
        }
        for set in &enum_blocks {
            let checked = self.check_member_set(set, &types, true);
            types.enums.push(checked);
        }
        // Structures need member sets (for field types) and each other.
        self.check_aggregates(&struct_blocks, &union_blocks, &mut types);
        types
    }

    fn check_member_set(
        &mut self,
        set: &ast::MemberSet,
        types: &Types<'a>,
        is_enum: bool,
    ) -> model::MemberSet {
        let (bytes, signed, base_format) = match &set.base {
            None => ((self.bits / 8) as u8, is_enum, IntFormat::Dec),
            Some(base) => {
                let tref = ast::TypeRef {
                    name: base.clone(),
                    len: None,
                    span: base.span,
                };
                match self.resolve_base(&tref, types, &mut Vec::new()) {
                    Some(BaseTy::Ty(Ty::Int {
                        bytes,
                        signed,
                        format,
                    })) => (bytes, signed, format),
                    Some(_) => {
                        self.err(
                            Diagnostic::new(
                                ErrorCode::BadValue,
                                format!("the base of `{}` must be an integer type", set.name.node),
                            )
                            .label(base.span, "not an integer type"),
                        );
                        ((self.bits / 8) as u8, is_enum, IntFormat::Dec)
                    }
                    None => ((self.bits / 8) as u8, is_enum, IntFormat::Dec),
                }
            }
        };
        let (min, max): (i128, i128) = if signed {
            (-(1i128 << (bytes * 8 - 1)), (1i128 << (bytes * 8 - 1)) - 1)
        } else {
            (0, (1i128 << (bytes * 8)) - 1)
        };
        let mut members = Vec::new();
        let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
        for member in &set.members {
            if let Some(first) = seen.get(member.name.node.as_str()) {
                let first = *first;
                self.duplicate("member", &member.name, first);
                continue;
            }
            seen.insert(&member.name.node, member.name.span);
            if member.message.is_some() {
                self.bad_value(member.value.span, "only errno values carry a message");
            }
            let value = member.value.node;
            let mask = match &member.mask {
                None => None,
                Some(mask) => match self.member_mask(set, member, mask, bytes, is_enum) {
                    Some(m) => Some(m),
                    None => continue,
                },
            };
            if value < min || value > max {
                self.err(
                    Diagnostic::new(
                        ErrorCode::MemberValue,
                        format!(
                            "`{}` = {value} does not fit in {}{}",
                            member.name.node,
                            if signed { "i" } else { "u" },
                            bytes * 8
                        ),
                    )
                    .label(
                        member.value.span,
                        format!("expected a value in {min}..={max}"),
                    ),
                );
                continue;
            }
            members.push(model::Member {
                name: member.name.node.clone(),
                value,
                mask,
            });
        }
        model::MemberSet {
            name: set.name.node.clone(),
            bytes,
            signed,
            members,
            // Bits no member names print in hex, as strace prints unknown
            // flags, except in sets over `oct` (file modes print `0644`);
            // a value no member of an enum names prints as its base would
            // (a signal handler's address in hex, a number in decimal).
            rest: match (is_enum, base_format) {
                (_, IntFormat::Oct) => IntFormat::Oct,
                (true, IntFormat::Hex) | (false, _) => IntFormat::Hex,
                (true, _) => IntFormat::Dec,
            },
        }
    }

    /// Checks `NAME = VALUE mask MASK`: flags only, the mask fits the set's
    /// width and the value lies under the mask.
    fn member_mask(
        &mut self,
        set: &ast::MemberSet,
        member: &ast::Member,
        mask: &ast::Spanned<u64>,
        bytes: u8,
        is_enum: bool,
    ) -> Option<u64> {
        if is_enum {
            self.err(
                Diagnostic::new(
                    ErrorCode::MemberValue,
                    format!("enum member `{}` cannot have a mask", member.name.node),
                )
                .label(mask.span, "only flag members have a mask")
                .note("a masked member is one value of a multi-bit field inside a flag set, like `O_RDONLY = 0 mask 3`"),
            );
            return None;
        }
        let width_mask = if bytes >= 8 {
            u64::MAX
        } else {
            (1u64 << (u32::from(bytes) * 8)) - 1
        };
        if mask.node == 0 || mask.node & !width_mask != 0 {
            self.err(
                Diagnostic::new(
                    ErrorCode::MemberValue,
                    format!(
                        "mask {:#x} of `{}` does not fit in the {}-bit set `{}`",
                        mask.node,
                        member.name.node,
                        u32::from(bytes) * 8,
                        set.name.node
                    ),
                )
                .label(
                    mask.span,
                    format!("expected a non-zero mask within {width_mask:#x}"),
                ),
            );
            return None;
        }
        let value = member.value.node;
        if value < 0 || (value as u64) & !mask.node != 0 {
            self.err(
                Diagnostic::new(
                    ErrorCode::MemberValue,
                    format!(
                        "`{}` = {value:#x} has bits outside its mask {:#x}",
                        member.name.node, mask.node
                    ),
                )
                .label(member.value.span, "not a value of the masked bits")
                .label(mask.span, "mask")
                .note("a masked member's value is the masked bits themselves, e.g. `S_IFDIR = 0o040000 mask 0o170000`"),
            );
            return None;
        }
        Some(mask.node)
    }

    /// Resolves a type name, following aliases; `visiting` finds cycles.
    fn resolve_base(
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
                result
            }
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
            "inet_port" => int(2, false, IntFormat::Port),
            "inet_addr" => int(4, false, IntFormat::Ipv4),
            "ptr" => BaseTy::Ty(Ty::Ptr),
            "cstr" => BaseTy::Ty(Ty::CStr),
            "void" => BaseTy::Ty(Ty::Void),
            "buf" => BaseTy::Buf { wide: false },
            "wstr" => BaseTy::Buf { wide: true },
            other => unreachable!("`{other}` is listed in BUILTIN_TYPES but has no meaning"),
        }
    }

    fn check_table(
        &mut self,
        block: &ast::TableBlock,
        types: &mut Types<'a>,
        classes: &BTreeSet<String>,
    ) -> model::Table {
        let offset = block.offset.as_ref().map_or(0, |o| o.node);
        let mut by_number: BTreeMap<u64, &ast::SyscallDecl> = BTreeMap::new();
        let mut by_name: BTreeMap<&str, &ast::SyscallDecl> = BTreeMap::new();
        let mut syscalls = Vec::new();
        for decl in &block.syscalls {
            let Some(number) = decl.number.node.checked_add(offset) else {
                self.err(
                    Diagnostic::new(
                        ErrorCode::BadLiteral,
                        "syscall number overflows with the table offset",
                    )
                    .label(decl.number.span, "too large"),
                );
                continue;
            };
            let mut ok = true;
            if let Some(first) = by_number.get(&number) {
                self.err(
                    Diagnostic::new(
                        ErrorCode::DuplicateNumber,
                        format!(
                            "syscall number {} is used twice in table `{}`",
                            decl.number.node, block.name.node
                        ),
                    )
                    .label(
                        decl.number.span,
                        format!("`{}` has this number", decl.name.node),
                    )
                    .label(
                        first.number.span,
                        format!("`{}` has it already", first.name.node),
                    ),
                );
                ok = false;
            }
            if let Some(first) = by_name.get(decl.name.node.as_str()) {
                self.err(
                    Diagnostic::new(
                        ErrorCode::DuplicateName,
                        format!(
                            "syscall `{}` is declared twice in table `{}`",
                            decl.name.node, block.name.node
                        ),
                    )
                    .label(decl.name.span, "declared again here")
                    .label(first.name.span, "first declared here"),
                );
                ok = false;
            }
            by_number.entry(number).or_insert(decl);
            by_name.entry(&decl.name.node).or_insert(decl);
            if let Some(syscall) = self.check_syscall(decl, number, types, classes)
                && ok
            {
                syscalls.push(syscall);
            }
        }
        syscalls.sort_by_key(|s| s.number);
        model::Table {
            name: block.name.node.clone(),
            offset,
            syscalls,
        }
    }

    fn check_syscall(
        &mut self,
        decl: &ast::SyscallDecl,
        number: u64,
        types: &mut Types<'a>,
        classes: &BTreeSet<String>,
    ) -> Option<model::Syscall> {
        let mut ok = true;
        let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
        for arg in &decl.args {
            // `_` names a register that is skipped (padding before a
            // 64-bit pair): it may repeat and is never shown.
            if arg.name.node == "_" {
                continue;
            }
            if let Some(first) = seen.get(arg.name.node.as_str()) {
                let first = *first;
                self.duplicate("argument", &arg.name, first);
                ok = false;
            }
            seen.insert(&arg.name.node, arg.name.span);
        }
        let mut params = Vec::new();
        for arg in &decl.args {
            match self.check_arg(arg, decl, types) {
                Some(param) => params.push(param),
                None => ok = false,
            }
        }
        let (ret, ret_name) = match &decl.ret {
            None => (Ty::Void, "void".to_string()),
            Some(tref) => {
                let ty = match self.resolve_base(tref, types, &mut Vec::new()) {
                    Some(BaseTy::Ty(ty))
                        if tref.len.is_none()
                            && !matches!(
                                ty,
                                Ty::Struct { .. }
                                    | Ty::Union { .. }
                                    | Ty::SigSet { .. }
                                    | Ty::WaitStatus { .. }
                            ) =>
                    {
                        Some(ty)
                    }
                    Some(_) => {
                        self.err(
                            Diagnostic::new(
                                ErrorCode::BadValue,
                                "a syscall cannot return a buffer, array or structure",
                            )
                            .label(tref.span, "these are arguments; return `ssize` or `ptr`"),
                        );
                        None
                    }
                    None => None,
                };
                match ty {
                    Some(ty) => (ty, tref.name.node.clone()),
                    None => {
                        ok = false;
                        (Ty::Void, String::new())
                    }
                }
            }
        };
        let mut syscall = model::Syscall {
            number,
            name: decl.name.node.clone(),
            args: params,
            ret,
            ret_name,
            noreturn: false,
            ends_process: false,
            returns_twice: false,
            exec: false,
            sigreturn: false,
            renames: false,
            classes: Vec::new(),
            source: self.line_of(decl.span),
        };
        for attr in &decl.attrs {
            let word = attr.name.node.as_str();
            if attr.is_class {
                if classes.contains(word) {
                    syscall.classes.push(word.to_string());
                } else {
                    let mut diag = Diagnostic::new(
                        ErrorCode::BadAttribute,
                        format!("undeclared class `%{word}`"),
                    )
                    .label(attr.name.span, "not declared with `class`");
                    if let Some(close) = closest(word, classes.iter().map(String::as_str)) {
                        diag = diag.note(format!("did you mean `%{close}`?"));
                    }
                    self.err(diag);
                    ok = false;
                }
                continue;
            }
            match word {
                "noreturn" => syscall.noreturn = true,
                "ends_process" => syscall.ends_process = true,
                "returns_twice" => syscall.returns_twice = true,
                "exec" => syscall.exec = true,
                "sigreturn" => syscall.sigreturn = true,
                "renames" => syscall.renames = true,
                _ => {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::BadAttribute,
                            format!("unknown syscall attribute `{word}`"),
                        )
                        .label(attr.name.span, "unknown attribute")
                        .note(format!(
                            "expected one of {}, or a class written `%name`",
                            quoted_list(BEHAVIOURS)
                        )),
                    );
                    ok = false;
                }
            }
        }
        syscall.classes.sort();
        syscall.classes.dedup();
        ok.then_some(syscall)
    }

    fn check_arg(
        &mut self,
        arg: &ast::ArgDecl,
        decl: &ast::SyscallDecl,
        types: &Types<'a>,
    ) -> Option<model::Param> {
        let base = self.resolve_base(&arg.ty, types, &mut Vec::new())?;
        let dir = arg.dir.as_ref().map_or(Direction::In, |d| d.node);
        let ty = match (base, &arg.ty.len) {
            (BaseTy::Buf { .. }, None) => {
                self.err(
                    Diagnostic::new(
                        ErrorCode::BadLength,
                        format!("buffer `{}` has no length", arg.name.node),
                    )
                    .label(arg.ty.span, "expected `buf[ARG]` or `buf[ret]`"),
                );
                return None;
            }
            (BaseTy::Ty(Ty::Void), _) => {
                self.err(
                    Diagnostic::new(
                        ErrorCode::BadValue,
                        format!("argument `{}` cannot have type `void`", arg.name.node),
                    )
                    .label(arg.ty.span, "`void` is only a return type"),
                );
                return None;
            }
            // `buf[count] buf`, `iovec[vlen] vec`, `int[2] fds`.
            (base, Some(len)) => base.with_length(self.arg_len(arg, len, decl, types, dir)?),
            (BaseTy::Ty(ty), None) => ty,
        };
        if let Some(d) = &arg.dir
            && !points_at_memory(&ty)
        {
            self.err(
                Diagnostic::new(
                    ErrorCode::BadDirection,
                    format!(
                        "argument `{}` is passed by value and has no direction",
                        arg.name.node
                    ),
                )
                .label(
                    d.span,
                    "only pointers (`ptr`, `cstr`, `buf`, arrays, structures) point at memory",
                )
                .note("remove the direction, or give the argument a pointer type"),
            );
            return None;
        }
        let cond = match &arg.cond {
            None => None,
            Some(cond) => Some(self.arg_cond(arg, cond, decl, types)?),
        };
        Some(model::Param {
            name: arg.name.node.as_str().into(),
            dir,
            ty,
            type_name: arg.ty.name.node.as_str().into(),
            cond,
        })
    }

    /// The length of a buffer or array argument: another integer argument,
    /// `ret` (outputs only) or a constant.
    fn arg_len(
        &mut self,
        arg: &ast::ArgDecl,
        len: &ast::LenRef,
        decl: &ast::SyscallDecl,
        types: &Types<'a>,
        dir: Direction,
    ) -> Option<BufLen> {
        let len = match len {
            ast::LenRef::Int(n) => return Some(BufLen::Const(n.node)),
            ast::LenRef::Name(name) => name,
        };
        if len.node == "nul" {
            return self.nul_len(arg.ty.name.node.as_str(), len, types);
        }
        if len.node == "ret" {
            if dir == Direction::In {
                self.err(
                    Diagnostic::new(
                        ErrorCode::BadLength,
                        format!(
                            "input buffer `{}` cannot take its length from the return value",
                            arg.name.node
                        ),
                    )
                    .label(
                        len.span,
                        "the return value is not known when the call starts",
                    )
                    .note("make it `out buf[ret]`, or name the argument that holds the length"),
                );
                return None;
            }
            return Some(BufLen::Ret);
        }
        let Some(index) = decl.args.iter().position(|a| a.name.node == len.node) else {
            let names: Vec<&str> = decl.args.iter().map(|a| a.name.node.as_str()).collect();
            let mut diag = Diagnostic::new(
                ErrorCode::BadLength,
                format!(
                    "buffer length `{}` is not an argument of `{}`",
                    len.node, decl.name.node
                ),
            )
            .label(len.span, "no such argument");
            diag = suggest(diag, &len.node, names.iter().copied());
            self.err(diag.note(format!(
                "a length is another argument ({}), `ret` or a number",
                quoted_list(&names)
            )));
            return None;
        };
        let target = &decl.args[index];
        if target.name.node == arg.name.node {
            self.err(
                Diagnostic::new(
                    ErrorCode::BadLength,
                    format!("buffer `{}` cannot be its own length", arg.name.node),
                )
                .label(len.span, "names the buffer itself"),
            );
            return None;
        }
        if !matches!(
            self.resolve_quiet(&target.ty, types),
            Some(BaseTy::Ty(Ty::Int { .. }))
        ) || target.ty.len.is_some()
        {
            self.err(
                Diagnostic::new(
                    ErrorCode::BadLength,
                    format!("buffer length `{}` is not an integer argument", len.node),
                )
                .label(len.span, "used as a length here")
                .label(target.ty.span, "declared with this type"),
            );
            return None;
        }
        Some(BufLen::Arg(index as u32))
    }

    /// `TYPE[nul]`: an array ending at a zero element. A byte buffer that
    /// ends at a NUL is a `cstr`.
    fn nul_len(&mut self, type_name: &str, len: &ast::Name, types: &Types<'a>) -> Option<BufLen> {
        if let Some((TypeDef::Builtin("buf"), _)) = types.defs.get(type_name) {
            self.err(
                Diagnostic::new(ErrorCode::BadLength, "a buffer cannot end at a NUL")
                    .label(len.span, "only arrays take `nul`")
                    .note(
                        "a NUL-terminated string is a `cstr`; an array of strings is `cstr[nul]`",
                    ),
            );
            return None;
        }
        Some(BufLen::Nul)
    }

    fn nul_len_for_field(&mut self, field: &ast::FieldDecl, len: &ast::Name) -> Option<BufLen> {
        if field.ty.name.node == "buf" {
            self.err(
                Diagnostic::new(ErrorCode::BadLength, "a buffer cannot end at a NUL")
                    .label(len.span, "only arrays take `nul`")
                    .note(
                        "a NUL-terminated string is a `cstr`; an array of strings is `cstr[nul]`",
                    ),
            );
            return None;
        }
        Some(BufLen::Nul)
    }

    /// `if ARG & MASK` on an argument: ARG is another integer, flags or enum
    /// argument; the mask's names are members of its set.
    fn arg_cond(
        &mut self,
        arg: &ast::ArgDecl,
        cond: &ast::ArgCond,
        decl: &ast::SyscallDecl,
        types: &Types<'a>,
    ) -> Option<model::ArgCond> {
        let siblings: Vec<(&str, &ast::TypeRef)> = decl
            .args
            .iter()
            .map(|a| (a.name.node.as_str(), &a.ty))
            .collect();
        let owner = format!("`{}`", decl.name.node);
        self.cond_on(cond, &siblings, &arg.name.node, ("argument", &owner), types)
    }

    /// `if NAME & MASK`, NAME one of `siblings` (another argument of the
    /// call, another field of the structure) but `own`: an integer, flags
    /// or enum whose set names the mask's members. `what` says what the
    /// siblings are and of what, for the diagnostics.
    fn cond_on(
        &mut self,
        cond: &ast::ArgCond,
        siblings: &[(&str, &ast::TypeRef)],
        own: &str,
        (kind, owner): (&str, &str),
        types: &Types<'a>,
    ) -> Option<model::ArgCond> {
        let Some(index) = siblings
            .iter()
            .position(|(name, _)| *name == cond.arg.node)
            .filter(|&i| siblings[i].0 != own)
        else {
            let names: Vec<&str> = siblings
                .iter()
                .map(|(name, _)| *name)
                .filter(|n| *n != own)
                .collect();
            let mut diag = Diagnostic::new(
                ErrorCode::BadCondition,
                format!("`{}` is not another {kind} of {owner}", cond.arg.node),
            )
            .label(cond.arg.span, format!("no such {kind}"));
            diag = suggest(diag, &cond.arg.node, names.iter().copied());
            self.err(diag.note(format!(
                "a condition tests another {kind}: `if flags & O_CREAT`"
            )));
            return None;
        };
        let target = siblings[index].1;
        let members: &[model::Member] = match self.resolve_quiet(target, types) {
            Some(BaseTy::Ty(Ty::Flags { set, .. })) if target.len.is_none() => types
                .flag_sets
                .get(set as usize)
                .map_or(&[], |s| s.members.as_slice()),
            Some(BaseTy::Ty(Ty::Enum { set, .. })) if target.len.is_none() => types
                .enums
                .get(set as usize)
                .map_or(&[], |s| s.members.as_slice()),
            Some(BaseTy::Ty(Ty::Int { .. })) if target.len.is_none() => &[],
            _ => {
                self.err(
                    Diagnostic::new(
                        ErrorCode::BadCondition,
                        format!(
                            "`{}` is not an integer, flags or enum {kind}",
                            cond.arg.node
                        ),
                    )
                    .label(cond.arg.span, "tested here")
                    .label(target.span, "declared with this type"),
                );
                return None;
            }
        };
        let mut mask = 0u64;
        let mut ok = true;
        for term in &cond.mask {
            match term {
                ast::MaskTerm::Int(v) => mask |= v.node,
                ast::MaskTerm::Name(name) => match members.iter().find(|m| m.name == name.node) {
                    Some(m) => mask |= m.value as u64,
                    None => {
                        let mut diag = Diagnostic::new(
                            ErrorCode::BadCondition,
                            format!(
                                "`{}` is not a member of the type of `{}`",
                                name.node, cond.arg.node
                            ),
                        )
                        .label(name.span, "unknown member");
                        diag = suggest(diag, &name.node, members.iter().map(|m| m.name.as_str()));
                        self.err(diag.note(format!(
                            "`{}` is declared as `{}`",
                            cond.arg.node, target.name.node
                        )));
                        ok = false;
                    }
                },
            }
        }
        if ok && mask == 0 {
            self.err(
                Diagnostic::new(ErrorCode::BadCondition, "the condition's mask is zero")
                    .label(cond.span, "never true")
                    .note(format!(
                        "name the bits that make the {kind} matter: `if flags & O_CREAT`"
                    )),
            );
            return None;
        }
        ok.then_some(model::ArgCond {
            arg: index as u32,
            mask,
        })
    }

    /// Checks structures and unions: field types and lengths, layout for
    /// the model's architecture, embedding cycles, union tags.
    fn check_aggregates(
        &mut self,
        struct_blocks: &[&'a ast::StructDecl],
        union_blocks: &[&'a ast::UnionDecl],
        types: &mut Types<'a>,
    ) {
        let mut layouts = Layouts {
            structs: Vec::new(),
            unions: Vec::new(),
            struct_layout: vec![None; struct_blocks.len()],
            union_layout: vec![None; union_blocks.len()],
            offsets: vec![Vec::new(); struct_blocks.len()],
            visiting: Vec::new(),
        };
        for decl in struct_blocks {
            let fields = self.resolve_fields(decl, types);
            layouts.structs.push(ResolvedStruct { decl, fields });
        }
        for decl in union_blocks {
            let targets = self.resolve_union_targets(decl, types);
            layouts.unions.push((decl, targets));
        }
        for i in 0..struct_blocks.len() {
            self.aggregate_layout(Aggregate::Struct(i as u32), &mut layouts);
        }
        for i in 0..union_blocks.len() {
            self.aggregate_layout(Aggregate::Union(i as u32), &mut layouts);
        }
        // `if FIELD & MASK`: shown only when another field has those bits.
        let conds: Vec<Vec<Option<model::ArgCond>>> = struct_blocks
            .iter()
            .map(|decl| {
                let siblings: Vec<(&str, &ast::TypeRef)> = decl
                    .fields
                    .iter()
                    .map(|f| (f.name.node.as_str(), &f.ty))
                    .collect();
                let owner = format!("struct `{}`", decl.name.node);
                decl.fields
                    .iter()
                    .map(|f| {
                        f.cond.as_ref().and_then(|cond| {
                            self.cond_on(cond, &siblings, &f.name.node, ("field", &owner), types)
                        })
                    })
                    .collect()
            })
            .collect();
        types.structs = layouts
            .structs
            .iter()
            .enumerate()
            .map(|(i, resolved)| {
                let (size, align) = layouts.struct_layout[i].flatten()?;
                let fields = resolved
                    .decl
                    .fields
                    .iter()
                    .zip(&resolved.fields)
                    .zip(&layouts.offsets[i])
                    .zip(&conds[i])
                    .map(|(((decl, field), offset), cond)| {
                        let (ty, count) = field.clone()?;
                        Some(model::Field {
                            name: decl.name.node.clone(),
                            offset: *offset,
                            ty,
                            type_name: decl.ty.name.node.clone(),
                            count,
                            verbose: decl.attrs.iter().any(|a| a.node == "verbose"),
                            cond: *cond,
                        })
                    })
                    .collect::<Option<Vec<_>>>()?;
                Some(model::StructDef {
                    name: resolved.decl.name.node.clone(),
                    size,
                    align,
                    fields,
                })
            })
            .collect();
        let unions: Vec<Option<model::UnionDef>> = layouts
            .unions
            .iter()
            .enumerate()
            .map(|(i, (decl, targets))| {
                let layout = layouts.union_layout[i].flatten()?;
                self.check_union(decl, targets.as_deref()?, layout, types)
            })
            .collect();
        types.unions = unions;
    }

    fn resolve_fields(
        &mut self,
        decl: &'a ast::StructDecl,
        types: &Types<'a>,
    ) -> Vec<Option<(Ty, Option<u64>)>> {
        let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
        for field in &decl.fields {
            // Padding may repeat: every `_` is its own unnamed field.
            if field.name.node == "_" {
                continue;
            }
            if let Some(first) = seen.get(field.name.node.as_str()) {
                let first = *first;
                self.duplicate("field", &field.name, first);
            } else {
                seen.insert(&field.name.node, field.name.span);
            }
        }
        if decl.fields.is_empty() {
            self.err(
                Diagnostic::new(
                    ErrorCode::BadStruct,
                    format!("struct `{}` has no fields", decl.name.node),
                )
                .label(decl.name.span, "empty structure")
                .note("declare the fields as `TYPE NAME;`, padding as `u8 _[N];`"),
            );
        }
        for field in &decl.fields {
            for attr in &field.attrs {
                if !FIELD_ATTRIBUTES.contains(&attr.node.as_str()) {
                    let mut diag = Diagnostic::new(
                        ErrorCode::BadAttribute,
                        format!("unknown field attribute `{}`", attr.node),
                    )
                    .label(attr.span, "unknown attribute");
                    diag = suggest(diag, &attr.node, FIELD_ATTRIBUTES.iter().copied());
                    self.err(diag.note(format!("expected {}", quoted_list(FIELD_ATTRIBUTES))));
                }
            }
        }
        let bases: Vec<Option<BaseTy>> = decl
            .fields
            .iter()
            .map(|f| self.resolve_base(&f.ty, types, &mut Vec::new()))
            .collect();
        decl.fields
            .iter()
            .zip(&bases)
            .map(|(field, base)| {
                let ty = match (base.clone()?, &field.ty.len) {
                    (BaseTy::Buf { .. }, None) => {
                        self.err(
                            Diagnostic::new(
                                ErrorCode::BadLength,
                                format!("buffer field `{}` has no length", field.name.node),
                            )
                            .label(field.ty.span, "expected `buf[FIELD]` or `buf[N]`"),
                        );
                        return None;
                    }
                    (BaseTy::Ty(Ty::Void), _) => {
                        self.err(
                            Diagnostic::new(
                                ErrorCode::BadStruct,
                                format!("field `{}` cannot have type `void`", field.name.node),
                            )
                            .label(field.ty.span, "`void` is only a return type"),
                        );
                        return None;
                    }
                    (base, Some(len)) => {
                        base.with_length(self.field_len(decl, field, len, &bases)?)
                    }
                    (BaseTy::Ty(ty), None) => ty,
                };
                let count = match &field.count {
                    None => None,
                    Some(count) => {
                        if count.node == 0 || count.node > MAX_AGGREGATE_BYTES {
                            self.err(
                                Diagnostic::new(
                                    ErrorCode::BadStruct,
                                    format!(
                                        "inline array `{}` has {} elements",
                                        field.name.node, count.node
                                    ),
                                )
                                .label(count.span, format!("expected 1..={MAX_AGGREGATE_BYTES}")),
                            );
                            return None;
                        }
                        if !matches!(
                            ty,
                            Ty::Int { .. }
                                | Ty::Flags { .. }
                                | Ty::Enum { .. }
                                | Ty::Ptr
                                | Ty::Struct { .. }
                                | Ty::Union { .. }
                        ) {
                            self.err(
                                Diagnostic::new(
                                    ErrorCode::BadStruct,
                                    format!(
                                        "inline array `{}` cannot hold `{}`",
                                        field.name.node, field.ty.name.node
                                    ),
                                )
                                .label(field.ty.span, "not an integer, pointer or structure")
                                .note("an inline array holds values; `cstr`, `buf` and arrays are pointers to memory elsewhere"),
                            );
                            return None;
                        }
                        Some(count.node)
                    }
                };
                Some((ty, count))
            })
            .collect()
    }

    /// The length of a buffer or array field: another integer field of the
    /// same structure, or a constant.
    fn field_len(
        &mut self,
        decl: &ast::StructDecl,
        field: &ast::FieldDecl,
        len: &ast::LenRef,
        bases: &[Option<BaseTy>],
    ) -> Option<BufLen> {
        let name = match len {
            ast::LenRef::Int(n) => return Some(BufLen::Const(n.node)),
            ast::LenRef::Name(name) => name,
        };
        if name.node == "nul" {
            return self.nul_len_for_field(field, name);
        }
        if name.node == "ret" {
            self.err(
                Diagnostic::new(
                    ErrorCode::BadLength,
                    format!(
                        "field `{}` cannot take its length from the return value",
                        field.name.node
                    ),
                )
                .label(name.span, "only arguments may use `ret`")
                .note("name another field of the structure, or give a number"),
            );
            return None;
        }
        let index = decl
            .fields
            .iter()
            .position(|f| f.name.node == name.node && f.name.node != "_");
        let Some(index) = index else {
            let names: Vec<&str> = decl
                .fields
                .iter()
                .map(|f| f.name.node.as_str())
                .filter(|n| *n != "_")
                .collect();
            let mut diag = Diagnostic::new(
                ErrorCode::BadLength,
                format!(
                    "length `{}` is not a field of struct `{}`",
                    name.node, decl.name.node
                ),
            )
            .label(name.span, "no such field");
            diag = suggest(diag, &name.node, names.iter().copied());
            self.err(diag.note(format!(
                "a field's length is another field ({}) or a number",
                quoted_list(&names)
            )));
            return None;
        };
        let target = &decl.fields[index];
        let is_int = matches!(bases[index], Some(BaseTy::Ty(Ty::Int { .. })))
            && target.ty.len.is_none()
            && target.count.is_none();
        if index
            == decl
                .fields
                .iter()
                .position(|f| std::ptr::eq(f, field))
                .unwrap_or(usize::MAX)
            || !is_int
        {
            self.err(
                Diagnostic::new(
                    ErrorCode::BadLength,
                    format!("length `{}` is not an integer field", name.node),
                )
                .label(name.span, "used as a length here")
                .label(target.ty.span, "declared with this type"),
            );
            return None;
        }
        Some(BufLen::Field(index as u32))
    }

    fn resolve_union_targets(
        &mut self,
        decl: &ast::UnionDecl,
        types: &Types<'a>,
    ) -> Option<Vec<u32>> {
        if decl.cases.is_empty() {
            self.err(
                Diagnostic::new(
                    ErrorCode::BadUnion,
                    format!("union `{}` has no cases", decl.name.node),
                )
                .label(decl.name.span, "nothing to choose from")
                .note("list the structures by tag value: `union sockaddr(sa_family) { AF_UNIX = sockaddr_un }`"),
            );
            return None;
        }
        let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
        let mut targets = Vec::new();
        let mut ok = true;
        for case in &decl.cases {
            if let Some(first) = seen.get(case.member.node.as_str()) {
                let first = *first;
                self.duplicate("union case", &case.member, first);
                ok = false;
            } else {
                seen.insert(&case.member.node, case.member.span);
            }
            match types.defs.get(case.target.node.as_str()) {
                Some((TypeDef::Struct(id), _)) => targets.push(*id),
                Some(_) => {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::BadUnion,
                            format!("union case `{}` is not a structure", case.target.node),
                        )
                        .label(case.target.span, "expected a `struct`"),
                    );
                    ok = false;
                }
                None => {
                    let mut diag = Diagnostic::new(
                        ErrorCode::UnknownType,
                        format!("unknown type `{}`", case.target.node),
                    )
                    .label(case.target.span, "not defined");
                    diag = suggest(diag, &case.target.node, types.defs.keys().copied());
                    self.err(diag);
                    ok = false;
                }
            }
        }
        ok.then_some(targets)
    }

    fn aggregate_layout(&mut self, node: Aggregate, l: &mut Layouts<'a>) -> Option<(u64, u64)> {
        let memo = match node {
            Aggregate::Struct(i) => l.struct_layout[i as usize],
            Aggregate::Union(i) => l.union_layout[i as usize],
        };
        if let Some(done) = memo {
            return done;
        }
        if let Some(pos) = l.visiting.iter().position(|n| *n == node) {
            let name_of = |n: &Aggregate| match n {
                Aggregate::Struct(i) => l.structs[*i as usize].decl.name.node.clone(),
                Aggregate::Union(i) => l.unions[*i as usize].0.name.node.clone(),
            };
            let mut chain: Vec<String> = l.visiting[pos..].iter().map(name_of).collect();
            chain.push(name_of(&node));
            let span = match node {
                Aggregate::Struct(i) => l.structs[i as usize].decl.name.span,
                Aggregate::Union(i) => l.unions[i as usize].0.name.span,
            };
            self.err(
                Diagnostic::new(
                    ErrorCode::TypeCycle,
                    format!("`{}` contains itself", chain[0]),
                )
                .label(span, "embedded in itself, so it would be infinitely large")
                .note(format!("cycle: {}", chain.join(" -> ")))
                .note("point to it instead: a `ptr` field"),
            );
            return None;
        }
        l.visiting.push(node);
        let result = match node {
            Aggregate::Struct(i) => self.struct_layout(i as usize, l),
            Aggregate::Union(i) => {
                let targets = l.unions[i as usize].1.clone();
                targets.and_then(|targets| {
                    let mut size = 0;
                    let mut align = 1;
                    let mut ok = true;
                    for id in targets {
                        match self.aggregate_layout(Aggregate::Struct(id), l) {
                            Some((s, a)) => {
                                size = size.max(s);
                                align = align.max(a);
                            }
                            None => ok = false,
                        }
                    }
                    ok.then_some((size, align))
                })
            }
        };
        l.visiting.pop();
        match node {
            Aggregate::Struct(i) => l.struct_layout[i as usize] = Some(result),
            Aggregate::Union(i) => l.union_layout[i as usize] = Some(result),
        }
        result
    }

    /// C layout: each field at the next multiple of its alignment after the
    /// field declared before it, or where `at` puts it; the size is the
    /// furthest end rounded up to the largest alignment. Fields may not
    /// overlap.
    fn struct_layout(&mut self, i: usize, l: &mut Layouts<'a>) -> Option<(u64, u64)> {
        let fields = l.structs[i].fields.clone();
        let decl = l.structs[i].decl;
        let mut end = 0u64;
        let mut furthest = 0u64;
        let mut taken: Vec<(u64, u64, Span)> = Vec::new();
        let mut align = 1u64;
        let mut offsets = Vec::with_capacity(fields.len());
        let mut ok = !decl.fields.is_empty();
        for (field, decl_field) in fields.iter().zip(&decl.fields) {
            let Some((ty, count)) = field else {
                ok = false;
                offsets.push(0);
                continue;
            };
            let Some((size, field_align)) = self.type_layout(ty, l) else {
                ok = false;
                offsets.push(0);
                continue;
            };
            let offset = match &decl_field.at {
                Some(at) if at.node % field_align != 0 => {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::BadStruct,
                            format!(
                                "field `{}` at {} is not aligned to {field_align}",
                                decl_field.name.node, at.node
                            ),
                        )
                        .label(at.span, "misaligned"),
                    );
                    ok = false;
                    at.node
                }
                Some(at) => at.node,
                None => align_up(end, field_align),
            };
            offsets.push(offset);
            end = offset.saturating_add(size.saturating_mul(count.unwrap_or(1)));
            if let Some(&(_, _, other)) = taken
                .iter()
                .find(|&&(start, stop, _)| offset < stop && start < end)
            {
                self.err(
                    Diagnostic::new(
                        ErrorCode::BadStruct,
                        format!("field `{}` overlaps another", decl_field.name.node),
                    )
                    .label(decl_field.span, "this field")
                    .label(other, "overlaps this one"),
                );
                ok = false;
            }
            taken.push((offset, end, decl_field.span));
            furthest = furthest.max(end);
            align = align.max(field_align);
            if end > MAX_AGGREGATE_BYTES {
                self.err(
                    Diagnostic::new(
                        ErrorCode::BadStruct,
                        format!(
                            "struct `{}` is larger than {MAX_AGGREGATE_BYTES} bytes",
                            decl.name.node
                        ),
                    )
                    .label(decl_field.span, "reaches past the limit here"),
                );
                ok = false;
                break;
            }
        }
        l.offsets[i] = offsets;
        ok.then(|| (align_up(furthest, align), align))
    }

    /// Size and alignment of a field of type `ty` on this architecture.
    fn type_layout(&mut self, ty: &Ty, l: &mut Layouts<'a>) -> Option<(u64, u64)> {
        let word = u64::from(self.bits / 8);
        match ty {
            Ty::Int { bytes, .. } | Ty::Flags { bytes, .. } | Ty::Enum { bytes, .. } => {
                let bytes = u64::from(*bytes);
                // The i386 SysV ABI aligns 8-byte integers in structures
                // to 4; every other supported ABI aligns them naturally.
                let align = match self.arch.map(|a| a.arch) {
                    Some(arch::Arch::I386) => bytes.min(4),
                    _ => bytes,
                };
                Some((bytes, align))
            }
            Ty::Ptr | Ty::CStr | Ty::Buf { .. } | Ty::WStr { .. } | Ty::Array { .. } => {
                Some((word, word))
            }
            Ty::Struct { id } => self.aggregate_layout(Aggregate::Struct(*id), l),
            Ty::Union { id } => self.aggregate_layout(Aggregate::Union(*id), l),
            // An array of unsigned longs.
            Ty::SigSet { .. } => Some((model::SIGSET_BYTES, word)),
            Ty::WaitStatus { .. } => Some((4, 4)),
            Ty::Void => None,
        }
    }

    /// Every case has the tag field at the same offset with the same enum
    /// type; case names are members of that enum.
    fn check_union(
        &mut self,
        decl: &ast::UnionDecl,
        targets: &[u32],
        (size, align): (u64, u64),
        types: &Types<'a>,
    ) -> Option<model::UnionDef> {
        let mut tag: Option<(u64, Ty, &str)> = None;
        let mut ok = true;
        for (case, id) in decl.cases.iter().zip(targets) {
            let st = types.structs.get(*id as usize)?.as_ref()?;
            let Some(field) = st.fields.iter().find(|f| f.name == decl.tag.node) else {
                self.err(
                    Diagnostic::new(
                        ErrorCode::BadUnion,
                        format!("struct `{}` has no tag field `{}`", st.name, decl.tag.node),
                    )
                    .label(case.target.span, "this case")
                    .label(decl.tag.span, "the tag every case must have")
                    .note("the tag is a field at the same offset in every case, like `sa_family`"),
                );
                ok = false;
                continue;
            };
            match &tag {
                None => tag = Some((field.offset, field.ty.clone(), st.name.as_str())),
                Some((offset, ty, first)) if *offset != field.offset || *ty != field.ty => {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::BadUnion,
                            format!(
                                "the tag `{}` of `{}` differs from that of `{first}`",
                                decl.tag.node, st.name
                            ),
                        )
                        .label(
                            case.target.span,
                            format!("tag at offset {} here", field.offset),
                        )
                        .note(format!(
                            "`{first}` has it at offset {offset}; offset and type must be the same"
                        )),
                    );
                    ok = false;
                }
                Some(_) => {}
            }
        }
        let (tag_offset, tag_ty, _) = tag?;
        let Ty::Enum { set, .. } = tag_ty else {
            self.err(
                Diagnostic::new(
                    ErrorCode::BadUnion,
                    format!(
                        "the tag `{}` of union `{}` is not an enum",
                        decl.tag.node, decl.name.node
                    ),
                )
                .label(decl.tag.span, "expected a field whose type is an `enum`")
                .note("the cases are named by the tag's enum members"),
            );
            return None;
        };
        let members = &types.enums.get(set as usize)?.members;
        let mut cases = Vec::new();
        for (case, id) in decl.cases.iter().zip(targets) {
            match members.iter().find(|m| m.name == case.member.node) {
                Some(m) => cases.push(model::UnionCase {
                    member: m.name.clone(),
                    value: m.value,
                    target: *id,
                }),
                None => {
                    let mut diag = Diagnostic::new(
                        ErrorCode::BadUnion,
                        format!(
                            "`{}` is not a value of the tag `{}`",
                            case.member.node, decl.tag.node
                        ),
                    )
                    .label(case.member.span, "not a member of the tag's enum");
                    diag = suggest(
                        diag,
                        &case.member.node,
                        members.iter().map(|m| m.name.as_str()),
                    );
                    self.err(diag);
                    ok = false;
                }
            }
        }
        ok.then(|| model::UnionDef {
            name: decl.name.node.clone(),
            tag: decl.tag.node.clone(),
            tag_offset,
            tag_ty,
            size,
            align,
            cases,
        })
    }

    /// Resolves without reporting: the type's own errors are reported where
    /// it is declared.
    fn resolve_quiet(&mut self, tref: &ast::TypeRef, types: &Types<'a>) -> Option<BaseTy> {
        let before = self.diags.list.len();
        let result = self.resolve_base(tref, types, &mut Vec::new());
        self.diags.list.truncate(before);
        result
    }

    fn required_expr(
        &mut self,
        props: &BTreeMap<&str, &ast::Prop>,
        key: &str,
        at: Option<Span>,
        owner: &str,
    ) -> Option<Expr> {
        match props.get(key) {
            Some(prop) => self.single_expr(prop, Scope::default()),
            None => {
                if let Some(span) = at {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::MissingKey,
                            format!("{owner} does not say `{key}`"),
                        )
                        .label(span, format!("`{key} = ...;` is missing"))
                        .note(missing_note(key)),
                    );
                }
                None
            }
        }
    }

    fn single_expr(&mut self, prop: &ast::Prop, scope: Scope<'_>) -> Option<Expr> {
        match &prop.value {
            Value::Exprs(list) if list.len() == 1 => self.expr(&list[0], scope).map(|(e, _)| e),
            other => {
                self.bad_value(
                    other.span(),
                    &format!("`{}` takes one expression", prop.key.node),
                );
                None
            }
        }
    }

    /// An expression whose value must fit the model's word: a syscall
    /// number, an argument, a return value or an address.
    fn word_expr(&mut self, expr: &ast::Expr, scope: Scope<'_>, what: &str) -> Option<Expr> {
        let (checked, width) = self.expr(expr, scope)?;
        if width > self.bits {
            self.err(
                Diagnostic::new(
                    ErrorCode::Width,
                    format!(
                        "{what} is {width} bits wide, but the model is {}-bit",
                        self.bits
                    ),
                )
                .label(expr.span, format!("{width}-bit expression")),
            );
            return None;
        }
        Some(checked)
    }

    /// Checks an expression; returns it with its width in bits.
    fn expr(&mut self, expr: &ast::Expr, scope: Scope<'_>) -> Option<(Expr, u32)> {
        let index_var = scope.index_var;
        match &expr.kind {
            ExprKind::Int(value) => {
                if self.bits < 64 && *value >> self.bits != 0 {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::Width,
                            format!(
                                "integer {value:#x} does not fit in the model's {} bits",
                                self.bits
                            ),
                        )
                        .label(expr.span, "too wide"),
                    );
                    return None;
                }
                Some((Expr::Const(*value), self.bits))
            }
            ExprKind::Name(name) => {
                if Some(name.as_str()) == index_var {
                    return Some((Expr::ArgIndex, self.bits));
                }
                if let Some(found) = self.task_name(name, expr.span, scope) {
                    return found;
                }
                let arch = self.arch?;
                let registers = (arch.registers)();
                if let Some((reg, bits)) = registers.iter().find(|(r, _)| r == name) {
                    return Some((Expr::Reg(self.use_register(reg, *bits)), *bits));
                }
                if name == "i" && index_var.is_none() {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::IndexOutsideArgs,
                            "the argument index `i` is only defined in `args[i] = ...`",
                        )
                        .label(expr.span, "not an argument location"),
                    );
                    return None;
                }
                let mut diag = Diagnostic::new(
                    ErrorCode::UnknownRegister,
                    format!("unknown register `{name}` for architecture `{}`", arch.name),
                )
                .label(expr.span, "not a register QEMU exposes for this target");
                diag = suggest(diag, name, registers.iter().map(|(r, _)| r.as_str()));
                if !self.listed_registers {
                    self.listed_registers = true;
                    let names: Vec<&str> = registers.iter().map(|(r, _)| r.as_str()).collect();
                    diag = diag.note(format!("{} registers: {}", arch.name, compact_list(&names)));
                }
                self.err(diag);
                None
            }
            ExprKind::Load { width, addr } => {
                let addr = self.expr(addr, scope);
                let Some(pos) = LOAD_WIDTHS.iter().position(|w| *w == width.node) else {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::UnknownWidth,
                            format!("`{}` is not a memory read width", width.node),
                        )
                        .label(width.span, "unknown width")
                        .note(format!("expected one of {}", quoted_list(LOAD_WIDTHS))),
                    );
                    return None;
                };
                let (addr, addr_width) = addr?;
                if addr_width > self.bits {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::Width,
                            format!("address is {addr_width} bits wide, but the model's addresses are {} bits", self.bits),
                        )
                        .label(width.span, "this read's address is too wide"),
                    );
                    return None;
                }
                let bytes = [1u8, 2, 4, 8][pos % 4];
                let signed = pos >= 4;
                Some((
                    Expr::Load {
                        bytes,
                        signed,
                        addr: Box::new(addr),
                    },
                    if signed { 64 } else { u32::from(bytes) * 8 },
                ))
            }
            ExprKind::Unary(op, inner) => {
                let (inner, width) = self.expr(inner, scope)?;
                let width = if *op == UnOp::Neg {
                    width.max(self.bits)
                } else {
                    width
                };
                Some((Expr::Unary(*op, Box::new(inner)), width))
            }
            ExprKind::Binary(op, a, b) => {
                let lhs = self.expr(a, scope);
                let rhs = self.expr(b, scope);
                let ((lhs, lw), (rhs, rw)) = (lhs?, rhs?);
                // A right shift by the operand's width or more leaves
                // nothing; a left shift widens its operand (`acr0 << 32`)
                // and leaves nothing only from 64 on.
                let limit = if *op == BinOp::Shl { 64 } else { lw };
                if matches!(op, BinOp::Shl | BinOp::Shr)
                    && let Expr::Const(amount) = rhs
                    && amount >= u64::from(limit)
                {
                    let mut diag = Diagnostic::new(
                        ErrorCode::Width,
                        if *op == BinOp::Shl {
                            format!("shift left by {amount} leaves nothing of a 64-bit value")
                        } else {
                            format!("shift by {amount} is not less than the {lw}-bit width of its operand")
                        },
                    )
                    .label(b.span, format!("expected less than {limit}"));
                    if *op == BinOp::Shr {
                        diag = diag.label(a.span, format!("{lw}-bit operand"));
                    }
                    self.err(diag);
                    return None;
                }
                if *op == BinOp::Shl
                    && let Expr::Const(amount) = rhs
                {
                    let width = (u64::from(lw) + amount).min(64) as u32;
                    return Some((Expr::Binary(*op, Box::new(lhs), Box::new(rhs)), width));
                }
                if matches!(op, BinOp::Div | BinOp::Rem) && rhs == Expr::Const(0) {
                    self.err(
                        Diagnostic::new(ErrorCode::BadValue, "division by zero")
                            .label(b.span, "this is zero"),
                    );
                    return None;
                }
                let width = if op.is_comparison() { 1 } else { lw.max(rw) };
                Some((Expr::Binary(*op, Box::new(lhs), Box::new(rhs)), width))
            }
            ExprKind::Insn => match scope.insn {
                InsnScope::Bytes(len) if len <= MAX_INSN_BYTES => {
                    Some((Expr::Insn, len as u32 * 8))
                }
                InsnScope::Bytes(len) => {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::Width,
                            format!("the entry instruction is {len} bytes long, but `insn` holds at most {MAX_INSN_BYTES}"),
                        )
                        .label(expr.span, format!("{} bits", len * 8)),
                    );
                    None
                }
                InsnScope::Unknown => None,
                InsnScope::Outside => {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::InsnOutsideNumber,
                            "`insn`, the entry instruction, is only defined in a mechanism's `number`",
                        )
                        .label(expr.span, "no entry instruction here")
                        .note("`number = insn & 0xff != 0 ? insn & 0xff : r1;` takes the number from the instruction's immediate"),
                    );
                    None
                }
            },
            ExprKind::Field { .. } | ExprKind::Symbol(_) | ExprKind::Fallback(..) => {
                self.kernel_expr(expr, scope)
            }
            ExprKind::Cond(cond, then, other) => {
                let cond = self.expr(cond, scope);
                let then = self.expr(then, scope);
                let other = self.expr(other, scope);
                let ((cond, _), (then, tw), (other, ow)) = (cond?, then?, other?);
                Some((
                    Expr::Cond(Box::new(cond), Box::new(then), Box::new(other)),
                    tw.max(ow),
                ))
            }
        }
    }

    fn use_register(&mut self, name: &str, bits: u32) -> RegId {
        if let Some(pos) = self.used_regs.iter().position(|(r, _)| r == name) {
            return RegId(pos as u32);
        }
        self.used_regs.push((name.to_string(), bits));
        RegId(self.used_regs.len() as u32 - 1)
    }

    /// Renumbers registers by name so the model does not depend on the order
    /// in which expressions were checked.
    fn number_registers(&mut self, model: &mut Model) {
        let mut sorted: Vec<(String, u32)> = self.used_regs.clone();
        sorted.sort();
        let remap: Vec<RegId> = self
            .used_regs
            .iter()
            .map(|r| RegId(sorted.iter().position(|s| s == r).expect("same set") as u32))
            .collect();
        model.registers = sorted
            .into_iter()
            .map(|(name, bits)| model::Register { name, bits })
            .collect();
        let mut fix = |e: &mut Expr| remap_regs(e, &remap);
        fix(&mut model.thread);
        fix(&mut model.process);
        if let Some(task) = &mut model.task {
            task.exprs_mut().for_each(&mut fix);
        }
        if let Some(signal) = &mut model.signal {
            signal.exprs_mut().for_each(&mut fix);
        }
        for m in &mut model.mechanisms {
            if let Some(when) = &mut m.when {
                fix(when);
            }
            fix(&mut m.number);
            fix(&mut m.ret);
            fix(&mut m.thread);
            fix(&mut m.process);
            m.args.iter_mut().for_each(&mut fix);
            if let Some(rest) = &mut m.args_rest {
                fix(rest);
            }
            if let ErrorConvention::Flag(e) = &mut m.error {
                fix(e);
            }
            for exit in &mut m.exits {
                fix(&mut exit.resume);
            }
        }
    }

    fn check_mechanism(
        &mut self,
        block: &ast::MechanismBlock,
        table_blocks: &[&ast::TableBlock],
        tables: &[model::Table],
        thread: Option<&Expr>,
        process: Option<&Expr>,
    ) -> Option<model::Mechanism> {
        let errors_before = self.diags.list.len();
        let props: Vec<&ast::Prop> = block
            .stmts
            .iter()
            .filter_map(|s| {
                if let MechStmt::Prop(p) = s {
                    Some(p)
                } else {
                    None
                }
            })
            .collect();
        let map = self.props_by_key(
            &props,
            MECH_KEYS,
            &format!("in mechanism `{}`", block.name.node),
        );
        let owner = format!("mechanism `{}`", block.name.node);
        let at = Some(block.name.span);

        let entry = match map.get("entry") {
            Some(prop) => match &prop.value {
                Value::Pattern(p) => self.pattern(p),
                other => {
                    self.bad_value(other.span(), "`entry` takes an instruction pattern: `bytes \"0f 05\"`, `insn16 0xdf00 mask 0xff00` or `insn32 ...`");
                    None
                }
            },
            None => {
                self.missing(block, "entry");
                None
            }
        };

        let when = map
            .get("when")
            .and_then(|prop| self.single_expr(prop, Scope::default()));
        let table = self.mechanism_table(block, map.get("table").copied(), table_blocks);
        let number_scope = Scope {
            insn: entry
                .as_ref()
                .map_or(InsnScope::Unknown, |p| InsnScope::Bytes(p.bytes.len())),
            ..Scope::default()
        };
        let number = match map.get("number") {
            Some(prop) => self.single_word_expr(prop, number_scope, "the syscall number"),
            None => {
                self.missing(block, "number");
                None
            }
        };
        let ret = match map.get("return") {
            Some(prop) => self.single_word_expr(prop, Scope::default(), "the return value"),
            None => {
                self.missing(block, "return");
                None
            }
        };
        let mut args = Vec::new();
        let mut listed_args = 0;
        if let Some(prop) = map.get("args") {
            match &prop.value {
                Value::Exprs(list) => {
                    listed_args = list.len();
                    for e in list {
                        if let Some(e) = self.word_expr(e, Scope::default(), "an argument location")
                        {
                            args.push(e);
                        }
                    }
                }
                other => self.bad_value(
                    other.span(),
                    "`args` takes a comma-separated list of expressions",
                ),
            }
        }
        let mut args_rest = None;
        let mut rest_span = None;
        for stmt in &block.stmts {
            let MechStmt::Indexed {
                key,
                var,
                value,
                span,
            } = stmt
            else {
                continue;
            };
            if key.node != "args" {
                self.err(
                    Diagnostic::new(
                        ErrorCode::UnknownKey,
                        format!("`{}[{}]` is not a mechanism property", key.node, var.node),
                    )
                    .label(key.span, "only `args` takes an index")
                    .note("write `args[i] = EXPR;` for the location of argument i"),
                );
                continue;
            }
            if let Some(first) = rest_span {
                self.err(
                    Diagnostic::new(ErrorCode::Duplicate, "`args[...]` is given twice")
                        .label(key.span, "given again here")
                        .label(first, "first given here"),
                );
                continue;
            }
            rest_span = Some(*span);
            args_rest = self.word_expr(value, Scope::args(&var.node), "an argument location");
        }
        let error = match map.get("error") {
            None => Some(ErrorConvention::None),
            Some(prop) => self.error_convention(prop),
        };
        let thread_expr = match map.get("thread") {
            Some(prop) => self.single_expr(prop, Scope::default()),
            None => thread.cloned(),
        };
        let process_expr = match map.get("process") {
            Some(prop) => self.single_expr(prop, Scope::default()),
            None => process.cloned(),
        };

        let mut exits = Vec::new();
        let mut exit_names: BTreeMap<&str, Span> = BTreeMap::new();
        for stmt in &block.stmts {
            let MechStmt::Exit(exit) = stmt else { continue };
            if let Some(first) = exit_names.get(exit.name.node.as_str()) {
                let first = *first;
                self.duplicate("exit", &exit.name, first);
                continue;
            }
            exit_names.insert(&exit.name.node, exit.name.span);
            let pattern = self.pattern(&exit.pattern);
            let resume = match &exit.resume {
                Some(e) => self.word_expr(e, Scope::default(), "the resume address"),
                None => {
                    self.err(
                        Diagnostic::new(ErrorCode::MissingKey, format!("exit `{}` does not say where it returns to", exit.name.node))
                            .label(exit.span, "expected `resume EXPR` before `;`")
                            .note("the resume address pairs an exit with the call it ends, e.g. `resume rcx` for sysretq"),
                    );
                    None
                }
            };
            let (mut kernel_space, mut outputs_at_resume, mut read_at_resume) =
                (false, false, false);
            for attr in &exit.attrs {
                match attr.node.as_str() {
                    "kernel_space" => {
                        kernel_space = true;
                        continue;
                    }
                    "outputs_at_resume" => {
                        outputs_at_resume = true;
                        continue;
                    }
                    "read_at_resume" => {
                        read_at_resume = true;
                        continue;
                    }
                    _ => {}
                }
                let mut diag = Diagnostic::new(
                    ErrorCode::BadAttribute,
                    format!("unknown exit attribute `{}`", attr.node),
                )
                .label(attr.span, "unknown attribute");
                diag = suggest(diag, &attr.node, EXIT_ATTRIBUTES.iter().copied());
                self.err(diag.note(format!("expected {}", quoted_list(EXIT_ATTRIBUTES))));
            }
            if let (Some(pattern), Some(resume)) = (pattern, resume) {
                exits.push(model::Exit {
                    name: exit.name.node.clone(),
                    pattern,
                    resume,
                    kernel_space,
                    outputs_at_resume,
                    read_at_resume,
                });
            }
        }
        if exit_names.is_empty() {
            self.err(
                Diagnostic::new(ErrorCode::MissingKey, format!("{owner} has no `exit`"))
                    .label(block.name.span, "no way to see calls return")
                    .note(
                        "add `exit NAME = PATTERN resume EXPR;` for each kernel return instruction",
                    ),
            );
        }

        // Every syscall of the table must have a location for each argument.
        if let Some(table) = table {
            // Counted from the syntax: a location that failed its own check
            // must not also be reported as missing.
            let max = if rest_span.is_some() || listed_args == usize::MAX {
                None
            } else {
                Some(listed_args)
            };
            let args_span = map.get("args").map(|p| p.value.span());
            if let Some(max) = max
                && let Some(block_table) = table_blocks.get(table.0 as usize)
            {
                for decl in &block_table.syscalls {
                    if decl.args.len() > max {
                        let mut diag = Diagnostic::new(
                            ErrorCode::TooManyArgs,
                            format!(
                                "`{}` takes {} arguments, but mechanism `{}` has locations for {max}",
                                decl.name.node,
                                decl.args.len(),
                                block.name.node
                            ),
                        )
                        .label(decl.args[max].span, "no location for this argument");
                        diag = match args_span {
                            Some(span) => diag.label(span, format!("{max} locations given here")),
                            None => diag.label(block.name.span, "this mechanism gives no `args`"),
                        };
                        self.err(
                            diag.note("add locations to `args`, or `args[i] = EXPR;` for the rest"),
                        );
                    }
                }
            }
            let _ = tables;
        }
        let _ = owner;
        let _ = at;
        if self.diags.list.len() > errors_before {
            return None;
        }
        Some(model::Mechanism {
            name: block.name.node.clone(),
            entry: entry?,
            when,
            table: table?,
            number: number?,
            args,
            args_rest,
            ret: ret?,
            error: error?,
            exits,
            thread: thread_expr?,
            process: process_expr?,
            source: self.line_of(block.span),
        })
    }

    fn single_word_expr(&mut self, prop: &ast::Prop, scope: Scope<'_>, what: &str) -> Option<Expr> {
        match &prop.value {
            Value::Exprs(list) if list.len() == 1 => self.word_expr(&list[0], scope, what),
            other => {
                self.bad_value(
                    other.span(),
                    &format!("`{}` takes one expression", prop.key.node),
                );
                None
            }
        }
    }

    fn missing(&mut self, block: &ast::MechanismBlock, key: &str) {
        self.err(
            Diagnostic::new(
                ErrorCode::MissingKey,
                format!("mechanism `{}` does not say `{key}`", block.name.node),
            )
            .label(block.name.span, format!("`{key} = ...;` is missing"))
            .note(missing_note(key)),
        );
    }

    fn mechanism_table(
        &mut self,
        block: &ast::MechanismBlock,
        prop: Option<&ast::Prop>,
        table_blocks: &[&ast::TableBlock],
    ) -> Option<TableId> {
        let names: Vec<&str> = table_blocks.iter().map(|t| t.name.node.as_str()).collect();
        match prop {
            Some(prop) => {
                let word = self.word_value(prop)?;
                match names.iter().position(|n| *n == word.node) {
                    Some(i) => Some(TableId(i as u32)),
                    None => {
                        let mut diag = Diagnostic::new(
                            ErrorCode::UnknownTable,
                            format!("unknown table `{}`", word.node),
                        )
                        .label(word.span, "no table of this name");
                        diag = suggest(diag, &word.node, names.iter().copied());
                        if names.is_empty() {
                            diag = diag.note("the model declares no `table`");
                        } else {
                            diag =
                                diag.note(format!("tables in this model: {}", quoted_list(&names)));
                        }
                        self.err(diag);
                        None
                    }
                }
            }
            None => match names.len() {
                1 => Some(TableId(0)),
                0 => {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::UnknownTable,
                            "the model declares no syscall `table`",
                        )
                        .label(
                            block.name.span,
                            "this mechanism has no table to look numbers up in",
                        )
                        .note("declare `table NAME { NUMBER name(ARGS) -> TYPE; ... }`"),
                    );
                    None
                }
                _ => {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::UnknownTable,
                            format!(
                                "mechanism `{}` does not say which table it uses",
                                block.name.node
                            ),
                        )
                        .label(block.name.span, "`table = NAME;` is missing")
                        .note(format!(
                            "the model has several tables: {}",
                            quoted_list(&names)
                        )),
                    );
                    None
                }
            },
        }
    }

    fn error_convention(&mut self, prop: &ast::Prop) -> Option<ErrorConvention> {
        match &prop.value {
            Value::Qualified(word, operand) if word.node == "negative" => match operand.kind {
                ExprKind::Int(max) if max > 0 => Some(ErrorConvention::Negative { max }),
                _ => {
                    self.bad_value(
                        operand.span,
                        "`negative` takes the largest errno, e.g. `negative 4095`",
                    );
                    None
                }
            },
            Value::Qualified(word, operand) if word.node == "flag" => self
                .expr(operand, Scope::default())
                .map(|(e, _)| ErrorConvention::Flag(e)),
            Value::Exprs(list) if matches!(list.as_slice(), [e] if e.kind == ExprKind::Name("none".into())) => {
                Some(ErrorConvention::None)
            }
            other => {
                self.err(
                    Diagnostic::new(ErrorCode::BadValue, "unknown error convention")
                        .label(other.span(), "expected `negative(N)`, `flag(EXPR)` or `none`")
                        .note("`negative(4095)`: returns from -4095 to -1 are errors (Linux); `flag(r7)`: a non-zero a3 (r7) marks an error (MIPS)"),
                );
                None
            }
        }
    }

    /// Lowers a pattern to bytes and mask in memory order.
    fn pattern(&mut self, p: &ast::Pattern) -> Option<model::Pattern> {
        match p.kind.node {
            PatternKind::Bytes => {
                let bytes = self.hex_bytes(&p.value, "pattern")?;
                let mask = match &p.mask {
                    Some(mask) => {
                        let mask_bytes = self.hex_bytes(mask, "mask")?;
                        if mask_bytes.len() != bytes.len() {
                            let wider = mask_bytes.len() > bytes.len();
                            self.err(
                                Diagnostic::new(
                                    ErrorCode::PatternWidth,
                                    if wider {
                                        "mask is wider than its pattern"
                                    } else {
                                        "mask is narrower than its pattern"
                                    },
                                )
                                .label(mask.span, format!("{} mask bytes", mask_bytes.len()))
                                .label(p.value.span, format!("{} pattern bytes", bytes.len())),
                            );
                            return None;
                        }
                        mask_bytes
                    }
                    None => vec![0xff; bytes.len()],
                };
                self.check_mask_bits(p, &bytes, &mask)?;
                Some(model::Pattern { bytes, mask })
            }
            PatternKind::Insn16 | PatternKind::Insn32 => {
                let bits: u32 = if p.kind.node == PatternKind::Insn16 {
                    16
                } else {
                    32
                };
                let value = self.word_lit(&p.value, bits, "pattern")?;
                let mask = match &p.mask {
                    Some(mask) => self.word_lit(mask, bits, "mask")?,
                    None => (1u64 << bits) - 1,
                };
                let n = (bits / 8) as usize;
                let to_bytes = |v: u64| -> Vec<u8> {
                    let le = v.to_le_bytes()[..n].to_vec();
                    if self.endian == Endian::Little {
                        le
                    } else {
                        le.into_iter().rev().collect()
                    }
                };
                let (bytes, mask) = (to_bytes(value), to_bytes(mask));
                self.check_mask_bits(p, &bytes, &mask)?;
                Some(model::Pattern { bytes, mask })
            }
        }
    }

    fn check_mask_bits(&mut self, p: &ast::Pattern, bytes: &[u8], mask: &[u8]) -> Option<()> {
        if bytes.iter().zip(mask).any(|(b, m)| b & !m != 0) {
            let span = p.mask.as_ref().map_or(p.value.span, |m| m.span);
            self.err(
                Diagnostic::new(
                    ErrorCode::PatternBits,
                    "the pattern sets bits that its mask ignores, so it can never match",
                )
                .label(p.value.span, "pattern")
                .label(span, "mask")
                .note("every bit set in the pattern must also be set in the mask"),
            );
            return None;
        }
        Some(())
    }

    fn word_lit(&mut self, lit: &ast::Spanned<PatternLit>, bits: u32, what: &str) -> Option<u64> {
        match lit.node {
            PatternLit::Word(v) if v >> bits == 0 => Some(v),
            PatternLit::Word(v) => {
                let message = if what == "mask" {
                    format!("mask {v:#x} is wider than its {bits}-bit pattern")
                } else {
                    format!("pattern {v:#x} does not fit in {bits} bits")
                };
                self.err(Diagnostic::new(ErrorCode::PatternWidth, message).label(
                    lit.span,
                    format!("expected at most {:#x}", (1u64 << bits) - 1),
                ));
                None
            }
            PatternLit::Bytes(_) => {
                self.err(
                    Diagnostic::new(
                        ErrorCode::PatternSyntax,
                        format!("an `insn{bits}` {what} is an integer"),
                    )
                    .label(lit.span, "expected an integer such as 0xdf00")
                    .note("byte strings go with `bytes \"0f 05\"`"),
                );
                None
            }
        }
    }

    fn hex_bytes(&mut self, lit: &ast::Spanned<PatternLit>, what: &str) -> Option<Vec<u8>> {
        let text = match &lit.node {
            PatternLit::Bytes(text) => text,
            PatternLit::Word(_) => {
                self.err(
                    Diagnostic::new(
                        ErrorCode::PatternSyntax,
                        format!("a `bytes` {what} is a string of hex bytes"),
                    )
                    .label(lit.span, "expected a string such as \"0f 05\"")
                    .note("16- and 32-bit instruction words go with `insn16` and `insn32`"),
                );
                return None;
            }
        };
        let mut bytes = Vec::new();
        // Byte offsets inside the string literal, for carets on the bad byte.
        let base = lit.span.start as usize + 1;
        let mut offset = 0;
        for word in text.split(' ') {
            let start = offset;
            offset += word.len() + 1;
            if word.is_empty() {
                continue;
            }
            if word.len() % 2 != 0 || !word.chars().all(|c| c.is_ascii_hexdigit()) {
                self.err(
                    Diagnostic::new(ErrorCode::PatternSyntax, format!("`{word}` is not a sequence of hex bytes"))
                        .label(Span::new(lit.span.file, base + start, base + start + word.len()), "expected pairs of hex digits")
                        .note("write bytes as pairs of hex digits, spaces between them optional: \"0f 05\""),
                );
                return None;
            }
            for pair in word.as_bytes().chunks(2) {
                let pair = std::str::from_utf8(pair).expect("hex digits are ASCII");
                bytes.push(u8::from_str_radix(pair, 16).expect("checked hex digits"));
            }
        }
        if bytes.is_empty() {
            self.err(
                Diagnostic::new(ErrorCode::PatternSyntax, format!("empty {what}"))
                    .label(lit.span, "expected at least one byte"),
            );
            return None;
        }
        Some(bytes)
    }

    fn check_entry_overlap(
        &mut self,
        blocks: &[&ast::MechanismBlock],
        mechanisms: &[Option<model::Mechanism>],
    ) {
        for (i, a) in mechanisms.iter().enumerate() {
            for (j, b) in mechanisms.iter().enumerate().skip(i + 1) {
                // Mechanisms that share an entry are told apart by `when`;
                // one of them may go without, taking what the others do not.
                if let (Some(a), Some(b)) = (a, b)
                    && a.entry == b.entry
                    && a.when.is_none()
                    && b.when.is_none()
                {
                    self.err(
                        Diagnostic::new(
                            ErrorCode::PatternOverlap,
                            format!(
                                "mechanisms `{}` and `{}` have the same entry pattern",
                                a.name, b.name
                            ),
                        )
                        .label(blocks[j].name.span, "this mechanism")
                        .label(
                            blocks[i].name.span,
                            "matches the same instructions as this one",
                        )
                        .note("one instruction can start only one kind of call: give all but one of them a `when` that tells them apart, e.g. `when = cs == 0x23;`"),
                    );
                }
            }
        }
    }
}

const BUILTIN_TYPES: &[&str] = &[
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
    "ptr",
    "cstr",
    "sigset",
    "wait_status",
    "buf",
    "wstr",
    "void",
];

/// Attributes a structure field may have.
const FIELD_ATTRIBUTES: &[&str] = &["verbose"];

/// Attributes an exit may have after its resume expression.
const EXIT_ATTRIBUTES: &[&str] = &["kernel_space", "outputs_at_resume", "read_at_resume"];

/// An inline array or a structure beyond this size is certainly a mistake,
/// and keeps layout arithmetic far from overflow.
const MAX_AGGREGATE_BYTES: u64 = 1 << 20;

fn remap_regs(expr: &mut Expr, remap: &[RegId]) {
    match expr {
        Expr::Reg(id) => *id = remap[id.0 as usize],
        Expr::Const(_) | Expr::ArgIndex | Expr::Kernel(_) | Expr::Current | Expr::InsnAddr => {}
        Expr::Load { addr, .. } => remap_regs(addr, remap),
        Expr::Unary(_, e) => remap_regs(e, remap),
        Expr::Binary(_, a, b) | Expr::Fallback(a, b) => {
            remap_regs(a, remap);
            remap_regs(b, remap);
        }
        Expr::Insn => {}
        Expr::Cond(c, a, b) => {
            remap_regs(c, remap);
            remap_regs(a, remap);
            remap_regs(b, remap);
        }
    }
}

/// Whether an argument of this type is an address, so that it can have a
/// direction.
fn points_at_memory(ty: &Ty) -> bool {
    matches!(
        ty,
        Ty::Ptr
            | Ty::CStr
            | Ty::Buf { .. }
            | Ty::WStr { .. }
            | Ty::Array { .. }
            | Ty::Struct { .. }
            | Ty::Union { .. }
            | Ty::SigSet { .. }
            | Ty::WaitStatus { .. }
    )
}

fn align_up(value: u64, align: u64) -> u64 {
    value.div_ceil(align.max(1)) * align.max(1)
}

fn item_span(item: &Item) -> Span {
    match item {
        Item::Struct(s) => s.span,
        Item::Union(u) => u.span,
        Item::Include(s) => s.span,
        Item::Os(o) => o.span,
        Item::Prop(p) => p.span,
        Item::Mechanism(m) => m.span,
        Item::Table(t) => t.span,
        Item::TypeAlias(t) => t.span,
        Item::Flags(s) | Item::Enum(s) => s.span,
        Item::Errno(e) => e.span,
        Item::Class(names) => names[0].span,
        Item::KernelStruct(k) => k.span,
        Item::KernelSymbol(k) => k.span,
        Item::Task(t) => t.span,
        Item::Block(b) => b.span,
    }
}

fn missing_note(key: &str) -> String {
    match key {
        "thread" => "`thread` identifies the calling thread, e.g. `thread = fs_base;` (x86_64) or `thread = TPIDRURO;` (arm)".into(),
        "process" => "`process` identifies the address space, e.g. `process = cr3;` (x86_64) or `process = TTBR0;` (arm)".into(),
        "entry" => "`entry` is the instruction that enters the kernel, e.g. `entry = bytes \"0f 05\";`".into(),
        "number" => "`number` is where the syscall number is, e.g. `number = rax;`".into(),
        "return" => "`return` is where the return value is at the exit, e.g. `return = rax;`".into(),
        _ => format!("add `{key} = ...;`"),
    }
}

fn endian_word(endian: Endian) -> &'static str {
    match endian {
        Endian::Little => "little",
        Endian::Big => "big",
    }
}

fn arch_names() -> String {
    let names: Vec<&str> = arch::ARCHES.iter().map(|a| a.name).collect();
    quoted_list(&names)
}

fn quoted_list(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| format!("`{w}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Shortens runs like r0, r1, ..., r12 to `r0`..`r12`.
fn compact_list(names: &[&str]) -> String {
    let split = |n: &str| -> Option<(String, u32)> {
        let digits = n.len() - n.chars().rev().take_while(|c| c.is_ascii_digit()).count();
        let (prefix, number) = n.split_at(digits);
        Some((prefix.to_string(), number.parse().ok()?))
    };
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < names.len() {
        let mut j = i;
        if let Some((prefix, start)) = split(names[i]) {
            while j + 1 < names.len()
                && split(names[j + 1]) == Some((prefix.clone(), start + (j + 1 - i) as u32))
            {
                j += 1;
            }
        }
        if j - i >= 2 {
            out.push(format!("`{}`..`{}`", names[i], names[j]));
        } else {
            for name in &names[i..=j] {
                out.push(format!("`{name}`"));
            }
        }
        i = j + 1;
    }
    out.join(", ")
}

/// The candidate closest to `word` by edit distance, if it is close enough
/// to be a likely typo.
/// `diag` with a note naming the candidate closest to `word`, if one is.
fn suggest<'w>(
    diag: Diagnostic,
    word: &str,
    candidates: impl Iterator<Item = &'w str>,
) -> Diagnostic {
    match closest(word, candidates) {
        Some(close) => diag.note(format!("did you mean `{close}`?")),
        None => diag,
    }
}

fn closest<'w>(word: &str, candidates: impl Iterator<Item = &'w str>) -> Option<&'w str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .filter(|c| *c != word)
        // Optimal string alignment: a swap of neighbours costs one, so `rxa`
        // is one step from `rax`.
        .map(|c| {
            (
                strsim::osa_distance(&word.to_lowercase(), &c.to_lowercase()),
                c,
            )
        })
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compacts_register_runs() {
        assert_eq!(
            compact_list(&["r0", "r1", "r2", "sp", "x9", "x10"]),
            "`r0`..`r2`, `sp`, `x9`, `x10`"
        );
    }

    #[test]
    fn suggests_near_names() {
        assert_eq!(
            closest("rxa", ["rax", "rbx", "cr3"].into_iter()),
            Some("rax")
        );
        assert_eq!(closest("zzzz", ["rax"].into_iter()), None);
    }
}
