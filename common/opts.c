// SPDX-License-Identifier: MIT
/*
 * opts.c - shared command-line parsing for both servers.
 *
 * getopt_long over the shared flags (a table of setters) plus a program's
 * own; strict numbers (whole string, in range). Prints help, version and
 * one-line errors; never exits.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"
#include "stats.h"

enum {
	OPTS_K_HOST = 0x1000,
	OPTS_K_PORT,
	OPTS_K_MAX_CONNS,
	OPTS_K_BUF_SIZE,
	OPTS_K_STATS,
	OPTS_K_THREADS,
	OPTS_K_CPUS,
	OPTS_K_HELP,
	OPTS_K_VERSION,
};

static const struct option opts_common[] = {
	{ "host", required_argument, NULL, OPTS_K_HOST },
	{ "port", required_argument, NULL, OPTS_K_PORT },
	{ "max-conns", required_argument, NULL, OPTS_K_MAX_CONNS },
	{ "buf-size", required_argument, NULL, OPTS_K_BUF_SIZE },
	{ "stats", no_argument, NULL, OPTS_K_STATS },
	{ "threads", required_argument, NULL, OPTS_K_THREADS },
	{ "cpus", required_argument, NULL, OPTS_K_CPUS },
	{ "help", no_argument, NULL, OPTS_K_HELP },
	{ "version", no_argument, NULL, OPTS_K_VERSION },
};

#define OPTS_NCOMMON (sizeof(opts_common) / sizeof(opts_common[0]))
#define OPTS_MAX_LONG 64
#define OPTS_ERR_LEN 512

static int opts_set_host(struct opts *o, const char *arg)
{
	unsigned char a[16];

	if (inet_pton(AF_INET, arg, a) != 1 && inet_pton(AF_INET6, arg, a) != 1)
		return -EINVAL;
	o->host = arg;
	return 0;
}

static int opts_set_port(struct opts *o, const char *arg)
{
	unsigned long v;

	if (opts_uint(arg, 0, 65535, &v))
		return -EINVAL;
	o->port = (unsigned)v;
	return 0;
}

static int opts_set_max_conns(struct opts *o, const char *arg)
{
	unsigned long v;

	if (opts_uint(arg, 1, OPTS_MAX_CONNS, &v))
		return -EINVAL;
	o->max_conns = (unsigned)v;
	return 0;
}

static int opts_set_buf_size(struct opts *o, const char *arg)
{
	unsigned long v;

	if (opts_size(arg, OPTS_MIN_BUF_SIZE, OPTS_MAX_BUF_SIZE, &v))
		return -EINVAL;
	o->buf_size = (uint32_t)v;
	return 0;
}

static int opts_set_threads(struct opts *o, const char *arg)
{
	unsigned long v;

	if (opts_uint(arg, 1, OPTS_MAX_THREADS, &v))
		return -EINVAL;
	o->threads = (unsigned)v;
	return 0;
}

static int opts_set_cpus(struct opts *o, const char *arg)
{
	int n = opts_cpus(arg, o->cpus, OPTS_MAX_CPUS);

	if (n < 0)
		return -EINVAL;
	o->ncpus = (unsigned)n;
	return 0;
}

/* A shared flag with a value: its setter (0 or -EINVAL, o untouched on
 * error) and what the error says it expected. */
static const struct opts_setter {
	int key;
	const char *name;
	int (*set)(struct opts *o, const char *arg);
	const char *expect;
} opts_setters[] = {
	{ OPTS_K_HOST, "--host", opts_set_host,
	  "a numeric IPv4 or IPv6 address" },
	{ OPTS_K_PORT, "--port", opts_set_port, "0..65535" },
	{ OPTS_K_MAX_CONNS, "--max-conns", opts_set_max_conns, "1..1000000" },
	{ OPTS_K_BUF_SIZE, "--buf-size", opts_set_buf_size,
	  "16..256M bytes (k/m suffixes)" },
	{ OPTS_K_THREADS, "--threads", opts_set_threads, "1..64" },
	{ OPTS_K_CPUS, "--cpus", opts_set_cpus,
	  "a CPU list such as 0,2-3 (CPUs 0..1023, at most 64)" },
};

/* The counters a program's stats line shows, each with its meaning. The
 * layout is also what help2man turns into the man page's list. */
static void opts_usage_counters(FILE *f, unsigned scope)
{
	fputs(
	    "\nCounters of the stats line on stderr (stats: name=value ...):\n"
	    "  final             1 on the line printed at exit, else 0\n"
	    "  uptime_ms         milliseconds since the server started\n"
	    "  interval_ms       milliseconds since the previous line\n",
	    f);
#define OPTS_COUNTER(name, flags, help) \
	if ((flags)&scope)              \
		fprintf(f, "  %-17s %s\n", #name, help);
	STATS_COUNTERS(OPTS_COUNTER)
#undef OPTS_COUNTER
	fputs("  NAME_per_s        per second over the interval, for", f);
#define OPTS_RATE(name, flags, help)                 \
	if (((flags)&scope) && ((flags)&STATS_RATE)) \
		fprintf(f, " %s", #name);
	STATS_COUNTERS(OPTS_RATE)
#undef OPTS_RATE
	fputs("\nThe line is printed every second with --stats, on SIGUSR1, "
	      "and at\nexit (the last one, final=1).\n",
	      f);
}

static void opts_usage(FILE *f, const char *prog, const struct opts_extra *x)
{
	fprintf(f, "Usage: %s [options]\nOptions:\n", prog);
	if (x && x->usage)
		fputs(x->usage, f);
	fprintf(
	    f,
	    "  --host ADDR         IPv4 or IPv6 address (default %s)\n"
	    "  --port N            TCP port, 0 picks a free one (default 0)\n"
	    "  --max-conns N       connections open at once (default %u)\n"
	    "  --buf-size BYTES    output bound per connection, k/m suffixes\n"
	    "                      (default %uk)\n",
	    OPTS_DEFAULT_HOST, OPTS_DEFAULT_MAX_CONNS,
	    OPTS_DEFAULT_BUF_SIZE / 1024);
	fputs(
	    "  --stats             print the counters every second\n"
	    "  --threads N         event loops, one per thread, SO_REUSEPORT\n"
	    "                      listeners; --max-conns is split evenly\n"
	    "                      (default 1)\n"
	    "  --cpus LIST         pin loop i to the i-th CPU of LIST, e.g.\n"
	    "                      0,2-3 (default: not pinned)\n"
	    "  -h, --help          show this help\n"
	    "  --version           show the version\n"
	    "The first stdout line is \"listening on HOST:PORT\".\n"
	    "SIGUSR1 prints the counters; SIGINT or SIGTERM stops the server.\n"
	    "Exit status: 0 stopped, 1 runtime failure, 2 bad usage.\n",
	    f);
	opts_usage_counters(f,
			    x && x->stats_scope ? x->stats_scope : STATS_BOTH);
}

int opts_error(const char *prog, const char *fmt, ...)
{
	char msg[OPTS_ERR_LEN];
	const unsigned char *p;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: ", prog);
	/* A value may hold any byte: keep the error one readable line. */
	for (p = (const unsigned char *)msg; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			fprintf(stderr, "\\x%02x", *p);
		else
			fputc(*p, stderr);
	}
	fprintf(stderr, "\nTry '%s --help' for more information.\n", prog);
	return OPTS_USAGE;
}

int opts_uint(const char *s, unsigned long min, unsigned long max,
	      unsigned long *out)
{
	unsigned long v;
	char *end;

	/* strtoul accepts leading space and a sign; we want digits only. */
	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int opts_cpus(const char *s, uint16_t *cpus, unsigned max)
{
	unsigned long a, b;
	unsigned n = 0;
	char item[32], *dash;
	size_t len;

	if (!s || !*s)
		return -EINVAL;
	for (;;) {
		len = strcspn(s, ",");
		if (len == 0 || len >= sizeof(item))
			return -EINVAL;
		memcpy(item, s, len);
		item[len] = '\0';
		dash = strchr(item, '-');
		if (dash)
			*dash++ = '\0';
		if (opts_uint(item, 0, 1023, &a) ||
		    opts_uint(dash ? dash : item, 0, 1023, &b) || b < a)
			return -EINVAL;
		for (; a <= b; a++) {
			if (n == max)
				return -EINVAL;
			cpus[n++] = (uint16_t)a;
		}
		if (!s[len])
			return (int)n;
		s += len + 1;
	}
}

int opts_size(const char *s, unsigned long min, unsigned long max,
	      unsigned long *out)
{
	unsigned long v, mul = 1;
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end == 'k' || *end == 'K')
		mul = 1024;
	else if (*end == 'm' || *end == 'M')
		mul = 1024 * 1024;
	if (mul != 1)
		end++;
	if (*end || v > max / mul || v * mul < min)
		return -EINVAL;
	*out = v * mul;
	return 0;
}

/* The shared flags, then the program's, then a zero entry; 0 if they do
 * not fit. */
static size_t opts_table(struct option *lo, const struct opts_extra *x)
{
	size_t n = 0, i;

	for (i = 0; i < OPTS_NCOMMON; i++)
		lo[n++] = opts_common[i];
	for (i = 0; x && x->longopts && x->longopts[i].name; i++) {
		if (n + 1 >= OPTS_MAX_LONG)
			return 0;
		lo[n++] = x->longopts[i];
	}
	memset(&lo[n], 0, sizeof(lo[n]));
	return n;
}

static const struct option *opts_find(const struct option *lo, int key)
{
	for (; lo->name; lo++)
		if (lo->val == key)
			return lo;
	return NULL;
}

/* True if arg ("--NAME" or "--NAME=VALUE") spells long option f, or a
 * prefix of it as getopt_long accepts. */
static bool opts_spells(const char *arg, const struct option *f)
{
	size_t n;

	if (!f || strncmp(arg, "--", 2))
		return false;
	n = strcspn(arg + 2, "=");
	return n && !strncmp(arg + 2, f->name, n);
}

/* How many of the options lo arg ("--NA" or "--NA=V") abbreviates. */
static unsigned opts_matches(const char *arg, const struct option *lo)
{
	unsigned n = 0;

	for (; lo->name; lo++)
		n += opts_spells(arg, lo);
	return n;
}

int opts_reject(const char *prog, int key, char **argv, const struct option *lo)
{
	/* A long flag's optopt is its key: a value given to a flag that
	 * takes none. In a cluster of short options optind has not moved on
	 * yet: optopt names the culprit then. */
	const struct option *f = optopt ? opts_find(lo, optopt) : NULL;
	const char *last = argv[optind - 1], *eq;

	if (key == ':')
		return opts_error(prog, "--%s needs a value",
				  f ? f->name : last + 2);
	if (opts_spells(last, f)) {
		eq = strchr(last, '=');
		return opts_error(prog, "--%s takes no value, got '%s'",
				  f->name, eq ? eq + 1 : "");
	}
	if (optopt > 0x20 && optopt < 0x7f)
		return opts_error(prog, "unknown option '-%c'", optopt);
	if (optopt)
		return opts_error(prog, "unknown option '-\\x%02x'",
				  optopt & 0xff);
	if (opts_matches(last, lo) > 1)
		return opts_error(prog,
				  "ambiguous option '%s': give more of "
				  "its name",
				  last);
	return opts_error(prog, "unknown option '%s'", last);
}

/* One shared flag with a value; 0 or OPTS_USAGE. */
static int opts_set(struct opts *o, int key, const char *arg, const char *prog)
{
	size_t i;

	for (i = 0; i < sizeof(opts_setters) / sizeof(opts_setters[0]); i++) {
		const struct opts_setter *st = &opts_setters[i];

		if (st->key != key)
			continue;
		if (st->set(o, arg))
			return opts_error(prog, "%s '%s': expected %s",
					  st->name, arg, st->expect);
		return 0;
	}
	return opts_error(prog, "bad option");
}

/* One flag (key from getopt); 0, or OPTS_EXIT / OPTS_USAGE. */
static int opts_one(struct opts *o, int key, const char *prog,
		    const char *version, const struct opts_extra *x)
{
	char err[OPTS_ERR_LEN];

	switch (key) {
	case 'h':
	case OPTS_K_HELP:
		opts_usage(stdout, prog, x);
		return OPTS_EXIT;
	case OPTS_K_VERSION:
		printf("%s %s\n", prog, version);
		return OPTS_EXIT;
	case OPTS_K_STATS:
		o->stats = true;
		return 0;
	}
	if (key >= OPTS_K_HOST && key <= OPTS_K_VERSION)
		return opts_set(o, key, optarg, prog);
	err[0] = '\0';
	if (!x || !x->handle ||
	    x->handle(x->ctx, key, optarg, err, sizeof(err)))
		return opts_error(prog, "%s", err[0] ? err : "bad option");
	return 0;
}

/* After the flags: no stray argument, and the flags agree. hint is the
 * argument that followed an optional-value flag given without '=' (it
 * took no value: "--sqpoll 1"), hint_name that flag. */
static int opts_finish(const struct opts *o, int argc, char **argv,
		       const char *prog, const char *hint,
		       const char *hint_name)
{
	if (optind < argc && argv[optind] == hint)
		return opts_error(prog,
				  "unexpected argument '%s' (--%s takes its "
				  "value after '=': --%s=%s)",
				  argv[optind], hint_name, hint_name, hint);
	if (optind < argc)
		return opts_error(prog, "unexpected argument '%s'",
				  argv[optind]);
	if (o->threads > o->max_conns)
		return opts_error(prog,
				  "--threads %u needs --max-conns of at "
				  "least %u",
				  o->threads, o->threads);
	return OPTS_RUN;
}

static void opts_defaults(struct opts *o, const struct opts_extra *x)
{
	o->host = OPTS_DEFAULT_HOST;
	o->port = 0;
	o->max_conns = OPTS_DEFAULT_MAX_CONNS;
	o->buf_size = OPTS_DEFAULT_BUF_SIZE;
	o->stats = false;
	o->threads = 1;
	o->ncpus = 0;
	o->stats_scope = x && x->stats_scope ? x->stats_scope : STATS_BOTH;
}

int opts_parse(struct opts *o, int argc, char **argv, const char *prog,
	       const char *version, const struct opts_extra *x)
{
	struct option lo[OPTS_MAX_LONG];
	const char *hint = NULL, *hint_name = NULL;
	const struct option *f;
	int key, rc;

	opts_defaults(o, x);
	if (!opts_table(lo, x))
		return opts_error(prog, "too many options defined");
	/* Reset getopt so that parsing can run more than once (tests). */
	optind = 0;
	opterr = 0;
	while ((key = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		if (key == '?' || key == ':')
			return opts_reject(prog, key, argv, lo);
		f = opts_find(lo, key);
		if (f && f->has_arg == optional_argument && !optarg &&
		    optind < argc) {
			hint = argv[optind];
			hint_name = f->name;
		}
		rc = opts_one(o, key, prog, version, x);
		if (rc)
			return rc;
	}
	return opts_finish(o, argc, argv, prog, hint, hint_name);
}
