// SPDX-License-Identifier: MIT
/*
 * thread_echo.c - a thread-per-connection echo server with blocking
 * sockets: the classic design, as a reference row of bench/compare.sh
 * (its memory per idle connection is a thread's stack and kernel task).
 *
 * Each accepted connection gets one detached pthread with a small stack
 * set explicitly (THR_STACK); it reads into a buffer on that stack, sends
 * all of it back (short sends finished), and closes on EOF or an error.
 * When no thread can be created, that connection is closed and the server
 * keeps serving. Usage: thread-echo [PORT] [--host ADDR] (port 0 or
 * absent: any; address 127.0.0.1 unless given); prints
 * "listening on ADDR:PORT"; SIGINT/SIGTERM exit 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define THR_STACK (64u * 1024u)
#define THR_BUF (16u * 1024u) /* on the thread's stack */

static volatile sig_atomic_t thr_stop;

static void thr_on_signal(int sig)
{
	(void)sig;
	thr_stop = 1;
}

/* One connection: echo until EOF or an error, then close. */
static void *thr_serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[THR_BUF];
	ssize_t n, m, off;

	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0 ||
	       (n < 0 && errno == EINTR)) {
		for (off = 0; off < n; off += m) {
			m = send(fd, buf + off, (size_t)(n - off),
				 MSG_NOSIGNAL);
			if (m < 0 && errno == EINTR)
				m = 0;
			else if (m < 0)
				goto out;
		}
	}
out:
	close(fd);
	return NULL;
}

/* Start fd's thread; on failure close fd (said on stderr, the first time
 * and then at every power of two, so a storm cannot flood the log). */
static void thr_spawn(const pthread_attr_t *attr, int fd)
{
	static unsigned long failed;
	pthread_t t;
	int rc = pthread_create(&t, attr, thr_serve, (void *)(intptr_t)fd);

	if (!rc)
		return;
	close(fd);
	failed++;
	if (!(failed & (failed - 1)))
		fprintf(stderr,
			"thread-echo: cannot create a thread (%s): "
			"connection closed (%lu so far)\n",
			strerror(rc), failed);
}

/* A usage error: one line naming what and the value, then the hint;
 * returns -1. */
static int thr_bad(const char *what, const char *val, const char *why)
{
	fprintf(stderr,
		"thread-echo: %s '%s'%s\nTry 'thread-echo --help' for more "
		"information.\n",
		what, val, why);
	return -1;
}

/* argv into *port and *addr: 0 to run, 1 after printing the help, -1 on
 * bad usage (after one line naming it, and the hint). */
static int thr_args(int argc, char **argv, long *port, struct in_addr *addr)
{
	char *end;
	int i, seen = 0;

	*port = 0;
	addr->s_addr = htonl(INADDR_LOOPBACK);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("Usage: thread-echo [PORT] [--host ADDR]\n"
			       "  listens on ADDR:PORT (127.0.0.1 unless "
			       "--host; port 0 or absent: any free one),\n"
			       "  echoes every byte, one thread per connection "
			       "(%u KiB stacks)\n",
			       THR_STACK / 1024u);
			return 1;
		}
		if (!strcmp(argv[i], "--host")) {
			if (i + 1 == argc)
				return thr_bad("--host", "", ": needs a value");
			if (inet_pton(AF_INET, argv[++i], addr) != 1)
				return thr_bad(
				    "--host", argv[i],
				    ": expected a numeric IPv4 address");
			continue;
		}
		if (argv[i][0] == '-' && argv[i][1])
			return thr_bad("unknown option", argv[i], "");
		*port = strtol(argv[i], &end, 10);
		if (seen++)
			return thr_bad("unexpected argument", argv[i], "");
		if (!*argv[i] || *end || *port < 0 || *port > 65535)
			return thr_bad("port", argv[i], ": expected 0..65535");
	}
	return 0;
}

static int thr_listen(long port, struct sockaddr_in *sa)
{
	socklen_t len = sizeof(*sa);
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (lfd < 0)
		return -1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Accepted sockets inherit TCP_NODELAY, not O_NONBLOCK. */
	setsockopt(lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)sa, sizeof(*sa)) ||
	    listen(lfd, 4096) ||
	    getsockname(lfd, (struct sockaddr *)sa, &len)) {
		close(lfd);
		return -1;
	}
	return lfd;
}

int main(int argc, char **argv)
{
	struct sigaction act = { .sa_handler = thr_on_signal };
	struct pollfd pfd = { .events = POLLIN };
	sigset_t block, waitmask;
	pthread_attr_t attr;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char host[INET_ADDRSTRLEN];
	long port;
	int fd;

	fd = thr_args(argc, argv, &port, &sa.sin_addr);
	if (fd > 0)
		return 0;
	if (fd < 0) {
		return 2;
	}
	/* The signals stay blocked except inside ppoll, so the threads never
	 * take them and a stop cannot slip in before the wait. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGTERM);
	sigaction(SIGINT, &act, NULL);
	sigaction(SIGTERM, &act, NULL);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_attr_setstacksize(&attr, THR_STACK)) {
		fprintf(stderr, "thread-echo: stack size %u refused\n",
			THR_STACK);
		return 1;
	}
	pfd.fd = thr_listen(port, &sa);
	if (pfd.fd < 0) {
		perror("thread-echo: listen");
		return 1;
	}
	inet_ntop(AF_INET, &sa.sin_addr, host, sizeof(host));
	printf("listening on %s:%u\n", host, ntohs(sa.sin_port));
	fflush(stdout);
	fprintf(stderr,
		"thread-echo: one thread per connection, %u KiB "
		"stacks, %u KiB buffers\n",
		THR_STACK / 1024u, THR_BUF / 1024u);
	while (!thr_stop) {
		if (ppoll(&pfd, 1, NULL, &waitmask) < 0)
			continue;
		while ((fd = accept4(pfd.fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
			thr_spawn(&attr, fd);
		/* Out of descriptors or memory: the listener stays readable,
		 * so pause rather than spin until connections close. */
		if (errno != EAGAIN && errno != EINTR)
			usleep(1000);
	}
	return 0;
}
