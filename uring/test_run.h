/* SPDX-License-Identifier: MIT */
/*
 * test_run.h - run uring-echo as a child for the uring tests: capture its
 * stdout and stderr, wait for its listening line or its exit, stop it.
 * Test support only: nothing here is linked into uring-echo.
 */
#ifndef URING_TEST_RUN_H
#define URING_TEST_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define TRUN_SKIP 77 /* exit status meson reads as SKIP */

struct trun {
	pid_t pid;
	int fd[2]; /* read ends of stdout and stderr; -1 once at EOF */
	char out[4096];
	char err[16384];
	size_t len[2];
	int status; /* wait status, once reaped */
	bool reaped;
	unsigned port; /* from "listening on HOST:PORT" */
};

/*
 * trun_start - fork and exec argv with stdout and stderr captured. In the
 * child, setup(ctx) runs first when given (drop privileges, set limits);
 * if it fails the child exits TRUN_SKIP with nothing on stderr. Returns 0
 * or -errno.
 */
int trun_start(struct trun *t, char *const argv[], int (*setup)(void *ctx),
	       void *ctx);

/* trun_listen - read until stdout holds "listening on HOST:PORT\n" (1,
 * t->port set) or both pipes are at EOF (0: it exited), at most
 * timeout_ms (-ETIMEDOUT). */
int trun_listen(struct trun *t, int timeout_ms);

/* trun_read - read what arrives within timeout_ms; false once both
 * pipes are at EOF. */
bool trun_read(struct trun *t, int timeout_ms);

/* trun_wait - send sig if not 0, read both pipes to EOF and reap the
 * child, at most timeout_ms (then SIGKILL). Returns 0 or -ETIMEDOUT. */
int trun_wait(struct trun *t, int sig, int timeout_ms);

/* trun_lines - lines in s. */
int trun_lines(const char *s);

/* trun_stat - counter name from the last "stats:" line of t->err, or -1. */
long long trun_stat(const struct trun *t, const char *name);

/* trun_echo - connect to 127.0.0.1:port, send len pattern bytes, check
 * they all come back; 0 or -errno (-EPROTO: wrong bytes). */
int trun_echo(unsigned port, size_t len);

#endif
