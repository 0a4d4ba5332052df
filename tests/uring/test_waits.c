// SPDX-License-Identifier: MIT
/*
 * test_waits.c - `test_waits MAX_PER_MSG -- CMD...`: one connection
 * ping-pongs WAITS_MSGS small messages with uring-echo (CMD); the server's
 * own counters must show at most MAX_PER_MSG io_uring_enter calls (waits)
 * per message. A count, not a time: it proves that multishot's quiet
 * sends (ring_wait) fold the send of an echo and the wait for the next
 * message into one enter (about 1.0 per message; 2.0 without them).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define WAITS_MSGS 2000
#define WAITS_SIZE 64
#define WAITS_MS 10000 /* for one message: only a hang hits it */

static int waits_pingpong(unsigned port)
{
	unsigned char msg[WAITS_SIZE], back[WAITS_SIZE];
	int fd, i;

	fd = h_connect("127.0.0.1", port, 0, 0, false);
	if (fd < 0)
		return fd;
	for (i = 0; i < WAITS_MSGS; i++) {
		memset(msg, 'a' + i % 26, sizeof(msg));
		if (h_send_all(fd, msg, sizeof(msg), WAITS_MS) ||
		    h_recv_exact(fd, back, sizeof(back), WAITS_MS, NULL) ||
		    memcmp(msg, back, sizeof(msg)))
			break;
	}
	close(fd);
	return i == WAITS_MSGS ? 0 : -EPROTO;
}

int main(int argc, char **argv)
{
	static struct h_srv s;
	long long waits, bytes;
	double max, per;
	int ret;

	if (argc < 4 || strcmp(argv[2], "--")) {
		fprintf(stderr, "usage: test_waits MAX_PER_MSG -- CMD...\n");
		return 2;
	}
	max = atof(argv[1]);
	atexit(h_srv_cleanup_all);
	if (h_srv_start(&s, &argv[3], NULL)) {
		fprintf(stderr, "test_waits: the server did not start\n%s",
			s.err ? s.err : "");
		return 1;
	}
	ret = waits_pingpong(s.port);
	h_srv_stop(&s, SIGTERM, 3000, NULL);
	if (ret) {
		fprintf(stderr, "test_waits: ping-pong failed: %s\n",
			strerror(-ret));
		return 1;
	}
	waits = h_srv_stat(&s, "waits");
	bytes = h_srv_stat(&s, "bytes_in");
	if (waits < 0 || bytes != (long long)WAITS_MSGS * WAITS_SIZE) {
		fprintf(stderr,
			"test_waits: no final stats (waits %lld, "
			"bytes_in %lld)\n%s",
			waits, bytes, s.err);
		return 1;
	}
	per = (double)waits / WAITS_MSGS;
	printf("%d messages, %lld waits: %.2f per message (at most %.2f)\n",
	       WAITS_MSGS, waits, per, max);
	if (per > max) {
		fprintf(stderr,
			"test_waits: %.2f waits per message, expected "
			"at most %.2f\n",
			per, max);
		return 1;
	}
	return 0;
}
