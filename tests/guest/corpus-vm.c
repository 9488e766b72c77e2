/* Corpus, more of memory (see corpus.h): mappings placed and refused,
 * locking whole address spaces and on fault, advice of several kinds,
 * memory policy, a memory file's mapping and a program break queried.
 * Nothing here depends on the kernel's version or the machine. */
#include "corpus.h"
#include <sys/mman.h>

#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif

int main(void)
{
    char *p, *q;
    int fd, mode;

    corpus_begin("corpus-vm.d");
    p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    q = mmap(p, 65536, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    q = mmap(p, 65536, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    mprotect(q, 65536, PROT_READ | PROT_WRITE);
    syscall(SYS_mlock2, q, 65536, MLOCK_ONFAULT);
    munlock(q, 65536);
    mlockall(MCL_CURRENT | MCL_ONFAULT);
    munlockall();
    madvise(q, 65536, MADV_RANDOM);
    madvise(q, 65536, MADV_SEQUENTIAL);
    madvise(q, 65536, MADV_DONTFORK);
    madvise(q, 65536, MADV_DOFORK);
    madvise(q, 65536, MADV_FREE);
    madvise(q, 65536, MADV_DONTDUMP);
    madvise(q, 65536, MADV_DODUMP);
    madvise(q, 65536, 1234);
    msync(q, 65536, MS_INVALIDATE);
    munmap(q, 65536);

    fd = memfd_create("vm", 0);
    ftruncate(fd, 65536);
    p = mmap(NULL, 65536, PROT_READ, MAP_SHARED_VALIDATE, fd, 0);
    mmap(NULL, 65536, PROT_READ, MAP_SHARED_VALIDATE | 0x400000, fd, 0);
    mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 65536);
    munmap(p, 65536);
    close(fd);
    mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    syscall(SYS_get_mempolicy, &mode, NULL, 0, NULL, 0);
    corpus_end();
    return 0;
}
