/*
 * osmtrace "hard cases" guest program: calls whose entry and exit are hard
 * to pair, done one after the other in a known order, each announced on
 * stdout with the values the kernel gave, so a test can check the trace
 * against what really happened (tests/tests/hard_cases.rs).
 *
 * Build: gcc -static -O1 -pthread -o hard hard.c
 *        (also arm-linux-gnueabihf-gcc, aarch64-linux-gnu-gcc)
 * Run as /hard in the guest; `/hard exec` is the image the exec case runs.
 *
 * Output lines all start with "hard: "; the program's own system calls are
 * raw syscall(2) calls unless noted, so their numbers and arguments are
 * known:
 *
 *  pid=P                 main's getpid
 *  execve-missing=R      execve("/hard-missing", ...) = -ENOENT (R = -2)
 *  blocking: two reader threads each block in read() on their own pipe
 *  (fds printed); while both are blocked main calls getppid and uname,
 *  writes 5 bytes "bbbbb" to the second pipe, joins the second reader,
 *  calls getppid, writes 3 bytes "aaa" to the first pipe, joins the first.
 *  Each reader, once read() returned, prints and returns from its thread
 *  (glibc ends a thread with exit(0)).
 *   reader fd=F ret=N    one line per reader, in the order they returned
 *  fork=C                libc fork() (the clone syscall); the child calls
 *                        getpid, prints "fork-child getpid=C", exit_group(4)
 *  fork-status=4
 *  rawfork=C             syscall(SYS_fork), where the ABI has it (x86_64,
 *                        arm); the child calls getpid and exit_group(5)
 *  rawfork-status=5
 *  vfork=C               libc vfork(): the child (same memory, same TLS)
 *                        calls getpid and exit_group(6) before the parent
 *                        returns
 *  vfork-status=6
 *  exec-child=C          a fork child execve()s "/hard" "exec"; the new
 *                        image prints "exec-image pid=C", exit_group(3)
 *  exec-status=3
 *  eintr: SIGUSR1 has a handler without SA_RESTART (and without
 *  SA_SIGINFO); a reader thread blocks in read() on a pipe, main sends it
 *  SIGUSR1 with tgkill; the handler writes "hard: usr1 handler\n"; read
 *  returns -EINTR.
 *   reader fd=F ret=-4
 *  restart: SIGUSR2 has a handler with SA_RESTART|SA_SIGINFO; a reader
 *  thread blocks in read(), main sends SIGUSR2, waits for the handler to
 *  have run ("hard: usr2 handler\n") and for the read to block again,
 *  then writes "cc": the restarted read returns 2.
 *   reader fd=F ret=2
 *  stop: a fork child blocks in read() on a pipe; main stops it (SIGSTOP,
 *  seen by wait4 with WUNTRACED), continues it (SIGCONT: no handler, so
 *  the kernel restarts the read) and writes "dd"; the child then blocks in
 *  nanosleep(1000 s); main stops and continues it again (nanosleep is
 *  restarted as restart_syscall), waits until it sleeps again and sends
 *  SIGUSR1 (the inherited handler): the sleep ends with -EINTR.
 *   stop-child=C
 *   stopped-read=2       (printed by the child)
 *   stopped-sleep=-4     (printed by the child), then exit_group(8)
 *   stop-status=8
 *  done                  then exit_group(9)
 *
 * Main waits for a thread or process to block by reading
 * /proc/.../syscall (the number of the call a task is blocked in), with a
 * 1 ms nanosleep between looks, so the order above does not depend on
 * timing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* the classic nanosleep syscall's timespec: two longs on every ABI here */
struct old_timespec {
    long tv_sec;
    long tv_nsec;
};

static void say(const char *format, ...)
{
    char line[160];
    va_list ap;
    int n;

    va_start(ap, format);
    n = vsnprintf(line, sizeof line, format, ap); /* no system call */
    va_end(ap);
    syscall(SYS_write, 1, line, (size_t)n);
}

static long result(long r)
{
    return r == -1 ? -errno : r;
}

static void pause_1ms(void)
{
    struct old_timespec ms = {0, 1000000};
    syscall(SYS_nanosleep, &ms, NULL);
}

/* The number of the system call the task in `path` is blocked in, or -1
 * (running, or blocked outside a system call). */
static long blocked_in(const char *path)
{
    char buf[32];
    long fd, n, nr = 0, i;

    fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY);
    if (fd < 0)
        return -1;
    n = syscall(SYS_read, fd, buf, sizeof buf - 1);
    syscall(SYS_close, fd);
    if (n <= 0 || buf[0] < '0' || buf[0] > '9')
        return -1;
    for (i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
        nr = nr * 10 + (buf[i] - '0');
    return nr;
}

static void wait_thread_blocked(int tid, long nr)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
    while (blocked_in(path) != nr)
        pause_1ms();
}

static void wait_process_blocked(int pid, long nr)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/syscall", pid);
    while (blocked_in(path) != nr)
        pause_1ms();
}

/* The state letter of process `pid` (R, S, T, ...) from /proc/PID/stat. */
static char process_state(int pid)
{
    char path[64], buf[128];
    long fd, n, i;

    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY);
    if (fd < 0)
        return '?';
    n = syscall(SYS_read, fd, buf, sizeof buf);
    syscall(SYS_close, fd);
    /* "PID (COMM) STATE ...": COMM is "hard", no parenthesis in it */
    for (i = 0; i + 2 < n; i++)
        if (buf[i] == ')' && buf[i + 1] == ' ')
            return buf[i + 2];
    return '?';
}

/* After SIGCONT: a stopped task shows the call it was stopped in, so
 * waiting for "blocked in a call" alone could see the stopped one; the
 * task sleeps again (S) only in the restarted call. */
static void wait_process_sleeping(int pid)
{
    while (process_state(pid) != 'S')
        pause_1ms();
}

struct reader {
    int fd;
    int tid; /* published by the reader */
    long ret;
    pthread_t thread;
};

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    char buf[16];

    __atomic_store_n(&r->tid, (int)syscall(SYS_gettid), __ATOMIC_RELEASE);
    r->ret = result(syscall(SYS_read, r->fd, buf, sizeof buf));
    say("hard: reader fd=%d ret=%ld\n", r->fd, r->ret);
    return NULL;
}

/* Starts a reader on a new pipe and waits until it is blocked in read();
 * returns the pipe's write end. */
static int start_reader(struct reader *r)
{
    int fds[2];

    if (syscall(SYS_pipe2, fds, 0) != 0)
        syscall(SYS_exit_group, 1);
    r->fd = fds[0];
    r->tid = 0;
    if (pthread_create(&r->thread, NULL, reader_main, r) != 0)
        syscall(SYS_exit_group, 2);
    while (__atomic_load_n(&r->tid, __ATOMIC_ACQUIRE) == 0)
        pause_1ms();
    wait_thread_blocked(r->tid, SYS_read);
    return fds[1];
}

static int wait_status(int pid, int options)
{
    int status = 0;
    if (result(syscall(SYS_wait4, pid, &status, options, NULL)) != pid)
        syscall(SYS_exit_group, 10);
    return status;
}

static int exit_code(int pid)
{
    return WEXITSTATUS(wait_status(pid, 0));
}

static volatile int usr2_seen;

static void on_usr1(int sig)
{
    (void)sig;
    syscall(SYS_write, 1, "hard: usr1 handler\n", 19);
}

static void on_usr2(int sig, siginfo_t *info, void *context)
{
    (void)sig;
    (void)info;
    (void)context;
    syscall(SYS_write, 1, "hard: usr2 handler\n", 19);
    __atomic_store_n(&usr2_seen, 1, __ATOMIC_RELEASE);
}

static void blocking_threads(void)
{
    struct reader first, second;
    struct utsname uts;
    int first_w = start_reader(&first);
    int second_w = start_reader(&second);

    /* both readers are blocked in read() now */
    syscall(SYS_getppid);
    syscall(SYS_uname, &uts);
    syscall(SYS_write, second_w, "bbbbb", 5);
    pthread_join(second.thread, NULL);
    syscall(SYS_getppid);
    syscall(SYS_write, first_w, "aaa", 3);
    pthread_join(first.thread, NULL);
}

static void forks(void)
{
    int pid = fork();
    if (pid == 0) {
        say("hard: fork-child getpid=%ld\n", syscall(SYS_getpid));
        syscall(SYS_exit_group, 4);
    }
    say("hard: fork=%d\n", pid);
    say("hard: fork-status=%d\n", exit_code(pid));

#ifdef SYS_fork
    pid = (int)syscall(SYS_fork);
    if (pid == 0) {
        syscall(SYS_getpid);
        syscall(SYS_exit_group, 5);
    }
    say("hard: rawfork=%d\n", pid);
    say("hard: rawfork-status=%d\n", exit_code(pid));
#endif

    pid = vfork();
    if (pid == 0) {
        /* only system calls here: the child runs on the parent's stack */
        syscall(SYS_getpid);
        syscall(SYS_exit_group, 6);
    }
    say("hard: vfork=%d\n", pid);
    say("hard: vfork-status=%d\n", exit_code(pid));
}

static void exec_self(void)
{
    int pid = fork();
    if (pid == 0) {
        /* On the stack, which the child has touched: right after fork its
         * page tables lack the program's read-only data, which the tracer
         * would then show as addresses. */
        char path[] = "/hard", arg[] = "exec";
        char *args[] = {path, arg, NULL};
        syscall(SYS_execve, path, args, environ);
        syscall(SYS_exit_group, 99);
    }
    say("hard: exec-child=%d\n", pid);
    say("hard: exec-status=%d\n", exit_code(pid));
}

static void signals_in_threads(void)
{
    struct sigaction usr1 = {0}, usr2 = {0};
    struct reader r;
    int w;

    usr1.sa_handler = on_usr1;
    sigaction(SIGUSR1, &usr1, NULL);
    usr2.sa_sigaction = on_usr2;
    usr2.sa_flags = SA_RESTART | SA_SIGINFO;
    sigaction(SIGUSR2, &usr2, NULL);

    /* eintr */
    start_reader(&r);
    syscall(SYS_tgkill, (long)getpid(), (long)r.tid, SIGUSR1);
    pthread_join(r.thread, NULL);

    /* restart */
    w = start_reader(&r);
    syscall(SYS_tgkill, (long)getpid(), (long)r.tid, SIGUSR2);
    while (!__atomic_load_n(&usr2_seen, __ATOMIC_ACQUIRE))
        pause_1ms();
    /* after the handler the only read() it can block in is the restarted one */
    wait_thread_blocked(r.tid, SYS_read);
    syscall(SYS_write, w, "cc", 2);
    pthread_join(r.thread, NULL);
}

static void stop_and_continue(void)
{
    int fds[2], pid;

    if (syscall(SYS_pipe2, fds, 0) != 0)
        syscall(SYS_exit_group, 1);
    pid = fork();
    if (pid == 0) {
        char buf[16];
        struct old_timespec long_sleep = {1000, 0}, left;
        say("hard: stopped-read=%ld\n", result(syscall(SYS_read, fds[0], buf, sizeof buf)));
        say("hard: stopped-sleep=%ld\n", result(syscall(SYS_nanosleep, &long_sleep, &left)));
        syscall(SYS_exit_group, 8);
    }
    say("hard: stop-child=%d\n", pid);

    wait_process_blocked(pid, SYS_read);
    syscall(SYS_kill, pid, SIGSTOP);
    if (!WIFSTOPPED(wait_status(pid, WUNTRACED)))
        syscall(SYS_exit_group, 11);
    /* stopped on its way out of read(), which returned -ERESTARTSYS */
    syscall(SYS_kill, pid, SIGCONT);
    syscall(SYS_write, fds[1], "dd", 2);

    wait_process_blocked(pid, SYS_nanosleep);
    syscall(SYS_kill, pid, SIGSTOP);
    if (!WIFSTOPPED(wait_status(pid, WUNTRACED)))
        syscall(SYS_exit_group, 11);
    syscall(SYS_kill, pid, SIGCONT);
    wait_process_sleeping(pid);
    syscall(SYS_kill, pid, SIGUSR1);
    say("hard: stop-status=%d\n", exit_code(pid));
}

int main(int argc, char **argv)
{
    char *missing_args[] = {"/hard-missing", NULL};

    if (argc > 1 && strcmp(argv[1], "exec") == 0) {
        say("hard: exec-image pid=%ld\n", syscall(SYS_getpid));
        syscall(SYS_exit_group, 3);
    }
    say("hard: pid=%ld\n", syscall(SYS_getpid));
    say("hard: execve-missing=%ld\n",
        result(syscall(SYS_execve, "/hard-missing", missing_args, environ)));
    blocking_threads();
    forks();
    exec_self();
    signals_in_threads();
    stop_and_continue();
    say("hard: done\n");
    syscall(SYS_exit_group, 9);
    return 9; /* not reached */
}
