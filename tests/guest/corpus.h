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
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
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

/* The network programs' loopback interface up (a guest's is down), before
 * the first marker. */
static inline void corpus_loopback_up(void)
{
    struct ifreq ifr = {0};
    int s = socket(AF_INET, SOCK_DGRAM, 0);

    strcpy(ifr.ifr_name, "lo");
    ioctl(s, SIOCGIFFLAGS, &ifr);
    ifr.ifr_flags |= IFF_UP;
    ioctl(s, SIOCSIFFLAGS, &ifr);
    close(s);
}

static void corpus_end(void)
{
    syscall(SYS_openat, AT_FDCWD, "/osmtrace-cmp-end", O_RDONLY);
}
