/* Signal delivery as strace shows it (tests/tests/signals.rs): each step
 * prints what the program itself saw, for the trace to be checked against.
 *
 *  kill: a SA_SIGINFO handler for SIGUSR1; kill(getpid(), SIGUSR1) returns
 *  0 into the handler, which keeps the siginfo it got (SI_USER, our pid
 *  and uid). SIGHUP is blocked first, so the frame's mask, which
 *  rt_sigreturn restores, is [HUP].
 *  plain: a handler without SA_SIGINFO for SIGUSR2 (a non-rt frame where
 *  the architecture has them); kill(getpid(), SIGUSR2) returns 0 into it.
 *  blocked: alarm(1), then read() on an empty pipe; SIGALRM (SA_SIGINFO,
 *  no SA_RESTART) interrupts it, so it returns -1 EINTR into the handler;
 *  the siginfo says SI_KERNEL.
 *  chained: write() to a pipe without a reader returns -1 EPIPE into a
 *  SIGPIPE handler (SA_SIGINFO, SIGWINCH in its mask), which sends itself
 *  SIGWINCH; that signal waits for the handler's rt_sigreturn, whose
 *  return (the restored -EPIPE) goes into the SIGWINCH handler.
 *  busy: a timer's SIGALRM interrupts a loop in user code, outside any
 *  call: the kernel enters the handler from an interrupt's return.
 *  busy-plain: the same into a handler without SA_SIGINFO (a non-rt frame
 *  where the architecture has them).
 *  wait: a child that SIGTERM kills; wait4() returns its status.
 *  Then the process exits with status 7.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int got_signo, got_code, got_pid, got_uid, plain_signo;
static volatile int pipe_signo, chained_signo;
static volatile long self_pid;

static void on_plain(int sig)
{
    plain_signo = sig;
}

static void on_signal(int sig, siginfo_t *info, void *context)
{
    (void)sig;
    (void)context;
    got_signo = info->si_signo;
    got_code = info->si_code;
    got_pid = info->si_pid;
    got_uid = info->si_uid;
}

static void on_pipe(int sig, siginfo_t *info, void *context)
{
    (void)info;
    (void)context;
    pipe_signo = sig;
    syscall(SYS_kill, self_pid, SIGWINCH);
}

static void on_chained(int sig, siginfo_t *info, void *context)
{
    (void)info;
    (void)context;
    chained_signo = sig;
}

static void report(const char *what, long ret, int err)
{
    dprintf(1, "signals: %s ret=%ld errno=%d signo=%d code=%d pid=%d uid=%d\n", what, ret,
            err, got_signo, got_code, got_pid, got_uid);
}

int main(void)
{
    struct sigaction action = {0};
    action.sa_sigaction = on_signal;
    action.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &action, NULL);
    sigaction(SIGALRM, &action, NULL);

    sigset_t blocked;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGHUP);
    sigprocmask(SIG_BLOCK, &blocked, NULL);

    dprintf(1, "signals: pid=%d\n", getpid());
    long ret = syscall(SYS_kill, (long)getpid(), SIGUSR1);
    report("kill", ret, 0);

    struct sigaction plain = {0};
    plain.sa_handler = on_plain;
    sigaction(SIGUSR2, &plain, NULL);
    ret = syscall(SYS_kill, (long)getpid(), SIGUSR2);
    dprintf(1, "signals: plain ret=%ld signo=%d\n", ret, plain_signo);

    int fds[2];
    if (pipe(fds) != 0)
        return 1;
    alarm(1);
    char byte;
    ret = read(fds[0], &byte, 1);
    report("read", ret, errno);

    struct sigaction on_broken = {0};
    on_broken.sa_sigaction = on_pipe;
    on_broken.sa_flags = SA_SIGINFO;
    sigaddset(&on_broken.sa_mask, SIGWINCH);
    sigaction(SIGPIPE, &on_broken, NULL);
    struct sigaction next = {0};
    next.sa_sigaction = on_chained;
    next.sa_flags = SA_SIGINFO;
    sigaction(SIGWINCH, &next, NULL);
    self_pid = getpid();
    int broken[2];
    if (pipe(broken) != 0)
        return 1;
    close(broken[0]);
    ret = write(broken[1], "x", 1);
    dprintf(1, "signals: chained ret=%ld errno=%d pipe=%d next=%d\n", ret, errno, pipe_signo,
            chained_signo);

    got_signo = 0;
    struct itimerval soon = {{0, 0}, {0, 20000}};
    setitimer(ITIMER_REAL, &soon, NULL);
    while (!got_signo)
        ;
    report("busy", 0, 0);

    plain_signo = 0;
    sigaction(SIGALRM, &plain, NULL);
    setitimer(ITIMER_REAL, &soon, NULL);
    while (!plain_signo)
        ;
    dprintf(1, "signals: busy-plain signo=%d\n", plain_signo);

    pid_t child = fork();
    if (child == 0) {
        kill(getpid(), SIGTERM);
        _exit(1);
    }
    int status = 0;
    ret = syscall(SYS_wait4, (long)child, &status, 0, NULL);
    dprintf(1, "signals: wait ret=%ld status=%d\n", ret, status);
    exit(7);
}
