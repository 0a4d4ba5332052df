// SPDX-License-Identifier: MIT
/*
 * test_memlock.c - `test_memlock -- CMD...`: run uring-echo (CMD) as user
 * nobody under small RLIMIT_MEMLOCK values. Without CAP_IPC_LOCK a kernel
 * may charge io_uring memory to that limit (per user, summed): measured on
 * Linux 6.18, the SQ/CQ rings and the provided-buffer ring at setup, and
 * each zero-copy send in flight (its pages plus two); not the direct file
 * table, not SQPOLL. Linux 5.12 to 6.x charged rings to the memory cgroup
 * only. Whatever this kernel charges, each run must either serve every
 * byte, or exit 1 with one stderr line naming RLIMIT_MEMLOCK and the
 * remedy. Skips (77) unless run as root with a user nobody.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "harness.h"

#define MEMLOCK_SKIP 77 /* exit status meson reads as SKIP */
#define MEMLOCK_ECHO (256u << 10) /* bytes echoed by a server that runs */

#define MEMLOCK_AMPLE (64u << 20) /* a generous limit, if the hard one allows */
#define MEMLOCK_NEEDS_LINUX 2 /* memlock_one: the kernel lacks a feature */

struct memlock_run {
	const char *what;
	rlim_t bytes; /* RLIMIT_MEMLOCK for the server */
	bool ample; /* instead: MEMLOCK_AMPLE, or the hard limit if lower */
	const char *args[12]; /* after CMD, NULL-terminated */
	bool must_serve; /* a limit this generous must not fail */
};

static uid_t memlock_uid;
static gid_t memlock_gid;
static rlim_t memlock_ample;

static rlim_t memlock_bytes(const struct memlock_run *m)
{
	return m->ample ? memlock_ample : m->bytes;
}

/* In the child: the limit first (the hard one may only go down without
 * CAP_SYS_RESOURCE), then the user. */
static int memlock_drop(void *ctx)
{
	const struct memlock_run *m = ctx;
	struct rlimit rl = { memlock_bytes(m), memlock_bytes(m) };

	if (setrlimit(RLIMIT_MEMLOCK, &rl) || setgroups(0, NULL) ||
	    setgid(memlock_gid) || setuid(memlock_uid))
		return -1;
	return 0;
}

/* Echo MEMLOCK_ECHO bytes through the server on port; 0 or -errno. */
static int memlock_echo(unsigned port)
{
	struct h_echo e = { .seed = port, .len = MEMLOCK_ECHO };
	int fd = h_connect("127.0.0.1", port, 0, 0, false), rc;

	if (fd < 0)
		return fd;
	rc = h_echo_run(fd, &e, NULL);
	close(fd);
	return rc;
}

/* 1 if the server failed as it must, 0 if it served, -1 on a failure,
 * MEMLOCK_NEEDS_LINUX if the kernel lacks a feature asked for,
 * MEMLOCK_SKIP if the child could not become nobody under the limit. */
static int memlock_one(char **cmd, const struct memlock_run *m, struct h_srv *s)
{
	const char *args[16] = { "--port", "0" };
	struct h_start st = { .args = args,
			      .listen_ms = 10000,
			      .setup = memlock_drop,
			      .ctx = (void *)m };
	int n = 2, rc, i;

	for (i = 0; m->args[i]; i++)
		args[n++] = m->args[i];
	printf("--- %s: RLIMIT_MEMLOCK %llu KiB\n", m->what,
	       (unsigned long long)memlock_bytes(m) / 1024);
	rc = h_srv_start(s, cmd, &st);
	if (rc == 0) {
		rc = memlock_echo(s->port);
		h_srv_stop(s, SIGTERM, 5000, NULL);
		printf("stderr: %s", s->err);
		if (rc || h_srv_exit_code(s) != 0) {
			fprintf(stderr,
				"FAIL: served, but echo %d, exit status 0x%x\n",
				rc, (unsigned)s->status);
			return -1;
		}
		return 0;
	}
	if (!s->err) {
		fprintf(stderr, "FAIL: start: %s\n", h_err_str(rc));
		return -1;
	}
	h_srv_stop(s, SIGKILL, 5000, NULL);
	printf("stderr: %s", s->err);
	if (h_srv_exit_code(s) == H_EXIT_SETUP && !s->err_len)
		return MEMLOCK_SKIP;
	if (h_srv_exit_code(s) == 1 && strstr(s->err, "needs Linux"))
		return MEMLOCK_NEEDS_LINUX;
	if (m->must_serve || h_srv_exit_code(s) != 1 || s->out_len ||
	    h_lines(s->err) != 1 || !strstr(s->err, "RLIMIT_MEMLOCK") ||
	    !strstr(s->err, "ulimit -l")) {
		fprintf(
		    stderr,
		    "FAIL: expected %s, got exit status 0x%x, stdout '%s'\n",
		    m->must_serve ? "it to serve"
				  : "it to serve, or exit 1 with one line "
				    "naming RLIMIT_MEMLOCK and ulimit -l",
		    (unsigned)s->status, s->out);
		return -1;
	}
	return 1;
}

int main(int argc, char **argv)
{
	static const struct memlock_run runs[] = {
		{ "defaults, no locked memory at all",
		  0,
		  false,
		  { NULL },
		  false },
		/* Room for a small ring and the buffer ring (4 pages on
		 * 6.18), not for a zero-copy send (at least 2 pages more). */
		{ "small ring, buffer ring, every send zero-copy",
		  20 * 1024,
		  false,
		  { "--mode", "multishot", "--max-conns", "4", "--ring-entries",
		    "8", "--cq-entries", "64", "--send-zc=1",
		    "--send-zc-loopback", NULL },
		  false },
		{ "ample limit, every feature that may lock memory",
		  0,
		  true,
		  { "--fixed-files", "--send-zc=1", "--send-zc-loopback",
		    NULL },
		  true },
	};
	static struct h_srv s;
	struct passwd *pw;
	struct rlimit rl;
	int i, rc, charged = 0;

	if (argc < 3 || strcmp(argv[1], "--")) {
		fprintf(stderr, "usage: test_memlock -- CMD...\n");
		return 2;
	}
	pw = getpwnam("nobody");
	if (geteuid() != 0 || !pw) {
		printf("skipped: needs root and a user nobody\n");
		return MEMLOCK_SKIP;
	}
	atexit(h_srv_cleanup_all);
	memlock_uid = pw->pw_uid;
	memlock_gid = pw->pw_gid;
	memlock_ample = MEMLOCK_AMPLE;
	if (!getrlimit(RLIMIT_MEMLOCK, &rl) && rl.rlim_max < memlock_ample)
		memlock_ample = rl.rlim_max;
	for (i = 0; i < (int)(sizeof(runs) / sizeof(runs[0])); i++) {
		rc = memlock_one(argv + 2, &runs[i], &s);
		if (rc < 0)
			return 1;
		if (rc == MEMLOCK_SKIP) {
			printf(
			    "skipped: cannot run as nobody with that limit\n");
			return MEMLOCK_SKIP;
		}
		if (rc == MEMLOCK_NEEDS_LINUX)
			printf("(this kernel lacks a feature of this run)\n");
		if (i == 0)
			charged = rc;
		/* A kernel that charges the rings charges zero-copy sends
		 * too: they must have been refused, and sent copying. */
		if (i == 1 && rc == 0 && charged &&
		    h_srv_stat(&s, "zc_refused") <= 0) {
			fprintf(stderr, "FAIL: expected zc_refused > 0\n");
			return 1;
		}
	}
	printf("this kernel %s io_uring rings to RLIMIT_MEMLOCK\n",
	       charged ? "charges" : "does not charge");
	return 0;
}
