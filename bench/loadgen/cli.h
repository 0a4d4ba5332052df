/* SPDX-License-Identifier: MIT */
/*
 * cli.h - echo-load's command line: flags, defaults, strict parsing.
 *
 * Prints help, version and usage errors; never exits (main does). Numbers
 * must be whole strings in range; flags that do not fit the mode are errors.
 */
#ifndef LOAD_CLI_H
#define LOAD_CLI_H

#include <stdint.h>

#include "flow.h"

#define CLI_MAX_CPUS 256u
#define CLI_MAX_CONNS 100000u
#define CLI_MAX_IDLE 1000000u
#define CLI_MAX_THREADS 256u
#define CLI_MAX_SIZE (64u * 1024u * 1024u)
#define CLI_MAX_DEPTH 4096u
#define CLI_MAX_RATE 100000000ull
#define CLI_MAX_LABEL 128u
#define CLI_DEFAULT_DEPTH 8u /* pipeline */

enum cli_out {
	CLI_OUT_TEXT, /* the human table on stdout */
	CLI_OUT_CSV, /* header and row on stdout, table on stderr */
	CLI_OUT_JSON, /* one object on stdout, table on stderr */
};

struct cli {
	const char *host; /* numeric IPv4 or IPv6 */
	unsigned port;
	enum flow_mode mode;
	unsigned conns; /* active connections */
	unsigned idle; /* silent connections held open */
	unsigned threads;
	uint32_t size; /* message bytes */
	uint32_t depth; /* in flight: 1 pingpong, D pipeline, 0 unbounded */
	uint64_t rate; /* rate mode: messages/s in total; else 0 */
	uint64_t duration_ns; /* measured */
	uint64_t warmup_ns; /* before it */
	int cpus[CLI_MAX_CPUS]; /* thread i runs on cpus[i % ncpus] */
	unsigned ncpus; /* 0: no pinning */
	enum cli_out out;
	const char *label;
	uint64_t seed; /* of the byte streams */
	const char *engine; /* "epoll", "uring", or NULL: the best that works */
	const char *hdr; /* --hdr: the .hgrm file to write, or NULL */
};

enum {
	CLI_RUN = 0, /* parsed: run */
	CLI_EXIT = 1, /* --help or --version printed: exit 0 */
	CLI_USAGE = 2, /* bad usage, printed on stderr: exit 2 */
};

/* cli_parse - fill c from argv; returns CLI_RUN, CLI_EXIT (-h, --help or
 * --version printed) or CLI_USAGE (one error line and the "Try" line on
 * stderr). */
int cli_parse(struct cli *c, int argc, char **argv);

/* cli_mode_name - "pingpong", "pipeline", "stream" or "rate". */
const char *cli_mode_name(enum flow_mode mode);

/* cli_seconds - parse a time into ns within [min_ns, max_ns]: decimal
 * seconds ("2", "0.25"), or with an "s" or "ms" suffix ("2s", "250ms");
 * 0 or -EINVAL. */
int cli_seconds(const char *s, uint64_t min_ns, uint64_t max_ns, uint64_t *out);

/* cli_cpulist - parse "0,2,4-7" into cpus (at most max, in order, each
 * below CPU_SETSIZE); *n gets the count. 0 or -EINVAL. */
int cli_cpulist(const char *s, int *cpus, unsigned max, unsigned *n);

#endif
