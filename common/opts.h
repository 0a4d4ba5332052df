/* SPDX-License-Identifier: MIT */
/*
 * opts.h - the command line both servers share, and strict number parsing.
 *
 * Each binary adds its own flags through struct opts_extra; the shared ones
 * (--host, --port, --max-conns, --buf-size, --stats, --threads, --cpus,
 * -h/--help, --version), the help on the counters, and the usage-error
 * contract (one line naming the option and the value, then "Try 'PROG
 * --help' for more information.", exit 2) live here, once.
 */
#ifndef ECHO_OPTS_H
#define ECHO_OPTS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OPTS_DEFAULT_HOST "127.0.0.1"
#define OPTS_DEFAULT_MAX_CONNS 16384u
#define OPTS_DEFAULT_BUF_SIZE (64u * 1024u)
#define OPTS_MIN_BUF_SIZE 16u
#define OPTS_MAX_BUF_SIZE (256u * 1024u * 1024u)
#define OPTS_MAX_CONNS 1000000u
#define OPTS_MAX_THREADS 64u
#define OPTS_MAX_CPUS 64u /* entries of a --cpus list */

struct opts {
	const char *host;
	unsigned port; /* 0: the kernel picks a free port */
	unsigned max_conns; /* as asked; the driver may clamp it */
	uint32_t buf_size; /* per-connection output bound, bytes */
	bool stats; /* print a stats line every second */
	unsigned threads; /* event loops, one per thread (default 1) */
	unsigned ncpus; /* --cpus entries; 0: no pinning */
	uint16_t cpus[OPTS_MAX_CPUS]; /* loop i runs on cpus[i % ncpus] */
	unsigned stats_scope; /* STATS_READY or STATS_URING: whose counters */
};

/* A program's own flags. */
struct opts_extra {
	const struct option *longopts; /* terminated by a zero entry */
	const char *usage; /* help lines for these flags */
	/* handle - apply flag key (its .val) with arg (or NULL); return 0, or
	 * -EINVAL after writing the reason into err. */
	int (*handle)(void *ctx, int key, const char *arg, char *err,
		      size_t errlen);
	void *ctx;
	unsigned stats_scope; /* counters the help and the stats line show */
};

enum {
	OPTS_RUN = 0, /* parsed: run the server */
	OPTS_EXIT = 1, /* --help or --version printed: exit 0 */
	OPTS_USAGE = 2, /* bad usage, message printed on stderr: exit 2 */
};

/*
 * opts_parse - fill o from argv. Prints help (-h, --help) or version to
 * stdout, or one error line and the "Try" line to stderr. Returns OPTS_RUN,
 * OPTS_EXIT or OPTS_USAGE (the last two are also the exit codes to use).
 * A handler's message names the option and the value, like "--mode 'x':
 * expected basic or multishot".
 */
int opts_parse(struct opts *o, int argc, char **argv, const char *prog,
	       const char *version, const struct opts_extra *x);

/*
 * opts_error - print "PROG: MESSAGE" (control bytes shown as \xHH, so it
 * stays one line) and "Try 'PROG --help' for more information." on
 * stderr. Returns OPTS_USAGE.
 */
int opts_error(const char *prog, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * opts_reject - getopt_long (opterr 0, optstring starting with ':') gave
 * key '?' or ':' over the options lo, zero-terminated: print the one-line
 * error ("--port needs a value", "--stats takes no value, got '1'",
 * "unknown option '--x'") as opts_error does. Returns OPTS_USAGE.
 */
int opts_reject(const char *prog, int key, char **argv,
		const struct option *lo);

/* opts_uint - parse a whole decimal string into [min, max]; 0 or -EINVAL. */
int opts_uint(const char *s, unsigned long min, unsigned long max,
	      unsigned long *out);

/* opts_cpus - parse a CPU list such as "0,2-3" into cpus[] (at most max
 * entries, each below 1024); returns the count, or -EINVAL. */
int opts_cpus(const char *s, uint16_t *cpus, unsigned max);

/* opts_size - like opts_uint, with an optional k/K or m/M suffix (x1024). */
int opts_size(const char *s, unsigned long min, unsigned long max,
	      unsigned long *out);

#endif
