/* Corpus, timers that fire (see corpus.h): a POSIX timer whose signal
 * carries a value, set to a time already past so that it fires at once,
 * its signal waited for; timers of several clocks and notifications;
 * timerfd with absolute times; interval timers of every kind. Nothing
 * here depends on when it runs. */
#include "corpus.h"
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>

int main(void)
{
    struct sigevent sev;
    struct itimerspec past = {{0, 0}, {0, 1}}, off = {{0, 0}, {0, 0}}, old;
    struct itimerval quiet = {{0, 0}, {0, 0}}, was;
    struct timespec no_wait = {0, 0};
    sigset_t alarm_set;
    siginfo_t info;
    timer_t timer, other;
    int fd;

    memset(&info, 0, sizeof info);
    corpus_begin("corpus-timer.d");
    sigemptyset(&alarm_set);
    sigaddset(&alarm_set, SIGALRM);
    sigprocmask(SIG_BLOCK, &alarm_set, NULL);

    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGALRM;
    sev.sigev_value.sival_int = 5;
    timer_create(CLOCK_MONOTONIC, &sev, &timer);
    timer_settime(timer, TIMER_ABSTIME, &past, &old);
    sigtimedwait(&alarm_set, &info, NULL);
    timer_getoverrun(timer);
    timer_delete(timer);

    sev.sigev_notify = SIGEV_NONE;
    sev.sigev_signo = 0;
    timer_create(CLOCK_REALTIME, &sev, &other);
    timer_delete(other);
    timer_create(CLOCK_BOOTTIME, NULL, &other);
    timer_delete(other);
    timer_create(CLOCK_PROCESS_CPUTIME_ID, &sev, &other);
    timer_delete(other);
    timer_create(99, &sev, &other);

    fd = timerfd_create(CLOCK_REALTIME, 0);
    timerfd_settime(fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &off, NULL);
    close(fd);

    setitimer(ITIMER_VIRTUAL, &quiet, &was);
    setitimer(ITIMER_PROF, &quiet, NULL);
    getitimer(ITIMER_REAL, &was);
    sigtimedwait(&alarm_set, &info, &no_wait);
    corpus_end();
    return 0;
}
