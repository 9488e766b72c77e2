/* Corpus, signals (see corpus.h): actions, masks, delivery into handlers,
 * signals waited for, an alternate stack and a signalfd. */
#include "corpus.h"
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>

static volatile int caught;

static void on_signal(int sig, siginfo_t *info, void *context)
{
    (void)info;
    (void)context;
    caught = sig;
}

int main(void)
{
    struct sigaction action, old;
    sigset_t set, oldset;
    siginfo_t info;
    struct timespec no_wait = {0, 0};
    stack_t stack = {.ss_sp = malloc(65536), .ss_size = 65536, .ss_flags = 0}, old_stack;
    /* Three: a count (384) beyond the pids the corpus's guests reach,
     * which normalising would turn into a process's name on one side
     * only where the two sides' pids differ (MIPS runs the programs
     * twice). */
    struct signalfd_siginfo sfd_info[3];
    int fd;

    corpus_begin("corpus-signal.d");
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_signal;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&action.sa_mask);
    sigaddset(&action.sa_mask, SIGUSR2);
    sigaction(SIGUSR1, &action, &old);
    kill(getpid(), SIGUSR1);
    raise(SIGUSR1);

    action.sa_handler = SIG_IGN;
    action.sa_flags = 0;
    sigaction(SIGPIPE, &action, NULL);
    sigaction(SIGPIPE, NULL, &old);
    sigaction(SIGTERM, NULL, &old);

    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, &oldset);
    kill(getpid(), SIGUSR2);
    sigpending(&oldset);
    sigtimedwait(&set, &info, &no_wait);
    sigtimedwait(&set, &info, &no_wait);
    sigfillset(&set);
    sigprocmask(SIG_SETMASK, &set, &oldset);
    sigemptyset(&set);
    sigprocmask(SIG_SETMASK, &set, NULL);

    sigaltstack(&stack, &old_stack);
    sigaltstack(NULL, &old_stack);

    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    read(fd, sfd_info, sizeof sfd_info);
    syscall(SYS_tgkill, getpid(), gettid(), SIGUSR2);
    sigtimedwait(&set, &info, &no_wait);
    close(fd);
    kill(getpid(), 0);
    corpus_end();
    return 0;
}
