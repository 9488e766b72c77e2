/*
 * osmtrace end-to-end guest program: a static binary whose system calls are
 * known, so a test can boot it in a QEMU guest and assert the trace.
 *
 * Build: gcc -static -O1 -pthread -o e2e e2e.c
 *        arm-linux-gnueabihf-gcc -static -O1 -pthread -o e2e e2e.c
 *        i686-linux-gnu-gcc -static -O1 -pthread -o e2e e2e.c (also run on x86_64)
 *
 * Output (stdout, nothing else): "osmtrace-e2e-write\n", "osmtrace-e2e-thread\n".
 * Exit: exit_group(7).
 *
 * System calls made after libc start-up, in order (raw syscall(2) unless noted):
 *   main:   openat(AT_FDCWD, "/osmtrace-e2e-missing", O_RDONLY) = -ENOENT
 *   main:   write(1, "osmtrace-e2e-write\n", 19) = 19
 *   main:   getpid()
 *   main:   pipe2(fds, 0) = 0
 *   main:   pthread_create(): libc's own calls (e.g. rt_sigaction, rt_sigprocmask,
 *           mmap, mprotect, clone3 or clone)
 *   reader: libc thread start-up (set_robust_list, rseq, rt_sigprocmask, ...),
 *           then gettid() = TID, then read(fds[0], buf, 1), which blocks
 *   main:   (no system calls until TID is published: it spins on memory)
 *   main:   1..n rounds of: openat(AT_FDCWD, "/proc/self/task/TID/syscall", O_RDONLY),
 *           read(fd, ...), close(fd), and, while the reader is not yet
 *           blocked in read(), nanosleep({0, 1ms}); the loop ends once the
 *           kernel reports the reader blocked in read, so the following
 *           calls happen while read() is in flight on the other thread
 *   main:   getppid()
 *   main:   uname(&buf) = 0
 *   main:   write(fds[1], "x", 1) = 1          (releases the reader)
 *   reader: read(...) returns 1
 *   reader: write(1, "osmtrace-e2e-thread\n", 20) = 20
 *   reader: libc thread exit (e.g. madvise, exit(0))
 *   main:   pthread_join(): possibly futex(FUTEX_WAIT...) on the reader's tid
 *   main:   exit_group(7)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

static int fds[2];
static int reader_tid; /* written once by the reader, read by main */

/* struct for the classic nanosleep syscall: two longs on both x86_64 and arm */
struct old_timespec {
    long tv_sec;
    long tv_nsec;
};

static void *reader(void *arg)
{
    char c;
    (void)arg;
    __atomic_store_n(&reader_tid, (int)syscall(SYS_gettid), __ATOMIC_RELEASE);
    if (syscall(SYS_read, fds[0], &c, 1) == 1)
        syscall(SYS_write, 1, "osmtrace-e2e-thread\n", 20);
    return NULL;
}

/* Is thread `tid` blocked in read()? /proc/self/task/TID/syscall starts
 * with the number of the system call the task is blocked in. */
static int blocked_in_read(int tid)
{
    char path[64], buf[32];
    char *p = path + sizeof path;
    const char *prefix = "/proc/self/task/", *suffix = "/syscall";
    int len, fd, nr = 0, i;
    long n;

    /* build the path by hand: snprintf would be fine too, but keep libc out */
    *--p = '\0';
    for (i = 7; i >= 0; i--)
        *--p = suffix[i];
    do {
        *--p = (char)('0' + tid % 10);
        tid /= 10;
    } while (tid);
    for (i = 15; i >= 0; i--)
        *--p = prefix[i];

    fd = (int)syscall(SYS_openat, AT_FDCWD, p, O_RDONLY);
    if (fd < 0)
        return 0;
    n = syscall(SYS_read, fd, buf, sizeof buf - 1);
    syscall(SYS_close, fd);
    if (n <= 0 || buf[0] < '0' || buf[0] > '9')
        return 0; /* "running" or "-1 ..." (blocked outside a system call) */
    for (len = 0; len < n && buf[len] >= '0' && buf[len] <= '9'; len++)
        nr = nr * 10 + (buf[len] - '0');
    return nr == SYS_read;
}

int main(void)
{
    pthread_t thread;
    struct utsname uts;
    struct old_timespec ms = {0, 1000000};
    int tid;
    char release;

    syscall(SYS_openat, AT_FDCWD, "/osmtrace-e2e-missing", O_RDONLY);
    syscall(SYS_write, 1, "osmtrace-e2e-write\n", 19);
    syscall(SYS_getpid);

    if (syscall(SYS_pipe2, fds, 0) != 0)
        syscall(SYS_exit_group, 1);
    if (pthread_create(&thread, NULL, reader, NULL) != 0)
        syscall(SYS_exit_group, 2);

    while ((tid = __atomic_load_n(&reader_tid, __ATOMIC_ACQUIRE)) == 0)
        ; /* spin without system calls; the reader publishes its tid */
    while (!blocked_in_read(tid))
        syscall(SYS_nanosleep, &ms, NULL);

    syscall(SYS_getppid);
    syscall(SYS_uname, &uts);
    /* The byte comes from the stack, which is mapped: a string literal may
     * sit in a page of the binary that nothing has touched yet (the kernel
     * maps it at the first fault), which a tracer cannot read. */
    release = 'x';
    syscall(SYS_write, fds[1], &release, 1);

    pthread_join(thread, NULL);
    syscall(SYS_exit_group, 7);
    return 7; /* not reached */
}
