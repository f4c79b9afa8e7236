/*
 * tcp_echo: a freestanding TCP echo server for the UKL runtime.
 *
 * One process, one epoll loop (level-triggered), non-blocking sockets: every byte a client sends comes back on the
 * same connection; when the client shuts down its sending side the server finishes echoing and closes. A client that
 * disconnects mid-transfer (EPIPE, ECONNRESET, or EOF with data still queued) only closes its own connection:
 * SIGPIPE is ignored. SIGTERM ends the loop; the server then prints its counters and exits 0.
 *
 * Why not fork per connection: the runtime pins each process's whole stack (8 MiB by default) and fork children pin
 * their copy, so 50 concurrent children would need 400 MiB of pinned memory. An epoll loop needs one process.
 *
 * Memory the kernel writes through put_user (accept's address length, epoll events, the sigaction) is on the stack
 * or in mmap memory, never in .data/.bss (docs/kernel.md: get_user/put_user on image addresses fail with EFAULT).
 *
 *   /UKL [PORT]          (default 7000) prints "tcp_echo: listening on port PORT", serves until SIGTERM, then
 *                        "tcp_echo: exit accepted N closed N echoed BYTES resets N"
 */
#include "../common/sample.h"

#define AF_INET 2
#define SOCK_STREAM 1
#define SOCK_NONBLOCK 0x800
#define SOL_SOCKET 1
#define SO_REUSEADDR 2
#define EPOLLIN 0x1
#define EPOLLOUT 0x4
#define EPOLLERR 0x8
#define EPOLLHUP 0x10
#define EPOLL_CTL_ADD 1
#define EPOLL_CTL_DEL 2
#define EPOLL_CTL_MOD 3
#define EINTR 4
#define EAGAIN 11
#define EMFILE 24
#define EPIPE 32
#define ECONNRESET 104
#define SIGPIPE 13
#define SIGTERM 15
#define SIG_IGN 1
#define SA_RESTORER 0x04000000
#define PROT_READ 1
#define PROT_WRITE 2
#define MAP_PRIVATE 2
#define MAP_ANONYMOUS 0x20

#define MAX_FDS 1024
#define BUF_SIZE 16384
#define MAX_EVENTS 64

static long mmap6(long len)
{
    return sys(SYS_mmap, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

void tcp_echo_restorer(void);
__asm__(".text\n.globl tcp_echo_restorer\ntcp_echo_restorer:\n\tmovl $15, %eax\n\tsyscall\n\tud2\n");

struct sigaction_k {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    unsigned long mask;
};

struct epoll_event_k {
    unsigned events;
    unsigned long data;
} __attribute__((packed));

struct sockaddr_in_k {
    unsigned short family;
    unsigned short port;
    unsigned addr;
    unsigned char zero[8];
};

struct conn {
    int open;
    unsigned interest;  /* EPOLLIN while the buffer is empty, EPOLLOUT while data waits to be written */
    unsigned len, off;  /* buf[off, len) is still to be written back */
    char buf[BUF_SIZE];
};

/* Written only by the application (handler and loop), never by the kernel. */
static volatile int stop;
static unsigned long accepted, closed, echoed, resets;

static void on_term(int sig)
{
    stop = sig == SIGTERM;
}

static void print(const char *parts[], const long nums[], int n)
{
    char line[256];
    unsigned len = 0;
    for (int i = 0; i < n; i++) {
        for (const char *s = parts[i]; *s && len < sizeof line - 24; s++)
            line[len++] = *s;
        if (nums[i] >= 0) {
            char b[24];
            int k = sizeof b;
            unsigned long u = (unsigned long)nums[i];
            do
                b[--k] = (char)('0' + u % 10);
            while ((u /= 10) && k > 0);
            while (k < (int)sizeof b)
                line[len++] = b[k++];
        }
    }
    line[len++] = '\n';
    sys(SYS_write, 1, (long)line, len, 0, 0);
}

static void drop(int ep, struct conn *conns, int fd, int reset)
{
    sys(SYS_epoll_ctl, ep, EPOLL_CTL_DEL, fd, 0, 0);
    sys(SYS_close, fd, 0, 0, 0, 0);
    conns[fd].open = 0;
    closed++;
    resets += reset;
}

static int set_interest(int ep, struct conn *c, int fd, unsigned want)
{
    if (c->interest == want)
        return 0;
    struct epoll_event_k ev = { want, (unsigned long)fd };
    c->interest = want;
    return (int)sys(SYS_epoll_ctl, ep, EPOLL_CTL_MOD, fd, (long)&ev, 0);
}

/* Echo what is readable on fd, at most a few buffers at a time so that one client cannot starve the others. */
static void serve(int ep, struct conn *conns, int fd)
{
    struct conn *c = &conns[fd];
    for (int round = 0; round < 8; round++) {
        if (c->off < c->len) {
            long n = sys(SYS_write, fd, (long)(c->buf + c->off), c->len - c->off, 0, 0);
            if (n > 0) {
                c->off += n;
                echoed += n;
                continue;
            }
            if (n == -EAGAIN) {
                set_interest(ep, c, fd, EPOLLOUT);
                return;
            }
            if (n == -EINTR)
                continue;
            drop(ep, conns, fd, n == -EPIPE || n == -ECONNRESET);  /* the client went away mid-transfer */
            return;
        }
        long n = sys(SYS_read, fd, (long)c->buf, sizeof c->buf, 0, 0);
        if (n > 0) {
            c->len = n;
            c->off = 0;
            continue;
        }
        if (n == -EAGAIN) {
            set_interest(ep, c, fd, EPOLLIN);
            return;
        }
        if (n == -EINTR)
            continue;
        drop(ep, conns, fd, n == -ECONNRESET);  /* 0: orderly shutdown, everything was echoed */
        return;
    }
    /* Budget used up: level-triggered epoll reports the fd again. */
    set_interest(ep, c, fd, c->off < c->len ? EPOLLOUT : EPOLLIN);
}

int main(int argc, char **argv)
{
    long port = 7000;
    if (argc > 1) {
        port = 0;
        for (const char *p = argv[1]; *p >= '0' && *p <= '9'; p++)
            port = port * 10 + (*p - '0');
    }

    struct sigaction_k ign = { (void (*)(int))SIG_IGN, 0, 0, 0 };
    struct sigaction_k term = { on_term, SA_RESTORER, tcp_echo_restorer, 0 };
    if (sys(SYS_rt_sigaction, SIGPIPE, (long)&ign, 0, 8, 0) != 0 ||
        sys(SYS_rt_sigaction, SIGTERM, (long)&term, 0, 8, 0) != 0)
        return 10;

    long conns_addr = mmap6(sizeof(struct conn) * MAX_FDS);
    if (conns_addr < 0 && conns_addr > -4096)
        return 11;
    struct conn *conns = (struct conn *)conns_addr;

    int ls = (int)sys(SYS_socket, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0, 0, 0);
    int one = 1;
    struct sockaddr_in_k sa = { AF_INET, (unsigned short)((port >> 8) | ((port & 0xff) << 8)), 0, { 0 } };
    if (ls < 0 || sys(SYS_setsockopt, ls, SOL_SOCKET, SO_REUSEADDR, (long)&one, sizeof one) != 0 ||
        sys(SYS_bind, ls, (long)&sa, sizeof sa, 0, 0) != 0 || sys(SYS_listen, ls, 128, 0, 0, 0) != 0)
        return 12;

    int ep = (int)sys(SYS_epoll_create1, 0, 0, 0, 0, 0);
    struct epoll_event_k lev = { EPOLLIN, (unsigned long)ls };
    if (ep < 0 || sys(SYS_epoll_ctl, ep, EPOLL_CTL_ADD, ls, (long)&lev, 0) != 0)
        return 13;

    print((const char *[]){ "tcp_echo: listening on port " }, (long[]){ port }, 1);

    struct epoll_event_k events[MAX_EVENTS];
    while (!stop) {
        long n = sys(SYS_epoll_wait, ep, (long)events, MAX_EVENTS, 500, 0);
        if (n == -EINTR)
            continue;
        if (n < 0)
            return 14;
        for (long i = 0; i < n; i++) {
            int fd = (int)events[i].data;
            if (fd == ls) {
                for (;;) {
                    int cfd = (int)sys(SYS_accept4, ls, 0, 0, SOCK_NONBLOCK, 0);
                    if (cfd < 0)
                        break;  /* EAGAIN: no more pending; ECONNABORTED etc.: the client is gone */
                    if (cfd >= MAX_FDS) {
                        sys(SYS_close, cfd, 0, 0, 0, 0);
                        continue;
                    }
                    struct epoll_event_k ev = { EPOLLIN, (unsigned long)cfd };
                    conns[cfd].open = 1;
                    conns[cfd].interest = EPOLLIN;
                    conns[cfd].len = conns[cfd].off = 0;
                    accepted++;
                    if (sys(SYS_epoll_ctl, ep, EPOLL_CTL_ADD, cfd, (long)&ev, 0) != 0)
                        drop(ep, conns, cfd, 0);
                }
                continue;
            }
            if (fd < 0 || fd >= MAX_FDS || !conns[fd].open)
                continue;
            /* EPOLLERR/EPOLLHUP: the read or write below returns the error (or 0) and drops the connection. */
            serve(ep, conns, fd);
        }
    }

    print((const char *[]){ "tcp_echo: exit accepted ", " closed ", " echoed ", " resets " },
          (long[]){ (long)accepted, (long)closed, (long)echoed, (long)resets }, 4);
    return 0;
}
