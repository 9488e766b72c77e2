/* Threads started as Go's runtime starts them on most architectures:
 * clone(CLONE_VM | CLONE_THREAD | ...) without CLONE_SETTLS, so that each
 * calls with its parent's TLS pointer and the thread register does not
 * tell them apart (tests/tests/shared_identity.rs). Each thread blocks in
 * nanosleep while the others call, so that calls of several threads with
 * one identity are pending at once, and says what gettid told it. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define THREADS 3
#define ROUNDS 4

static char stacks[THREADS][65536] __attribute__((aligned(16)));
static long tids[THREADS];
static atomic_int done;

static void pause_ms(long ms)
{
    struct timespec pause = {0, ms * 1000000};

    syscall(SYS_nanosleep, &pause, NULL);
}

/* Only raw calls here: the C library's own state belongs to the main
 * thread, whose TLS this thread shares. */
static int worker(void *arg)
{
    long i = (long)arg;

    tids[i] = syscall(SYS_gettid);
    for (int round = 0; round < ROUNDS; round++) {
        syscall(SYS_getppid);
        pause_ms(3 + 2 * i);
    }
    atomic_fetch_add(&done, 1);
    syscall(SYS_exit, 0);
    return 0;
}

int main(void)
{
    int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;

    for (long i = 0; i < THREADS; i++) {
        if (clone(worker, stacks[i] + sizeof stacks[i], flags, (void *)i) < 0) {
            perror("clone");
            return 1;
        }
    }
    while (atomic_load(&done) < THREADS)
        pause_ms(1);
    /* The last thread's exit, after its count. */
    pause_ms(20);
    for (int i = 0; i < THREADS; i++)
        printf("shared-tls: thread %d tid %ld rounds %d\n", i, tids[i], ROUNDS);
    return 0;
}
