//! Instruction patterns, lowered to bytes and mask in memory order, for
//! mechanisms' entries and exits and the `task` block's probes.

use super::Checker;
use crate::arch::Endian;
use crate::diag::{Diagnostic, ErrorCode};
use crate::files::Span;
use crate::model;
use crate::syntax::ast::{self, PatternKind, PatternLit};

impl Checker<'_> {
    /// Lowers a pattern to bytes and mask in memory order.
    pub(super) fn pattern(&mut self, p: &ast::Pattern) -> Option<model::Pattern> {
        let at = match &p.at {
            Some(at) => Some(self.pattern_at(at)?),
            None => None,
        };
        let (bytes, mask) = self.pattern_bytes(p)?;
        Some(model::Pattern { bytes, mask, at })
    }

    /// `at VALUE [mask MASK]`; without a mask, the one address.
    fn pattern_at(&mut self, at: &ast::PatternAt) -> Option<model::At> {
        let mask = at.mask.as_ref().map_or(u64::MAX, |m| m.node);
        if at.value.node & !mask != 0 {
            let span = at.mask.as_ref().map_or(at.span, |m| m.span);
            self.err(
                Diagnostic::new(
                    ErrorCode::PatternBits,
                    "the address sets bits that its mask ignores, so no instruction is there",
                )
                .label(at.value.span, "address")
                .label(span, "mask")
                .note("every bit set in the address must also be set in the mask"),
            );
            return None;
        }
        Some(model::At {
            value: at.value.node,
            mask,
        })
    }

    /// The pattern's bytes and mask in memory order.
    fn pattern_bytes(&mut self, p: &ast::Pattern) -> Option<(Vec<u8>, Vec<u8>)> {
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
                Some((bytes, mask))
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
                Some((bytes, mask))
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
}
