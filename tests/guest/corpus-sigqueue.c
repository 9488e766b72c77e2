/* Corpus, signals sent with data and waited for (see corpus.h): queued
 * signals with a value, a signal to one thread, a wait that a pending
 * signal interrupts, a handler running on its own stack, a pidfd's
 * signal. Every signal is pending before the call that takes it, so
 * nothing depends on timing. */
#include "corpus.h"
#include <signal.h>
#include <string.h>

static volatile int caught;

static void on_signal(int sig, siginfo_t *info, void *context)
{
    (void)info;
    (void)context;
    caught = sig;
}

int main(void)
{
    struct sigaction action;
    sigset_t blocked, none, wait_for;
    siginfo_t info, queued;
    struct timespec no_wait = {0, 0};
    int pidfd;

    corpus_begin("corpus-sigqueue.d");
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_signal;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    sigaction(SIGUSR1, &action, NULL);
    action.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER;
    sigaction(SIGUSR2, &action, NULL);

    sigemptyset(&blocked);
    sigaddset(&blocked, SIGUSR1);
    sigaddset(&blocked, SIGRTMIN + 2);
    sigprocmask(SIG_BLOCK, &blocked, NULL);

    sigqueue(getpid(), SIGRTMIN + 2, (union sigval){.sival_int = 42});
    sigemptyset(&wait_for);
    sigaddset(&wait_for, SIGRTMIN + 2);
    sigtimedwait(&wait_for, &info, &no_wait);

    memset(&queued, 0, sizeof queued);
    queued.si_signo = SIGUSR1;
    queued.si_code = SI_QUEUE;
    queued.si_pid = getpid();
    queued.si_value.sival_int = 7;
    syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid(), SIGUSR1, &queued);
    sigemptyset(&none);
    sigsuspend(&none);

    syscall(SYS_tgkill, getpid(), gettid(), SIGUSR2);
    pidfd = syscall(SYS_pidfd_open, getpid(), 0);
    syscall(SYS_pidfd_send_signal, pidfd, SIGUSR1, NULL, 0);
    sigwaitinfo(&blocked, &info);
    close(pidfd);
    corpus_end();
    return 0;
}
