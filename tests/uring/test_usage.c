// SPDX-License-Identifier: MIT
/*
 * test_usage.c - `test_usage NEEDLE -- CMD...`: CMD is a bad command line,
 * so it must exit 2 at once, print nothing on stdout, and on stderr one
 * error line holding NEEDLE followed by "Try 'uring-echo --help' for more
 * information.", nothing else.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

int main(int argc, char **argv)
{
	static const char try_line[] =
	    "Try 'uring-echo --help' for more information.\n";
	static struct h_srv s;
	const char *nl;
	int rc;

	if (argc < 4 || strcmp(argv[2], "--")) {
		fprintf(stderr, "usage: test_usage NEEDLE -- CMD...\n");
		return 2;
	}
	atexit(h_srv_cleanup_all);
	rc = h_srv_run(&s, argv + 3, NULL, 5000);
	if (rc) {
		fprintf(stderr, "FAIL: %s\n",
			rc == -ETIMEDOUT ? "still running after 5 s"
					 : h_err_str(rc));
		return 1;
	}
	printf("stderr: %.300s\n", s.err);
	if (h_srv_exit_code(&s) != 2) {
		fprintf(stderr, "FAIL: expected exit status 2, got 0x%x\n",
			(unsigned)s.status);
		return 1;
	}
	if (s.out_len) {
		fprintf(stderr, "FAIL: expected no stdout, got '%s'\n", s.out);
		return 1;
	}
	nl = strchr(s.err, '\n');
	if (!nl ||
	    !memmem(s.err, (size_t)(nl - s.err), argv[1], strlen(argv[1]))) {
		fprintf(stderr,
			"FAIL: expected '%s' on the first stderr line, got "
			"'%s'\n",
			argv[1], s.err);
		return 1;
	}
	if (strcmp(nl + 1, try_line)) {
		fprintf(stderr,
			"FAIL: expected the error then '%s', got '%s'\n",
			try_line, s.err);
		return 1;
	}
	return 0;
}
