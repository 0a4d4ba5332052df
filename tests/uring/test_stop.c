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
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define STOP_CONNS 8
#define STOP_MS 300
#define STOP_SKIP 77 /* exit status meson reads as SKIP */

/* A client with a small receive buffer that sends until the server,
 * whose echo it never reads, stops taking more. */
static int stop_pusher(unsigned port)
{
	static char buf[65536];
	int fd, idle = 0;
	ssize_t n;

	fd = h_connect("127.0.0.1", port, 4096, 0, false);
	if (fd < 0)
		return fd;
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
	struct h_start st = { .listen_ms = 10000 };
	int fds[STOP_CONNS], i, n = 0;
	static struct h_srv s;
	long long ms = -1;
	int64_t t0;

	if (argc < 3 || strcmp(argv[1], "--")) {
		fprintf(stderr, "usage: test_stop -- CMD...\n");
		return 2;
	}
	atexit(h_srv_cleanup_all);
	if (h_srv_start(&s, argv + 2, &st)) {
		h_srv_stop(&s, SIGKILL, 1000, NULL);
		if (s.err && strstr(s.err, "needs Linux")) {
			printf("skipped: %s", s.err);
			return STOP_SKIP;
		}
		fprintf(stderr, "FAIL: no listening line: %s\n",
			s.err ? s.err : "");
		return 1;
	}
	for (i = 0; i < STOP_CONNS; i++) {
		fds[i] = stop_pusher(s.port);
		if (fds[i] < 0) {
			fprintf(stderr, "FAIL: client %d: %s\n", i,
				strerror(-fds[i]));
			return 1;
		}
		n++;
	}
	t0 = h_now_ms();
	kill(s.pid, SIGTERM);
	while (h_now_ms() - t0 < 5000 && !strstr(s.err, "stats:"))
		if (!h_srv_read(&s, 10))
			break;
	if (strstr(s.err, "stats:"))
		ms = h_now_ms() - t0;
	if (h_srv_wait(&s, 5000, NULL))
		h_srv_stop(&s, SIGKILL, 1000, NULL);
	for (i = 0; i < n; i++)
		close(fds[i]);
	printf("stderr: %s", s.err);
	printf("final stats %lld ms after SIGTERM, %d peers not reading\n", ms,
	       n);
	if (h_srv_exit_code(&s) != 0) {
		fprintf(stderr, "FAIL: expected exit 0, got 0x%x\n",
			(unsigned)s.status);
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
