// SPDX-License-Identifier: MIT
/*
 * test_setup.c - `test_setup ERRNO NEEDLE -- CMD...`: run CMD with
 * io_uring_setup failing with ERRNO (a seccomp filter, as Docker's profile
 * does) and check exit 1, no stdout, one stderr line holding NEEDLE.
 * Exits 77 (skip) where a seccomp filter cannot be installed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define TEST_SKIP 77
#define TEST_TIMEOUT_MS 5000

static int test_errno(const char *name)
{
	if (!strcmp(name, "EPERM"))
		return EPERM;
	if (!strcmp(name, "ENOSYS"))
		return ENOSYS;
	if (!strcmp(name, "EINVAL"))
		return EINVAL;
	if (!strcmp(name, "ENOMEM"))
		return ENOMEM;
	return -1;
}

int main(int argc, char **argv)
{
	struct h_start st = { .setup = h_deny_uring };
	static struct h_srv s;
	int e, rc;

	if (argc < 5 || strcmp(argv[3], "--") ||
	    (e = test_errno(argv[1])) < 0) {
		fprintf(stderr, "usage: test_setup EPERM|ENOSYS|EINVAL|ENOMEM "
				"NEEDLE -- CMD...\n");
		return 2;
	}
	atexit(h_srv_cleanup_all);
	st.ctx = &e;
	rc = h_srv_run(&s, argv + 4, &st, TEST_TIMEOUT_MS);
	if (rc == -ETIMEDOUT) {
		fprintf(stderr, "FAIL: still running after %d ms\n",
			TEST_TIMEOUT_MS);
		return 1;
	}
	if (rc) {
		fprintf(stderr, "FAIL: start: %s\n", h_err_str(rc));
		return 1;
	}
	if (h_srv_exit_code(&s) == H_EXIT_SETUP && !s.err_len) {
		printf("skipped: cannot install a seccomp filter here\n");
		return TEST_SKIP;
	}
	printf("stderr: %s", s.err);
	if (h_srv_exit_code(&s) != 1) {
		fprintf(stderr, "FAIL: expected exit status 1, got 0x%x\n",
			(unsigned)s.status);
		return 1;
	}
	if (s.out_len) {
		fprintf(stderr, "FAIL: expected no stdout, got '%s'\n", s.out);
		return 1;
	}
	if (h_lines(s.err) != 1 || !strstr(s.err, argv[2])) {
		fprintf(stderr,
			"FAIL: expected one stderr line holding '%s', got %d "
			"lines: '%s'\n",
			argv[2], h_lines(s.err), s.err);
		return 1;
	}
	return 0;
}
