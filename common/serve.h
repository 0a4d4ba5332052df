/* SPDX-License-Identifier: MIT */
/*
 * serve.h - what both drivers do alike around the core: connection
 * accounting, the accept-failure policy, the accept back-off and --stats
 * timers, and the stats line. Written once so the two loops differ only in
 * how they talk to the kernel. No sockets here; printing goes to stderr.
 */
#ifndef ECHO_SERVE_H
#define ECHO_SERVE_H

#include <stdbool.h>
#include <stdint.h>

#include "net.h"
#include "opts.h"
#include "stats.h"

#define SERVE_BACKOFF_MS 100 /* pause after EMFILE before accepting again */
#define SERVE_STATS_MS 1000 /* --stats period */
#define SERVE_FD_RESERVE 16 /* descriptors besides connections */

enum serve_listen {
	SERVE_LISTEN_ON, /* accepting */
	SERVE_LISTEN_FULL, /* paused: --max-conns connections open */
	SERVE_LISTEN_BACKOFF, /* paused: out of descriptors, until retry_at */
	SERVE_LISTEN_OFF, /* shutting down */
};

struct team_member;

struct serve {
	const char *prog;
	/* The member whose team prints the stats line (uptime, rates); the
	 * driver sets it after serve_init. NULL: the bare counters. */
	struct team_member *tm;
	struct stats st;
	enum serve_listen lstate;
	int64_t retry_at; /* SERVE_LISTEN_BACKOFF deadline, clock_ms() */
	int64_t next_stats; /* next --stats line, clock_ms(); 0 if off */
};

/* serve_held - a connection now holds n bytes not yet echoed: keep the
 * high-water mark (held_max), which shows the per-connection bound held. */
static inline void serve_held(struct serve *sv, size_t n)
{
	if (n > sv->st.held_max)
		sv->st.held_max = n;
}

/* serve_init - zero counters, accepting; periodic stats if stats_1s. */
void serve_init(struct serve *sv, const char *prog, bool stats_1s);

/* serve_opened - count a connection taken into the pool. */
void serve_opened(struct serve *sv);

/* serve_closed - count a connection closed with err (0, or a negative
 * errno: ECONNRESET and EPIPE are resets, ENOMEM lack of memory). */
void serve_closed(struct serve *sv, int err);

/*
 * serve_accept_failed - an accept failed with err (negative errno).
 * Returns true if the next connection may be accepted at once (this one
 * died in the queue), false if accepting is now paused for
 * SERVE_BACKOFF_MS: out of descriptors or memory, where retrying at once
 * would fail at once and spin.
 */
bool serve_accept_failed(struct serve *sv, int err);

/* serve_timeout - milliseconds until the next timer is due (0 if one is
 * overdue), or -1 if none is set. */
int serve_timeout(const struct serve *sv, int64_t now);

/* serve_timers - run what is due at now: the periodic stats line, the end
 * of an accept back-off. Returns true if the back-off ended: the caller
 * resumes accepting (lstate is SERVE_LISTEN_ON again). */
bool serve_timers(struct serve *sv, int64_t now);

/* serve_listen_failed - the one line the contract asks for when
 * listening on o->host:o->port failed with err: address, port, cause. */
void serve_listen_failed(const char *prog, const struct opts *o, int err);

/* serve_print_stats - the "stats: ..." line on stderr, flushed: through
 * the team (uptime, rates) when sv->tm is set. */
void serve_print_stats(const struct serve *sv);

/* serve_warn_nofile - the start-up warning when RLIMIT_NOFILE (nofile)
 * clamped --max-conns from asked to got; nothing if it did not. */
void serve_warn_nofile(const struct serve *sv, unsigned long nofile,
		       unsigned asked, unsigned got);

#endif
