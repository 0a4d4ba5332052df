/* SPDX-License-Identifier: MIT */
/*
 * loop.h - the readiness driver: one thread, one poller, one pool.
 *
 * It translates between readiness events and the sans-I/O core; it decides
 * nothing about the protocol (that is common/conn.c).
 */
#ifndef READY_LOOP_H
#define READY_LOOP_H

#include <stdbool.h>

#include "opts.h"
#include "poller.h"

struct ready_config {
	struct opts o;
	const struct poller_ops *ops;
	bool edge;
};

/*
 * ready_run - listen, print "listening on HOST:PORT" on stdout, serve until
 * SIGINT/SIGTERM, print the final counters on stderr. Returns 0 after a
 * clean stop, or 1 after printing one line naming a runtime failure.
 */
int ready_run(const struct ready_config *cfg, const char *prog);

#endif
