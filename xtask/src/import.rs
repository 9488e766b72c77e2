//! `cargo xtask import-panda`: syscall tables for Windows and FreeBSD from
//! the prototype lists PANDA's syscalls2 ships (copied, with their source
//! named, in the shared data folder). The importer writes only tables and
//! type aliases; mechanisms, identity and decoding sets are hand-kept in
//! the model files that include them.

use anyhow::{Context as _, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

pub const IMPORT_COMMAND: &str = "cargo xtask import-panda";

struct Prototype {
    number: u64,
    name: String,
    ret: String,
    args: Vec<(String, String)>,
}

/// One input list and the include file written from it.
struct Import {
    source: &'static str,
    output: &'static str,
    table: &'static str,
    os: Os,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Os {
    Windows,
    FreeBsd,
}

const IMPORTS: &[Import] = &[
    Import {
        source: "windows_xpsp3_x86_prototypes.txt",
        output: "windows-xp-i386-syscalls.osm",
        table: "nt",
        os: Os::Windows,
    },
    Import {
        source: "windows_7_x64_prototypes.txt",
        output: "windows-7-x64-syscalls.osm",
        table: "nt",
        os: Os::Windows,
    },
    Import {
        source: "freebsd_x64_prototypes.txt",
        output: "freebsd-amd64-syscalls.osm",
        table: "freebsd",
        os: Os::FreeBsd,
    },
];

/// FreeBSD names listed more than once: the other numbers are COMPAT
/// entries of syscalls.master (old ABIs). For these names the current call
/// has the lowest number; for every other repeated name, the highest.
const FREEBSD_CURRENT_IS_LOWEST: &[&str] = &[
    "nosys",
    "recvmsg",
    "sendmsg",
    "recvfrom",
    "accept",
    "getpeername",
    "getsockname",
    "aio_read",
    "aio_write",
    "lio_listio",
];

fn parse(text: &str, os: Os) -> (Vec<Prototype>, Vec<String>) {
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let parsed = (|| {
            let (number, rest) = line.split_once(' ')?;
            let number: u64 = number.parse().ok()?;
            let (head, params) = rest.split_once('(')?;
            let params = params.trim_end().strip_suffix(");")?;
            let head = head.trim();
            let split = head.rfind([' ', '*'])?;
            let mut name = head[split + 1..].to_string();
            let ret = head[..=split].trim().to_string();
            if os == Os::FreeBsd
                && let Some(stripped) = name.strip_prefix("sys_")
            {
                name = stripped.to_string();
            }
            let mut args = Vec::new();
            if params.trim() != "void" && !params.trim().is_empty() {
                for param in params.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    let split = param.rfind([' ', '*'])?;
                    let (ty, name) = (param[..=split].trim(), &param[split + 1..]);
                    // `HANDLE KeyArray[]`: an array parameter is a pointer.
                    match name.strip_suffix("[]") {
                        Some(name) => args.push((format!("{ty} *"), name.to_string())),
                        None => args.push((ty.to_string(), name.to_string())),
                    }
                }
            }
            Some(Prototype {
                number,
                name,
                ret,
                args,
            })
        })();
        match parsed {
            Some(p) => out.push(p),
            None => skipped.push(line.to_string()),
        }
    }
    (out, skipped)
}

/// The model type for a type as PANDA writes it, and whether it is the
/// name of a Windows alias (declared in the types file).
fn map_type(os: Os, ty: &str, arg_name: &str) -> String {
    let ty = ty.trim();
    match os {
        Os::Windows => {
            if ty.contains('*') {
                // `PVOID *`: a pointer to a pointer.
                "ptr".to_string()
            } else {
                ty.to_string()
            }
        }
        Os::FreeBsd => {
            let pointer = ty.contains('*');
            let base = ty.replace("const ", "").replace('*', "").trim().to_string();
            if pointer {
                // Paths and names the kernel reads are C strings; other
                // `char *` are buffers it fills.
                if ty.starts_with("const char") || (base == "char" && arg_name.contains("path")) {
                    "cstr".to_string()
                } else {
                    "ptr".to_string()
                }
            } else {
                match base.as_str() {
                    "int" => "int",
                    "long" => "long",
                    "unsigned" | "unsigned int" | "u_int" => "uint",
                    "u_long" | "size_t" => "size",
                    "ssize_t" => "ssize",
                    "off_t" => "off",
                    "pid_t" | "lwpid_t" | "id_t" | "key_t" | "clockid_t" | "cpuwhich_t"
                    | "cpulevel_t" | "cpusetid_t" | "idtype_t" | "semid_t" | "acl_type_t" => "int",
                    "uid_t" | "gid_t" | "uint32_t" | "__socklen_t" => "uint",
                    "mode_t" => "mode",
                    "dev_t" | "ffcounter" => "u64",
                    "caddr_t" | "cap_rights_t" | "fd_set" | "cpuset_t" | "domainset_t" => "ptr",
                    "void" => "void",
                    _ => "hex",
                }
                .to_string()
            }
        }
    }
}

/// How a Windows type decodes: the alias's target.
fn windows_alias(name: &str) -> &'static str {
    match name {
        "HANDLE" | "ALPC_HANDLE" | "KAFFINITY" | "ULONG_PTR" => "hex",
        "ULONG" | "LCID" | "EXECUTION_STATE" => "u32",
        "LONG" => "i32",
        "USHORT" | "LANGID" | "RTL_ATOM" => "u16",
        "BOOLEAN" => "u8",
        "SIZE_T" => "ulong",
        "NTSTATUS" => "ntstatus",
        "ACCESS_MASK" => "access_mask",
        // Structures declared in windows-common.osm: arguments of a
        // structure type point to one. (PANDA writes OBJECT_ATTRIBUTES
        // without its P in a few prototypes; it is a pointer there too.)
        "PUNICODE_STRING" => "unicode_string",
        "POBJECT_ATTRIBUTES" | "OBJECT_ATTRIBUTES" => "object_attributes",
        "SECURITY_INFORMATION" | "WIN32_PROTECTION_MASK" | "NOTIFICATION_MASK" => "hex32",
        _ if name.starts_with('P') || name.starts_with("LP") || name == "OBJECT_ATTRIBUTES" => {
            "ptr"
        }
        // Information classes, enumerations and the like.
        _ => "u32",
    }
}

fn attributes(os: Os, name: &str) -> Vec<&'static str> {
    let mut attrs = Vec::new();
    match (os, name) {
        // exit(2) ends every thread of the process, with rval's status.
        (Os::FreeBsd, "exit") => attrs.extend(["noreturn", "ends_process"]),
        (Os::FreeBsd, "fork" | "vfork" | "rfork" | "pdfork") => attrs.push("returns_twice"),
        (Os::FreeBsd, "execve" | "fexecve" | "__mac_execve") => attrs.push("exec"),
        (Os::FreeBsd, "sigreturn") => attrs.push("sigreturn"),
        // NtContinue loads a whole thread context: it returns where that
        // context says, as a signal return does.
        (Os::Windows, "NtContinue") => attrs.push("sigreturn"),
        _ => {}
    }
    attrs
}

fn render(
    import: &Import,
    prototypes: &[Prototype],
    skipped: &[String],
    windows_types: &mut BTreeSet<String>,
) -> String {
    // Repeated FreeBSD names: one keeps the name, the others get `_<number>`.
    let mut by_name: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for p in prototypes {
        by_name.entry(&p.name).or_default().push(p.number);
    }
    let keeper = |name: &str| -> Option<u64> {
        let numbers = by_name.get(name)?;
        if numbers.len() < 2 {
            return None;
        }
        if FREEBSD_CURRENT_IS_LOWEST.contains(&name) {
            numbers.iter().min().copied()
        } else {
            numbers.iter().max().copied()
        }
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// Generated by `{IMPORT_COMMAND}` from {} (PANDA syscalls2's prototype list,\n// data/panda-syscalls2-prototypes). Do not edit: change the importer\n// (xtask/src/import.rs) and run the command again.\n",
        import.source
    );
    for line in skipped {
        let _ = writeln!(out, "// Not imported (not a prototype): {line}");
    }
    if !skipped.is_empty() {
        out.push('\n');
    }
    let _ = writeln!(out, "table {} {{", import.table);
    let mut sorted: Vec<&Prototype> = prototypes.iter().collect();
    sorted.sort_by_key(|p| p.number);
    for p in sorted {
        let name = match keeper(&p.name) {
            Some(keep) if keep != p.number => format!("{}_{}", p.name, p.number),
            _ => p.name.clone(),
        };
        let mut seen = BTreeSet::new();
        let args: Vec<String> = p
            .args
            .iter()
            .enumerate()
            .map(|(i, (ty, arg))| {
                let ty = map_type(import.os, ty, arg);
                if import.os == Os::Windows && ty != "ptr" {
                    windows_types.insert(ty.clone());
                }
                // Argument names must be unique; PANDA's lists have a few
                // repeats and empty names.
                let mut arg = if arg.is_empty() {
                    format!("arg{i}")
                } else {
                    arg.clone()
                };
                if !seen.insert(arg.clone()) {
                    arg = format!("{arg}_{i}");
                }
                format!("{ty} {arg}")
            })
            .collect();
        let ret = map_type(import.os, &p.ret, "");
        if import.os == Os::Windows {
            windows_types.insert(ret.clone());
        }
        let ret = if ret == "void" {
            String::new()
        } else {
            format!(" -> {ret}")
        };
        let attrs: String = attributes(import.os, &name)
            .iter()
            .map(|a| format!(" {a}"))
            .collect();
        let _ = writeln!(
            out,
            "    {} {name}({}){ret}{attrs};",
            p.number,
            args.join(", ")
        );
    }
    out.push_str("}\n");
    out
}

fn windows_types_file(types: &BTreeSet<String>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// Generated by `{IMPORT_COMMAND}`: every Windows type the imported tables\n// use, as an alias that keeps its name in traces. Do not edit: change the\n// importer (xtask/src/import.rs) and run the command again.\n"
    );
    for ty in types {
        if matches!(ty.as_str(), "ptr" | "void" | "ntstatus" | "access_mask") {
            continue;
        }
        let _ = writeln!(out, "type {ty} = {};", windows_alias(ty));
    }
    out
}

pub fn data_dir(root: &Path) -> PathBuf {
    root.join("data/panda-syscalls2-prototypes")
}

/// Writes (or with `check`, compares) the imported files; returns those
/// that differ.
pub fn import(root: &Path, check: bool) -> Result<Vec<PathBuf>> {
    let data = data_dir(root);
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    let mut windows_types = BTreeSet::new();
    for import in IMPORTS {
        let path = data.join(import.source);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let (prototypes, skipped) = parse(&text, import.os);
        let mut types = BTreeSet::new();
        let rendered = render(import, &prototypes, &skipped, &mut types);
        windows_types.extend(
            types
                .into_iter()
                .filter(|t| t.chars().next().is_some_and(|c| c.is_ascii_uppercase())),
        );
        files.push((root.join("specs").join(import.output), rendered));
    }
    files.push((
        root.join("specs/windows-types.osm"),
        windows_types_file(&windows_types),
    ));
    let mut stale = Vec::new();
    for (path, text) in files {
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            if !check {
                std::fs::write(&path, &text)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            stale.push(path);
        }
    }
    Ok(stale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_windows_and_c_prototypes() {
        let (p, skipped) = parse(
            "274 NTSTATUS NtWriteFile (HANDLE FileHandle, PVOID *Base, ULONG Length);\n71 void *mmap(void *addr, int len);\n1 void sys_exit(int rval);\n252 AUE_POLL OBSOL openbsd_poll\n2 int fork(void);\n",
            Os::FreeBsd,
        );
        assert_eq!(skipped, vec!["252 AUE_POLL OBSOL openbsd_poll".to_string()]);
        assert_eq!(
            (p[0].number, p[0].name.as_str(), p[0].ret.as_str()),
            (274, "NtWriteFile", "NTSTATUS")
        );
        assert_eq!(p[0].args[1], ("PVOID *".to_string(), "Base".to_string()));
        assert_eq!((p[1].name.as_str(), p[1].ret.as_str()), ("mmap", "void *"));
        assert_eq!(p[2].name, "exit");
        assert!(p[3].args.is_empty());
    }

    #[test]
    fn maps_c_types() {
        assert_eq!(map_type(Os::FreeBsd, "const char *", "path"), "cstr");
        assert_eq!(map_type(Os::FreeBsd, "char *", "buf"), "ptr");
        assert_eq!(map_type(Os::FreeBsd, "size_t", "n"), "size");
        assert_eq!(map_type(Os::Windows, "PVOID *", "x"), "ptr");
        assert_eq!(windows_alias("PUNICODE_STRING"), "unicode_string");
        assert_eq!(windows_alias("PULONG"), "ptr");
    }
}
