/* Corpus, network over loopback (see corpus.h): TCP and UDP on 127.0.0.1
 * with fixed ports, Unix sockets, socket options, messages with iovecs,
 * addresses and control messages (a descriptor passed, credentials
 * received), descriptors readiness, and a BPF socket filter. The loopback interface is brought up before
 * the first marker (the guest's is down). */
#include "corpus.h"
#include <linux/bpf.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

int main(void)
{
    struct sockaddr_in server = loopback(47211), client = loopback(47212), peer;
    struct sockaddr_un unix_addr = {.sun_family = AF_UNIX, .sun_path = "corpus.sock"};
    socklen_t len = sizeof peer;
    char buf[64];
    struct iovec iov[2] = {{"head:", 5}, {"body", 4}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
    struct iovec in_iov = {buf, sizeof buf};
    struct msghdr in_msg = {.msg_iov = &in_iov, .msg_iovlen = 1};
    struct pollfd pfd[3];
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 7}, evs[2];
    struct timeval tv = {0, 0};
    fd_set readable;
    int one = 1, value, pair[2], lfd, cfd, afd, ufd, ep, sv[2];
    /* Room for any address: the kernel shortens the length it is given
     * (`[128 => 16]`). */
    struct sockaddr_storage any;
    struct msghdr named = {.msg_name = &server, .msg_namelen = sizeof server,
                           .msg_iov = iov, .msg_iovlen = 2};
    struct msghdr in_named = {.msg_name = &any, .msg_iov = &in_iov, .msg_iovlen = 1};
    /* One descriptor out; credentials and the descriptor back. */
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct ucred)) + 8];
    } out_control, in_control;
    struct msghdr rights = {.msg_iov = iov, .msg_iovlen = 1, .msg_control = out_control.buf,
                            .msg_controllen = CMSG_SPACE(sizeof(int))};
    struct msghdr in_rights = {.msg_iov = &in_iov, .msg_iovlen = 1,
                               .msg_control = in_control.buf,
                               .msg_controllen = sizeof in_control.buf};
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&rights);
    /* A filter that keeps every packet: r0 = 0x40000; exit. */
    struct bpf_insn keep_all[2] = {
        {.code = BPF_ALU64 | BPF_MOV | BPF_K, .imm = 0x40000},
        {.code = BPF_JMP | BPF_EXIT},
    };
    union bpf_attr prog = {.prog_type = BPF_PROG_TYPE_SOCKET_FILTER, .insn_cnt = 2};
    int filter;

    corpus_loopback_up();

    corpus_begin("corpus-net.d");
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    bind(lfd, (struct sockaddr *)&server, sizeof server);
    listen(lfd, 4);
    len = sizeof any;
    getsockname(lfd, (struct sockaddr *)&any, &len);
    cfd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(cfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    bind(cfd, (struct sockaddr *)&client, sizeof client);
    connect(cfd, (struct sockaddr *)&server, sizeof server);
    len = sizeof peer;
    afd = accept4(lfd, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);
    len = sizeof peer;
    getpeername(afd, (struct sockaddr *)&peer, &len);
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    len = sizeof value;
    getsockopt(cfd, SOL_SOCKET, SO_ERROR, &value, &len);
    len = sizeof value;
    getsockopt(cfd, SOL_SOCKET, SO_TYPE, &value, &len);
    len = sizeof pair;
    getsockopt(cfd, SOL_SOCKET, SO_TYPE, pair, &len);
    send(cfd, "request", 7, 0);
    recv(afd, buf, sizeof buf, 0);
    sendmsg(afd, &msg, MSG_NOSIGNAL);
    /* Loopback may hand the message over in a softirq that runs later:
     * waiting for it makes the poll below see both descriptors ready. */
    recv(cfd, buf, sizeof buf, MSG_PEEK);
    pfd[0].fd = cfd;
    pfd[0].events = POLLIN;
    pfd[1].fd = afd;
    pfd[1].events = POLLIN | POLLOUT;
    /* A negative descriptor the kernel skips: shown without its events. */
    pfd[2].fd = -1;
    pfd[2].events = POLLIN;
    poll(pfd, 3, 1000);
    recvmsg(cfd, &in_msg, 0);
    FD_ZERO(&readable);
    FD_SET(cfd, &readable);
    select(cfd + 1, &readable, NULL, NULL, &tv);
    ep = epoll_create1(EPOLL_CLOEXEC);
    epoll_ctl(ep, EPOLL_CTL_ADD, afd, &ev);
    write(cfd, "ping", 4);
    epoll_wait(ep, evs, 2, 1000);
    /* Ready now (epoll said so): answers that do not depend on timing. */
    FD_ZERO(&readable);
    FD_SET(afd, &readable);
    select(afd + 1, &readable, NULL, NULL, NULL);
    pfd[0].events = POLLIN;
    ppoll(pfd, 2, NULL, NULL);
    read(afd, buf, sizeof buf);
    shutdown(cfd, SHUT_WR);
    read(afd, buf, sizeof buf);
    close(ep);
    close(afd);
    close(cfd);
    close(lfd);

    ufd = socket(AF_INET, SOCK_DGRAM, 0);
    bind(ufd, (struct sockaddr *)&server, sizeof server);
    cfd = socket(AF_INET, SOCK_DGRAM, 0);
    bind(cfd, (struct sockaddr *)&client, sizeof client);
    sendto(cfd, "datagram", 8, 0, (struct sockaddr *)&server, sizeof server);
    len = sizeof any;
    recvfrom(ufd, buf, sizeof buf, 0, (struct sockaddr *)&any, &len);
    recvfrom(ufd, buf, sizeof buf, MSG_DONTWAIT, NULL, NULL);
    sendmsg(cfd, &named, 0);
    in_named.msg_namelen = sizeof any;
    recvmsg(ufd, &in_named, 0);
    recvmsg(ufd, &in_named, MSG_DONTWAIT);
    close(cfd);
    close(ufd);

    ufd = socket(AF_UNIX, SOCK_STREAM, 0);
    bind(ufd, (struct sockaddr *)&unix_addr, sizeof unix_addr);
    listen(ufd, 1);
    cfd = socket(AF_UNIX, SOCK_STREAM, 0);
    connect(cfd, (struct sockaddr *)&unix_addr, sizeof unix_addr);
    close(cfd);
    close(ufd);
    unlink("corpus.sock");
    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
    send(sv[0], "seq", 3, 0);
    recv(sv[1], buf, sizeof buf, MSG_PEEK);
    close(sv[0]);
    close(sv[1]);
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
    memset(&out_control, 0, sizeof out_control);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &sv[0], sizeof(int));
    sendmsg(sv[0], &rights, 0);
    recvmsg(sv[1], &in_rights, MSG_CMSG_CLOEXEC);
    close(sv[0]);
    close(sv[1]);
    close(sv[1] + 1);
    prog.insns = (uintptr_t)keep_all;
    prog.license = (uintptr_t) "GPL";
    strcpy(prog.prog_name, "corpus");
    filter = syscall(SYS_bpf, BPF_PROG_LOAD, &prog, sizeof prog);
    ufd = socket(AF_INET, SOCK_DGRAM, 0);
    setsockopt(ufd, SOL_SOCKET, SO_ATTACH_BPF, &filter, sizeof filter);
    close(ufd);
    close(filter);
    /* An older caller's shorter attributes: fields past them do not show. */
    prog.kern_version = 0x60110;
    prog.prog_flags = BPF_F_ANY_ALIGNMENT;
    filter = syscall(SYS_bpf, BPF_PROG_LOAD, &prog, 48);
    close(filter);
    socket(AF_INET6, SOCK_RAW, 9999);
    corpus_end();
    return 0;
}
