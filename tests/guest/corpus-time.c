/* Corpus, time (see corpus.h): sleeping, clock resolutions, timers whose
 * results do not depend on when they run. */
#include "corpus.h"
#include <signal.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>

int main(void)
{
    struct timespec res, ts = {0, 2000000}, past = {1, 0};
    struct itimerspec its = {{0, 0}, {300, 0}}, off = {{0, 0}, {0, 0}}, old;
    struct itimerval itv = {{0, 0}, {0, 0}}, oitv;
    struct sigevent sev = {.sigev_notify = SIGEV_NONE};
    timer_t timer;
    int fd;

    corpus_begin("corpus-time.d");
    clock_getres(CLOCK_MONOTONIC, &res);
    clock_getres(CLOCK_REALTIME, &res);
    clock_getres(CLOCK_BOOTTIME, NULL);
    clock_getres(99, &res);
    nanosleep(&ts, NULL);
    clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &past, NULL);
    clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &past, NULL);
    fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    timerfd_settime(fd, 0, &its, NULL);
    timerfd_settime(fd, 0, &off, NULL);
    timerfd_gettime(fd, &old);
    close(fd);
    timer_create(CLOCK_MONOTONIC, &sev, &timer);
    timer_settime(timer, 0, &off, NULL);
    timer_gettime(timer, &old);
    timer_getoverrun(timer);
    timer_delete(timer);
    setitimer(ITIMER_REAL, &itv, &oitv);
    getitimer(ITIMER_VIRTUAL, &oitv);
    alarm(0);
    corpus_end();
    return 0;
}
