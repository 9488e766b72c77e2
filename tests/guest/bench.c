/*
 * osmtrace benchmark workloads, run in the guest by `cargo xtask bench`.
 *
 *   bench getppid N          N cheap system calls
 *   bench pipe N             N write/read pairs of 32 bytes on a pipe
 *                            (strings and buffers to decode)
 *   bench pipe-threads N T   the same, split over T threads, each with its
 *                            own pipe
 *
 * Raw syscall(2) throughout, so the count of calls is exactly what is asked
 * (plus libc start-up and thread creation).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char payload[32] = "osmtrace-bench-payload-012345678";

static void pipe_pairs(long n) {
    int fds[2];
    char buf[32];
    if (syscall(SYS_pipe2, fds, 0) != 0) {
        exit(2);
    }
    for (long i = 0; i < n; i++) {
        if (syscall(SYS_write, fds[1], payload, sizeof payload) != sizeof payload ||
            syscall(SYS_read, fds[0], buf, sizeof buf) != sizeof buf) {
            exit(3);
        }
    }
    syscall(SYS_close, fds[0]);
    syscall(SYS_close, fds[1]);
}

static long per_thread;

static void *thread_main(void *arg) {
    (void)arg;
    pipe_pairs(per_thread);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench getppid|pipe|pipe-threads N [THREADS]\n");
        return 1;
    }
    long n = atol(argv[2]);
    struct timespec start, end;
    /* The bench reads QEMU's CPU time as each of these marks reaches the
     * console, so each is written out before the clock is read. */
    printf("OSMTRACE-BENCH-START\n");
    fflush(stdout);
    clock_gettime(CLOCK_MONOTONIC, &start);
    if (strcmp(argv[1], "getppid") == 0) {
        for (long i = 0; i < n; i++) {
            syscall(SYS_getppid);
        }
    } else if (strcmp(argv[1], "pipe") == 0) {
        pipe_pairs(n);
    } else if (strcmp(argv[1], "pipe-threads") == 0 && argc >= 4) {
        int threads = atoi(argv[3]);
        pthread_t tids[64];
        if (threads < 1 || threads > 64) {
            return 1;
        }
        per_thread = n / threads;
        for (int i = 0; i < threads; i++) {
            pthread_create(&tids[i], NULL, thread_main, NULL);
        }
        for (int i = 0; i < threads; i++) {
            pthread_join(tids[i], NULL);
        }
    } else {
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    /* The workload's own time, without boot and poweroff: the bench's
     * per-call cost is measured on it (the guest clock follows the host's
     * under TCG without -icount). */
    printf("OSMTRACE-BENCH-NS %lld\n",
           (long long)(end.tv_sec - start.tv_sec) * 1000000000LL + (end.tv_nsec - start.tv_nsec));
    fflush(stdout);
    return 0;
}
