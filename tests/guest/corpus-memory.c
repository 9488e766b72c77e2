/* Corpus, memory (see corpus.h): anonymous and file mappings, protection,
 * advice, remapping, locking and residency. */
#include "corpus.h"
#include <sys/mman.h>

int main(void)
{
    unsigned char vec[4];
    char *p, *q;
    int fd;

    corpus_begin("corpus-memory.d");
    p = mmap(NULL, 16384, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    p[0] = 1;
    p = mremap(p, 16384, 32768, MREMAP_MAYMOVE);
    mprotect(p, 4096, PROT_READ);
    mprotect(p + 4096, 4096, PROT_NONE);
    madvise(p, 16384, MADV_DONTNEED);
    madvise(p, 16384, MADV_WILLNEED);
    mincore(p, 16384, vec);
    mlock(p + 8192, 4096);
    munlock(p + 8192, 4096);
    q = mremap(p + 16384, 16384, 8192, 0);
    msync(p, 4096, MS_SYNC);
    munmap(q, 8192);
    munmap(p, 16384);
    munmap(NULL, 4096);
    mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, -1, 0);

    fd = open("mapped", O_RDWR | O_CREAT | O_TRUNC, 0600);
    ftruncate(fd, 8192);
    p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    p[0] = 'x';
    msync(p, 8192, MS_ASYNC | MS_INVALIDATE);
    munmap(p, 8192);
    p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 4096);
    munmap(p, 4096);
    close(fd);
    unlink("mapped");
    p = mmap(NULL, 1 << 21, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    madvise(p, 1 << 21, MADV_NOHUGEPAGE);
    munmap(p, 1 << 21);
    corpus_end();
    return 0;
}
