/* null_socketmap: the do-nothing socketmap server, the ceiling of the TLS
 * policy benchmark. It reads netstring requests on a unix socket and
 * answers every one at once with the same reply, looking nothing up: what
 * is left is the cost of the socket, the netstrings and the load client.
 *
 * One thread, one epoll loop, non-blocking sockets: the shape a policy
 * server with everything cached could have at best.
 *
 * Usage: null_socketmap PATH [REPLY]   (default reply "OK secure match=mx.bench.test")
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_REQUEST 10000 /* Postfix's keys are domain names */

struct conn {
    int fd;
    size_t len;
    char buf[MAX_REQUEST + 16];
};

static char reply[512];
static size_t reply_len;

static void drop(int ep, struct conn* c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

/* Answers every complete netstring in c->buf; -1 on a malformed one. */
static int serve(struct conn* c) {
    size_t off = 0;
    for (;;) {
        char* colon = memchr(c->buf + off, ':', c->len - off);
        if (colon == NULL)
            break;
        char* end = NULL;
        unsigned long n = strtoul(c->buf + off, &end, 10);
        if (end != colon || n > MAX_REQUEST)
            return -1;
        size_t need = (size_t)(colon - (c->buf + off)) + 1 + n + 1;
        if (c->len - off < need)
            break;
        if (c->buf[off + need - 1] != ',')
            return -1;
        if (send(c->fd, reply, reply_len, MSG_NOSIGNAL) != (ssize_t)reply_len)
            return -1; /* a few dozen bytes: the socket buffer takes them */
        off += need;
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
    return c->len > MAX_REQUEST ? -1 : 0;
}

int main(int argc, char** argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: null_socketmap PATH [REPLY]\n");
        return 2;
    }
    const char* text = argc > 2 ? argv[2] : "OK secure match=mx.bench.test";
    reply_len = (size_t)snprintf(reply, sizeof reply, "%zu:%s,", strlen(text), text);
    if (reply_len >= sizeof reply)
        return 2;
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(argv[1]) >= sizeof sa.sun_path)
        return 2;
    strcpy(sa.sun_path, argv[1]);
    unlink(argv[1]);
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr*)&sa, sizeof sa) != 0 || listen(lfd, 1024) != 0) {
        perror("null_socketmap: listen");
        return 1;
    }
    chmod(argv[1], 0666);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);

    struct epoll_event events[256];
    for (;;) {
        int n = epoll_wait(ep, events, 256, -1);
        if (n < 0 && errno != EINTR)
            return 1;
        for (int i = 0; i < n; i++) {
            struct conn* c = events[i].data.ptr;
            if (c == NULL) {
                int fd;
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    struct conn* nc = calloc(1, sizeof *nc);
                    if (nc == NULL) {
                        close(fd);
                        continue;
                    }
                    nc->fd = fd;
                    struct epoll_event cev = {.events = EPOLLIN, .data.ptr = nc};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                }
                continue;
            }
            ssize_t got = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
            if (got <= 0) {
                if (got < 0 && errno == EAGAIN)
                    continue;
                drop(ep, c);
                continue;
            }
            c->len += (size_t)got;
            if (serve(c) != 0)
                drop(ep, c);
        }
    }
}
