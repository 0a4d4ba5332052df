// SPDX-License-Identifier: MIT
/*
 * test_need.c - `test_need -- TEST_CMD...`: run TEST_CMD, unless the
 * uring-echo configuration it tests needs a kernel feature this kernel
 * lacks: then exit 77 (skip) with uring-echo's own reason. The server
 * command is what follows the last "--" in TEST_CMD (as tests/e2e takes
 * it); it is started once on port 0 and stopped. Any other outcome runs
 * TEST_CMD, which reports it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_run.h"

#define NEED_MAX_ARGS 64

int main(int argc, char **argv)
{
	char *srv[NEED_MAX_ARGS + 3];
	struct trun t;
	int i, last = -1, n = 0;

	if (argc < 3 || strcmp(argv[1], "--")) {
		fprintf(stderr, "usage: test_need -- TEST_CMD...\n");
		return 2;
	}
	for (i = 2; i < argc; i++)
		if (!strcmp(argv[i], "--"))
			last = i;
	if (last < 0 || argc - last - 1 > NEED_MAX_ARGS) {
		fprintf(stderr, "test_need: no server command after '--'\n");
		return 2;
	}
	for (i = last + 1; i < argc; i++)
		srv[n++] = argv[i];
	srv[n++] = "--port";
	srv[n++] = "0";
	srv[n] = NULL;
	if (!trun_start(&t, srv, NULL, NULL)) {
		int rc = trun_listen(&t, 10000);

		trun_wait(&t, rc == 1 ? SIGTERM : 0, 5000);
		if (rc == 0 && WIFEXITED(t.status) &&
		    WEXITSTATUS(t.status) == 1 &&
		    strstr(t.err, "needs Linux")) {
			printf("skipped: %s", t.err);
			return TRUN_SKIP;
		}
	}
	execv(argv[2], argv + 2);
	perror(argv[2]);
	return 1;
}
