// SPDX-License-Identifier: MIT
/*
 * main.c - uring-echo: command line in, exit code out.
 *
 * Parses the shared options plus --mode, --defer-taskrun and
 * --ring-entries, then hands over to the completion loop. exit() happens
 * only here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"
#include "opts.h"
#include "ring.h"

#define URING_DEFAULT_ENTRIES 1024u
#define URING_MAX_ENTRIES 32768u /* the kernel's IORING_MAX_ENTRIES */
#define URING_DEFAULT_BUFS 512u

enum {
	URING_K_MODE = 0x2000,
	URING_K_DEFER,
	URING_K_NO_DEFER,
	URING_K_ENTRIES,
	URING_K_BUFS,
};

static const struct option uring_longopts[] = {
	{ "mode", required_argument, NULL, URING_K_MODE },
	{ "defer-taskrun", no_argument, NULL, URING_K_DEFER },
	{ "no-defer-taskrun", no_argument, NULL, URING_K_NO_DEFER },
	{ "ring-entries", required_argument, NULL, URING_K_ENTRIES },
	{ "bufs", required_argument, NULL, URING_K_BUFS },
	{ NULL, 0, NULL, 0 },
};

static int uring_flag(void *ctx, int key, const char *arg, char *err,
		      size_t errlen)
{
	struct uring_config *cfg = ctx;
	unsigned long v;
	int ret;

	switch (key) {
	case URING_K_MODE:
		ret = uring_mode_find(arg, &cfg->mode);
		if (ret == -ENOSYS)
			snprintf(err, errlen,
				 "--mode: only '%s' is built so far",
				 uring_mode_names());
		else if (ret)
			snprintf(err, errlen, "--mode: unknown '%s' (%s)", arg,
				 uring_mode_names());
		cfg->mode_set = true;
		return ret ? -EINVAL : 0;
	case URING_K_DEFER:
		cfg->defer = RING_DEFER_ON;
		return 0;
	case URING_K_NO_DEFER:
		cfg->defer = RING_DEFER_OFF;
		return 0;
	case URING_K_ENTRIES:
		if (opts_uint(arg, 1, URING_MAX_ENTRIES, &v)) {
			snprintf(err, errlen, "--ring-entries: expected 1..%u",
				 URING_MAX_ENTRIES);
			return -EINVAL;
		}
		cfg->ring_entries = (unsigned)v;
		return 0;
	case URING_K_BUFS:
		if (opts_uint(arg, 1, 32768, &v) || (v & (v - 1))) {
			snprintf(err, errlen,
				 "--bufs: expected a power of two, 1..32768");
			return -EINVAL;
		}
		cfg->bufs = (unsigned)v;
		return 0;
	}
	snprintf(err, errlen, "unknown option");
	return -EINVAL;
}

int main(int argc, char **argv)
{
	static char usage[1024];
	struct uring_config cfg = {
		.mode = URING_MODE_MULTISHOT,
		.bufs = URING_DEFAULT_BUFS,
		.defer = RING_DEFER_AUTO,
		.ring_entries = URING_DEFAULT_ENTRIES,
	};
	struct opts_extra x = {
		.longopts = uring_longopts,
		.usage = usage,
		.handle = uring_flag,
		.ctx = &cfg,
	};
	int ret;

	snprintf(
	    usage, sizeof(usage),
	    "  --mode NAME         how connections use the ring: %s\n"
	    "                      (default multishot; basic on kernels\n"
	    "                      before 6.0)\n"
	    "  --defer-taskrun     require IORING_SETUP_DEFER_TASKRUN\n"
	    "                      (Linux 6.1; default: on where it exists)\n"
	    "  --no-defer-taskrun  do not use it (COOP_TASKRUN instead)\n"
	    "  --ring-entries N    submission queue entries, 1..%u\n"
	    "                      (default %u)\n"
	    "  --bufs N            provided buffers shared by all connections\n"
	    "                      (multishot), a power of two (default %u)\n",
	    uring_mode_names(), URING_MAX_ENTRIES, URING_DEFAULT_ENTRIES,
	    URING_DEFAULT_BUFS);
	ret = opts_parse(&cfg.o, argc, argv, "uring-echo", ECHO_VERSION, &x);
	if (ret == OPTS_EXIT)
		return 0;
	if (ret != OPTS_RUN)
		return 2;
	return uring_run(&cfg, "uring-echo");
}
