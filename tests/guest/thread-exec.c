/* execve in a process with threads, compared with the guest's strace
 * (tests/tests/strace_corpus.rs): first a thread that is not the leader
 * execs while the leader and another thread are blocked in read (the
 * kernel ends them; the caller takes the leader's pid, strace's `+++
 * superseded by execve in pid N +++`), then the new image's leader execs
 * while a thread of its own is blocked. The image after that ends the
 * comparison with the end marker. Only the blocked threads' reaching
 * their read is left to a sleep. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int idle[2];

static void *block(void *unused)
{
    char byte;

    (void)unused;
    syscall(SYS_read, idle[0], &byte, 1);
    return NULL;
}

static void settle(void)
{
    struct timespec pause = {0, 300000000};

    nanosleep(&pause, NULL);
}

static void exec_stage(char *stage)
{
    char *argv[] = {"thread-exec", stage, NULL};
    char *envp[] = {NULL};

    execve("/proc/self/exe", argv, envp);
}

static void *exec_from_thread(void *unused)
{
    (void)unused;
    settle();
    exec_stage("leader");
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t thread;
    char byte;

    if (argc < 2) {
        syscall(SYS_openat, AT_FDCWD, "/osmtrace-cmp-begin", O_RDONLY);
        pipe(idle);
        pthread_create(&thread, NULL, block, NULL);
        pthread_create(&thread, NULL, exec_from_thread, NULL);
        syscall(SYS_read, idle[0], &byte, 1);
        return 1;
    }
    if (strcmp(argv[1], "leader") == 0) {
        pipe(idle);
        pthread_create(&thread, NULL, block, NULL);
        settle();
        exec_stage("done");
        return 1;
    }
    syscall(SYS_openat, AT_FDCWD, "/osmtrace-cmp-end", O_RDONLY);
    return 0;
}
