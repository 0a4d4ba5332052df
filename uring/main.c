// SPDX-License-Identifier: MIT
/*
 * main.c - uring-echo: command line in, exit code out.
 *
 * Parses the shared options plus the ring's (--mode, --defer-taskrun,
 * --ring-entries, --bufs) and the feature ladder's (--fixed-files,
 * --sqpoll, --send-zc, --bundle, --cq-entries, --min-wait), refuses
 * combinations that
 * cannot work, then hands over to the completion loop. exit() happens
 * only here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"
#include "opts.h"
#include "ring.h"
#include "stats.h"

#define URING_DEFAULT_ENTRIES 1024u
#define URING_MAX_ENTRIES 32768u /* the kernel's IORING_MAX_ENTRIES */
#define URING_DEFAULT_BUFS 2048u
#define URING_MAX_CQ 65536u /* the kernel's IORING_MAX_CQ_ENTRIES */
#define URING_MAX_CPU 4095u
#define URING_DEFAULT_ZC_MIN 4096u /* --send-zc without a value */
#define URING_MAX_MIN_WAIT 100000u /* --min-wait: 100 ms */

enum {
	URING_K_MODE = 0x2000,
	URING_K_DEFER,
	URING_K_NO_DEFER,
	URING_K_ENTRIES,
	URING_K_BUFS,
	URING_K_SLICES,
	URING_K_FIXED,
	URING_K_SQPOLL,
	URING_K_ZC,
	URING_K_BUNDLE,
	URING_K_CQ,
	URING_K_ZC_LOOPBACK,
	URING_K_NO_RECV_LIMIT,
	URING_K_NO_BUF_INC,
	URING_K_MIN_WAIT,
};

static const struct option uring_longopts[] = {
	{ "mode", required_argument, NULL, URING_K_MODE },
	{ "defer-taskrun", no_argument, NULL, URING_K_DEFER },
	{ "no-defer-taskrun", no_argument, NULL, URING_K_NO_DEFER },
	{ "ring-entries", required_argument, NULL, URING_K_ENTRIES },
	{ "bufs", required_argument, NULL, URING_K_BUFS },
	{ "slices", required_argument, NULL, URING_K_SLICES },
	{ "fixed-files", no_argument, NULL, URING_K_FIXED },
	{ "sqpoll", optional_argument, NULL, URING_K_SQPOLL },
	{ "send-zc", optional_argument, NULL, URING_K_ZC },
	{ "bundle", no_argument, NULL, URING_K_BUNDLE },
	{ "cq-entries", required_argument, NULL, URING_K_CQ },
	{ "send-zc-loopback", no_argument, NULL, URING_K_ZC_LOOPBACK },
	{ "no-recv-limit", no_argument, NULL, URING_K_NO_RECV_LIMIT },
	{ "no-buf-inc", no_argument, NULL, URING_K_NO_BUF_INC },
	{ "min-wait", required_argument, NULL, URING_K_MIN_WAIT },
	{ NULL, 0, NULL, 0 },
};

/* Combinations that cannot work, checked as each flag arrives so that the
 * order on the command line does not matter. 0, or -EINVAL with err. */
static int uring_conflict(const struct uring_config *cfg, char *err,
			  size_t errlen)
{
	if (cfg->sqpoll && cfg->defer == RING_DEFER_ON) {
		/* The kernel refuses the pair: with SQPOLL, requests are
		 * issued by its thread, never inside our own enters. */
		snprintf(err, errlen,
			 "--sqpoll and --defer-taskrun exclude each other");
		return -EINVAL;
	}
	if (cfg->bundle && cfg->mode_set && !uring_mode_bundles(cfg->mode)) {
		snprintf(err, errlen,
			 "--bundle needs --mode multishot (bundles are taken "
			 "by multishot receives)");
		return -EINVAL;
	}
	if (cfg->cq_entries && cfg->ring_entries_set &&
	    cfg->ring_entries > cfg->cq_entries) {
		snprintf(err, errlen,
			 "--cq-entries must be at least --ring-entries");
		return -EINVAL;
	}
	return 0;
}

/* The flags that take a number: ring sizes, SQPOLL's CPU, zero-copy's
 * threshold, the min-wait budget. 0, or -EINVAL with err naming the flag
 * and the value. */
static int uring_number(struct uring_config *cfg, int key, const char *arg,
			char *err, size_t errlen)
{
	unsigned long v = 0;

	switch (key) {
	case URING_K_ENTRIES:
		if (opts_uint(arg, 1, URING_MAX_ENTRIES, &v))
			goto bad;
		cfg->ring_entries = (unsigned)v;
		cfg->ring_entries_set = true;
		return 0;
	case URING_K_BUFS:
		if (opts_uint(arg, 1, 32768, &v) || (v & (v - 1)))
			goto bad;
		cfg->bufs = (unsigned)v;
		return 0;
	case URING_K_SLICES:
		if (opts_uint(arg, 16, 65536, &v))
			goto bad;
		cfg->slices = (unsigned)v;
		return 0;
	case URING_K_SQPOLL:
		if (arg && opts_uint(arg, 0, URING_MAX_CPU, &v))
			goto bad;
		cfg->sqpoll = true;
		cfg->sq_cpu = arg ? (int)v : -1;
		return 0;
	case URING_K_ZC:
		if (arg && opts_size(arg, 1, OPTS_MAX_BUF_SIZE, &v))
			goto bad;
		cfg->zc_min = arg ? (uint32_t)v : URING_DEFAULT_ZC_MIN;
		return 0;
	case URING_K_CQ:
		if (opts_uint(arg, 1, URING_MAX_CQ, &v))
			goto bad;
		cfg->cq_entries = (unsigned)v;
		return 0;
	case URING_K_MIN_WAIT:
		if (opts_uint(arg, 0, URING_MAX_MIN_WAIT, &v))
			goto bad;
		cfg->min_wait_us = (unsigned)v;
		return 0;
	}
bad:
	if (key == URING_K_ENTRIES)
		snprintf(err, errlen, "--ring-entries '%s': expected 1..%u",
			 arg, URING_MAX_ENTRIES);
	else if (key == URING_K_BUFS)
		snprintf(err, errlen,
			 "--bufs '%s': expected a power of two, 1..32768", arg);
	else if (key == URING_K_SLICES)
		snprintf(err, errlen, "--slices '%s': expected 16..65536", arg);
	else if (key == URING_K_SQPOLL)
		snprintf(err, errlen,
			 "--sqpoll=%s: expected --sqpoll=CPU, a CPU number "
			 "0..%u",
			 arg, URING_MAX_CPU);
	else if (key == URING_K_ZC)
		snprintf(err, errlen,
			 "--send-zc=%s: expected --send-zc=MIN, 1..256M bytes "
			 "(k/m suffixes)",
			 arg);
	else if (key == URING_K_MIN_WAIT)
		snprintf(err, errlen,
			 "--min-wait '%s': expected microseconds, 0..%u", arg,
			 URING_MAX_MIN_WAIT);
	else
		snprintf(err, errlen, "--cq-entries '%s': expected 1..%u", arg,
			 URING_MAX_CQ);
	return -EINVAL;
}

static int uring_flag(void *ctx, int key, const char *arg, char *err,
		      size_t errlen)
{
	struct uring_config *cfg = ctx;
	const struct uring_mode *m;
	int ret;

	switch (key) {
	case URING_K_MODE:
		m = uring_mode_find(arg);
		if (!m) {
			snprintf(err, errlen, "--mode '%s': expected %s", arg,
				 uring_mode_names());
			return -EINVAL;
		}
		cfg->mode = m;
		cfg->mode_set = true;
		return uring_conflict(cfg, err, errlen);
	case URING_K_DEFER:
		cfg->defer = RING_DEFER_ON;
		return uring_conflict(cfg, err, errlen);
	case URING_K_NO_DEFER:
		cfg->defer = RING_DEFER_OFF;
		return 0;
	case URING_K_FIXED:
		cfg->fixed = true;
		return 0;
	case URING_K_ZC_LOOPBACK:
		cfg->zc_loopback = true;
		return 0;
	case URING_K_NO_RECV_LIMIT:
		cfg->no_recv_limit = true;
		return 0;
	case URING_K_NO_BUF_INC:
		cfg->no_buf_inc = true;
		return 0;
	case URING_K_BUNDLE:
		cfg->bundle = true;
		return uring_conflict(cfg, err, errlen);
	case URING_K_ENTRIES:
	case URING_K_BUFS:
	case URING_K_SLICES:
	case URING_K_SQPOLL:
	case URING_K_ZC:
	case URING_K_CQ:
	case URING_K_MIN_WAIT:
		ret = uring_number(cfg, key, arg, err, errlen);
		return ret ? ret : uring_conflict(cfg, err, errlen);
	}
	snprintf(err, errlen, "unknown option");
	return -EINVAL;
}

int main(int argc, char **argv)
{
	static char usage[4096];
	struct uring_config cfg = {
		.mode = uring_mode_default(),
		.bufs = URING_DEFAULT_BUFS,
		.defer = RING_DEFER_AUTO,
		.ring_entries = URING_DEFAULT_ENTRIES,
		.sq_cpu = -1,
	};
	struct opts_extra x = {
		.longopts = uring_longopts,
		.usage = usage,
		.handle = uring_flag,
		.ctx = &cfg,
		.stats_scope = STATS_URING,
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
	    "                      (multishot), a power of two, counted in\n"
	    "                      4 KiB buffers (default %u); consumed\n"
	    "                      incrementally, they are taken 8 at a time\n"
	    "                      as 32 KiB buffers\n"
	    "  --no-buf-inc        consume each provided buffer whole, as\n"
	    "                      before Linux 6.12 (IOU_PBUF_RING_INC)\n"
	    "  --slices N          ids for the pieces of incrementally\n"
	    "                      consumed buffers, 16..65536 (expert: the\n"
	    "                      default, 65536, is the most; with few,\n"
	    "                      pieces are copied to connections' rings)\n"
	    "  --fixed-files       direct descriptors: accept into a "
	    "registered\n"
	    "                      file table (Linux 5.19)\n"
	    "  --sqpoll[=CPU]      a kernel thread polls the SQ (SQPOLL), "
	    "bound\n"
	    "                      to CPU if given (the '=' is needed);\n"
	    "                      excludes --defer-taskrun\n"
	    "  --send-zc[=MIN]     zero-copy sends of MIN bytes or more\n"
	    "                      (default %u; the '=' is needed; Linux "
	    "6.0);\n"
	    "                      off on a loopback listener, where the\n"
	    "                      kernel copies anyway\n"
	    "  --send-zc-loopback  zero-copy on a loopback listener too (to\n"
	    "                      exercise the path; small windows crawl)\n"
	    "  --no-recv-limit     stop a multishot recv at the connection's\n"
	    "                      bound by a cancel, as before Linux 6.17\n"
	    "                      (it may then overshoot the bound)\n"
	    "  --bundle            multishot recvs fill several buffers per\n"
	    "                      completion (multishot, Linux 6.10)\n"
	    "  --cq-entries N      force the CQ size, 1..%u (expert: the\n"
	    "                      default never overflows; small ones do)\n"
	    "  --min-wait USEC     a wait aims for one completion per\n"
	    "                      connection for up to USEC microseconds,\n"
	    "                      then returns with what came, 0..%u\n"
	    "                      (Linux 6.12; default 0: off; not under\n"
	    "                      --sqpoll)\n",
	    uring_mode_names(), URING_MAX_ENTRIES, URING_DEFAULT_ENTRIES,
	    URING_DEFAULT_BUFS, URING_DEFAULT_ZC_MIN, URING_MAX_CQ,
	    URING_MAX_MIN_WAIT);
	ret = opts_parse(&cfg.o, argc, argv, "uring-echo", ECHO_VERSION, &x);
	if (ret == OPTS_EXIT)
		return 0;
	if (ret != OPTS_RUN)
		return 2;
	/* SQPOLL rules DEFER_TASKRUN out; the kernel wants CQ >= SQ. */
	if (cfg.sqpoll && cfg.defer == RING_DEFER_AUTO)
		cfg.defer = RING_DEFER_OFF;
	if (cfg.cq_entries && cfg.ring_entries > cfg.cq_entries)
		cfg.ring_entries = cfg.cq_entries;
	return uring_run(&cfg, "uring-echo");
}
