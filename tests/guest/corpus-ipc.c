/* Corpus, inter-process communication (see corpus.h): pipes, eventfds,
 * System V message queues, semaphores and shared memory (each one's
 * status, permissions and the system's figures too), futexes, between a
 * process and its child. */
#include "corpus.h"
#include <linux/futex.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>

int main(void)
{
    int p[2], efd, q, sem, shm, status;
    uint64_t count = 3;
    char buf[32];
    struct {
        long type;
        char text[8];
    } message = {1, "message"};
    struct sembuf up = {0, 1, 0}, down = {0, -1, IPC_NOWAIT};
    uint32_t futex_word = 0;
    void *at;
    struct msqid_ds msg_ds;
    struct msginfo msg_info;
    struct semid_ds sem_ds;
    struct seminfo sem_info;
    struct shmid_ds shm_ds;
    struct shm_info shm_info;
    struct shminfo shm_limits;

    corpus_begin("corpus-ipc.d");
    pipe2(p, O_CLOEXEC);
    if (fork() == 0) {
        write(p[1], "from the child", 14);
        _exit(0);
    }
    read(p[0], buf, sizeof buf);
    wait4(-1, &status, 0, NULL);
    close(p[1]);
    read(p[0], buf, sizeof buf);
    close(p[0]);

    efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    write(efd, &count, sizeof count);
    read(efd, &count, sizeof count);
    read(efd, &count, sizeof count);
    close(efd);

    q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    msgsnd(q, &message, sizeof message.text, 0);
    msgrcv(q, &message, sizeof message.text, 0, IPC_NOWAIT);
    msgrcv(q, &message, sizeof message.text, 0, IPC_NOWAIT);
    msgctl(q, IPC_STAT, &msg_ds);
    msg_ds.msg_perm.mode = 0640;
    msgctl(q, IPC_SET, &msg_ds);
    msgctl(q, MSG_INFO, (struct msqid_ds *)&msg_info);
    msgctl(q, IPC_RMID, NULL);

    sem = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    semop(sem, &up, 1);
    semop(sem, &down, 1);
    semop(sem, &down, 1);
    semctl(sem, 0, GETVAL);
    semctl(sem, 0, IPC_STAT, &sem_ds);
    sem_ds.sem_perm.mode = 0640;
    semctl(sem, 0, IPC_SET, &sem_ds);
    semctl(sem, 0, SEM_INFO, &sem_info);
    semctl(sem, 0, IPC_RMID);

    shm = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    at = shmat(shm, NULL, SHM_RDONLY);
    shmdt(at);
    shmctl(shm, IPC_STAT, &shm_ds);
    shm_ds.shm_perm.mode = 0640;
    shmctl(shm, IPC_SET, &shm_ds);
    shmctl(shm, SHM_INFO, (struct shmid_ds *)&shm_info);
    shmctl(shm, IPC_INFO, (struct shmid_ds *)&shm_limits);
    shmctl(shm, IPC_RMID, NULL);

    syscall(SYS_futex, &futex_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 1, NULL, NULL, 0);
    corpus_end();
    return 0;
}
