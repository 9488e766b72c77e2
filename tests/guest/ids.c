// What the guest's own names for tasks must show (tests/tests/ids.rs): a
// process that renames itself, starts a thread, forks a child that execs
// this program again, vforks one that only reports, and forks one more
// that takes turns with its parent, then two that wait in the same call
// from the same code at once and are let go oldest first. Every task says
// who it thinks it is in one write() of its own: "ids <who> pid=P tid=T
// ppid=Q comm=C\n", from getpid(), gettid(), getppid() and
// prctl(PR_GET_NAME), so the trace shows the values in the call's buffer
// even where returns are not traced; the same values come back from the
// calls themselves where they are.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// Reports each of two processes taking turns makes.
#define TURNS 8

// "ids <who> pid=P tid=T ppid=Q comm=C\n" for the calling task, in `line`.
static int describe(const char *who, char *line, size_t size) {
    char comm[17] = {0};
    long pid = syscall(SYS_getpid);
    long tid = syscall(SYS_gettid);
    long ppid = syscall(SYS_getppid);
    prctl(PR_GET_NAME, comm);
    return snprintf(line, size, "ids %s pid=%ld tid=%ld ppid=%ld comm=%s\n", who, pid, tid, ppid,
                    comm);
}

static void report(const char *who) {
    char line[128];
    int n = describe(who, line, sizeof line);
    if (write(1, line, n) != n) _exit(2);
}

// Reports `TURNS` times, taking turns with the other process through two
// pipes. Every call is made from here through syscall(), so that one
// process's last call before the kernel switches to the other has the
// same registers as the other's first call after (on MIPS, whose identity
// is the stack pointer, the same identity too).
static void take_turns(const char *who, int in, int out, int first) {
    char line[128], token = 't';
    int n = describe(who, line, sizeof line);
    for (int i = 0; i < TURNS; i++) {
        if ((i > 0 || !first) && syscall(SYS_read, in, &token, 1) != 1) _exit(6);
        if (syscall(SYS_write, 1, line, n) != n) _exit(2);
        if (syscall(SYS_write, out, &token, 1) != 1) _exit(6);
    }
}

// Waits for what the parent writes to `gate` (3 bytes for the first child,
// 5 for the second), then reports. Both children call this from the same
// code with the same stack: their reads have the same registers, and on
// MIPS the same identity.
static void wait_at_gate(const char *who, int gate) {
    char buf[16];
    if (syscall(SYS_read, gate, buf, sizeof buf) <= 0) _exit(7);
    report(who);
}

// Lets the guest's scheduler run the children until they block.
static void pause_briefly(void) {
    struct timespec wait = {0, 300 * 1000 * 1000};
    nanosleep(&wait, NULL);
}

static void *thread_main(void *arg) {
    (void)arg;
    report("thread");
    return NULL;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "exec-child") == 0) {
        report("exec-child");
        return 0;
    }
    report("main");
    prctl(PR_SET_NAME, "ids-renamed");
    report("renamed");

    pthread_t thread;
    if (pthread_create(&thread, NULL, thread_main, NULL) != 0) return 1;
    pthread_join(thread, NULL);

    pid_t child = fork();
    if (child == 0) {
        report("fork-child");
        execl(argv[0], argv[0], "exec-child", (char *)NULL);
        _exit(3);
    }
    int status;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return 4;

    pid_t vchild = vfork();
    if (vchild == 0) {
        report("vfork-child");
        _exit(0);
    }
    if (waitpid(vchild, &status, 0) != vchild || !WIFEXITED(status)) return 5;

    // A parent and a fork child taking turns, calling from the same code
    // with the same stack and thread pointers: the same registers, other
    // tasks.
    int to_child[2], to_parent[2];
    if (pipe(to_child) != 0 || pipe(to_parent) != 0) return 6;
    pid_t turns = fork();
    if (turns == 0) {
        take_turns("turn-child", to_child[0], to_parent[1], 0);
        _exit(0);
    }
    take_turns("turn-parent", to_parent[0], to_child[1], 1);
    if (waitpid(turns, &status, 0) != turns || !WIFEXITED(status)) return 6;

    // Two children blocked in read() at once, the same registers in both;
    // the one that blocked first returns first.
    int gates[2][2];
    pid_t blocked[2];
    const char *whos[2] = {"blocked-first", "blocked-second"};
    for (int k = 0; k < 2; k++) {
        if (pipe(gates[k]) != 0) return 7;
    }
    for (int k = 0; k < 2; k++) {
        blocked[k] = fork();
        if (blocked[k] == 0) {
            wait_at_gate(whos[k], gates[k][0]);
            _exit(0);
        }
        pause_briefly();
    }
    const char *gifts[2] = {"aaa", "bbbbb"};
    for (int k = 0; k < 2; k++) {
        size_t len = strlen(gifts[k]);
        if (write(gates[k][1], gifts[k], len) != (ssize_t)len) return 7;
        if (waitpid(blocked[k], &status, 0) != blocked[k] || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            return 7;
    }
    report("end");
    return 0;
}
