// SPDX-License-Identifier: MIT
/*
 * fuzz_opts.c - libFuzzer harness for the shared command line (opts.c).
 *
 * The input, split on NUL bytes, is an argument vector. opts_parse must
 * not crash, must keep its output contract (help and version on stdout,
 * an error as one line and the "Try" line on stderr) and, when it says run, hand over values
 * in range. opts_uint and opts_size are checked against a reference parser
 * on every argument. Output goes to memory, never to the terminal.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "opts.h"

#define FZ_MAX_ARGS 32
#define FZ_MAX_INPUT 4096
#define FZ_PROG "fuzz-prog" /* argv[0]; no message may quote it */

/*
 * Known bug, checked only when built with -DFUZZ_OPTS_STRICT=1 (see
 * tests/fuzz/known/): for an unknown option inside a cluster ("-ab"),
 * getopt has not advanced optind yet, so the message quotes argv[optind -
 * 1], the argument before it (the program name, or a value like "1").
 */
#ifndef FUZZ_OPTS_STRICT
#define FUZZ_OPTS_STRICT 0
#endif

#define FZ_CHECK(cond)                            \
	do {                                      \
		if (!(cond))                      \
			fz_fail(__LINE__, #cond); \
	} while (0)

enum {
	FZ_K_BACKEND = 0x2000,
	FZ_K_EDGE,
	FZ_K_LEVEL,
};

/* A program's own flags, shaped like ready-echo's, plus one with an
 * optional argument so that getopt's every argument kind is exercised. */
static const struct option fz_longopts[] = {
	{ "backend", required_argument, NULL, FZ_K_BACKEND },
	{ "edge", no_argument, NULL, FZ_K_EDGE },
	{ "level", optional_argument, NULL, FZ_K_LEVEL },
	{ NULL, 0, NULL, 0 },
};

struct fz_extra {
	const char *backend;
	bool edge;
	unsigned long level;
};

static char *fz_args[FZ_MAX_ARGS + 2]; /* for the failure message */
static int fz_argc;

static void fz_fail(int line, const char *what)
{
	int i;

	/* stderr may point into memory: write to the descriptor. */
	dprintf(2, "fuzz_opts: line %d: check failed: %s\nargv:", line, what);
	for (i = 0; i < fz_argc; i++)
		dprintf(2, " '%s'", fz_args[i]);
	dprintf(2, "\n");
	abort();
}

static int fz_flag(void *ctx, int key, const char *arg, char *err,
		   size_t errlen)
{
	struct fz_extra *x = ctx;

	switch (key) {
	case FZ_K_BACKEND:
		if (strcmp(arg, "select") && strcmp(arg, "poll") &&
		    strcmp(arg, "epoll")) {
			snprintf(err, errlen, "--backend: unknown '%s'", arg);
			return -EINVAL;
		}
		x->backend = arg;
		return 0;
	case FZ_K_EDGE:
		x->edge = true;
		return 0;
	case FZ_K_LEVEL:
		if (arg && opts_uint(arg, 0, 9, &x->level)) {
			snprintf(err, errlen, "--level: expected 0..9");
			return -EINVAL;
		}
		return 0;
	}
	snprintf(err, errlen, "unknown option");
	return -EINVAL;
}

/* The reference: a whole decimal string, then (size) one k/K/m/M, and the
 * value times the unit within [min, max]. Returns 0 or -EINVAL. */
static int fz_ref_number(const char *s, bool size, unsigned long min,
			 unsigned long max, unsigned long *out)
{
	unsigned __int128 v = 0, mul = 1;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (unsigned)(*p - '0');
		if (v > ((unsigned __int128)1 << 80))
			return -EINVAL;
	}
	if (size && (*p == 'k' || *p == 'K')) {
		mul = 1024;
		p++;
	} else if (size && (*p == 'm' || *p == 'M')) {
		mul = 1024 * 1024;
		p++;
	}
	/* strtoul fails (ERANGE) past ULONG_MAX even before the unit. */
	if (*p || v > (unsigned long)-1 || v * mul < min || v * mul > max)
		return -EINVAL;
	*out = (unsigned long)(v * mul);
	return 0;
}

static void fz_check_numbers(const char *s)
{
	static const unsigned long ranges[][2] = {
		{ 0, 65535 },
		{ 1, OPTS_MAX_CONNS },
		{ OPTS_MIN_BUF_SIZE, OPTS_MAX_BUF_SIZE },
		{ 0, (unsigned long)-1 },
	};
	unsigned long got, want;
	size_t i;
	int r, w;

	for (i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		got = want = 0;
		r = opts_uint(s, ranges[i][0], ranges[i][1], &got);
		w = fz_ref_number(s, false, ranges[i][0], ranges[i][1], &want);
		FZ_CHECK(r == w && got == want);
		got = want = 0;
		r = opts_size(s, ranges[i][0], ranges[i][1], &got);
		w = fz_ref_number(s, true, ranges[i][0], ranges[i][1], &want);
		FZ_CHECK(r == w && got == want);
	}
}

static bool fz_is_addr(const char *s)
{
	unsigned char a[16];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/* "unknown option 'X'" must quote an option, never a value or argv[0]. */
static void fz_check_quote(const char *err)
{
	static const char what[] = "unknown option '";
	const char *q = strstr(err, what);

	if (q)
		FZ_CHECK(q[strlen(what)] == '-');
}

/* A usage error is exactly two lines: the error, with no control byte
 * (a value's are escaped), then the "Try" line. */
static void fz_check_error(const char *err, size_t errlen)
{
	static const char try_line[] =
	    "Try '" FZ_PROG " --help' for more information.\n";
	const char *nl = memchr(err, '\n', errlen);
	const char *p;

	FZ_CHECK(nl != NULL);
	for (p = err; p < nl; p++)
		FZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
	FZ_CHECK((size_t)(err + errlen - nl - 1) == strlen(try_line));
	FZ_CHECK(!memcmp(nl + 1, try_line, strlen(try_line)));
}

/* The parse's result against the contract in opts.h. */
static void fz_check_result(int rc, const struct opts *o,
			    const struct fz_extra *x, const char *out,
			    size_t outlen, const char *err, size_t errlen)
{
	FZ_CHECK(rc == OPTS_RUN || rc == OPTS_EXIT || rc == OPTS_USAGE);
	if (rc == OPTS_RUN) {
		FZ_CHECK(outlen == 0 && errlen == 0);
		FZ_CHECK(o->host && fz_is_addr(o->host));
		FZ_CHECK(o->port <= 65535);
		FZ_CHECK(o->max_conns >= 1 && o->max_conns <= OPTS_MAX_CONNS);
		FZ_CHECK(o->buf_size >= OPTS_MIN_BUF_SIZE &&
			 o->buf_size <= OPTS_MAX_BUF_SIZE);
		FZ_CHECK(!x->backend || !strcmp(x->backend, "select") ||
			 !strcmp(x->backend, "poll") ||
			 !strcmp(x->backend, "epoll"));
		FZ_CHECK(x->level <= 9);
	} else if (rc == OPTS_EXIT) {
		/* --help or --version: stdout only. */
		FZ_CHECK(outlen > 0 && errlen == 0);
	} else {
		/* One error line naming the program, then the hint. */
		FZ_CHECK(outlen == 0);
		FZ_CHECK(!strncmp(err, FZ_PROG ": ", strlen(FZ_PROG ": ")));
		fz_check_error(err, errlen);
		if (FUZZ_OPTS_STRICT)
			fz_check_quote(err);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[FZ_MAX_INPUT + 1];
	char *argv[FZ_MAX_ARGS + 2];
	struct fz_extra x = { 0 };
	struct opts_extra ox = {
		.longopts = fz_longopts,
		.usage = "  --backend NAME      select, poll or epoll\n"
			 "  --edge              edge-triggered\n"
			 "  --level[=N]         0..9\n",
		.handle = fz_flag,
		.ctx = &x,
	};
	FILE *saved_out = stdout, *saved_err = stderr;
	char *out = NULL, *err = NULL;
	size_t outlen = 0, errlen = 0, i, start = 0;
	struct opts o;
	int argc = 0, rc;

	if (size > FZ_MAX_INPUT)
		size = FZ_MAX_INPUT;
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[argc++] = FZ_PROG;
	for (i = 0; i <= size && argc <= FZ_MAX_ARGS; i++) {
		if (buf[i] != '\0')
			continue;
		/* A trailing NUL ends the last argument; it adds none. */
		if (i == size && start == size && size > 0)
			break;
		argv[argc++] = buf + start;
		start = i + 1;
	}
	argv[argc] = NULL;
	memcpy(fz_args, argv, sizeof(argv[0]) * (size_t)(argc + 1));
	fz_argc = argc;
	for (i = 1; i < (size_t)argc; i++)
		fz_check_numbers(argv[i]);

	/* Capture instead of printing: fds 1 and 2 stay where they are, so
	 * libFuzzer's and the sanitizers' own reports still show. */
	stdout = open_memstream(&out, &outlen);
	stderr = open_memstream(&err, &errlen);
	if (!stdout || !stderr)
		abort();
	rc = opts_parse(&o, argc, argv, FZ_PROG, "1.0", &ox);
	fclose(stdout);
	fclose(stderr);
	stdout = saved_out;
	stderr = saved_err;
	fz_check_result(rc, &o, &x, out, outlen, err, errlen);
	free(out);
	free(err);
	return 0;
}
