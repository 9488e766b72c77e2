/*
 * osmtrace strace-comparison guest program: a static x86_64 binary whose
 * system calls between two markers are traced twice, by osmtrace in a QEMU
 * guest and by the host's `strace -f`, and compared line by line
 * (tests/tests/strace_compare.rs). Every call is a raw syscall(2) whose
 * result is the same on both sides: paths are relative to a fresh
 * directory, descriptors start at 3 after close_range, and the umask is
 * set before the first marker.
 *
 * Build: gcc -static -O1 -o strace-cmp strace-cmp.c
 *
 * Markers: openat(AT_FDCWD, "/osmtrace-cmp-begin", O_RDONLY) and
 * openat(AT_FDCWD, "/osmtrace-cmp-end", O_RDONLY), both failing with ENOENT.
 * Exit: exit_group(0).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
    int fd, fds[2];
    char buf[64], a[3], b[8];
    struct stat st;
    struct iovec out[2] = {{"ab", 2}, {"cde\n", 4}};
    struct iovec in[2] = {{a, 3}, {b, 8}};
    struct timespec ts = {0, 1000000};
    struct sockaddr_un sun = {.sun_family = AF_UNIX, .sun_path = "sock"};
    struct sockaddr_in sin = {
        .sin_family = AF_INET,
        .sin_port = __builtin_bswap16(9),
        .sin_addr = {__builtin_bswap32(0x7f000001)},
    };
    void *p;
    long pid;
    /* Signal sets as the kernel takes them: bit N-1 for signal N. */
    unsigned long none = 0, old = 0;
    unsigned long usr1_alrm = 1UL << (SIGUSR1 - 1) | 1UL << (SIGALRM - 1);
    unsigned long all_but_rt01 = ~(1UL << 31 | 1UL << 32);
    /* The kernel's struct sigaction on x86_64. */
    struct {
        void *handler;
        unsigned long flags;
        void *restorer;
        unsigned long mask;
    } ignore_usr2 = {(void *)1, 0x04000000 /* SA_RESTORER */ | SA_RESTART, (void *)0x1000,
                     1UL << (SIGUSR1 - 1)},
      old_action;

    /* The caller's umask is unknown: set it before the traced part. */
    syscall(SYS_umask, 022);

    syscall(SYS_openat, AT_FDCWD, "/osmtrace-cmp-begin", O_RDONLY);
    syscall(SYS_close_range, 3, ~0U, 0);
    pid = syscall(SYS_getpid);
    syscall(SYS_kill, pid, 0);
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8);
    syscall(SYS_rt_sigprocmask, SIG_BLOCK, &usr1_alrm, &old, 8);
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all_but_rt01, &old, 8);
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, &old, 8);
    syscall(SYS_rt_sigpending, &old, 8);
    syscall(SYS_rt_sigaction, SIGUSR2, &ignore_usr2, &old_action, 8);
    syscall(SYS_umask, 022);
    syscall(SYS_mkdir, "osmtrace-cmp.d", 0755);
    syscall(SYS_chdir, "osmtrace-cmp.d");
    fd = syscall(SYS_openat, AT_FDCWD, "f", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    syscall(SYS_write, fd, "hello, world\n", 13);
    syscall(SYS_writev, fd, out, 2);
    syscall(SYS_pwrite64, fd, "\0\1\2\377", 4, 100);
    syscall(SYS_ftruncate, fd, 19);
    syscall(SYS_close, fd);
    fd = syscall(SYS_openat, AT_FDCWD, "f", O_RDONLY);
    syscall(SYS_read, fd, buf, sizeof buf);
    syscall(SYS_lseek, fd, 0, SEEK_SET);
    syscall(SYS_readv, fd, in, 2);
    syscall(SYS_pread64, fd, buf, 4, 2);
    syscall(SYS_fstat, fd, &st);
    syscall(SYS_newfstatat, AT_FDCWD, "f", &st, 0);
    syscall(SYS_newfstatat, AT_FDCWD, "missing", &st, AT_SYMLINK_NOFOLLOW);
    syscall(SYS_access, "f", R_OK | W_OK);
    syscall(SYS_dup2, fd, 10);
    syscall(SYS_dup3, fd, 11, O_CLOEXEC);
    syscall(SYS_pipe2, fds, O_CLOEXEC);
    syscall(SYS_nanosleep, &ts, NULL);
    syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &ts, NULL);
    p = (void *)syscall(SYS_mmap, NULL, 8192, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    syscall(SYS_mprotect, p, 4096, PROT_READ);
    syscall(SYS_munmap, p, 8192);
    fd = syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    syscall(SYS_bind, fd, &sun, sizeof sun);
    /* An AF_INET address on a Unix socket: EINVAL on every kernel, so the
     * address is decoded without needing a network in the guest. */
    syscall(SYS_connect, fd, &sin, sizeof sin);
    syscall(SYS_socketpair, AF_UNIX, SOCK_DGRAM, 0, fds);
    syscall(SYS_sendto, fds[0], "ping", 4, MSG_DONTWAIT, NULL, 0);
    syscall(SYS_recvfrom, fds[1], buf, sizeof buf, 0, NULL, NULL);
    syscall(SYS_rename, "f", "g");
    syscall(SYS_unlink, "sock");
    syscall(SYS_unlinkat, AT_FDCWD, "g", 0);
    syscall(SYS_chdir, "..");
    syscall(SYS_rmdir, "osmtrace-cmp.d");
    syscall(SYS_openat, AT_FDCWD, "/osmtrace-cmp-end", O_RDONLY);
    syscall(SYS_exit_group, 0);
    return 0; /* not reached */
}
