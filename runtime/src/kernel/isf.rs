//! A kernel's layout from a Volatility 3 ISF profile (the JSON that
//! `dwarf2json` writes from a kernel's debug information, and that
//! `cargo xtask isf` writes from Debian's `-dbg` packages): for kernels
//! built without BTF.

use super::{Layout, Member, MemberTy};
use serde::Deserialize;
use std::collections::HashMap;

#[derive(Deserialize)]
pub struct IsfLayout {
    #[serde(default)]
    base_types: HashMap<String, BaseType>,
    #[serde(default)]
    user_types: HashMap<String, UserType>,
    #[serde(default)]
    enums: HashMap<String, EnumType>,
    #[serde(default)]
    symbols: HashMap<String, Symbol>,
    #[serde(skip)]
    place: String,
}

#[derive(Deserialize)]
struct BaseType {
    size: u64,
    #[serde(default)]
    signed: bool,
}

#[derive(Deserialize)]
struct UserType {
    #[serde(default)]
    fields: HashMap<String, Field>,
}

#[derive(Deserialize)]
struct Field {
    offset: u64,
    #[serde(rename = "type")]
    ty: TypeRef,
    /// An unnamed structure or union whose members are the parent's.
    #[serde(default)]
    anonymous: bool,
}

#[derive(Deserialize)]
struct TypeRef {
    kind: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    subtype: Option<Box<TypeRef>>,
    #[serde(default)]
    count: Option<u64>,
    /// A bit field's underlying type.
    #[serde(default, rename = "type")]
    inner: Option<Box<TypeRef>>,
}

#[derive(Deserialize)]
struct EnumType {
    size: u64,
    #[serde(default)]
    base: Option<String>,
}

#[derive(Deserialize)]
struct Symbol {
    address: u64,
}

/// Nesting followed before data is taken for a loop.
const DEPTH_LIMIT: usize = 64;

impl IsfLayout {
    pub fn parse(text: &[u8], place: String) -> Result<Self, String> {
        let mut isf: IsfLayout = serde_json::from_slice(text)
            .map_err(|e| format!("it is not an ISF profile that parses: {e}"))?;
        if isf.user_types.is_empty() && isf.symbols.is_empty() {
            return Err(
                "it is JSON, but has neither `user_types` nor `symbols`: not an ISF profile".into(),
            );
        }
        isf.place = place;
        Ok(isf)
    }

    fn member_ty(&self, ty: &TypeRef, depth: usize) -> MemberTy {
        let name = ty.name.clone().unwrap_or_default();
        match ty.kind.as_str() {
            "base" => match self.base_types.get(&name) {
                Some(base) if name != "void" => MemberTy::Int {
                    bytes: base.size,
                    signed: base.signed,
                },
                _ => MemberTy::Other(name),
            },
            "enum" => match self.enums.get(&name) {
                Some(e) => MemberTy::Int {
                    bytes: e.size,
                    signed: e
                        .base
                        .as_ref()
                        .and_then(|b| self.base_types.get(b))
                        .is_some_and(|b| b.signed),
                },
                None => MemberTy::Other(format!("enum {name}")),
            },
            "pointer" => MemberTy::Ptr,
            "array" if depth < DEPTH_LIMIT => MemberTy::Array {
                elem: Box::new(
                    ty.subtype
                        .as_ref()
                        .map_or(MemberTy::Other("?".into()), |s| {
                            self.member_ty(s, depth + 1)
                        }),
                ),
                count: ty.count.unwrap_or(0),
            },
            "struct" | "union" | "class" => MemberTy::Struct(name),
            "bitfield" => MemberTy::Other(format!(
                "a bit field of {}",
                ty.inner
                    .as_ref()
                    .and_then(|t| t.name.clone())
                    .unwrap_or_default()
            )),
            other => MemberTy::Other(other.to_string()),
        }
    }

    fn find_member(&self, strukt: &str, field: &str, depth: usize) -> Option<Member> {
        let user = self.user_types.get(strukt)?;
        if let Some(f) = user.fields.get(field) {
            return Some(Member {
                offset: f.offset,
                ty: self.member_ty(&f.ty, 0),
            });
        }
        if depth >= DEPTH_LIMIT {
            return None;
        }
        // Sorted, so that a name two anonymous members share resolves the
        // same way every time.
        let mut anonymous: Vec<&Field> = user.fields.values().filter(|f| f.anonymous).collect();
        anonymous.sort_by_key(|f| f.offset);
        anonymous.into_iter().find_map(|f| {
            let inner = f.ty.name.as_deref()?;
            let found = self.find_member(inner, field, depth + 1)?;
            Some(Member {
                offset: f.offset + found.offset,
                ty: found.ty,
            })
        })
    }
}

impl Layout for IsfLayout {
    fn describe(&self) -> String {
        format!("ISF profile ({})", self.place)
    }

    fn member(&self, strukt: &str, field: &str) -> Option<Member> {
        self.find_member(strukt, field, 0)
    }

    fn has_struct(&self, strukt: &str) -> bool {
        self.user_types.contains_key(strukt)
    }

    fn symbol(&self, name: &str) -> Option<u64> {
        self.symbols.get(name).map(|s| s.address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape dwarf2json writes, trimmed: an anonymous union member, a
    /// typedef already resolved to its base type, an enum and a symbol.
    const PROFILE: &str = r#"{
      "metadata": {"format": "6.2.0"},
      "base_types": {
        "int": {"size": 4, "signed": true, "kind": "int", "endian": "little"},
        "char": {"size": 1, "signed": true, "kind": "char", "endian": "little"},
        "unsigned int": {"size": 4, "signed": false, "kind": "int", "endian": "little"}
      },
      "user_types": {
        "task_struct": {"kind": "struct", "size": 3000, "fields": {
          "pid": {"offset": 1000, "type": {"kind": "base", "name": "int"}},
          "comm": {"offset": 2000, "type": {"kind": "array", "count": 16, "subtype": {"kind": "base", "name": "char"}}},
          "real_parent": {"offset": 1016, "type": {"kind": "pointer", "subtype": {"kind": "struct", "name": "task_struct"}}},
          "unnamed_field_1": {"offset": 1100, "anonymous": true, "type": {"kind": "union", "name": "unnamed_7"}},
          "state": {"offset": 24, "type": {"kind": "enum", "name": "task_state"}}
        }},
        "unnamed_7": {"kind": "union", "size": 8, "fields": {
          "tgid": {"offset": 4, "type": {"kind": "base", "name": "int"}}
        }}
      },
      "enums": {"task_state": {"size": 4, "base": "unsigned int", "constants": {"RUNNING": 0}}},
      "symbols": {"current_task": {"address": 129920}}
    }"#;

    #[test]
    fn reads_members_through_anonymous_unions() {
        let isf = IsfLayout::parse(PROFILE.as_bytes(), "test".into()).unwrap();
        let m = |f: &str| isf.member("task_struct", f);
        assert_eq!(
            m("pid"),
            Some(Member {
                offset: 1000,
                ty: MemberTy::Int {
                    bytes: 4,
                    signed: true
                }
            })
        );
        assert_eq!(m("tgid").map(|m| m.offset), Some(1104));
        assert_eq!(m("real_parent").map(|m| m.ty), Some(MemberTy::Ptr));
        assert_eq!(
            m("comm").map(|m| m.ty),
            Some(MemberTy::Array {
                elem: Box::new(MemberTy::Int {
                    bytes: 1,
                    signed: true
                }),
                count: 16
            })
        );
        assert_eq!(
            m("state").map(|m| m.ty),
            Some(MemberTy::Int {
                bytes: 4,
                signed: false
            })
        );
        assert_eq!(m("nonexistent"), None);
        assert_eq!(isf.symbol("current_task"), Some(129920));
        assert!(isf.has_struct("task_struct") && !isf.has_struct("pcpu_hot"));
    }

    #[test]
    fn refuses_json_that_is_no_profile() {
        let err = IsfLayout::parse(b"{\"a\": 1}", "x".into()).err().unwrap();
        assert!(err.contains("not an ISF profile"), "{err}");
        assert!(IsfLayout::parse(b"[1, 2", "x".into()).is_err());
    }
}
