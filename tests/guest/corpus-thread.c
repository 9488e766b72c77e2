/* Corpus, threads (see corpus.h): a thread that ends with exit, whose
 * status is its own `+++ exited` line, and a process whose exit_group
 * ends a thread blocked in read and one computing, in no call. The
 * threads are the C library's, each
 * with its own TLS (a model's thread identity), and each waits for what
 * it needs: only the blocked thread's reaching its read is left to a
 * sleep. */
#include "corpus.h"
#include <errno.h>
#include <pthread.h>
#include <sys/wait.h>
#include <time.h>

static int ready[2], idle[2];
static volatile int computing = 1;

static void *write_and_exit(void *unused)
{
    (void)unused;
    syscall(SYS_write, ready[1], "t", 1);
    syscall(SYS_exit, 3);
    return NULL;
}

static void *block(void *unused)
{
    char byte;

    (void)unused;
    syscall(SYS_write, ready[1], "b", 1);
    syscall(SYS_read, idle[0], &byte, 1);
    return NULL;
}

static void *compute(void *unused)
{
    (void)unused;
    syscall(SYS_write, ready[1], "c", 1);
    while (computing)
        ;
    return NULL;
}

int main(void)
{
    struct timespec pause = {0, 300000000};
    pthread_t thread;
    int status;
    char byte;
    pid_t child;

    corpus_begin("corpus-thread.d");
    pipe(ready);
    pipe(idle);
    pthread_create(&thread, NULL, write_and_exit, NULL);
    read(ready[0], &byte, 1);
    /* Until the kernel has cleared the thread's id at its end: no call. */
    while (pthread_tryjoin_np(thread, NULL) == EBUSY)
        ;

    child = fork();
    if (child == 0) {
        pthread_create(&thread, NULL, block, NULL);
        read(ready[0], &byte, 1);
        pthread_create(&thread, NULL, compute, NULL);
        read(ready[0], &byte, 1);
        nanosleep(&pause, NULL);
        syscall(SYS_exit_group, 4);
    }
    wait4(child, &status, 0, NULL);
    corpus_end();
    return 0;
}
