/* Corpus, the process's place in the system (see corpus.h): credentials,
 * scheduling, I/O priority, prctl's switches, capabilities, the robust
 * futex list, pidfds, reading one's own memory through process_vm_readv,
 * seccomp's actions, asynchronous I/O contexts, and namespaces of its own
 * (a host name, a tmpfs mounted and unmounted). Nothing here depends on
 * the kernel's version or the machine. */
#include "corpus.h"
#include <linux/aio_abi.h>
#include <linux/capability.h>
#include <linux/ioprio.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/uio.h>

int main(void)
{
    uid_t r, e, s;
    gid_t gr, ge, gs;
    struct sched_param param = {0};
    struct __user_cap_header_struct cap = {_LINUX_CAPABILITY_VERSION_3, 0};
    void *head;
    size_t len;
    char here[8] = "in here", there[8];
    struct iovec local = {there, 7}, remote = {here, 7};
    unsigned int action = SECCOMP_RET_KILL_PROCESS;
    struct seccomp_notif_sizes sizes;
    aio_context_t ctx = 0;
    int pidfd, value;

    corpus_begin("corpus-system.d");
    getresuid(&r, &e, &s);
    getresgid(&gr, &ge, &gs);
    setresuid(-1, -1, -1);
    setresgid(-1, -1, -1);
    setreuid(-1, -1);
    setregid(-1, -1);

    sched_getparam(0, &param);
    sched_setscheduler(0, SCHED_OTHER, &param);
    sched_get_priority_max(SCHED_BATCH);
    sched_get_priority_min(SCHED_RR);
    syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 4));
    syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0);

    prctl(PR_GET_DUMPABLE);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    prctl(PR_GET_PDEATHSIG, &value);
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    prctl(PR_GET_CHILD_SUBREAPER, &value);
    prctl(PR_GET_KEEPCAPS);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
    syscall(SYS_capget, &cap, NULL);
    syscall(SYS_get_robust_list, 0, &head, &len);

    pidfd = syscall(SYS_pidfd_open, getpid(), 0);
    syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0);
    close(pidfd);
    process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action);
    syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes);
    syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 1, NULL);
    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, NULL);
    syscall(SYS_io_setup, 4, &ctx);
    syscall(SYS_io_destroy, ctx);
    syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);

    unshare(CLONE_NEWUTS | CLONE_NEWNS);
    sethostname("corpus", 6);
    setdomainname("corpus.test", 11);
    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
    mkdir("mnt", 0755);
    mount("corpus", "mnt", "tmpfs", MS_NOSUID | MS_NODEV, "size=1m");
    umount2("mnt", MNT_DETACH);
    rmdir("mnt");
    corpus_end();
    return 0;
}
