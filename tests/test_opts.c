/* SPDX-License-Identifier: MIT */
/*
 * test_opts.c - unit tests for the shared command line (opts.h).
 *
 * Every flag, its bad values (exit code 2), --help/--version (exit 0), a
 * program's own flag, and the strict number parsers at their boundaries.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <limits.h>
#include <unistd.h>
#include <cmocka.h>

#include "opts.h"
#include "stats.h"

#define PROG "test-echo"
#define VERSION "9.8.7-test"
#define MAXARGS 16
#define OUTLEN 8192

/* What parse() saw on stdout and stderr. */
static char out_text[OUTLEN];
static char err_text[OUTLEN];

/* slurp - read a temporary file back into text and close it. */
static void slurp(FILE *f, char *text)
{
	size_t n;

	rewind(f);
	n = fread(text, 1, OUTLEN - 1, f);
	text[n] = '\0';
	fclose(f);
}

/*
 * parse - run opts_parse on a NULL-terminated argument list (program name
 * prepended), with stdout and stderr captured into out_text and err_text.
 * No assertion runs while the streams are redirected.
 */
static int parse_x(struct opts *o, const struct opts_extra *x, ...)
{
	char store[MAXARGS][64];
	char *argv[MAXARGS + 1];
	int argc = 0, rc, save_out, save_err;
	FILE *fo = tmpfile(), *fe = tmpfile();
	const char *a;
	va_list ap;

	assert_non_null(fo);
	assert_non_null(fe);
	/* getopt may permute argv: give it writable copies. */
	snprintf(store[argc], sizeof(store[argc]), "%s", PROG);
	argv[argc] = store[argc];
	argc++;
	va_start(ap, x);
	while ((a = va_arg(ap, const char *)) != NULL) {
		assert_true(argc < MAXARGS);
		assert_true(strlen(a) < sizeof(store[argc]));
		snprintf(store[argc], sizeof(store[argc]), "%s", a);
		argv[argc] = store[argc];
		argc++;
	}
	va_end(ap);
	argv[argc] = NULL;

	/* Garbage in o: opts_parse must fill every field itself. */
	memset(o, 0xA5, sizeof(*o));
	o->stats = true;
	fflush(stdout);
	fflush(stderr);
	save_out = dup(STDOUT_FILENO);
	save_err = dup(STDERR_FILENO);
	assert_true(save_out >= 0 && save_err >= 0);
	dup2(fileno(fo), STDOUT_FILENO);
	dup2(fileno(fe), STDERR_FILENO);
	rc = opts_parse(o, argc, argv, PROG, VERSION, x);
	fflush(stdout);
	fflush(stderr);
	dup2(save_out, STDOUT_FILENO);
	dup2(save_err, STDERR_FILENO);
	close(save_out);
	close(save_err);
	slurp(fo, out_text);
	slurp(fe, err_text);
	/* o->host may point into argv: keep it valid after we return. */
	if (rc == OPTS_RUN && o->host) {
		static char host[64];

		if (o->host >= store[0] && o->host < store[MAXARGS]) {
			snprintf(host, sizeof(host), "%s", o->host);
			o->host = host;
		}
	}
	return rc;
}

#define parse(o, ...) parse_x(o, NULL, ##__VA_ARGS__, (const char *)NULL)
#define parse_extra(o, x, ...) parse_x(o, x, ##__VA_ARGS__, (const char *)NULL)

/*
 * check_usage - rejected as bad usage: on stderr only, one error line
 * naming the program (no control byte in it), then the "Try" line.
 */
static void check_usage(int rc)
{
	const char *nl = strchr(err_text, '\n');

	assert_int_equal(rc, OPTS_USAGE);
	assert_int_equal(strlen(out_text), 0);
	assert_memory_equal(err_text, PROG ": ", strlen(PROG ": "));
	assert_non_null(nl);
	for (const char *p = err_text; p < nl; p++)
		assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
	assert_string_equal(nl + 1,
			    "Try '" PROG " --help' for more information.\n");
}

/* check_error - rejected, and the error line holds want. */
static void check_error(int rc, const char *want)
{
	check_usage(rc);
	if (!strstr(err_text, want))
		fail_msg("expected '%s' in '%s'", want, err_text);
}

static void check_defaults(const struct opts *o)
{
	assert_string_equal(o->host, OPTS_DEFAULT_HOST);
	assert_int_equal(o->port, 0);
	assert_int_equal(o->max_conns, OPTS_DEFAULT_MAX_CONNS);
	assert_int_equal(o->buf_size, OPTS_DEFAULT_BUF_SIZE);
	assert_false(o->stats);
	assert_int_equal(o->threads, 1);
	assert_int_equal(o->ncpus, 0);
}

static void test_defaults(void **state)
{
	struct opts o;

	assert_int_equal(parse(&o), OPTS_RUN);
	check_defaults(&o);
	assert_string_equal(o.host, "127.0.0.1");
	assert_int_equal(o.buf_size, 65536);
	assert_int_equal(strlen(out_text), 0);
	assert_int_equal(strlen(err_text), 0);
}

static void test_host(void **state)
{
	struct opts o;

	assert_int_equal(parse(&o, "--host", "::1"), OPTS_RUN);
	assert_string_equal(o.host, "::1");
	assert_int_equal(parse(&o, "--host=0.0.0.0"), OPTS_RUN);
	assert_string_equal(o.host, "0.0.0.0");
	assert_int_equal(o.port, 0);
}

static void test_port(void **state)
{
	struct opts o;

	assert_int_equal(parse(&o, "--port", "8080"), OPTS_RUN);
	assert_int_equal(o.port, 8080);
	assert_int_equal(parse(&o, "--port=8080"), OPTS_RUN);
	assert_int_equal(o.port, 8080);
	assert_int_equal(parse(&o, "--port", "0"), OPTS_RUN);
	assert_int_equal(o.port, 0);
	assert_int_equal(parse(&o, "--port", "65535"), OPTS_RUN);
	assert_int_equal(o.port, 65535);
	assert_int_equal(parse(&o, "--port", "1"), OPTS_RUN);
	assert_int_equal(o.port, 1);
	/* Other fields keep their defaults. */
	assert_string_equal(o.host, OPTS_DEFAULT_HOST);
	assert_int_equal(o.max_conns, OPTS_DEFAULT_MAX_CONNS);
}

static void test_max_conns(void **state)
{
	struct opts o;

	assert_int_equal(parse(&o, "--max-conns", "1"), OPTS_RUN);
	assert_int_equal(o.max_conns, 1);
	assert_int_equal(parse(&o, "--max-conns=250"), OPTS_RUN);
	assert_int_equal(o.max_conns, 250);
	assert_int_equal(parse(&o, "--max-conns", "1000000"), OPTS_RUN);
	assert_int_equal(o.max_conns, OPTS_MAX_CONNS);
}

static void test_threads_cpus(void **state)
{
	struct opts o;

	assert_int_equal(parse(&o, "--threads", "4"), OPTS_RUN);
	assert_int_equal(o.threads, 4);
	assert_int_equal(o.ncpus, 0);
	assert_int_equal(parse(&o, "--threads=64", "--cpus", "0,2-3,7"),
			 OPTS_RUN);
	assert_int_equal(o.threads, 64);
	assert_int_equal(o.ncpus, 4);
	assert_int_equal(o.cpus[0], 0);
	assert_int_equal(o.cpus[1], 2);
	assert_int_equal(o.cpus[2], 3);
	assert_int_equal(o.cpus[3], 7);
	assert_int_equal(parse(&o, "--cpus", "1023"), OPTS_RUN);
	assert_int_equal(o.cpus[0], 1023);
	check_usage(parse(&o, "--threads", "0"));
	check_usage(parse(&o, "--threads", "65"));
	check_usage(parse(&o, "--threads", "2", "--max-conns", "1"));
	check_usage(parse(&o, "--cpus", ""));
	check_usage(parse(&o, "--cpus", "1,"));
	check_usage(parse(&o, "--cpus", ",1"));
	check_usage(parse(&o, "--cpus", "3-1"));
	check_usage(parse(&o, "--cpus", "1024"));
	check_usage(parse(&o, "--cpus", "-1"));
	check_usage(parse(&o, "--cpus", "0-64"));
	check_usage(parse(&o, "--cpus", "a"));
	assert_int_equal(parse(&o, "--cpus", "0-63"), OPTS_RUN);
	assert_int_equal(o.ncpus, 64);
}

static void test_buf_size(void **state)
{
	static const struct {
		const char *arg;
		uint32_t want;
	} cases[] = {
		{ "4K", 4096 },
		{ "4k", 4096 },
		{ "1M", 1048576 },
		{ "1m", 1048576 },
		{ "1000", 1000 },
		{ "16", OPTS_MIN_BUF_SIZE },
		{ "256M", OPTS_MAX_BUF_SIZE },
		{ "268435456", OPTS_MAX_BUF_SIZE },
		{ "65536", 65536 },
	};
	struct opts o;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse(&o, "--buf-size", cases[i].arg),
				 OPTS_RUN);
		assert_int_equal(o.buf_size, cases[i].want);
	}
	assert_int_equal(parse(&o, "--buf-size=4K"), OPTS_RUN);
	assert_int_equal(o.buf_size, 4096);
}

static void test_stats_flag(void **state)
{
	struct opts o;

	assert_int_equal(parse(&o, "--stats"), OPTS_RUN);
	assert_true(o.stats);
	assert_int_equal(o.port, 0);
}

static void test_all_together(void **state)
{
	struct opts o;

	assert_int_equal(parse(&o, "--stats", "--host", "::1", "--port=9",
			       "--max-conns", "77", "--buf-size", "2m"),
			 OPTS_RUN);
	assert_true(o.stats);
	assert_string_equal(o.host, "::1");
	assert_int_equal(o.port, 9);
	assert_int_equal(o.max_conns, 77);
	assert_int_equal(o.buf_size, 2u << 20);
}

/* Parsing twice in one process: getopt's global state must not leak. */
static void test_parse_again(void **state)
{
	struct opts o;

	for (int i = 0; i < 3; i++) {
		assert_int_equal(parse(&o, "--port", "1234", "--stats"),
				 OPTS_RUN);
		assert_int_equal(o.port, 1234);
		assert_true(o.stats);
		check_usage(parse(&o, "--nope"));
		assert_int_equal(parse(&o), OPTS_RUN);
		check_defaults(&o);
	}
}

static void test_bad_values(void **state)
{
	static const char *const bad[][2] = {
		{ "--port", "70000" },
		{ "--port", "65536" },
		{ "--port", "-1" },
		{ "--port", "abc" },
		{ "--port", "" },
		{ "--port", "12x" },
		{ "--port", " 80" },
		{ "--port", "+80" },
		{ "--port", "0x50" },
		{ "--port", "1k" },
		{ "--max-conns", "0" },
		{ "--max-conns", "1000001" },
		{ "--max-conns", "-5" },
		{ "--max-conns", "" },
		{ "--buf-size", "0" },
		{ "--buf-size", "15" },
		{ "--buf-size", "1G" },
		{ "--buf-size", "257M" },
		{ "--buf-size", "268435457" },
		{ "--buf-size", "4Q" },
		{ "--buf-size", "4KB" },
		{ "--buf-size", "" },
		{ "--buf-size", "-4K" },
		{ "--buf-size", "99999999999999999999999" },
	};
	struct opts o;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char joined[128];

		check_usage(parse(&o, bad[i][0], bad[i][1]));
		snprintf(joined, sizeof(joined), "%s=%s", bad[i][0], bad[i][1]);
		check_usage(parse(&o, joined));
	}
}

static void test_bad_usage(void **state)
{
	struct opts o;

	check_usage(parse(&o, "--nope"));
	check_usage(parse(&o, "--nope=1"));
	check_usage(parse(&o, "stray"));
	check_usage(parse(&o, "--port", "80", "stray"));
	check_usage(parse(&o, "stray", "--port", "80"));
	check_usage(parse(&o, "--port")); /* value missing */
	check_usage(parse(&o, "--stats=yes"));
	check_usage(parse(&o, "--", "stray"));
}

static void test_help_version(void **state)
{
	struct opts o;

	assert_int_equal(parse(&o, "--help"), OPTS_EXIT);
	assert_non_null(strstr(out_text, "--port"));
	assert_non_null(strstr(out_text, "--buf-size"));
	assert_int_equal(strlen(err_text), 0);

	assert_int_equal(parse(&o, "--version"), OPTS_EXIT);
	assert_non_null(strstr(out_text, VERSION));
	assert_int_equal(strlen(err_text), 0);

	/* --help wins over whatever follows it. */
	assert_int_equal(parse(&o, "--port", "80", "--help"), OPTS_EXIT);
	assert_int_equal(parse(&o, "--help", "--port", "80"), OPTS_EXIT);
}

/* A program's own flags, as the drivers add them. */
struct rec {
	int calls;
	int key;
	char arg[64];
	bool arg_null;
};

static int rec_handle(void *ctx, int key, const char *arg, char *err,
		      size_t errlen)
{
	struct rec *r = ctx;

	r->calls++;
	r->key = key;
	r->arg_null = arg == NULL;
	snprintf(r->arg, sizeof(r->arg), "%s", arg ? arg : "");
	if (arg && !strcmp(arg, "bogus")) {
		snprintf(err, errlen, "--backend: no backend named %s", arg);
		return -EINVAL;
	}
	return 0;
}

static const struct option extra_longopts[] = {
	{ "backend", required_argument, NULL, 'b' },
	{ "edge", no_argument, NULL, 'e' },
	{ NULL, 0, NULL, 0 },
};

static void test_extra(void **state)
{
	struct rec r;
	struct opts_extra x = {
		.longopts = extra_longopts,
		.usage = "  --backend NAME      extra-usage-line\n",
		.handle = rec_handle,
		.ctx = &r,
	};
	struct opts o;

	memset(&r, 0, sizeof(r));
	assert_int_equal(parse_extra(&o, &x, "--backend", "epoll"), OPTS_RUN);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.key, 'b');
	assert_string_equal(r.arg, "epoll");
	check_defaults(&o);

	memset(&r, 0, sizeof(r));
	assert_int_equal(
	    parse_extra(&o, &x, "--port", "7", "--backend=poll", "--stats"),
	    OPTS_RUN);
	assert_int_equal(r.calls, 1);
	assert_string_equal(r.arg, "poll");
	assert_int_equal(o.port, 7);
	assert_true(o.stats);

	memset(&r, 0, sizeof(r));
	assert_int_equal(parse_extra(&o, &x, "--edge"), OPTS_RUN);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.key, 'e');
	assert_true(r.arg_null);

	/* The handler's reason is what the user sees. */
	memset(&r, 0, sizeof(r));
	check_usage(parse_extra(&o, &x, "--backend", "bogus"));
	assert_int_equal(r.calls, 1);
	assert_non_null(strstr(err_text, "no backend named bogus"));

	/* No handler call when the flag is absent. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(parse_extra(&o, &x, "--port", "1"), OPTS_RUN);
	assert_int_equal(r.calls, 0);

	/* The extra flag is still unknown to a program without it. */
	check_usage(parse(&o, "--backend", "epoll"));

	/* Help lists the program's own flags too. */
	assert_int_equal(parse_extra(&o, &x, "--help"), OPTS_EXIT);
	assert_non_null(strstr(out_text, "extra-usage-line"));
	assert_non_null(strstr(out_text, "--port"));
}

static void test_opts_uint(void **state)
{
	static const struct {
		const char *s;
		unsigned long min, max, want;
		int rc;
	} cases[] = {
		{ "0", 0, 10, 0, 0 },
		{ "10", 0, 10, 10, 0 },
		{ "11", 0, 10, 0, -EINVAL },
		{ "5", 5, 5, 5, 0 },
		{ "4", 5, 10, 0, -EINVAL },
		{ "007", 0, 10, 7, 0 },
		{ "65535", 0, 65535, 65535, 0 },
		{ "65536", 0, 65535, 0, -EINVAL },
		{ "18446744073709551615", 0, ULONG_MAX, ULONG_MAX, 0 },
		{ "18446744073709551616", 0, ULONG_MAX, 0, -EINVAL },
		{ "99999999999999999999999", 0, ULONG_MAX, 0, -EINVAL },
		{ "", 0, 10, 0, -EINVAL },
		{ "+5", 0, 10, 0, -EINVAL },
		{ "-5", 0, ULONG_MAX, 0, -EINVAL },
		{ "-0", 0, 10, 0, -EINVAL },
		{ " 5", 0, 10, 0, -EINVAL },
		{ "5 ", 0, 10, 0, -EINVAL },
		{ "\t5", 0, 10, 0, -EINVAL },
		{ "5\n", 0, 10, 0, -EINVAL },
		{ "5x", 0, 10, 0, -EINVAL },
		{ "0x5", 0, 10, 0, -EINVAL },
		{ "5k", 0, ULONG_MAX, 0, -EINVAL },
		{ "1.5", 0, 10, 0, -EINVAL },
		{ "abc", 0, 10, 0, -EINVAL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned long v = 12345;
		int rc = opts_uint(cases[i].s, cases[i].min, cases[i].max, &v);

		if (rc != cases[i].rc)
			fail_msg("opts_uint(\"%s\", %lu, %lu) = %d, want %d",
				 cases[i].s, cases[i].min, cases[i].max, rc,
				 cases[i].rc);
		if (rc == 0)
			assert_int_equal(v, cases[i].want);
	}
}

static void test_opts_size(void **state)
{
	static const struct {
		const char *s;
		unsigned long min, max, want;
		int rc;
	} cases[] = {
		{ "4096", 0, ULONG_MAX, 4096, 0 },
		{ "4k", 0, ULONG_MAX, 4096, 0 },
		{ "4K", 0, ULONG_MAX, 4096, 0 },
		{ "1m", 0, ULONG_MAX, 1048576, 0 },
		{ "1M", 0, ULONG_MAX, 1048576, 0 },
		{ "0K", 0, 10, 0, 0 },
		{ "4K", 4096, 4096, 4096, 0 },
		{ "4K", 0, 4095, 0, -EINVAL },
		{ "4K", 4097, ULONG_MAX, 0, -EINVAL },
		{ "16", 16, 256, 16, 0 },
		{ "15", 16, 256, 0, -EINVAL },
		{ "256M", 16, 256ul << 20, 256ul << 20, 0 },
		{ "257M", 16, 256ul << 20, 0, -EINVAL },
		{ "1G", 16, 256ul << 20, 0, -EINVAL },
		{ "1g", 0, ULONG_MAX, 0, -EINVAL },
		/* The multiplication must not wrap. */
		{ "18014398509481983K", 0, ULONG_MAX, ULONG_MAX - 1023, 0 },
		{ "18014398509481984K", 0, ULONG_MAX, 0, -EINVAL },
		{ "17592186044416M", 0, ULONG_MAX, 0, -EINVAL },
		{ "99999999999999999999999", 0, ULONG_MAX, 0, -EINVAL },
		{ "99999999999999999999999K", 0, ULONG_MAX, 0, -EINVAL },
		{ "4Q", 0, ULONG_MAX, 0, -EINVAL },
		{ "4KB", 0, ULONG_MAX, 0, -EINVAL },
		{ "4KK", 0, ULONG_MAX, 0, -EINVAL },
		{ "4 K", 0, ULONG_MAX, 0, -EINVAL },
		{ "K", 0, ULONG_MAX, 0, -EINVAL },
		{ "", 0, ULONG_MAX, 0, -EINVAL },
		{ "+4K", 0, ULONG_MAX, 0, -EINVAL },
		{ "-4K", 0, ULONG_MAX, 0, -EINVAL },
		{ " 4K", 0, ULONG_MAX, 0, -EINVAL },
		{ "4K ", 0, ULONG_MAX, 0, -EINVAL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned long v = 12345;
		int rc = opts_size(cases[i].s, cases[i].min, cases[i].max, &v);

		if (rc != cases[i].rc)
			fail_msg("opts_size(\"%s\", %lu, %lu) = %d, want %d",
				 cases[i].s, cases[i].min, cases[i].max, rc,
				 cases[i].rc);
		if (rc == 0)
			assert_int_equal(v, cases[i].want);
	}
}

/* The error names the option and the value; a flag without a value
 * says so; values with control bytes stay on one line. */
static void test_messages(void **state)
{
	struct opts o;

	check_error(parse(&o, "--port", "70000"),
		    "--port '70000': expected 0..65535");
	check_error(parse(&o, "--port=abc"), "--port 'abc': expected");
	check_error(parse(&o, "--max-conns", "0"), "--max-conns '0'");
	check_error(parse(&o, "--buf-size", "4Q"), "--buf-size '4Q'");
	check_error(parse(&o, "--threads", "65"), "--threads '65'");
	check_error(parse(&o, "--cpus", "a"), "--cpus 'a'");
	check_error(parse(&o, "--host", "localhost"), "--host 'localhost'");
	check_error(parse(&o, "--stats=1"), "--stats takes no value, got '1'");
	check_error(parse(&o, "--stats="), "--stats takes no value, got ''");
	check_error(parse(&o, "--port"), "--port needs a value");
	check_error(parse(&o, "--nope"), "unknown option '--nope'");
	check_error(parse(&o, "--h"), "ambiguous option '--h'");
	check_error(parse(&o, "--ho=::1", "--h=1"), "ambiguous option '--h=1'");
	check_error(parse(&o, "-x"), "unknown option '-x'");
	check_error(parse(&o, "-\x04"), "unknown option '-\\x04'");
	check_error(parse(&o, "--port=1\n2"), "--port '1\\x0a2'");
	check_error(parse(&o, "stray"), "unexpected argument 'stray'");
	check_error(parse(&o, "--threads", "2", "--max-conns", "1"),
		    "--threads 2 needs --max-conns of at least 2");
}

/* -h is --help; --help and -h print the counters this program keeps. */
static void test_short_help(void **state)
{
	struct opts_extra ready = { .stats_scope = STATS_READY };
	struct opts_extra uring = { .stats_scope = STATS_URING };
	char help[OUTLEN];
	struct opts o;

	assert_int_equal(parse(&o, "--help"), OPTS_EXIT);
	snprintf(help, sizeof(help), "%s", out_text);
	assert_int_equal(parse(&o, "-h"), OPTS_EXIT);
	assert_string_equal(out_text, help);
	assert_int_equal(strlen(err_text), 0);
	assert_non_null(strstr(help, "Usage: " PROG " [options]\n"));
	assert_non_null(strstr(help, "-h, --help"));
	assert_int_equal(parse_extra(&o, &ready, "-h"), OPTS_EXIT);
	assert_non_null(strstr(out_text, "\n  bytes_in "));
	assert_non_null(strstr(out_text, "\n  uptime_ms "));
	assert_non_null(strstr(out_text, "\n  ctls "));
	assert_null(strstr(out_text, "\n  zc_sends "));
	assert_int_equal(parse_extra(&o, &uring, "-h"), OPTS_EXIT);
	assert_non_null(strstr(out_text, "\n  zc_sends "));
	assert_null(strstr(out_text, "\n  ctls "));
	assert_int_equal(parse_extra(&o, &uring), OPTS_RUN);
	assert_int_equal(o.stats_scope, STATS_URING);
}

/* An optional-value flag followed by a separate word: the word is stray,
 * and the error says the value needs '='. */
static void test_optional_hint(void **state)
{
	static const struct option lo[] = {
		{ "level", optional_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	struct rec r;
	struct opts_extra x = {
		.longopts = lo,
		.handle = rec_handle,
		.ctx = &r,
	};
	struct opts o;

	memset(&r, 0, sizeof(r));
	check_error(parse_extra(&o, &x, "--level", "3"),
		    "unexpected argument '3' (--level takes its value after "
		    "'=': --level=3)");
	assert_int_equal(parse_extra(&o, &x, "--level=3"), OPTS_RUN);
	assert_string_equal(r.arg, "3");
	check_error(parse_extra(&o, &x, "--level", "--port", "1", "x"),
		    "unexpected argument 'x'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_host),
		cmocka_unit_test(test_port),
		cmocka_unit_test(test_max_conns),
		cmocka_unit_test(test_threads_cpus),
		cmocka_unit_test(test_buf_size),
		cmocka_unit_test(test_stats_flag),
		cmocka_unit_test(test_all_together),
		cmocka_unit_test(test_parse_again),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_bad_usage),
		cmocka_unit_test(test_help_version),
		cmocka_unit_test(test_extra),
		cmocka_unit_test(test_opts_uint),
		cmocka_unit_test(test_opts_size),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_short_help),
		cmocka_unit_test(test_optional_hint),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
