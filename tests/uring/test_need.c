// SPDX-License-Identifier: MIT
/*
 * test_need.c - `test_need -- TEST_CMD...`: run TEST_CMD, unless the
 * uring-echo configuration it tests needs a kernel feature this kernel
 * lacks: then exit 77 (skip) with uring-echo's own reason. The server
 * command is what follows the last "--" in TEST_CMD (as tests/e2e takes
 * it); it is started once on port 0 and stopped. Any other outcome runs
 * TEST_CMD, which reports it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define NEED_SKIP 77 /* exit status meson reads as SKIP */

int main(int argc, char **argv)
{
	static const char *const port0[] = { "--port", "0", NULL };
	struct h_start st = { .args = port0, .listen_ms = 10000 };
	static struct h_srv s;
	int i, last = -1, rc;

	if (argc < 3 || strcmp(argv[1], "--")) {
		fprintf(stderr, "usage: test_need -- TEST_CMD...\n");
		return 2;
	}
	for (i = 2; i < argc; i++)
		if (!strcmp(argv[i], "--"))
			last = i;
	if (last < 0 || last + 1 == argc) {
		fprintf(stderr, "test_need: no server command after '--'\n");
		return 2;
	}
	rc = h_srv_start(&s, argv + last + 1, &st);
	if (rc == 0)
		h_srv_stop(&s, SIGTERM, 5000, NULL);
	if (rc == -ECHILD && h_srv_exit_code(&s) == 1 &&
	    strstr(s.err, "needs Linux")) {
		printf("skipped: %s", s.err);
		return NEED_SKIP;
	}
	h_srv_free(&s);
	execv(argv[2], argv + 2);
	perror(argv[2]);
	return 1;
}
