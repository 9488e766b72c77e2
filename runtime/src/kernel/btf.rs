//! A kernel's layout from its BTF (`CONFIG_DEBUG_INFO_BTF`): structure
//! members, and per-CPU variables by their offset in the per-CPU area.

use super::{Layout, Member, MemberTy};
use btf_rs::{Btf, BtfType, Type};
use std::collections::HashMap;

pub struct BtfLayout {
    btf: Btf,
    /// Per-CPU variables (the `.data..percpu` section's), by name.
    percpu: HashMap<String, u64>,
    place: String,
}

/// Type chains longer than this are taken for a loop in corrupt data.
const CHAIN_LIMIT: usize = 64;

impl BtfLayout {
    pub fn parse(bytes: &[u8], place: String) -> Result<Self, String> {
        let btf = Btf::from_bytes(bytes).map_err(|e| format!("its BTF does not parse: {e}"))?;
        let mut percpu = HashMap::new();
        for ty in btf
            .resolve_types_by_name(".data..percpu")
            .unwrap_or_default()
        {
            let Type::Datasec(section) = ty else {
                continue;
            };
            for var in &section.variables {
                let Some(id) = var.get_type_id() else {
                    continue;
                };
                if let Ok(Type::Var(v)) = btf.resolve_type_by_id(id)
                    && let Ok(name) = btf.resolve_name(&v)
                {
                    percpu.insert(name, u64::from(var.offset()));
                }
            }
        }
        Ok(BtfLayout { btf, percpu, place })
    }

    /// The type `id` names, through typedefs and qualifiers.
    fn concrete(&self, mut id: u32) -> Option<Type> {
        for _ in 0..CHAIN_LIMIT {
            let ty = self.btf.resolve_type_by_id(id).ok()?;
            match &ty {
                Type::Typedef(t) => id = t.get_type_id()?,
                Type::Const(t) | Type::Volatile(t) | Type::Restrict(t) => id = t.get_type_id()?,
                Type::TypeTag(t) => id = t.get_type_id()?,
                _ => return Some(ty),
            }
        }
        None
    }

    fn member_ty(&self, id: u32) -> MemberTy {
        match self.concrete(id) {
            Some(Type::Int(i)) => MemberTy::Int {
                bytes: i.size() as u64,
                signed: i.is_signed(),
            },
            Some(Type::Enum(e)) => MemberTy::Int {
                bytes: e.size() as u64,
                signed: e.is_signed(),
            },
            Some(Type::Enum64(e)) => MemberTy::Int {
                bytes: e.size() as u64,
                signed: e.is_signed(),
            },
            Some(Type::Ptr(_)) => MemberTy::Ptr,
            Some(Type::Array(a)) => MemberTy::Array {
                elem: Box::new(
                    a.get_type_id()
                        .map_or(MemberTy::Other("?".into()), |e| self.member_ty(e)),
                ),
                count: a.len() as u64,
            },
            Some(Type::Struct(s) | Type::Union(s)) => {
                MemberTy::Struct(self.btf.resolve_name(&s).unwrap_or_default())
            }
            Some(other) => MemberTy::Other(other.name().into()),
            None => MemberTy::Other("unresolved".into()),
        }
    }

    /// `field` among the members of a structure or union, looking inside
    /// anonymous ones (C11's unnamed members) as C does.
    fn find_member(&self, members: &[btf_rs::Member], field: &str, depth: usize) -> Option<Member> {
        for m in members {
            let name = self.btf.resolve_name(m).unwrap_or_default();
            let offset = u64::from(m.bit_offset() / 8);
            if name == field {
                let ty = m
                    .get_type_id()
                    .map_or(MemberTy::Other("?".into()), |id| self.member_ty(id));
                return Some(Member { offset, ty });
            }
            if name.is_empty()
                && depth < CHAIN_LIMIT
                && let Some(Type::Struct(inner) | Type::Union(inner)) =
                    m.get_type_id().and_then(|id| self.concrete(id))
                && let Some(found) = self.find_member(&inner.members, field, depth + 1)
            {
                return Some(Member {
                    offset: offset + found.offset,
                    ty: found.ty,
                });
            }
        }
        None
    }
}

impl Layout for BtfLayout {
    fn describe(&self) -> String {
        format!("BTF ({})", self.place)
    }

    fn member(&self, strukt: &str, field: &str) -> Option<Member> {
        let types = self.btf.resolve_types_by_name(strukt).ok()?;
        types.iter().find_map(|ty| match ty {
            Type::Struct(s) | Type::Union(s) => self.find_member(&s.members, field, 0),
            _ => None,
        })
    }

    fn has_struct(&self, strukt: &str) -> bool {
        self.btf.resolve_types_by_name(strukt).is_ok_and(|types| {
            types
                .iter()
                .any(|t| matches!(t, Type::Struct(_) | Type::Union(_)))
        })
    }

    fn symbol(&self, name: &str) -> Option<u64> {
        self.percpu.get(name).copied()
    }
}
