/* SPDX-License-Identifier: MIT */
/*
 * loop.h - the completion driver: one thread, one ring, one pool.
 *
 * It translates between io_uring completions and the sans-I/O core; it
 * decides nothing about the protocol (that is common/conn.c).
 */
#ifndef URING_LOOP_H
#define URING_LOOP_H

#include "opts.h"
#include "ring.h"

/* How connections use the ring: one file each (mode_*.c), opaque here. */
struct uring_mode;

struct uring_config {
	struct opts o;
	const struct uring_mode *mode;
	bool mode_set; /* --mode given: no fallback to basic */
	unsigned bufs; /* provided buffers (multishot), a power of two */
	enum ring_defer defer; /* RING_DEFER_OFF with sqpoll */
	unsigned ring_entries;
	bool ring_entries_set; /* --ring-entries given */
	unsigned cq_entries; /* --cq-entries: forced CQ size; 0: sized */
	bool fixed; /* --fixed-files: direct descriptors */
	bool sqpoll; /* --sqpoll: a kernel thread polls the SQ */
	int sq_cpu; /* --sqpoll=CPU, or -1 */
	uint32_t zc_min; /* --send-zc=MIN: zero-copy from MIN bytes; 0: off */
	bool zc_loopback; /* --send-zc-loopback: even on a loopback listener */
	bool no_recv_limit; /* --no-recv-limit: cap multishot recvs by cancel */
	bool no_buf_inc; /* --no-buf-inc: provided buffers consumed whole */
	unsigned slices; /* --slices: slice ids (0: the default) */
	bool bundle; /* --bundle: multishot recvs take bundles */
	unsigned min_wait_us; /* --min-wait: a wait's batch budget; 0: off */
};

/* uring_mode_find - the mode spelled name, or NULL if there is none. */
const struct uring_mode *uring_mode_find(const char *name);

/* uring_mode_default - the mode used without --mode (multishot). */
const struct uring_mode *uring_mode_default(void);

/* uring_mode_bundles - whether m's receives can take bundles. */
bool uring_mode_bundles(const struct uring_mode *m);

/* uring_mode_names - the modes, comma-separated, for usage text. */
const char *uring_mode_names(void);

/*
 * uring_run - listen, print "listening on HOST:PORT" on stdout, serve until
 * SIGINT/SIGTERM, print the final counters on stderr. Returns 0 after a
 * clean stop, or 1 after printing one line naming a runtime failure.
 */
int uring_run(const struct uring_config *cfg, const char *prog);

#endif
