/* Corpus, files and descriptors (see corpus.h): creating, reading,
 * writing, inspecting, linking and removing files in a scratch directory. */
#include "corpus.h"
#include <stdio.h>
#include <sys/file.h>
#include <sys/uio.h>
#include <sys/inotify.h>
#include <sys/xattr.h>
#include <sys/mount.h>
#include <linux/mount.h>
#include <linux/mount.h>

int main(void)
{
    char buf[256];
    struct stat st;
    struct statx stx;
    struct iovec out[3] = {{"one ", 4}, {"two ", 4}, {"three\n", 6}};
    struct iovec in[2] = {{buf, 5}, {buf + 16, 7}};
    struct timespec times[2] = {{1000000000, 0}, {1000000001, 500}};
    int fd, dir;

    corpus_begin("corpus-file.d");
    fd = open("data", O_WRONLY | O_CREAT | O_EXCL, 0640);
    write(fd, "hello, corpus\n", 14);
    writev(fd, out, 3);
    pwrite(fd, "\x01\x02\xfe\xff", 4, 40);
    fsync(fd);
    fdatasync(fd);
    ftruncate(fd, 30);
    fchmod(fd, 0600);
    close(fd);
    close(fd);
    fd = creat("other", 0644);
    write(fd, "x", 1);
    close(fd);

    fd = openat(AT_FDCWD, "data", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    read(fd, buf, sizeof buf);
    lseek(fd, 4, SEEK_SET);
    readv(fd, in, 2);
    pread(fd, buf, 8, 0);
    lseek(fd, -2, SEEK_END);
    read(fd, buf, 10);
    read(fd, buf, 10);
    fstat(fd, &st);
    fcntl(fd, F_GETFD);
    fcntl(fd, F_SETFD, 0);
    fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    fcntl(fd, F_DUPFD_CLOEXEC, 20);
    flock(fd, LOCK_EX);
    flock(fd, LOCK_UN);
    dup(fd);
    dup2(fd, 30);
    dup3(fd, 31, O_CLOEXEC);

    stat("data", &st);
    lstat("missing", &st);
    fstatat(AT_FDCWD, "data", &st, AT_SYMLINK_NOFOLLOW);
    statx(AT_FDCWD, "missing", 0, STATX_BASIC_STATS, &stx);
    access("data", R_OK);
    access("data", X_OK);
    faccessat(AT_FDCWD, "other", W_OK, 0);
    chmod("other", 0755);
    chown("other", 0, 0);
    truncate("other", 3);
    utimensat(AT_FDCWD, "other", times, 0);
    times[0].tv_nsec = UTIME_NOW;
    times[1].tv_nsec = UTIME_OMIT;
    utimensat(AT_FDCWD, "other", times, 0);
    /* Extended attributes fail alike on both kernels on a missing file and
     * a closed descriptor; the value shows all the same. */
    setxattr("missing", "user.corpus", "value\n", 6, 0);
    getxattr("missing", "user.corpus", buf, sizeof buf);
    fsetxattr(99, "user.corpus", "v", 1, XATTR_CREATE);
    fd = inotify_init1(IN_CLOEXEC);
    inotify_add_watch(fd, ".", IN_CREATE | IN_DELETE | IN_ONLYDIR);
    inotify_add_watch(fd, ".", IN_MOVED_TO | IN_MASK_ADD);
    close(fd);
    struct mount_attr attr = {MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0, MS_PRIVATE, 0};
    syscall(SYS_mount_setattr, AT_FDCWD, "missing", AT_RECURSIVE, &attr, sizeof attr);

    symlink("data", "link");
    readlink("link", buf, sizeof buf);
    readlinkat(AT_FDCWD, "data", buf, sizeof buf);
    link("data", "hard");
    rename("hard", "hard2");
    renameat2(AT_FDCWD, "hard2", AT_FDCWD, "other", RENAME_NOREPLACE);
    mkdir("sub", 0700);
    mkdirat(AT_FDCWD, "sub", 0700);
    mknodat(AT_FDCWD, "fifo", S_IFIFO | 0600, 0);
    dir = open("sub", O_RDONLY | O_DIRECTORY);
    fd = openat(dir, "inner", O_RDWR | O_CREAT | O_TRUNC, 0600);
    /* Record locks: taken, released, and asked about (none held). */
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    fcntl(fd, F_SETLKW, &lock);
    lock.l_type = F_UNLCK;
    lock.l_whence = SEEK_CUR;
    lock.l_start = 10;
    lock.l_len = 100;
    fcntl(fd, F_SETLK, &lock);
    lock.l_type = F_RDLCK;
    fcntl(fd, F_GETLK, &lock);
    close(fd);
    syscall(SYS_getdents64, dir, buf, sizeof buf);
    syscall(SYS_getdents64, dir, buf, sizeof buf);
    fchdir(dir);
    chdir("..");
    unlinkat(dir, "inner", 0);
    unlinkat(AT_FDCWD, "sub", AT_REMOVEDIR);
    close(dir);
    rmdir("nonexistent");
    unlink("fifo");
    unlink("link");
    unlink("hard2");
    unlink("other");
    open("data", O_WRONLY | O_CREAT | O_EXCL, 0600);
    corpus_end();
    return 0;
}
