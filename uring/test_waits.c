// SPDX-License-Identifier: MIT
/*
 * test_waits.c - `test_waits MAX_PER_MSG -- CMD...`: one connection
 * ping-pongs WAITS_MSGS small messages with uring-echo (CMD); the server's
 * own counters must show at most MAX_PER_MSG io_uring_enter calls (waits)
 * per message. A count, not a time: it proves that multishot's quiet
 * sends (ring_wait) fold the send of an echo and the wait for the next
 * message into one enter (about 1.0 per message; 2.0 without them).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_run.h"

#define WAITS_MSGS 2000
#define WAITS_SIZE 64

static int waits_pingpong(unsigned port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port) };
	unsigned char msg[WAITS_SIZE], back[WAITS_SIZE];
	int fd, one = 1, i;
	size_t got;
	ssize_t n;

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -errno;
	}
	for (i = 0; i < WAITS_MSGS; i++) {
		memset(msg, 'a' + i % 26, sizeof(msg));
		if (send(fd, msg, sizeof(msg), 0) != (ssize_t)sizeof(msg))
			break;
		for (got = 0; got < sizeof(back); got += (size_t)n) {
			n = recv(fd, back + got, sizeof(back) - got, 0);
			if (n <= 0)
				break;
		}
		if (got != sizeof(back) || memcmp(msg, back, sizeof(msg)))
			break;
	}
	close(fd);
	return i == WAITS_MSGS ? 0 : -EPROTO;
}

int main(int argc, char **argv)
{
	struct trun t;
	long long waits, bytes;
	double max, per;
	int ret;

	if (argc < 4 || strcmp(argv[2], "--")) {
		fprintf(stderr, "usage: test_waits MAX_PER_MSG -- CMD...\n");
		return 2;
	}
	max = atof(argv[1]);
	if (trun_start(&t, &argv[3], NULL, NULL) ||
	    trun_listen(&t, 5000) != 1) {
		fprintf(stderr, "test_waits: the server did not start\n%s",
			t.err);
		return 1;
	}
	ret = waits_pingpong(t.port);
	trun_wait(&t, SIGTERM, 3000);
	if (ret) {
		fprintf(stderr, "test_waits: ping-pong failed: %s\n",
			strerror(-ret));
		return 1;
	}
	waits = trun_stat(&t, "waits");
	bytes = trun_stat(&t, "bytes_in");
	if (waits < 0 || bytes != (long long)WAITS_MSGS * WAITS_SIZE) {
		fprintf(stderr,
			"test_waits: no final stats (waits %lld, "
			"bytes_in %lld)\n%s",
			waits, bytes, t.err);
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
