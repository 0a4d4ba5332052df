/* SPDX-License-Identifier: MIT */
/*
 * serve.h - the driver skeleton both loops share around the core: a team
 * member's set-up and teardown (its pool of connections, buffers,
 * listener and control pipe), connection accounting and the pause at
 * --max-conns, the accept-failure policy, the back-off and --stats
 * timers, the signal pipe and the stats line. Written once so the two
 * loops differ only in how they talk to the kernel. No socket calls here;
 * printing goes to stderr.
 */
#ifndef ECHO_SERVE_H
#define ECHO_SERVE_H

#include <stdbool.h>
#include <stdint.h>

#include "conn.h"
#include "net.h"
#include "opts.h"
#include "pool.h"
#include "stats.h"

#define SERVE_BACKOFF_MS 100 /* pause after EMFILE before accepting again */
#define SERVE_STATS_MS 1000 /* --stats period */
#define SERVE_FD_RESERVE 16 /* descriptors besides connections */
#define SERVE_BUF_KEEP 64 /* free connection buffers kept for reuse */

enum serve_listen {
	SERVE_LISTEN_ON, /* accepting */
	SERVE_LISTEN_FULL, /* paused: --max-conns connections open */
	SERVE_LISTEN_BACKOFF, /* paused: out of descriptors, until retry_at */
	SERVE_LISTEN_OFF, /* shutting down */
};

struct team_member;

struct serve {
	const char *prog;
	/* The member whose team prints the stats line (uptime, rates). */
	struct team_member *tm;
	struct stats st;
	enum serve_listen lstate;
	int64_t retry_at; /* SERVE_LISTEN_BACKOFF deadline, clock_ms() */
	int64_t next_stats; /* next --stats line, clock_ms(); 0 if off */
	/* Set up by serve_member_init: */
	struct pool pool; /* of the driver's connection structs */
	struct conn_env env; /* the connections' buffers */
	unsigned max_conns; /* this loop's share of --max-conns */
	int lfd; /* this loop's listener; -1 once closed */
	int sfd; /* signal or control pipe: sig_drain bytes */
	/* The driver's counters, copied into st before each stats line
	 * (NULL: none besides st). */
	void (*refresh)(struct serve *sv);
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

/*
 * serve_member_new - a driver's loop struct of size bytes, zeroed, which
 * begins with its struct serve. NULL when out of memory: then it printed
 * one line, closed tm's listener and told the team (the member returns 1).
 */
void *serve_member_new(struct team_member *tm, size_t size);

/*
 * serve_member_init - what every loop of a team sets up alike: serve_init
 * (periodic stats only with one thread: else the main thread prints
 * them), the listener and control pipe of tm, a pool of tm->max_conns
 * connection structs of conn_size bytes (each begins with a struct
 * pool_slot), and the buffer cache. Returns 0, or -errno after printing
 * one line and closing the listener: nothing is left to undo.
 */
int serve_member_init(struct serve *sv, struct team_member *tm,
		      const struct opts *o, size_t conn_size);

/* serve_member_fini - free the pool and the buffers, close the listener
 * (if still open). Every connection must be closed. */
void serve_member_fini(struct serve *sv);

/* serve_member_end - a member stops serving: publish its last counters. */
void serve_member_end(struct serve *sv);

/* serve_full - the pool is full: count it, pause accepting (lstate
 * SERVE_LISTEN_FULL until a slot frees) and return true. */
bool serve_full(struct serve *sv);

/* serve_pause_full - pause accepting at the limit, as serve_full. */
static inline void serve_pause_full(struct serve *sv)
{
	sv->st.at_limit++;
	sv->lstate = SERVE_LISTEN_FULL;
}

/* serve_open - a slot for a new connection, or NULL when the pool is
 * full (counted: the caller refuses the descriptor). Call serve_opened
 * once it serves. */
struct pool_slot *serve_open(struct serve *sv);

/* serve_close - count a connection's close and free its slot. Returns
 * true if that ends a pause at the limit: the caller resumes accepting
 * (lstate is SERVE_LISTEN_ON again). */
bool serve_close(struct serve *sv, struct pool_slot *s);

/* serve_rx - n > 0 bytes were received into c's own ring: count them,
 * the high-water mark, and a ring now full. */
static inline void serve_rx(struct serve *sv, const struct conn *c, size_t n)
{
	size_t held = conn_buffered(c);

	sv->st.bytes_in += n;
	serve_held(sv, held);
	if (held == sv->env.cache.size)
		sv->st.full++;
}

/* serve_tx - n of the len bytes offered were sent (short sends counted). */
static inline void serve_tx(struct serve *sv, size_t n, size_t len)
{
	sv->st.bytes_out += n;
	if (n < len)
		sv->st.short_sends++;
}

/* serve_signals - read the signal or control pipe (it was readable):
 * print the stats line if asked. Returns true if asked to stop. */
bool serve_signals(struct serve *sv);

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

/* serve_timers - run what is due now: the periodic stats line, the end
 * of an accept back-off. Returns true if the back-off ended: the caller
 * resumes accepting (lstate is SERVE_LISTEN_ON again). */
bool serve_timers(struct serve *sv);

/* serve_listen_failed - the one line the contract asks for when
 * listening on o->host:o->port failed with err: address, port, cause. */
void serve_listen_failed(const char *prog, const struct opts *o, int err);

/* serve_print_stats - refresh the counters (the buffer cache's, and the
 * driver's through sv->refresh) and hand them to the team, which prints
 * the "stats: ..." line (uptime, rates) or sums it with the others. */
void serve_print_stats(struct serve *sv);

/* serve_warn_nofile - the start-up warning when RLIMIT_NOFILE (nofile)
 * clamped --max-conns from asked to got; nothing if it did not. */
void serve_warn_nofile(const struct serve *sv, unsigned long nofile,
		       unsigned asked, unsigned got);

#endif
