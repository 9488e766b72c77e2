//! `cargo xtask import-linux`: the syscall tables of the Linux models from
//! the kernel's own headers in Debian 12 packages. Numbers per ABI come
//! from `asm/unistd*.h` of `linux-libc-dev-<arch>-cross` (asm-generic's
//! `unistd.h` through a small `#define`/`#if` evaluator for arm64 and
//! riscv64), prototypes from `include/linux/syscalls.h` of
//! `linux-headers-6.1.0-*-common`, and the argument types that drive
//! decoding from one hand-kept file, `specs/linux-annotations.txt`, shared
//! by every Linux model. A call the annotations do not name gets types
//! derived from its prototype. The importer writes only tables
//! (`specs/linux-<arch>-syscalls.osm`); mechanisms, identity and the
//! architecture's definitions stay in the hand-kept model that includes
//! them.
//!
//! The packages are fetched with a private apt configuration (as the guest
//! kernels are) and their headers cached in `target/osmtrace/linux-headers/`.

use crate::guest::{GuestArch, Release, extract, fetch_debs};
use anyhow::{Context as _, Result, bail};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

pub const IMPORT_COMMAND: &str = "cargo xtask import-linux";

const ANNOTATIONS: &str = "linux-annotations.txt";

/// The kernel whose prototypes are imported, pinned.
const HEADERS: (&str, &str) = ("linux-headers-6.1.0-50-common", "6.1.176-1");

/// The user-space headers with the numbers, pinned: (Debian architecture,
/// version of `linux-libc-dev-<arch>-cross`, GNU triplet of its directory).
const CROSS: &[(&str, &str, &str)] = &[
    ("amd64", "6.1.4-1cross1", "x86_64-linux-gnu"),
    ("i386", "6.1.4-1cross1", "i686-linux-gnu"),
    ("armhf", "6.1.4-1cross1", "arm-linux-gnueabihf"),
    ("arm64", "6.1.4-1cross1", "aarch64-linux-gnu"),
    ("mipsel", "6.1.8-1cross2", "mipsel-linux-gnu"),
    ("mips64el", "6.1.8-1cross2", "mips64el-linux-gnuabi64"),
    ("ppc64el", "6.1.4-1cross1", "powerpc64le-linux-gnu"),
    ("s390x", "6.1.4-1cross1", "s390x-linux-gnu"),
    ("riscv64", "6.1.4-1cross1", "riscv64-linux-gnu"),
];

/// How a table's arguments are typed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    /// The ABI's own model: the annotations as written.
    Native,
    /// A 32-bit ABI in a 64-bit model (i386 on x86_64, arm on aarch64):
    /// structures laid out for the 64-bit model would be wrong, so only
    /// those of the same layout on both keep their type, other pointers
    /// show as addresses and word-sized integers as 32-bit ones.
    Compat,
}

/// One syscall table: which header gives its numbers and how it is typed.
struct Abi {
    /// The table's name in the model, and the name annotations select it by.
    table: &'static str,
    /// Debian architecture of the package with the header.
    deb: &'static str,
    /// The header, relative to `usr/<triplet>/include/`.
    header: &'static str,
    /// Macros defined before the header is read.
    predefined: &'static [(&'static str, &'static str)],
    bits: u32,
    /// Added to the header's numbers by the table's `offset` (MIPS): the
    /// table lists numbers from 0.
    offset: u64,
    /// 64-bit arguments take an even/odd register pair (ARM EABI, MIPS o32).
    aligned_pairs: bool,
    /// Argument slots the mechanisms offer.
    slots: usize,
    style: Style,
    /// Structures this model does not declare: shown as addresses.
    opaque: &'static [&'static str],
}

struct Output {
    file: &'static str,
    arch: &'static str,
    abis: &'static [Abi],
}

/// The header that numbers socketcall's calls (`SYS_SOCKET`, ...): a table
/// read from it lists what socketcall multiplexes, by those numbers.
const SOCKETCALL_HEADER: &str = "linux/net.h";

/// socketcall's calls on a 32-bit ABI whose C library reaches sockets
/// through it (i386), for a model's mechanism that reads the call's
/// arguments from the array socketcall is given.
const SOCKETCALL_32: Abi = Abi {
    table: "socketcall",
    deb: "i386",
    header: SOCKETCALL_HEADER,
    predefined: &[],
    bits: 32,
    offset: 0,
    aligned_pairs: false,
    slots: 6,
    style: Style::Native,
    opaque: &[],
};

const S390X: Abi = Abi {
    table: "s390x",
    deb: "s390x",
    header: "asm/unistd_64.h",
    predefined: &[],
    bits: 64,
    offset: 0,
    aligned_pairs: false,
    slots: 6,
    style: Style::Native,
    opaque: &["statfs", "statfs64"],
};

const ARM_EABI: Abi = Abi {
    table: "arm",
    deb: "armhf",
    header: "asm/unistd.h",
    predefined: &[("__ARM_EABI__", "1")],
    bits: 32,
    offset: 0,
    aligned_pairs: true,
    slots: 7,
    style: Style::Native,
    opaque: &["stat"],
};

const I386: Abi = Abi {
    table: "i386",
    deb: "i386",
    header: "asm/unistd_32.h",
    predefined: &[],
    bits: 32,
    offset: 0,
    aligned_pairs: false,
    slots: 6,
    style: Style::Native,
    opaque: &["stat"],
};

const OUTPUTS: &[Output] = &[
    Output {
        file: "linux-x86_64-syscalls.osm",
        arch: "x86_64",
        abis: &[
            Abi {
                table: "x86_64",
                deb: "amd64",
                header: "asm/unistd_64.h",
                predefined: &[],
                bits: 64,
                offset: 0,
                aligned_pairs: false,
                slots: 6,
                style: Style::Native,
                opaque: &[],
            },
            Abi {
                deb: "amd64",
                style: Style::Compat,
                ..I386
            },
            Abi {
                deb: "amd64",
                style: Style::Compat,
                ..SOCKETCALL_32
            },
        ],
    },
    Output {
        file: "linux-i386-syscalls.osm",
        arch: "i386",
        abis: &[I386, SOCKETCALL_32],
    },
    Output {
        file: "linux-arm-syscalls.osm",
        arch: "arm",
        abis: &[ARM_EABI],
    },
    Output {
        file: "linux-aarch64-syscalls.osm",
        arch: "aarch64",
        abis: &[
            Abi {
                table: "aarch64",
                deb: "arm64",
                header: "asm/unistd.h",
                predefined: &[("__BITS_PER_LONG", "64"), ("__LP64__", "1")],
                bits: 64,
                offset: 0,
                aligned_pairs: false,
                slots: 6,
                style: Style::Native,
                opaque: &[],
            },
            Abi {
                style: Style::Compat,
                ..ARM_EABI
            },
        ],
    },
    Output {
        file: "linux-riscv64-syscalls.osm",
        arch: "riscv64",
        abis: &[Abi {
            table: "riscv64",
            deb: "riscv64",
            header: "asm/unistd.h",
            predefined: &[("__BITS_PER_LONG", "64"), ("__LP64__", "1")],
            bits: 64,
            offset: 0,
            aligned_pairs: false,
            slots: 6,
            style: Style::Native,
            opaque: &[],
        }],
    },
    Output {
        file: "linux-s390x-syscalls.osm",
        arch: "s390x",
        abis: &[
            S390X,
            Abi {
                table: "socketcall",
                header: SOCKETCALL_HEADER,
                ..S390X
            },
        ],
    },
    Output {
        file: "linux-mipsel-syscalls.osm",
        arch: "mipsel",
        abis: &[Abi {
            table: "o32",
            deb: "mipsel",
            header: "asm/unistd_o32.h",
            // The header's numbers are `__NR_Linux + N`; the table lists N.
            predefined: &[("__NR_Linux", "0")],
            bits: 32,
            offset: 4000,
            aligned_pairs: true,
            // a0-a3, then four words on the user stack.
            slots: 8,
            style: Style::Native,
            opaque: &["stat", "statfs", "statfs64"],
        }],
    },
    Output {
        file: "linux-mips64el-syscalls.osm",
        arch: "mips64el",
        abis: &[Abi {
            table: "n64",
            deb: "mips64el",
            header: "asm/unistd_n64.h",
            predefined: &[("__NR_Linux", "0")],
            bits: 64,
            offset: 5000,
            aligned_pairs: false,
            slots: 6,
            style: Style::Native,
            opaque: &["statfs", "statfs64"],
        }],
    },
    Output {
        file: "linux-ppc64el-syscalls.osm",
        arch: "ppc64",
        abis: &[Abi {
            table: "ppc64",
            deb: "ppc64el",
            header: "asm/unistd_64.h",
            predefined: &[],
            bits: 64,
            offset: 0,
            aligned_pairs: false,
            slots: 6,
            style: Style::Native,
            opaque: &[],
        }],
    },
];

/// Structures and unions the annotations use whose layout is the same for
/// a 32-bit ABI and its 64-bit host model (no `long` or pointer fields).
const COMPAT_SAFE: &[&str] = &[
    "timezone",
    "epoll_event",
    "rtc_time",
    "ifreq_flags",
    "ifreq_mtu",
    "ifreq_metric",
    "ifreq_qlen",
    "ifreq_index",
    "ifreq_name",
    "ifreq_addr",
    "ifreq_dstaddr",
    "ifreq_broadaddr",
    "ifreq_netmask",
    "ipc64_perm",
    "ipc64_perm_set",
    "shmid64_ds",
    "shmid64_ds_ppc64",
    "shmid64_ds_set",
    "msqid64_ds",
    "msqid64_ds_set",
    "semid64_ds",
    "semid64_ds_x86_64",
    "semid64_ds_set",
    "shminfo64",
    "shm_info",
    "shmid64_ds_32",
    "msqid64_ds_32",
    "msqid64_ds_32_set",
    "semid64_ds_32",
    "shminfo64_32",
    "shm_info_32",
    "seminfo",
    "msginfo",
    "sched_attr",
    "pollfd",
    "rlimit64",
    "statx",
    "timespec64",
    "itimerspec64",
    "sockaddr",
    "utsname",
    "sembuf",
    "winsize",
    "cap_header",
    "cap_data",
    "bpf_prog_attach_attr",
    "bpf_prog_detach_attr",
    "bpf_prog_load_attr",
    "mount_attr",
    "termios",
    "clone_args",
    "utime_timespec64",
    "file_handle",
    "file_handle_in",
    "open_how",
    "linger",
    "seccomp_notif_sizes",
];

/// Structures a compat ABI lays out otherwise than the 64-bit model's own
/// (`long` words, no pointers), and the 32-bit layout each 64-bit model
/// with such a table declares (specs/linux-compat.osm).
const COMPAT_STRUCTS: &[(&str, &str)] = &[
    ("timespec", "compat_timespec"),
    ("utime_timespec", "compat_utime_timespec"),
    ("timeval", "compat_timeval"),
    ("itimerval", "compat_itimerval"),
    ("itimerspec", "compat_itimerspec"),
    ("tms", "compat_tms"),
    ("rusage", "compat_rusage"),
    ("rlimit", "compat_rlimit"),
    ("sysinfo", "compat_sysinfo"),
];

/// Calls strace names otherwise than the kernel's headers: ARM's own
/// versions of calls other architectures have.
const STRACE_NAMES: &[(&str, &str)] = &[
    ("arm_fadvise64_64", "fadvise64_64"),
    ("arm_sync_file_range", "sync_file_range2"),
];

/// Structures and unions the annotations use.
const STRUCTS: &[&str] = &[
    "epoll_event",
    "rtc_time",
    "ifreq_flags",
    "ifreq_mtu",
    "ifreq_metric",
    "ifreq_qlen",
    "ifreq_index",
    "ifreq_name",
    "ifreq_addr",
    "ifreq_dstaddr",
    "ifreq_broadaddr",
    "ifreq_netmask",
    "statfs_s390x",
    "statfs_mips32",
    "statfs64_mips32",
    "statfs_mips64",
    "ipc64_perm",
    "ipc64_perm_set",
    "shmid64_ds",
    "shmid64_ds_ppc64",
    "shmid64_ds_set",
    "msqid64_ds",
    "msqid64_ds_set",
    "semid64_ds",
    "semid64_ds_x86_64",
    "semid64_ds_set",
    "shminfo64",
    "shm_info",
    "shmid64_ds_32",
    "msqid64_ds_32",
    "msqid64_ds_32_set",
    "semid64_ds_32",
    "shminfo64_32",
    "shm_info_32",
    "seminfo",
    "msginfo",
    "sched_attr",
    "recv_mmsghdr",
    "seccomp_notif_sizes",
    "open_how",
    "mq_attr",
    "remote_iovec",
    "linger",
    "mmsghdr",
    "file_handle",
    "file_handle_in",
    "statfs",
    "statfs64",
    "timezone",
    "siginfo",
    "tms",
    "rusage",
    "sysinfo",
    "stat",
    "stat64",
    "sigaction",
    "timespec",
    "timespec64",
    "timeval",
    "itimerval",
    "itimerspec",
    "itimerspec64",
    "iovec",
    "pollfd",
    "rlimit",
    "rlimit64",
    "utsname",
    "sockaddr",
    "statx",
    "stack_t",
    "msghdr",
    "recv_msghdr",
    "sigevent",
    "sembuf",
    "winsize",
    "cap_header",
    "cap_data",
    "bpf_prog_attach_attr",
    "bpf_prog_detach_attr",
    "bpf_prog_load_attr",
    "flock",
    "flock_held",
    "siginfo_child",
    "sock_fprog",
    "mount_attr",
    "sigreturn_frame",
    "sigreturn_frame_ia32",
    "termios",
    "clone_args",
    "utime_timespec",
    "utime_timespec64",
];

/// Where a syscall's prototype in syscalls.h has another name.
const PROTOTYPE_NAMES: &[(&str, &str)] = &[
    ("_llseek", "llseek"),
    ("_newselect", "select"),
    ("umount2", "umount"),
    ("mmap2", "mmap_pgoff"),
    ("uname", "newuname"),
    ("ugetrlimit", "getrlimit"),
    ("arm_fadvise64_64", "fadvise64_64"),
    ("arm_sync_file_range", "sync_file_range2"),
    ("sync_file_range2", "sync_file_range2"),
    ("sendfile64", "sendfile64"),
    ("fstat", "newfstat"),
    ("stat", "newstat"),
    ("lstat", "newlstat"),
];

/// Returns the files that differ from what the importer writes (and, unless
/// `check`, rewrites them).
pub fn import(root: &Path, check: bool) -> Result<Vec<PathBuf>> {
    let headers = fetch(root)?;
    let annotations_path = root.join("specs").join(ANNOTATIONS);
    let annotations = Annotations::parse(
        &fs::read_to_string(&annotations_path)
            .with_context(|| format!("cannot read {}", annotations_path.display()))?,
    )?;
    let prototypes = parse_prototypes(&read(
        &headers.join(format!("usr/src/{}/include/linux/syscalls.h", HEADERS.0)),
    )?);
    let mut stale = Vec::new();
    for output in OUTPUTS {
        let text = render(&headers, output, &annotations, &prototypes)?;
        let path = root.join("specs").join(output.file);
        if fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            if !check {
                fs::write(&path, &text)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            stale.push(path);
        }
    }
    Ok(stale)
}

fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn package_names() -> Vec<(String, String)> {
    let mut packages = vec![(HEADERS.0.to_string(), HEADERS.1.to_string())];
    for (deb, version, _) in CROSS {
        packages.push((format!("linux-libc-dev-{deb}-cross"), version.to_string()));
    }
    packages
}

/// What each libc-dev package gives: its architecture's syscall numbers,
/// and socketcall's.
const LIBC_DEV_FILES: &[&str] = &[
    "*/include/asm/unistd*",
    "*/include/asm-generic/unistd.h",
    "*/include/linux/net.h",
];

/// The extracted headers of the pinned packages, fetched once.
fn fetch(root: &Path) -> Result<PathBuf> {
    let cache = root.join("target/osmtrace/linux-headers");
    let tree = cache.join("tree");
    let stamp = cache.join("stamp");
    // The files taken from them are part of what the cache holds.
    let wanted: String = package_names()
        .iter()
        .map(|(p, v)| format!("{p}={v}\n"))
        .chain(LIBC_DEV_FILES.iter().map(|f| format!("{f}\n")))
        .collect();
    if fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(tree);
    }
    let work = cache.join("work");
    let _ = fs::remove_dir_all(&work);
    let _ = fs::remove_dir_all(&tree);
    fs::create_dir_all(&tree).with_context(|| format!("cannot create {}", tree.display()))?;
    // The guests' private apt; the packages are all `Architecture: all`.
    let pinned: Vec<String> = package_names()
        .iter()
        .map(|(p, v)| format!("{p}={v}"))
        .collect();
    let (debs, _) = fetch_debs(
        GuestArch::X86_64,
        Release::Bookworm,
        &pinned,
        None,
        &work,
        &mut std::io::stderr(),
    )?;
    for deb in &debs {
        // The kernel's headers have the syscall prototypes and every
        // architecture's unistd headers; each libc-dev package its
        // architecture's UAPI ones.
        let patterns: &[&str] = if deb.package == HEADERS.0 {
            &["*/include/asm/unistd*", "*/include/linux/syscalls.h"]
        } else {
            LIBC_DEV_FILES
        };
        extract(&deb.path, &tree, patterns, false)?;
    }
    let _ = fs::remove_dir_all(&work);
    fs::write(&stamp, wanted)?;
    Ok(tree)
}

// ---------------------------------------------------------------------------
// Numbers: a small C preprocessor for the unistd headers.

/// Reads `header` (following `#include <asm/...>`/`<asm-generic/...>` into
/// files of the same tree) with `predefined` macros; returns every
/// syscall number macro left defined, by syscall name.
fn numbers(
    include: &Path,
    header: &str,
    predefined: &[(&str, &str)],
) -> Result<BTreeMap<String, u64>> {
    let mut macros: HashMap<String, String> = predefined
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut order = Vec::new();
    preprocess(include, header, &mut macros, &mut order)?;
    let mut out = BTreeMap::new();
    for name in order {
        if !macros.contains_key(&name) {
            continue;
        }
        // linux/net.h numbers socketcall's calls: SYS_SOCKET is socket.
        let syscall = match name.strip_prefix("SYS_") {
            Some(call) if header == SOCKETCALL_HEADER => Some(call.to_ascii_lowercase()),
            _ => name
                .strip_prefix("__NR_")
                .or_else(|| name.strip_prefix("__ARM_NR_"))
                .map(str::to_string),
        };
        let Some(syscall) = syscall else { continue };
        if syscall.chars().any(|c| c.is_ascii_uppercase())
            || matches!(syscall.as_str(), "syscalls" | "arch_specific_syscall")
            || name.starts_with("__NR3264")
        {
            continue;
        }
        let value = eval(&macros[&name], &macros, 0)
            .with_context(|| format!("{header}: cannot evaluate {name}"))?;
        // An alias of an earlier number (arm's sync_file_range2) is not
        // another call.
        if out.values().any(|v| *v == value as u64) {
            continue;
        }
        out.insert(syscall, value as u64);
    }
    Ok(out)
}

fn preprocess(
    include: &Path,
    header: &str,
    macros: &mut HashMap<String, String>,
    order: &mut Vec<String>,
) -> Result<()> {
    let text = read(&include.join(header))?.replace("\\\n", " ");
    // Each level: (this branch active, some branch of the #if taken, parent active).
    let mut stack: Vec<(bool, bool, bool)> = Vec::new();
    let active = |stack: &Vec<(bool, bool, bool)>| stack.last().is_none_or(|s| s.0);
    for line in text.lines() {
        let line = line.trim();
        let Some(directive) = line.strip_prefix('#') else {
            continue;
        };
        let directive = directive.trim_start();
        let (word, rest) = directive
            .split_once(|c: char| c.is_whitespace())
            .unwrap_or((directive, ""));
        let rest = strip_comment(rest).trim().to_string();
        match word {
            "ifdef" | "ifndef" | "if" => {
                let parent = active(&stack);
                let cond = match word {
                    "ifdef" => macros.contains_key(&rest),
                    "ifndef" => !macros.contains_key(&rest),
                    _ => eval(&rest, macros, 0).is_some_and(|v| v != 0),
                };
                stack.push((parent && cond, cond, parent));
            }
            "elif" => {
                let (_, taken, parent) = stack.pop().context("#elif without #if")?;
                let cond = !taken && eval(&rest, macros, 0).is_some_and(|v| v != 0);
                stack.push((parent && cond, taken || cond, parent));
            }
            "else" => {
                let (_, taken, parent) = stack.pop().context("#else without #if")?;
                stack.push((parent && !taken, true, parent));
            }
            "endif" => {
                stack.pop().context("#endif without #if")?;
            }
            _ if !active(&stack) => {}
            "define" => {
                let (name, value) = rest
                    .split_once(|c: char| c.is_whitespace())
                    .unwrap_or((rest.as_str(), ""));
                if name.contains('(') {
                    continue; // function-like macros do not name numbers
                }
                if !macros.contains_key(name) {
                    order.push(name.to_string());
                }
                macros.insert(name.to_string(), value.trim().to_string());
            }
            "undef" => {
                macros.remove(&rest);
            }
            "include" => {
                let file = rest.trim_matches(|c| c == '<' || c == '>' || c == '"');
                if (file.starts_with("asm/") || file.starts_with("asm-generic/unistd"))
                    && include.join(file).exists()
                {
                    preprocess(include, file, macros, order)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn strip_comment(text: &str) -> &str {
    match text.find("/*") {
        Some(i) => &text[..i],
        None => text,
    }
}

/// Evaluates a preprocessor expression: integers, macros, `defined`, `!`,
/// `+ - == != && ||` and parentheses. Unknown names are 0, as in C.
fn eval(expr: &str, macros: &HashMap<String, String>, depth: u32) -> Option<i64> {
    if depth > 20 {
        return None;
    }
    let tokens = tokenize(expr);
    let mut parser = Expr {
        tokens,
        pos: 0,
        macros,
        depth,
    };
    let value = parser.or()?;
    (parser.pos == parser.tokens.len()).then_some(value)
}

fn tokenize(expr: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = strip_comment(expr).chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            if ["==", "!=", "&&", "||"].contains(&two.as_str()) {
                tokens.push(two);
                i += 2;
            } else {
                tokens.push(c.to_string());
                i += 1;
            }
        }
    }
    tokens
}

struct Expr<'a> {
    tokens: Vec<String>,
    pos: usize,
    macros: &'a HashMap<String, String>,
    depth: u32,
}

impl Expr<'_> {
    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.pos).map(String::as_str)
    }
    fn eat(&mut self, token: &str) -> bool {
        if self.peek() == Some(token) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn or(&mut self) -> Option<i64> {
        let mut v = self.and()?;
        while self.eat("||") {
            let r = self.and()?;
            v = i64::from(v != 0 || r != 0);
        }
        Some(v)
    }
    fn and(&mut self) -> Option<i64> {
        let mut v = self.equality()?;
        while self.eat("&&") {
            let r = self.equality()?;
            v = i64::from(v != 0 && r != 0);
        }
        Some(v)
    }
    fn equality(&mut self) -> Option<i64> {
        let mut v = self.sum()?;
        loop {
            if self.eat("==") {
                v = i64::from(v == self.sum()?);
            } else if self.eat("!=") {
                v = i64::from(v != self.sum()?);
            } else {
                return Some(v);
            }
        }
    }
    fn sum(&mut self) -> Option<i64> {
        let mut v = self.unary()?;
        loop {
            if self.eat("+") {
                v += self.unary()?;
            } else if self.eat("-") {
                v -= self.unary()?;
            } else {
                return Some(v);
            }
        }
    }
    fn unary(&mut self) -> Option<i64> {
        if self.eat("!") {
            return Some(i64::from(self.unary()? == 0));
        }
        if self.eat("(") {
            let v = self.or()?;
            return self.eat(")").then_some(v);
        }
        let token = self.peek()?.to_string();
        self.pos += 1;
        if token == "defined" {
            let paren = self.eat("(");
            let name = self.peek()?.to_string();
            self.pos += 1;
            if paren && !self.eat(")") {
                return None;
            }
            return Some(i64::from(self.macros.contains_key(&name)));
        }
        if token.starts_with(|c: char| c.is_ascii_digit()) {
            let t = token.trim_end_matches(['U', 'L', 'u', 'l']);
            return match t.strip_prefix("0x") {
                Some(hex) => i64::from_str_radix(hex, 16).ok(),
                None => t.parse().ok(),
            };
        }
        match self.macros.get(&token) {
            Some(value) if value.is_empty() => Some(1),
            Some(value) => eval(value, self.macros, self.depth + 1),
            None => Some(0),
        }
    }
}

// ---------------------------------------------------------------------------
// Prototypes.

/// `asmlinkage long sys_NAME(TYPE NAME, ...);` → NAME → (C type, name).
type Prototypes = HashMap<String, Vec<(String, String)>>;

fn parse_prototypes(text: &str) -> Prototypes {
    let mut out = Prototypes::new();
    let flat = text.replace('\n', " ");
    let mut rest = flat.as_str();
    while let Some(i) = rest.find("asmlinkage long sys_") {
        rest = &rest[i + "asmlinkage long sys_".len()..];
        let Some(open) = rest.find('(') else { break };
        let name = rest[..open].trim().to_string();
        let Some(close) = rest.find(')') else { break };
        let params = &rest[open + 1..close];
        rest = &rest[close..];
        if out.contains_key(&name) || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let mut args = Vec::new();
        let params = params.split_whitespace().collect::<Vec<_>>().join(" ");
        if params != "void" && !params.is_empty() {
            for (i, param) in params.split(',').enumerate() {
                let param = param.trim();
                let (ty, name) = split_param(param);
                let name = name.unwrap_or_else(|| format!("arg{i}"));
                args.push((ty, name));
            }
        }
        out.insert(name, args);
    }
    out
}

fn split_param(param: &str) -> (String, Option<String>) {
    let last = param
        .rsplit(|c: char| c.is_whitespace() || c == '*')
        .next()
        .unwrap_or("");
    let type_words = [
        "int", "long", "char", "short", "unsigned", "signed", "void", "size_t", "u32", "u64",
        "__u32", "__u64", "pid_t", "uid_t", "gid_t", "umode_t", "loff_t", "off_t", "__user",
        "const",
    ];
    let is_type_only = param.ends_with('*')
        || type_words.contains(&last)
        || last.ends_with("_t")
        || !param.contains(' ');
    if is_type_only {
        (param.to_string(), None)
    } else {
        let ty = param[..param.len() - last.len()].trim().to_string();
        (ty, Some(last.to_string()))
    }
}

/// The model type for a prototype's C type.
fn derive_type(c: &str) -> &'static str {
    let c = c.replace("__user", "");
    let words: Vec<&str> = c.split_whitespace().collect();
    let joined = words.join(" ");
    if joined.contains('*') {
        if joined.starts_with("const char") && joined.matches('*').count() == 1 {
            return "cstr";
        }
        return "ptr";
    }
    match joined.as_str() {
        "int" | "s32" | "__s32" | "clockid_t" | "timer_t" | "key_serial_t" | "mqd_t" | "rwf_t" => {
            "int"
        }
        "unsigned int" | "unsigned" | "u32" | "__u32" | "qid_t" | "old_uid_t" | "old_gid_t" => {
            "uint"
        }
        "long" => "long",
        "unsigned long" | "aio_context_t" => "ulong",
        "size_t" => "size",
        "off_t" => "off",
        "loff_t" => "loff",
        "u64" | "__u64" => "u64",
        "s64" | "__s64" => "i64",
        "pid_t" => "pid",
        "uid_t" => "uid",
        "gid_t" => "gid",
        "umode_t" | "mode_t" => "mode",
        "key_t" => "key",
        "unsigned short" | "u16" | "__u16" => "u16",
        _ => "hex",
    }
}

// ---------------------------------------------------------------------------
// Annotations.

/// One annotated call: `[abi, ...] name(args) rest;`.
#[derive(Clone)]
struct Annotation {
    args: Vec<Arg>,
    /// Everything after the argument list: ` -> TYPE ATTRIBUTES;`.
    tail: String,
}

#[derive(Clone)]
struct Arg {
    dir: Option<String>,
    ty: String,
    name: String,
    cond: Option<String>,
    /// `at N`: its register, where the arguments are written in the order
    /// they show.
    slot: Option<String>,
    /// Words after it (`verbose`).
    attrs: Vec<String>,
    /// Other ways to show the same register, written after `|`.
    alts: Vec<Arg>,
}

impl Arg {
    fn render(&self) -> String {
        let mut s = self.render_one();
        for alt in &self.alts {
            s.push_str(" | ");
            s.push_str(&alt.render_one());
        }
        s
    }

    fn render_one(&self) -> String {
        let mut s = String::new();
        if let Some(dir) = &self.dir {
            s.push_str(dir);
            s.push(' ');
        }
        s.push_str(&self.ty);
        s.push(' ');
        s.push_str(&self.name);
        if let Some(slot) = &self.slot {
            s.push_str(" at ");
            s.push_str(slot);
        }
        if let Some(cond) = &self.cond {
            s.push_str(" if ");
            s.push_str(cond);
        }
        for attr in &self.attrs {
            s.push(' ');
            s.push_str(attr);
        }
        s
    }
}

struct Annotations {
    /// (name, ABI or "" for all) → annotation.
    calls: HashMap<(String, String), Annotation>,
}

impl Annotations {
    fn parse(text: &str) -> Result<Annotations> {
        let mut calls = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = match line.find("//") {
                Some(i) => &line[..i],
                None => line,
            }
            .trim();
            if line.is_empty() {
                continue;
            }
            let err = |what: &str| format!("{ANNOTATIONS}:{}: {what}", n + 1);
            let (abis, rest) = match line.strip_prefix('[') {
                Some(rest) => {
                    let (abis, rest) = rest.split_once(']').with_context(|| err("no ]"))?;
                    (
                        abis.split(',').map(|a| a.trim().to_string()).collect(),
                        rest.trim(),
                    )
                }
                None => (vec![String::new()], line),
            };
            let open = rest.find('(').with_context(|| err("no ("))?;
            let close = matching_paren(rest, open).with_context(|| err("no )"))?;
            let name = rest[..open].trim().to_string();
            let args = split_args(&rest[open + 1..close])
                .into_iter()
                .map(|a| parse_arg(&a).with_context(|| err(&format!("bad argument `{a}`"))))
                .collect::<Result<Vec<_>, _>>()?;
            let tail = rest[close + 1..].to_string();
            if !tail.trim_end().ends_with(';') {
                bail!(err("no ; at the end"));
            }
            // A direction on a type the importer does not know points
            // would be dropped as a scalar's is when a compat ABI makes a
            // pointer a number: a structure missing from STRUCTS.
            if let Some(a) = args
                .iter()
                .flat_map(|a| std::iter::once(a).chain(&a.alts))
                .find(|a| a.dir.is_some() && !is_pointer(&a.ty))
            {
                bail!(err(&format!(
                    "`{} {}`: a direction on a type not known to point (a structure must be listed in STRUCTS)",
                    a.dir.as_deref().unwrap_or_default(),
                    a.ty
                )));
            }
            for abi in abis {
                let key = (name.clone(), abi);
                if calls.contains_key(&key) {
                    bail!(err(&format!("{} annotated twice", name)));
                }
                calls.insert(
                    key,
                    Annotation {
                        args: args.clone(),
                        tail: tail.clone(),
                    },
                );
            }
        }
        Ok(Annotations { calls })
    }

    fn get(&self, name: &str, abi: &str) -> Option<&Annotation> {
        self.calls
            .get(&(name.to_string(), abi.to_string()))
            .or_else(|| self.calls.get(&(name.to_string(), String::new())))
    }
}

/// Splits at commas outside parentheses and brackets.
fn split_args(text: &str) -> Vec<String> {
    split_outside(text, ',')
}

/// Splits at `sep` outside parentheses and brackets.
fn split_outside(text: &str, sep: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut current = String::new();
    for c in text.chars() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            c if c == sep && depth == 0 => {
                out.push(current.trim().to_string());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
}

/// An argument, with the other ways to show its register after `|`.
fn parse_arg(text: &str) -> Option<Arg> {
    let mut ways = split_outside(text, '|').into_iter();
    let mut arg = parse_one_arg(&ways.next()?)?;
    for alt in ways {
        arg.alts.push(parse_one_arg(&alt)?);
    }
    Some(arg)
}

fn parse_one_arg(text: &str) -> Option<Arg> {
    let (main, cond) = match text.split_once(" if ") {
        Some((m, c)) => (m, Some(c.trim().to_string())),
        None => (text, None),
    };
    // Attributes (`verbose`) follow the name, or the condition.
    let (cond, cond_attrs) = match cond {
        Some(c) => {
            let (c, attrs) = split_attrs(&c);
            (Some(c), attrs)
        }
        None => (None, Vec::new()),
    };
    let (main, mut attrs) = split_attrs(main);
    attrs.extend(cond_attrs);
    // `at (EXPR)`: where a value no register holds is.
    let (main, location) = match main.split_once(" at (") {
        Some((m, rest)) => (m.to_string(), Some(format!("({rest}"))),
        None => (main, None),
    };
    let mut words: Vec<&str> = main.split_whitespace().collect();
    // `at N`: the register, where arguments are written in display order.
    let slot = match words.as_slice() {
        [.., "at", n] => {
            let n = n.to_string();
            words.truncate(words.len() - 2);
            Some(n)
        }
        _ => location,
    };
    let (dir, ty, name) = match words.as_slice() {
        [dir @ ("in" | "out" | "inout"), ty, name] => (Some(dir.to_string()), *ty, *name),
        [ty, name] => (None, *ty, *name),
        _ => return None,
    };
    Some(Arg {
        dir,
        ty: ty.to_string(),
        name: name.to_string(),
        slot,
        cond,
        attrs,
        alts: Vec::new(),
    })
}

/// The `)` that closes the `(` at `open` (conditions nest theirs, and the
/// return's explanation follows in its own).
fn matching_paren(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in text.char_indices().skip_while(|&(i, _)| i < open) {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Words an argument may end with.
const ARG_ATTRIBUTES: &[&str] = &["verbose", "updated", "nonzero"];

/// Text without its trailing argument attributes, and those.
fn split_attrs(text: &str) -> (String, Vec<String>) {
    let mut words: Vec<&str> = text.split_whitespace().collect();
    let mut attrs = Vec::new();
    while let Some(last) = words.last().filter(|w| ARG_ATTRIBUTES.contains(w)) {
        attrs.insert(0, last.to_string());
        words.pop();
    }
    (words.join(" "), attrs)
}

/// Whether a model type is 64 bits wide whatever the model (a register
/// pair on a 32-bit ABI).
fn is_wide(ty: &str) -> bool {
    matches!(ty, "loff" | "u64" | "i64" | "hex64")
}

/// The arguments as the ABI passes them: on a 32-bit ABI a 64-bit value
/// takes two slots (the low half is shown, the high one is `_`), after a
/// `_` slot where pairs start at an even register. A `split_loff` is an
/// offset the call takes as two halves in two registers whatever the ABI.
fn lay_out(abi: &Abi, args: &[Arg]) -> Vec<Arg> {
    let pad = |name: &str| Arg {
        dir: None,
        ty: "u32".to_string(),
        name: name.to_string(),
        slot: None,
        cond: None,
        attrs: Vec::new(),
        alts: Vec::new(),
    };
    let mut out: Vec<Arg> = Vec::new();
    for arg in args {
        // `at (EXPR)` names the native model's registers: a 32-bit ABI in
        // a 64-bit model has other names for them.
        if abi.style == Style::Compat && arg.slot.as_deref().is_some_and(|s| s.starts_with('(')) {
            continue;
        }
        if arg.ty == "split_loff" {
            // preadv's and pwritev's pos_l and pos_h, in consecutive
            // registers on every ABI: a 64-bit ABI ignores the high one.
            out.push(Arg {
                ty: "loff".to_string(),
                ..arg.clone()
            });
            out.push(pad("_"));
        } else if abi.bits == 32 && is_wide(&arg.ty) {
            // `at N` places the pair itself.
            if abi.aligned_pairs && arg.slot.is_none() && out.len() % 2 == 1 {
                out.push(pad("_"));
            }
            out.push(arg.clone());
            out.push(pad("_"));
        } else {
            out.push(arg.clone());
        }
    }
    // Slots past the mechanism's are left out (trailing padding first).
    while out.len() > abi.slots && out.last().is_some_and(|a| a.name == "_") {
        out.pop();
    }
    out.truncate(abi.slots);
    out
}

/// An annotated type as this ABI's model can show it.
fn adapt_type(abi: &Abi, ty: &str) -> String {
    // `TYPE[LEN]`, or `TYPE(LEN)`: one structure of LEN bytes.
    let (base, suffix) = match ty.find(['[', '(']) {
        Some(i) => (&ty[..i], &ty[i..]),
        None => (ty, ""),
    };
    if abi.opaque.contains(&base) {
        return "ptr".to_string();
    }
    if abi.style == Style::Native {
        return ty.to_string();
    }
    if let Some((_, compat)) = COMPAT_STRUCTS.iter().find(|(s, _)| *s == base) {
        return format!("{compat}{suffix}");
    }
    if STRUCTS.contains(&base) && !COMPAT_SAFE.contains(&base) {
        return "ptr".to_string();
    }
    if !suffix.is_empty() {
        return match base {
            // fd_set's bits lie in bytes alike whatever the word (the
            // compat ABIs are little-endian).
            "buf" | "hexbuf" | "dirents" | "fd" | "gid" | "uid" | "int" | "uint" | "u8" | "u16"
            | "u32" | "i32" | "u64" | "i64" | "loff" | "fd_set" => ty.to_string(),
            "long" => format!("i32{suffix}"),
            "ulong" | "size" => format!("u32{suffix}"),
            _ if COMPAT_SAFE.contains(&base) => ty.to_string(),
            _ => "ptr".to_string(),
        };
    }
    match base {
        "long" | "ssize" | "off" => "i32".to_string(),
        "ulong" | "size" => "u32".to_string(),
        "hex" => "hex32".to_string(),
        _ => ty.to_string(),
    }
}

// ---------------------------------------------------------------------------
// Output.

fn render(
    headers: &Path,
    output: &Output,
    annotations: &Annotations,
    prototypes: &Prototypes,
) -> Result<String> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// Linux 6.1 syscall tables for {}, written by `{IMPORT_COMMAND}`: do not edit.",
        output.arch
    );
    let _ = writeln!(
        out,
        "// Prototypes: include/linux/syscalls.h of Debian's {}_{}.",
        HEADERS.0, HEADERS.1
    );
    let _ = writeln!(
        out,
        "// Argument types: specs/{ANNOTATIONS} where it names the call, otherwise\n// derived from the prototype."
    );
    for abi in output.abis {
        let (_, version, triplet) = CROSS
            .iter()
            .find(|(deb, _, _)| *deb == abi.deb)
            .context("unknown package")?;
        let include = headers.join(format!("usr/{triplet}/include"));
        let numbers = numbers(&include, abi.header, abi.predefined)?;
        let mut by_number: Vec<(u64, &String)> = numbers.iter().map(|(n, v)| (*v, n)).collect();
        by_number.sort();
        let annotated = by_number
            .iter()
            .filter(|(_, name)| annotations.get(name, abi.table).is_some())
            .count();
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "// Table {}: numbers from usr/{triplet}/include/{} of linux-libc-dev-{}-cross_{version}{}; {} calls, {} annotated{}.",
            abi.table,
            abi.header,
            abi.deb,
            if abi.offset > 0 {
                format!(" (less {})", abi.offset)
            } else {
                String::new()
            },
            by_number.len(),
            annotated,
            if abi.style == Style::Compat {
                ", typed for a 32-bit ABI in a 64-bit model"
            } else {
                ""
            }
        );
        if abi.offset > 0 {
            let _ = writeln!(out, "table {} offset {} {{", abi.table, abi.offset);
        } else {
            let _ = writeln!(out, "table {} {{", abi.table);
        }
        for (number, name) in by_number {
            let (args, tail) = match annotations.get(name, abi.table) {
                Some(a) => (a.args.clone(), a.tail.clone()),
                None => (derived(name, prototypes), " -> long;".to_string()),
            };
            let adapt = |a: &mut Arg| {
                a.ty = adapt_type(abi, &a.ty);
                if a.dir.is_some() && !is_pointer(&a.ty) {
                    a.dir = None;
                    a.attrs.retain(|attr| attr != "nonzero");
                }
                // `verbose` abbreviates an array and `updated` shows one's
                // change, which a compat ABI may show as a pointer.
                if !a.ty.ends_with("[nul]") {
                    a.attrs.retain(|attr| attr != "verbose");
                }
                if a.ty == "ptr" {
                    a.attrs.retain(|attr| attr != "updated");
                }
            };
            let args: Vec<Arg> = lay_out(abi, &args)
                .into_iter()
                .map(|mut a| {
                    adapt(&mut a);
                    a.alts.iter_mut().for_each(adapt);
                    a
                })
                .collect();
            let args: Vec<String> = args.iter().map(Arg::render).collect();
            let shown = STRACE_NAMES
                .iter()
                .find(|(kernel, _)| *kernel == name)
                .map_or(name.as_str(), |(_, strace)| strace);
            let _ = writeln!(out, "    {number} {shown}({}){tail}", args.join(", "));
        }
        let _ = writeln!(out, "}}");
    }
    Ok(out)
}

fn is_pointer(ty: &str) -> bool {
    let sized = ty.split_once('(').map(|(base, _)| base);
    ty.contains('[')
        || ["ptr", "cstr", "path", "sigset", "wait_status"].contains(&ty)
        || STRUCTS.contains(&ty)
        || COMPAT_STRUCTS.iter().any(|(_, compat)| *compat == ty)
        || sized.is_some_and(|base| STRUCTS.contains(&base))
}

/// The names the kernel's prototypes give strings that are paths, which
/// strace shows whole whatever `-s` says.
const PATH_NAMES: &[&str] = &[
    "filename",
    "pathname",
    "path",
    "oldname",
    "newname",
    "dev_name",
    "dir_name",
    "specialfile",
    "special",
    "new_root",
    "put_old",
    "library",
    "from_path",
    "to_path",
];

/// Arguments from the prototype; a call without one takes six raw words.
fn derived(name: &str, prototypes: &Prototypes) -> Vec<Arg> {
    let key = PROTOTYPE_NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(name, |(_, p)| p);
    let candidates = [
        key.to_string(),
        name.strip_suffix("32").unwrap_or(name).to_string(),
        name.strip_suffix("64").unwrap_or(name).to_string(),
    ];
    let proto = candidates.iter().find_map(|n| prototypes.get(n));
    match proto {
        Some(params) => {
            let mut seen = Vec::new();
            params
                .iter()
                .map(|(c, n)| {
                    let mut n = n.clone();
                    if seen.contains(&n) {
                        n = format!("{n}{}", seen.len());
                    }
                    seen.push(n.clone());
                    let ty = match derive_type(c) {
                        "cstr" if PATH_NAMES.contains(&n.as_str()) => "path",
                        ty => ty,
                    };
                    Arg {
                        dir: None,
                        ty: ty.to_string(),
                        name: n,
                        slot: None,
                        cond: None,
                        attrs: Vec::new(),
                        alts: Vec::new(),
                    }
                })
                .collect()
        }
        None => (0..6)
            .map(|i| Arg {
                dir: None,
                ty: "hex".to_string(),
                name: format!("arg{i}"),
                slot: None,
                cond: None,
                attrs: Vec::new(),
                alts: Vec::new(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_direction_needs_a_type_known_to_point() {
        let ok = Annotations::parse("f(out siginfo x, in i32[1] y) -> int;\n");
        assert!(ok.is_ok());
        let sized = Annotations::parse("f(in bpf_prog_load_attr(n) x, uint n) -> int;\n");
        assert!(sized.is_ok());
        for line in [
            "f(out unlisted_t x) -> int;",
            "f(in unlisted_t(n) x, uint n) -> int;",
            "f(int x, void y if x == 1 | inout unlisted_t y) -> int;",
        ] {
            let e = Annotations::parse(line).err().expect(line).to_string();
            assert!(e.contains("STRUCTS"), "{line}: {e}");
        }
    }

    #[test]
    fn evaluates_the_preprocessor_subset() {
        let mut m = HashMap::new();
        m.insert("__BITS_PER_LONG".to_string(), "64".to_string());
        m.insert("__ARCH_WANT_NEW_STAT".to_string(), String::new());
        m.insert("__NR3264_fstat".to_string(), "80".to_string());
        assert_eq!(
            eval(
                "defined(__ARCH_WANT_NEW_STAT) || __BITS_PER_LONG != 64",
                &m,
                0
            ),
            Some(1)
        );
        assert_eq!(
            eval("__BITS_PER_LONG == 32 || defined(__SYSCALL_COMPAT)", &m, 0),
            Some(0)
        );
        assert_eq!(eval("(__NR3264_fstat + 15)", &m, 0), Some(95));
        assert_eq!(eval("!defined __X", &m, 0), Some(1));
    }

    #[test]
    fn derives_types_from_prototypes() {
        let p = parse_prototypes(
            "asmlinkage long sys_read(unsigned int fd, char __user *buf,\n size_t count);\nasmlinkage long sys_clone(unsigned long, unsigned long, int __user *, unsigned long,\n int __user *);\nasmlinkage long sys_mkdir(const char __user *pathname, umode_t mode);",
        );
        let read: Vec<_> = p["read"]
            .iter()
            .map(|(t, n)| (derive_type(t), n.as_str()))
            .collect();
        assert_eq!(read, [("uint", "fd"), ("ptr", "buf"), ("size", "count")]);
        assert_eq!(p["clone"][2].1, "arg2");
        assert_eq!(derive_type(&p["mkdir"][0].0), "cstr");
        assert_eq!(derive_type(&p["mkdir"][1].0), "mode");
    }

    #[test]
    fn pairs_take_aligned_registers_on_arm() {
        let args: Vec<Arg> = ["fd fd", "int mode", "loff offset", "loff len"]
            .iter()
            .map(|a| parse_arg(a).unwrap())
            .collect();
        let laid: Vec<String> = lay_out(&ARM_EABI, &args).iter().map(Arg::render).collect();
        assert_eq!(
            laid,
            [
                "fd fd",
                "int mode",
                "loff offset",
                "u32 _",
                "loff len",
                "u32 _"
            ]
        );
        let args: Vec<Arg> = ["fd fd", "ptr buf", "size count", "loff pos"]
            .iter()
            .map(|a| parse_arg(a).unwrap())
            .collect();
        let laid: Vec<String> = lay_out(&ARM_EABI, &args).iter().map(Arg::render).collect();
        assert_eq!(
            laid,
            [
                "fd fd",
                "ptr buf",
                "size count",
                "u32 _",
                "loff pos",
                "u32 _"
            ]
        );
        let laid: Vec<String> = lay_out(&I386, &args).iter().map(Arg::render).collect();
        assert_eq!(
            laid,
            ["fd fd", "ptr buf", "size count", "loff pos", "u32 _"]
        );
    }
}
