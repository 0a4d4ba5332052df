// SPDX-License-Identifier: MIT
/*
 * min_epoll.c - a minimal single-file epoll echo server: the reference row
 * of bench/compare.sh that shows what ready-echo's shared core costs.
 *
 * Deliberately small, but correct: level-triggered epoll, non-blocking
 * sockets, a fixed 64 KiB buffer per connection, short writes kept and
 * finished before reading more (EPOLLOUT while output is pending), EOF and
 * errors close the connection. Not a model for anything else: no limits,
 * no stats, fd as identity. Usage: min-epoll [PORT] (0 or absent: any);
 * prints "listening on 127.0.0.1:PORT"; SIGINT/SIGTERM exit 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MIN_BUF 65536
#define MIN_EVENTS 256

struct min_conn {
	int fd;
	size_t off, len; /* pending output: buf[off .. len) */
	char buf[MIN_BUF];
};

static volatile sig_atomic_t min_stop;

static void min_on_signal(int sig)
{
	(void)sig;
	min_stop = 1;
}

static void min_close(int ep, struct min_conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

/* Write what is pending; returns -1 on error, else 0 (pending or not). */
static int min_flush(struct min_conn *c)
{
	while (c->off < c->len) {
		ssize_t n =
		    send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);

		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		c->off += (size_t)n;
	}
	c->off = c->len = 0;
	return 0;
}

static void min_serve(int ep, struct min_conn *c, unsigned events)
{
	struct epoll_event ev = { .data.ptr = c };
	ssize_t n;

	if (min_flush(c) < 0)
		goto out_close;
	if (c->len == 0 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		n = recv(c->fd, c->buf, sizeof(c->buf), 0);
		if (n == 0 || (n < 0 && errno != EAGAIN))
			goto out_close;
		if (n > 0) {
			c->len = (size_t)n;
			if (min_flush(c) < 0)
				goto out_close;
		}
	}
	/* Output pending: wait for room before reading more. */
	ev.events = c->len ? EPOLLOUT : EPOLLIN;
	if (!!(events & EPOLLOUT) != !!c->len &&
	    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		goto out_close;
	return;
out_close:
	min_close(ep, c);
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct epoll_event ev, evs[MIN_EVENTS];
	struct sigaction act = { .sa_handler = min_on_signal };
	socklen_t len = sizeof(sa);
	int one = 1, lfd, ep, n, i, fd;
	struct min_conn *c;
	long port = 0;
	char *end;

	if (argc > 1 &&
	    (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: min-epoll [PORT]\n  listens on 127.0.0.1:PORT "
		       "(0 or absent: any free port), echoes every byte\n");
		return 0;
	}
	if (argc > 1)
		port = strtol(argv[1], &end, 10);
	if (argc > 2 || (argc > 1 && (*end || port < 0 || port > 65535))) {
		fprintf(stderr, "usage: min-epoll [PORT]\n");
		return 2;
	}
	sigaction(SIGINT, &act, NULL);
	sigaction(SIGTERM, &act, NULL);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(lfd, 4096) ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len)) {
		perror("min-epoll: listen");
		return 1;
	}
	printf("listening on 127.0.0.1:%u\n", ntohs(sa.sin_port));
	fflush(stdout);
	ep = epoll_create1(0);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	while (!min_stop) {
		n = epoll_wait(ep, evs, MIN_EVENTS, -1);
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr) {
				min_serve(ep, evs[i].data.ptr, evs[i].events);
				continue;
			}
			while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >=
			       0) {
				c = malloc(sizeof(*c));
				if (!c) {
					close(fd);
					continue;
				}
				c->fd = fd;
				c->off = c->len = 0;
				ev.events = EPOLLIN;
				ev.data.ptr = c;
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
			}
		}
	}
	return 0;
}
