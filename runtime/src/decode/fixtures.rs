//! The model the decoding tests declare their types in, and helpers that
//! decode one of its calls.

use super::{DecodeOptions, decode_entry_args, decode_exit_args};
use crate::cpu::SnapshotCpu;
use osm_model::{Model, Syscall};

/// A model written in the language, so these tests decode types as a
/// model declares them.
pub(super) const TYPES: &str = r#"
    type fd = i32;
    type size = ulong;
    flags open_flags : u32 {
        O_RDONLY = 0 mask 3, O_WRONLY = 1 mask 3, O_RDWR = 2 mask 3,
        O_CREAT = 0x40, O_CLOEXEC = 0x80000,
    }
    flags mode_bits : oct {
        S_IFREG = 0o100000 mask 0o170000, S_IFDIR = 0o040000 mask 0o170000,
        S_ISUID = 0o4000,
    }
    flags mnt : ulong { MS_MGC_VAL = 0xc0ed0000 mask 0xffff0000, MS_RDONLY = 1, MS_POSIXACL = 0x10000 }
    enum af16 : u16 { AF_UNIX = 1, AF_INET = 2, AF_NETLINK = 16 }
    struct timespec { long tv_sec; long tv_nsec; }
    struct st { u64 st_dev verbose; mode_bits st_mode; u32 _; i64 st_size; }
    struct iovec { buf[iov_len] iov_base; size iov_len; }
    struct sockaddr_un { af16 sa_family; char sun_path[108]; }
    struct sockaddr_in { af16 sa_family; inet_port sin_port; inet_addr sin_addr; u8 _[8]; }
    union sockaddr(sa_family) { AF_UNIX = sockaddr_un, AF_INET = sockaddr_in }
    struct node { i32 value; node[count] next; u32 count; }
    struct names { char name[8]; u8 raw[4]; hex16 words[40]; }
    flags poll_events : i16 { POLLIN = 1, POLLOUT = 4 }
    enum poll_result : i32 { Timeout = 0 }
    struct pollfd { fd fd; poll_events events input; poll_events revents output; }
    enum utime_nsec : long { UTIME_OMIT = 0x3ffffffe, UTIME_NOW = 0x3fffffff }
    struct utime_timespec dated { long tv_sec; utime_nsec tv_nsec alone; }
    struct sent { iovec vec input; u32 sent_len output; }
    struct got { iovec vec; u32 got_len output written; }
    table t {
        0 read(fd fd, out buf[ret] buf, size count) -> long;
        1 writev(fd fd, in iovec[vlen] vec, ulong vlen) -> long;
        2 readv(fd fd, out iovec[vlen] vec, ulong vlen) -> long;
        3 openat(fd dfd, cstr path, open_flags flags, mode_bits mode if flags & (O_CREAT | 0x400000)) -> fd;
        4 nanosleep(in timespec req, out timespec rem) -> long;
        5 fstat(fd fd, out st buf) -> long;
        6 pipe(out fd[2] fds) -> long;
        7 connect(fd fd, in sockaddr addr, u32 len) -> long;
        8 walk(in node root) -> long;
        9 names(in names n, in u32[count] list, u32 count) -> long;
        10 mount(mnt flags) -> long;
        11 pad(u32 a, u32 _, u32 b, u32 _) -> long;
        12 execve(cstr path, in cstr[nul] argv, in ptr envp) -> long;
        13 poll(inout pollfd[nfds] ufds, u32 nfds, i32 timeout) -> i32 (poll_result | ufds);
        14 select(i32 n, inout fd_set[n] inp, inout fd_set[n] outp, inout fd_set[n] exp, inout timespec tsp)
            -> i32 (poll_result | "in" inp, "out" outp, "except" exp, "left" tsp);
        15 utimensat(fd dfd, cstr path, in utime_timespec[2] times, u32 flags) -> i32;
        16 sendmany(fd fd, inout sent[vlen] msgs, u32 vlen) -> i32;
        17 recvmany(fd fd, out got[ret] msgs, u32 vlen) -> i32;
    }
"#;

pub(super) fn call(m: &Model, nr: u64) -> &Syscall {
    m.tables[0].find(nr).unwrap()
}

/// Entry texts of `nr` with `raw` arguments (hidden ones left out).
pub(super) fn entry_texts(m: &Model, nr: u64, raw: &[u64], cpu: &SnapshotCpu) -> Vec<String> {
    let raw: Vec<Option<u64>> = raw.iter().map(|v| Some(*v)).collect();
    decode_entry_args(m, call(m, nr), &raw, cpu, &DecodeOptions::default())
        .into_iter()
        .filter(|a| !a.hidden)
        .map(|a| a.text)
        .collect()
}

pub(super) fn exit_texts(
    m: &Model,
    nr: u64,
    raw: &[u64],
    ret: Option<u64>,
    cpu: &SnapshotCpu,
) -> Vec<String> {
    let raw: Vec<Option<u64>> = raw.iter().map(|v| Some(*v)).collect();
    let opts = DecodeOptions::default();
    let mut args = decode_entry_args(m, call(m, nr), &raw, cpu, &opts);
    decode_exit_args(m, call(m, nr), &mut args, ret, cpu, &opts);
    args.into_iter()
        .filter(|a| !a.hidden)
        .map(|a| a.text)
        .collect()
}

pub(super) fn le(v: u64, n: usize) -> Vec<u8> {
    v.to_le_bytes()[..n].to_vec()
}
