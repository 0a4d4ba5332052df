// SPDX-License-Identifier: MIT
/*
 * cli.c - getopt_long over echo-load's flags, then the cross-checks that
 * need every flag (mode against depth and rate, threads against conns).
 * Errors are one line naming the flag and the value (opts_error).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "opts.h"

#define CLI_PROG "echo-load"
#define CLI_DAY_NS (86400ull * 1000000000ull)

enum {
	CLI_K_HOST = 0x3000,
	CLI_K_PORT,
	CLI_K_MODE,
	CLI_K_CONNS,
	CLI_K_SIZE,
	CLI_K_DEPTH,
	CLI_K_RATE,
	CLI_K_DURATION,
	CLI_K_WARMUP,
	CLI_K_THREADS,
	CLI_K_IDLE,
	CLI_K_CPU,
	CLI_K_CSV,
	CLI_K_JSON,
	CLI_K_LABEL,
	CLI_K_SEED,
	CLI_K_ENGINE,
	CLI_K_HDR,
	CLI_K_HELP,
	CLI_K_VERSION,
};

static const struct option cli_longopts[] = {
	{ "host", required_argument, NULL, CLI_K_HOST },
	{ "port", required_argument, NULL, CLI_K_PORT },
	{ "mode", required_argument, NULL, CLI_K_MODE },
	{ "conns", required_argument, NULL, CLI_K_CONNS },
	{ "size", required_argument, NULL, CLI_K_SIZE },
	{ "depth", required_argument, NULL, CLI_K_DEPTH },
	{ "rate", required_argument, NULL, CLI_K_RATE },
	{ "duration", required_argument, NULL, CLI_K_DURATION },
	{ "warmup", required_argument, NULL, CLI_K_WARMUP },
	{ "threads", required_argument, NULL, CLI_K_THREADS },
	{ "idle", required_argument, NULL, CLI_K_IDLE },
	{ "cpus", required_argument, NULL, CLI_K_CPU },
	{ "cpu", required_argument, NULL, CLI_K_CPU }, /* the old name */
	{ "csv", no_argument, NULL, CLI_K_CSV },
	{ "json", no_argument, NULL, CLI_K_JSON },
	{ "label", required_argument, NULL, CLI_K_LABEL },
	{ "seed", required_argument, NULL, CLI_K_SEED },
	{ "engine", required_argument, NULL, CLI_K_ENGINE },
	{ "hdr", required_argument, NULL, CLI_K_HDR },
	{ "help", no_argument, NULL, CLI_K_HELP },
	{ "version", no_argument, NULL, CLI_K_VERSION },
	{ NULL, 0, NULL, 0 },
};

static const char *const cli_modes[] = {
	[FLOW_PINGPONG] = "pingpong",
	[FLOW_PIPELINE] = "pipeline",
	[FLOW_STREAM] = "stream",
	[FLOW_RATE] = "rate",
};

static const char cli_usage_text[] =
    "Usage: echo-load --port N [options]\n"
    "Options:\n"
    "  --host ADDR         numeric IPv4 or IPv6 address (default 127.0.0.1)\n"
    "  --port N            the echo server's TCP port (required)\n"
    "  --mode MODE         pingpong: one message in flight per connection\n"
    "                      pipeline: --depth messages in flight\n"
    "                      stream: send and receive independently\n"
    "                      rate: open loop at --rate messages/s in total,\n"
    "                      latency from each intended send time\n"
    "                      (default pingpong)\n"
    "  --conns N           active connections (default 1)\n"
    "  --size BYTES        message size, k/m suffixes (default 64)\n"
    "  --depth D           pipeline: messages in flight (default 8);\n"
    "                      stream: optional bound (default none)\n"
    "  --rate N            rate mode: messages per second, all connections\n"
    "  --duration TIME     measured time: seconds (2, 0.5) or with an s or\n"
    "                      ms suffix (2s, 500ms); default 5s\n"
    "  --warmup TIME       traffic before measuring, as --duration\n"
    "                      (default 1s)\n"
    "  --threads T         threads, each its own engine (default 1)\n"
    "  --engine E          auto: uring where the kernel has what it needs,\n"
    "                      else epoll (default); epoll; uring\n"
    "  --idle N            extra silent connections held open (default 0)\n"
    "  --cpus LIST         pin thread i to the i-th CPU of LIST (\"0,2-3\");\n"
    "                      --cpu is the same flag\n"
    "  --csv               stdout: a CSV header line and one row\n"
    "  --json              stdout: one JSON object on one line\n"
    "  --label TEXT        copied into the output (no , \" \\ or controls)\n"
    "  --seed N            seed of the byte streams (default 1)\n"
    "  --hdr FILE          also write the latency histogram to FILE in\n"
    "                      HdrHistogram's .hgrm text form (microseconds)\n"
    "  -h, --help          show this help\n"
    "  --version           show the version\n"
    "Every echoed byte is verified. Without --csv or --json the table goes\n"
    "to stdout, with them to stderr. SIGINT or SIGTERM ends the run early.\n"
    "Exit status: 0 ok, 1 runtime failure (cannot connect, wrong or missing\n"
    "echo, lost connection), 2 bad usage.\n";

const char *cli_mode_name(enum flow_mode mode)
{
	return (unsigned)mode < sizeof(cli_modes) / sizeof(cli_modes[0])
		   ? cli_modes[mode]
		   : "?";
}

int cli_seconds(const char *s, uint64_t min_ns, uint64_t max_ns, uint64_t *out)
{
	char num[32];
	const char *p;
	double v, unit = 1e9;
	size_t len;
	char *end;
	int dots = 0;

	/* Digits, at most one dot, then "", "s" or "ms": no sign, exponent,
	 * hex or spaces. */
	if (!s)
		return -EINVAL;
	len = strspn(s, "0123456789.");
	if (!strcmp(s + len, "ms"))
		unit = 1e6;
	else if (strcmp(s + len, "s") && s[len])
		return -EINVAL;
	if (len == 0 || len >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, len);
	num[len] = '\0';
	for (p = num; *p; p++)
		dots += *p == '.';
	if (dots > 1 || !strcmp(num, "."))
		return -EINVAL;
	errno = 0;
	v = strtod(num, &end);
	if (errno || *end || !isfinite(v) || v * unit > (double)max_ns)
		return -EINVAL;
	*out = (uint64_t)llround(v * unit);
	if (*out < min_ns || *out > max_ns)
		return -EINVAL;
	return 0;
}

int cli_cpulist(const char *s, int *cpus, unsigned max, unsigned *n)
{
	unsigned long a, b;
	char *end;

	*n = 0;
	if (!s || !*s)
		return -EINVAL;
	for (;;) {
		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		a = strtoul(s, &end, 10);
		b = a;
		if (*end == '-') {
			if (!isdigit((unsigned char)end[1]))
				return -EINVAL;
			b = strtoul(end + 1, &end, 10);
		}
		if (a > b || b >= CPU_SETSIZE)
			return -EINVAL;
		for (; a <= b; a++) {
			if (*n == max)
				return -EINVAL;
			cpus[(*n)++] = (int)a;
		}
		if (!*end)
			return 0;
		if (*end != ',')
			return -EINVAL;
		s = end + 1;
	}
}

static bool cli_label_ok(const char *s)
{
	if (strlen(s) > CLI_MAX_LABEL)
		return false;
	for (; *s; s++) {
		if (*s < 0x20 || *s > 0x7e || *s == ',' || *s == '"' ||
		    *s == '\\')
			return false;
	}
	return true;
}

#define CLI_BAD(flag, arg, expect) \
	opts_error(CLI_PROG, "%s '%s': expected %s", flag, arg, expect)

/* A flag with a whole number; 0 or CLI_USAGE. */
static int cli_number(struct cli *c, int key, const char *arg, bool *depth_set)
{
	unsigned long v;

	switch (key) {
	case CLI_K_PORT:
		if (opts_uint(arg, 1, 65535, &v))
			return CLI_BAD("--port", arg, "1..65535");
		c->port = (unsigned)v;
		return 0;
	case CLI_K_CONNS:
		if (opts_uint(arg, 1, CLI_MAX_CONNS, &v))
			return CLI_BAD("--conns", arg, "1..100000");
		c->conns = (unsigned)v;
		return 0;
	case CLI_K_SIZE:
		if (opts_size(arg, 1, CLI_MAX_SIZE, &v))
			return CLI_BAD("--size", arg, "1..64M bytes");
		c->size = (uint32_t)v;
		return 0;
	case CLI_K_DEPTH:
		if (opts_uint(arg, 1, CLI_MAX_DEPTH, &v))
			return CLI_BAD("--depth", arg, "1..4096");
		c->depth = (uint32_t)v;
		*depth_set = true;
		return 0;
	case CLI_K_RATE:
		if (opts_uint(arg, 1, CLI_MAX_RATE, &v))
			return CLI_BAD("--rate", arg, "1..100000000");
		c->rate = v;
		return 0;
	case CLI_K_THREADS:
		if (opts_uint(arg, 1, CLI_MAX_THREADS, &v))
			return CLI_BAD("--threads", arg, "1..256");
		c->threads = (unsigned)v;
		return 0;
	case CLI_K_IDLE:
		if (opts_uint(arg, 0, CLI_MAX_IDLE, &v))
			return CLI_BAD("--idle", arg, "0..1000000");
		c->idle = (unsigned)v;
		return 0;
	case CLI_K_SEED:
		if (opts_uint(arg, 0, ULONG_MAX, &v))
			return CLI_BAD("--seed", arg, "a whole number");
		c->seed = v;
		return 0;
	}
	return opts_error(CLI_PROG, "bad option");
}

static int cli_set_mode(struct cli *c, const char *arg)
{
	unsigned i;

	for (i = 0; i < sizeof(cli_modes) / sizeof(cli_modes[0]); i++) {
		if (!strcmp(arg, cli_modes[i])) {
			c->mode = (enum flow_mode)i;
			return 0;
		}
	}
	return CLI_BAD("--mode", arg, "pingpong, pipeline, stream or rate");
}

static int cli_set_engine(struct cli *c, const char *arg)
{
	if (!strcmp(arg, "auto")) {
		c->engine = NULL;
		return 0;
	}
	if (strcmp(arg, "epoll") && strcmp(arg, "uring"))
		return CLI_BAD("--engine", arg, "auto, epoll or uring");
	c->engine = arg;
	return 0;
}

/* A flag with a word, a list or a time, or none; 0 or CLI_USAGE. */
static int cli_word(struct cli *c, int key, const char *arg)
{
	unsigned char addr[16];

	switch (key) {
	case CLI_K_HOST:
		if (inet_pton(AF_INET, arg, addr) != 1 &&
		    inet_pton(AF_INET6, arg, addr) != 1)
			return CLI_BAD("--host", arg,
				       "a numeric IPv4 or IPv6 address");
		c->host = arg;
		return 0;
	case CLI_K_MODE:
		return cli_set_mode(c, arg);
	case CLI_K_DURATION:
		if (cli_seconds(arg, 100000000ull, CLI_DAY_NS, &c->duration_ns))
			return CLI_BAD("--duration", arg,
				       "0.1s..86400s (5, 2.5s, 500ms)");
		return 0;
	case CLI_K_WARMUP:
		if (cli_seconds(arg, 0, CLI_DAY_NS, &c->warmup_ns))
			return CLI_BAD("--warmup", arg,
				       "0..86400s (1, 0.5s, 200ms)");
		return 0;
	case CLI_K_CPU:
		if (cli_cpulist(arg, c->cpus, CLI_MAX_CPUS, &c->ncpus))
			return CLI_BAD("--cpus", arg,
				       "a CPU list such as 0,2-3");
		return 0;
	case CLI_K_CSV:
	case CLI_K_JSON:
		if (c->out != CLI_OUT_TEXT)
			return opts_error(
			    CLI_PROG, "--csv and --json exclude each other");
		c->out = key == CLI_K_CSV ? CLI_OUT_CSV : CLI_OUT_JSON;
		return 0;
	case CLI_K_LABEL:
		if (!cli_label_ok(arg))
			return CLI_BAD("--label", arg,
				       "at most 128 characters, no comma, "
				       "quote, backslash or control character");
		c->label = arg;
		return 0;
	case CLI_K_ENGINE:
		return cli_set_engine(c, arg);
	case CLI_K_HDR:
		c->hdr = arg;
		return 0;
	}
	return opts_error(CLI_PROG, "bad option");
}

/* One flag; 0, or CLI_USAGE / CLI_EXIT. *depth_set notes an explicit
 * --depth, whose meaning depends on the mode. */
static int cli_flag(struct cli *c, int key, const char *arg, bool *depth_set)
{
	switch (key) {
	case 'h':
	case CLI_K_HELP:
		fputs(cli_usage_text, stdout);
		return CLI_EXIT;
	case CLI_K_VERSION:
		printf("%s %s\n", CLI_PROG, ECHO_VERSION);
		return CLI_EXIT;
	case CLI_K_PORT:
	case CLI_K_CONNS:
	case CLI_K_SIZE:
	case CLI_K_DEPTH:
	case CLI_K_RATE:
	case CLI_K_THREADS:
	case CLI_K_IDLE:
	case CLI_K_SEED:
		return cli_number(c, key, arg, depth_set);
	}
	return cli_word(c, key, arg);
}

/* The checks that need every flag. */
static int cli_check(struct cli *c, bool depth_set)
{
	if (!c->port)
		return opts_error(CLI_PROG, "--port is required");
	if (c->threads > c->conns)
		return opts_error(CLI_PROG,
				  "--threads %u: more threads than --conns %u",
				  c->threads, c->conns);
	switch (c->mode) {
	case FLOW_PINGPONG:
		if (depth_set && c->depth != 1)
			return opts_error(CLI_PROG,
					  "--depth %u: pingpong has one "
					  "message in flight; use --mode "
					  "pipeline",
					  c->depth);
		c->depth = 1;
		break;
	case FLOW_PIPELINE:
		if (!depth_set)
			c->depth = CLI_DEFAULT_DEPTH;
		break;
	case FLOW_STREAM:
		if (!depth_set)
			c->depth = 0;
		break;
	case FLOW_RATE:
		if (depth_set)
			return opts_error(CLI_PROG,
					  "--depth %u: rate mode is open "
					  "loop, it has no depth",
					  c->depth);
		if (!c->rate)
			return opts_error(CLI_PROG,
					  "--rate is required in rate mode");
		c->depth = 0;
		break;
	}
	if (c->mode != FLOW_RATE && c->rate)
		return opts_error(CLI_PROG,
				  "--rate %llu applies to --mode rate only",
				  (unsigned long long)c->rate);
	return CLI_RUN;
}

int cli_parse(struct cli *c, int argc, char **argv)
{
	bool depth_set = false;
	int key, rc;

	*c = (struct cli){
		.host = OPTS_DEFAULT_HOST,
		.mode = FLOW_PINGPONG,
		.conns = 1,
		.threads = 1,
		.size = 64,
		.depth = 1,
		.duration_ns = 5000000000ull,
		.warmup_ns = 1000000000ull,
		.label = "",
		.seed = 1,
	};
	/* Reset getopt so that parsing can run more than once (tests). */
	optind = 0;
	opterr = 0;
	while ((key = getopt_long(argc, argv, ":h", cli_longopts, NULL)) !=
	       -1) {
		if (key == ':' || key == '?')
			return opts_reject(CLI_PROG, key, argv, cli_longopts);
		rc = cli_flag(c, key, optarg, &depth_set);
		if (rc)
			return rc;
	}
	if (optind < argc)
		return opts_error(CLI_PROG, "unexpected argument '%s'",
				  argv[optind]);
	return cli_check(c, depth_set);
}
