/* Corpus, more of the network (see corpus.h): TCP and UDP over IPv6
 * loopback with fixed ports, socket options of several levels and
 * shapes (integers, a linger, a timeout), several datagrams at once
 * (sendmmsg, recvmmsg), abstract and datagram Unix sockets, a netlink
 * socket. The loopback interface is brought up before the first marker
 * (the guest's is down). */
#include "corpus.h"
#include <linux/netlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

static struct sockaddr_in6 loopback6(int port)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
    a.sin6_addr = in6addr_loopback;
    return a;
}

int main(void)
{
    struct sockaddr_in6 server = loopback6(47221), client = loopback6(47222), peer;
    struct sockaddr_un abstract = {.sun_family = AF_UNIX, .sun_path = "\0osmtrace-corpus"};
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    socklen_t len;
    struct linger linger = {1, 5};
    struct timeval timeout = {2, 500000};
    char buf[64], first[16], second[16];
    struct iovec out_iov[2] = {{"one", 3}, {"two", 3}};
    struct iovec in_iov[2] = {{first, sizeof first}, {second, sizeof second}};
    struct mmsghdr out[2] = {
        {.msg_hdr = {.msg_iov = &out_iov[0], .msg_iovlen = 1}},
        {.msg_hdr = {.msg_iov = &out_iov[1], .msg_iovlen = 1}},
    };
    struct mmsghdr in[2] = {
        {.msg_hdr = {.msg_iov = &in_iov[0], .msg_iovlen = 1}},
        {.msg_hdr = {.msg_iov = &in_iov[1], .msg_iovlen = 1}},
    };
    int one = 1, zero = 0, value, lfd, cfd, afd, ufd, sv[2];

    corpus_loopback_up();

    corpus_begin("corpus-net6.d");
    lfd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    bind(lfd, (struct sockaddr *)&server, sizeof server);
    listen(lfd, 4);
    len = sizeof peer;
    accept(lfd, (struct sockaddr *)&peer, &len);
    cfd = socket(AF_INET6, SOCK_STREAM, 0);
    setsockopt(cfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    bind(cfd, (struct sockaddr *)&client, sizeof client);
    connect(cfd, (struct sockaddr *)&server, sizeof server);
    len = sizeof peer;
    afd = accept4(lfd, (struct sockaddr *)&peer, &len, 0);
    setsockopt(cfd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    setsockopt(cfd, SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
    setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &zero, sizeof zero);
    len = sizeof linger;
    getsockopt(cfd, SOL_SOCKET, SO_LINGER, &linger, &len);
    len = sizeof value;
    getsockopt(cfd, SOL_SOCKET, SO_KEEPALIVE, &value, &len);
    len = sizeof value;
    getsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &value, &len);
    len = sizeof value;
    getsockopt(lfd, SOL_SOCKET, SO_ACCEPTCONN, &value, &len);
    sendto(cfd, "over six", 8, MSG_NOSIGNAL, NULL, 0);
    recvfrom(afd, buf, 8, MSG_WAITALL, NULL, NULL);
    shutdown(afd, SHUT_RDWR);
    close(afd);
    close(cfd);
    close(lfd);

    ufd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
    bind(ufd, (struct sockaddr *)&server, sizeof server);
    cfd = socket(AF_INET6, SOCK_DGRAM, 0);
    bind(cfd, (struct sockaddr *)&client, sizeof client);
    connect(cfd, (struct sockaddr *)&server, sizeof server);
    sendmmsg(cfd, out, 2, 0);
    /* Both, however late loopback delivers the second (MSG_WAITFORONE
     * would return with what had arrived). */
    recvmmsg(ufd, in, 2, 0, NULL);
    len = sizeof peer;
    getsockname(cfd, (struct sockaddr *)&peer, &len);
    close(cfd);
    close(ufd);

    ufd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    bind(ufd, (struct sockaddr *)&abstract, offsetof(struct sockaddr_un, sun_path) + 16);
    listen(ufd, 1);
    close(ufd);
    socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv);
    send(sv[0], "dgram", 5, MSG_DONTWAIT);
    recv(sv[1], buf, sizeof buf, MSG_PEEK | MSG_TRUNC);
    recv(sv[1], buf, 2, MSG_TRUNC);
    close(sv[0]);
    close(sv[1]);

    ufd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    bind(ufd, (struct sockaddr *)&kernel, sizeof kernel);
    close(ufd);
    corpus_end();
    return 0;
}
