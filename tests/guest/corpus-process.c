/* Corpus, processes (see corpus.h): identities, limits, process groups,
 * children that exit, are killed or exec, and waiting for them. */
#include "corpus.h"
#include <signal.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <grp.h>
#include <sys/wait.h>
#include <string.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <linux/sched.h>

int main(void)
{
    char name[16], ready;
    char *env[] = {"CORPUS=1", NULL};
    int p[2];
    gid_t groups[8];
    struct rlimit lim = {512, 1024}, old;
    int status;
    pid_t child;
    siginfo_t info;

    /* The host may give root supplementary groups (a container's): none,
     * as in the guest. */
    setgroups(0, NULL);
    corpus_begin("corpus-process.d");
    getpid();
    gettid();
    getuid();
    geteuid();
    getgid();
    getegid();
    getgroups(8, groups);
    setrlimit(RLIMIT_NOFILE, &lim);
    getrlimit(RLIMIT_NOFILE, &old);
    prlimit(0, RLIMIT_NOFILE, NULL, &old);
    prctl(PR_SET_NAME, "corpus-renamed");
    prctl(PR_GET_NAME, name);
    prctl(PR_SET_DUMPABLE, 1);
    prctl(PR_GET_DUMPABLE);
    /* Capabilities: a name, an unknown number, the secure bits; the
     * header of capget (without data: the host's sets may differ from
     * the guest's), capset's sets (refused: effective beyond permitted). */
    prctl(PR_CAPBSET_READ, CAP_KILL);
    prctl(PR_CAPBSET_READ, 64);
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_CHOWN, 0, 0);
    prctl(PR_GET_SECUREBITS);
    struct __user_cap_header_struct cap = {_LINUX_CAPABILITY_VERSION_3, 0};
    syscall(SYS_capget, &cap, NULL);
    struct __user_cap_data_struct sets[2] = {
        {1u << CAP_KILL, 1u << CAP_KILL, 0},
        {1u << (CAP_BPF - 32), 0, 0},
    };
    syscall(SYS_capset, &cap, sets);
    unsigned int action = SECCOMP_RET_LOG;
    syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action);
    syscall(SYS_seccomp, 7, 0, NULL);
    /* The persona: queried, changed, queried, restored. */
    personality(0xffffffff);
    personality(PER_LINUX | ADDR_NO_RANDOMIZE);
    personality(0xffffffff);
    personality(PER_LINUX);
    setpriority(PRIO_PROCESS, 0, 5);
    getpriority(PRIO_PROCESS, 0);
    sched_yield();
    sched_getscheduler(0);
    setpgid(0, 0);
    getpgid(0);
    umask(077);

    child = fork();
    if (child == 0)
        _exit(5);
    wait4(child, &status, 0, NULL);

    pipe(p);
    child = fork();
    if (child == 0) {
        write(p[1], "r", 1);
        kill(getpid(), SIGKILL);
        _exit(0);
    }
    read(p[0], &ready, 1);
    wait4(child, &status, 0, NULL);

    child = fork();
    if (child == 0) {
        execle("/nonexistent", "corpus-child", "again", (char *)NULL, env);
        _exit(1);
    }
    waitpid(child, &status, 0);
    /* waitid's siginfo, zeroed first: the kernel leaves its times. */
    child = fork();
    if (child == 0)
        _exit(4);
    memset(&info, 0, sizeof info);
    waitid(P_PID, child, &info, WEXITED);
    wait4(-1, &status, WNOHANG, NULL);
    /* clone3 as vfork: the child borrows the stack until it exits. */
    struct clone_args args = {.flags = CLONE_VFORK, .exit_signal = SIGCHLD};
    child = syscall(SYS_clone3, &args, sizeof args);
    if (child == 0)
        syscall(SYS_exit_group, 3);
    wait4(child, &status, 0, NULL);
    /* clone3 writing back the child's pid and a pidfd: strace shows them
       after ` => `. */
    int pidfd = -1;
    pid_t parent_tid = 0;
    struct clone_args back = {
        .flags = CLONE_VFORK | CLONE_PIDFD | CLONE_PARENT_SETTID,
        .pidfd = (unsigned long)&pidfd,
        .parent_tid = (unsigned long)&parent_tid,
        .exit_signal = SIGCHLD,
    };
    child = syscall(SYS_clone3, &back, sizeof back);
    if (child == 0)
        syscall(SYS_exit_group, 5);
    wait4(child, &status, 0, NULL);
    close(pidfd);
    corpus_end();
    return 0;
}
