/*
 * osmtrace oracle program: a static binary whose system calls are traced
 * twice, by osmtrace in a QEMU guest and by an independent tracer on the
 * host (`qemu-<arch> -strace`, and on x86_64 `strace -ff`), and compared
 * thread by thread (tests/tests/oracle.rs). It builds with Debian's gcc and
 * every cross gcc, so it uses only calls every Linux architecture has (the
 * *at calls, pipe2, dup3, renameat2) and libc's wrappers where the system
 * call differs between architectures (pread, fstat, fcntl).
 *
 * Build: gcc -static -O1 -pthread -o oracle oracle.c   (or a cross gcc)
 *
 * Deterministic by construction, so both runs make the same calls with the
 * same results: it works in a directory it creates in its working
 * directory, descriptors from 3 up are closed first so the numbers it gets
 * are known, and only one thread makes calls of its own at a time: the
 * worker waits until pthread_create has returned in the main thread, and
 * the main thread waits for the worker by spinning on pthread_tryjoin_np,
 * both without system calls, so neither thread's sequence depends on
 * timing. (Only libc's start-up calls in the new thread can overlap the
 * end of pthread_create in the main thread.)
 *
 * The program checks every result itself, the bytes it reads back too
 * (the test checks the output buffers of the trace against the same data,
 * as the program's own calls wrote it), and prints one line on stdout:
 * "osmtrace-oracle: ok" or "osmtrace-oracle: unexpected result at line N".
 * Exit: exit_group(0), or exit_group(1) after an unexpected result.
 *
 * Strings passed to the kernel are read by the program first (touch()):
 * osmtrace reads guest memory through the page tables and cannot fault a
 * page in, so an argument on a page nobody has touched yet would show as
 * its address (README, "unreadable arguments").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#define DIR_NAME "osmtrace-oracle.d"

static int fds[2];
static int failed_line;
static int worker_may_start; /* set once pthread_create has returned */

static void check(int ok, int line)
{
    if (!ok && !failed_line)
        failed_line = line;
}

/* The call returned `want` (or -1 and set errno to `err` when want is -1). */
#define EXPECT(call, want) check((call) == (want), __LINE__)
#define EXPECT_ERRNO(call, err) check((call) == -1 && errno == (err), __LINE__)

static const char *touch(const char *s)
{
    const volatile char *p = s;
    while (*p)
        p++;
    return s;
}

static void *worker(void *arg)
{
    char buf[16];
    (void)arg;
    while (!__atomic_load_n(&worker_may_start, __ATOMIC_ACQUIRE))
        ; /* no system call until the main thread is out of pthread_create */
    /* The main thread wrote "ping" before creating this thread. */
    EXPECT(syscall(SYS_read, fds[0], buf, sizeof buf), 4);
    check(memcmp(buf, "ping", 4) == 0, __LINE__);
    EXPECT(syscall(SYS_openat, AT_FDCWD, touch("thread-file"),
                   O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600), 6);
    EXPECT_ERRNO(syscall(SYS_openat, AT_FDCWD, touch("thread-file"),
                         O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600), EEXIST);
    EXPECT(syscall(SYS_write, 6, touch("written by the worker\n"), 22), 22);
    EXPECT(syscall(SYS_close, 6), 0);
    EXPECT(syscall(SYS_unlinkat, AT_FDCWD, touch("thread-file"), 0), 0);
    syscall(SYS_gettid);
    EXPECT(syscall(SYS_write, fds[1], touch("pong"), 4), 4);
    return NULL;
}

/* Writes "osmtrace-oracle: ok" or the first unexpected line; no stdio, so
 * the only calls are the write and exit_group. */
static void report_and_exit(void)
{
    char line[64] = "osmtrace-oracle: unexpected result at line ";
    char digits[12];
    int len = 43, n = 0, l = failed_line;

    if (!failed_line) {
        syscall(SYS_write, 1, touch("osmtrace-oracle: ok\n"), 20);
        syscall(SYS_exit_group, 0);
    }
    do {
        digits[n++] = (char)('0' + l % 10);
        l /= 10;
    } while (l);
    while (n)
        line[len++] = digits[--n];
    line[len++] = '\n';
    syscall(SYS_write, 1, line, len);
    syscall(SYS_exit_group, 1);
}

int main(void)
{
    pthread_t thread;
    struct utsname uts;
    struct stat st;
    char buf[64];
    long pid;

    /* Whoever started the program may have left descriptors open. */
    EXPECT(syscall(SYS_close_range, 3, ~0U, 0), 0);
    pid = syscall(SYS_getpid);
    EXPECT(syscall(SYS_gettid), pid);
    syscall(SYS_getppid);
    EXPECT(syscall(SYS_kill, pid, 0), 0);
    EXPECT(syscall(SYS_uname, &uts), 0);
    EXPECT(syscall(SYS_sched_yield), 0);

    /* Files, with failing calls and their errno. */
    EXPECT(syscall(SYS_mkdirat, AT_FDCWD, touch(DIR_NAME), 0755), 0);
    EXPECT_ERRNO(syscall(SYS_mkdirat, AT_FDCWD, touch(DIR_NAME), 0755), EEXIST);
    EXPECT(syscall(SYS_chdir, touch(DIR_NAME)), 0);
    EXPECT_ERRNO(syscall(SYS_chdir, touch("missing")), ENOENT);
    EXPECT_ERRNO(syscall(SYS_openat, AT_FDCWD, touch("missing"), O_RDONLY), ENOENT);
    EXPECT(syscall(SYS_openat, AT_FDCWD, touch("data"),
                   O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), 3);
    EXPECT(syscall(SYS_write, 3, touch("hello, oracle\n"), 14), 14);
    EXPECT(syscall(SYS_close, 3), 0);
    EXPECT_ERRNO(syscall(SYS_close, 3), EBADF);
    EXPECT(syscall(SYS_openat, AT_FDCWD, touch("data"), O_RDONLY | O_CLOEXEC), 3);
    EXPECT(syscall(SYS_read, 3, buf, sizeof buf), 14);
    check(memcmp(buf, "hello, oracle\n", 14) == 0, __LINE__);
    EXPECT(syscall(SYS_lseek, 3, 7, SEEK_SET), 7);
    EXPECT(syscall(SYS_read, 3, buf, sizeof buf), 7);
    check(memcmp(buf, "oracle\n", 7) == 0, __LINE__);
    EXPECT(syscall(SYS_read, 3, buf, sizeof buf), 0);
    EXPECT(pread(3, buf, 5, 2), 5);
    check(memcmp(buf, "llo, ", 5) == 0, __LINE__);
    EXPECT(fstat(3, &st), 0);
    check(st.st_size == 14, __LINE__);
    EXPECT(syscall(SYS_dup3, 3, 10, O_CLOEXEC), 10);
    EXPECT(fcntl(10, F_GETFD), FD_CLOEXEC);
    EXPECT(syscall(SYS_close, 10), 0);
    EXPECT_ERRNO(syscall(SYS_read, 10, buf, 1), EBADF);
    EXPECT(syscall(SYS_faccessat, AT_FDCWD, touch("data"), R_OK), 0);
    EXPECT_ERRNO(syscall(SYS_faccessat, AT_FDCWD, touch("missing"), F_OK), ENOENT);
    EXPECT(syscall(SYS_symlinkat, touch("data"), AT_FDCWD, touch("link")), 0);
    EXPECT(syscall(SYS_readlinkat, AT_FDCWD, touch("link"), buf, sizeof buf), 4);
    check(memcmp(buf, "data", 4) == 0, __LINE__);
    EXPECT_ERRNO(syscall(SYS_readlinkat, AT_FDCWD, touch("data"), buf, sizeof buf), EINVAL);
    EXPECT(syscall(SYS_renameat2, AT_FDCWD, touch("link"), AT_FDCWD, touch("link2"), 0), 0);
    EXPECT_ERRNO(syscall(SYS_unlinkat, AT_FDCWD, touch("link"), 0), ENOENT);
    EXPECT(syscall(SYS_unlinkat, AT_FDCWD, touch("link2"), 0), 0);

    /* A pipe to the worker thread: it reads "ping" and answers "pong". */
    EXPECT(syscall(SYS_pipe2, fds, O_CLOEXEC), 0);
    check(fds[0] == 4 && fds[1] == 5, __LINE__);
    EXPECT(syscall(SYS_write, fds[1], touch("ping"), 4), 4);
    if (pthread_create(&thread, NULL, worker, NULL) != 0) {
        check(0, __LINE__);
    } else {
        __atomic_store_n(&worker_may_start, 1, __ATOMIC_RELEASE);
        while (pthread_tryjoin_np(thread, NULL) == EBUSY)
            ; /* no system call while the worker runs */
    }
    EXPECT(syscall(SYS_read, fds[0], buf, sizeof buf), 4);
    check(memcmp(buf, "pong", 4) == 0, __LINE__);

    EXPECT(syscall(SYS_close, fds[0]), 0);
    EXPECT(syscall(SYS_close, fds[1]), 0);
    EXPECT(syscall(SYS_close, 3), 0);
    EXPECT(syscall(SYS_unlinkat, AT_FDCWD, touch("data"), 0), 0);
    EXPECT(syscall(SYS_chdir, touch("..")), 0);
    EXPECT(syscall(SYS_unlinkat, AT_FDCWD, touch(DIR_NAME), AT_REMOVEDIR), 0);
    EXPECT_ERRNO(syscall(SYS_unlinkat, AT_FDCWD, touch(DIR_NAME), AT_REMOVEDIR), ENOENT);
    report_and_exit();
    return 0; /* not reached */
}
