// SPDX-License-Identifier: MIT
/*
 * main.c - ready-echo: command line in, exit code out.
 *
 * Parses the shared options plus --backend and --edge, then hands over to
 * the readiness loop. exit() happens only here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"
#include "opts.h"
#include "poller.h"
#include "stats.h"

enum {
	READY_K_BACKEND = 0x2000,
	READY_K_EDGE,
};

static const struct option ready_longopts[] = {
	{ "backend", required_argument, NULL, READY_K_BACKEND },
	{ "edge", no_argument, NULL, READY_K_EDGE },
	{ NULL, 0, NULL, 0 },
};

static int ready_flag(void *ctx, int key, const char *arg, char *err,
		      size_t errlen)
{
	struct ready_config *cfg = ctx;

	switch (key) {
	case READY_K_BACKEND:
		cfg->ops = poller_find(arg);
		if (!cfg->ops) {
			snprintf(err, errlen, "--backend '%s': expected %s",
				 arg, poller_names(0));
			return -EINVAL;
		}
		return 0;
	case READY_K_EDGE:
		cfg->edge = true;
		return 0;
	}
	snprintf(err, errlen, "unknown option");
	return -EINVAL;
}

int main(int argc, char **argv)
{
	static char usage[256];
	struct ready_config cfg = { .ops = poller_default() };
	struct opts_extra x = {
		.longopts = ready_longopts,
		.usage = usage,
		.handle = ready_flag,
		.ctx = &cfg,
		.stats_scope = STATS_READY,
	};
	int ret;

	snprintf(usage, sizeof(usage),
		 "  --backend NAME      readiness backend: %s (default %s)\n"
		 "  --edge              edge-triggered %s (default level)\n",
		 poller_names(0), cfg.ops->name, poller_names(POLLER_EDGE));
	ret = opts_parse(&cfg.o, argc, argv, "ready-echo", ECHO_VERSION, &x);
	if (ret == OPTS_EXIT)
		return 0;
	if (ret != OPTS_RUN)
		return 2;
	if (cfg.edge && !(cfg.ops->flags & POLLER_EDGE)) {
		return opts_error("ready-echo",
				  "--edge needs --backend %s, not %s",
				  poller_names(POLLER_EDGE), cfg.ops->name);
	}
	return ready_run(&cfg, "ready-echo");
}
