/* Corpus, more of paths (see corpus.h): unnamed files given a name,
 * links followed or not, exchanges, FIFOs, times set three ways, owners
 * left unchanged, directory listings, O_PATH descriptors. Nothing here
 * depends on the kernel's version or the file system. */
#include "corpus.h"
#include <dirent.h>
#include <stdio.h>
#include <sys/time.h>
#include <utime.h>

int main(void)
{
    struct timespec times[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
    struct timeval tv[2] = {{1, 0}, {2, 0}};
    struct utimbuf ub = {3, 4};
    char buf[256], proc[64];
    int dir, fd, path, p[2];

    corpus_begin("corpus-path.d");
    mkdir("d", 0700);
    dir = open("d", O_RDONLY | O_DIRECTORY);
    fd = openat(dir, ".", O_TMPFILE | O_RDWR, 0600);
    write(fd, "anonymous", 9);
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    linkat(AT_FDCWD, proc, dir, "named", AT_SYMLINK_FOLLOW);
    close(fd);
    symlinkat("named", dir, "link");
    readlinkat(dir, "link", buf, sizeof buf);
    openat(dir, "link", O_RDONLY | O_NOFOLLOW);
    path = openat(dir, "link", O_PATH | O_NOFOLLOW);
    fstatat(path, "", (struct stat *)buf, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
    close(path);
    mknodat(dir, "fifo", S_IFIFO | 0600, 0);
    syscall(SYS_renameat2, dir, "fifo", dir, "named", RENAME_EXCHANGE);
    syscall(SYS_renameat2, dir, "fifo", dir, "named", RENAME_NOREPLACE);
    faccessat(dir, "link", F_OK, AT_SYMLINK_NOFOLLOW);
    utimensat(dir, "fifo", times, 0);
    utimensat(dir, "link", NULL, AT_SYMLINK_NOFOLLOW);
    utimes("d/fifo", tv);
    utime("d/fifo", &ub);
    fchownat(dir, "link", -1, -1, AT_SYMLINK_NOFOLLOW);
    lchown("d/link", -1, -1);
    syscall(SYS_getdents64, dir, buf, sizeof buf);
    syscall(SYS_getdents64, dir, buf, sizeof buf);
    pipe2(p, O_DIRECT | O_CLOEXEC);
    close(p[0]);
    close(p[1]);
    unlinkat(dir, "link", 0);
    unlinkat(dir, "named", 0);
    unlinkat(dir, "fifo", 0);
    close(dir);
    unlinkat(AT_FDCWD, "d", AT_REMOVEDIR);
    sync();
    corpus_end();
    return 0;
}
