/* SPDX-License-Identifier: MIT */
/*
 * engine_uring.h - what the io_uring engine's two files share: its sizes
 * and its kernel probe (engine_uring_setup.c), used by the data path
 * (engine_uring.c). Not for anything else in the generator.
 */
#ifndef LOAD_ENGINE_URING_H
#define LOAD_ENGINE_URING_H

#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "worker.h"

#define ENGINE_URING_BGID 1 /* the engine's one buffer group */

/* Sizes for a thread with n connections. */
struct engine_uring_size {
	unsigned sq; /* SQ entries; the CQ has four times as many */
	uint32_t txcap; /* send buffer per connection */
	uint32_t rx_size, rx_count; /* the buffer ring */
};

/* engine_uring_sizes - the ring, buffer ring and send buffers for a
 * thread with n connections of cfg's traffic, within fixed budgets. */
void engine_uring_sizes(const struct flow_cfg *cfg, unsigned n,
			struct engine_uring_size *s);

/*
 * engine_uring_probe - struct worker_engine's probe: set up a small ring
 * with the engine's flags, check its ops, register a buffer ring and see
 * a multishot recv into it deliver a byte. 0 with the configuration the
 * engine will use in msg, or -errno with the reason in msg.
 */
int engine_uring_probe(const struct worker_run *run, char *msg, size_t len);

#endif
