//! The flag sets and enums pass: each member's value fits the set's base
//! type, and a flag member's mask fits the set and covers its value.

use super::Checker;
use super::resolve::BaseTy;
use super::types::Types;
use crate::diag::{Diagnostic, ErrorCode};
use crate::files::Span;
use crate::model::{self, IntFormat, Ty};
use crate::syntax::ast;
use std::collections::BTreeMap;

impl<'a> Checker<'a> {
    pub(super) fn check_member_sets(
        &mut self,
        flag_blocks: &[&ast::MemberSet],
        enum_blocks: &[&ast::MemberSet],
        types: &mut Types<'a>,
    ) {
        for set in flag_blocks {
            let checked = self.check_member_set(set, types, false);
            types.flag_sets.push(checked);
        }
        for set in enum_blocks {
            let checked = self.check_member_set(set, types, true);
            types.enums.push(checked);
        }
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
                    sized: false,
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
        let (unknown, verbose) = self.unknown_text(set, is_enum);
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
                (true, IntFormat::Rlimit) => IntFormat::Rlimit,
                (true, IntFormat::Hex) | (false, _) => IntFormat::Hex,
                (true, _) => IntFormat::Dec,
            },
            unknown,
            verbose,
        }
    }

    /// `unknown "TEXT"` or `verbose "TEXT"`, which only an enum may say:
    /// the text, and whether it is `verbose`.
    fn unknown_text(&mut self, set: &ast::MemberSet, is_enum: bool) -> (Option<String>, bool) {
        let Some((word, text)) = set.unknown.as_ref() else {
            return (None, false);
        };
        let verbose = match word.node.as_str() {
            "unknown" => false,
            "verbose" => true,
            other => {
                self.err(
                    Diagnostic::new(
                        ErrorCode::UnknownKey,
                        format!("unexpected `{other}` after the set's name"),
                    )
                    .label(
                        word.span,
                        "expected `unknown \"PREFIX_???\"`, `verbose \"PREFIX_???\"` or `{`",
                    ),
                );
                return (None, false);
            }
        };
        if !is_enum {
            self.err(
                Diagnostic::new(
                    ErrorCode::BadValue,
                    format!("flag set `{}` cannot say `{}`", set.name.node, word.node),
                )
                .label(word.span, "enums only")
                .note("bits no member of a flag set names show in hex: `O_RDONLY|0x4000000`"),
            );
            return (None, false);
        }
        (Some(text.node.clone()), verbose)
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
}
