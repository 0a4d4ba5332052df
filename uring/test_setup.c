// SPDX-License-Identifier: MIT
/*
 * test_setup.c - `test_setup ERRNO NEEDLE -- CMD...`: run CMD with
 * io_uring_setup failing with ERRNO (a seccomp filter, as Docker's profile
 * does) and check exit 1, no stdout, one stderr line holding NEEDLE.
 * Exits 77 (skip) where a seccomp filter cannot be installed.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

/* Fail io_uring_setup with err; every other syscall is allowed. */
static int test_filter(int err)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K,
			 SECCOMP_RET_ERRNO | (err & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]),
				   .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		return -errno;
	return 0;
}

/* Read both pipes to EOF (or the deadline) into out and err. */
static void test_slurp(int ofd, int efd, char *out, size_t olen, char *err,
		       size_t elen)
{
	struct pollfd p[2] = { { .fd = ofd, .events = POLLIN },
			       { .fd = efd, .events = POLLIN } };
	size_t got[2] = { 0, 0 }, cap[2] = { olen - 1, elen - 1 };
	char *buf[2] = { out, err };
	int open = 2, i;
	ssize_t n;

	while (open > 0 && poll(p, 2, TEST_TIMEOUT_MS) > 0) {
		for (i = 0; i < 2; i++) {
			if (p[i].fd < 0 || !p[i].revents)
				continue;
			n = read(p[i].fd, buf[i] + got[i], cap[i] - got[i]);
			if (n <= 0 || got[i] + (size_t)n == cap[i]) {
				p[i].fd = -1;
				open--;
			}
			if (n > 0)
				got[i] += (size_t)n;
		}
	}
	out[got[0]] = '\0';
	err[got[1]] = '\0';
}

static int test_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

int main(int argc, char **argv)
{
	char out[4096], err[4096];
	int po[2], pe[2], status, e, ret, i;
	pid_t pid;

	if (argc < 5 || strcmp(argv[3], "--") ||
	    (e = test_errno(argv[1])) < 0) {
		fprintf(stderr, "usage: test_setup EPERM|ENOSYS|EINVAL|ENOMEM "
				"NEEDLE -- CMD...\n");
		return 2;
	}
	if (pipe(po) || pipe(pe)) {
		perror("pipe");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(pe[0]);
		ret = test_filter(e);
		if (ret)
			_exit(TEST_SKIP);
		execv(argv[4], argv + 4);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	test_slurp(po[0], pe[0], out, sizeof(out), err, sizeof(err));
	/* The pipes close just before the exit status is ready. */
	for (i = 0; i < TEST_TIMEOUT_MS / 10; i++) {
		if (waitpid(pid, &status, WNOHANG) != 0)
			break;
		nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
	}
	if (i == TEST_TIMEOUT_MS / 10) {
		kill(pid, SIGKILL);
		fprintf(stderr, "FAIL: still running after %d ms\n",
			TEST_TIMEOUT_MS);
		waitpid(pid, &status, 0);
		return 1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == TEST_SKIP && !err[0]) {
		printf("skipped: cannot install a seccomp filter here\n");
		return TEST_SKIP;
	}
	printf("stderr: %s", err);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 1) {
		fprintf(stderr, "FAIL: expected exit status 1, got 0x%x\n",
			(unsigned)status);
		return 1;
	}
	if (out[0]) {
		fprintf(stderr, "FAIL: expected no stdout, got '%s'\n", out);
		return 1;
	}
	if (test_lines(err) != 1 || !strstr(err, argv[2])) {
		fprintf(stderr,
			"FAIL: expected one stderr line holding '%s', got %d "
			"lines: '%s'\n",
			argv[2], test_lines(err), err);
		return 1;
	}
	return 0;
}
