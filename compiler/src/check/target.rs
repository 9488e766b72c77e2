//! The target pass: the model's one `os` block, whose architecture fixes
//! the registers, word size and byte order the other passes check against.

use super::Checker;
use super::did_you_mean::suggest;
use super::report::quoted_list;
use crate::arch::{self, Endian};
use crate::diag::{Diagnostic, ErrorCode};
use crate::files::Span;
use crate::syntax::ast::{self, ExprKind, Item, Value};

const OS_KEYS: &[&str] = &[
    "arch",
    "bits",
    "endian",
    "page_size",
    "version",
    "description",
];

/// The model's name, and where the `os` block gives it.
pub(super) struct Os {
    pub(super) name: String,
    pub(super) span: Option<Span>,
}

impl Checker<'_> {
    /// The `os` block: exactly one in the model and its includes.
    pub(super) fn check_target(&mut self, items: &[&Item]) -> Os {
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
        Os {
            name,
            span: os_span,
        }
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
        if let Some(prop) = map.get("page_size") {
            if let Value::Exprs(list) = &prop.value
                && let [expr] = list.as_slice()
                && let ExprKind::Int(n) = expr.kind
                && n.is_power_of_two()
                && (512..=1 << 30).contains(&n)
            {
                self.page_size = n as u32;
            } else {
                self.bad_value(
                    prop.value.span(),
                    "`page_size` takes the kernel's page size in bytes, a power of two (4096, 65536)",
                );
            }
        }
        for key in ["version", "description"] {
            if let Some(prop) = map.get(key)
                && !matches!(prop.value, Value::Str(_))
            {
                self.bad_value(prop.value.span(), &format!("`{key}` takes a string"));
            }
        }
    }
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
