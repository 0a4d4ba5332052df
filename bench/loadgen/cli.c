// SPDX-License-Identifier: MIT
/*
 * cli.c - getopt_long over echo-load's flags, then the cross-checks that
 * need every flag (mode against depth and rate, threads against conns).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
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
	{ "cpu", required_argument, NULL, CLI_K_CPU },
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
    "  --duration SEC      measured time, decimals allowed (default 5)\n"
    "  --warmup SEC        traffic before measuring (default 1)\n"
    "  --threads T         threads, each its own engine (default 1)\n"
    "  --engine E          auto: uring where the kernel has what it needs,\n"
    "                      else epoll (default); epoll; uring\n"
    "  --idle N            extra silent connections held open (default 0)\n"
    "  --cpu LIST          pin thread i to the i-th CPU of LIST (\"0,2-3\")\n"
    "  --csv               stdout: a CSV header line and one row\n"
    "  --json              stdout: one JSON object on one line\n"
    "  --label TEXT        copied into the output (no , \" \\ or controls)\n"
    "  --seed N            seed of the byte streams (default 1)\n"
    "  --hdr FILE          also write the latency histogram to FILE in\n"
    "                      HdrHistogram's .hgrm text form (microseconds)\n"
    "  --help, --version\n"
    "Every echoed byte is verified. Without --csv or --json the table goes\n"
    "to stdout, with them to stderr. SIGINT or SIGTERM ends the run early.\n"
    "Exit status: 0 ok, 1 runtime failure (cannot connect, wrong or missing\n"
    "echo, lost connection), 2 bad usage.\n";

static int cli_bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print the reason and the usage on stderr; returns CLI_USAGE. */
static int cli_bad(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", CLI_PROG);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", cli_usage_text);
	return CLI_USAGE;
}

const char *cli_mode_name(enum flow_mode mode)
{
	return (unsigned)mode < sizeof(cli_modes) / sizeof(cli_modes[0])
		   ? cli_modes[mode]
		   : "?";
}

int cli_seconds(const char *s, uint64_t min_ns, uint64_t max_ns, uint64_t *out)
{
	const char *p;
	double v;
	char *end;
	int dots = 0;

	/* Digits and at most one dot: no sign, exponent, hex or spaces. */
	if (!s || !*s)
		return -EINVAL;
	for (p = s; *p; p++) {
		if (*p == '.')
			dots++;
		else if (!isdigit((unsigned char)*p))
			return -EINVAL;
	}
	if (dots > 1 || !strcmp(s, "."))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v * 1e9 > (double)max_ns)
		return -EINVAL;
	*out = (uint64_t)llround(v * 1e9);
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

/* One flag; 0, or CLI_USAGE / CLI_EXIT. *depth_set notes an explicit
 * --depth, whose meaning depends on the mode. */
static int cli_flag(struct cli *c, int key, const char *arg, bool *depth_set)
{
	unsigned char addr[16];
	unsigned long v;
	unsigned i;

	switch (key) {
	case CLI_K_HOST:
		if (inet_pton(AF_INET, arg, addr) != 1 &&
		    inet_pton(AF_INET6, arg, addr) != 1)
			return cli_bad("--host: '%s' is not a numeric IPv4 or "
				       "IPv6 address",
				       arg);
		c->host = arg;
		return 0;
	case CLI_K_PORT:
		if (opts_uint(arg, 1, 65535, &v))
			return cli_bad("--port: '%s' is not 1..65535", arg);
		c->port = (unsigned)v;
		return 0;
	case CLI_K_MODE:
		for (i = 0; i < sizeof(cli_modes) / sizeof(cli_modes[0]); i++) {
			if (!strcmp(arg, cli_modes[i])) {
				c->mode = (enum flow_mode)i;
				return 0;
			}
		}
		return cli_bad("--mode: '%s' is not pingpong, pipeline, "
			       "stream or rate",
			       arg);
	case CLI_K_CONNS:
		if (opts_uint(arg, 1, CLI_MAX_CONNS, &v))
			return cli_bad("--conns: '%s' is not 1..100000", arg);
		c->conns = (unsigned)v;
		return 0;
	case CLI_K_SIZE:
		if (opts_size(arg, 1, CLI_MAX_SIZE, &v))
			return cli_bad("--size: '%s' is not 1..64M bytes", arg);
		c->size = (uint32_t)v;
		return 0;
	case CLI_K_DEPTH:
		if (opts_uint(arg, 1, CLI_MAX_DEPTH, &v))
			return cli_bad("--depth: '%s' is not 1..4096", arg);
		c->depth = (uint32_t)v;
		*depth_set = true;
		return 0;
	case CLI_K_RATE:
		if (opts_uint(arg, 1, CLI_MAX_RATE, &v))
			return cli_bad("--rate: '%s' is not 1..100000000", arg);
		c->rate = v;
		return 0;
	case CLI_K_DURATION:
		if (cli_seconds(arg, 100000000ull, CLI_DAY_NS, &c->duration_ns))
			return cli_bad("--duration: '%s' is not 0.1..86400 "
				       "seconds",
				       arg);
		return 0;
	case CLI_K_WARMUP:
		if (cli_seconds(arg, 0, CLI_DAY_NS, &c->warmup_ns))
			return cli_bad("--warmup: '%s' is not 0..86400 seconds",
				       arg);
		return 0;
	case CLI_K_THREADS:
		if (opts_uint(arg, 1, CLI_MAX_THREADS, &v))
			return cli_bad("--threads: '%s' is not 1..256", arg);
		c->threads = (unsigned)v;
		return 0;
	case CLI_K_IDLE:
		if (opts_uint(arg, 0, CLI_MAX_IDLE, &v))
			return cli_bad("--idle: '%s' is not 0..1000000", arg);
		c->idle = (unsigned)v;
		return 0;
	case CLI_K_CPU:
		if (cli_cpulist(arg, c->cpus, CLI_MAX_CPUS, &c->ncpus))
			return cli_bad("--cpu: '%s' is not a CPU list like "
				       "0,2-3",
				       arg);
		return 0;
	case CLI_K_CSV:
	case CLI_K_JSON:
		if (c->out != CLI_OUT_TEXT)
			return cli_bad("%s: --csv and --json exclude each "
				       "other",
				       key == CLI_K_CSV ? "--csv" : "--json");
		c->out = key == CLI_K_CSV ? CLI_OUT_CSV : CLI_OUT_JSON;
		return 0;
	case CLI_K_LABEL:
		if (!cli_label_ok(arg))
			return cli_bad("--label: '%s' has a comma, quote, "
				       "backslash or control character, or is "
				       "longer than 128",
				       arg);
		c->label = arg;
		return 0;
	case CLI_K_SEED:
		if (opts_uint(arg, 0, ULONG_MAX, &v))
			return cli_bad("--seed: '%s' is not a whole number",
				       arg);
		c->seed = v;
		return 0;
	case CLI_K_ENGINE:
		if (!strcmp(arg, "auto")) {
			c->engine = NULL;
			return 0;
		}
		if (strcmp(arg, "epoll") && strcmp(arg, "uring"))
			return cli_bad("--engine: '%s' is not auto, epoll or "
				       "uring",
				       arg);
		c->engine = arg;
		return 0;
	case CLI_K_HDR:
		c->hdr = arg;
		return 0;
	case CLI_K_HELP:
		fputs(cli_usage_text, stdout);
		return CLI_EXIT;
	case CLI_K_VERSION:
		printf("%s %s\n", CLI_PROG, ECHO_VERSION);
		return CLI_EXIT;
	}
	return cli_bad("unknown option");
}

/* The checks that need every flag. */
static int cli_check(struct cli *c, bool depth_set)
{
	if (!c->port)
		return cli_bad("%s is required", "--port");
	if (c->threads > c->conns)
		return cli_bad("%s: more threads than --conns", "--threads");
	switch (c->mode) {
	case FLOW_PINGPONG:
		if (depth_set && c->depth != 1)
			return cli_bad("%s: pingpong has one message in "
				       "flight; use --mode pipeline",
				       "--depth");
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
			return cli_bad("%s: rate mode is open loop, it has "
				       "no depth",
				       "--depth");
		if (!c->rate)
			return cli_bad("%s is required in rate mode", "--rate");
		c->depth = 0;
		break;
	}
	if (c->mode != FLOW_RATE && c->rate)
		return cli_bad("%s applies to --mode rate only", "--rate");
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
	while ((key = getopt_long(argc, argv, ":", cli_longopts, NULL)) != -1) {
		if (key == ':')
			return cli_bad("%s: missing value", argv[optind - 1]);
		if (key == '?')
			return cli_bad("unknown option '%s'", argv[optind - 1]);
		rc = cli_flag(c, key, optarg, &depth_set);
		if (rc)
			return rc;
	}
	if (optind < argc)
		return cli_bad("unexpected argument '%s'", argv[optind]);
	return cli_check(c, depth_set);
}
