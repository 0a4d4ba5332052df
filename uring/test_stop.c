// SPDX-License-Identifier: MIT
/*
 * test_stop.c - `test_stop -- CMD...`: stop uring-echo (CMD) while its
 * peers read nothing and it holds output for them, and require the final
 * stats line within STOP_MS. With zero-copy sends this is the hard case:
 * bytes queued on a socket stay pinned until the peer acknowledges them,
 * which a peer that reads nothing never does, so the server must reset
 * such connections instead of waiting (LOOP_STOP_MS, 500 ms, is the
 * give-up deadline this stays well under).
 */
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_run.h"

#define STOP_CONNS 8
#define STOP_MS 300

static long long stop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A client with a small receive buffer that sends until the server,
 * whose echo it never reads, stops taking more. */
static int stop_pusher(unsigned port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port) };
	static char buf[65536];
	int fd, small = 4096, idle = 0;
	ssize_t n;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -errno;
	}
	memset(buf, 'z', sizeof(buf));
	while (idle < 3) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };

		if (poll(&p, 1, 100) <= 0) {
			idle++;
			continue;
		}
		n = send(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN) {
			close(fd);
			return -errno;
		}
		idle = n > 0 ? 0 : idle + 1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	int fds[STOP_CONNS], i, n = 0;
	long long t0, ms = -1;
	struct trun t;

	if (argc < 3 || strcmp(argv[1], "--")) {
		fprintf(stderr, "usage: test_stop -- CMD...\n");
		return 2;
	}
	if (trun_start(&t, argv + 2, NULL, NULL) ||
	    trun_listen(&t, 10000) != 1) {
		trun_wait(&t, SIGKILL, 1000);
		if (strstr(t.err, "needs Linux")) {
			printf("skipped: %s", t.err);
			return TRUN_SKIP;
		}
		fprintf(stderr, "FAIL: no listening line: %s\n", t.err);
		return 1;
	}
	for (i = 0; i < STOP_CONNS; i++) {
		fds[i] = stop_pusher(t.port);
		if (fds[i] < 0) {
			fprintf(stderr, "FAIL: client %d: %s\n", i,
				strerror(-fds[i]));
			return 1;
		}
		n++;
	}
	t0 = stop_now_ms();
	kill(t.pid, SIGTERM);
	while (stop_now_ms() - t0 < 5000 && !strstr(t.err, "stats:"))
		if (!trun_read(&t, 10))
			break;
	if (strstr(t.err, "stats:"))
		ms = stop_now_ms() - t0;
	trun_wait(&t, 0, 5000);
	for (i = 0; i < n; i++)
		close(fds[i]);
	printf("stderr: %s", t.err);
	printf("final stats %lld ms after SIGTERM, %d peers not reading\n", ms,
	       n);
	if (!WIFEXITED(t.status) || WEXITSTATUS(t.status) != 0) {
		fprintf(stderr, "FAIL: expected exit 0, got 0x%x\n",
			(unsigned)t.status);
		return 1;
	}
	if (ms < 0 || ms > STOP_MS) {
		fprintf(
		    stderr,
		    "FAIL: expected the final stats within %d ms, got %lld\n",
		    STOP_MS, ms);
		return 1;
	}
	return 0;
}
