// SPDX-License-Identifier: MIT
/*
 * min_epoll.c - a minimal single-file epoll echo server: the reference row
 * of bench/compare.sh that shows what ready-echo's shared core costs.
 *
 * Deliberately small, but correct: level-triggered epoll, non-blocking
 * sockets, a fixed 64 KiB buffer per connection, short writes kept and
 * finished before reading more (EPOLLOUT while output is pending), EOF and
 * errors close the connection. Not a model for anything else: no limits,
 * no stats, fd as identity. Usage: min-epoll [PORT | --port N] [--host
 * ADDR] (port 0 or absent: any; address 127.0.0.1 unless given); prints
 * "listening on ADDR:PORT"; SIGINT/SIGTERM exit 0; -h/--help; bad usage is
 * one line and exit 2, like the other programs.
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

static const char min_usage[] =
    "Usage: min-epoll [PORT] [--port N] [--host ADDR]\n"
    "A minimal single-file epoll echo server: the reference row of\n"
    "bench/compare.sh.\n"
    "  PORT, --port N      TCP port, 0 or absent picks a free one\n"
    "  --host ADDR         numeric IPv4 address to listen on (127.0.0.1)\n"
    "  -h, --help          show this help\n"
    "The first stdout line is \"listening on ADDR:PORT\"; SIGINT or\n"
    "SIGTERM stops it. Exit status: 0 stopped, 1 runtime failure, 2 bad\n"
    "usage.\n";

/* One line naming what is wrong (what, then arg quoted, then tail), then
 * the hint; returns the exit status 2. */
static int min_bad(const char *what, const char *arg, const char *tail)
{
	fprintf(stderr,
		"min-epoll: %s '%s'%s\nTry 'min-epoll --help' for more "
		"information.\n",
		what, arg, tail);
	return 2;
}

/* argv into *port and *addr: 0 to run, else the exit status (help: 0,
 * bad: 2). */
static int min_args(int argc, char **argv, uint16_t *port, struct in_addr *addr,
		    int *run)
{
	const char *val = NULL, *arg;
	char *end;
	long v;
	int i;

	*run = 0;
	addr->s_addr = htonl(INADDR_LOOPBACK);
	for (i = 1; i < argc; i++) {
		arg = argv[i];
		if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			fputs(min_usage, stdout);
			return 0;
		}
		if (!strcmp(arg, "--host") && i + 1 == argc)
			return min_bad("option", arg, " needs a value");
		if (!strcmp(arg, "--host") || !strncmp(arg, "--host=", 7)) {
			arg = arg[6] ? arg + 7 : argv[++i];
			if (inet_pton(AF_INET, arg, addr) != 1)
				return min_bad("--host", arg,
					       ": expected a numeric IPv4 "
					       "address");
			continue;
		}
		if (!strcmp(arg, "--port") && i + 1 == argc)
			return min_bad("option", arg, " needs a value");
		if (!strcmp(arg, "--port"))
			arg = argv[++i];
		else if (!strncmp(arg, "--port=", 7))
			arg += 7;
		else if (arg[0] == '-' && arg[1])
			return min_bad("unknown option", arg, "");
		if (val)
			return min_bad("unexpected argument", arg, "");
		val = arg;
	}
	*port = 0;
	if (val) {
		errno = 0;
		v = strtol(val, &end, 10);
		if (errno || *end || !*val || val[0] == '-' || v > 65535)
			return min_bad("--port", val, ": expected 0..65535");
		*port = (uint16_t)v;
	}
	*run = 1;
	return 0;
}

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
	char host[INET_ADDRSTRLEN];
	int one = 1, lfd, ep, n, i, fd, run;
	struct min_conn *c;
	uint16_t port;

	n = min_args(argc, argv, &port, &sa.sin_addr, &run);
	if (!run)
		return n;
	sigaction(SIGINT, &act, NULL);
	sigaction(SIGTERM, &act, NULL);
	sa.sin_port = htons(port);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(lfd, 4096) ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len)) {
		perror("min-epoll: listen");
		return 1;
	}
	inet_ntop(AF_INET, &sa.sin_addr, host, sizeof(host));
	printf("listening on %s:%u\n", host, ntohs(sa.sin_port));
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
