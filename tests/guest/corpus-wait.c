/* Corpus, children waited for in other ways (see corpus.h): a pidfd's
 * child, a process group's, any child without waiting, a program that is
 * not there, signals to a whole group, a child not ready yet. Each child
 * exits with its own status before the wait that takes it, so nothing
 * depends on timing. */
#include "corpus.h"
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

int main(void)
{
    siginfo_t info;
    int status, pidfd, fds[2];
    char byte;
    pid_t child;
    char *argv[] = {"missing", "-x", NULL};
    char *envp[] = {"CORPUS=1", NULL};

    /* waitid writes no CPU times: zeroed, they are the same everywhere. */
    memset(&info, 0, sizeof info);
    corpus_begin("corpus-wait.d");
    child = fork();
    if (child == 0)
        _exit(3);
    pidfd = syscall(SYS_pidfd_open, child, 0);
    waitid(P_PIDFD, pidfd, &info, WEXITED);
    close(pidfd);

    child = vfork();
    if (child == 0)
        _exit(4);
    waitid(P_PGID, 0, &info, WEXITED);
    waitid(P_ALL, 0, &info, WEXITED | WNOHANG);
    wait4(-1, &status, WNOHANG, NULL);

    /* A child that cannot exit before the pipe closes: waitid without
     * waiting finds nothing, and the kernel writes a zeroed siginfo. */
    pipe(fds);
    child = fork();
    if (child == 0) {
        close(fds[1]);
        read(fds[0], &byte, 1);
        _exit(5);
    }
    close(fds[0]);
    waitid(P_ALL, 0, &info, WEXITED | WNOHANG);
    close(fds[1]);
    waitid(P_PID, child, &info, WEXITED);

    execve("/osmtrace-missing", argv, envp);
    setpgid(0, 0);
    kill(0, 0);
    kill(-getpid(), 0);
    syscall(SYS_tgkill, getpid(), getpid(), 0);
    corpus_end();
    return 0;
}
