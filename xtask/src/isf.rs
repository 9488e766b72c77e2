//! An ISF profile (Volatility 3's JSON symbol format, as `dwarf2json`
//! writes it) from a kernel's DWARF debug information and symbol table:
//! every named structure, union, enum and base type, the unnamed ones
//! their members use, and every symbol. For kernels built without BTF,
//! whose layout the plugin then takes from the profile (`kernel=`).

use anyhow::{Context as _, Result, bail};
use gimli::{AttributeValue, DwTag, EndianSlice, RunTimeEndian, UnitOffset, constants as dw};
use object::{Object, ObjectSection, ObjectSymbol};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

type Reader<'a> = EndianSlice<'a, RunTimeEndian>;

/// Nesting of types followed before one is taken for a loop.
const DEPTH_LIMIT: usize = 64;

/// One type-describing entry of a compilation unit.
#[derive(Debug)]
struct Node {
    tag: DwTag,
    name: Option<String>,
    size: Option<u64>,
    ty: Option<UnitOffset>,
    member_offset: Option<u64>,
    bit_size: Option<u64>,
    /// DWARF 5's `DW_AT_data_bit_offset`: bits from the structure's start.
    data_bit_offset: Option<u64>,
    count: Option<u64>,
    encoding: Option<gimli::DwAte>,
    declaration: bool,
    value: Option<i64>,
    children: Vec<usize>,
    /// The entry's offset in `.debug_info`, naming unnamed types uniquely.
    global: usize,
}

const TYPE_TAGS: &[DwTag] = &[
    dw::DW_TAG_base_type,
    dw::DW_TAG_structure_type,
    dw::DW_TAG_union_type,
    dw::DW_TAG_class_type,
    dw::DW_TAG_enumeration_type,
    dw::DW_TAG_typedef,
    dw::DW_TAG_pointer_type,
    dw::DW_TAG_const_type,
    dw::DW_TAG_volatile_type,
    dw::DW_TAG_restrict_type,
    dw::DW_TAG_atomic_type,
    dw::DW_TAG_array_type,
    dw::DW_TAG_subroutine_type,
];

/// What a profile is made of, sorted so that the same kernel gives the
/// same file.
#[derive(Default)]
struct Profile {
    base_types: BTreeMap<String, Value>,
    user_types: BTreeMap<String, Value>,
    enums: BTreeMap<String, Value>,
    symbols: BTreeMap<String, Value>,
}

/// The profile of the ELF file at `path` (a vmlinux with debug
/// information), as JSON text.
pub fn profile(path: &Path) -> Result<String> {
    let shown = path.display();
    let data = std::fs::read(path).with_context(|| format!("cannot read {shown}"))?;
    let elf = object::File::parse(&*data).with_context(|| format!("{shown} is not an ELF file"))?;
    let endian = if elf.is_little_endian() {
        RunTimeEndian::Little
    } else {
        RunTimeEndian::Big
    };
    let load = |id: gimli::SectionId| -> Result<Reader<'_>> {
        let bytes = match elf.section_by_name(id.name()) {
            Some(section) => section
                .data()
                .with_context(|| format!("{shown}: section {}", id.name()))?,
            None => &[],
        };
        Ok(EndianSlice::new(bytes, endian))
    };
    let dwarf = gimli::Dwarf::load(load)?;
    if elf.section_by_name(".debug_info").is_none() {
        bail!(
            "{shown} has no debug information (.debug_info): give the vmlinux of the kernel's -dbg package"
        );
    }
    let mut profile = Profile::default();
    let pointer_bytes = if elf.is_64() { 8 } else { 4 };
    let endian_word = if elf.is_little_endian() {
        "little"
    } else {
        "big"
    };
    profile.base_types.insert(
        "pointer".into(),
        json!({"size": pointer_bytes, "signed": false, "kind": "int", "endian": endian_word}),
    );
    profile.base_types.insert(
        "void".into(),
        json!({"size": 0, "signed": false, "kind": "void", "endian": endian_word}),
    );
    let mut units = dwarf.units();
    while let Some(header) = units.next().with_context(|| shown.to_string())? {
        let unit = dwarf.unit(header).with_context(|| shown.to_string())?;
        let nodes = unit_types(&dwarf, &unit).with_context(|| shown.to_string())?;
        Emitter {
            nodes: &nodes,
            profile: &mut profile,
            endian: endian_word,
        }
        .emit_all();
    }
    for sym in elf.symbols() {
        let Ok(name) = sym.name() else {
            continue;
        };
        if name.is_empty()
            || matches!(
                sym.kind(),
                object::SymbolKind::Section | object::SymbolKind::File
            )
        {
            continue;
        }
        profile
            .symbols
            .entry(name.to_string())
            .or_insert_with(|| json!({"address": sym.address()}));
    }
    let file_name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let root = json!({
        "metadata": {
            "format": "6.2.0",
            "producer": {"name": "osmtrace", "version": env!("CARGO_PKG_VERSION")},
            "linux": {
                "symbols": [{"kind": "symtab", "name": file_name}],
                "types": [{"kind": "dwarf", "name": file_name}],
            },
        },
        "base_types": profile.base_types,
        "user_types": profile.user_types,
        "enums": profile.enums,
        "symbols": profile.symbols,
    });
    Ok(serde_json::to_string(&root)?)
}

/// The type entries of one compilation unit (functions and variables are
/// skipped with everything in them), with their children.
fn unit_types(
    dwarf: &gimli::Dwarf<Reader<'_>>,
    unit: &gimli::Unit<Reader<'_>>,
) -> gimli::Result<Nodes> {
    let mut nodes = Nodes::default();
    let mut tree = unit.entries_tree(None)?;
    let root = tree.root()?;
    let mut children = root.children();
    while let Some(child) = children.next()? {
        if TYPE_TAGS.contains(&child.entry().tag()) {
            read_node(dwarf, unit, child, &mut nodes)?;
        }
    }
    Ok(nodes)
}

#[derive(Default)]
struct Nodes {
    list: Vec<Node>,
    by_offset: HashMap<UnitOffset, usize>,
}

fn read_node(
    dwarf: &gimli::Dwarf<Reader<'_>>,
    unit: &gimli::Unit<Reader<'_>>,
    tree: gimli::EntriesTreeNode<'_, '_, Reader<'_>>,
    nodes: &mut Nodes,
) -> gimli::Result<usize> {
    let entry = tree.entry();
    let mut node = Node {
        tag: entry.tag(),
        name: None,
        size: None,
        ty: None,
        member_offset: None,
        bit_size: None,
        data_bit_offset: None,
        count: None,
        encoding: None,
        declaration: false,
        value: None,
        children: Vec::new(),
        global: entry
            .offset()
            .to_debug_info_offset(&unit.header)
            .map_or(0, |o| o.0),
    };
    for attr in entry.attrs() {
        let value = attr.value();
        match attr.name() {
            dw::DW_AT_name => {
                if let Ok(s) = dwarf.attr_string(unit, value) {
                    node.name = Some(String::from_utf8_lossy(s.slice()).into_owned());
                }
            }
            dw::DW_AT_byte_size => node.size = value.udata_value(),
            dw::DW_AT_type => {
                if let AttributeValue::UnitRef(offset) = value {
                    node.ty = Some(offset);
                }
            }
            dw::DW_AT_data_member_location => node.member_offset = value.udata_value(),
            dw::DW_AT_bit_size => node.bit_size = value.udata_value(),
            dw::DW_AT_data_bit_offset => node.data_bit_offset = value.udata_value(),
            dw::DW_AT_count => node.count = value.udata_value(),
            dw::DW_AT_upper_bound => node.count = value.udata_value().map(|b| b + 1),
            dw::DW_AT_encoding => {
                if let AttributeValue::Encoding(e) = value {
                    node.encoding = Some(e);
                }
            }
            dw::DW_AT_declaration => node.declaration = true,
            dw::DW_AT_const_value => {
                node.value = value
                    .sdata_value()
                    .or(value.udata_value().map(|v| v as i64))
            }
            _ => {}
        }
    }
    let offset = entry.offset();
    let index = nodes.list.len();
    nodes.list.push(node);
    nodes.by_offset.insert(offset, index);
    let mut children = tree.children();
    while let Some(child) = children.next()? {
        let tag = child.entry().tag();
        if matches!(
            tag,
            dw::DW_TAG_member | dw::DW_TAG_enumerator | dw::DW_TAG_subrange_type
        ) || TYPE_TAGS.contains(&tag)
        {
            let child_index = read_node(dwarf, unit, child, nodes)?;
            nodes.list[index].children.push(child_index);
        }
    }
    Ok(index)
}

struct Emitter<'n, 'p> {
    nodes: &'n Nodes,
    profile: &'p mut Profile,
    endian: &'static str,
}

impl<'n> Emitter<'n, '_> {
    fn node(&self, offset: Option<UnitOffset>) -> Option<(usize, &'n Node)> {
        let nodes: &'n Nodes = self.nodes;
        let i = *nodes.by_offset.get(&offset?)?;
        Some((i, &nodes.list[i]))
    }

    fn emit_all(&mut self) {
        let nodes: &'n Nodes = self.nodes;
        for (i, node) in nodes.list.iter().enumerate() {
            match node.tag {
                dw::DW_TAG_base_type => self.base(node),
                dw::DW_TAG_structure_type | dw::DW_TAG_union_type | dw::DW_TAG_class_type
                    if node.name.is_some() =>
                {
                    self.user_type(i, 0)
                }
                dw::DW_TAG_enumeration_type if node.name.is_some() => self.enumeration(i),
                _ => {}
            }
        }
    }

    fn base(&mut self, node: &Node) {
        let Some(name) = &node.name else {
            return;
        };
        if self.profile.base_types.contains_key(name) {
            return;
        }
        let (kind, signed) = match node.encoding {
            Some(dw::DW_ATE_boolean) => ("bool", false),
            Some(dw::DW_ATE_float) => ("float", true),
            Some(dw::DW_ATE_signed_char) => ("char", true),
            Some(dw::DW_ATE_unsigned_char) => ("char", false),
            Some(dw::DW_ATE_signed) => ("int", true),
            _ => ("int", false),
        };
        self.profile.base_types.insert(
            name.clone(),
            json!({"size": node.size.unwrap_or(0), "signed": signed, "kind": kind, "endian": self.endian}),
        );
    }

    /// The name a structure, union or enum goes by: its own, or one made
    /// from where it is, for an unnamed one.
    fn type_name(node: &Node) -> String {
        node.name
            .clone()
            .unwrap_or_else(|| format!("unnamed_{:x}", node.global))
    }

    /// A structure or union, with the unnamed ones its members use; the
    /// first complete definition of a name wins.
    fn user_type(&mut self, i: usize, depth: usize) {
        let nodes: &'n Nodes = self.nodes;
        let node = &nodes.list[i];
        let name = Self::type_name(node);
        if node.declaration || depth > DEPTH_LIMIT || self.profile.user_types.contains_key(&name) {
            return;
        }
        let kind = match node.tag {
            dw::DW_TAG_union_type => "union",
            dw::DW_TAG_class_type => "class",
            _ => "struct",
        };
        // Placed first, so that a member pointing back at it stops here.
        self.profile.user_types.insert(name.clone(), Value::Null);
        let mut fields = Map::new();
        for (k, &child) in node.children.iter().enumerate() {
            let member = &nodes.list[child];
            if member.tag != dw::DW_TAG_member {
                continue;
            }
            let inner = self.node(member.ty);
            let anonymous = member.name.is_none()
                && inner.is_some_and(|(_, n)| {
                    matches!(n.tag, dw::DW_TAG_structure_type | dw::DW_TAG_union_type)
                });
            if let Some((inner_index, _)) = inner.filter(|_| anonymous) {
                self.user_type(inner_index, depth + 1);
            }
            let mut field = Map::new();
            let mut offset = member.member_offset.unwrap_or(0);
            let ty = match member.bit_size {
                Some(bits) => {
                    let storage = inner
                        .and_then(|(_, n)| self.storage_bytes(n, 0))
                        .unwrap_or(1)
                        .max(1);
                    let bit_start = member.data_bit_offset.unwrap_or(offset * 8);
                    offset = bit_start / (storage * 8) * storage;
                    json!({
                        "kind": "bitfield",
                        "bit_position": bit_start - offset * 8,
                        "bit_length": bits,
                        "type": self.descriptor(member.ty, depth + 1),
                    })
                }
                None => self.descriptor(member.ty, depth + 1),
            };
            field.insert("type".into(), ty);
            field.insert("offset".into(), json!(offset));
            let field_name = match &member.name {
                Some(n) => n.clone(),
                None => {
                    field.insert("anonymous".into(), json!(anonymous));
                    format!("unnamed_field_{k}")
                }
            };
            fields.insert(field_name, Value::Object(field));
        }
        self.profile.user_types.insert(
            name,
            json!({"kind": kind, "size": node.size.unwrap_or(0), "fields": fields}),
        );
    }

    /// Bytes of a bit field's underlying integer, through typedefs.
    fn storage_bytes(&self, node: &Node, depth: usize) -> Option<u64> {
        match node.tag {
            dw::DW_TAG_base_type | dw::DW_TAG_enumeration_type => node.size,
            _ if depth < DEPTH_LIMIT => {
                let (_, inner) = self.node(node.ty)?;
                self.storage_bytes(inner, depth + 1)
            }
            _ => None,
        }
    }

    fn enumeration(&mut self, i: usize) {
        let nodes: &'n Nodes = self.nodes;
        let node = &nodes.list[i];
        let name = Self::type_name(node);
        if self.profile.enums.contains_key(&name) || node.declaration {
            return;
        }
        let constants: Map<String, Value> = node
            .children
            .iter()
            .map(|&c| &nodes.list[c])
            .filter(|c| c.tag == dw::DW_TAG_enumerator)
            .filter_map(|c| Some((c.name.clone()?, json!(c.value.unwrap_or(0)))))
            .collect();
        let size = node.size.unwrap_or(4);
        let signed = constants
            .values()
            .any(|v| v.as_i64().is_some_and(|v| v < 0));
        let base = match (size, signed) {
            (1, true) => "signed char",
            (1, false) => "unsigned char",
            (2, true) => "short int",
            (2, false) => "short unsigned int",
            (8, true) => "long long int",
            (8, false) => "long long unsigned int",
            (_, true) => "int",
            (_, false) => "unsigned int",
        };
        if !self.profile.base_types.contains_key(base) {
            self.profile.base_types.insert(
                base.into(),
                json!({"size": size, "signed": signed, "kind": "int", "endian": self.endian}),
            );
        }
        self.profile.enums.insert(
            name,
            json!({"size": size, "base": base, "constants": constants}),
        );
    }

    /// How a member's or pointer's type is written: typedefs and
    /// qualifiers resolved, structures by name.
    fn descriptor(&mut self, ty: Option<UnitOffset>, depth: usize) -> Value {
        let Some((i, node)) = self.node(ty) else {
            return json!({"kind": "base", "name": "void"});
        };
        if depth > DEPTH_LIMIT {
            return json!({"kind": "base", "name": "void"});
        }
        match node.tag {
            dw::DW_TAG_base_type => {
                let name = node.name.clone().unwrap_or_else(|| "void".into());
                self.base(node);
                json!({"kind": "base", "name": name})
            }
            dw::DW_TAG_pointer_type => {
                json!({"kind": "pointer", "subtype": self.descriptor(node.ty, depth + 1)})
            }
            dw::DW_TAG_structure_type | dw::DW_TAG_union_type | dw::DW_TAG_class_type => {
                let kind = match node.tag {
                    dw::DW_TAG_union_type => "union",
                    dw::DW_TAG_class_type => "class",
                    _ => "struct",
                };
                let name = Self::type_name(node);
                if node.name.is_none() {
                    self.user_type(i, depth + 1);
                }
                json!({"kind": kind, "name": name})
            }
            dw::DW_TAG_enumeration_type => {
                let name = Self::type_name(node);
                self.enumeration(i);
                json!({"kind": "enum", "name": name})
            }
            dw::DW_TAG_array_type => {
                let counts: Vec<u64> = node
                    .children
                    .iter()
                    .map(|&c| &self.nodes.list[c])
                    .filter(|c| c.tag == dw::DW_TAG_subrange_type)
                    .map(|c| c.count.unwrap_or(0))
                    .collect();
                let mut desc = self.descriptor(node.ty, depth + 1);
                for count in counts.iter().rev() {
                    desc = json!({"kind": "array", "count": count, "subtype": desc});
                }
                if counts.is_empty() {
                    desc = json!({"kind": "array", "count": 0, "subtype": desc});
                }
                desc
            }
            dw::DW_TAG_subroutine_type => json!({"kind": "function"}),
            // typedef, const, volatile, restrict, _Atomic.
            _ => self.descriptor(node.ty, depth + 1),
        }
    }
}
