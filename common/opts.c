// SPDX-License-Identifier: MIT
/*
 * opts.c - shared command-line parsing for both servers.
 *
 * getopt_long over the shared flags plus a program's own; strict numbers
 * (whole string, in range). Prints help, version and errors; never exits.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"

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

static void opts_usage(FILE *f, const char *prog, const struct opts_extra *x)
{
	fprintf(f, "Usage: %s [options]\n", prog);
	if (x && x->usage)
		fputs(x->usage, f);
	fprintf(f, "  --host ADDR         IPv4 or IPv6 address (default %s)\n",
		OPTS_DEFAULT_HOST);
	fputs(
	    "  --port N            TCP port, 0 picks a free one (default 0)\n",
	    f);
	fprintf(f,
		"  --max-conns N       connections open at once (default %u)\n",
		OPTS_DEFAULT_MAX_CONNS);
	fprintf(
	    f,
	    "  --buf-size BYTES    output bound per connection (default %uk)\n",
	    OPTS_DEFAULT_BUF_SIZE / 1024);
	fputs(
	    "  --stats             print the counters every second\n"
	    "  --threads N         event loops, one per thread, SO_REUSEPORT\n"
	    "                      listeners; --max-conns is split evenly\n"
	    "                      (default 1)\n"
	    "  --cpus LIST         pin loop i to the i-th CPU of LIST, e.g.\n"
	    "                      0,2-3 (default: not pinned)\n"
	    "  --help              show this help\n"
	    "  --version           show the version\n"
	    "The first stdout line is \"listening on HOST:PORT\".\n"
	    "SIGUSR1 prints the counters; SIGINT or SIGTERM stops the server.\n"
	    "Exit status: 0 stopped, 1 runtime failure, 2 bad usage.\n",
	    f);
}

static int opts_bad(const char *prog, const struct opts_extra *x,
		    const char *msg)
{
	fprintf(stderr, "%s: %s\n", prog, msg);
	opts_usage(stderr, prog, x);
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

int opts_parse(struct opts *o, int argc, char **argv, const char *prog,
	       const char *version, const struct opts_extra *x)
{
	struct option lo[OPTS_MAX_LONG];
	char err[256];
	unsigned long v;
	size_t n = 0, i;
	int key;

	o->host = OPTS_DEFAULT_HOST;
	o->port = 0;
	o->max_conns = OPTS_DEFAULT_MAX_CONNS;
	o->buf_size = OPTS_DEFAULT_BUF_SIZE;
	o->stats = false;
	o->threads = 1;
	o->ncpus = 0;

	for (i = 0; i < OPTS_NCOMMON; i++)
		lo[n++] = opts_common[i];
	for (i = 0; x && x->longopts && x->longopts[i].name; i++) {
		if (n + 1 >= OPTS_MAX_LONG)
			return opts_bad(prog, x, "too many options defined");
		lo[n++] = x->longopts[i];
	}
	memset(&lo[n], 0, sizeof(lo[n]));

	/* Reset getopt so that parsing can run more than once (tests). */
	optind = 0;
	opterr = 0;
	while ((key = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
		switch (key) {
		case OPTS_K_HOST: {
			unsigned char a[16];

			if (inet_pton(AF_INET, optarg, a) != 1 &&
			    inet_pton(AF_INET6, optarg, a) != 1)
				return opts_bad(prog, x,
						"--host: expected a numeric "
						"IPv4 or IPv6 address");
			o->host = optarg;
			break;
		}
		case OPTS_K_PORT:
			if (opts_uint(optarg, 0, 65535, &v))
				return opts_bad(prog, x,
						"--port: expected 0..65535");
			o->port = (unsigned)v;
			break;
		case OPTS_K_MAX_CONNS:
			if (opts_uint(optarg, 1, OPTS_MAX_CONNS, &v))
				return opts_bad(
				    prog, x,
				    "--max-conns: expected 1..1000000");
			o->max_conns = (unsigned)v;
			break;
		case OPTS_K_BUF_SIZE:
			if (opts_size(optarg, OPTS_MIN_BUF_SIZE,
				      OPTS_MAX_BUF_SIZE, &v))
				return opts_bad(
				    prog, x,
				    "--buf-size: expected 16..256M bytes");
			o->buf_size = (uint32_t)v;
			break;
		case OPTS_K_STATS:
			o->stats = true;
			break;
		case OPTS_K_THREADS:
			if (opts_uint(optarg, 1, OPTS_MAX_THREADS, &v))
				return opts_bad(prog, x,
						"--threads: expected 1..64");
			o->threads = (unsigned)v;
			break;
		case OPTS_K_CPUS: {
			int nc = opts_cpus(optarg, o->cpus, OPTS_MAX_CPUS);

			if (nc < 0)
				return opts_bad(prog, x,
						"--cpus: expected a list such "
						"as 0,2-3 (CPUs 0..1023, at "
						"most 64)");
			o->ncpus = (unsigned)nc;
			break;
		}
		case OPTS_K_HELP:
			opts_usage(stdout, prog, x);
			return OPTS_EXIT;
		case OPTS_K_VERSION:
			printf("%s %s\n", prog, version);
			return OPTS_EXIT;
		case ':':
			snprintf(err, sizeof(err), "%s: missing value",
				 argv[optind - 1]);
			return opts_bad(prog, x, err);
		case '?':
			/* In a cluster of short options optind has not moved
			 * on yet: optopt names the culprit then. */
			if (optopt)
				snprintf(err, sizeof(err),
					 "unknown option '-%c'", optopt);
			else
				snprintf(err, sizeof(err),
					 "unknown option '%s'",
					 argv[optind - 1]);
			return opts_bad(prog, x, err);
		default:
			err[0] = '\0';
			if (!x || !x->handle ||
			    x->handle(x->ctx, key, optarg, err, sizeof(err)))
				return opts_bad(prog, x,
						err[0] ? err : "bad option");
			break;
		}
	}
	if (optind < argc) {
		snprintf(err, sizeof(err), "unexpected argument '%s'",
			 argv[optind]);
		return opts_bad(prog, x, err);
	}
	if (o->threads > o->max_conns) {
		snprintf(err, sizeof(err),
			 "--threads %u needs --max-conns of at least %u",
			 o->threads, o->threads);
		return opts_bad(prog, x, err);
	}
	return OPTS_RUN;
}
