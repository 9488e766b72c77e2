/* Corpus, descriptors (see corpus.h): memory files and their seals, file
 * space, hints and syncs, data moved between descriptors in the kernel
 * (splice, tee, vmsplice, sendfile, copy_file_range), vectored reads and
 * writes with flags, openat2, faccessat2, descriptor flags, POSIX message
 * queues. Nothing here depends on the kernel's version or the machine. */
#include "corpus.h"
#include <linux/openat2.h>
#include <mqueue.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <termios.h>

int main(void)
{
    int mem, file, p[2], q[2], avail;
    char buf[16];
    loff_t in_off = 0, out_off = 0;
    off_t off = 0;
    struct iovec iov[2] = {{buf, 4}, {buf + 4, 4}};
    struct iovec gift = {"gift", 4};
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS};
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 4};
    struct mq_attr attr = {.mq_maxmsg = 4, .mq_msgsize = 16}, got;
    struct timespec never = {0, 0};
    unsigned int prio;
    mqd_t mq;

    corpus_begin("corpus-desc.d");
    mem = memfd_create("corpus", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    write(mem, "0123456789abcdef", 16);
    fcntl(mem, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW);
    fcntl(mem, F_GET_SEALS);
    ftruncate(mem, 4);
    fcntl(mem, F_GETFD);
    fcntl(mem, F_SETFD, 0);
    fcntl(mem, F_GETFL);
    fcntl(mem, F_SETFL, O_NONBLOCK);
    fcntl(mem, F_DUPFD_CLOEXEC, 10);
    close(10);
    lseek(mem, 0, SEEK_DATA);
    lseek(mem, 0, SEEK_HOLE);
    preadv(mem, iov, 2, 0);
    preadv2(mem, iov, 2, 8, RWF_HIPRI);
    pwritev2(mem, iov, 1, 0, RWF_DSYNC);

    file = open("data", O_RDWR | O_CREAT | O_TRUNC, 0600);
    fallocate(file, 0, 0, 8192);
    fallocate(file, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, 0, 4096);
    posix_fadvise(file, 0, 4096, POSIX_FADV_SEQUENTIAL);
    posix_fadvise(file, 0, 0, POSIX_FADV_DONTNEED);
    readahead(file, 0, 4096);
    sync_file_range(file, 0, 0, SYNC_FILE_RANGE_WRITE);
    syncfs(file);
    fcntl(file, F_SETLK, &lock);
    fcntl(file, F_GETLK, &lock);
    sendfile(file, mem, &off, 4);
    copy_file_range(mem, &in_off, file, &out_off, 4, 0);

    pipe2(p, O_NONBLOCK);
    pipe2(q, 0);
    fcntl(p[0], F_GETPIPE_SZ);
    fcntl(p[0], F_SETPIPE_SZ, 65536);
    write(p[1], "spliced", 7);
    ioctl(p[0], FIONREAD, &avail);
    tee(p[0], q[1], 7, SPLICE_F_NONBLOCK);
    splice(p[0], NULL, file, &in_off, 7, SPLICE_F_MOVE);
    splice(q[0], NULL, p[1], NULL, 7, 0);
    read(p[0], buf, sizeof buf);
    vmsplice(p[1], &gift, 1, SPLICE_F_GIFT | SPLICE_F_NONBLOCK);
    read(p[0], buf, sizeof buf);
    ioctl(mem, FIOCLEX);
    ioctl(mem, TCGETS, buf);

    syscall(SYS_openat2, AT_FDCWD, "data", &how, sizeof how);
    syscall(SYS_faccessat2, AT_FDCWD, "data", R_OK | W_OK, AT_EACCESS);
    fchownat(AT_FDCWD, "data", -1, -1, AT_SYMLINK_NOFOLLOW);
    fchmodat(AT_FDCWD, "data", 0640, 0);
    unlink("data");

    mq = mq_open("/osmtrace-corpus", O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
    mq_send(mq, "queued", 6, 3);
    mq_getattr(mq, &got);
    mq_receive(mq, buf, sizeof buf, &prio);
    mq_timedreceive(mq, buf, sizeof buf, &prio, &never);
    mq_unlink("/osmtrace-corpus");
    corpus_end();
    return 0;
}
