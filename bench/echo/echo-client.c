/*
 * bench/echo/echo-client.c: a load generator for TCP echo servers (bench/echo/run), built on the host with gcc.
 *
 *   echo-client HOST PORT CONNECTIONS SIZE SECONDS
 *
 * Opens CONNECTIONS connections; each keeps one message of SIZE bytes in flight: it sends the message, reads SIZE
 * bytes back, checks that they are the bytes it sent (each message carries its connection and sequence number in
 * every 8-byte word, so a byte from another message or connection is caught), and sends the next one. One thread,
 * epoll, non-blocking sockets. After a warm-up of one second the round trips completed in SECONDS seconds are
 * counted. Prints one line
 *   ECHO connections C size S seconds T round_trips N per_second R mib_per_second M
 * and exits 0; exits 1 (one line on stderr) when a connection fails, a byte is wrong or nothing came back at all,
 * 2 on bad usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
	int fd;
	uint64_t seq;     /* the message in flight */
	size_t sent;      /* bytes of it sent */
	size_t received;  /* bytes of it received back */
	unsigned char *out, *in;
};

static size_t size;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, long conn)
{
	fprintf(stderr, "echo-client: connection %ld: %s%s%s\n", conn, what, errno ? ": " : "",
		errno ? strerror(errno) : "");
	exit(1);
}

static void fill(struct conn *c, long index)
{
	uint64_t word = ((uint64_t)index << 40) ^ c->seq;

	for (size_t i = 0; i < size; i++)
		c->out[i] = (unsigned char)(word >> (8 * (i % 8)));
	c->sent = c->received = 0;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: echo-client HOST PORT CONNECTIONS SIZE SECONDS\n");
		return 2;
	}
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2])) };
	long nconn = atol(argv[3]);
	double seconds = atof(argv[5]);

	size = (size_t)atol(argv[4]);
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1 || nconn < 1 || nconn > 4096 || size < 1 ||
	    size > (1 << 24) || seconds <= 0) {
		fprintf(stderr, "echo-client: bad arguments (HOST is an IPv4 address; 1-4096 connections; "
				"1 B-16 MiB; SECONDS > 0)\n");
		return 2;
	}
	int ep = epoll_create1(0);
	struct conn *conns = calloc((size_t)nconn, sizeof *conns);

	for (long i = 0; i < nconn; i++) {
		struct conn *c = &conns[i];
		int one = 1;

		c->fd = socket(AF_INET, SOCK_STREAM, 0);
		if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0)
			die("connect", i);
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (fcntl(c->fd, F_SETFL, O_NONBLOCK) != 0)
			die("fcntl", i);
		c->out = malloc(size);
		c->in = malloc(size);
		fill(c, i);
		struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.u64 = (uint64_t)i };

		if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
			die("epoll_ctl", i);
	}

	double start = now(), counted_from = start + 1.0, end = counted_from + seconds;
	uint64_t counted = 0;
	struct epoll_event events[256];

	for (;;) {
		double t = now();

		if (t >= end)
			break;
		int n = epoll_wait(ep, events, 256, 100);

		if (n < 0 && errno != EINTR)
			die("epoll_wait", -1);
		for (int k = 0; k < n; k++) {
			long i = (long)events[k].data.u64;
			struct conn *c = &conns[i];

			if (events[k].events & (EPOLLERR | EPOLLHUP))
				die("error or hang-up from the server", i);
			if ((events[k].events & EPOLLOUT) && c->sent < size) {
				ssize_t w = send(c->fd, c->out + c->sent, size - c->sent, MSG_NOSIGNAL);

				if (w < 0 && errno != EAGAIN)
					die("send", i);
				if (w > 0)
					c->sent += (size_t)w;
				if (c->sent == size) {
					struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)i };

					epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
				}
			}
			if (events[k].events & EPOLLIN) {
				ssize_t r = recv(c->fd, c->in + c->received, size - c->received, 0);

				if (r == 0) {
					errno = 0;
					die("the server closed the connection", i);
				}
				if (r < 0 && errno != EAGAIN)
					die("recv", i);
				if (r > 0)
					c->received += (size_t)r;
				if (c->received > c->sent) {
					errno = 0;
					die("more bytes came back than were sent", i);
				}
				if (c->received == size) {
					if (memcmp(c->in, c->out, size) != 0) {
						errno = 0;
						die("the echoed bytes differ from the bytes sent", i);
					}
					if (now() >= counted_from)
						counted++;
					c->seq++;
					fill(c, i);
					struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.u64 = (uint64_t)i };

					epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
				}
			}
		}
	}
	if (counted == 0) {
		errno = 0;
		die("no round trip completed while counting", -1);
	}
	printf("ECHO connections %ld size %zu seconds %.3f round_trips %llu per_second %.1f mib_per_second %.3f\n",
	       nconn, size, seconds, (unsigned long long)counted, counted / seconds,
	       counted * 2.0 * (double)size / seconds / (1 << 20));
	return 0;
}
