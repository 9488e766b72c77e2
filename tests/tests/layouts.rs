//! The structures the Linux models declare must have the layout the C
//! compiler gives the kernel's own declarations: each size and field
//! offset is compared with `sizeof`/`offsetof` from the UAPI headers, for
//! x86_64 (gcc), 32-bit ARM, s390x, mipsel, mips64el and ppc64el (their
//! cross gccs, installed by scripts/setup.sh). The compilers only compile to
//! assembly, so nothing runs on the target.

use osm_compiler::model::Model;
use std::path::Path;
use std::process::Command;

/// (model struct, C type, [(model field, C member)]); a size is checked
/// for every struct, offsets for the fields listed.
type Layout = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const COMMON: &[Layout] = &[
    (
        "timespec",
        "struct timespec",
        &[("tv_sec", "tv_sec"), ("tv_nsec", "tv_nsec")],
    ),
    (
        "timespec64",
        "struct __kernel_timespec",
        &[("tv_nsec", "tv_nsec")],
    ),
    ("timeval", "struct timeval", &[("tv_usec", "tv_usec")]),
    ("itimerval", "struct itimerval", &[("it_value", "it_value")]),
    (
        "itimerspec",
        "struct itimerspec",
        &[("it_value", "it_value")],
    ),
    (
        "iovec",
        "struct iovec",
        &[("iov_base", "iov_base"), ("iov_len", "iov_len")],
    ),
    (
        "pollfd",
        "struct pollfd",
        &[("events", "events"), ("revents", "revents")],
    ),
    ("rlimit", "struct rlimit", &[("rlim_max", "rlim_max")]),
    ("rlimit64", "struct rlimit64", &[("rlim_max", "rlim_max")]),
    (
        "utsname",
        "struct new_utsname",
        &[("nodename", "nodename"), ("domainname", "domainname")],
    ),
    (
        "sockaddr_un",
        "struct sockaddr_un",
        &[("sun_path", "sun_path")],
    ),
    (
        "sockaddr_in",
        "struct sockaddr_in",
        &[
            ("sa_family", "sin_family"),
            ("sin_port", "sin_port"),
            ("sin_addr", "sin_addr"),
        ],
    ),
    (
        "statx",
        "struct statx",
        &[
            ("stx_mode", "stx_mode"),
            ("stx_ino", "stx_ino"),
            ("stx_size", "stx_size"),
            ("stx_atime", "stx_atime"),
            ("stx_mtime", "stx_mtime"),
            ("stx_rdev_major", "stx_rdev_major"),
            ("stx_mnt_id", "stx_mnt_id"),
            ("stx_dio_offset_align", "stx_dio_offset_align"),
        ],
    ),
];

const STAT_FIELDS: &[(&str, &str)] = &[
    ("st_dev", "st_dev"),
    ("st_ino", "st_ino"),
    ("st_nlink", "st_nlink"),
    ("st_mode", "st_mode"),
    ("st_uid", "st_uid"),
    ("st_gid", "st_gid"),
    ("st_rdev", "st_rdev"),
    ("st_size", "st_size"),
    ("st_blksize", "st_blksize"),
    ("st_blocks", "st_blocks"),
    ("st_atime", "st_atime"),
    ("st_mtime_nsec", "st_mtime_nsec"),
    ("st_ctime_nsec", "st_ctime_nsec"),
];

const HEADERS: &str = "#include <stddef.h>\n#include <asm/stat.h>\n#include <linux/time.h>\n#include <linux/time_types.h>\n#include <linux/stat.h>\n#include <linux/un.h>\n#include <linux/in.h>\n#include <linux/utsname.h>\n#include <linux/poll.h>\n#include <linux/uio.h>\n#include <linux/resource.h>\n";

fn model(spec: &str) -> Model {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../specs")
        .join(spec);
    let compilation = osm_compiler::compile_path(&path);
    compilation.result.expect("shipped model checks")
}

/// The compiler's sizes and offsets for `layouts`, in order: for each
/// struct its size, then its listed fields' offsets.
fn c_layout(compiler: &str, layouts: &[Layout]) -> Vec<u64> {
    let mut c = String::from(HEADERS);
    c.push_str("unsigned long long v[] = {\n");
    for (_, ty, fields) in layouts {
        c.push_str(&format!("  sizeof({ty}),\n"));
        for (_, member) in *fields {
            c.push_str(&format!("  offsetof({ty}, {member}),\n"));
        }
    }
    c.push_str("};\n");
    let dir = std::env::temp_dir().join(format!(
        "osmtrace-layouts-{}-{compiler}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("layout.c");
    std::fs::write(&source, c).unwrap();
    let out = Command::new(compiler)
        .args(["-S", "-o", "-"])
        .arg(&source)
        .output()
        .unwrap_or_else(|e| panic!("{compiler} not found ({e}); run scripts/setup.sh"));
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        out.status.success(),
        "{compiler} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `.quad N` / `.dword N` / `.word N` (64-bit values are two `.word`s on
    // 32-bit ARM and MIPS, low first on these little-endian targets).
    let words: Vec<u64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            l.strip_prefix(".quad\t")
                .or_else(|| l.strip_prefix(".dword\t"))
                .or_else(|| l.strip_prefix(".word\t"))
                .and_then(|n| n.trim().parse().ok())
        })
        .collect();
    if words.len() == 2 * expected_count(layouts) {
        words.chunks(2).map(|p| p[0] | (p[1] << 32)).collect()
    } else {
        words
    }
}

fn expected_count(layouts: &[Layout]) -> usize {
    layouts.iter().map(|(_, _, f)| 1 + f.len()).sum()
}

fn check(spec: &str, compiler: &str, stat: Layout) {
    let m = model(spec);
    let mut layouts: Vec<Layout> = COMMON.to_vec();
    layouts.push(stat);
    let c = c_layout(compiler, &layouts);
    assert_eq!(c.len(), expected_count(&layouts), "{compiler} output");
    let mut values = c.into_iter();
    let mut mismatches = Vec::new();
    for (name, ty, fields) in &layouts {
        let def = m
            .structs
            .iter()
            .find(|s| s.name == *name)
            .unwrap_or_else(|| panic!("{spec} declares no struct {name}"));
        let size = values.next().unwrap();
        if def.size != size {
            mismatches.push(format!(
                "{name}: size {} but sizeof({ty}) = {size}",
                def.size
            ));
        }
        for (field, member) in *fields {
            let offset = values.next().unwrap();
            let ours = def
                .fields
                .iter()
                .find(|f| f.name == *field)
                .unwrap_or_else(|| panic!("struct {name} has no field {field}"))
                .offset;
            if ours != offset {
                mismatches.push(format!(
                    "{name}.{field}: offset {ours} but offsetof({ty}, {member}) = {offset}"
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{spec}:\n{}", mismatches.join("\n"));
}

#[test]
#[ignore = "needs scripts/setup.sh and Debian's archive; bash scripts/test.sh runs it"]
fn x86_64_layouts_match_the_kernel_headers() {
    check(
        "linux-x86_64.osm",
        "gcc",
        ("stat", "struct stat", STAT_FIELDS),
    );
}

#[test]
#[ignore = "needs scripts/setup.sh and Debian's archive; bash scripts/test.sh runs it"]
fn arm_layouts_match_the_kernel_headers() {
    check(
        "linux-arm.osm",
        "arm-linux-gnueabihf-gcc",
        ("stat64", "struct stat64", STAT_FIELDS),
    );
}

#[test]
#[ignore = "needs scripts/setup.sh and Debian's archive; bash scripts/test.sh runs it"]
fn s390x_layouts_match_the_kernel_headers() {
    check(
        "linux-s390x.osm",
        "s390x-linux-gnu-gcc",
        ("stat", "struct stat", STAT_FIELDS),
    );
}

#[test]
#[ignore = "needs scripts/setup.sh and Debian's archive; bash scripts/test.sh runs it"]
fn mipsel_layouts_match_the_kernel_headers() {
    check(
        "linux-mipsel.osm",
        "mipsel-linux-gnu-gcc",
        ("stat64", "struct stat64", STAT_FIELDS),
    );
}

#[test]
#[ignore = "needs scripts/setup.sh and Debian's archive; bash scripts/test.sh runs it"]
fn mips64el_layouts_match_the_kernel_headers() {
    check(
        "linux-mips64el.osm",
        "mips64el-linux-gnuabi64-gcc",
        ("stat", "struct stat", STAT_FIELDS),
    );
}

#[test]
#[ignore = "needs scripts/setup.sh and Debian's archive; bash scripts/test.sh runs it"]
fn ppc64el_layouts_match_the_kernel_headers() {
    check(
        "linux-ppc64el.osm",
        "powerpc64le-linux-gnu-gcc",
        ("stat", "struct stat", STAT_FIELDS),
    );
}
