// SPDX-License-Identifier: MIT
/*
 * test_usage.c - `test_usage NEEDLE -- CMD...`: CMD is a bad command line,
 * so it must exit 2 at once, print nothing on stdout, and on stderr one
 * error line holding NEEDLE followed by "Try 'uring-echo --help' for more
 * information.", nothing else.
 */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "test_run.h"

int main(int argc, char **argv)
{
	static const char try_line[] =
	    "Try 'uring-echo --help' for more information.\n";
	struct trun t;
	const char *nl;

	if (argc < 4 || strcmp(argv[2], "--")) {
		fprintf(stderr, "usage: test_usage NEEDLE -- CMD...\n");
		return 2;
	}
	if (trun_start(&t, argv + 3, NULL, NULL)) {
		perror("fork");
		return 1;
	}
	if (trun_wait(&t, 0, 5000)) {
		fprintf(stderr, "FAIL: still running after 5 s\n");
		return 1;
	}
	printf("stderr: %.300s\n", t.err);
	if (!WIFEXITED(t.status) || WEXITSTATUS(t.status) != 2) {
		fprintf(stderr, "FAIL: expected exit status 2, got 0x%x\n",
			(unsigned)t.status);
		return 1;
	}
	if (t.len[0]) {
		fprintf(stderr, "FAIL: expected no stdout, got '%s'\n", t.out);
		return 1;
	}
	nl = strchr(t.err, '\n');
	if (!nl ||
	    !memmem(t.err, (size_t)(nl - t.err), argv[1], strlen(argv[1]))) {
		fprintf(stderr,
			"FAIL: expected '%s' on the first stderr line, got "
			"'%s'\n",
			argv[1], t.err);
		return 1;
	}
	if (strcmp(nl + 1, try_line)) {
		fprintf(stderr,
			"FAIL: expected the error then '%s', got '%s'\n",
			try_line, t.err);
		return 1;
	}
	return 0;
}
