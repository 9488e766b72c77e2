/*
 * What the corpus programs (corpus-*.c, tests/tests/strace_corpus.rs)
 * share: each is a static program whose calls between two markers are
 * traced by osmtrace in a QEMU guest and by the host's `strace -f`, and
 * compared line by line. Everything between the markers must give the same
 * result on both kernels: paths are relative to a scratch directory made
 * before the first marker, descriptors start at 3, the umask is set.
 *
 * Markers: openat(AT_FDCWD, "/osmtrace-cmp-begin", O_RDONLY) and
 * openat(AT_FDCWD, "/osmtrace-cmp-end", O_RDONLY), both failing with ENOENT.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void corpus_begin(const char *scratch)
{
    syscall(SYS_umask, 022);
    mkdir(scratch, 0755);
    if (chdir(scratch) != 0)
        exit(2);
    syscall(SYS_close_range, 3, ~0U, 0);
    syscall(SYS_openat, AT_FDCWD, "/osmtrace-cmp-begin", O_RDONLY);
}

static void corpus_end(void)
{
    syscall(SYS_openat, AT_FDCWD, "/osmtrace-cmp-end", O_RDONLY);
}
